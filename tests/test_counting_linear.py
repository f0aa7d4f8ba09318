"""URL finding in linear time (issue #11) finds exactly what twitter-text's regexes find.

``UrlScanner`` replaces ``build_url_regex(...).finditer`` (X and Mastodon) and
``ascii_domains`` replaces ``valid_ascii_domain.finditer``: both are compared with the
regexes themselves, on strings built from the pieces that make the regexes backtrack
(dots, dashes, underscores, CJK, punycode, '@', '#', protocols, parentheses, the
characters that Python's case-insensitive matching folds to ASCII letters), and the
counts with the reference ``twitter-text-parser``. Speed is measured in
``bench/counting_linear.py``, not here.
"""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import run_cli
from threadbot.counting import find_urls, measure
from threadbot.counting._graphemes import (
    _PATH_CHARS,
    _PATH_ENDING,
    _mastodon_regexes,
    _mastodon_scanner,
)
from threadbot.counting._twitter import (
    _TW_PATH_CHARS,
    _TW_PATH_ENDING,
    PathMatcher,
    _url_regexes,
    _x_scanner,
    ascii_domains,
    url_entities,
)

PIECES = [
    *"a.-_ @#/:?=()!,x1\n", "com", "co", "jp", "COM", "Co", "org", "http://", "https://",
    "HTTP://", "t.co/", "日", "本", "é", "ö", "xn--", "xn--p1ai", "рф", "中国", "भारत", "म",
    "vermögensberater", "verm", "\u200e", "\u202e", "\ufeff", "\u3002", "K", "ſ", "ı", "İ",
    "$", "＠", "＃", "~", "<", ">", "\u00a0", "\u3000", "..", "a.", "a.a.", "-.", "_.",
    "dat://", "ssb://", "gemini://", "(a)", "@a/",
]
texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


def _x_regex(text: str) -> list[tuple]:
    return [(m.group(2), m.start(3), m.group(4), m.start(5), m.end(5), m.end(), m.group(7))
            for m in _url_regexes()[0].finditer(text)]


def _mastodon_regex(text: str) -> list[tuple]:
    return [(m.group(2), m.start(3), m.group(4), m.start(5), m.end(5), m.end(), m.group(7))
            for m in _mastodon_regexes()[0].finditer(text)]


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_x_scanner_is_the_extractor_regex(text: str) -> None:
    assert list(_x_scanner().finditer(text)) == _x_regex(text)


@settings(max_examples=2000, deadline=None)
@given(texts)
def test_mastodon_scanner_is_its_regex(text: str) -> None:
    assert list(_mastodon_scanner().finditer(text)) == _mastodon_regex(text)


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from([*"a.-_1", "日", "é", "com", "co", "xn--p1ai", "xn--",
                                 "рф", "K", "ſ", "jp", ".."]), max_size=30).map("".join))
def test_ascii_domains_is_the_regex(domain: str) -> None:
    expected = [m.span() for m in _url_regexes()[1].finditer(domain)]
    assert ascii_domains(domain, 0, len(domain)) == expected
    # The same spans when the domain sits inside a longer text.
    text = "x " + domain + " y.com"
    assert ascii_domains(text, 2, 2 + len(domain)) == [(s + 2, e + 2) for s, e in expected]


# URL paths: ``PathMatcher`` against the path regex it replaces (twitter-text's
# ``validUrlPath``, repeated), on paths of parenthesis groups (nested, unbalanced,
# empty), brackets, punctuation that may not end a path, CJK, accents, characters that
# case-insensitive matching folds to ASCII, and long runs of any of them.
PATH_PIECES = [
    *"()[]a.,!?;:'\"*=+-_#/@~|&%$<> \n", "(a)", "((a))", "(a(b)c)", "(a)(b)", "()", "(日)",
    "(.)", "(a(b))", "((", "))", "日", "本", "é", "а", "K", "ſ", "\u2013", "「", "」",
    "\u3000", "@a/", "a/", "..", ").",
]
paths = st.lists(st.tuples(st.sampled_from(PATH_PIECES), st.integers(1, 12)), max_size=25).map(
    lambda parts: "/" + "".join(piece * n for piece, n in parts)
)


@pytest.mark.parametrize("scanner", [_x_scanner, _mastodon_scanner], ids=["x", "mastodon"])
@settings(max_examples=4000, deadline=None)
@given(path=paths, before=st.sampled_from(["", "a.com", "(a)", "日"]))
def test_path_matcher_is_the_path_regex(scanner, path: str, before: str) -> None:
    matcher = scanner().path
    text = before + path + " x"
    for pos in range(len(before), len(text)):  # every start, '/' or not
        m = matcher.regex.match(text, pos)
        assert matcher.end(text, pos) == (m.end() if m else None)


# Classes where the third alternative (``@chars+/``) can win, which X's and Mastodon's
# cannot ('/' is an ending character for both, so the first alternative wins first).
@pytest.mark.parametrize(("chars", "ending", "at_path"), [
    ("[a-z@]", "[a-z]", True), ("[a-z@./]", "[a]", True), ("[^\\s()/]", "[.a]", False),
])
@settings(max_examples=1000, deadline=None)
@given(path=paths)
def test_path_matcher_on_other_classes(chars: str, ending: str, at_path: bool, path: str
                                       ) -> None:
    matcher = PathMatcher(chars, ending, at_path)
    for pos in range(len(path)):
        m = matcher.regex.match(path, pos)
        assert matcher.end(path, pos) == (m.end() if m else None)


