"""X (Twitter) weighted length: a port of twitter-text 3.1 ``parseTweet`` (config v3).

Rules (``config/v3.json``): the text is NFC-normalised; every URL the twitter-text
extractor finds (with or without protocol; t.co links cut after the slug) weighs
23; every recognised emoji sequence weighs 2 (see ``_emoji``); any other code point
weighs 1 in U+0000-U+10FF, U+2000-U+200D, U+2010-U+201F, U+2032-U+2037 and 2
otherwise.

The URL regexes are ported from ``twitter-text-parser`` 3.0.0 (MIT licence,
Copyright (c) swen128, https://github.com/swen128/twitter-text-python), itself a
port of twitter-text's JS regexes (Apache-2.0, Copyright Twitter, Inc.). The TLD
lists are twitter-text's ``tld_lib.yml`` (see ``data/README.md``).

Deliberate differences from ``twitter-text-parser`` (each makes us count *more*,
never less, and matches the official JS library):

* CR is not folded: the Python port rewrites CRLF and CR to LF before counting,
  the JS library does not, so ``"a\\r\\nb"`` is 4 here and in JS, 3 in the port.
* Emoji sequences: see ``_emoji``.
* IDNA: the port validates a domain with Python's ``idna`` codec, the JS library with
  its own light check (``lib/idna.js``); when only one accepts a URL, we charge the
  larger of 23 and the URL's own weight.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

from ._emoji import emoji_regex

SCALE = 100
DEFAULT_WEIGHT = 200
URL_LENGTH = 23
MAX_URL_LENGTH = 4096
MAX_TCO_SLUG_LENGTH = 40
_DEFAULT_PROTOCOL = "https://"

_DATA = Path(__file__).parent / "data"

# Code points outside the 1-unit ranges of config v2/v3.
_HEAVY = re.compile(r"[^\x00-\u10ff\u2000-\u200d\u2010-\u201f\u2032-\u2037]")
# Every URL has a domain ending in ".<tld>", and every TLD starts with an ASCII letter
# or a non-ASCII letter: without such a dot there is nothing to look for.
_URL_HINT = re.compile(r"\.[a-zA-Z\u0080-\U0010ffff]")

_LATIN_ACCENT_CHARS = (
    r"\xC0-\xD6\xD8-\xF6\xF8-\xFF\u0100-\u024F\u0253\u0254\u0256\u0257\u0259\u025B\u0263"
    r"\u0268\u026F\u0272\u0289\u028B\u02BB\u0300-\u036F\u1E00-\u1EFF"
)
_CYRILLIC = r"\u0400-\u04FF"
_PUNCT = r"\!'#%&'\(\)*\+,\\\-\.\/:;<=>\?@\[\]\^_{|}~\$/"
_SPACES = r"\x09-\x0D\x20\x85\xA0\u1680\u180E\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
_INVALID = r"\uFFFE\uFEFF\uFFFF"
_DIRECTIONAL = r"\u202A-\u202E\u061C\u200E\u200F\u2066\u2067\u2068\u2069"


def _tld_alternation(name: str) -> str:
    tlds = (_DATA / f"tld_{name}.txt").read_text(encoding="utf-8").split()
    return "(?:(?:" + "|".join(tlds) + ")(?=[^0-9a-zA-Z@+-]|$))"


_TW_PATH_CHARS = (
    f"[a-z{_CYRILLIC}0-9!\\*';:=\\+,\\.\\$\\/%#\\[\\]\\-\\u2013_~@\\|&{_LATIN_ACCENT_CHARS}]"
)
_TW_PATH_ENDING = f"[\\+\\-a-z{_CYRILLIC}0-9=_#\\/{_LATIN_ACCENT_CHARS}]"
_TW_QUERY_CHARS = r"[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]"
_TW_QUERY_ENDING = r"[a-z0-9\-_&=#/]"


@cache
def _domain_regexes() -> tuple[str, str, str, str]:
    """(valid_domain, gtld, cctld, punycode) regex sources; the TLD files are read once."""
    gtld = _tld_alternation("generic")
    cctld = _tld_alternation("country")
    punycode = r"(?:xn--[\-0-9a-z]+)"
    domain_chars = f"[^{_PUNCT}{_SPACES}{_INVALID}{_DIRECTIONAL}]"
    subdomain = f"(?:(?:{domain_chars}(?:[_-]|{domain_chars})*)?{domain_chars}\\.)"
    domain_name = f"(?:(?:{domain_chars}(?:-|{domain_chars})*)?{domain_chars}\\.)"
    domain = f"(?:{subdomain}*{domain_name}(?:{gtld}|{cctld}|{punycode}))"
    return domain, gtld, cctld, punycode


def build_url_regex(
    protocol: str,
    path_chars: str,
    path_ending: str,
    query_chars: str,
    query_ending: str,
    at_path: bool = True,
) -> re.Pattern[str]:
    """twitter-text's ``extractUrl`` with the given parts (Mastodon swaps some of them).

    Groups: 2 preceding char, 3 URL, 4 protocol, 5 domain, 6 port, 7 path, 8 query.
    """
    domain = _domain_regexes()[0]
    parens = f"\\((?:{path_chars}+|(?:{path_chars}*\\({path_chars}+\\){path_chars}*))\\)"
    ending = f"{path_ending}|(?:{parens})"
    path = (
        f"(?:(?:{path_chars}*(?:{parens}{path_chars}*)*{ending})"
        f"|(?:{'@' if at_path else ''}{path_chars}+/))"
    )
    preceding = f"(?:[^A-Za-z0-9@＠$#＃{_INVALID}]|[{_DIRECTIONAL}]|^)"
    return re.compile(
        f"(({preceding})({protocol}({domain})(?::([0-9]+))?(\\/{path}*)?"
        f"(\\?{query_chars}*{query_ending})?))",
        re.IGNORECASE,
    )


@cache
def _url_regexes() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """(extract_url, valid_ascii_domain, valid_tco_url), built on first use."""
    _, gtld, cctld, punycode = _domain_regexes()
    extract_url = build_url_regex(
        "(https?:\\/\\/)?", _TW_PATH_CHARS, _TW_PATH_ENDING, _TW_QUERY_CHARS, _TW_QUERY_ENDING
    )
    ascii_domain = re.compile(
        f"(?:(?:[\\-a-z0-9{_LATIN_ACCENT_CHARS}]+)\\.)+(?:{gtld}|{cctld}|{punycode})",
        re.IGNORECASE,
    )
    tco = re.compile(
        f"^https?:\\/\\/t\\.co\\/([a-z0-9]+)(?:\\?{_TW_QUERY_CHARS}*{_TW_QUERY_ENDING})?",
        re.IGNORECASE,
    )
    return extract_url, ascii_domain, tco


def _idna_length(domain: str) -> int | None:
    try:
        return len(domain.encode("idna"))
    except Exception:  # the Python port treats any failure as "not a URL"
        return None


_JS_SEPARATORS = re.compile("[\u3002\uff0e\uff61]")


def _js_idna_ok(domain: str) -> bool:
    """twitter-text JS ``idna.toAscii`` (lib/idna.js + punycode.js) accepts ``domain``."""
    if domain.startswith("xn--") and not _url_regexes()[1].search(domain):
        return False
    for label in domain.split("."):
        parts = [
            "xn--" + part.encode("punycode").decode("ascii") if not part.isascii() else part
            for part in _JS_SEPARATORS.sub(".", label).split(".")
        ]
        if not 1 <= len(".".join(parts)) <= 63:
            return False
    return True


def _url_validity(url: str, protocol: str | None, domain: str) -> tuple[bool, bool]:
    """(valid for the Python port, valid for the JS library). They differ on IDNA
    details (e.g. U+3002 as a dot, tag characters); callers then count the larger."""
    proto = len(protocol or _DEFAULT_PROTOCOL)
    puny = _idna_length(domain)
    py_ok = bool(puny) and proto + len(url) + puny - len(domain) <= MAX_URL_LENGTH  # type: ignore[operator]
    utf16 = len(url) + sum(1 for ch in url if ord(ch) > 0xFFFF) if not url.isascii() else len(url)
    js_ok = proto + utf16 <= MAX_URL_LENGTH and _js_idna_ok(domain)
    return py_ok, js_ok


def url_entities(text: str) -> list[tuple[int, int, int, bool]]:
    """URLs in ``text`` (already normalised) as ``(start, end, skip, certain)``.

    ``end`` is the end of the URL span; ``skip`` is how many code points the length
    walk jumps over, which is ``end - start`` except in one odd case the Python port
    has (a protocol-less URL whose domain has a non-ASCII prefix and a path).
    ``certain`` is false when the Python and JS libraries disagree on whether it is
    a URL at all; the walk then charges the larger of 23 and its own weight.
    """
    if not _URL_HINT.search(text):
        return []
    extract_url, ascii_domain, tco = _url_regexes()
    urls: list[list] = []
    for m in extract_url.finditer(text):
        before, url, protocol, domain, path = m.group(2, 3, 4, 5, 7)
        end = m.end()
        start = end - len(url)
        py_ok, js_ok = _url_validity(url, protocol, domain)
        if not (py_ok or js_ok):
            continue
        certain = py_ok and js_ok
        if protocol is None:
            if before and before in "-_./":
                continue
            last: list | None = None
            for dm in ascii_domain.finditer(domain):
                last = [start + dm.start(), start + dm.end(), dm.end() - dm.start(), certain]
                urls.append(last)
            if last is None:
                continue
            if path:
                # twitter-text-parser rewrites the URL with str.replace (every occurrence)
                # and then skips len(url); kept so our count equals it.
                last[1] = end
                last[2] = len(url.replace(domain, text[last[0] : last[0] + last[2]]))
        else:
            tm = tco.search(url)
            if tm:
                if tm.group(1) and len(tm.group(1)) > MAX_TCO_SLUG_LENGTH:
                    continue
                end = start + tm.end()
            urls.append([start, end, end - start, certain])
    return [tuple(u) for u in urls]  # type: ignore[misc]


def _weight(text: str) -> int:
    """Sum of per-code-point weights, in units (not scaled)."""
    return len(text) + len(_HEAVY.findall(text))


def weighted_length(text: str, *, emoji_parsing: bool = True) -> int:
    """X's ``weightedLength`` of ``text`` (config v3; v2 with ``emoji_parsing=False``)."""
    if text.isascii():
        # No counted emoji is pure ASCII, and there is no URL without a ".".
        if "." not in text:
            return len(text)
        total = len(text)
        emojis: list[tuple[int, int]] = []
    else:
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        heavy = len(_HEAVY.findall(text))
        total = len(text) + heavy
        # Every counted emoji holds a 2-unit code point except (c) and (r) alone, so
        # most text (e.g. English with curly quotes) skips the costly emoji search.
        maybe_emoji = emoji_parsing and (heavy or "\u00a9" in text or "\u00ae" in text)
        emojis = [m.span() for m in emoji_regex().finditer(text)] if maybe_emoji else []
    urls = url_entities(text) if "." in text else []
    if not urls:
        for start, stop in emojis:
            total += 2 - _weight(text[start:stop])
        return total

    # Walk in text order as parseTweet does: a URL wins a tie, and an entity starting
    # inside one already consumed is ignored.
    entities = [(s, 0, s + skip, URL_LENGTH if ok else -1) for s, _, skip, ok in urls]
    entities += [(s, 1, e, 2) for s, e in emojis]
    entities.sort()
    pos = 0
    for start, _, stop, cost in entities:
        if start < pos:
            continue
        if cost < 0:  # a URL for one library only: the larger count
            cost = max(URL_LENGTH, _weight(text[start:stop]))
        total += cost - _weight(text[start:stop])
        pos = stop
    return total
