"""A fake X API v2 server for tests, benchmarks and offline rehearsals.

``FakeX`` is a real HTTP server (stdlib ``ThreadingHTTPServer`` on 127.0.0.1)
that speaks the subset of X API v2 threadbot uses, with X's status codes, JSON
bodies and rate-limit headers, and verifies OAuth 1.0a HMAC-SHA1 signatures the
way X does. Because it is real HTTP, tests drive tweepy and ``XClient``
unmodified and exercise the same code paths as production.

Endpoints:

* ``GET /2/users/me``, ``GET /2/users/:id/tweets``
* ``POST /2/tweets``, ``GET /2/tweets/:id``, ``DELETE /2/tweets/:id``
* ``POST /2/media/upload`` (simple multipart upload, and the older
  ``command=INIT/APPEND/FINALIZE`` form), ``GET /2/media/upload?command=STATUS``
* ``POST /2/media/upload/initialize``, ``/2/media/upload/:id/append``,
  ``/2/media/upload/:id/finalize``
* ``POST /2/media/metadata`` (alt text)

Tests can inject faults (5xx, delays, dropped connections, a seeded random
fault rate), add latency, tune rate limits and inspect what was stored::

    with FakeX.running() as x:
        client = XClient(x.credentials(), api_base_url=x.base_url)
        x.fail_next(status=503, method="POST", path="/2/tweets")
        ...
        assert x.posts(user="threadbot_test")[0].text == "hello"

Run ``python -m threadbot.testing.fake_x --port 8099 --user me`` to rehearse
offline: it prints the base URL and the (fake) credentials to use.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import itertools
import json
import random
import re
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849.utils import parse_authorization_header, unescape

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "FakeAccount",
    "FakeX",
    "RecordedRequest",
    "StoredMedia",
    "StoredPost",
    "main",
    "sniff_media_type",
]

# X's snowflake epoch (2010-11-04), so ids look and sort like real ones.
_SNOWFLAKE_EPOCH_MS = 1288834974657
_DAY = 24 * 60 * 60

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_GIF_BYTES = 15 * 1024 * 1024
MAX_ALT_TEXT = 1000
MAX_MEDIA_PER_POST = 4
MAX_POST_WEIGHT = 280

#: Per-user request windows ``{"METHOD /route": (limit, window_seconds)}``.
#: Values are X's published per-user limits for the Basic tier at the time of
#: writing; tests override them with ``FakeX(rate_limits=...)``.
DEFAULT_RATE_LIMITS: dict[str, tuple[int, float]] = {
    "GET /2/users/me": (75, 15 * 60),
    "GET /2/users/:id/tweets": (900, 15 * 60),
    "POST /2/tweets": (100, 15 * 60),
    "GET /2/tweets/:id": (900, 15 * 60),
    "DELETE /2/tweets/:id": (50, 15 * 60),
    "POST /2/media/upload": (500, 15 * 60),
    "GET /2/media/upload": (500, 15 * 60),
    "POST /2/media/upload/initialize": (500, 15 * 60),
    "POST /2/media/upload/:id/append": (500, 15 * 60),
    "POST /2/media/upload/:id/finalize": (500, 15 * 60),
    "POST /2/media/metadata": (500, 15 * 60),
}

_INVALID_REQUEST = "https://api.twitter.com/2/problems/invalid-request"
_NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"
_DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
_TOO_LONG = (
    "Your Tweet text is too long. For more information on how Twitter determines text "
    "length see https://github.com/twitter/twitter-text."
)
_REPLY_GONE = "You attempted to reply to a Tweet that is deleted or not visible to you."
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class FakeAccount:
    """A user the server knows, with the access token pair that signs as them."""

    user_id: str
    username: str
    access_token: str
    access_token_secret: str = field(repr=False)
    name: str = ""


@dataclass(frozen=True)
class StoredPost:
    """A post as the server stored it."""

    id: str
    author_id: str
    text: str
    reply_to: str | None
    media_ids: tuple[str, ...]
    created_at: datetime
    conversation_id: str
    in_reply_to_user_id: str | None


@dataclass
class StoredMedia:
    """An uploaded media item; ``state`` is ``"uploading"`` until finalized."""

    id: str
    owner_id: str
    media_type: str | None
    category: str | None
    total_bytes: int
    alt_text: str | None = None
    state: str = "uploading"
    segments: dict[int, bytes] = field(default_factory=dict, repr=False)
    data: bytes = field(default=b"", repr=False)
    chunked: bool = False

    @property
    def media_key(self) -> str:
        """X's media key: type prefix 3 (photo) or 16 (animated GIF), then the id."""
        prefix = "16" if self.media_type == "image/gif" else "3"
        return f"{prefix}_{self.id}"

    @property
    def size(self) -> int:
        """Bytes received so far (all of them once finalized)."""
        if self.state == "succeeded":
            return len(self.data)
        return sum(len(segment) for segment in self.segments.values())


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received, for test assertions.

    ``status`` is ``None`` when the connection was dropped without a response.
    No secrets are kept: only the OAuth identity it verified as (``user_id``).
    """

    method: str
    path: str
    query: dict[str, str]
    json: Any
    status: int | None
    user_id: str | None
    fault: str | None
    at: float


@dataclass
class _Fault:
    kind: str  # "error" | "delay" | "drop" | "drop_after_store"
    remaining: int
    method: str | None
    path: str | None
    status: int = 503
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or fnmatch.fnmatchcase(path, self.path)
        )


@dataclass
class _RandomFaults:
    rate: float
    rng: random.Random
    kinds: tuple[str, ...]
    method: str | None
    path: str | None
    seconds: float


@dataclass
class _Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class _ApiError(Exception):
    """Raised inside a route handler to answer with an X error body."""

    def __init__(self, status: int, body: dict[str, Any]):
        super().__init__(status)
        self.status = status
        self.body = body


def _problem(status: int, detail: str | None = None, title: str | None = None) -> _ApiError:
    """X's RFC 7807 style error (``{"title", "detail", "type", "status"}``)."""
    title = title or _REASONS.get(status, "Error")
    return _ApiError(
        status,
        {"title": title, "detail": detail or title, "type": "about:blank", "status": status},
    )


