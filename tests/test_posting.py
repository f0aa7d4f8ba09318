"""Posting through the CLI to the fake X server: chains, media, the record, refusals,
and every error class with its message and exit code."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

import pytest

from conftest import DRAFTS
from helpers import age_ledger, run_cli
from threadbot.errors import ExitCode
from threadbot.store import Store


def draft(folder, name: str, text: str):
    path = folder / "drafts" / name
    path.write_text(text, encoding="utf-8")
    return f"drafts/{name}"


PARAGRAPHS = "---\nbreak: paragraph\n---\n" + "\n\n".join(
    f"Reflection number {i}: a thought that stands on its own." for i in range(1, 5))


def chain(server):
    """The server's posts as (text, reply-to id), checked to form one chain."""
    posts = server.posts()
    previous = None
    for post in posts:
        assert post.reply_to == previous
        previous = post.id
    return posts


def test_posts_example_draft_as_chain_with_images_and_alt_text(capsys, writer, fake_x):
    shutil.copytree(DRAFTS, writer / "drafts", dirs_exist_ok=True)
    result = run_cli(capsys, "post", "drafts/on-slow-work.md", "--yes")
    assert result.code == 0, result.err
    posts = chain(fake_x)
    with Store(writer / "config" / "threadbot.db") as store:
        thread = store.thread(1)
    assert [p.text for p in posts] == [p.text for p in thread.posts]
    assert [p.id for p in posts] == [p.remote_id for p in thread.posts]
    assert thread.status.value == "posted"
    # The image went with the first post, its alt text set before the post was made.
    media_posts = [p for p in posts if p.media_ids]
    assert len(media_posts) == 1 and media_posts[0] is posts[0]
    media = fake_x.media(media_posts[0].media_ids[0])[0]
    assert media.alt_text.startswith("A desk by a window")
    assert media.data == (DRAFTS / "images" / "desk.png").read_bytes()
    # A fake X stands in: its own address, never a real post on x.com.
    url = f"{fake_x.base_url}/threadbot_test/status/{posts[0].id}"
    assert url in result.out and thread.url == url


def test_already_posted_is_refused_with_its_url(capsys, writer, fake_x):
    path = draft(writer, "d.md", PARAGRAPHS)
    assert run_cli(capsys, "post", path, "--yes").code == 0
    again = run_cli(capsys, "post", path, "--yes")
    assert again.code == int(ExitCode.ALREADY_POSTED)
    assert "already posted" in again.err and "--again" in again.err
    assert f"status/{fake_x.posts()[0].id}" in again.err
    assert len(fake_x.posts()) == 4
    # On purpose, --again posts it anew, but not within X's duplicate window: X would
    # refuse the same text, so nothing is sent.
    refused = run_cli(capsys, "post", path, "--yes", "--again")
    assert refused.code == int(ExitCode.DRAFT)
    assert "post 1 (“Reflection number 1" in refused.err and "thread 1" in refused.err
    assert len(fake_x.posts()) == 4
    # Much later (the ledger's posts a month old; a fresh server window), it goes out.
    age_ledger(writer, days=31)
    fake_x.reset()
    assert run_cli(capsys, "post", path, "--yes", "--again").code == 0
    assert len(fake_x.posts()) == 4
    listed = json.loads(run_cli(capsys, "list", "--json").out)
    assert [t["status"] for t in listed] == ["posted", "posted"]


def test_yes_required_without_a_terminal(capsys, writer, fake_x):
    path = draft(writer, "d.md", PARAGRAPHS)
    result = run_cli(capsys, "post", path)
    assert result.code == int(ExitCode.NO_TERMINAL)
    assert "Add --yes to post without being asked" in result.err
    assert fake_x.posts() == []
    assert fake_x.posts() == []


def test_missing_credentials_named(capsys, writer, fake_x, monkeypatch):
    env = writer / "config" / ".env"
    env.write_text("\n".join(line for line in env.read_text().splitlines()
                             if not line.startswith("X_API_SECRET")))
    path = draft(writer, "d.md", PARAGRAPHS)
    result = run_cli(capsys, "post", path, "--yes")
    assert result.code == int(ExitCode.AUTH)
    assert "X_API_SECRET" in result.err and ".env" in result.err
    check = run_cli(capsys, "accounts")
    assert "missing X_API_SECRET" in check.out
    # The environment fills the gap (and wins over .env).
    monkeypatch.setenv("X_API_SECRET", fake_x.credentials()["consumer_secret"])
    assert run_cli(capsys, "accounts", "check").code == 0


def test_accounts_check(capsys, writer, fake_x):
    result = run_cli(capsys, "accounts", "check")
    assert result.code == 0
    assert "@threadbot_test" in result.out


