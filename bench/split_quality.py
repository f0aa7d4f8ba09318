"""The splitter's quality bar (#9), measured in one run, with the 1 MB split time.

    .venv/bin/python bench/split_quality.py [--corpus DIR] [--platform x] [--packing P]
                                            [texts ...]

Texts: every ``*.txt`` and ``*.md`` in ``--corpus`` (default ``../shared/corpus`` next
to the repository, read at run time and never copied into it), the bundled drafts, and
any files given. For each text, split with the default settings (or ``--packing``):

- paragraphs that fit in one post kept whole (share, must be 100%);
- breaks inside a sentence that fits in one post (must be 0);
- posts against packing whole sentences greedily (ratio, must be at most 1.12);
- posts over the limit, words lost or added, breaks inside a word or an entity
  (URL, @mention, #hashtag, $cashtag) (each must be 0).

Then the time to split 1 MB of that prose with exact counting (the platform's own
weights; must stay under 1 s) and its ratio to ``textwrap.wrap(width=280)`` on the same
text, best of three runs; and the time and peak memory to split over-long tokens of
2 MB (a word, a run of accented letters and emoji without spaces), which must grow
linearly with their length.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import threadbot
from threadbot.split import Break, classify, split_sections

ROOT = Path(__file__).resolve().parents[1]
DRAFTS = sorted((ROOT / "drafts").glob("*.md"))
CORPUS = ROOT.parent / "shared" / "corpus"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpus")
ENTITY = re.compile(r"[#@$＃＠][\w]+")
CJK = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """The sentences of ``text`` (paragraph, line and sentence ends), as spans."""
    atoms, classes = classify(text)
    if not atoms:
        return []
    spans, start = [], atoms[0][0]
    for index, cls in enumerate(classes):
        if cls >= Break.SENTENCE:
            spans.append((start, atoms[index][1]))
            start = atoms[index + 1][0]
    spans.append((start, atoms[-1][1]))
    return spans


def greedy_sentence_posts(text: str, measure, limit: int) -> int:
    """Posts needed packing whole sentences greedily (the quality bar's reference);
    a sentence too long for one post is packed word by word."""
    posts, current = 0, ""
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        candidate = f"{current} {sentence}" if current else sentence
        if measure(candidate) <= limit:
            current = candidate
            continue
        if current:
            posts += 1
        current = ""
        if measure(sentence) <= limit:
            current = sentence
            continue
        for word in sentence.split():
            candidate = f"{current} {word}" if current else word
            if measure(candidate) <= limit:
                current = candidate
            else:
                posts += 1
                current = word
    return posts + (1 if current else 0)


def post_spans(original: str, thread) -> list[tuple[int, int]] | None:
    """Where each post's text lies in the draft (decorations taken off), or None
    if the posts are not the draft in order."""
    spans, position = [], 0
    for post in thread.posts:
        body = post.text
        found = original.find(body, position)
        if found < 0 or original[position:found].strip():
            body = body.removesuffix("…").rstrip()
            found = original.find(body, position)
        if found < 0 or original[position:found].strip():
            return None
        spans.append((found, found + len(body)))
        position = found + len(body)
    return spans


def quality(path: Path, platform: str, packing: str | None) -> dict:
    draft = threadbot.read_draft(path)
    options = {"platform": platform, "thread_marker": "", "numbering": "none"}
    if packing:
        options["packing"] = packing
    thread = threadbot.compose(draft, **options)
    limit = thread.limit

    def measure(text: str) -> int:
        return threadbot.measure(text, platform)

    original = "\n\n".join(s.text for s in draft.sections)
    spans = post_spans(original, thread) or []
    ends = [end for _, end in spans[:-1]]
    paragraphs = [m.span() for m in re.finditer(r"\S(?:.*?\S)?(?=\s*(?:\n[ \t]*\n|\Z))",
                                                original, re.S)]
    fitting = [(a, b) for a, b in paragraphs if measure(original[a:b]) <= limit]
    whole = sum(1 for a, b in fitting if any(s <= a and b <= e for s, e in spans))
    sentences = [(a, b) for a, b in sentence_spans(original) if measure(original[a:b]) <= limit]
    in_sentence = sum(1 for end in ends if any(a < end < b for a, b in sentences))
    entities = threadbot.find_urls(original, platform) + [m.span()
                                                          for m in ENTITY.finditer(original)]
    in_word = sum(1 for end in ends
                  if (end < len(original) and not original[end].isspace()
                      and not CJK.match(original[end - 1]) and not CJK.match(original[end]))
                  or any(a < end < b for a, b in entities))
    # The posts' own text is found in the draft, in order (decorations taken off):
    # compare the words it holds with the draft's.
    posted = Counter(w for a, b in spans for w in original[a:b].split())
    drafted = Counter(original.split())
    lost_added = sum(((drafted - posted) + (posted - drafted)).values())
    units = [s.text for s in draft.sections]
    if thread.settings.break_mode == "paragraph":
        units = [p for u in units for p in u.split("\n\n") if p.strip()]
    greedy = sum(greedy_sentence_posts(u, measure, limit) for u in units)
    return {
        "name": path.name, "posts": len(thread.posts), "greedy": greedy,
        "fitting": len(fitting), "whole": whole, "in_sentence": in_sentence,
        "over": sum(1 for p in thread.posts if p.length > limit),
        "lost_added": lost_added if spans else -1, "in_word": in_word,
    }


def best_of(runs: int, fn, clock=time.perf_counter) -> float:
    times = []
    for _ in range(runs):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)


def speed(texts: list[Path], platform: str, packing: str | None, runs: int) -> None:
    unit = "\n\n".join("\n\n".join(s.text for s in threadbot.read_draft(p).sections)
                       for p in texts)
    text = ((unit + "\n\n") * (1_000_000 // len(unit) + 1))[:1_000_000]
    options = {"platform": platform, **({"packing": packing} if packing else {})}
    posts = len(threadbot.compose_text(text, **options).posts)
    profile = threadbot.get_profile(platform)
    settings = threadbot.SplitSettings(**({"packing": packing} if packing else {}))
    sections = [s.text for s in threadbot.parse_draft(text).sections]

    def split_only() -> None:
        split_sections(sections, limit=profile.limit, measure=profile.measure,
                       settings=settings)

    print(f"\n1 MB of this prose ({posts} posts), best of {runs}, exact counting "
          "(split: the splitter alone; compose: reading the draft too):")
    # CPU time as well as wall time: on a shared machine the wall clock counts the
    # time other processes held the CPU.
    for name, clock in (("wall", time.perf_counter), ("CPU", time.process_time)):
        split = best_of(runs, split_only, clock)
        whole = best_of(runs, lambda: threadbot.compose_text(text, **options), clock)  # noqa: B023
        wrap = best_of(runs, lambda: textwrap.wrap(text, width=280), clock)
        verdict = "under 1 s" if split < 1 else "OVER 1 s"
        print(f"  {name:>4}: split {split:.3f} s ({verdict}), compose {whole:.3f} s, "
              f"textwrap.wrap(width=280) {wrap:.3f} s, ratio split/textwrap "
              f"{split / wrap:.1f}x")


def long_tokens(platform: str) -> None:
    print("\nOver-long tokens (time and peak memory, growing linearly):")
    for label, unit in (("word of 'a'", "a"), ("run of 'éß😀ж'", "éß😀ж"),
                        ("Japanese, no 。", "漢字かな")):
        for size in (200_000, 2_000_000):
            token = unit * (size // len(unit))
            start = time.perf_counter()
            thread = threadbot.compose_text(token, platform=platform)
            elapsed = time.perf_counter() - start
            tracemalloc.start()
            threadbot.compose_text(token, platform=platform)
            peak = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
            over = sum(1 for p in thread.posts if p.length > thread.limit)
            print(f"  {label:<16} {size / 1e6:>4.1f} MB: {elapsed:6.2f} s, peak {peak:6.1f} MB, "
                  f"{len(thread.posts)} posts, {over} over the limit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--platform", default="x", choices=threadbot.PLATFORMS)
    parser.add_argument("--packing", default=None, help="default: the built-in default")
    parser.add_argument("--quick", action="store_true", help="one timing run, no 2 MB tokens")
    parser.add_argument("texts", nargs="*", type=Path)
    args = parser.parse_args()
    corpus = sorted([*args.corpus.glob("*.txt"), *args.corpus.glob("*.md")]) \
        if args.corpus.is_dir() else []
    texts = corpus + DRAFTS + args.texts
    print(f"Python {sys.version.split()[0]}; platform {args.platform}; packing "
          f"{args.packing or threadbot.SplitSettings().packing}; corpus: {len(corpus)} texts")
    header = (f"{'text':<26} {'posts':>5} {'greedy':>6} {'ratio':>5} {'whole':>9} "
              f"{'in-sent':>7} {'over':>4} {'lost/add':>8} {'in-word':>7}")
    print(header)
    totals = Counter()
    for path in texts:
        row = quality(path, args.platform, args.packing)
        for key in ("posts", "greedy", "fitting", "whole", "in_sentence", "over", "in_word"):
            totals[key] += row[key]
        totals["lost_added"] += abs(row["lost_added"])
        print(f"{row['name'][:26]:<26} {row['posts']:>5} {row['greedy']:>6} "
              f"{row['posts'] / row['greedy']:>5.2f} {row['whole']:>4}/{row['fitting']:<4} "
              f"{row['in_sentence']:>7} {row['over']:>4} {row['lost_added']:>8} "
              f"{row['in_word']:>7}")
    share = totals["whole"] / totals["fitting"] if totals["fitting"] else 1
    print(f"{'all':<26} {totals['posts']:>5} {totals['greedy']:>6} "
          f"{totals['posts'] / totals['greedy']:>5.2f} {share:>9.1%} {totals['in_sentence']:>7} "
          f"{totals['over']:>4} {totals['lost_added']:>8} {totals['in_word']:>7}")
    print("bar: ratio <= 1.12, whole 100%, in-sent 0, over 0, lost/add 0, in-word 0")
    speed(corpus or DRAFTS, args.platform, args.packing, runs=1 if args.quick else 3)
    if not args.quick:
        long_tokens(args.platform)


if __name__ == "__main__":
    main()
