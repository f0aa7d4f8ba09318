"""The splitter: text → post-sized pieces, broken at the most natural places.

How it works, in three steps:

1. **Tokens.** The text is cut into *atoms* that must never be broken: runs of
   non-space characters (a word with its punctuation, a URL, an @mention, a
   #hashtag, an emoji sequence); in Chinese and Japanese, where words are not
   separated by spaces, single characters with the punctuation that must stay
   beside them. Each gap between two atoms gets a *class*: paragraph end, line
   end, sentence end, clause mark, plain word gap, or no break allowed.
2. **Candidates.** In the default *paragraphs* packing, a span of text that fits
   in one post with the decorations it would carry holds no candidate, from the
   largest span down: a paragraph; inside a paragraph too long, its blocks (prose,
   a list with its lead-in, a quote), a list or quote too long being broken only
   between its items; inside prose or an item, its sentences; inside a sentence too
   long, its clause marks, then its word gaps. A line ending with ':' loses its
   candidate when it and what follows, up to the next one, fit in a post. In
   *sentences* packing (once called *natural*), every paragraph, line and sentence
   end is a candidate, and clause marks and word gaps inside a sentence too long.
   In *compact* packing, any gap between words is a candidate. A token longer than
   a post is cut between graphemes: anywhere near its ends, only at the ends of
   the longest pieces that fit in its middle.
3. **Optimal choice.** A dynamic programme over the candidates (in the manner of
   Knuth–Plass line breaking) picks, among all ways to break, the one with the
   fewest posts, then the most even lengths, then the best break classes.

Lengths are measured once per piece of text between two candidates, never per
candidate post, so a 1 MB draft splits in under a second (bench/split_quality.py).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

import regex

from .config import PACKING_ALIASES, PACKINGS, SplitSettings
from .counting import find_urls

# The packings, by their names in the settings (config.PACKINGS).
PARAGRAPHS, SENTENCES, COMPACT = PACKINGS


class Break(IntEnum):
    """The quality of a place to break; higher is more natural."""

    NONE = 0  # never break here (e.g. before closing punctuation)
    HARD = 1  # inside a token too long for any post
    WORD = 2
    CLAUSE = 3
    SENTENCE = 4
    LINE = 5
    PARAGRAPH = 6


# A post that ends at one of these continues its sentence in the next post.
MID_SENTENCE = (Break.HARD, Break.WORD, Break.CLAUSE)

# Penalties added per post by the class of break that ends it. They rank below
# the number of posts and weigh against unevenness (the squared free room).
_PENALTY = {
    Break.HARD: 400_000,
    Break.WORD: 100_000,
    Break.CLAUSE: 20_000,
    Break.SENTENCE: 12_000,
    Break.LINE: 4_000,
    Break.PARAGRAPH: 0,
}

CLOSERS = "\"'”’»)]}」』）】〕〉》›"
OPENERS = "\"'“‘«([{「『（【〔〈《‹¿¡"
CJK_TERMINALS = "。！？．｡"
CJK_CLAUSE = "、，；：､"
CLAUSE_MARKS = ",;:—–" + CJK_CLAUSE
DASHES = {"—", "–", "-", "--", "―"}
BULLETS = regex.compile(r"(?:[-–—•*·]|\d{1,3}[.)]|[a-zA-Z][.)])$")

# Abbreviations whose final dot does not end a sentence (lower case, no final dot).
ABBREVIATIONS = frozenset(
    """mr mrs ms mx dr prof sr jr st vs etc cf al approx ca esp incl fig figs eq mt gen col capt lt
    sgt rev hon gov sen rep pres messrs mme mlle vol vols pp ed eds ch sec dept univ assn bros
    inc ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec""".split()
)
_INITIALS = regex.compile(r"(?:\p{L}\.)+\p{L}|\p{Lu}")  # "U.S", "e.g", "J"

# Scripts written without spaces between words, and punctuation that must not
# start a line (it stays with the character before) or end one (it stays with
# the character after).
_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\u3000-\u303f\uff00-\uffef]")
_NO_LINE_START = set("、。，．！？：；）」』】〕〉》〙〗’”ー…‥々ゝゞ・"
                     "ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ!?,.:;)]}%")
_NO_LINE_END = set("「『（【〔〈《〘〖‘“([{")
_LINK_JOINER = "\ufdd0"  # markdown.keep_links_whole's stand-in for a space in a link
_TOKEN = regex.compile(r"[#＃@＠$][\w]+|\X")
_SPACE_RUN = regex.compile(r"\S+")


@dataclass(frozen=True)
class Piece:
    """One post's share of the text, before decoration."""

    section: int
    start: int  # character offsets into the section's text
    end: int
    ends_mid_sentence: bool
    hard_cut: bool = False


@dataclass
class SplitResult:
    pieces: list[Piece]
    texts: list[str]  # decorated: exactly what would be posted
    lengths: list[int]
    warnings: list[str] = field(default_factory=list)


# --- step 1: atoms and gaps -----------------------------------------------------


