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
   sent again (with the same idempotency key, so a platform that honours it
   returns the earlier post rather than making a second), and if the platform
   then calls it a duplicate it is looked for once more. If the search itself
   fails, publishing stops and says what to check, rather than risk a duplicate.
4. A post the platform calls a duplicate, found in place on the account although
   no request of this record for it may have reached the platform, was not
   posted by us: it is recorded as *found* (with the time the platform gives),
   the writer is told so, and the thread goes on from it.
5. Network errors and 5xx are retried with exponential backoff and jitter, a
   bounded number of times, each retry announced (a ``retry`` event). A rate
   limit, rejected credentials or a refused post stop publishing at once with
   the platform's reason; the thread stays resumable.
6. Only one process posts a thread at a time, and only one thread of a draft per
   account: the thread is claimed in the store (``Store.claim``, or
   ``record(..., claim_for=...)`` for a new one) in one transaction.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .config import PostingSettings
from .errors import AlreadyPostedError, ThreadbotError
from .platforms import Identity, PlatformClient, PostOptions, PostRef, spec
from .platforms.errors import (
    DuplicatePostError,
    NetworkError,
    PlatformError,
    ServerError,
    UncertainError,
)
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
    """Something worth telling the user while publishing (or deleting)."""

    kind: str  # "posted", "found", "retry", "waiting", "deleted", "warning"
    thread_id: int
    position: int
    total: int
    message: str
    remote_id: str | None = None
    url: str | None = None  # the post's address, when it is up


@dataclass(frozen=True)
class _Found:
    """A post the platform already had, which this record never sent."""

    ref: PostRef
    posted_at: datetime | None


class Stopped(ThreadbotError):
    """Publishing stopped between two posts because it was asked to (e.g. SIGTERM)."""


def post_options(thread: StoredThread, position: int) -> PostOptions:
    """The platform settings of post ``position`` (1-based) of a recorded thread: the
    first post takes ``visibility``, every reply ``reply_visibility``; and the post's
    links over its text (Bluesky)."""
    options = thread.options
    visibility = options.get("visibility") if position == 1 else (
        options.get("reply_visibility") or options.get("visibility"))
    post = next((p for p in thread.posts if p.position == position), None)
    links = tuple((k["start"], k["end"], k["url"]) for k in post.links) if post else ()
    return PostOptions(visibility=visibility, language=options.get("language"),
                       content_warning=options.get("content_warning"), links=links)