def test_rejected_credentials(capsys, writer, fake_x, monkeypatch):
    monkeypatch.setenv("X_ACCESS_TOKEN_SECRET", "wrong")
    result = run_cli(capsys, "accounts", "check")
    assert result.code == int(ExitCode.AUTH)
    assert "401" in result.err and "X_ACCESS_TOKEN_SECRET" in result.err
    assert "wrong" not in result.err.replace("is wrong", "")
    post = run_cli(capsys, "post", draft(writer, "d.md", PARAGRAPHS), "--yes")
    assert post.code == int(ExitCode.AUTH)
    assert "threadbot accounts check" in post.err


def test_rate_limit_stops_and_says_when(capsys, writer, fake_x):
    fake_x.user_post_cap_24h = 2
    path = draft(writer, "d.md", PARAGRAPHS)
    result = run_cli(capsys, "post", path, "--yes")
    assert result.code == int(ExitCode.RATE_LIMITED)
    assert "2 of 4 posts up" in result.err
    assert "threadbot resume 1" in result.err and "UTC" in result.err
    assert len(fake_x.posts()) == 2
    shown = json.loads(run_cli(capsys, "show", "1", "--json").out)
    assert shown["status"] == "partial" and shown["posted"] == 2
    # Later, the allowance is back: resume finishes the same chain.
    fake_x.user_post_cap_24h = None
    resumed = run_cli(capsys, "resume", "1")
    assert resumed.code == 0, resumed.err
    posts = chain(fake_x)
    assert len(posts) == 4 and len({p.text for p in posts}) == 4


def test_post_again_offers_resume_of_partial_thread(capsys, writer, fake_x):
    fake_x.user_post_cap_24h = 1
    path = draft(writer, "d.md", PARAGRAPHS)
    assert run_cli(capsys, "post", path, "--yes").code == int(ExitCode.RATE_LIMITED)
    fake_x.user_post_cap_24h = None
    again = run_cli(capsys, "post", path, "--yes")
    assert again.code == 0, again.err
    assert "started before for account 'main' as thread 1" in again.err
    assert len(chain(fake_x)) == 4
    assert len(json.loads(run_cli(capsys, "list", "--json").out)) == 1


def test_duplicate_content_said_plainly(capsys, writer, fake_x):
    # The account posted the first text itself, outside threadbot, long before.
    fake_x_client_post(fake_x, "Reflection number 1: a thought that stands on its own.",
                       reply_to="1")
    result = run_cli(capsys, "post", draft(writer, "d.md", PARAGRAPHS), "--yes")
    assert result.code == int(ExitCode.REJECTED)
    assert "post 1 of 4: X already has a post with exactly this text" in result.err
    assert "threadbot resume" not in result.err  # resuming would only be refused again
    assert len(fake_x.posts()) == 2  # the account's own two, nothing from threadbot


def fake_x_client_post(server, text: str, reply_to: str | None = None):
    """Post as the account without threadbot (as a reply to an earlier post of its own)."""
    from threadbot.platforms.x import XClient

    with XClient(server.credentials(), api_base_url=server.base_url) as client:
        first = client.create_post("an unrelated earlier post")
        return client.create_post(text, reply_to=first if reply_to else None)


def test_bad_request_is_not_retried_and_says_so(capsys, writer, fake_x):
    path = draft(writer, "d.md", PARAGRAPHS)
    fake_x.fail_next(1, status=400, method="POST", path="/2/tweets")
    result = run_cli(capsys, "post", path, "--yes")
    assert result.code == int(ExitCode.REJECTED)
    assert "400 Bad Request" in result.err and "threadbot resume 1" in result.err
    tweets = [r for r in fake_x.requests if r.method == "POST" and r.path == "/2/tweets"]
    assert len(tweets) == 1  # a refusal is not retried


def test_server_errors_are_retried(capsys, writer, fake_x):
    fake_x.fail_next(2, status=503, method="POST", path="/2/tweets")
    result = run_cli(capsys, "post", draft(writer, "d.md", PARAGRAPHS), "--yes")
    assert result.code == 0, result.err
    assert len(chain(fake_x)) == 4
    assert "trying again" in result.err  # progress goes to stderr


def test_server_errors_exhausting_retries_leave_thread_resumable(capsys, writer, fake_x):
    fake_x.fail_next(4, status=500, method="POST", path="/2/tweets")
    result = run_cli(capsys, "post", draft(writer, "d.md", PARAGRAPHS), "--yes")
    assert result.code == int(ExitCode.PLATFORM)
    assert "0 of 4 posts up" in result.err and "threadbot resume 1" in result.err
    assert run_cli(capsys, "resume", "1").code == 0
    assert len(chain(fake_x)) == 4


