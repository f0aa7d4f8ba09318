"""Daemon timeliness, throughput and idle cost, measured in one run against FakeX.

    .venv/bin/python bench/daemon.py [--quick] [--keep]

The real daemon (``python -m threadbot daemon``) runs as a subprocess in a
temporary writer's folder (posting.pause_seconds 0, daemon.sync_seconds 1),
against a FakeX in this process that adds 50 ms to every request. Threads are
queued through the library (``threadbot.schedule.queue_draft``) while the
daemon runs, as ``threadbot queue`` would.

(a) On time: threads over 20 accounts, each account's threads a few seconds
    apart, due within about a minute and a half. Delay from each thread's
    time to its first post reaching FakeX (the request log's timestamp, taken
    after the fake latency, minus that latency); median, 99th percentile, max.
(b) Throughput: threads of 5 posts over 20 accounts, all due at the same
    second; wall time from that second to the last post stored, next to the
    ideal for the latency: per account, (posts + the one GET /2/users/me the
    daemon makes for the account) x latency, as a ratio.
(c) Idle: a daemon with an empty queue; RSS (VmRSS) and CPU (utime+stime)
    over 60 s (10 s with --quick).

--quick scales (a) and (b) down; --keep leaves the folders (and the daemon
logs) in /tmp for inspection.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from threadbot.config import load_config
from threadbot.schedule import queue_draft
from threadbot.store import Store
from threadbot.testing.fake_x import FakeX

LATENCY = 0.05  # seconds FakeX adds to every request
ACCOUNTS = 20
POSTS = 5  # posts per thread
SYNC_SECONDS = 1
CLK_TCK = os.sysconf("SC_CLK_TCK")
UNLIMITED = 10**9

_running: list[subprocess.Popen] = []


# --- the writer's folder, FakeX and the daemon ---------------------------------------


def start_fake() -> FakeX:
    """A FakeX with latency whose limits never get in the way of the measurement."""
    fake = FakeX(accounts=[], latency=LATENCY,
                 rate_limits={"POST /2/tweets": (UNLIMITED, 900),
                              "GET /2/users/me": (UNLIMITED, 900)},
                 # High caps rather than none: X always sends the 24-hour headers,
                 # and the daemon records them after every post.
                 user_post_cap_24h=UNLIMITED, app_post_cap_24h=UNLIMITED)
    for i in range(ACCOUNTS):
        fake.add_account(f"bench_{i:02d}")
    return fake.start()


def writer_folder(root: Path, fake: FakeX, accounts: int = ACCOUNTS) -> Path:
    """A writer's folder (config/threadbot.yaml, config/.env, drafts/) with one
    account per fake user, each keyed by its own variables; returns the config."""
    (root / "config").mkdir(parents=True)
    (root / "drafts").mkdir()
    config = ["timezone: UTC", "accounts:"]
    env = []
    for i in range(accounts):
        name, prefix = f"acct{i:02d}", f"BENCH{i:02d}"
        config += [f"  {name}:", "    platform: x", f"    api_base_url: {fake.base_url}",
                   "    env:", f"      api_key: {prefix}_API_KEY",
                   f"      api_secret: {prefix}_API_SECRET",
                   f"      access_token: {prefix}_ACCESS_TOKEN",
                   f"      access_token_secret: {prefix}_ACCESS_TOKEN_SECRET"]
        keys = fake.credentials(f"bench_{i:02d}")
        env += [f"{prefix}_API_KEY={keys['consumer_key']}",
                f"{prefix}_API_SECRET={keys['consumer_secret']}",
                f"{prefix}_ACCESS_TOKEN={keys['access_token']}",
                f"{prefix}_ACCESS_TOKEN_SECRET={keys['access_token_secret']}"]
    config += ["posting:", "  pause_seconds: 0", "daemon:", f"  sync_seconds: {SYNC_SECONDS}"]
    path = root / "config" / "threadbot.yaml"
    path.write_text("\n".join(config) + "\n", encoding="utf-8")
    (root / "config" / ".env").write_text("\n".join(env) + "\n", encoding="utf-8")
    return path


def start_daemon(folder: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADBOT_")}
    log = open(folder / "daemon.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "-m", "threadbot", "daemon"], cwd=folder, env=env,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    _running.append(proc)
    deadline = time.monotonic() + 30
    while b"daemon started" not in (folder / "daemon.log").read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = (folder / "daemon.log").read_text(errors="replace")[-2000:]
            raise SystemExit(f"the daemon did not start (exit {proc.poll()}):\n{tail}")
        time.sleep(0.05)
    return proc


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    """SIGTERM, then SIGKILL if it has not exited after ``timeout`` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            print(f"  (daemon {proc.pid} ignored SIGTERM for {timeout:g} s: killed)")
            proc.kill()
            proc.wait()
    if proc in _running:
        _running.remove(proc)
    return proc.returncode


