"""Bluesky and Mastodon rules, profiles, unknown platforms, find_urls spans."""

from __future__ import annotations

import pytest

from threadbot.counting import PLATFORMS, find_urls, get_profile, measure
from threadbot.errors import UsageError


def test_profiles() -> None:
    assert PLATFORMS == ("x", "bluesky", "mastodon")
    assert [(get_profile(p).limit, get_profile(p).url_length) for p in PLATFORMS] == [
        (280, 23),
        (300, None),
        (500, 23),
    ]
    assert get_profile("x").measure("héllo") == measure("héllo", "x") == 5


@pytest.mark.parametrize(
    ("name", "hint"), [("mastdon", "mastodon"), ("X", "x"), ("blue sky", "bluesky")]
)
def test_unknown_platform(name: str, hint: str) -> None:
    with pytest.raises(UsageError) as err:
        measure("hi", name)
    assert str(err.value) == (
        f"Unknown platform '{name}'. Did you mean '{hint}'? Choose one of: x, bluesky, mastodon."
    )


def test_unknown_platform_without_suggestion() -> None:
    with pytest.raises(UsageError, match=r"^Unknown platform 'facebook'\. Choose one of"):
        get_profile("facebook")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", 5),
        ("e\u0301", 1),  # combining mark joins its base
        ("👨‍👩‍👧‍👦🇯🇵", 4),  # 2 graphemes, but 33 bytes: a tenth of the 3,000-byte cap
        ("a\r\nb", 3),  # CR LF is one cluster
        # A link counts as the app shows it: the host and 13 characters of the path, "...".
        ("https://example.com/a/very/long/path/that/counts/in/full", len("example.com") + 16),
        ("example.com/no/scheme/is/shown/as/written", 41),
        ("日本語", 3),
        ("🫱🏻‍🫲🏿", 2),  # 1 grapheme of 19 bytes
    ],
)
def test_bluesky_graphemes(text: str, expected: int) -> None:
    assert measure(text, "bluesky") == expected


def test_bluesky_byte_cap_and_no_url_discount() -> None:
    profile = get_profile("bluesky")
    assert profile.max_bytes == 3000
    family = "👨‍👩‍👧‍👦"  # 25 bytes, 1 grapheme
    assert profile.measure(family * 200) == 500  # 200 graphemes, 5,000 bytes
    assert profile.measure(family * 120) == 300  # exactly at both caps
    assert not profile.fits(family * 200)
    assert profile.fits("a" * 300) and not profile.fits("a" * 301)
    assert find_urls("see https://example.com", "bluesky") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", 5),
        ("see https://example.com/a/very/long/path/indeed/yes", 4 + 23),
        ("http://a.co", 23),  # short URLs cost 23 too
        ("example.com/without/protocol/is/counted/in/full", 47),
        ("hi @alice@mastodon.social!", len("hi @alice!")),
        ("hi @alice", 9),
        ("mail bob@example.com", 20),  # not a mention: preceded by a word char
        ("gemini://example.org/some/long/capsule/path", 23),
        ("e\u0301 👍🏽", 3),
        ("https://example.com/x=", 23 + 1),  # Mastodon ends the path before "="
    ],
)
def test_mastodon(text: str, expected: int) -> None:
    assert measure(text, "mastodon") == expected


def test_find_urls() -> None:
    text = "Read example.com/a and https://t.co/abc123xyz/more, or @x.com."
    spans = find_urls(text)
    assert [text[s:e] for s, e in spans] == ["example.com/a", "https://t.co/abc123xyz"]
    assert spans == sorted(spans)
    assert find_urls("no links here.") == []
    m = find_urls("go https://example.com/x and example.org", "mastodon")
    assert m == [(3, 24)]


def test_bluesky_byte_cap_is_part_of_the_length():
    import threadbot

    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 25 bytes
    assert measure(family * 10, "bluesky") == 25  # 250 bytes: a tenth, above 10 graphemes
    thread = threadbot.compose_text(" ".join([family] * 150), platform="bluesky")
    for post in thread.posts:
        assert len(post.text.encode("utf-8")) <= 3000 and post.length <= 300
