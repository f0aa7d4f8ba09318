"""Bluesky through the CLI, as a writer uses it, against a fake PDS (and the fake X and
Mastodon) on 127.0.0.1, each driven by its real client library."""

from __future__ import annotations

import json
import os
import random
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import run_cli
from threadbot.errors import ExitCode
from threadbot.testing.fake_bluesky import FakeBluesky
from threadbot.testing.fake_mastodon import FakeMastodon
from threadbot.testing.fake_x import FakeX

PARAGRAPHS = [f"Thought {i}: a short reflection that can stand on its own, number {i}."
              for i in range(1, 4)]
HANDLE = "threadbot.test"


@pytest.fixture
def servers():
    with FakeX.running(duplicate_window=0) as x, FakeMastodon.running() as masto, \
            FakeBluesky.running() as sky:
        yield x, masto, sky


def folder_for(work: Path, x: FakeX, masto: FakeMastodon, sky: FakeBluesky, *,
               password: str | None = None) -> Path:
    """A writer's folder with accounts 'main' (X), 'fedi' (Mastodon), 'sky' (Bluesky)."""
    (work / "config").mkdir(exist_ok=True)
    (work / "drafts").mkdir(exist_ok=True)
    (work / "config" / "threadbot.yaml").write_text(
        f"accounts:\n  main:\n    platform: x\n    api_base_url: {x.base_url}\n"
        f"  fedi:\n    platform: mastodon\n    api_base_url: {masto.base_url}\n"
        f"  sky:\n    platform: bluesky\n    handle: {HANDLE}\n"
        f"    api_base_url: {sky.base_url}\n"
        "posting:\n  pause_seconds: 0\n  backoff_seconds: 0.01\n  timeout_seconds: 5\n",
        encoding="utf-8")
    creds = x.credentials()
    password = password if password is not None else sky.credentials(HANDLE)["app_password"]
    (work / "config" / ".env").write_text(
        f"X_API_KEY={creds['consumer_key']}\nX_API_SECRET={creds['consumer_secret']}\n"
        f"X_ACCESS_TOKEN={creds['access_token']}\n"
        f"X_ACCESS_TOKEN_SECRET={creds['access_token_secret']}\n"
        f"MASTODON_ACCESS_TOKEN={masto.credentials()['access_token']}\n"
        f"BLUESKY_APP_PASSWORD={password}\n", encoding="utf-8")
    (work / "config" / ".env").chmod(0o600)
    return work


