"""The queue: threads waiting for their time, as a library (the CLI calls these).

A draft is split when it is queued, and that text is what the daemon posts;
everything that can be checked is checked then (lengths, images, the account
and its keys, the time), so that the daemon does not discover at 3 a.m. what
could have been said at 3 p.m.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .accounts import load_secrets
from .config import Account, Config
from .draft import content_hash, read_draft
from .errors import AlreadyPostedError, DraftError, UsageError
from .posting import compose_for, draft_accounts, open_store
from .publish import check_not_half_posted, draft_location, earlier_thread, post_rows, record
from .store import StoredThread, ThreadStatus, now_utc
from .when import describe, next_slots, parse_slots, parse_when

# A time a few seconds in the past is "now" (the writer typed it just now).
_PAST_TOLERANCE = timedelta(seconds=60)


@dataclass(frozen=True)
class Queued:
    thread: StoredThread
    updated: bool  # the draft was already queued: its entry was updated instead
    when: str  # the time in the writer's zone and in UTC, and how far off


def queue_draft(config: Config, draft_path: str, *, at: str | None = None,
                account: str | None = None, accounts: list[str] | None = None,
                now: bool = False, again: bool = False,
                clock: Callable[[], datetime] = now_utc, **overrides: Any) -> list[Queued]:
    """Queue a draft for ``at`` (else its front matter's ``at``, else each account's
    next free slot); ``now`` queues it for right away. One thread per account
    (``accounts``, else the draft's ``account:``, else the config's default), each
    split and checked for its platform and server. A draft already posted to an
    account is refused unless ``again``; nothing is queued unless every account's
    thread passes its checks."""
    draft = read_draft(draft_path)
    chosen = draft_accounts(config, draft, accounts or ([account] if account else None))
    threads = []
    for target in chosen:
        load_secrets(config, target)
        thread = compose_for(config, draft, target, **overrides)
        thread.check(to_post=True)
        threads.append((target, thread))
    zone = config.zone()
    current = clock()
    results = []
    with open_store(config) as store:
        for target, thread in threads:
            earlier = earlier_thread(store, thread, target.name)
            if earlier is not None and earlier.status is ThreadStatus.POSTED and not again:
                raise AlreadyPostedError(
                    f"this draft was already posted to account '{target.name}' as thread "
                    f"{earlier.id}: {earlier.url}. To queue it again on purpose, add --again.",
                    path=thread.source)
            if not again:
                check_not_half_posted(store, thread, target.name, None, queueing=True)
        # Every account's time first, so that one without a time queues nothing at all.
        plans = []
        for target, thread in threads:
            location = draft_location(thread.source)
            # A draft from standard input has no path to recognise it by: never an update.
            existing = (None if location.startswith("<")
                        else store.find_queued(location, target.name))
            when = _when(store, draft, target, existing, at=at, now=now, zone=zone,
                         current=current)
            plans.append((target, thread, existing, when))
        for target, thread, existing, when in plans:
            results.append(_record(store, thread, target, existing, when, zone, current))
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
        raise UsageError(
            f"that time is in the past ({describe(when, tz=zone, now=current)}). Give "
            "a time to come "
            "(e.g. --at 'tomorrow 09:00' or --at +2h), or --now to post it as soon as the "
            "daemon runs.")
    return when


def _record(store, thread, target: Account, existing: StoredThread | None, when: datetime,
            zone, current: datetime) -> Queued:
    if existing is not None and store.replace_queued(
            existing.id, content_hash=thread.content_hash, title=thread.title,
            posts=post_rows(thread), scheduled_at=when, options=dict(thread.options)):
        return Queued(store.thread(existing.id), True, describe(when, tz=zone, now=current))
    thread_id = record(store, thread, target.name, scheduled_at=when)
    return Queued(store.thread(thread_id), False, describe(when, tz=zone, now=current))


def _front_matter_time(draft, current: datetime, zone) -> datetime:
    """The draft's ``at:``, with errors pointing at its line."""
    value = draft.front_matter["at"]
    text = value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)
    try:
        return parse_when(text, now=current, tz=zone)
    except UsageError as error:
        raise DraftError(f"'at': {error.message}", path=draft.source,
                         line=draft.front_matter_lines.get("at")) from None


def _next_free_slot(store, account: Account, zone, current: datetime,
                    existing: StoredThread | None) -> datetime:
    if not account.slots:
        raise UsageError(
            f"no time given, and account '{account.name}' has no posting slots. Add "
            "--at WHEN (e.g. --at 'tomorrow 09:00'), or slots under the account in the "
            "config (e.g. slots: [\"mon-fri 09:00\"]).")
    taken = set(store.scheduled_times(account.name))
    if existing is not None and existing.scheduled_at is not None:
        taken.discard(existing.scheduled_at)  # its own slot is free for it
    found = next_slots(parse_slots(list(account.slots)), tz=zone, after=current, taken=taken,
                       count=1)
    if not found:
        raise UsageError(f"account '{account.name}' has no free slot to come. Add slots in "
                         "the config, or give --at WHEN.")
    return found[0]


def free_slots(config: Config, account: str | None = None, count: int = 5, *,
               clock: Callable[[], datetime] = now_utc) -> tuple[Account, list[datetime]]:
    """The account's next free slots (one thread per slot)."""
    chosen = config.account(account)
    if not chosen.slots:
        return chosen, []
    with open_store(config) as store:
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
        thread = store.schedule(thread_id, when, allowed=(
            ThreadStatus.QUEUED, ThreadStatus.MISSED, ThreadStatus.FAILED,
            ThreadStatus.CANCELLED, ThreadStatus.PARTIAL))
    return thread, describe(when, tz=zone, now=current)


def retry(config: Config, thread_id: int, *,
          clock: Callable[[], datetime] = now_utc) -> StoredThread:
    """Queue a failed, missed, partial or cancelled thread again, for right away."""
    with open_store(config) as store:
        return store.schedule(thread_id, clock(), allowed=(
            ThreadStatus.FAILED, ThreadStatus.MISSED, ThreadStatus.PARTIAL,
            ThreadStatus.CANCELLED))


def cancel(config: Config, thread_id: int) -> StoredThread:
    with open_store(config) as store:
        return store.cancel(thread_id)


def draft_changed(thread: StoredThread) -> bool:
    """Has the draft file changed since this thread was split from it?"""
    if thread.draft_path.startswith("<"):
        return False
    path = Path(thread.draft_path)
    try:
        data = path.read_bytes()
    except OSError:
        return True
    return content_hash(data.decode("utf-8", "replace")) != thread.content_hash
