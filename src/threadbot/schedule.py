"""The queue: threads waiting for their time, as a library (the CLI calls these).

A queued draft is the writer's file, not a frozen copy. Everything that can be
checked is checked when it is queued (lengths, images, the account and its keys,
the time), so that the daemon does not discover at 3 a.m. what could have been
said at 3 p.m.; and when its time comes the daemon composes and checks the draft
again, as it is then (``refresh_queued``), so that a typo fixed after queueing
is fixed in the post. Once a thread's first post is up (or may be), its other
posts are the recorded ones: a half-posted thread never changes text.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .accounts import load_secrets
from .config import MAX_TEXT_BYTES, Account, Config
from .draft import content_hash, read_draft
from .errors import (
    AlreadyPostedError,
    DraftError,
    ExitCode,
    NoTimeError,
    ThreadbotError,
    UsageError,
)
from .posting import compose_for, draft_accounts, open_store, warn_unchanged
from .publish import check_not_half_posted, draft_location, earlier_thread, post_rows
from .store import PostStatus, Store, StoredThread, ThreadStatus, now_utc
from .thread import Thread
from .when import describe, next_slots, parse_slots, parse_when

# A time a few seconds in the past is "now" (the writer typed it just now).
_PAST_TOLERANCE = timedelta(seconds=60)


@dataclass(frozen=True)
class Queued:
    thread: StoredThread
    updated: bool  # the draft was already queued: its entry was updated instead
    when: str  # the time in the writer's zone and in UTC, and how far off
    # What the preview warns about (a URL's cost on X, missing alt text, resized images).
    warnings: tuple[str, ...] = ()
    kept_time: bool = False  # queued again without --at: it keeps the time it had


def queue_draft(config: Config, draft_path: str, *, at: str | None = None,
                account: str | None = None, accounts: list[str] | None = None,
                now: bool = False, again: bool = False,
                clock: Callable[[], datetime] = now_utc, **overrides: Any) -> list[Queued]:
    """Queue a draft for ``at`` (else its front matter's ``at``, else each account's
    next free slot); ``now`` queues it for right away. One thread per account
    (``accounts``, else the draft's ``account:``, else the config's default), each
    split and checked for its platform and server. A draft already posted to an
    account is refused unless ``again``; nothing is queued unless every account's
    thread passes its checks. A draft already queued for an account keeps its time
    unless ``at`` or ``now`` is given. ``overrides`` (split settings) are kept with
    the thread, so that the daemon composes the draft again the same way.

    Raises ``UsageError`` (no time, or one in the past), ``DraftError``,
    ``MediaError``, ``ConfigError``, ``CredentialsError``, ``AlreadyPostedError``."""
    draft = read_draft(draft_path)
    chosen = draft_accounts(config, draft, accounts or ([account] if account else None))
    threads = []
    for target in chosen:
        load_secrets(config, target)
        thread = compose_for(config, draft, target, again=again, **overrides)
        thread.check(to_post=True)
        threads.append((target, thread))
    zone = config.zone()
    current = clock()
    # The time is checked before the record is opened, so that a queue refused for its
    # time (none given and no slots, one in the past) creates no database.
    for target, _ in threads:
        if now or at is not None or draft.front_matter.get("at") is not None:
            _when(None, draft, target, None, at=at, now=now, zone=zone, current=current)
        elif not target.slots and not config.database_path().exists():
            raise _no_slots(target)  # with no record yet, nothing is queued to keep its time
    results = []
    with open_store(config) as store:
        # What each account's checks saw: a thread of the draft recorded after them (by a
        # `post` or `queue` started at the same moment) refuses this one when it is
        # recorded (``Store.add_thread``), never two threads of one draft.
        seen: dict[str, set[int]] = {}
        for target, thread in threads:
            seen[target.name] = {t.id for t in store.threads_for_draft(thread.content_hash,
                                                                         target.name)}
            earlier = earlier_thread(store, thread, target.name)
            if earlier is not None and earlier.status is ThreadStatus.POSTED and not again:
                raise AlreadyPostedError(
                    f"this draft was already posted to account '{target.name}' as thread "
                    f"{earlier.id}: {earlier.url}. To queue it again on purpose, add --again.",
                    path=thread.source)
            if not again:
                check_not_half_posted(store, thread, target.name, None, queueing=True)
            elif earlier is not None:
                warn_unchanged(thread, target, earlier)
        # Every account's time first, so that one without a time queues nothing at all.
        plans = []
        for target, thread in threads:
            location = draft_location(thread.source)
            # A draft from standard input has no path to recognise it by: never an update.
            existing = (None if location.startswith("<")
                        else store.find_queued(location, target.name))
            kept = (at is None and not now and existing is not None
                    and existing.scheduled_at is not None and existing.scheduled_at > current)
            when = existing.scheduled_at if kept else _when(
                store, draft, target, existing, at=at, now=now, zone=zone, current=current)
            if kept:
                note = _front_matter_differs(draft, existing, current, zone)
                if note:
                    thread.warnings.insert(0, note)
            plans.append((target, thread, existing, when, kept))
        for target, thread, existing, when, kept in plans:
            results.append(_record(store, thread, target, existing, when, zone, current,
                                   overrides, kept, seen=None if again else seen[target.name]))
    return results


def _when(store, draft, target: Account, existing: StoredThread | None, *, at: str | None,
          now: bool, zone, current: datetime) -> datetime:
    """When the thread is to go out: --now, --at, the draft's ``at:``, else the
    account's next free slot. A time in the past is refused."""
    if now:
        when = current
    elif at is not None:
        when = parse_when(at, now=current, tz=zone)
    elif draft.front_matter.get("at") is not None:
        when = _front_matter_time(draft, current, zone)
    else:
        when = _next_free_slot(store, target, zone, current, existing)
    if when < current - _PAST_TOLERANCE and not now:
        past = describe(when, tz=zone, now=current)
        if at is None and draft.front_matter.get("at") is not None:
            # The draft's own 'at:' is stale: a draft problem, pointed at its line.
            raise DraftError(
                f"'at:' is in the past ({past}). Change it to a time to come, remove it "
                "and give --at WHEN, or use --now to post it as soon as the daemon runs.",
                path=draft.source, line=draft.front_matter_lines.get("at"))
        raise UsageError(
            f"that time is in the past ({past}). Give a time to come "
            "(e.g. --at 'tomorrow 09:00' or --at +2h), or --now to post it as soon as the "
            "daemon runs.")
    return when


