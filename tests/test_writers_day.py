"""A writer's day, through the CLI: the gaps found walking it end to end (issue 10).

Each test is one thing a writer met: an editor that will not start, a failed thread's
note, a `retry` that could only fail again, a dry run of a draft already posted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from helpers import run_cli

HEAD = "---\ntitle: A day\nbreak: paragraph\n---\n"


def write(folder: Path, name: str, *paragraphs: str) -> str:
    (folder / "drafts" / name).write_text(HEAD + "\n\n".join(paragraphs) + "\n",
                                          encoding="utf-8")
    return f"drafts/{name}"


def at_a_terminal(monkeypatch, editor: str) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", editor)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)


def test_an_editor_that_cannot_start_is_no_bug_and_says_what_to_do(capsys, writer,
                                                                    monkeypatch):
    at_a_terminal(monkeypatch, "no-such-editor-here")
    made = run_cli(capsys, "new", "Night notes")
    assert made.code == 0, made.err  # the draft is made; only the editor is missing
    assert (writer / "drafts" / "night-notes.md").is_file()
    assert "Unexpected error" not in made.err and "bug" not in made.err
    assert "no-such-editor-here" in made.err and "$EDITOR" in made.err
    assert "open drafts/night-notes.md yourself" in made.err
    assert "threadbot preview drafts/night-notes.md" in made.out

    path = write(writer, "d.md", "One.", "Two.")
    queued = run_cli(capsys, "queue", path, "--at", "+1h", "--json")
    assert queued.code == 0, queued.err
    thread_id = json.loads(queued.out)["id"]
    at_a_terminal(monkeypatch, f"{sys.executable} -c 'raise SystemExit(1)'")
    edited = run_cli(capsys, "edit", str(thread_id))
    assert edited.code == 0, edited.err
    assert "Unexpected error" not in edited.err
    assert "open drafts/d.md yourself" in edited.err
