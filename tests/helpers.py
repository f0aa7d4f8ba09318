"""Small helpers shared by the tests: running the CLI in-process."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass

from threadbot.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(capsys, *args: str, stdin: bytes | None = None) -> Result:
    """Run `threadbot ARGS` in this process, as a user would from a shell."""
    if stdin is not None:
        old = sys.stdin
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
        try:
            code = main(list(args))
        finally:
            sys.stdin = old
    else:
        code = main(list(args))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


class Clock:
    """A settable clock, so window and 24-hour resets are tested without sleeping."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def age_ledger(folder, *, days: int) -> None:
    """Make every post in the writer's ledger (``folder``/config/threadbot.db) ``days``
    older, as if posted that long ago."""
    import sqlite3
    from datetime import datetime, timedelta

    with sqlite3.connect(folder / "config" / "threadbot.db") as db:
        for post_id, posted_at in db.execute("SELECT id, posted_at FROM posts "
                                             "WHERE posted_at IS NOT NULL").fetchall():
            older = datetime.fromisoformat(posted_at) - timedelta(days=days)
            db.execute("UPDATE posts SET posted_at = ? WHERE id = ?",
                       (older.isoformat(), post_id))


def queued_id(capsys, path: str, *args: str) -> int:
    """`threadbot queue PATH --json ARGS`, which must succeed: the new thread's id."""
    import json

    result = run_cli(capsys, "queue", path, "--json", *args)
    assert result.code == 0, result.err
    return json.loads(result.out)["id"]


def shown_json(capsys, thread_id: int) -> dict:
    """`threadbot show ID --json`, which must succeed."""
    import json

    result = run_cli(capsys, "show", str(thread_id), "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)
