"""One view of every platform's fake server, for the contract suite (test_contract.py).

Each platform threadbot posts to has a fake server in ``threadbot.testing`` that the
platform's real client library talks to over HTTP; each fake has its own API (X's
``posts()`` hold ``StoredPost``, Mastodon's ``StoredStatus``; X counts rate limits in
windows, Mastodon injects a 429 directly; ...). A ``PlatformFake`` here hides those
differences behind one set of verbs the contract needs: start a server, write a
writer's folder whose account ``main`` posts to it, read back the stored chain, find
and count the requests that matter, and inject faults.

Adding a platform is one ``PlatformFake`` subclass and one line in ``FAKES``.
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

from threadbot.testing.fake_bluesky import FakeBluesky
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
    without them (X); ``language`` is the post's languages joined by commas. ``uri``,
    ``cid``, ``reply_root`` and ``reply_parent`` (``(uri, cid)`` strong references)
    are those of a platform that links replies so (Bluesky), else ``None``."""

    id: str
    reply_to: str | None
    text: str
    images: tuple[Image, ...]
    deleted: bool
    visibility: str | None = None
    language: str | None = None
    spoiler_text: str | None = None
    uri: str | None = None
    cid: str | None = None
    reply_root: tuple[str, str] | None = None
    reply_parent: tuple[str, str] | None = None


class PlatformFake:
    """What the contract suite needs of one platform's fake server.

    Attributes:
        name: the platform's name in the config (``"x"``).
        create_path: the path of the "create a post" request (always a POST).
        me_path: the path of the "who am I" request.
        lookup_path: the path (shell wildcards) of "the account's recent posts".
        delete_path: the path (wildcards) of a post's deletion request.
        delete_method: that request's HTTP method.
        handle: the account's handle as threadbot shows it after ``@``.
        env_prefixes: prefixes of the variables that hold the platform's secrets
            (kept out of the children's environment: the folder's .env counts).
        auth_hint: the command a rejected-credentials message points to.
        idempotent: whether every attempt at a post carries the same idempotency key
            (an ``Idempotency-Key`` header, Bluesky's record key).
        server_guard_optional: whether ``running(dedup=False)`` turns the server's
            guard against a double post off (it cannot be on Bluesky).
        visibilities: the visibility of a thread's first post and of its replies by
            default, or ``None`` on a platform without visibility.
        languages: whether posts carry the draft's ``lang:``.
        content_warnings: whether posts carry the draft's ``cw:``.
        strong_refs: whether a reply names its thread's root and its parent by URI and
            content hash (CID), which the record keeps.
        lookups_per_5xx: how many reads of the account's posts follow a create answered
            500 (the client's own, then the publisher's).
        fault_seeds: seeds for ``random_faults`` under which a `threadbot post` of the
            suite's thread meets a drop after the post was stored (and, over all of
            them, every fault kind).
    """

    name = ""
    create_path = ""
    me_path = ""
    lookup_path = ""
    delete_path = ""
    delete_method = "DELETE"
    handle = USER
    env_prefixes: tuple[str, ...] = ()
    auth_hint = "threadbot accounts check"
    idempotent = False
    server_guard_optional = True
    visibilities: tuple[str, str] | None = None
    languages = False
    content_warnings = False
    strong_refs = False
    lookups_per_5xx = 1
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
        """Every secret value a writer's folder holds for this server, and every token
        the server issued to threadbot."""
        raise NotImplementedError

    def session_file(self, folder: Path) -> Path | None:
        """The file where threadbot keeps the account's session (the one file besides
        config/.env allowed to hold a secret), or ``None`` on a platform without one."""
        return None

    def logins(self, server: Any) -> int | None:
        """How many times threadbot signed in with the account's password (``None`` on
        a platform whose credentials are long-lived tokens, without sign-in)."""
        return None

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
        """Every deletion of a post: (post id, HTTP status or None when dropped)."""
        pattern = self.delete_path.replace("*", r"[^/]+")
        return [(self.deleted_id(r), r.status)
                for r in self.requests(server, self.delete_method, pattern)]

    def deleted_id(self, request: Any) -> str:
        """The id of the post a deletion request names."""
        return re.fullmatch(self.delete_path.replace("*", r"([^/]+)"), request.path)[1]

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
            server.delay_next(0, nth - 1, method=self.delete_method, path=self.delete_path)
        server.delay_next(seconds, 1, method=self.delete_method, path=self.delete_path)

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


