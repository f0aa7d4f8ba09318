"""The X client: post, reply, upload images with alt text, read recent posts.

Built on ``tweepy.Client`` (X API v2, OAuth 1.0a user context) for the
endpoints tweepy covers, and on the same signed ``requests`` session for the
v2 media endpoints it does not. Every failure becomes a
:class:`~threadbot.platforms.errors.PlatformError` subclass whose message says
what happened and what to do.

tweepy 4.17 hard-codes ``https://api.twitter.com`` inside ``BaseClient.request``
(a local variable, not an attribute). Rather than copying that method,
:class:`_RoutedSession` -- the ``requests.Session`` tweepy already calls --
rewrites that prefix to ``api_base_url`` and applies our timeout. URL rewriting
happens before requests prepares the request, so the OAuth signature is
computed over the URL actually sent, and media uploads use the same session.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import tweepy

from ..errors import MediaError
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
    shown_url,
)
from .errors import (
    AuthError,
    BadRequestError,
    DuplicatePostError,
    NetworkError,
    PlatformError,
    RateLimitedError,
    RejectedError,
    ServerError,
    UncertainError,
)

__all__ = ["SPEC", "RateLimit", "XClient", "XCredentials", "XPlatformClient", "XPost"]

DEFAULT_BASE_URL = "https://api.x.com"
# Hosts tweepy (and older code) build URLs with; all are sent to api_base_url.
_TWEEPY_HOSTS = ("https://api.twitter.com", "https://api.x.com")
_DUPLICATE_MARK = "duplicate content"
_MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif",
                "WEBP": "image/webp"}
_ACCOUNTS_CHECK = "run `threadbot accounts check`"


@dataclass(frozen=True, repr=False)
class XCredentials:
    """The four OAuth 1.0a user-context values. ``repr`` never shows them."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> XCredentials:
        """Build from a mapping with the four keys (e.g. ``FakeX.credentials()``)."""
        return cls(values["consumer_key"], values["consumer_secret"],
                   values["access_token"], values["access_token_secret"])

    def __repr__(self) -> str:
        return "XCredentials(<redacted>)"


@dataclass(frozen=True)
class XPost:
    """A post as read back from X."""

    id: str
    text: str
    created_at: datetime | None
    in_reply_to_id: str | None
    conversation_id: str | None


@dataclass(frozen=True)
class RateLimit:
    """The rate-limit headers of the last answer (``None`` where X sent none)."""

    limit: int | None
    remaining: int | None
    reset_at: datetime | None
    limit_24h: int | None
    remaining_24h: int | None
    reset_24h_at: datetime | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit:
        """Parse ``x-rate-limit-*`` and ``x-user-limit-24hour-*`` headers."""
        return cls(
            limit=_int(headers.get("x-rate-limit-limit")),
            remaining=_int(headers.get("x-rate-limit-remaining")),
            reset_at=_epoch(headers.get("x-rate-limit-reset")),
            limit_24h=_int(headers.get("x-user-limit-24hour-limit")),
            remaining_24h=_int(headers.get("x-user-limit-24hour-remaining")),
            reset_24h_at=_epoch(headers.get("x-user-limit-24hour-reset")),
        )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _epoch(value: str | None) -> datetime | None:
    seconds = _int(value)
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


