"""Queue commands through the CLI: times, validation at queue time, updates, states."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from helpers import age_ledger, run_cli
from threadbot.errors import ExitCode

DRAFT = "---\ntitle: Queued\nbreak: paragraph\n---\nFirst thought.\n\nSecond thought.\n"


def draft(folder, name: str = "d.md", text: str = DRAFT) -> str:
    (folder / "drafts" / name).write_text(text, encoding="utf-8")
    return f"drafts/{name}"


def shown(capsys, thread_id: int) -> dict:
    return json.loads(run_cli(capsys, "show", str(thread_id), "--json").out)


def scheduled(capsys, thread_id: int) -> datetime:
    """The thread's time, from the show --json output."""
    return datetime.fromisoformat(shown(capsys, thread_id)["scheduled_at"])


def test_queue_relative_time_confirms_in_both_zones(capsys, writer):
    (writer / "config" / "threadbot.yaml").open("a").write("timezone: Europe/Berlin\n")
    before = datetime.now(UTC)
    result = run_cli(capsys, "queue", draft(writer), "--at", "+2h")
    assert result.code == 0, result.err
    assert "Queued thread 1 (2 posts" in result.out
    assert "UTC" in result.out and ("CET" in result.out or "CEST" in result.out)
    assert "in 2 hours" in result.out or "in 1 hour 59 minutes" in result.out
    when = scheduled(capsys, 1)
    assert timedelta(hours=2) - timedelta(seconds=5) <= when - before <= timedelta(hours=2,
                                                                                   seconds=5)
    listed = json.loads(run_cli(capsys, "list", "--json").out)
    assert listed[0]["status"] == "queued" and listed[0]["draft_changed"] is False


def test_local_time_without_offset_uses_configured_zone(capsys, writer):
    (writer / "config" / "threadbot.yaml").open("a").write("timezone: America/New_York\n")
    next_year = datetime.now(UTC).year + 1
    result = run_cli(capsys, "queue", draft(writer), "--at", f"{next_year}-07-01 09:00")
    assert result.code == 0, result.err
    assert scheduled(capsys, 1) == datetime(next_year, 7, 1, 13, 0, tzinfo=UTC)  # EDT = UTC-4
    result = run_cli(capsys, "reschedule", "1", "--at", f"{next_year}-01-15 09:00")
    assert result.code == 0, result.err
    assert scheduled(capsys, 1) == datetime(next_year, 1, 15, 14, 0, tzinfo=UTC)  # EST = UTC-5


def test_past_time_refused_unless_now(capsys, writer):
    result = run_cli(capsys, "queue", draft(writer), "--at", "2020-01-01 09:00")
    assert result.code == int(ExitCode.USAGE)
    assert "in the past" in result.err and "--now" in result.err
    assert json.loads(run_cli(capsys, "list", "--json").out) == []
    now = run_cli(capsys, "queue", draft(writer), "--now")
    assert now.code == 0, now.err
    assert abs(scheduled(capsys, 1) - datetime.now(UTC)) < timedelta(seconds=10)


def test_unreadable_time(capsys, writer):
    result = run_cli(capsys, "queue", draft(writer), "--at", "tomorow 9")
    assert result.code == int(ExitCode.USAGE)
    assert "tomorow" in result.err and "Traceback" not in result.err


def test_front_matter_time_then_next_free_slot(capsys, writer):
    config = writer / "config" / "threadbot.yaml"
    config.write_text(config.read_text().replace(
        "    platform: x\n", '    platform: x\n    slots: ["mon-sun 09:00"]\n'))
    year = datetime.now(UTC).year + 1
    with_time = DRAFT.replace("title: Queued\n", f"title: Queued\nat: {year}-03-03 10:00\n")
    assert run_cli(capsys, "queue", draft(writer, "a.md", with_time)).code == 0
    assert scheduled(capsys, 1).year == year
    # No time anywhere: the next free slot, one thread per slot.
    assert run_cli(capsys, "queue", draft(writer, "b.md")).code == 0
    assert run_cli(capsys, "queue", draft(writer, "c.md", DRAFT.replace("First", "1st"))).code == 0
    first, second = scheduled(capsys, 2), scheduled(capsys, 3)
    assert second - first == timedelta(days=1)
    slots = run_cli(capsys, "slots", "--count", "2")
    assert slots.code == 0 and "09:00" in slots.out
    assert first.strftime("%-d %b") not in slots.out.splitlines()[1]  # taken slots skipped


