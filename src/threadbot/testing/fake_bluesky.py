"""A fake Bluesky PDS (Personal Data Server) for tests, benchmarks and offline rehearsals.

``FakeBluesky`` is a real HTTP server (stdlib ``ThreadingHTTPServer`` on 127.0.0.1)
that speaks the XRPC subset threadbot uses, with the reference PDS's status codes,
``{"error", "message"}`` bodies, HS256 session JWTs, TIDs, CIDs and ``RateLimit-*``
headers. Because it is real HTTP, tests drive the atproto SDK (MarshalX/atproto,
``Client(base_url=server.base_url)``) unmodified.

Endpoints (all under ``/xrpc/``):

* ``com.atproto.server.createSession``, ``refreshSession``, ``getSession``,
  ``deleteSession``, ``describeServer``
* ``com.atproto.repo.createRecord``, ``getRecord``, ``deleteRecord``, ``listRecords``,
  ``uploadBlob``
* ``com.atproto.identity.resolveHandle``, ``app.bsky.actor.getProfile`` (the SDK's
  ``login()`` fetches the profile)

Any other method answers 501 ``MethodNotImplemented``, as the PDS does.

Tests can inject faults (errors, forced 429s, delays, dropped connections before
or after the record is stored, a seeded random fault rate), tune limits, expire
tokens with an injected clock and inspect what was stored::

    with FakeBluesky.running(access_ttl=60) as server:
        creds = server.credentials()                   # {"handle", "app_password"}
        client = Client(base_url=server.base_url)
        client.login(creds["handle"], creds["app_password"])
        server.drop_next(path="*createRecord")         # stored, never answered
        ...
        assert server.posts("threadbot.test")[0].text == "hello"

``path`` in the fault methods is a shell pattern matched against the request path
(``"/xrpc/com.atproto.repo.createRecord"``) or, when it does not start with ``/``,
against the method's NSID (``"com.atproto.repo.*"``).

Run ``python -m threadbot.testing.fake_bluesky --user me.test --port 8767`` to
rehearse offline: it prints the base URL, the handle and a ``BLUESKY_APP_PASSWORD=``
line. Rehearsal accounts (:meth:`FakeBluesky.rehearsal_account`) are named
``f"{name}.test"``.

What the reference PDS (bluesky-social/atproto ``packages/pds``) answers, mimicked
here: a wrong password 401 ``AuthenticationRequired`` "Invalid identifier or
password"; no token 401 ``AuthMissing``; an expired token 400 ``ExpiredToken`` "Token
has expired"; a token that does not verify (bad signature, access token used as
refresh token or the reverse) 400 ``InvalidToken`` "Token could not be verified"; a
rotated or revoked refresh token 400 ``ExpiredToken`` "Token has been revoked"; a
missing record 400 ``RecordNotFound`` "Could not locate record: URI"; a record key
already taken 500 ``InternalServerError`` (the PDS's repository throws a plain error,
which the XRPC layer turns into a 500); lexicon violations 400 ``InvalidRequest``
"Invalid app.bsky.feed.post record: grapheme too big (maximum 300, got 301) at
$.record.text"; an unknown blob 400 ``BlobNotFound``; login limits 30 per 5 minutes
and 300 a day, repository writes 5000 points an hour and 35000 a day (a create costs
3, a delete 1), 3000 requests per 5 minutes per IP; 429 ``RateLimitExceeded`` "Rate
Limit Exceeded" with ``RateLimit-Limit/-Remaining/-Reset/-Policy`` and ``Retry-After``.

Where it differs on purpose (each check catches a client bug the real service would
let through or answer differently):

* ``check_replies``: a reply's ``root``/``parent`` must name a stored post with that
  CID, and ``root`` must be the parent's root. The PDS stores any well-formed strong
  reference; the AppView then shows a broken thread.
* ``strict_facets``: facet byte ranges must lie inside the text's UTF-8 bytes, on
  character boundaries, start <= end. The PDS only checks ``minimum: 0``.
* ``uploadBlob`` refuses more than ``max_blob_bytes`` (default 1,000,000, Bluesky's
  historical image limit) with 400 ``BlobTooLarge`` "This file is too large. ...", the
  error older PDSes gave at ``createRecord``. Today's PDS accepts uploads up to its
  configured limit (5 MB self-hosted; 413 ``PayloadTooLarge`` beyond) and its lexicon
  allows 2,000,000-byte images since April 2026 (checked at ``createRecord``).
* The login limit is counted per account; the PDS counts it per identifier string
  and IP (logging in by handle and by DID are two budgets there).
* Refresh tokens are refused as soon as they are rotated (``refresh_grace=0``); the
  PDS honours a rotated token for 2 more hours (``refresh_grace=7200``), answering
  with the same next token.
* Record CIDs are real CIDv1 dag-cbor sha-256 of the record's DAG-CBOR encoding, but
  commit CIDs and revisions are only plausible. There is no repository, firehose,
  AppView, DID resolution or account creation.
"""

from __future__ import annotations

import argparse
import base64
import email.utils
import fnmatch
import hashlib
import hmac
import itertools
import json
import math
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from threadbot.counting._graphemes import graphemes
from threadbot.testing.fake_x import sniff_media_type

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "POST_COLLECTION",
    "FakeAccount",
    "FakeBluesky",
    "LoginAttempt",
    "RecordedRequest",
    "StoredBlob",
    "StoredPost",
    "main",
]

POST_COLLECTION = "app.bsky.feed.post"
HANDLE_DOMAIN = ".test"

#: ``{bucket: (points, window seconds)}`` as the PDS configures them
#: (``packages/pds/src/rate-limits.ts`` and the methods' ``rateLimit``): ``global``
#: every request per IP; ``login`` and ``login-day`` ``createSession`` per account;
#: ``repo-write-hour`` and ``repo-write-day`` per account, a create costing 3 points
#: and a delete 1; ``upload-blob`` ``uploadBlob`` per account. Windows start at the
#: first request, like rate-limiter-flexible's. ``None`` turns a bucket off.
DEFAULT_RATE_LIMITS: dict[str, tuple[int, float]] = {
    "global": (3000, 5 * 60),
    "login": (30, 5 * 60),
    "login-day": (300, 24 * 60 * 60),
    "repo-write-hour": (5000, 60 * 60),
    "repo-write-day": (35000, 24 * 60 * 60),
    "upload-blob": (1000, 24 * 60 * 60),
}
_CREATE_POINTS = 3
_DELETE_POINTS = 1

ACCESS_SCOPE = "com.atproto.appPass"  # an access token from an app password
REFRESH_SCOPE = "com.atproto.refresh"
_JSON_LIMIT = 100 * 1024  # xrpc-server's default JSON body limit
_CREATE_JSON_LIMIT = 1_000_000  # createRecord's own

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_TID_RE = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")
_RKEY_RE = re.compile(r"[A-Za-z0-9._:~-]{1,512}")
_DID_RE = re.compile(r"did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]")
_HANDLE_RE = re.compile(
    r"([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")
_NSID_RE = re.compile(r"[a-zA-Z]([a-zA-Z0-9-]{0,62})?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})?)+"
                      r"\.[a-zA-Z][a-zA-Z0-9]{0,62}")
_URI_RE = re.compile(r"\w+:(?://)?[^\s/][^\s]*")  # the lexicon's "uri" format
_AT_URI_RE = re.compile(r"at://([^/\s]+)/([^/\s]+)/([^/\s]+)")
_CID_RE = re.compile(r"[A-Za-z0-9+]{8,}")
_DATETIME_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_LANG_RE = re.compile(r"(i|[a-z]{2,3})(-[A-Za-z0-9-]+)?")

#: XRPC's name and text of each status (``@atproto/xrpc`` ``ResponseType``).
_STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("InvalidRequest", "Invalid Request"),
    401: ("AuthenticationRequired", "Authentication Required"),
    403: ("Forbidden", "Forbidden"),
    404: ("XRPCNotSupported", "XRPC Not Supported"),
    406: ("NotAcceptable", "Not Acceptable"),
    413: ("PayloadTooLarge", "Payload Too Large"),
    415: ("UnsupportedMediaType", "Unsupported Media Type"),
    429: ("RateLimitExceeded", "Rate Limit Exceeded"),
    500: ("InternalServerError", "Internal Server Error"),
    501: ("MethodNotImplemented", "Method Not Implemented"),
    502: ("UpstreamFailure", "Upstream Failure"),
    503: ("NotEnoughResources", "Not Enough Resources"),
    504: ("UpstreamTimeout", "Upstream Timeout"),
}
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 413: "Payload Too Large", 429: "Too Many Requests",
            500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}
