"""The daemon end to end: `threadbot daemon` runs as a real process (``python -m
threadbot daemon``) in a writer's folder, against a fake X server in this process.

Threads are queued from this process (the CLI in-process, or the library), which is
"another process" as far as the daemon is concerned. Every daemon started here is
killed at the end of its test if it is still running, and every wait has a timeout,
so a hang fails the test instead of blocking the run.

Where a post sent twice must be seen rather than refused, the fake server keeps no
duplicate window (``duplicate_window = 0``).
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from helpers import run_cli
from test_notify import live_in_group
from threadbot.config import load_config
from threadbot.errors import ExitCode
from threadbot.schedule import queue_draft
from threadbot.store import PostStatus, Store, StoredThread, ThreadStatus
from threadbot.testing.fake_x import FakeX
from threadbot.testing.slow_webhook import SlowWebhook
from threadbot.when import describe

DAEMON = [sys.executable, "-m", "threadbot", "daemon"]
FAST_POSTING = "  pause_seconds: 0\n  backoff_seconds: 0.01\n  timeout_seconds: 5\n"
USER = "threadbot_test"  # the fake server's first account
# Seconds a thread's first post may reach X after its time. Never early is the rule
# checked exactly; lateness depends on the machine's load (CI runs the suite on every
# core), so this bound only catches a thread left behind (e.g. for a later sync or a
# stalled worker). The delays are printed for the record, not timed here.
ON_TIME = 10.0

# The on-time delays seen (thread's time -> first post at the server), for the report.
DELAYS: list[float] = []


# --------------------------------------------------------------------------- helpers


def child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("THREADBOT_")}


def write_config(folder: Path, server: FakeX, accounts: dict[str, str] | None = None, *,
                 daemon: str = "", posting: str = FAST_POSTING) -> None:
    """A writer's folder whose accounts ({account name: fake username}) post to
    ``server``; each account has its own variables in config/.env."""
    accounts = accounts or {"main": USER}
    (folder / "config").mkdir(exist_ok=True)
    (folder / "drafts").mkdir(exist_ok=True)
    yaml = ["timezone: UTC", "accounts:"]
    env = []
    for name, username in accounts.items():
        prefix = name.upper()
        creds = server.credentials(username)
        yaml += [f"  {name}:", "    platform: x", f"    api_base_url: {server.base_url}",
                 "    env:", f"      api_key: {prefix}_KEY",
                 f"      api_secret: {prefix}_SECRET",
                 f"      access_token: {prefix}_TOKEN",
                 f"      access_token_secret: {prefix}_TOKEN_SECRET"]
        env += [f"{prefix}_KEY={creds['consumer_key']}",
                f"{prefix}_SECRET={creds['consumer_secret']}",
                f"{prefix}_TOKEN={creds['access_token']}",
                f"{prefix}_TOKEN_SECRET={creds['access_token_secret']}"]
    yaml += ["posting:", posting.rstrip("\n"), "daemon:", "  sync_seconds: 1"]
    if daemon:
        yaml.append(daemon.rstrip("\n"))
    (folder / "config" / "threadbot.yaml").write_text("\n".join(yaml) + "\n", encoding="utf-8")
    (folder / "config" / ".env").write_text("\n".join(env) + "\n", encoding="utf-8")


def write_draft(folder: Path, name: str, posts: list[str], title: str | None = None) -> str:
    """A draft whose paragraphs are its posts; returns its path (relative)."""
    head = f"---\nbreak: paragraph\ntitle: {title or name}\n---\n"
    (folder / "drafts" / f"{name}.md").write_text(head + "\n\n".join(posts) + "\n",
                                                  encoding="utf-8")
    return f"drafts/{name}.md"


def texts(prefix: str, count: int) -> list[str]:
    return [f"{prefix}: point {i} of {count}, a short thought of its own." for i in
            range(1, count + 1)]


def db_path(folder: Path) -> Path:
    return folder / "config" / "threadbot.db"


def stored(folder: Path, thread_id: int) -> StoredThread:
    with Store(db_path(folder)) as store:
        return store.thread(thread_id)


def all_threads(folder: Path) -> list[StoredThread]:
    with Store(db_path(folder)) as store:
        return store.threads()


def queue(capsys, path: str, *args: str) -> int:
    """`threadbot queue PATH ARGS` (in this process); returns the thread id."""
    result = run_cli(capsys, "queue", path, "--json", *args)
    assert result.code == 0, result.err
    return json.loads(result.out)["id"]


def set_time(folder: Path, thread_id: int, when: datetime) -> None:
    """Move a thread's time (e.g. into the past, as if no daemon had run then). It
    was queued a day before that time, as `queue` would have recorded it (a thread is
    never queued for a time already past, unless for right away)."""
    queued_at = (when - timedelta(days=1)).astimezone(UTC).isoformat()
    with sqlite3.connect(db_path(folder)) as db:
        db.execute("UPDATE threads SET scheduled_at = ?, created_at = ?, updated_at = ? "
                   "WHERE id = ?", (when.astimezone(UTC).isoformat(timespec="seconds"),
                                    queued_at, queued_at, thread_id))
    db.close()


def wait_for(condition: Callable[[], object], timeout: float, what: str,
             proc: Daemon | None = None, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if proc is not None and proc.popen.poll() is not None:
            pytest.fail(f"the daemon exited ({proc.popen.returncode}) while waiting for "
                        f"{what}:\n{proc.log()}")
        if time.monotonic() > deadline:
            log = proc.log() if proc is not None else ""
            pytest.fail(f"timed out after {timeout} s waiting for {what}\n{log}")
        time.sleep(interval)


def assert_one_chain(server: FakeX, user: str, expected: list[str]) -> None:
    """The user's posts are exactly one thread: these texts, in order, each a reply
    to the one before, no duplicates."""
    posts = server.posts(user)
    assert [p.text for p in posts] == expected
    assert posts[0].reply_to is None
    for parent, post in zip(posts, posts[1:], strict=False):
        assert post.reply_to == parent.id, (parent, post)


def assert_record_agrees(server: FakeX, thread: StoredThread) -> None:
    """Every post the record says is up is on the server, with that id and text."""
    for post in thread.posts:
        if post.status is PostStatus.POSTED:
            assert server.post(post.remote_id).text == post.text


def first_post_request(server: FakeX, text: str):
    for request in server.requests:
        if (request.method == "POST" and request.path == "/2/tweets" and request.status == 201
                and isinstance(request.json, dict) and request.json.get("text") == text):
            return request
    return None


def check_on_time(server: FakeX, thread: StoredThread) -> float:
    """The first post reached X at the thread's time, not before, at most ON_TIME late."""
    request = first_post_request(server, thread.posts[0].text)
    assert request is not None
    delay = request.at - thread.scheduled_at.timestamp()
    DELAYS.append(delay)
    print(f"thread {thread.id}: first post {delay:.3f} s after its time", file=sys.__stderr__)
    assert 0 <= delay <= ON_TIME, f"thread {thread.id}: first post {delay:+.3f} s off its time"
    return delay


