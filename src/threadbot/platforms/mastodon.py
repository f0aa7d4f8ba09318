"""The Mastodon client: post, reply, upload images with alt text, read recent posts.

Built on Mastodon.py (``pip install 'threadbot[mastodon]'``), talking to one
account on one instance with an OAuth access token (scopes ``read write``).
Every failure becomes a :class:`~threadbot.platforms.errors.PlatformError`
subclass whose message names the instance, says what happened and what to
do, and never holds the token.

Mastodon.py facts this module relies on (checked against 2.3.3):

* Every request goes through ``Mastodon.session.request``; we pass our own
  :class:`_Session`, which keeps the last answer, so that an error can be read
  from its status, body and ``X-RateLimit-*`` headers (``MastodonRatelimitError``
  carries none of them).
* ``MastodonNetworkError`` is raised inside the ``except`` that caught the
  ``requests`` exception, so that exception is its ``__context__``: it tells
  "never sent" (connection refused, DNS) from "sent, no answer" (read timeout,
  connection dropped).
* ``log_in`` turns every failure into ``MastodonIllegalArgumentError`` whose
  ``__context__`` is the real one; ``create_app`` does not check the HTTP
  status at all. Both are unwrapped here.
* ``media_post(synchronous=True)`` polls every 5 seconds with no deadline (and
  turns every error into "Attachment could not be processed"), so
  :meth:`MastodonClient.upload_media` polls ``GET /api/v1/media/:id`` itself.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from html.parser import HTMLParser
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from ..errors import ConfigError, MediaError
from ._http import network_reason, was_sent
from .base import (
    Allowance,
    Identity,
    Limits,
    PlatformClient,
    PlatformSpec,
    PostOptions,
    PostRef,
    RemotePost,
    comparable_text,
    shown_url,
)

try:
    from mastodon import Mastodon
    from mastodon.errors import (
        MastodonAPIError,
        MastodonError,
        MastodonIllegalArgumentError,
        MastodonIOError,
        MastodonNetworkError,
        MastodonNotFoundError,
        MastodonRatelimitError,
        MastodonVersionError,
    )
except ImportError:  # the `mastodon` extra is not installed: previews still work
    Mastodon = None

    class MastodonError(Exception):  # type: ignore[no-redef]
        """Stands in for Mastodon.py's errors when it is not installed."""

    MastodonAPIError = MastodonIllegalArgumentError = MastodonIOError = MastodonError
    MastodonNetworkError = MastodonNotFoundError = MastodonRatelimitError = MastodonError
    MastodonVersionError = MastodonError

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

__all__ = ["SPEC", "MastodonClient", "authorization_url", "exchange_code", "html_to_text",
           "register_app"]

PLATFORM = "mastodon"
SCOPES = ["read", "write"]
REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob"
USER_AGENT = "threadbot"
MB = 1024 * 1024
#: Mastodon's own defaults, used for whatever the instance does not publish.
DEFAULT_LIMITS = Limits(
    max_characters=500,
    characters_reserved_per_url=23,
    max_media=4,
    max_image_bytes=16 * MB,
    max_gif_bytes=16 * MB,
    media_types=("image/png", "image/jpeg", "image/gif", "image/webp"),
    max_alt=1500,
)
_MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif",
                "WEBP": "image/webp"}
# Mastodon allows 40 statuses per page of an account's statuses.
_PAGE_SIZE = 40


# ------------------------------------------------------------------ HTTP session


