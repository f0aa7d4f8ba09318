"""Where am I? threadbot finds the writer's folder from any folder below it, commands
that only read leave no file behind, and `threadbot where` says what is in use."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from helpers import run_cli
from threadbot.errors import ExitCode

DRAFT = ("---\nbreak: paragraph\n---\nFirst paragraph of a short thought.\n\n"
         "A second paragraph, to make two posts.\n")


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder below ``folder``, with its size and modification time."""
    return {str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
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