@dataclass
class Daemon:
    """A `threadbot daemon` process; its stdout and stderr go to a file."""

    popen: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_started(self, timeout: float = 20) -> None:
        wait_for(lambda: "daemon started" in self.log(), timeout, "the daemon to start", self)

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, and wait for it to exit; returns the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)
            pytest.fail(f"the daemon did not stop within {timeout} s of SIGTERM:\n{self.log()}")


@pytest.fixture
def daemons(isolated):
    """start(*args) runs `threadbot daemon ARGS` in the folder; leftovers are killed."""
    started: list[Daemon] = []

    def start(*args: str) -> Daemon:
        log_path = isolated / f"daemon-{len(started) + 1}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen([*DAEMON, *args], cwd=isolated, env=child_env(),
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        proc = Daemon(popen, log_path)
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            if proc.popen.poll() is None:
                proc.popen.kill()
                proc.popen.wait(10)


def run_once(folder: Path, timeout: float = 30) -> subprocess.CompletedProcess:
    """`threadbot daemon --once` to completion; a hang fails the test."""
    try:
        return subprocess.run([*DAEMON, "--once"], cwd=folder, env=child_env(),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"`threadbot daemon --once` hung for {timeout} s: {error.stderr!r}")


def clean_log(text: str) -> None:
    assert "Traceback" not in text, text
    assert "unexpected error" not in text, text
    assert "locked" not in text, text


# --------------------------------------------------------------------------- on time


def test_threads_are_posted_at_their_time(capsys, isolated, fake_x, daemons):
    write_config(isolated, fake_x)
    daemon = daemons()
    daemon.wait_started()
    first = queue(capsys, write_draft(isolated, "one", texts("One", 2)), "--at", "+2s")
    second = queue(capsys, write_draft(isolated, "two", texts("Two", 3)), "--at", "+3s")
    wait_for(lambda: all(stored(isolated, i).status is ThreadStatus.POSTED
                         for i in (first, second)), 15, "both threads to be posted", daemon)
    for thread_id in (first, second):
        thread = stored(isolated, thread_id)
        shown = json.loads(run_cli(capsys, "show", str(thread_id), "--json").out)
        assert datetime.fromisoformat(shown["scheduled_at"]) == thread.scheduled_at
        check_on_time(fake_x, thread)
    assert [p.text for p in fake_x.posts(USER)] == texts("One", 2) + texts("Two", 3)
    assert daemon.stop() == 0
    clean_log(daemon.log())


