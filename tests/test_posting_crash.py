"""Crash safety of posting, end to end: `threadbot` runs as a real process against a
fake X server (in this process), and is killed, interrupted or faced with failing
requests. Whatever happens, finishing the thread (``resume``, or ``post`` again)
must leave exactly one complete chain on the server and a record that agrees with it,
and no secret anywhere.

The fake server here keeps no duplicate window (``duplicate_window=0``): a post sent
twice would be stored twice and seen, rather than refused by the fake and so hidden.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import write_writer_folder
from threadbot.errors import ExitCode
from threadbot.store import PostStatus, Store, ThreadStatus
from threadbot.testing.fake_x import FakeX

POSTS = 9
IMAGE_POST = 4  # the post (1-based) carrying the image
ALT = "A tiny grey square, the only picture in this thread"
PARAGRAPHS = [f"Point {i} of {POSTS}: a short thought that stands on its own, number {i}."
              for i in range(1, POSTS + 1)]
# One GET /2/users/me, one request per post, and the image's upload and alt text.
REQUESTS = 1 + POSTS + 2
SECRET_KEYS = ("consumer_secret", "access_token_secret", "access_token")

FAST = ("  pause_seconds: 0\n  backoff_seconds: 0.01\n  timeout_seconds: 5\n"
        "  retries: 4\n")
RETRIES = 4

CONSOLE_SCRIPT = Path(sys.executable).with_name("threadbot")
THREADBOT = ([str(CONSOLE_SCRIPT)] if CONSOLE_SCRIPT.exists()
             else [sys.executable, "-m", "threadbot"])
# The console script, but with Python's own SIGINT handler even if this process was
# started with SIGINT ignored (as a shell does for background jobs): Ctrl-C must
# reach threadbot as a KeyboardInterrupt.
THREADBOT_SIGINT = [sys.executable, "-c",
                    "import signal, sys\n"
                    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
                    "sys.argv[0] = 'threadbot'\n"
                    "from threadbot.cli import run\n"
                    "run()\n"]


def png(width: int = 4, height: int = 4) -> bytes:
    """A real (tiny) PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + b"\x80" * (width * 3) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PNG = png()


# --------------------------------------------------------------------------- helpers


