"""The Bluesky client: post, reply, upload images with alt text, read and delete posts.

Built on the AT Protocol SDK ``atproto`` (``pip install 'threadbot[bluesky]'``), it
talks XRPC to one account's PDS (``https://bsky.social`` unless the account says
otherwise), signed in with the account's handle and an *app password*. Every
failure becomes a :class:`~threadbot.platforms.errors.PlatformError` subclass
whose message names the server, says what happened and what to do, and never
holds the app password or a session token.

Posts are ``app.bsky.feed.post`` records created with
``com.atproto.repo.createRecord`` under the record key the publisher chose for
the post (its idempotency key, a TID): a second attempt at the same post cannot
make a second record, and the uncertain case is settled by reading that very key.

Rich text follows the Bluesky app (``bluesky-social/social-app``): links (with or
without ``https://``), ``#tags``, ``$cashtags`` and ``@mentions`` are found with the
rules of ``detectFacets`` in ``@atproto/api`` (``packages/api/src/rich-text``),
mentions are resolved to DIDs, and every link written with its scheme is shown
shortened like the app's ``shortenLinks``/``toShortUrl``
(``src/lib/strings/url-helpers.ts``): the host, then the path, query and fragment,
cut to 13 characters followed by ``...`` when they are longer than 15. Facet
offsets are UTF-8 byte offsets into the text as posted.

The session (access and refresh tokens) is kept in
``STATE_DIR/threadbot-session-ACCOUNT.json`` (mode 0600) and reused by every
process; it is refreshed, or signed in again, under an exclusive lock on
``threadbot-session-ACCOUNT.lock`` beside it, so that two processes never rotate
the refresh token at once.

SDK facts this module relies on (checked against atproto 0.0.73):

* Requests go through ``atproto_client.request.Request`` (``httpx``). A non-2xx
  answer raises with ``.response`` (``status_code``, lower-cased ``headers``,
  ``content``: an ``XrpcError`` with ``error`` and ``message``): 401/403
  ``UnauthorizedError``, 400 ``BadRequestError``, 429 ``RateLimitExceededError``,
  409/413/502 ``NetworkError`` (with a response!), anything else
  ``RequestException``. Transport failures raise ``NetworkError`` or
  ``InvokeTimeoutError`` with no response and the ``httpx`` exception as
  ``__cause__``; ``httpx`` errors it does not know (``RemoteProtocolError``,
  ``ProxyError``, ...) come through unwrapped.
* Before every request ``Client._invoke`` refreshes the session when the access
  token's ``exp`` is less than 15 minutes away, by the local clock, through
  ``_refresh_and_set_session``; :class:`_SessionClient` routes that through the
  lock here and scales the margin to short-lived tokens. The server's own
  ``400 ExpiredToken`` (clocks disagree) is handled here by refreshing and
  sending once more.
* ``on_session_change`` fires on ``CREATE``, ``REFRESH`` and ``IMPORT`` with a copy
  of the session; ``CREATE`` and ``REFRESH`` are saved.
* A PDS answers ``500 InternalServerError`` to ``createRecord`` under a record key
  that is already taken (bluesky-social/atproto#3718): that answer, like 400 and
  409, makes :meth:`BlueskyClient.create_post` read the key before failing.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import ipaddress
import json
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..counting._bluesky import Span as _Span
from ..counting._bluesky import ada_url, display_text, render, shorten_url
from ..errors import ConfigError, MediaError
from .base import (
    _TID_ALPHABET,
    Allowance,
    Identity,
    Limits,
    PlatformClient,
    PlatformSpec,
    PostOptions,
    PostRef,
    RemotePost,
)
from .errors import (
    AuthError,
    BadRequestError,
    NetworkError,
    PlatformError,
    RateLimitedError,
    RejectedError,
    ServerError,
    UncertainError,
)

try:
    import httpx
    from atproto_client import Client, models
    from atproto_client import exceptions as sdk_errors
    from atproto_client.client.session import Session, SessionEvent
    from atproto_client.models.utils import get_model_as_dict
    from atproto_client.request import Request
    from atproto_core.exceptions import AtProtocolError
except ImportError:  # the `bluesky` extra is not installed: previews still work
    Client = None  # type: ignore[assignment,misc]

    class AtProtocolError(Exception):  # type: ignore[no-redef]
        """Stands in for the SDK's errors when it is not installed."""

    class Request:  # type: ignore[no-redef]
        """Stands in for the SDK's request class when it is not installed."""

__all__ = ["DEFAULT_LIMITS", "SPEC", "BlueskyClient", "display_text", "prepare_image",
           "record_key", "shorten_url"]

PLATFORM = "bluesky"
DEFAULT_API_BASE_URL = "https://bsky.social"
POST_COLLECTION = "app.bsky.feed.post"
#: The largest image blob ``app.bsky.embed.images`` takes.
MAX_IMAGE_BYTES = 1_000_000
DEFAULT_LIMITS = Limits(
    max_characters=300,
    characters_reserved_per_url=None,
    max_media=4,
    max_image_bytes=MAX_IMAGE_BYTES,
    max_gif_bytes=MAX_IMAGE_BYTES,
    media_types=("image/png", "image/jpeg", "image/webp"),
    max_alt=2000,
)
APP_PASSWORDS_PAGE = "https://bsky.app/settings/app-passwords"
APP_PASSWORDS_WHERE = "Settings → Privacy and security → App passwords"
# What the Bluesky app creates: four groups of four lower-case letters and digits.
APP_PASSWORD_SHAPE = re.compile(r"[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}")
# A createRecord costs 3 points of the PDS's write budget (5,000 an hour, 35,000 a
# day); ``ratelimit-remaining`` of its answer counts points when that is the tightest.
POINTS_PER_POST = 3
# Error names meaning "this session's tokens are no good" (the PDS's auth verifier).
_TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})
#: Where posts are seen on the web, whatever PDS holds them.
WEB_APP_URL = "https://bsky.app"


# ================================================================== images


def _require_pillow() -> Any:
    try:
        from PIL import Image, ImageOps
    except ImportError:
        import sys

        raise ConfigError(
            "attaching images to Bluesky posts needs the Pillow library (to remove location "
            "data and fit them under 1,000,000 bytes), which is not installed. Install it "
            f"with: {sys.executable} -m pip install Pillow") from None
    return Image, ImageOps


_IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
_ORIENTATION = 0x0112
_JPEG_QUALITIES = (90, 82, 74, 66, 58, 50)
# Bluesky's app scales images to at most 2,000 pixels a side before uploading.
_MAX_SIDE = 2000


