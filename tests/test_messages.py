"""Messages that lead somewhere: exit code 2 for command-line slips only, help summaries
that end at a sentence end, drafts named as the writer knows them, rehearsals that say
where their posts went."""

from __future__ import annotations

import json
import os
import re

import pytest

from conftest import REPO
from helpers import run_cli
from threadbot.cli import cli
from threadbot.errors import ExitCode

README = (REPO / "README.md").read_text(encoding="utf-8")
DRAFT = ("---\nbreak: paragraph\n---\nFirst paragraph of a short thought.\n\n"
         "A second paragraph, to make two posts.\n")


def summaries(help_text: str) -> dict[str, str]:
    """The Commands section of a --help page: each command and its summary, the
    summary's wrapped lines joined."""
    section = help_text.split("\nCommands:\n", 1)[1]
    rows: dict[str, str] = {}
    name = None
    for line in section.splitlines():
        match = re.match(r"^  (\S+)\s+(.*)$", line)
        if match:
            name = match[1]
            rows[name] = match[2]
        elif line.strip() and name is not None:
            rows[name] += " " + line.strip()
    return rows


@pytest.mark.parametrize("width", ["80", "50", "200"])
@pytest.mark.parametrize("group", [(), ("accounts",)], ids=["threadbot", "accounts"])
def test_every_summary_in_help_is_a_whole_sentence(capsys, monkeypatch, width, group):
    monkeypatch.setenv("COLUMNS", width)
    result = run_cli(capsys, *group, "--help")
    assert result.code == 0
    rows = summaries(result.out)
    names = cli.commands if not group else cli.commands[group[0]].commands
    assert set(rows) == set(names)
    for name, summary in rows.items():
        assert summary.endswith("."), f"{name}: {summary!r}"
        assert "..." not in summary, f"{name}: {summary!r}"


def test_no_terminal_to_confirm_has_its_own_code(capsys, writer, fake_x):
    (writer / "drafts" / "d.md").write_text(DRAFT, encoding="utf-8")
    refused = run_cli(capsys, "post", "drafts/d.md", stdin=b"")
    assert refused.code == ExitCode.NO_TERMINAL
    assert "no terminal to ask for confirmation" in refused.err
    assert "Add --yes to post without being asked" in refused.err
    assert fake_x.posts() == []
    assert run_cli(capsys, "post", "drafts/d.md", "--yes").code == 0
    kept = run_cli(capsys, "delete", "1", stdin=b"")
    assert kept.code == ExitCode.NO_TERMINAL and "Add --yes to delete" in kept.err
    assert len(fake_x.posts()) == 2


def test_no_time_to_queue_has_its_own_code_and_says_what_to_add(capsys, writer):
    (writer / "drafts" / "d.md").write_text(DRAFT, encoding="utf-8")
    result = run_cli(capsys, "queue", "drafts/d.md")
    assert result.code == ExitCode.NO_TIME
    assert "--at WHEN" in result.err and "slots" in result.err
    assert json.loads(run_cli(capsys, "list", "--json").out) == []


def test_deleting_a_queued_thread_is_a_state_not_a_usage_error(capsys, writer):
    (writer / "drafts" / "d.md").write_text(DRAFT, encoding="utf-8")
    assert run_cli(capsys, "queue", "drafts/d.md", "--at", "+1h").code == 0
    result = run_cli(capsys, "delete", "1", "--yes")
    assert result.code == ExitCode.WRONG_STATE and "`threadbot cancel 1`" in result.err


def test_a_drafts_platform_the_account_does_not_post_to_is_a_draft_error(capsys, writer):
    (writer / "drafts" / "d.md").write_text("---\ntitle: T\nplatform: mastodon\n---\nHi.\n",
                                            encoding="utf-8")
    result = run_cli(capsys, "post", "drafts/d.md", "--yes")
    assert result.code == ExitCode.DRAFT, result.err
    assert "drafts/d.md:3:" in result.err and "'platform:'" in result.err