def _atoms(text: str) -> list[tuple[int, int]]:
    """Spans of unbreakable text."""
    runs = [(m.start(), m.end()) for m in _SPACE_RUN.finditer(text)]
    if not _CJK.search(text):
        return runs
    # A link is one atom on every platform: X and Mastodon do not end it at the same
    # place (Mastodon takes CJK characters into a path), so the longer span counts.
    urls: list[tuple[int, int]] = []
    for start, end in sorted(find_urls(text, "x") + find_urls(text, "mastodon")):
        if urls and start < urls[-1][1]:
            urls[-1] = (urls[-1][0], max(end, urls[-1][1]))
        else:
            urls.append((start, end))
    atoms: list[tuple[int, int]] = []
    for start, end in runs:
        # A link kept whole (its spaces replaced by ``markdown.keep_links_whole``'s
        # stand-in) is one atom, even where it holds Chinese or Japanese.
        if _CJK.search(text, start, end) and _LINK_JOINER not in text[start:end]:
            atoms.extend(_cjk_atoms(text, start, end, urls))
        else:
            atoms.append((start, end))
    return atoms


def _cjk_atoms(text: str, start: int, end: int, urls: list[tuple[int, int]]):
    """Split a run holding Chinese or Japanese into breakable units: each CJK
    character alone, other text (words, URLs, tags, emoji) kept whole."""
    units: list[tuple[int, int, bool]] = []  # (start, end, is_cjk)
    position = start
    url_iter = [u for u in urls if u[0] < end and u[1] > start]
    if not url_iter:  # the common case, without a Python step per character
        for match in _TOKEN.finditer(text, start, end):
            units.append((match.start(), match.end(), bool(_CJK.match(match.group()))))
        position = end
    while position < end:
        url = next((u for u in url_iter if u[0] <= position < u[1]), None)
        if url is not None:
            units.append((position, min(url[1], end), False))
            position = min(url[1], end)
            continue
        match = _TOKEN.match(text, position, end)
        stop = match.end() if match and match.end() > position else position + 1
        units.append((position, stop, bool(_CJK.match(text, position))))
        position = stop
    atoms: list[list[int]] = []
    glue_next = False
    for unit_start, unit_end, is_cjk in units:
        first = text[unit_start]
        if atoms and (glue_next or first in _NO_LINE_START
                      or (not is_cjk and not atoms[-1][2])):
            atoms[-1][1] = unit_end
            atoms[-1][2] = is_cjk and atoms[-1][2]
        else:
            atoms.append([unit_start, unit_end, is_cjk])
        glue_next = text[unit_end - 1] in _NO_LINE_END
    return [(a, b) for a, b, _ in atoms]


def _core(word: str) -> str:
    return word.rstrip(CLOSERS)


def _starts_lower(word: str) -> bool:
    word = word.lstrip(OPENERS)
    return bool(word) and word[0].islower()


def _ends_sentence(word: str, following: str | None) -> bool:
    """Whether ``word`` ends a sentence when ``following`` comes next (None: nothing).

    ``.``, ``!``, ``?``, an ellipsis (``…``, ``...``) and one closed by a full stop
    (``….``) end a sentence whatever case follows, since informal writing often
    starts one in lower case ("…grow. you both are lucky…", "…shape…. hence…"),
    unless the ``.`` closes an abbreviation or initials ("Dr.", "e.g.", "U.S."), or
    the mark closes a quotation and lower case follows ("“Really?” she asked").
    """
    core = _core(word)
    if not core:
        return False
    last = core[-1]
    if last in CJK_TERMINALS:
        return True
    lower_next = following is not None and _starts_lower(following)
    if last not in ".?!‽…":
        return False
    if lower_next and len(core) < len(word):
        return False  # “Really?” she asked.
    if last != "." or core.endswith(("…", "....", "...")):
        return True
    stem = core[:-1].lstrip(OPENERS)
    if not stem:
        return False
    if stem.lower() in ABBREVIATIONS or _INITIALS.fullmatch(stem):
        return False
    return True


_TRAILING_MARKS = "!?‽;:»)]}”’\"'.,…"


def _gap_class(gap: str, word: str, following: str, line_length: int) -> Break:
    """The class of the gap between ``word`` and ``following`` (its text is ``gap``)."""
    if not following.strip(_TRAILING_MARKS) or word in OPENERS or word[-1] in _NO_LINE_END:
        return Break.NONE  # "word !", a lone closing mark, or an opening one: keep together
    if "\n\n" in gap:
        return Break.PARAGRAPH
    sentence = _ends_sentence(word, following)
    # A line break is a natural place at a sentence end, between list items or lines
    # of verse (short lines); in hard-wrapped prose it is just a space.
    if "\n" in gap and (sentence or BULLETS.match(following) or line_length < 60):
        return Break.LINE
    if sentence:
        return Break.SENTENCE
    core = _core(word)
    if not gap:  # inside Chinese or Japanese text
        return Break.CLAUSE if core and core[-1] in CJK_CLAUSE else Break.WORD
    if word in DASHES or (core and (core[-1] in CLAUSE_MARKS or core.endswith("…")
                                    or core.endswith("..."))):
        return Break.CLAUSE
    return Break.WORD


def classify(text: str) -> tuple[list[tuple[int, int]], list[Break]]:
    """The atoms of ``text`` and the class of the gap after each atom but the last."""
    atoms = _atoms(text)
    classes: list[Break] = []
    for index in range(len(atoms) - 1):
        start, end = atoms[index]
        next_start, next_end = atoms[index + 1]
        gap = text[end:next_start]
        word = text[start:end]
        last = word[-1]
        if (gap == " " or not gap) and last.isalnum() and text[next_start].isalnum():
            classes.append(Break.WORD)  # the common cases (and CJK), decided fast
            continue
        following = text[next_start:next_end]
        line_length = end - (text.rfind("\n", 0, end) + 1) if "\n" in gap else 0
        classes.append(_gap_class(gap, word, following, line_length))
    return atoms, classes


