"""Markdown as a reader sees it: a draft's body turned into the plain text that is posted.

The body is parsed by markdown-it-py with its ``commonmark`` preset (CommonMark 0.31,
https://spec.commonmark.org/), raw HTML off (``<!-- -->`` notes are removed before, and
any other ``<…>`` stays text). What is posted:

* emphasis and strong markers dropped (``*paper*`` → ``paper``), never inside a web
  address, @mention or #hashtag (``@_jane_`` stays); inline code as its
  text; backslash escapes and entities resolved;
* a heading as its text, on a line of its own; block-quote markers dropped; code
  blocks as their lines;
* list items as lines starting with their marker as written (``-``, ``*``, ``2.``,
  ``3)``), a nested list indented two spaces per level;
* line breaks inside a paragraph (soft or hard) kept as line breaks; blocks written
  with a blank line between them separated by a blank line, others by a line break;
* a thematic break other than ``---`` (``***``, ``___``) forces a post break, as
  ``---`` does (``draft.py`` splits at ``---`` lines before parsing, so that a
  ``---`` right under a paragraph line is a break, not a heading underline);
* a web address written out (``https://…``) is text, never emphasis (its ``_`` and
  ``*`` stay); a link ``[text](url)`` posts ``text`` and is kept as a :class:`Link` over
  it; an autolink ``<https://…>``, or a link whose text is its address (with or without the
  ``https://``) or is empty, posts the address; a link whose text holds another web
  address posts ``text (url)``;
* an image ``![alt](path "title")``, ``![alt](<path with spaces>)``, ``![alt][ref]``
  is taken out of the text and kept as a :class:`MarkdownImage`, anchored where it
  was written. Text that looks like an image but is not one (``![alt](my photo.png)``)
  raises ``DraftError`` naming the line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import unquote

from .errors import DraftError

__all__ = ["Link", "MarkdownImage", "RenderedSection", "render"]


@dataclass(frozen=True)
class Link:
    """A link whose text is ``text[start:end]`` (code point offsets) and address ``url``."""

    start: int
    end: int
    url: str


@dataclass(frozen=True)
class MarkdownImage:
    """An image found in the Markdown: ``path`` as a file path (``%20`` decoded), its
    alt text, the draft line it is on, and its offset in the section's text."""

    path: str
    alt: str
    line: int
    anchor: int


@dataclass
class RenderedSection:
    """Text between forced breaks, as posted (paragraphs separated by blank lines)."""

    text: str = ""
    images: list[MarkdownImage] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    first_line: int | None = None
    # While rendering: the text in pieces (joined once: a 1 MB draft stays linear).
    parts: list[str] = field(default_factory=list, repr=False)
    size: int = 0


@cache
def _parser():
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": True})
    # Keep escapes and entities as tokens of their own, so that an escaped "\![" is
    # never taken for a broken image.
    md.disable("text_join")
    # A web address written out in the text is read as one (never as emphasis: the
    # underscores of https://example.org/_notes_ stay), found as X finds links.
    md.enable("linkify")
    md.linkify = _WebAddresses()
    # Nor are the underscores of a @mention or #hashtag (@_jane_ is a handle on X).
    md.inline.ruler.before("emphasis", "handle", _handle)
    # Nor the "_" and "*" of a web address written without its scheme (example.org/_a_,
    # www.example.com/*x*), which X links as it stands: dropping them changes the link.
    md.inline.ruler.before("emphasis", "bare_address", _bare_address)
    # Addresses as the writer wrote them (markdown-it would percent-encode every
    # non-ASCII character); only a space, which would end the link when posted, is encoded.
    md.normalizeLink = lambda url: url.replace(" ", "%20")
    md.normalizeLinkText = lambda url: url
    return md


_HANDLE = re.compile(r"[@#]\w+(?:@[\w.-]*\w)?")


def _handle(state, silent: bool) -> bool:
    """Inline rule: a @mention, @user@instance or #hashtag is text, as written."""
    pos = state.pos
    if state.src[pos] not in "@#" or (pos and (state.src[pos - 1].isalnum()
                                               or state.src[pos - 1] == "_")):
        return False
    match = _HANDLE.match(state.src, pos, state.posMax)
    if match is None:
        return False
    if not silent:
        state.pending += match[0]
    state.pos = match.end()
    return True


_LONGEST_LINK = 8192


