"""Telling someone when the daemon needs a human: a thread failed, stayed partial,
or was missed, or the daemon itself had to stop. Nobody watches a daemon at 3 a.m.

Notifications run off the posting path: the daemon hands each one to a
``Notifier``, whose one worker thread runs them in turn, so a slow webhook or a
command that hangs never delays a post, the heartbeat or a stop. Each
notification has a total deadline (``DEADLINE_SECONDS``, for the whole request or
the whole command, not per read); a command runs in its own process group, and
the whole group is killed when its deadline passes. The queue is bounded
(``QUEUE_SIZE``): beyond it a notification is dropped and the drop is logged.

A notification that fails is logged (never with the webhook's address, whose path
may carry a token, nor with the accounts' keys), never fatal.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import queue
import re
import selectors
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from .config import DaemonSettings
from .store import StoredThread

log = logging.getLogger("threadbot.daemon")

DEADLINE_SECONDS = 30.0  # the most one notification (command or webhook) may take, in s
QUEUE_SIZE = 100  # notifications waiting beyond this many are dropped (and logged)
SHUTDOWN_GRACE_SECONDS = 3.0  # on SIGTERM, what pending notifications get before the exit
_OUTPUT_KEPT = 300  # characters of a failing command's output shown in the log
_BODY_READ = 64 * 1024  # bytes of a webhook's answer read (and thrown away), at most
_SURROGATE = re.compile("[\ud800-\udfff]")


def describe(thread: StoredThread, status: str, message: str, *,
             untitled: str | None = None) -> dict[str, Any]:
    """The JSON a webhook receives (and ``THREADBOT_JSON`` holds) for a thread.
    ``untitled`` stands for the title of a draft that has none (its path as ``list``
    shows it)."""
    return {
        "event": "threadbot.thread." + status,
        "thread_id": thread.id,
        "title": thread.title or untitled,
        "draft": thread.draft_path,
        "account": thread.account,
        "status": status,
        "message": message,
        "posted": thread.posted_count,
        "total": len(thread.posts),
        "url": thread.url,
        "scheduled_at": thread.scheduled_at.isoformat() if thread.scheduled_at else None,
    }


def describe_daemon(status: str, message: str, database: str) -> dict[str, Any]:
    """The JSON for an event of the daemon itself (e.g. ``stopped``): no thread."""
    return {"event": "threadbot.daemon." + status, "thread_id": None, "title": None,
            "draft": None, "account": None, "status": status, "message": message,
            "posted": None, "total": None, "url": None, "scheduled_at": None,
            "database": database}


def where(url: str) -> str:
    """A webhook address as it may be logged: scheme, host and port, never its path
    (which may carry a token) or anything else."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