def test_no_time_and_no_slots_says_what_to_do(capsys, writer):
    result = run_cli(capsys, "queue", draft(writer))
    assert result.code == int(ExitCode.NO_TIME)
    assert "--at" in result.err and "slots" in result.err


def test_queueing_again_updates_the_entry_and_changes_are_flagged(capsys, writer):
    path = draft(writer)
    assert run_cli(capsys, "queue", path, "--at", "+1h").code == 0
    (writer / path).write_text(DRAFT.replace("Second", "Another"), encoding="utf-8")
    listed = run_cli(capsys, "list")
    assert "the draft changed since it was queued" in listed.out
    assert json.loads(run_cli(capsys, "list", "--json").out)[0]["draft_changed"] is True
    again = run_cli(capsys, "queue", path, "--at", "+3h")
    assert again.code == 0 and "Updated queued thread 1" in again.out
    rows = json.loads(run_cli(capsys, "list", "--json").out)
    assert len(rows) == 1 and rows[0]["draft_changed"] is False
    assert [p["text"] for p in shown(capsys, 1)["posts"]] == ["First thought.",
                                                              "Another thought."]


def test_validation_happens_at_queue_time(capsys, writer):
    missing_image = draft(writer, "img.md", "Look.\n\n![gone](gone.png)\n")
    result = run_cli(capsys, "queue", missing_image, "--at", "+1h")
    assert result.code == int(ExitCode.MEDIA) and "gone.png" in result.err
    unknown = run_cli(capsys, "queue", draft(writer), "--at", "+1h", "--account", "mian")
    assert unknown.code == int(ExitCode.CONFIG) and "Did you mean 'main'?" in unknown.err
    (writer / "config" / ".env").write_text("")
    no_keys = run_cli(capsys, "queue", draft(writer), "--at", "+1h")
    assert no_keys.code == int(ExitCode.AUTH) and "X_API_KEY" in no_keys.err
    assert json.loads(run_cli(capsys, "list", "--json").out) == []


def test_cancel_reschedule_retry(capsys, writer):
    assert run_cli(capsys, "queue", draft(writer), "--at", "+1h").code == 0
    assert run_cli(capsys, "cancel", "1").code == 0
    assert shown(capsys, 1)["status"] == "cancelled"
    assert run_cli(capsys, "cancel", "1").code == int(ExitCode.WRONG_STATE)
    assert run_cli(capsys, "reschedule", "1", "--at", "+2h").code == 0
    assert shown(capsys, 1)["status"] == "queued"
    assert run_cli(capsys, "reschedule", "1", "--at", "2001-01-01 00:00").code == int(
        ExitCode.USAGE)
    # queued: nothing to retry
    assert run_cli(capsys, "retry", "1").code == int(ExitCode.WRONG_STATE)
    assert run_cli(capsys, "cancel", "7").code == int(ExitCode.NOT_FOUND)


def test_daemon_once_posts_what_is_due(capsys, writer, fake_x):
    assert run_cli(capsys, "queue", draft(writer), "--now").code == 0
    assert run_cli(capsys, "queue", draft(writer, "later.md", DRAFT.replace("First", "Later")),
                   "--at", "+1h").code == 0
    result = run_cli(capsys, "daemon", "--once")
    assert result.code == 0, result.err
    rows = {t["id"]: t for t in json.loads(run_cli(capsys, "list", "--json").out)}
    assert rows[1]["status"] == "posted" and rows[2]["status"] == "queued"
    assert [p.text for p in fake_x.posts()] == ["First thought.", "Second thought."]