class _RoutedSession(requests.Session):
    """A session that sends tweepy's hard-coded host to ``base_url``, with a timeout.

    tweepy calls ``self.session.request(method, host + route, ...)``; this is
    the one seam every tweepy request passes through, so overriding it covers
    every endpoint without copying tweepy code. It also remembers the last
    response's rate-limit headers.
    """

    def __init__(self, base_url: str, timeout: float | tuple[float, float]) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.last_headers: Mapping[str, str] = {}

    def request(  # type: ignore[override]
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        url = url.decode() if isinstance(url, bytes) else url
        for host in _TWEEPY_HOSTS:
            if url.startswith(host + "/"):
                url = self.base_url + url[len(host):]
                break
        kwargs.setdefault("timeout", self.timeout)
        response = super().request(method, url, *args, **kwargs)
        self.last_headers = response.headers
        return response


class _RoutedClient(tweepy.Client):
    """``tweepy.Client`` whose requests go through a :class:`_RoutedSession`."""

    def __init__(self, credentials: XCredentials, session: _RoutedSession) -> None:
        super().__init__(
            consumer_key=credentials.consumer_key,
            consumer_secret=credentials.consumer_secret,
            access_token=credentials.access_token,
            access_token_secret=credentials.access_token_secret,
        )
        self.session = session

    def __repr__(self) -> str:
        return f"_RoutedClient(base_url={self.session.base_url!r})"


class XClient:
    """Talks to X API v2 as one account (OAuth 1.0a user context).

    Args:
        credentials: an :class:`XCredentials` or a mapping with its four keys.
        api_base_url: where to send every request (the fake server in tests).
        timeout: seconds to wait to connect and for each answer.
        chunk_threshold: files larger than this are uploaded in chunks.
        chunk_size: bytes per chunk for chunked uploads.
        account: a label for messages (e.g. ``"@me"``); never a secret.
    """

    def __init__(
        self,
        credentials: XCredentials | Mapping[str, str],
        api_base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        *,
        chunk_threshold: int = 1024 * 1024,
        chunk_size: int = 1024 * 1024,
        account: str | None = None,
    ) -> None:
        if not isinstance(credentials, XCredentials):
            credentials = XCredentials.from_mapping(credentials)
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        self._credentials = credentials
        self.api_base_url = api_base_url.rstrip("/")
        self.timeout = timeout
        self.chunk_threshold = chunk_threshold
        self.chunk_size = chunk_size
        self.account = account
        self._session = _RoutedSession(self.api_base_url, timeout)
        self._client = _RoutedClient(credentials, self._session)

    def __repr__(self) -> str:
        return f"XClient(api_base_url={shown_url(self.api_base_url)!r}, account={self.account!r})"

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    def __enter__(self) -> XClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def rate_limit(self) -> RateLimit:
        """Rate-limit headers of the last answer X sent."""
        return RateLimit.from_headers(self._session.last_headers)

    # ---------------------------------------------------------------- API

    def me(self) -> tuple[str, str]:
        """The signed-in account as ``(user id, username)``."""
        with self._errors("check the account", write=False):
            response = self._client.get_me(user_auth=True)
        if response.data is None:
            raise PlatformError("X did not return the signed-in account. Try again later.")
        return str(response.data.id), str(response.data.username)

    def create_post(
        self, text: str, reply_to: str | None = None, media_ids: Sequence[str] = ()
    ) -> str:
        """Publish a post (a reply when ``reply_to`` is set); returns its id."""
        with self._errors("publish the post", write=True):
            response = self._client.create_tweet(
                text=text,
                in_reply_to_tweet_id=reply_to,
                media_ids=list(media_ids) or None,
                user_auth=True,
            )
        return str(response.data["id"])

    def delete_post(self, post_id: str) -> None:
        """Delete one of the account's posts (``DELETE /2/tweets/:id``); a post
        already gone (404) is not an error."""
        try:
            with self._errors("delete the post", write=True):
                self._client.delete_tweet(post_id, user_auth=True)
        except RejectedError as error:
            if error.status != 404:
                raise

    def recent_posts(
        self, user_id: str, since: datetime | None = None, max_results: int = 100
    ) -> list[XPost]:
        """The account's posts, newest first, at most ``max_results`` (optionally since a time).

        Used after an uncertain failure to find out whether a post went
        through before retrying it.
        """
        posts: list[XPost] = []
        token: str | None = None
        params: dict[str, Any] = {
            "tweet_fields": ["created_at", "referenced_tweets", "in_reply_to_user_id",
                             "conversation_id"],
            "user_auth": True,
        }
        if since is not None:
            params["start_time"] = since
        while len(posts) < max_results:
            # X accepts 5..100 per page.
            page_size = min(100, max(5, max_results - len(posts)))
            with self._errors("read recent posts", write=False):
                response = self._client.get_users_tweets(
                    user_id, max_results=page_size, pagination_token=token, **params
                )
            for tweet in response.data or []:
                replied = next(
                    (str(ref.id) for ref in (tweet.referenced_tweets or [])
                     if ref.type == "replied_to"),
                    None,
                )
                posts.append(XPost(
                    id=str(tweet.id),
                    text=tweet.text,
                    created_at=tweet.created_at,
                    in_reply_to_id=replied,
                    conversation_id=str(tweet.conversation_id) if tweet.conversation_id
                    else None,
                ))
            token = (response.meta or {}).get("next_token")
            if not token:
                break
        return posts[:max_results]

    def upload_media(self, path: str | Path, alt_text: str | None = None) -> str:
        """Upload an image (chunked above ``chunk_threshold``), set its alt text; returns its id."""
        from ..media import read_image

        path = Path(path)
        data = read_image(path)
        media_type = _media_type(path)
        category = "tweet_gif" if media_type == "image/gif" else "tweet_image"
        with self._errors(f"upload {path.name}", write=False):
            if len(data) > self.chunk_threshold:
                media_id = self._upload_chunked(path.name, data, media_type, category)
            else:
                response = self._media_post(
                    "/2/media/upload",
                    files={"media": (path.name, data, media_type)},
                    data={"media_category": category, "media_type": media_type},
                )
                media_id = str(response.json()["data"]["id"])
            if alt_text:
                self._media_post(
                    "/2/media/metadata",
                    json={"id": media_id, "metadata": {"alt_text": {"text": alt_text}}},
                )
        return media_id

    # ---------------------------------------------------------------- media internals

    def _auth(self) -> Any:
        # The exact OAuth1 object tweepy signs its own requests with.
        creds = self._credentials
        return tweepy.OAuth1UserHandler(
            creds.consumer_key, creds.consumer_secret,
            creds.access_token, creds.access_token_secret,
        ).apply_auth()

    def _media_request(self, method: str, route: str, **kwargs: Any) -> requests.Response:
        response = self._session.request(
            method, self.api_base_url + route, auth=self._auth(),
            headers={"User-Agent": self._client.user_agent}, **kwargs,
        )
        if not 200 <= response.status_code < 300:
            raise _HTTPFailure(response)
        return response

    def _media_post(self, route: str, **kwargs: Any) -> requests.Response:
        return self._media_request("POST", route, **kwargs)

    def _upload_chunked(self, name: str, data: bytes, media_type: str, category: str) -> str:
        init = self._media_post(
            "/2/media/upload/initialize",
            json={"media_type": media_type, "total_bytes": len(data),
                  "media_category": category},
        )
        media_id = str(init.json()["data"]["id"])
        for index, start in enumerate(range(0, len(data), self.chunk_size)):
            self._media_post(
                f"/2/media/upload/{media_id}/append",
                files={"media": (name, data[start:start + self.chunk_size],
                                 "application/octet-stream")},
                data={"segment_index": str(index)},
            )
        final = self._media_post(f"/2/media/upload/{media_id}/finalize").json()["data"]
        self._wait_processed(media_id, final.get("processing_info"))
        return media_id

    def _wait_processed(self, media_id: str, info: dict[str, Any] | None) -> None:
        """Poll STATUS while X processes the media (GIFs, videos; images rarely)."""
        deadline = time.monotonic() + max(self.timeout, 60)
        while info and info.get("state") in ("pending", "in_progress"):
            if time.monotonic() > deadline:
                raise ServerError("X is still processing the image. Try again in a few minutes.")
            time.sleep(min(float(info.get("check_after_secs", 1)), 5))
            status = self._media_request(
                "GET", "/2/media/upload", params={"command": "STATUS", "media_id": media_id}
            ).json()["data"]
            info = status.get("processing_info")
        if info and info.get("state") == "failed":
            error = info.get("error") or {}
            raise BadRequestError(
                f"X could not process the image: {error.get('message', 'unknown error')}. "
                "Check that the file is a valid image.",
            )

    # ---------------------------------------------------------------- error mapping

    @contextmanager
    def _errors(self, action: str, *, write: bool) -> Iterator[None]:
        """Turn tweepy/requests failures of ``action`` into PlatformError subclasses.

        ``write`` marks requests that change state, for which "no answer" means
        "may have happened".
        """
        try:
            yield
        except tweepy.HTTPException as err:
            raise self._from_response(err.response, action, write=write) from None
        except _HTTPFailure as err:
            raise self._from_response(err.response, action, write=write) from None
        except requests.RequestException as err:
            raise self._from_network(err, action, write=write) from None

    def _who(self) -> str:
        return f" for {self.account}" if self.account else ""

    def _from_network(
        self, err: requests.RequestException, action: str, *, write: bool
    ) -> PlatformError:
        where = shown_url(self.api_base_url)
        if not was_sent(err):
            return NetworkError(
                f"Could not reach X at {where} to {action}: {network_reason(err)}. Nothing was "
                "sent; check your internet connection and try again."
            )
        if isinstance(err, requests.Timeout):
            what = f"no answer within {self.timeout:g} seconds"
        elif isinstance(err, requests.exceptions.InvalidJSONError):
            what = "its answer could not be read (not JSON)"
        else:
            what = "the connection was closed before X answered"
        if write:
            return UncertainError(
                f"Sent the request to {action} to X, but {what}. The post may have been "
                "published: check the account's recent posts before trying again, or the "
                "thread may end up with a duplicate."
            )
        return UncertainError(
            f"Sent the request to {action} to X, but {what}. Try again.",
            may_have_posted=False,
        )

    def _from_response(
        self, response: requests.Response, action: str, *, write: bool
    ) -> PlatformError:
        status = response.status_code
        detail = _detail(response)
        said = f" X said: {detail.rstrip('.')}." if detail else ""
        if status == 401:
            return AuthError(
                f"X rejected the credentials{self._who()} (401 Unauthorized) when trying to "
                f"{action}. The tokens may be wrong, revoked or for another app: "
                f"{_ACCOUNTS_CHECK}.",
                status=status, detail=detail,
            )
        if status == 429:
            return _rate_limited(response, action, detail)
        if status == 403 and detail and _DUPLICATE_MARK in detail.lower():
            return DuplicatePostError(
                f"X refused to {action}: this account already posted exactly this text "
                "recently, and X does not allow duplicates. Change the wording, or delete "
                "the earlier post on X, then try again.",
                status=status, detail=detail,
            )
        if status == 400:
            return BadRequestError(
                f"X refused to {action} (400 Bad Request).{said} Fix the post and try again.",
                status=status, detail=detail,
            )
        if status in (403, 404):
            return RejectedError(
                f"X refused to {action} ({status} {response.reason}).{said}",
                status=status, detail=detail,
            )
        if status >= 500:
            maybe = (
                " The post may or may not have been published: check the account's recent "
                "posts before trying again." if write else " Try again in a few minutes."
            )
            return ServerError(
                f"X had a problem ({status} {response.reason}) when trying to {action}.{maybe}",
                status=status, detail=detail, may_have_posted=write,
            )
        return PlatformError(
            f"X answered {status} {response.reason} when trying to {action}.{said}",
            status=status, detail=detail,
        )


class _HTTPFailure(Exception):
    """A non-2xx answer to one of our own (media) requests."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _detail(response: requests.Response) -> str | None:
    """X's most specific explanation: ``errors[].message``, else ``detail``."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    messages = [
        e["message"] for e in body.get("errors") or []
        if isinstance(e, dict) and isinstance(e.get("message"), str)
    ]
    if messages:
        return " ".join(messages)
    detail = body.get("detail")
    return detail if isinstance(detail, str) else None


