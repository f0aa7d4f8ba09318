"""Never a double post: claiming a draft for an account is one atomic step.

Several `python -m threadbot post` processes (and a daemon) are started at the same
instant from a file gate, against one fake X server, with and without X's own
duplicate check; every post must exist exactly once on the server, whatever the
interleaving. Also here: a post X calls a duplicate that this record never sent is
recorded as found, not as posted; and retries are announced on stderr.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import write_writer_folder
from helpers import run_cli
from threadbot.errors import AlreadyPostedError, ExitCode
from threadbot.store import (
    BusyError,
    PostStatus,
    StateError,
    Store,
    ThreadStatus,
    m001_initial,
    m002_queue,
    m003_platforms,
    process_owner,
)
from threadbot.testing.fake_x import FakeX

USER = "threadbot_test"

# A child that imports threadbot, says it is ready, waits at the gate (a file appearing),
# then runs `python -m threadbot ARGS` in-process: every child starts posting within a
# millisecond or so of the others, imports already paid for.
GATED = """
import os, runpy, sys, time
import threadbot.cli, threadbot.posting, threadbot.daemon
ready, gate, *args = sys.argv[1:]
open(ready, "w").close()
while not os.path.exists(gate):
    time.sleep(0.0005)
sys.argv = ["threadbot", *args]
runpy.run_module("threadbot", run_name="__main__")
"""


def child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("THREADBOT_")}


def write_draft(folder: Path, name: str, posts: list[str]) -> str:
    (folder / "drafts").mkdir(exist_ok=True)
    (folder / "drafts" / f"{name}.md").write_text(
        "---\nbreak: paragraph\n---\n" + "\n\n".join(posts) + "\n", encoding="utf-8")
    return f"drafts/{name}.md"


def run_together(folder: Path, commands: list[list[str]], timeout: float = 120
                 ) -> list[tuple[int, str, str]]:
    """Start every command (threadbot arguments) in ``folder``, release them at once
    from the gate, and return each one's (exit code, stdout, stderr)."""
    gate = folder / f"gate-{time.monotonic_ns()}"
    readies = [folder / f"{gate.name}-ready-{i}" for i in range(len(commands))]
    procs = [subprocess.Popen([sys.executable, "-c", GATED, str(ready), str(gate), *args],
                              cwd=folder, env=child_env(), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for ready, args in zip(readies, commands, strict=True)]
    try:
        deadline = time.monotonic() + timeout
        while not all(r.exists() for r in readies):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                pytest.fail("a child did not reach the gate: "
                            + " | ".join(p.communicate()[1] for p in procs
                                         if p.poll() is not None))
            time.sleep(0.01)
        gate.touch()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            results.append((proc.returncode, out, err))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def assert_clean(results: list[tuple[int, str, str]]) -> None:
    for code, out, err in results:
        assert "Traceback" not in out + err, err
        assert "Unexpected error" not in err, err
        assert code != ExitCode.UNEXPECTED, err


def assert_each_once(server: FakeX, texts: list[str]) -> None:
    """Each text is on the server exactly once, as one chain in order."""
    counts = Counter(p.text for p in server.posts(USER))
    assert {t: counts[t] for t in texts} == dict.fromkeys(texts, 1)
    posts = {p.text: p for p in server.posts(USER)}
    for parent, child in zip(texts, texts[1:], strict=False):
        assert posts[child].reply_to == posts[parent].id


# ------------------------------------------------------------------ many runs at once


@pytest.mark.slow
@pytest.mark.parametrize("dedup", [False, True], ids=["no-duplicate-check", "duplicate-check"])
def test_simultaneous_posts_of_one_draft_post_each_post_once(tmp_path, dedup):
    runs, rounds = 7, 3
    with FakeX.running(duplicate_window=24 * 3600 if dedup else 0,
                       user_post_cap_24h=None) as server:
        for round_ in range(rounds):
            folder = tmp_path / f"round-{round_}"
            folder.mkdir()
            write_writer_folder(folder, server.base_url, server.credentials())
            texts = [f"Round {round_}, post {i} of 4: one thought, sent once." for i in
                     range(1, 5)]
            draft = write_draft(folder, "race", texts)
            results = run_together(folder, [["post", draft, "--yes"]] * runs)
            assert_clean(results)
            assert_each_once(server, texts)
            codes = [code for code, _, _ in results]
            # One run posts it; each other is told plainly that another run has it.
            assert codes.count(0) == 1, results
            assert set(codes) <= {0, ExitCode.BUSY, ExitCode.ALREADY_POSTED}, results
            for code, _, err in results:
                if code == ExitCode.BUSY:
                    assert "another threadbot" in err and "Nothing was sent" in err, err
            with Store(folder / "config" / "threadbot.db") as store:
                threads = store.threads()
            assert len(threads) == 1
            assert threads[0].status is ThreadStatus.POSTED


@pytest.mark.slow
def test_daemon_and_post_of_the_same_queued_thread_post_it_once(capsys, tmp_path,
                                                                monkeypatch):
    with FakeX.running(duplicate_window=0, user_post_cap_24h=None) as server:
        for round_ in range(4):
            folder = tmp_path / f"round-{round_}"
            folder.mkdir()
            write_writer_folder(folder, server.base_url, server.credentials())
            texts = [f"Queued {round_}: point {i}, for the daemon or the writer." for i in
                     range(1, 4)]
            draft = write_draft(folder, "queued", texts)
            monkeypatch.chdir(folder)
            queued = run_cli(capsys, "queue", draft, "--now", "--json")
            assert queued.code == 0, queued.err
            thread_id = json.loads(queued.out)["id"]
            results = run_together(folder, [["daemon", "--once"], ["post", draft, "--yes"]])
            assert_clean(results)
            assert_each_once(server, texts)
            daemon_code, _, daemon_log = results[0]
            assert daemon_code == 0, daemon_log
            post_code, _, post_err = results[1]
            assert post_code in (0, ExitCode.BUSY, ExitCode.ALREADY_POSTED), post_err
            with Store(folder / "config" / "threadbot.db") as store:
                assert [t.id for t in store.threads()] == [thread_id]
                assert store.thread(thread_id).status is ThreadStatus.POSTED


@pytest.mark.slow
@pytest.mark.parametrize("dedup", [False, True], ids=["no-duplicate-check", "duplicate-check"])
def test_post_and_queue_of_one_draft_at_once_make_one_thread(capsys, tmp_path, monkeypatch,
                                                            dedup):
    """`post` and `queue` of the same draft started together: whichever records first
    holds the draft, the other is refused (busy or already posted), and after the
    daemon has run every post is on the server once."""
    with FakeX.running(duplicate_window=24 * 3600 if dedup else 0,
                       user_post_cap_24h=None) as server:
        for round_ in range(4):
            folder = tmp_path / f"round-{round_}"
            folder.mkdir()
            write_writer_folder(folder, server.base_url, server.credentials())
            texts = [f"Post or queue {round_}: point {i}, sent once." for i in range(1, 4)]
            draft = write_draft(folder, "both", texts)
            results = run_together(folder, [["post", draft, "--yes"],
                                            ["queue", draft, "--now"]])
            assert_clean(results)
            codes = [code for code, _, _ in results]
            assert set(codes) <= {0, ExitCode.BUSY, ExitCode.ALREADY_POSTED}, results
            assert codes.count(0) >= 1, results
            monkeypatch.chdir(folder)
            daemon = run_cli(capsys, "daemon", "--once")
            assert daemon.code == 0, daemon.err
            assert_each_once(server, texts)
            with Store(folder / "config" / "threadbot.db") as store:
                threads = store.threads()
            assert len(threads) == 1, [(t.id, t.status) for t in threads]
            assert threads[0].status is ThreadStatus.POSTED


def test_queue_refuses_a_thread_of_the_draft_recorded_since_it_looked(tmp_path):
    """`queue` checks the draft's threads, then records its own: a thread another run
    recorded in between (a `post` claiming it, or another `queue`) refuses the queued
    one in the recording transaction."""
    from datetime import UTC, datetime, timedelta

    kwargs = dict(draft_path="/d.md", content_hash="h1", title=None, account="main",
                  platform="mastodon", posts=[("one", []), ("two", [])])
    later = datetime.now(UTC) + timedelta(hours=1)
    with Store(tmp_path / "t.db") as queue, Store(tmp_path / "t.db") as post:
        seen = {t.id for t in queue.threads_for_draft("h1", "main")}
        posting = post.add_thread(**kwargs, claim_for=process_owner("cli"))
        with pytest.raises(BusyError) as refused:
            queue.add_thread(**kwargs, scheduled_at=later, seen=seen)
        # Being posted right now by a live run: busy, whether queue saw it or not.
        assert f"right now as thread {posting}" in refused.value.message
        with pytest.raises(BusyError):
            queue.add_thread(**kwargs, scheduled_at=later, seen=seen | {posting})
        post.set_thread_status(posting, ThreadStatus.POSTED)
        with pytest.raises(AlreadyPostedError) as refused:
            queue.add_thread(**kwargs, scheduled_at=later, seen=seen)
        assert "--again" in refused.value.message
        assert [t.id for t in queue.threads()] == [posting]
        # Seen before (queue's own checks decided about it), or with --again: recorded.
        queued = queue.add_thread(**kwargs, scheduled_at=later, seen=seen | {posting})
        # Two queues at once: the second is refused.
        with pytest.raises(BusyError) as refused:
            post.add_thread(**kwargs, scheduled_at=later, seen=seen | {posting})
        assert f"as thread {queued} (queued); nothing was queued" in refused.value.message
        queue.add_thread(**kwargs, scheduled_at=later, seen=seen, again=True)
        assert queue.thread(queued).status is ThreadStatus.QUEUED


# ------------------------------------------------------------------ the claim itself


def test_second_claim_of_a_draft_is_refused_while_the_first_lives(tmp_path):
    kwargs = dict(draft_path="/d.md", content_hash="h1", title=None, account="main",
                  platform="x", posts=[("one", []), ("two", [])])
    with Store(tmp_path / "t.db") as first, Store(tmp_path / "t.db") as second:
        thread_id = first.add_thread(**kwargs, claim_for=process_owner("cli"))
        assert first.thread(thread_id).status is ThreadStatus.POSTING
        for again in (False, True):
            with pytest.raises(BusyError) as refused:
                second.add_thread(**kwargs, claim_for=process_owner("other"), again=again)
            assert f"as thread {thread_id}" in refused.value.message
        # Another account, or another draft, is not held up.
        second.add_thread(**{**kwargs, "account": "alt"}, claim_for=process_owner("other"))
        second.add_thread(**{**kwargs, "content_hash": "h2"}, claim_for=process_owner("x"))
        # Once the first is posted: "already posted" without --again, a new thread with it.
        first.set_thread_status(thread_id, ThreadStatus.POSTED)
        with pytest.raises(AlreadyPostedError):
            second.add_thread(**kwargs, claim_for=process_owner("other"))
        again = second.add_thread(**kwargs, claim_for=process_owner("other"), again=True)
        # And that new thread, being posted, keeps an old thread of the draft (resumed)
        # from being posted beside it.
        first.set_thread_status(thread_id, ThreadStatus.PARTIAL)
        with pytest.raises(BusyError):
            first.claim(thread_id, process_owner("cli"))
        assert second.thread(again).status is ThreadStatus.POSTING


def test_one_account_taken_by_another_run_leaves_no_half_claim(capsys, isolated, fake_x):
    """Another run claims the draft on one of two accounts between `post`'s checks and
    its recording: the threads recorded for the other accounts are removed again (none
    is left claimed, nothing is sent). Seen by `post` itself, that account is reported
    busy (exit 14) and the other account's thread goes up."""
    from test_daemon import write_config
    from threadbot.config import load_config
    from threadbot.posting import prepare, record_plans
    from threadbot.publish import record

    fake_x.add_account("second")
    write_config(isolated, fake_x, {"main": USER, "alt": "second"})
    texts = ["Two accounts: first.", "Two accounts: second."]
    draft = write_draft(isolated, "two", texts)
    config = load_config(None)
    plans = prepare(config, draft, accounts=["main", "alt"])
    with Store(isolated / "config" / "threadbot.db") as store:
        taken = record(store, plans[1].thread, "alt", claim_for=process_owner("other"))
    with pytest.raises(BusyError) as refused:
        record_plans(config, plans)
    assert f"account 'alt' right now as thread {taken}" in refused.value.message
    with Store(isolated / "config" / "threadbot.db") as store:
        assert [t.id for t in store.threads()] == [taken]

    result = run_cli(capsys, "post", draft, "--account", "main", "--account", "alt", "--yes")
    assert result.code == ExitCode.BUSY, result.err
    assert f"thread {taken} is being posted right now by another threadbot" in result.out
    assert_each_once(fake_x, texts)  # main's thread
    assert fake_x.posts("second") == []


def dead_owner() -> str:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}:cli"


