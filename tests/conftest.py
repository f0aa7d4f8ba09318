"""Every test runs isolated from the machine: its own working folder, no user config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DRAFTS = REPO / "drafts"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A fresh working folder, no THREADBOT_* settings, HOME pointing into tmp."""
    for name in list(os.environ):
        if name.startswith("THREADBOT_") or name in ("NO_COLOR", "FORCE_COLOR"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def fake_x():
    """A fake X API server on 127.0.0.1, for the duration of one test."""
    from threadbot.testing.fake_x import FakeX

    with FakeX.running() as server:
        yield server


@pytest.fixture
def fake(fake_x):
    """The same server, by the short name the platform tests use."""
    return fake_x


def write_writer_folder(folder: Path, base_url: str, credentials: dict[str, str], *,
                        posting: str = "  pause_seconds: 0\n  backoff_seconds: 0.01\n"
                                       "  timeout_seconds: 5\n") -> Path:
    """A writer's folder whose one account posts to ``base_url``; returns its config."""
    (folder / "config").mkdir(parents=True, exist_ok=True)
    (folder / "drafts").mkdir(exist_ok=True)
    config = folder / "config" / "threadbot.yaml"
    config.write_text(
        "accounts:\n"
        "  main:\n"
        "    platform: x\n"
        f"    api_base_url: {base_url}\n"
        f"posting:\n{posting}",
        encoding="utf-8",
    )
    (folder / "config" / ".env").write_text(
        f"X_API_KEY={credentials['consumer_key']}\n"
        f"X_API_SECRET={credentials['consumer_secret']}\n"
        f"X_ACCESS_TOKEN={credentials['access_token']}\n"
        f"X_ACCESS_TOKEN_SECRET={credentials['access_token_secret']}\n",
        encoding="utf-8",
    )
    (folder / "config" / ".env").chmod(0o600)  # as a writer keeps keys (else a note)
    return config


@pytest.fixture
def writer(fake_x, isolated):
    """The current folder, set up as a writer's folder posting to the fake X.

    The database is config/threadbot.db; the keys are in config/.env."""
    write_writer_folder(isolated, fake_x.base_url, fake_x.credentials())
    return isolated


@pytest.fixture
def fake_mastodon():
    """A fake Mastodon server on 127.0.0.1, for the duration of one test."""
    from threadbot.testing.fake_mastodon import FakeMastodon

    with FakeMastodon.running() as server:
        yield server


@pytest.fixture
def fake_bluesky():
    """A fake Bluesky PDS on 127.0.0.1, for the duration of one test."""
    from threadbot.testing.fake_bluesky import FakeBluesky

    with FakeBluesky.running() as server:
        yield server
