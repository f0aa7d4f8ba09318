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