def test_dropped_answer_after_post_is_found_not_resent(capsys, writer, fake_x):
    fake_x.drop_next(1, after_store=True, method="POST", path="/2/tweets")
    result = run_cli(capsys, "post", draft(writer, "d.md", PARAGRAPHS), "--yes")
    assert result.code == 0, result.err
    posts = chain(fake_x)
    assert len(posts) == 4 and len({p.text for p in posts}) == 4


def test_unknown_thread_id(capsys, writer):
    result = run_cli(capsys, "resume", "42")
    assert result.code == int(ExitCode.NOT_FOUND)
    assert "no thread 42" in result.err


def test_list_and_show(capsys, writer, fake_x):
    assert run_cli(capsys, "list").out.startswith("No threads yet")
    run_cli(capsys, "post", draft(writer, "d.md", PARAGRAPHS), "--yes")
    listed = run_cli(capsys, "list")
    assert "posted" in listed.out and "4/4" in listed.out
    assert f"{fake_x.base_url}/threadbot_test/status/" in listed.out
    shown = run_cli(capsys, "show", "1")
    assert "Reflection number 3" in shown.out and "[4] posted id" in shown.out


def test_secrets_never_shown_or_stored(capsys, writer, fake_x):
    secrets = [v for k, v in fake_x.credentials().items() if k != "consumer_key"]
    fake_x.fail_next(1, status=503, method="POST", path="/2/tweets")
    outputs = [run_cli(capsys, "post", draft(writer, "d.md", PARAGRAPHS), "--yes"),
               run_cli(capsys, "list", "--json"), run_cli(capsys, "show", "1", "--json"),
               run_cli(capsys, "accounts"), run_cli(capsys, "accounts", "check")]
    stored = b"".join(p.read_bytes() for p in (writer / "config").glob("threadbot.db*"))
    for secret in secrets:
        for result in outputs:
            assert secret not in result.out and secret not in result.err
        assert secret.encode() not in stored


def test_database_records_attempts_and_timestamps(capsys, writer, fake_x):
    fake_x.fail_next(1, status=503, method="POST", path="/2/tweets")
    run_cli(capsys, "post", draft(writer, "d.md", PARAGRAPHS), "--yes")
    with Store(writer / "config" / "threadbot.db") as store:
        thread = store.thread(1)
        mode = store.db.execute("PRAGMA journal_mode").fetchone()[0]
        migrations = [r[0] for r in store.db.execute("SELECT name FROM migrations")]
    assert mode == "wal" and migrations[0] == "m001_initial"
    assert thread.posts[0].attempts == 2
    now = datetime.now(UTC)
    for post in thread.posts:
        assert post.posted_at is not None and now - post.posted_at < timedelta(minutes=1)
        assert post.sent_at <= post.posted_at


@pytest.mark.parametrize("bad", ["accounts: [1, 2]\n", "accounts:\n  me:\n    platform: x\n"
                                 "    api_base_url: ftp://nowhere\n",
                                 "accounts:\n  me:\n    env:\n      api_key: 'abc 123'\n",
                                 "posting:\n  retries: 0\n", "default_account: nobody\n"])
def test_bad_account_config(capsys, writer, bad):
    (writer / "config" / "threadbot.yaml").write_text(bad)
    result = run_cli(capsys, "accounts")
    assert result.code == int(ExitCode.CONFIG), result.err
    assert "threadbot.yaml:" in result.err and "Traceback" not in result.err


def test_rehearse_needs_no_credentials(capsys, isolated):
    result = run_cli(capsys, "rehearse", str(DRAFTS / "on-slow-work.md"))
    assert result.code == 0, result.err
    assert "one connected chain" in result.out and "1 image(s) with alt text" in result.out
    assert "to the fake server (id " in result.out and "https://x.com/" not in result.out
    assert not (isolated / "threadbot.db").exists()  # the real record is untouched


def test_again_never_takes_another_threads_posts_as_its_own(capsys, writer, fake_x):
    path = draft(writer, "d.md", PARAGRAPHS)
    assert run_cli(capsys, "post", path, "--yes").code == 0
    first_ids = [p.id for p in fake_x.posts()]
    age_ledger(writer, days=31)  # past threadbot's check, not past the server's window
    result = run_cli(capsys, "post", path, "--yes", "--again")
    assert result.code == int(ExitCode.REJECTED)  # X refuses the same text again
    assert "exactly this text" in result.err
    shown = json.loads(run_cli(capsys, "show", "2", "--json").out)
    assert shown["posted"] == 0
    assert not {p["remote_id"] for p in shown["posts"]} & set(first_ids)