def _record(store, thread, target: Account, existing: StoredThread | None, when: datetime,
            zone, current: datetime, overrides: dict, kept: bool,
            seen: set[int] | None = None) -> Queued:
    options = _stored_options(thread, overrides)
    shown = describe(when, tz=zone, now=current)
    warnings = tuple(thread.warnings)
    if existing is not None and store.replace_queued(
            existing.id, content_hash=thread.content_hash, title=thread.title,
            posts=post_rows(thread), scheduled_at=when, options=options):
        return Queued(store.thread(existing.id), True, shown, warnings, kept)
    thread_id = store.add_thread(draft_path=draft_location(thread.source),
                                 content_hash=thread.content_hash, title=thread.title,
                                 account=target.name, platform=thread.platform,
                                 posts=post_rows(thread), scheduled_at=when, options=options,
                                 seen=seen)
    return Queued(store.thread(thread_id), False, shown, warnings)


def _stored_options(thread: Thread, overrides: dict | None) -> dict:
    """The post settings kept with a queued thread, and under ``split`` the split
    settings given on the command line (to compose the draft again the same way)."""
    options: dict = dict(thread.options)
    if overrides:
        options["split"] = dict(overrides)
    return options


def _front_matter_time(draft, current: datetime, zone) -> datetime:
    """The draft's ``at:``, with errors pointing at its line."""
    value = draft.front_matter["at"]
    text = value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)
    try:
        return parse_when(text, now=current, tz=zone)
    except UsageError as error:
        raise DraftError(f"'at': {error.message}", path=draft.source,
                         line=draft.front_matter_lines.get("at")) from None


def _front_matter_differs(draft, thread: StoredThread, current: datetime, zone) -> str | None:
    """A sentence when the draft's ``at:`` names another time than the queued
    thread's (which keeps its own: only --at or ``reschedule`` moves it)."""
    if draft.front_matter.get("at") is None or thread.scheduled_at is None:
        return None
    try:
        written = _front_matter_time(draft, current, zone)
    except ThreadbotError as error:
        return f"the draft's 'at' cannot be read ({error.message}); the thread keeps its time."
    if abs(written - thread.scheduled_at) <= _PAST_TOLERANCE:
        return None
    return (f"the draft's 'at' says {describe(written, tz=zone, now=current)}, but thread "
            f"{thread.id} keeps its time; `threadbot reschedule {thread.id} --at WHEN` (or "
            "queue with --at) moves it.")


