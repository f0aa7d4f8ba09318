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
    path = _path_alternatives(path_chars, path_ending, at_path)
    preceding = f"(?:[^A-Za-z0-9@＠$#＃{_INVALID}]|[{_DIRECTIONAL}]|^)"
    return re.compile(
        f"(({preceding})({protocol}({domain})(?::([0-9]+))?(\\/{path}*)?"
        f"(\\?{query_chars}*{query_ending})?))",
        re.IGNORECASE,
    )


def _path_parens(path_chars: str) -> str:
    """twitter-text's ``validUrlBalancedParens``: one group, at most one nested group."""
    return f"\\((?:{path_chars}+|(?:{path_chars}*\\({path_chars}+\\){path_chars}*))\\)"


def _path_alternatives(path_chars: str, path_ending: str, at_path: bool) -> str:
    """twitter-text's ``validUrlPath`` (one repetition of it; the URL regex adds ``*``).

    As in twitter-text, ``{ending}|(?:{parens})`` is not grouped, so the alternatives
    are ``chars*(parens chars*)*ending``, ``parens`` and ``@chars+/``.
    """
    parens = _path_parens(path_chars)
    ending = f"{path_ending}|(?:{parens})"
    return (
        f"(?:(?:{path_chars}*(?:{parens}{path_chars}*)*{ending})"
        f"|(?:{'@' if at_path else ''}{path_chars}+/))"
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


@cache
def _x_scanner() -> UrlScanner:
    """twitter-text's ``extractUrl`` (protocol optional), in linear time."""
    return UrlScanner(
        "https?:\\/\\/", True, _TW_PATH_CHARS, _TW_PATH_ENDING, _TW_QUERY_CHARS, _TW_QUERY_ENDING
    )


def _idna_length(domain: str) -> int | None:
    try:
        return len(domain.encode("idna"))
    except Exception:  # the Python port treats any failure as "not a URL"
        return None


_JS_SEPARATORS = re.compile("[\u3002\uff0e\uff61]")


def _js_idna_ok(domain: str) -> bool:
    """twitter-text JS ``idna.toAscii`` (lib/idna.js + punycode.js) accepts ``domain``."""
    if domain.startswith("xn--") and not ascii_domains(domain, 0, len(domain)):
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
    _, _, tco = _url_regexes()
    urls: list[list] = []
    for before, start, protocol, domain_start, domain_end, end, path in _x_scanner().finditer(
        text
    ):
        url = text[start:end]
        domain = text[domain_start:domain_end]
        py_ok, js_ok = _url_validity(url, protocol, domain)
        if not (py_ok or js_ok):
            continue
        certain = py_ok and js_ok
        if protocol is None:
            if before and before in "-_./":
                continue
            last: list | None = None
            for ds, de in ascii_domains(text, domain_start, domain_end):
                last = [ds, de, de - ds, certain]
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


def _heavy(text: str) -> int:
    """How many code points of ``text`` weigh 2 (counted without a list of them)."""
    return _HEAVY.subn("", text)[1]


def _weight(text: str) -> int:
    """Sum of per-code-point weights, in units (not scaled)."""
    return len(text) + _heavy(text)


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
        heavy = _heavy(text)
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


# --- Linear-time URL scanning -------------------------------------------------------
# The extractor regex above, run with ``finditer``, retries at every position and its
# ``subdomain*`` walks the whole chain of dot-separated labels each time before giving
# up: "a.a.a…" and a long run of CJK after a dot cost time quadratic in their length.
# ``UrlScanner`` finds the same matches (same spans, same groups) in linear time:
# 1. every TLD after a dot is found once (a trie of the ASCII TLDs, so each dot costs
#    a few steps instead of ~1,500 alternatives);
# 2. only the runs of domain characters that hold such a TLD are looked at: split at
#    the dots into labels, a right-to-left pass gives, for every label, where the
#    longest domain that reaches it through valid labels ends (what the regex's greedy
#    ``subdomain*`` with backtracking settles on);
# 3. starts are then tried in text order, as ``finditer`` does, each answered in O(1);
#    the port, path and query after a domain are matched by the regex's own parts.
# tests/test_counting_linear.py checks it against the regex on adversarial strings.

_LOOKAHEAD = "(?=[^0-9a-zA-Z@+-]|$)"
_PUNYCODE = r"(?:xn--[\-0-9a-z]+)"
_DOMAIN_CHAR = f"[^{_PUNCT}{_SPACES}{_INVALID}{_DIRECTIONAL}]"
_PRECEDING = f"(?:[^A-Za-z0-9@＠$#＃{_INVALID}]|[{_DIRECTIONAL}])"


def _trie(words: list[str]) -> str:
    """A regex matching exactly ``words`` (a set; order is irrelevant), factored as a trie."""
    root: dict = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        alts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = "(?:" + "|".join(alts) + ")"
        return body + "?" if "" in node else body

    return emit(root)


@cache
def _tld_hit() -> re.Pattern[str]:
    """``\\.`` then what the extractor's ``(?:gtld|cctld|punycode)`` matches there.

    An ASCII TLD matches only where it is the whole run of ``[0-9a-zA-Z@+-]`` after the
    dot (its lookahead), so at most one can, and a trie finds it. The TLDs with other
    letters keep their order (one may be a prefix of another, e.g. भारत and भारतम्).
    Neither kind can match where the other does (asserted below), and punycode comes
    last, as in the extractor.
    """
    tlds = [
        t for name in ("generic", "country")
        for t in (_DATA / f"tld_{name}.txt").read_text(encoding="utf-8").split()
    ]
    ascii_tlds = [t for t in tlds if t.isascii()]
    other = [t for t in tlds if not t.isascii()]
    lowered = {t.lower() for t in ascii_tlds}
    # A non-ASCII TLD whose ASCII head is itself a TLD could match where it does.
    assert not any(re.match("[a-z0-9-]*", t).group() in lowered for t in other)
    return re.compile(
        f"\\.(?:{_trie(sorted(lowered))}{_LOOKAHEAD}"
        f"|(?:{'|'.join(other)}){_LOOKAHEAD}|{_PUNYCODE})",
        re.IGNORECASE,
    )


@cache
def _scan_regexes() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(runs of domain characters and dots, a preceding character before a label start)."""
    segment = re.compile(f"(?:{_DOMAIN_CHAR}|[_.\\-])+", re.IGNORECASE)
    start = re.compile(f"{_PRECEDING}(?=[^_\\-])", re.IGNORECASE)
    return segment, start


def _domain_ranges(text: str, hits: dict[int, int]) -> list[tuple[int, int, int]]:
    """Sorted ``(lo, hi, end)``: a domain starting at any domain character in
    ``text[lo:hi]`` ends at ``end``; nowhere else does one start."""
    segment, _ = _scan_regexes()
    ranges: list[tuple[int, int, int]] = []
    keys = sorted(hits)
    k = 0
    for seg in segment.finditer(text):
        a, b = seg.span()
        while k < len(keys) and keys[k] < a:
            k += 1
        if k == len(keys):
            break
        if keys[k] >= b:
            continue
        pieces = text[a:b].split(".")
        bounds = []
        s = a
        for piece in pieces:
            bounds.append((s, s + len(piece), piece))
            s += len(piece) + 1
        last = len(pieces) - 1
        found: list[tuple[int, int, int]] = []
        best: int | None = None  # for a label chain continuing into piece j + 1
        for j in range(last, -1, -1):
            s, e, piece = bounds[j]
            ends_ok = j < last and bool(piece) and piece[-1] not in "_-"
            own = hits.get(e + 1) if ends_ok else None
            if ends_ok:
                under = piece.rfind("_")
                if best is not None:
                    found.append((s, e, best))
                elif own is not None:
                    found.append((s + under + 1, e, e + 1 + own))
                whole_ok = piece[0] not in "_-"
                if not whole_ok:
                    best = None
                elif best is None and own is not None and under < 0:
                    best = e + 1 + own
            else:
                best = None
        ranges.extend(reversed(found))
    return ranges


# twitter-text's path regex (``_path_alternatives`` repeated) is quadratic on a path of
# parenthesis groups, "/(a)(a)(a)…": its first alternative, ``chars*(parens chars*)*
# ending``, walks every group to the end of the path, finds no ending character outside
# the groups, fails, and the second alternative then takes one group; the next
# repetition walks the rest again. ``PathMatcher`` gives the same end in linear time.
# Parentheses are not path characters and a group matches in at most one way, so from
# a position ``p`` the first alternative sees a fixed "chain": a run of path
# characters, a group, a run, a group… up to the first character that is neither. Its
# backtracking tries the ending character at the run positions from the right, so it
# ends after the rightmost ending character outside the groups, if there is one at or
# after ``p``. Every later repetition starts inside the same chain (on a run character
# or a group's opening parenthesis), where the chain is the same suffix: it is walked
# once, and each repetition is answered from it in O(1).
# tests/test_counting_linear.py checks it against the regex on adversarial paths.


class PathMatcher:
    """The end of ``\\/(validUrlPath)*`` matched at a position, in linear time.

    ``end(text, pos)`` is what ``regex.match(text, pos).end()`` gives (``None`` when
    there is no ``/`` at ``pos``); ``regex`` is that reference regex (twitter-text's,
    case-insensitive). Requires that ``path_ending`` is a subset of ``path_chars`` and
    that neither holds a parenthesis (true of X's and Mastodon's classes).
    """

    def __init__(self, path_chars: str, path_ending: str, at_path: bool = True) -> None:
        self.regex = re.compile(
            f"\\/{_path_alternatives(path_chars, path_ending, at_path)}*", re.IGNORECASE
        )
        self._run = re.compile(f"{path_chars}*", re.IGNORECASE)
        # Matched on a run: ends after its rightmost ending character.
        self._last_ending = re.compile(f"{path_chars}*{path_ending}", re.IGNORECASE)
        self._group = re.compile(_path_parens(path_chars), re.IGNORECASE)
        self._at = "@" if at_path else ""
        for paren in "()":
            if re.match(f"{path_chars}|{path_ending}", paren, re.IGNORECASE):
                raise ValueError("path characters must not include parentheses")

    def _chain(self, text: str, p: int) -> tuple[int, int, list[tuple[int, int]]]:
        """(end of the chain from ``p``, its rightmost ending character outside the
        groups or -1, its groups as (start, end))."""
        last, groups = -1, []
        while True:
            run_end = self._run.match(text, p).end()
            if run_end > p:
                m = self._last_ending.match(text, p, run_end)
                if m:
                    last = m.end() - 1
            g = self._group.match(text, run_end)
            if not g:
                return run_end, last, groups
            groups.append(g.span())
            p = g.end()

    def _at_slash(self, text: str, p: int) -> int | None:
        """End of the third alternative, ``@chars+/`` (``chars+/`` for Mastodon), or None."""
        if not text.startswith(self._at, p):
            return None
        start = p + len(self._at)
        run_end = self._run.match(text, start).end()
        if run_end > start and text.startswith("/", run_end):
            return run_end + 1
        slash = text.rfind("/", start + 1, run_end)
        return slash + 1 if slash != -1 else None

    def end(self, text: str, pos: int) -> int | None:
        if not text.startswith("/", pos):
            return None
        p = pos + 1
        lo = hi = last = -1
        groups: list[tuple[int, int]] = []
        gi = 0
        while True:
            while gi < len(groups) and groups[gi][1] <= p:
                gi += 1
            if not lo <= p < hi or (gi < len(groups) and groups[gi][0] < p):
                hi, last, groups = self._chain(text, p)
                lo, gi = p, 0
            if last >= p:  # chars*(parens chars*)*ending
                p = last + 1
            elif gi < len(groups) and groups[gi][0] == p:  # parens
                p = groups[gi][1]
            else:  # @chars+/
                nxt = self._at_slash(text, p)
                if nxt is None:
                    return p
                p = nxt


class UrlScanner:
    """``build_url_regex(...).finditer`` in linear time (see the comment above).

    ``protocol`` is the protocol regex without its group; ``optional`` whether a URL
    may lack one. ``finditer(text)`` yields ``(before, url_start, protocol, domain_start,
    domain_end, url_end, path)`` per match in text order (``path``: the regex's group 7,
    ``None`` when there is none).
    """

    def __init__(self, protocol: str, optional: bool, path_chars: str, path_ending: str,
                 query_chars: str, query_ending: str, at_path: bool = True) -> None:
        # The port, path and query are optional and each greedy, and what follows each
        # always matches: matched one after the other they give what the regex gives.
        self._port = re.compile(":[0-9]+")
        self.path = PathMatcher(path_chars, path_ending, at_path)
        self._query = re.compile(f"\\?{query_chars}*{query_ending}", re.IGNORECASE)
        self._protocol = re.compile(protocol, re.IGNORECASE)
        self._optional = optional
        self._preceding = re.compile(_PRECEDING, re.IGNORECASE)

    def _tail(self, text: str, pos: int) -> tuple[int, str | None]:
        """(end of the URL, its path or ``None``) for a domain ending at ``pos``."""
        m = self._port.match(text, pos)
        if m:
            pos = m.end()
        path = None
        end = self.path.end(text, pos)
        if end is not None:
            path, pos = text[pos:end], end
        m = self._query.match(text, pos)
        return (m.end() if m else pos), path

    def finditer(self, text: str):  # noqa: ANN201 - an iterator of tuples
        hits = {m.start() + 1: m.end() - m.start() - 1 for m in _tld_hit().finditer(text)}
        if not hits:
            return
        ranges = _domain_ranges(text, hits)
        if not ranges:
            return
        los = [r[0] for r in ranges]
        import bisect

        def domain_end(u: int) -> int | None:
            i = bisect.bisect_right(los, u) - 1
            if i >= 0 and u < ranges[i][1] and text[u] not in "_-":
                return ranges[i][2]
            return None

        protocols = []  # (i, url start, protocol length, domain end)
        for m in self._protocol.finditer(text):
            p = m.start()
            end = domain_end(m.end())
            if end is not None and p and self._preceding.match(text, p - 1):
                protocols.append((p - 1, p, m.end() - p, end))
        _, start_re = _scan_regexes()
        pos, ri, pi = 0, 0, 0
        cached: tuple[int, int] | None = None  # (i, range index) found and not yet used
        first = True
        while True:
            cand = None
            if self._optional:
                if cached is not None and cached[0] >= pos:
                    cand = cached
                else:
                    cached = None
                    while ri < len(ranges):
                        lo, hi, _ = ranges[ri]
                        if hi > pos + 1:
                            m = start_re.search(text, max(lo, pos + 1) - 1, hi)
                            if m:
                                cand = cached = (m.start(), ri)
                                break
                        ri += 1
            while pi < len(protocols) and protocols[pi][0] < pos:
                pi += 1
            proto = protocols[pi] if pi < len(protocols) else None
            if first:
                first = False
                if not ((cand and cand[0] == 0) or (proto and proto[0] == 0)):
                    # Position 0 without a preceding character (the regex's ``^``).
                    m = self._protocol.match(text)
                    if m:
                        end = domain_end(m.end())
                        if end is not None:
                            pos, path = self._tail(text, end)
                            yield "", 0, m.group(), m.end(), end, pos, path
                            continue
                    elif self._optional:
                        end = domain_end(0)
                        if end is not None:
                            pos, path = self._tail(text, end)
                            yield "", 0, None, 0, end, pos, path
                            continue
            if proto and (cand is None or proto[0] < cand[0]):
                i, p, plen, end = proto
                pos, path = self._tail(text, end)
                yield text[i], p, text[p:p + plen], p + plen, end, pos, path
            elif cand is not None:
                i, r = cand
                cached = None
                end = ranges[r][2]
                pos, path = self._tail(text, end)
                yield text[i], i + 1, None, i + 1, end, pos, path
            else:
                return


def ascii_domains(text: str, start: int, stop: int) -> list[tuple[int, int]]:
    """Spans of ``valid_ascii_domain.finditer(text[start:stop])`` (absolute offsets), in
    linear time: same label-chain reasoning as ``_domain_ranges``."""
    hits = {m.start() + 1: m.end() - m.start() - 1
            for m in _tld_hit().finditer(text, start, stop)}
    if not hits:
        return []
    non_label = _non_ascii_label()
    pieces = text[start:stop].split(".")
    bounds = []
    s = start
    for piece in pieces:
        bounds.append((s, s + len(piece), piece))
        s += len(piece) + 1
    last = len(pieces) - 1
    results: list[tuple[int, int, int] | None] = [None] * len(pieces)
    best: int | None = None
    for j in range(last, -1, -1):
        s, e, piece = bounds[j]
        if j == last or not piece:
            best = None
            continue
        m = non_label.search(piece[::-1])
        tail_start = e - m.start() if m else s
        own = hits.get(e + 1)
        end = best if best is not None else (e + 1 + own if own is not None else None)
        if tail_start < e and end is not None:
            results[j] = (tail_start, e, end)
        best = end if m is None else None
    spans = []
    pos = start
    for r in results:
        if r is None or r[1] <= pos:
            continue
        s = max(pos, r[0])
        spans.append((s, r[2]))
        pos = r[2]
    return spans


@cache
def _non_ascii_label() -> re.Pattern[str]:
    return re.compile(f"[^\\-a-z0-9{_LATIN_ACCENT_CHARS}]", re.IGNORECASE)