def _bare_address(state, silent: bool) -> bool:
    """Inline rule: a ``_`` or ``*`` inside a web address without a scheme (found as
    X finds links, in the whitespace-delimited word around it) is text, as written."""
    pos = state.pos
    if state.src[pos] not in "_*":
        return False
    src = state.src
    # The word's addresses are found once (a word of many "_" is read in linear time),
    # and a word longer than the longest link (8,192) is no address.
    seen = state.env.get("_bare_address")
    if seen is not None and seen[0] == id(src) and seen[1] <= pos < seen[2]:
        start, spans = seen[1], seen[3]
    else:
        start = pos
        while start > 0 and not src[start - 1].isspace():
            start -= 1
        end = pos
        while end < state.posMax and not src[end].isspace():
            end += 1
        word = src[start:end] if end - start <= _LONGEST_LINK else ""
        if not word or "." not in word or "://" in word:
            spans = []  # no address, or one linkify reads whole
        else:
            from .counting import find_urls

            spans = find_urls(word, "x")
        state.env["_bare_address"] = (id(src), start, end, spans)
    if not any(a <= pos - start < b for a, b in spans):
        return False
    if not silent:
        state.pending += src[pos]
    state.pos = pos + 1
    return True


class _WebAddresses:
    """What markdown-it's ``linkify`` rule asks of linkify-it-py, answered with the
    twitter-text link finder threadbot counts with: called at each ``://``."""

    @staticmethod
    def pretest(text: str) -> bool:
        return False  # no fuzzy links (example.org without a scheme): they stay text

    test = pretest

    @staticmethod
    def match_at_start(text: str):
        from types import SimpleNamespace

        from .counting import find_urls

        word = re.match(r"\S+", text)
        if word is None:
            return None
        spans = find_urls(word[0], "x")
        if not spans or spans[0][0] != 0:
            return None
        return SimpleNamespace(url=word[0][:spans[0][1]])


# A leftover "![…](" or "![…][": image syntax that CommonMark could not read.
_BROKEN_IMAGE = re.compile(r"!\[[^\x00\n]*?\][(\[]")
# An image whose path holds bare spaces but ends with a quoted title, which CommonMark
# rejects (spaces need <…>) though nothing is ambiguous: the path runs to the title.
_SPACED_IMAGE = re.compile(
    r"""!\[(?P<alt>(?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]"""
    r"""\((?P<path>[^()<>"'\s][^()<>"'\n]*?)\s+(?:"[^"\n]*"|'[^'\n]*')\s*\)""")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
# An absolute URI (RFC 3986: a scheme, then ':'): https://…, mailto:…
_ABSOLUTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S")


def render(lines: Sequence[tuple[int, str]], *, source: str) -> list[RenderedSection]:
    """Render one forced-break section of a draft body: ``lines`` are ``(line number in
    the draft file, text)``. Returns one section, or several when a thematic break
    (``***``) splits it. Raises ``DraftError`` (with the line) for an unreadable image."""
    numbers = [number for number, _ in lines]
    tokens = _parser().parse("\n".join(text for _, text in lines))
    return _Renderer(numbers, source).run(tokens)