def draft(work: Path, front: str = "", paragraphs: list[str] = PARAGRAPHS) -> str:
    (work / "drafts" / "d.md").write_text(f"---\n{front}break: paragraph\n---\n"
                                          + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return "drafts/d.md"


def threadbot(work: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """`threadbot ARGS` as its own process, as a writer runs it."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("THREADBOT_", "BLUESKY_", "MASTODON_", "X_"))}
    return subprocess.run([sys.executable, "-m", "threadbot", *args], cwd=work, env=env,
                          input=stdin, capture_output=True, text=True, timeout=60)


def test_ten_cli_runs_in_a_row_make_one_login(isolated, servers):
    x, masto, sky = servers
    folder_for(isolated, x, masto, sky)
    outputs = []
    for _ in range(10):
        result = threadbot(isolated, "accounts", "check", "sky")
        assert result.returncode == 0, result.stderr
        assert f"signed in to Bluesky as @{HANDLE}" in result.stdout
        outputs.append(result.stdout + result.stderr)
    print(f"\n10 `threadbot accounts check sky` runs: {sky.logins(HANDLE)} login(s)")
    assert sky.logins(HANDLE) == 1
    # The session is kept beside the database, readable only by the writer, and its
    # tokens appear nowhere else.
    (session,) = (isolated / "config").glob("threadbot-session-sky.json")
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    tokens = [value for value in json.loads(session.read_text()).values()
              if isinstance(value, str) and value.count(".") == 2 and len(value) > 40]
    assert tokens
    password = sky.credentials(HANDLE)["app_password"]
    for secret in [*tokens, password]:
        assert all(secret not in text for text in outputs)


def test_one_draft_to_x_mastodon_and_bluesky_at_once(capsys, isolated, servers):
    x, masto, sky = servers
    folder_for(isolated, x, masto, sky)
    path = draft(isolated, front="lang: en\n")
    result = run_cli(capsys, "post", path, "--account", "main", "--account", "fedi",
                     "--account", "sky", "--yes")
    assert result.code == 0, result.err
    assert f"'sky': thread 3 is up: {sky.base_url}/profile/{HANDLE}/post/" in result.out
    assert len(x.posts()) == 3 and len(masto.posts()) == 3
    posts = sky.posts(HANDLE)
    assert [p.text for p in posts] == PARAGRAPHS
    root = (posts[0].uri, posts[0].cid)
    for previous, post in zip(posts, posts[1:], strict=False):
        assert post.reply_root == root and post.reply_parent == (previous.uri, previous.cid)
    assert {tuple(p.langs or ()) for p in posts} == {("en",)}
    # Each post's record key is the one recorded before its request went out.
    shown = json.loads(run_cli(capsys, "show", "3", "--json").out)
    assert [p["remote_id"] for p in shown["posts"]] == [p.rkey for p in posts]
    db = (isolated / "config" / "threadbot.db").read_bytes()
    assert sky.credentials(HANDLE)["app_password"].encode() not in db
    assert b"eyJ" not in db  # no JWT (access or refresh token) in the record


def test_links_are_shown_short_and_counted_as_shown(capsys, isolated, servers):
    x, masto, sky = servers
    folder_for(isolated, x, masto, sky)
    url = "https://example.com/essays/2026/on-slow-work-and-the-long-view?ref=thread"
    path = draft(isolated, paragraphs=[f"Read café ☕ notes at {url} #slowwork"])
    shown = json.loads(run_cli(capsys, "preview", path, "--account", "sky", "--json").out)
    assert shown["posts"][0]["length"] == len("Read café ☕ notes at example.com/essays/2026/..."
                                              " #slowwork")
    assert run_cli(capsys, "post", path, "--account", "sky", "--yes").code == 0
    (post,) = sky.posts(HANDLE)
    assert "example.com/essays/2026/..." in post.text and url not in post.text
    data = post.text.encode("utf-8")
    features = {f["features"][0]["$type"].split("#")[1]:
                (data[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode(), f["features"][0])
                for f in post.facets}
    assert features["link"] == ("example.com/essays/2026/...", {
        "$type": "app.bsky.richtext.facet#link", "uri": url})
    assert features["tag"][0] == "#slowwork" and features["tag"][1]["tag"] == "slowwork"


def test_a_markdown_link_is_its_text_on_bluesky_and_text_then_address_elsewhere(
        capsys, isolated, servers):
    x, masto, sky = servers
    folder_for(isolated, x, masto, sky)
    url = "https://example.org/essays/2026/on-slow-work"
    path = draft(isolated, paragraphs=[f"Read *my* [essay on slow work]({url}) today. 🧵",
                                       "Then [the reply](https://example.org/r), #slowwork."])
    shown = json.loads(run_cli(capsys, "preview", path, "--account", "sky", "--json").out)
    assert [p["length"] for p in shown["posts"]] == [
        len("Read my essay on slow work today. ") + 1, len("Then the reply, #slowwork.")]
    result = run_cli(capsys, "post", path, "--account", "sky", "--account", "fedi",
                     "--account", "main", "--yes")
    assert result.code == 0, result.err
    first, second = sky.posts(HANDLE)
    assert first.text == "Read my essay on slow work today. 🧵"
    data = first.text.encode("utf-8")
    assert [(data[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode(), f["features"])
            for f in first.facets] == [
        ("essay on slow work", [{"$type": "app.bsky.richtext.facet#link", "uri": url}])]
    data = second.text.encode("utf-8")
    assert [(data[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode(),
             f["features"][0].get("uri") or f["features"][0].get("tag"))
            for f in second.facets] == [("the reply", "https://example.org/r"),
                                        ("#slowwork", "slowwork")]
    assert [p.text for p in masto.posts()][:1] == [f"Read my essay on slow work ({url}) today. 🧵"]
    assert f"essay on slow work ({url})" in x.posts()[0].text


def test_a_queued_thread_keeps_its_links_until_the_daemon_posts_it(capsys, isolated, servers):
    x, masto, sky = servers
    folder_for(isolated, x, masto, sky)
    path = draft(isolated, paragraphs=["See [the notes](https://example.org/notes) first."])
    assert run_cli(capsys, "queue", path, "--account", "sky", "--now").code == 0
    result = run_cli(capsys, "daemon", "--once")
    assert result.code == 0, result.err
    (post,) = sky.posts(HANDLE)
    assert post.text == "See the notes first."
    data = post.text.encode("utf-8")
    assert [(data[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode(),
             f["features"][0]["uri"]) for f in post.facets] == [
        ("the notes", "https://example.org/notes")]


def test_the_preview_says_which_images_will_be_resized(capsys, isolated, servers):
    from PIL import Image

    x, masto, sky = servers
    folder_for(isolated, x, masto, sky)
    rng = random.Random(3)
    noise = bytes(rng.getrandbits(8) for _ in range(700 * 700 * 3))
    Image.frombytes("RGB", (700, 700), noise).save(isolated / "drafts" / "big.png")
    assert (isolated / "drafts" / "big.png").stat().st_size > 1_000_000
    path = draft(isolated, paragraphs=["A picture.\n\n![Static, up close](big.png)"])
    sky_view = json.loads(run_cli(capsys, "preview", path, "--account", "sky", "--json").out)
    assert any("will be scaled down to fit bluesky's" in w for w in sky_view["warnings"])
    assert sky_view["errors"] == []
    x_view = json.loads(run_cli(capsys, "preview", path, "--account", "main", "--json").out)
    assert not any("scaled down" in w for w in x_view["warnings"])
    assert run_cli(capsys, "post", path, "--account", "sky", "--yes").code == 0
    (blob,) = sky.blobs()
    assert blob.size < 1_000_000
    (post,) = sky.posts(HANDLE)
    assert post.image_alts == ("Static, up close",)


def test_login_asks_the_handle_and_an_app_password(isolated, servers):
    x, masto, sky = servers
    folder_for(isolated, x, masto, sky, password="")
    password = sky.credentials(HANDLE)["app_password"]
    result = threadbot(isolated, "accounts", "login", "sky", stdin=f"\n{password}\n")
    assert result.returncode == 0, result.stderr
    assert "never your main password" in result.stderr
    assert f"Signed in as @{HANDLE}" in result.stdout
    assert password not in result.stdout + result.stderr
    env = isolated / "config" / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert f"BLUESKY_APP_PASSWORD={password}" in env.read_text()
    # The session made while logging in is the one used next: no second login.
    assert threadbot(isolated, "accounts", "check", "sky").returncode == 0
    assert sky.logins(HANDLE, outcome="ok") == 1


def test_a_wrong_app_password_says_where_to_make_one(capsys, isolated, servers):
    x, masto, sky = servers
    folder_for(isolated, x, masto, sky, password="wron-gwro-ngwr-ongw")
    result = run_cli(capsys, "accounts", "check", "sky")
    assert result.code == int(ExitCode.AUTH)
    assert "threadbot accounts login sky" in result.err and "App passwords" in result.err
    assert "wron-gwro-ngwr-ongw" not in result.out + result.err


def test_rehearse_for_a_bluesky_account(capsys, isolated, servers):
    x, masto, sky = servers
    folder_for(isolated, x, masto, sky)
    result = run_cli(capsys, "rehearse", draft(isolated), "--account", "sky")
    assert result.code == 0, result.err
    assert "posted to the fake Bluesky server at http://127.0.0.1:" in result.out
    assert "NOT on Bluesky" in result.out
    assert sky.posts() == [] and sky.logins() == 0  # the real (here: fake) PDS untouched
