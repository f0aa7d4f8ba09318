"""Notifications (``threadbot.notify.Notifier``) through their API: each one within a
total deadline, a command's whole process group killed when it passes, a bounded
queue whose drops are logged, failures logged without secrets and never fatal.

The daemon-level behaviour (a stuck notification delays no post, no heartbeat, no
stop) is tested through the daemon process in test_daemon.py.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threadbot.config import DaemonSettings
from threadbot.notify import Notifier, describe, describe_daemon, where
from threadbot.store import StoredThread, ThreadStatus
from threadbot.testing.slow_webhook import SlowWebhook

LOGGER = "threadbot.daemon"


def live_in_group(pgid: int) -> list[int]:
    """The processes of process group ``pgid`` still alive (zombies, which are dead
    and only wait to be reaped, do not count)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state not in ("Z", "X"):
            alive.append(int(entry.name))
    return alive


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
    return value


def a_thread(thread_id: int = 7) -> StoredThread:
    now = datetime.now(UTC)
    return StoredThread(id=thread_id, draft_path="drafts/a.md", content_hash="h", title="A",
                        account="main", platform="x", status=ThreadStatus.FAILED,
                        user_id=None, username=None, last_error=None, created_at=now,
                        updated_at=now, posts=[], scheduled_at=now)


def event(thread_id: int = 7) -> dict:
    return describe(a_thread(thread_id), "failed", "it failed")


def messages(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == LOGGER)


@pytest.fixture(autouse=True)
def _log(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)


# --------------------------------------------------------------------------- deadlines


def test_a_trickling_webhook_is_given_up_at_the_deadline(caplog):
    with SlowWebhook.running(interval=0.3) as hook:
        notifier = Notifier(DaemonSettings(notify_webhook=hook.url), deadline=1)
        sent = event()
        assert notifier.submit(sent)
        # Each byte comes well within any per-read timeout: only a whole-request
        # deadline ends this request, long before the answer would be over (5 min).
        wait_until(lambda: hook.hung_up, 10, "threadbot to hang up")
        notifier.close(10)
        assert hook.hung_up == [True]
        assert hook.received == [sent]
    logged = messages(caplog)
    assert f"notification webhook ({where(hook.url)}) failed: no full answer within 1 s" \
        in logged
    assert "secret-token-in-path" not in logged and "/hook" not in logged


def test_a_command_past_its_deadline_is_killed_with_all_it_started(isolated, caplog):
    pgid_file, child_file = isolated / "pgid", isolated / "child"
    command = f"echo $$ > {pgid_file}; sleep 300 & echo $! > {child_file}; sleep 300"
    notifier = Notifier(DaemonSettings(notify_command=command), deadline=1)
    notifier.submit(event())
    pgid = int(wait_until(lambda: pgid_file.exists() and pgid_file.read_text().strip(), 10,
                          "the command to start"))
    child = int(wait_until(lambda: child_file.exists() and child_file.read_text().strip(),
                           10, "the command's child to start"))
    assert pgid != os.getpgrp()  # a group of its own, not ours
    assert os.getpgid(child) == pgid
    wait_until(lambda: "ran longer than 1 s" in messages(caplog), 10, "the deadline")
    wait_until(lambda: not live_in_group(pgid), 5, "the command's group to be gone")
    notifier.close(5)
    assert "it and everything it started were killed" in messages(caplog)


def test_the_deadline_is_for_the_whole_notification(isolated, caplog):
    """A command and a webhook share one notification's deadline: a command that takes
    it all leaves the webhook uncalled (and says so), not waiting a deadline more."""
    with SlowWebhook.running(interval=0.3) as hook:
        notifier = Notifier(DaemonSettings(notify_command="sleep 300",
                                           notify_webhook=hook.url), deadline=1)
        notifier.send(event())
        assert hook.received == []
    logged = messages(caplog)
    assert "ran longer than 1 s" in logged
    assert f"notification webhook ({where(hook.url)}) not called: the command took the " \
        "notification's whole 1 s" in logged


def test_processes_a_command_leaves_behind_are_killed(isolated, caplog):
    child_file = isolated / "child"
    command = f"sleep 300 > /dev/null 2>&1 & echo $! > {child_file}"
    notifier = Notifier(DaemonSettings(notify_command=command), deadline=20)
    notifier.submit(event())
    notifier.close(20)
    child = int(child_file.read_text())
    wait_until(lambda: _gone(child), 5, "the left-behind process to die")
    assert "left processes running when it ended; they were killed" in messages(caplog)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


# --------------------------------------------------------------------------- off the path


