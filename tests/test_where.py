"""Where am I? threadbot finds the writer's folder from any folder below it, commands
that only read leave no file behind, and `threadbot where` says what is in use."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import run_cli
from threadbot.errors import ExitCode

DRAFT = ("---\nbreak: paragraph\n---\nFirst paragraph of a short thought.\n\n"
         "A second paragraph, to make two posts.\n")


def listing(folder: Path) -> dict[str, tuple[int, int] | None]:
    """Every file and folder below ``folder``, with each file's size and modification
    time (a folder's own time changes when SQLite's WAL files come and go while a
    database is read; they are gone again once it is closed)."""
    return {str(path.relative_to(folder)):
            None if path.is_dir() else (path.stat().st_size, path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*"))}


def test_from_drafts_the_folders_config_record_and_keys_are_used(capsys, writer, fake_x):
    (writer / "drafts" / "one.md").write_text(DRAFT, encoding="utf-8")
    os.chdir(writer / "drafts")
    posted = run_cli(capsys, "post", "one.md", "--yes")
    assert posted.code == 0, posted.err
    assert len(fake_x.posts()) == 2
    # The record is the folder's: no stray database (or .env) beside the draft.
    assert sorted(p.name for p in (writer / "drafts").iterdir()) == ["one.md"]
    assert (writer / "config" / "threadbot.db").is_file()
    listed = run_cli(capsys, "list")
    assert "posted" in listed.out and "No threads yet" not in listed.out
    # From a folder further down, the same draft is known: never posted twice.
    (writer / "drafts" / "deep" / "deeper").mkdir(parents=True)
    os.chdir(writer / "drafts" / "deep" / "deeper")
    again = run_cli(capsys, "post", "../../one.md", "--yes")
    assert again.code == ExitCode.ALREADY_POSTED, again.err
    assert len(fake_x.posts()) == 2


def test_relative_paths_in_the_config_are_the_config_folders(capsys, isolated):
    (isolated / "config").mkdir()
    (isolated / "config" / "threadbot.yaml").write_text("database: records/tb.db\n",
                                                        encoding="utf-8")
    (isolated / "drafts").mkdir()
    os.chdir(isolated / "drafts")
    result = run_cli(capsys, "where", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["database"]["path"] == str(isolated / "config" / "records" / "tb.db")
    assert data["config"]["path"] == str(isolated / "config" / "threadbot.yaml")


def test_lookup_order_flag_then_env_then_nearest_folder(capsys, isolated, monkeypatch,
                                                       tmp_path):
    outer = isolated
    (outer / "config").mkdir()
    (outer / "config" / "threadbot.yaml").write_text('split:\n  thread_marker: "OUTER"\n')
    inner = outer / "book"
    (inner / "config").mkdir(parents=True)
    (inner / "config" / "threadbot.yaml").write_text('split:\n  thread_marker: "INNER"\n')
    (inner / "drafts").mkdir()
    (inner / "drafts" / "d.md").write_text(DRAFT)
    os.chdir(inner / "drafts")

    def marker(*args: str) -> str:
        result = run_cli(capsys, *args, "preview", "d.md", "--json")
        assert result.code == 0, result.err
        return json.loads(result.out)["posts"][0]["text"]

    assert "INNER" in marker()  # the nearest folder wins over one further up
    named = tmp_path / "named.yaml"
    named.write_text('split:\n  thread_marker: "ENV"\n')
    monkeypatch.setenv("THREADBOT_CONFIG", str(named))
    assert "ENV" in marker()
    flag = tmp_path / "flag.yaml"
    flag.write_text('split:\n  thread_marker: "FLAG"\n')
    assert "FLAG" in marker("--config", str(flag))


def test_a_config_named_but_missing_is_an_error_not_a_fallback(capsys, isolated,
                                                              monkeypatch):
    monkeypatch.setenv("THREADBOT_CONFIG", str(isolated / "nope.yaml"))
    result = run_cli(capsys, "list")
    assert result.code == ExitCode.CONFIG
    assert "THREADBOT_CONFIG" in result.err and "nope.yaml" in result.err
    assert os.listdir(isolated) == []


def test_config_errors_name_the_file_found_up_the_tree(capsys, isolated):
    (isolated / "config").mkdir()
    (isolated / "config" / "threadbot.yaml").write_text("platfrom: x\n")
    (isolated / "drafts").mkdir()
    os.chdir(isolated / "drafts")
    result = run_cli(capsys, "list")
    assert result.code == ExitCode.CONFIG
    assert f"{isolated / 'config' / 'threadbot.yaml'}:1:" in result.err
    assert "Did you mean 'platform'?" in result.err


def writers_folder(folder: Path) -> None:
    assert run_cli_quiet("init", str(folder)) == 0
    (folder / "drafts" / "d.md").write_text(DRAFT, encoding="utf-8")


def run_cli_quiet(*args: str) -> int:
    from threadbot.cli import main

    return main(list(args))


READ_ONLY = [
    ("list",), ("list", "--json"), ("show", "1"), ("show", "1", "--json"),
    ("preview", "drafts/d.md"), ("preview", "drafts/d.md", "--json"), ("accounts",),
    ("slots",), ("where",), ("where", "--json"), ("--help",), ("list", "--help"),
    ("post", "drafts/d.md", "--dry-run"),
]


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_commands_that_only_read_create_no_file(capsys, isolated, args):
    writers_folder(isolated)
    (isolated / "config" / "threadbot.yaml").write_text(
        'accounts:\n  me:\n    platform: x\n    slots: ["mon-fri 09:00"]\n',
        encoding="utf-8")
    capsys.readouterr()
    before = listing(isolated)
    result = run_cli(capsys, *args)
    assert result.code in (0, ExitCode.NOT_FOUND), result.err
    assert listing(isolated) == before
    # From drafts/ too, where the stray database used to appear.
    os.chdir(isolated / "drafts")
    moved = [("../" + a if a.startswith("drafts/") else a) for a in args]
    result = run_cli(capsys, *moved)
    assert result.code in (0, ExitCode.NOT_FOUND), result.err
    assert listing(isolated) == before


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_commands_that_only_read_leave_an_existing_record_untouched(capsys, writer, args):
    (writer / "drafts" / "d.md").write_text(DRAFT, encoding="utf-8")
    assert run_cli(capsys, "post", "drafts/d.md", "--yes").code == 0
    before = listing(writer)
    database = (writer / "config" / "threadbot.db").read_bytes()
    result = run_cli(capsys, *args)
    assert result.code == 0, result.err
    assert listing(writer) == before
    assert (writer / "config" / "threadbot.db").read_bytes() == database


def test_list_in_an_empty_folder_says_so_and_creates_nothing(capsys, isolated):
    result = run_cli(capsys, "list")
    assert result.code == 0
    assert "No threads yet" in result.out
    shown = run_cli(capsys, "show", "3")
    assert shown.code == ExitCode.NOT_FOUND
    assert "there is no thread 3" in shown.err
    assert os.listdir(isolated) == []


def test_a_record_from_an_older_threadbot_is_read_without_being_changed(capsys, isolated):
    import sqlite3

    from threadbot.store import m001_initial, m002_queue

    (isolated / "config").mkdir()
    (isolated / "config" / "threadbot.yaml").write_text("platform: x\n")
    path = isolated / "config" / "threadbot.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for migration in (m001_initial, m002_queue):
        migration(db)
        db.execute("INSERT INTO migrations VALUES (?, '2026-01-01T00:00:00+00:00')",
                   (migration.__name__,))
    db.execute("INSERT INTO threads (draft_path, content_hash, title, account, platform, "
               "status, created_at, updated_at) VALUES (?, 'h', NULL, 'default', 'x', "
               "'failed', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
               (str(isolated / "drafts" / "old.md"),))
    db.commit()
    db.close()
    before = listing(isolated)
    data = path.read_bytes()
    result = run_cli(capsys, "list")
    assert result.code == 0, result.err
    assert "drafts/old.md" in result.out
    assert listing(isolated) == before and path.read_bytes() == data


def test_where_names_config_record_env_files_accounts_and_daemon(capsys, writer):
    (writer / ".env").write_text("X_API_KEY=not-read\n")
    os.chdir(writer / "drafts")
    result = run_cli(capsys, "where")
    assert result.code == 0, result.err
    out = result.out
    assert f"Writer's folder: {writer}\n" in out
    assert f"{writer / 'config' / 'threadbot.yaml'}" in out
    assert f"found in {writer}, the nearest folder above" in out
    assert f"{writer / 'config' / 'threadbot.db'}" in out and "not created yet" in out
    assert f"Keys from: {writer / 'config' / '.env'} and the environment" in out
    assert f"Ignored:   {writer / '.env'}" in out
    assert "main (default)  X" in out and "keys set" in out
    assert "Daemon:    not running" in out
    # Secrets never appear, only the names of the variables that hold them.
    for line in (writer / "config" / ".env").read_text().splitlines():
        assert line.split("=", 1)[1] not in out
    assert "not-read" not in out


def test_where_json_and_the_daemon_state(capsys, writer, monkeypatch):
    import subprocess
    import sys

    from threadbot.store import Store, process_owner

    (writer / "drafts" / "d.md").write_text(DRAFT, encoding="utf-8")
    assert run_cli(capsys, "post", "drafts/d.md", "--yes").code == 0
    database = writer / "config" / "threadbot.db"
    with Store(database) as store:  # registered as a daemon registers itself
        assert store.acquire_daemon(process_owner("daemon")) is None
    data = json.loads(run_cli(capsys, "where", "--json").out)
    assert data["config"] == {"path": str(writer / "config" / "threadbot.yaml"),
                              "found_by": "search", "why": "found in this folder"}
    assert data["database"]["exists"] is True and data["database"]["threads"] == 1
    assert [e["read"] for e in data["env_files"]] == [True, False]
    assert data["accounts"] == [{"name": "main", "platform": "x",
                                 "api_base_url": data["accounts"][0]["api_base_url"],
                                 "default": True, "keys_set": True, "missing": []}]
    assert data["daemon"]["running"] is True and data["daemon"]["pid"] == os.getpid()
    text = run_cli(capsys, "where").out
    assert f"Daemon:    running, pid {os.getpid()} on " in text and "since" in text
    # A daemon whose process is gone is not running, and where says so.
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    owner = process_owner("daemon").rsplit(":", 2)[0] + f":{gone.stdout.strip()}:daemon"
    with Store(database) as store:
        store.release_daemon(process_owner("daemon"))
        assert store.acquire_daemon(owner) is None
    data = json.loads(run_cli(capsys, "where", "--json").out)
    assert data["daemon"]["running"] is False
    assert "stopped without signing off" in run_cli(capsys, "where").out
    monkeypatch.setenv("THREADBOT_DB", str(writer / "elsewhere.db"))
    data = json.loads(run_cli(capsys, "where", "--json").out)
    assert data["database"] == {"path": str(writer / "elsewhere.db"), "exists": False,
                                "why": "named by $THREADBOT_DB", "threads": 0}


def test_where_without_any_config(capsys, isolated):
    result = run_cli(capsys, "where")
    assert result.code == 0
    assert "no writer's folder found" in result.out and "`threadbot init`" in result.out
    assert f"{isolated / 'threadbot.db'}" in result.out
    assert os.listdir(isolated) == []


def test_keys_in_a_env_at_the_top_of_the_folder_are_not_read_and_the_error_says_so(
        capsys, writer, fake_x):
    env = writer / "config" / ".env"
    (writer / ".env").write_text(env.read_text())
    env.unlink()
    (writer / "drafts" / "d.md").write_text(DRAFT, encoding="utf-8")
    os.chdir(writer / "drafts")
    result = run_cli(capsys, "post", "d.md", "--yes")
    assert result.code == ExitCode.AUTH
    assert f"{writer / '.env'} is not read: move its lines to" in result.err
    assert fake_x.posts() == []
    accounts = run_cli(capsys, "accounts")
    assert "missing X_API_KEY" in accounts.out
    assert f"Note: {writer / '.env'} is not read" in accounts.err


_NAME = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\\0"),
                min_size=1, max_size=12).filter(lambda n: n not in (".", ".."))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(depth_below=st.lists(_NAME, max_size=4), decoys=st.lists(_NAME, max_size=3))
def test_the_nearest_writers_folder_is_found_from_any_folder_below(
        capsys, isolated, depth_below, decoys):
    """Whatever the folder names (spaces, accents, emoji, a folder called `config`), the
    config found is the nearest one up the tree, its database and .env beside it, and
    nothing is created anywhere."""
    import tempfile

    with tempfile.TemporaryDirectory(dir=isolated) as base:
        outer = Path(base)
        (outer / "config").mkdir()
        (outer / "config" / "threadbot.yaml").write_text("platform: x\n")
        top = outer.joinpath(*decoys) if decoys else outer
        (top / "config").mkdir(parents=True, exist_ok=True)
        (top / "config" / "threadbot.yaml").write_text("platform: x\n")
        here = top.joinpath(*depth_below)
        try:
            here.mkdir(parents=True, exist_ok=True)
        except OSError:  # a name the file system refuses (too long): nothing to test
            return
        before = listing(outer)
        os.chdir(here)
        try:
            result = run_cli(capsys, "where", "--json")
        finally:
            os.chdir(isolated)
        assert result.code == 0, result.err
        data = json.loads(result.out)
        nearest = next(folder for folder in (here, *here.parents)
                       if (folder / "config" / "threadbot.yaml").is_file())
        assert data["config"]["path"] == str(nearest / "config" / "threadbot.yaml")
        assert data["config"]["found_by"] == "search"
        assert data["database"]["path"] == str(nearest / "config" / "threadbot.db")
        assert data["env_files"][0]["path"] == str(nearest / "config" / ".env")
        assert listing(outer) == before


def test_where_sees_a_real_daemon_come_and_go(capsys, writer):
    import signal
    import subprocess
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADBOT_")}
    os.chdir(writer / "drafts")  # where is asked from below; the daemon runs at the top

    def state() -> dict:
        result = run_cli(capsys, "where", "--json")
        assert result.code == 0, result.err
        return json.loads(result.out)["daemon"]

    assert state() == {"running": False}
    with open(writer / "daemon.log", "wb") as log:
        daemon = subprocess.Popen([sys.executable, "-m", "threadbot", "daemon"], cwd=writer,
                                  env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while not (seen := state())["running"]:
            assert daemon.poll() is None, (writer / "daemon.log").read_text()
            assert time.monotonic() < deadline, "the daemon never registered"
            time.sleep(0.1)
        assert seen["pid"] == daemon.pid
        text = run_cli(capsys, "where").out
        assert f"Daemon:    running, pid {daemon.pid} on " in text
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(60) == 0
    assert state() == {"running": False}  # it signed off on the way out
    assert "Daemon:    not running." in run_cli(capsys, "where").out


def test_where_says_why_this_config(capsys, isolated, monkeypatch, tmp_path):
    named = tmp_path / "elsewhere" / "my.yaml"
    named.parent.mkdir()
    named.write_text("platform: x\n")
    data = json.loads(run_cli(capsys, "--config", str(named), "where", "--json").out)
    assert data["config"] == {"path": str(named), "found_by": "--config",
                              "why": "given with --config"}
    # Not in a folder named config: its own folder is the writer's, holding record and keys.
    assert data["writer_folder"] == str(named.parent)
    assert data["database"]["path"] == str(named.parent / "threadbot.db")
    assert [e["path"] for e in data["env_files"]] == [str(named.parent / ".env")]
    monkeypatch.setenv("THREADBOT_CONFIG", str(named))
    text = run_cli(capsys, "where").out
    assert f"Config:    {named}\n           (named by $THREADBOT_CONFIG)" in text
    monkeypatch.delenv("THREADBOT_CONFIG")
    data = json.loads(run_cli(capsys, "where", "--json").out)
    assert data["config"]["path"] is None and data["config"]["found_by"] == "defaults"
    assert os.listdir(isolated) == []
