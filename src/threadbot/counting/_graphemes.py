"""Bluesky and Mastodon lengths: extended grapheme clusters, with Mastodon's discounts.

Bluesky: ``app.bsky.feed.post`` ``text`` has ``maxGraphemes: 300`` and
``maxLength: 3000`` (the latter in UTF-8 bytes, per the AT Protocol lexicon
string rules). The app and the PDS count the text as sent, not normalised; the
text threadbot sends shows each ``http(s)`` link shortened (see ``_bluesky``), so
that is what ``threadbot.counting`` measures.

Mastodon (``app/validators/status_length_validator.rb``): the text, with every
URL that Mastodon's extractor finds (only with a protocol: ``http``, ``https``,
``dat``, ``dweb``, ``ipfs``, ``ipns``, ``ssb``, ``gopher``, ``gemini``) replaced by
23 ``x`` and every remote mention ``@user@domain`` replaced by ``@user``, is counted
in grapheme clusters (``each_grapheme_cluster.size``) against 500. The content
warning (``spoiler_text``) counts too; threadbot has none.

Approximations, all toward counting more: Mastodon widens twitter-text's URL path
characters (any non-space except ``<>()?``), so a long URL with, say, non-Latin path
characters may be cut shorter here than Mastodon cuts it; the part we leave out is
counted in full. ``xmpp:``/``magnet:`` URIs are not discounted. Grapheme rules are
those of the ``regex`` module's Unicode version, Ruby's may differ for brand-new
code points.
"""

from __future__ import annotations

import re
from functools import cache

from ._twitter import UrlScanner, _url_regexes, build_url_regex

MASTODON_URL_LENGTH = 23
BLUESKY_MAX_BYTES = 3000


def graphemes(text: str) -> int:
    """Number of extended grapheme clusters in ``text``."""
    if text.isascii():
        # Only CR LF joins two ASCII code points into one cluster.
        return len(text) - text.count("\r\n")
    return len(_grapheme_regex().findall(text))


@cache
def _grapheme_regex():  # noqa: ANN202 - regex.Pattern; ``regex`` is imported lazily (6 ms)
    import regex

    return regex.compile(r"\X")


# Mastodon's overrides of twitter-text's URL parts (config/initializers/twitter_regex.rb).
# Python's \s is Ruby's \p{White_Space} plus U+001C-U+001F, which only ends a URL
# earlier (and so counts more).
_UCHARS = (
    "\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef\U00010000-\U0001fffd\U00020000-\U0002fffd"
    "\U00030000-\U0003fffd\U00040000-\U0004fffd\U00050000-\U0005fffd\U00060000-\U0006fffd"
    "\U00070000-\U0007fffd\U00080000-\U0008fffd\U00090000-\U0009fffd\U000a0000-\U000afffd"
    "\U000b0000-\U000bfffd\U000c0000-\U000cfffd\U000d0000-\U000dfffd\U000e1000-\U000efffd"
    "\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"
)
_PROTOCOL = "(?:https?|dat|dweb|ipfs|ipns|ssb|gopher|gemini)://"
_PATH_CHARS = r"[^\s<>()?]"
_PATH_ENDING = r"[^\s()?!*\"'「」<>;:=,.$%\[\]~&|@]"
_QUERY_CHARS = f"[a-z0-9!?*'();:&=+$/%#\\[\\]\\-_.,~|@\\^{_UCHARS}]"
_QUERY_ENDING = f"[a-z0-9_&=#/\\-{_UCHARS}]"


@cache
def _mastodon_regexes() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """(url, mention, tco) patterns; built on first use."""
    # The protocol is optional in Mastodon's regex, but the validator extracts with
    # extract_url_without_protocol: false, so only URLs with one are discounted.
    url = build_url_regex(
        f"({_PROTOCOL})", _PATH_CHARS, _PATH_ENDING, _QUERY_CHARS, _QUERY_ENDING, at_path=False
    )
    # Account::MENTION_RE: (?<![=/[:word:]])@((USERNAME_RE)(?:@[[:word:].-]+[[:word:]]+)?)
    mention = re.compile(
        r"(?<![=/\w])@(([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@[\w.-]+\w+)?)", re.IGNORECASE
    )
    return url, mention, _url_regexes()[2]


@cache
def _mastodon_scanner() -> UrlScanner:
    return UrlScanner(
        _PROTOCOL, False, _PATH_CHARS, _PATH_ENDING, _QUERY_CHARS, _QUERY_ENDING, at_path=False
    )


_END_MENTION = re.compile(r"[@＠\xC0-\xD6\xD8-\xF6\xF8-\xFF\u0100-\u024F]|://")


def mastodon_entities(text: str, url_length: int = MASTODON_URL_LENGTH
                      ) -> list[tuple[int, int, str]]:
    """Non-overlapping ``(start, end, replacement)`` spans Mastodon counts differently
    (a URL as ``url_length`` characters, the instance's ``characters_reserved_per_url``)."""
    if ":" not in text and "@" not in text:
        return []
    _, mention_re, tco = _mastodon_regexes()
    found: list[tuple[int, int, str]] = []
    if ":" in text:
        # _mastodon_regexes()[0] in linear time (see UrlScanner)
        for _, start, _, _, _, end, _ in _mastodon_scanner().finditer(text):
            tm = tco.search(text[start:end])
            if tm:
                end = start + tm.end()
            found.append((start, end, "x" * url_length))
    if "@" in text:
        for m in mention_re.finditer(text):
            if _END_MENTION.match(text, m.end()):
                continue
            found.append((m.start(), m.end(), "@" + m.group(2)))
    found.sort()
    # Extractor.remove_overlapping_entities: keep the earliest, drop what overlaps it.
    kept: list[tuple[int, int, str]] = []
    for ent in found:
        if not kept or ent[0] >= kept[-1][1]:
            kept.append(ent)
    return kept


def mastodon_length(text: str, url_length: int = MASTODON_URL_LENGTH) -> int:
    """Mastodon's countable length of a status text (no content warning), in graphemes,
    each URL counting ``url_length``."""
    entities = mastodon_entities(text, url_length)
    if not entities:
        return graphemes(text)
    parts: list[str] = []
    pos = 0
    for start, end, replacement in entities:
        parts.append(text[pos:start])
        parts.append(replacement)
        pos = end
    parts.append(text[pos:])
    return graphemes("".join(parts))