class Publisher:
    """Publishes threads from the store through one platform client."""

    def __init__(
        self,
        store: Store,
        client: PlatformClient,
        settings: PostingSettings,
        *,
        on_event: Callable[[Event], None] = lambda event: None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        owner: str | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        identity: Identity | None = None,
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
        # The signed-in account, if already known: saves asking the platform again.
        self.identity = identity

    def publish(self, thread_id: int, *, posted_ok: bool = True) -> StoredThread:
        """Post every post of the thread not yet up; returns the thread as recorded.

        Raises a ``PlatformError`` (or ``KeyboardInterrupt``) when it has to stop;
        the thread is then recorded as partial (or failed, if nothing is up) and
        can be resumed with the same call. Raises ``BusyError`` when another process
        is posting it (or another thread of its draft on its account), and, unless
        ``posted_ok``, ``PostedMeanwhile`` when another process finished it since
        the caller looked: nothing is sent then.
        """
        thread = self.store.thread(thread_id)
        if thread.status is ThreadStatus.POSTED and posted_ok:
            return thread
        self.store.claim(thread_id, self.owner, posted_ok=posted_ok)
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

    def _identity(self, thread: StoredThread) -> Identity:
        if thread.user_id and thread.username:
            return Identity(thread.user_id, thread.username)
        if self.identity is None:
            self.identity = self._retrying(self.client.me, thread)
        self.store.set_thread_user(thread.id, self.identity.account_id, self.identity.handle)
        return self.identity

    def _publish(self, thread: StoredThread) -> StoredThread:
        identity = self._identity(thread)
        thread = self.store.thread(thread.id)
        total = len(thread.posts)
        previous: PostRef | None = None
        root: PostRef | None = None
        sent_this_run = False
        for post in thread.posts:
            if post.status is PostStatus.POSTED:
                previous = post.ref
                root = root or previous
                continue
            if post.status is PostStatus.SENDING:
                # Left sending (a crash, a kill, an answer never read): it may be ours.
                self.store.mark_maybe_sent(post.id)
                found = self._find(thread, identity, post, previous)
                if found:
                    self.store.mark_posted(post.id, found)
                    self._emit("found", thread, post, total, found,
                               "was already up (found on the platform, not sent again)")
                    previous = found
                    root = root or found
                    continue
            if self.should_stop():
                raise Stopped(f"stopped before post {post.position} of {total}, on request.")
            if sent_this_run and self.settings.pause_seconds:
                # A platform can answer "deleted or not visible" to a reply sent too soon.
                self.sleep(self.settings.pause_seconds)
                if self.should_stop():
                    raise Stopped(f"stopped before post {post.position} of {total}, "
                                  "on request.")
            media_ids = [self._retrying(lambda m=m: self.client.upload_media(m["path"],
                                                                            m.get("alt")),
                                        thread, post)
                         for m in post.media]
            sent = self._send(thread, identity, post, previous, root, media_ids)
            if isinstance(sent, _Found):
                ref = sent.ref
                self.store.mark_found(post.id, ref, sent.posted_at)
                self._emit("found", thread, post, total, ref,
                           self._found_message(thread, identity, sent))
            else:
                ref = sent
                self.store.mark_posted(post.id, ref)
                self._note_allowance(thread)
                self._emit("posted", thread, post, total, ref, "posted")
            notes = getattr(self.client, "warnings", None)
            while notes:
                self._emit("warning", thread, post, total, None, notes.pop(0))
            previous = ref
            root = root or ref
            sent_this_run = True
        return self.store.thread(thread.id)

    def _send(self, thread: StoredThread, identity: Identity, post: StoredPost,
              previous: PostRef | None, root: PostRef | None, media_ids: list[str]
              ) -> PostRef | _Found:
        """Send the post (retrying passing failures); its reference once it is up, or
        ``_Found`` when the platform already had it and this record never sent it."""
        retries = self.settings.retries
        options = post_options(thread, post.position)
        for attempt in range(1, retries + 1):
            self.store.mark_sending(post.id)
            try:
                ref = self.client.create_post(
                    post.text, reply_to=previous, root=root, media_ids=media_ids,
                    idempotency_key=post.idempotency_key, options=options)
                return ref if ref.url else PostRef(
                    ref.id, self.client.post_url(identity, ref), ref.uri, ref.cid)
            except NetworkError as error:  # nothing reached the platform
                self.store.mark_not_sent(post.id, error.message)
                if attempt == retries:
                    raise
                failure: PlatformError = error
            except (UncertainError, ServerError) as error:
                self.store.mark_maybe_sent(post.id, error.message)
                found = self._find(thread, identity, self._current(thread, post), previous)
                if found:
                    return found
                if attempt == retries:
                    raise
                # Looked, and it is not there: it may be sent again.
                self.store.mark_not_sent(post.id, error.message)
                failure = error
            except DuplicatePostError as error:
                # The platform has this exact text already: if it is in place, record it;
                # as ours only if a request of ours for it may have reached the platform.
                current = self._current(thread, post)
                found = self._find(thread, identity, current, previous)
                if found and current.maybe_sent:
                    return found
                if found:
                    return _Found(found, self._posted_at(identity, found, current))
                self.store.mark_not_sent(post.id, error.message)
                title = spec(thread.platform).title
                error.message = (f"post {post.position} of {len(thread.posts)}: {title} "
                                 f"already has a post with exactly this text from "
                                 f"{identity.shown}, and refuses duplicates. Change its "
                                 "wording in the draft (then queue or post the draft again), "
                                 f"or delete the earlier post on {title}.")
                raise
            except PlatformError as error:  # rejected, rate limited, bad credentials
                self.store.mark_not_sent(post.id, error.message)
                raise
            self._backoff(thread, post, attempt, failure)
        raise AssertionError("unreachable")  # pragma: no cover

    def _posted_at(self, identity: Identity, ref: PostRef, post: StoredPost
                   ) -> datetime | None:
        """When the platform says the post ``ref`` was posted (None if it cannot say)."""
        since = post.sent_at - timedelta(minutes=5) if post.sent_at else None
        try:
            recent = self.client.recent_posts(identity, since=since, max_results=100)
        except PlatformError:
            return None
        return next((p.created_at for p in recent if p.ref.id == ref.id), None)

    def _found_message(self, thread: StoredThread, identity: Identity, found: _Found) -> str:
        title = spec(thread.platform).title
        when = (f"posted at {found.posted_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
                if found.posted_at else "posted earlier")
        return (f"{title} already has this text from this account ({identity.shown}), "
                f"{when}. threadbot did not send it: it is recorded as found, not posted "
                "by threadbot, and the thread goes on from it")

    def _current(self, thread: StoredThread, post: StoredPost) -> StoredPost:
        return self.store.thread(thread.id).posts[post.position - 1]

    def _note_allowance(self, thread: StoredThread) -> None:
        """Keep what the platform last said of the account's allowance."""
        allowance = self.client.allowance()
        if allowance is not None and allowance.remaining is not None:
            self.store.set_account_limit(thread.account, allowance.remaining,
                                         allowance.reset_at)

    def _find(self, thread: StoredThread, identity: Identity, post: StoredPost,
              previous: PostRef | None) -> PostRef | None:
        """This post's reference if the account already published it, else None."""
        since = post.sent_at - timedelta(minutes=5) if post.sent_at else None
        try:
            matches = self._retrying(lambda: self.client.find_post(
                identity, text=post.text, reply_to=previous,
                idempotency_key=post.idempotency_key, since=since), thread, post)
        except PlatformError as error:
            raise UncertainError(
                f"post {post.position} of thread {thread.id} may have been published, and "
                f"threadbot could not check ({error.message}). Nothing more was sent. Look at "
                f"{identity.shown}'s recent posts for one starting “{post.text[:40]}”, then "
                f"run `threadbot resume {thread.id}` (it checks again before sending).",
                may_have_posted=True,
            ) from None
        # A post recorded for another thread (a draft posted again with --again) is not ours.
        taken = self.store.recorded_elsewhere([m.id for m in matches], thread.id)
        found = next((m for m in matches if m.id not in taken), None)
        if found is not None and not found.url:
            found = PostRef(found.id, self.client.post_url(identity, found), found.uri,
                            found.cid)
        return found

    def _retrying(self, call, thread: StoredThread, post: StoredPost | None = None):
        """A read or an upload (safe to repeat), retried on passing failures, each
        retry announced (a ``retry`` event; ``post`` None: before the first post)."""
        for attempt in range(1, self.settings.retries + 1):
            try:
                return call()
            except (NetworkError, ServerError, UncertainError) as error:
                if attempt == self.settings.retries:
                    raise
                self._backoff(thread, post, attempt, error)
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int) -> float:
        base = self.settings.backoff_seconds * (2 ** (attempt - 1))
        return min(60.0, base * self.rng.uniform(0.5, 1.5))

    def _backoff(self, thread: StoredThread, post: StoredPost | None, attempt: int,
                 error: PlatformError) -> None:
        """Announce the retry (what failed, when the next try is, which try of how
        many), then wait for it."""
        delay = self._delay(attempt)
        # The message's first sentence says what failed; the rest ("try again") is
        # what to do once threadbot gives up, not while it is still trying.
        what = error.message.split(". ")[0].rstrip(".")
        self._emit("retry", thread, post, len(thread.posts), None,
                   f"{what}; trying again in {_seconds(delay)} "
                   f"({attempt + 1} of {self.settings.retries})…")
        self.sleep(delay)

    def _emit(self, kind: str, thread: StoredThread, post: StoredPost | None, total: int,
              ref: PostRef | None, message: str) -> None:
        self.on_event(Event(kind=kind, thread_id=thread.id,
                            position=post.position if post else 0,
                            total=total, message=message,
                            remote_id=ref.id if ref else None, url=ref.url if ref else None))

    # --- taking a thread down -------------------------------------------------------------

    def delete(self, thread_id: int) -> StoredThread:
        """Delete every post of the thread that is up, last post first, each recorded
        as deleted the moment the platform confirms it. Stopped part-way, the thread
        stays ``deleting`` and the same call goes on. Returns the thread as recorded.
        """
        thread = self.store.thread(thread_id)
        self.store.claim(thread_id, self.owner, status=ThreadStatus.DELETING)
        try:
            thread = self._settle_uncertain(thread)
            up = [p for p in thread.posts if p.status is PostStatus.POSTED]
            total = len(thread.posts)
            for post in reversed(up):
                if self.should_stop():
                    raise Stopped(f"stopped before deleting post {post.position}, on request.")
                ref = post.ref
                assert ref is not None
                self._retrying(lambda ref=ref: self.client.delete_post(ref), thread, post)
                self.store.mark_deleted(post.id)
                self._emit("deleted", thread, post, total, ref, "deleted")
        except BaseException as error:
            if self.store.db.in_transaction:
                self.store.db.execute("ROLLBACK")
            message = getattr(error, "message", None) or "stopped (interrupted)"
            self.store.set_thread_status(thread_id, ThreadStatus.DELETING, message)
            raise
        self.store.set_thread_status(thread_id, ThreadStatus.DELETED)
        return self.store.thread(thread_id)

    def _settle_uncertain(self, thread: StoredThread) -> StoredThread:
        """Before taking a thread down, find out whether each post left ``sending``
        (its answer never came) is up: if it is, it is recorded and deleted with the
        rest; if not, it is marked not sent. None is left live behind a "deleted"."""
        if not any(p.status is PostStatus.SENDING for p in thread.posts):
            return thread
        identity = self._identity(thread)
        previous: PostRef | None = None
        for post in self.store.thread(thread.id).posts:
            if post.status is PostStatus.SENDING:
                # Left sending (a crash, a kill, an answer never read): it may be ours.
                self.store.mark_maybe_sent(post.id)
                found = self._find(thread, identity, post, previous)
                if found:
                    self.store.mark_posted(post.id, found)
                else:
                    self.store.mark_not_sent(post.id, "not found on the platform when the "
                                             "thread was deleted")
                previous = found or previous
            elif post.status is PostStatus.POSTED:
                previous = post.ref
        return self.store.thread(thread.id)