def test_queue_cancel_and_reschedule_while_running(capsys, isolated, fake_x, daemons):
    write_config(isolated, fake_x)
    later = queue(capsys, write_draft(isolated, "later", texts("Later", 2)), "--at", "+1h")
    daemon = daemons()
    daemon.wait_started()
    # Queued after the daemon started, by another process.
    added = queue(capsys, write_draft(isolated, "added", texts("Added", 2)), "--at", "+2s")
    cancelled = queue(capsys, write_draft(isolated, "cancelled", texts("Cancelled", 2)),
                      "--at", "+3s")
    postponed = queue(capsys, write_draft(isolated, "postponed", texts("Postponed", 2)),
                      "--at", "+3s")
    time.sleep(1.2)  # let the daemon set timers for them first
    assert run_cli(capsys, "cancel", str(cancelled)).code == 0
    assert run_cli(capsys, "reschedule", str(postponed), "--at", "+1h").code == 0
    assert run_cli(capsys, "reschedule", str(later), "--at", "+3s").code == 0
    wait_for(lambda: all(stored(isolated, i).status is ThreadStatus.POSTED
                         for i in (added, later)), 15, "the threads due to be posted", daemon)
    check_on_time(fake_x, stored(isolated, added))
    check_on_time(fake_x, stored(isolated, later))  # at its new time
    time.sleep(max(0.0, stored(isolated, cancelled).scheduled_at.timestamp() + 2
                   - time.time()))  # well past the old times of the other two
    assert stored(isolated, cancelled).status is ThreadStatus.CANCELLED
    assert stored(isolated, postponed).status is ThreadStatus.QUEUED
    posted = {p.text for p in fake_x.posts(USER)}
    assert posted == set(texts("Added", 2) + texts("Later", 2))
    assert daemon.stop() == 0
    clean_log(daemon.log())


# --------------------------------------------------------------------------- crashes


def test_sigkill_mid_thread_then_restart_finishes_one_chain(capsys, isolated, fake_x,
                                                             daemons):
    fake_x.latency = 0.05
    fake_x.duplicate_window = 0
    write_config(isolated, fake_x)
    expected = texts("Killed", 10)
    thread_id = queue(capsys, write_draft(isolated, "killed", expected), "--now")
    daemon = daemons()
    wait_for(lambda: len(fake_x.posts(USER)) >= 3, 20, "the third post", daemon,
             interval=0.005)
    # The 4th post is stored, but its answer is held back: the kill comes mid-request.
    fake_x.delay_next(2.0, method="POST", path="/2/tweets")
    wait_for(lambda: len(fake_x.posts(USER)) >= 4, 10, "the fourth post", daemon,
             interval=0.005)
    daemon.popen.kill()
    daemon.popen.wait(10)
    left = stored(isolated, thread_id)
    # As a crash leaves it (the store shows a thread whose poster died as partial).
    assert left.status in (ThreadStatus.POSTING, ThreadStatus.PARTIAL)
    assert len(fake_x.posts(USER)) == 4
    assert left.posted_count == 3 and left.posts[3].status is PostStatus.SENDING
    assert_record_agrees(fake_x, left)

    again = daemons()
    wait_for(lambda: stored(isolated, thread_id).status is ThreadStatus.POSTED, 20,
             "the restarted daemon to finish the thread", again)
    assert again.stop() == 0
    assert_one_chain(fake_x, USER, expected)
    done = stored(isolated, thread_id)
    assert [p.remote_id for p in done.posts] == [p.id for p in fake_x.posts(USER)]
    assert "was left half-posted" in again.log()
    assert "post 4/10 was already up" in again.log()  # found on X, not sent again
    clean_log(again.log())


def test_sigterm_mid_thread_exits_0_and_restart_finishes(capsys, isolated, fake_x, daemons):
    fake_x.latency = 0.05
    fake_x.duplicate_window = 0
    write_config(isolated, fake_x)
    expected = texts("Stopped", 10)
    thread_id = queue(capsys, write_draft(isolated, "stopped", expected), "--now")
    daemon = daemons()
    wait_for(lambda: len(fake_x.posts(USER)) >= 3, 20, "the third post", daemon,
             interval=0.005)
    # The 4th post is stored, but its answer is held back: the signal comes mid-request.
    fake_x.delay_next(1.0, method="POST", path="/2/tweets")
    wait_for(lambda: len(fake_x.posts(USER)) >= 4, 10, "the fourth post", daemon,
             interval=0.005)
    assert daemon.stop() == 0
    left = stored(isolated, thread_id)
    on_server = fake_x.posts(USER)
    assert left.status is ThreadStatus.PARTIAL
    # The post in flight when the signal came was finished and recorded (and no other
    # was started): the record and the server agree, and nothing is left "sending".
    assert left.posted_count == len(on_server) == 4
    assert [p.remote_id for p in left.posts[:left.posted_count]] == [p.id for p in on_server]
    assert all(p.status is PostStatus.PENDING for p in left.posts[left.posted_count:])
    assert "stopping: finishing the post in flight" in daemon.log()
    clean_log(daemon.log())

    again = daemons()
    wait_for(lambda: stored(isolated, thread_id).status is ThreadStatus.POSTED, 20,
             "the restarted daemon to finish the thread", again)
    assert again.stop() == 0
    assert_one_chain(fake_x, USER, expected)
    clean_log(again.log())