def _no_slots(account: Account) -> NoTimeError:
    return NoTimeError(
        f"no time given, and account '{account.name}' has no posting slots. Add "
        "--at WHEN (e.g. --at 'tomorrow 09:00'), or slots under the account in the "
        "config (e.g. slots: [\"mon-fri 09:00\"]).")


def _next_free_slot(store, account: Account, zone, current: datetime,
                    existing: StoredThread | None) -> datetime:
    if not account.slots:
        raise _no_slots(account)
    taken = set(store.scheduled_times(account.name))
    if existing is not None and existing.scheduled_at is not None:
        taken.discard(existing.scheduled_at)  # its own slot is free for it
    found = next_slots(parse_slots(list(account.slots)), tz=zone, after=current, taken=taken,
                       count=1)
    if not found:
        raise NoTimeError(f"account '{account.name}' has no free slot to come. Add slots in "
                          "the config, or give --at WHEN.")
    return found[0]


def free_slots(config: Config, account: str | None = None, count: int = 5, *,
               clock: Callable[[], datetime] = now_utc) -> tuple[Account, list[datetime]]:
    """The account's next free slots (one thread per slot)."""
    chosen = config.account(account)
    if not chosen.slots:
        return chosen, []
    with open_store(config, read_only=True) as store:
        taken = set(store.scheduled_times(chosen.name))
    return chosen, next_slots(parse_slots(list(chosen.slots)), tz=config.zone(), after=clock(),
                              taken=taken, count=count)


def reschedule(config: Config, thread_id: int, at: str, *,
               clock: Callable[[], datetime] = now_utc) -> tuple[StoredThread, str]:
    zone = config.zone()
    current = clock()
    when = parse_when(at, now=current, tz=zone)
    if when < current - _PAST_TOLERANCE:
        raise UsageError(f"that time is in the past ({describe(when, tz=zone, now=current)}). "
                         "Give a time to come.")
    with open_store(config) as store:
        _refuse_settled(config, store.thread(thread_id), "reschedule", current)
        thread = store.schedule(thread_id, when, allowed=(
            ThreadStatus.QUEUED, ThreadStatus.MISSED, ThreadStatus.FAILED,
            ThreadStatus.CANCELLED, ThreadStatus.PARTIAL))
    return thread, describe(when, tz=zone, now=current)


def retry(config: Config, thread_id: int, *, now: bool = False,
          clock: Callable[[], datetime] = now_utc) -> tuple[StoredThread, str | None]:
    """Queue a failed, missed or partial thread again, for right away; returns it and,
    for a cancelled one brought back, its time as shown.

    A cancelled thread is never posted at once unless ``now``: it keeps its time if
    that is still ahead; otherwise an error (exit code ``WRONG_STATE``) names
    ``reschedule`` (and ``retry --now``)."""
    current = clock()
    with open_store(config) as store:
        thread = store.thread(thread_id)
        _refuse_settled(config, thread, "retry", current)
        if thread.status is ThreadStatus.CANCELLED and not now:
            if thread.scheduled_at is None or thread.scheduled_at <= current:
                due = (f" (it was due "
                       f"{describe(thread.scheduled_at, tz=config.zone(), now=current)})"
                       if thread.scheduled_at else "")
                raise _WrongState(
                    f"thread {thread_id} is cancelled and has no time to come{due}. "
                    f"`threadbot reschedule {thread_id} --at WHEN` queues it for a new time; "
                    f"`threadbot retry {thread_id} --now` posts it as soon as the daemon runs.")
            kept = store.schedule(thread_id, thread.scheduled_at,
                                  allowed=(ThreadStatus.CANCELLED,))
            return kept, describe(thread.scheduled_at, tz=config.zone(), now=current)
        _check_before_retry(config, thread)
        return store.schedule(thread_id, current, allowed=(
            ThreadStatus.FAILED, ThreadStatus.MISSED, ThreadStatus.PARTIAL,
            ThreadStatus.CANCELLED)), None


