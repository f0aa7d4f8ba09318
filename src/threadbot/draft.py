"""Reading a draft: front matter, private notes, forced breaks, images, paragraphs.

The draft format (documented in the README):

* optional YAML front matter between two ``---`` lines at the very top;
* a body in Markdown (CommonMark), posted as a reader sees it (``markdown.py``);
  front matter ``markdown: false`` posts it as written;
* paragraphs separated by blank lines; line breaks inside a paragraph are kept;
* a line holding only ``---`` forces a post break (even right under a paragraph
  line, where CommonMark would read a heading underline);
* ``![alt text](path)`` attaches an image (path relative to the draft) to the
  post in which it appears; an image on a line of its own goes with the text
  before it (or with the first post when nothing comes before it);
* ``[text](url)`` is a link: :class:`Section` keeps its text and address;
* ``<!-- … -->`` is a private note: never posted.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from .config import (
    MAX_TEXT_BYTES,
    SPLIT_KEYS,
    VISIBILITIES,
    SplitSettings,
    check_keys,
    check_platform,
    check_size,
    decode_text,
    did_you_mean,
    load_yaml_mapping,
    normalise_text,
    parse_split_settings,
    read_text_file,
)
from .errors import DraftError
from .markdown import Link, render

__all__ = ["FRONT_MATTER_KEYS", "Draft", "Image", "Link", "Section", "content_hash",
           "parse_draft", "read_draft"]

FRONT_MATTER_KEYS = ["title", "platform", "account", "at", "lang", "cw", "visibility",
                     "reply_visibility", "markdown", *SPLIT_KEYS]

# With ``markdown: false``: ![alt](path) or ![alt](path "title"); the alt text may not
# hold a ']'.
IMAGE_RE = re.compile(r'!\[(?P<alt>[^\]]*)\]\((?P<path>[^)\s]+)(?:\s+"[^"]*")?\)')
BREAK_LINE = "---"


@dataclass(frozen=True)
class Image:
    """An image reference in a draft."""

    path: str  # the file path written in the draft (<…> and %20 undone)
    alt: str
    line: int  # line in the draft file, for messages
    resolved: Path  # where the file is looked for
    anchor: int  # character offset in its section's text where it was written


@dataclass(frozen=True)
class Section:
    """Text between forced breaks: paragraphs joined by blank lines.

    ``links`` are the draft's ``[text](url)`` links, each over its text in ``text``
    (code point offsets); the address is not in ``text`` (see :meth:`with_addresses`).
    """

    text: str
    images: tuple[Image, ...] = ()
    first_line: int = 1
    links: tuple[Link, ...] = ()
    # After :meth:`with_addresses`: where each link's ``text (url)`` is, [start, end).
    addressed: tuple[tuple[int, int], ...] = ()

    @property
    def runs(self) -> list[tuple[int, int]]:
        """Where the links are, [start, end): each link's text, or its ``text (url)``
        once written out; the splitter keeps each in one post when it can."""
        return [(link.start, link.end) for link in self.links] + list(self.addressed)

    def with_addresses(self) -> Section:
        """This section as posted where a link is its text followed by its address:
        ``text (url)`` for each link (images' anchors moved to match), no links left."""
        if not self.links:
            return self
        parts = []
        at = 0
        shifts: list[tuple[int, int]] = []  # (offset in the old text, added so far)
        added = 0
        addressed = []
        for link in self.links:
            parts.append(self.text[at:link.end])
            address = f" ({link.url})"
            parts.append(address)
            addressed.append((link.start + added, link.end + added + len(address)))
            added += len(address)
            shifts.append((link.end, added))
            at = link.end
        parts.append(self.text[at:])

        def moved(anchor: int) -> int:
            return anchor + max((total for end, total in shifts if end <= anchor), default=0)

        images = tuple(replace(image, anchor=moved(image.anchor)) for image in self.images)
        return replace(self, text="".join(parts), images=images, links=(),
                       addressed=tuple(addressed))


@dataclass(frozen=True)
class Draft:
    source: str  # the path as the user gave it, or "<stdin>"
    sections: tuple[Section, ...]
    front_matter: dict[str, Any] = field(default_factory=dict)
    front_matter_lines: dict[str, int] = field(default_factory=dict)
    content_hash: str = ""

    @property
    def title(self) -> str | None:
        title = self.front_matter.get("title")
        return None if title is None else str(title)

    @property
    def images(self) -> list[Image]:
        return [image for section in self.sections for image in section.images]

    def split_settings(self, base: SplitSettings) -> SplitSettings:
        """``base`` (from the config) with this draft's front matter on top."""
        return parse_split_settings(
            self.front_matter, base, path=self.source, lines=self.front_matter_lines,
            error=DraftError,
        )


def read_draft(path: str | Path) -> Draft:
    """Read and parse a draft file; ``"-"`` reads standard input."""
    if str(path) == "-":
        data = check_size(sys.stdin.buffer.read(MAX_TEXT_BYTES + 1), MAX_TEXT_BYTES,
                          shown="<stdin>", what="draft", error=DraftError)
        text = decode_text(data, shown="<stdin>", what="draft", error=DraftError)
        return parse_draft(text, source="<stdin>", base_dir=Path.cwd())
    path = Path(path)
    text = read_text_file(path, what="draft", error=DraftError)
    return parse_draft(text, source=str(path), base_dir=path.parent)


def parse_draft(text: str, *, source: str = "<text>", base_dir: Path | None = None) -> Draft:
    """Parse draft text. ``base_dir`` is where relative image paths start."""
    base_dir = Path.cwd() if base_dir is None else base_dir
    text = normalise_text(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:  # a lone surrogate, from a str given to the API
        raise DraftError(
            f"the draft holds U+{ord(text[error.start]):04X}, half of a character pair, "
            "which no platform accepts. Remove it, or read the draft from its file.",
            path=source, line=text.count("\n", 0, error.start) + 1) from None
    lines = text.split("\n")
    front_matter, lines_map, body_start = _front_matter(lines, source)
    body = _without_comments(lines[body_start:], first_line=body_start + 1, source=source)
    if front_matter.get("markdown", True):
        sections = _markdown_sections(body, base_dir, source)
    else:
        sections = _sections(body, base_dir)
    if not any(section.text or section.images for section in sections):
        raise DraftError(
            "the draft has nothing to post (it is empty, or holds only front matter and "
            "notes). Write some text below the front matter.",
            path=source,
        )
    return Draft(
        source=source,
        sections=tuple(s for s in sections if s.text or s.images),
        front_matter=front_matter,
        front_matter_lines=lines_map,
        content_hash=content_hash(text),
    )


def content_hash(text: str) -> str:
    """The draft's fingerprint: the same text always gives the same hash, whatever
    its line endings or byte-order mark."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


def _front_matter(lines: list[str], source: str) -> tuple[dict, dict[str, int], int]:
    """Returns the front matter, the line of each key, and the index where the body starts."""
    if not lines or lines[0].strip() != BREAK_LINE:
        return {}, {}, 0
    if all(line.strip() in ("", BREAK_LINE) for line in lines):
        return {}, {}, 0  # only break lines: no front matter, and nothing to post
    for end in range(1, len(lines)):
        if lines[end].strip() == BREAK_LINE:
            break
    else:
        raise DraftError(
            "the front matter opened with '---' on line 1 is never closed. "
            "Add a line holding only '---' after the settings.",
            path=source,
            line=1,
        )
    data = load_yaml_mapping(
        "\n".join(lines[1:end]), path=source, first_line=2, what="front matter",
        error=DraftError,
    )
    check_keys(data, FRONT_MATTER_KEYS, path=source, lines=data.lines,
               where=" in the front matter", error=DraftError)
    if "title" in data and data["title"] is not None and not isinstance(data["title"], str):
        # A title is text as written: ``title: 1e5`` or ``title: 2026`` is not a number.
        data["title"] = data.written.get("title", str(data["title"]))
    if "platform" in data:
        check_platform(data["platform"], path=source, line=data.lines["platform"],
                       error=DraftError)
    if "account" in data:
        names = data["account"] if isinstance(data["account"], list) else [data["account"]]
        if not names or not all(isinstance(n, str) and n for n in names):
            raise DraftError("'account' must be the name of an account from the config, "
                             "e.g. account: personal, or a list such as [personal, fedi].",
                             path=source, line=data.lines["account"])
    for key in ("lang", "cw"):
        if key in data and (not isinstance(data[key], str) or not data[key].strip()):
            example = "lang: en" if key == "lang" else "cw: politics"
            raise DraftError(f"'{key}' must be text, e.g. {example}.", path=source,
                             line=data.lines[key])
    if "lang" in data and not re.fullmatch(r"[a-zA-Z]{2,3}(-[a-zA-Z0-9]+)*", data["lang"]):
        raise DraftError(f"'lang' must be a language code such as en, fr or pt-BR, not "
                         f"{data['lang']!r}.", path=source, line=data.lines["lang"])
    for key in ("visibility", "reply_visibility"):
        if key in data and data[key] not in VISIBILITIES:
            raise DraftError(
                f"'{key}' cannot be {data[key]!r}.{did_you_mean(str(data[key]), VISIBILITIES)} "
                f"Choose one of: {', '.join(VISIBILITIES)}.", path=source, line=data.lines[key])
    if "markdown" in data and not isinstance(data["markdown"], bool):
        raise DraftError("'markdown' must be true (the body is Markdown: *word* posts as "
                         "word) or false (the body is posted as written), e.g. markdown: false.",
                         path=source, line=data.lines["markdown"])
    if "at" in data and not isinstance(data["at"], (str, date)):
        raise DraftError("'at' must be a time such as 2026-12-01 09:00 or tomorrow 09:00.",
                         path=source, line=data.lines["at"])
    # Check the split values now, so a bad value is reported however the draft is used.
    parse_split_settings(data, SplitSettings(), path=source, lines=data.lines, error=DraftError)
    return dict(data), data.lines, end + 1


def _without_comments(lines: list[str], *, first_line: int, source: str) -> list[tuple[int, str]]:
    """Drop ``<!-- … -->`` notes; a line that held only a note disappears entirely
    (rather than becoming a blank line that would split a paragraph)."""
    kept: list[tuple[int, str]] = []
    in_comment_since: int | None = None
    for number, line in enumerate(lines, start=first_line):
        out = []
        had_comment = in_comment_since is not None
        rest = line
        while rest:
            if in_comment_since is not None:
                end = rest.find("-->")
                if end < 0:
                    rest = ""
                    break
                rest = rest[end + 3:]
                in_comment_since = None
                if "".join(out).strip() and "".join(out).endswith(" "):
                    rest = rest.lstrip(" ")  # "text <!-- note --> more": one space left
            else:
                start = rest.find("<!--")
                if start < 0:
                    out.append(rest)
                    break
                out.append(rest[:start])
                rest = rest[start + 4:]
                in_comment_since = number
                had_comment = True
        new = "".join(out)
        if had_comment and not new.strip():
            continue
        kept.append((number, new))
    if in_comment_since is not None:
        raise DraftError(
            "a private note '<!--' is never closed. Add '-->' where the note ends.",
            path=source,
            line=in_comment_since,
        )
    return kept


def _forced_breaks(body: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """The body cut at each line holding only ``---``."""
    chunks: list[list[tuple[int, str]]] = [[]]
    for number, line in body:
        if line.strip() == BREAK_LINE:
            chunks.append([])
        else:
            chunks[-1].append((number, line))
    return chunks


def _markdown_sections(body: list[tuple[int, str]], base_dir: Path,
                       source: str) -> list[Section]:
    """Sections of a Markdown body: cut at ``---`` lines first (so that CommonMark never
    reads one as a heading underline), then each rendered as a reader sees it."""
    sections = []
    for chunk in _forced_breaks(body):
        for rendered in render(chunk, source=source):
            images = tuple(
                Image(path=image.path, alt=image.alt, line=image.line,
                      resolved=base_dir / image.path,
                      anchor=min(image.anchor, len(rendered.text)))
                for image in rendered.images)
            sections.append(Section(text=rendered.text, images=images,
                                    first_line=rendered.first_line or 1,
                                    links=tuple(rendered.links)))
    return sections


def _sections(body: list[tuple[int, str]], base_dir: Path) -> list[Section]:
    """Sections of a body posted as written (``markdown: false``)."""
    sections: list[Section] = []
    builder = _SectionBuilder(base_dir)
    for number, line in body:
        if line.strip() == BREAK_LINE:
            sections.append(builder.finish())
            builder = _SectionBuilder(base_dir)
            continue
        builder.add_line(number, line)
    sections.append(builder.finish())
    return sections


class _SectionBuilder:
    def __init__(self, base_dir: Path):
        self.base_dir = base_dir
        self.paragraphs: list[list[str]] = []
        self.open = False  # is the last paragraph still taking lines?
        self.first_line: int | None = None
        # images as (paragraph index, offset in that paragraph's text, Image fields)
        self.pending: list[tuple[int, int, str, str, int]] = []

    def add_line(self, number: int, line: str) -> None:
        if self.first_line is None:
            self.first_line = number
        had_images = False
        text_parts = []
        position = 0
        for match in IMAGE_RE.finditer(line):
            had_images = True
            text_parts.append(line[position:match.start()])
            offset = self._offset_after(("".join(text_parts)).rstrip())
            self.pending.append(
                (offset[0], offset[1], match["path"], match["alt"].strip(), number)
            )
            position = match.end()
        text_parts.append(line[position:])
        # Two spaces left where an image sat inside a sentence become one.
        new = re.sub(r"(?<=\S)  +(?=\S)", " ", "".join(text_parts)) if had_images else line
        new = new.rstrip()
        if not new.strip():
            if not had_images:
                self.open = False  # a blank line ends the paragraph
            return
        if self.open:
            self.paragraphs[-1].append(new)
        else:
            self.paragraphs.append([new])
            self.open = True

    def _offset_after(self, head: str) -> tuple[int, int]:
        """Where an image goes: after ``head`` on the current line, or at the end of
        the text so far when it stands on a line of its own."""
        if head.strip() and self.open:
            paragraph = "\n".join(self.paragraphs[-1])
            return len(self.paragraphs) - 1, len(paragraph) + 1 + len(head)
        if head.strip():
            return len(self.paragraphs), len(head)
        if not self.paragraphs:
            return 0, 0
        return len(self.paragraphs) - 1, len("\n".join(self.paragraphs[-1]))

    def finish(self) -> Section:
        texts = ["\n".join(lines).strip("\n") for lines in self.paragraphs]
        starts = []
        position = 0
        for paragraph in texts:
            starts.append(position)
            position += len(paragraph) + 2
        text = "\n\n".join(texts)
        images = []
        for index, offset, path, alt, line in self.pending:
            anchor = starts[index] + offset if index < len(starts) else len(text)
            images.append(Image(path=path, alt=alt, line=line,
                                resolved=self.base_dir / path, anchor=min(anchor, len(text))))
        return Section(text=text, images=tuple(images), first_line=self.first_line or 1)
