"""Mastodon accounts and one draft to several accounts, through the CLI, against a fake
X and a fake Mastodon instance on 127.0.0.1 (each driven by its real client library)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
from pathlib import Path

import pytest

from helpers import run_cli
from threadbot.errors import ExitCode
from threadbot.store import Store
from threadbot.testing.fake_mastodon import FakeMastodon
from threadbot.testing.fake_x import FakeX

PARAGRAPHS = [f"Thought {i}: a short reflection that can stand on its own, number {i}."
              for i in range(1, 5)]
FAST = "posting:\n  pause_seconds: 0\n  backoff_seconds: 0.01\n  timeout_seconds: 5\n"


@pytest.fixture
def servers():
    with FakeX.running(duplicate_window=0) as x, FakeMastodon.running() as masto:
        yield x, masto


def folder_for(work: Path, x: FakeX, masto: FakeMastodon, *, extra: str = "",
               token: str | None = None) -> Path:
    """A writer's folder with an X account 'main' and a Mastodon account 'fedi'."""
    (work / "config").mkdir(exist_ok=True)
    (work / "drafts").mkdir(exist_ok=True)
    (work / "config" / "threadbot.yaml").write_text(
        "accounts:\n"
        "  main:\n    platform: x\n"
        f"    api_base_url: {x.base_url}\n"
        "  fedi:\n    platform: mastodon\n"
        f"    api_base_url: {masto.base_url}\n"
        f"{extra}"
        "default_account: main\n" + FAST, encoding="utf-8")
    creds = x.credentials()
    token = token if token is not None else masto.credentials()["access_token"]
    (work / "config" / ".env").write_text(
        f"X_API_KEY={creds['consumer_key']}\nX_API_SECRET={creds['consumer_secret']}\n"
        f"X_ACCESS_TOKEN={creds['access_token']}\n"
        f"X_ACCESS_TOKEN_SECRET={creds['access_token_secret']}\n"
        f"MASTODON_ACCESS_TOKEN={token}\n", encoding="utf-8")
    return work


def draft(work: Path, name: str = "d.md", front: str = "",
          paragraphs: list[str] = PARAGRAPHS) -> str:
    head = f"---\n{front}break: paragraph\n---\n"
    (work / "drafts" / name).write_text(head + "\n\n".join(paragraphs) + "\n",
                                        encoding="utf-8")
    return f"drafts/{name}"


def chain_ok(ids_and_parents: list[tuple[str, str | None]]) -> bool:
    previous = None
    for post_id, parent in ids_and_parents:
        if parent != previous:
            return False
        previous = post_id
    return True


# --------------------------------------------------------------------------- config


def test_a_mastodon_account_needs_its_instance(capsys, isolated):
    (isolated / "config").mkdir()
    (isolated / "config" / "threadbot.yaml").write_text(
        "accounts:\n  fedi:\n    platform: mastodon\n", encoding="utf-8")
    result = run_cli(capsys, "accounts")
    assert result.code == int(ExitCode.CONFIG)
    assert "threadbot.yaml:2:" in result.err and "needs 'api_base_url'" in result.err


def test_visibility_is_checked_where_it_is_written(capsys, isolated):
    (isolated / "config").mkdir()
    path = isolated / "config" / "threadbot.yaml"
    path.write_text("accounts:\n  fedi:\n    platform: mastodon\n"
                    "    api_base_url: https://example.social\n"
                    "    reply_visibility: unlsted\n", encoding="utf-8")
    result = run_cli(capsys, "accounts")
    assert result.code == int(ExitCode.CONFIG) and "threadbot.yaml:5:" in result.err
    assert "Did you mean 'unlisted'?" in result.err
    path.write_text("accounts:\n  main:\n    platform: x\n    visibility: public\n",
                    encoding="utf-8")
    result = run_cli(capsys, "accounts")
    assert result.code == int(ExitCode.CONFIG) and "no visibility setting" in result.err


def test_accounts_lists_the_token_variable(capsys, isolated, servers):
    x, masto = servers
    folder_for(isolated, x, masto, token="")
    result = run_cli(capsys, "accounts")
    assert result.code == 0
    assert "fedi  mastodon" in result.out and "missing MASTODON_ACCESS_TOKEN" in result.out
    assert "main (default)  x" in result.out


# --------------------------------------------------------------------------- limits