# --------------------------------------------------------------------------- Bluesky


def xrpc(server: FakeBluesky, nsid: str, body: dict | None = None, *,
         token: str | None = None, query: dict | None = None) -> dict:
    """One XRPC call to the fake PDS, outside threadbot (a procedure when ``body``)."""
    url = f"{server.base_url}/xrpc/{nsid}" + (f"?{urlencode(query)}" if query else "")
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, method="POST" if body is not None else "GET",
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers=headers)
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read() or b"{}")


class BlueskyFake(PlatformFake):
    name = "bluesky"
    create_path = "/xrpc/com.atproto.repo.createRecord"
    me_path = "/xrpc/com.atproto.server.getSession"
    # threadbot settles an uncertain post by reading the record under its key.
    lookup_path = "/xrpc/com.atproto.repo.getRecord"
    delete_path = "/xrpc/com.atproto.repo.deleteRecord"
    delete_method = "POST"
    handle = "threadbot.test"
    env_prefixes = ("BLUESKY_",)
    auth_hint = "threadbot accounts login main"
    # The record key (a TID the ledger holds) is the idempotency key: a second
    # createRecord under it cannot make a second post. The PDS cannot be told to
    # forget that, so ``dedup`` changes nothing here.
    idempotent = True
    server_guard_optional = False
    visibilities = None  # Bluesky has no visibility ...
    languages = True
    content_warnings = False  # ... and no content warning (labels are something else)
    strong_refs = True
    # A 500 may mean "that record key is taken": the client reads the key, then the
    # publisher looks for the post too.
    lookups_per_5xx = 2
    # Over these, faults 500, 502, 503, 504, 429, drop, drop_after_store and delay all
    # fire, on sign-in, getSession, uploadBlob and getRecord as well as createRecord;
    # each seed drops the answer to a stored createRecord (43 meets a 429 at sign-in,
    # 77 a failing getRecord after that drop: exit 11, then resume).
    fault_seeds = (31, 39, 42, 43, 77)

    @contextmanager
    def running(self, *, latency: float = 0.0, dedup: bool = False, **options: Any
                ) -> Iterator[FakeBluesky]:
        options.setdefault("accounts", [self.handle])
        with FakeBluesky.running(latency=latency, **options) as server:
            yield server

    def account_yaml(self, server: FakeBluesky) -> str:
        return (f"    platform: bluesky\n    handle: {self.handle}\n"
                f"    api_base_url: {server.base_url}\n")

    def write_folder(self, folder: Path, server: FakeBluesky, posting: str) -> None:
        self._write_config(folder, server, posting, {
            "BLUESKY_APP_PASSWORD": server.credentials(self.handle)["app_password"]})

    def spoil_credentials(self, folder: Path) -> None:
        env = folder / "config" / ".env"
        env.write_text(re.sub(r"(?m)^BLUESKY_APP_PASSWORD=.*$",
                              "BLUESKY_APP_PASSWORD=aaaa-bbbb-cccc-dddd", env.read_text()))

    def secrets(self, server: FakeBluesky) -> list[str]:
        return [server.credentials(self.handle)["app_password"], *server.tokens(self.handle)]

    def session_file(self, folder: Path) -> Path:
        return folder / "config" / "threadbot-session-main.json"

    def logins(self, server: FakeBluesky) -> int:
        return server.logins(self.handle)

    def chain(self, server: FakeBluesky) -> list[ServerPost]:
        blobs = {blob.cid: blob.data for blob in server.blobs(self.handle)}
        return [ServerPost(
            id=post.rkey, reply_to=post.reply_to, text=post.text,
            images=tuple(Image(image.get("alt"), blobs[cid])
                         for image, cid in zip(post.images, post.blob_cids, strict=True)),
            deleted=post.deleted, language=",".join(post.langs) or None,
            uri=post.uri, cid=post.cid, reply_root=post.reply_root,
            reply_parent=post.reply_parent)
            for post in server.posts(self.handle, include_deleted=True)]

    def post_url(self, server: FakeBluesky, post_id: str) -> str:
        # A PDS other than Bluesky's own has no web app: threadbot names the post at
        # the server's address, by handle and record key, as bsky.app would.
        return f"{server.base_url}/profile/{self.handle}/post/{post_id}"

    def create_text(self, request: Any) -> str | None:
        record = request.json.get("record") if isinstance(request.json, dict) else None
        return record.get("text") if isinstance(record, dict) else None

    def idempotency_key(self, request: Any) -> str | None:
        return request.json.get("rkey") if isinstance(request.json, dict) else None

    def deleted_id(self, request: Any) -> str:
        return request.json["rkey"]

    def replay_create(self, server: FakeBluesky, request: Any) -> str:
        # The PDS makes no second record under a record key: it answers 500 (the
        # repository's "already a value at key"), and the post under the key is the
        # one made the first time.
        import urllib.error

        creds = server.credentials(self.handle)
        token = xrpc(server, "com.atproto.server.createSession", {
            "identifier": creds["handle"], "password": creds["app_password"]})["accessJwt"]
        try:
            xrpc(server, "com.atproto.repo.createRecord", request.json, token=token)
        except urllib.error.HTTPError as error:
            assert error.code == 500, error.code
        else:
            raise AssertionError("the PDS made a second record under the same key")
        rkey = request.json["rkey"]
        found = xrpc(server, "com.atproto.repo.getRecord", query={
            "repo": request.json["repo"], "collection": "app.bsky.feed.post", "rkey": rkey})
        return found["uri"].rsplit("/", 1)[-1]

    def random_faults(self, server: Any, rate: float, seed: int, *, delay: float) -> None:
        # Every request, reads included (the getRecord of the uncertain case too).
        server.random_faults(rate, seed=seed, kinds=self.fault_names(), delay=delay,
                             method="*")

    def fault_names(self) -> tuple[str, ...]:
        return ("5xx", "429", "drop", "drop_after_store", "delay")

    def rate_limit_create(self, server: FakeBluesky, nth: int, reset_in: float) -> None:
        # The PDS's own 429: RateLimit-Reset (epoch seconds) says when.
        self.pass_creates(server, nth - 1)
        server.rate_limit_next(1, method="POST", path=self.create_path, reset_in=reset_in)

    def reject_create(self, server: FakeBluesky, nth: int) -> None:
        # The app password is revoked while the thread goes up: create number nth is
        # refused 401, and so are renewing the session and signing in again (a session
        # refused once is renewed by the client, which then sends the post again).
        # The sign-in at the start, when there is no saved session yet, still works.
        self.pass_creates(server, nth - 1)
        self.fail_creates(server, 1, status=401)
        server.fail_next(1, status=401, method="POST", path="*refreshSession")
        if not server.logins(self.handle):
            server.delay_next(0, 1, method="POST", path="*createSession")
        server.fail_next(1, status=401, method="POST", path="*createSession")

    def refuse(self, server: FakeBluesky, folder: Path, text: str) -> str:
        # The PDS refuses (400 InvalidRequest) a text over its grapheme limit; this one
        # now takes fewer than the post has (threadbot counted with Bluesky's 300).
        server.contract_limit = server.max_graphemes
        server.max_graphemes = len(text) - 1
        return f"grapheme too big (maximum {len(text) - 1}, got {len(text)})"

    def lift_refusal(self, server: FakeBluesky) -> set[str]:
        server.max_graphemes = server.contract_limit
        return set()


#: Every platform the contract suite runs against: one line each.
FAKES: dict[str, PlatformFake] = {
    "x": XFake(),
    "mastodon": MastodonFake(),
    "bluesky": BlueskyFake(),
}