class Notifier:
    """Runs notifications in a worker thread of its own.

    ``submit(data)`` never blocks; ``close(grace)`` waits at most ``grace`` seconds
    for the pending ones, then stops the one running (killing a command's process
    group) and logs the rest as dropped. ``secret_names`` (the accounts' key
    variables) are left out of a command's environment.
    """

    def __init__(self, settings: DaemonSettings, *, secret_names: Iterable[str] = (),
                 deadline: float = DEADLINE_SECONDS, queue_size: int = QUEUE_SIZE):
        self.settings = settings
        self.secret_names = frozenset(secret_names)
        self.deadline = deadline
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=queue_size)
        self._abort = threading.Event()  # the one running is to stop now
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def enabled(self) -> bool:
        return bool(self.settings.notify_command or self.settings.notify_webhook)

    def submit(self, data: dict[str, Any]) -> bool:
        """Queue one notification (``describe``'s dict); False if it was dropped."""
        if not self.enabled:
            return False
        with self._lock:
            if self._closed:
                log.warning("notification dropped (the daemon is stopping): %s", _what(data))
                return False
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="notifier",
                                                daemon=True)
                self._worker.start()
            try:
                self._queue.put_nowait(data)
            except queue.Full:
                log.warning("notification dropped: %s notifications are already waiting "
                            "(a slow webhook or command?): %s", self._queue.maxsize,
                            _what(data))
                return False
        return True

    def close(self, grace: float, *, hurry: threading.Event | None = None,
              hurried: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Give pending notifications at most ``grace`` seconds (at most ``hurried``
        seconds more once ``hurry`` is set, e.g. by a SIGTERM), then stop the one
        running and log the others as dropped."""
        with self._lock:
            self._closed = True
            worker = self._worker
        if worker is None:
            return
        self._queue_put_end()
        began = time.monotonic()
        ends = began + max(0.0, grace)
        hurrying = False
        while worker.is_alive():
            if hurry is not None and hurry.is_set() and not hurrying:
                hurrying = True
                ends = min(ends, time.monotonic() + hurried)
            left = ends - time.monotonic()
            if left <= 0:
                break
            worker.join(min(left, 0.1))
        if worker.is_alive():
            self._abort.set()
            worker.join(5)
        dropped = []
        while True:
            try:
                data = self._queue.get_nowait()
            except queue.Empty:
                break
            if data is not None:
                dropped.append(data)
        for data in dropped:
            log.warning("notification dropped: the daemon stopped before it could be sent "
                        "(after waiting %.0f s): %s", time.monotonic() - began, _what(data))

    def _queue_put_end(self) -> None:
        # The end marker must get in even when the queue is full: make room by
        # dropping the oldest waiting one, which close() may have to drop anyway.
        while True:
            try:
                self._queue.put_nowait(None)
                return
            except queue.Full:
                try:
                    data = self._queue.get_nowait()
                except queue.Empty:
                    continue
                if data is not None:
                    log.warning("notification dropped: the daemon is stopping: %s",
                                _what(data))

    def _run(self) -> None:
        while True:
            data = self._queue.get()
            if data is None:
                return
            if self._abort.is_set():
                with contextlib.suppress(queue.Full):
                    self._queue.put_nowait(data)  # close() logs it as dropped
                return
            try:
                self.send(data)
            except Exception:  # a bug here must not end the notifications  # noqa: BLE001
                log.exception("notification failed: unexpected error (%s)", _what(data))

    def send(self, data: dict[str, Any]) -> None:
        """Run the command and/or call the webhook for one notification, both within
        its one deadline; failures are logged."""
        ends = time.monotonic() + self.deadline
        if self.settings.notify_command:
            self._run_command(self.settings.notify_command, data, ends)
        if self.settings.notify_webhook and not self._abort.is_set():
            if time.monotonic() >= ends:
                log.warning("notification webhook (%s) not called: the command took the "
                            "notification's whole %g s", where(self.settings.notify_webhook),
                            self.deadline)
                return
            self._call_webhook(self.settings.notify_webhook, data, ends)

    # --- the command ----------------------------------------------------------------------

    def _run_command(self, command: str, data: dict[str, Any], ends: float) -> None:
        env = {k: v for k, v in os.environ.items() if k not in self.secret_names}
        env.update({"THREADBOT_THREAD_ID": "" if data["thread_id"] is None
                    else str(data["thread_id"]),
                    "THREADBOT_STATUS": _env_text(data["status"]),
                    "THREADBOT_MESSAGE": _env_text(data["message"]),
                    "THREADBOT_TITLE": _env_text(data["title"] or ""),
                    "THREADBOT_URL": _env_text(data["url"] or ""),
                    "THREADBOT_JSON": _env_text(json.dumps(data, ensure_ascii=False))})
        try:
            # Its own session, hence its own process group: whatever it starts can be
            # killed with it. Output goes to one pipe we read ourselves, keeping only
            # its end, so a command that writes without end cannot fill our memory.
            proc = subprocess.Popen(command, shell=True, env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        except (OSError, ValueError) as error:
            log.warning("notification command could not run: %s", error)
            return
        output = bytearray()
        gave_up = None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            open_pipe = True
            while True:
                if self._abort.is_set():
                    gave_up = "the daemon stopped"
                    break
                left = ends - time.monotonic()
                if left <= 0:
                    gave_up = f"it ran longer than {self.deadline:g} s"
                    break
                if not open_pipe:
                    try:
                        proc.wait(min(left, 0.1))
                        break
                    except subprocess.TimeoutExpired:
                        continue
                if selector.select(min(left, 0.1)):
                    chunk = os.read(proc.stdout.fileno(), 65536)
                    if chunk:
                        output += chunk
                        del output[:-4 * _OUTPUT_KEPT]
                    else:
                        open_pipe = False
                        selector.unregister(proc.stdout)
                elif proc.poll() is not None:
                    # It exited, but something it started still holds the pipe.
                    break
        proc.stdout.close()
        leftovers = _kill_group(proc.pid)
        proc.wait()
        shown = output.decode("utf-8", "replace").strip()[-_OUTPUT_KEPT:]
        if gave_up:
            advice = "" if self._abort.is_set() else (
                f" Make it finish within {self.deadline:g} s (give what it runs a time limit "
                "of its own, such as curl's --max-time).")
            log.warning("notification command stopped: %s; it and everything it started "
                        "were killed.%s", gave_up, advice)
        elif proc.returncode != 0:
            log.warning("notification command exited with %s: %s", proc.returncode, shown)
        if leftovers and not gave_up:
            log.warning("notification command left processes running when it ended; they "
                        "were killed")

    # --- the webhook ----------------------------------------------------------------------

    def _call_webhook(self, url: str, data: dict[str, Any], ends: float) -> None:
        # ASCII JSON: any text (a lone surrogate in a title, say) makes a valid body.
        body = json.dumps(data).encode("ascii")
        outcome: dict[str, Any] = {}
        connections: list[http.client.HTTPConnection] = []

        def call() -> None:
            # urllib, as before: proxies from the environment and redirects still work;
            # the handlers only keep each connection, so it can be hung up on.
            opener = urllib.request.build_opener(_Recording(connections),
                                                 _RecordingTLS(connections))
            request = urllib.request.Request(url, data=body, method="POST", headers={
                "Content-Type": "application/json", "User-Agent": "threadbot"})
            try:
                with opener.open(request, timeout=max(0.1, ends - time.monotonic())) \
                        as response:
                    response.read(_BODY_READ)
                    outcome["status"] = response.status
            except urllib.error.HTTPError as error:
                outcome["status"] = error.code
                error.close()
            except urllib.error.URLError as error:
                outcome["error"] = error.reason
            except (OSError, http.client.HTTPException, ValueError) as error:
                outcome["error"] = error
            finally:
                for conn in connections:
                    conn.close()

        # The request runs in a thread of its own, so that the deadline holds for the
        # whole of it (name lookup, connection, every read), not for each read.
        caller = threading.Thread(target=call, name="notifier-webhook", daemon=True)
        caller.start()
        while caller.is_alive() and not self._abort.is_set():
            left = ends - time.monotonic()
            if left <= 0:
                break
            caller.join(min(left, 0.1))
        if caller.is_alive():
            for conn in list(connections):
                _hang_up(conn)
            caller.join(1)
            reason = ("the daemon stopped" if self._abort.is_set() else
                      f"no full answer within {self.deadline:g} s")
            log.warning("notification webhook (%s) failed: %s", where(url), reason)
        elif "error" in outcome:
            log.warning("notification webhook (%s) failed: %s", where(url),
                        _reason(outcome["error"]))
        elif not 200 <= outcome.get("status", 0) < 300:
            log.warning("notification webhook (%s) failed: it answered HTTP %s", where(url),
                        outcome.get("status"))


class _Recording(urllib.request.HTTPHandler):
    """urllib's handler, keeping each connection it opens in ``connections``."""

    def __init__(self, connections: list) -> None:
        super().__init__()
        self.connections = connections

    def do_open(self, http_class, req, **kwargs):  # noqa: ANN001, ANN201
        def connect(*args: Any, **options: Any) -> http.client.HTTPConnection:
            conn = http_class(*args, **options)
            self.connections.append(conn)
            return conn

        return super().do_open(connect, req, **kwargs)


class _RecordingTLS(urllib.request.HTTPSHandler):
    def __init__(self, connections: list) -> None:
        super().__init__()
        self.connections = connections

    do_open = _Recording.do_open


def _env_text(text: str) -> str:
    """``text`` as an environment variable can hold it: UTF-8 (a lone surrogate
    becomes U+FFFD), no NUL character."""
    return _SURROGATE.sub("\ufffd", text).replace("\0", "")


def _kill_group(pid: int) -> bool:
    """Kill the process group ``pid`` leads (its session); True if any process of it
    was still running."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a group we no longer own
        return False
    return True


def _hang_up(conn: http.client.HTTPConnection) -> None:
    """Wake a read blocked on ``conn`` (from another thread) by shutting its socket."""
    sock = conn.sock
    if sock is None:
        return
    try:
        # socket.socket's own shutdown, not SSLSocket's (which would tear down the
        # TLS state under the reading thread): the read returns at once.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


def _reason(error: BaseException | str) -> str:
    # Our own words for what went wrong; the library's text may hold the address.
    if not isinstance(error, BaseException):
        return "the request could not be made"
    if isinstance(error, TimeoutError):
        return "it did not answer in time"
    if isinstance(error, ConnectionRefusedError):
        return "the connection was refused (is the server running?)"
    if isinstance(error, socket.gaierror):
        return "its host name could not be found"
    if isinstance(error, ssl.SSLError):
        return f"a TLS error ({error.reason or type(error).__name__})"
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    return type(error).__name__


def _what(data: dict[str, Any]) -> str:
    if data.get("thread_id") is not None:
        return f"thread {data['thread_id']} {data['status']}"
    return f"daemon {data['status']}"