# --- steps 2 and 3: candidates and the optimal choice ------------------------------


@dataclass(frozen=True)
class Layout:
    """What decorations cost, so the splitter can leave room for them."""

    limit: int
    measure: Callable[[str], int]
    settings: SplitSettings


def _upper_bound(text: str) -> int:
    """At least what ``text`` weighs on any platform, without measuring it.

    No platform weighs a character more than 2, or a URL more than 23; but a URL
    may weigh more than its characters ("a.io" counts 23 on X), and every URL holds
    a dot, so each dot may add up to 23 (twelve such links in one sentence once
    passed for a sentence that fits)."""
    dots = text.count(".") + text.count("。") + text.count("．") + text.count("｡")
    return max(2 * len(text), 23) + 23 * dots


def _numbering(style: str, index: int, total: int) -> str:
    if style == "1/N":
        return f"{index}/{total}"
    if style == "1/":
        return f"{index}/"
    if style == "(1/N)":
        return f"({index}/{total})"
    return ""


def decorate(text: str, *, index: int, total: int, mid_sentence: bool,
             settings: SplitSettings) -> str:
    """The post as it will be published: numbering, continuation and thread markers."""
    body = text
    marker = settings.continuation
    if mid_sentence and marker and not (body.endswith("…") or body.endswith("...")):
        body += _continuation_joint(body, marker) + marker
    if index == 1 and settings.thread_marker:
        body += (" " if body else "") + settings.thread_marker
    number = _numbering(settings.numbering, index, total)
    if number:
        if settings.numbering_position == "before":
            body = f"{number} {body}" if body else number
        else:
            body = f"{body} {number}" if body else number
    return body


def _continuation_joint(body: str, marker: str) -> str:
    """What goes between a post's last word and the continuation ``marker``: nothing
    after a plain word when the marker starts with a mark ("word…"), else a space.
    After an entity (a link, @mention, #hashtag or $cashtag) always a space: a mark
    glued to one would become part of it, or undo it, on some platform."""
    # "word…" reads as a thought trailing off; after punctuation, "word, …" is clearer.
    words = body[-1024:].rsplit(None, 1)
    if words and _ENTITY_LIKE.search(words[-1]):
        return " "
    last = body[-1:] if body else ""
    glue = last.isalnum() or _CJK.match(last or " ")
    return "" if glue and not marker[:1].isalnum() else " "


# A word that a platform may read as a link (with a scheme, or a domain name: a dot
# and a letter), a mention, a hashtag or a cashtag.
_ENTITY_LIKE = re.compile(r"://|\.[^\W\d_]|[@＠#＃$]")
_LAST_SPACE = regex.compile(r"\s", regex.REVERSE)


def _entity_words(text: str) -> list[tuple[int, int]]:
    """The spans of the words (runs of non-space) of ``text`` that ``_ENTITY_LIKE``
    finds something in, in order: found from the entities, not word by word."""
    spans: list[tuple[int, int]] = []
    for hit in _ENTITY_LIKE.finditer(text):
        if spans and hit.start() < spans[-1][1]:
            continue
        space = _LAST_SPACE.search(text, 0, hit.start())
        run = _SPACE_RUN.match(text, hit.start())
        spans.append((space.end() if space else 0, run.end() if run else hit.end()))
    return spans


@dataclass(frozen=True)
class _Cut:
    """A place where a post may end: the text before it ends at ``end``, the
    text after it starts at ``start``; what lies between is whitespace."""

    end: int
    start: int
    cls: Break


# Whitespace after sentence-final punctuation, whitespace from a line break on, or
# (in Chinese and Japanese) the point right after a sentence mark. Every branch
# starts with a character class, so the search skips quickly through plain text.
_STRONG = re.compile(
    r"[.!?‽…][\"'”’»)\]}›]*(?P<space>\s+)(?=(?P<next>\S+))"
    r"|(?P<line>\n\s*)(?=(?P<next_line>\S+))"
    r"|[。！？．｡][」』）】〕〉》”’]*(?=[^\s」』）】〕〉》”’\"'。！？．｡])"
)


def _strong_cuts(text: str) -> list[_Cut]:
    """Paragraph, line and sentence ends, found without tokenising every word."""
    cuts = []
    for match in _STRONG.finditer(text):
        if match.group("space") is not None:
            end, start = match.span("space")
            next_word = match.group("next")
        elif match.group("line") is not None:
            end, start = match.span("line")
            next_word = match.group("next_line")
        else:
            if match.end() < len(text):
                cuts.append(_Cut(match.end(), match.end(), Break.SENTENCE))
            continue
        word = text[max(text.rfind(" ", 0, end), text.rfind("\n", 0, end)) + 1:end]
        if not word:
            continue
        gap = text[end:start]
        line_length = end - (text.rfind("\n", 0, end) + 1) if "\n" in gap else 0
        cls = _gap_class(gap, word, next_word, line_length)
        if cls >= Break.SENTENCE:
            cuts.append(_Cut(end, start, cls))
    return cuts