class _Renderer:
    def __init__(self, numbers: list[int], source: str):
        self.numbers = numbers
        self.source = source
        self.sections = [RenderedSection()]
        self.last_end: int | None = None  # source line (0-based) after the last block
        self.depth = 0  # how many lists are open (a nested item is indented)
        self.marker: str | None = None  # an item's marker, waiting for its first block
        self.item_line = 0  # the source line (0-based) of the open list item

    def line(self, index: int) -> int:
        return self.numbers[min(index, len(self.numbers) - 1)] if self.numbers else 1

    def run(self, tokens) -> list[RenderedSection]:
        for i, token in enumerate(tokens):
            kind = token.type
            if kind in ("bullet_list_open", "ordered_list_open"):
                self.depth += 1
            elif kind in ("bullet_list_close", "ordered_list_close"):
                self.depth -= 1
            elif kind == "list_item_open":
                self.marker = token.info + token.markup  # "-", "*", "2." or "3)"
                self.item_line = token.map[0] if token.map else 0
            elif kind == "list_item_close" and self.marker is not None:
                self.block("", [], [], (self.item_line, self.item_line + 1))  # empty item
            elif kind == "inline":
                # The block's lines: a setext heading's include its underline.
                span = tokens[i - 1].map if i and tokens[i - 1].map else token.map
                text, images, links = self.inline(token.children or [], token.map[0])
                self.block(text, images, links, span)
            elif kind in ("fence", "code_block"):
                self.block(token.content.rstrip("\n"), [], [], token.map)
            elif kind == "hr":
                self.sections.append(RenderedSection())
                self.last_end = None
        for section in self.sections:
            section.text = "".join(section.parts)
            section.parts = []
        return [s for s in self.sections if s.text or s.images]

    def block(self, text: str, images: list[tuple[int, str, str, int]], links: list[Link],
              span) -> None:
        """Add a leaf block (paragraph, heading, code, list item's first block)."""
        section = self.sections[-1]
        prefix = ""
        if self.marker is not None:
            prefix = "  " * (self.depth - 1) + self.marker + (" " if text else "")
            self.marker = None
        if section.first_line is None and (text or images):
            section.first_line = self.line(span[0])
        if not text and not prefix:
            # Only images: they go with the text before them.
            for _offset, path, alt, line in images:
                section.images.append(MarkdownImage(path, alt, line, section.size))
            return
        if section.size:
            blank = self.last_end is not None and span[0] > self.last_end
            section.parts.append("\n\n" if blank else "\n")
            section.size += len(section.parts[-1])
        start = section.size + len(prefix)
        section.parts.append(prefix + text)
        section.size += len(prefix) + len(text)
        for offset, path, alt, line in images:
            section.images.append(MarkdownImage(path, alt, line, start + offset))
        for link in links:
            end = min(link.end, len(text))
            while end > link.start and text[end - 1].isspace():
                end -= 1
            if end > link.start:
                section.links.append(Link(start + link.start, start + end, link.url))
        self.last_end = span[1]

    def inline(self, children, first: int) -> tuple[str, list, list[Link]]:
        """The text of a paragraph or heading, its images as ``(offset, path, alt,
        line)`` and its links."""
        children = _joined(children)
        self.check_images(children, first)
        out = _Output()
        images: list[tuple[int, str, str, int]] = []
        links: list[Link] = []
        line = first
        i = 0
        while i < len(children):
            child = children[i]
            kind = child.type
            if kind == "text":
                at = 0
                for match in _SPACED_IMAGE.finditer(child.content):
                    out.add(child.content[at:match.start()])
                    images.append((out.image_anchor(), match["path"].strip(),
                                   match["alt"].strip(), self.line(line)))
                    at = match.end()
                out.add(child.content[at:])
            elif kind in ("text_special", "code_inline", "html_inline"):
                out.add(child.content)
            elif kind in ("softbreak", "hardbreak"):
                out.newline()
                line += 1
            elif kind == "image":
                alt = _plain(child.children or []).replace("\n", " ").strip()
                path = unquote(child.attrs.get("src") or "")
                images.append((out.image_anchor(), path, alt, self.line(line)))
            elif kind == "link_open":
                close = next((j for j in range(i + 1, len(children))
                              if children[j].type == "link_close"), len(children))
                url = str(child.attrs.get("href") or "")
                inner, inner_images, _ = self.inline(children[i + 1:close], line)
                line += sum(1 for c in children[i + 1:close]
                            if c.type in ("softbreak", "hardbreak"))
                if child.markup in ("autolink", "linkify") or not inner.strip() or inner in (
                        url, _SCHEME.sub("", url)):
                    start, _ = out.add(inner if child.markup in ("autolink", "linkify")
                                       else url)
                elif "://" in inner or not _ABSOLUTE.match(url):
                    # A relative address (notes.md, a footnote's text) is no link a
                    # platform can follow, and Bluesky refuses it as a link: posted as
                    # written, after the text, on every platform.
                    start, _ = out.add(f"{inner} ({url})")
                else:
                    start, end = out.add(inner)
                    links.append(Link(start, end, url))
                images.extend((start + offset, path, alt, at)
                              for offset, path, alt, at in inner_images)
                i = close
            i += 1
        return out.finish(), images, links

    def check_images(self, children, first: int) -> None:
        """Raise ``DraftError`` for image syntax left as text (CommonMark could not read
        it). Escaped characters (``\\!``) are replaced by NUL, so they never match."""
        line = first
        run: list[str] = []
        for child in [*children, None]:
            if child is not None and child.type in ("text", "text_special"):
                run.append(_SPACED_IMAGE.sub(lambda m: "\x00" * len(m[0]), child.content)
                           if child.type == "text" else "\x00")
                continue
            joined = "".join(run)
            match = _BROKEN_IMAGE.search(joined)
            if match:
                self.broken_image(joined[match.start():], match.end() - match.start(), line)
            run = []
            if child is not None and child.type in ("softbreak", "hardbreak"):
                line += 1

    def broken_image(self, text: str, opened: int, line: int) -> None:
        """``text`` starts with the unreadable image; its first ``opened`` characters run
        to the ``(`` or ``[`` after the alt text."""
        rest = text[opened:]
        closer = rest.find(")" if text[opened - 1] == "(" else "]")
        if closer >= 0:
            text = text[:opened + closer + 1]
        shown = text if len(text) <= 80 else text[:77] + "..."
        target = rest[:rest.find(")")] if ")" in rest else rest
        if text[opened - 1] == "[":
            fix = ("No line defines that reference: add one on a line of its own, e.g. "
                   "[ref]: photo.png, or write the path directly: ![alt text](photo.png).")
        elif " " in target.strip() and '"' not in target:
            path = target.strip()
            fix = (f"A path with spaces goes between < and >: ![alt text](<{path}>) (or "
                   f"write each space as %20: {path.replace(' ', '%20')}).")
        else:
            fix = ("Write it as ![alt text](path), the path between < and > if it holds "
                   'spaces, and an optional title in quotes: ![alt](<my photo.png> "title").')
        raise DraftError(f"'{shown}' looks like an image but cannot be read as one, so it "
                         f"would be posted as text. {fix}", path=self.source,
                         line=self.line(line))