def test_a_folder_that_cannot_be_written_is_not_a_usage_error(capsys, isolated):
    (isolated / "book").mkdir()
    (isolated / "book" / "config").write_text("a file where the folder should be")
    result = run_cli(capsys, "init", "book")
    assert result.code == ExitCode.CONFIG
    assert "cannot create" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("args", [("--nope",), ("list", "--nope"), ("show", "abc"),
                                  ("reschedule", "1", "--at", "whenever"),
                                  ("preview", "d.md", "--platform", "myspace"),
                                  ("init", "file.txt")])
def test_command_line_slips_are_exit_code_2(capsys, isolated, args):
    (isolated / "d.md").write_text("Hello.\n")
    (isolated / "file.txt").write_text("")
    result = run_cli(capsys, *args)
    assert result.code == ExitCode.USAGE, result.err
    assert "Traceback" not in result.err


def test_a_draft_without_a_title_is_named_by_its_path_in_the_writers_folder(capsys, writer):
    (writer / "drafts" / "notes").mkdir()
    (writer / "drafts" / "notes" / "d.md").write_text(DRAFT, encoding="utf-8")
    assert run_cli(capsys, "post", "drafts/notes/d.md", "--yes").code == 0
    assert json.loads(run_cli(capsys, "show", "1", "--json").out)["title"] is None
    for folder in (writer, writer / "drafts", writer / "drafts" / "notes"):
        os.chdir(folder)
        listed = run_cli(capsys, "list").out
        shown = run_cli(capsys, "show", "1").out
        assert " drafts/notes/d.md" in listed and str(writer) not in listed
        assert shown.startswith("Thread 1: drafts/notes/d.md\n")
        assert str(writer) not in shown


def test_a_draft_outside_the_writers_folder_is_named_in_full(capsys, writer, tmp_path):
    outside = tmp_path / "elsewhere.md"
    outside.write_text(DRAFT, encoding="utf-8")
    assert run_cli(capsys, "post", str(outside), "--yes").code == 0
    assert f"Thread 1: {outside}\n" in run_cli(capsys, "show", "1").out


def test_a_rehearsal_names_its_fake_server_and_says_its_links_are_not_on_x(capsys, isolated):
    (isolated / "d.md").write_text(DRAFT, encoding="utf-8")
    result = run_cli(capsys, "rehearse", "d.md")
    assert result.code == 0, result.err
    started = re.search(r"on a fake X server at (http://127\.0\.0\.1:\d+), started on this "
                        r"machine", result.out)
    assert started, result.out
    server = started[1]
    assert f"posted to the fake X server at {server} as one connected chain." in result.out
    link = re.search(r"Its link, (\S+), is on that fake server, NOT on X", result.out)
    assert link and link[1].startswith(server + "/")
    assert "Nothing was sent to X." in result.out
    assert "x.com" not in result.out
    data = json.loads(run_cli(capsys, "rehearse", "d.md", "--json").out)
    assert data["url"].startswith(data["rehearsal_server"] + "/")
    assert data["rehearsal_server"].startswith("http://127.0.0.1:")
    assert "not on X" in data["note"] and data["rehearsal_server"] in data["note"]
    assert os.listdir(isolated) == ["d.md"]  # nor is anything recorded here


def test_login_without_a_terminal_says_so_rather_than_stopped(capsys, isolated,
                                                              fake_mastodon):
    (isolated / "config").mkdir()
    (isolated / "config" / "threadbot.yaml").write_text(
        f"accounts:\n  fedi:\n    platform: mastodon\n"
        f"    api_base_url: {fake_mastodon.base_url}\n", encoding="utf-8")
    result = run_cli(capsys, "accounts", "login", "fedi", stdin=b"")
    assert result.code == ExitCode.NO_TERMINAL, result.err
    assert "there is no terminal to answer them" in result.err
    assert "Stopped" not in result.err
    assert not (isolated / "config" / ".env").exists()
