"""The one interface every platform client implements.

The publisher (``threadbot.publish``), the daemon and the store only ever talk
to a :class:`PlatformClient`; each platform module in ``threadbot.platforms``
(``x``, ``mastodon``, ...) provides one, built from an account's settings and
secrets by its :class:`PlatformSpec`. Adding a platform means one new module
here and one line in ``threadbot.platforms.REGISTRY``.

Every failure a client meets is raised as one of the
:mod:`threadbot.platforms.errors` classes (rate limit with its reset time,
rejected credentials, refused post with the platform's reason, network, server
error, uncertain), with a message a writer can act on and never a secret.
"""

from __future__ import annotations

import html
import re
import secrets
import time
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True)
class Identity:
    """The signed-in account.

    Attributes:
        account_id: the platform's own id for the account (X user id, Mastodon
            account id, Bluesky DID).
        handle: the name without a leading ``@``, as people write it: ``me`` on
            X, ``me@mastodon.social`` on Mastodon, ``me.bsky.social`` on Bluesky.
    """

    account_id: str
    handle: str

    @property
    def shown(self) -> str:
        """``@handle``, for messages."""
        return f"@{self.handle}"


@dataclass(frozen=True)
class Limits:
    """What one account's server accepts in a post.

    Lengths are in the platform's own unit (X: weighted characters; Mastodon and
    Bluesky: graphemes); sizes are in bytes; ``media_types`` are MIME types.
    ``characters_reserved_per_url`` is what any URL counts, or ``None`` when a
    URL counts its own characters.
    """

    max_characters: int
    characters_reserved_per_url: int | None
    max_media: int
    max_image_bytes: int
    max_gif_bytes: int
    media_types: tuple[str, ...] = ("image/png", "image/jpeg", "image/gif", "image/webp")
    max_alt: int = 1000

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["media_types"] = list(self.media_types)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Limits:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        if "media_types" in known:
            known["media_types"] = tuple(known["media_types"])
        return cls(**known)


@dataclass(frozen=True)
class PostRef:
    """Everything needed to reply to (or delete) a post, as the ledger keeps it.

    ``id`` is the platform's id (X and Mastodon status id; on Bluesky the record
    key); ``url`` the post's web address as the server gave it; ``uri`` and
    ``cid`` the AT Protocol strong reference (Bluesky only).
    """

    id: str
    url: str | None = None
    uri: str | None = None
    cid: str | None = None


@dataclass(frozen=True)
class RemotePost:
    """A post read back from the platform (to resolve the uncertain case)."""

    ref: PostRef
    text: str  # as plain text (HTML, if the platform sends it, already turned into text)
    in_reply_to_id: str | None
    created_at: datetime | None = None


@dataclass(frozen=True)
class PostOptions:
    """Per-post settings some platforms honour and others ignore.

    ``visibility``: Mastodon's ``public``, ``unlisted``, ``private`` or ``direct``.
    ``language``: an ISO 639 code (Mastodon ``language``, Bluesky ``langs``).
    ``content_warning``: Mastodon's ``spoiler_text``.
    ``links``: ``(start, end, url)``: the text ``text[start:end]`` (code point offsets)
    links to ``url`` (a draft's ``[text](url)``, on a platform whose spec has
    ``link_text``: Bluesky's link facets).
    """

    visibility: str | None = None
    language: str | None = None
    content_warning: str | None = None
    links: tuple[tuple[int, int, str], ...] = ()


@dataclass(frozen=True)
class Allowance:
    """What the platform last said of the account's posting allowance.

    ``remaining`` posts may still be made before ``reset_at`` (UTC). ``None``
    fields mean the platform said nothing.
    """

    remaining: int | None = None
    reset_at: datetime | None = None


