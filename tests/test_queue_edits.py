"""A queued draft is the writer's file: the daemon posts it as it is at its time.

Also the queue's messages: what `queue`, `show`, `list`, `cancel`, `retry` and
`forget` tell the writer. The daemon runs as a real process (``python -m threadbot
daemon --once``) against the fake X server of this process, as in test_daemon.py.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from helpers import age_ledger, queued_id, run_cli, shown_json
from threadbot.errors import ExitCode

HEAD = "---\ntitle: Edited\nbreak: paragraph\n---\n"


def write(folder: Path, name: str, *paragraphs: str) -> str:
    (folder / "drafts" / name).write_text(HEAD + "\n\n".join(paragraphs) + "\n",
                                          encoding="utf-8")
    return f"drafts/{name}"


queue = queued_id
shown = shown_json


def listed(capsys) -> dict[int, dict]:
    return {row["id"]: row for row in json.loads(run_cli(capsys, "list", "--json").out)}


def due_now(folder: Path, thread_id: int) -> None:
    """Move a thread's time to a minute ago, as if its time had come."""
    when = datetime.now(UTC) - timedelta(minutes=1)
    with sqlite3.connect(folder / "config" / "threadbot.db") as db:
        db.execute("UPDATE threads SET scheduled_at = ? WHERE id = ?",
                   (when.isoformat(timespec="seconds"), thread_id))
    db.close()


