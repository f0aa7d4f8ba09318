"""Differential test of X counting against ``twitter-text-parser`` 3.0.0 (the Python port).

Two comparisons per text:

* ``ours >= reference``: the hard rule, never count less than twitter-text does.
* ``ours == reference with our emoji set and CR folded back``: the port is exact. We
  deliberately differ from the reference in two places, both toward counting more
  and both matching the official JS twitter-text 3.1.0 (see ``_emoji`` and
  ``_twitter`` docstrings): fewer emoji sequences count as 2 (only those
  twemoji-parser 11.0.2 also knows), and CR is not folded into LF.
"""

from __future__ import annotations

import random
import re
import string
import unicodedata
from contextlib import contextmanager

import pytest

twitter_text = pytest.importorskip("twitter_text")
from twitter_text import extract_emojis as _ref_emojis  # noqa: E402

from threadbot.counting import find_urls, measure  # noqa: E402
from threadbot.counting._emoji import emoji_sets  # noqa: E402
from threadbot.counting._twitter import url_entities  # noqa: E402


def _ref(text: str) -> int:
    return twitter_text.parse_tweet(text).weightedLength


@contextmanager
def _reference_with_our_emoji():
    sequences, singles = emoji_sets()
    alts = sorted(sequences | singles, key=len, reverse=True)  # longest first, as the port
    saved = _ref_emojis.emoji
    _ref_emojis.emoji = re.compile("|".join(map(re.escape, alts)))
    try:
        yield lambda text: _ref(text.replace("\r", "\n"))
    finally:
        _ref_emojis.emoji = saved


WORDS = (
    "the quick brown fox jumps over lazy dog thread post splitting résumé naïve Ελλάδα Москва"
).split()
PUNCT = list(".,;:!?…—–-'\"()[]/") + ["...", " - ", "“", "”", "«", "»"]
TLDS = [
    "com",
    "org",
    "net",
    "io",
    "co",
    "jp",
    "de",
    "uk",
    "tv",
    "xyz",
    "app",
    "dev",
    "museum",
    "cat",
    "ly",
    "to",
    "me",
    "рф",
    "中国",
    "닷컴",
    "xn--p1ai",
    "notatld",
    "c",
    "comx",
]
CJK = "日本語の文章を書きます。中文测试繁體한국어テキスト"
EMOJI_OLD = [
    "😀",
    "👍🏽",
    "👨‍👩‍👧‍👦",
    "🇯🇵",
    "🇺🇸",
    "#️⃣",
    "1️⃣",
    "#⃣",
    "❤️",
    "❤",
    "©",
    "®",
    "©️",
    "™",
    "🏳️‍🌈",
    "🏳‍🌈",
    "👩🏿‍💻",
    "🏴󠁧󠁢󠁥󠁮󠁧󠁿",
    "👁️‍🗨️",
    "♾️",
    "☺",
    "✌🏻",
]
EMOJI_NEW = [
    "🥱",
    "🧑‍🤝‍🧑",
    "🧑‍🦰",
    "🫠",
    "🫶🏼",
    "🐦‍⬛",
    "🧑🏽‍🩰",
    "🏃‍➡️",
    "🙂‍↔️",
    "🫩",
    "🪉",
    "🧑‍🧑‍🧒",
    "👩🏻‍❤️‍💋‍👨🏼",
    "🇨🇶",
    "🫱🏻‍🫲🏿",
]
COMBINING = [
    "e\u0301",
    "a\u0308",
    "n\u0303",
    "\u1100\u1161",
    "ﬁ",
    "Å",
    "\u0041\u030a",
    "o\u0323\u0302",
]
ODD = [
    "\r\n",
    "\r",
    "\n",
    "\n\n",
    "\t",
    "\u200d",
    "\ufe0f",
    "\u200b",
    "\u202e",
    "\u2066",
    "\ufeff",
    "＠",
    "＃",
    "\u00a0",
    "\u3000",
    "_",
    "$",
    "@",
]


def _domain(rng: random.Random) -> str:
    labels = [
        rng.choice(["example", "a", "x-y", "news", "t", "日本", "bücher", "sub_dom", "123"])
        for _ in range(rng.randint(1, 3))
    ]
    return ".".join(labels) + "." + rng.choice(TLDS)


