"""Publishing a recorded thread: post by post, each a reply to the one before,
never a post twice, never a gap.

The rules, in the order they matter:

1. A post the record says is up (it has a remote id) is never sent again.
2. Before a post's request goes out, the post is marked ``sending`` and that is
   committed; its remote id is committed the moment the platform returns it.
3. The uncertain case (a request sent whose answer never came, a 5xx, or a
   post left ``sending`` by a crash) is resolved before anything is re-sent:
   the account's recent posts are searched for the same text replying to the
   same parent. Found: recorded, and posting goes on. Not found: the post is
   sent again, and if X then calls it a duplicate it is looked for once more.
   If the search itself fails, publishing stops and says what to check,
   rather than risk a duplicate.
4. Network errors and 5xx are retried with exponential backoff and jitter, a
   bounded number of times. A rate limit, rejected credentials or a refused
   post stop publishing at once with the platform's reason; the thread stays
   resumable.
"""

from __future__ import annotations

import html
import random
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from .config import PostingSettings
from .counting import find_urls
from .errors import ThreadbotError
from .platforms.errors import (
    DuplicatePostError,
    NetworkError,
    PlatformError,
    ServerError,
    UncertainError,
)
from .platforms.x import XClient
from .store import (
    PostStatus,
    Store,
    StoredPost,
    StoredThread,
    ThreadStatus,
    process_owner,
)
from .thread import Thread


@dataclass(frozen=True)
class Event:
    """Something worth telling the user while publishing."""

    kind: str  # "posted", "found", "retry", "waiting"
    thread_id: int
    position: int
    total: int
    message: str
    remote_id: str | None = None
    url: str | None = None  # the post's address on X, when it is up


class Stopped(ThreadbotError):
    """Publishing stopped between two posts because it was asked to (e.g. SIGTERM)."""


def _normalise(text: str) -> str:
    """Text as compared with what X returns: X escapes &<>, replaces links with
    t.co links and appends a link for attached media, so links are left out."""
    text = unicodedata.normalize("NFC", html.unescape(text))
    for start, end in reversed(find_urls(text)):
        text = text[:start] + text[end:]
    text = re.sub(r"https?://\S+", "", text)
    return " ".join(text.split())