def test_sigterm_before_the_first_post_leaves_it_queued(capsys, isolated, fake_x, daemons):
    write_config(isolated, fake_x)
    expected = texts("Early", 3)
    thread_id = queue(capsys, write_draft(isolated, "early", expected), "--now")
    fake_x.delay_next(1.5, method="GET", path="/2/users/me")  # signed in, slowly
    daemon = daemons()
    wait_for(lambda: any(r.path == "/2/users/me" for r in fake_x.requests), 20,
             "the daemon to sign in", daemon)
    assert daemon.stop() == 0
    assert fake_x.posts(USER) == []
    assert stored(isolated, thread_id).status is ThreadStatus.QUEUED
    again = daemons()
    wait_for(lambda: stored(isolated, thread_id).status is ThreadStatus.POSTED, 20,
             "the restarted daemon to post the thread", again)
    assert again.stop() == 0
    assert_one_chain(fake_x, USER, expected)


# --------------------------------------------------------------------------- many at once


def test_hundred_threads_ten_accounts_same_minute(isolated, fake_x, daemons):
    accounts = {f"a{n}": f"user{n}" for n in range(10)}
    for username in accounts.values():
        fake_x.add_account(username)
    write_config(isolated, fake_x, accounts)
    rng = random.Random(7)
    plan = []  # (account, offset in seconds, draft path, texts)
    for name in accounts:
        for k in range(10):
            posts = [f"{name} thread {k} post {i}: something worth saying." for i in
                     range(1, rng.choice((2, 3)) + 1)]
            plan.append((name, rng.randrange(4), write_draft(isolated, f"{name}-{k}", posts),
                         posts))
    rng.shuffle(plan)  # queued out of time order: ids do not follow times
    daemon = daemons()
    daemon.wait_started()
    config = load_config()
    base = datetime.fromtimestamp(int(time.time()) + 4, UTC)
    queued: dict[int, tuple[str, list[str]]] = {}
    for name, offset, path, posts in plan:
        at = (base + timedelta(seconds=offset)).isoformat()
        [queued_one] = queue_draft(config, path, at=at, account=name)
        thread = queued_one.thread
        queued[thread.id] = (name, posts)
    assert len(queued) == 100
    wait_for(lambda: sum(t.status is ThreadStatus.POSTED for t in all_threads(isolated)) == 100,
             40, "the 100 threads to be posted", daemon, interval=0.2)
    assert daemon.stop() == 0
    clean_log(daemon.log())

    threads = all_threads(isolated)
    out_of_order = []
    for name, username in accounts.items():
        mine = sorted((t for t in threads if t.account == name),
                      key=lambda t: (t.scheduled_at, t.id))
        on_server = fake_x.posts(username)
        # Each post exactly once, each thread one chain, its posts one after another.
        assert sorted(p.text for p in on_server) == sorted(
            text for t in mine for text in queued[t.id][1]), name
        by_id = {p.id: p for p in on_server}
        position = {p.id: i for i, p in enumerate(on_server)}
        for thread in mine:
            ids = [p.remote_id for p in thread.posts]
            assert [by_id[i].text for i in ids] == queued[thread.id][1]
            assert by_id[ids[0]].reply_to is None
            for parent, child in zip(ids, ids[1:], strict=False):
                assert by_id[child].reply_to == parent
                assert position[child] == position[parent] + 1  # no other thread between
        check_on_time(fake_x, mine[0])  # the first of each account, at least, on time
        # The account's threads in order of their time, then of their id.
        posted = sorted(mine, key=lambda t: position[t.posts[0].remote_id])
        if posted != mine:
            out_of_order.append(f"{name}: posted (second, id) "
                                f"{[(t.scheduled_at.second, t.id) for t in posted]}, expected "
                                f"{[(t.scheduled_at.second, t.id) for t in mine]}")
    assert not out_of_order, "threads due at the same time were posted out of id order:\n" \
        + "\n".join(out_of_order)


# --------------------------------------------------------------------------- missed