def prepare_image(path: str | Path) -> tuple[bytes, str, int, int, bool]:
    """An image ready for Bluesky: ``(data, mime_type, width, height, resized)``.

    Metadata that can tell where a photo was taken (EXIF, GPS included; XMP; IPTC;
    comments; PNG text chunks) is always removed, losslessly when the pixels need not
    change. Of a multi-picture JPEG (MPO, a gain map, a motion photo) only the primary
    image is sent: the others, with their own EXIF, are left out.
    An image rotated by its EXIF orientation is turned upright first (then
    re-encoded). One larger than 1,000,000 bytes is scaled to at most 2,000 pixels a
    side, then re-encoded at falling quality (JPEG, WEBP; a PNG without transparency
    becomes a JPEG) and scaled down further until it fits; ``resized`` says so.
    ``width`` and ``height`` are those of the image as sent (for ``aspectRatio``).

    Raises ``MediaError`` (naming the file) when it cannot be read, is not a PNG, JPEG
    or WEBP image, or cannot be made small enough; ``ConfigError`` without Pillow.
    """
    from ..media import read_image

    path = Path(path)
    data = read_image(path)
    kind = _sniff(data)
    if kind == "GIF":
        raise MediaError("is a GIF, which Bluesky does not take as an image. Convert it to "
                         "PNG or JPEG, or remove it.", path=str(path))
    if kind is None:
        raise MediaError("is not a PNG, JPEG or WEBP image. Convert it, or remove it.",
                         path=str(path))
    image_module, image_ops = _require_pillow()
    try:
        with image_module.open(io.BytesIO(data)) as opened:
            opened.load()
            orientation = opened.getexif().get(_ORIENTATION, 1)
            image = image_ops.exif_transpose(opened) if orientation not in (None, 1) \
                else opened.copy()
    except (OSError, ValueError, SyntaxError, image_module.DecompressionBombError) as err:
        raise MediaError(f"could not be read as an image ({err}). Check the file, or "
                         "convert it.", path=str(path)) from None
    if orientation in (None, 1):
        stripped = _strip_metadata(data, kind)
        if stripped is not None and len(stripped) <= MAX_IMAGE_BYTES and \
                not _has_metadata(image_module, stripped, kind):
            return stripped, _IMAGE_TYPES[kind], image.width, image.height, False
    # Turned upright, or metadata the stripper could not remove, or too large: encode anew.
    return _fit(image, kind, path, faithful_first=len(data) <= MAX_IMAGE_BYTES)


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _has_metadata(image_module: Any, data: bytes, kind: str) -> bool:
    """Whether stripped ``data`` still shows metadata, or more than one image, in any
    way (then it is encoded anew)."""
    if kind == "JPEG":
        try:  # one image, ending at the end, of segments that all stay
            if _strip_jpeg(data) != data:
                return True
        except (IndexError, ValueError):
            return True
    try:
        with image_module.open(io.BytesIO(data)) as image:
            return bool(image.getexif()) or "xmp" in image.info or \
                (kind == "JPEG" and getattr(image, "n_frames", 1) != 1)
    except Exception:  # noqa: BLE001 - unreadable after stripping: re-encode instead
        return True


def _strip_metadata(data: bytes, kind: str) -> bytes | None:
    """``data`` without metadata chunks and with the pixels untouched, or ``None`` when
    the file's structure is not as expected."""
    try:
        if kind == "JPEG":
            return _strip_jpeg(data)
        if kind == "PNG":
            return _strip_png(data)
        return _strip_webp(data)
    except (IndexError, ValueError):
        return None