# A blank line (maybe holding spaces) ends a paragraph.
_PARAGRAPH_GAP = re.compile(r"[ \t]*\n[ \t]*\n\s*")
# A list item opens with a bullet or a number and a space: "- ", "• ", "– ", "1. ", "a) ".
_ITEM = regex.compile(r"(?:[-*+•◦▪‣–—·]|\d{1,3}[.)]|\p{L}[.)])[ \t]")


def _blocks(text: str, start: int, end: int) -> list[tuple[str, list[tuple[int, int]]]]:
    """The blocks of the paragraph text[start:end], in order, as (kind, units).

    Kinds: "list" (two or more consecutive lines opening with a bullet or a number,
    each with the indented lines under it), "quote" (lines opening with ``>``) and
    "prose" (any other lines). A line ending with ':' right before a list or a quote
    is its lead-in and belongs to it. Units are the spans of the lines (of the items,
    for a list), without the whitespace around them.
    """
    lines: list[tuple[str, int, int]] = []
    position = start
    while position <= end:
        newline = text.find("\n", position, end)
        line_end = end if newline < 0 else newline
        line = text[position:line_end]
        if line.strip():
            content_start = position + len(line) - len(line.lstrip())
            content_end = position + len(line.rstrip())
            if _ITEM.match(text, content_start, line_end):
                kind = "item"
            elif text[content_start] == ">":
                kind = "quote"
            elif content_start > position and lines and lines[-1][0] in ("item", "more"):
                kind = "more"
            else:
                kind = "prose"
            lines.append((kind, content_start, content_end))
        if newline < 0:
            break
        position = newline + 1
    blocks: list[tuple[str, list[tuple[int, int]]]] = []
    for kind, line_start, line_end in lines:
        block = {"item": "list", "more": "list"}.get(kind, kind)
        if kind == "more" and blocks and blocks[-1][0] == "list":
            units = blocks[-1][1]
            units[-1] = (units[-1][0], line_end)
        elif blocks and blocks[-1][0] == block:
            blocks[-1][1].append((line_start, line_end))
        else:
            blocks.append((block, [(line_start, line_end)]))
    # A lone bullet-like line is prose (a dash opening a wrapped line, say).
    blocks = [("prose", units) if kind == "list" and len(units) < 2 else (kind, units)
              for kind, units in blocks]
    for index in range(1, len(blocks)):
        kind, units = blocks[index]
        previous = blocks[index - 1][1]
        if kind != "prose" and blocks[index - 1][0] == "prose" and previous \
                and text[previous[-1][1] - 1] in ":：":
            units.insert(0, previous.pop())
    merged: list[tuple[str, list[tuple[int, int]]]] = []
    for kind, units in blocks:
        if not units:
            continue
        if merged and kind == "prose" and merged[-1][0] == "prose":
            merged[-1][1].extend(units)
        else:
            merged.append((kind, units))
    return merged