def test_missed_beyond_grace_posted_within(capsys, isolated, fake_x):
    write_config(isolated, fake_x, daemon="  grace_minutes: 60")
    missed = queue(capsys, write_draft(isolated, "missed", texts("Missed", 2)), "--at", "+1h")
    late = queue(capsys, write_draft(isolated, "late", texts("Late", 2)), "--at", "+1h")
    future = queue(capsys, write_draft(isolated, "future", texts("Future", 2)), "--at", "+1h")
    now = datetime.now(UTC)
    set_time(isolated, missed, now - timedelta(hours=2))
    set_time(isolated, late, now - timedelta(minutes=10))
    result = run_once(isolated)
    assert result.returncode == 0, result.stderr
    clean_log(result.stderr)
    assert [p.text for p in fake_x.posts(USER)] == texts("Late", 2)
    assert stored(isolated, missed).status is ThreadStatus.MISSED
    assert stored(isolated, late).status is ThreadStatus.POSTED
    assert stored(isolated, future).status is ThreadStatus.QUEUED
    listed = run_cli(capsys, "list")
    assert listed.code == 0
    lines = listed.out.splitlines()
    row = next(i for i, line in enumerate(lines) if line.split()[:2] == [str(missed), "missed"])
    note = lines[row + 1]
    assert "missed: it was due" in note and "2 hours ago" in note
    assert "min ago" not in note  # how late, said once
    assert "60-min grace period" in note and f"threadbot retry {missed}" in note
    assert f"threadbot forget {missed}` removes it" in note
    rows = {r["id"]: r for r in json.loads(run_cli(capsys, "list", "--json").out)}
    assert rows[missed]["status"] == "missed" and rows[missed]["note"].startswith("missed:")
    # Nothing more happens to it on the next run.
    assert run_once(isolated).returncode == 0
    assert len(fake_x.posts(USER)) == 2


@pytest.mark.slow
def test_grace_0_still_posts_threads_due_now(capsys, isolated, fake_x, daemons):
    """The grace period is for threads whose time passed while no daemon ran, not for
    threads due this instant or queued for right away."""
    write_config(isolated, fake_x, daemon="  grace_minutes: 0")
    now = queue(capsys, write_draft(isolated, "now", texts("Now", 2)), "--now")
    passed = queue(capsys, write_draft(isolated, "passed", texts("Passed", 2)), "--at", "+1h")
    set_time(isolated, passed, datetime.now(UTC) - timedelta(minutes=1))
    result = run_once(isolated)
    assert result.returncode == 0, result.stderr
    clean_log(result.stderr)
    assert stored(isolated, now).status is ThreadStatus.POSTED
    assert stored(isolated, passed).status is ThreadStatus.MISSED  # 1 min > 0 min
    # `retry` queues it for right away: then it goes out.
    assert run_cli(capsys, "retry", str(passed)).code == 0
    assert run_once(isolated).returncode == 0
    assert stored(isolated, passed).status is ThreadStatus.POSTED

    daemon = daemons()
    daemon.wait_started()
    soon = queue(capsys, write_draft(isolated, "soon", texts("Soon", 2)), "--at", "+2s")
    right_away = queue(capsys, write_draft(isolated, "away", texts("Away", 2)), "--now")
    wait_for(lambda: all(stored(isolated, i).status is ThreadStatus.POSTED
                         for i in (soon, right_away)), 15, "both threads to be posted", daemon)
    check_on_time(fake_x, stored(isolated, soon))
    assert daemon.stop() == 0
    clean_log(daemon.log())
    assert "missed" not in daemon.log()


# --------------------------------------------------------------------------- notifications