def _strip_jpeg(data: bytes) -> bytes | None:
    """The primary image of a JPEG file with only the segments that make its pixels and
    colours: everything after its end (EOI) goes, which is where a multi-picture file
    (MPO, a gain map, a motion photo's video) keeps its other images and their EXIF.
    ``None`` when the structure is not as expected (the caller then encodes anew)."""
    out = bytearray(b"\xff\xd8")
    at = 2
    scanned = False
    while True:
        if data[at] != 0xFF:
            return None
        while data[at] == 0xFF:  # fill bytes may precede a marker
            at += 1
        marker = data[at]
        at += 1
        if marker == 0xD9:  # end of image: of the primary one, which is all that is sent
            if not scanned:
                return None
            out += b"\xff\xd9"
            return bytes(out)
        if marker in (0x00, 0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            return None  # not where a segment should start
        length = int.from_bytes(data[at:at + 2], "big")
        if length < 2 or at + length > len(data):
            return None
        if _keep_jpeg_segment(marker, data[at + 2:at + length]):
            out += bytes((0xFF, marker)) + data[at:at + length]
        at += length
        if marker == 0xDA:  # start of scan: its compressed pixels run to the next marker
            end = _jpeg_scan_end(data, at)
            if end is None:
                return None
            out += data[at:end]
            at = end
            scanned = True


def _keep_jpeg_segment(marker: int, payload: bytes) -> bool:
    """Whether a segment stays: JFIF (APP0), an ICC profile (APP2) and Adobe's colour
    transform (APP14) do, like every segment that is not metadata; EXIF and XMP (APP1),
    the multi-picture index (APP2 ``MPF``), IPTC (APP13), any other APPn and comments
    go."""
    if marker == 0xFE:
        return False
    if 0xE0 <= marker <= 0xEF:
        return (marker == 0xE0 and payload.startswith(b"JFIF\0")) or \
            (marker == 0xE2 and payload.startswith(b"ICC_PROFILE\0")) or \
            (marker == 0xEE and payload.startswith(b"Adobe"))
    return True


def _jpeg_scan_end(data: bytes, at: int) -> int | None:
    """Where the entropy-coded data starting at ``at`` ends: at the first marker, which
    is 0xFF followed by neither 0x00 (a stuffed 0xFF byte) nor a restart marker
    (0xD0-0xD7), so it cannot be an EOI (0xFFD9) inside the data."""
    while True:
        at = data.find(b"\xff", at)
        if at < 0 or at + 1 >= len(data):
            return None
        following = data[at + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            at += 2
        elif following == 0xFF:  # a fill byte: the marker comes after
            at += 1
        else:
            return at


def _strip_png(data: bytes) -> bytes | None:
    out = bytearray(data[:8])
    at = 8
    while at + 12 <= len(data):
        length = int.from_bytes(data[at:at + 4], "big")
        kind = data[at + 4:at + 8]
        end = at + 12 + length
        if end > len(data):
            return None
        if kind not in (b"eXIf", b"tEXt", b"zTXt", b"iTXt"):
            out += data[at:end]
        at = end
        if kind == b"IEND":
            return bytes(out)
    return None


def _strip_webp(data: bytes) -> bytes | None:
    body = bytearray(b"WEBP")
    at = 12
    while at + 8 <= len(data):
        kind = data[at:at + 4]
        length = int.from_bytes(data[at + 4:at + 8], "little")
        end = at + 8 + length + (length & 1)
        if at + 8 + length > len(data):
            return None
        chunk = bytearray(data[at:min(end, len(data))])
        if kind == b"VP8X" and length >= 1:
            chunk[8] &= ~0x0C & 0xFF  # no EXIF (0x08), no XMP (0x04)
        if kind not in (b"EXIF", b"XMP "):
            body += chunk
        at = end
    return b"RIFF" + len(body).to_bytes(4, "little") + bytes(body)


def _fit(image: Any, kind: str, path: Path, *,
         faithful_first: bool) -> tuple[bytes, str, int, int, bool]:
    """Re-encode ``image`` (already upright) without metadata: first at its size and
    near its quality when ``faithful_first`` (it fitted before), else (or when that is
    too large) as much smaller as needed."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info)
    icc = image.info.get("icc_profile")
    if faithful_first:
        data = _encode(image, kind, 95, icc)
        if len(data) <= MAX_IMAGE_BYTES:
            return data, _IMAGE_TYPES[kind], image.width, image.height, False
    target = kind if kind != "PNG" or has_alpha else "JPEG"
    if max(image.size) > _MAX_SIDE:
        image = _scaled(image, _MAX_SIDE / max(image.size))
    while True:
        if target == "PNG":
            data = _encode(image, "PNG", 0, icc)
            if len(data) <= MAX_IMAGE_BYTES:
                return data, "image/png", image.width, image.height, True
        else:
            for quality in _JPEG_QUALITIES:
                data = _encode(image, target, quality, icc)
                if len(data) <= MAX_IMAGE_BYTES:
                    return data, _IMAGE_TYPES[target], image.width, image.height, True
        if max(image.size) <= 64:
            raise MediaError("could not be made smaller than 1,000,000 bytes. Resize or "
                             "compress it.", path=str(path))
        image = _scaled(image, 0.75)


def _scaled(image: Any, factor: float) -> Any:
    from PIL import Image

    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _encode(image: Any, kind: str, quality: int, icc: bytes | None) -> bytes:
    buffer = io.BytesIO()
    extra = {"icc_profile": icc} if icc else {}
    if kind == "JPEG":
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
        # ``comment=b""``: Pillow would copy the original's comment (COM) otherwise.
        image.save(buffer, "JPEG", quality=quality, optimize=True, comment=b"", **extra)
    elif kind == "WEBP":
        image.save(buffer, "WEBP", quality=quality, method=4, **extra)
    else:
        image.save(buffer, "PNG", optimize=True, **extra)
    return buffer.getvalue()


# ================================================================== record keys

_TID = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")


def record_key(idempotency_key: str) -> str:
    """The record key of the post sent with ``idempotency_key``: the key itself when it
    is a TID (https://atproto.com/specs/tid), else a TID made from its SHA-256 (the
    same key always gives the same record key)."""
    if _TID.fullmatch(idempotency_key):
        return idempotency_key
    value = int.from_bytes(hashlib.sha256(idempotency_key.encode("utf-8")).digest()[:8],
                           "big") >> 1
    chars = []
    for _ in range(13):
        chars.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _rkey_of(uri: str | None) -> str | None:
    if not uri or not uri.startswith("at://"):
        return None
    parts = uri[5:].split("/")
    return parts[2] if len(parts) >= 3 else None


# ================================================================== helpers


def _base_url(api_base_url: str | None) -> str:
    url = (api_base_url or DEFAULT_API_BASE_URL).strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        url = "https://" + url
    return url.removesuffix("/xrpc")


def _host(api_base_url: str) -> str:
    parts = urlsplit(api_base_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    default = {"https": ":443", "http": ":80"}.get(parts.scheme)
    return host.removesuffix(default) if default else host


def _is_loopback(api_base_url: str) -> bool:
    """Whether the server is on this machine (127.0.0.0/8, ``localhost``, ``::1``): a
    fake, never a real PDS."""
    host = (urlsplit(api_base_url).hostname or "").lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _normal_handle(handle: str | None) -> str:
    return (handle or "").strip().lstrip("@").lower()


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


def _now_iso(clock: Callable[[], float]) -> str:
    moment = datetime.fromtimestamp(clock(), UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed).astimezone(UTC)


def _as_dict(value: Any) -> dict[str, Any]:
    """A record's value (an SDK model, a ``DotDict`` or a dict) as a plain dict."""
    if isinstance(value, dict):
        return value
    try:
        result = get_model_as_dict(value)
    except Exception:  # noqa: BLE001 - anything unreadable is an empty record
        return {}
    return result if isinstance(result, dict) else {}


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _reset_at(headers: Mapping[str, str] | None) -> datetime | None:
    seconds = _int((headers or {}).get("ratelimit-reset"))
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _policy_window(headers: Mapping[str, str]) -> float:
    """The window in seconds of ``ratelimit-policy`` (``5000;w=3600``), 0 when unknown."""
    match = re.search(r";\s*w=(\d+)", headers.get("ratelimit-policy") or "")
    return float(match.group(1)) if match else 0.0


# ------------------------------------------------------------ httpx: sent or not


def _httpx_was_sent(err: BaseException) -> bool:
    """Whether a request that failed with this ``httpx`` error may have reached the
    server (``False`` only when it surely did not: DNS, refused, connect timeout, TLS,
    proxy, waiting for a pooled connection, a malformed request)."""
    if isinstance(err, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
                  | httpx.ProxyError | httpx.UnsupportedProtocol | httpx.LocalProtocolError
                  | httpx.InvalidURL):
        return False
    return True


def _httpx_reason(err: BaseException) -> str:
    """Why the request could not be sent, in a few words for a message."""
    said = str(err)
    if isinstance(err, httpx.ConnectTimeout):
        return "the connection timed out"
    if isinstance(err, httpx.PoolTimeout):
        return "no connection became free in time"
    if isinstance(err, httpx.ProxyError):
        return "the proxy failed"
    if isinstance(err, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return "the address is not a valid URL"
    if "SSL" in said or "CERTIFICATE" in said.upper():
        return "the secure (TLS) connection failed"
    if any(text in said for text in ("Name or service not known", "nodename nor servname",
                                      "Temporary failure in name resolution", "getaddrinfo")):
        return "the host name could not be resolved"
    if "refused" in said.lower():
        return "the connection was refused (is the server at that address running?)"
    return type(err).__name__


# ================================================================== the session file


@dataclass(frozen=True)
class _Saved:
    """A session as kept on disk (never shown: no secrets in its repr)."""

    service: str
    login: str
    handle: str
    did: str
    access_jwt: str
    refresh_jwt: str
    pds: str | None

    def __repr__(self) -> str:
        return f"_Saved(service={self.service!r}, handle={self.handle!r})"

    def session_string(self) -> str:
        return Session(self.handle, self.did, self.access_jwt, self.refresh_jwt,
                       self.pds or self.service).encode()


class _SessionFile:
    """``threadbot-session-ACCOUNT.json`` (mode 0600, replaced atomically) and the lock
    file beside it. ``path`` is ``None`` when there is no folder to keep it in."""

    def __init__(self, state_dir: str | Path | None, account: str, service: str,
                 login: str) -> None:
        self.service = service
        self.login = login
        self._depth = 0  # how deep this object already holds the lock
        if state_dir is None:
            self.path = self.lock_path = None
        else:
            name = account if re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", account or "") else \
                hashlib.sha256((account or "").encode("utf-8")).hexdigest()[:16]
            self.path = Path(state_dir) / f"threadbot-session-{name}.json"
            self.lock_path = Path(state_dir) / f"threadbot-session-{name}.lock"

    def load(self) -> _Saved | None:
        """The saved session, if there is one for this handle on this server."""
        if self.path is None:
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        try:
            saved = _Saved(service=str(data["service"]), login=str(data["login"]),
                           handle=str(data["handle"]), did=str(data["did"]),
                           access_jwt=str(data["access_jwt"]),
                           refresh_jwt=str(data["refresh_jwt"]),
                           pds=str(data["pds"]) if data.get("pds") else None)
        except KeyError:
            return None
        if saved.service != self.service or _normal_handle(saved.login) != self.login:
            return None  # another account's, or another server's
        return saved

    def save(self, session: Session) -> None:
        if self.path is None:
            return
        data = {"service": self.service, "login": self.login, "handle": session.handle,
                "did": session.did, "access_jwt": session.access_jwt,
                "refresh_jwt": session.refresh_jwt, "pds": session.pds_endpoint,
                "saved_at": datetime.now(UTC).isoformat(timespec="seconds")}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp",
                                             dir=self.path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                os.fchmod(file.fileno(), 0o600)
                json.dump(data, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive lock (blocking) of this account's session."""
        if self.lock_path is None or self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        import fcntl

        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX)
                    break
                except OSError as err:  # interrupted by a signal: wait again
                    if err.errno != errno.EINTR:
                        raise
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
        finally:
            os.close(descriptor)  # closing releases the lock


# ================================================================== SDK plumbing


class _Request(Request):  # type: ignore[misc,valid-type]
    """The SDK's HTTP layer, remembering the rate-limit headers of the last answer to a
    post (``com.atproto.repo.createRecord``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate_headers: dict[str, str] | None = None

    def _send_request(self, method: str, url: str, **kwargs: Any) -> Any:
        response = super()._send_request(method, url, **kwargs)
        if url.endswith("/com.atproto.repo.createRecord"):
            headers = {key.lower(): value for key, value in response.headers.items()}
            if "ratelimit-remaining" in headers or "ratelimit-reset" in headers:
                self.rate_headers = headers
        return response


@cache
def _session_client_class() -> type:
    class _SessionClient(Client):  # type: ignore[misc,valid-type]
        """``Client`` whose token refresh goes through threadbot (lock, session file) and
        whose clock can be set."""

        def __init__(self, base_url: str, *, request: Any, clock: Callable[[], float],
                      renew: Callable[[], None]) -> None:
            super().__init__(base_url, request=request)
            self._clock = clock
            self._renew = renew

        def get_current_time(self) -> datetime:
            return datetime.fromtimestamp(self._clock(), UTC)

        def _should_refresh_session(self) -> bool:
            try:
                payload = self._session.access_jwt_payload if self._session else None
            except Exception:  # noqa: BLE001 - a token that cannot be read: get another
                return True
            if payload is None or not payload.exp:
                return True
            lifetime = payload.exp - payload.iat if payload.iat else 3600
            margin = min(15 * 60, max(0, lifetime) / 4)  # 15 minutes, less for short tokens
            return self._clock() > payload.exp - margin

        def _refresh_and_set_session(self) -> Any:
            self._renew()

        def refresh_now(self) -> Any:
            return Client._refresh_and_set_session(self)

    return _SessionClient


# ================================================================== errors


class _Errors:
    """Turns the SDK's exceptions into threadbot's, for one server and account."""

    def __init__(self, api_base_url: str, timeout: float, account: str | None,
                 hidden: Callable[[], Sequence[str]]) -> None:
        self.host = _host(api_base_url)
        self.timeout = timeout
        self.account = account
        # Secrets that must never appear in a message, should a server's text quote them.
        self._hidden = hidden

    def _clean(self, text: str | None) -> str | None:
        if not text:
            return text
        for secret in self._hidden():
            if secret:
                text = text.replace(secret, "[hidden]")
        return text

    def login_hint(self) -> str:
        name = self.account or "NAME"
        return (f"run `threadbot accounts login {name}` and give it a new app password "
                f"(create one in Bluesky under {APP_PASSWORDS_WHERE}; never use your main "
                "password), then `threadbot accounts check`")

    def translate(self, err: BaseException, action: str, *, write: bool,
                  thing: str) -> PlatformError:
        if isinstance(err, PlatformError):
            return err
        if isinstance(err, httpx.HTTPError):  # not wrapped by the SDK
            return self.network(err, action, write=write)
        if isinstance(err, sdk_errors.RequestErrorBase):
            response = err.response
            if response is None:
                cause = err.__cause__ or err.__context__
                if isinstance(cause, httpx.HTTPError):
                    return self.network(cause, action, write=write)
                return self.no_answer(action, "the connection failed", write=write)
            name, message = _xrpc_error(response)
            return self.from_status(response.status_code, name, message, action,
                                    write=write, thing=thing, headers=response.headers)
        if isinstance(err, sdk_errors.LoginRequiredError):
            return AuthError(
                f"threadbot is not signed in to Bluesky at {self.host}, so it could not "
                f"{action}: {self.login_hint()}.", platform=PLATFORM)
        # ModelError, a pydantic ValidationError: an answer that could not be read.
        return self.unreadable(action, write=write)

    def from_status(self, status: int, name: str | None, message: str | None, action: str, *,
                    write: bool, thing: str,
                    headers: Mapping[str, str] | None = None) -> PlatformError:
        message = self._clean(message)
        detail = ": ".join(part for part in (name, message) if part) or None
        said = f" It said: {message.rstrip('.')}." if message else (
            f" It said: {name}." if name else "")
        if status == 401 or (status == 400 and name in _TOKEN_ERRORS):
            if name == "AccountTakedown":
                return AuthError(
                    f"Bluesky at {self.host} says the account{self._who()} has been taken "
                    f"down, so threadbot cannot {action}.{said}",
                    platform=PLATFORM, status=status, detail=detail)
            return AuthError(
                f"Bluesky at {self.host} did not accept the sign-in{self._who()} "
                f"({status} {name or _phrase(status)}) when trying to {action}.{said} The app "
                f"password may be wrong or revoked: {self.login_hint()}.",
                platform=PLATFORM, status=status, detail=detail)
        if status == 403:
            return AuthError(
                f"Bluesky at {self.host} did not allow {self._whom()} to {action} "
                f"(403 {name or 'Forbidden'}).{said} The account may be deactivated, or the "
                f"app password may not be allowed to do this: {self.login_hint()}.",
                platform=PLATFORM, status=status, detail=detail)
        if status == 429:
            return self.rate_limited(action, headers, detail=detail)
        if status in (400, 413):
            because = f": {message.rstrip('.')}" if message else (
                ": it is too large" if status == 413 else f": {name}" if name else "")
            return BadRequestError(
                f"Bluesky refused {thing}{because}. ({self.host} answered {status} "
                f"{name or _phrase(status)}.) Fix {thing} and try again.",
                platform=PLATFORM, status=status, detail=detail)
        if status >= 500:
            maybe = (" The post may or may not have been published: threadbot checks its "
                     "record key before sending it again." if write
                     else " Try again in a few minutes.")
            return ServerError(
                f"Bluesky at {self.host} had a problem ({status} {name or _phrase(status)}) "
                f"when trying to {action}.{maybe}",
                platform=PLATFORM, status=status, detail=detail, may_have_posted=write)
        if status == 404:
            return RejectedError(
                f"{self.host} does not answer like a Bluesky server (404 when trying to "
                f"{action}). Check 'api_base_url' of the account in the config: it must be "
                "the address of its PDS, e.g. https://bsky.social.",
                platform=PLATFORM, status=status, detail=detail)
        if 400 <= status < 500:
            return RejectedError(
                f"Bluesky at {self.host} refused to {action} ({status} "
                f"{name or _phrase(status)}).{said}",
                platform=PLATFORM, status=status, detail=detail)
        return PlatformError(
            f"Bluesky at {self.host} answered {status} {name or _phrase(status)} when trying "
            f"to {action}.{said}", platform=PLATFORM, status=status, detail=detail)

    def rate_limited(self, action: str, headers: Mapping[str, str] | None, *,
                     detail: str | None = None) -> RateLimitedError:
        reset_at = _reset_at(headers)
        when = (f" It resets at {reset_at.astimezone().strftime('%Y-%m-%d %H:%M %Z')}."
                if reset_at else "")
        return RateLimitedError(
            f"Bluesky at {self.host} rate-limited the request to {action}: too many requests "
            f"for now.{when} Wait until then, or schedule the rest of the thread for later.",
            platform=PLATFORM, status=429, detail=detail, reset_at=reset_at)

    def network(self, err: BaseException, action: str, *, write: bool) -> PlatformError:
        if not _httpx_was_sent(err):
            return NetworkError(
                f"Could not reach Bluesky at {self.host} to {action}: {_httpx_reason(err)}. "
                "Nothing was sent; check your internet connection and the account's "
                "api_base_url, and try again.", platform=PLATFORM)
        if isinstance(err, httpx.TimeoutException):
            what = f"no answer came within {self.timeout:g} seconds"
        else:
            what = "the connection was closed before Bluesky answered"
        return self.no_answer(action, what, write=write)

    def unreadable(self, action: str, *, write: bool) -> UncertainError:
        return self.no_answer(action, "its answer could not be read", write=write)

    def no_answer(self, action: str, what: str, *, write: bool) -> UncertainError:
        if write:
            return UncertainError(
                f"Sent the request to {action} to Bluesky at {self.host}, but {what}. The "
                "post may have been published: threadbot looks for it under its record key "
                "before sending it again.", platform=PLATFORM)
        return UncertainError(
            f"Sent the request to {action} to Bluesky at {self.host}, but {what}. "
            "Try again.", platform=PLATFORM, may_have_posted=False)

    def _who(self) -> str:
        return f" of account '{self.account}'" if self.account else ""

    def _whom(self) -> str:
        return f"account '{self.account}'" if self.account else "the account"


def _xrpc_error(response: Any) -> tuple[str | None, str | None]:
    """``(error, message)`` of an XRPC error answer."""
    content = response.content
    name = getattr(content, "error", None)
    message = getattr(content, "message", None)
    if isinstance(content, dict):
        name, message = content.get("error"), content.get("message")
    return (name if isinstance(name, str) and name else None,
            message if isinstance(message, str) and message else None)


def _is_token_refusal(err: BaseException) -> bool:
    """The server refused the session's token (expired, revoked, unknown)."""
    if not isinstance(err, sdk_errors.RequestErrorBase) or err.response is None:
        return False
    name, _ = _xrpc_error(err.response)
    status = err.response.status_code
    if name == "AccountTakedown":
        return False
    return status == 401 or (status == 400 and name in _TOKEN_ERRORS)


def _require_library() -> None:
    """Posting (unlike previewing) needs the atproto SDK, and ada-url to show links:
    say how to install them."""
    if Client is None or ada_url is None:
        import sys

        missing = [name for name, absent in (("atproto", Client is None),
                                             ("ada-url", ada_url is None)) if absent]
        raise ConfigError(
            f"posting to Bluesky needs the atproto and ada-url libraries, and "
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed in "
            f"threadbot's environment. Install them with: {sys.executable} -m pip install "
            "'atproto>=0.0.73,<0.1' Pillow ada-url (or install threadbot with its [bluesky] "
            "extra).")


# ================================================================== the client


@dataclass
class _Media:
    blob: Any
    alt: str
    width: int
    height: int


class BlueskyClient(PlatformClient):
    """Posts as one Bluesky account, signed in with its handle and an app password.

    Args:
        handle: the account's handle (``me.bsky.social``), as in the config.
        app_password: an app password of the account (never the main password).
        api_base_url: its PDS, ``https://bsky.social`` by default.
        timeout: seconds to wait to connect and for each answer.
        account: the config's account name (for messages and the session file).
        state_dir: the folder where the session is kept (``None``: in memory only).
        clock: seconds since the epoch (``time.time``), for token expiry and
            ``createdAt``.

    ``warnings`` collects what a caller should tell the writer (a mention that
    could not be resolved and was posted as plain text).
    """

    platform = PLATFORM

    def __init__(self, handle: str, app_password: str, api_base_url: str | None = None,
                 timeout: float = 30.0, *, account: str | None = None,
                 state_dir: str | Path | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        _require_library()
        self.handle = _normal_handle(handle)
        if not self.handle:
            raise ConfigError(f"account '{account or '?'}' needs 'handle', the Bluesky handle "
                              "it posts as, e.g. handle: yourname.bsky.social")
        self.api_base_url = _base_url(api_base_url)
        self.host = _host(self.api_base_url)
        self.timeout = timeout
        self.account = account
        self.clock = clock
        self.warnings: list[str] = []
        self._password = app_password or ""
        self._store = _SessionFile(state_dir, account or self.handle, self.api_base_url,
                                   self.handle)
        self._request = _Request(timeout=timeout)
        self._api = _session_client_class()(self.api_base_url, request=self._request,
                                            clock=clock, renew=self._renew_before_request)
        self._api.on_session_change(self._on_session_change)
        self._errors = _Errors(self.api_base_url, timeout, account, self._secrets)
        self._media: dict[str, _Media] = {}
        self._signed_in = False

    def __repr__(self) -> str:
        return (f"BlueskyClient(api_base_url={self.api_base_url!r}, handle={self.handle!r}, "
                f"account={self.account!r})")

    def close(self) -> None:
        """Close pooled connections."""
        with contextlib.suppress(Exception):
            self._request.close()

    # ------------------------------------------------------------ session

    def _secrets(self) -> list[str]:
        session = self._api._session
        found = [self._password, self._password.strip()]
        if session is not None:
            found += [session.access_jwt, session.refresh_jwt]
        return found

    def _on_session_change(self, event: Any, session: Any) -> None:
        if event in (SessionEvent.CREATE, SessionEvent.REFRESH):
            self._store.save(session)

    def _import(self, saved: _Saved) -> None:
        self._api.login(session_string=saved.session_string(), fetch_bsky_profile=False)
        self._signed_in = True

    def _ensure_session(self) -> None:
        """Use the saved session, or sign in (once, under the lock) when there is none."""
        if self._signed_in:
            return
        saved = self._store.load()
        if saved is not None:
            self._import(saved)
            return
        with self._store.locked():
            saved = self._store.load()  # another process may have signed in meanwhile
            if saved is not None:
                self._import(saved)
                return
            self._create_session()

    def sign_in(self) -> Identity:
        """Sign in anew (``com.atproto.server.createSession``) and save the session, even
        when one is saved: ``accounts login`` checks the app password it was given.
        Raises ``AuthError`` when the handle and app password are refused."""
        with self._store.locked():
            self._create_session()
        session = self._api._session
        return Identity(account_id=session.did, handle=session.handle)

    def _create_session(self) -> None:
        action = "sign in"
        if not self._password:
            raise AuthError(f"account '{self.account or self.handle}' has no Bluesky app "
                            f"password: {self._errors.login_hint()}.", platform=PLATFORM)
        try:
            self._api._get_and_set_session(self.handle, self._password)
        except AtProtocolError as err:
            raise self._login_error(err) from None
        except httpx.HTTPError as err:
            raise self._errors.network(err, action, write=False) from None
        self._signed_in = True

    def _login_error(self, err: BaseException) -> PlatformError:
        error = self._errors.translate(err, "sign in", write=False, thing="the sign-in")
        response = getattr(err, "response", None)
        name = _xrpc_error(response)[0] if response is not None else None
        if isinstance(error, AuthError) and name == "AuthFactorTokenRequired":
            return AuthError(
                f"Bluesky at {self.host} asked for the code it e-mails: the password given "
                f"for @{self.handle} is the account's main password, which threadbot must "
                f"never use. Create an app password ({APP_PASSWORDS_WHERE}), then run "
                f"`threadbot accounts login {self.account or 'NAME'}` and give it that.",
                platform=PLATFORM, status=error.status, detail=error.detail)
        if isinstance(error, AuthError | BadRequestError) and error.status in (400, 401) \
                and name != "AccountTakedown":
            return AuthError(
                f"Bluesky at {self.host} did not accept the handle @{self.handle} with the "
                f"app password of account '{self.account or self.handle}' ({error.status} "
                f"{name or _phrase(error.status or 401)}). Check the handle in the config, and "
                f"{self._errors.login_hint()}.",
                platform=PLATFORM, status=error.status, detail=error.detail)
        if isinstance(error, RateLimitedError):
            error.message = (error.message.rstrip() + " (Bluesky allows 30 sign-ins in 5 "
                             "minutes and 300 a day for each account.)")
        return error

    def _renew_before_request(self) -> None:
        """Called by the SDK before a request when the access token is about to expire."""
        self._renew(self._api._session.copy() if self._api._session else None)

    def _renew(self, used: Any) -> None:
        """Get a working session after ``used`` (the session last sent) expired or was
        refused. Under the lock, the file is read first: when it holds another session
        than the one in memory, another process renewed it, rotating the refresh token
        in memory (now refused), so that session is adopted, and refreshed only when it
        is about to expire itself. Else the session in memory is refreshed, unless it is
        already a newer one than ``used`` and good; a refused refresh token means signing
        in again."""
        with self._store.locked():
            saved = self._store.load()
            current = self._api._session
            if saved is not None and (current is None or
                                      saved.refresh_jwt != current.refresh_jwt):
                self._import(saved)
                current = self._api._session
            if current is not None and used is not None and \
                    current.refresh_jwt != used.refresh_jwt and \
                    not self._expiring(current.access_jwt):
                return
            if current is not None and current.refresh_jwt:
                try:
                    self._api.refresh_now()
                    return
                except AtProtocolError as err:
                    if not _is_token_refusal(err):
                        raise self._errors.translate(err, "renew the session", write=False,
                                                     thing="the session renewal") from None
                except httpx.HTTPError as err:
                    raise self._errors.network(err, "renew the session", write=False) from None
            self._create_session()

    def _expiring(self, access_jwt: str) -> bool:
        """Whether the access token is about to expire (or cannot be read), by the
        client's clock and the margin of :class:`_SessionClient`."""
        from atproto_server.auth.jwt import get_jwt_payload

        try:
            payload = get_jwt_payload(access_jwt)
        except Exception:  # noqa: BLE001 - a token that cannot be read is of no use
            return True
        if not payload.exp:
            return True
        lifetime = payload.exp - payload.iat if payload.iat else 3600
        return self.clock() > payload.exp - min(15 * 60, max(0, lifetime) / 4)

    def _call(self, action: str, call: Callable[[], Any], *, write: bool = False,
              thing: str = "the request") -> Any:
        """``call()`` with a session, renewed and tried once more when the server refuses
        the token; failures mapped to ``PlatformError``."""
        try:
            self._ensure_session()
        except AtProtocolError as err:
            raise self._errors.translate(err, action, write=False, thing=thing) from None
        for attempt in (1, 2):
            used = self._api._session.copy() if self._api._session else None
            try:
                return call()
            except PlatformError:
                raise
            except AtProtocolError as err:
                if attempt == 1 and _is_token_refusal(err):
                    self._renew(used)  # refused means nothing was done: safe to send again
                    continue
                raise self._errors.translate(err, action, write=write, thing=thing) from None
            except httpx.HTTPError as err:
                raise self._errors.network(err, action, write=write) from None
            except ValueError:  # the answer did not fit the SDK's models
                raise self._errors.unreadable(action, write=write) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _session_did(self) -> str:
        """The account's DID (signing in first when there is no session yet)."""
        self._call("sign in", lambda: None)
        return str(self._api._session.did)

    # ------------------------------------------------------------ API

    def me(self) -> Identity:
        """The signed-in account (``com.atproto.server.getSession``): its DID and handle.
        Signs in only when no session is saved. Raises ``AuthError`` when the app
        password is refused."""
        session = self._call("check the account", self._api.com.atproto.server.get_session)
        return Identity(account_id=str(session.did), handle=str(session.handle))

    def limits(self) -> Limits:
        """Bluesky's limits (the same on every PDS): 300 graphemes, 4 images of at most
        1,000,000 bytes (PNG, JPEG, WEBP), alt text up to 2,000 characters."""
        return DEFAULT_LIMITS

    def upload_media(self, path: str | Path, alt_text: str | None) -> str:
        """Upload one image (``com.atproto.repo.uploadBlob``) after :func:`prepare_image`
        (metadata removed, scaled to fit 1,000,000 bytes) and return an id that
        :meth:`create_post` turns into an ``app.bsky.embed.images`` entry with the alt
        text and the image's ``aspectRatio``. The id is good for this client only.

        Raises ``MediaError`` when the file cannot be read or used, and the
        ``PlatformError`` classes when the upload fails.
        """
        path = Path(path)
        data, mime, width, height, _ = prepare_image(path)
        response = self._call(f"upload {path.name}", lambda: self._upload(data, mime),
                              thing=f"the image {path.name}")
        media_id = f"blob-{uuid.uuid4().hex}"
        self._media[media_id] = _Media(blob=response.blob, alt=alt_text or "", width=width,
                                       height=height)
        return media_id

    def _upload(self, data: bytes, mime: str) -> Any:
        # The SDK's ``upload_blob`` hands the bytes to httpx as ``data=``, which httpx
        # deprecates for raw bytes; ``content=`` is the same request.
        from atproto_client.models.utils import get_response_model

        response = self._api.invoke_procedure("com.atproto.repo.uploadBlob", content=data,
                                              headers={"Content-Type": mime})
        return get_response_model(response, models.ComAtprotoRepoUploadBlob.Response)

    def create_post(self, text: str, *, reply_to: PostRef | None, root: PostRef | None,
                    media_ids: Sequence[str], idempotency_key: str,
                    options: PostOptions) -> PostRef:
        """Publish an ``app.bsky.feed.post`` record (``com.atproto.repo.createRecord``,
        ``repo`` = the account's DID) under the record key :func:`record_key` gives for
        ``idempotency_key``: ``text`` as :func:`display_text` shows it, ``createdAt``
        (UTC, milliseconds), ``reply`` (``root`` and ``parent`` strong refs), ``facets``
        (links, tags, resolved mentions; UTF-8 byte offsets; ``options.links``, a
        draft's ``[text](url)``, link their text), ``embed`` (images with alt
        text and aspect ratio) and ``langs`` (``options.language``). The strong refs
        are the URI and CID of ``reply_to`` and ``root`` as recorded (``PlatformError``,
        before anything is sent, when one lacks them); without ``root``, ``reply_to`` is
        the root. ``warnings`` then holds this post's warnings only.

        When the key is taken already (an earlier attempt was stored but its answer
        lost), the record there is returned if its text is this text. Returns the
        record's key, AT URI, CID and web address. Raises ``BadRequestError`` with the
        server's reason, ``UncertainError`` or ``ServerError(may_have_posted=True)``
        when the post may exist anyway.
        """
        self.warnings.clear()  # a failed attempt's are not this post's
        rkey = record_key(idempotency_key)
        shown, placed = render(text, options.links)
        reply = self._reply(reply_to, root)  # before any request: from the ledger only
        did = self._session_did()
        facets = self._facets(placed)
        embed = self._embed(media_ids)
        try:
            record = models.AppBskyFeedPost.Record(
                text=shown, created_at=_now_iso(self.clock), reply=reply, facets=facets or None,
                embed=embed, langs=[options.language] if options.language else None)
            data = models.ComAtprotoRepoCreateRecord.Data(
                repo=did, collection=POST_COLLECTION, rkey=rkey, record=record)
        except ValueError as err:
            raise BadRequestError(f"threadbot could not build the post for Bluesky ({err}). "
                                  "Nothing was sent.", platform=PLATFORM) from None
        try:
            created = self._call("publish the post",
                                 lambda: self._api.com.atproto.repo.create_record(data),
                                 write=True, thing="the post")
        except (ServerError, BadRequestError, RejectedError) as error:
            if error.status not in (400, 409, 500):
                raise
            # Perhaps the key is taken: an earlier attempt stored, its answer lost.
            try:
                existing = self._get_record(rkey)
            except PlatformError:
                existing = None  # cannot tell: the refusal stands
            if existing is None:
                raise
            ref, value = existing
            parent = _as_dict(value.get("reply") or {}).get("parent") or {}
            same_parent = reply is None or parent.get("uri") == reply.parent.uri
            if value.get("text") == shown and same_parent:
                return ref
            raise RejectedError(
                f"Bluesky already has a different post under record key {rkey} of "
                f"@{self.handle} ({ref.url}), so this one cannot be published under it. "
                "Record the thread anew (queue or post the draft again).",
                platform=PLATFORM, status=error.status, detail=error.detail) from None
        return self._ref(rkey, str(created.uri), str(created.cid))

    def _get_record(self, rkey: str) -> tuple[PostRef, dict] | None:
        """``(ref, value)`` of the account's post ``rkey`` (``com.atproto.repo.getRecord``),
        ``None`` when there is none."""
        did = self._session_did()
        params = models.ComAtprotoRepoGetRecord.Params(repo=did, collection=POST_COLLECTION,
                                                        rkey=rkey)
        record = self._call("read the post", lambda: self._fetch_record(params))
        if record is None:
            return None
        return (self._ref(rkey, str(record.uri), str(record.cid) if record.cid else None),
                _as_dict(record.value))

    def _fetch_record(self, params: Any) -> Any:
        try:
            return self._api.com.atproto.repo.get_record(params)
        except sdk_errors.BadRequestError as err:
            name, message = _xrpc_error(err.response) if err.response else (None, None)
            if name == "RecordNotFound" or "Could not locate record" in (message or ""):
                return None
            raise

    def _ref(self, rkey: str, uri: str, cid: str | None) -> PostRef:
        return PostRef(id=rkey, url=self._web_url(self._api._session.handle or self.handle,
                                                  rkey), uri=uri, cid=cid)

    def _web_url(self, handle: str, rkey: str) -> str:
        """The post in the Bluesky app, which shows posts of every PDS (a PDS serves no
        web pages); for a fake on this machine, an address at the fake, so that a
        rehearsal's link never points at a real post."""
        base = self.api_base_url if _is_loopback(self.api_base_url) else WEB_APP_URL
        return f"{base}/profile/{handle}/post/{rkey}"

    def _strong_ref(self, ref: PostRef, role: str) -> Any:
        """The strong ref (URI and CID) of ``ref``, as the ledger recorded it: never read
        back from the network, where the record could have been changed since."""
        if not (ref.uri and ref.cid):
            missing = " and ".join(name for name, value in (("URI", ref.uri), ("CID", ref.cid))
                                   if not value)
            raise PlatformError(
                f"threadbot's record of the {role} ({ref.url or ref.id}) lacks the post's "
                f"URI/CID (no {missing}), which a Bluesky reply must name, so nothing was "
                "sent. Posts threadbot published always have both: this record was not "
                "written by threadbot's posting. Delete the thread's posts on Bluesky and "
                "post the thread again.", platform=PLATFORM)
        return models.ComAtprotoRepoStrongRef.Main(uri=ref.uri, cid=ref.cid)

    def _reply(self, reply_to: PostRef | None, root: PostRef | None) -> Any:
        """``reply`` of the record: ``root`` and ``parent`` (``reply_to``), both from the
        ledger; without ``root``, the parent is the thread's root."""
        if reply_to is None:
            return None
        parent = self._strong_ref(reply_to, "post to reply to")
        root_ref = parent if root is None else self._strong_ref(root, "thread's first post")
        return models.AppBskyFeedPost.ReplyRef(root=root_ref, parent=parent)

    def _facets(self, placed: list[tuple[int, int, _Span]]) -> list[Any]:
        facets = []
        dids: dict[str, str | None] = {}
        for start, end, span in placed:
            if span.kind == "link":
                feature: Any = models.AppBskyRichtextFacet.Link(uri=span.value)
            elif span.kind == "tag":
                feature = models.AppBskyRichtextFacet.Tag(tag=span.value)
            else:
                handle = span.value.lower()
                if handle not in dids:
                    dids[handle] = self._resolve(handle)
                    warning = (f"@{span.value} is not a Bluesky handle that could be found, so "
                               "it was posted as plain text (not a mention). Check the "
                               "spelling.")
                    if dids[handle] is None and warning not in self.warnings:
                        self.warnings.append(warning)
                if dids[handle] is None:
                    continue
                feature = models.AppBskyRichtextFacet.Mention(did=dids[handle])
            facets.append(models.AppBskyRichtextFacet.Main(
                index=models.AppBskyRichtextFacet.ByteSlice(byte_start=start, byte_end=end),
                features=[feature]))
        return facets

    def _resolve(self, handle: str) -> str | None:
        """The DID of ``handle`` (``com.atproto.identity.resolveHandle``), ``None`` when
        the server cannot resolve it."""
        params = models.ComAtprotoIdentityResolveHandle.Params(handle=handle)
        try:
            answer = self._call(f"look up @{handle}",
                                lambda: self._api.com.atproto.identity.resolve_handle(params))
        except (BadRequestError, RejectedError) as error:
            if error.status in (400, 404):
                return None
            raise
        return str(answer.did)

    def _embed(self, media_ids: Sequence[str]) -> Any:
        if not media_ids:
            return None
        images = []
        for media_id in media_ids:
            media = self._media.get(media_id)
            if media is None:
                raise PlatformError(
                    f"image {media_id!r} was not uploaded by this Bluesky client; upload it "
                    "again.", platform=PLATFORM)
            images.append(models.AppBskyEmbedImages.Image(
                alt=media.alt, image=media.blob,
                aspect_ratio=models.AppBskyEmbedDefs.AspectRatio(width=media.width,
                                                                 height=media.height)))
        return models.AppBskyEmbedImages.Main(images=images)

    def find_post(self, identity: Identity, *, text: str, reply_to: PostRef | None,
                  idempotency_key: str, since: datetime | None = None) -> list[PostRef]:
        """The post under the record key of ``idempotency_key``
        (``com.atproto.repo.getRecord``): ``[ref]``, or ``[]`` when there is none."""
        found = self._get_record(record_key(idempotency_key))
        return [found[0]] if found is not None else []

    def recent_posts(self, identity: Identity, *, since: datetime | None = None,
                     max_results: int = 100) -> list[RemotePost]:
        """The account's posts, newest first (``com.atproto.repo.listRecords`` of
        ``app.bsky.feed.post``, 100 a page), at most ``max_results``, stopping at the first
        one created before ``since``. ``in_reply_to_id`` is the parent's record key."""
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        did = self._session_did()
        posts: list[RemotePost] = []
        cursor = None
        while len(posts) < max_results:
            params = models.ComAtprotoRepoListRecords.Params(
                repo=did, collection=POST_COLLECTION, limit=min(100, max(1, max_results)),
                cursor=cursor)
            page = self._call("read recent posts",
                              lambda p=params: self._api.com.atproto.repo.list_records(p))
            for record in page.records:
                value = _as_dict(record.value)
                created = _parse_time(value.get("createdAt"))
                if since is not None and created is not None and created < since:
                    return posts
                parent = _as_dict(_as_dict(value.get("reply") or {}).get("parent") or {})
                rkey = _rkey_of(str(record.uri)) or ""
                posts.append(RemotePost(
                    ref=self._ref(rkey, str(record.uri), str(record.cid)),
                    text=str(value.get("text") or ""),
                    in_reply_to_id=_rkey_of(parent.get("uri")),
                    created_at=created))
                if len(posts) >= max_results:
                    return posts
            cursor = page.cursor
            if not cursor or not page.records:
                break
        return posts

    def delete_post(self, ref: PostRef) -> None:
        """Delete a post (``com.atproto.repo.deleteRecord``); one already gone is not an
        error."""
        did = self._session_did()
        data = models.ComAtprotoRepoDeleteRecord.Data(
            repo=did, collection=POST_COLLECTION, rkey=_rkey_of(ref.uri) or ref.id)
        try:
            self._call("delete the post",
                       lambda: self._api.com.atproto.repo.delete_record(data),
                       thing="the deletion")
        except (BadRequestError, RejectedError) as error:
            if "RecordNotFound" in (error.detail or "") or error.status == 404:
                return
            raise

    def allowance(self) -> Allowance | None:
        """Posts left before the tightest of the PDS's limits resets, from the
        ``ratelimit-*`` headers of the last answer to a post (``None`` before one came).

        ``ratelimit-remaining`` counts points of that limit: for the hourly and daily
        write limits (``ratelimit-policy`` ``5000;w=3600``, ``35000;w=86400``) a post
        costs 3; for the per-IP limit on all requests (``3000;w=300``) at least 1.
        ``ratelimit-reset`` is in epoch seconds."""
        headers = self._request.rate_headers
        if headers is None:
            return None
        remaining = _int(headers.get("ratelimit-remaining"))
        if remaining is not None and _policy_window(headers) >= 3600:
            remaining //= POINTS_PER_POST
        return Allowance(remaining=remaining, reset_at=_reset_at(headers))

    def post_url(self, identity: Identity, ref: PostRef) -> str | None:
        return ref.url or self._web_url(identity.handle, _rkey_of(ref.uri) or ref.id)


# ================================================================== setting up


def _make_client(account: Any, secrets: Mapping[str, str], timeout: float, *,
                 state_dir: str | Path | None = None, **_: Any) -> BlueskyClient:
    return BlueskyClient(account.handle, secrets.get("app_password", ""),
                         account.api_base_url or DEFAULT_API_BASE_URL, timeout,
                         account=account.name, state_dir=state_dir)


def _login(account: Any, *, ask: Callable[[str], str], say: Callable[[str], None],
           state_dir: str | Path | None = None, timeout: float = 30.0,
           **_: Any) -> dict[str, str]:
    """The ``accounts login`` walk-through for one Bluesky account: say where to create
    an app password, ask for the handle (the config's by default) and the app password,
    sign in once and save that session for the client to reuse. Returns
    ``{"app_password": ...}``; the password is never shown.

    Raises ``ConfigError`` when the writer names another handle than the config's
    (which must be changed first), ``AuthError`` when the sign-in is refused."""
    _require_library()
    base = _base_url(account.api_base_url or DEFAULT_API_BASE_URL)
    host = _host(base)
    if base.startswith("http://") and not _is_loopback(base):
        raise ConfigError(
            f"account '{account.name}' has api_base_url {base}, without https: the app "
            "password would travel unencrypted. Use the server's https:// address.")
    configured = _normal_handle(account.handle)
    say("threadbot signs in to Bluesky with an app password, never your main password.\n"
        f"Create one in the Bluesky app under {APP_PASSWORDS_WHERE} ({APP_PASSWORDS_PAGE}),\n"
        "name it threadbot, and copy it: it is shown once and looks like xxxx-xxxx-xxxx-xxxx.\n")
    prompt = f"Bluesky handle [{configured}]" if configured else "Bluesky handle"
    given = _normal_handle(ask(prompt))
    handle = given or configured
    if not handle:
        raise ConfigError(f"account '{account.name}' needs 'handle', the Bluesky handle it "
                          "posts as. Add it in the config (handle: yourname.bsky.social) and "
                          f"run `threadbot accounts login {account.name}` again.")
    if configured and handle != configured:
        raise ConfigError(
            f"account '{account.name}' has handle: {configured} in the config, and you typed "
            f"{handle}. To post as @{handle}, change that line to 'handle: {handle}', then run "
            f"`threadbot accounts login {account.name}` again. Nothing was saved.")
    password = ask(f"App password for @{handle} (not your main password)",
                   hidden=True).strip()
    if not password:
        raise AuthError(f"no app password was given, so nothing was saved. Run `threadbot "
                        f"accounts login {account.name}` again and paste the app password.",
                        platform=PLATFORM)
    if not APP_PASSWORD_SHAPE.fullmatch(password):
        say("Warning: that does not look like an app password (xxxx-xxxx-xxxx-xxxx). If it is "
            "your main password, stop (Ctrl-C), create an app password and use that instead.")
    with BlueskyClient(handle, password, base, timeout, account=account.name,
                       state_dir=state_dir) as client:
        identity = client.sign_in()
    say(f"Signed in to Bluesky at {host} as @{identity.handle}.")
    return {"app_password": password}


SPEC = PlatformSpec(
    name=PLATFORM,
    title="Bluesky",
    env={"app_password": "BLUESKY_APP_PASSWORD"},
    default_api_base_url=DEFAULT_API_BASE_URL,
    default_limits=DEFAULT_LIMITS,
    make_client=_make_client,
    needs_handle=True,
    resizes_images=True,
    link_text=True,
    auth_help=("{names} is wrong or revoked, or the handle in the config is not its "
               "account's. It must be an app password (in the Bluesky app: "
               f"{APP_PASSWORDS_WHERE}), never your main password: `threadbot accounts "
               "login {account}` checks and saves a new one."),
    extra="bluesky",
    login=_login,
)
