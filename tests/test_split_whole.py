"""Whole paragraphs by default (#9): a paragraph, list or quote that fits in one post is
never broken; lead-ins stay with what they introduce; lower-case sentence starts; the
packing names; and over-long tokens (#11). Checked on chosen cases, on the field case,
on the bundled drafts and on random text (hypothesis)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import threadbot
from conftest import DRAFTS
from helpers import run_cli
from threadbot import compose_text, measure
from threadbot.split import Break, classify

CJK_CHAR = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]")
TEMPLATES = Path(threadbot.__file__).parent / "templates"


def spans(original: str, pieces: list[str]) -> list[tuple[int, int]]:
    """Where each piece lies in ``original``, asserting that the pieces are the
    original in order with only whitespace dropped between them."""
    out = []
    position = 0
    for index, piece in enumerate(pieces):
        found = original.find(piece, position)
        assert found >= 0, f"post {index + 1} is not in the draft at its place: {piece!r}"
        assert original[position:found].strip() == "", \
            f"text lost before post {index + 1}: {original[position:found]!r}"
        out.append((found, found + len(piece)))
        position = found + len(piece)
    assert original[position:].strip() == "", "text lost at the end"
    return out


def bodies(thread, *, marker: str = "", continuation: str = "", numbered: bool = False):
    out = []
    for post in thread.posts:
        text = post.text
        if numbered:
            text = re.sub(r"^\(\d+/\d+\) ", "", text)
        if post.index == 1 and marker:
            text = text.removesuffix(marker).rstrip(" ")
        if continuation:
            text = text.removesuffix(continuation).rstrip(" ")
        out.append(text)
    return out


def paragraphs(text: str) -> list[tuple[int, int]]:
    """The spans of the paragraphs of ``text`` (blank lines between them)."""
    out = []
    for match in re.finditer(r"\S(?:.*?\S)?(?=\s*(?:\n[ \t]*\n|\Z))", text, re.S):
        out.append(match.span())
    return out


def assert_whole(original: str, post_spans, start: int, end: int, what: str = ""):
    assert any(a <= start and end <= b for a, b in post_spans), \
        f"{what or 'paragraph'} broken across posts: {original[start:end]!r}"


# --- the field case and the bundled drafts ------------------------------------------------

# Field case shared/cases/bundled-list.md: a lead-in line and a three-item list that fit
# in one post. Today the lead-in ends post 1 and its items open post 2.
BUNDLED_LIST = """\
Careful and good are not the same thing, and neither is the same as slow. Still, the three \
keep turning up together, like old friends who never quite admit they arranged to meet.

Whenever I hurry a piece of writing, three small things go quietly missing:
– a second reading of the line I was too pleased with
– the one question I was slightly afraid to put to myself
– the surprise of finding out what I actually thought