_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def new_idempotency_key() -> str:
    """A fresh key for one post: a TID (the AT Protocol's timestamp identifier, 13
    characters of base32-sortable: 53 bits of microseconds since 1970 and 10 random
    bits). Unique and sortable, it serves any platform as an ``Idempotency-Key`` and
    Bluesky as the post's record key (https://atproto.com/specs/tid)."""
    micros = time.time_ns() // 1000
    value = (micros << 10) | secrets.randbits(10)
    chars = []
    for _ in range(13):
        chars.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def shown_url(url: str) -> str:
    """``url`` without a user name or password (a proxy URL may carry them)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def comparable_text(text: str) -> str:
    """Text as it can be compared with what a platform returns: HTML entities
    resolved, NFC, links removed (X rewrites them to t.co, Mastodon shortens
    them in its HTML) and white space collapsed."""
    text = unicodedata.normalize("NFC", html.unescape(text))
    text = re.sub(r"(?:https?://)?(?:[\w-]+\.)+[a-z]{2,}(?:/\S*)?", "", text, flags=re.I)
    return " ".join(text.split())


class PlatformClient(ABC):
    """One account on one platform. Every method may raise a
    :class:`~threadbot.platforms.errors.PlatformError` subclass.

    A client may keep a ``warnings`` list of things the writer should be told about
    the post just made (a mention that could not be resolved stays plain text): the
    publisher reports and empties it after each post.
    """

    #: The platform's name in the config (``"x"``, ``"mastodon"``, ...).
    platform: str = ""

    @abstractmethod
    def me(self) -> Identity:
        """The signed-in account (one request)."""

    @abstractmethod
    def limits(self) -> Limits:
        """The account's limits (from the server where it publishes them)."""

    @abstractmethod
    def upload_media(self, path: str | Path, alt_text: str | None) -> str:
        """Upload one image with its alt text, wait until the server can attach
        it, and return its media id. Raises ``MediaError`` if the file cannot be
        read or is of a type the platform does not take."""

    @abstractmethod
    def create_post(self, text: str, *, reply_to: PostRef | None, root: PostRef | None,
                    media_ids: Sequence[str], idempotency_key: str,
                    options: PostOptions) -> PostRef:
        """Publish ``text`` (a reply to ``reply_to`` in the thread starting at
        ``root``, both ``None`` for the first post).

        ``idempotency_key`` is the same for every attempt at the same post, across
        retries and restarts: a platform that supports it sends it so that a
        retry cannot create a second post. Raises ``UncertainError`` (or a
        ``ServerError`` with ``may_have_posted``) when the post may exist anyway.
        """

    @abstractmethod
    def recent_posts(self, identity: Identity, *, since: datetime | None = None,
                     max_results: int = 100) -> list[RemotePost]:
        """The account's latest posts, newest first (for the uncertain case)."""

    @abstractmethod
    def delete_post(self, ref: PostRef) -> None:
        """Delete one of the account's posts. A post already gone is not an error."""

    def find_post(self, identity: Identity, *, text: str, reply_to: PostRef | None,
                  idempotency_key: str, since: datetime | None = None) -> list[PostRef]:
        """Posts of the account that may be the one sent with ``idempotency_key``
        (for the uncertain case: a request sent whose answer never came).

        By default: the account's recent posts (since ``since``) with the same text,
        replying to ``reply_to``, newest first. A platform that can read a post by
        the key it was created under (a Bluesky record key) reads that one instead.
        """
        parent = reply_to.id if reply_to else None
        return [post.ref for post in self.recent_posts(identity, since=since, max_results=100)
                if post.in_reply_to_id == parent and self.same_text(text, post.text)]

    def allowance(self) -> Allowance | None:
        """What the last answer said of the account's posting allowance (for the
        daemon, so that it does not start a thread the platform cannot take)."""
        return None

    def post_url(self, identity: Identity, ref: PostRef) -> str | None:
        """The web address of a post, when the server did not give one."""
        return ref.url

    def same_text(self, sent: str, seen: str) -> bool:
        """Whether a post read back (``seen``) is the one we sent (``sent``)."""
        return comparable_text(sent) == comparable_text(seen)

    def close(self) -> None:  # noqa: B027 - most clients hold connections to release
        """Release connections."""

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class PlatformSpec:
    """How threadbot sets up accounts of one platform.

    Attributes:
        name: the platform's name in the config.
        title: its name in messages (``"X"``, ``"Mastodon"``).
        env: the default environment variable for each credential key of an
            account (e.g. ``{"access_token": "MASTODON_ACCESS_TOKEN"}``).
        default_api_base_url: where accounts post without ``api_base_url``;
            ``None`` when each account must say (a Mastodon instance).
        default_limits: the limits used when the server's are not known.
        make_client: ``(account, secrets, timeout, *, state_dir) -> PlatformClient``;
            ``secrets`` maps each credential key to its value; ``state_dir`` is the
            folder of the database, where a platform may keep a session (mode 0600).
        first_visibility, reply_visibility: default visibility of a thread's
            first post and of its replies (``None``: the platform has none).
        content_warning: whether posts can carry a content warning.
        server_limits: whether each server publishes its own limits (a Mastodon
            instance does; X's are ``default_limits``, the same for everyone).
        needs_handle: accounts must give ``handle:`` in the config.
        resizes_images: too-large images are scaled down to fit, not refused.
        duplicate_window: how long the platform refuses a post repeating the text of
            one the account posted (``None``: it accepts repeated text).
        extra: the pip extra that installs the platform's library, if any.

    A platform module imports its client library; ``threadbot.platforms.spec``
    turns a missing one into a message naming the pip extra that installs it.
    """

    name: str
    title: str
    env: Mapping[str, str]
    default_api_base_url: str | None
    default_limits: Limits
    make_client: Callable[..., PlatformClient] = field(repr=False)
    first_visibility: str | None = None
    reply_visibility: str | None = None
    content_warning: bool = False
    server_limits: bool = False
    # Accounts name their handle in the config (``handle: me.bsky.social``): the
    # platform signs in with it.
    needs_handle: bool = False
    # Images larger than ``default_limits.max_image_bytes`` are scaled down to fit
    # (a warning in the preview) rather than refused.
    resizes_images: bool = False
    # Posts are paid for per post (X's pay-per-use API: the preview shows the cost).
    paid_posts: bool = False
    # A draft's [text](url) link posts only its text, made a link by the post's rich
    # text (``PostOptions.links``: Bluesky's link facets); elsewhere "text (url)".
    link_text: bool = False
    # What to check when the platform rejects an account's keys; ``{names}`` (the
    # variables) and ``{account}`` (its name) are filled in.
    auth_help: str = ("{names} is wrong, expired or revoked. Get a new one with "
                      "`threadbot accounts login {account}`.")
    extra: str | None = None
    # ``login(account, *, ask, say, state_dir) -> {credential key: secret}``: walks a
    # writer through getting the account's secrets (``ask(prompt, hidden=False) -> answer``,
    # ``say(text)``; ``state_dir`` as for ``make_client``);
    # ``None`` when the platform has no such flow (X: keys from its developer portal).
    login: Callable[..., dict[str, str]] | None = field(default=None, repr=False)
    # A post whose text is the same as one the account posted within this window (a
    # ``timedelta``) is refused as a duplicate, in a thread or not; ``None``: repeated
    # text is accepted (``threadbot.checks``).
    duplicate_window: timedelta | None = None