class Publisher:
    """Publishes threads from the store through one platform client."""

    def __init__(
        self,
        store: Store,
        client: XClient,
        settings: PostingSettings,
        *,
        on_event: Callable[[Event], None] = lambda event: None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        owner: str | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        identity: tuple[str, str] | None = None,
    ):
        self.store = store
        self.client = client
        self.settings = settings
        self.on_event = on_event
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.owner = owner or process_owner("cli")
        # Asked before each post: a daemon told to stop finishes the post in flight,
        # records it, and leaves the rest for later.
        self.should_stop = should_stop
        # The account's (user id, username), if already known: saves asking X again.
        self.identity = identity

    def publish(self, thread_id: int) -> StoredThread:
        """Post every post of the thread not yet up; returns the thread as recorded.

        Raises a ``PlatformError`` (or ``KeyboardInterrupt``) when it has to stop;
        the thread is then recorded as partial (or failed, if nothing is up) and
        can be resumed with the same call.
        """
        thread = self.store.thread(thread_id)
        if thread.status is ThreadStatus.POSTED:
            return thread
        self.store.claim(thread_id, self.owner)
        try:
            thread = self._publish(thread)
        except BaseException as error:
            if self.store.db.in_transaction:  # interrupted inside a write
                self.store.db.execute("ROLLBACK")
            current = self.store.thread(thread_id)
            status = ThreadStatus.PARTIAL if current.posted_count else ThreadStatus.FAILED
            message = getattr(error, "message", None) or (
                "stopped (interrupted)" if isinstance(error, KeyboardInterrupt) else str(error))
            self.store.set_thread_status(thread_id, status, message)
            raise
        self.store.set_thread_status(thread_id, ThreadStatus.POSTED)
        return self.store.thread(thread_id)

    def _publish(self, thread: StoredThread) -> StoredThread:
        if not thread.user_id:
            if self.identity is None:
                self.identity = self._retrying(self.client.me)
            self.store.set_thread_user(thread.id, *self.identity)
            thread = self.store.thread(thread.id)
        total = len(thread.posts)
        previous: str | None = None
        sent_this_run = False
        for post in thread.posts:
            if post.status is PostStatus.POSTED:
                previous = post.remote_id
                continue
            if post.status is PostStatus.SENDING:
                found = self._find(thread, post, previous)
                if found:
                    self.store.mark_posted(post.id, found)
                    self._emit("found", thread, post, total, found,
                               "was already up (found among the account's recent posts)")
                    previous = found
                    continue
            if self.should_stop():
                raise Stopped(f"stopped before post {post.position} of {total}, on request.")
            if sent_this_run and self.settings.pause_seconds:
                # X can answer "deleted or not visible" to a reply sent too soon.
                self.sleep(self.settings.pause_seconds)
                if self.should_stop():
                    raise Stopped(f"stopped before post {post.position} of {total}, "
                                  "on request.")
            media_ids = [self._retrying(lambda m=m: self.client.upload_media(m["path"],
                                                                            m.get("alt")))
                         for m in post.media]
            remote_id = self._send(thread, post, previous, media_ids)
            self.store.mark_posted(post.id, remote_id)
            self._note_allowance(thread)
            self._emit("posted", thread, post, total, remote_id, "posted")
            previous = remote_id
            sent_this_run = True
        return self.store.thread(thread.id)

    def _send(self, thread: StoredThread, post: StoredPost, previous: str | None,
              media_ids: list[str]) -> str:
        retries = self.settings.retries
        for attempt in range(1, retries + 1):
            self.store.mark_sending(post.id)
            try:
                return self.client.create_post(post.text, reply_to=previous,
                                               media_ids=media_ids)
            except NetworkError as error:  # nothing reached X
                self.store.mark_not_sent(post.id, error.message)
                if attempt == retries:
                    raise
            except (UncertainError, ServerError) as error:
                self.store.note_error(post.id, error.message)
                found = self._find(thread, self.store.thread(thread.id).posts[post.position - 1],
                                   previous)
                if found:
                    return found
                if attempt == retries:
                    raise
                # Looked, and it is not there: it may be sent again.
                self.store.mark_not_sent(post.id, error.message)
            except DuplicatePostError as error:
                # X has this exact text already: if it is ours, in place, record it.
                found = self._find(thread, self.store.thread(thread.id).posts[post.position - 1],
                                   previous)
                if found:
                    return found
                self.store.mark_not_sent(post.id, error.message)
                error.message = (f"post {post.position} of {len(thread.posts)}: X already "
                                 "has a post with exactly this text from this account, and "
                                 "refuses duplicates. Change its wording in the draft (then "
                                 "queue or post the draft again), or delete the earlier post "
                                 "on X.")
                raise
            except PlatformError as error:  # rejected, rate limited, bad credentials
                self.store.mark_not_sent(post.id, error.message)
                raise
            self._backoff(thread, post, attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _note_allowance(self, thread: StoredThread) -> None:
        """Keep what X last said of the account's 24-hour allowance."""
        limits = self.client.rate_limit
        if limits.remaining_24h is not None:
            self.store.set_account_limit(thread.account, limits.remaining_24h,
                                         limits.reset_24h_at)

    def _find(self, thread: StoredThread, post: StoredPost, previous: str | None) -> str | None:
        """The id of this post if the account already published it, else None."""
        since = post.sent_at - timedelta(minutes=5) if post.sent_at else None
        try:
            recent = self._retrying(lambda: self.client.recent_posts(
                thread.user_id or "", since=since, max_results=100))
        except PlatformError as error:
            who = f"@{thread.username}" if thread.username else f"account '{thread.account}'"
            raise UncertainError(
                f"post {post.position} of thread {thread.id} may have been published, and "
                f"threadbot could not check ({error.message}). Nothing more was sent. Look at "
                f"{who}'s recent posts for one starting “{post.text[:40]}”, then run "
                f"`threadbot resume {thread.id}` (it checks again before sending).",
                may_have_posted=True,
            ) from None
        wanted = _normalise(post.text)
        matches = [c.id for c in recent
                   if c.in_reply_to_id == previous and _normalise(c.text) == wanted]
        # A post recorded for another thread (a draft posted again with --again) is not ours.
        taken = self.store.recorded_elsewhere(matches, thread.id)
        return next((m for m in matches if m not in taken), None)

    def _retrying(self, call):
        """A read or an upload (safe to repeat), retried on passing failures."""
        for attempt in range(1, self.settings.retries + 1):
            try:
                return call()
            except (NetworkError, ServerError, UncertainError):
                if attempt == self.settings.retries:
                    raise
            self.sleep(self._delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int) -> float:
        base = self.settings.backoff_seconds * (2 ** (attempt - 1))
        return min(60.0, base * self.rng.uniform(0.5, 1.5))

    def _backoff(self, thread: StoredThread, post: StoredPost, attempt: int) -> None:
        delay = self._delay(attempt)
        self._emit("retry", thread, post, len(thread.posts), None,
                   f"failed for a passing reason; trying again in {delay:.1f} s "
                   f"(attempt {attempt + 1} of {self.settings.retries})")
        self.sleep(delay)

    def _emit(self, kind: str, thread: StoredThread, post: StoredPost, total: int,
              remote_id: str | None, message: str) -> None:
        url = (f"https://x.com/{thread.username}/status/{remote_id}"
               if remote_id and thread.username else None)
        self.on_event(Event(kind=kind, thread_id=thread.id, position=post.position,
                            total=total, message=message, remote_id=remote_id, url=url))


def record(store: Store, thread: Thread, account: str, *,
           scheduled_at: datetime | None = None) -> int:
    """Store a composed thread, ready to publish; returns its id."""
    return store.add_thread(draft_path=draft_location(thread.source),
                            content_hash=thread.content_hash, title=thread.title,
                            account=account, platform=thread.platform, posts=post_rows(thread),
                            scheduled_at=scheduled_at)


def post_rows(thread: Thread) -> list[tuple[str, list[dict]]]:
    """The posts as the store keeps them: text, and media with absolute paths."""
    return [(post.text, [{"path": str(m.resolved.resolve()), "alt": m.alt}
                         for m in post.media]) for post in thread.posts]


def draft_location(source: str) -> str:
    """Where the draft is, absolute (so ``list`` can tell whether it changed)."""
    return source if source.startswith("<") else str(Path(source).resolve())


def earlier_thread(store: Store, thread: Thread, account: str) -> StoredThread | None:
    """The thread this same draft already became for this account: a posted one
    first (never post twice by accident), else the latest unfinished one."""
    earlier = store.threads_for_draft(thread.content_hash, account)
    posted = [t for t in earlier if t.status is ThreadStatus.POSTED]
    if posted:
        return posted[-1]
    return earlier[-1] if earlier else None