def test_the_queue_is_bounded_and_every_drop_is_logged(isolated, caplog):
    started = isolated / "started"
    notifier = Notifier(DaemonSettings(notify_command=f"echo x >> {started}; sleep 300"),
                        queue_size=2, deadline=60)
    accepted = [notifier.submit(event(i)) for i in range(1, 6)]
    # One may already be running (out of the queue), two wait: the rest are dropped.
    assert accepted[:2] == [True, True] and sum(accepted) in (2, 3)
    wait_until(started.exists, 10, "the first command to start")
    logged = messages(caplog)
    for i, ok in enumerate(accepted, start=1):
        if not ok:
            assert "notification dropped: 2 notifications are already waiting" in logged
            assert f"thread {i} failed" in logged
    # Closing gives them no time: the one running is killed, the others are dropped.
    notifier.close(0)
    logged = messages(caplog)
    assert "it and everything it started were killed" in logged
    dropped = [i for i in range(1, 6) if f"thread {i} failed" in logged]
    assert dropped == [i for i in range(1, 6) if i != 1], logged
    assert started.read_text() == "x\n"  # the ones dropped never ran
    assert not notifier.submit(event(9))  # after close: dropped, and said so
    assert "notification dropped (the daemon is stopping): thread 9 failed" in messages(caplog)


def test_submit_returns_at_once_whatever_the_notification_does(isolated):
    done = threading.Event()
    notifier = Notifier(DaemonSettings(notify_command="sleep 300"), deadline=60)

    def flood() -> None:
        for i in range(500):
            notifier.submit(event(i))
        done.set()

    threading.Thread(target=flood, daemon=True).start()
    # 500 submissions while the first command sleeps for 5 minutes: none waits for it.
    assert done.wait(20), "submit() blocked behind a running notification"
    notifier.close(0)


# --------------------------------------------------------------------------- failures


class _Answer(BaseHTTPRequestHandler):
    status = 500

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_failures_are_logged_without_secrets_and_never_fatal(isolated, caplog, monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    monkeypatch.setenv("MAIN_KEY", "sk-very-secret")
    seen = isolated / "env.txt"
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks/T0/B0/tok3n?sig=abc"
    try:
        notifier = Notifier(DaemonSettings(notify_command=f"env > {seen}; exit 4",
                                           notify_webhook=url),
                            secret_names={"MAIN_KEY"}, deadline=10)
        notifier.submit(event())
        notifier.submit(describe_daemon("stopped", "the database went away", "x.db"))
        notifier.close(20)
    finally:
        server.shutdown()
        server.server_close()
    logged = messages(caplog)
    assert logged.count("notification command exited with 4") == 2
    assert logged.count(f"notification webhook ({where(url)}) failed: it answered HTTP 500") \
        == 2
    for secret in ("tok3n", "sig=abc", "/hooks", "sk-very-secret"):
        assert secret not in logged
    env = seen.read_text()
    assert "sk-very-secret" not in env and "MAIN_KEY" not in env
    assert "THREADBOT_STATUS=stopped" in env and "THREADBOT_THREAD_ID=\n" in env
    data = json.loads(next(line for line in env.splitlines()
                           if line.startswith("THREADBOT_JSON="))[len("THREADBOT_JSON="):])
    assert data["event"] == "threadbot.daemon.stopped" and data["database"] == "x.db"


def test_a_command_not_found_is_logged(isolated, caplog):
    notifier = Notifier(DaemonSettings(notify_command="no-such-threadbot-notifier"),
                        deadline=10)
    notifier.submit(event())
    notifier.close(10)
    logged = messages(caplog)
    assert "notification command exited with 127" in logged and "not found" in logged


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=30, alphabet=st.characters(
    codec="ascii", categories=["L", "N"])), st.sampled_from(["http", "https"]),
    st.one_of(st.none(), st.integers(1, 65535)))
def test_where_shows_only_scheme_host_and_port(token, scheme, port):
    origin = f"{scheme}://hooks.example.com{f':{port}' if port else ''}"
    assert where(f"{origin}/t/{token}?k={token}#{token}") == origin


class _Keep(BaseHTTPRequestHandler):
    bodies: list

    def do_POST(self) -> None:  # noqa: N802
        self.bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def keeping_webhook():
    bodies: list = []
    server = HTTPServer(("127.0.0.1", 0), type("Keep", (_Keep,), {"bodies": bodies}))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", bodies
    finally:
        server.shutdown()
        server.server_close()


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=st.text(max_size=40), message=st.text(max_size=40))
def test_any_title_or_message_reaches_both(tmp_path, caplog, keeping_webhook, title, message):
    """Whatever a draft's title or a platform's message holds (lone surrogates, NUL,
    newlines, quotes), the command gets it (as UTF-8 without NUL) and the webhook the
    exact text."""
    url, bodies = keeping_webhook
    out = tmp_path / "title.txt"
    data = describe(a_thread(), "failed", message) | {"title": title}
    notifier = Notifier(DaemonSettings(notify_command=f'printf %s "$THREADBOT_TITLE" > {out}',
                                       notify_webhook=url), deadline=10)
    caplog.clear()
    bodies.clear()
    notifier.send(data)
    assert messages(caplog) == ""
    expected = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in title)
    assert out.read_bytes().decode("utf-8") == expected.replace("\0", "")
    assert [json.loads(body) for body in bodies] == [data]
