"""The posting contract, the same for every platform, end to end: `threadbot` runs as a
real process against each platform's fake server (in this process, driven by the
platform's real client library over HTTP), and is killed, interrupted, rate-limited,
refused or faced with failing requests. Whatever happens, finishing the thread
(``resume``, or ``post`` again) must leave exactly one complete chain on the server,
a record that agrees with it, and no secret anywhere.

Every test runs once per platform in ``platform_fakes.FAKES``. Unless a test says
otherwise the servers keep none of the platform's own guards against a double post
(X's duplicate refusal, Mastodon's ``Idempotency-Key``): a post sent twice would be
stored twice and seen, rather than hidden by the server. (Bluesky's guard is the
record key threadbot chooses for each post, which no PDS lets go: a post sent again
under its key cannot be stored twice, one sent under another key would be.)
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from platform_fakes import FAKES, PNG, PlatformFake
from threadbot.errors import ExitCode
from threadbot.store import PostStatus, Store, ThreadStatus

POSTS = 9
IMAGE_POST = 4  # the post (1-based) carrying the image
ALT = "A tiny grey square, the only picture in this thread"
PARAGRAPHS = [f"Point {i} of {POSTS}: a short thought that stands on its own, number {i}."
              for i in range(1, POSTS + 1)]

FAST = ("  pause_seconds: 0\n  backoff_seconds: 0.01\n  timeout_seconds: 5\n"
        "  retries: 4\n")
RETRIES = 4
# For random faults: an answer delayed 1.5 s is one threadbot gave up waiting for.
FAULTY = ("  pause_seconds: 0\n  backoff_seconds: 0.01\n  timeout_seconds: 1\n"
          "  retries: 6\n")
FAULT_DELAY = 1.5

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


def platforms_with(feature: str) -> list[str]:
    """The platforms whose fake (and client) have ``feature`` (a ``PlatformFake``
    attribute such as ``idempotent``)."""
    return [name for name, fake in FAKES.items() if getattr(fake, feature)]


# --------------------------------------------------------------------------- helpers


@pytest.fixture(params=list(FAKES))
def platform(request) -> PlatformFake:
    return FAKES[request.param]


@pytest.fixture
def server(platform) -> Iterator[Any]:
    with platform.running() as fake:
        yield fake


@pytest.fixture(autouse=True)
def watchdog(request):
    """Fail a test that runs for more than two minutes (a slow series of trials four)
    instead of stalling the suite."""
    limit = 240 if request.node.get_closest_marker("slow") else 120

    def expired(signum, frame):
        raise TimeoutError(f"watchdog: the test ran for more than {limit} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(limit)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@dataclass
class Writer:
    """A writer's folder posting to one fake server, and every output threadbot printed."""

    folder: Path
    platform: PlatformFake
    server: Any
    outputs: list[str] = field(default_factory=list)
    # Processes started, and those of them started with no saved session (where the
    # platform keeps one): each of those may sign in once, no other process may.
    processes: int = 0
    unsigned: int = 0

    @property
    def db(self) -> Path:
        return self.folder / "config" / "threadbot.db"

    def env(self) -> dict[str, str]:
        """This environment without any threadbot setting or platform secret (the
        folder's .env counts)."""
        prefixes = ("THREADBOT_", *(p for fake in FAKES.values() for p in fake.env_prefixes))
        return {k: v for k, v in os.environ.items()
                if not k.startswith(prefixes) and k not in ("NO_COLOR", "FORCE_COLOR")}

    def count_start(self) -> None:
        self.processes += 1
        session = self.platform.session_file(self.folder)
        if session is not None and not session.exists():
            self.unsigned += 1

    def run(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """`threadbot ARGS` as a separate process in the folder; a hang fails the test."""
        self.count_start()
        try:
            result = subprocess.run([*THREADBOT, *args], cwd=self.folder, env=self.env(),
                                    stdin=subprocess.DEVNULL, capture_output=True,
                                    text=True, timeout=timeout)
        except subprocess.TimeoutExpired as error:  # run() has killed it
            pytest.fail(f"`threadbot {' '.join(args)}` hung for {timeout} s: "
                        f"{error.stdout!r} {error.stderr!r}")
        self.outputs += [result.stdout, result.stderr]
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def start(self, *args: str, command: list[str] = THREADBOT) -> subprocess.Popen:
        self.count_start()
        return subprocess.Popen([*command, *args], cwd=self.folder, env=self.env(),
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

    def post(self, draft: str = "drafts/x.md") -> subprocess.CompletedProcess:
        return self.run("post", draft, "--yes")

    def complete(self, first: subprocess.CompletedProcess | None = None, *,
                 use_post: bool = False, runs: int = 5) -> list[int]:
        """Run `resume 1` (or `post` again) until threadbot exits 0; the exit codes.
        Each run may stop for a passing reason (the platform failing, a rate limit,
        an uncertain post), and must then say how to go on."""
        codes = [] if first is None else [first.returncode]
        while not codes or codes[-1] != 0:
            assert len(codes) < runs, f"not done after {runs} runs: exit codes {codes}"
            thread = self.thread()
            if thread is None or (use_post and thread.status is not ThreadStatus.POSTED):
                result = self.post()
            else:
                result = self.run("resume", "1")
            assert result.returncode in (0, ExitCode.PLATFORM, ExitCode.UNCERTAIN,
                                         ExitCode.RATE_LIMITED), (
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


def make_writer(folder: Path, platform: PlatformFake, server: Any, posting: str = FAST, *,
                front_matter: str = "") -> Writer:
    folder.mkdir(parents=True, exist_ok=True)
    platform.write_folder(folder, server, posting)
    (folder / "drafts" / "pic.png").write_bytes(PNG)
    paragraphs = list(PARAGRAPHS)
    paragraphs[IMAGE_POST - 1] += f"\n\n![{ALT}](pic.png)"
    (folder / "drafts" / "x.md").write_text(
        f"---\ntitle: Contract\nbreak: paragraph\n{front_matter}---\n"
        + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return Writer(folder, platform, server)


def assert_one_chain(writer: Writer, *, foreign: set[str] = frozenset()) -> list:
    """Exactly one complete thread on the server, in order, each post a reply to the
    one before, the image on its post with its alt text, and the record agrees
    (ids, URLs as the server gives them). ``foreign``: ids of the account's posts
    that are not the thread's. Returns the server's posts."""
    platform, server = writer.platform, writer.server
    thread = writer.thread()
    assert thread is not None
    assert thread.status is ThreadStatus.POSTED, (thread.status, thread.last_error)
    assert len(thread.posts) == POSTS
    assert [p.text for p in thread.posts] == PARAGRAPHS
    assert all(p.status is PostStatus.POSTED for p in thread.posts)

    posts = [p for p in platform.chain(server) if p.id not in foreign]
    texts = [p.text for p in posts]
    assert len(set(texts)) == len(texts), f"a post went up twice: {texts}"
    assert not [p.id for p in posts if p.deleted]
    assert texts == [p.text for p in thread.posts]
    previous = None
    for post in posts:
        assert post.reply_to == previous, "the posts do not form one chain"
        previous = post.id
    assert [p.id for p in posts] == [p.remote_id for p in thread.posts]
    if platform.strong_refs:
        # Each reply names the thread's first post as its root and the post before it
        # as its parent, by URI and CID, as the record keeps them.
        assert [(p.remote_uri, p.remote_cid) for p in thread.posts] == [
            (p.uri, p.cid) for p in posts]
        first = (posts[0].uri, posts[0].cid)
        assert [p.reply_root for p in posts] == [None] + [first] * (len(posts) - 1)
        assert [p.reply_parent for p in posts] == [None] + [
            (p.uri, p.cid) for p in posts[:-1]]
    assert thread.url == platform.post_url(server, posts[0].id)
    assert thread.posts[-1].remote_url == platform.post_url(server, posts[-1].id)

    for stored, recorded in zip(posts, thread.posts, strict=True):
        assert len(stored.images) == len(recorded.media)
        for image in stored.images:
            assert image.alt == ALT and image.data == PNG
    assert len(posts[IMAGE_POST - 1].images) == 1
    return posts


def assert_no_secrets(writer: Writer, *, json: bool = True) -> None:
    """No secret (nor session token) in any output, in list/show --json (unless not
    ``json``), in the database's bytes, or in any file of the folder but config/.env and
    the session file; that one is the writer's alone (0600) and holds no password."""
    platform = writer.platform
    secrets = platform.secrets(writer.server)
    assert secrets and all(secrets)
    if json:
        listing = writer.run("list", "--json")
        assert listing.returncode == 0, listing.stderr
        shown = writer.run("show", "1", "--json")
        assert shown.returncode == 0, shown.stderr
    assert writer.db.exists()
    session = platform.session_file(writer.folder)
    env = writer.folder / "config" / ".env"
    files = {path: path.read_bytes() for path in writer.folder.rglob("*")
             if path.is_file() and path not in (env, session)}
    for secret in secrets:
        for text in writer.outputs:
            assert secret not in text
        for path, blob in files.items():
            assert secret.encode() not in blob, f"a secret in {path}"
    if session is not None and session.exists():
        assert session.stat().st_mode & 0o777 == 0o600
        saved = session.read_text(encoding="utf-8")
        assert secrets[0] not in saved  # the password itself is never kept


def assert_one_key_per_post(writer: Writer) -> None:
    """Every request for the same post carried the same idempotency key: the one the
    record holds for it (across retries and processes alike)."""
    platform = writer.platform
    keys: dict[str, set[str | None]] = {}
    for request in platform.creates(writer.server):
        keys.setdefault(platform.create_text(request), set()).add(
            platform.idempotency_key(request))
    for post in writer.thread().posts:
        assert keys.get(post.text, {post.idempotency_key}) == {post.idempotency_key}, (
            post.position, keys.get(post.text))
    assert len({p.idempotency_key for p in writer.thread().posts}) == POSTS


# --------------------------------------------------------------------------- 1. one chain


def test_thread_goes_up_as_one_chain_with_its_image_and_alt_text(tmp_path, platform, server):
    writer = make_writer(tmp_path / "w", platform, server, front_matter="lang: de\n")
    check = writer.run("accounts", "check")
    assert check.returncode == 0, check.stderr
    assert f"@{platform.handle}" in check.stdout

    result = writer.post()
    assert result.returncode == 0, result.stderr
    posts = assert_one_chain(writer)
    assert len(platform.creates(server)) == POSTS
    thread = writer.thread()
    assert f"Thread 1 is up: {thread.url}" in result.stdout
    for post in thread.posts:
        assert f"[{post.position}/{POSTS}] posted  {post.remote_url}" in result.stdout
    assert [p.remote_url for p in thread.posts] == [platform.post_url(server, p.id)
                                                    for p in posts]
    if platform.visibilities:
        # A thread does not flood the timelines (Mastodon: only its first post is public).
        first, replies = platform.visibilities
        assert [p.visibility for p in posts] == [first] + [replies] * (POSTS - 1)
    if platform.languages:
        assert {p.language for p in posts} == {"de"}
    if platform.content_warnings:
        assert {p.spoiler_text for p in posts} == {""}
    assert_no_secrets(writer)
    if platform.logins(server) is not None:
        # `accounts check` signed in once; `post` and the rest reused that session.
        assert platform.logins(server) == 1, platform.logins(server)
        assert platform.session_file(writer.folder).exists()


CONTENT_WARNING = "thoughts on work"


@pytest.mark.parametrize("platform", platforms_with("content_warnings"), indirect=True)
def test_cw_front_matter_puts_a_content_warning_on_every_post(tmp_path, platform, server):
    writer = make_writer(tmp_path / "w", platform, server,
                         front_matter=f"lang: fr\ncw: {CONTENT_WARNING}\n")
    result = writer.post()
    assert result.returncode == 0, result.stderr
    posts = assert_one_chain(writer)
    if platform.languages:
        assert {p.language for p in posts} == {"fr"}
    assert [p.spoiler_text for p in posts] == [CONTENT_WARNING] * POSTS, (
        f"`cw:` did not reach the posts; threadbot said: {result.stdout}{result.stderr}")


# --------------------------------------------------------------------------- 2. SIGKILL


KILL_TRIALS = 20
LATENCY = 0.03


@pytest.mark.slow
def test_sigkill_at_random_moments_then_finishing_leaves_one_chain(tmp_path, platform):
    """Kill -9 `threadbot post` at a random moment (from before the thread is
    recorded to after its last post), then finish it (`resume`, or `post` again):
    one chain, every time."""
    with platform.running() as server:  # how many requests one clean `post` makes
        reference = make_writer(tmp_path / "reference", platform, server)
        assert reference.post().returncode == 0
        requests = len(server.requests)
    seen: list[str] = []
    signs_in = platform.session_file(tmp_path) is not None  # with a password, each time?
    logins = processes = unsigned = 0
    for trial in range(KILL_TRIALS):
        rng = random.Random(trial)
        with platform.running(latency=LATENCY) as server:
            writer = make_writer(tmp_path / f"trial{trial}", platform, server)
            # Where to strike: after a random number of requests were answered (0: at a
            # random moment of start-up), plus a random part of one request's time.
            after = rng.randrange(requests + 1)
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
            up = len([p for p in platform.chain(server) if not p.deleted])
            if thread is None:
                state = "no thread"
            else:
                sending = [p.position for p in thread.posts if p.status is PostStatus.SENDING]
                state = (f"{thread.posted_count}/{POSTS} recorded, {up} on the server"
                         + (f", post {sending[0]} sending" if sending else ""))
            how = "post" if trial % 2 else "resume"
            seen.append(f"{platform.name} trial {trial}: killed after {after}/{requests} "
                        f"requests: exit {code}, {state}; finished by {how}")

            writer.complete(use_post=trial % 2 == 1)
            assert_one_chain(writer)
            if platform.idempotent:
                assert_one_key_per_post(writer)
            # (list/show --json once a series: each costs two more processes.)
            assert_no_secrets(writer, json=trial == 0)
            if signs_in:
                # A saved session is reused by the next process: only a process that
                # found none (the first, or one after a kill before it was saved)
                # signs in, at most once.
                assert platform.logins(server) <= writer.unsigned, (
                    platform.logins(server), writer.unsigned, seen[-1])
                logins += platform.logins(server)
            processes += writer.processes
            unsigned += writer.unsigned
    print("\n" + "\n".join(seen))
    # The trials did strike mid-thread, not only before or after.
    mid = [s for s in seen if re.search(rf": exit -9, [1-{POSTS - 1}]/{POSTS} recorded", s)]
    print(f"{platform.name}: {KILL_TRIALS} trials, {len(mid)} struck mid-thread")
    print(f"{platform.name}: {processes} processes, " + (
        f"{logins} logins ({unsigned} processes started with no saved session)"
        if signs_in else "no sign-in (long-lived credentials)"))
    assert mid, seen


# --------------------------------------------------------------------------- 3. faults


def fault_cases():
    """(platform, seed) for every platform and each of its fault seeds."""
    return [pytest.param(name, seed, id=f"{name}-seed{seed}")
            for name, fake in FAKES.items() for seed in fake.fault_seeds]


@pytest.mark.slow
@pytest.mark.parametrize(("platform", "seed"), fault_cases(), indirect=["platform"])
def test_random_faults_on_a_fifth_of_requests_still_give_one_chain(tmp_path, platform, seed):
    """A fifth of the requests fail at random (5xx, 429, dropped before or after the
    post is stored, answered too late); with resumes, one chain."""
    with platform.running() as server:
        platform.random_faults(server, 0.2, seed, delay=FAULT_DELAY)
        writer = make_writer(tmp_path / "w", platform, server, FAULTY)
        codes = writer.complete(writer.post(), runs=10)
        faults = [(r.method, r.path, r.fault) for r in server.requests if r.fault]
        print(f"\n{platform.name} seed {seed}: exit codes {codes}, faults {faults}")
        server.clear_faults()  # the checks below read the server too
        # Each seed was chosen to store a post and drop the answer (the uncertain case).
        assert ("POST", platform.create_path, "drop_after_store") in faults, faults
        assert_one_chain(writer)
        if platform.idempotent:
            assert_one_key_per_post(writer)
        assert_no_secrets(writer)


# --------------------------------------------------------------------------- 4. uncertain


@pytest.mark.parametrize("dedup", [False, True], ids=["no-server-guard", "server-guard"])
def test_dropped_answer_on_third_post_is_found_not_sent_again(tmp_path, platform, dedup):
    """The third post is stored but its answer never comes: threadbot looks among the
    account's recent posts, finds it and goes on; it is never sent a second time.
    Without the server's own guard (no Idempotency-Key honoured on Mastodon) only that
    lookup stands between the writer and a double post."""
    if dedup and not platform.server_guard_optional:
        pytest.skip(f"{platform.name}'s guard cannot be turned off: the run without it "
                    "is the run with it")
    with platform.running(dedup=dedup) as server:
        writer = make_writer(tmp_path / "w", platform, server)
        platform.drop_create(server, 3)
        result = writer.post()
        assert result.returncode == 0, result.stderr
        assert_one_chain(writer)
        creates = platform.creates(server)
        print(f"\n{platform.name} (server guard {'on' if dedup else 'off'}): "
              f"{len(creates)} create requests, {len(platform.lookups(server))} lookup(s)")
        assert len(creates) == POSTS  # nothing re-sent
        assert [platform.create_text(r) for r in creates] == PARAGRAPHS
        assert creates[2].status is None  # the dropped one
        assert len(platform.lookups(server)) == 1
        assert writer.thread().posts[2].attempts == 1
        assert "[3/9] posted" in result.stdout


@pytest.mark.parametrize("platform", platforms_with("idempotent"), indirect=True)
def test_a_resent_post_carries_its_key_and_would_get_the_same_post_back(tmp_path, platform):
    """Where the platform honours an idempotency key, every attempt at a post carries
    the same one (the record's), so a re-send gets the post already made back (on
    Bluesky the key is the record key: a re-send is refused, the post stays one)."""
    with platform.running(dedup=True) as server:
        writer = make_writer(tmp_path / "w", platform, server)
        # Post 3 fails twice (nothing stored) and goes up on its third request; post 5
        # is stored but its answer dropped, and found by the lookup. (Faults count
        # requests: 2 posts, 2 failures, post 3 again and post 4, then the drop.)
        platform.pass_creates(server, 2)
        platform.fail_creates(server, 2, status=503)
        platform.pass_creates(server, 2)
        platform.drop_creates(server, 1, after_store=True)
        result = writer.post()
        assert result.returncode == 0, result.stderr
        assert_one_chain(writer)
        assert_one_key_per_post(writer)
        thread = writer.thread()
        creates = platform.creates(server)
        third = [r for r in creates if platform.create_text(r) == PARAGRAPHS[2]]
        assert [r.status for r in third][:2] == [503, 503] and len(third) == 3
        assert {platform.idempotency_key(r) for r in third} == {thread.posts[2].idempotency_key}

        # Had threadbot sent the dropped post again, the server would have answered
        # with the post it had already made, not made a second one.
        (dropped,) = [r for r in creates if r.status is None]
        assert platform.create_text(dropped) == PARAGRAPHS[4]
        before = len(platform.chain(server))
        assert platform.replay_create(server, dropped) == thread.posts[4].remote_id
        assert len(platform.chain(server)) == before


def test_post_left_sending_after_server_errors_is_sent_once_on_resume(tmp_path, platform,
                                                                      server):
    writer = make_writer(tmp_path / "w", platform, server)
    platform.pass_creates(server, 2)
    platform.fail_creates(server, RETRIES, status=503)
    first = writer.post()
    assert first.returncode == ExitCode.PLATFORM, first.stderr
    assert "2 of 9 posts up" in first.stderr and "threadbot resume 1" in first.stderr
    thread = writer.thread()
    assert thread.status is ThreadStatus.PARTIAL
    assert [p.status for p in thread.posts[:4]] == [
        PostStatus.POSTED, PostStatus.POSTED, PostStatus.SENDING, PostStatus.PENDING]
    assert len(platform.chain(server)) == 2

    second = writer.run("resume", "1")
    assert second.returncode == 0, second.stderr
    assert_one_chain(writer)
    stored = [r for r in platform.creates(server) if r.status in (200, 201)]
    assert len(stored) == POSTS


def test_post_left_sending_by_a_crash_before_its_request_is_sent_once(tmp_path, platform,
                                                                      server):
    """A crash right after 'sending' was committed, before the request went out."""
    writer = make_writer(tmp_path / "w", platform, server)
    platform.fail_me(server, RETRIES, status=503)
    first = writer.post()
    assert first.returncode == ExitCode.PLATFORM, first.stderr
    with Store(writer.db) as store:
        thread = store.thread(1)
        assert thread.status is ThreadStatus.FAILED
        store.mark_sending(thread.posts[0].id)
    assert platform.chain(server) == []

    second = writer.run("resume", "1")
    assert second.returncode == 0, second.stderr
    assert_one_chain(writer)
    assert len(platform.creates(server)) == POSTS


def test_failing_lookup_after_uncertain_send_stops_with_exit_11(tmp_path, platform, server):
    writer = make_writer(tmp_path / "w", platform, server)
    platform.drop_create(server, 3)
    platform.fail_lookups(server, RETRIES, status=503)
    first = writer.post()
    assert first.returncode == ExitCode.UNCERTAIN, (first.returncode, first.stderr)
    for words in ("may have been published", "recent posts", f"@{platform.handle}",
                  PARAGRAPHS[2][:30], "threadbot resume 1"):
        assert words in first.stderr, (words, first.stderr)
    # Nothing was sent again: the three requests, and the dropped one is stored.
    assert len(platform.creates(server)) == 3
    assert len(platform.chain(server)) == 3
    thread = writer.thread()
    assert thread.status is ThreadStatus.PARTIAL
    assert thread.posts[2].status is PostStatus.SENDING

    server.clear_faults()
    second = writer.run("resume", "1")
    assert second.returncode == 0, second.stderr
    assert "[3/9] was already up" in second.stdout
    assert_one_chain(writer)
    assert len(platform.creates(server)) == POSTS


# --------------------------------------------------------------------------- 5. stops


def utc_minutes(start: datetime, end: datetime) -> set[str]:
    """Every minute from ``start`` to ``end`` as threadbot names a reset time."""
    minute = start.replace(second=0, microsecond=0)
    out = set()
    while minute <= end:
        out.add(minute.strftime("%H:%M UTC on %Y-%m-%d"))
        minute += timedelta(minutes=1)
    return out


def test_rate_limit_stops_with_exit_9_naming_the_reset_and_resumes(tmp_path, platform, server):
    writer = make_writer(tmp_path / "w", platform, server)
    reset_in = 2 * 60 * 60
    before = datetime.now(UTC)
    platform.rate_limit_create(server, 4, reset_in)
    first = writer.post()
    after = datetime.now(UTC)
    assert first.returncode == ExitCode.RATE_LIMITED, (first.returncode, first.stderr)
    assert "3 of 9 posts up" in first.stderr and "threadbot resume 1" in first.stderr
    expected = utc_minutes(before + timedelta(seconds=reset_in - 2),
                           after + timedelta(seconds=reset_in + 1))
    assert any(f"Posting can go on after {when}" in first.stderr for when in expected), (
        expected, first.stderr)
    thread = writer.thread()
    assert thread.status is ThreadStatus.PARTIAL and thread.posted_count == 3
    assert thread.posts[3].status is PostStatus.PENDING  # refused: certainly not up
    assert len(platform.chain(server)) == 3
    assert len(platform.creates(server)) == 4  # a rate limit is not retried

    platform.lift_rate_limit(server)
    second = writer.run("resume", "1")
    assert second.returncode == 0, second.stderr
    assert_one_chain(writer)
    assert len(platform.creates(server)) == POSTS + 1


def test_credentials_rejected_mid_thread_exit_8_and_resume(tmp_path, platform, server):
    writer = make_writer(tmp_path / "w", platform, server)
    platform.reject_create(server, 3)
    first = writer.post()
    assert first.returncode == ExitCode.AUTH, (first.returncode, first.stderr)
    assert "401" in first.stderr and platform.auth_hint in first.stderr, first.stderr
    assert "2 of 9 posts up" in first.stderr and "threadbot resume 1" in first.stderr
    assert writer.thread().status is ThreadStatus.PARTIAL
    assert len(platform.creates(server)) == 3  # not retried

    second = writer.run("resume", "1")
    assert second.returncode == 0, second.stderr
    assert_one_chain(writer)
    assert_no_secrets(writer)


def test_wrong_credentials_exit_8_pointing_to_the_fix(tmp_path, platform, server):
    writer = make_writer(tmp_path / "w", platform, server)
    platform.spoil_credentials(writer.folder)
    check = writer.run("accounts", "check")
    assert check.returncode == ExitCode.AUTH, (check.returncode, check.stderr)
    assert "401" in check.stderr
    result = writer.post()
    assert result.returncode == ExitCode.AUTH, (result.returncode, result.stderr)
    assert platform.auth_hint in result.stderr, result.stderr
    assert "0 of 9 posts up" in result.stderr
    assert platform.chain(server) == [] and platform.creates(server) == []
    assert writer.thread().status is ThreadStatus.FAILED

    platform.write_folder(writer.folder, server, FAST)  # the writer fixes the secret
    assert writer.run("resume", "1").returncode == 0
    assert_one_chain(writer)


REFUSED = ("This third post is much longer than the others, because the platform will "
           "refuse exactly this one by its own rule: on X a text the account already "
           "posted, on Mastodon or Bluesky more than the server now allows.")


def test_refused_post_exit_10_with_the_platforms_reason(tmp_path, platform, server):
    writer = make_writer(tmp_path / "w", platform, server)
    # The same thread, its third post replaced by the one the platform will refuse.
    draft = writer.folder / "drafts" / "x.md"
    draft.write_text(draft.read_text().replace(PARAGRAPHS[2], REFUSED), encoding="utf-8")
    assert writer.run("accounts", "check").returncode == 0  # caches the server's limits
    reason = platform.refuse(server, writer.folder, REFUSED)
    earlier = len(platform.creates(server))  # X: the account's own post of that text
    first = writer.post()
    assert first.returncode == ExitCode.REJECTED, (first.returncode, first.stderr)
    assert reason in first.stderr, first.stderr
    assert "2 of 9 posts up" in first.stderr
    thread = writer.thread()
    assert thread.status is ThreadStatus.PARTIAL
    assert thread.posts[2].status is PostStatus.PENDING
    refused = [r for r in platform.creates(server)[earlier:]
               if platform.create_text(r) == REFUSED]
    assert len(refused) == 1  # a refusal is not retried

    foreign = platform.lift_refusal(server)
    second = writer.run("resume", "1")
    assert second.returncode == 0, second.stderr
    posts = [p for p in platform.chain(server) if p.id not in foreign]
    assert [p.text for p in posts] == [*PARAGRAPHS[:2], REFUSED, *PARAGRAPHS[3:]]
    assert [p.reply_to for p in posts] == [None, *[p.id for p in posts[:-1]]]
    assert [p.id for p in posts] == [p.remote_id for p in writer.thread().posts]


# --------------------------------------------------------------------------- 6. delete


def test_delete_takes_the_whole_thread_down_last_post_first(tmp_path, platform, server):
    writer = make_writer(tmp_path / "w", platform, server)
    assert writer.post().returncode == 0
    ids = [p.remote_id for p in writer.thread().posts]

    result = writer.run("delete", "1", "--yes")
    assert result.returncode == 0, result.stderr
    assert f"Thread 1 is deleted ({POSTS} posts taken down)" in result.stdout
    assert platform.deletes(server) == [(i, 200) for i in reversed(ids)]
    assert all(p.deleted for p in platform.chain(server))
    thread = writer.thread()
    assert thread.status is ThreadStatus.DELETED and thread.deleted_count == POSTS
    again = writer.run("delete", "1", "--yes")
    assert again.returncode == 0 and "already deleted" in again.stdout
    assert len(platform.deletes(server)) == POSTS


@pytest.mark.parametrize("strike", [1, 5, 9])
def test_delete_killed_part_way_is_finished_by_delete_again(tmp_path, platform, server,
                                                            strike):
    """Killed while the answer to DELETE number ``strike`` is on its way (the post is
    already down): `delete` again finishes, last post first."""
    writer = make_writer(tmp_path / "w", platform, server)
    assert writer.post().returncode == 0
    ids = [p.remote_id for p in writer.thread().posts]

    platform.slow_delete(server, strike, seconds=3)
    proc = writer.start("delete", "1", "--yes")
    deadline = time.monotonic() + 20
    while len(platform.deletes(server)) < strike and proc.poll() is None:
        assert time.monotonic() < deadline, "threadbot made no progress"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    code, _, err = writer.finish(proc)
    assert code == -signal.SIGKILL, (code, err)
    thread = writer.thread()
    assert thread.status is ThreadStatus.DELETING
    assert thread.deleted_count == strike - 1
    assert sum(p.deleted for p in platform.chain(server)) == strike

    result = writer.run("delete", "1", "--yes")
    assert result.returncode == 0, result.stderr
    assert all(p.deleted for p in platform.chain(server))
    thread = writer.thread()
    assert thread.status is ThreadStatus.DELETED and thread.deleted_count == POSTS
    # Last post first, across both runs; only the post whose answer the kill lost is
    # asked for again (a platform answers that it is gone, or deleted: either is fine).
    deletes = platform.deletes(server)
    assert [i for i, _ in deletes] == [*reversed(ids[POSTS - strike:]),
                                       *reversed(ids[:POSTS - strike + 1])]


def test_delete_killed_after_its_last_deletion_is_finished_by_delete_again(
        tmp_path, platform, server):
    """Killed between recording the last post's deletion and the thread's: every post
    is down and recorded so, the thread still ``deleting``. `delete` again finishes."""
    writer = make_writer(tmp_path / "w", platform, server)
    assert writer.post().returncode == 0
    assert writer.run("delete", "1", "--yes").returncode == 0
    with sqlite3.connect(writer.db) as db:  # the state that kill leaves
        db.execute("UPDATE threads SET status = 'deleting', claimed_by = ? WHERE id = 1",
                   (f"{socket.gethostname()}:{dead_pid()}:cli",))
    thread = writer.thread()
    assert thread.status is ThreadStatus.DELETING and thread.deleted_count == POSTS

    result = writer.run("delete", "1", "--yes")
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert writer.thread().status is ThreadStatus.DELETED
    assert len(platform.deletes(server)) == POSTS  # nothing left to send


# --------------------------------------------------------------------------- 7. Ctrl-C


def dead_pid() -> int:
    """The process id of a process that has ended."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def interrupt_when(writer: Writer, ready) -> tuple[int, str, str]:
    proc = writer.start("post", "drafts/x.md", "--yes", command=THREADBOT_SIGINT)
    deadline = time.monotonic() + 20
    while not ready():
        assert proc.poll() is None, writer.finish(proc)
        assert time.monotonic() < deadline, "threadbot made no progress"
        time.sleep(0.002)
    proc.send_signal(signal.SIGINT)
    return writer.finish(proc)


def test_ctrl_c_mid_thread_says_how_far_and_resumes(tmp_path, platform, server):
    writer = make_writer(tmp_path / "w", platform, server)
    # The fourth post is stored at once but answered only after 3 s: Ctrl-C comes
    # while threadbot waits for that answer, always mid-thread.
    platform.slow_create(server, 4, seconds=3)
    code, _, err = interrupt_when(writer, lambda: len(platform.creates(server)) >= 4)
    assert code == ExitCode.INTERRUPTED, (code, err)
    assert "stopped with 3 of 9 posts up" in err, err
    assert "threadbot resume 1" in err
    thread = writer.thread()
    assert thread.posted_count == 3
    assert thread.status is ThreadStatus.PARTIAL
    assert thread.claimed_by is None
    # The fourth is up on the server, its answer never read: `sending`, and resume
    # finds it rather than sending it again.
    assert thread.posts[3].status is PostStatus.SENDING
    assert len(platform.chain(server)) == 4

    resumed = writer.run("resume", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert "[4/9] was already up" in resumed.stdout
    assert_one_chain(writer)
    assert len(platform.creates(server)) == POSTS
    assert_no_secrets(writer)


def test_ctrl_c_before_any_post_leaves_thread_failed_and_resumable(tmp_path, platform,
                                                                   server):
    writer = make_writer(tmp_path / "w", platform, server)
    platform.delay_me(server, 3)
    code, _, err = interrupt_when(
        writer, lambda: len(platform.requests(server, "GET", re.escape(platform.me_path))) >= 1)
    assert code == ExitCode.INTERRUPTED, (code, err)
    assert "stopped with 0 of 9 posts up" in err and "threadbot resume 1" in err
    assert writer.thread().status is ThreadStatus.FAILED
    assert platform.chain(server) == []

    writer.complete()
    assert_one_chain(writer)


# --------------------------------------------------------------------------- secrets


def test_no_secret_in_outputs_database_or_json_after_a_faulty_run(tmp_path, platform, server):
    writer = make_writer(tmp_path / "w", platform, server, FAULTY)
    platform.pass_creates(server, 1)
    platform.fail_creates(server, 2, status=500)
    platform.drop_creates(server, 1, after_store=False)
    platform.drop_creates(server, 1, after_store=True)
    # The lookups after the first three failures work; the one after the drop fails.
    platform.pass_lookups(server, 2 * platform.lookups_per_5xx + 1)
    platform.fail_lookups(server, 6, status=503)
    first = writer.post()
    assert first.returncode == ExitCode.UNCERTAIN, first.stderr
    # It stopped where meant to: the second post is up, its answer lost, unconfirmed.
    assert writer.thread().posts[1].status is PostStatus.SENDING
    assert len(platform.chain(server)) == 2
    # While the thread is unfinished, its errors are in the record: still no secret.
    assert_no_secrets(writer)
    with sqlite3.connect(writer.db) as db:
        errors = [row[0] for row in db.execute("SELECT last_error FROM posts") if row[0]]
    assert errors

    server.clear_faults()
    writer.complete(first)
    assert_one_chain(writer)
    assert_no_secrets(writer)