def test_a_claim_left_by_a_killed_run_does_not_block_the_draft(capsys, writer, fake_x):
    """A run killed after recording its thread leaves it `posting`; the next `post`
    of the draft finishes that thread (never a second one beside it)."""
    texts = ["Left behind: first.", "Left behind: second."]
    draft = write_draft(writer, "left", texts)
    from threadbot.config import load_config
    from threadbot.posting import prepare, record_plans

    config = load_config(None)
    [plan] = prepare(config, draft)
    [thread_id] = record_plans(config, [plan])
    with sqlite3.connect(writer / "config" / "threadbot.db") as db:
        db.execute("UPDATE threads SET claimed_by = ? WHERE id = ?", (dead_owner(), thread_id))
    db.close()
    result = run_cli(capsys, "post", draft, "--yes")
    assert result.code == 0, result.err
    # The note about the earlier thread is on stderr (stdout is the posts' record).
    assert f"as thread {thread_id} (0 of 2 posts are up)" in result.err
    assert_each_once(fake_x, texts)
    with Store(writer / "config" / "threadbot.db") as store:
        assert [t.id for t in store.threads()] == [thread_id]


def test_migration_keeps_one_posting_thread_per_draft_and_account(tmp_path):
    """A database from before the claim (two runs left the same draft `posting`) is
    upgraded: the newest keeps the claim, the other is left as a crash leaves it."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for migration in (m001_initial, m002_queue, m003_platforms):
        migration(db)
        db.execute("INSERT INTO migrations VALUES (?, '2026-01-01T00:00:00+00:00')",
                   (migration.__name__,))
    for thread_id, up in ((1, True), (2, False), (3, False)):
        db.execute("INSERT INTO threads (id, draft_path, content_hash, account, platform, "
                   "status, created_at, updated_at, claimed_by) VALUES (?, '/d.md', 'h', "
                   "'main', 'x', 'posting', '2026-01-01T00:00:00+00:00', "
                   "'2026-01-01T00:00:00+00:00', ?)", (thread_id, dead_owner()))
        db.execute("INSERT INTO posts (thread_id, position, text, status, attempts, "
                   "remote_id) VALUES (?, 1, 'one', ?, ?, ?)",
                   (thread_id, "posted" if up else "pending", int(up), "9" if up else None))
    db.commit()
    db.close()
    with Store(path) as store:
        statuses = {t.id: t.status for t in store.threads()}
        assert statuses[1] is ThreadStatus.PARTIAL
        assert statuses[2] is ThreadStatus.FAILED
        posts = store.thread(1).posts
        assert posts[0].maybe_sent and not posts[0].found
        assert not store.thread(2).posts[0].maybe_sent
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT status FROM threads WHERE id = 3").fetchone()[0] == "posting"
    with pytest.raises(sqlite3.IntegrityError):
        raw.execute("UPDATE threads SET status = 'posting' WHERE id = 2")
    raw.close()


# ------------------------------------------------------------------ found, not posted by us


def post_elsewhere(capsys, folder: Path, server: FakeX, text: str) -> None:
    """The account posts ``text`` from another machine (another folder and database)."""
    folder.mkdir()
    write_writer_folder(folder, server.base_url, server.credentials())
    write_draft(folder, "elsewhere", [text])
    here = Path.cwd()
    os.chdir(folder)
    try:
        assert run_cli(capsys, "post", "drafts/elsewhere.md", "--yes").code == 0
    finally:
        os.chdir(here)


def test_duplicate_text_already_on_x_is_recorded_as_found_not_posted(capsys, tmp_path,
                                                                     isolated, fake_x):
    """X refuses post 1 as a duplicate: the account posted that text (from another
    machine, another database) a minute ago. threadbot says so, records the post as
    found (not posted by it), and the thread goes on from it."""
    texts = ["The same opening line, posted elsewhere first.", "Then the second thought.",
             "And the third."]
    post_elsewhere(capsys, tmp_path / "elsewhere", fake_x, texts[0])
    [before] = fake_x.posts(USER)
    write_writer_folder(isolated, fake_x.base_url, fake_x.credentials())
    draft = write_draft(isolated, "thread", texts)
    result = run_cli(capsys, "post", draft, "--yes")
    assert result.code == 0, result.err
    first = next(line for line in result.out.splitlines() if line.startswith("[1/3]"))
    stamp = before.created_at.strftime("%Y-%m-%d %H:%M:%S")
    assert (f"X already has this text from this account (@{USER}), posted at {stamp} UTC"
            in first)
    assert "threadbot did not send it" in first
    assert not first.startswith("[1/3] posted")
    assert [line.split("]")[1].split()[0] for line in result.out.splitlines()
            if line.startswith(("[2/3]", "[3/3]"))] == ["posted", "posted"]

    assert [p.text for p in fake_x.posts(USER)] == texts  # one of each, one chain
    assert_each_once(fake_x, texts)
    shown = json.loads(run_cli(capsys, "show", "1", "--json").out)
    assert [p["found"] for p in shown["posts"]] == [True, False, False]
    text = run_cli(capsys, "show", "1").out
    assert "[1] found (was already up; not sent by threadbot)" in text
    assert "[2] posted" in text
    assert shown["posts"][0]["remote_id"] == before.id
    with Store(isolated / "config" / "threadbot.db") as store:
        post = store.thread(1).posts[0]
    assert post.status is PostStatus.POSTED and post.found
    assert abs((post.posted_at - before.created_at).total_seconds()) < 0.01


def test_duplicate_of_a_post_this_record_may_have_sent_is_ours(capsys, tmp_path, isolated,
                                                                fake_x):
    """The other side: an earlier request of this record for post 1 may have reached X
    (its answer was lost, and the search then missed it); X now calls the text a
    duplicate and it is found in place: that post is taken as ours, recorded as posted."""
    texts = ["Ours: first, its answer lost.", "Ours: second."]
    post_elsewhere(capsys, tmp_path / "standin", fake_x, texts[0])
    write_writer_folder(isolated, fake_x.base_url, fake_x.credentials())
    draft = write_draft(isolated, "ours", texts)
    from threadbot.config import load_config
    from threadbot.posting import prepare, record_plans

    config = load_config(None)
    [thread_id] = record_plans(config, prepare(config, draft))
    with Store(isolated / "config" / "threadbot.db") as store:
        first = store.thread(thread_id).posts[0]
        store.mark_sending(first.id)
        store.mark_maybe_sent(first.id, "no answer within 5 seconds")
        store.mark_not_sent(first.id, "no answer within 5 seconds; not found on X")
    result = run_cli(capsys, "resume", str(thread_id))
    assert result.code == 0, result.err
    assert "already has this text" not in result.out
    assert result.out.startswith("[1/2] posted"), result.out
    assert_each_once(fake_x, texts)
    shown = json.loads(run_cli(capsys, "show", str(thread_id), "--json").out)
    assert [p["found"] for p in shown["posts"]] == [False, False]


# ------------------------------------------------------------------ progress while retrying


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_unreachable_platform_shows_each_retry_on_stderr(capsys, isolated, fake_x, as_json):
    port = closed_port()
    write_writer_folder(isolated, f"http://127.0.0.1:{port}", fake_x.credentials(),
                        posting="  pause_seconds: 0\n  backoff_seconds: 0.01\n"
                                "  retries: 3\n  timeout_seconds: 5\n")
    draft = write_draft(isolated, "nowhere", ["Into the void.", "Still nothing."])
    result = run_cli(capsys, "post", draft, "--yes", *(["--json"] if as_json else []))
    assert result.code == ExitCode.PLATFORM, result.err
    retries = [line for line in result.err.splitlines() if "trying again in" in line]
    assert len(retries) == 2, result.err
    for line, n in zip(retries, (2, 3), strict=True):
        assert line.startswith(f"Could not reach X at http://127.0.0.1:{port} "), line
        assert "connection was refused" in line
        assert line.endswith(f"({n} of 3)…"), line
    assert "trying again" not in result.out
    if as_json:  # stdout: one whole JSON document, or nothing
        assert result.out.strip() == "" or json.loads(result.out)


def test_a_retried_post_says_which_post_and_try_on_stderr(capsys, writer, fake_x):
    texts = ["Retried: first.", "Retried: second, after a 503.", "Retried: third."]
    draft = write_draft(writer, "retried", texts)
    fake_x.fail_next(1, status=503, method="POST", path="/2/tweets")
    result = run_cli(capsys, "post", draft, "--yes", "--json")
    assert result.code == 0, result.err
    [line] = [line for line in result.err.splitlines() if "trying again in" in line]
    assert line.startswith("[1/3] ") and line.endswith("(2 of 4)…"), line
    assert "503" in line
    assert json.loads(result.out)["status"] == "posted"
    assert_each_once(fake_x, texts)


# ------------------------------------------------------------------ the claim's invariant

OWNERS = [process_owner("cli"), process_owner("daemon"), process_owner("other")]
KEYS = [("h1", "main"), ("h1", "alt"), ("h2", "main")]

operation = st.one_of(
    st.tuples(st.just("add"), st.integers(0, 2), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("claim"), st.integers(0, 3), st.integers(0, 30), st.booleans()),
    st.tuples(st.just("finish"), st.integers(0, 30),
              st.sampled_from([ThreadStatus.POSTED, ThreadStatus.PARTIAL,
                               ThreadStatus.FAILED, ThreadStatus.DELETED])),
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, max_size=25))
def test_claims_in_any_order_never_let_two_live_runs_post_one_draft(tmp_path, ops):
    """Whatever the order of new threads, claims and endings, by live runs and by runs
    that died: a draft is never being posted by two threads on one account, a new
    thread without --again is recorded only when the draft had none, and a claim
    succeeds only when no other live run posts the draft to the account."""
    path = tmp_path / f"prop-{time.monotonic_ns()}.db"
    owners = [*OWNERS, dead_owner()]  # the last one's process is gone
    with Store(path) as store:
        for op in ops:
            before = store.threads()

            def others_live(key, owner, but=None, before=before):
                return [t for t in before if (t.content_hash, t.account) == key
                        and t.id != but and t.status is ThreadStatus.POSTING
                        and t.claimed_by != owner]  # POSTING as read: holder alive

            try:
                if op[0] == "add":
                    _, key_index, owner_index, again = op
                    key, owner = KEYS[key_index], owners[owner_index]
                    store.add_thread(draft_path="/d.md", content_hash=key[0], title=None,
                                     account=key[1], platform="x", posts=[("one", [])],
                                     claim_for=owner, again=again)
                    assert not others_live(key, owner)
                    if not again:
                        assert not [t for t in before if (t.content_hash, t.account) == key
                                    and t.status is not ThreadStatus.DELETED]
                elif op[0] == "claim" and before:
                    _, owner_index, pick, posted_ok = op
                    thread = before[pick % len(before)]
                    owner = owners[owner_index]
                    store.claim(thread.id, owner, posted_ok=posted_ok)
                    key = (thread.content_hash, thread.account)
                    assert not others_live(key, owner, but=thread.id)
                    if thread.status is ThreadStatus.POSTING:
                        assert thread.claimed_by == owner
                elif op[0] == "finish" and before:
                    _, pick, status = op
                    store.set_thread_status(before[pick % len(before)].id, status)
            except (BusyError, AlreadyPostedError, StateError):
                pass
            raw = Counter((row[0], row[1]) for row in store.db.execute(
                "SELECT content_hash, account FROM threads WHERE status = 'posting'"))
            assert all(count == 1 for count in raw.values()), raw
