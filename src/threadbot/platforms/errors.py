"""Errors a platform (X today) can answer with, in words a user can act on.

Every class says what happened and what to do next, and carries the facts a
caller needs to decide (``may_have_posted``, ``reset_at``, ...). None of them
ever holds a credential: messages are built from X's status and ``detail``
only, never from request headers.
"""

from __future__ import annotations

from datetime import datetime

from ..errors import ExitCode, ThreadbotError


class PlatformError(ThreadbotError):
    """Base class: the platform refused, failed, or could not be reached.

    Attributes:
        platform: ``"x"``.
        status: the HTTP status, or ``None`` when there was no answer.
        detail: the platform's own explanation, if it gave one.
        may_have_posted: ``True`` when the request may have taken effect even
            though we got no success answer; check before retrying a post.
        retryable: ``True`` when trying again later can succeed as is.
    """

    exit_code = ExitCode.PLATFORM
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        platform: str = "x",
        status: int | None = None,
        detail: str | None = None,
        may_have_posted: bool = False,
    ) -> None:
        self.platform = platform
        self.status = status
        self.detail = detail
        self.may_have_posted = may_have_posted
        super().__init__(message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, message={self.message!r})"


class NetworkError(PlatformError):
    """The request never reached the platform (DNS, refused, connect timeout)."""

    exit_code = ExitCode.PLATFORM
    retryable = True


class UncertainError(PlatformError):
    """The request was sent but no answer came back (read timeout, dropped connection).

    The post may or may not exist: look for it (``XClient.recent_posts``)
    before posting again, or the thread gets a duplicate.
    """

    exit_code = ExitCode.UNCERTAIN
    retryable = False

    def __init__(self, message: str, **kwargs: object) -> None:
        kwargs.setdefault("may_have_posted", True)
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class ServerError(PlatformError):
    """The platform answered 5xx: its problem, usually temporary."""

    exit_code = ExitCode.PLATFORM
    retryable = True


class AuthError(PlatformError):
    """401: the platform rejected the account's credentials."""

    exit_code = ExitCode.AUTH


class RateLimitedError(PlatformError):
    """429: too many requests, or the 24-hour post cap is used up.

    Attributes:
        reset_at: when this request can succeed again (UTC), if X said.
        limit_24h, remaining_24h: the user's 24-hour post cap and what is left
            of it, when X sent those headers.
        daily_cap_hit: ``True`` when the 24-hour cap (user's or app's) is the
            limit that was hit, rather than the 15-minute window.
    """

    exit_code = ExitCode.RATE_LIMITED
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        reset_at: datetime | None = None,
        limit_24h: int | None = None,
        remaining_24h: int | None = None,
        daily_cap_hit: bool = False,
        **kwargs: object,
    ) -> None:
        self.reset_at = reset_at
        self.limit_24h = limit_24h
        self.remaining_24h = remaining_24h
        self.daily_cap_hit = daily_cap_hit
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class RejectedError(PlatformError):
    """The platform understood the request and refused it (4xx other than 401/429)."""

    exit_code = ExitCode.REJECTED


class DuplicatePostError(RejectedError):
    """403: the account already posted exactly this text recently."""


class BadRequestError(RejectedError):
    """400: the platform found the request invalid (its ``detail`` says why)."""