def _rate_limited(response: requests.Response, action: str, detail: str | None) -> RateLimitedError:
    limits = RateLimit.from_headers(response.headers)
    app_remaining = _int(response.headers.get("x-app-limit-24hour-remaining"))
    app_reset = _epoch(response.headers.get("x-app-limit-24hour-reset"))
    reset_at = limits.reset_at
    daily = False
    what = "too many requests in the last 15 minutes"
    if limits.remaining_24h == 0:
        daily, reset_at = True, limits.reset_24h_at or reset_at
        what = f"the account's 24-hour post limit ({limits.limit_24h}) is used up"
    elif app_remaining == 0:
        daily, reset_at = True, app_reset or reset_at
        what = "the app's 24-hour post limit is used up"
    when = (
        f" It resets at {reset_at.astimezone().strftime('%Y-%m-%d %H:%M %Z')}."
        if reset_at else ""
    )
    return RateLimitedError(
        f"X rate-limited the request to {action}: {what}.{when} Wait until then, or "
        "schedule the rest of the thread for later.",
        status=429, detail=detail, reset_at=reset_at, limit_24h=limits.limit_24h,
        remaining_24h=limits.remaining_24h, daily_cap_hit=daily,
    )


def _media_type(path: Path) -> str:
    # X checks the bytes, not the name, so we do too (with threadbot's own sniffing).
    from ..media import image_format

    try:
        kind = image_format(path)
    except OSError as err:
        raise MediaError(f"cannot read the image ({err.strerror}). Check the path.",
                         path=str(path)) from None
    if kind not in _MEDIA_TYPES:
        raise MediaError("is not a PNG, JPEG, GIF or WEBP image. Convert it, or remove it.",
                         path=str(path))
    return _MEDIA_TYPES[kind]