def record(store: Store, thread: Thread, account: str, *,
           scheduled_at: datetime | None = None, claim_for: str | None = None,
           again: bool = False) -> int:
    """Store a composed thread, ready to publish; returns its id. With ``claim_for``
    (a ``process_owner``) it is claimed for that process in the same transaction, and
    refused if another run is posting (or, without ``again``, has recorded) the draft
    on the account: see ``Store.add_thread``."""
    return store.add_thread(draft_path=draft_location(thread.source),
                            content_hash=thread.content_hash, title=thread.title,
                            account=account, platform=thread.platform, posts=post_rows(thread),
                            scheduled_at=scheduled_at, options=dict(thread.options),
                            claim_for=claim_for, again=again)


def _seconds(delay: float) -> str:
    return f"{delay:.0f} s" if delay >= 10 else f"{delay:.1f} s"


def post_rows(thread: Thread) -> list[tuple[str, list[dict], list[dict]]]:
    """The posts as the store keeps them: text, media with absolute paths, and links
    over the text (Bluesky)."""
    return [(post.text, [{"path": str(m.resolved.resolve()), "alt": m.alt}
                         for m in post.media],
             [{"start": k.start, "end": k.end, "url": k.url} for k in post.links])
            for post in thread.posts]


def draft_location(source: str) -> str:
    """Where the draft is, absolute (so ``list`` can tell whether it changed)."""
    return source if source.startswith("<") else str(Path(source).resolve())