_SECRET_FIELDS = frozenset({"password", "accessJwt", "refreshJwt", "token", "authFactorToken"})


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class FakeAccount:
    """A user the server knows: its DID, handle and app password."""

    did: str
    handle: str
    app_password: str = field(repr=False)
    display_name: str = ""
    created_at: str = ""


@dataclass(frozen=True)
class StoredPost:
    """An ``app.bsky.feed.post`` record as the server stored it (``deleted`` once deleted).

    ``reply_root``/``reply_parent`` are ``(uri, cid)`` strong references; ``record``
    is the whole record as received (with ``$type``).
    """

    uri: str
    cid: str
    did: str
    rkey: str
    text: str
    created_at: str
    langs: tuple[str, ...]
    facets: tuple[dict[str, Any], ...]
    embed: dict[str, Any] | None
    reply_root: tuple[str, str] | None
    reply_parent: tuple[str, str] | None
    record: dict[str, Any] = field(repr=False)
    stored_at: float = 0.0
    validation_status: str | None = "valid"
    deleted: bool = False

    @property
    def reply_to(self) -> str | None:
        """The record key of the post this one replies to (its parent), if any."""
        if self.reply_parent is None:
            return None
        return self.reply_parent[0].rsplit("/", 1)[-1]

    @property
    def images(self) -> tuple[dict[str, Any], ...]:
        """The ``app.bsky.embed.images`` entries (also inside ``recordWithMedia``)."""
        embed = self.embed or {}
        if embed.get("$type") == "app.bsky.embed.recordWithMedia":
            embed = embed.get("media") or {}
        if embed.get("$type") != "app.bsky.embed.images":
            return ()
        return tuple(i for i in embed.get("images") or () if isinstance(i, dict))

    @property
    def image_alts(self) -> tuple[str | None, ...]:
        return tuple(image.get("alt") for image in self.images)

    @property
    def blob_cids(self) -> tuple[str, ...]:
        return tuple(_blob_cid(image.get("image")) or "" for image in self.images)


@dataclass(frozen=True)
class StoredBlob:
    """An uploaded blob (the bytes as received, their CID and sniffed MIME type)."""

    cid: str
    did: str
    mime_type: str
    size: int
    data: bytes = field(repr=False)
    uploaded_at: float = 0.0


@dataclass(frozen=True)
class LoginAttempt:
    """One ``createSession``: ``outcome`` is ``"ok"``, ``"refused"`` (wrong identifier
    or password) or ``"rate_limited"``; ``did`` is ``None`` for an unknown identifier."""

    identifier: str
    did: str | None
    outcome: str
    at: float


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received, for test assertions.

    ``status`` is ``None`` when the connection was dropped without an answer;
    ``error`` the XRPC error name of a refusal. No secrets are kept: the
    ``Authorization`` value is ``"Bearer [redacted]"`` and ``password`` fields are
    ``"[redacted]"``; a blob upload's body appears only as ``body_size``.
    """

    method: str
    path: str
    nsid: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    status: int | None
    did: str | None
    error: str | None
    fault: str | None
    at: float
    body_size: int = 0


@dataclass
class _Record:
    uri: str
    did: str
    collection: str
    rkey: str
    cid: str
    value: dict[str, Any]
    stored_at: float
    validation_status: str | None
    deleted: bool = False


@dataclass
class _RefreshToken:
    did: str
    expires_at: float
    next_id: str | None = None


@dataclass
class _Window:
    start: float
    consumed: int = 0


@dataclass
class _Fault:
    kind: str  # "error" | "ratelimit" | "delay" | "drop" | "drop_after_store"
    remaining: int
    method: str | None
    path: str | None
    status: int = 503
    seconds: float = 0.0
    reset_in: float | None = None

    def matches(self, method: str, path: str, nsid: str) -> bool:
        return (self.method is None or self.method == method) and _path_matches(
            self.path, path, nsid)

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


class _XrpcError(Exception):
    """Raised inside a route handler to answer ``{"error": ..., "message": ...}``."""

    def __init__(self, status: int, error: str | None = None, message: str | None = None,
                 headers: dict[str, str] | None = None):
        default_error, default_message = _STATUS_ERRORS.get(status, ("Unknown", "Unknown"))
        super().__init__(status, error, message)
        self.status = status
        self.error = error or default_error
        # 500s never carry details (xrpc-server's XRPCError.payload).
        self.message = default_message if status == 500 else (message or default_message)
        self.headers = headers or {}

    @property
    def body(self) -> dict[str, str]:
        return {"error": self.error, "message": self.message}


def _invalid(message: str, error: str = "InvalidRequest") -> _XrpcError:
    return _XrpcError(400, error, message)


class _RecordInvalid(Exception):
    """A lexicon violation: ``issue`` (the lex-schema text) ``at`` a JSON path."""

    def __init__(self, issue: str, path: str):
        super().__init__(issue, path)
        self.issue = issue
        self.path = path


def _path_matches(pattern: str | None, path: str, nsid: str) -> bool:
    if pattern is None:
        return True
    if pattern.startswith("/"):
        return fnmatch.fnmatchcase(path, pattern)
    return fnmatch.fnmatchcase(nsid, pattern)


# --------------------------------------------------------------------------- encodings


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _jwt(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                     + _b64url(json.dumps(claims, separators=(",", ":")).encode()))
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64url(signature)


def _jwt_verify(token: str, key: bytes) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """``(header, claims)`` of an HS256 JWT signed with ``key``, else ``None``."""
    try:
        signing_input, signature = token.rsplit(".", 1)
        header_part, claims_part = signing_input.split(".")
        expected = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64url_decode(signature)):
            return None
        header = json.loads(_b64url_decode(header_part))
        claims = json.loads(_b64url_decode(claims_part))
    except (ValueError, UnicodeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    if header.get("alg") != "HS256":
        return None
    return header, claims


def _cbor_head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if value < 1 << (8 * size):
            return bytes([major << 5 | extra]) + value.to_bytes(size, "big")
    raise ValueError("integer too large for CBOR")


def _dag_cbor(value: Any) -> bytes:
    """DAG-CBOR of a JSON value in the AT Protocol data model (``$link``, ``$bytes``)."""
    if value is None:
        return b"\xf6"
    if value is True:
        return b"\xf5"
    if value is False:
        return b"\xf4"
    if isinstance(value, int):
        return _cbor_head(0, value) if value >= 0 else _cbor_head(1, -1 - value)
    if isinstance(value, float):
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, str):
        data = value.encode("utf-8")
        return _cbor_head(3, len(data)) + data
    if isinstance(value, bytes):
        return _cbor_head(2, len(value)) + value
    if isinstance(value, list):
        return _cbor_head(4, len(value)) + b"".join(_dag_cbor(v) for v in value)
    if isinstance(value, dict):
        if set(value) == {"$link"} and isinstance(value["$link"], str):
            cid = _cid_bytes(value["$link"])
            if cid is not None:
                return b"\xd8\x2a" + _cbor_head(2, len(cid) + 1) + b"\x00" + cid
        if set(value) == {"$bytes"} and isinstance(value["$bytes"], str):
            try:
                return _dag_cbor(base64.b64decode(value["$bytes"] + "=" * (
                    -len(value["$bytes"]) % 4)))
            except ValueError:
                pass
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return _cbor_head(5, len(keys)) + b"".join(
            _dag_cbor(k) + _dag_cbor(value[k]) for k in keys)
    raise TypeError(f"not AT Protocol data: {type(value).__name__}")


def _cid(codec: int, data: bytes) -> str:
    """A CIDv1 (``codec``: 0x71 dag-cbor, 0x55 raw) of sha-256, base32 with ``b``."""
    raw = bytes([0x01, codec, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode("ascii").lower().rstrip("=")


def _cid_bytes(cid: str) -> bytes | None:
    if not cid.startswith("b") or len(cid) < 8:
        return None
    try:
        body = cid[1:].upper()
        return base64.b32decode(body + "=" * (-len(body) % 8))
    except ValueError:
        return None


def _blob_cid(blob: Any) -> str | None:
    if isinstance(blob, dict) and isinstance(blob.get("ref"), dict):
        link = blob["ref"].get("$link")
        return link if isinstance(link, str) else None
    return None


def _tid(micros: int, clock_id: int) -> str:
    value = (micros << 10) | clock_id
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 31] for i in range(12, -1, -1))


def _iso(ts: float) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _human_bytes(size: int) -> str:
    """The ``bytes`` npm package's format (1024-based, 2 decimals): ``976.56KB``."""
    value, unit = float(size), "B"
    for next_unit in ("KB", "MB", "GB", "TB"):
        if value < 1024:
            break
        value, unit = value / 1024, next_unit
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text}{unit}"


