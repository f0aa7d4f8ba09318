"""One view of every platform's fake server, for the contract suite (test_contract.py).

Each platform threadbot posts to has a fake server in ``threadbot.testing`` that the
platform's real client library talks to over HTTP; each fake has its own API (X's
``posts()`` hold ``StoredPost``, Mastodon's ``StoredStatus``; X counts rate limits in
windows, Mastodon injects a 429 directly; ...). A ``PlatformFake`` here hides those
differences behind one set of verbs the contract needs: start a server, write a
writer's folder whose account ``main`` posts to it, read back the stored chain, find
and count the requests that matter, and inject faults.

Adding a platform (Bluesky) is one ``PlatformFake`` subclass and one line in ``FAKES``.
"""

from __future__ import annotations

import json
import re
import struct
import urllib.request
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from threadbot.testing.fake_mastodon import FakeMastodon
from threadbot.testing.fake_x import FakeX


def png(width: int = 4, height: int = 4) -> bytes:
    """A real (tiny) PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + b"\x80" * (width * 3) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PNG = png()
USER = "threadbot_test"  # the one account every fake starts with


@dataclass(frozen=True)
class Image:
    """An image attached to a stored post: its bytes and alt text."""

    alt: str | None
    data: bytes


@dataclass(frozen=True)
class ServerPost:
    """A post as a fake server stored it, the same shape for every platform.

    ``visibility``, ``language`` and ``spoiler_text`` are ``None`` on platforms
    without them (X)."""

    id: str
    reply_to: str | None
    text: str
    images: tuple[Image, ...]
    deleted: bool
    visibility: str | None = None
    language: str | None = None
    spoiler_text: str | None = None


class PlatformFake:
    """What the contract suite needs of one platform's fake server.

    Attributes:
        name: the platform's name in the config (``"x"``).
        create_path: the path of the "create a post" request (always a POST).
        me_path: the path of the "who am I" request.
        lookup_path: the path (shell wildcards) of "the account's recent posts".
        delete_path: the path (wildcards) of a post's DELETE.
        env_prefixes: prefixes of the variables that hold the platform's secrets
            (kept out of the children's environment: the folder's .env counts).
        auth_hint: the command a rejected-credentials message points to.
        idempotent: whether create requests carry an ``Idempotency-Key``.
        visibilities: the visibility of a thread's first post and of its replies by
            default, or ``None`` on a platform without visibility.
        languages: whether posts carry the draft's ``lang:``.
        content_warnings: whether posts carry the draft's ``cw:``.
        fault_seeds: seeds for ``random_faults`` under which a `threadbot post` of the
            suite's thread meets a drop after the post was stored (and, over all of
            them, every fault kind).
    """

    name = ""
    create_path = ""
    me_path = ""
    lookup_path = ""
    delete_path = ""
    env_prefixes: tuple[str, ...] = ()
    auth_hint = "threadbot accounts check"
    idempotent = False
    visibilities: tuple[str, str] | None = None
    languages = False
    content_warnings = False
    fault_seeds: tuple[int, ...] = ()

    # --- a server and a writer's folder -----------------------------------------------

    @contextmanager
    def running(self, *, latency: float = 0.0, dedup: bool = False, **options: Any
                ) -> Iterator[Any]:
        """A fake server, for the ``with`` block, adding ``latency`` seconds to every
        request. Without ``dedup`` the server has none of the platform's own guards
        against a post made twice (X refusing a duplicate text, Mastodon honouring
        ``Idempotency-Key``): a post sent twice is stored twice, and seen. ``options``
        go to the fake's constructor."""
        raise NotImplementedError

    def write_folder(self, folder: Path, server: Any, posting: str) -> None:
        """config/threadbot.yaml (one account, ``main``, posting to ``server``, and
        ``posting:`` lines) and config/.env with its secrets."""
        raise NotImplementedError

    def account_yaml(self, server: Any) -> str:
        raise NotImplementedError

    def _write_config(self, folder: Path, server: Any, posting: str, env: dict[str, str]
                      ) -> None:
        (folder / "config").mkdir(parents=True, exist_ok=True)
        (folder / "drafts").mkdir(exist_ok=True)
        (folder / "config" / "threadbot.yaml").write_text(
            f"accounts:\n  main:\n{self.account_yaml(server)}posting:\n{posting}",
            encoding="utf-8")
        (folder / "config" / ".env").write_text(
            "".join(f"{name}={value}\n" for name, value in env.items()), encoding="utf-8")

    def spoil_credentials(self, folder: Path) -> None:
        """Replace a secret in config/.env with one the server rejects (401)."""
        raise NotImplementedError

    def secrets(self, server: Any) -> list[str]:
        """Every secret value a writer's folder holds for this server."""
        raise NotImplementedError

    # --- reading back ------------------------------------------------------------------

    def chain(self, server: Any) -> list[ServerPost]:
        """Every post of the account, deleted ones too, oldest first."""
        raise NotImplementedError

    def post_url(self, server: Any, post_id: str) -> str:
        """The post's web address, as the platform gives it."""
        raise NotImplementedError

    def requests(self, server: Any, method: str | None = None, path: str | None = None
                 ) -> list[Any]:
        """Requests the server received, in order; ``path`` a regular expression."""
        return [r for r in server.requests
                if (method is None or r.method == method)
                and (path is None or re.fullmatch(path, r.path))]

    def creates(self, server: Any) -> list[Any]:
        """Every "create a post" request, in order (answered, failed or dropped)."""
        return self.requests(server, "POST", re.escape(self.create_path))

    def lookups(self, server: Any) -> list[Any]:
        """Every request for the account's recent posts."""
        return self.requests(server, "GET", self.lookup_path.replace("*", r"[^/]+"))

    def deletes(self, server: Any) -> list[tuple[str, int | None]]:
        """Every DELETE of a post: (post id, HTTP status or None when dropped)."""
        pattern = self.delete_path.replace("*", r"([^/]+)")
        return [(re.fullmatch(pattern, r.path)[1], r.status)
                for r in self.requests(server, "DELETE", pattern)]

    def create_text(self, request: Any) -> str | None:
        """The text a create request carried."""
        raise NotImplementedError

    def idempotency_key(self, request: Any) -> str | None:
        return None

    def replay_create(self, server: Any, request: Any) -> str:
        """Send the create request ``request`` again, as it was (text, reply-to,
        idempotency key); the id of the post the server answers with."""
        raise NotImplementedError

    def fault_names(self) -> tuple[str, ...]:
        """The random fault kinds the suite injects (a 5xx, a 429, dropped before and
        after the post is stored, an answer slower than threadbot waits)."""
        raise NotImplementedError

    # --- faults ------------------------------------------------------------------------

    def random_faults(self, server: Any, rate: float, seed: int, *, delay: float) -> None:
        server.random_faults(rate, seed=seed, kinds=self.fault_names(), delay=delay)

    def pass_creates(self, server: Any, n: int) -> None:
        """Let the next ``n`` create requests through untouched, so that the fault
        added next hits create number n + 1."""
        if n:
            server.delay_next(0, n, method="POST", path=self.create_path)

    def fail_creates(self, server: Any, n: int, *, status: int = 503) -> None:
        """Answer the next ``n`` create requests ``status``, storing nothing."""
        server.fail_next(n, status=status, method="POST", path=self.create_path)

    def drop_creates(self, server: Any, n: int = 1, *, after_store: bool = True) -> None:
        """Close the connection of the next ``n`` create requests without an answer,
        after storing the post (or before)."""
        server.drop_next(n, after_store=after_store, method="POST", path=self.create_path)

    def drop_create(self, server: Any, nth: int) -> None:
        """Store create request number ``nth`` (from now) but never answer it."""
        self.pass_creates(server, nth - 1)
        self.drop_creates(server, 1, after_store=True)

    def slow_create(self, server: Any, nth: int, seconds: float) -> None:
        """Store create request number ``nth`` at once, but answer it ``seconds`` late."""
        self.pass_creates(server, nth - 1)
        server.delay_next(seconds, 1, method="POST", path=self.create_path)

    def slow_delete(self, server: Any, nth: int, seconds: float) -> None:
        """Delete the post of DELETE request number ``nth`` at once, but answer ``seconds``
        late (the requests before it go through untouched)."""
        if nth > 1:
            server.delay_next(0, nth - 1, method="DELETE", path=self.delete_path)
        server.delay_next(seconds, 1, method="DELETE", path=self.delete_path)

    def reject_create(self, server: Any, nth: int) -> None:
        """Answer create request number ``nth`` 401 (credentials rejected)."""
        self.pass_creates(server, nth - 1)
        self.fail_creates(server, 1, status=401)

    def rate_limit_create(self, server: Any, nth: int, reset_in: float) -> None:
        """Answer create request number ``nth`` 429, the limit resetting ``reset_in``
        seconds from about now (the platform's rate-limit headers say when)."""
        raise NotImplementedError

    def lift_rate_limit(self, server: Any) -> None:
        """The rate limit is over (its reset time has come)."""

    def refuse(self, server: Any, folder: Path, text: str) -> str:
        """Make the server refuse the post ``text`` when threadbot sends it, by its own
        rules; returns words of the platform's reason that the message must show.
        Call it after `threadbot accounts check` (which caches a server's limits)."""
        raise NotImplementedError

    def lift_refusal(self, server: Any) -> set[str]:
        """Undo ``refuse``; returns the ids of posts it left on the account that are
        not the thread's."""
        return set()

    def fail_lookups(self, server: Any, n: int, *, status: int = 503) -> None:
        server.fail_next(n, status=status, method="GET", path=self.lookup_path)

    def pass_lookups(self, server: Any, n: int) -> None:
        if n:
            server.delay_next(0, n, method="GET", path=self.lookup_path)

    def fail_me(self, server: Any, n: int, *, status: int = 503) -> None:
        server.fail_next(n, status=status, method="GET", path=self.me_path)

    def delay_me(self, server: Any, seconds: float) -> None:
        server.delay_next(seconds, method="GET", path=self.me_path)