class _Hook(BaseHTTPRequestHandler):
    received: list

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append((self.headers.get("Content-Type"), json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook():
    received: list = []
    server = HTTPServer(("127.0.0.1", 0), type("Hook", (_Hook,), {"received": received}))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_notifications_on_missed_and_failures_are_not_fatal(capsys, isolated, fake_x,
                                                           webhook):
    url, received = webhook
    notified = isolated / "notified.txt"
    command = f'echo "$THREADBOT_THREAD_ID $THREADBOT_STATUS" >> {notified}'
    write_config(isolated, fake_x, daemon=(f"  notify:\n    command: {json.dumps(command)}\n"
                                          f"    webhook: {url}"))
    missed = queue(capsys, write_draft(isolated, "missed", texts("Missed", 2)), "--at", "+1h")
    set_time(isolated, missed, datetime.now(UTC) - timedelta(hours=3))
    result = run_once(isolated)
    assert result.returncode == 0, result.stderr
    assert notified.read_text().split("\n") == [f"{missed} missed", ""]
    assert len(received) == 1
    content_type, data = received[0]
    assert content_type == "application/json"
    assert data["event"] == "threadbot.thread.missed" and data["thread_id"] == missed
    assert data["status"] == "missed" and data["message"].startswith("missed:")
    assert data["total"] == 2 and data["posted"] == 0
    assert fake_x.posts() == []

    # A failing command and an unreachable webhook are logged; the daemon goes on.
    port = closed_port()
    write_config(isolated, fake_x, daemon=("  notify:\n    command: \"exit 3\"\n"
                                          f"    webhook: http://127.0.0.1:{port}/x"))
    second = queue(capsys, write_draft(isolated, "second", texts("Second", 2)), "--at", "+1h")
    due = queue(capsys, write_draft(isolated, "due", texts("Due", 2)), "--now")
    set_time(isolated, second, datetime.now(UTC) - timedelta(hours=3))
    result = run_once(isolated)
    assert result.returncode == 0, result.stderr
    assert "notification command exited with 3" in result.stderr
    assert (f"notification webhook (http://127.0.0.1:{port}) failed: the connection was "
            "refused") in result.stderr
    assert "Traceback" not in result.stderr
    assert stored(isolated, second).status is ThreadStatus.MISSED
    assert stored(isolated, due).status is ThreadStatus.POSTED
    assert [p.text for p in fake_x.posts(USER)] == texts("Due", 2)
    assert len(received) == 1  # the first webhook heard nothing more


# --------------------------------------------------------------------------- stuck notifications


def heartbeat(folder: Path) -> str | None:
    with sqlite3.connect(db_path(folder)) as db:
        row = db.execute("SELECT heartbeat_at FROM daemons").fetchone()
    db.close()
    return row[0] if row else None


def stuck_notification_then_a_due_thread(capsys, folder: Path, server: FakeX, daemon,
                                         started: Callable[[], object]) -> None:
    """With a notification stuck from the start (for a thread missed while no daemon
    ran), a thread due in 2 s still goes out on time, the heartbeat goes on, and
    SIGTERM stops the daemon promptly (exit 0)."""
    wait_for(started, 15, "the notification to start", daemon)
    beat = heartbeat(folder)
    thread_id = queue(capsys, write_draft(folder, "due", texts("Due", 2)), "--at", "+2s")
    wait_for(lambda: stored(folder, thread_id).status is ThreadStatus.POSTED, 15,
             "the due thread to be posted", daemon)
    check_on_time(server, stored(folder, thread_id))
    wait_for(lambda: heartbeat(folder) != beat, 5, "the next heartbeat", daemon)
    assert daemon.stop(timeout=10) == 0
    assert [p.text for p in server.posts(USER)] == texts("Due", 2)


@pytest.mark.slow
def test_a_trickling_webhook_stalls_nothing(capsys, isolated, fake_x, daemons):
    with SlowWebhook.running(interval=2) as hook:
        write_config(isolated, fake_x, daemon=f"  notify:\n    webhook: {hook.url}")
        missed = queue(capsys, write_draft(isolated, "missed", texts("Missed", 2)),
                       "--at", "+1h")
        set_time(isolated, missed, datetime.now(UTC) - timedelta(hours=3))
        daemon = daemons()
        stuck_notification_then_a_due_thread(capsys, isolated, fake_x, daemon,
                                             hook.connected.is_set)
        # The webhook was still trickling its answer all along: the daemon hung up on
        # it when it stopped.
        wait_for(lambda: hook.hung_up, 10, "the webhook call to be given up")
        assert hook.hung_up == [True]
        assert [data["thread_id"] for data in hook.received] == [missed]
    log = daemon.log()
    clean_log(log)
    port = hook.url.split(":")[2].split("/")[0]
    assert f"notification webhook (http://127.0.0.1:{port}) failed: the daemon stopped" in log
    assert "secret-token-in-path" not in log and "/hook" not in log


@pytest.mark.slow
def test_a_sleeping_notify_command_stalls_nothing_and_leaves_no_process(
        capsys, isolated, fake_x, daemons):
    pgid_file, child_file = isolated / "pgid", isolated / "child"
    command = f"echo $$ > {pgid_file}; sleep 300 & echo $! > {child_file}; sleep 300"
    write_config(isolated, fake_x, daemon=f"  notify:\n    command: {json.dumps(command)}")
    missed = queue(capsys, write_draft(isolated, "missed", texts("Missed", 2)), "--at", "+1h")
    set_time(isolated, missed, datetime.now(UTC) - timedelta(hours=3))
    daemon = daemons()
    groups: list[int] = []

    def started() -> bool:
        if not (child_file.exists() and child_file.read_text().strip()):
            return False
        # The command and its child share a process group, not the daemon's.
        groups.extend([os.getpgid(int(child_file.read_text())), int(pgid_file.read_text()),
                       os.getpgid(daemon.popen.pid)])
        return True

    stuck_notification_then_a_due_thread(capsys, isolated, fake_x, daemon, started)
    pgid = int(pgid_file.read_text())
    assert groups[0] == groups[1] == pgid != groups[2]
    wait_for(lambda: not live_in_group(pgid), 5, "the command's processes to be gone")
    log = daemon.log()
    clean_log(log)
    assert "notification command stopped: the daemon stopped; it and everything it " \
        "started were killed" in log


@pytest.mark.slow
def test_once_waits_for_a_notification_but_sigterm_cuts_it_short(capsys, isolated, fake_x,
                                                                 daemons):
    """`daemon --once` gives a pending notification its deadline before it exits; a
    SIGTERM meanwhile ends the wait within seconds, and kills the command's group."""
    pgid_file = isolated / "pgid"
    command = f"echo $$ > {pgid_file}; sleep 300 & sleep 300"
    write_config(isolated, fake_x, daemon=f"  notify:\n    command: {json.dumps(command)}")
    missed = queue(capsys, write_draft(isolated, "missed", texts("Missed", 2)), "--at", "+1h")
    set_time(isolated, missed, datetime.now(UTC) - timedelta(hours=3))
    daemon = daemons("--once")
    wait_for(lambda: "nothing more due now" in daemon.log(), 15, "the run to be done", daemon)
    wait_for(lambda: pgid_file.exists() and pgid_file.read_text().strip(), 10,
             "the command to start", daemon)
    assert daemon.popen.poll() is None  # still giving the notification its time
    assert daemon.stop(timeout=10) == 0
    wait_for(lambda: not live_in_group(int(pgid_file.read_text())), 5,
             "the command's processes to be gone")
    assert stored(isolated, missed).status is ThreadStatus.MISSED
    assert "notification command stopped: the daemon stopped" in daemon.log()


# --------------------------------------------------------------------------- database gone


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["deleted", "replaced"])
def test_database_deleted_or_replaced_stops_the_daemon(capsys, isolated, fake_x, daemons,
                                                        fault):
    notified = isolated / "notified.txt"
    command = f'echo "$THREADBOT_STATUS: $THREADBOT_MESSAGE" > {notified}'
    write_config(isolated, fake_x, daemon=f"  notify:\n    command: {json.dumps(command)}")
    queue(capsys, write_draft(isolated, "later", texts("Later", 2)), "--at", "+1h")
    daemon = daemons()
    daemon.wait_started()
    path = db_path(isolated)
    if fault == "deleted":
        path.unlink()
    else:  # a copy of it (a backup restored, say) moved in its place
        copy = isolated / "copy.db"
        with sqlite3.connect(path) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        source.close()
        target.close()
        os.replace(copy, path)
    try:
        code = daemon.popen.wait(15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the daemon went on running with its database {fault}:\n{daemon.log()}")
    log = daemon.log()
    assert code == int(ExitCode.DATABASE) == 16, log
    expected = (f"config/threadbot.db: the database file was {fault}"
                + (" by another file" if fault == "replaced" else "")
                + " while the daemon was running")
    assert f"ERROR {expected}" in log  # in the log (and the log file, if one is set)
    assert f"Error: {expected}" in log  # the CLI's last word
    assert "start `threadbot daemon` again" in log
    assert "Traceback" not in log and "unexpected error" not in log
    assert notified.read_text().startswith(f"stopped: {expected}")


# --------------------------------------------------------------------------- one daemon


def test_second_daemon_refuses_while_first_keeps_posting(capsys, isolated, fake_x, daemons):
    write_config(isolated, fake_x)
    first = daemons()
    first.wait_started()
    second = daemons()
    try:
        code = second.popen.wait(20)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the second daemon did not refuse to start:\n{second.log()}")
    message = second.log()
    assert code == int(ExitCode.BUSY), message
    assert "another threadbot daemon" in message and "--standby" in message
    assert f":{first.popen.pid}:daemon" in message  # names the one running
    assert "Traceback" not in message
    assert first.popen.poll() is None
    thread_id = queue(capsys, write_draft(isolated, "after", texts("After", 2)), "--at", "+2s")
    wait_for(lambda: stored(isolated, thread_id).status is ThreadStatus.POSTED, 15,
             "the first daemon to post", first)
    check_on_time(fake_x, stored(isolated, thread_id))
    assert first.stop() == 0
    clean_log(first.log())


# --------------------------------------------------------------------------- contention

QUEUER = """\
import sys
import time
from threadbot.config import load_config
from threadbot.schedule import queue_draft

worker, count = int(sys.argv[1]), int(sys.argv[2])
config = load_config()
start = time.time()
for n in range(count):
    queue_draft(config, f"drafts/q{worker}-{n}.md", at="+1h")
print("done", count, start, time.time())
"""


def test_thousand_queue_calls_while_the_daemon_posts(capsys, isolated, fake_x, daemons):
    """1,000 queue calls from 4 processes (the library, as `threadbot queue` calls it: a
    thousand CLI runs would take minutes) while the daemon posts 40 due threads."""
    fake_x.latency = 0.05
    fake_x.add_account("second")
    write_config(isolated, fake_x, {"main": USER, "other": "second"})
    config = load_config()
    batch = []
    for n in range(40):
        account = "main" if n % 2 else "other"
        path = write_draft(isolated, f"due-{n}", texts(f"Due {n}", 3))
        batch.append(queue_draft(config, path, now=True, account=account)[0].thread.id)
    workers, each = 4, 250
    for worker in range(workers):
        for n in range(each):
            write_draft(isolated, f"q{worker}-{n}", [f"Queued {worker}-{n}, one.",
                                                      f"Queued {worker}-{n}, two."])
    script = isolated / "queuer.py"
    script.write_text(QUEUER, encoding="utf-8")
    daemon = daemons()
    wait_for(lambda: fake_x.posts(), 20, "the daemon to start posting", daemon)
    procs = [subprocess.Popen([sys.executable, str(script), str(w), str(each)], cwd=isolated,
                              env=child_env(), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(workers)]
    try:
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(5)
    windows = []
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert "locked" not in err and "Traceback" not in err, err
        assert p.returncode == 0 and out.startswith(f"done {each} "), err
        windows.append([float(x) for x in out.split()[2:]])
    wait_for(lambda: all(stored(isolated, i).status is ThreadStatus.POSTED for i in batch), 30,
             "the due threads to be posted", daemon, interval=0.2)
    assert daemon.stop() == 0
    clean_log(daemon.log())
    threads = all_threads(isolated)
    queued = [t for t in threads if t.status is ThreadStatus.QUEUED]
    assert len(queued) == workers * each
    assert len({t.draft_path for t in queued}) == workers * each
    assert len(fake_x.posts()) == 40 * 3
    # The queueing really happened while the daemon posted.
    start, end = min(w[0] for w in windows), max(w[1] for w in windows)
    during = [p for p in fake_x.posts() if start <= p.created_at.timestamp() <= end]
    assert len(during) >= 10, (len(during), end - start)


# --------------------------------------------------------------------------- rate limits


def test_24h_cap_postpones_the_thread_without_hammering(capsys, isolated, fake_x, daemons):
    fake_x.user_post_cap_24h = 3
    write_config(isolated, fake_x)
    thread_id = queue(capsys, write_draft(isolated, "capped", texts("Capped", 5)), "--now")
    daemon = daemons()
    wait_for(lambda: stored(isolated, thread_id).not_before is not None, 20,
             "the thread to be postponed", daemon)
    time.sleep(2.5)  # two more syncs: nothing more may be tried
    thread = stored(isolated, thread_id)
    assert daemon.stop() == 0
    clean_log(daemon.log())
    assert thread.status is ThreadStatus.PARTIAL and thread.posted_count == 3
    assert [p.text for p in fake_x.posts(USER)] == texts("Capped", 5)[:3]
    sends = [r.status for r in fake_x.requests if (r.method, r.path) == ("POST", "/2/tweets")]
    assert sends == [201, 201, 201, 429]
    # It waits for the cap's reset: 24 hours after the first post.
    reset = fake_x.posts(USER)[0].created_at + timedelta(days=1)
    assert abs(thread.not_before - reset) <= timedelta(seconds=2)
    when = describe(thread.not_before, tz=ZoneInfo("UTC"), now=thread.not_before).split(",")[0]
    listed = run_cli(capsys, "list")
    lines = listed.out.splitlines()
    row = next(i for i, line in enumerate(lines) if line.split()[:2] == [str(thread_id),
                                                                         "partial"])
    assert "rate limit" in lines[row + 1] and when in lines[row + 1], listed.out
    row_json = json.loads(run_cli(capsys, "list", "--json").out)[0]
    assert row_json["status"] == "partial" and when in row_json["note"]


def test_daemon_run_twice_in_one_process_logs_each_line_once(capsys, isolated, fake_x):
    """The library API may run the daemon several times in one process (as the property
    test does): each run logs its lines once, never through an earlier run's handler."""
    from helpers import run_cli

    write_config(isolated, fake_x)
    for _ in range(3):
        result = run_cli(capsys, "daemon", "--once")
        assert result.code == 0, result.err
        assert result.err.count("daemon started") == 1, result.err
        assert "Logging error" not in result.err


def test_a_killed_daemon_not_yet_reaped_does_not_block_its_restart(tmp_path):
    """A daemon killed with -9 whose parent has not reaped it (a zombie) still answers
    kill(pid, 0); its claim on the database must not block a new daemon meanwhile."""
    import socket

    from threadbot.store import Store

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        child.kill()
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child did not become a zombie"
            time.sleep(0.01)
        with Store(tmp_path / "threadbot.db") as store:
            dead = f"{socket.gethostname()}:{child.pid}:daemon"
            assert store.acquire_daemon(dead) is None  # registered, heartbeat fresh
            assert store.acquire_daemon("other-host:1:daemon") is None
            # ...and a live one on this host still blocks.
            assert store.acquire_daemon(f"{socket.gethostname()}:{os.getpid()}:daemon") \
                == "other-host:1:daemon"
    finally:
        child.wait()