class _Section:
    """One section (text between forced breaks) ready for the dynamic programme.

    ``whole`` is the room a post has for text that ends at a sentence, line or
    paragraph end (the limit less the numbering); ``lead`` is what the first post
    carries on top (the thread marker), counted only for the text that opens the
    thread (``opens_thread``); ``budget`` is the room left once every decoration
    is counted, the size of the pieces an over-long word is cut into.
    """

    def __init__(self, text: str, layout: Layout, packing: str, budget: int,
                 whole: int | None = None, lead: int = 0, opens_thread: bool = False):
        self.text = text
        self.hard: list[str] = []
        self._weights: dict[tuple[int, int], int] = {}
        measure = layout.measure
        self.measure, self.budget = measure, budget
        self.whole = budget if whole is None else whole
        self.lead = lead
        self.continuation_max = (measure(" " + layout.settings.continuation)
                                 if layout.settings.continuation else 0)
        first = len(text) - len(text.lstrip())
        last = len(text.rstrip())
        self.thread_start = first if opens_thread else -1
        if packing == COMPACT:
            inner = self._fine_cuts(first, last)
        elif packing == PARAGRAPHS:
            strong = _strong_cuts(text)
            self._strong_ends = [cut.end for cut in strong]
            self._strong = strong
            inner = self._paragraph_cuts(first, last)
        else:
            inner = self._sentence_cuts(first, last, _strong_cuts(text))
        # The section's start and end act as cuts too.
        self.cuts = [_Cut(first, first, Break.PARAGRAPH), *inner,
                     _Cut(last, last, Break.PARAGRAPH)]
        if packing == PARAGRAPHS:
            self.cuts = self._keep_lead_ins(self.cuts)
        length = last - first
        if length > _THIN_AFTER * budget and len(self.cuts) > _DENSE * length // max(budget, 1):
            self.cuts = _thin_dense(self.cuts, text, budget)
        self.prefix_seg = [0]
        self.prefix_gap = [0, 0]
        for t in range(len(self.cuts) - 1):
            self.prefix_seg.append(self.prefix_seg[-1]
                                   + self._weight(self.cuts[t].start, self.cuts[t + 1].end))
            if t:
                gap = text[self.cuts[t].end:self.cuts[t].start]
                self.prefix_gap.append(self.prefix_gap[-1]
                                       + (len(gap) if gap.isascii() else measure(gap)))
        self.prefix_gap.append(self.prefix_gap[-1])
        self.continuation = self._continuation_costs(layout)

    def fits(self, start: int, end: int, *, mid_sentence: bool = False) -> bool:
        """Whether text[start:end] fits in one post with the decorations it would
        carry: the numbering, the thread marker if it opens the thread, and the
        continuation marker if it ends mid-sentence."""
        room = self.whole - (self.lead if start == self.thread_start else 0)
        if mid_sentence:
            room -= self.continuation_max
        if end - start > _MEASURE_CAP:
            return False
        if _upper_bound(self.text[start:end]) <= room:
            return True
        return self._weight(start, end) <= room

    def _weight(self, start: int, end: int) -> int:
        """What text[start:end] adds to a post, measured once (a paragraph that
        fits is both checked and, whole, a segment of the programme)."""
        key = (start, end)
        weight = self._weights.get(key)
        if weight is None:
            before = self.text[start - 1] if start else ""
            weight = self._weights[key] = in_context(self.measure, before,
                                                     self.text[start:end])
        return weight

    def _sentence_cuts(self, start: int, end: int, strong: list[_Cut]) -> list[_Cut]:
        """The sentence, line and paragraph ends inside text[start:end] (from
        ``strong``, in order), and inside each sentence too long for one post its
        clause marks and word gaps."""
        cuts: list[_Cut] = []
        inside = [cut for cut in strong if cut.end > start and cut.start < end]
        for a, b in zip([None, *inside], [*inside, None], strict=True):
            span_start = a.start if a else start
            span_end = b.end if b else end
            if not self.fits(span_start, span_end):
                cuts.extend(self._fine_cuts(span_start, span_end))
            if b is not None:
                cuts.append(b)
        return cuts

    def _strong_between(self, start: int, end: int) -> list[_Cut]:
        low = bisect.bisect_right(self._strong_ends, start)
        high = bisect.bisect_left(self._strong_ends, end)
        return self._strong[low:high]

    def _paragraph_cuts(self, first: int, last: int) -> list[_Cut]:
        """Whole paragraphs: a paragraph that fits in one post is never broken; one
        that does not is broken between its blocks (prose, a list, a quote), a block
        that fits stays whole, and a list or quote too long is broken between its
        items; the prose and items are broken at sentence ends (then clause marks,
        then word gaps, as in ``sentences`` packing)."""
        text = self.text
        cuts: list[_Cut] = []
        paragraphs = []
        position = first
        for match in _PARAGRAPH_GAP.finditer(text, first, last):
            paragraphs.append((position, match.start()))
            position = match.end()
        paragraphs.append((position, last))
        for index, (start, end) in enumerate(paragraphs):
            if index:
                cuts.append(_Cut(paragraphs[index - 1][1], start, Break.PARAGRAPH))
            if not self.fits(start, end):
                cuts.extend(self._block_cuts(start, end))
        return cuts

    def _block_cuts(self, start: int, end: int) -> list[_Cut]:
        text = self.text
        blocks = _blocks(text, start, end)
        cuts: list[_Cut] = []
        for index, (kind, units) in enumerate(blocks):
            block_start, block_end = units[0][0], units[-1][1]
            if index:
                cuts.append(_Cut(blocks[index - 1][1][-1][1], block_start, Break.LINE))
            if kind == "prose":
                cuts.extend(self._sentence_cuts(block_start, block_end,
                                                self._strong_between(block_start, block_end)))
            elif not self.fits(block_start, block_end):
                for number, (unit_start, unit_end) in enumerate(units):
                    if number:
                        cuts.append(_Cut(units[number - 1][1], unit_start, Break.LINE))
                    cuts.extend(self._sentence_cuts(
                        unit_start, unit_end, self._strong_between(unit_start, unit_end)))
        return cuts

    def _keep_lead_ins(self, cuts: list[_Cut]) -> list[_Cut]:
        """Drop the place to break after a line ending with ':' (a lead-in) when the
        lead-in and what follows it, up to the next place to break, fit in one post."""
        text = self.text
        kept = [cuts[0]]
        last = len(cuts) - 1
        for index in range(1, last):
            cut = cuts[index]
            if (text[cut.end - 1] in ":：" and "\n" in text[cut.end:cut.start]):
                following = cuts[index + 1]
                mid = following.cls in MID_SENTENCE and index + 1 != last
                if self.fits(kept[-1].start, following.end, mid_sentence=mid):
                    continue
            kept.append(cut)
        kept.append(cuts[-1])
        return kept

    def _fine_cuts(self, start: int, end: int) -> list[_Cut]:
        """Every clause and word gap inside text[start:end]; a token longer than a
        post is cut between characters. The penalties make the programme prefer
        clause marks to word gaps, but a word gap may save a post.

        Text longer than ``_CHUNK`` (no sentence end in 32,000 characters: not
        prose) is taken a chunk at a time, cut between two words or two CJK
        letters, so that memory stays bounded whatever its length."""
        cuts: list[_Cut] = []
        position = start
        while position < end:
            stop, resume = (end, end) if end - position <= _CHUNK else \
                _chunk_end(self.text, position + _CHUNK, end)
            cuts.extend(self._chunk_cuts(position, stop, start, end))
            if stop < end:
                cuts.append(_Cut(stop, resume, Break.WORD))
            position = resume
        return cuts

    def _chunk_cuts(self, start: int, end: int, span_start: int, span_end: int):
        text, measure, budget = self.text, self.measure, self.budget
        span = text[start:end]
        before = text[start - 1] if start else ""
        atoms, classes = classify(span)
        atoms, classes, hard = _hard_cut(span, atoms, classes, measure, budget, before)
        self.hard.extend(hard)
        chosen = [i for i in range(len(atoms) - 1) if classes[i] is not Break.NONE]
        if span_end - span_start > _THIN_AFTER * budget:
            chosen = _thin(chosen, atoms, budget, offset=start - span_start,
                           length=span_end - span_start)
        return [_Cut(start + atoms[i][1], start + atoms[i + 1][0], classes[i]) for i in chosen]

    def _continuation_costs(self, layout: Layout) -> list[int]:
        marker = layout.settings.continuation
        if not marker:
            return [0] * len(self.cuts)
        text = self.text
        joint_cost: dict[str, int] = {}
        costs = []
        entities = _entity_words(text)
        starts = [start for start, _ in entities]
        for t, cut in enumerate(self.cuts):
            if t == 0 or cut.cls not in MID_SENTENCE or text.endswith(("…", "..."), 0, cut.end):
                costs.append(0)
                continue
            i = bisect.bisect_right(starts, cut.end - 1) - 1
            joint = (" " if i >= 0 and entities[i][1] >= cut.end
                     else _continuation_joint(text[cut.end - 1:cut.end], marker))
            if joint not in joint_cost:
                joint_cost[joint] = layout.measure(joint + marker)
            costs.append(joint_cost[joint])
        return costs

    def best_breaks(self, limit: int, fixed: int, first_extra: int) -> list[int] | None:
        """Indices of the cuts that end each post, or None if no way fits.

        Minimises (number of posts, sum of squared free room + break penalties),
        compared in that order. The weight of the text from cut a to cut b is
        ``prefix_seg[b] - prefix_seg[a] + prefix_gap[b] - prefix_gap[a + 1]``.
        Two lists of ints rather than a list of tuples: millions of small tuples
        make the garbage collector's work grow with the square of the input.
        """
        m = len(self.cuts) - 1
        never = 1 << 62
        posts = [0] + [never] * m
        costs = [0] * (m + 1)
        back = [0] * (m + 1)
        continuation = self.continuation
        prefix_seg, prefix_gap = self.prefix_seg, self.prefix_gap
        # weight(a, b) = tail(b) - base[a]; the first post also carries first_extra.
        base = [prefix_seg[a] + prefix_gap[a + 1] for a in range(m + 1)]
        base[0] -= first_extra
        cuts = self.cuts
        for b in range(1, m + 1):
            tail = fixed + continuation[b] + prefix_seg[b] + prefix_gap[b]
            floor = tail - limit  # base[a] must be at least this for the post to fit
            best_posts, best_cost, best_a = never, 0, -1
            a = b - 1
            while a >= 0 and base[a] >= floor:
                p = posts[a]
                if p <= best_posts:
                    slack = limit - tail + base[a]
                    cost = costs[a] + slack * slack
                    if p < best_posts or cost < best_cost:
                        best_posts, best_cost, best_a = p, cost, a
                a -= 1
            if best_a >= 0:
                posts[b] = best_posts + 1
                costs[b] = best_cost + (_PENALTY[cuts[b].cls] if b < m else 0)
                back[b] = best_a
        if posts[m] >= never:
            return None
        ends = []
        b = m
        while b > 0:
            ends.append(b)
            b = back[b]
        return ends[::-1]

    def pieces(self, index: int, ends: list[int]) -> list[Piece]:
        result = []
        previous = 0
        last = len(self.cuts) - 1
        for b in ends:
            cls = self.cuts[b].cls
            result.append(Piece(
                section=index,
                start=self.cuts[previous].start,
                end=self.cuts[b].end,
                ends_mid_sentence=cls in MID_SENTENCE and b != last,
                hard_cut=cls is Break.HARD and b != last,
            ))
            previous = b
        return result