@pytest.mark.parametrize(("chars", "ending"), [(_TW_PATH_CHARS, _TW_PATH_ENDING),
                                               (_PATH_CHARS, _PATH_ENDING)], ids=["x", "mastodon"])
def test_path_ending_characters_are_path_characters(chars: str, ending: str) -> None:
    # PathMatcher relies on it (an ending character outside a run would end a path
    # the regex's way only if it were also a path character).
    import re

    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    assert re.search(f"(?!{chars}){ending}", every, re.IGNORECASE) is None
    assert re.search(chars, "()", re.IGNORECASE) is None


twitter_text = pytest.importorskip("twitter_text")


@settings(max_examples=1500, deadline=None)
@given(texts)
def test_adversarial_urls_match_the_reference(text: str) -> None:
    assert measure(text) >= twitter_text.parse_tweet(text).weightedLength
    nfc = unicodedata.normalize("NFC", text)
    if nfc != text or "\r" in text or any(not ok for *_, ok in url_entities(nfc)):
        return  # spans of unnormalised text and IDNA disagreements: test_counting_differential
    ref = twitter_text.extract_urls_with_indices(text)
    assert find_urls(text) == sorted(tuple(u["indices"]) for u in ref)


LONG = [  # (text of size n, its X length), checked at a size the reference handles too
    (lambda n: "a." * n, lambda n: 2 * n),  # no TLD anywhere: plain text
    (lambda n: "x." + "日" * n, lambda n: 2 + 2 * n),  # a long CJK label, no TLD after it
    (lambda n: "a." * n + "b_c.com", lambda n: 2 * n + 7),  # chains end at an invalid label
    (lambda n: "a.co " * n, lambda n: 24 * n),  # n URLs of 23
    (lambda n: "see https://" + "a." * n + "com", lambda n: 4 + 23 if n < 2040 else 15 + 2 * n),
    # A path of n parenthesis groups; over 4,096 characters it is not a URL for X.
    (lambda n: "see http://a.com/" + "(a)" * n + " end",
     lambda n: 4 + 23 + 4 if n <= 1361 else 21 + 3 * n),
]


url_paths = st.tuples(
    st.sampled_from(["see http://a.com/", "https://t.co/", "a.jp/", "x http://日本.jp:80/"]),
    paths.map(lambda path: path[1:]),
    st.sampled_from(["", " end", "?q=1", ".", ")", "\nnext"]),
).map("".join)


@settings(max_examples=1500, deadline=None)
@given(url_paths)
def test_url_paths_match_the_reference(text: str) -> None:
    assert measure(text) >= twitter_text.parse_tweet(text).weightedLength
    nfc = unicodedata.normalize("NFC", text)
    if nfc != text or "\r" in text or any(not ok for *_, ok in url_entities(nfc)):
        return  # as in test_adversarial_urls_match_the_reference
    ref = twitter_text.extract_urls_with_indices(text)
    assert find_urls(text) == sorted(tuple(u["indices"]) for u in ref)


@pytest.mark.parametrize(("make", "length"), LONG)
def test_long_inputs_count_as_the_reference(make, length) -> None:
    # The reference itself is quadratic on these: compared at 300, ours alone at 20,000.
    small = make(300)
    assert measure(small) == length(300) == twitter_text.parse_tweet(small).weightedLength
    assert measure(make(20_000)) == length(20_000)


def test_mastodon_and_bluesky_long_inputs() -> None:
    groups = "see http://a.com/" + "(a)" * 20_000 + " end"
    assert measure(groups, "mastodon") == len("see ") + 23 + len(" end")
    text = "see http://" + "a." * 3000 + "com and " + "x." + "日" * 3000
    assert measure(text, "mastodon") == len("see ") + 23 + len(" and x.") + 3000
    # Bluesky counts the link as shown: host (6,003) and no path.
    assert measure(text, "bluesky") == len(text) - len("http://")


def test_200kb_dotted_draft_previews(tmp_path, capsys) -> None:
    # Took minutes before issue #11 (every dot retried the URL regex over the rest).
    draft = tmp_path / "dots.md"
    draft.write_text("a." * 100_000 + "\n", encoding="utf-8")
    result = run_cli(capsys, "preview", "--json", "--numbering", "1/N", str(draft))
    assert result.code == 0, result.err
    posts = json.loads(result.out)["posts"]
    assert all(post["length"] <= 280 for post in posts)
    body = "".join(post["text"].rsplit(" ", 1)[0].replace(" …", "").replace("… ", "")
                   for post in posts)
    assert body.replace(".", "").replace("a", "") == ""
    assert body.count("a") == 100_000


@settings(max_examples=1000, deadline=None)
@given(st.text(st.sampled_from([*"a1#!.,)( \n", "日", "・", "\u00ad", "🙂", "\u0301"]),
               max_size=30))
def test_bluesky_tag_trailing_punctuation_cut_as_the_app(tag: str) -> None:
    import regex

    from threadbot.counting._bluesky import _LEADING_PUNCTUATION

    cut = tag[: len(tag) - _LEADING_PUNCTUATION.match(tag[::-1]).end()]
    assert cut == regex.sub(r"\p{P}+\Z", "", tag)  # detection.ts: /\p{P}+$/gu


def test_bluesky_long_punctuated_tag() -> None:
    text = "#a" + "!" * 20_000 + "b https://example.com/x"
    assert measure(text, "bluesky") == len(text) - len("https://")
