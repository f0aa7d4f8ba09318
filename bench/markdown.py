"""How long reading a draft's Markdown takes.

    .venv/bin/python bench/markdown.py

Times ``parse_draft`` on 1 MB of draft text (the bundled drafts' bodies repeated, and
the same with Markdown in every sentence: emphasis, links, code, lists), as Markdown
and with ``markdown: false`` (the line reader), and markdown-it-py's own parse of the
same text, best of a few runs.
"""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt
from split import best_of  # bench/ is on sys.path when a script of it runs

import threadbot

ROOT = Path(__file__).resolve().parents[1]
SIZE = 1_000_000


def body(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return text.split("---\n", 2)[2] if text.startswith("---\n") else text


def main() -> None:
    prose = "\n\n".join(body(p) for p in sorted((ROOT / "drafts").glob("*.md")))
    prose = prose.replace("\n---\n", "\n\n")
    marked = ("Some *slow* work, a **bold** claim, `code`, and [a link](https://example.org/"
              "essays/slow) with <https://example.org/a>.\n- one item\n- two items\n\n")
    print(f"{'text (1 MB)':<28} {'markdown':>9} {'as written':>11} {'markdown-it':>12}")
    for label, unit in (("bundled drafts", prose + "\n\n"), ("Markdown in every line", marked)):
        text = (unit * (SIZE // len(unit) + 1))[:SIZE]
        plain = "---\nmarkdown: false\n---\n" + text
        md = MarkdownIt("commonmark", {"html": False})
        with_md = best_of(3, lambda: threadbot.parse_draft(text))  # noqa: B023
        without = best_of(3, lambda: threadbot.parse_draft(plain))  # noqa: B023
        alone = best_of(3, lambda: md.parse(text))  # noqa: B023
        print(f"{label:<28} {with_md:>8.2f}s {without:>10.2f}s {alone:>11.2f}s")


if __name__ == "__main__":
    main()