def _show(value: Any) -> str:
    """lex-schema's ``stringifyValue``, enough for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value if len(value) < 256 else value[:255] + "…",
                          ensure_ascii=False)
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value[:2]) + (", ..." if len(value) > 2
                                                                else "") + "]"
    if isinstance(value, dict):
        keys = list(value)
        return "{" + ", ".join(f"{json.dumps(k)}: ..." for k in keys[:2]) + (
            ", ..." if len(keys) > 2 else "") + "}"
    return type(value).__name__


def _app_password(handle: str) -> str:
    """A deterministic, obviously fake app password in Bluesky's ``xxxx-xxxx-xxxx-xxxx``."""
    digest = hashlib.sha256(f"fake-bluesky:{handle}".encode()).digest()
    letters = base64.b32encode(digest).decode("ascii").lower()[:16]
    return "-".join(letters[i:i + 4] for i in range(0, 16, 4))


def _did_for(handle: str) -> str:
    digest = hashlib.sha256(f"fake-bluesky-did:{handle}".encode()).digest()
    return "did:plc:" + base64.b32encode(digest).decode("ascii").lower()[:24]


# --------------------------------------------------------------------------- lexicon checks


def _require(obj: dict[str, Any], key: str, path: str) -> Any:
    if key not in obj or obj[key] is None:
        raise _RecordInvalid(f'Missing required key "{key}"', path)
    return obj[key]


def _expect(value: Any, kind: str, path: str) -> None:
    ok = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "boolean": isinstance(value, bool),
    }[kind]
    if not ok:
        raise _RecordInvalid(f"Expected {kind} value type (got {_show(value)})", path)


def _string(obj: dict[str, Any], key: str, path: str, *, required: bool = True,
            max_bytes: int | None = None, max_graphemes: int | None = None,
            fmt: tuple[str, re.Pattern[str]] | None = None) -> str | None:
    here = f"{path}.{key}"
    if required:
        _require(obj, key, path)
    elif obj.get(key) is None:
        return None
    value = obj[key]
    _expect(value, "string", here)
    if max_bytes is not None and len(value.encode("utf-8")) > max_bytes:
        raise _RecordInvalid(
            f"string too big (maximum {max_bytes}, got {len(value.encode('utf-8'))})", here)
    if max_graphemes is not None and len(value) > max_graphemes:
        count = graphemes(value)
        if count > max_graphemes:
            raise _RecordInvalid(f"grapheme too big (maximum {max_graphemes}, got {count})",
                                 here)
    if fmt is not None and not fmt[1].fullmatch(value):
        raise _RecordInvalid(f"Invalid {fmt[0]} (got {_show(value)})", here)
    return value


def _integer(obj: dict[str, Any], key: str, path: str, minimum: int) -> int:
    here = f"{path}.{key}"
    value = _require(obj, key, path)
    _expect(value, "integer", here)
    if value < minimum:
        raise _RecordInvalid(f"integer too small (minimum {minimum}, got {value})", here)
    return int(value)


def _strong_ref(obj: dict[str, Any], key: str, path: str) -> tuple[str, str]:
    here = f"{path}.{key}"
    ref = _require(obj, key, path)
    _expect(ref, "object", here)
    uri = _string(ref, "uri", here, fmt=("AT URI", _AT_URI_RE))
    cid = _string(ref, "cid", here, fmt=("CID string", _CID_RE))
    assert uri is not None and cid is not None
    return uri, cid


def _utf8_boundary(data: bytes, position: int) -> bool:
    return position == len(data) or (data[position] & 0xC0) != 0x80


# --------------------------------------------------------------------------- server