def _url(rng: random.Random) -> str:
    proto = rng.choice(["", "", "http://", "https://", "HTTPS://", "ftp://"])
    if rng.random() < 0.1:
        return proto + "t.co/" + "".join(rng.choices(string.ascii_letters, k=rng.randint(1, 45)))
    url = proto + _domain(rng)
    if rng.random() < 0.2:
        url += f":{rng.randint(1, 65535)}"
    if rng.random() < 0.6:
        url += "/" + "/".join(
            rng.choices(
                [
                    "path",
                    "a(b)c",
                    "wiki/Foo_(bar)",
                    "x=1",
                    "ü",
                    "%20",
                    "p@x/",
                    "~u",
                    "end.",
                    "q-",
                    "Москва",
                ],
                k=rng.randint(1, 3),
            )
        )
    if rng.random() < 0.3:
        url += "?" + rng.choice(["a=1&b=2", "q=x.", "x", "s=(1)", "utm=a#frag"])
    return url


def _token(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.35:
        return rng.choice(WORDS)
    if r < 0.45:
        return rng.choice(PUNCT)
    if r < 0.57:
        return _url(rng)
    if r < 0.62:
        return "@" + rng.choice(WORDS) + rng.choice(["", "@mastodon.social"])
    if r < 0.66:
        return "#" + rng.choice(WORDS)
    if r < 0.74:
        return "".join(rng.choices(CJK, k=rng.randint(1, 8)))
    if r < 0.82:
        return rng.choice(EMOJI_OLD)
    if r < 0.87:
        return rng.choice(EMOJI_NEW)
    if r < 0.93:
        return rng.choice(COMBINING)
    return rng.choice(ODD)


def _text(rng: random.Random) -> str:
    seps = [" ", " ", " ", "", "\n", ". ", ", "]
    return "".join(_token(rng) + rng.choice(seps) for _ in range(rng.randint(1, 40)))


TEXTS = [_text(random.Random(seed)) for seed in range(3000)]


def _has_idna_disagreement(text: str) -> bool:
    # Where Python's and JS's IDNA checks disagree we charge the larger count on purpose.
    nfc = unicodedata.normalize("NFC", text)
    return any(not certain for *_, certain in url_entities(nfc))


def test_never_shorter_and_exact_port() -> None:
    mismatches = []
    with _reference_with_our_emoji() as patched:
        for text in TEXTS:
            ours = measure(text)
            ref = _ref(text)
            exact = ours == patched(text) or _has_idna_disagreement(text)
            if ours < ref or not exact:
                mismatches.append((text, ours, ref, patched(text)))
    assert not mismatches, mismatches[:5]


def test_known_differences_from_the_python_port() -> None:
    # Emoji 12.0 ZWJ sequence: the port counts 2, official JS (twemoji 11) 8.
    assert (measure("🧑‍🤝‍🧑"), _ref("🧑‍🤝‍🧑")) == (8, 2)
    # Minimally-qualified rainbow flag: the port 2, official JS 5.
    assert (measure("🏳‍🌈"), _ref("🏳‍🌈")) == (5, 2)
    # CRLF: the port folds it to one LF (3), official JS counts both (4).
    assert (measure("a\r\nb"), _ref("a\r\nb")) == (4, 3)
    # Bare ©: the port 2 as an emoji, official JS 1; we keep the larger.
    assert (measure("©"), _ref("©")) == (2, 2)
    # U+3002 before a domain: Python's idna rejects "。a.om", JS accepts it as a URL (26).
    assert (measure(" 。a.om"), _ref(" 。a.om")) == (26, 7)


def test_urls_match_reference_spans() -> None:
    for text in TEXTS[:1000]:
        # Spans are compared on texts that NFC leaves alone.
        if not unicodedata.is_normalized("NFC", text) or _has_idna_disagreement(text):
            continue
        ref = twitter_text.extract_urls_with_indices(text.replace("\r", "\n"))
        assert find_urls(text) == sorted(tuple(u["indices"]) for u in ref), text


def test_find_urls_unnormalised_offsets() -> None:
    text = "Cafe\u0301 see e\u0301xample.com/pa and https://bu\u0308cher.de/x ok"
    spans = find_urls(text)
    assert [text[s:e] for s, e in spans] == ["e\u0301xample.com/pa", "https://bu\u0308cher.de/x"]


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    given = None

if given is not None:
    _alphabet = st.sampled_from(
        list("ab .:/-_@#?=()\n")
        + [
            "com",
            "co",
            "jp",
            "http://",
            "t.co/",
            "日",
            "😀",
            "👍🏽",
            "\u200d",
            "\ufe0f",
            "🏳",
            "🌈",
            "\u0301",
            "\r",
            "©",
        ]
    )

    @settings(max_examples=1500, deadline=None)
    @given(st.lists(_alphabet, max_size=40).map("".join))
    def test_hypothesis_never_shorter(text: str) -> None:
        assert measure(text) >= _ref(text)

    @settings(max_examples=500, deadline=None)
    @given(st.text(max_size=60))
    def test_hypothesis_arbitrary_text(text: str) -> None:
        assert measure(text) >= _ref(text)