# --------------------------------------------------------------------------- the interface


class XPlatformClient(PlatformClient):
    """One X account behind threadbot's platform interface (``base.PlatformClient``).

    X has no idempotency key (the key is ignored: the uncertain case is resolved by
    reading the account's recent posts) and no visibility; post URLs are
    ``https://x.com/USERNAME/status/ID``. The daemon's allowance is X's 24-hour
    user post cap (``x-user-limit-24hour-*`` headers).
    """

    platform = "x"

    def __init__(self, client: XClient) -> None:
        self.client = client
        self._handle: str | None = None

    def __repr__(self) -> str:
        return f"XPlatformClient({self.client!r})"

    def me(self) -> Identity:
        user_id, username = self.client.me()
        self._handle = username
        return Identity(account_id=user_id, handle=username)

    def limits(self) -> Limits:
        return SPEC.default_limits

    def upload_media(self, path: str | Path, alt_text: str | None) -> str:
        return self.client.upload_media(path, alt_text)

    def create_post(self, text: str, *, reply_to: PostRef | None, root: PostRef | None,
                    media_ids: Sequence[str], idempotency_key: str,
                    options: PostOptions) -> PostRef:
        post_id = self.client.create_post(text, reply_to=reply_to.id if reply_to else None,
                                          media_ids=media_ids)
        url = self._url(self._handle, post_id) if self._handle else None
        return PostRef(id=post_id, url=url)

    def _url(self, handle: str, post_id: str) -> str:
        # Posts on a stand-in (a fake X for rehearsals) get that server's address, so a
        # rehearsal's links never lead to someone's real post on x.com.
        base = self.client.api_base_url
        if base.rstrip("/") in _TWEEPY_HOSTS:
            base = "https://x.com"
        return f"{base}/{handle}/status/{post_id}"

    def recent_posts(self, identity: Identity, *, since: datetime | None = None,
                     max_results: int = 100) -> list[RemotePost]:
        self._handle = identity.handle
        return [RemotePost(ref=PostRef(id=p.id, url=self.post_url(identity, PostRef(p.id))),
                           text=p.text, in_reply_to_id=p.in_reply_to_id,
                           created_at=p.created_at)
                for p in self.client.recent_posts(identity.account_id, since=since,
                                                  max_results=max_results)]

    def delete_post(self, ref: PostRef) -> None:
        self.client.delete_post(ref.id)

    def allowance(self) -> Allowance | None:
        limits = self.client.rate_limit
        if limits.remaining_24h is None:
            return None
        return Allowance(remaining=limits.remaining_24h, reset_at=limits.reset_24h_at)

    def post_url(self, identity: Identity, ref: PostRef) -> str | None:
        return ref.url or self._url(identity.handle, ref.id)

    def close(self) -> None:
        self.client.close()