def test_preview_uses_the_instance_limits_once_checked_and_never_the_network(capsys,
                                                                            isolated):
    with FakeX.running() as x, FakeMastodon.running(max_characters=1000,
                                                    characters_reserved_per_url=30) as masto:
        folder_for(isolated, x, masto)
        long = [" ".join(f"Sentence {i} is here." for i in range(60))]  # about 1,300
        path = draft(isolated, front="", paragraphs=long)
        # Before any check: Mastodon's usual 500, said so, and no database is created.
        before = run_cli(capsys, "preview", path, "--account", "fedi", "--json")
        assert before.code == 0, before.err
        shown = json.loads(before.out)
        assert shown["limit"] == 500 and shown["account"] == "fedi"
        assert "limits are not known yet" in shown["warnings"][0]
        assert not (isolated / "config" / "threadbot.db").exists()

        checked = run_cli(capsys, "accounts", "check", "fedi")
        assert checked.code == 0, checked.err
        assert "signed in to Mastodon as @threadbot_test@127.0.0.1 " in checked.out
        assert "up to 1000 characters, URLs count 30" in checked.out
        requests_after_check = len(masto.requests)
    # The server is gone: the preview still counts with the instance's own numbers.
    after = json.loads(run_cli(capsys, "preview", path, "--account", "fedi", "--json").out)
    assert after["limit"] == 1000 and len(after["posts"]) == 2
    assert not any("not known yet" in w for w in after["warnings"])
    assert requests_after_check > 0


def test_platform_without_account_counts_500_and_says_so(capsys, isolated):
    (isolated / "drafts").mkdir()
    path = draft(isolated)
    result = run_cli(capsys, "preview", path, "--platform", "mastodon", "--json")
    shown = json.loads(result.out)
    assert shown["limit"] == 500 and shown["account"] is None
    assert "Mastodon's usual limit (500 characters a post)" in shown["warnings"][0]


def test_content_warning_counts_against_every_post_and_is_ignored_on_x(capsys, isolated,
                                                                       servers):
    x, masto = servers
    folder_for(isolated, x, masto)
    path = draft(isolated, front="cw: Grief and loss\nlang: en\n")
    fedi = json.loads(run_cli(capsys, "preview", path, "--account", "fedi", "--json").out)
    assert fedi["limit"] == 500 - len("Grief and loss")
    assert fedi["options"] == {"visibility": "public", "reply_visibility": "unlisted",
                               "language": "en", "content_warning": "Grief and loss"}
    on_x = json.loads(run_cli(capsys, "preview", path, "--account", "main", "--json").out)
    assert on_x["limit"] == 280 and on_x["options"] == {"language": "en"}
    assert any("'cw' (content warning) is ignored on x" in w for w in on_x["warnings"])


def test_several_accounts_preview_each_with_a_summary(capsys, isolated, servers):
    x, masto = servers
    folder_for(isolated, x, masto, extra="    split:\n      numbering: 1/N\n")
    path = draft(isolated)
    result = run_cli(capsys, "preview", path, "--account", "main", "--account", "fedi")
    assert result.code == 0, result.err
    assert "══ account 'main' · X" in result.out and "══ account 'fedi' · Mastodon" in result.out
    assert "Summary:" in result.out
    assert "'main' (X): 4 posts, 0 warnings, $0.06 on X" in result.out
    assert "'fedi' (Mastodon): 4 posts" in result.out
    # The account's own split settings apply to its thread only.
    threads = json.loads(run_cli(capsys, "preview", path, "--account", "main", "--account",
                                 "fedi", "--json").out)
    assert [t["account"] for t in threads] == ["main", "fedi"]
    assert threads[1]["posts"][0]["text"].endswith("1/4")
    assert not threads[0]["posts"][0]["text"].endswith("1/4")


# --------------------------------------------------------------------------- posting


