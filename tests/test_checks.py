"""What a platform accepts, checked in one place (threadbot.checks): the preview, `post`,
`queue` and the daemon reach the same verdict, and what would be refused is refused
before anything is sent. Against fake X, Mastodon and Bluesky servers on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import DRAFTS
from helpers import age_ledger, run_cli
from threadbot import compose_text
from threadbot.config import Config
from threadbot.errors import ExitCode
from threadbot.testing.fake_bluesky import FakeBluesky
from threadbot.testing.fake_mastodon import FakeMastodon
from threadbot.testing.fake_x import FakeX

HANDLE = "threadbot.test"
ACCOUNTS = {"x": "main", "mastodon": "fedi", "bluesky": "sky"}

# Field case shared/cases/duplicate-refrain.md: the first and last posts are both
# "Still here." X refuses the second as a duplicate from the same account.
REFRAIN = ("Still here.\n\n---\n\nMost of this winter went on small repairs: the gate, the "
           "gutter, a friendship I had let go quiet.\n\n---\n\nStill here.\n")


@pytest.fixture
def servers():
    with FakeX.running() as x, FakeMastodon.running() as masto, \
            FakeBluesky.running() as sky:
        yield {"x": x, "mastodon": masto, "bluesky": sky}


@pytest.fixture
def folder(isolated, servers):
    """A writer's folder with accounts 'main' (X), 'fedi' (Mastodon), 'sky' (Bluesky)."""
    x, masto, sky = servers["x"], servers["mastodon"], servers["bluesky"]
    (isolated / "config").mkdir()
    (isolated / "drafts").mkdir()
    (isolated / "config" / "threadbot.yaml").write_text(
        f"accounts:\n  main:\n    platform: x\n    api_base_url: {x.base_url}\n"
        f"  fedi:\n    platform: mastodon\n    api_base_url: {masto.base_url}\n"
        f"  sky:\n    platform: bluesky\n    handle: {HANDLE}\n"
        f"    api_base_url: {sky.base_url}\n"
        "default_account: main\n"
        "posting:\n  pause_seconds: 0\n  backoff_seconds: 0.01\n  timeout_seconds: 5\n",
        encoding="utf-8")
    creds = x.credentials()
    env = isolated / "config" / ".env"
    env.write_text(
        f"X_API_KEY={creds['consumer_key']}\nX_API_SECRET={creds['consumer_secret']}\n"
        f"X_ACCESS_TOKEN={creds['access_token']}\n"
        f"X_ACCESS_TOKEN_SECRET={creds['access_token_secret']}\n"
        f"MASTODON_ACCESS_TOKEN={masto.credentials()['access_token']}\n"
        f"BLUESKY_APP_PASSWORD={sky.credentials(HANDLE)['app_password']}\n",
        encoding="utf-8")
    env.chmod(0o600)
    return isolated


def write(folder: Path, text: str, name: str = "d.md") -> str:
    (folder / "drafts" / name).write_text(text, encoding="utf-8")
    return f"drafts/{name}"


def threads(capsys) -> list[dict]:
    return json.loads(run_cli(capsys, "list", "--json").out)


# --------------------------------------------------------------- the refrain, on X


def test_the_preview_names_both_posts_of_a_repeated_refrain(capsys, folder):
    result = run_cli(capsys, "preview", write(folder, REFRAIN))
    assert result.code == int(ExitCode.DRAFT)
    assert "Problems to fix before posting" in result.out
    assert "posts 1 and 3 have the same text (“Still here.”)" in result.out
    assert "numbering" in result.out  # how to fix it
    shown = json.loads(run_cli(capsys, "preview", "drafts/d.md", "--json").out)
    assert any("posts 1 and 3" in error for error in shown["errors"])


@pytest.mark.parametrize("command", [["post", "--yes"], ["queue", "--now"]])
def test_post_and_queue_refuse_the_refrain_before_sending_anything(capsys, folder, servers,
                                                                   command):
    path = write(folder, REFRAIN)
    result = run_cli(capsys, command[0], path, *command[1:])
    assert result.code == int(ExitCode.DRAFT)
    assert "posts 1 and 3 have the same text" in result.err
    assert "Traceback" not in result.err
    assert servers["x"].posts() == []
    assert threads(capsys) == []  # nothing recorded, nothing half-posted