def proc_cpu(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def kib(status: dict[str, str], key: str) -> float:
    return int(status[key].split()[0]) / 1024  # in MiB


# --- drafts and the queue ---------------------------------------------------------------


@dataclass
class Queued:
    thread_id: int
    account: str
    due: float  # epoch seconds
    first_text: str
    queued_at: float


def write_draft(folder: Path, tag: str) -> Path:
    path = folder / "drafts" / f"{tag}.md"
    paragraphs = [f"Bench {tag}, post {k} of {POSTS}: a short line that fits in one post."
                  for k in range(1, POSTS + 1)]
    path.write_text("---\nbreak: paragraph\n---\n\n" + "\n\n".join(paragraphs) + "\n",
                    encoding="utf-8")
    return path


def queue_all(config_path: Path, plan: list[tuple[str, str, datetime]]) -> list[Queued]:
    """Write and queue one draft per (tag, account, due); due times are whole seconds
    (the store keeps scheduled times to the second)."""
    config = load_config(config_path)
    folder = config_path.parent.parent
    paths = [write_draft(folder, tag) for tag, _, _ in plan]
    queued = []
    for path, (_tag, account, due) in zip(paths, plan, strict=True):
        [result] = queue_draft(config, str(path), at=due.isoformat(), account=account)
        thread = result.thread
        assert len(thread.posts) == POSTS, f"{path} split into {len(thread.posts)} posts"
        assert thread.scheduled_at == due, (thread.scheduled_at, due)
        queued.append(Queued(thread.id, account, due.timestamp(), thread.posts[0].text,
                             time.time()))
    return queued


def whole_second(seconds_ahead: float) -> datetime:
    moment = datetime.now(UTC) + timedelta(seconds=seconds_ahead)
    return moment.replace(microsecond=0) + timedelta(seconds=1)


def created_posts(fake: FakeX) -> list:
    return [r for r in fake.requests if r.method == "POST" and r.path == "/2/tweets"
            and r.status == 201]


def wait_for_posts(fake: FakeX, expected: int, deadline: float, proc: subprocess.Popen) -> int:
    while True:
        done = len(created_posts(fake))
        if done >= expected or time.time() > deadline or proc.poll() is not None:
            return done
        time.sleep(0.25)


def check_result(fake: FakeX, config_path: Path, threads: int) -> list[str]:
    """What went wrong, if anything: posts missing or doubled, broken reply chains,
    threads not recorded as posted, failed requests."""
    problems = []
    posts = fake.posts()
    roots = [p for p in posts if p.reply_to is None]
    if len(posts) != threads * POSTS or len(roots) != threads:
        problems.append(f"{len(posts)} posts and {len(roots)} first posts on FakeX, "
                        f"expected {threads * POSTS} and {threads}")
    texts = Counter(p.text for p in posts)
    doubled = sum(n - 1 for n in texts.values() if n > 1)
    if doubled:
        problems.append(f"{doubled} post(s) posted twice")
    chains = Counter(p.conversation_id for p in posts)
    broken = sum(1 for n in chains.values() if n != POSTS)
    if broken:
        problems.append(f"{broken} conversation(s) without exactly {POSTS} posts")
    failed = Counter(f"{r.method} {r.path} {r.status}" for r in fake.requests
                     if r.status is None or r.status >= 400)
    if failed:
        problems.append(f"failed requests: {dict(failed)}")
    config = load_config(config_path)
    with Store(config.database_path()) as store:
        statuses = Counter(t.status.value for t in store.threads())
    if statuses != Counter({"posted": threads}):
        problems.append(f"threads in the database: {dict(statuses)}")
    return problems


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.0f} ms"


# --- (a) on time --------------------------------------------------------------------------