def check_not_half_posted(store: Store, thread: Thread, account: str,
                          earlier: StoredThread | None, *, queueing: bool = False) -> None:
    """Refuse to start a new thread from a draft that is half-posted on the account
    (any version of it, except ``earlier``, the thread ``post`` offers to finish):
    the new thread would repeat the posts already up. Raises ``AlreadyPostedError``
    saying how to finish, take down, or override (--again)."""
    location = draft_location(thread.source)
    if location.startswith("<"):
        return
    unfinished = store.unfinished_for_draft(location, account)
    if unfinished is None or (earlier is not None and unfinished.id == earlier.id):
        return
    up = sum(1 for p in unfinished.posts if p.status is not PostStatus.PENDING)
    same = unfinished.content_hash == thread.content_hash
    version = "this draft" if same else "an earlier version of this draft"
    finish = (f"`threadbot retry {unfinished.id}` (now) or `threadbot reschedule "
              f"{unfinished.id} --at WHEN`" if queueing else f"`threadbot resume {unfinished.id}`")
    raise AlreadyPostedError(
        f"thread {unfinished.id}, from {version}, already has {up} of "
        f"{len(unfinished.posts)} posts up on account '{account}' ({unfinished.status.value})."
        " A new thread would repeat them. Finish that one with "
        f"{finish}, or take it down (`threadbot delete {unfinished.id}`) and try again; "
        "--again makes a new thread anyway.",
        path=thread.source)


def earlier_thread(store: Store, thread: Thread, account: str) -> StoredThread | None:
    """The thread this same draft already became for this account: a posted one
    first (never post twice by accident), else the latest unfinished one."""
    # A thread taken down with `threadbot delete` is gone: the draft may be posted anew.
    earlier = [t for t in store.threads_for_draft(thread.content_hash, account)
               if t.status is not ThreadStatus.DELETED]
    posted = [t for t in earlier if t.status is ThreadStatus.POSTED]
    if posted:
        return posted[-1]
    return earlier[-1] if earlier else None
