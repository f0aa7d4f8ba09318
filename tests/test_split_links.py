"""The splitter and links: what a post counts is what it shows, whatever comes before a
link (a space, a CJK character, nothing), and a continuation mark never joins a link."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threadbot import compose_text, measure
from threadbot.config import Config

LINKS = ["https://example.com/essays/2026/on-slow-work-and-the-long-view?ref=thread",
         "https://a.io/x", "http://例え.jp/パス/とても/長い/道", "example.com/no/scheme/here"]
PIECES = st.one_of(
    st.sampled_from(LINKS),
    st.sampled_from(["記事はこちら：", "これは長い文章です。", "café ☕", "🙂", "#tag", "word",
                     "a sentence that ends.", "。", "、", "\n", " ", "  "]),
    st.text(alphabet="abcdefghij ", min_size=1, max_size=30),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(PIECES, min_size=1, max_size=60), st.sampled_from(["bluesky", "x",
                                                                   "mastodon"]))
def test_every_post_fits_as_shown(parts, platform):
    text = "".join(parts)
    if not text.strip():
        return
    thread = compose_text(text, platform=platform, config=Config())
    for post in thread.posts:
        assert measure(post.text, platform) <= thread.limit, post.text
        assert post.length == measure(post.text, platform)
        # "…" glued to a link would become part of the address.
        assert not re.search(r"(://|\.[a-z]{2,}/)\S*…$", post.text.split()[-1] if
                             post.text.split() else ""), post.text


def test_a_link_right_after_a_cjk_character_counts_in_full_on_bluesky():
    text = "記事はこちら：https://example.com/" + "a" * 300
    thread = compose_text(text, platform="bluesky", config=Config())
    assert len(thread.posts) == 2
    assert all(measure(p.text, "bluesky") <= 300 for p in thread.posts)


def test_the_continuation_mark_stands_apart_from_a_link():
    from threadbot.config import SplitSettings
    from threadbot.split import decorate

    for body, shown in [("read https://example.com/a/b", "read https://example.com/a/b …"),
                        ("read example.com/a", "read example.com/a …"),
                        ("read this", "read this…"), ("read this,", "read this, …")]:
        assert decorate(body, index=2, total=3, mid_sentence=True,
                        settings=SplitSettings()) == shown


# Field case shared/cases/url-continuation-mastodon.txt: one long paragraph with one link.
RIVER = ("After three winters of putting it off I finally typed up my notes from the long walk "
         "along the river path past the old mill and the allotments where the man with the red "
         "wheelbarrow still grows his enormous marrows and waves at everyone who goes by on a "
         "Sunday morning and the whole account with the hand-drawn map and the photographs of "
         "the grey heron standing in the shallows is now up at "
         "https://journal.example.net/river-walk/notes-three for anyone who asked me about it "
         "at the reading last month and wanted to see what I meant when I said that the path "
         "itself seemed to be doing the thinking while I only followed along behind it with a "
         "pencil and a flask of tea which is the closest I have come to explaining why I keep "
         "going back there every single week even when the weather is dreadful and the heron "
         "is nowhere to be seen at all.")
RIVER_LINK = "https://journal.example.net/river-walk/notes-three"


def _links(text: str, platform: str) -> list[str]:
    """The links that platform's own detection finds in a post's final text."""
    from threadbot.counting import find_urls
    from threadbot.counting._bluesky import render

    if platform == "bluesky":
        return [span.value for _, _, span in render(text)[1] if span.kind == "link"]
    return [text[start:end] for start, end in find_urls(text, platform)]


@pytest.mark.parametrize("platform", ["mastodon", "bluesky", "x"])
def test_a_link_survives_the_split_unchanged(platform):
    thread = compose_text(RIVER, platform=platform, config=Config())
    assert len(thread.posts) > 1
    found = [link for post in thread.posts for link in _links(post.text, platform)]
    assert found == [RIVER_LINK]