class _Output:
    """Inline text being built: an image leaves no double space, and a line holding only
    images leaves no empty line."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.line_empty = True  # nothing but images on the current line so far
        self.after_image = False

    def add(self, text: str) -> tuple[int, int]:
        """Append ``text``; returns where it starts and ends in the output."""
        if self.after_image and (self.line_empty or self._ends_with_space()):
            text = text.lstrip(" ")
        start = self.size
        if text:
            self.after_image = False
            self.line_empty = False
            self.parts.append(text)
            self.size += len(text)
        return start, self.size

    def newline(self) -> None:
        if self.line_empty and self.after_image:
            return  # the line held only images
        self._rstrip()
        self.parts.append("\n")
        self.size += 1
        self.line_empty = True
        self.after_image = False

    def image_anchor(self) -> int:
        """Where an image written here goes: after the text before it, spaces excluded."""
        self.after_image = True
        size = self.size
        for part in reversed(self.parts):
            kept = len(part.rstrip())
            size -= len(part) - kept
            if kept:
                break
        return size

    def _ends_with_space(self) -> bool:
        return bool(self.parts) and self.parts[-1].endswith((" ", "\n"))

    def _rstrip(self) -> None:
        while self.parts and self.parts[-1].endswith(" "):
            stripped = self.parts[-1].rstrip(" ")
            self.size -= len(self.parts[-1]) - len(stripped)
            if stripped:
                self.parts[-1] = stripped
                break
            self.parts.pop()

    def finish(self) -> str:
        return "".join(self.parts).rstrip()


def _joined(children) -> list:
    """``children`` with each run of adjacent text tokens made one (markdown-it cuts text
    at every ``[``, ``]`` and ``!``)."""
    out: list = []
    for child in children:
        if child.type == "text" and out and out[-1].type == "text":
            out[-1] = out[-1].copy(content=out[-1].content + child.content)
        else:
            out.append(child)
    return out


def _plain(children) -> str:
    """The text of inline tokens with all markup dropped (for alt text)."""
    out = []
    for child in children:
        if child.type in ("text", "text_special", "code_inline", "html_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif child.type == "image":
            out.append(_plain(child.children or []))
    return "".join(out)


# Stands for a space inside a link's text while the text is split, so that the splitter
# (which breaks only at spaces) keeps the text in one post. A noncharacter: never in a
# writer's text (then nothing is protected), one grapheme like the space it replaces.
_JOINER = "\ufdd0"


def keep_links_whole(text: str, runs: Sequence[tuple[int, int]], longest: int,
                     measure) -> str:
    """``text`` with the spaces inside each of ``runs`` (``[start, end)``: a link's text,
    or its ``text (url)``) replaced by a stand-in, for a run ``measure`` counts at most
    ``longest``; :func:`release` undoes it. Lengths and offsets are unchanged; the
    stand-in is one grapheme (two on X's scale, three UTF-8 bytes), so ``measure``
    counts the result at least as long, as long as it finds the same links in it."""
    if not runs or _JOINER in text:
        return text
    parts = []
    at = 0
    for start, end in sorted(runs):
        if start < at:
            continue
        run = text[start:end]
        if " " in run and measure(run) <= longest:
            parts.append(text[at:start])
            parts.append(run.replace(" ", _JOINER))
            at = end
    if not parts:
        return text  # the same object: nothing to undo
    parts.append(text[at:])
    return "".join(parts)


def release(text: str) -> str:
    """Undo :func:`keep_links_whole`."""
    return text.replace(_JOINER, " ")
