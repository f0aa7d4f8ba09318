"""A writer's day, through the CLI: the gaps found walking it end to end (issue 10).

Each test is one thing a writer met: an editor that will not start, a failed thread's
note, a `retry` that could only fail again, a dry run of a draft already posted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from helpers import age_ledger, queued_id, run_cli, shown_json
from test_queue_edits import due_now, run_daemon_once
from threadbot.errors import ExitCode

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


queue = queued_id
shown = shown_json


def test_a_thread_failed_for_its_draft_names_forget_and_retry_waits_for_the_fix(
        capsys, writer, fake_x):
    path = write(writer, "gone.md", "One.", "Two.")
    thread_id = queue(capsys, path, "--at", "+1h")
    saved = (writer / path).read_text(encoding="utf-8")
    (writer / path).unlink()
    listing = run_cli(capsys, "list")
    assert f"`threadbot cancel {thread_id}` takes it out of the queue" in listing.out
    due_now(writer, thread_id)
    assert run_daemon_once(writer).returncode == 0
    failed = shown(capsys, thread_id)
    assert failed["status"] == "failed"
    # The note describes the failed thread: nothing about cancelling it, and the way
    # to clear it from the list.
    assert "threadbot cancel" not in failed["note"]
    assert f"`threadbot forget {thread_id}` removes it from the list" in failed["note"]
    told = run_cli(capsys, "show", str(thread_id)).out
    assert told.count("the draft is gone") == 1, told  # the note, not again as last error
    # Retrying while the draft is still gone would only fail again: refused, said why.
    retried = run_cli(capsys, "retry", str(thread_id))
    assert retried.code == int(ExitCode.DRAFT), retried.err
    assert "the draft is gone" in retried.err and "was not queued again" in retried.err
    assert shown(capsys, thread_id)["status"] == "failed"
    (writer / path).write_text(saved, encoding="utf-8")
    assert run_cli(capsys, "retry", str(thread_id)).code == 0
    assert shown(capsys, thread_id)["status"] == "queued"
    assert fake_x.posts() == []


def test_the_readme_writers_day_from_inside_drafts(capsys, writer, fake_x, monkeypatch):
    """The README's "A writer's day", run from drafts/: every command finds the writer's
    folder above, and the daemon posts the queued draft as edited after queueing."""
    drafts = writer / "drafts"
    monkeypatch.chdir(drafts)
    made = run_cli(capsys, "new", "A slow morning")
    assert made.code == 0 and "Created a-slow-morning.md." in made.out, made.err
    draft = drafts / "a-slow-morning.md"
    with draft.open("a", encoding="utf-8") as text:
        text.write("The kettle takes four minutes.\n")
    preview = run_cli(capsys, "preview", "a-slow-morning.md")
    assert preview.code == 0 and "The kettle takes four minutes." in preview.out
    queued = run_cli(capsys, "queue", "a-slow-morning.md", "--at", "tomorrow 9am")
    assert queued.code == 0, queued.err
    assert "Queued thread 1 (1 post, account 'main') for" in queued.out
    with draft.open("a", encoding="utf-8") as text:  # the writer edits the queued draft
        text.write("\n" + "Slow mornings are not lazy mornings. " * 8 + "\n")
    edit = run_cli(capsys, "edit", "1")
    assert edit.code == 0 and "a-slow-morning.md" in edit.out
    listing = run_cli(capsys, "list")
    assert "the draft changed since it was queued (2 posts, was 1)" in listing.out
    show = run_cli(capsys, "show", "1")
    assert "(2 posts, was 1)" in show.out
    assert "posts below are as queued; `threadbot preview a-slow-morning.md` shows" in show.out
    where = run_cli(capsys, "where")
    assert f"Writer's folder: {writer}" in where.out
    assert f"{writer / 'config' / 'threadbot.db'}" in where.out
    due_now(writer, 1)
    assert run_daemon_once(drafts).returncode == 0
    posted = [p.text for p in fake_x.posts()]
    assert len(posted) == 2 and posted[0].startswith("The kettle takes four minutes.")
    assert "Slow mornings" in posted[1]
    assert shown(capsys, 1)["status"] == "posted"
    # Nothing stray in drafts/: no record, no config, no keys file.
    assert sorted(p.name for p in drafts.iterdir()) == ["a-slow-morning.md"]


def test_a_queue_refused_for_its_time_creates_no_record(capsys, writer):
    path = write(writer, "d.md", "One.", "Two.")
    record = writer / "config" / "threadbot.db"
    no_time = run_cli(capsys, "queue", path)
    assert no_time.code == int(ExitCode.NO_TIME) and "--at WHEN" in no_time.err
    past = run_cli(capsys, "queue", path, "--at", "yesterday")
    assert past.code == int(ExitCode.USAGE) and "in the past" in past.err
    assert not record.exists()
    where = run_cli(capsys, "where")
    assert "not created yet" in where.out
    # Queued once with a time, the same draft queued again keeps it, slots or none.
    assert run_cli(capsys, "queue", path, "--at", "+2h").code == 0
    again = run_cli(capsys, "queue", path)
    assert again.code == 0 and "the time it had" in again.out, again.err


def test_a_dry_run_of_a_draft_already_posted_says_post_would_refuse_it(capsys, writer,
                                                                       fake_x):
    path = write(writer, "d.md", "Once.", "Only once.")
    assert run_cli(capsys, "post", path, "--yes").code == 0
    dry = run_cli(capsys, "post", path, "--dry-run")
    assert dry.code == 0, dry.err
    assert "already posted to account 'main' as thread 1" in dry.out
    assert "--again posts it anew" in dry.out
    refused = run_cli(capsys, "post", path, "--yes")  # and so it does
    assert refused.code == int(ExitCode.ALREADY_POSTED)
    again = run_cli(capsys, "post", path, "--again", "--dry-run")
    assert "refuses a post whose text account 'main' already posted" in again.out
    assert "threadbot post` refuses it" not in again.out
    assert len(fake_x.posts()) == 2


def test_post_of_a_queued_draft_says_what_posting_would_do_before_asking(capsys, writer,
                                                                         fake_x):
    path = write(writer, "d.md", "Queued.", "For later.")
    thread_id = queue(capsys, path, "--at", "+2h")
    asked = run_cli(capsys, "post", path)  # no terminal to answer the question
    assert asked.code == int(ExitCode.NO_TERMINAL)
    assert f"queued for account 'main' as thread {thread_id} for " in asked.err
    assert "posting it now posts that thread" in asked.err and ", in " in asked.err
    assert "it is posted now" not in asked.err  # it was not: nothing was done
    assert shown(capsys, thread_id)["status"] == "queued" and fake_x.posts() == []


def test_the_config_init_writes_tells_the_lookup_order_as_it_is(capsys, isolated):
    assert run_cli(capsys, "init", "folder").code == 0
    written = (isolated / "folder" / "config" / "threadbot.yaml").read_text(encoding="utf-8")
    assert "else in the nearest folder above" in written
    assert "from drafts/ too" in written


def test_resume_never_posts_a_queued_or_cancelled_thread_ahead_of_its_time(capsys, writer,
                                                                           fake_x):
    path = write(writer, "d.md", "Not yet.", "Tomorrow.")
    thread_id = queue(capsys, path, "--at", "+1d")
    early = run_cli(capsys, "resume", str(thread_id))
    assert early.code == int(ExitCode.WRONG_STATE)
    assert "nothing to resume" in early.err and "the daemon posts it at its time" in early.err
    assert f"`threadbot post {path}` posts it now, after asking" in early.err
    assert run_cli(capsys, "cancel", str(thread_id)).code == 0
    cancelled = run_cli(capsys, "resume", str(thread_id))
    assert cancelled.code == int(ExitCode.WRONG_STATE)
    assert f"`threadbot retry {thread_id}` queues it again" in cancelled.err
    assert fake_x.posts() == [] and shown(capsys, thread_id)["status"] == "cancelled"


def test_init_inside_a_writers_folder_refuses_to_hide_it(capsys, writer, monkeypatch):
    drafts = writer / "drafts"
    monkeypatch.chdir(drafts)
    refused = run_cli(capsys, "init")
    assert refused.code == int(ExitCode.USAGE)
    assert f"inside the writer's folder {writer}" in refused.err and "--inside" in refused.err
    assert sorted(p.name for p in drafts.iterdir()) == []  # nothing laid out here
    assert run_cli(capsys, "init", "nested").code == int(ExitCode.USAGE)
    where = run_cli(capsys, "where")
    assert f"Writer's folder: {writer}" in where.out  # still found from drafts/
    on_purpose = run_cli(capsys, "init", "nested", "--inside")
    assert on_purpose.code == 0 and (drafts / "nested" / "config" / "threadbot.yaml").is_file()
    monkeypatch.chdir(writer)
    assert run_cli(capsys, "init").code == 0  # the writer's folder itself: files kept


def test_list_gives_a_cancelled_thread_the_time_it_had_and_the_way_back(capsys, writer):
    path = write(writer, "d.md", "Later.", "Much later.")
    thread_id = queue(capsys, path, "--at", "2030-01-02 09:00")
    assert run_cli(capsys, "cancel", str(thread_id)).code == 0
    listing = run_cli(capsys, "list").out
    row = next(line for line in listing.splitlines() if "cancelled" in line)
    assert "Wed 02 Jan 09:00" in row
    assert f"`threadbot retry {thread_id}` brings it back for its time" in listing
    retried = run_cli(capsys, "retry", str(thread_id))
    assert retried.code == 0 and "the time it had" in retried.out
    assert "brings it back" not in run_cli(capsys, "list").out


def test_edit_of_a_thread_not_queued_says_what_the_edit_does(capsys, writer, fake_x,
                                                             monkeypatch):
    posted_path = write(writer, "up.md", "Up.", "Up too.")
    assert run_cli(capsys, "post", posted_path, "--yes").code == 0
    path = write(writer, "later.md", "Later.", "Much later.")
    later = queue(capsys, path, "--at", "+1d")
    assert run_cli(capsys, "cancel", str(later)).code == 0
    at_a_terminal(monkeypatch, f"{sys.executable} -c pass")
    posted = run_cli(capsys, "edit", "1")
    assert posted.code == 0, posted.err
    assert "with posts up: editing its draft changes nothing" in posted.out
    assert "as it was queued" not in posted.out  # it never was
    cancelled = run_cli(capsys, "edit", str(later))
    assert cancelled.code == 0, cancelled.err
    assert f"goes out if you bring it back (`threadbot retry {later}`)" in cancelled.out
    assert "changes nothing" not in cancelled.out


def test_bringing_a_thread_back_says_what_its_draft_now_does(capsys, writer):
    path = write(writer, "d.md", "Soon.", "Sooner.")
    thread_id = queue(capsys, path, "--at", "+1d")
    assert run_cli(capsys, "cancel", str(thread_id)).code == 0
    write(writer, "d.md", "Soon.", "Sooner.", "Soonest.")
    retried = run_cli(capsys, "retry", str(thread_id))
    assert retried.code == 0 and "(3 posts, was 2)" in retried.out
    (writer / path).unlink()
    moved = run_cli(capsys, "reschedule", str(thread_id), "--at", "+2d")
    assert moved.code == 0 and "the draft is gone" in moved.out


def test_retry_and_reschedule_of_a_settled_thread_say_where_it_stands(capsys, writer,
                                                                      fake_x):
    path = write(writer, "d.md", "Posted.", "Already.")
    assert run_cli(capsys, "post", path, "--yes").code == 0
    for args in (("retry", "1"), ("retry", "1", "--now"),
                 ("reschedule", "1", "--at", "+1h")):
        result = run_cli(capsys, *args)
        assert result.code == int(ExitCode.WRONG_STATE)
        assert "thread 1 is posted (http" in result.err and "nothing to" in result.err
        assert f"`threadbot post {path} --again`" in result.err
    queued_path = write(writer, "q.md", "Queued.", "Waiting.")
    thread_id = queue(capsys, queued_path, "--at", "+1d")
    waiting = run_cli(capsys, "retry", str(thread_id))
    assert waiting.code == int(ExitCode.WRONG_STATE)
    assert "is queued already, for " in waiting.err and "nothing to retry" in waiting.err
    assert f"`threadbot reschedule {thread_id} --at WHEN`" in waiting.err


def test_a_day_without_a_time_is_answered_with_that_day_and_a_time(capsys, writer):
    path = write(writer, "d.md", "When?", "Then.")
    for text, hint in (("2026-12-01", "e.g. '2026-12-01 09:00'"),
                       ("friday", "e.g. 'friday 09:00'"),
                       ("tomorrow at 9", "Write the time as 09:00 or 9am/9pm")):
        result = run_cli(capsys, "queue", path, "--at", text)
        assert result.code == int(ExitCode.USAGE) and hint in result.err, result.err


def test_a_notification_names_an_untitled_draft_by_its_path(capsys, writer, fake_x):
    out = writer / "titles.txt"
    command = f'printf "%s|" "$THREADBOT_TITLE" >> {out}'
    with (writer / "config" / "threadbot.yaml").open("a", encoding="utf-8") as config:
        config.write(f"daemon:\n  notify:\n    command: {json.dumps(command)}\n")
    (writer / "drafts" / "untitled.md").write_text("Words without a title.\n",
                                                   encoding="utf-8")
    thread_id = queue(capsys, "drafts/untitled.md", "--at", "+1h")
    (writer / "drafts" / "untitled.md").unlink()
    due_now(writer, thread_id)
    assert run_daemon_once(writer).returncode == 0
    assert shown(capsys, thread_id)["status"] == "failed"
    assert out.read_text(encoding="utf-8") == "drafts/untitled.md|"


def test_a_refused_thread_with_nothing_up_names_forget(capsys, writer, fake_x):
    path = write(writer, "d.md", "Same words.", "Same again.")
    assert run_cli(capsys, "post", path, "--yes").code == 0
    age_ledger(writer, days=31)  # past the record's window: X still refuses the text
    refused = run_cli(capsys, "post", path, "--yes", "--again")
    assert refused.code == int(ExitCode.REJECTED)
    assert "`threadbot forget 2` removes this thread" in refused.err
    assert run_cli(capsys, "forget", "2").code == 0


def test_cancel_of_a_posted_thread_names_delete(capsys, writer, fake_x):
    path = write(writer, "d.md", "Up.", "Up too.")
    assert run_cli(capsys, "post", path, "--yes").code == 0
    result = run_cli(capsys, "cancel", "1")
    assert result.code == int(ExitCode.WRONG_STATE)
    assert "nothing to cancel" in result.err and "`threadbot delete 1`" in result.err