def _refuse_settled(config: Config, thread: StoredThread, verb: str,
                    current: datetime) -> None:
    """``retry`` of a thread already queued, or ``retry``/``reschedule`` of one posted:
    an error saying where the thread stands and what does what was meant (the
    generic "cannot be scheduled" leaves the writer guessing)."""
    shown = "DRAFT"
    if not thread.draft_path.startswith("<"):
        try:
            shown = os.path.relpath(thread.draft_path)
        except ValueError:  # another drive
            shown = thread.draft_path
    if thread.status is ThreadStatus.QUEUED and verb == "retry":
        due = (f", for {describe(thread.scheduled_at, tz=config.zone(), now=current)}"
               if thread.scheduled_at else "")
        raise _WrongState(f"thread {thread.id} is queued already{due}: there is nothing to "
                          f"retry. `threadbot reschedule {thread.id} --at WHEN` moves it.")
    if thread.status is ThreadStatus.POSTED:
        raise _WrongState(f"thread {thread.id} is posted ({thread.url}): there is nothing to "
                          f"{verb}. To post the draft anew{_edit_first(thread)}: "
                          f"`threadbot post {shown} --again` (or `threadbot queue {shown} "
                          "--again`).")


def _edit_first(thread: StoredThread) -> str:
    """", edited first (...)" on a platform that refuses a text the account posted."""
    from .platforms import spec

    platform = spec(thread.platform)
    if platform.duplicate_window is None:
        return ""
    return (f", edit it first ({platform.title} refuses a text the account already "
            "posted)")


def _check_before_retry(config: Config, thread: StoredThread) -> None:
    """A thread of which nothing is up is posted from its draft as it is now: when that
    draft fails its checks (gone, an image missing), retrying would only fail again at
    once, so the draft's own error is raised, saying that nothing was queued."""
    if (thread.status not in (ThreadStatus.FAILED, ThreadStatus.MISSED,
                              ThreadStatus.CANCELLED)
            or thread.draft_path.startswith("<") or _started(thread)
            or not draft_changed(thread)):
        return
    try:
        compose_queued(config, thread, fetch=False)
    except ThreadbotError as error:
        error.message = (f"{error.message} Thread {thread.id} was not queued again: fix the "
                         f"draft, then `threadbot retry {thread.id}` (or `threadbot forget "
                         f"{thread.id}` removes it from the list).")
        raise


def cancel(config: Config, thread_id: int) -> StoredThread:
    """Take thread ``thread_id`` out of the queue (it stays listed, cancelled, with
    its time kept). Raises ``StateError`` for a thread posted, being posted or
    already cancelled."""
    with open_store(config) as store:
        thread = store.thread(thread_id)
        if thread.status is ThreadStatus.POSTED:
            raise _WrongState(f"thread {thread_id} is posted ({thread.url}): there is nothing "
                              f"to cancel. `threadbot delete {thread_id}` takes its posts "
                              "down.")
        return store.cancel(thread_id)


def forget(config: Config, thread_id: int) -> StoredThread:
    """Remove a thread none of whose posts went up from the record (e.g. one X
    refused as a duplicate); returns it as it was. Raises ``StateError`` for a
    queued thread (cancel it first) or one with any post up (use ``delete``)."""
    with open_store(config) as store:
        thread = store.thread(thread_id)
        up = sum(1 for p in thread.posts if p.status is not PostStatus.PENDING or p.remote_id)
        if up:
            raise _WrongState(
                f"thread {thread_id} has {up} post{'s' if up > 1 else ''} up (or sent), so "
                "its record is kept: it is what stops the same posts going out twice. "
                f"`threadbot delete {thread_id}` takes the posts down.")
        if thread.status in (ThreadStatus.QUEUED, ThreadStatus.POSTING):
            raise _WrongState(
                f"thread {thread_id} is {thread.status.value}. `threadbot cancel {thread_id}` "
                f"first, then `threadbot forget {thread_id}`.")
        return store.forget(thread_id)


class _WrongState(ThreadbotError):
    """The thread's state does not allow it; the message says what does."""

    exit_code = ExitCode.WRONG_STATE


def draft_changed(thread: StoredThread) -> bool:
    """Has the draft file changed since this thread was split from it?"""
    if thread.draft_path.startswith("<"):
        return False
    path = Path(thread.draft_path)
    try:
        # Only a regular file of a draft's size is read (a FIFO would block the daemon):
        # anything else counts as changed, and composing it says what is wrong.
        if not path.is_file() or path.stat().st_size > MAX_TEXT_BYTES:
            return True
        data = path.read_bytes()
    except OSError:
        return True
    return content_hash(data.decode("utf-8", "replace")) != thread.content_hash


def _started(thread: StoredThread) -> bool:
    """A post of it is up, or may be (sent, no answer), or was taken down."""
    return any(p.status is not PostStatus.PENDING or p.remote_id for p in thread.posts)