class FakeBluesky:
    """An in-process fake Bluesky PDS on ``127.0.0.1``.

    Args:
        accounts: handles of the accounts to create (default one, ``threadbot.test``);
            add more with :meth:`add_account`.
        port: 0 picks a free ephemeral port.
        access_ttl, refresh_ttl: lifetimes of access tokens (the PDS's 2 hours) and
            refresh tokens (90 days), in seconds of ``clock``.
        refresh_grace: seconds a rotated refresh token still works (0: refused at once;
            the PDS's 7200 reissues the same next token during the grace).
        max_graphemes, max_text_bytes: the post text limits (300 and 3000).
        max_images: images per post (4).
        max_blob_bytes: uploads larger than this are refused 400 ``BlobTooLarge``.
        max_image_bytes: an embedded image's blob larger than this is refused at
            ``createRecord`` (default ``max_blob_bytes``).
        check_replies, strict_facets: the stricter-than-the-PDS checks (see the module).
        rate_limits: overrides of :data:`DEFAULT_RATE_LIMITS` (``None`` turns one off).
        latency: seconds added to every request (benchmarks).
        clock: seconds since the epoch; inject one to expire tokens and windows without
            sleeping. It dates tokens, records and the ``Date`` header. The atproto SDK
            decides when to refresh by its own wall clock, not this one.
    """

    def __init__(
        self,
        *,
        accounts: Iterable[str] | None = None,
        port: int = 0,
        access_ttl: float = 2 * 60 * 60,
        refresh_ttl: float = 90 * 24 * 60 * 60,
        refresh_grace: float = 0.0,
        max_graphemes: int = 300,
        max_text_bytes: int = 3000,
        max_images: int = 4,
        max_blob_bytes: int = 1_000_000,
        max_image_bytes: int | None = None,
        check_replies: bool = True,
        strict_facets: bool = True,
        rate_limits: dict[str, tuple[int, float] | None] | None = None,
        latency: float = 0.0,
        clock: Callable[[], float] = time.time,
        service_did: str = "did:web:pds.test",
    ) -> None:
        self._port = port
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.refresh_grace = refresh_grace
        self.max_graphemes = max_graphemes
        self.max_text_bytes = max_text_bytes
        self.max_images = max_images
        self.max_blob_bytes = max_blob_bytes
        self.max_image_bytes = max_blob_bytes if max_image_bytes is None else max_image_bytes
        self.check_replies = check_replies
        self.strict_facets = strict_facets
        merged = {**DEFAULT_RATE_LIMITS, **(rate_limits or {})}
        self.rate_limits: dict[str, tuple[int, float]] = {
            k: v for k, v in merged.items() if v is not None}
        self.latency = latency
        self.clock = clock
        self.service_did = service_did

        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._jwt_key = secrets.token_bytes(32)
        self._clock_id = secrets.randbelow(1024)
        self._accounts: dict[str, FakeAccount] = {}  # by DID, in creation order
        self._records: list[_Record] = []  # every version, in creation order
        self._live: dict[str, _Record] = {}  # by URI
        self._blobs: dict[tuple[str, str], StoredBlob] = {}  # by (DID, CID)
        self._refresh_tokens: dict[str, _RefreshToken] = {}  # by jti
        self._issued_access: dict[str, set[str]] = {}  # by DID
        self._tokens: list[tuple[str, str]] = []  # (DID, JWT): every token issued
        self._revoked_access: set[str] = set()
        self._logins: list[LoginAttempt] = []
        self._refreshes: dict[str, int] = {}
        self._windows: dict[tuple[str, str], _Window] = {}
        self._faults: list[_Fault] = []
        self._random: _RandomFaults | None = None
        self._requests: list[RecordedRequest] = []
        self._last_micros = 0
        self._commits = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

        for handle in accounts if accounts is not None else ["threadbot.test"]:
            self.add_account(handle)

    # ---------------------------------------------------------------- lifecycle

    @classmethod
    @contextmanager
    def running(cls, **kwargs: Any) -> Iterator[FakeBluesky]:
        """Start a server for the duration of a ``with`` block (pytest-independent)."""
        server = cls(**kwargs)
        server.start()
        try:
            yield server
        finally:
            server.stop()

    @classmethod
    @contextmanager
    def for_rehearsal(cls, limits: Any = None) -> Iterator[FakeBluesky]:
        """A server for ``threadbot rehearse``: no accounts yet, enforcing ``limits``
        (``threadbot.platforms.Limits``: graphemes, images per post, image bytes)."""
        kwargs: dict[str, Any] = {"accounts": []}
        if limits is not None:
            kwargs.update(max_graphemes=limits.max_characters, max_images=limits.max_media,
                          max_blob_bytes=limits.max_image_bytes)
        with cls.running(**kwargs) as server:
            yield server

    @staticmethod
    def rehearsal_handle(name: str) -> str:
        """The handle of rehearsal account ``name``: ``f"{name}.test"`` (a name that
        already is a handle, with a dot, is kept)."""
        return name.lower() if "." in name else f"{name.lower()}{HANDLE_DOMAIN}"

    def rehearsal_account(self, name: str) -> dict[str, str]:
        """Add the account ``f"{name}.test"``; its secret keyed as threadbot's Bluesky
        accounts name it. Sign in as :meth:`rehearsal_handle` ``(name)``."""
        return {"app_password": self.add_account(self.rehearsal_handle(name)).app_password}

    def thread_chain(self, name: str) -> list[Any]:
        """Account ``f"{name}.test"``'s posts, oldest first, as ``ChainPost``: id the
        record key, ``reply_to`` the parent's record key, the images' alt texts."""
        from . import ChainPost

        return [ChainPost(id=post.rkey, reply_to=post.reply_to, alts=post.image_alts)
                for post in self.posts(self.rehearsal_handle(name))]

    def __enter__(self) -> FakeBluesky:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> FakeBluesky:
        """Bind 127.0.0.1 and serve in a background thread; returns ``self``."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        httpd = _Server(("127.0.0.1", self._port), handler)
        httpd.daemon_threads = True  # handlers may sleep in an injected delay
        httpd.block_on_close = False
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name="fake-bluesky", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeBluesky is not running: call start() first")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, the SDK's ``Client(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}"

    # ---------------------------------------------------------------- accounts

    def add_account(self, handle: str, app_password: str | None = None,
                    display_name: str | None = None) -> FakeAccount:
        """Register an account (``did:plc:...`` derived from the handle); its app
        password is ``app_password`` or a deterministic fake one."""
        handle = handle.lower()
        if not _HANDLE_RE.fullmatch(handle) or len(handle) > 253:
            raise ValueError(f"not a Bluesky handle: {handle!r} (try {handle}.test)")
        with self._lock:
            if any(a.handle == handle for a in self._accounts.values()):
                raise ValueError(f"{handle} already exists")
            account = FakeAccount(
                did=_did_for(handle), handle=handle,
                app_password=app_password or _app_password(handle),
                display_name=display_name or handle.split(".")[0].replace("-", " ").title(),
                created_at=_iso(self.clock()))
            self._accounts[account.did] = account
            return account

    @property
    def accounts(self) -> list[FakeAccount]:
        with self._lock:
            return list(self._accounts.values())

    def account(self, handle: str | None = None) -> FakeAccount:
        """The account with that handle or DID (default: the first one)."""
        found = self._find_account(handle) if handle is not None else next(
            iter(self._accounts.values()), None)
        if found is None:
            raise KeyError(f"no fake account {handle}")
        return found

    def _find_account(self, identifier: str) -> FakeAccount | None:
        identifier = identifier.lower().removeprefix("@")
        with self._lock:
            for account in self._accounts.values():
                if identifier in (account.handle, account.did):
                    return account
        return None

    def credentials(self, handle: str | None = None) -> dict[str, str]:
        """``{"handle", "app_password"}`` of an account (the SDK's ``login(*values)``)."""
        account = self.account(handle)
        return {"handle": account.handle, "app_password": account.app_password}

    def logins(self, handle: str | None = None, *, outcome: str | None = None) -> int:
        """How many ``createSession`` calls named the account (all accounts when
        ``None``), optionally only those with ``outcome`` ``"ok"``, ``"refused"`` or
        ``"rate_limited"``."""
        did = None if handle is None else self.account(handle).did
        with self._lock:
            return sum(1 for a in self._logins if (did is None or a.did == did)
                       and (outcome is None or a.outcome == outcome))

    @property
    def login_attempts(self) -> list[LoginAttempt]:
        with self._lock:
            return list(self._logins)

    def refreshes(self, handle: str | None = None) -> int:
        """How many ``refreshSession`` calls succeeded for the account (or all)."""
        with self._lock:
            if handle is None:
                return sum(self._refreshes.values())
            return self._refreshes.get(self.account(handle).did, 0)

    def tokens(self, handle: str | None = None) -> list[str]:
        """Every access and refresh JWT issued to the account (all accounts when
        ``None``), in issue order: secrets a test can look for where none may be."""
        did = None if handle is None else self.account(handle).did
        with self._lock:
            return [token for owner, token in self._tokens if did is None or owner == did]

    def revoke_refresh_tokens(self, handle: str, *, access_tokens: bool = False) -> None:
        """Revoke the account's refresh tokens (as a password change does), so its next
        refresh fails 400 ``ExpiredToken`` and the client must log in again. With
        ``access_tokens``, tokens issued so far are refused at once as well."""
        did = self.account(handle).did
        with self._lock:
            for jti in [j for j, t in self._refresh_tokens.items() if t.did == did]:
                del self._refresh_tokens[jti]
            if access_tokens:
                self._revoked_access.update(self._issued_access.pop(did, set()))

    # ---------------------------------------------------------------- inspection

    def _post_of(self, record: _Record) -> StoredPost:
        value = record.value
        reply = value.get("reply") if isinstance(value.get("reply"), dict) else None

        def ref(key: str) -> tuple[str, str] | None:
            found = reply.get(key) if reply else None
            if isinstance(found, dict):
                return str(found.get("uri")), str(found.get("cid"))
            return None

        facets = value.get("facets") if isinstance(value.get("facets"), list) else []
        langs = value.get("langs") if isinstance(value.get("langs"), list) else []
        embed = value.get("embed") if isinstance(value.get("embed"), dict) else None
        return StoredPost(
            uri=record.uri, cid=record.cid, did=record.did, rkey=record.rkey,
            text=str(value.get("text", "")), created_at=str(value.get("createdAt", "")),
            langs=tuple(str(lang) for lang in langs), facets=tuple(facets), embed=embed,
            reply_root=ref("root"), reply_parent=ref("parent"), record=value,
            stored_at=record.stored_at, validation_status=record.validation_status,
            deleted=record.deleted)

    def posts(self, user: str | None = None, *, include_deleted: bool = False
              ) -> list[StoredPost]:
        """Stored posts, oldest first; ``user`` a handle or DID."""
        did = None if user is None else self.account(user).did
        with self._lock:
            return [self._post_of(r) for r in self._records
                    if r.collection == POST_COLLECTION and (did is None or r.did == did)
                    and (include_deleted or not r.deleted)]

    def post(self, key: str) -> StoredPost:
        """One post by record key or ``at://`` URI (the latest version; deleted ones too)."""
        with self._lock:
            for record in reversed(self._records):
                if record.collection == POST_COLLECTION and key in (record.rkey, record.uri):
                    return self._post_of(record)
        raise KeyError(f"no stored post {key}")

    def blobs(self, user: str | None = None) -> list[StoredBlob]:
        """Uploaded blobs, in upload order; ``user`` a handle or DID."""
        did = None if user is None else self.account(user).did
        with self._lock:
            return [b for b in self._blobs.values() if did is None or b.did == did]

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget records, blobs, requests, logins, refresh counts, rate-limit windows
        and faults (keeps accounts and their sessions)."""
        with self._lock:
            self._records.clear()
            self._live.clear()
            self._blobs.clear()
            self._logins.clear()
            self._refreshes.clear()
            self._windows.clear()
            self._faults.clear()
            self._random = None
            self._requests.clear()

    # ---------------------------------------------------------------- fault injection

    def fail_next(self, n: int = 1, *, status: int = 503, method: str | None = None,
                  path: str | None = None) -> None:
        """Answer the next ``n`` matching requests ``status``, unprocessed, with XRPC's
        body for it (503: ``{"error": "NotEnoughResources", ...}``)."""
        self._add_fault(_Fault("error", n, method, path, status=status))

    def rate_limit_next(self, n: int = 1, *, method: str | None = None,
                        path: str | None = None, reset_in: float | None = None) -> None:
        """Answer the next ``n`` matching requests 429 ``RateLimitExceeded`` with
        ``RateLimit-Remaining: 0``, a ``RateLimit-Reset`` ``reset_in`` seconds from now
        (default: the applicable window's end) and ``Retry-After``."""
        self._add_fault(_Fault("ratelimit", n, method, path, status=429, reset_in=reset_in))

    def delay_next(self, seconds: float, n: int = 1, *, method: str | None = None,
                   path: str | None = None) -> None:
        """Process the next ``n`` matching requests, then wait ``seconds`` to answer."""
        self._add_fault(_Fault("delay", n, method, path, seconds=seconds))

    def drop_next(self, n: int = 1, *, after_store: bool = True, method: str | None = None,
                  path: str | None = None) -> None:
        """Close the connection of the next ``n`` matching requests without a byte of
        answer; with ``after_store`` (default) after processing them (a record is
        stored, a session created), else before."""
        self._add_fault(_Fault("drop_after_store" if after_store else "drop", n, method, path))

    def random_faults(
        self, rate: float, *, seed: int = 0,
        kinds: Sequence[str] = ("5xx", "drop", "drop_after_store", "delay", "429"),
        method: str | None = None, path: str | None = None, delay: float = 1.0,
    ) -> None:
        """Inject a fault into a ``rate`` fraction of matching requests, reproducibly.

        Matching means ``POST`` (XRPC procedures: writes, logins, refreshes, uploads),
        or exactly ``method`` (``"*"``: every request, reads included), and ``path``.
        ``kinds`` are drawn uniformly: ``"5xx"`` (500, 502, 503 or 504), a status as a
        string (``"503"``; ``"429"`` a rate limit with headers), ``"delay"`` (``delay``
        seconds), ``"drop"`` or ``"drop_after_store"``.
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

    def _take_fault(self, method: str, path: str, nsid: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path, nsid):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
            rnd = self._random
            if rnd is None:
                return None
            method_ok = (rnd.method == "*" or method == rnd.method) if rnd.method else (
                method == "POST")
            if method_ok and _path_matches(rnd.path, path, nsid) and rnd.rng.random() < rnd.rate:
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

    _ROUTES: dict[str, tuple[str, str, str]] = {
        # nsid: (HTTP method, handler, auth: "none" | "access" | "refresh" | "optional")
        "com.atproto.server.createSession": ("POST", "_create_session", "none"),
        "com.atproto.server.refreshSession": ("POST", "_refresh_session", "refresh"),
        "com.atproto.server.getSession": ("GET", "_get_session", "access"),
        "com.atproto.server.deleteSession": ("POST", "_delete_session", "refresh"),
        "com.atproto.server.describeServer": ("GET", "_describe_server", "none"),
        "com.atproto.repo.createRecord": ("POST", "_create_record", "access"),
        "com.atproto.repo.getRecord": ("GET", "_get_record", "none"),
        "com.atproto.repo.deleteRecord": ("POST", "_delete_record", "access"),
        "com.atproto.repo.listRecords": ("GET", "_list_records", "none"),
        "com.atproto.repo.uploadBlob": ("POST", "_upload_blob", "access"),
        "com.atproto.identity.resolveHandle": ("GET", "_resolve_handle", "none"),
        "app.bsky.actor.getProfile": ("GET", "_get_profile", "optional"),
    }

    def _handle(self, handler: _Handler, method: str) -> None:
        """Serve one request: latency, faults, rate limits, auth, route, reply."""
        split = urlsplit(handler.path)
        path = split.path.rstrip("/") or "/"
        nsid = path[len("/xrpc/"):] if path.startswith("/xrpc/") else ""
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = SimpleNamespace(
            method=method, path=path, nsid=nsid, query=query, body=body,
            content_type=handler.headers.get("Content-Type", ""), headers=handler.headers,
            ip=handler.client_address[0], account=None, json=None, limits=[],
        )
        if body and request.content_type.lower().startswith("application/json"):
            try:
                request.json = json.loads(body)
            except ValueError:
                request.json = ...

        if self.latency:
            self._stopping.wait(self.latency)

        fault = self._take_fault(method, path, nsid)
        reply: _Reply | None = None
        if fault is not None and fault.kind == "error":
            reply = self._error_reply(_XrpcError(fault.status))
        elif fault is not None and fault.kind == "ratelimit":
            reply = self._forced_rate_limit(request, fault)
        elif fault is None or fault.kind != "drop":
            try:
                reply = self._serve(request)
            except _XrpcError as err:
                reply = self._error_reply(err)
            except Exception:  # a bug in the fake: answer 500 and show it, like a real server
                traceback.print_exc()
                reply = self._error_reply(_XrpcError(500))
            if request.limits and "RateLimit-Limit" not in reply.headers:
                reply.headers.update(self._limit_headers(min(
                    reversed(request.limits), key=lambda s: s[1])))

        dropped = fault is not None and fault.kind in ("drop", "drop_after_store")
        # Recorded before any delay so the log keeps arrival order.
        self._record(request, None if dropped or reply is None else reply, fault)
        if fault is not None and fault.kind == "delay":
            self._stopping.wait(fault.seconds)
        if dropped or reply is None:
            handler.drop()
        else:
            handler.send(reply)

    @staticmethod
    def _error_reply(err: _XrpcError) -> _Reply:
        return _Reply(err.status, err.body, dict(err.headers))

    def _record(self, request: SimpleNamespace, reply: _Reply | None, fault: _Fault | None
                ) -> None:
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            if name.lower() == "authorization":
                headers[name] = f"{value.split(' ', 1)[0]} [redacted]" if value else ""
            else:
                headers[name] = value
        data = request.json if request.json is not ... else None
        if isinstance(data, dict):
            data = {k: "[redacted]" if k in _SECRET_FIELDS else v for k, v in data.items()}
        error = None
        if reply is not None and reply.status >= 400 and isinstance(reply.body, dict):
            error = reply.body.get("error")
        account = request.account
        with self._lock:
            self._requests.append(RecordedRequest(
                method=request.method, path=request.path, nsid=request.nsid,
                query=dict(request.query), json=data, headers=headers,
                status=None if reply is None else reply.status,
                did=account.did if account is not None else None, error=error,
                fault=fault.name if fault is not None else None, at=self.clock(),
                body_size=len(request.body)))

    def _serve(self, request: SimpleNamespace) -> _Reply:
        if not request.nsid or "/" in request.nsid:
            raise _XrpcError(404, "NotFound", "Not Found")
        self._consume(request, "global", f"ip:{request.ip}", 1)
        route = self._ROUTES.get(request.nsid)
        if route is None:
            raise _XrpcError(501)
        http_method, name, auth = route
        if request.method != http_method:
            raise _invalid(f"Incorrect HTTP method ({request.method}) expected {http_method}")
        if auth in ("access", "refresh") or (auth == "optional"
                                             and request.headers.get("Authorization")):
            request.account, request.claims = self._authenticate(request, auth)
        handler: Callable[[SimpleNamespace], _Reply] = getattr(self, name)
        return handler(request)

    # ---------------------------------------------------------------- tokens

    def _issue_tokens(self, account: FakeAccount, jti: str | None = None) -> dict[str, str]:
        now = int(self.clock())
        access = _jwt({"typ": "at+jwt", "alg": "HS256"}, {
            "scope": ACCESS_SCOPE, "aud": self.service_did, "sub": account.did, "iat": now,
            "exp": int(now + self.access_ttl)}, self._jwt_key)
        jti = jti or _b64url(secrets.token_bytes(24))
        refresh = _jwt({"typ": "refresh+jwt", "alg": "HS256"}, {
            "scope": REFRESH_SCOPE, "aud": self.service_did, "sub": account.did, "jti": jti,
            "iat": now, "exp": int(now + self.refresh_ttl)}, self._jwt_key)
        with self._lock:
            self._refresh_tokens.setdefault(jti, _RefreshToken(account.did,
                                                               now + self.refresh_ttl))
            self._issued_access.setdefault(account.did, set()).add(access)
            self._tokens += [(account.did, access), (account.did, refresh)]
            self._revoked_access.discard(access)  # the same claims in the same second
        return {"accessJwt": access, "refreshJwt": refresh}

    def _authenticate(self, request: SimpleNamespace, kind: str
                      ) -> tuple[FakeAccount, dict[str, Any]]:
        """The account of a valid bearer token, as the PDS's ``AuthVerifier`` checks it."""
        header = request.headers.get("Authorization", "")
        if not header:
            raise _XrpcError(401, "AuthMissing", "Authentication Required")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            raise _invalid("Unexpected authorization type", "InvalidToken")
        verified = _jwt_verify(token.strip(), self._jwt_key)
        unverified = _invalid("Token could not be verified", "InvalidToken")
        if verified is None:
            raise unverified
        header_fields, claims = verified
        wanted_typ, wanted_scope = (("refresh+jwt", REFRESH_SCOPE) if kind == "refresh"
                                    else ("at+jwt", ACCESS_SCOPE))
        # jose checks typ and aud before exp: a wrong kind of token is "not verified".
        if header_fields.get("typ") != wanted_typ or claims.get("aud") != self.service_did:
            raise unverified
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp <= self.clock():
            raise _invalid("Token has expired", "ExpiredToken")
        if claims.get("scope") != wanted_scope:
            raise _invalid("Bad token scope", "InvalidToken")
        did = claims.get("sub")
        account = self._accounts.get(did) if isinstance(did, str) else None
        if account is None:
            raise _XrpcError(403, "AccountNotFound", "Account not found")
        if kind != "refresh" and token.strip() in self._revoked_access:
            raise _invalid("Token has been revoked", "ExpiredToken")
        return account, claims

    def _session_body(self, account: FakeAccount) -> dict[str, Any]:
        return {
            "did": account.did, "handle": account.handle,
            "didDoc": {
                "@context": ["https://www.w3.org/ns/did/v1"],
                "id": account.did, "alsoKnownAs": [f"at://{account.handle}"],
                "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                             "serviceEndpoint": self.base_url}],
            },
            "email": f"{account.handle}@example.test", "emailConfirmed": True,
            "emailAuthFactor": False, "active": True,
        }

    def _create_session(self, request: SimpleNamespace) -> _Reply:
        data = self._json_body(request, ("identifier", "password"))
        identifier, password = data["identifier"], data["password"]
        if not isinstance(identifier, str) or not isinstance(password, str):
            raise _invalid("Expected string value type at $.identifier")
        account = self._find_account(identifier)
        key = account.did if account is not None else identifier.lower()
        now = self.clock()
        try:
            for bucket in ("login-day", "login"):
                self._consume(request, bucket, key, 1)
        except _XrpcError:
            self._log_login(identifier, account, "rate_limited", now)
            raise
        if account is None or not hmac.compare_digest(account.app_password.encode(),
                                                      password.encode()):
            self._log_login(identifier, account, "refused", now)
            raise _XrpcError(401, "AuthenticationRequired", "Invalid identifier or password")
        self._log_login(identifier, account, "ok", now)
        request.account = account
        return _Reply(200, {**self._issue_tokens(account), **self._session_body(account)})

    def _log_login(self, identifier: str, account: FakeAccount | None, outcome: str,
                   now: float) -> None:
        with self._lock:
            self._logins.append(LoginAttempt(identifier, account.did if account else None,
                                             outcome, now))

    def _refresh_session(self, request: SimpleNamespace) -> _Reply:
        account: FakeAccount = request.account
        jti = request.claims.get("jti")
        if not isinstance(jti, str):
            raise _XrpcError(401, "MissingTokenId", "Unexpected missing refresh token id")
        now = self.clock()
        with self._lock:
            stored = self._refresh_tokens.get(jti)
            if stored is None or stored.expires_at <= now:
                raise _invalid("Token has been revoked", "ExpiredToken")
            # Rotation: the old token lives on only for the grace period, and using
            # it again during the grace yields a token with the same next id.
            stored.expires_at = min(stored.expires_at, now + self.refresh_grace)
            stored.next_id = stored.next_id or _b64url(secrets.token_bytes(24))
            tokens = self._issue_tokens(account, stored.next_id)
            self._refreshes[account.did] = self._refreshes.get(account.did, 0) + 1
        return _Reply(200, {**tokens, **self._session_body(account)})

    def _get_session(self, request: SimpleNamespace) -> _Reply:
        return _Reply(200, self._session_body(request.account))

    def _delete_session(self, request: SimpleNamespace) -> _Reply:
        with self._lock:
            self._refresh_tokens.pop(str(request.claims.get("jti")), None)
        return _Reply(200, None)

    def _describe_server(self, request: SimpleNamespace) -> _Reply:
        return _Reply(200, {"did": self.service_did, "availableUserDomains": [HANDLE_DOMAIN],
                            "inviteCodeRequired": True, "phoneVerificationRequired": False,
                            "links": {}, "contact": {}})

    # ---------------------------------------------------------------- rate limits

    def _consume(self, request: SimpleNamespace, bucket: str, key: str, points: int) -> None:
        """Count ``points`` in ``bucket`` for ``key``; 429 once over its limit."""
        if bucket not in self.rate_limits:
            return
        limit, duration = self.rate_limits[bucket]
        now = self.clock()
        with self._lock:
            window = self._windows.get((bucket, key))
            if window is None or now >= window.start + duration:
                window = self._windows[(bucket, key)] = _Window(now)
            window.consumed += points
            status = (limit, limit - window.consumed, window.start + duration, duration)
        if window.consumed > limit:
            request.limits = []
            headers = self._limit_headers(status)
            headers["Retry-After"] = str(max(0, math.ceil(status[2] - now)))
            raise _XrpcError(429, headers=headers)
        request.limits.append(status)

    def _limit_headers(self, status: tuple[int, int, float, float]) -> dict[str, str]:
        limit, remaining, reset_at, duration = status
        return {"RateLimit-Limit": str(limit), "RateLimit-Remaining": str(max(0, remaining)),
                "RateLimit-Reset": str(int(reset_at)),
                "RateLimit-Policy": f"{limit};w={int(duration)}"}

    def _forced_rate_limit(self, request: SimpleNamespace, fault: _Fault) -> _Reply:
        buckets = {"com.atproto.server.createSession": "login",
                   "com.atproto.repo.createRecord": "repo-write-hour",
                   "com.atproto.repo.deleteRecord": "repo-write-hour",
                   "com.atproto.repo.uploadBlob": "upload-blob"}
        bucket = buckets.get(request.nsid, "global")
        limit, duration = self.rate_limits.get(bucket, DEFAULT_RATE_LIMITS[bucket])
        now = self.clock()
        reset_in = duration if fault.reset_in is None else fault.reset_in
        headers = self._limit_headers((limit, 0, now + reset_in, duration))
        headers["Retry-After"] = str(max(0, math.ceil(reset_in)))
        return _Reply(429, _XrpcError(429).body, headers)

    # ---------------------------------------------------------------- repository

    def _json_body(self, request: SimpleNamespace, required: Sequence[str],
                   limit: int = _JSON_LIMIT) -> dict[str, Any]:
        encoding = request.content_type.split(";")[0].strip().lower()
        if not request.body and not encoding:
            raise _invalid("Request encoding (Content-Type) required but not provided")
        if encoding != "application/json":
            raise _invalid(f"Wrong request encoding (Content-Type): {encoding}")
        if len(request.body) > limit:
            raise _XrpcError(413, "PayloadTooLarge", "request entity too large")
        if request.json is ... or not isinstance(request.json, dict):
            raise _invalid("Request body is not a JSON object")
        for key in required:
            if request.json.get(key) is None:
                raise _invalid(f'Missing required key "{key}" at $')
        return request.json

    def _next_tid(self) -> str:
        with self._lock:
            micros = max(int(self.clock() * 1_000_000), self._last_micros + 1)
            self._last_micros = micros
            return _tid(micros, self._clock_id)

    def _commit(self, did: str, cid: str) -> dict[str, str]:
        rev = self._next_tid()
        number = next(self._commits)
        return {"cid": _cid(0x71, _dag_cbor({"did": did, "rev": rev, "data": cid,
                                              "n": number})), "rev": rev}

    def _repo_account(self, request: SimpleNamespace, repo: Any) -> FakeAccount:
        account = self._find_account(repo) if isinstance(repo, str) else None
        if account is None:
            raise _XrpcError(403, "AccountNotFound", "Account not found")
        if account.did != request.account.did:
            raise _XrpcError(401)
        return account

    def _create_record(self, request: SimpleNamespace) -> _Reply:
        data = self._json_body(request, ("repo", "collection", "record"), _CREATE_JSON_LIMIT)
        account = self._repo_account(request, data["repo"])
        self._consume(request, "repo-write-hour", account.did, _CREATE_POINTS)
        self._consume(request, "repo-write-day", account.did, _CREATE_POINTS)
        collection = data["collection"]
        if not isinstance(collection, str) or not _NSID_RE.fullmatch(collection):
            raise _invalid(f"Invalid NSID (got {_show(collection)}) at $.collection")
        record = data["record"]
        if not isinstance(record, dict):
            raise _invalid(f"Expected object value type (got {_show(record)}) at $.record")
        if record.get("$type") is None:
            record = {**record, "$type": collection}
        elif record["$type"] != collection:
            raise _invalid(f"Invalid $type: expected {collection}, got {record['$type']}")
        rkey = data.get("rkey")
        if rkey is not None and (not isinstance(rkey, str) or not _RKEY_RE.fullmatch(rkey)
                                 or rkey in (".", "..")):
            raise _invalid(f"Invalid record key: {rkey}")
        rkey = rkey or self._next_tid()
        validate = data.get("validate")
        status: str | None = None
        if validate is not False:
            if collection != POST_COLLECTION:
                if validate is True:
                    raise _invalid(f"Unknown lexicon type: {collection}")
                status = "unknown"
            else:
                if not _TID_RE.fullmatch(rkey):
                    raise _invalid(f"Invalid record key for {POST_COLLECTION}: Invalid TID "
                                   f"string (got {_show(rkey)}) at $")
                try:
                    self._validate_post(record, "$.record")
                except _RecordInvalid as err:
                    raise _invalid(f"Invalid {POST_COLLECTION} record: {err.issue} at "
                                   f"{err.path}") from None
                status = "valid"
        uri = f"at://{account.did}/{collection}/{rkey}"
        try:
            cid = _cid(0x71, _dag_cbor(record))
        except (TypeError, ValueError) as err:
            raise _invalid(f"Bad record: {err}") from None
        with self._lock:
            if uri in self._live:
                # The repository's MST throws "There is already a value at key"; the
                # XRPC layer answers that as a detail-less 500.
                raise _XrpcError(500)
            self._check_blobs(account, record)
            if collection == POST_COLLECTION and self.check_replies and validate is not False:
                self._check_reply(record)
            stored = _Record(uri, account.did, collection, rkey, cid, record, self.clock(),
                             status)
            self._records.append(stored)
            self._live[uri] = stored
            commit = self._commit(account.did, cid)
        body: dict[str, Any] = {"uri": uri, "cid": cid, "commit": commit}
        if status is not None:
            body["validationStatus"] = status
        return _Reply(200, body)

    def _validate_post(self, record: dict[str, Any], path: str) -> None:
        """``app.bsky.feed.post``'s lexicon, plus the strict facet ranges."""
        text = _string(record, "text", path, max_bytes=self.max_text_bytes,
                       max_graphemes=self.max_graphemes)
        assert text is not None
        _string(record, "createdAt", path, fmt=("datetime", _DATETIME_RE))
        if record.get("langs") is not None:
            langs = record["langs"]
            _expect(langs, "array", f"{path}.langs")
            if len(langs) > 3:
                raise _RecordInvalid(f"array too big (maximum 3, got {len(langs)})",
                                     f"{path}.langs")
            for i, lang in enumerate(langs):
                _expect(lang, "string", f"{path}.langs[{i}]")
                if not _LANG_RE.fullmatch(lang):
                    raise _RecordInvalid(f"Invalid language (got {_show(lang)})",
                                         f"{path}.langs[{i}]")
        if record.get("facets") is not None:
            facets = record["facets"]
            _expect(facets, "array", f"{path}.facets")
            data = text.encode("utf-8")
            for i, facet in enumerate(facets):
                self._validate_facet(facet, data, f"{path}.facets[{i}]")
        if record.get("reply") is not None:
            reply = record["reply"]
            _expect(reply, "object", f"{path}.reply")
            _strong_ref(reply, "root", f"{path}.reply")
            _strong_ref(reply, "parent", f"{path}.reply")
        if record.get("embed") is not None:
            embed = record["embed"]
            _expect(embed, "object", f"{path}.embed")
            kind = embed.get("$type")
            if not isinstance(kind, str):
                raise _RecordInvalid('Expected an object which includes the "$type" property '
                                     f"value type (got {_show(embed)})", f"{path}.embed")
            if kind == "app.bsky.embed.images":
                self._validate_images(embed, f"{path}.embed")
            elif kind == "app.bsky.embed.recordWithMedia" and isinstance(
                    embed.get("media"), dict) and embed["media"].get(
                    "$type") == "app.bsky.embed.images":
                self._validate_images(embed["media"], f"{path}.embed.media")

    def _validate_facet(self, facet: Any, data: bytes, path: str) -> None:
        _expect(facet, "object", path)
        index = _require(facet, "index", path)
        _expect(index, "object", f"{path}.index")
        start = _integer(index, "byteStart", f"{path}.index", 0)
        end = _integer(index, "byteEnd", f"{path}.index", 0)
        features = _require(facet, "features", path)
        _expect(features, "array", f"{path}.features")
        for j, feature in enumerate(features):
            here = f"{path}.features[{j}]"
            _expect(feature, "object", here)
            kind = feature.get("$type")
            if not isinstance(kind, str):
                raise _RecordInvalid('Expected an object which includes the "$type" property '
                                     f"value type (got {_show(feature)})", here)
            if kind == "app.bsky.richtext.facet#link":
                _string(feature, "uri", here, fmt=("uri", _URI_RE))
            elif kind == "app.bsky.richtext.facet#mention":
                _string(feature, "did", here, fmt=("DID", _DID_RE))
            elif kind == "app.bsky.richtext.facet#tag":
                _string(feature, "tag", here, max_bytes=640, max_graphemes=64)
        if not self.strict_facets:
            return
        where = f"{path}.index"
        if start > end:
            raise _RecordInvalid(f"facet byte range [{start}, {end}) ends before it starts",
                                 where)
        if end > len(data):
            raise _RecordInvalid(f"facet byte range [{start}, {end}) lies outside the "
                                 f"text's {len(data)} UTF-8 bytes", where)
        for name, position in (("start", start), ("end", end)):
            if not _utf8_boundary(data, position):
                raise _RecordInvalid(f"facet byte range [{start}, {end}) does not {name} on a "
                                     "UTF-8 character boundary of the text", where)

    def _validate_images(self, embed: dict[str, Any], path: str) -> None:
        images = _require(embed, "images", path)
        _expect(images, "array", f"{path}.images")
        if len(images) > self.max_images:
            raise _RecordInvalid(f"array too big (maximum {self.max_images}, got "
                                 f"{len(images)})", f"{path}.images")
        for i, image in enumerate(images):
            here = f"{path}.images[{i}]"
            _expect(image, "object", here)
            blob = _require(image, "image", here)
            if not (isinstance(blob, dict) and blob.get("$type") == "blob"
                    and _blob_cid(blob) and isinstance(blob.get("mimeType"), str)
                    and isinstance(blob.get("size"), int)):
                raise _RecordInvalid(f"Expected blob value type (got {_show(blob)})",
                                     f"{here}.image")
            if not blob["mimeType"].startswith("image/"):
                raise _RecordInvalid(f'Expected "image/*" (got {_show(blob["mimeType"])})',
                                     f"{here}.image.mimeType")
            if blob["size"] > self.max_image_bytes:
                raise _RecordInvalid(f"blob too big (maximum {self.max_image_bytes}, got "
                                     f"{blob['size']})", f"{here}.image")
            _string(image, "alt", here)
            if image.get("aspectRatio") is not None:
                ratio = image["aspectRatio"]
                _expect(ratio, "object", f"{here}.aspectRatio")
                _integer(ratio, "width", f"{here}.aspectRatio", 1)
                _integer(ratio, "height", f"{here}.aspectRatio", 1)

    def _check_blobs(self, account: FakeAccount, record: dict[str, Any]) -> None:
        """Every blob the record references must be this account's upload, as described."""
        for blob in _find_blobs(record):
            cid = _blob_cid(blob) or ""
            found = self._blobs.get((account.did, cid))
            if found is None:
                raise _invalid(f"Could not find blob: {cid}", "BlobNotFound")
            if blob.get("mimeType") != found.mime_type:
                raise _invalid("Referenced Mimetype does not match stored blob. Expected: "
                               f"{found.mime_type}, Got: {blob.get('mimeType')}",
                               "InvalidMimeType")
            if blob.get("size") != found.size:
                raise _invalid("Referenced Size does not match stored blob. Expected: "
                               f"{found.size}, Got: {blob.get('size')}", "InvalidSize")

    def _check_reply(self, record: dict[str, Any]) -> None:
        reply = record.get("reply")
        if not isinstance(reply, dict):
            return
        refs: dict[str, _Record] = {}
        for key in ("root", "parent"):
            uri, cid = reply[key]["uri"], reply[key]["cid"]
            found = self._live.get(uri)
            where = f"$.record.reply.{key}"
            if found is None:
                raise _invalid(f"Invalid {POST_COLLECTION} record: reply {key} {uri} is not a "
                               f"stored post at {where}")
            if found.cid != cid:
                raise _invalid(f"Invalid {POST_COLLECTION} record: reply {key} {uri} has CID "
                               f"{found.cid}, not {cid} at {where}")
            refs[key] = found
        parent_reply = refs["parent"].value.get("reply")
        expected_root = (parent_reply.get("root", {}).get("uri")
                         if isinstance(parent_reply, dict) else refs["parent"].uri)
        if reply["root"]["uri"] != expected_root:
            raise _invalid(f"Invalid {POST_COLLECTION} record: reply root "
                           f"{reply['root']['uri']} is not the root of the parent's thread "
                           f"({expected_root}) at $.record.reply.root")

    def _get_record(self, request: SimpleNamespace) -> _Reply:
        q = request.query
        for key in ("repo", "collection", "rkey"):
            if not q.get(key):
                raise _invalid(f'Missing required key "{key}" at $')
        account = self._find_account(q["repo"])
        if account is None:
            raise _invalid("Could not locate record")
        uri = f"at://{account.did}/{q['collection']}/{q['rkey']}"
        with self._lock:
            found = self._live.get(uri)
        if found is None or (q.get("cid") and q["cid"] != found.cid):
            raise _invalid(f"Could not locate record: {uri}", "RecordNotFound")
        return _Reply(200, {"uri": uri, "cid": found.cid, "value": found.value})

    def _list_records(self, request: SimpleNamespace) -> _Reply:
        """Newest record key first (``reverse=true``: oldest first), ``limit`` 1-100
        (default 50), ``cursor`` the last record key seen."""
        q = request.query
        for key in ("repo", "collection"):
            if not q.get(key):
                raise _invalid(f'Missing required key "{key}" at $')
        account = self._find_account(q["repo"])
        if account is None:
            raise _invalid(f"Could not find repo: {q['repo']}")
        try:
            limit = int(q.get("limit") or 50)
        except ValueError:
            raise _invalid("Invalid limit") from None
        if not 1 <= limit <= 100:
            raise _invalid(f"integer out of range (1..100, got {limit}) at $.limit")
        reverse = q.get("reverse") == "true"
        with self._lock:
            found = sorted((r for r in self._live.values()
                            if r.did == account.did and r.collection == q["collection"]),
                           key=lambda r: r.rkey, reverse=not reverse)
        cursor = q.get("cursor")
        if cursor:
            found = [r for r in found if (r.rkey > cursor if reverse else r.rkey < cursor)]
        page = found[:limit]
        body: dict[str, Any] = {"records": [{"uri": r.uri, "cid": r.cid, "value": r.value}
                                            for r in page]}
        if page:
            body["cursor"] = page[-1].rkey
        return _Reply(200, body)

    def _delete_record(self, request: SimpleNamespace) -> _Reply:
        data = self._json_body(request, ("repo", "collection", "rkey"))
        account = self._repo_account(request, data["repo"])
        self._consume(request, "repo-write-hour", account.did, _DELETE_POINTS)
        self._consume(request, "repo-write-day", account.did, _DELETE_POINTS)
        uri = f"at://{account.did}/{data['collection']}/{data['rkey']}"
        with self._lock:
            found = self._live.get(uri)
            if found is None:
                return _Reply(200, {})  # the PDS: a no-op if the record does not exist
            swap = data.get("swapRecord")
            if swap is not None and swap != found.cid:
                raise _invalid(f"Record was at {found.cid}", "InvalidSwap")
            found.deleted = True
            del self._live[uri]
            commit = self._commit(account.did, found.cid)
        return _Reply(200, {"commit": commit})

    def _upload_blob(self, request: SimpleNamespace) -> _Reply:
        account: FakeAccount = request.account
        self._consume(request, "upload-blob", account.did, 1)
        data: bytes = request.body
        if len(data) > self.max_blob_bytes:
            raise _invalid(f"This file is too large. It is {_human_bytes(len(data))} but the "
                           f"maximum size is {_human_bytes(self.max_blob_bytes)}.",
                           "BlobTooLarge")
        declared = request.content_type.split(";")[0].strip().lower()
        fallback = declared if re.fullmatch(r"[a-z]+/[a-z0-9.+-]+", declared) else (
            "application/octet-stream")
        mime_type = sniff_media_type(data) or fallback
        cid = _cid(0x55, data)
        blob = StoredBlob(cid, account.did, mime_type, len(data), data, self.clock())
        with self._lock:
            self._blobs.setdefault((account.did, cid), blob)
        return _Reply(200, {"blob": {"$type": "blob", "ref": {"$link": cid},
                                     "mimeType": mime_type, "size": len(data)}})

    # ---------------------------------------------------------------- identity

    def _resolve_handle(self, request: SimpleNamespace) -> _Reply:
        handle = (request.query.get("handle") or "").lower()
        if not handle:
            raise _invalid('Missing required key "handle" at $')
        if not _HANDLE_RE.fullmatch(handle):
            raise _invalid("Handle too short or invalid", "InvalidHandle")
        account = self._find_account(handle)
        if account is not None:
            return _Reply(200, {"did": account.did})
        if handle.endswith(HANDLE_DOMAIN):
            raise _invalid("Unable to resolve handle", "HandleNotFound")
        raise _invalid("Unable to resolve handle")

    def _get_profile(self, request: SimpleNamespace) -> _Reply:
        actor = request.query.get("actor")
        if not actor:
            raise _invalid('Missing required key "actor" at $')
        account = self._find_account(actor)
        if account is None:
            raise _invalid("Profile not found")
        with self._lock:
            count = sum(1 for r in self._live.values()
                        if r.did == account.did and r.collection == POST_COLLECTION)
        return _Reply(200, {
            "did": account.did, "handle": account.handle, "displayName": account.display_name,
            "description": "", "followersCount": 0, "followsCount": 0, "postsCount": count,
            "indexedAt": account.created_at, "createdAt": account.created_at, "labels": [],
        })


def _find_blobs(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if value.get("$type") == "blob":
            yield value
            return
        for item in value.values():
            yield from _find_blobs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _find_blobs(item)


class _Server(ThreadingHTTPServer):
    """Quiet about clients that hang up: timeouts and drops are what tests provoke."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Routes every method to ``FakeBluesky._handle``; ``fake`` is bound per server."""

    fake: FakeBluesky
    protocol_version = "HTTP/1.1"  # keep-alive, so a drop looks like "sent, no answer"
    wbufsize = -1
    disable_nagle_algorithm = True
    server_version = "FakeBlueskyPDS"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.fake._handle(self, "GET")

    def do_POST(self) -> None:  # noqa: N802
        self.fake._handle(self, "POST")

    def do_PUT(self) -> None:  # noqa: N802
        self.fake._handle(self, "PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self.fake._handle(self, "DELETE")

    def date_time_string(self, timestamp: float | None = None) -> str:
        return email.utils.formatdate(self.fake.clock() if timestamp is None else timestamp,
                                      usegmt=True)

    def send(self, reply: _Reply) -> None:
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status, _REASONS.get(reply.status))
            if reply.body is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timed out in a delay)

    def drop(self) -> None:
        """Close the connection without writing a single byte of response."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the log is FakeBluesky.requests


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m threadbot.testing.fake_bluesky``: serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m threadbot.testing.fake_bluesky",
        description="Run a fake Bluesky PDS on 127.0.0.1 for offline rehearsals.")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument("--user", action="append", default=None,
                        help="handle of a fake account, e.g. me.test (repeat for several; "
                             "a name without a dot gets .test)")
    parser.add_argument("--access-ttl", type=float, default=2 * 60 * 60,
                        help="seconds an access token lives (default 7200)")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="milliseconds added to every request")
    args = parser.parse_args(argv)

    handles = [FakeBluesky.rehearsal_handle(u) for u in args.user or ["threadbot.test"]]
    fake = FakeBluesky(port=args.port, accounts=handles, access_ttl=args.access_ttl,
                       latency=args.latency_ms / 1000)
    fake.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"fake Bluesky PDS listening on {fake.base_url}", flush=True)
    print(f"base_url: {fake.base_url}")
    print("These app passwords are fake and only work against this server:")
    for account in fake.accounts:
        print(f"\n  {account.handle} ({account.did}), as a line for config/.env:")
        print(f"    BLUESKY_APP_PASSWORD={account.app_password}")
        print(f"  and in config/threadbot.yaml, on the account: handle: {account.handle}")
    print(f"\nand on the account: api_base_url: {fake.base_url}")
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
