"""A fake Mastodon server for tests, benchmarks and offline rehearsals.

``FakeMastodon`` is a real HTTP server (stdlib ``ThreadingHTTPServer`` on
127.0.0.1) that speaks the part of Mastodon's REST API threadbot uses, with
Mastodon's status codes, ``{"error": ...}`` bodies, snowflake ids, ``Link``
pagination and ``X-RateLimit-*`` headers. Because it is real HTTP, tests drive
Mastodon.py unmodified and exercise the same code paths as production.

Endpoints:

* ``GET /api/v1/instance``, ``GET /api/v2/instance``,
  ``GET /.well-known/oauth-authorization-server``
* ``POST /api/v1/apps``, ``GET /api/v1/apps/verify_credentials``,
  ``GET /oauth/authorize``, ``POST /oauth/token``, ``POST /oauth/revoke``
* ``GET /api/v1/accounts/verify_credentials``, ``GET /api/v1/accounts/lookup``,
  ``GET /api/v1/accounts/:id``, ``GET /api/v1/accounts/:id/statuses``
* ``POST /api/v1/statuses``, ``GET /api/v1/statuses/:id``,
  ``GET /api/v1/statuses/:id/context``, ``DELETE /api/v1/statuses/:id``
* ``POST /api/v2/media``, ``POST /api/v1/media``, ``GET /api/v1/media/:id``,
  ``PUT /api/v1/media/:id``

Tests can inject faults (errors, forced 429s, delays, dropped connections before
or after the status is stored, a seeded random fault rate), tune limits and
inspect what was stored::

    with FakeMastodon.running() as server:
        api = Mastodon(access_token=server.credentials()["access_token"],
                       api_base_url=server.base_url, ratelimit_method="throw")
        server.drop_next(method="POST", path="/api/v1/statuses")
        ...
        assert server.posts(user="threadbot_test")[0].text == "hello"

Run ``python -m threadbot.testing.fake_mastodon --user me --port 8766`` to
rehearse offline: it prints the base URL and a ``MASTODON_ACCESS_TOKEN=`` line.

Where this differs from a real Mastodon 4.4 on purpose: uploaded images stay
"processing" for ``processing_polls`` polls of ``GET /api/v1/media/:id``
(Mastodon processes still images at once and answers 200), so clients' polling
is exercised; set ``processing_polls=0`` for the real behaviour. Status content
is escaped text in ``<p>`` with ``<br />`` (no links, mentions or hashtags are
turned into HTML). There are no follows, notifications or federation.
"""

from __future__ import annotations

import argparse
import base64
import email.utils
import fnmatch
import hashlib
import html
import itertools
import json
import random
import re
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from threadbot.testing.fake_x import sniff_media_type

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "DEFAULT_SCOPES",
    "OOB_REDIRECT_URI",
    "FakeAccount",
    "FakeMastodon",
    "RecordedRequest",
    "StoredMedia",
    "StoredStatus",
    "main",
]

OOB_REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob"
#: Scopes of the tokens :meth:`FakeMastodon.add_account` makes (Mastodon.py's defaults).
DEFAULT_SCOPES = ("read", "write", "follow", "push")

#: Per-account windows ``{bucket: (limit, seconds)}``, as Mastodon's
#: ``config/initializers/rack_attack.rb`` and ``RateLimiter`` set them:
#: ``api`` every authenticated ``/api`` request, ``media`` ``POST /api/v*/media``,
#: ``delete`` ``DELETE /api/v1/statuses/:id``, ``paging`` requests with
#: ``max_id``/``min_id``/``since_id``, ``statuses`` statuses created. Windows are
#: fixed and aligned to the epoch, like Rack::Attack's.
DEFAULT_RATE_LIMITS: dict[str, tuple[int, float]] = {
    "api": (300, 5 * 60),
    "media": (30, 30 * 60),
    "delete": (30, 30 * 60),
    "paging": (300, 15 * 60),
    "statuses": (300, 3 * 60 * 60),
}

DEFAULT_MIME_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
VISIBILITIES = ("public", "unlisted", "private", "direct")
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CODE_TTL = 10 * 60  # Doorkeeper's authorization_code_expires_in
_MAX_DEPTH = 4096  # Mastodon's CONTEXT_LIMIT

_TOKEN_INVALID = "The access token is invalid"
_NOT_FOUND = "Record not found"
_REPLY_NOT_FOUND = "The post you are trying to reply to does not appear to exist."
_NEEDS_USER = "This method requires an authenticated user"
_OUT_OF_SCOPE = "This action is outside the authorized scopes"
_TOO_MANY = "Too many requests"
_INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client."
)
_INVALID_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication included, "
    "or unsupported authentication method."
)
_INVALID_SCOPE = "The requested scope is invalid, unknown, or malformed."
_BAD_REDIRECT = "The requested redirect uri is malformed or doesn't match client redirect URI."
_REASONS = {
    200: "OK",
    202: "Accepted",
    206: "Partial Content",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
# Request fields never kept in the request log (OAuth secrets).
_SECRET_FIELDS = frozenset({"client_secret", "code", "code_verifier", "token", "password",
                            "refresh_token", "access_token"})


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class FakeAccount:
    """A user the server knows, with the access token that acts as them."""

    id: str
    username: str
    access_token: str = field(repr=False)
    display_name: str = ""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC), repr=False)


@dataclass(frozen=True)
class StoredStatus:
    """A status as the server stored it (``deleted`` once deleted)."""

    id: str
    account_id: str
    text: str
    in_reply_to_id: str | None
    in_reply_to_account_id: str | None
    visibility: str
    spoiler_text: str
    language: str | None
    sensitive: bool
    media_ids: tuple[str, ...]
    idempotency_key: str | None
    created_at: datetime
    application: str | None = None
    deleted: bool = False


@dataclass
class StoredMedia:
    """An uploaded attachment; ``processed`` once its polls are used up."""

    id: str
    account_id: str
    media_type: str
    size: int
    description: str | None
    focus: tuple[float, float] | None
    polls_left: int
    created_at: datetime
    width: int | None = None
    height: int | None = None
    status_id: str | None = None
    data: bytes = field(default=b"", repr=False)
    shortcode: str = field(default="", repr=False)

    @property
    def processed(self) -> bool:
        return self.polls_left <= 0


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received, for test assertions.

    ``status`` is ``None`` when the connection was dropped without an answer.
    No secrets are kept: the ``Authorization`` value is replaced by
    ``"[redacted]"`` and OAuth fields (``client_secret``, ``code``, ``token``...)
    likewise; uploaded files appear as ``"<file NAME, N bytes>"``.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, Any]
    headers: dict[str, str]
    status: int | None
    account_id: str | None
    fault: str | None
    at: float

    @property
    def idempotency_key(self) -> str | None:
        for name, value in self.headers.items():
            if name.lower() == "idempotency-key":
                return value
        return None


@dataclass
class _App:
    id: str
    name: str
    website: str | None
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]


@dataclass
class _Token:
    account_id: str | None
    app_id: str
    scopes: frozenset[str]
    created_at: float
    revoked: bool = False


@dataclass
class _Code:
    app_id: str
    account_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    expires_at: float
    challenge: str | None = None
    used: bool = False


@dataclass
class _Fault:
    kind: str  # "error" | "ratelimit" | "delay" | "drop" | "drop_after_store"
    remaining: int
    method: str | None
    path: str | None
    status: int = 503
    seconds: float = 0.0
    reset_in: float | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or fnmatch.fnmatchcase(path, self.path)
        )

    @property
    def name(self) -> str:
        if self.kind == "error":
            return str(self.status)
        return "429" if self.kind == "ratelimit" else self.kind


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
    content_type: str = "application/json; charset=utf-8"


