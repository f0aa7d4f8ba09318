"""Hostile or mistaken input gets a clear error and its exit code, at once: no hang,
no memory exhausted, no traceback (part of the hardening issue)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from helpers import run_cli
from threadbot.errors import ExitCode

BOMB = ('a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},"
                  f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n"
                  for i in range(8)))


def test_a_yaml_alias_bomb_in_front_matter_is_refused_at_its_line(capsys, isolated):
    (isolated / "d.md").write_text("---\n" + BOMB + "---\nHello.\n", encoding="utf-8")
    result = run_cli(capsys, "preview", "d.md")
    assert result.code == int(ExitCode.DRAFT)
    assert "d.md:3:" in result.err and "YAML alias (*a)" in result.err


def test_a_yaml_alias_in_the_config_is_refused_at_its_line(capsys, isolated):
    (isolated / "config").mkdir()
    (isolated / "config" / "threadbot.yaml").write_text(
        "split: &s {numbering: none}\ndaemon: {}\npricing: *s\n", encoding="utf-8")
    result = run_cli(capsys, "preview", "-", stdin=b"Hello.\n")
    assert result.code == int(ExitCode.CONFIG)
    assert "threadbot.yaml:3:" in result.err and "YAML alias (*s)" in result.err


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_draft_that_is_not_a_regular_file_is_refused_without_waiting(isolated, kind):
    path = "/dev/zero" if kind == "device" else str(isolated / "pipe.md")
    if kind == "fifo":
        os.mkfifo(path)
    # In a subprocess with a timeout: a hang fails the test instead of stalling it.
    done = subprocess.run([sys.executable, "-m", "threadbot", "preview", path], cwd=isolated,
                          capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == int(ExitCode.DRAFT), done.stderr
    assert "not a regular file" in done.stderr and "Traceback" not in done.stderr


def test_a_draft_over_ten_megabytes_is_refused(capsys, isolated):
    (isolated / "big.md").write_bytes(b"word " * (2 * 1024 * 1024 + 1))
    result = run_cli(capsys, "preview", "big.md")
    assert result.code == int(ExitCode.DRAFT) and "larger than 10 MB" in result.err
    stdin = run_cli(capsys, "preview", "-", stdin=b"word " * (2 * 1024 * 1024 + 1))
    assert stdin.code == int(ExitCode.DRAFT) and "larger than 10 MB" in stdin.err


def test_an_image_that_is_a_fifo_does_not_hang_the_preview(capsys, isolated):
    os.mkfifo(isolated / "pic.png")
    (isolated / "d.md").write_text("A picture.\n\n![alt](pic.png)\n", encoding="utf-8")
    outcome: list = []
    worker = threading.Thread(target=lambda: outcome.append(run_cli(capsys, "preview", "d.md")),
                              daemon=True)
    worker.start()
    worker.join(20)
    assert outcome, "the preview hung on a FIFO"
    assert outcome[0].code == int(ExitCode.MEDIA)
    assert "not a regular file" in outcome[0].out + outcome[0].err


@pytest.mark.parametrize(("key", "value"), [
    ("posting:\n  retries: 1000000", "whole number from 1 to 20"),
    ("posting:\n  timeout_seconds: .inf", "number of seconds above 0 to 600"),
    ("posting:\n  backoff_seconds: .nan", "number of seconds from 0 to 300"),
    ("daemon:\n  grace_minutes: .nan", "between 0 and 10080"),
    ("pricing:\n  x:\n    post: .nan", "price in dollars"),
])
def test_tunables_out_of_range_are_refused_at_their_line(capsys, isolated, key, value):
    (isolated / "config").mkdir()
    (isolated / "config" / "threadbot.yaml").write_text(key + "\n", encoding="utf-8")
    result = run_cli(capsys, "accounts")
    assert result.code == int(ExitCode.CONFIG), result.err
    assert "threadbot.yaml:" in result.err and value in result.err


def test_an_image_replaced_by_a_fifo_after_queueing_fails_its_thread_not_the_daemon(
        capsys, writer, fake_x):
    import json

    from conftest import DRAFTS

    (writer / "drafts" / "pic.png").write_bytes((DRAFTS / "images" / "desk.png").read_bytes())
    (writer / "drafts" / "d.md").write_text("A picture.\n\n![A desk](pic.png)\n",
                                            encoding="utf-8")
    assert run_cli(capsys, "queue", "drafts/d.md", "--now").code == 0
    (writer / "drafts" / "pic.png").unlink()
    os.mkfifo(writer / "drafts" / "pic.png")
    done = subprocess.run([sys.executable, "-m", "threadbot", "daemon", "--once"], cwd=writer,
                          capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    (thread,) = json.loads(run_cli(capsys, "list", "--json").out)
    assert thread["status"] == "failed" and "not a regular file" in thread["note"]
    assert fake_x.posts() == []


@pytest.mark.parametrize(("url", "said"), [
    ("https://user:s3cret@example.com/hook", "user name or password"),
    ("https://example.com:99999/hook", "not a valid URL"),
    ("ftp://example.com/hook", "must be an http(s) URL"),
    ("https:///hook", "must be an http(s) URL"),
])
def test_a_bad_webhook_url_is_refused_when_the_config_is_read(capsys, isolated, url, said):
    (isolated / "config").mkdir()
    (isolated / "config" / "threadbot.yaml").write_text(
        f"daemon:\n  notify:\n    webhook: {url}\n", encoding="utf-8")
    result = run_cli(capsys, "accounts")
    assert result.code == int(ExitCode.CONFIG)
    assert "threadbot.yaml:3:" in result.err and said in result.err
    assert "s3cret" not in result.out + result.err


# --- control characters: seen in the preview, never run by the terminal -------------------

# An escape sequence writing to the clipboard (OSC 52), one clearing the screen, colour,
# a bell, a backspace and a delete.
CONTROLS = "Read me.\x1b]52;c;ZXZpbA==\x07 Then \x1b[2J\x1b[31mred\x1b[0m. Hidden\x08\x7f end."


def test_control_characters_in_a_draft_are_shown_escaped_not_run(capsys, isolated):
    (isolated / "d.md").write_text(f"---\ntitle: \"T\\e[5m\"\n---\n{CONTROLS}\n",
                                   encoding="utf-8")
    result = run_cli(capsys, "preview", "--platform", "mastodon", "d.md")
    assert result.code == 0, result.err
    assert not any(c in result.out + result.err for c in "\x1b\x07\x08\x7f"), result.out
    assert "Read me.\\x1b]52;c;ZXZpbA==\\x07 Then \\x1b[2J\\x1b[31mred\\x1b[0m." in result.out
    assert "Hidden\\x08\\x7f end." in result.out
    assert "“T\\x1b[5m”" in result.out
    # The posts themselves, and --json, keep the text as written.
    data = json.loads(run_cli(capsys, "preview", "--json", "--platform", "mastodon",
                              "d.md").out)
    assert "\x1b[31mred" in data["posts"][0]["text"] and data["title"] == "T\x1b[5m"


def test_the_terminal_preview_escapes_control_characters_too(isolated):
    """The panel view (a terminal): rich, told not to colour, writes no control
    character the draft held."""
    import io

    from rich.console import Console

    import threadbot
    from threadbot.preview import render_rich

    thread = threadbot.compose_text(f"[Linked \x1b7 text](https://example.org/a). "
                                    f"{CONTROLS}", platform="bluesky")
    out = io.StringIO()
    render_rich(thread, Console(file=out, color_system=None, width=80), cost=None)
    assert thread.posts[0].links, "the link is kept"
    assert not any(c in out.getvalue() for c in "\x1b\x07\x08\x7f"), out.getvalue()
    assert "Linked \\x1b7 text" in out.getvalue()


def test_messages_quoting_a_draft_show_its_control_characters_escaped(capsys, isolated):
    """X refuses the repeated post; the message quoting it, printed on stderr, escapes
    the control characters it quotes."""
    (isolated / "d.md").write_text("\x1b[2JStill here.\n\n---\n\nBetween.\n\n---\n\n"
                                   "\x1b[2JStill here.\n", encoding="utf-8")
    result = run_cli(capsys, "preview", "--platform", "x", "d.md")
    assert result.code == int(ExitCode.DRAFT)
    assert "\x1b" not in result.out + result.err
    assert "\\x1b[2JStill here." in result.err


@pytest.mark.parametrize("replacement", ["fifo", "device"])
def test_a_queued_draft_replaced_by_a_fifo_or_device_hangs_neither_list_nor_the_daemon(
        capsys, writer, fake_x, replacement):
    """`list`, `show` and the daemon read a queued thread's draft again (what changed,
    what to post): a draft turned into a pipe or a device is named, never waited on."""
    draft = writer / "drafts" / "d.md"
    draft.write_text("A short thought, queued for later.\n", encoding="utf-8")
    assert run_cli(capsys, "queue", "drafts/d.md", "--now").code == 0
    draft.unlink()
    if replacement == "fifo":
        os.mkfifo(draft)
    else:
        draft.symlink_to("/dev/zero")
    for args in (["list"], ["show", "1"], ["daemon", "--once"]):
        done = subprocess.run([sys.executable, "-m", "threadbot", *args], cwd=writer,
                              capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
        assert "Traceback" not in done.stderr and "Unexpected" not in done.stderr, done.stderr
        assert done.returncode == 0, (args, done.stderr)
    (thread,) = json.loads(run_cli(capsys, "list", "--json").out)
    assert thread["status"] == "failed", thread
    assert "is no longer a regular file" in thread["note"], thread["note"]
    assert fake_x.posts() == []