# A run of text with no sentence end longer than this many posts (a megabyte of Chinese
# without punctuation, say) is not prose: in its middle, places to break are thinned out
# so that the dynamic programme costs time linear in its length.
_THIN_AFTER = 64


def _thin(chosen: list[int], atoms: list[tuple[int, int]], budget: int, *, offset: int,
          length: int) -> list[int]:
    """Keep every place to break (the atom indices ``chosen``) within two posts of
    either end of the text (``length`` long; the atoms start ``offset`` into it); in
    between, only about one every eighth of a post. A kept place is never more than
    that from the one before, except across a single atom, so every stretch between
    two kept places still fits in a post."""
    spacing = max(budget // 8, 1)
    edge = 2 * budget
    kept: list[int] = []
    last = offset
    for number, index in enumerate(chosen):
        position = offset + atoms[index][1]
        following = offset + atoms[chosen[number + 1]][1] if number + 1 < len(chosen) \
            else offset + atoms[-1][1]
        if position < edge or position > length - edge or following - last > spacing:
            kept.append(index)
            last = position
    return kept


# Text longer than this never fits in a post, on any platform: X counts a link of at
# most 4,096 characters as 23, Bluesky counts every grapheme. (Mastodon would count a
# longer link as 23 too; such a link is cut like any token longer than a post.) It is
# not measured, which would cost memory in proportion to its length.
_MEASURE_CAP = 8_192
# Text without a sentence end is split into places to break this many characters at a
# time, so that a megabyte of it never holds a million atoms at once.
_CHUNK = 32_768
# Between two words, or between two Chinese or Japanese letters.
_CHUNK_BREAK = regex.compile(
    r"(?<=\w)\s+(?=\w)|(?<=[\p{Han}\p{Hiragana}\p{Katakana}])(?=[\p{Han}\p{Hiragana}\p{Katakana}])")


def _chunk_end(text: str, target: int, end: int) -> tuple[int, int]:
    """A place at or after ``target`` to end a chunk of text[:end]: (where the text
    before it ends, where the text after it starts), or (end, end) if there is none.
    Never inside a word, a link (none within 64 characters) or a line-breaking rule."""
    for match in _CHUNK_BREAK.finditer(text, target, end):
        stop, resume = match.span()
        if text[stop - 1] in _NO_LINE_END or text[resume] in _NO_LINE_START:
            continue
        around = text[max(stop - 64, 0):resume + 64]
        if "." in around or "/" in around or "@" in around or "#" in around:
            continue
        return stop, resume
    return end, end


# More places to break than this per post's worth of characters (200 KB of one-letter
# lines, say) is not writing: such a long section is thinned (below) before the
# programme, whose work grows with the places within reach of each one.
_DENSE = 64


def _thin_dense(cuts: list[_Cut], text: str, budget: int) -> list[_Cut]:
    """Keep every place to break within two posts of either end of the section; in
    between, drop a place when the stretch from the last one kept to the next one
    would still weigh at most half a post. Every stretch between two kept places
    then fits in a post, as every stretch between two places did before."""
    kept = [cuts[0]]
    head_end, tail_start = cuts[0].start + 2 * budget, cuts[-1].end - 2 * budget
    for index in range(1, len(cuts) - 1):
        cut = cuts[index]
        if (cut.end < head_end or cut.start > tail_start
                or _upper_bound(text[kept[-1].start:cuts[index + 1].end]) > budget // 2):
            kept.append(cut)
    kept.append(cuts[-1])
    return kept


def in_context(measure: Callable[[str], int], before: str, piece: str) -> int:
    """What ``piece`` adds to a post when ``before`` (one character, or "") comes right
    before it. Only a character that is not a space changes anything: a link right
    after a CJK character, say, is no link on Bluesky and counts in full."""
    if not before or before.isspace():
        return measure(piece)
    return measure(before + piece) - measure(before)


def _hard_cut(text, atoms, classes, measure, budget, before=""):
    """Make grapheme boundaries of a token too long for any post (hard) places to
    break, so that the programme chooses where to cut it as it chooses any break.
    ``before`` is the character before ``text`` in the draft. Returns the new atoms
    and classes, and the start of each token cut (for the warning)."""
    if all(_upper_bound(text[a:b]) <= budget for a, b in atoms):
        return atoms, classes, []
    new_atoms: list[tuple[int, int]] = []
    new_classes: list[Break] = []
    hard: list[str] = []
    for index, (a, b) in enumerate(atoms):
        word = text[a:b]
        if _upper_bound(word) > budget and (len(word) > _MEASURE_CAP or in_context(
                measure, text[a - 1] if a else before, word) > budget):
            hard.append(word[:41])
            start = a
            for end in _hard_ends(word, measure, budget):
                new_atoms.append((start, a + end))
                new_classes.append(Break.HARD)
                start = a + end
            new_atoms.append((start, b))
        else:
            new_atoms.append((a, b))
        if index < len(classes):
            new_classes.append(classes[index])
    return new_atoms, new_classes, hard


_GRAPHEME = regex.compile(r"\X")


def _hard_ends(word: str, measure: Callable[[str], int], budget: int) -> list[int]:
    """Offsets inside ``word`` (a token longer than a post) where a post may end.

    Every grapheme boundary among the first and the last ``budget`` graphemes, where
    a piece of the word may share a post with the text around it; in between only
    the ends of the longest pieces that fit in ``budget``, so that a word of any
    length costs time linear in its length and memory in proportion to its posts
    (a 2 MB word once took 79 s and 853 MB). A grapheme heavier than a whole post
    (a letter under hundreds of combining marks) is cut between code points.
    """
    length = len(word)
    window = max(budget, 1)
    simple = word.isascii()  # every character is a grapheme (no "\r\n" in a token)

    def graphemes_after(position: int, count: int) -> list[int]:
        if simple:
            return list(range(position + 1, min(position + count, length) + 1))
        ends = []
        for match in _GRAPHEME.finditer(word, position):
            ends.append(match.end())
            if len(ends) >= count:
                break
        return ends

    def fits(start: int, end: int) -> bool:
        piece = word[start:end]
        return _upper_bound(piece) <= budget or measure(piece) <= budget

    def longest_piece(start: int, ends: list[int]) -> int:
        whole = measure(word[start:ends[-1]])
        if whole <= budget:
            return ends[-1]
        low, high = -1, len(ends) - 1  # ends[low] fits (or low == -1), ends[high] does not
        # Start from the share of the graphemes that the weight suggests, and gallop
        # from there: most pieces are found in a few measures, not a dozen.
        guess = min(high - 1, len(ends) * budget // whole - 1)
        step = 1
        if guess >= 0 and fits(start, ends[guess]):
            low = guess
            while low + step < high:
                if not fits(start, ends[low + step]):
                    high = low + step
                    break
                low, step = low + step, step * 2
        elif guess >= 0:
            high = guess
            while high - step > low:
                if fits(start, ends[high - step]):
                    low = high - step
                    break
                high, step = high - step, step * 2
        while high - low > 1:
            middle = (low + high) // 2
            if fits(start, ends[middle]):
                low = middle
            else:
                high = middle
        if low >= 0:
            return ends[low]
        low, high = start + 1, ends[0]  # one grapheme too heavy: cut between code points
        while high - low > 1:
            middle = (low + high) // 2
            if fits(start, middle):
                low = middle
            else:
                high = middle
        return low

    cuts: list[int] = []
    position = 0
    region = graphemes_after(0, window)  # the head: every boundary
    while position < length:
        if region is None:
            if length - position > 3 * window:  # the middle: the longest pieces only
                position = longest_piece(position, graphemes_after(position, window))
                cuts.append(position)
                continue
            region = graphemes_after(position, length)  # the tail: every boundary
        for end in region:
            while not fits(position, end):  # a grapheme heavier than a post
                position = longest_piece(position, [end])
                cuts.append(position)
            cuts.append(end)
            position = end
        region = None
    return [cut for cut in cuts if cut < length]


def split_sections(
    texts: Sequence[str], *, limit: int, measure: Callable[[str], int],
    settings: SplitSettings,
) -> SplitResult:
    """Split each section's text into posts, decorate them, and check every length."""
    layout = Layout(limit=limit, measure=measure, settings=settings)
    packing = PACKING_ALIASES.get(settings.packing, settings.packing)
    if settings.break_mode == "paragraph":
        texts, origin = _paragraph_sections(texts)
    else:
        origin = [(i, 0) for i in range(len(texts))]
    total_guess = 1
    squeeze = 0
    for _attempt in range(8):
        result = _split_once(texts, origin, layout, packing, total_guess, squeeze)
        total = len(result.pieces)
        if settings.numbering != "none" and len(str(total)) > len(str(total_guess)):
            total_guess = total  # numbering got wider: leave room for it and try again
            continue
        over = max((length - limit for length in result.lengths), default=0)
        if over > 0:
            squeeze += over  # rare: lengths did not add up exactly; leave more room
            continue
        return result
    from .errors import SplitError

    raise SplitError(
        "could not fit the thread within the limit. This is a bug in threadbot: "
        "please report it with the draft."
    )


def _paragraph_sections(texts: Sequence[str]) -> tuple[list[str], list[tuple[int, int]]]:
    """Every paragraph becomes a section of its own; keep where each came from."""
    out: list[str] = []
    origin: list[tuple[int, int]] = []
    for index, text in enumerate(texts):
        position = 0
        for paragraph in text.split("\n\n"):
            if paragraph.strip():
                out.append(paragraph)
                origin.append((index, position))
            position += len(paragraph) + 2
    return out, origin


def _split_once(texts, origin, layout: Layout, packing: str, total_guess: int,
                squeeze: int) -> SplitResult:
    settings, measure = layout.settings, layout.measure
    limit = layout.limit - squeeze
    number = _numbering(settings.numbering, total_guess, total_guess)
    fixed = measure(number + " ") if number else 0
    first_extra = measure(" " + settings.thread_marker) if settings.thread_marker else 0
    continuation_max = measure(" " + settings.continuation) if settings.continuation else 0
    budget = limit - fixed - first_extra - continuation_max
    pieces: list[Piece] = []
    warnings: list[str] = []
    for index, text in enumerate(texts):
        if not text.strip():
            pieces.append(Piece(section=index, start=0, end=0, ends_mid_sentence=False))
            continue
        section = _Section(text, layout, packing, budget, whole=limit - fixed,
                           lead=first_extra, opens_thread=not pieces)
        ends = section.best_breaks(limit, fixed, first_extra if not pieces else 0)
        if ends is None:
            ends = section.best_breaks(limit - first_extra, fixed, 0)
        if ends is None:
            from .errors import SplitError

            raise SplitError("could not fit a piece of the draft in one post. This is a bug "
                             "in threadbot: please report it with the draft.")
        for word in section.hard:
            shown = word if len(word) <= 40 else word[:37] + "..."
            warnings.append(f"'{shown}' is longer than a whole post, so it was cut mid-word. "
                            "Shorten it or add spaces if you can.")
        pieces.extend(section.pieces(index, ends))
    total = len(pieces)
    result_pieces = []
    texts_out = []
    lengths = []
    for number_, piece in enumerate(pieces, start=1):
        section_index, offset = origin[piece.section]
        body = texts[piece.section][piece.start:piece.end]
        decorated = decorate(body, index=number_, total=total,
                             mid_sentence=piece.ends_mid_sentence, settings=settings)
        texts_out.append(decorated)
        lengths.append(measure(decorated))
        result_pieces.append(Piece(section=section_index, start=piece.start + offset,
                                   end=piece.end + offset,
                                   ends_mid_sentence=piece.ends_mid_sentence,
                                   hard_cut=piece.hard_cut))
    # Report lengths against the true limit (squeeze only shaped the choice).
    return SplitResult(pieces=result_pieces, texts=texts_out, lengths=lengths,
                       warnings=warnings)