class _ApiError(Exception):
    """Raised inside a route handler to answer with Mastodon's error body."""

    def __init__(self, status: int, error: str, description: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(status, error)
        self.status = status
        self.body: dict[str, str] = {"error": error}
        if description is not None:
            self.body["error_description"] = description
        self.headers = headers or {}


def _not_found(message: str = _NOT_FOUND) -> _ApiError:
    return _ApiError(404, message)


def _invalid(message: str) -> _ApiError:
    """Mastodon's 422 for a failed validation."""
    return _ApiError(422, message)


@dataclass
class _Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


class _Params:
    """Rails-style request parameters: query and body merged, ``name[]`` lists."""

    def __init__(self, values: dict[str, list[Any]], files: dict[str, _Part]):
        self.values = values
        self.files = files

    def get(self, name: str) -> str | None:
        found = self.values.get(name)
        if not found:
            return None
        value = found[0]
        if isinstance(value, bool):
            return "true" if value else "false"
        if value is None or isinstance(value, list | dict):
            return None
        return str(value)

    def get_list(self, name: str) -> list[str] | None:
        found = self.values.get(f"{name}[]") or self.values.get(name)
        if found is None:
            return None
        if len(found) == 1 and isinstance(found[0], list):
            found = found[0]
        return [str(v) for v in found if v is not None and not isinstance(v, list | dict)]

    def flag(self, name: str) -> bool:
        """ActiveModel's boolean cast: false for ``0/f/false/off``, blank or absent."""
        value = self.get(name)
        if value is None or value == "":
            return False
        return value.lower() not in ("0", "f", "false", "off")

    def redacted(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, values in self.values.items():
            if key.rstrip("[]") in _SECRET_FIELDS:
                out[key] = "[redacted]"
            else:
                out[key] = values[0] if len(values) == 1 and not key.endswith("[]") else values
        for key, part in self.files.items():
            out[key] = f"<file {part.filename or key}, {len(part.data)} bytes>"
        return out


def _iso(ts: float, digits: int = 3) -> str:
    """``2026-08-01T13:53:57.526Z`` (``digits`` decimals of seconds)."""
    moment = datetime.fromtimestamp(ts, UTC)
    fraction = f"{moment.microsecond:06d}"[:digits]
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + fraction + "Z"


def _ruby_to_i(value: str) -> int:
    """Ruby's ``String#to_i``: leading digits (with a sign), else 0."""
    match = re.match(r"\s*([+-]?\d+)", value)
    return int(match.group(1)) if match else 0


def _escape(text: str) -> str:
    """ERB's ``html_escape``: ``& < > " '``."""
    return html.escape(text, quote=True).replace("&#x27;", "&#39;")


_REMOTE_MENTION = re.compile(r"(?<![=/\w])@([a-z0-9_]+)@([\w.-]+\w)", re.IGNORECASE)


def _mention_html(match: re.Match[str]) -> str:
    user, domain = match.group(1), match.group(2)
    return (f'<span class="h-card"><a href="https://{domain}/@{user}" class="u-url mention">'
            f"@<span>{user}</span></a></span>")


def _content_html(text: str) -> str:
    """Mastodon's plain-text formatting: ``<p>`` per paragraph, ``<br />`` per line break,
    and a mention of another instance's account shown as ``@user`` alone (a link to
    it), as Mastodon renders it: text read back differs from the text sent."""
    if not text.strip():
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join("<p>" + _REMOTE_MENTION.sub(_mention_html, _escape(p)).replace(
        "\n", "<br />") + "</p>" for p in re.split(r"\n\n+", text))


def _ruby_strip(text: str) -> str:
    return text.strip(" \t\n\v\f\r\0")


def _parse_multipart(content_type: str, body: bytes) -> list[_Part]:
    """Parse a multipart/form-data body (hand-rolled: ``cgi`` is gone in 3.13)."""
    header = Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise _ApiError(400, "Missing multipart boundary")
    parts: list[_Part] = []
    for chunk in body.split(b"--" + boundary.encode("latin-1"))[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n")
        head, _, content = chunk.partition(b"\r\n\r\n")
        disposition = Message()
        part_type: str | None = None
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-disposition":
                disposition["content-disposition"] = value.strip()
            elif name.strip().lower() == "content-type":
                part_type = value.strip().split(";")[0].strip().lower() or None
        field_name = disposition.get_param("name", header="content-disposition")
        filename = disposition.get_param("filename", header="content-disposition")
        if isinstance(field_name, str):
            parts.append(_Part(field_name, filename if isinstance(filename, str) else None,
                               part_type, content.removesuffix(b"\r\n")))
    return parts


def _image_size(data: bytes, media_type: str) -> tuple[int, int] | None:
    """Width and height from the image header, when cheaply readable."""
    try:
        if media_type == "image/png" and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return int(width), int(height)
        if media_type == "image/gif":
            width, height = struct.unpack("<HH", data[6:10])
            return int(width), int(height)
        if media_type == "image/webp":
            kind = data[12:16]
            if kind == b"VP8X":
                width = int.from_bytes(data[24:27], "little") + 1
                height = int.from_bytes(data[27:30], "little") + 1
                return width, height
            if kind == b"VP8 ":
                width, height = struct.unpack("<HH", data[26:30])
                return int(width) & 0x3FFF, int(height) & 0x3FFF
            if kind == b"VP8L":
                bits = int.from_bytes(data[21:25], "little")
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if media_type == "image/jpeg":
            pos = 2
            while pos + 9 < len(data):
                if data[pos] != 0xFF:
                    return None
                marker = data[pos + 1]
                length = int.from_bytes(data[pos + 2:pos + 4], "big")
                if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB,
                              0xCD, 0xCE, 0xCF):
                    height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
                    return int(width), int(height)
                pos += 2 + length
    except (struct.error, IndexError):
        return None
    return None


def _human_size(limit: int) -> str:
    """ActiveSupport's ``number_to_human_size`` (3 significant digits): ``16 MB``."""
    if limit < 1024:
        return f"{limit} Bytes"
    value, units = float(limit), ["KB", "MB", "GB", "TB"]
    unit = units.pop(0)
    value /= 1024
    while value >= 1024 and units:
        value /= 1024
        unit = units.pop(0)
    digits = max(0, 3 - len(str(int(value))))
    text = f"{round(value, digits):.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {unit}"


def _expand_scopes(scopes: Iterable[str]) -> frozenset[str]:
    return frozenset(s for s in scopes if s)


def _has_scope(granted: frozenset[str], wanted: tuple[str, ...]) -> bool:
    """Doorkeeper's check: any one of ``wanted`` is granted (``write`` covers ``write:x``)."""
    for scope in wanted:
        if scope in granted or scope.split(":")[0] in granted:
            return True
    return False


# --------------------------------------------------------------------------- server


class FakeMastodon:
    """An in-process fake Mastodon instance on ``127.0.0.1``.

    Args:
        accounts: usernames of the accounts to create; defaults to one,
            ``@threadbot_test``. Add more with :meth:`add_account`.
        port: 0 picks a free ephemeral port.
        title, version, domain: what the instance endpoints report (``domain``
            defaults to ``127.0.0.1:PORT``).
        max_characters, characters_reserved_per_url, max_media_attachments:
            ``configuration.statuses``, and enforced on ``POST /api/v1/statuses``.
        image_size_limit, description_limit, supported_mime_types,
        image_matrix_limit, video_size_limit: ``configuration.media_attachments``;
            the first three are enforced on uploads (types are sniffed from the bytes).
        processing_polls: how many ``GET /api/v1/media/:id`` answer 206 before an
            upload through ``/api/v2/media`` is processed (0: processed at once).
        idempotency, idempotency_ttl: honour ``Idempotency-Key`` for that many seconds.
        rate_limits: overrides of :data:`DEFAULT_RATE_LIMITS` (``None`` as a value
            turns a bucket off).
        latency: seconds added to every request (benchmarks).
        clock: seconds since the epoch; inject one to test windows without sleeping.
            It also dates responses (``Date``), which Mastodon.py uses to place
            ``X-RateLimit-Reset`` on its own clock.
    """

    def __init__(
        self,
        *,
        accounts: Iterable[str] | None = None,
        port: int = 0,
        title: str = "Fake Mastodon",
        version: str = "4.4.0",
        api_version: int = 5,
        domain: str | None = None,
        max_characters: int = 500,
        characters_reserved_per_url: int = 23,
        max_media_attachments: int = 4,
        image_size_limit: int = 16 * 1024 * 1024,
        image_matrix_limit: int = 33_177_600,
        video_size_limit: int = 99 * 1024 * 1024,
        description_limit: int = 1500,
        supported_mime_types: Sequence[str] = DEFAULT_MIME_TYPES,
        processing_polls: int = 1,
        idempotency: bool = True,
        idempotency_ttl: float = 3600.0,
        rate_limits: dict[str, tuple[int, float] | None] | None = None,
        latency: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._port = port
        self.title = title
        self.version = version
        self.api_version = api_version
        self._domain = domain
        self.max_characters = max_characters
        self.characters_reserved_per_url = characters_reserved_per_url
        self.max_media_attachments = max_media_attachments
        self.image_size_limit = image_size_limit
        self.image_matrix_limit = image_matrix_limit
        self.video_size_limit = video_size_limit
        self.description_limit = description_limit
        self.supported_mime_types = tuple(supported_mime_types)
        self.processing_polls = processing_polls
        self.idempotency = idempotency
        self.idempotency_ttl = idempotency_ttl
        merged = {**DEFAULT_RATE_LIMITS, **(rate_limits or {})}
        self.rate_limits: dict[str, tuple[int, float]] = {
            k: v for k, v in merged.items() if v is not None
        }
        self.latency = latency
        self.clock = clock

        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._accounts: dict[str, FakeAccount] = {}  # by id, in creation order
        self._tokens: dict[str, _Token] = {}
        self._apps: dict[str, _App] = {}  # by client_id
        self._codes: dict[str, _Code] = {}
        self._statuses: dict[str, StoredStatus] = {}  # insertion order = creation order
        self._media: dict[str, StoredMedia] = {}
        self._idempotency: dict[tuple[str, str], tuple[str, float]] = {}
        self._windows: dict[tuple[str, str, int], int] = {}
        self._faults: list[_Fault] = []
        self._random: _RandomFaults | None = None
        self._requests: list[RecordedRequest] = []
        self._last_id = 0
        self._app_ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

        self._default_app = self._register_app("threadbot", None, (OOB_REDIRECT_URI,),
                                               DEFAULT_SCOPES, deterministic=True)
        for username in accounts if accounts is not None else ["threadbot_test"]:
            self.add_account(username)

    # ---------------------------------------------------------------- lifecycle

    @classmethod
    @contextmanager
    def running(cls, **kwargs: Any) -> Iterator[FakeMastodon]:
        """Start a server for the duration of a ``with`` block (pytest-independent)."""
        server = cls(**kwargs)
        server.start()
        try:
            yield server
        finally:
            server.stop()

    @classmethod
    @contextmanager
    def for_rehearsal(cls, limits: Any = None) -> Iterator[FakeMastodon]:
        """A server for ``threadbot rehearse``: no accounts yet, publishing and
        enforcing ``limits`` (``threadbot.platforms.Limits``) when given."""
        kwargs: dict[str, Any] = {"accounts": []}
        if limits is not None:
            kwargs.update(
                max_characters=limits.max_characters,
                characters_reserved_per_url=limits.characters_reserved_per_url or 23,
                max_media_attachments=limits.max_media,
                image_size_limit=limits.max_image_bytes,
                description_limit=limits.max_alt,
                supported_mime_types=tuple(limits.media_types),
            )
        with cls.running(**kwargs) as server:
            yield server

    def rehearsal_account(self, username: str) -> dict[str, str]:
        """Add an account; its secret keyed as threadbot's Mastodon accounts name it."""
        return {"access_token": self.add_account(username).access_token}

    def thread_chain(self, username: str) -> list[Any]:
        """The account's statuses, oldest first, as ``threadbot.testing.ChainPost``."""
        from . import ChainPost

        with self._lock:
            return [ChainPost(id=status.id, reply_to=status.in_reply_to_id,
                              alts=tuple(self._media[m].description if m in self._media
                                         else None for m in status.media_ids))
                    for status in self.posts(username)]

    def __enter__(self) -> FakeMastodon:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> FakeMastodon:
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
            name="fake-mastodon", daemon=True,
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
            raise RuntimeError("FakeMastodon is not running: call start() first")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, to pass as Mastodon.py's ``api_base_url``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def domain(self) -> str:
        """The instance's domain (``127.0.0.1:PORT`` unless given)."""
        return self._domain or f"127.0.0.1:{self.port}"

    # ---------------------------------------------------------------- accounts & apps

    def _register_app(self, name: str, website: str | None, redirect_uris: tuple[str, ...],
                      scopes: Sequence[str], deterministic: bool = False) -> _App:
        app_id = str(next(self._app_ids))
        if deterministic:
            client_id = "fake-client-" + hashlib.sha256(f"app:{name}".encode()).hexdigest()[:32]
            secret = "fake-secret-" + hashlib.sha256(f"secret:{name}".encode()).hexdigest()[:32]
        else:
            client_id, secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        app = _App(app_id, name, website, client_id, secret, redirect_uris, tuple(scopes))
        with self._lock:
            self._apps[client_id] = app
        return app

    def add_account(self, username: str, display_name: str | None = None) -> FakeAccount:
        """Register another user; returns it, with a fake access token for it."""
        if not re.fullmatch(r"[A-Za-z0-9_]+", username):
            raise ValueError(f"not a Mastodon username: {username!r}")
        with self._lock:
            if any(a.username.lower() == username.lower() for a in self._accounts.values()):
                raise ValueError(f"@{username} already exists")
            # Deterministic, obviously fake tokens: tests and rehearsals are reproducible.
            digest = hashlib.sha256(f"fake-mastodon:{username}".encode()).digest()
            token = base64.urlsafe_b64encode(digest).decode().rstrip("=")
            account = FakeAccount(
                id=self._next_id(),
                username=username,
                access_token=token,
                display_name=display_name or username.replace("_", " ").title(),
                created_at=datetime.fromtimestamp(self.clock(), UTC).replace(
                    hour=0, minute=0, second=0, microsecond=0),
            )
            self._accounts[account.id] = account
            self._tokens[token] = _Token(account.id, self._default_app.id,
                                         frozenset(DEFAULT_SCOPES), self.clock())
            return account

    @property
    def accounts(self) -> list[FakeAccount]:
        """Every registered account, in creation order."""
        with self._lock:
            return list(self._accounts.values())

    def account(self, username: str | None = None) -> FakeAccount:
        """The account called ``username`` (or with that id; default: the first one)."""
        with self._lock:
            for account in self._accounts.values():
                if username is None or username in (account.username, account.id):
                    return account
        raise KeyError(f"no fake account @{username}")

    def credentials(self, username: str | None = None) -> dict[str, str]:
        """``{"access_token", "api_base_url"}`` for ``username`` (the URL only while running)."""
        account = self.account(username)
        creds = {"access_token": account.access_token}
        if self._httpd is not None:
            creds["api_base_url"] = self.base_url
        return creds

    def authorization_code(
        self,
        username: str | None = None,
        *,
        client_id: str | None = None,
        redirect_uri: str = OOB_REDIRECT_URI,
        scopes: Sequence[str] | None = None,
    ) -> str:
        """An OAuth code as ``GET /oauth/authorize`` would show it, without the HTML.

        ``client_id`` defaults to the app registered last through ``POST /api/v1/apps``;
        ``scopes`` to all of that app's scopes.
        """
        account = self.account(username)
        with self._lock:
            apps = [a for a in self._apps.values() if a.id != self._default_app.id]
            app = self._apps.get(client_id) if client_id else (apps[-1] if apps else None)
            if app is None:
                raise KeyError("no such app: register one with POST /api/v1/apps first")
            if redirect_uri not in app.redirect_uris:
                raise ValueError(f"{redirect_uri!r} is not one of the app's redirect URIs")
            return self._new_code(app, account, redirect_uri, tuple(scopes or app.scopes), None)

    def _new_code(self, app: _App, account: FakeAccount, redirect_uri: str,
                  scopes: tuple[str, ...], challenge: str | None) -> str:
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = _Code(app.id, account.id, redirect_uri, scopes,
                                      self.clock() + _CODE_TTL, challenge)
        return code

    # ---------------------------------------------------------------- inspection

    def _account_id(self, user: str | None) -> str | None:
        return None if user is None else self.account(user).id

    def posts(self, user: str | None = None, *, include_deleted: bool = False
              ) -> list[StoredStatus]:
        """Stored statuses, oldest first; ``user`` is a username or account id."""
        account_id = self._account_id(user)
        with self._lock:
            return [
                s for s in self._statuses.values()
                if (account_id is None or s.account_id == account_id)
                and (include_deleted or not s.deleted)
            ]

    def post(self, status_id: str) -> StoredStatus:
        """One stored status by id (deleted ones too)."""
        with self._lock:
            return self._statuses[status_id]

    def chain(self, status_id: str) -> list[StoredStatus]:
        """The reply chain ending at ``status_id``, root first (deleted links included)."""
        out: list[StoredStatus] = []
        with self._lock:
            current: str | None = status_id
            while current is not None and current in self._statuses and len(out) < _MAX_DEPTH:
                out.append(self._statuses[current])
                current = self._statuses[current].in_reply_to_id
        return out[::-1]

    def media(self, media_id: str | None = None, *, user: str | None = None
              ) -> list[StoredMedia]:
        """Uploaded media (optionally one id, or one user's), in upload order (copies)."""
        account_id = self._account_id(user)
        with self._lock:
            return [
                replace(m) for m in self._media.values()
                if (media_id is None or m.id == media_id)
                and (account_id is None or m.account_id == account_id)
            ]

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget statuses, media, requests, rate-limit counters, idempotency keys and
        faults (keeps accounts, apps and tokens)."""
        with self._lock:
            self._statuses.clear()
            self._media.clear()
            self._idempotency.clear()
            self._windows.clear()
            self._faults.clear()
            self._random = None
            self._requests.clear()

    # ---------------------------------------------------------------- fault injection

    def fail_next(
        self, n: int = 1, *, status: int = 503, method: str | None = None,
        path: str | None = None, count: int | None = None,
    ) -> None:
        """Answer the next ``n`` (or ``count``) matching requests with ``status``, unprocessed.

        ``path`` is matched with shell-style wildcards (``"/api/v1/statuses*"``). The
        body is ``{"error": REASON}``; a 429 also carries rate-limit headers.
        """
        self._add_fault(_Fault("error", count or n, method, path, status=status))

    def rate_limit_next(
        self, n: int = 1, *, method: str | None = None, path: str | None = None,
        reset_in: float | None = None,
    ) -> None:
        """Answer the next ``n`` matching requests 429 ``{"error": "Too many requests"}``.

        The headers say ``X-RateLimit-Remaining: 0`` and a reset ``reset_in`` seconds
        from now (default: the end of the current 5-minute window).
        """
        self._add_fault(_Fault("ratelimit", n, method, path, status=429, reset_in=reset_in))

    def delay_next(
        self, seconds: float, n: int = 1, *, method: str | None = None, path: str | None = None
    ) -> None:
        """Process the next ``n`` matching requests, then wait ``seconds`` before answering.

        The work is done first (a status is stored) so a client timing out sees
        exactly the "did it go through?" situation of a slow instance.
        """
        self._add_fault(_Fault("delay", n, method, path, seconds=seconds))

    def drop_next(
        self, n: int = 1, *, after_store: bool = True, method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Close the connection without answering the next ``n`` matching requests.

        With ``after_store`` (the default) the request is processed first, so a
        status or upload is stored although the client never hears back;
        otherwise it is dropped unprocessed.
        """
        self._add_fault(_Fault("drop_after_store" if after_store else "drop", n, method, path))

    def random_faults(
        self,
        rate: float,
        *,
        seed: int = 0,
        kinds: Sequence[str] = ("5xx", "drop", "drop_after_store", "delay"),
        method: str | None = None,
        path: str | None = None,
        delay: float = 1.0,
    ) -> None:
        """Inject a fault into a ``rate`` fraction of matching write requests, reproducibly.

        Matching means ``POST``/``PUT``/``PATCH``/``DELETE`` (or exactly ``method``; ``"*"``
        for every request, reads included)
        and ``path`` (wildcards). ``kinds`` are drawn uniformly: ``"5xx"`` (500,
        502, 503 or 504), a status as a string (``"503"``, ``"429"``), ``"delay"``
        (``delay`` seconds), ``"drop"`` or ``"drop_after_store"``. With one client
        making requests in order, the same seed gives the same faults.
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        for kind in kinds:
            if not (kind.isdigit() or kind in ("5xx", "delay", "drop", "drop_after_store")):
                raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            self._random = _RandomFaults(rate, random.Random(seed), tuple(kinds), method, path,
                                         delay)

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
            if rnd is None:
                return None
            method_ok = (rnd.method in ("*", method)) if rnd.method else method in _WRITE_METHODS
            if method_ok and (rnd.path is None or fnmatch.fnmatchcase(path, rnd.path)):
                if rnd.rng.random() < rnd.rate:
                    kind = rnd.rng.choice(rnd.kinds)
                    if kind == "5xx":
                        return _Fault("error", 1, None, None,
                                      status=rnd.rng.choice((500, 502, 503, 504)))
                    if kind == "429":
                        return _Fault("ratelimit", 1, None, None, status=429)
                    if kind.isdigit():
                        return _Fault("error", 1, None, None, status=int(kind))
                    return _Fault(kind, 1, None, None, seconds=rnd.seconds)
        return None

    # ---------------------------------------------------------------- request handling

    def _handle(self, handler: _Handler, method: str) -> None:
        """Serve one request: latency, faults, auth, rate limits, route, reply."""
        split = urlsplit(handler.path)
        path = split.path.rstrip("/") or "/"
        query: dict[str, list[str]] = {}
        for key, value in parse_qsl(split.query, keep_blank_values=True):
            query.setdefault(key, []).append(value)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        content_type = handler.headers.get("Content-Type", "")
        request = SimpleNamespace(
            method=method, path=path, query=query, body=body, content_type=content_type,
            headers=handler.headers, account=None, token=None, token_given=False, limits=[],
            params=None, parse_error=None,
        )
        try:
            request.params = self._parse_params(query, body, content_type)
        except _ApiError as err:
            request.params = _Params({k: list(v) for k, v in query.items()}, {})
            request.parse_error = err

        self._resolve_token(request)
        if self.latency:
            self._stopping.wait(self.latency)

        fault = self._take_fault(method, path)
        reply: _Reply | None = None
        if fault is not None and fault.kind in ("error", "ratelimit"):
            reply = self._fault_reply(fault)
        elif fault is not None and fault.kind == "drop":
            pass
        else:
            try:
                reply = self._serve(request)
            except _ApiError as err:
                reply = _Reply(err.status, err.body, dict(err.headers))
            except Exception:  # a bug in the fake: answer 500 and show it, like a real server
                traceback.print_exc()
                reply = _Reply(500, {"error": "We're sorry, but something went wrong"})
            if request.limits and "X-RateLimit-Limit" not in reply.headers:
                reply.headers.update(self._limit_headers(request.limits))

        dropped = fault is not None and fault.kind in ("drop", "drop_after_store")
        # Recorded before any delay so the log keeps arrival order.
        self._record(request, None if dropped or reply is None else reply.status, fault)
        if fault is not None and fault.kind == "delay":
            self._stopping.wait(fault.seconds)
        if dropped or reply is None:
            handler.drop()
        else:
            handler.send(reply)

    def _fault_reply(self, fault: _Fault) -> _Reply:
        if fault.status != 429:
            return _Reply(fault.status, {"error": _REASONS.get(fault.status, "Error")})
        now = self.clock()
        limit, period = self.rate_limits.get("api", DEFAULT_RATE_LIMITS["api"])
        reset = now + fault.reset_in if fault.reset_in is not None else self._window_end(
            now, period)
        return _Reply(429, {"error": _TOO_MANY}, {
            "X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": _iso(reset, 6),
        })

    def _parse_params(self, query: dict[str, list[str]], body: bytes, content_type: str
                      ) -> _Params:
        values: dict[str, list[Any]] = {k: list(v) for k, v in query.items()}
        files: dict[str, _Part] = {}
        ctype = content_type.lower()
        if not body:
            return _Params(values, files)
        if ctype.startswith("multipart/form-data"):
            for part in _parse_multipart(content_type, body):
                if part.filename is not None:
                    files[part.name] = part
                else:
                    text = part.data.decode("utf-8", "replace")
                    values.setdefault(part.name, []).append(text)
        elif ctype.startswith("application/json"):
            try:
                parsed = json.loads(body)
            except ValueError:
                raise _ApiError(400, "Error occurred while parsing request parameters.") from None
            if isinstance(parsed, dict):
                for key, value in parsed.items():
                    values[key] = [value]
        else:  # Rails reads form-encoded bodies whatever the header says
            body_values: dict[str, list[Any]] = {}
            for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
                body_values.setdefault(key, []).append(value)
            values.update(body_values)
        return _Params(values, files)

    def _record(self, request: SimpleNamespace, status: int | None, fault: _Fault | None
                ) -> None:
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            if name.lower() == "authorization":
                scheme = value.split(" ", 1)[0] if value else ""
                headers[name] = f"{scheme} [redacted]".strip()
            else:
                headers[name] = value
        query = {k: (["[redacted]"] if k in _SECRET_FIELDS else list(v))
                 for k, v in request.query.items()}
        with self._lock:
            self._requests.append(RecordedRequest(
                request.method, request.path, query, request.params.redacted(), headers,
                status, request.account.id if request.account else None,
                fault.name if fault else None, self.clock(),
            ))

    # Routes: (method, pattern, handler, auth, scopes). ``auth``: "public" (tokens are
    # ignored), "optional" (a bad token is 401), "token" (any valid token), "user".
    _ROUTES: list[tuple[str, re.Pattern[str], str, str, tuple[str, ...]]] = [
        ("GET", re.compile(r"/api/v1/instance"), "_instance_v1", "public", ()),
        ("GET", re.compile(r"/api/v2/instance"), "_instance_v2", "public", ()),
        ("GET", re.compile(r"/\.well-known/oauth-authorization-server"), "_oauth_metadata",
         "public", ()),
        ("POST", re.compile(r"/api/v1/apps"), "_create_app", "public", ()),
        ("GET", re.compile(r"/oauth/authorize"), "_authorize", "public", ()),
        ("POST", re.compile(r"/oauth/token"), "_token_grant", "public", ()),
        ("POST", re.compile(r"/oauth/revoke"), "_revoke", "public", ()),
        ("GET", re.compile(r"/api/v1/apps/verify_credentials"), "_app_credentials", "token", ()),
        ("GET", re.compile(r"/api/v1/accounts/verify_credentials"), "_verify_credentials",
         "user", ("read", "read:accounts", "profile")),
        ("GET", re.compile(r"/api/v1/accounts/lookup"), "_lookup_account", "optional",
         ("read", "read:accounts")),
        ("GET", re.compile(r"/api/v1/accounts/(\d+)/statuses"), "_account_statuses",
         "optional", ("read", "read:statuses")),
        ("GET", re.compile(r"/api/v1/accounts/(\d+)"), "_get_account", "optional",
         ("read", "read:accounts")),
        ("POST", re.compile(r"/api/v1/statuses"), "_create_status", "user",
         ("write", "write:statuses")),
        ("GET", re.compile(r"/api/v1/statuses/(\d+)"), "_get_status", "optional",
         ("read", "read:statuses")),
        ("GET", re.compile(r"/api/v1/statuses/(\d+)/context"), "_status_context", "optional",
         ("read", "read:statuses")),
        ("DELETE", re.compile(r"/api/v1/statuses/(\d+)"), "_delete_status", "user",
         ("write", "write:statuses")),
        ("POST", re.compile(r"/api/v2/media"), "_upload_v2", "user", ("write", "write:media")),
        ("POST", re.compile(r"/api/v1/media"), "_upload_v1", "user", ("write", "write:media")),
        ("GET", re.compile(r"/api/v1/media/(\d+)"), "_get_media", "user",
         ("write", "write:media")),
        ("PUT", re.compile(r"/api/v1/media/(\d+)"), "_update_media", "user",
         ("write", "write:media")),
    ]

    def _resolve_token(self, request: SimpleNamespace) -> None:
        """Set ``token_given``, ``token`` (valid ones only) and ``account`` on the request."""
        header = request.headers.get("Authorization", "")
        value = header[7:].strip() if header[:7].lower() == "bearer " else ""
        with self._lock:
            token = self._tokens.get(value) if value else None
            if token is not None and token.revoked:
                token = None
            account = self._accounts.get(token.account_id) if token and token.account_id else None
        request.token_given, request.token, request.account = bool(value), token, account

    def _serve(self, request: SimpleNamespace) -> _Reply:
        token, account = request.token, request.account
        if account is not None:
            self._throttle(request)

        route = None
        for method, pattern, name, auth, scopes in self._ROUTES:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                route = (name, auth, scopes, match.groups())
                break
        if route is None:
            raise _ApiError(404, "Not Found")
        name, auth, scopes, args = route
        if auth != "public":
            if request.token_given and token is None:
                raise _ApiError(401, _TOKEN_INVALID)
            if auth in ("user", "token") and token is None:
                raise _ApiError(401, _TOKEN_INVALID)
            if auth == "user" and account is None:
                raise _ApiError(422, _NEEDS_USER)
            if scopes and token is not None and not _has_scope(token.scopes, scopes):
                raise _ApiError(403, _OUT_OF_SCOPE)
        if request.parse_error is not None:
            raise request.parse_error
        handler: Callable[..., _Reply] = getattr(self, name)
        return handler(request, *args)

    # ---------------------------------------------------------------- rate limits

    @staticmethod
    def _window_end(now: float, period: float) -> float:
        """Rack::Attack's reset: ``now + (period - now.to_i % period)``."""
        return now + (period - int(now) % int(period))

    def _throttle(self, request: SimpleNamespace) -> None:
        """Count the request in each matching bucket, Rack::Attack style; 429 when over."""
        path, method = request.path, request.method
        buckets: list[str] = []
        if path.startswith("/api"):
            buckets.append("api")
        if method == "POST" and re.fullmatch(r"/api/v\d+/media", path):
            buckets.append("media")
        if any(request.params.get(k) for k in ("max_id", "min_id", "since_id", "page")):
            buckets.append("paging")
        if (method == "DELETE" and re.fullmatch(r"/api/v1/statuses/\d+", path)) or (
            method == "POST" and re.fullmatch(r"/api/v1/statuses/\d+/unreblog", path)
        ):
            buckets.append("delete")
        now = self.clock()
        for bucket in buckets:
            if bucket not in self.rate_limits:
                continue
            limit, period = self.rate_limits[bucket]
            key = (request.account.id, bucket, int(now // period))
            with self._lock:
                self._windows[key] = count = self._windows.get(key, 0) + 1
            if count > limit:
                request.limits = []
                raise _ApiError(429, _TOO_MANY, headers={
                    "X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": _iso(self._window_end(now, period), 6),
                })
            request.limits.append((limit, count, period))

    def _record_status_limit(self, request: SimpleNamespace) -> None:
        """Mastodon's ``RateLimiter`` for the ``statuses`` family: 429 when the account
        created ``limit`` statuses this window, else count this one."""
        if "statuses" not in self.rate_limits:
            return
        limit, period = self.rate_limits["statuses"]
        now = self.clock()
        key = (request.account.id, "statuses", int(now // period))
        with self._lock:
            count = self._windows.get(key, 0)
            if count >= limit:
                raise _ApiError(429, _TOO_MANY, headers=self._limit_headers(
                    [(limit, limit, period)]))
            self._windows[key] = count = count + 1
        request.limits.append((limit, count, period))

    def _limit_headers(self, limits: list[tuple[int, int, float]]) -> dict[str, str]:
        """The most limited bucket's headers (fewest remaining; a later one on ties)."""
        limit, count, period = min(reversed(limits), key=lambda item: item[0] - item[1])
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - count)),
            "X-RateLimit-Reset": _iso(self._window_end(self.clock(), period), 6),
        }

    # ---------------------------------------------------------------- ids

    def _next_id(self) -> str:
        """A Mastodon snowflake: milliseconds << 16, strictly increasing, as a string."""
        with self._lock:
            candidate = int(self.clock() * 1000) << 16
            self._last_id = max(candidate, self._last_id + 1)
            return str(self._last_id)

    # ---------------------------------------------------------------- instance & OAuth

    def _statuses_config(self) -> dict[str, int]:
        return {
            "max_characters": self.max_characters,
            "max_media_attachments": self.max_media_attachments,
            "characters_reserved_per_url": self.characters_reserved_per_url,
        }

    def _media_config(self, v2: bool) -> dict[str, Any]:
        config: dict[str, Any] = {
            "supported_mime_types": list(self.supported_mime_types),
            "image_size_limit": self.image_size_limit,
            "image_matrix_limit": self.image_matrix_limit,
            "video_size_limit": self.video_size_limit,
            "video_frame_rate_limit": 120,
            "video_matrix_limit": 8_294_400,
        }
        if v2:
            config["description_limit"] = self.description_limit
        return config

    _POLLS = {"max_options": 4, "max_characters_per_option": 50, "min_expiration": 300,
              "max_expiration": 2_629_746}

    def _instance_v1(self, request: SimpleNamespace) -> _Reply:
        with self._lock:
            users = len(self._accounts)
            statuses = sum(not s.deleted for s in self._statuses.values())
        return _Reply(200, {
            "uri": self.domain, "title": self.title,
            "short_description": "A fake Mastodon server for tests and rehearsals.",
            "description": "A fake Mastodon server for tests and rehearsals.",
            "email": "", "version": self.version,
            "urls": {"streaming_api": f"ws://127.0.0.1:{self.port}"},
            "stats": {"user_count": users, "status_count": statuses, "domain_count": 0},
            "thumbnail": None, "languages": ["en"], "registrations": False,
            "approval_required": False, "invites_enabled": False,
            "configuration": {
                "accounts": {"max_featured_tags": 10},
                "statuses": self._statuses_config(),
                "media_attachments": self._media_config(v2=False),
                "polls": dict(self._POLLS),
            },
            "contact_account": None, "rules": [],
        })

    def _instance_v2(self, request: SimpleNamespace) -> _Reply:
        with self._lock:
            users = len(self._accounts)
        return _Reply(200, {
            "domain": self.domain, "title": self.title, "version": self.version,
            "source_url": "https://github.com/mastodon/mastodon",
            "description": "A fake Mastodon server for tests and rehearsals.",
            "usage": {"users": {"active_month": users}},
            "thumbnail": {"url": f"{self.base_url}/packs/media/images/preview.png"},
            "icon": [], "languages": ["en"],
            "configuration": {
                "urls": {"streaming": f"ws://127.0.0.1:{self.port}", "status": None,
                         "about": f"{self.base_url}/about",
                         "privacy_policy": f"{self.base_url}/privacy-policy",
                         "terms_of_service": None},
                "vapid": {"public_key": ""},
                "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
                "statuses": self._statuses_config(),
                "media_attachments": self._media_config(v2=True),
                "polls": dict(self._POLLS),
                "translation": {"enabled": False},
                "limited_federation": False,
            },
            "registrations": {"enabled": False, "approval_required": False,
                              "reason_required": False, "message": None, "min_age": None,
                              "url": None},
            "api_versions": {"mastodon": self.api_version},
            "contact": {"email": "", "account": None},
            "rules": [],
        })

    def _oauth_metadata(self, request: SimpleNamespace) -> _Reply:
        base = self.base_url
        return _Reply(200, {
            "issuer": f"{base}/", "service_documentation": "https://docs.joinmastodon.org/",
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "app_registration_endpoint": f"{base}/api/v1/apps",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "scopes_supported": ["read", "write", "follow", "push", "profile",
                                 "read:accounts", "read:statuses", "write:media",
                                 "write:statuses"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                      "client_secret_post"],
        })

    @staticmethod
    def _app_json(app: _App, with_secret: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": app.id, "name": app.name, "website": app.website,
            "scopes": list(app.scopes), "redirect_uri": "\n".join(app.redirect_uris),
            "redirect_uris": list(app.redirect_uris), "vapid_key": "",
        }
        if with_secret:
            data.update(client_id=app.client_id, client_secret=app.client_secret,
                        client_secret_expires_at=0)
        return data

    def _create_app(self, request: SimpleNamespace) -> _Reply:
        params: _Params = request.params
        name = (params.get("client_name") or "").strip()
        if not name:
            raise _invalid("Validation failed: Application name can't be blank")
        raw_uris = params.get_list("redirect_uris") or []
        uris = tuple(u.strip() for raw in raw_uris for u in raw.splitlines() if u.strip())
        if not uris:
            raise _invalid("Validation failed: Redirect URI can't be blank")
        for uri in uris:
            if uri != OOB_REDIRECT_URI and not re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", uri):
                raise _invalid("Validation failed: Redirect URI must be an absolute URI.")
        scopes = tuple((params.get("scopes") or "read").split())
        app = self._register_app(name, params.get("website"), uris, scopes)
        return _Reply(200, self._app_json(app, with_secret=True))

    def _app_credentials(self, request: SimpleNamespace) -> _Reply:
        with self._lock:
            app = next(a for a in self._apps.values() if a.id == request.token.app_id)
        return _Reply(200, self._app_json(app, with_secret=False))

    def _authorize(self, request: SimpleNamespace) -> _Reply:
        """Auto-approves for ``?username=`` or the first account."""
        q: _Params = request.params
        with self._lock:
            app = self._apps.get(q.get("client_id") or "")
        if app is None:
            raise _ApiError(401, "invalid_client", _INVALID_CLIENT)
        redirect_uri = q.get("redirect_uri") or ""
        if redirect_uri not in app.redirect_uris:
            raise _ApiError(400, "invalid_redirect_uri", _BAD_REDIRECT)
        if q.get("response_type") != "code":
            raise _ApiError(400, "unsupported_response_type",
                            "The authorization server does not support this response type.")
        scopes = tuple((q.get("scope") or "read").split())
        if not set(scopes) <= set(app.scopes):
            raise _ApiError(400, "invalid_scope", _INVALID_SCOPE)
        challenge = q.get("code_challenge")
        if challenge and (q.get("code_challenge_method") or "plain") != "S256":
            raise _ApiError(400, "invalid_request",
                            "Code challenge method must be S256.")
        try:
            account = self.account(q.get("username"))
        except KeyError:
            raise _not_found() from None
        code = self._new_code(app, account, redirect_uri, scopes, challenge)
        state = q.get("state")
        if redirect_uri == OOB_REDIRECT_URI:
            page = (
                "<!DOCTYPE html>\n<html><head><title>Authorization code</title></head><body>"
                "<h1>Copy this authorization code and paste it to the application.</h1>"
                f'<p>Authorized <b>{_escape(app.name)}</b> for '
                f"<b>@{_escape(account.username)}</b>.</p>"
                f'<input class="oauth-code" readonly type="text" value="{_escape(code)}">'
                "</body></html>\n"
            )
            return _Reply(200, page, content_type="text/html; charset=utf-8")
        extra = {"code": code, **({"state": state} if state else {})}
        joiner = "&" if "?" in redirect_uri else "?"
        return _Reply(302, "", {"Location": redirect_uri + joiner + urlencode(extra)},
                      content_type="text/html; charset=utf-8")

    def _client(self, request: SimpleNamespace) -> _App:
        params: _Params = request.params
        client_id, secret = params.get("client_id"), params.get("client_secret")
        header = request.headers.get("Authorization", "")
        if header[:6].lower() == "basic ":
            try:
                client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                client_id = None
        with self._lock:
            app = self._apps.get(client_id or "")
        if app is None or not secrets.compare_digest(app.client_secret, secret or ""):
            raise _ApiError(401, "invalid_client", _INVALID_CLIENT)
        return app

    def _token_grant(self, request: SimpleNamespace) -> _Reply:
        params: _Params = request.params
        grant = params.get("grant_type")
        app = self._client(request)
        now = self.clock()
        if grant == "authorization_code":
            with self._lock:
                code = self._codes.get(params.get("code") or "")
                if (
                    code is None or code.used or code.app_id != app.id or code.expires_at < now
                    or code.redirect_uri != (params.get("redirect_uri") or "")
                ):
                    raise _ApiError(400, "invalid_grant", _INVALID_GRANT)
                if code.challenge is not None:
                    verifier = (params.get("code_verifier") or "").encode()
                    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest())
                    if digest.decode().rstrip("=") != code.challenge:
                        raise _ApiError(400, "invalid_grant", _INVALID_GRANT)
                code.used = True
                account_id: str | None = code.account_id
                scopes = code.scopes
        elif grant == "client_credentials":
            account_id = None
            scopes = tuple((params.get("scope") or "read").split())
            if not set(scopes) <= set(app.scopes):
                raise _ApiError(400, "invalid_scope", _INVALID_SCOPE)
        else:
            raise _ApiError(400, "unsupported_grant_type",
                            "The authorization grant type is not supported by the "
                            "authorization server.")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = _Token(account_id, app.id, _expand_scopes(scopes), now)
        return _Reply(200, {"access_token": token, "token_type": "Bearer",
                            "scope": " ".join(scopes), "created_at": int(now)})

    def _revoke(self, request: SimpleNamespace) -> _Reply:
        app = self._client(request)
        with self._lock:
            token = self._tokens.get(request.params.get("token") or "")
            if token is not None:
                if token.app_id != app.id:
                    raise _ApiError(403, "unauthorized_client",
                                    "You are not authorized to revoke this token")
                token.revoked = True
        return _Reply(200, {})

    # ---------------------------------------------------------------- accounts

    def _account_json(self, account: FakeAccount) -> dict[str, Any]:
        with self._lock:
            mine = [s for s in self._statuses.values()
                    if s.account_id == account.id and not s.deleted]
        base = self.base_url
        last = mine[-1].created_at.strftime("%Y-%m-%d") if mine else None
        return {
            "id": account.id, "username": account.username, "acct": account.username,
            "display_name": account.display_name, "locked": False, "bot": False,
            "discoverable": True, "indexable": False, "group": False,
            "created_at": _iso(account.created_at.timestamp()),
            "note": "", "url": f"{base}/@{account.username}",
            "uri": f"{base}/users/{account.username}",
            "avatar": f"{base}/avatars/original/missing.png",
            "avatar_static": f"{base}/avatars/original/missing.png",
            "header": f"{base}/headers/original/missing.png",
            "header_static": f"{base}/headers/original/missing.png",
            "followers_count": 0, "following_count": 0, "statuses_count": len(mine),
            "last_status_at": last, "hide_collections": False, "noindex": False,
            "emojis": [], "roles": [], "fields": [],
        }

    def _verify_credentials(self, request: SimpleNamespace) -> _Reply:
        data = self._account_json(request.account)
        data["source"] = {
            "privacy": "public", "sensitive": False, "language": "", "note": "",
            "fields": [], "follow_requests_count": 0, "hide_collections": False,
            "discoverable": True, "indexable": False, "attribution_domains": [],
        }
        data["role"] = {"id": "-99", "name": "", "permissions": "0", "color": "",
                        "highlighted": False}
        return _Reply(200, data)

    def _find_account(self, account_id: str) -> FakeAccount:
        with self._lock:
            account = self._accounts.get(account_id)
        if account is None:
            raise _not_found()
        return account

    def _get_account(self, request: SimpleNamespace, account_id: str) -> _Reply:
        return _Reply(200, self._account_json(self._find_account(account_id)))

    def _lookup_account(self, request: SimpleNamespace) -> _Reply:
        acct = (request.params.get("acct") or "").removeprefix("@")
        username, _, domain = acct.partition("@")
        if domain and domain != self.domain:
            raise _not_found()
        with self._lock:
            for account in self._accounts.values():
                if account.username.lower() == username.lower():
                    return _Reply(200, self._account_json(account))
        raise _not_found()

    # ---------------------------------------------------------------- statuses

    def _visible(self, status: StoredStatus | None, viewer: FakeAccount | None) -> bool:
        if status is None or status.deleted:
            return False
        if status.visibility in ("public", "unlisted"):
            return True
        return viewer is not None and viewer.id == status.account_id

    def _media_json(self, item: StoredMedia) -> dict[str, Any]:
        base = self.base_url
        digits = f"{int(item.id):018d}"
        folder = "/".join(digits[i:i + 3] for i in range(0, 18, 3))
        ext = _EXTENSIONS.get(item.media_type, "bin")
        meta: dict[str, Any] = {}
        if item.width and item.height:
            size = {"width": item.width, "height": item.height,
                    "size": f"{item.width}x{item.height}", "aspect": item.width / item.height}
            meta = {"original": dict(size), "small": dict(size)}
        if item.focus is not None:
            meta["focus"] = {"x": item.focus[0], "y": item.focus[1]}
        files = f"{base}/system/media_attachments/files/{folder}"
        return {
            "id": item.id, "type": "image",
            "url": f"{files}/original/{item.shortcode}.{ext}" if item.processed else None,
            "preview_url": f"{files}/small/{item.shortcode}.{ext}",
            "remote_url": None, "preview_remote_url": None, "text_url": None,
            "meta": meta, "description": item.description, "blurhash": None,
        }

    def _status_json(self, status: StoredStatus, viewer: FakeAccount | None,
                     source: bool = False) -> dict[str, Any]:
        with self._lock:
            account = self._accounts[status.account_id]
            replies = sum(1 for s in self._statuses.values()
                          if s.in_reply_to_id == status.id and not s.deleted)
            media = [self._media[m] for m in status.media_ids if m in self._media]
        base = self.base_url
        data: dict[str, Any] = {
            "id": status.id, "created_at": _iso(status.created_at.timestamp()),
            "in_reply_to_id": status.in_reply_to_id,
            "in_reply_to_account_id": status.in_reply_to_account_id,
            "sensitive": status.sensitive, "spoiler_text": status.spoiler_text,
            "visibility": status.visibility, "language": status.language,
            "uri": f"{base}/users/{account.username}/statuses/{status.id}",
            "url": f"{base}/@{account.username}/{status.id}",
            "replies_count": replies, "reblogs_count": 0, "favourites_count": 0,
            "edited_at": None,
        }
        if viewer is not None:
            data.update(favourited=False, reblogged=False, muted=False, bookmarked=False)
            if viewer.id == status.account_id:
                data["pinned"] = False
        if source:
            data["text"] = status.text
        else:
            data["content"] = _content_html(status.text)
        data.update({
            "filtered": [], "reblog": None,
            "application": {"name": status.application, "website": None}
            if status.application else None,
            "account": self._account_json(account),
            "media_attachments": [self._media_json(m) for m in media],
            "mentions": [], "tags": [], "emojis": [], "card": None, "poll": None,
        })
        return data

    def _length(self, text: str, spoiler: str) -> int:
        """Mastodon's ``StatusLengthValidator``: CW + text, URLs and remote mentions short."""
        from threadbot.counting._graphemes import graphemes, mastodon_entities

        parts: list[str] = []
        pos = 0
        for start, end, replacement in mastodon_entities(text):
            parts.append(text[pos:start])
            parts.append(replacement if replacement.startswith("@")
                         else "x" * self.characters_reserved_per_url)
            pos = end
        parts.append(text[pos:])
        return graphemes(spoiler + "".join(parts))

    def _create_status(self, request: SimpleNamespace) -> _Reply:
        params: _Params = request.params
        account: FakeAccount = request.account
        if params.get("scheduled_at"):
            raise _invalid("Validation failed: Scheduled posts are not supported by this fake")
        reply_to = params.get("in_reply_to_id") or None
        with self._lock:
            parent = self._statuses.get(reply_to) if reply_to else None
            if reply_to is not None and not self._visible(parent, account):
                raise _ApiError(404, _REPLY_NOT_FOUND)

        key = request.headers.get("Idempotency-Key") or None
        now = self.clock()
        if key is not None and self.idempotency:
            with self._lock:
                seen = self._idempotency.get((account.id, key))
                if seen is not None and seen[1] > now - self.idempotency_ttl:
                    existing = self._statuses.get(seen[0])
                    if existing is None or existing.deleted:
                        raise _not_found()
                    return _Reply(200, self._status_json(existing, account))

        text = _ruby_strip(params.get("status") or "")
        spoiler = _ruby_strip(params.get("spoiler_text") or "")
        media_ids = [m for m in params.get_list("media_ids") or [] if m]
        visibility = (params.get("visibility") or "public").lower()
        if visibility not in VISIBILITIES:
            raise _invalid("Validation failed: Visibility is not included in the list")
        language = params.get("language") or None
        if language is None or not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]+)?", language):
            language = "en"

        with self._lock:
            if len(media_ids) > self.max_media_attachments:
                raise _invalid(f"Cannot attach more than {self.max_media_attachments} files")
            attached: list[StoredMedia] = []
            missing: list[str] = []
            for media_id in dict.fromkeys(media_ids):
                item = self._media.get(media_id)
                if item is None or item.account_id != account.id or item.status_id is not None:
                    missing.append(media_id)
                else:
                    attached.append(item)
            if missing:
                raise _invalid(f"Media {', '.join(missing)} not found or already attached "
                               "to another post")
            if any(not item.processed for item in attached):
                raise _invalid("Cannot attach files that have not finished processing. "
                               "Try again in a moment!")
            if not text and not attached:
                raise _invalid("Validation failed: Text can't be blank")
            if self._length(text, spoiler) > self.max_characters:
                raise _invalid(
                    f"Validation failed: Text character limit of {self.max_characters} exceeded"
                )
            self._record_status_limit(request)
            app = next((a.name for a in self._apps.values() if a.id == request.token.app_id),
                       None)
            status = StoredStatus(
                id=self._next_id(), account_id=account.id, text=text,
                in_reply_to_id=parent.id if parent else None,
                in_reply_to_account_id=parent.account_id if parent else None,
                visibility=visibility, spoiler_text=spoiler, language=language,
                sensitive=params.flag("sensitive") or bool(spoiler),
                media_ids=tuple(item.id for item in attached),
                idempotency_key=key, created_at=datetime.fromtimestamp(now, UTC),
                application=app,
            )
            self._statuses[status.id] = status
            for item in attached:
                item.status_id = status.id
            if key is not None and self.idempotency:
                self._idempotency[(account.id, key)] = (status.id, now)
        return _Reply(200, self._status_json(status, account))

    def _get_status(self, request: SimpleNamespace, status_id: str) -> _Reply:
        with self._lock:
            status = self._statuses.get(status_id)
        if status is None or not self._visible(status, request.account):
            raise _not_found()
        return _Reply(200, self._status_json(status, request.account))

    def _status_context(self, request: SimpleNamespace, status_id: str) -> _Reply:
        viewer = request.account
        with self._lock:
            status = self._statuses.get(status_id)
            if status is None or not self._visible(status, viewer):
                raise _not_found()
            ancestors: list[StoredStatus] = []
            parent_id = status.in_reply_to_id
            while parent_id and len(ancestors) < _MAX_DEPTH:
                parent = self._statuses.get(parent_id)
                if parent is None:
                    break
                if self._visible(parent, viewer):
                    ancestors.append(parent)
                parent_id = parent.in_reply_to_id
            descendants: list[StoredStatus] = []
            stack = [status.id]
            while stack and len(descendants) < _MAX_DEPTH:
                current = stack.pop()
                children = [s for s in self._statuses.values() if s.in_reply_to_id == current]
                for child in reversed(children):
                    stack.append(child.id)
                if current != status.id:
                    found = self._statuses[current]
                    if self._visible(found, viewer):
                        descendants.append(found)
        return _Reply(200, {
            "ancestors": [self._status_json(s, viewer) for s in reversed(ancestors)],
            "descendants": [self._status_json(s, viewer) for s in descendants],
        })

    def _delete_status(self, request: SimpleNamespace, status_id: str) -> _Reply:
        account: FakeAccount = request.account
        with self._lock:
            status = self._statuses.get(status_id)
            if status is None or status.deleted or status.account_id != account.id:
                raise _not_found()
            body = self._status_json(status, account, source=True)
            self._statuses[status_id] = replace(status, deleted=True)
            for media_id in status.media_ids:
                item = self._media.get(media_id)
                if item is None:
                    continue
                if request.params.flag("delete_media"):
                    del self._media[media_id]
                else:  # kept unattached for a day, to redraft with
                    item.status_id = None
        return _Reply(200, body)

    def _account_statuses(self, request: SimpleNamespace, account_id: str) -> _Reply:
        """Newest first, ``limit`` (20, at most 40), ``max_id``/``since_id``/``min_id``."""
        params: _Params = request.params
        account = self._find_account(account_id)
        viewer = request.account
        raw_limit = params.get("limit")
        limit = 20 if raw_limit is None else min(abs(_ruby_to_i(raw_limit)), 40)
        with self._lock:
            statuses = [s for s in self._statuses.values()
                        if s.account_id == account.id and self._visible(s, viewer)]
        if params.flag("pinned"):
            statuses = []
        if params.flag("only_media"):
            statuses = [s for s in statuses if s.media_ids]
        if params.flag("exclude_replies"):
            # Status.without_replies keeps self-replies: a thread stays in.
            statuses = [s for s in statuses
                        if s.in_reply_to_id is None or s.in_reply_to_account_id == s.account_id]
        if params.flag("exclude_direct"):
            statuses = [s for s in statuses if s.visibility != "direct"]
        tagged = params.get("tagged")
        if tagged:
            pattern = re.compile(rf"(?<![\w/])#{re.escape(tagged)}\b", re.IGNORECASE)
            statuses = [s for s in statuses if pattern.search(s.text)]

        def as_int(name: str) -> int | None:
            value = params.get(name)
            return _ruby_to_i(value) if value else None

        max_id, since_id, min_id = as_int("max_id"), as_int("since_id"), as_int("min_id")
        statuses.sort(key=lambda s: int(s.id), reverse=True)
        if max_id is not None:
            statuses = [s for s in statuses if int(s.id) < max_id]
        if since_id is not None:
            statuses = [s for s in statuses if int(s.id) > since_id]
        if min_id is not None:
            # The statuses just after min_id, still answered newest first.
            statuses = [s for s in statuses if int(s.id) > min_id][-limit:] if limit else []
        page = statuses[:limit]

        headers: dict[str, str] = {}
        links: list[str] = []
        kept = {k: params.get(k) for k in ("exclude_direct", "exclude_reblogs",
                                           "exclude_replies", "limit", "only_media",
                                           "pinned", "tagged") if params.get(k) is not None}
        url = f"{self.base_url}/api/v1/accounts/{account.id}/statuses"
        if page and len(page) == limit:
            links.append(f'<{url}?{urlencode(sorted({**kept, "max_id": page[-1].id}.items()))}>'
                         '; rel="next"')
        if page:
            links.append(f'<{url}?{urlencode(sorted({**kept, "min_id": page[0].id}.items()))}>'
                         '; rel="prev"')
        if links:
            headers["Link"] = ", ".join(links)
        return _Reply(200, [self._status_json(s, viewer) for s in page], headers)

    # ---------------------------------------------------------------- media

    def _owned_unattached(self, request: SimpleNamespace, media_id: str) -> StoredMedia:
        item = self._media.get(media_id)
        if item is None or item.account_id != request.account.id or item.status_id is not None:
            raise _not_found()
        return item

    def _check_description(self, description: str | None) -> None:
        if description is not None and len(description) > self.description_limit:
            raise _invalid("Validation failed: Description is too long (maximum is "
                           f"{self.description_limit} characters)")

    @staticmethod
    def _parse_focus(raw: str | None) -> tuple[float, float] | None:
        if not raw:
            return None
        try:
            x, y = (float(v) for v in raw.split(",")[:2])
        except ValueError:
            return None
        return (x, y)

    def _upload(self, request: SimpleNamespace, polls: int) -> StoredMedia:
        params: _Params = request.params
        part = params.files.get("file")
        if part is None:
            raise _ApiError(400, "param is missing or the value is empty: file")
        sniffed = sniff_media_type(part.data)
        if sniffed is None or sniffed not in self.supported_mime_types:
            raise _invalid("Validation failed: File content type is invalid, File is invalid")
        declared = (part.content_type or "").replace("image/jpg", "image/jpeg")
        if declared and declared != "application/octet-stream" and declared != sniffed:
            raise _invalid("Validation failed: File has contents that are not what they "
                           "are reported to be")
        if len(part.data) >= self.image_size_limit:
            raise _invalid("Validation failed: File file size must be less than "
                           f"{_human_size(self.image_size_limit)}")
        description = params.get("description")
        self._check_description(description)
        dimensions = _image_size(part.data, sniffed)
        item = StoredMedia(
            id=self._next_id(), account_id=request.account.id, media_type=sniffed,
            size=len(part.data), description=description,
            focus=self._parse_focus(params.get("focus")), polls_left=polls,
            created_at=datetime.fromtimestamp(self.clock(), UTC),
            width=dimensions[0] if dimensions else None,
            height=dimensions[1] if dimensions else None,
            data=part.data, shortcode=secrets.token_hex(8),
        )
        with self._lock:
            self._media[item.id] = item
        return item

    def _upload_v2(self, request: SimpleNamespace) -> _Reply:
        item = self._upload(request, max(0, self.processing_polls))
        return _Reply(200 if item.processed else 202, self._media_json(item))

    def _upload_v1(self, request: SimpleNamespace) -> _Reply:
        item = self._upload(request, 0)
        return _Reply(200, self._media_json(item))

    def _get_media(self, request: SimpleNamespace, media_id: str) -> _Reply:
        with self._lock:
            item = self._owned_unattached(request, media_id)
            if item.processed:
                return _Reply(200, self._media_json(item))
            reply = _Reply(206, self._media_json(item))  # still processing: no url
            item.polls_left -= 1
            return reply

    def _update_media(self, request: SimpleNamespace, media_id: str) -> _Reply:
        params: _Params = request.params
        with self._lock:
            item = self._owned_unattached(request, media_id)
            description = params.get("description")
            self._check_description(description)
            if description is not None:
                item.description = description
            focus = self._parse_focus(params.get("focus"))
            if focus is not None:
                item.focus = focus
            return _Reply(200 if item.processed else 206, self._media_json(item))


class _Server(ThreadingHTTPServer):
    """Quiet about clients that hang up: timeouts and drops are what tests provoke."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Routes every method to ``FakeMastodon._handle``; ``fake`` is bound per server."""

    fake: FakeMastodon
    # HTTP/1.1 keep-alive: requests reuses pooled connections, which is what makes
    # a dropped connection look like "sent but no answer".
    protocol_version = "HTTP/1.1"
    # One send per response and no Nagle: otherwise delayed ACKs add ~40 ms a request.
    wbufsize = -1
    disable_nagle_algorithm = True
    server_version = "Mastodon"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.fake._handle(self, "GET")

    def do_POST(self) -> None:  # noqa: N802
        self.fake._handle(self, "POST")

    def do_PUT(self) -> None:  # noqa: N802
        self.fake._handle(self, "PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self.fake._handle(self, "PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self.fake._handle(self, "DELETE")

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The fake's clock, so clients place X-RateLimit-Reset correctly on theirs.
        return email.utils.formatdate(self.fake.clock() if timestamp is None else timestamp,
                                      usegmt=True)

    def send(self, reply: _Reply) -> None:
        if isinstance(reply.body, str):
            payload = reply.body.encode()
        else:
            payload = json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status, _REASONS.get(reply.status))
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "private, no-store")
            for name, value in reply.headers.items():
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
        # Tests stay quiet (and URLs may carry OAuth codes); the log is FakeMastodon.requests.
        pass


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m threadbot.testing.fake_mastodon``: serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m threadbot.testing.fake_mastodon",
        description="Run a fake Mastodon server on 127.0.0.1 for offline rehearsals.",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument("--user", action="append", default=None,
                        help="username of a fake account (repeat for several)")
    parser.add_argument("--max-characters", type=int, default=500,
                        help="the instance's status length limit (default 500)")
    parser.add_argument("--processing-polls", type=int, default=1,
                        help="polls an uploaded image stays processing (default 1)")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="milliseconds added to every request")
    args = parser.parse_args(argv)

    fake = FakeMastodon(port=args.port, accounts=args.user or ["threadbot_test"],
                        max_characters=args.max_characters,
                        processing_polls=args.processing_polls,
                        latency=args.latency_ms / 1000)
    fake.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"fake Mastodon listening on {fake.base_url}", flush=True)
    print(f"base_url: {fake.base_url}")
    print("These tokens are fake and only work against this server:")
    for account in fake.accounts:
        print(f"\n  @{account.username} (id {account.id}), as a line for config/.env:")
        print(f"    MASTODON_ACCESS_TOKEN={account.access_token}")
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
