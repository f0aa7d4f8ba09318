"""Posting to each platform, and a Mastodon instance's own limits, measured in one run.

    .venv/bin/python bench/platforms.py [--posts N] [--latency-ms MS]

1. Instance limits: the same text split for instances allowing 500, 1,000 and 5,000
   characters (posts and the longest post), and how many times the instance is asked
   for its limits over a writer's day: ``accounts check``, 10 previews, 3 posts the
   same day, then a post a day later (the cache is refreshed at most daily).
2. Posting: a thread of N posts (one image) through the real CLI code path
   (``threadbot.posting``: the record, the platform's client library, the fake
   server over HTTP on 127.0.0.1 with the given latency) to X, Mastodon and Bluesky:
   wall time, requests sent, and the ratio to the ideal (requests × latency).

Figures only, never assertions.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from threadbot import posting  # noqa: E402
from threadbot.config import load_config  # noqa: E402
from threadbot.testing.fake_bluesky import FakeBluesky  # noqa: E402
from threadbot.testing.fake_mastodon import FakeMastodon  # noqa: E402
from threadbot.testing.fake_x import FakeX  # noqa: E402

ESSAY = (ROOT / "drafts" / "on-slow-work.md").read_text(encoding="utf-8")
FAST = "posting:\n  pause_seconds: 0\n  backoff_seconds: 0.01\n  timeout_seconds: 5\n"


def folder(work: Path, x: FakeX, masto: FakeMastodon, sky: FakeBluesky | None = None) -> Path:
    (work / "config").mkdir(parents=True, exist_ok=True)
    (work / "drafts").mkdir(exist_ok=True)
    bluesky = (f"  sky:\n    platform: bluesky\n    handle: threadbot.test\n"
               f"    api_base_url: {sky.base_url}\n" if sky else "")
    (work / "config" / "threadbot.yaml").write_text(
        f"accounts:\n  main:\n    platform: x\n    api_base_url: {x.base_url}\n"
        f"  fedi:\n    platform: mastodon\n    api_base_url: {masto.base_url}\n"
        + bluesky + FAST, encoding="utf-8")
    creds = x.credentials()
    (work / "config" / ".env").write_text(
        f"X_API_KEY={creds['consumer_key']}\nX_API_SECRET={creds['consumer_secret']}\n"
        f"X_ACCESS_TOKEN={creds['access_token']}\n"
        f"X_ACCESS_TOKEN_SECRET={creds['access_token_secret']}\n"
        f"MASTODON_ACCESS_TOKEN={masto.credentials()['access_token']}\n"
        + (f"BLUESKY_APP_PASSWORD={sky.credentials()['app_password']}\n" if sky else ""),
        encoding="utf-8")
    return work


def instance_asks(masto: FakeMastodon) -> int:
    return sum(1 for r in masto.requests if r.path.startswith("/api/v2/instance"))


def limits_figures() -> None:
    print("1. A Mastodon instance's own limits (drafts/on-slow-work.md)")
    print(f"   {'max_characters':>14}  {'posts':>5}  {'longest':>7}")
    for size in (500, 1000, 5000):
        with tempfile.TemporaryDirectory() as tmp, FakeX.running() as x, \
                FakeMastodon.running(max_characters=size) as masto:
            work = folder(Path(tmp), x, masto)
            os.chdir(work)
            (work / "drafts" / "essay.md").write_text(
                ESSAY.replace("images/desk.png", str(ROOT / "drafts" / "images" / "desk.png")),
                encoding="utf-8")
            config = load_config()
            posting.check_account(config, "fedi")
            [thread] = posting.preview_threads(config, "drafts/essay.md", accounts=["fedi"])
            print(f"   {size:>14,}  {len(thread.posts):>5}  "
                  f"{max(p.length for p in thread.posts):>7}")
    with tempfile.TemporaryDirectory() as tmp, FakeX.running() as x, \
            FakeMastodon.running(max_characters=1000) as masto:
        work = folder(Path(tmp), x, masto)
        os.chdir(work)
        config = load_config()
        asks = []
        posting.check_account(config, "fedi")
        asks.append(("accounts check", instance_asks(masto)))
        for i in range(10):
            (work / "drafts" / f"d{i}.md").write_text(f"Thought {i}.\n", encoding="utf-8")
            posting.preview_threads(config, f"drafts/d{i}.md", accounts=["fedi"])
        asks.append(("+ 10 previews", instance_asks(masto)))
        for i in range(3):
            [plan] = posting.prepare(config, f"drafts/d{i}.md", accounts=["fedi"])
            posting.publish_thread(config, posting.record_plan(config, plan))
        asks.append(("+ 3 posts the same day", instance_asks(masto)))
        db = sqlite3.connect(config.database_path())
        db.execute("UPDATE platform_limits SET fetched_at = '2000-01-01T00:00:00+00:00'")
        db.commit()
        db.close()
        [plan] = posting.prepare(config, "drafts/d5.md", accounts=["fedi"])
        posting.publish_thread(config, posting.record_plan(config, plan))
        asks.append(("+ 1 post a day later", instance_asks(masto)))
        print("\n   requests for the instance's limits (GET /api/v2/instance), cumulative:")
        for label, count in asks:
            print(f"   {label:<24} {count}")


def posting_figures(posts: int, latency: float) -> None:
    print(f"\n2. Posting a thread of {posts} posts with one image, {latency * 1000:.0f} ms "
          "latency per request")
    print(f"   {'platform':<9} {'wall s':>7} {'requests':>8} {'ideal s':>8} {'ratio':>6}")
    body = "\n\n".join(f"Thought {i}: a short reflection of its own, number {i}."
                       for i in range(1, posts + 1))
    png = (ROOT / "drafts" / "images" / "desk.png").read_bytes()
    names = {"main": "X", "fedi": "Mastodon", "sky": "Bluesky"}
    for account in names:
        with tempfile.TemporaryDirectory() as tmp, \
                FakeX.running(latency=latency, duplicate_window=0) as x, \
                FakeMastodon.running(latency=latency, processing_polls=0) as masto, \
                FakeBluesky.running(latency=latency) as sky:
            work = folder(Path(tmp), x, masto, sky)
            os.chdir(work)
            (work / "drafts" / "pic.png").write_bytes(png)
            (work / "drafts" / "t.md").write_text(
                "---\nbreak: paragraph\n---\n" + body + "\n\n![A desk](pic.png)\n",
                encoding="utf-8")
            config = load_config()
            [plan] = posting.prepare(config, "drafts/t.md", accounts=[account])
            thread_id = posting.record_plan(config, plan)
            server = {"main": x, "fedi": masto, "sky": sky}[account]
            before = len(server.requests)
            start = time.perf_counter()
            posting.publish_thread(config, thread_id)
            wall = time.perf_counter() - start
            sent = len(server.requests) - before
            ideal = sent * latency
            name = names[account]
            print(f"   {name:<9} {wall:>7.2f} {sent:>8} {ideal:>8.2f} {wall / ideal:>6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    here = os.getcwd()
    try:
        limits_figures()
        posting_figures(args.posts, args.latency_ms / 1000)
    finally:
        os.chdir(here)


if __name__ == "__main__":
    main()