def _make_client(account: Any, secrets: Mapping[str, str], timeout: float,
                 **_: Any) -> XPlatformClient:
    credentials = XCredentials(secrets["api_key"], secrets["api_secret"],
                               secrets["access_token"], secrets["access_token_secret"])
    return XPlatformClient(XClient(credentials, api_base_url=account.api_base_url,
                                   timeout=timeout, account=account.name))


SPEC = PlatformSpec(
    name="x",
    title="X",
    env={"api_key": "X_API_KEY", "api_secret": "X_API_SECRET",
         "access_token": "X_ACCESS_TOKEN", "access_token_secret": "X_ACCESS_TOKEN_SECRET"},
    default_api_base_url=DEFAULT_BASE_URL,
    default_limits=Limits(max_characters=280, characters_reserved_per_url=23, max_media=4,
                          max_image_bytes=5 * 1024 * 1024, max_gif_bytes=15 * 1024 * 1024,
                          max_alt=1000),
    make_client=_make_client,
    paid_posts=True,
    auth_help=("One or more of {names} is wrong or revoked: compare each with the X "
               "developer portal (Keys and tokens); the access token and secret must be "
               "generated for the same app as the API key, with read and write permission."),
    # X refuses "duplicate content" and does not say for how long it remembers; a
    # month is what writers report, so threadbot checks the last 30 days of its ledger.
    duplicate_window=timedelta(days=30),
)