def test_numbered_the_refrain_goes_out_whole(capsys, folder, servers):
    result = run_cli(capsys, "post", write(folder, REFRAIN), "--yes", "--numbering", "1/N")
    assert result.code == 0, result.err
    assert [p.text for p in servers["x"].posts()][::2] == ["Still here. 1/3", "Still here. 3/3"]


@pytest.mark.parametrize("platform", ["mastodon", "bluesky"])
def test_platforms_that_accept_repeated_text_are_not_warned(platform):
    thread = compose_text(REFRAIN, platform=platform, config=Config())
    assert thread.faults == [] and thread.errors == []
    assert not any("same text" in warning for warning in thread.warnings)


def test_the_same_text_with_other_white_space_is_the_same_post():
    thread = compose_text("Still  here.\n\n---\n\nA middle.\n\n---\n\nStill here.",
                          platform="x", config=Config())
    assert [f.posts for f in thread.faults] == [(1, 3)]


# --------------------------------------------------------------- the ledger, 30 days on X


EARLIER = "A first thought.\n\n---\n\nThe refrain of the season.\n"
LATER = "Another thought entirely.\n\n---\n\nThe refrain of the season.\n"


def test_a_post_the_account_made_this_month_is_refused_before_anything_is_sent(
        capsys, folder, servers):
    assert run_cli(capsys, "post", write(folder, EARLIER, "earlier.md"), "--yes").code == 0
    before = len(servers["x"].posts())
    later = write(folder, LATER, "later.md")
    for command in (["preview", later], ["post", later, "--yes"],
                    ["queue", later, "--at", "+1h"]):
        result = run_cli(capsys, *command)
        assert result.code == int(ExitCode.DRAFT), (command, result.err)
        said = result.out + result.err
        assert "post 2 (“The refrain of the season.”) has the same text as post 2 of thread 1" \
            in said
        assert "last 30 days" in said and "Reword it" in said
    assert len(servers["x"].posts()) == before
    assert len(threads(capsys)) == 1
    # Another account, or another platform, is another matter.
    assert run_cli(capsys, "post", later, "--account", "fedi", "--yes").code == 0


def test_a_month_later_the_same_text_may_go_out_again(capsys, folder, servers):
    assert run_cli(capsys, "post", write(folder, EARLIER, "earlier.md"), "--yes").code == 0
    age_ledger(folder, days=31)
    servers["x"].duplicate_window = 0  # the server forgets too
    result = run_cli(capsys, "post", write(folder, LATER, "later.md"), "--yes")
    assert result.code == 0, result.err


def test_a_deleted_post_is_no_longer_a_duplicate(capsys, folder, servers):
    assert run_cli(capsys, "post", write(folder, EARLIER, "earlier.md"), "--yes").code == 0
    assert run_cli(capsys, "delete", "1", "--yes").code == 0
    result = run_cli(capsys, "post", write(folder, LATER, "later.md"), "--yes")
    assert result.code == 0, result.err


def test_resume_refuses_a_post_that_became_a_duplicate_meanwhile(capsys, folder, servers):
    x = servers["x"]
    x.user_post_cap_24h = 1
    first = run_cli(capsys, "post", write(folder, EARLIER, "earlier.md"), "--yes")
    assert first.code == int(ExitCode.RATE_LIMITED)
    x.user_post_cap_24h = None
    # Meanwhile the refrain went out in another thread.
    assert run_cli(capsys, "post", write(folder, LATER, "later.md"), "--yes").code == 0
    sent = len(x.posts())
    result = run_cli(capsys, "resume", "1")
    assert result.code == int(ExitCode.DRAFT)
    assert "post 2 (“The refrain of the season.”) has the same text as post 2 of thread 2" \
        in result.err
    assert len(x.posts()) == sent
    assert run_cli(capsys, "delete", "1", "--yes").code == 0  # taking it down still works


def test_the_daemon_refuses_a_queued_thread_that_became_a_duplicate(capsys, folder, servers):
    later = write(folder, LATER, "later.md")
    assert run_cli(capsys, "queue", later, "--now").code == 0
    # Meanwhile the same text went out in another thread.
    assert run_cli(capsys, "post", write(folder, EARLIER, "earlier.md"), "--yes").code == 0
    sent = len(servers["x"].posts())
    assert run_cli(capsys, "daemon", "--once").code == 0
    assert len(servers["x"].posts()) == sent
    queued = next(t for t in threads(capsys) if t["id"] == 1)
    assert queued["status"] == "failed" and queued["posted"] == 0
    assert "has the same text as post 2 of thread 2" in queued["last_error"]