class _Session(requests.Session):
    """The ``requests`` session Mastodon.py sends everything through.

    It remembers the last answer (``None`` while a request is on its way or when
    none came back) and the rate-limit headers of the last answer that had them.
    """

    def __init__(self) -> None:
        super().__init__()
        self.headers["User-Agent"] = USER_AGENT
        self.last_response: requests.Response | None = None
        self.rate_headers: Mapping[str, str] | None = None

    def request(  # type: ignore[override]
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        self.last_response = None
        response = super().request(method, url, *args, **kwargs)
        self.last_response = response
        if "X-RateLimit-Remaining" in response.headers or "X-RateLimit-Reset" in response.headers:
            self.rate_headers = response.headers
        return response


def _api(api_base_url: str, session: _Session, timeout: float, *,
         access_token: str | None = None, client_id: str | None = None,
         client_secret: str | None = None) -> Mastodon:
    return Mastodon(
        client_id=client_id,
        client_secret=client_secret,
        access_token=access_token,
        api_base_url=api_base_url,
        request_timeout=timeout,
        ratelimit_method="throw",
        version_check_mode="none",
        session=session,
        user_agent=USER_AGENT,
    )


def _require_library() -> None:
    """Posting (unlike previewing) needs Mastodon.py: say how to install it."""
    if Mastodon is None:
        import sys

        raise ConfigError(
            "posting to Mastodon needs the Mastodon.py library, which is not installed in "
            f"threadbot's environment. Install it with: {sys.executable} -m pip install "
            "'Mastodon.py>=2.1,<3' (or install threadbot with its [mastodon] extra).")


def _base_url(api_base_url: str) -> str:
    url = (api_base_url or "").strip().rstrip("/")
    if not url:
        raise ConfigError("a Mastodon account needs api_base_url: the address of its instance, "
                          "e.g. https://mastodon.social")
    if not url.startswith(("http://", "https://")):
        url = "https://" + url
    return url


def _host(api_base_url: str) -> str:
    """The instance's host (and port, unless the scheme's default), without a user
    name or password."""
    parts = urlsplit(api_base_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    default = {"https": ":443", "http": ":80"}.get(parts.scheme)
    return host.removesuffix(default) if default else host


# ------------------------------------------------------------------ error mapping


class _Errors:
    """Turns Mastodon.py's exceptions into threadbot's, for one instance."""

    def __init__(self, api_base_url: str, session: _Session, timeout: float,
                 account: str | None = None, *, hidden: Sequence[str] = ()) -> None:
        self.host = _host(api_base_url)
        self.session = session
        self.timeout = timeout
        self.account = account
        # Secrets that must never appear in a message, should a library text quote them.
        self._hidden = tuple(h for h in hidden if h)

    @contextmanager
    def __call__(self, action: str, *, write: bool = False,
                 thing: str = "the request") -> Iterator[None]:
        """Map failures of ``action`` (``"publish the post"``); ``thing`` is what a
        refusal names (``"the post"``); ``write``: a post may exist without an answer."""
        try:
            yield
        except MastodonError as err:
            raise self.translate(err, action, write=write, thing=thing) from None
        except requests.RequestException as err:  # not wrapped by Mastodon.py (create_app)
            raise self.network(err, action, write=write) from None

    def translate(self, err: BaseException, action: str, *, write: bool,
                  thing: str) -> PlatformError:
        err = _unwrap(err)
        response = self.session.last_response
        if isinstance(err, MastodonRatelimitError):
            if response is not None and response.status_code != 429 and response.ok:
                # Mastodon.py could not read the rate-limit headers of a success.
                return self.unreadable(action, write=write)
            return self.rate_limited(action, response)
        if isinstance(err, MastodonAPIError):
            status = err.args[1] if len(err.args) > 1 and isinstance(err.args[1], int) else None
            if status is not None:
                detail = _detail(response) if response is not None and \
                    response.status_code == status else None
                if detail is None and len(err.args) > 3 and isinstance(err.args[3], str):
                    detail = err.args[3]
                reason = err.args[2] if len(err.args) > 2 and isinstance(err.args[2], str) \
                    else _phrase(status)
                return self.from_status(status, reason, detail, action, write=write,
                                        thing=thing, response=response)
            if "Granted scopes" in str(err.args[0] if err.args else ""):
                return AuthError(
                    f"Mastodon at {self.host} granted fewer permissions than threadbot needs "
                    f"(read and write) when trying to {action}. Log in again and approve "
                    "both.", platform=PLATFORM)
            # A 2xx answer Mastodon.py could not read (not JSON).
            if response is not None and not response.ok:
                return self.from_status(response.status_code, response.reason, _detail(response),
                                        action, write=write, thing=thing, response=response)
            return self.unreadable(action, write=write)
        if isinstance(err, MastodonNetworkError):
            if response is not None:
                # An answer came back but could not be read (create_app parses inside its try).
                if not response.ok:
                    return self.from_status(response.status_code, response.reason,
                                            _detail(response), action, write=write,
                                            thing=thing, response=response)
                return self.unreadable(action, write=write)
            cause = err.__context__
            if isinstance(cause, requests.RequestException):
                return self.network(cause, action, write=write)
            return self.no_answer(action, "the connection failed", write=write)
        if isinstance(err, MastodonVersionError):
            return PlatformError(
                f"Mastodon at {self.host} is too old to {action}. Ask its administrators "
                "to upgrade, or post from another instance.", platform=PLATFORM)
        if isinstance(err, MastodonIOError):
            return PlatformError(f"Could not read a file to {action}.", platform=PLATFORM)
        # MastodonIllegalArgumentError and anything else: Mastodon.py's own texts (with
        # URLs at most); secrets are blanked all the same.
        said = str(err).rstrip(".")
        for secret in self._hidden:
            said = said.replace(secret, "[hidden]")
        return PlatformError(
            f"Could not {action} on Mastodon at {self.host}: {said}.", platform=PLATFORM)

    # --------------------------------------------------------- by kind

    def _who(self) -> str:
        return f" of account '{self.account}'" if self.account else ""

    def _whom(self) -> str:
        return f"account '{self.account}'" if self.account else "the account"

    def _login_hint(self) -> str:
        name = self.account or "NAME"
        return (f"run `threadbot accounts login {name}` to get a new token, then "
                "`threadbot accounts check`")

    def from_status(self, status: int, reason: str | None, detail: str | None, action: str, *,
                    write: bool, thing: str,
                    response: requests.Response | None = None) -> PlatformError:
        reason = reason or _phrase(status)
        said = f" It said: {detail.rstrip('.')}." if detail else ""
        if status == 401:
            return AuthError(
                f"Mastodon at {self.host} rejected the access token{self._who()} "
                f"(401 Unauthorized) when trying to {action}.{said} The token may be wrong "
                f"or revoked: {self._login_hint()}.",
                platform=PLATFORM, status=status, detail=detail)
        if status == 403:
            return AuthError(
                f"Mastodon at {self.host} did not allow {self._whom()} to {action} "
                f"(403 Forbidden).{said} The token may lack the write permission, or the "
                f"account may be disabled: {self._login_hint()}.",
                platform=PLATFORM, status=status, detail=detail)
        if status == 429:
            if response is None or response.status_code != 429:
                response = None
            return self.rate_limited(action, response, detail=detail)
        if status in (400, 413, 422):
            because = f": {detail.rstrip('.')}" if detail else ""
            if status == 413 and not detail:
                because = ": it is too large"
            return BadRequestError(
                f"Mastodon refused {thing}{because}. ({self.host} answered {status} {reason}.) "
                f"Fix {thing} and try again.",
                platform=PLATFORM, status=status, detail=detail)
        if status >= 500:
            maybe = (" The post may or may not have been published: check the account's "
                     "recent posts before trying again." if write
                     else " Try again in a few minutes.")
            return ServerError(
                f"Mastodon at {self.host} had a problem ({status} {reason}) when trying to "
                f"{action}.{maybe}",
                platform=PLATFORM, status=status, detail=detail, may_have_posted=write)
        if 400 <= status < 500:
            return RejectedError(
                f"Mastodon at {self.host} refused to {action} ({status} {reason}).{said}",
                platform=PLATFORM, status=status, detail=detail)
        return PlatformError(
            f"Mastodon at {self.host} answered {status} {reason} when trying to {action}.{said}",
            platform=PLATFORM, status=status, detail=detail)

    def rate_limited(self, action: str, response: requests.Response | None, *,
                     detail: str | None = None) -> RateLimitedError:
        reset_at = _reset_at(response.headers) if response is not None else None
        if detail is None and response is not None:
            detail = _detail(response)
        when = (f" It resets at {reset_at.astimezone().strftime('%Y-%m-%d %H:%M %Z')}."
                if reset_at else "")
        return RateLimitedError(
            f"Mastodon at {self.host} rate-limited the request to {action}: too many requests "
            f"for now.{when} Wait until then, or schedule the rest of the thread for later.",
            platform=PLATFORM, status=429, detail=detail, reset_at=reset_at)

    def network(self, err: requests.RequestException, action: str, *,
                write: bool) -> PlatformError:
        if not was_sent(err):
            return NetworkError(
                f"Could not reach Mastodon at {self.host} to {action}: "
                f"{network_reason(err)}. Nothing was sent; check your internet connection "
                "and the account's api_base_url, and try again.", platform=PLATFORM)
        if isinstance(err, requests.Timeout):
            what = f"no answer came within {self.timeout:g} seconds"
        elif isinstance(err, requests.exceptions.InvalidJSONError):
            what = "its answer could not be read (not JSON)"
        else:
            what = "the connection was closed before Mastodon answered"
        return self.no_answer(action, what, write=write)

    def unreadable(self, action: str, *, write: bool) -> UncertainError:
        return self.no_answer(action, "its answer could not be read", write=write)

    def no_answer(self, action: str, what: str, *, write: bool) -> UncertainError:
        if write:
            return UncertainError(
                f"Sent the request to {action} to Mastodon at {self.host}, but {what}. The "
                "post may have been published: check the account's recent posts before "
                "trying again, or the thread may end up with a duplicate.",
                platform=PLATFORM)
        return UncertainError(
            f"Sent the request to {action} to Mastodon at {self.host}, but {what}. "
            "Try again.", platform=PLATFORM, may_have_posted=False)


def _unwrap(err: BaseException) -> BaseException:
    """The real failure behind Mastodon.py's ``MastodonIllegalArgumentError`` wrappers
    (``log_in`` turns every failure into one)."""
    while isinstance(err, MastodonIllegalArgumentError) and isinstance(err.__context__,
                                                                       MastodonError):
        err = err.__context__
    return err


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


def _detail(response: requests.Response) -> str | None:
    """Mastodon's explanation: ``error`` (plus OAuth's ``error_description``)."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        error = body.get("error")
        description = body.get("error_description")
        parts = [p for p in (error, description) if isinstance(p, str) and p]
        return ": ".join(parts) if parts else None
    return None


def _parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time (Mastodon) or epoch seconds (GoToSocial), as aware UTC."""
    if not value:
        return None
    value = value.strip()
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _reset_at(headers: Mapping[str, str]) -> datetime | None:
    return _parse_time(headers.get("X-RateLimit-Reset"))


def _header_safe(key: str) -> str:
    """``key`` as an HTTP header value: itself when it is printable ASCII, else a
    digest of it (the same key always gives the same value)."""
    if re.fullmatch(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?", key):
        return key
    return "sha256-" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# Raised while the request is being prepared, before anything is sent.
# ------------------------------------------------------------------ HTML to text


class _TextExtractor(HTMLParser):
    """Plain text of a status's HTML: ``<br>`` a newline, paragraphs a blank line."""

    _BLOCKS = frozenset({"p", "blockquote", "pre", "ul", "ol", "h1", "h2", "h3", "h4", "h5",
                         "h6", "div"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._pending = ""  # a break owed before the next text

    def _owe(self, brk: str) -> None:
        if self.parts and len(brk) > len(self._pending):
            self._pending = brk

    def _emit(self, text: str) -> None:
        if self._pending:
            self.parts.append(self._pending)
            self._pending = ""
        self.parts.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append(self._pending + "\n")
            self._pending = ""
        elif tag in self._BLOCKS:
            self._owe("\n\n")
        elif tag == "li":
            self._owe("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BLOCKS:
            self._owe("\n\n")
        elif tag == "li":
            self._owe("\n")

    def handle_data(self, data: str) -> None:
        if data:
            self._emit(data)

    def text(self) -> str:
        return "".join(self.parts).strip()


def html_to_text(content: str) -> str:
    """A status's HTML ``content`` as plain text: ``<br>`` becomes a newline,
    paragraphs are separated by a blank line, tags are dropped (a link keeps its
    full text, hidden parts included) and entities are resolved."""
    parser = _TextExtractor()
    parser.feed(content or "")
    parser.close()
    return parser.text()


# ------------------------------------------------------------------ the client


class MastodonClient(PlatformClient):
    """Talks to one Mastodon account's instance with its access token.

    Args:
        access_token: the account's OAuth token (scopes ``read write``).
        api_base_url: the instance, e.g. ``https://mastodon.social``.
        timeout: seconds to wait to connect and for each answer.
        account: a label for messages (the config's account name); never a secret.
        processing_timeout: seconds to wait for the instance to process an
            uploaded image (default: ``max(timeout, 60)``).
    """

    platform = PLATFORM

    def __init__(self, access_token: str, api_base_url: str, timeout: float = 30.0, *,
                 account: str | None = None, processing_timeout: float | None = None) -> None:
        _require_library()
        self.api_base_url = _base_url(api_base_url)
        self.host = _host(self.api_base_url)
        self.timeout = timeout
        self.account = account
        self.processing_timeout = (max(timeout, 60.0) if processing_timeout is None
                                   else processing_timeout)
        self._session = _Session()
        self._api = _api(self.api_base_url, self._session, timeout, access_token=access_token)
        self._errors = _Errors(self.api_base_url, self._session, timeout, account,
                               hidden=(access_token,))

    def __repr__(self) -> str:
        parts = urlsplit(self.api_base_url)
        shown = f"{parts.scheme}://{self.host}{parts.path}"
        return f"MastodonClient(api_base_url={shown!r}, account={self.account!r})"

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    # ------------------------------------------------------------ API

    def me(self) -> Identity:
        """The signed-in account (``GET /api/v1/accounts/verify_credentials``).

        ``handle`` is ``username@host`` with the host name of ``api_base_url``
        (no port). An instance whose handles use another domain than its API
        (``LOCAL_DOMAIN`` apart from ``WEB_DOMAIN``) shows the API's. Raises
        ``AuthError`` for a rejected token.
        """
        with self._errors("check the account", thing="the request"):
            account = self._api.account_verify_credentials()
        acct = str(account.get("acct") or account.get("username") or "")
        host = urlsplit(self.api_base_url).hostname or self.host
        handle = acct if "@" in acct else f"{acct}@{host}"
        return Identity(account_id=str(account["id"]), handle=handle)

    def limits(self) -> Limits:
        """The instance's limits (``GET /api/v2/instance``, else ``/api/v1/instance``).

        From ``configuration.statuses`` (``max_characters``,
        ``characters_reserved_per_url``, ``max_media_attachments``) and
        ``configuration.media_attachments`` (``image_size_limit`` in bytes, the
        ``image/*`` entries of ``supported_mime_types``, ``description_limit``);
        Mastodon's defaults (500, 23, 4, 16 MB, 1,500) for what is missing.
        """
        with self._errors("read the instance's limits"):
            try:
                instance = self._api.instance_v2()
            except MastodonNotFoundError:  # before Mastodon 4.0
                instance = self._api.instance_v1()
        return _limits(instance)

    def upload_media(self, path: str | Path, alt_text: str | None) -> str:
        """Upload one image with its alt text (``POST /api/v2/media``, ``description``),
        wait until the instance has processed it (``GET /api/v1/media/:id`` answers 200
        rather than 206, at most ``processing_timeout`` seconds) and return its id.

        Raises ``MediaError`` when the file cannot be read or is not a PNG, JPEG,
        GIF or WEBP image (judged from its bytes), ``BadRequestError`` when the
        instance refuses it, ``ServerError`` when processing takes too long.
        """
        from ..media import image_format, read_image

        path = Path(path)
        data = read_image(path)
        try:
            kind = image_format(path)
        except OSError as err:
            raise MediaError(f"cannot read the image ({err.strerror}). Check the path.",
                             path=str(path)) from None
        if kind not in _MEDIA_TYPES:
            raise MediaError("is not a PNG, JPEG, GIF or WEBP image. Convert it, or remove it.",
                             path=str(path))
        action = f"upload {path.name}"
        with self._errors(action, thing=f"the image {path.name}"):
            media = self._api.media_post(data, mime_type=_MEDIA_TYPES[kind],
                                         description=alt_text or None, file_name=path.name)
        media_id = str(media["id"])
        if media.get("url") is None:
            self._wait_processed(media_id, path.name)
        return media_id

    def _wait_processed(self, media_id: str, name: str) -> None:
        deadline = time.monotonic() + self.processing_timeout
        delay = 0.2
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServerError(
                    f"Mastodon at {self.host} is still processing the image {name} after "
                    f"{self.processing_timeout:g} seconds. Try again in a few minutes.",
                    platform=PLATFORM)
            time.sleep(min(delay, left))
            delay = min(delay * 2, 2.0)
            with self._errors(f"check the upload of {name}", thing=f"the image {name}"):
                media = self._api.media(media_id)
            response = self._session.last_response
            if media.get("url") is not None:
                return
            if response is not None and response.status_code == 200:
                # 200 (not 206) with no URL: processing is over and failed.
                raise BadRequestError(
                    f"Mastodon at {self.host} could not process the image {name}. Check that "
                    "the file is a valid image, or convert it.", platform=PLATFORM)

    def create_post(self, text: str, *, reply_to: PostRef | None, root: PostRef | None,
                    media_ids: Sequence[str], idempotency_key: str,
                    options: PostOptions) -> PostRef:
        """Publish a status (``POST /api/v1/statuses``) with ``Idempotency-Key``:
        the instance keeps the key an hour and answers a repeat with the same status.

        ``visibility``, ``language`` and ``content_warning`` (``spoiler_text``) come
        from ``options``; no mention is added. Returns the status's id and URL.
        Raises ``BadRequestError`` (422) with the instance's reason, ``UncertainError``
        or ``ServerError(may_have_posted=True)`` when the status may exist anyway.
        """
        with self._errors("publish the post", write=True, thing="the post"):
            status = self._api.status_post(
                text,
                in_reply_to_id=reply_to.id if reply_to else None,
                media_ids=list(media_ids) or None,
                visibility=options.visibility or None,
                language=options.language or None,
                spoiler_text=options.content_warning or None,
                idempotency_key=_header_safe(idempotency_key),
            )
        try:
            return PostRef(id=str(status["id"]), url=status.get("url"))
        except (KeyError, TypeError, AttributeError):
            raise self._errors.unreadable("publish the post", write=True) from None

    def recent_posts(self, identity: Identity, *, since: datetime | None = None,
                     max_results: int = 100) -> list[RemotePost]:
        """The account's statuses, newest first (``GET /api/v1/accounts/:id/statuses``,
        boosts left out, 40 a page following the ``Link`` header), at most
        ``max_results``, stopping at the first one created before ``since``.

        Each one's ``text`` is its HTML ``content`` as plain text (:func:`html_to_text`).
        """
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        posts: list[RemotePost] = []
        with self._errors("read recent posts"):
            page = self._api.account_statuses(identity.account_id, exclude_reblogs=True,
                                              limit=min(_PAGE_SIZE, max(1, max_results)))
        while page:
            for status in page:
                created = status.get("created_at")
                if isinstance(created, datetime):
                    created = (created.replace(tzinfo=UTC) if created.tzinfo is None
                               else created.astimezone(UTC))
                else:
                    created = _parse_time(created) if isinstance(created, str) else None
                if since is not None and created is not None and created < since:
                    return posts
                replied = status.get("in_reply_to_id")
                posts.append(RemotePost(
                    ref=PostRef(id=str(status["id"]), url=status.get("url")),
                    text=html_to_text(status.get("content") or ""),
                    in_reply_to_id=str(replied) if replied is not None else None,
                    created_at=created,
                ))
                if len(posts) >= max_results:
                    return posts
            if getattr(page, "_pagination_next", None) is None:  # no Link: the last page
                break
            with self._errors("read recent posts"):
                page = self._api.fetch_next(page)
        return posts

    def delete_post(self, ref: PostRef) -> None:
        """Delete a status (``DELETE /api/v1/statuses/:id``); 404 means it is already gone."""
        with self._errors("delete the post", thing="the deletion"):
            try:
                self._api.status_delete(ref.id)
            except MastodonNotFoundError:
                return

    def same_text(self, sent: str, seen: str) -> bool:
        """Mastodon shows a mention of another instance's account (``@alice@example.social``)
        as ``@alice`` in the status it returns: compare with mentions so reduced."""
        return comparable_text(_local_mentions(sent)) == comparable_text(_local_mentions(seen))

    def allowance(self) -> Allowance | None:
        """``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` of the last answer that had
        them (``None`` before any did)."""
        headers = self._session.rate_headers
        if headers is None:
            return None
        return Allowance(remaining=_int(headers.get("X-RateLimit-Remaining")),
                         reset_at=_reset_at(headers))


_MENTION = re.compile(r"(?<![=/\w])@([a-z0-9_]+)@[\w.-]+\w", re.IGNORECASE)


def _local_mentions(text: str) -> str:
    return _MENTION.sub(r"@\1", text)


def _limits(instance: Mapping[str, Any]) -> Limits:
    """Limits from a v2 (or v1) instance entity, Mastodon's defaults where missing."""
    configuration = _dict(instance.get("configuration"))
    statuses = _dict(configuration.get("statuses"))
    media = _dict(configuration.get("media_attachments"))

    def number(source: Mapping[str, Any], key: str, default: int) -> int:
        value = source.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
            else default

    max_characters = number(statuses, "max_characters",
                            number(instance, "max_toot_chars", DEFAULT_LIMITS.max_characters))
    image_bytes = number(media, "image_size_limit", DEFAULT_LIMITS.max_image_bytes)
    types = media.get("supported_mime_types")
    images = tuple(t for t in types if isinstance(t, str) and t.startswith("image/")) \
        if isinstance(types, list) else ()
    return Limits(
        max_characters=max_characters,
        characters_reserved_per_url=number(statuses, "characters_reserved_per_url",
                                           DEFAULT_LIMITS.characters_reserved_per_url or 23),
        max_media=number(statuses, "max_media_attachments", DEFAULT_LIMITS.max_media),
        max_image_bytes=image_bytes,
        max_gif_bytes=image_bytes,
        media_types=images or DEFAULT_LIMITS.media_types,
        max_alt=number(media, "description_limit", DEFAULT_LIMITS.max_alt),
    )


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# ------------------------------------------------------------------ logging in


def register_app(api_base_url: str, *, app_name: str = "threadbot",
                 timeout: float = 30.0) -> tuple[str, str]:
    """Register threadbot as an app on the instance (``POST /api/v1/apps``, scopes
    ``read write``, redirect ``urn:ietf:wg:oauth:2.0:oob``).

    Returns ``(client_id, client_secret)``. Raises the ``PlatformError`` classes
    (``NetworkError`` when the instance cannot be reached, ``BadRequestError``
    when it refuses).
    """
    _require_library()
    base = _base_url(api_base_url)
    session = _Session()
    errors = _Errors(base, session, timeout)
    action = "register threadbot as an app"
    try:
        with errors(action, thing="the app registration"):
            try:
                client_id, client_secret = Mastodon.create_app(
                    app_name, scopes=SCOPES, redirect_uris=REDIRECT_URI, api_base_url=base,
                    request_timeout=timeout, session=session, user_agent=USER_AGENT)
            except (KeyError, TypeError):
                # create_app reads the body without checking the status.
                response = session.last_response
                if response is not None and not response.ok:
                    raise errors.from_status(response.status_code, response.reason,
                                             _detail(response), action, write=False,
                                             thing="the app registration") from None
                raise errors.unreadable(action, write=False) from None
    finally:
        session.close()
    return str(client_id), str(client_secret)


def authorization_url(api_base_url: str, client_id: str, client_secret: str, *,
                      timeout: float = 30.0) -> str:
    """The page where the account's owner approves threadbot and is shown a code
    (``GET /oauth/authorize``, or the instance's ``authorization_endpoint`` from
    ``/.well-known/oauth-authorization-server``)."""
    _require_library()
    base = _base_url(api_base_url)
    session = _Session()
    errors = _Errors(base, session, timeout, hidden=(client_secret,))
    try:
        with errors("find the instance's login page"):
            api = _api(base, session, timeout, client_id=client_id, client_secret=client_secret)
            return str(api.auth_request_url(client_id=client_id, redirect_uris=REDIRECT_URI,
                                            scopes=SCOPES, allow_http=base.startswith("http:")))
    finally:
        session.close()


def exchange_code(api_base_url: str, client_id: str, client_secret: str, code: str, *,
                  timeout: float = 30.0) -> str:
    """The access token for the code shown after approving threadbot
    (``POST /oauth/token``, ``grant_type=authorization_code``).

    Raises ``AuthError`` when the instance does not accept the code (wrong,
    already used or expired) or grants less than ``read write``.
    """
    _require_library()
    base = _base_url(api_base_url)
    session = _Session()
    errors = _Errors(base, session, timeout, hidden=(client_secret, code, code.strip()))
    action = "exchange the code for an access token"
    try:
        api = _api(base, session, timeout, client_id=client_id, client_secret=client_secret)
        try:
            token = api.log_in(code=code.strip(), redirect_uri=REDIRECT_URI, scopes=SCOPES,
                               allow_http=base.startswith("http:"))
        except MastodonError as err:
            error = errors.translate(err, action, write=False, thing="the code")
            if isinstance(error, BadRequestError | RejectedError | AuthError) and \
                    error.status in (400, 401, 403):
                said = f" ({error.detail.rstrip('.')})" if error.detail else ""
                if (error.detail or "").startswith("invalid_client"):
                    raise AuthError(
                        f"Mastodon at {errors.host} did not recognise threadbot's app "
                        f"registration{said}. Start the login again from the beginning: it "
                        "registers threadbot anew.",
                        platform=PLATFORM, status=error.status, detail=error.detail) from None
                error = AuthError(
                    f"Mastodon at {errors.host} did not accept the code{said}. A code works "
                    "once and only for a few minutes: open the login page again, approve "
                    "threadbot, and paste the new code.",
                    platform=PLATFORM, status=error.status, detail=error.detail)
            raise error from None
    finally:
        session.close()
    return str(token)


def _make_client(account: Any, secrets: Mapping[str, str], timeout: float,
                 **_: Any) -> MastodonClient:
    return MastodonClient(secrets["access_token"], account.api_base_url, timeout,
                          account=account.name)


def _login(account: Any, *, ask: Any, say: Any, timeout: float = 30.0,
           **_: Any) -> dict[str, str]:
    """The ``accounts login`` walk-through for one account: register threadbot as an
    app on the account's instance, show the authorization page's address, read the
    code the writer pastes, and exchange it for an access token. Returns
    ``{"access_token": token}``; the token is never shown.

    Raises ``ConfigError`` when ``api_base_url`` does not answer like a Mastodon
    instance, ``AuthError`` when the code is refused, and the other
    ``PlatformError`` classes when the instance cannot be reached."""
    base = account.api_base_url
    host = _host(base)
    again = f"Run `threadbot accounts login {account.name}` again"
    if base.startswith("http://") and urlsplit(base).hostname not in (
            "127.0.0.1", "localhost", "::1"):
        raise ConfigError(
            f"account '{account.name}' has api_base_url {shown_url(base)}, without https: "
            "the access token would travel unencrypted. Use the instance's https:// address.")
    try:
        client_id, client_secret = register_app(base, timeout=timeout)
    except (RejectedError, AuthError, ServerError) as error:
        if error.status in (401, 403, 404, 405, 501):
            raise ConfigError(
                f"{shown_url(base)} does not answer like a Mastodon instance (it answered "
                f"{error.status} when asked to register threadbot). Check 'api_base_url' of "
                f"account '{account.name}' in the config: it must be just the instance's "
                "address, e.g. https://mastodon.social.") from None
        raise
    url = authorization_url(base, client_id, client_secret, timeout=timeout)
    say(f"1. Open this address in your browser, signed in to {host} as the account that "
        f"'{account.name}' should post as:\n\n   {url}\n")
    say("2. Approve threadbot (it asks to read and write posts). The page then shows a "
        "code.")
    code = ask("3. Paste the code here")
    if not code.strip():
        raise AuthError(f"no code was pasted, so nothing was saved. {again} and paste the "
                        f"code {host} shows.", platform=PLATFORM)
    try:
        token = exchange_code(base, client_id, client_secret, code, timeout=timeout)
    except AuthError as error:
        said = f" ({error.detail.rstrip('.')})" if error.detail else ""
        raise AuthError(
            f"Mastodon at {host} did not accept the code{said}, so nothing was saved. A code "
            f"works once and only for a few minutes: {again}, approve threadbot and paste "
            "the new code straight away.", platform=PLATFORM, status=error.status,
            detail=error.detail) from None
    return {"access_token": token}


SPEC = PlatformSpec(
    name=PLATFORM,
    title="Mastodon",
    env={"access_token": "MASTODON_ACCESS_TOKEN"},
    default_api_base_url=None,
    default_limits=DEFAULT_LIMITS,
    make_client=_make_client,
    first_visibility="public",
    reply_visibility="unlisted",
    content_warning=True,
    server_limits=True,
    extra="mastodon",
    login=_login,
)