def on_time(root: Path, per_account: int, gap: int) -> None:
    threads = ACCOUNTS * per_account
    print(f"\n(a) On time: {threads} threads of {POSTS} posts, {ACCOUNTS} accounts x "
          f"{per_account}, each account's {gap} s apart")
    fake = start_fake()
    config_path = writer_folder(root, fake)
    proc = start_daemon(root)
    try:
        first = whole_second(4)
        plan = []
        for j in range(per_account):
            for i in range(ACCOUNTS):
                due = first + timedelta(seconds=j * gap + i % gap)
                plan.append((f"a{j:03d}-{i:02d}", f"acct{i:02d}", due))
        plan.sort(key=lambda item: item[2])
        start = time.time()
        queued = queue_all(config_path, plan)
        took = time.time() - start
        lead = min(q.due - q.queued_at for q in queued)
        span = max(q.due for q in queued) - min(q.due for q in queued)
        print(f"  queued in {took:.1f} s ({took / threads * 1000:.1f} ms a thread); due over "
              f"{span:.0f} s; least lead {lead:.1f} s (sync every {SYNC_SECONDS} s)")
        last_due = max(q.due for q in queued)
        done = wait_for_posts(fake, threads * POSTS, last_due + 30, proc)
        cpu = proc_cpu(proc.pid)
    finally:
        code = stop(proc)
        fake.stop()
    print(f"  daemon CPU {cpu:.1f} s; exit {code} on SIGTERM; {done}/{threads * POSTS} posts")

    by_text = {q.first_text: q for q in queued}
    arrived: dict[int, float] = {}
    started: dict[int, float] = {}  # the thread's first request of any kind
    requests = fake.requests
    for r in requests:
        if r.method == "POST" and r.path == "/2/tweets" and isinstance(r.json, dict):
            q = by_text.get(r.json.get("text"))
            if q is not None and q.thread_id not in arrived:
                arrived[q.thread_id] = r.at - LATENCY
    users = {a.username: a.user_id for a in fake.accounts}
    for q in queued:
        user = users[f"bench_{q.account[4:]}"]
        # A user's threads are gap seconds apart and take well under a second.
        times = [r.at - LATENCY for r in requests
                 if r.user_id == user and r.at - LATENCY >= q.due - 0.5]
        if times:
            started[q.thread_id] = min(times)
    delays = [arrived[q.thread_id] - q.due for q in queued if q.thread_id in arrived]
    wakes = [started[q.thread_id] - q.due for q in queued if q.thread_id in started]
    missing = threads - len(delays)
    print(f"  {'':<44} {'median':>11} {'p99':>11} {'max':>11} {'min':>11}")
    for label, values in (("first request (GET /2/users/me) arrives", wakes),
                          ("first post (POST /2/tweets) arrives", delays)):
        if values:
            print(f"  {label:<44} {ms(statistics.median(values))} "
                  f"{ms(percentile(values, 99))} {ms(max(values))} {ms(min(values))}")
    print(f"  (arrival = FakeX's log time minus its {LATENCY * 1000:.0f} ms latency; the first "
          "post waits for the GET's round trip, latency included)")
    ideal = LATENCY  # the GET /2/users/me round trip before the first post
    if delays:
        print(f"  first post vs the ideal {ideal * 1000:.0f} ms (one GET round trip): "
              f"median {statistics.median(delays) / ideal:.1f}x, "
              f"p99 {percentile(delays, 99) / ideal:.1f}x")
    if missing:
        print(f"  !! {missing} thread(s) had no first post")
    for problem in check_result(fake, config_path, threads):
        print(f"  !! {problem}")


# --- (b) throughput ---------------------------------------------------------------------


