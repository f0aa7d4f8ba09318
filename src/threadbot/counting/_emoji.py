"""Which emoji sequences X counts as one 2-unit "character".

twitter-text v3 (``emojiParsingEnabled``) charges an emoji sequence 2 as a whole
instead of per code point. Which sequences it recognises depends on the
implementation, and the two we compare against disagree:

* the official JavaScript twitter-text 3.1.0 finds emoji with ``twemoji-parser``
  11.0.2, i.e. Emoji 11.0 data;
* the Python port ``twitter-text-parser`` 3.0.0 (our reference in tests) uses
  ``emoji-test.txt`` 12.0, every status (fully-, minimally- and unqualified).

Counting a sequence as 2 when X counts it per code point would make us count a post
*shorter* than X does, and X would reject it. So a multi-code-point sequence
counts as 2 here only when BOTH implementations recognise it: Emoji <= 11.0,
fully-qualified, plus the unqualified keycaps (``#`` U+20E3, ...) and the
unqualified eye-in-speech-bubble, which twemoji-parser also matches, minus the
two fully-qualified sequences twemoji-parser 11.0.2 splits (measured with it:
``👁️‍🗨️`` and ``♾️``). Anything newer (Emoji 12.0 and later ZWJ sequences,
Unicode 13-16 emoji) falls back to per-code-point weights, as it does in both
implementations for Emoji >= 12.1.

A single code point that is an emoji weighs 2 either way unless it sits in a
1-unit range; the only such ones are U+00A9 © and U+00AE ®. The Python port
counts them 2, the JS one 1 (without U+FE0F), so we count 2.

The data comes from the ``emoji`` package (``EMOJI_DATA``: per-entry emoji version
``E`` and qualification ``status``). Filtering it to Emoji <= 12.0 and dropping the
``component`` status reproduces the reference's emoji-test.txt 12.0 set exactly
(3,827 entries; checked when this was written); newer ``emoji`` releases only add
entries with higher ``E``, so the filter is stable.

The data is built on first use (importing ``emoji`` takes a few milliseconds), not
at import.
"""

from __future__ import annotations

import re
from functools import cache

# twemoji-parser 11.0.2 does not match these Emoji 11 fully-qualified sequences as a
# whole (it splits them), so the official library counts them per part.
_TWEMOJI_SPLITS = frozenset({"\U0001f441\ufe0f\u200d\U0001f5e8\ufe0f", "\u267e\ufe0f"})
# Unqualified sequences that twemoji-parser 11.0.2 does match as a whole.
_TWEMOJI_UNQUALIFIED = frozenset(
    [c + "\u20e3" for c in "#*0123456789"] + ["\U0001f441\u200d\U0001f5e8"]
)

_FULLY_QUALIFIED = 2
_COMPONENT = 1


def _is_light(cp: int) -> bool:
    return (
        cp <= 0x10FF or 0x2000 <= cp <= 0x200D or 0x2010 <= cp <= 0x201F or 0x2032 <= cp <= 0x2037
    )


@cache
def emoji_sets() -> tuple[frozenset[str], frozenset[str]]:
    """Return ``(sequences, light_singles)``: the multi-code-point sequences that weigh 2
    as a whole, and the single code points in a 1-unit range that weigh 2 as emoji."""
    from emoji import EMOJI_DATA

    sequences: set[str] = set()
    light_singles: set[str] = set()
    for text, info in EMOJI_DATA.items():
        version, status = info["E"], info["status"]
        if version > 12 or status == _COMPONENT:
            continue
        if len(text) == 1:
            if _is_light(ord(text)):
                light_singles.add(text)
            continue
        if text in _TWEMOJI_UNQUALIFIED or (
            version <= 11 and status == _FULLY_QUALIFIED and text not in _TWEMOJI_SPLITS
        ):
            sequences.add(text)
    return frozenset(sequences), frozenset(light_singles)


def _trie_regex(words: frozenset[str]) -> str:
    """A regex matching the longest word of ``words`` at a position.

    Every alternative starts with a literal, which lets ``re`` skip ahead with a
    first-character set instead of trying the whole pattern at each position.
    """
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = True

    def build(node: dict) -> str:
        terminal = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        # Greedy optional: prefer the longer sequence, fall back to this one.
        return f"(?:{body})?" if terminal else body

    return "|".join(re.escape(ch) + build(child) for ch, child in sorted(trie.items()))


@cache
def emoji_regex() -> re.Pattern[str]:
    """Compiled pattern finding, left to right, the longest counted emoji at each spot."""
    sequences, light_singles = emoji_sets()
    return re.compile(_trie_regex(sequences | light_singles))