# --------------------------------------------------------------------------- X


class XFake(PlatformFake):
    name = "x"
    create_path = "/2/tweets"
    me_path = "/2/users/me"
    lookup_path = "/2/users/*/tweets"
    delete_path = "/2/tweets/*"
    env_prefixes = ("X_API_", "X_ACCESS_")
    auth_hint = "threadbot accounts check"
    # Over these, faults 500, 503, 429, drop, drop_after_store and delay all fire.
    fault_seeds = (7, 19, 21, 24, 25)

    @contextmanager
    def running(self, *, latency: float = 0.0, dedup: bool = False, **options: Any
                ) -> Iterator[FakeX]:
        window = 24 * 60 * 60 if dedup else 0
        with FakeX.running(latency=latency, duplicate_window=window, **options) as server:
            yield server

    def account_yaml(self, server: FakeX) -> str:
        return f"    platform: x\n    api_base_url: {server.base_url}\n"

    def write_folder(self, folder: Path, server: FakeX, posting: str) -> None:
        creds = server.credentials()
        self._write_config(folder, server, posting, {
            "X_API_KEY": creds["consumer_key"], "X_API_SECRET": creds["consumer_secret"],
            "X_ACCESS_TOKEN": creds["access_token"],
            "X_ACCESS_TOKEN_SECRET": creds["access_token_secret"]})

    def spoil_credentials(self, folder: Path) -> None:
        env = folder / "config" / ".env"
        env.write_text(re.sub(r"(?m)^X_ACCESS_TOKEN_SECRET=.*$",
                              "X_ACCESS_TOKEN_SECRET=not-the-secret", env.read_text()))

    def secrets(self, server: FakeX) -> list[str]:
        creds = server.credentials()
        return [creds[key] for key in ("consumer_secret", "access_token_secret",
                                       "access_token")]

    def chain(self, server: FakeX) -> list[ServerPost]:
        live = {post.id for post in server.posts(USER)}
        out = []
        for post in server.posts(USER, include_deleted=True):
            images = tuple(Image(item.alt_text, item.data) for media_id in post.media_ids
                           for item in server.media(media_id))
            out.append(ServerPost(id=post.id, reply_to=post.reply_to, text=post.text,
                                  images=images, deleted=post.id not in live))
        return out

    def post_url(self, server: FakeX, post_id: str) -> str:
        return f"{server.base_url}/{server.account().username}/status/{post_id}"

    def create_text(self, request: Any) -> str | None:
        return request.json.get("text") if isinstance(request.json, dict) else None

    def fault_names(self) -> tuple[str, ...]:
        return ("500", "503", "429", "drop", "drop_after_store", "delay")

    def rate_limit_create(self, server: FakeX, nth: int, reset_in: float) -> None:
        # X's own mechanism: a window of nth - 1 posts; the 429 carries x-rate-limit-reset
        # (the window's start, i.e. the first post of the run, plus its length).
        server.rate_limits["POST /2/tweets"] = (nth - 1, reset_in)

    def lift_rate_limit(self, server: FakeX) -> None:
        from threadbot.testing.fake_x import DEFAULT_RATE_LIMITS

        server.rate_limits["POST /2/tweets"] = DEFAULT_RATE_LIMITS["POST /2/tweets"]

    def refuse(self, server: FakeX, folder: Path, text: str) -> str:
        # X refuses a text the account already posted (403 duplicate): post it first,
        # outside threadbot, and let the fake keep its duplicate window again.
        from threadbot.platforms.x import XClient

        with XClient(server.credentials(), api_base_url=server.base_url) as client:
            server.contract_foreign = client.create_post(text)
        server.duplicate_window = 24 * 60 * 60
        return "already has a post with exactly this text"

    def lift_refusal(self, server: FakeX) -> set[str]:
        from threadbot.platforms.x import XClient

        foreign = server.contract_foreign
        with XClient(server.credentials(), api_base_url=server.base_url) as client:
            client.delete_post(foreign)  # the writer deletes the earlier post, as told
        return {foreign}