def _invalid(message: str, parameter: str, value: Any) -> _ApiError:
    """X's 400 ``invalid-request`` error naming the offending parameter."""
    return _ApiError(
        400,
        {
            "errors": [{"parameters": {parameter: [str(value)]}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": _INVALID_REQUEST,
        },
    )


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _parse_time(value: str, parameter: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(f"Invalid '{parameter}': {value!r}", parameter, value) from None


def sniff_media_type(data: bytes) -> str | None:
    """The image MIME type from the file's magic bytes, or ``None`` if unsupported."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _max_bytes(media_type: str | None) -> int:
    return MAX_GIF_BYTES if media_type == "image/gif" else MAX_IMAGE_BYTES


def _parse_multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """Parse a multipart/form-data body into ``{field name: raw bytes}``.

    Hand-rolled (split on the boundary) because the ``cgi`` module is gone in
    3.13 and the ``email`` parser can rewrite line endings in binary parts.
    """
    header = Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise _problem(400, "Missing multipart boundary.")
    fields: dict[str, bytes] = {}
    for part in body.split(b"--" + boundary.encode("latin-1"))[1:]:
        if part.startswith(b"--"):
            break
        part = part.removeprefix(b"\r\n")
        head, _, content = part.partition(b"\r\n\r\n")
        disposition = Message()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-disposition":
                disposition["content-disposition"] = value.strip()
        field_name = disposition.get_param("name", header="content-disposition")
        if isinstance(field_name, str):
            fields[field_name] = content.removesuffix(b"\r\n")
    return fields


# --------------------------------------------------------------------------- server


class FakeX:
    """An in-process fake of X API v2 on ``127.0.0.1``.

    Args:
        consumer_key, consumer_secret: the app credentials requests must be
            signed with.
        accounts: the users that can sign in; defaults to one account,
            ``@threadbot_test``. Add more with :meth:`add_account`.
        port: 0 picks a free ephemeral port.
        rate_limits: per-user request windows overriding
            :data:`DEFAULT_RATE_LIMITS`, ``{"POST /2/tweets": (limit, seconds)}``.
        user_post_cap_24h, app_post_cap_24h: posts allowed per user / for the
            whole app in any 24 hours (``None``: unlimited).
        duplicate_window: seconds during which the same user posting the same
            text again is rejected as a duplicate.
        latency: seconds added to every request (benchmarks).
        clock: seconds since the epoch; inject one to test resets without
            sleeping.
    """

    def __init__(
        self,
        *,
        consumer_key: str = "fake-consumer-key",
        consumer_secret: str = "fake-consumer-secret",
        accounts: Iterable[FakeAccount] | None = None,
        port: int = 0,
        rate_limits: dict[str, tuple[int, float]] | None = None,
        user_post_cap_24h: int | None = 100,
        app_post_cap_24h: int | None = 1667,
        duplicate_window: float = _DAY,
        latency: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.consumer_key = consumer_key
        self._consumer_secret = consumer_secret
        self._port = port
        self.rate_limits = {**DEFAULT_RATE_LIMITS, **(rate_limits or {})}
        self.user_post_cap_24h = user_post_cap_24h
        self.app_post_cap_24h = app_post_cap_24h
        self.duplicate_window = duplicate_window
        self.latency = latency
        self.clock = clock

        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._accounts: dict[str, FakeAccount] = {}  # by access token
        self._posts: dict[str, StoredPost] = {}  # insertion order = creation order
        self._deleted: set[str] = set()
        self._media: dict[str, StoredMedia] = {}
        self._post_times: dict[str, list[float]] = {}  # user id -> creation times
        self._app_post_times: list[float] = []
        self._windows: dict[tuple[str, str], list[float]] = {}  # (user, route) -> [start, n]
        self._faults: list[_Fault] = []
        self._random: _RandomFaults | None = None
        self._requests: list[RecordedRequest] = []
        self._nonces: set[tuple[str, str]] = set()
        self._last_id = 0
        self._user_ids = itertools.count(1000001)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

        for account in accounts if accounts is not None else [self._make_account("threadbot_test")]:
            self._accounts[account.access_token] = account

    # ---------------------------------------------------------------- lifecycle

    @classmethod
    @contextmanager
    def running(cls, **kwargs: Any) -> Iterator[FakeX]:
        """Start a server for the duration of a ``with`` block (pytest-independent)."""
        server = cls(**kwargs)
        server.start()
        try:
            yield server
        finally:
            server.stop()

    @classmethod
    @contextmanager
    def for_rehearsal(cls, limits: Any = None) -> Iterator[FakeX]:
        """A server for ``threadbot rehearse``: no accounts yet, no 24-hour cap (X's
        limits are the same for everyone, so ``limits`` is not needed)."""
        with cls.running(user_post_cap_24h=None, accounts=[]) as server:
            yield server

    def rehearsal_account(self, username: str) -> dict[str, str]:
        """Add an account; its secrets keyed as threadbot's X accounts name them."""
        self.add_account(username)
        creds = self.credentials(username)
        return {"api_key": creds["consumer_key"], "api_secret": creds["consumer_secret"],
                "access_token": creds["access_token"],
                "access_token_secret": creds["access_token_secret"]}

    def thread_chain(self, username: str) -> list[Any]:
        """The account's posts, oldest first, as ``threadbot.testing.ChainPost``."""
        from . import ChainPost

        return [ChainPost(id=post.id, reply_to=post.reply_to,
                          alts=tuple(self.media(media_id)[0].alt_text
                                     for media_id in post.media_ids))
                for post in self.posts(username)]

    def __enter__(self) -> FakeX:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> FakeX:
        """Bind 127.0.0.1 and serve in a background thread; returns ``self``."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        httpd = _Server(("127.0.0.1", self._port), handler)
        # Handler threads may be sleeping in an injected delay; never wait for them.
        httpd.daemon_threads = True
        httpd.block_on_close = False
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name="fake-x", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping in delays
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        """The bound port (only while running)."""
        if self._httpd is None:
            raise RuntimeError("FakeX is not running: call start() first")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, to pass as ``XClient(api_base_url=...)``."""
        return f"http://127.0.0.1:{self.port}"

    # ---------------------------------------------------------------- accounts

    def _make_account(self, username: str, name: str | None = None) -> FakeAccount:
        user_id = str(next(self._user_ids))
        # Deterministic, obviously fake tokens: tests and rehearsals are reproducible.
        digest = hashlib.sha256(f"fake-x:{username}".encode()).hexdigest()
        return FakeAccount(
            user_id=user_id,
            username=username,
            access_token=f"{user_id}-fake{digest[:20]}",
            access_token_secret=f"fake-secret-{digest[20:44]}",
            name=name or username.replace("_", " ").title(),
        )

    def add_account(self, username: str, name: str | None = None) -> FakeAccount:
        """Register another user; returns it (with its fake access token pair)."""
        with self._lock:
            account = self._make_account(username, name)
            self._accounts[account.access_token] = account
            return account

    @property
    def accounts(self) -> list[FakeAccount]:
        """Every registered account."""
        with self._lock:
            return list(self._accounts.values())

    def account(self, username: str | None = None) -> FakeAccount:
        """The account called ``username`` (default: the first one)."""
        with self._lock:
            for account in self._accounts.values():
                if username is None or account.username == username:
                    return account
        raise KeyError(f"no fake account @{username}")

    def credentials(self, username: str | None = None) -> dict[str, str]:
        """The four OAuth 1.0a values that sign requests as ``username``."""
        account = self.account(username)
        return {
            "consumer_key": self.consumer_key,
            "consumer_secret": self._consumer_secret,
            "access_token": account.access_token,
            "access_token_secret": account.access_token_secret,
        }

    # ---------------------------------------------------------------- inspection

    def _user_id(self, user: str | None) -> str | None:
        if user is None:
            return None
        with self._lock:
            for account in self._accounts.values():
                if user in (account.username, account.user_id):
                    return account.user_id
        raise KeyError(f"no fake account {user!r}")

    def posts(self, user: str | None = None, *, include_deleted: bool = False) -> list[StoredPost]:
        """Stored posts, oldest first; ``user`` is a username or user id."""
        user_id = self._user_id(user)
        with self._lock:
            return [
                p for p in self._posts.values()
                if (user_id is None or p.author_id == user_id)
                and (include_deleted or p.id not in self._deleted)
            ]

    def post(self, post_id: str) -> StoredPost:
        """One stored post by id."""
        with self._lock:
            return self._posts[post_id]

    def media(self, media_id: str | None = None, *, user: str | None = None) -> list[StoredMedia]:
        """Uploaded media (optionally one id, or one user's), in upload order."""
        user_id = self._user_id(user)
        with self._lock:
            return [
                m for m in self._media.values()
                if (media_id is None or m.id == media_id)
                and (user_id is None or m.owner_id == user_id)
            ]

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget posts, media, requests, rate-limit counters and faults (keeps accounts)."""
        with self._lock:
            self._posts.clear()
            self._deleted.clear()
            self._media.clear()
            self._post_times.clear()
            self._app_post_times.clear()
            self._windows.clear()
            self._faults.clear()
            self._random = None
            self._requests.clear()

    # ---------------------------------------------------------------- fault injection

    def fail_next(
        self, n: int = 1, *, status: int = 503, method: str | None = None, path: str | None = None
    ) -> None:
        """Answer the next ``n`` matching requests with ``status`` (a 5xx) unprocessed.

        ``path`` is matched with shell-style wildcards (``"/2/media/*"``).
        """
        self._add_fault(_Fault("error", n, method, path, status=status))

    def delay_next(
        self, seconds: float, n: int = 1, *, method: str | None = None, path: str | None = None
    ) -> None:
        """Process the next ``n`` matching requests, then wait ``seconds`` before answering.

        The work is done first (a post is stored) so a client timing out sees
        exactly the "did it go through?" situation of a slow X.
        """
        self._add_fault(_Fault("delay", n, method, path, seconds=seconds))

    def drop_next(
        self,
        n: int = 1,
        *,
        after_store: bool = True,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Close the connection without answering the next ``n`` matching requests.

        With ``after_store`` (the default) the request is processed first, so a
        post is stored although the client never hears back; otherwise it is
        dropped unprocessed.
        """
        self._add_fault(_Fault("drop_after_store" if after_store else "drop", n, method, path))

    def random_faults(
        self,
        rate: float,
        *,
        seed: int = 0,
        kinds: Sequence[str] = ("500", "503"),
        method: str | None = None,
        path: str | None = None,
        delay: float = 1.0,
    ) -> None:
        """Inject a fault into a ``rate`` fraction of matching requests, reproducibly.

        ``kinds`` are drawn from uniformly: a 5xx status as a string (``"503"``),
        ``"delay"`` (``delay`` seconds), ``"drop"`` or ``"drop_after_store"``.
        With one client making requests in order, the same seed gives the same
        faults on the same requests.
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        for kind in kinds:
            if not (kind.isdigit() or kind in ("delay", "drop", "drop_after_store")):
                raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            self._random = _RandomFaults(
                rate, random.Random(seed), tuple(kinds), method, path, delay
            )

    def clear_faults(self) -> None:
        """Remove every pending and random fault."""
        with self._lock:
            self._faults.clear()
            self._random = None

    def _add_fault(self, fault: _Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("n must be at least 1")
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
            rnd = self._random
            if rnd is not None and (rnd.method is None or rnd.method == method) and (
                rnd.path is None or fnmatch.fnmatchcase(path, rnd.path)
            ):
                if rnd.rng.random() < rnd.rate:
                    kind = rnd.rng.choice(rnd.kinds)
                    if kind.isdigit():
                        return _Fault("error", 1, None, None, status=int(kind))
                    return _Fault(kind, 1, None, None, seconds=rnd.seconds)
        return None

    # ---------------------------------------------------------------- request handling

    def _handle(self, handler: _Handler, method: str) -> None:
        """Serve one request: latency, faults, auth, rate limits, route, reply."""
        split = urlsplit(handler.path)
        path = split.path.rstrip("/") or "/"
        query_pairs = parse_qsl(split.query, keep_blank_values=True)
        query = dict(query_pairs)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        content_type = handler.headers.get("Content-Type", "")
        parsed_json: Any = None
        if body and content_type.startswith("application/json"):
            try:
                parsed_json = json.loads(body)
            except ValueError:
                parsed_json = ...  # marks "unparseable" for the route

        if self.latency:
            self._stopping.wait(self.latency)

        fault = self._take_fault(method, path)
        user: FakeAccount | None = None
        reply: _Reply | None = None
        if fault is not None and fault.kind == "error":
            reply = self._error_reply(_problem(fault.status))
        elif fault is not None and fault.kind == "drop":
            pass
        else:
            try:
                user = self._authenticate(handler, method, split.query, body, content_type)
                reply = self._dispatch(method, path, query, body, content_type, parsed_json, user)
            except _ApiError as err:
                reply = self._error_reply(err)
            except Exception:  # a bug in the fake: answer 500 and show it, like a real server
                traceback.print_exc()
                reply = self._error_reply(_problem(500))
            if user is not None:
                reply.headers = {**self._limit_headers(user, method, path), **reply.headers}

        dropped = fault is not None and fault.kind in ("drop", "drop_after_store")
        # Recorded before any delay so the log keeps arrival order.
        self._record(
            method, path, query, parsed_json, None if dropped else reply and reply.status,
            user, fault,
        )
        if fault is not None and fault.kind == "delay":
            self._stopping.wait(fault.seconds)
        if dropped or reply is None:
            handler.drop()
        else:
            handler.send_json(reply.status, reply.body, reply.headers)

    def _record(
        self, method: str, path: str, query: dict[str, str], body: Any, status: int | None,
        user: FakeAccount | None, fault: _Fault | None,
    ) -> None:
        fault_name = None
        if fault is not None:
            fault_name = str(fault.status) if fault.kind == "error" else fault.kind
        with self._lock:
            self._requests.append(RecordedRequest(
                method, path, query, None if body is ... else body, status,
                user.user_id if user else None, fault_name, self.clock(),
            ))

    @staticmethod
    def _error_reply(err: _ApiError) -> _Reply:
        return _Reply(err.status, err.body)

    def _authenticate(
        self, handler: _Handler, method: str, query: str, body: bytes, content_type: str
    ) -> FakeAccount:
        """Verify the OAuth 1.0a HMAC-SHA1 signature; 401 like X if it does not hold."""
        header = handler.headers.get("Authorization", "")
        if not header.startswith("OAuth "):
            raise _problem(401)
        try:
            # Values arrive percent-encoded (RFC 5849 3.5.1).
            oauth = {k: unescape(v) for k, v in parse_authorization_header(header)}
        except ValueError:
            raise _problem(401) from None
        with self._lock:
            account = self._accounts.get(oauth.get("oauth_token", ""))
        if (
            account is None
            or oauth.get("oauth_consumer_key") != self.consumer_key
            or oauth.get("oauth_signature_method") != "HMAC-SHA1"
            or "oauth_signature" not in oauth
        ):
            raise _problem(401)
        # Only form-encoded bodies are part of the signature base string (RFC 5849 3.4.1.3).
        form_body = (
            body.decode("utf-8", "replace")
            if content_type.startswith("application/x-www-form-urlencoded") else None
        )
        params = oauth_signature.collect_parameters(
            uri_query=query, body=form_body, headers={"Authorization": header},
            exclude_oauth_signature=True,
        )
        host = handler.headers.get("Host") or f"127.0.0.1:{self.port}"
        request = SimpleNamespace(
            params=params, uri=f"http://{host}{urlsplit(handler.path).path}",
            http_method=method, signature=oauth["oauth_signature"],
        )
        if not oauth_signature.verify_hmac_sha1(
            request, self._consumer_secret, account.access_token_secret
        ):
            raise _problem(401)
        # A replayed signed request (same nonce and timestamp) is refused, as RFC 5849
        # 3.3 asks; timestamps are not checked against the clock, which tests may fake.
        nonce = (oauth.get("oauth_nonce", ""), oauth.get("oauth_timestamp", ""))
        with self._lock:
            if nonce in self._nonces:
                raise _problem(401)
            self._nonces.add(nonce)
        return account

    _ROUTES: list[tuple[str, re.Pattern[str], str, str]] = [
        ("GET", re.compile(r"/2/users/me"), "GET /2/users/me", "_get_me"),
        ("GET", re.compile(r"/2/users/(\w+)/tweets"), "GET /2/users/:id/tweets", "_get_tweets"),
        ("POST", re.compile(r"/2/tweets"), "POST /2/tweets", "_create_tweet"),
        ("GET", re.compile(r"/2/tweets/(\w+)"), "GET /2/tweets/:id", "_get_tweet"),
        ("DELETE", re.compile(r"/2/tweets/(\w+)"), "DELETE /2/tweets/:id", "_delete_tweet"),
        ("POST", re.compile(r"/2/media/upload"), "POST /2/media/upload", "_media_upload"),
        ("GET", re.compile(r"/2/media/upload"), "GET /2/media/upload", "_media_status"),
        ("POST", re.compile(r"/2/media/upload/initialize"), "POST /2/media/upload/initialize",
         "_media_initialize"),
        ("POST", re.compile(r"/2/media/upload/(\w+)/append"), "POST /2/media/upload/:id/append",
         "_media_append"),
        ("POST", re.compile(r"/2/media/upload/(\w+)/finalize"),
         "POST /2/media/upload/:id/finalize", "_media_finalize"),
        ("POST", re.compile(r"/2/media/metadata"), "POST /2/media/metadata", "_media_metadata"),
    ]

    @classmethod
    def _route(cls, method: str, path: str) -> tuple[str, str, tuple[str, ...]] | None:
        for route_method, pattern, key, name in cls._ROUTES:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return key, name, match.groups()
        return None

    def _dispatch(
        self, method: str, path: str, query: dict[str, str], body: bytes, content_type: str,
        parsed_json: Any, user: FakeAccount,
    ) -> _Reply:
        route = self._route(method, path)
        if route is None:
            raise _ApiError(404, {"errors": [{"message": "Sorry, that page does not exist",
                                              "code": 34}]})
        key, name, args = route
        self._check_window(user, key)
        if parsed_json is ...:
            raise _problem(400, "Request body is not valid JSON.")
        request = SimpleNamespace(
            query=query, body=body, content_type=content_type, json=parsed_json, user=user
        )
        handler: Callable[..., _Reply] = getattr(self, name)
        return handler(request, *args)

    # ---------------------------------------------------------------- rate limits

    def _check_window(self, user: FakeAccount, key: str) -> None:
        limit = self.rate_limits.get(key)
        if limit is None:
            return
        now = self.clock()
        with self._lock:
            window = self._windows.setdefault((user.user_id, key), [now, 0])
            if now >= window[0] + limit[1]:
                window[:] = [now, 0]
            if window[1] >= limit[0]:
                raise _problem(429)
            window[1] += 1

    def _recent_posts_times(self, times: list[float], now: float) -> list[float]:
        times[:] = [t for t in times if t > now - _DAY]
        return times

    def _check_post_caps(self, user: FakeAccount) -> None:
        now = self.clock()
        with self._lock:
            mine = self._recent_posts_times(self._post_times.setdefault(user.user_id, []), now)
            app = self._recent_posts_times(self._app_post_times, now)
            if self.user_post_cap_24h is not None and len(mine) >= self.user_post_cap_24h:
                raise _problem(429)
            if self.app_post_cap_24h is not None and len(app) >= self.app_post_cap_24h:
                raise _problem(429)

    def _limit_headers(self, user: FakeAccount, method: str, path: str) -> dict[str, str]:
        """X's rate-limit headers for this user and endpoint (after this request)."""
        route = self._route(method, path)
        if route is None:
            return {}
        key = route[0]
        now = self.clock()
        headers: dict[str, str] = {}
        with self._lock:
            limit = self.rate_limits.get(key)
            if limit is not None:
                start, used = self._windows.get((user.user_id, key), [now, 0])
                headers["x-rate-limit-limit"] = str(limit[0])
                headers["x-rate-limit-remaining"] = str(max(0, limit[0] - int(used)))
                headers["x-rate-limit-reset"] = str(int(start + limit[1]))
            if key == "POST /2/tweets":
                for prefix, cap, times in (
                    ("x-user-limit-24hour", self.user_post_cap_24h,
                     self._post_times.setdefault(user.user_id, [])),
                    ("x-app-limit-24hour", self.app_post_cap_24h, self._app_post_times),
                ):
                    if cap is None:
                        continue
                    recent = self._recent_posts_times(times, now)
                    reset = (min(recent) if recent else now) + _DAY
                    headers[f"{prefix}-limit"] = str(cap)
                    headers[f"{prefix}-remaining"] = str(max(0, cap - len(recent)))
                    headers[f"{prefix}-reset"] = str(int(reset))
        return headers

    # ---------------------------------------------------------------- ids

    def _next_id(self) -> str:
        """A snowflake-like id: time-ordered, strictly increasing, as a string."""
        with self._lock:
            candidate = (int(self.clock() * 1000) - _SNOWFLAKE_EPOCH_MS) << 22
            self._last_id = max(candidate, self._last_id + 1)
            return str(self._last_id)

    # ---------------------------------------------------------------- users & posts

    def _user_json(self, account: FakeAccount) -> dict[str, str]:
        return {"id": account.user_id, "name": account.name, "username": account.username}

    def _get_me(self, request: SimpleNamespace) -> _Reply:
        return _Reply(200, {"data": self._user_json(request.user)})

    def _post_json(self, post: StoredPost, fields: set[str]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": post.id, "text": post.text, "edit_history_tweet_ids": [post.id],
        }
        if "author_id" in fields:
            data["author_id"] = post.author_id
        if "created_at" in fields:
            data["created_at"] = _iso(post.created_at)
        if "conversation_id" in fields:
            data["conversation_id"] = post.conversation_id
        if "in_reply_to_user_id" in fields and post.in_reply_to_user_id:
            data["in_reply_to_user_id"] = post.in_reply_to_user_id
        if "referenced_tweets" in fields and post.reply_to:
            data["referenced_tweets"] = [{"type": "replied_to", "id": post.reply_to}]
        if "attachments" in fields and post.media_ids:
            data["attachments"] = {
                "media_keys": [self._media[m].media_key for m in post.media_ids]
            }
        return data

    def _get_tweets(self, request: SimpleNamespace, user_id: str) -> _Reply:
        query = request.query
        with self._lock:
            known = {a.user_id for a in self._accounts.values()}
        if user_id not in known:
            # X answers 200 with an "errors" array for a missing user.
            return _Reply(200, {"errors": [{
                "value": user_id, "detail": f"Could not find user with id: [{user_id}].",
                "title": "Not Found Error", "resource_type": "user", "parameter": "id",
                "resource_id": user_id, "type": _NOT_FOUND,
            }]})
        raw_max = query.get("max_results", "10")
        if not raw_max.isdigit() or not 5 <= int(raw_max) <= 100:
            raise _invalid(
                f"The `max_results` query parameter value [{raw_max}] is not between 5 and 100",
                "max_results", raw_max,
            )
        max_results = int(raw_max)
        fields = set(filter(None, query.get("tweet.fields", "").split(",")))
        posts = [p for p in reversed(self.posts(user_id)) if p.author_id == user_id]
        for name, keep in (
            ("since_id", lambda p, v: int(p.id) > int(v)),
            ("until_id", lambda p, v: int(p.id) < int(v)),
            ("start_time", lambda p, v: p.created_at >= _parse_time(v, "start_time")),
            ("end_time", lambda p, v: p.created_at <= _parse_time(v, "end_time")),
        ):
            if name in query:
                value = query[name]
                posts = [p for p in posts if keep(p, value)]
        token = query.get("pagination_token")
        if token:
            # Our opaque token is the id of the first post of the next page.
            start = next((i for i, p in enumerate(posts) if p.id == token.removeprefix("tok")),
                         None)
            if start is None:
                raise _invalid("The `pagination_token` query parameter value is invalid",
                               "pagination_token", token)
            posts = posts[start:]
        page, rest = posts[:max_results], posts[max_results:]
        if not page:
            return _Reply(200, {"meta": {"result_count": 0}})
        meta: dict[str, Any] = {
            "result_count": len(page), "newest_id": page[0].id, "oldest_id": page[-1].id,
        }
        if rest:
            meta["next_token"] = "tok" + rest[0].id
        return _Reply(200, {"data": [self._post_json(p, fields) for p in page], "meta": meta})

    def _get_tweet(self, request: SimpleNamespace, post_id: str) -> _Reply:
        with self._lock:
            post = self._posts.get(post_id)
            if post is None or post_id in self._deleted:
                return _Reply(200, {"errors": [{
                    "value": post_id, "detail": f"Could not find tweet with id: [{post_id}].",
                    "title": "Not Found Error", "resource_type": "tweet", "parameter": "id",
                    "resource_id": post_id, "type": _NOT_FOUND,
                }]})
            fields = set(filter(None, request.query.get("tweet.fields", "").split(",")))
            return _Reply(200, {"data": self._post_json(post, fields)})

    def _delete_tweet(self, request: SimpleNamespace, post_id: str) -> _Reply:
        with self._lock:
            post = self._posts.get(post_id)
            if post is None or post.author_id != request.user.user_id:
                raise _problem(403, "You are not allowed to delete this Tweet.")
            self._deleted.add(post_id)
        return _Reply(200, {"data": {"deleted": True}})

    def _create_tweet(self, request: SimpleNamespace) -> _Reply:
        # Imported here so the server module loads even while counting is being built,
        # and so the fake always uses exactly the weighting threadbot itself uses.
        from threadbot.counting import measure

        body = request.json
        user: FakeAccount = request.user
        if not isinstance(body, dict):
            raise _problem(400, "Request body must be a JSON object.")
        text = body.get("text")
        media = body.get("media") or {}
        media_ids = media.get("media_ids") if isinstance(media, dict) else None
        if text is not None and not isinstance(text, str):
            raise _invalid("text must be a string", "text", text)
        if not text and not media_ids:
            raise _invalid(
                "You must specify either text or media in your request.", "text", text or ""
            )
        text = text or ""
        if measure(text, platform="x") > MAX_POST_WEIGHT:
            raise _problem(400, _TOO_LONG)

        reply_to: str | None = None
        reply = body.get("reply")
        if reply is not None:
            reply_to = str(reply.get("in_reply_to_tweet_id", "")) if isinstance(reply, dict) else ""
            if not reply_to:
                raise _invalid("reply.in_reply_to_tweet_id is required", "reply", reply)

        ids: tuple[str, ...] = ()
        if media_ids is not None:
            if not isinstance(media_ids, list) or not 1 <= len(media_ids) <= MAX_MEDIA_PER_POST:
                raise _invalid(
                    f"media.media_ids: size must be between 1 and {MAX_MEDIA_PER_POST}",
                    "media.media_ids", media_ids,
                )
            ids = tuple(str(m) for m in media_ids)

        self._check_post_caps(user)
        now = self.clock()
        with self._lock:
            parent = self._posts.get(reply_to) if reply_to else None
            if reply_to and (parent is None or reply_to in self._deleted):
                raise _problem(403, _REPLY_GONE)
            for media_id in ids:
                item = self._media.get(media_id)
                if item is None or item.owner_id != user.user_id or item.state != "succeeded":
                    raise _invalid("Your media IDs are invalid.", "media.media_ids", media_id)
            if text.strip():
                for other in self._posts.values():
                    if (
                        other.author_id == user.user_id
                        and other.id not in self._deleted
                        and other.text.strip() == text.strip()
                        and other.created_at.timestamp() > now - self.duplicate_window
                    ):
                        raise _problem(403, _DUPLICATE)
            post_id = self._next_id()
            post = StoredPost(
                id=post_id,
                author_id=user.user_id,
                text=text,
                reply_to=reply_to,
                media_ids=ids,
                created_at=datetime.fromtimestamp(now, UTC),
                conversation_id=parent.conversation_id if parent else post_id,
                in_reply_to_user_id=parent.author_id if parent else None,
            )
            self._posts[post_id] = post
            self._post_times.setdefault(user.user_id, []).append(now)
            self._app_post_times.append(now)
        return _Reply(201, {"data": {"id": post_id, "text": text,
                                     "edit_history_tweet_ids": [post_id]}})

    # ---------------------------------------------------------------- media

    def _media_json(self, item: StoredMedia) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": item.id, "media_key": item.media_key, "size": item.size,
            "expires_after_secs": _DAY,
        }
        if item.state == "succeeded" and item.media_type:
            data["image"] = {"image_type": item.media_type}
        return data

    def _owned_media(self, media_id: str, user: FakeAccount, parameter: str) -> StoredMedia:
        item = self._media.get(media_id)
        if item is None or item.owner_id != user.user_id:
            raise _invalid(f"Media id {media_id} not found.", parameter, media_id)
        return item

    def _form(self, request: SimpleNamespace) -> dict[str, bytes]:
        ctype = request.content_type
        if ctype.startswith("multipart/form-data"):
            return _parse_multipart(ctype, request.body)
        if ctype.startswith("application/x-www-form-urlencoded"):
            return {k: v.encode() for k, v in parse_qsl(request.body.decode("utf-8", "replace"))}
        if isinstance(request.json, dict):
            return {k: str(v).encode() for k, v in request.json.items()}
        return {}

    def _validated(self, data: bytes, declared: int | None = None) -> str:
        media_type = sniff_media_type(data)
        if media_type is None:
            raise _invalid("Unsupported media type: not a PNG, JPEG, GIF or WEBP image.",
                           "media", "<binary>")
        if len(data) > _max_bytes(media_type):
            raise _invalid(
                f"File size exceeds {_max_bytes(media_type)} bytes.", "media", len(data)
            )
        if declared is not None and declared != len(data):
            raise _invalid(
                f"Uploaded {len(data)} bytes but total_bytes was {declared}.",
                "total_bytes", declared,
            )
        return media_type

    def _new_media(self, user: FakeAccount, media_type: str | None, category: str | None,
                   total: int, chunked: bool) -> StoredMedia:
        with self._lock:
            item = StoredMedia(self._next_id(), user.user_id, media_type, category, total,
                               chunked=chunked)
            self._media[item.id] = item
            return item

    def _media_upload(self, request: SimpleNamespace) -> _Reply:
        """``POST /2/media/upload``: a simple upload, or the older command= protocol."""
        form = {**self._form(request), **{k: v.encode() for k, v in request.query.items()}}
        command = form.get("command", b"").decode().upper()
        if command == "INIT":
            return self._init(request.user, form)
        if command == "APPEND":
            return self._append(request.user, form.get("media_id", b"").decode(), form)
        if command == "FINALIZE":
            return self._finalize(request.user, form.get("media_id", b"").decode())
        if command:
            raise _invalid(f"Unknown command {command}.", "command", command)
        data = form.get("media")
        if data is None:
            raise _invalid("The media field is required.", "media", "")
        media_type = self._validated(data)
        category = form.get("media_category", b"tweet_image").decode()
        item = self._new_media(request.user, media_type, category, len(data), chunked=False)
        with self._lock:
            item.data = data
            item.state = "succeeded"
        return _Reply(200, {"data": self._media_json(item)})

    def _media_status(self, request: SimpleNamespace) -> _Reply:
        """``GET /2/media/upload?command=STATUS&media_id=...``."""
        if request.query.get("command", "").upper() != "STATUS":
            raise _invalid("command must be STATUS.", "command", request.query.get("command"))
        with self._lock:
            item = self._owned_media(request.query.get("media_id", ""), request.user, "media_id")
            data = self._media_json(item)
            state = "succeeded" if item.state == "succeeded" else "pending"
            data["processing_info"] = {"state": state, "progress_percent":
                                       100 if state == "succeeded" else 0}
        return _Reply(200, {"data": data})

    def _media_initialize(self, request: SimpleNamespace) -> _Reply:
        return self._init(request.user, self._form(request))

    def _media_append(self, request: SimpleNamespace, media_id: str) -> _Reply:
        return self._append(request.user, media_id, self._form(request))

    def _media_finalize(self, request: SimpleNamespace, media_id: str) -> _Reply:
        return self._finalize(request.user, media_id)

    def _init(self, user: FakeAccount, form: dict[str, bytes]) -> _Reply:
        media_type = form.get("media_type", b"").decode() or None
        raw_total = form.get("total_bytes", b"").decode()
        if not raw_total.isdigit():
            raise _invalid("total_bytes must be a positive integer.", "total_bytes", raw_total)
        total = int(raw_total)
        if media_type not in ("image/png", "image/jpeg", "image/gif", "image/webp"):
            raise _invalid(f"Unsupported media_type {media_type}.", "media_type", media_type)
        if total > _max_bytes(media_type):
            raise _invalid(f"File size exceeds {_max_bytes(media_type)} bytes.",
                           "total_bytes", total)
        category = form.get("media_category", b"").decode() or None
        item = self._new_media(user, media_type, category, total, chunked=True)
        return _Reply(200, {"data": {"id": item.id, "media_key": item.media_key,
                                     "expires_after_secs": _DAY}})

    def _append(self, user: FakeAccount, media_id: str, form: dict[str, bytes]) -> _Reply:
        raw_index = form.get("segment_index", b"").decode()
        if not raw_index.isdigit() or int(raw_index) > 999:
            raise _invalid("segment_index must be between 0 and 999.", "segment_index", raw_index)
        chunk = form.get("media")
        if chunk is None:
            raise _invalid("The media field is required.", "media", "")
        with self._lock:
            item = self._owned_media(media_id, user, "media_id")
            if item.state != "uploading":
                raise _invalid("Media is already finalized.", "media_id", media_id)
            item.segments[int(raw_index)] = chunk
            if item.size > item.total_bytes:
                raise _invalid("Received more bytes than total_bytes.", "media", item.size)
        # X answers APPEND with an empty 2xx on v1.1 and a small body on v2.
        return _Reply(200, {"data": {"expires_at": int(self.clock()) + _DAY}})

    def _finalize(self, user: FakeAccount, media_id: str) -> _Reply:
        with self._lock:
            item = self._owned_media(media_id, user, "media_id")
            if item.state != "uploading":
                raise _invalid("Media is already finalized.", "media_id", media_id)
            data = b"".join(item.segments[i] for i in sorted(item.segments))
            sniffed = self._validated(data, declared=item.total_bytes)
            item.data, item.segments, item.state = data, {}, "succeeded"
            item.media_type = sniffed
            return _Reply(200, {"data": self._media_json(item)})

    def _media_metadata(self, request: SimpleNamespace) -> _Reply:
        """``POST /2/media/metadata`` with ``{"id", "metadata": {"alt_text": {"text"}}}``."""
        body = request.json
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise _invalid("id is required.", "id", "")
        metadata = body.get("metadata")
        alt = metadata.get("alt_text") if isinstance(metadata, dict) else None
        text = alt.get("text") if isinstance(alt, dict) else None
        if not isinstance(text, str):
            raise _invalid("metadata.alt_text.text is required.", "metadata.alt_text.text", "")
        if len(text) > MAX_ALT_TEXT:
            raise _invalid(f"alt_text.text must be at most {MAX_ALT_TEXT} characters.",
                           "metadata.alt_text.text", len(text))
        with self._lock:
            item = self._owned_media(body["id"], request.user, "id")
            item.alt_text = text
        return _Reply(200, {"data": {"id": item.id,
                                     "associated_metadata": {"alt_text": {"text": text}}}})


class _Server(ThreadingHTTPServer):
    """Quiet about clients that hang up: timeouts and drops are what tests provoke."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Routes every method to ``FakeX._handle``; ``fake`` is bound per server."""

    fake: FakeX
    # HTTP/1.1 keep-alive, like X: requests reuses pooled connections, which is
    # what makes a dropped connection look like X's "sent but no answer".
    protocol_version = "HTTP/1.1"
    # One send per response and no Nagle: otherwise delayed ACKs add ~40 ms a request.
    wbufsize = -1
    disable_nagle_algorithm = True
    server_version = "tsa_a"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.fake._handle(self, "GET")

    def do_POST(self) -> None:  # noqa: N802
        self.fake._handle(self, "POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self.fake._handle(self, "DELETE")

    def send_json(self, status: int, body: Any, headers: dict[str, str]) -> None:
        payload = json.dumps(body).encode()
        try:
            self.send_response(status, _REASONS.get(status))
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. timed out during an injected delay).
            self.close_connection = True

    def drop(self) -> None:
        """Close the connection without writing a single byte of response."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        # Tests stay quiet; the request log is in FakeX.requests.
        pass


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m threadbot.testing.fake_x``: serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m threadbot.testing.fake_x",
        description="Run a fake X API v2 server on 127.0.0.1 for offline rehearsals.",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument("--user", action="append", default=None,
                        help="username of a fake account (repeat for several)")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="milliseconds added to every request")
    args = parser.parse_args(argv)

    fake = FakeX(port=args.port, latency=args.latency_ms / 1000, accounts=[])
    for username in args.user or ["threadbot_test"]:
        fake.add_account(username)
    fake.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"fake X API listening on {fake.base_url}", flush=True)
    print(f"base_url: {fake.base_url}")
    print("These credentials are fake and only work against this server:")
    names = {"consumer_key": "X_API_KEY", "consumer_secret": "X_API_SECRET",
             "access_token": "X_ACCESS_TOKEN", "access_token_secret": "X_ACCESS_TOKEN_SECRET"}
    for account in fake.accounts:
        creds = fake.credentials(account.username)
        print(f"\n  @{account.username} (id {account.user_id}), as lines for config/.env:")
        for key, value in creds.items():
            print(f"    {names[key]}={value}")
    print(f"\nand in config/threadbot.yaml, on the account: api_base_url: {fake.base_url}")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