def throughput(root: Path, threads: int) -> None:
    per_account = threads // ACCOUNTS
    print(f"\n(b) Throughput: {threads} threads of {POSTS} posts, {ACCOUNTS} accounts x "
          f"{per_account}, all due at the same second")
    fake = start_fake()
    config_path = writer_folder(root, fake)
    proc = start_daemon(root)
    try:
        # Queueing takes a few ms a thread; leave room for it and for one sync.
        due = whole_second(3 + threads * 0.008)
        plan = [(f"b{n:04d}", f"acct{n % ACCOUNTS:02d}", due) for n in range(threads)]
        start = time.time()
        queued = queue_all(config_path, plan)
        took = time.time() - start
        lead = due.timestamp() - max(q.queued_at for q in queued)
        print(f"  queued in {took:.1f} s ({took / threads * 1000:.1f} ms a thread); the last "
              f"{lead:.1f} s before they fell due")
        if lead < SYNC_SECONDS:
            print("  !! queued too close to the due time: the wall time below includes "
                  "the wait for the daemon's sync")
        while time.time() < due.timestamp():
            time.sleep(0.01)
        cpu0, fake0 = proc_cpu(proc.pid), time.process_time()
        done = wait_for_posts(fake, threads * POSTS, due.timestamp() + 60 + threads * 0.5, proc)
        cpu = proc_cpu(proc.pid) - cpu0
        fake_cpu = time.process_time() - fake0
        status = proc_status(proc.pid)
    finally:
        code = stop(proc)
        fake.stop()
    posts = created_posts(fake)
    times = sorted(r.at for r in posts)
    requests = Counter(f"{r.method} {r.path}" for r in fake.requests)
    if not times:
        print("  !! nothing was posted")
        return
    wall = times[-1] - due.timestamp()
    # One POST /2/tweets per post, one GET /2/users/me per account (the daemon asks once).
    requests_per_account = per_account * POSTS + 1
    ideal = requests_per_account * LATENCY
    ideal_posts_only = per_account * POSTS * LATENCY
    print(f"  requests: {dict(requests)}")
    print(f"  first post stored {times[0] - due.timestamp():.2f} s after the due time; "
          f"{done}/{threads * POSTS} posts")
    print(f"  {'wall (due -> last post)':<32} {wall:8.1f} s")
    print(f"  {'ideal (posts per account + 1 GET)':<32} {ideal:8.1f} s   "
          f"({requests_per_account} requests x {LATENCY * 1000:.0f} ms)")
    print(f"  {'wall / ideal':<32} {wall / ideal:8.1f}x   "
          f"(against POSTs only, {ideal_posts_only:.1f} s: {wall / ideal_posts_only:.1f}x)")
    print(f"  {len(posts) / wall:.0f} posts/s; daemon CPU {cpu:.1f} s ({cpu / wall:.0%} of "
          f"one core), FakeX (this process) CPU {fake_cpu:.1f} s; daemon peak RSS "
          f"{kib(status, 'VmHWM'):.0f} MiB, {status['Threads']} threads; exit {code} on SIGTERM")
    for problem in check_result(fake, config_path, threads):
        print(f"  !! {problem}")


# --- (c) idle -------------------------------------------------------------------------------


def idle(root: Path, seconds: float) -> None:
    print(f"\n(c) Idle: an empty queue for {seconds:g} s")
    fake = start_fake()
    writer_folder(root, fake)
    proc = start_daemon(root)
    try:
        time.sleep(2)  # past start-up and the first syncs
        before, cpu0, wall0 = proc_status(proc.pid), proc_cpu(proc.pid), time.monotonic()
        time.sleep(seconds)
        after, cpu1, wall1 = proc_status(proc.pid), proc_cpu(proc.pid), time.monotonic()
        requests = len(fake.requests)
    finally:
        code = stop(proc)
        fake.stop()
    cpu = cpu1 - cpu0
    print(f"  RSS {kib(before, 'VmRSS'):.1f} MiB -> {kib(after, 'VmRSS'):.1f} MiB "
          f"(peak {kib(after, 'VmHWM'):.1f} MiB), {after['Threads']} threads")
    print(f"  CPU {cpu:.2f} s in {wall1 - wall0:.0f} s = {cpu / (wall1 - wall0):.2%} of one core "
          f"(clock tick {1000 / CLK_TCK:.0f} ms); {requests} requests to FakeX; "
          f"exit {code} on SIGTERM")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="40 and 100 threads, 10 s idle (under 90 s)")
    parser.add_argument("--keep", action="store_true", help="keep the folders and daemon logs")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = Path(tempfile.mkdtemp(prefix="threadbot-bench-daemon-"))
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; FakeX latency "
          f"{LATENCY * 1000:.0f} ms; pause_seconds 0, sync_seconds {SYNC_SECONDS}; "
          f"folders in {root}")
    begin = time.monotonic()
    try:
        if args.quick:
            on_time(root / "a", per_account=2, gap=4)
            throughput(root / "b", threads=100)
            idle(root / "c", seconds=10)
        else:
            on_time(root / "a", per_account=10, gap=8)
            throughput(root / "b", threads=1000)
            idle(root / "c", seconds=60)
    finally:
        for proc in list(_running):
            stop(proc)
        if args.keep:
            print(f"\nkept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\ntotal {time.monotonic() - begin:.0f} s")


if __name__ == "__main__":
    main()