def test_one_draft_posts_to_x_and_mastodon_together(capsys, isolated, servers):
    x, masto = servers
    folder_for(isolated, x, masto)
    path = draft(isolated, front="account: [main, fedi]\nlang: en\n")
    result = run_cli(capsys, "post", path, "--yes")
    assert result.code == 0, result.err
    assert f"'main': thread 1 is up: {x.base_url}/threadbot_test/status/" in result.out
    assert f"'fedi': thread 2 is up: {masto.base_url}/@threadbot_test/" in result.out

    on_x = x.posts()
    assert [p.text for p in on_x] == PARAGRAPHS
    assert chain_ok([(p.id, p.reply_to) for p in on_x])
    statuses = masto.posts()
    assert chain_ok([(s.id, s.in_reply_to_id) for s in statuses])
    assert [s.visibility for s in statuses] == ["public"] + ["unlisted"] * 3
    assert {s.language for s in statuses} == {"en"}

    listed = json.loads(run_cli(capsys, "list", "--json").out)
    assert sorted((t["account"], t["platform"], t["status"]) for t in listed) == [
        ("fedi", "mastodon", "posted"), ("main", "x", "posted")]
    shown = json.loads(run_cli(capsys, "show", "2", "--json").out)
    assert shown["posts"][0]["url"] == f"{masto.base_url}/@threadbot_test/{statuses[0].id}"
    assert shown["handle"] == "@threadbot_test@127.0.0.1"


def test_one_platform_failing_never_stops_the_other(capsys, isolated, servers):
    x, masto = servers
    folder_for(isolated, x, masto, token="not-a-valid-token")
    path = draft(isolated)
    result = run_cli(capsys, "post", path, "--account", "fedi", "--account", "main", "--yes")
    assert result.code == int(ExitCode.AUTH), result.err
    assert "'fedi': thread 1 did NOT go up" in result.out
    assert "'main': thread 2 is up" in result.out
    assert "1 of 2 accounts' threads did not all go up ('fedi')" in result.err
    assert "not-a-valid-token" not in result.out + result.err
    assert len(x.posts()) == 4 and masto.posts() == []

    # Fixed, the failed one is resumed on its own; the other is not touched.
    folder_for(isolated, x, masto)
    again = run_cli(capsys, "resume", "1")
    assert again.code == 0, again.err
    assert len(masto.posts()) == 4 and len(x.posts()) == 4


def test_queue_to_two_accounts_and_the_daemon_posts_both(capsys, isolated, servers):
    x, masto = servers
    folder_for(isolated, x, masto)
    path = draft(isolated)
    queued = run_cli(capsys, "queue", path, "--account", "main", "--account", "fedi", "--now")
    assert queued.code == 0, queued.err
    assert "account 'main'" in queued.out and "account 'fedi'" in queued.out
    result = run_cli(capsys, "daemon", "--once")
    assert result.code == 0, result.err
    assert len(x.posts()) == 4 and len(masto.posts()) == 4
    assert {t["status"] for t in json.loads(run_cli(capsys, "list", "--json").out)} == {
        "posted"}


def test_rehearse_for_a_mastodon_account(capsys, isolated, servers):
    x, masto = servers
    folder_for(isolated, x, masto)
    path = draft(isolated)
    result = run_cli(capsys, "rehearse", path, "--account", "fedi", "--account", "main")
    assert result.code == 0, result.err
    assert re.search(r"posted to the fake Mastodon server at http://127\.0\.0\.1:\d+ as one "
                     "connected chain", result.out)
    assert re.search(r"posted to the fake X server at http://127\.0\.0\.1:\d+ as one "
                     "connected chain", result.out)
    assert masto.posts() == [] and x.posts() == []  # nothing reached the real servers


# --------------------------------------------------------------------------- the store


def test_an_older_database_upgrades_in_place(tmp_path):
    from threadbot.store import m001_initial, m002_queue

    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for migration in (m001_initial, m002_queue):
        migration(db)
        db.execute("INSERT INTO migrations VALUES (?, '2026-01-01T00:00:00+00:00')",
                   (migration.__name__,))
    db.execute("INSERT INTO threads (id, draft_path, content_hash, account, platform, status, "
               "user_id, username, created_at, updated_at) VALUES (1, '/d.md', 'h', 'main', "
               "'x', 'posted', '42', 'writer', '2026-01-01T00:00:00+00:00', "
               "'2026-01-01T00:00:00+00:00')")
    db.execute("INSERT INTO posts (thread_id, position, text, status, remote_id) VALUES "
               "(1, 1, 'Hello', 'posted', '1001'), (1, 2, 'World', 'posted', '1002')")
    db.close()
    with Store(path) as store:
        thread = store.thread(1)
    assert thread.url == "https://x.com/writer/status/1001"
    assert thread.posts[1].remote_url == "https://x.com/writer/status/1002"
    keys = {p.idempotency_key for p in thread.posts}
    assert len(keys) == 2 and all(len(k) == 32 for k in keys)
    assert thread.options == {}
    assert [p.links for p in thread.posts] == [(), ()]  # m004_post_links: none before