# --------------------------------------------------------------------------- Mastodon


class MastodonFake(PlatformFake):
    name = "mastodon"
    create_path = "/api/v1/statuses"
    me_path = "/api/v1/accounts/verify_credentials"
    lookup_path = "/api/v1/accounts/*/statuses"
    delete_path = "/api/v1/statuses/*"
    env_prefixes = ("MASTODON_",)
    auth_hint = "threadbot accounts login main"
    idempotent = True
    visibilities = ("public", "unlisted")
    languages = True
    content_warnings = True
    # Over these, faults 500, 502, 503, 504, 429, drop, drop_after_store, delay all fire.
    fault_seeds = (2, 5, 7, 11, 18)

    @contextmanager
    def running(self, *, latency: float = 0.0, dedup: bool = False, **options: Any
                ) -> Iterator[FakeMastodon]:
        # Still images are ready at once, as on a real Mastodon (the fake's default
        # keeps them "processing" for one poll; a test may ask for that).
        options.setdefault("processing_polls", 0)
        with FakeMastodon.running(latency=latency, idempotency=dedup, **options) as server:
            yield server

    def account_yaml(self, server: FakeMastodon) -> str:
        return f"    platform: mastodon\n    api_base_url: {server.base_url}\n"

    def write_folder(self, folder: Path, server: FakeMastodon, posting: str) -> None:
        self._write_config(folder, server, posting,
                           {"MASTODON_ACCESS_TOKEN": server.credentials()["access_token"]})

    def spoil_credentials(self, folder: Path) -> None:
        env = folder / "config" / ".env"
        env.write_text(re.sub(r"(?m)^MASTODON_ACCESS_TOKEN=.*$",
                              "MASTODON_ACCESS_TOKEN=not-the-token", env.read_text()))

    def secrets(self, server: FakeMastodon) -> list[str]:
        return [server.credentials()["access_token"]]

    def chain(self, server: FakeMastodon) -> list[ServerPost]:
        out = []
        for status in server.posts(USER, include_deleted=True):
            images = tuple(Image(item.description, item.data) for media_id in status.media_ids
                           for item in server.media(media_id))
            out.append(ServerPost(
                id=status.id, reply_to=status.in_reply_to_id, text=status.text, images=images,
                deleted=status.deleted, visibility=status.visibility, language=status.language,
                spoiler_text=status.spoiler_text))
        return out

    def post_url(self, server: FakeMastodon, post_id: str) -> str:
        # Read the status as any reader would, and take the URL the server gives.
        with urllib.request.urlopen(f"{server.base_url}/api/v1/statuses/{post_id}",
                                    timeout=5) as answer:
            return json.loads(answer.read())["url"]

    def create_text(self, request: Any) -> str | None:
        return request.form.get("status")

    def idempotency_key(self, request: Any) -> str | None:
        return request.idempotency_key

    def replay_create(self, server: FakeMastodon, request: Any) -> str:
        fields = {k: v for k, v in request.form.items() if isinstance(v, str)}
        headers = {"Authorization": f"Bearer {server.credentials()['access_token']}",
                   "Content-Type": "application/x-www-form-urlencoded"}
        if request.idempotency_key:
            headers["Idempotency-Key"] = request.idempotency_key
        sent = urllib.request.Request(f"{server.base_url}{self.create_path}", method="POST",
                                      data=urlencode(fields).encode(), headers=headers)
        with urllib.request.urlopen(sent, timeout=5) as answer:
            return json.loads(answer.read())["id"]

    def random_faults(self, server: Any, rate: float, seed: int, *, delay: float) -> None:
        # Every request, reads included (the lookups of the uncertain case too), as on X.
        server.random_faults(rate, seed=seed, kinds=self.fault_names(), delay=delay,
                             method="*")

    def fault_names(self) -> tuple[str, ...]:
        # The fake injects random faults into write requests only (uploads, posts).
        return ("5xx", "429", "drop", "drop_after_store", "delay")

    def rate_limit_create(self, server: FakeMastodon, nth: int, reset_in: float) -> None:
        self.pass_creates(server, nth - 1)
        server.rate_limit_next(1, method="POST", path=self.create_path, reset_in=reset_in)

    def refuse(self, server: FakeMastodon, folder: Path, text: str) -> str:
        # Mastodon refuses (422) a status over the instance's limit. threadbot counted
        # with the limit it cached (500); the instance now takes fewer characters.
        server.contract_limit = server.max_characters
        server.max_characters = len(text) - 1
        return f"Text character limit of {len(text) - 1} exceeded"

    def lift_refusal(self, server: FakeMastodon) -> set[str]:
        server.max_characters = server.contract_limit  # the instance takes it again
        return set()


#: Every platform the contract suite runs against: one line each.
FAKES: dict[str, PlatformFake] = {
    "x": XFake(),
    "mastodon": MastodonFake(),
}