def test_queue_refuses_a_posted_draft_unless_again(capsys, writer, fake_x):
    path = draft(writer)
    assert run_cli(capsys, "post", path, "--yes").code == 0
    result = run_cli(capsys, "queue", path, "--at", "+1h")
    assert result.code == int(ExitCode.ALREADY_POSTED)
    assert "--again" in result.err and f"{fake_x.base_url}/threadbot_test/status/" in result.err
    # Again on purpose, but X would refuse the same text within a month: nothing queued.
    refused = run_cli(capsys, "queue", path, "--at", "+1h", "--again")
    assert refused.code == int(ExitCode.DRAFT)
    assert "same text as post 1 of thread 1" in refused.err
    assert len(json.loads(run_cli(capsys, "list", "--json").out)) == 1
    # A month later, it is accepted.
    age_ledger(writer, days=31)
    assert run_cli(capsys, "queue", path, "--at", "+1h", "--again").code == 0


def test_drafts_from_stdin_never_replace_each_other(capsys, writer):
    first = run_cli(capsys, "queue", "-", "--at", "+1h", stdin=b"One draft.\n")
    second = run_cli(capsys, "queue", "-", "--at", "+2h", stdin=b"Another draft.\n")
    assert first.code == second.code == 0
    assert "Queued thread 2" in second.out
    assert len(json.loads(run_cli(capsys, "list", "--json").out)) == 2


def test_retried_partial_thread_is_back_in_the_daemons_queue(capsys, writer, fake_x):
    from threadbot.store import Store

    fake_x.user_post_cap_24h = 1
    assert run_cli(capsys, "post", draft(writer), "--yes").code == int(ExitCode.RATE_LIMITED)
    fake_x.user_post_cap_24h = None
    assert run_cli(capsys, "retry", "1").code == 0
    with Store(writer / "config" / "threadbot.db") as store:
        assert [t.id for t in store.queued()] == [1]  # a running daemon's sync sees it
        # X said the 24-hour allowance was used up; pretend its reset time has come.
        store.set_account_limit("main", None, None)
    assert run_cli(capsys, "daemon", "--once").code == 0
    assert shown(capsys, 1)["status"] == "posted" and len(fake_x.posts()) == 2


def test_front_matter_account_and_time_errors_point_at_the_draft(capsys, writer):
    bad_account = draft(writer, "a.md", "---\naccount: nobody\n---\nHello.\n")
    result = run_cli(capsys, "queue", bad_account, "--at", "+1h")
    assert result.code == int(ExitCode.DRAFT) and "a.md:2:" in result.err
    assert "nobody" in result.err
    bad_time = draft(writer, "t.md", "---\nat: whenever\n---\nHello.\n")
    result = run_cli(capsys, "queue", bad_time)
    assert result.code == int(ExitCode.DRAFT) and "t.md:2:" in result.err
    # A list of accounts is fine (one thread each); a list holding a non-name is not.
    listed = draft(writer, "l.md", "---\naccount: [main]\n---\nHello.\n")
    assert run_cli(capsys, "preview", listed).code == 0
    listed = draft(writer, "m.md", "---\naccount: [main, 3]\n---\nHello.\n")
    result = run_cli(capsys, "preview", listed)
    assert result.code == int(ExitCode.DRAFT) and "m.md:2:" in result.err


def test_a_past_at_in_the_draft_is_a_draft_error_at_its_line(capsys, writer):
    path = writer / "drafts" / "old.md"
    path.write_text("---\ntitle: Old\nat: 2020-01-01 09:00\n---\nHello.\n", encoding="utf-8")
    result = run_cli(capsys, "queue", "drafts/old.md")
    assert result.code == int(ExitCode.DRAFT), result.err
    assert "old.md:3: 'at:' is in the past" in result.err and "--now" in result.err
    assert json.loads(run_cli(capsys, "list", "--json").out) == []