# --------------------------------------------------------------------------- login


def test_login_saves_the_token_with_mode_0600_and_never_shows_it(capsys, isolated, servers):
    from threadbot import posting
    from threadbot.config import load_config

    x, masto = servers
    folder_for(isolated, x, masto, token="")
    said: list[str] = []

    def ask(prompt: str) -> str:
        said.append(prompt)
        return masto.authorization_code()  # what the writer pastes from the browser

    result = posting.login(load_config(), "fedi", ask=ask, say=said.append)
    env = isolated / "config" / ".env"
    assert result.path.resolve() == env
    assert stat.S_IMODE(os.stat(env).st_mode) == 0o600
    values = dict(line.split("=", 1) for line in env.read_text().splitlines())
    token = values["MASTODON_ACCESS_TOKEN"]
    assert token and values["X_API_KEY"] == x.credentials()["consumer_key"]  # kept
    assert any("/oauth/authorize?" in text for text in said)
    assert all(token not in text for text in said)
    checked = run_cli(capsys, "accounts", "check", "fedi")
    assert checked.code == 0 and "@threadbot_test@" in checked.out
    assert token not in checked.out + checked.err


def test_accounts_login_through_the_cli_as_a_writer_would(isolated, servers):
    """The real command in a terminal-less subprocess: the writer opens the printed
    address (here: fetches it), copies the code from the page and pastes it."""
    import re
    import subprocess
    import sys

    import requests

    x, masto = servers
    folder_for(isolated, x, masto, token="")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("THREADBOT_", "MASTODON_", "X_"))}
    proc = subprocess.Popen([sys.executable, "-m", "threadbot", "accounts", "login", "fedi"],
                            cwd=isolated, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    while not any("/oauth/authorize?" in line for line in lines):
        line = proc.stderr.readline()
        assert line, f"no authorization address: {lines}"
        lines.append(line)
    url = next(line.strip() for line in lines if "/oauth/authorize?" in line)
    page = requests.get(url, timeout=5).text
    code = re.search(r'class="oauth-code" readonly type="text" value="([^"]+)"', page).group(1)
    out, err = proc.communicate(code + "\n", timeout=30)
    assert proc.returncode == 0, err
    assert "Saved the access token of 'fedi'" in out and "@threadbot_test@127.0.0.1" in out
    env_file = isolated / "config" / ".env"
    assert stat.S_IMODE(os.stat(env_file).st_mode) == 0o600
    token = dict(line.split("=", 1) for line in env_file.read_text().splitlines())[
        "MASTODON_ACCESS_TOKEN"]
    assert token and token not in out + err + "".join(lines)


# --------------------------------------------------------------------------- walkthrough


def test_a_key_written_twice_in_the_config_is_refused(capsys, isolated):
    (isolated / "config").mkdir()
    (isolated / "config" / "threadbot.yaml").write_text(
        "accounts:\n  main:\n    platform: x\n"
        "accounts:\n  other:\n    platform: x\n", encoding="utf-8")
    result = run_cli(capsys, "accounts")
    assert result.code == int(ExitCode.CONFIG)
    assert "threadbot.yaml:4:" in result.err and "lines 1 and 4" in result.err


def test_preview_says_how_mastodon_posts_go_out(capsys, isolated, servers):
    x, masto = servers
    folder_for(isolated, x, masto, extra="    reply_visibility: direct\n")
    path = draft(isolated, front="cw: Grief\nlang: en\n")
    result = run_cli(capsys, "preview", path, "--account", "fedi")
    assert result.code == 0, result.err
    assert ("first post public, replies direct · language en · content warning “Grief” on "
            "every post") in result.out
    assert "only accounts mentioned in them will see them" in result.out


def test_without_mastodon_py_previews_work_and_posting_says_how_to_install(isolated,
                                                                           servers):
    import subprocess
    import sys

    x, masto = servers
    folder_for(isolated, x, masto)
    path = draft(isolated)
    blocked = ("import sys; sys.modules['mastodon'] = None; sys.argv[0] = 'threadbot'\n"
               "from threadbot.cli import run\nrun()\n")

    def threadbot(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", blocked, *args], cwd=isolated,
                              capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)

    preview = threadbot("preview", path, "--account", "fedi")
    assert preview.returncode == 0, preview.stderr
    assert threadbot("post", path, "--account", "main", "--yes").returncode == 0
    post = threadbot("post", path, "--account", "fedi", "--yes")
    assert post.returncode == int(ExitCode.CONFIG)
    assert "needs the Mastodon.py library" in post.stderr and "-m pip install" in post.stderr
    assert "Traceback" not in post.stderr and masto.posts() == []


def test_login_never_replaces_a_token_another_account_uses(capsys, isolated, servers):
    x, masto = servers
    folder_for(isolated, x, masto, extra=(
        f"  fedi-rehearsal:\n    platform: mastodon\n    api_base_url: {masto.base_url}\n"))
    before = (isolated / "config" / ".env").read_text()
    result = run_cli(capsys, "accounts", "login", "fedi-rehearsal", stdin=b"code\n")
    assert result.code == int(ExitCode.CONFIG)
    assert "account 'fedi' uses too" in result.err and "env: {access_token:" in result.err
    assert (isolated / "config" / ".env").read_text() == before
    assert not [r for r in masto.requests if r.path == "/api/v1/apps"]


def test_a_deleted_thread_leaves_the_draft_free_to_post_again(capsys, isolated, servers):
    x, masto = servers
    folder_for(isolated, x, masto)
    path = draft(isolated)
    assert run_cli(capsys, "post", path, "--account", "fedi", "--yes").code == 0
    deleted = run_cli(capsys, "delete", "1", "--yes")
    assert deleted.code == 0 and "Thread 1 is deleted (4 posts taken down)" in deleted.out
    assert masto.posts() == [] and len(masto.posts(include_deleted=True)) == 4
    again = run_cli(capsys, "post", path, "--account", "fedi", "--yes")
    assert again.code == 0, again.err
    assert "Thread 2 is up" in again.out and len(masto.posts()) == 4


def test_delete_of_a_queued_thread_points_to_cancel(capsys, isolated, servers):
    x, masto = servers
    folder_for(isolated, x, masto)
    assert run_cli(capsys, "queue", draft(isolated), "--at", "+1h").code == 0
    result = run_cli(capsys, "delete", "1", "--yes")
    assert result.code == int(ExitCode.WRONG_STATE) and "`threadbot cancel 1`" in result.err
    refused = run_cli(capsys, "delete", "1")  # no terminal: says what --yes is for
    assert "Add --yes to delete without being asked" not in refused.err  # queued: no question


def test_platform_and_account_must_agree(capsys, isolated, servers):
    x, masto = servers
    folder_for(isolated, x, masto)
    result = run_cli(capsys, "preview", draft(isolated), "--platform", "mastodon",
                     "--account", "main")
    assert result.code == int(ExitCode.USAGE) and "account 'main', which posts to x" in result.err


def test_accounts_check_checks_every_default_account_and_the_env_file_mode(capsys, isolated,
                                                                          servers):
    x, masto = servers
    folder_for(isolated, x, masto)
    config = isolated / "config" / "threadbot.yaml"
    config.write_text(config.read_text().replace("default_account: main",
                                                 "default_account: [main, fedi]"))
    env = isolated / "config" / ".env"
    env.chmod(0o644)
    result = run_cli(capsys, "accounts", "check")
    assert result.code == 0, result.err
    assert "main: signed in to X as @threadbot_test" in result.out
    assert "fedi: signed in to Mastodon as @threadbot_test@127.0.0.1" in result.out
    assert f"chmod 600 {Path('config') / '.env'}" in result.err
    # post, queue and the daemon, which read the keys, say it too (on stderr: stdout
    # may be --json).
    draft = isolated / "d.md"
    draft.write_text("A thought worth keeping private keys for.\n", encoding="utf-8")
    posted = run_cli(capsys, "post", str(draft), "--account", "main", "--yes", "--json")
    assert posted.code == 0, posted.err
    json.loads(posted.out)
    assert f"chmod 600 {Path('config') / '.env'}" in posted.err
    queued = run_cli(capsys, "queue", str(draft), "--account", "fedi", "--at", "+1h")
    assert queued.code == 0, queued.err
    assert f"chmod 600 {Path('config') / '.env'}" in queued.err
    env.chmod(0o600)
    assert "chmod" not in run_cli(capsys, "accounts", "check").err
    draft.write_text("Another thought, with the keys kept private.\n", encoding="utf-8")
    assert "chmod" not in run_cli(capsys, "post", str(draft), "--account", "main",
                                  "--yes").err


def test_login_refuses_plain_http_and_a_server_that_is_not_mastodon(capsys, isolated,
                                                                    servers):
    x, masto = servers
    folder_for(isolated, x, masto, token="")
    config = isolated / "config" / "threadbot.yaml"
    text = config.read_text()
    config.write_text(text.replace(masto.base_url, "http://mastodon.example"))
    result = run_cli(capsys, "accounts", "login", "fedi", stdin=b"code\n")
    assert result.code == int(ExitCode.CONFIG) and "without https" in result.err
    config.write_text(text.replace(masto.base_url, x.base_url))  # the fake X answers
    result = run_cli(capsys, "accounts", "login", "fedi", stdin=b"code\n")
    assert result.code == int(ExitCode.CONFIG), result.err
    assert "does not answer like a Mastodon instance" in result.err
    assert "'api_base_url' of account 'fedi'" in result.err


def test_a_post_with_a_remote_mention_is_found_again_not_sent_twice(capsys, isolated):
    """Mastodon shows @alice@example.social as @alice in what it returns; once the
    instance has forgotten the Idempotency-Key, only threadbot's own lookup stands
    between a lost answer and a duplicate."""
    with FakeX.running() as x, FakeMastodon.running(idempotency=False) as masto:
        folder_for(isolated, x, masto)
        texts = ["First, a thought.", "Second, thanks to @alice@example.social for it.",
                 "Third, the end."]
        path = draft(isolated, paragraphs=texts)
        masto.drop_next(after_store=True, method="POST", path="/api/v1/statuses")
        masto.drop_next(after_store=True, method="POST", path="/api/v1/statuses")
        result = run_cli(capsys, "post", path, "--account", "fedi", "--yes")
        assert result.code == 0, result.err
        statuses = masto.posts()
        assert [s.text for s in statuses] == texts
        assert chain_ok([(s.id, s.in_reply_to_id) for s in statuses])


# --------------------------------------------------------------------------- review cases


def test_a_followers_only_thread_keeps_its_replies_followers_only(capsys, isolated, servers):
    x, masto = servers
    folder_for(isolated, x, masto)
    path = draft(isolated, front="visibility: private\n")
    assert run_cli(capsys, "post", path, "--account", "fedi", "--yes").code == 0
    assert {s.visibility for s in masto.posts()} == {"private"}


def test_a_content_warning_with_a_url_counts_in_full(capsys, isolated, servers):
    x, masto = servers
    folder_for(isolated, x, masto)
    warning = "see https://example.com/a/rather/long/address/about/this/topic/for/context"
    path = draft(isolated, front=f"cw: {warning}\n",
                 paragraphs=[" ".join(["A sentence of some length here."] * 14)])
    shown = json.loads(run_cli(capsys, "preview", path, "--account", "fedi", "--json").out)
    assert shown["limit"] == 500 - len(warning)
    assert run_cli(capsys, "post", path, "--account", "fedi", "--yes").code == 0


def test_queueing_again_never_drops_a_post_whose_answer_was_lost(capsys, isolated):
    with FakeX.running() as x, FakeMastodon.running(idempotency=False) as masto:
        folder_for(isolated, x, masto)
        path = draft(isolated)
        # Post 1 is stored but its answer lost, and the lookup fails too: it stays
        # "sending" and the thread stops.
        masto.drop_next(after_store=True, method="POST", path="/api/v1/statuses")
        masto.fail_next(20, status=503, method="GET", path="/api/v1/accounts/*/statuses*")
        first = run_cli(capsys, "post", path, "--account", "fedi", "--yes")
        assert first.code == int(ExitCode.UNCERTAIN), first.err
        masto.clear_faults()
        queued = run_cli(capsys, "queue", path, "--account", "fedi", "--now")
        assert queued.code == int(ExitCode.ALREADY_POSTED), queued.out
        assert "`threadbot retry 1`" in queued.err
        assert run_cli(capsys, "resume", "1").code == 0
        assert [s.text for s in masto.posts()] == PARAGRAPHS


def test_delete_takes_down_a_post_whose_answer_was_lost(capsys, isolated):
    with FakeX.running() as x, FakeMastodon.running(idempotency=False) as masto:
        folder_for(isolated, x, masto)
        path = draft(isolated)
        masto.fail_next(status=422, method="POST", path="/api/v1/statuses")  # post 1 refused
        run_cli(capsys, "post", path, "--account", "fedi", "--yes")
        masto.clear_faults()
        # Now post 1 goes up but its answer is lost and the lookup fails: "sending".
        masto.drop_next(after_store=True, method="POST", path="/api/v1/statuses")
        masto.fail_next(20, status=503, method="GET", path="/api/v1/accounts/*/statuses*")
        assert run_cli(capsys, "resume", "1").code == int(ExitCode.UNCERTAIN)
        masto.clear_faults()
        assert len(masto.posts()) == 1
        deleted = run_cli(capsys, "delete", "1", "--yes")
        assert deleted.code == 0, deleted.err
        assert masto.posts() == []


def test_an_unreachable_instance_does_not_stop_the_other_accounts(capsys, isolated, servers):
    x, masto = servers
    folder_for(isolated, x, masto)
    masto.fail_next(10, status=503, path="/api/v*/instance*")
    path = draft(isolated)
    result = run_cli(capsys, "post", path, "--account", "main", "--account", "fedi", "--yes")
    assert result.code == 0, result.err
    assert "could not read its server's limits" in result.out
    assert len(x.posts()) == 4 and len(masto.posts()) == 4


def test_queue_to_several_accounts_is_all_or_nothing(capsys, isolated, servers):
    x, masto = servers
    folder_for(isolated, x, masto, extra="")
    config = isolated / "config" / "threadbot.yaml"
    config.write_text(config.read_text().replace(
        "    platform: x\n", "    platform: x\n    slots: [\"mon-sun 09:00\"]\n", 1))
    result = run_cli(capsys, "queue", draft(isolated), "--account", "main", "--account",
                     "fedi")
    assert result.code == int(ExitCode.NO_TIME) and "'fedi' has no posting slots" in result.err
    assert json.loads(run_cli(capsys, "list", "--json").out) == []


def test_an_edited_draft_never_reposts_what_an_earlier_version_put_up(capsys, isolated):
    with FakeX.running(rate_limits={"POST /2/tweets": (2, 900)}) as x, \
            FakeMastodon.running() as masto:
        folder_for(isolated, x, masto)
        path = draft(isolated)
        first = run_cli(capsys, "post", path, "--account", "main", "--yes")
        assert first.code == int(ExitCode.RATE_LIMITED) and len(x.posts()) == 2
        edited = draft(isolated, paragraphs=[*PARAGRAPHS[:3], "An edited last thought."])
        assert edited == path
        for command, finish in ((["post", path, "--yes"], "`threadbot resume 1`"),
                                (["queue", path, "--now"], "`threadbot retry 1`")):
            result = run_cli(capsys, *command, "--account", "main")
            assert result.code == int(ExitCode.ALREADY_POSTED), result.out
            assert "thread 1, from an earlier version of this draft, already has 2 of 4 " \
                   "posts up" in result.err
            assert finish in result.err and "`threadbot delete 1`" in result.err
        assert len(x.posts()) == 2


def test_the_preview_checks_the_image_types_the_instance_accepts(capsys, isolated):
    with FakeX.running() as x, FakeMastodon.running(
            supported_mime_types=("image/png", "image/jpeg")) as masto:
        folder_for(isolated, x, masto)
        (isolated / "drafts" / "pic.webp").write_bytes(b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(24))
        path = draft(isolated, paragraphs=["A picture.\n\n![A grey square](pic.webp)"])
        assert run_cli(capsys, "accounts", "check", "fedi").code == 0
        result = run_cli(capsys, "preview", path, "--account", "fedi")
        assert result.code == int(ExitCode.MEDIA)
        assert "is a WEBP image, which this server does not accept (PNG, JPEG only)" in (
            result.out + result.err)
        assert run_cli(capsys, "preview", path, "--account", "main").code == 0  # X takes it
