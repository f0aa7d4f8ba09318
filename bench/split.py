"""Split speed and quality, measured in one run.

    .venv/bin/python bench/split.py [--quick] [extra drafts...]

Speed: the time to split 10 KB, 100 KB and 1 MB of prose (the bundled drafts
repeated), in paragraphs (the default), sentences and compact packing, next to
``textwrap.wrap(width=280)``
on the same text (a baseline that counts code points and knows nothing of
sentences), as a ratio.

Quality, on the bundled drafts (and any extra files given): posts over the
limit, words lost or added, breaks inside a word, the share of breaks at a
sentence, line or paragraph end, posts against greedy whole-sentence packing,
and the shortest post against the median.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

# The quality bar's reference, one definition for both scripts (bench/ is on sys.path).
from split_quality import greedy_sentence_posts

import threadbot

ROOT = Path(__file__).resolve().parents[1]
DRAFTS = sorted((ROOT / "drafts").glob("*.md"))


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def prose(size: int) -> str:
    parts = []
    for path in DRAFTS:
        draft = threadbot.read_draft(path)
        parts.extend(s.text for s in draft.sections)
    unit = "\n\n".join(parts)
    return (unit + "\n\n") * (size // len(unit) + 1)


def speed(sizes: dict[str, int], runs: int) -> None:
    print(f"Speed (best of {runs} runs)")
    print(f"{'text':>8} {'paragraphs':>10} {'sentences':>10} {'compact':>10} {'textwrap':>10} "
          f"{'default/textwrap':>17} {'peak MB':>8}")
    for label, size in sizes.items():
        text = prose(size)[:size]
        natural = best_of(runs, lambda: threadbot.compose_text(text))  # noqa: B023
        sentences = best_of(runs, lambda: threadbot.compose_text(text, packing="sentences"))  # noqa: B023
        compact = best_of(runs, lambda: threadbot.compose_text(text, packing="compact"))  # noqa: B023
        wrap = best_of(runs, lambda: textwrap.wrap(text, width=280))  # noqa: B023
        tracemalloc.start()
        threadbot.compose_text(text)
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        print(f"{label:>8} {natural:>9.3f}s {sentences:>9.3f}s {compact:>9.3f}s {wrap:>9.3f}s "
              f"{natural / wrap:>16.1f}x {peak:>8.1f}")


def quality(paths: list[Path]) -> None:
    print("\nQuality (the default packing, X, no markers)")
    print(f"{'draft':<24} {'posts':>5} {'greedy':>6} {'over':>4} {'lost':>4} "
          f"{'in-word':>7} {'natural breaks':>14} {'min/median':>10}")
    for path in paths:
        draft = threadbot.read_draft(path)
        thread = threadbot.compose(draft, continuation="", thread_marker="", numbering="none")
        original = "\n\n".join(s.text for s in draft.sections)
        posts = [p.text for p in thread.posts]
        over = sum(1 for p in thread.posts if p.length > thread.limit)
        lost = abs(len(original.split()) - sum(len(p.split()) for p in posts))
        in_word = 0
        position = 0
        for post in posts[:-1]:
            position = original.find(post, position) + len(post)
            if position < len(original) and not original[position].isspace() \
                    and not re.match(r"[\u3000-\u30ff\u4e00-\u9fff]", original[position - 1]):
                in_word += 1
        natural = sum(1 for p in posts[:-1] if p.rstrip("”’\")")[-1:] in ".!?。！？…"
                      or original[original.find(p) + len(p):][:1] == "\n")
        breaks = max(1, len(posts) - 1)
        units = [s.text for s in draft.sections]
        if thread.settings.break_mode == "paragraph":
            units = [p for u in units for p in u.split("\n\n")]
        greedy = sum(greedy_sentence_posts(u, threadbot.measure, 280) for u in units)
        lengths = [p.length for p in thread.posts]
        ratio = min(lengths) / statistics.median(lengths)
        print(f"{path.name:<24} {len(posts):>5} {greedy:>6} {over:>4} {lost:>4} {in_word:>7} "
              f"{natural / breaks:>13.0%} {ratio:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 KB and 100 KB only, one run")
    parser.add_argument("extra", nargs="*", type=Path, help="more drafts for the quality table")
    args = parser.parse_args()
    sizes = {"10 KB": 10_000, "100 KB": 100_000}
    if not args.quick:
        sizes["1 MB"] = 1_000_000
    print(f"Python {sys.version.split()[0]}")
    speed(sizes, runs=1 if args.quick else 3)
    quality(DRAFTS + args.extra)


if __name__ == "__main__":
    main()