I used to believe that people who work slowly were simply calm by nature, gifted with a \
patience I lacked, but the longer I watch them the more it looks like a decision they make \
again each morning — to let the work in front of them set its own pace, whatever the cost \
in praise, or money, or the small warm feeling of being first.
"""
LIST_PARAGRAPH = BUNDLED_LIST.split("\n\n")[1]


@pytest.mark.parametrize("platform", ["x", "bluesky", "mastodon"])
def test_field_case_bundled_list_is_posted_whole(platform):
    thread = compose_text(BUNDLED_LIST, platform=platform)
    texts = [p.text for p in thread.posts]
    assert any(LIST_PARAGRAPH in text for text in texts), texts
    for text in texts:
        assert not text.rstrip().endswith("missing:"), "the lead-in ends a post"
        assert not text.startswith("–"), "a post opens with an item cut from its list"


def test_bundled_example_keeps_its_list_whole():
    thread = threadbot.compose(DRAFTS / "on-slow-work.md")
    lead_in = "When I rush, I can feel three things go missing:"
    holding = [p.text for p in thread.posts if lead_in in p.text]
    assert len(holding) == 1
    assert holding[0].count("\n– ") == 3, holding[0]


@pytest.mark.parametrize("path", [*sorted(DRAFTS.glob("*.md")), TEMPLATES / "example-draft.md"],
                         ids=lambda p: p.name)
def test_bundled_drafts_keep_every_paragraph_that_fits(path):
    draft = threadbot.read_draft(path)
    thread = threadbot.compose(draft, thread_marker="", continuation="")
    original = "\n\n".join(s.text for s in draft.sections)
    post_spans = spans(original, [p.text for p in thread.posts])
    for start, end in paragraphs(original):
        if measure(original[start:end]) <= thread.limit:
            assert_whole(original, post_spans, start, end)


def test_short_paragraphs_share_a_post():
    thread = compose_text("One small thought.\n\nAnother one.\n\nAnd a third.")
    assert [p.text for p in thread.posts] == [
        "One small thought.\n\nAnother one.\n\nAnd a third."]


def test_a_paragraph_that_fits_is_never_split_to_save_a_post():
    # Sentence packing needs two posts and cuts the middle paragraph in two; whole
    # paragraphs take one more post and leave every paragraph whole.
    first = " ".join(["The first paragraph says one small thing plainly."] * 4)
    middle = ("The middle paragraph fits in one post on its own and says more. "
              "It has two sentences, and both of them belong together in one post.")
    last = " ".join(["The last paragraph also says a small thing plainly."] * 4)
    text = "\n\n".join([first, middle, last])
    whole = compose_text(text)
    assert [p.text for p in whole.posts] == [first, middle, last]
    fewest = compose_text(text, packing="sentences")
    assert len(fewest.posts) == 2
    assert not any(middle in p.text for p in fewest.posts)


def test_a_long_paragraph_is_cut_at_sentence_ends_and_shares_posts():
    intro = "A short opening paragraph."
    long = " ".join(f"Sentence {i} of the long paragraph says a little more." for i in range(9))
    outro = "A short closing paragraph."
    thread = compose_text(f"{intro}\n\n{long}\n\n{outro}", continuation="")
    texts = [p.text for p in thread.posts]
    assert texts[0].startswith(intro + "\n\nSentence 0")  # its first piece joins the intro
    assert texts[-1].endswith("more.\n\n" + outro)  # its last piece joins the outro
    assert all(t.endswith(".") for t in texts)


# --- lists, quotes and lead-ins -----------------------------------------------------------


def items(count: int, marker: str = "- ", words: int = 12) -> list[str]:
    return [f"{marker}item {i} " + " ".join(["word"] * words) for i in range(count)]


def test_a_list_too_long_is_broken_only_between_items_and_keeps_its_lead_in():
    lines = ["Here are the things I keep relearning:", *items(8)]
    thread = compose_text("\n".join(lines), continuation="")
    assert len(thread.posts) > 1
    texts = [p.text for p in thread.posts]
    for text in texts:
        for line in text.split("\n"):
            assert line in lines, f"a list item was cut: {line!r}"
    assert texts[0].startswith(lines[0] + "\n" + lines[1])


def test_a_list_inside_a_long_paragraph_stays_whole():
    prose = " ".join(["This long paragraph goes on for a while before it gets to the list."] * 3)
    listing = "\n".join(["It comes down to three things:", *items(3, "1. ", 4)])
    thread = compose_text(prose + "\n" + listing, continuation="")
    assert any(listing in p.text for p in thread.posts), [p.text for p in thread.posts]


def test_a_lead_in_paragraph_stays_with_the_list_after_it():
    # As Markdown rendering may hand it over: the list as a paragraph of its own.
    opening = " ".join(["An opening paragraph that takes up some of the room."] * 3)
    text = f"{opening}\n\nWhat I mean is this:\n\n" + "\n".join(items(3, "* ", 6))
    thread = compose_text(text)
    texts = [p.text for p in thread.posts]
    assert not any(t.rstrip().endswith("this:") for t in texts), texts
    assert any(t.startswith("What I mean is this:\n\n* item 0") for t in texts), texts


def test_a_lead_in_ends_a_post_only_when_nothing_could_join_it():
    lead = "The one thing, said at length:"
    # The quote after it is a paragraph that fits alone but not with the lead-in.
    quote = " ".join(["quoted words go on"] * 14)
    text = f"{lead}\n\n{quote}"
    assert measure(lead + "\n\n" + quote) > 280 >= measure(quote)
    thread = compose_text(text)
    assert [p.text for p in thread.posts] == [lead, quote]


def test_quoted_lines_are_kept_together():
    prose = " ".join(["Prose before the quotation runs long enough to need its own post."] * 3)
    quote = "> the first quoted line\n> the second quoted line\n> the third"
    thread = compose_text(prose + "\n" + quote)
    # With or without its '>' markers (Markdown drops them), the quote is in one post.
    lines = ("the first quoted line", "the second quoted line", "the third")
    assert any(all(line in p.text for line in lines) for p in thread.posts)


# --- sentence ends --------------------------------------------------------------------------


def gap_after(text: str, word: str) -> Break:
    atoms, classes = classify(text)
    for index, (start, end) in enumerate(atoms[:-1]):
        if text[start:end] == word:
            return classes[index]
    raise AssertionError(f"{word!r} not found")


@pytest.mark.parametrize(("text", "word", "ends"), [
    # From shared/corpus/seed_essay.txt: lower-case sentence starts.
    ("so you may heal and grow. you both are lucky to have it", "grow.", True),
    ("and we were all bent out of shape…. hence the long walk home", "shape….", True),
    ("was it worth it? maybe not", "it?", True),
    ("stop! now listen", "stop!", True),
    ("I wondered.... then I knew", "wondered....", True),
    # Not sentence ends, whatever case follows.
    ("we met Dr. smith at noon", "Dr.", False),
    ("it rained, e.g. on tuesday", "e.g.", False),
    ("books, papers, etc. and more", "etc.", False),
    ("the U.S. economy shrank", "U.S.", False),
    ("“Really?” she asked", "“Really?”", False),
    ("you name it… if they heal", "it…", True),
    ("and so on... then more", "on...", True),
])
def test_sentence_ends_whatever_case_follows(text, word, ends):
    assert (gap_after(text, word) >= Break.SENTENCE) is ends


def test_lower_case_sentences_that_fit_are_not_cut_at_a_word():
    sentences = [f"and then {i} more things happened, one after another, all day long."
                 for i in range(10)]
    text = " ".join(s[0].lower() + s[1:] for s in sentences)
    for packing in ("paragraphs", "sentences"):
        thread = compose_text(text, packing=packing)
        assert len(thread.posts) > 1
        for post in thread.posts:
            assert post.text.endswith("long."), post.text


# --- packing names --------------------------------------------------------------------------


def test_natural_is_still_accepted_as_the_sentences_packing(capsys, tmp_path):
    text = BUNDLED_LIST
    old = compose_text("---\npacking: natural\n---\n" + text)
    assert old.settings.packing == "sentences"
    new = compose_text(text, packing="sentences")
    assert [p.text for p in old.posts] == [p.text for p in new.posts]
    assert [p.text for p in old.posts] != [p.text for p in compose_text(text).posts]
    draft = tmp_path / "d.md"
    draft.write_text(text, encoding="utf-8")
    by_old = run_cli(capsys, "preview", str(draft), "--packing", "natural", "--json")
    by_new = run_cli(capsys, "preview", str(draft), "--packing", "sentences", "--json")
    assert by_old.code == by_new.code == 0
    assert by_old.out == by_new.out


def test_the_default_packing_is_paragraphs(capsys, tmp_path):
    assert threadbot.SplitSettings().packing == "paragraphs"
    draft = tmp_path / "d.md"
    draft.write_text(BUNDLED_LIST, encoding="utf-8")
    result = run_cli(capsys, "preview", str(draft))
    assert result.code == 0
    assert LIST_PARAGRAPH in result.out


def test_compact_and_break_paragraph_still_work():
    text = (DRAFTS / "on-slow-work.md").read_text(encoding="utf-8")
    compact = compose_text(text, packing="compact")
    assert len(compact.posts) <= len(compose_text(text, packing="sentences").posts)
    per_paragraph = compose_text("One.\n\nTwo.", **{"break": "paragraph"})
    assert [p.text for p in per_paragraph.posts] == ["One.", "Two."]


@pytest.mark.parametrize("packing", ["paragraphs", "sentences", "compact"])
@pytest.mark.parametrize("platform", ["x", "mastodon"])
def test_short_links_weigh_more_than_their_characters(packing, platform):
    # Twelve 4-character links count 23 each on X: 287, not the 59 characters.
    text = " ".join(["a.io"] * 12 + ["and", "more", "x.co"] * 3)
    thread = compose_text(text, packing=packing, platform=platform)
    assert all(p.length <= thread.limit for p in thread.posts)
    assert " ".join(p.text.removesuffix("…").strip() for p in thread.posts).split() \
        == text.split()


# --- over-long tokens (#11) -----------------------------------------------------------------


@pytest.mark.parametrize("platform", ["x", "bluesky", "mastodon"])
@pytest.mark.parametrize(("token", "cut_mid_word"), [
    ("a" * 200_000, True),                      # a 200 KB word
    ("éßж😀" * 50_000, True),                   # a 200 KB run without spaces or URL
    ("x" + "\u0301" * 2_000 + "y" * 1_000, True),  # a letter under 2,000 accents
    ("漢字かな" * 25_000, False),                # 100 KB of Japanese with no punctuation
], ids=["ascii", "mixed", "heavy-grapheme", "cjk"])
def test_an_overlong_token_is_cut_into_posts_that_fit_and_lose_nothing(token, cut_mid_word,
                                                                       platform):
    text = f"Before it. {token} after it."
    thread = compose_text(text, platform=platform, continuation="…")
    assert all(p.length == measure(p.text, platform) <= thread.limit for p in thread.posts)
    pieces = [p.text.removesuffix("…") for p in thread.posts]
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")
    assert any("cut mid-word" in w for w in thread.warnings) is cut_mid_word
    assert thread.posts[-1].text.endswith(" after it.")


@pytest.mark.parametrize("unit", ["a\n", "A. ", "漢。", "a\n\n", "word ", "漢字かな"],
                         ids=["one-letter lines", "one-letter sentences", "cjk sentences",
                              "one-letter paragraphs", "one sentence of words",
                              "japanese without punctuation"])
def test_200_kb_of_places_to_break_is_split_whole(unit):
    text = unit * (200_000 // len(unit))
    thread = compose_text(text, continuation="")
    assert all(p.length <= thread.limit for p in thread.posts)
    # Nothing lost, added or moved: only whitespace differs.
    assert "".join("".join(p.text.split()) for p in thread.posts) == "".join(text.split())


# --- random text ----------------------------------------------------------------------------

WORDS = st.sampled_from(
    ["the", "slow", "work", "of", "noticing", "Dr.", "e.g.", "it's", "—", "well,", "and;",
     "“quoted”", "(aside)", "3.5", "a", "I", "naïve", "café", "x" * 30, "ok?", "yes!", "…",
     "grow.", "shape….", "you", "so"])
ENTITIES = st.sampled_from(
    ["https://example.com/a/long/path?q=1", "example.org", "@marginalia_notes", "@a_b",
     "#commonplace", "$TSLA", "😀", "👍🏽", "👨‍👩‍👧‍👦", "🇯🇵", "🫠"])
CJK = st.sampled_from(["静かな朝。", "考えをまとめる、", "ゆっくり読む！", "这是一句话。"])
MARKERS = st.sampled_from(["- ", "• ", "– ", "1. ", "* "])


@st.composite
def sentence(draw):
    if draw(st.integers(0, 6)) == 0:
        return "".join(draw(st.lists(CJK, min_size=1, max_size=25)))
    words = draw(st.lists(st.one_of(WORDS, WORDS, WORDS, ENTITIES), min_size=1, max_size=35))
    return " ".join(words) + draw(st.sampled_from([".", ".", "!", "?", "…", ""]))


@st.composite
def paragraph(draw):
    kind = draw(st.integers(0, 5))
    if kind == 0:  # a list, maybe with a lead-in
        marker = draw(MARKERS)
        lines = [marker + draw(sentence()) for _ in range(draw(st.integers(2, 7)))]
        if draw(st.booleans()):
            lines.insert(0, draw(sentence()).rstrip(".!?…") + ":")
        return "\n".join(lines)
    if kind == 1:  # verse: short lines
        return "\n".join(" ".join(draw(st.lists(WORDS, min_size=1, max_size=5)))
                         for _ in range(draw(st.integers(2, 9))))
    return " ".join(draw(st.lists(sentence(), min_size=1, max_size=7)))


@st.composite
def drafts(draw):
    return "\n\n".join(draw(st.lists(paragraph(), min_size=1, max_size=6)))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=drafts(), platform=st.sampled_from(["x", "x", "bluesky", "mastodon"]),
       numbered=st.booleans(), by_paragraph=st.booleans())
def test_whole_paragraphs_on_random_text(text, platform, numbered, by_paragraph):
    options = {"continuation": "⟶", "thread_marker": "🧵", "platform": platform,
               "numbering": "(1/N)" if numbered else "none", "numbering_position": "before",
               "break": "paragraph" if by_paragraph else "auto"}
    thread = compose_text(text, **options)
    limit = thread.limit
    # No post over the limit, decorations included.
    for post in thread.posts:
        assert post.length == measure(post.text, platform) <= limit, post.text
    # The words of the draft, in order: only whitespace dropped at the breaks.
    original = "\n\n".join(s.text for s in threadbot.parse_draft(text).sections)
    pieces = bodies(thread, marker="🧵", continuation="⟶", numbered=numbered)
    post_spans = spans(original, pieces)
    # Every paragraph that fits in a post with the decorations it would carry is whole.
    total = len(thread.posts)
    numbering = measure(f"({total}/{total}) ", platform) if numbered else 0
    for number, (start, end) in enumerate(paragraphs(original)):
        room = limit - numbering - (measure(" 🧵", platform) if number == 0 else 0)
        if measure(original[start:end], platform) <= room:
            assert_whole(original, post_spans, start, end)
    # No break inside a sentence that fits in a post with its decorations.
    breaks = [end for _, end in post_spans[:-1]]
    for first, last in paragraphs(original):
        atoms, classes = classify(original[first:last])
        starts = [atoms[0][0]] + [atoms[i + 1][0] for i, c in enumerate(classes)
                                  if c >= Break.SENTENCE]
        ends = [atoms[i][1] for i, c in enumerate(classes) if c >= Break.SENTENCE]
        for start, end in zip(starts, [*ends, atoms[-1][1]], strict=True):
            start, end = first + start, first + end
            room = limit - numbering - (measure(" 🧵", platform) if start == 0 else 0)
            if any(start < b < end for b in breaks):
                assert measure(original[start:end], platform) > room, original[start:end]
    # No break inside a word or an entity, unless a token longer than a post was cut.
    hard = any("cut mid-word" in w for w in thread.warnings)
    entities = threadbot.find_urls(original, platform) + [
        m.span() for m in re.finditer(r"[#@$]\w+", original)]
    for (_, end), (next_start, _) in zip(post_spans, post_spans[1:], strict=False):
        for start, stop in entities:
            assert not (start < end < stop) or hard, original[start:stop]
        if end == next_start:  # no whitespace between: only inside CJK text
            assert CJK_CHAR.match(original[end - 1]) or CJK_CHAR.match(original[end]) \
                or hard, original[end - 20:end + 20]
