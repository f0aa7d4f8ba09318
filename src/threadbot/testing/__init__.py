"""Fake platform servers that are part of the package: a fake X API (``fake_x``)
and a fake Mastodon instance (``fake_mastodon``), each a real HTTP server on
127.0.0.1 that the platform's own client library talks to unmodified.

Shipped in the package (not under ``tests/``) so that ``threadbot rehearse`` and
``python -m threadbot.testing.fake_x`` / ``fake_mastodon`` can rehearse offline.

Every fake offers, besides its own API, the two methods a rehearsal needs:
``rehearsal_account(name) -> {credential key: value}`` (an account whose
secrets a client of the platform accepts, keyed like ``PlatformSpec.env``) and
``thread_chain(name) -> [ChainPost]`` (that account's posts, oldest first).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from typing import Any

# Platform name -> "module:class" of its fake server.
FAKES: dict[str, str] = {
    "x": "threadbot.testing.fake_x:FakeX",
    "mastodon": "threadbot.testing.fake_mastodon:FakeMastodon",
    "bluesky": "threadbot.testing.fake_bluesky:FakeBluesky",
}


@dataclass(frozen=True)
class ChainPost:
    """A post as a fake server stored it: its id, the post it replies to, and the
    alt text of each image attached to it."""

    id: str
    reply_to: str | None
    alts: tuple[str | None, ...] = ()


@contextmanager
def rehearsal_server(platform: str, limits: Any = None) -> Iterator[Any]:
    """A fake server of ``platform``, running for the ``with`` block, set up with
    the account's limits (``threadbot.platforms.Limits``) where the platform's
    servers publish their own."""
    module_name, class_name = FAKES[platform].split(":")
    fake_class = getattr(import_module(module_name), class_name)
    with fake_class.for_rehearsal(limits) as server:
        yield server