def run_daemon_once(folder: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADBOT_")}
    try:
        result = subprocess.run([sys.executable, "-m", "threadbot", "daemon", "--once"],
                                cwd=folder, env=env, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"`threadbot daemon --once` hung: {error.stderr!r}")
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr, \
        result.stderr
    return result


def notify_to(folder: Path) -> Path:
    """Notifications of the daemon written to a file, one "ID STATUS" a line."""
    out = folder / "notified.txt"
    command = f'echo "$THREADBOT_THREAD_ID $THREADBOT_STATUS" >> {out}'
    with (folder / "config" / "threadbot.yaml").open("a", encoding="utf-8") as config:
        config.write(f"daemon:\n  notify:\n    command: {json.dumps(command)}\n")
    return out


# --------------------------------------------------------------- the daemon posts the edit


def test_daemon_posts_the_draft_as_edited_after_queueing(capsys, writer, fake_x):
    path = write(writer, "d.md", "First thougth.", "Second thought.")
    thread_id = queue(capsys, path, "--at", "+1h")
    assert len(shown(capsys, thread_id)["posts"]) == 2
    # The writer fixes a typo and adds a paragraph, without queueing again.
    write(writer, "d.md", "First thought.", "Second thought.", "Third thought.")
    listing = run_cli(capsys, "list")
    assert "the draft changed since it was queued (3 posts, was 2)" in listing.out
    assert "posts it as it is at its time" in listing.out
    row = listed(capsys)[thread_id]
    assert row["draft_changed"] is True and "3 posts, was 2" in row["draft_change"]
    show = run_cli(capsys, "show", str(thread_id))
    assert "3 posts, was 2" in show.out

    due_now(writer, thread_id)
    result = run_daemon_once(writer)
    assert result.returncode == 0, result.stderr
    assert [p.text for p in fake_x.posts()] == ["First thought.", "Second thought.",
                                                "Third thought."]
    done = shown(capsys, thread_id)
    assert done["status"] == "posted" and done["total"] == 3
    assert listed(capsys)[thread_id]["draft_changed"] is False


def test_an_edit_that_changes_the_text_only_is_described(capsys, writer):
    path = write(writer, "d.md", "One.", "Two.")
    thread_id = queue(capsys, path, "--at", "+1h")
    write(writer, "d.md", "One, better.", "Two.")
    assert "(1 of 2 posts edited)" in run_cli(capsys, "list").out
    assert listed(capsys)[thread_id]["draft_changed"] is True


def test_split_settings_given_at_queue_time_are_kept(capsys, writer, fake_x):
    path = write(writer, "d.md", "Alpha.", "Beta.")
    thread_id = queue(capsys, path, "--at", "+1h", "--numbering", "1/N")
    write(writer, "d.md", "Alpha.", "Beta.", "Gamma.")
    due_now(writer, thread_id)
    assert run_daemon_once(writer).returncode == 0
    assert [p.text for p in fake_x.posts()] == ["Alpha. 1/3", "Beta. 2/3", "Gamma. 3/3"]


@pytest.mark.parametrize("breakage", ["deleted", "missing image", "empty", "fifo"])
def test_draft_that_no_longer_passes_fails_with_reason_and_notification(
        capsys, writer, fake_x, breakage):
    notified = notify_to(writer)
    path = write(writer, "d.md", "One.", "Two.")
    thread_id = queue(capsys, path, "--at", "+1h")
    if breakage == "deleted":
        (writer / path).unlink()
        reason = "the draft is gone"
    elif breakage == "missing image":
        write(writer, "d.md", "One.", "Two.\n\n![a chart](chart.png)")
        reason = "chart.png"
    elif breakage == "empty":
        (writer / path).write_text("---\ntitle: x\n---\n", encoding="utf-8")
        reason = "nothing to post"
    else:  # a named pipe: reading it would block the daemon for ever
        (writer / path).unlink()
        os.mkfifo(writer / path)
        reason = "no longer a regular file"
    listing = run_cli(capsys, "list")
    assert "no longer passes its checks" in listing.out and reason in listing.out
    due_now(writer, thread_id)
    result = run_daemon_once(writer)
    assert result.returncode == 0, result.stderr
    assert fake_x.posts() == []
    thread = shown(capsys, thread_id)
    assert thread["status"] == "failed" and thread["posted"] == 0
    assert "nothing was posted" in thread["note"] and reason in thread["note"]
    assert f"threadbot retry {thread_id}" in thread["note"]
    assert notified.read_text().split("\n") == [f"{thread_id} failed", ""]


def test_a_half_posted_thread_never_changes_text(capsys, writer, fake_x):
    path = write(writer, "d.md", "Up first.", "Then this.", "And this.")
    fake_x.user_post_cap_24h = 1  # the first post goes up, then X's 24-hour cap
    assert run_cli(capsys, "post", path, "--yes").code == int(ExitCode.RATE_LIMITED)
    fake_x.user_post_cap_24h = None
    write(writer, "d.md", "Up first, edited.", "Then that.", "And that.", "And more.")
    assert run_cli(capsys, "retry", "1").code == 0
    from threadbot.store import Store

    with Store(writer / "config" / "threadbot.db") as store:
        store.set_account_limit("main", None, None)  # X's reset time has come
    assert "changed since it was queued" not in run_cli(capsys, "list").out
    assert run_daemon_once(writer).returncode == 0
    assert [p.text for p in fake_x.posts()] == ["Up first.", "Then this.", "And this."]
    assert shown(capsys, 1)["status"] == "posted"


# --------------------------------------------------------------- queue again keeps the time


def test_queue_again_keeps_the_time_unless_at_is_given(capsys, writer):
    # No slots in this config: the old hint "run threadbot queue again" failed here.
    path = write(writer, "d.md", "One.", "Two.")
    thread_id = queue(capsys, path, "--at", "+3h")
    first = shown(capsys, thread_id)["scheduled_at"]
    write(writer, "d.md", "One.", "Two.", "Three.")
    again = run_cli(capsys, "queue", path)
    assert again.code == 0, again.err
    assert f"Updated queued thread {thread_id} (3 posts" in again.out
    assert "the time it had" in again.out
    assert shown(capsys, thread_id)["scheduled_at"] == first
    moved = run_cli(capsys, "queue", path, "--at", "+5h")
    assert moved.code == 0 and "the time it had" not in moved.out
    assert shown(capsys, thread_id)["scheduled_at"] > first


def test_a_changed_at_in_the_draft_is_pointed_out_not_silently_ignored(capsys, writer):
    year = datetime.now(UTC).year + 1
    (writer / "drafts" / "d.md").write_text(
        f"---\ntitle: T\nat: {year}-03-03 10:00\n---\nHello.\n", encoding="utf-8")
    thread_id = queue(capsys, "drafts/d.md")
    due = shown(capsys, thread_id)["scheduled_at"]
    (writer / "drafts" / "d.md").write_text(
        f"---\ntitle: T\nat: {year}-04-04 10:00\n---\nHello.\n", encoding="utf-8")
    assert f"thread {thread_id} keeps its time" in run_cli(capsys, "list").out
    again = run_cli(capsys, "queue", "drafts/d.md")
    assert again.code == 0 and f"thread {thread_id} keeps its time" in again.out
    assert f"threadbot reschedule {thread_id} --at WHEN" in again.out
    assert shown(capsys, thread_id)["scheduled_at"] == due


# --------------------------------------------------------------- what queue and show say


def test_queue_prints_the_previews_warnings_with_count_and_time(capsys, writer):
    from PIL import Image

    Image.new("RGB", (8, 8)).save(writer / "drafts" / "pic.png")
    path = write(writer, "d.md", "Read https://example.com/a today.", "Look.\n\n![](pic.png)")
    result = run_cli(capsys, "queue", path, "--at", "tomorrow 09:00")
    assert result.code == 0, result.err
    assert "Queued thread 1 (2 posts, account 'main') for " in result.out
    assert "09:00" in result.out
    assert "a URL: on X's pay-per-use API" in result.out
    assert "has no alt text" in result.out
    again = json.loads(run_cli(capsys, "queue", path, "--json").out)
    assert any("has no alt text" in warning for warning in again["warnings"])


@pytest.mark.parametrize("written", ["9999-12-31 23:59:59", "9999-12-31T23:59:59-05:00",
                                     "0001-01-01 00:00:00+14:00", "yesterday"])
def test_front_matter_times_at_the_calendar_edges_point_at_the_line(capsys, writer, written):
    (writer / "drafts" / "d.md").write_text(f"---\ntitle: T\nat: {written}\n---\nHello.\n",
                                            encoding="utf-8")
    result = run_cli(capsys, "queue", "drafts/d.md")
    assert result.code == int(ExitCode.DRAFT), result.err
    assert "d.md:3: 'at':" in result.err and "Unexpected" not in result.err
    assert "ten years" in result.err or "in the past" in result.err


def test_show_gives_a_queued_threads_time_and_accounts(capsys, writer, fake_x):
    config = writer / "config" / "threadbot.yaml"
    config.write_text(config.read_text().replace(
        "accounts:\n", f"timezone: Europe/Berlin\naccounts:\n  other:\n    platform: x\n"
                       f"    api_base_url: {fake_x.base_url}\n"), encoding="utf-8")
    path = write(writer, "d.md", "One.", "Two.")
    result = run_cli(capsys, "queue", path, "--at", "+1d", "--account", "main",
                     "--account", "other")
    assert result.code == 0, result.err
    show = run_cli(capsys, "show", "1")
    assert show.code == 0
    assert "account main" in show.out
    assert "queued for " in show.out and "UTC" in show.out
    assert "CET" in show.out or "CEST" in show.out
    assert "also queued for account 'other' as thread 2" in show.out
    assert "draft drafts/d.md" in show.out


# --------------------------------------------------------------- cancel and bring back


def test_cancel_names_reschedule_and_bringing_back_keeps_the_time(capsys, writer):
    path = write(writer, "d.md", "One.", "Two.")
    thread_id = queue(capsys, path, "--at", "+2h")
    due = shown(capsys, thread_id)["scheduled_at"]
    cancelled = run_cli(capsys, "cancel", str(thread_id))
    assert cancelled.code == 0
    assert "retry" not in cancelled.out
    assert f"threadbot reschedule {thread_id} --at WHEN" in cancelled.out
    assert "threadbot queue drafts/d.md" in cancelled.out
    # Brought back: for its own time, not at once.
    back = run_cli(capsys, "retry", str(thread_id))
    assert back.code == 0 and "the time it had" in back.out and "reschedule" in back.out
    thread = shown(capsys, thread_id)
    assert thread["status"] == "queued" and thread["scheduled_at"] == due
    # Cancelled again, then queued again from the draft: the same time.
    assert run_cli(capsys, "cancel", str(thread_id)).code == 0
    requeued = run_cli(capsys, "queue", path)
    assert requeued.code == 0, requeued.err
    assert shown(capsys, thread_id)["scheduled_at"] == due


def test_a_cancelled_thread_past_its_time_is_not_posted_at_once(capsys, writer):
    path = write(writer, "d.md", "One.", "Two.")
    thread_id = queue(capsys, path, "--at", "+2h")
    assert run_cli(capsys, "cancel", str(thread_id)).code == 0
    due_now(writer, thread_id)
    back = run_cli(capsys, "retry", str(thread_id))
    assert back.code == int(ExitCode.WRONG_STATE)
    assert f"threadbot reschedule {thread_id} --at WHEN" in back.err
    assert f"threadbot retry {thread_id} --now" in back.err
    assert shown(capsys, thread_id)["status"] == "cancelled"
    now = run_cli(capsys, "retry", str(thread_id), "--now")
    assert now.code == 0 and shown(capsys, thread_id)["status"] == "queued"


def test_cancel_clears_a_stale_retry_note(capsys, writer, fake_x):
    path = write(writer, "d.md", "One.", "Two.")
    thread_id = queue(capsys, path, "--now")
    fake_x.fail_next(1000, status=503, method="POST", path="/2/tweets")
    assert run_daemon_once(writer).returncode == 0
    waiting = shown(capsys, thread_id)
    assert waiting["status"] == "queued" and "(retry 1 of 5)" in waiting["note"]
    assert run_cli(capsys, "cancel", str(thread_id)).code == 0
    thread = shown(capsys, thread_id)
    assert thread["status"] == "cancelled" and thread["note"] is None
    assert "Trying again" not in run_cli(capsys, "list").out
    assert "Trying again" not in run_cli(capsys, "show", str(thread_id)).out


# --------------------------------------------------------------- --again and forget


def test_again_warns_that_x_refuses_unchanged_text_and_forget_clears_it(capsys, writer,
                                                                        fake_x):
    path = write(writer, "d.md", "Same words.", "Same again.")
    assert run_cli(capsys, "post", path, "--yes").code == 0
    dry = run_cli(capsys, "post", path, "--again", "--dry-run")
    assert "X refuses a post whose text account 'main'" in dry.out
    # The preview refuses what posting refuses.
    assert dry.code == int(ExitCode.DRAFT) and "same text as post 1 of thread 1" in dry.out
    assert "X refuses" not in run_cli(capsys, "post", path, "--dry-run").out
    # Within X's window the ledger shows the repeat: refused before anything is sent
    # or recorded (issue #9), naming the posts and the way out.
    again = run_cli(capsys, "post", path, "--yes", "--again")
    assert again.code == int(ExitCode.DRAFT), again.err
    assert "has the same text as post 1 of thread 1" in again.err and "Reword" in again.err
    assert len(fake_x.posts()) == 2 and set(listed(capsys)) == {1}
    # Past the ledger's window X may still remember it: it refuses, and the thread that
    # failed with nothing posted can be forgotten.
    age_ledger(writer, days=31)
    again = run_cli(capsys, "post", path, "--yes", "--again")
    assert "X refuses a post whose text account 'main' already posted" in again.out
    assert "Edit the text" in again.out
    assert again.code == int(ExitCode.REJECTED)
    failed = listed(capsys)[2]
    assert failed["status"] == "failed" and failed["posted"] == 0
    # A thread with posts up is never forgotten; the message names delete.
    kept = run_cli(capsys, "forget", "1")
    assert kept.code == int(ExitCode.WRONG_STATE) and "threadbot delete 1" in kept.err
    gone = run_cli(capsys, "forget", "2")
    assert gone.code == 0 and "Forgot thread 2" in gone.out
    assert 2 not in listed(capsys) and 1 in listed(capsys)
    assert run_cli(capsys, "show", "2").code == int(ExitCode.NOT_FOUND)
    # Queueing it again warns the same way; a queued thread is cancelled before forgotten.
    queued = run_cli(capsys, "queue", path, "--again", "--at", "+1h")
    assert queued.code == 0 and "X refuses a post whose text" in queued.out
    queued_id = max(listed(capsys))
    waiting = run_cli(capsys, "forget", str(queued_id))
    assert waiting.code == int(ExitCode.WRONG_STATE)
    assert f"threadbot cancel {queued_id}" in waiting.err
    assert run_cli(capsys, "cancel", str(queued_id)).code == 0
    assert run_cli(capsys, "forget", str(queued_id)).code == 0
    assert (writer / path).exists()
    assert run_cli(capsys, "forget", "99").code == int(ExitCode.NOT_FOUND)


# --------------------------------------------------------------- times on the command line


@pytest.mark.parametrize("text", ["next friday 9am", "9am", "noon", "1 dec 09:00",
                                  "tomorrow 8:30", "dec 1st 9:30pm"])
def test_queue_reads_the_times_people_type(capsys, writer, text):
    result = run_cli(capsys, "queue", write(writer, "d.md", "One.", "Two."), "--at", text)
    assert result.code == 0, result.err
    when = datetime.fromisoformat(shown(capsys, 1)["scheduled_at"])
    assert datetime.now(UTC) < when < datetime.now(UTC) + timedelta(days=367)


@pytest.mark.parametrize(("text", "message"), [
    ("yesterday", "'yesterday' is in the past"),
    ("yesterday 9am", "that time is in the past"),
    ("9999-12-31T23:59:59-05:00", "more than ten years away"),
    ("0001-01-01T00:00:00+14:00", "in the past"),
    ("10000-01-01 00:00", "Cannot read the time"),
])
def test_queue_refuses_past_and_calendar_edge_times_clearly(capsys, writer, text, message):
    path = write(writer, "d.md", "One.", "Two.")
    for command in (["queue", path, "--at", text], ["reschedule", "1", "--at", text]):
        result = run_cli(capsys, *command)
        assert result.code == int(ExitCode.USAGE), result.err
        assert message in result.err and "Unexpected error" not in result.err
        assert "Did you mean" not in result.err
        assert run_cli(capsys, "queue", path, "--at", "+1h").code == 0


# --------------------------------------------------------------- preview, new and edit


def test_preview_takes_several_drafts(capsys, writer):
    first = write(writer, "a.md", "Alpha one.", "Alpha two.")
    second = write(writer, "b.md", "Beta.")
    result = run_cli(capsys, "preview", first, second)
    assert result.code == 0, result.err
    assert result.out.index("━━ drafts/a.md") < result.out.index("Alpha two.") \
        < result.out.index("━━ drafts/b.md") < result.out.index("Beta.")
    as_json = run_cli(capsys, "preview", first, second, "--json")
    rows = json.loads(as_json.out)
    assert [len(r["posts"]) for r in rows] == [2, 1]
    assert [r["source"] for r in rows] == [first, second]
    # A missing draft: the others are still shown, and the exit code tells.
    missing = run_cli(capsys, "preview", first, "drafts/gone.md", second)
    assert missing.code == int(ExitCode.DRAFT)
    assert "Beta." in missing.out and "gone.md" in missing.err
    assert run_cli(capsys, "preview", first, "drafts/gone.md", "--json").out == ""
    # No database or other file is created by a preview.
    assert not (writer / "config" / "threadbot.db").exists()


class _Terminal:
    """A person at a terminal, for the commands that open an editor there."""

    def __init__(self, monkeypatch, folder: Path):
        self.log = folder / "editor.log"
        editor = folder / "editor.py"
        editor.write_text(
            "import sys\n"
            f"open({str(self.log)!r}, 'a').write(sys.argv[1] + '\\n')\n"
            "with open(sys.argv[1], 'a', encoding='utf-8') as draft:\n"
            "    draft.write('\\n\\nWritten in the editor.\\n')\n", encoding="utf-8")
        monkeypatch.delenv("VISUAL", raising=False)
        monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
        monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
        monkeypatch.setattr(sys.stdout, "isatty", lambda: True)

    def opened(self) -> list[Path]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [Path(line).resolve() for line in lines]


def test_new_creates_a_draft_never_overwriting(capsys, writer):
    made = run_cli(capsys, "new", "Why I write: a note")
    assert made.code == 0, made.err
    path = writer / "drafts" / "why-i-write-a-note.md"
    assert "Created drafts/why-i-write-a-note.md" in made.out
    assert path.read_text().startswith('---\ntitle: "Why I write: a note"\n---\n')
    path.write_text(path.read_text() + "My own words.\n", encoding="utf-8")
    again = run_cli(capsys, "new", "Why I write: a note")
    assert again.code == 0 and "why-i-write-a-note-2.md" in again.out
    assert "My own words." in path.read_text()  # untouched
    preview = run_cli(capsys, "preview", "drafts/why-i-write-a-note.md", "--json")
    assert json.loads(preview.out)["title"] == "Why I write: a note"
    assert run_cli(capsys, "new", "  ").code == int(ExitCode.USAGE)
    assert run_cli(capsys, "new", "bad \udcff bytes").code == int(ExitCode.USAGE)
    assert run_cli(capsys, "new", "../../etc/passwd").code == 0
    assert (writer / "drafts" / "etc-passwd.md").exists()
    assert run_cli(capsys, "new", "Ça va ? 🌍").code == 0
    assert (writer / "drafts" / "ça-va.md").exists()


def test_new_opens_the_editor_in_a_terminal(capsys, writer, monkeypatch):
    terminal = _Terminal(monkeypatch, writer)
    made = run_cli(capsys, "new", "Morning pages")
    assert made.code == 0, made.err
    path = writer / "drafts" / "morning-pages.md"
    assert terminal.opened() == [path]
    assert "Written in the editor." in path.read_text()
    assert run_cli(capsys, "new", "Evening pages", "--no-edit").code == 0
    assert len(terminal.opened()) == 1


def test_edit_opens_a_queued_threads_draft_and_says_what_changed(capsys, writer,
                                                                 monkeypatch):
    path = write(writer, "d.md", "One.", "Two.")
    thread_id = queue(capsys, path, "--at", "+1h")
    plain = run_cli(capsys, "edit", str(thread_id))  # no terminal: the path, nothing opened
    assert plain.code == 0 and "drafts/d.md" in plain.out and "no terminal" in plain.out
    terminal = _Terminal(monkeypatch, writer)
    edited = run_cli(capsys, "edit", str(thread_id))
    assert edited.code == 0, edited.err
    assert terminal.opened() == [writer / path]
    assert "3 posts, was 2" in edited.out
    assert run_cli(capsys, "edit", "42").code == int(ExitCode.NOT_FOUND)


# ------------------------------------------------------------ never the same draft twice


def test_post_of_an_edited_queued_draft_posts_the_queued_thread_once(capsys, writer,
                                                                       fake_x):
    path = write(writer, "d.md", "A first thougth.", "A second thought.")
    thread_id = queue(capsys, path, "--at", "+1h")
    write(writer, "d.md", "A first thought.", "A second thought.")  # the typo fixed
    result = run_cli(capsys, "post", path, "--yes", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["id"] == thread_id  # the queued thread, not a new one
    assert [p.text for p in fake_x.posts()] == ["A first thought.", "A second thought."]
    assert set(listed(capsys)) == {thread_id}
    # Its time comes: the daemon finds nothing left to post.
    result = run_daemon_once(writer)
    assert result.returncode == 0, result.stderr
    assert len(fake_x.posts()) == 2


def test_a_queued_draft_edited_into_a_posted_text_is_not_posted_again(capsys, writer,
                                                                        fake_x):
    path = write(writer, "d.md", "Said once.", "And only once.")
    assert run_cli(capsys, "post", path, "--yes").code == 0
    other = write(writer, "e.md", "Something else.")
    thread_id = queue(capsys, other, "--at", "+1h")
    # The writer pastes the posted text into the queued draft.
    (writer / other).write_text((writer / path).read_text(encoding="utf-8"), encoding="utf-8")
    due_now(writer, thread_id)
    assert run_daemon_once(writer).returncode == 0
    assert [p.text for p in fake_x.posts()] == ["Said once.", "And only once."]
    thread = shown(capsys, thread_id)
    assert thread["status"] == "failed"
    assert "already posted" in (thread.get("note") or json.dumps(thread))