def test_the_daemon_refuses_a_queued_thread_whose_image_went_away(capsys, folder, servers):
    shutil.copy(DRAFTS / "images" / "desk.png", folder / "drafts" / "desk.png")
    path = write(folder, "A first post.\n\n---\n\n![A desk](desk.png) The desk.\n")
    assert run_cli(capsys, "queue", path, "--now").code == 0
    (folder / "drafts" / "desk.png").unlink()
    assert run_cli(capsys, "daemon", "--once").code == 0
    assert servers["x"].posts() == []  # not the first post either: no half-posted thread
    queued = threads(capsys)[0]
    assert queued["status"] == "failed" and "desk.png" in queued["last_error"]
    assert "is not there" in queued["last_error"]


# --------------------------------------------------------------- preview and post agree


def _png(folder: Path, name: str, *, size: int = 0) -> str:
    data = (DRAFTS / "images" / "desk.png").read_bytes()
    (folder / "drafts" / name).write_bytes(data + b"\0" * max(0, size - len(data)))
    return name


FAULTS = {
    "missing image": lambda f: "A post.\n\n![A desk](not-there.png)\n",
    "not an image": lambda f: ((f / "drafts" / "notes.png").write_text("text"),
                               "A post.\n\n![Notes](notes.png)\n")[1],
    "five images in a post": lambda f: "A post.\n\n" + "\n".join(
        f"![Desk {i}]({_png(f, f'd{i}.png')})" for i in range(5)) + "\n",
    "alt text too long": lambda f: f"A post.\n\n![{'a' * 2100}]({_png(f, 'd.png')})\n",
    "image too large": lambda f: f"A post.\n\n![A desk]({_png(f, 'big.png', size=17 << 20)})\n",
    "a repeated post": lambda f: REFRAIN,
    "none": lambda f: "A post with nothing wrong.\n",
}
# What each platform does with each fault: refused (with this exit code) or accepted.
ACCEPTED = {("a repeated post", "mastodon"), ("a repeated post", "bluesky"),
            ("image too large", "bluesky")}  # Bluesky's images are scaled down to fit


@pytest.mark.parametrize("platform", ["x", "mastodon", "bluesky"])
@pytest.mark.parametrize("fault", list(FAULTS))
def test_the_preview_and_post_reach_the_same_verdict(capsys, folder, servers, fault, platform):
    path = write(folder, FAULTS[fault](folder))
    account = ACCOUNTS[platform]
    preview = run_cli(capsys, "preview", path, "--account", account)
    post = run_cli(capsys, "post", path, "--account", account, "--yes")
    assert preview.code == post.code, (preview.out, post.err)
    expected = (0 if fault == "none" or (fault, platform) in ACCEPTED else
                ExitCode.DRAFT if fault == "a repeated post" else ExitCode.MEDIA)
    assert post.code == int(expected), post.err
    if post.code:
        assert servers[platform].posts() == []
        assert "Traceback" not in post.err
    else:
        assert servers[platform].posts()


# --------------------------------------------------------------- the module itself


def test_a_post_over_the_limit_is_a_fault_naming_it():
    from threadbot.checks import check_lengths

    faults = check_lengths([280, 281, 12], 280, source="d.md", platform="x")
    assert [(f.kind, f.posts) for f in faults] == [("length", (2,))]
    assert "post 2 is 281 characters as X counts them; it takes 280" in faults[0].message


def test_refuse_raises_the_first_blocking_fault_by_its_kind():
    from threadbot.checks import Fault, refuse
    from threadbot.errors import DraftError, MediaError

    refuse([Fault("duplicate", "only a note", blocking=False)])  # nothing to refuse
    with pytest.raises(MediaError, match=r"^gone \(and 1 more problem\)$"):
        refuse([Fault("image", "gone"), Fault("duplicate", "twice")])
    with pytest.raises(DraftError) as raised:
        refuse([Fault("posted_before", "again"), Fault("alt_text", "long"),
                Fault("length", "over")])
    assert raised.value.exit_code == ExitCode.DRAFT
    assert str(raised.value) == "again (and 2 more problems)"


def test_only_a_repeat_still_to_send_is_a_fault():
    from threadbot.checks import check_repeats

    texts = ["Still here.", "Middle.", "Still here."]
    assert check_repeats(texts, "x", "d.md", pending=[False, False, False]) == []
    assert check_repeats(texts, "x", "d.md", pending=[False, True, True])[0].posts == (1, 3)
    assert check_repeats(texts, "mastodon", "d.md") == []