def compose_queued(config: Config, thread: StoredThread, *, fetch: bool = True) -> Thread:
    """Thread ``thread``'s draft as it is now, composed for its account with the split
    settings it was queued with, and checked. Raises ``DraftError`` when the draft is
    gone or malformed, ``MediaError`` for an image problem, ``ConfigError`` when its
    account left the config."""
    path = Path(thread.draft_path)
    if not path.exists():
        raise DraftError(f"the draft is gone: {thread.draft_path} was deleted or moved since "
                         f"thread {thread.id} was queued. Put it back.")
    if not path.is_file():
        raise DraftError(f"{thread.draft_path} is no longer a regular file (a folder, pipe or "
                         "device took its place), so it is not read. Put the draft back.")
    draft = read_draft(path)
    account = config.account(thread.account)
    overrides = thread.options.get("split") or {}
    composed = compose_for(config, draft, account, fetch=fetch, **overrides)
    composed.check()
    return composed


def refresh_queued(config: Config, store: Store, thread: StoredThread) -> StoredThread:
    """The queued thread as the daemon is to post it: its draft composed and checked
    as it is now, and recorded in place of the posts split when it was queued (its
    time and status kept). A thread read from standard input, with any post up
    (or sent), or whose draft is unchanged since, is returned as recorded. Raises
    what ``compose_queued`` raises; the record is then unchanged."""
    if (thread.draft_path.startswith("<") or thread.status is not ThreadStatus.QUEUED
            or _started(thread) or not draft_changed(thread)):
        # Unchanged since it was split and checked: the recorded posts are the draft's
        # (an image gone since is reported when it is uploaded).
        return thread
    composed = compose_queued(config, thread)
    # Edited into a text this account already posted (say, the edit was undone after an
    # earlier `post`): posting it would be the same thread twice.
    earlier = earlier_thread(store, composed, thread.account)
    if earlier is not None and earlier.id != thread.id \
            and earlier.status is ThreadStatus.POSTED:
        raise AlreadyPostedError(
            f"the draft as it is now was already posted to account '{thread.account}' as "
            f"thread {earlier.id}: {earlier.url}. Change the text to post it anew.",
            path=thread.draft_path)
    rows = post_rows(composed)
    options = _stored_options(composed, thread.options.get("split"))
    if (rows != [(p.text, p.media) for p in thread.posts]
            or composed.content_hash != thread.content_hash
            or composed.title != thread.title or options != thread.options):
        store.refresh_posts(thread.id, content_hash=composed.content_hash,
                            title=composed.title, posts=rows, options=options)
    return store.thread(thread.id)


def draft_change(config: Config, thread: StoredThread) -> str | None:
    """What changed in a queued thread's draft since it was queued, as a sentence
    (``None`` when nothing did, or the thread is not waiting unstarted): the post
    count now and then (``7 posts, was 6``), or why the draft would fail its checks
    at its time. Reads no network and writes nothing."""
    if (thread.status is not ThreadStatus.QUEUED or thread.draft_path.startswith("<")
            or _started(thread) or not draft_changed(thread)):
        return None
    try:
        composed = compose_queued(config, thread, fetch=False)
    except ThreadbotError as error:
        return (f"the draft changed since it was queued and no longer passes its checks: "
                f"{error} If it is not fixed by its time, the thread fails and nothing is "
                f"posted (`threadbot cancel {thread.id}` takes it out of the queue).")
    moved = None
    if thread.scheduled_at is not None:
        try:
            moved = _front_matter_differs(read_draft(thread.draft_path), thread, now_utc(),
                                          config.zone())
        except ThreadbotError:
            moved = None
    now, was = len(composed.posts), len(thread.posts)
    if now != was:
        what = f"{now} post{'s' if now != 1 else ''}, was {was}"
    else:
        edited = sum(1 for new, old in zip(composed.posts, thread.posts, strict=True)
                     if new.text != old.text)
        what = (f"{edited} of {now} posts edited" if edited else
                f"same {now} post{'s' if now != 1 else ''}, same text")
    return (f"the draft changed since it was queued ({what}); the daemon posts it as it is "
            f"at its time.{' Note: ' + moved if moved else ''}")


def siblings(config: Config, thread: StoredThread) -> list[StoredThread]:
    """The other accounts' queued threads of the same draft file."""
    if thread.draft_path.startswith("<"):
        return []
    with open_store(config) as store:
        return [t for t in store.queued_for_draft(thread.draft_path) if t.id != thread.id]