@dataclass
class Writer:
    """A writer's folder posting to one fake X, and every output threadbot printed."""

    folder: Path
    server: FakeX
    outputs: list[str] = field(default_factory=list)

    @property
    def db(self) -> Path:
        return self.folder / "config" / "threadbot.db"

    def run(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """`threadbot ARGS` as a separate process in the folder; a hang fails the test."""
        try:
            result = subprocess.run([*THREADBOT, *args], cwd=self.folder, env=child_env(),
                                    stdin=subprocess.DEVNULL, capture_output=True,
                                    text=True, timeout=timeout)
        except subprocess.TimeoutExpired as error:  # run() has killed it
            pytest.fail(f"`threadbot {' '.join(args)}` hung for {timeout} s: "
                        f"{error.stdout!r} {error.stderr!r}")
        self.outputs += [result.stdout, result.stderr]
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def start(self, *args: str, command: list[str] = THREADBOT) -> subprocess.Popen:
        return subprocess.Popen([*command, *args], cwd=self.folder, env=child_env(),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def finish(self, proc: subprocess.Popen, timeout: float = 30) -> tuple[int, str, str]:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"threadbot hung for {timeout} s: {out!r} {err!r}")
        self.outputs += [out, err]
        return proc.returncode, out, err

    def post(self) -> subprocess.CompletedProcess:
        return self.run("post", "drafts/x.md", "--yes")

    def complete(self, first: subprocess.CompletedProcess | None = None, *,
                 use_post: bool = False, runs: int = 5) -> list[int]:
        """Run `resume 1` (or `post` again) until threadbot exits 0; the exit codes."""
        codes = [] if first is None else [first.returncode]
        while not codes or codes[-1] != 0:
            assert len(codes) < runs, f"not done after {runs} runs: exit codes {codes}"
            thread = self.thread()
            if thread is None or (use_post and thread.status is not ThreadStatus.POSTED):
                result = self.post()
            else:
                result = self.run("resume", "1")
            assert result.returncode in (0, ExitCode.PLATFORM, ExitCode.UNCERTAIN), (
                result.returncode, result.stderr)
            if result.returncode:
                assert "threadbot resume 1" in result.stderr, result.stderr
            codes.append(result.returncode)
        return codes

    def thread(self):
        """Thread 1 as recorded, or None if there is no such record yet."""
        if not self.db.exists():
            return None
        with Store(self.db) as store:
            threads = store.threads()
            assert len(threads) <= 1, [t.id for t in threads]
            return threads[0] if threads else None


def child_env() -> dict[str, str]:
    """This environment without any threadbot setting or X key (the folder's count)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("THREADBOT_", "X_API_", "X_ACCESS_"))
            and k not in ("NO_COLOR", "FORCE_COLOR")}


def make_writer(folder: Path, server: FakeX, posting: str = FAST) -> Writer:
    folder.mkdir(parents=True, exist_ok=True)
    write_writer_folder(folder, server.base_url, server.credentials(), posting=posting)
    (folder / "drafts" / "pic.png").write_bytes(PNG)
    paragraphs = list(PARAGRAPHS)
    paragraphs[IMAGE_POST - 1] += f"\n\n![{ALT}](pic.png)"
    (folder / "drafts" / "x.md").write_text(
        "---\ntitle: Crash test\nbreak: paragraph\n---\n" + "\n\n".join(paragraphs) + "\n",
        encoding="utf-8")
    return Writer(folder, server)


@pytest.fixture
def server() -> Iterator[FakeX]:
    with FakeX.running(duplicate_window=0) as fake:
        yield fake


@pytest.fixture(autouse=True)
def watchdog():
    """Fail a test that runs for more than two minutes instead of stalling the suite."""
    def expired(signum, frame):
        raise TimeoutError("watchdog: the test ran for more than 120 s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def requests_to(server: FakeX, method: str, pattern: str):
    return [r for r in server.requests if r.method == method and re.fullmatch(pattern, r.path)]


def assert_one_chain(writer: Writer) -> None:
    """Exactly one complete thread on the server, in order, and the record agrees."""
    server = writer.server
    thread = writer.thread()
    assert thread is not None
    assert thread.status is ThreadStatus.POSTED, (thread.status, thread.last_error)
    assert len(thread.posts) == POSTS
    assert [p.text for p in thread.posts] == PARAGRAPHS
    assert all(p.status is PostStatus.POSTED for p in thread.posts)

    posts = server.posts(include_deleted=True)
    texts = [p.text for p in posts]
    assert len(set(texts)) == len(texts), f"a post went up twice: {texts}"
    assert texts == [p.text for p in thread.posts]
    previous = None
    for post in posts:
        assert post.reply_to == previous, "the posts do not form one chain"
        previous = post.id
    assert [p.id for p in posts] == [p.remote_id for p in thread.posts]
    assert thread.url and thread.url.endswith(f"/status/{posts[0].id}")

    for stored, recorded in zip(posts, thread.posts, strict=True):
        assert len(stored.media_ids) == len(recorded.media)
        for media_id in stored.media_ids:
            (media,) = server.media(media_id)
            assert media.state == "succeeded" and media.data == PNG
            assert media.alt_text == ALT
    assert len(posts[IMAGE_POST - 1].media_ids) == 1
    # Nothing was refused as a duplicate either (the fake keeps no window, but say so).
    assert not [r for r in requests_to(server, "POST", "/2/tweets") if r.status == 403]


def assert_no_secrets(writer: Writer) -> None:
    """No secret in any output, in the database's bytes, or in list/show --json."""
    secrets = [writer.server.credentials()[key] for key in SECRET_KEYS]
    listing = writer.run("list", "--json")
    assert listing.returncode == 0, listing.stderr
    shown = writer.run("show", "1", "--json")
    assert shown.returncode == 0, shown.stderr
    files = [writer.db, writer.db.with_name("threadbot.db-wal"),
             writer.db.with_name("threadbot.db-shm")]
    blobs = [path.read_bytes() for path in files if path.exists()]
    assert blobs
    for secret in secrets:
        for text in writer.outputs:
            assert secret not in text
        for blob in blobs:
            assert secret.encode() not in blob


# --------------------------------------------------------------------------- 1. SIGKILL


KILL_TRIALS = 20
LATENCY = 0.03


def test_sigkill_at_random_moments_then_resume_leaves_one_chain(tmp_path):
    """Kill -9 `threadbot post` at a random moment (from before the thread is
    recorded to after its last post), then finish it: one chain, every time."""
    seen: list[str] = []
    for trial in range(KILL_TRIALS):
        rng = random.Random(trial)
        with FakeX.running(latency=LATENCY, duplicate_window=0) as server:
            writer = make_writer(tmp_path / f"trial{trial}", server)
            # Where to strike: after a random number of requests were answered (0: at a
            # random moment of start-up), plus a random part of one request's time.
            after = rng.randrange(REQUESTS + 1)
            extra = rng.uniform(0, 0.4) if after == 0 else rng.uniform(0, 1.5 * LATENCY)
            proc = writer.start("post", "drafts/x.md", "--yes")
            deadline = time.monotonic() + 20
            while len(server.requests) < after and proc.poll() is None:
                assert time.monotonic() < deadline, "threadbot made no progress"
                time.sleep(0.002)
            time.sleep(extra)
            proc.send_signal(signal.SIGKILL)  # a no-op if it has already finished
            code, _, err = writer.finish(proc)
            assert code in (0, -signal.SIGKILL), (code, err)

            thread = writer.thread()
            up = len(server.posts())
            if thread is None:
                state = "no thread"
            else:
                sending = [p.position for p in thread.posts if p.status is PostStatus.SENDING]
                state = (f"{thread.posted_count}/{POSTS} recorded, {up} on X"
                         + (f", post {sending[0]} sending" if sending else ""))
            seen.append(f"trial {trial}: exit {code}, {state}")

            writer.complete(use_post=trial % 2 == 1)
            assert_one_chain(writer)
            if trial % 5 == 0:
                assert_no_secrets(writer)
    print("\n".join(seen))
    # The trials did strike mid-thread, not only before or after.
    assert any(re.search(rf": exit -9, [1-{POSTS - 1}]/{POSTS} recorded", s) for s in seen), seen


# --------------------------------------------------------------------------- 2. faults


FAULTY = ("  pause_seconds: 0\n  backoff_seconds: 0.01\n  timeout_seconds: 0.5\n"
          "  retries: 6\n")


# Seeds whose first dozen draws put every kind of fault on some request (seed 0, say,
# faults none of the first twelve requests at this rate).
@pytest.mark.parametrize("seed", [5, 7, 8, 19, 24])
def test_random_faults_on_a_fifth_of_requests_still_give_one_chain(tmp_path, server, seed):
    server.random_faults(0.2, seed=seed, kinds=("500", "503", "drop", "drop_after_store",
                                                "delay"), delay=0.8)
    writer = make_writer(tmp_path / "w", server, FAULTY)
    codes = writer.complete(writer.post(), runs=6)
    assert any(r.fault for r in server.requests), "no fault fired"
    assert_one_chain(writer)
    assert_no_secrets(writer)
    print(f"seed {seed}: exit codes {codes}, faults "
          f"{[(r.method, r.path, r.fault) for r in server.requests if r.fault]}")


# --------------------------------------------------------------------------- 3. uncertain


def pass_first(server: FakeX, n: int) -> None:
    """Let the next ``n`` POST /2/tweets through untouched (a zero-second delay), so
    that the fault added next hits post n + 1."""
    server.delay_next(0, n, method="POST", path="/2/tweets")


def test_dropped_answer_on_third_post_is_found_not_sent_again(tmp_path, server):
    writer = make_writer(tmp_path / "w", server)
    pass_first(server, 2)
    server.drop_next(1, after_store=True, method="POST", path="/2/tweets")
    result = writer.post()
    assert result.returncode == 0, result.stderr
    assert_one_chain(writer)
    assert len(requests_to(server, "POST", "/2/tweets")) == POSTS  # nothing re-sent
    assert len(requests_to(server, "GET", r"/2/users/\w+/tweets")) == 1
    assert writer.thread().posts[2].attempts == 1


def test_post_left_sending_after_server_errors_is_sent_once_on_resume(tmp_path, server):
    writer = make_writer(tmp_path / "w", server)
    pass_first(server, 2)
    server.fail_next(RETRIES, status=503, method="POST", path="/2/tweets")
    first = writer.post()
    assert first.returncode == ExitCode.PLATFORM, first.stderr
    assert "2 of 9 posts up" in first.stderr and "threadbot resume 1" in first.stderr
    thread = writer.thread()
    assert thread.status is ThreadStatus.PARTIAL
    assert [p.status for p in thread.posts[:4]] == [
        PostStatus.POSTED, PostStatus.POSTED, PostStatus.SENDING, PostStatus.PENDING]
    assert len(server.posts()) == 2

    second = writer.run("resume", "1")
    assert second.returncode == 0, second.stderr
    assert_one_chain(writer)
    stored = [r for r in requests_to(server, "POST", "/2/tweets") if r.status == 201]
    assert len(stored) == POSTS


def test_post_left_sending_by_a_crash_before_its_request_is_sent_once(tmp_path, server):
    """A crash right after 'sending' was committed, before the request went out."""
    writer = make_writer(tmp_path / "w", server)
    server.fail_next(RETRIES, status=503, method="GET", path="/2/users/me")
    first = writer.post()
    assert first.returncode == ExitCode.PLATFORM, first.stderr
    with Store(writer.db) as store:
        thread = store.thread(1)
        assert thread.status is ThreadStatus.FAILED
        store.mark_sending(thread.posts[0].id)
    assert server.posts() == []

    second = writer.run("resume", "1")
    assert second.returncode == 0, second.stderr
    assert_one_chain(writer)
    assert len(requests_to(server, "POST", "/2/tweets")) == POSTS


def test_failing_lookup_after_uncertain_send_stops_with_exit_11(tmp_path, server):
    writer = make_writer(tmp_path / "w", server)
    pass_first(server, 2)
    server.drop_next(1, after_store=True, method="POST", path="/2/tweets")
    server.fail_next(RETRIES, status=503, method="GET", path="/2/users/*/tweets")
    first = writer.post()
    assert first.returncode == ExitCode.UNCERTAIN, (first.returncode, first.stderr)
    for words in ("may have been published", "recent posts", "@threadbot_test",
                  PARAGRAPHS[2][:30], "threadbot resume 1"):
        assert words in first.stderr, (words, first.stderr)
    # Nothing was sent again: the three requests, and the dropped one is stored.
    assert len(requests_to(server, "POST", "/2/tweets")) == 3
    assert len(server.posts()) == 3
    thread = writer.thread()
    assert thread.status is ThreadStatus.PARTIAL
    assert thread.posts[2].status is PostStatus.SENDING

    server.clear_faults()
    second = writer.run("resume", "1")
    assert second.returncode == 0, second.stderr
    assert "[3/9] was already up" in second.stdout
    assert_one_chain(writer)
    assert len(requests_to(server, "POST", "/2/tweets")) == POSTS


# --------------------------------------------------------------------------- 4. Ctrl-C


def interrupt_when(writer: Writer, ready) -> tuple[int, str, str]:
    proc = writer.start("post", "drafts/x.md", "--yes", command=THREADBOT_SIGINT)
    deadline = time.monotonic() + 20
    while not ready():
        assert proc.poll() is None, writer.finish(proc)
        assert time.monotonic() < deadline, "threadbot made no progress"
        time.sleep(0.002)
    proc.send_signal(signal.SIGINT)
    return writer.finish(proc)


def test_ctrl_c_mid_thread_says_how_far_and_resumes(tmp_path):
    with FakeX.running(latency=0.05, duplicate_window=0) as server:
        writer = make_writer(tmp_path / "w", server)
        code, _, err = interrupt_when(
            writer, lambda: len(requests_to(server, "POST", "/2/tweets")) >= 3)
        assert code == ExitCode.INTERRUPTED, (code, err)
        match = re.search(r"stopped with (\d+) of 9 posts up", err)
        assert match, err
        assert "threadbot resume 1" in err
        thread = writer.thread()
        # The server logs a post before answering: the third may be up on X while its
        # answer had not come back (it is then ``sending``, and resume finds it).
        assert thread.posted_count == int(match[1]) >= 2
        assert thread.status is ThreadStatus.PARTIAL
        assert thread.claimed_by is None
        assert len(server.posts()) in (thread.posted_count, thread.posted_count + 1)

        writer.complete()
        assert_one_chain(writer)
        assert_no_secrets(writer)


def test_ctrl_c_before_any_post_leaves_thread_failed_and_resumable(tmp_path, server):
    writer = make_writer(tmp_path / "w", server)
    server.delay_next(3, method="GET", path="/2/users/me")
    code, _, err = interrupt_when(
        writer, lambda: len(requests_to(server, "GET", "/2/users/me")) >= 1)
    assert code == ExitCode.INTERRUPTED, (code, err)
    assert "stopped with 0 of 9 posts up" in err and "threadbot resume 1" in err
    assert writer.thread().status is ThreadStatus.FAILED
    assert server.posts() == []

    writer.complete()
    assert_one_chain(writer)


# --------------------------------------------------------------------------- 5. secrets


def test_no_secret_in_outputs_database_or_json_after_a_faulty_run(tmp_path, server):
    writer = make_writer(tmp_path / "w", server, FAULTY)
    pass_first(server, 1)
    server.fail_next(2, status=500, method="POST", path="/2/tweets")
    server.drop_next(1, after_store=False, method="POST", path="/2/tweets")
    server.drop_next(1, after_store=True, method="POST", path="/2/tweets")
    # The lookups after the first three failures work; the one after the drop fails.
    server.delay_next(0, 3, method="GET", path="/2/users/*/tweets")
    server.fail_next(6, status=503, method="GET", path="/2/users/*/tweets")
    first = writer.post()
    assert first.returncode == ExitCode.UNCERTAIN, first.stderr
    # While the thread is unfinished, its errors are in the record: still no secret.
    assert_no_secrets(writer)
    with sqlite3.connect(writer.db) as db:
        errors = [row[0] for row in db.execute("SELECT last_error FROM posts") if row[0]]
    assert errors

    server.clear_faults()
    writer.complete(first)
    assert_one_chain(writer)
    assert_no_secrets(writer)
