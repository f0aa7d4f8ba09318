"""The daemon: publishes queued threads at their time.

* The thread table is the single source of truth. APScheduler (3.11) is only the
  timer: each queued thread is a date-triggered job at its time, and the jobs
  are re-synced from the database every few seconds, so a thread queued,
  rescheduled or cancelled by another process is picked up without a restart.
* Each account has a worker thread that posts its threads one at a time, in
  order of their time; accounts post in parallel.
* Every thread goes through the same crash-safe ``Publisher`` as ``threadbot
  post``: on start, threads left half-posted by a crash are finished first (the
  uncertain case included), then what fell due while no daemon ran is posted if
  it is within the grace period, and marked missed (with a notification) if not.
* At most one daemon posts from a database; a thread is claimed in a short
  transaction before it is posted.
* SIGTERM and SIGINT: the post in flight is finished and recorded, the thread
  left resumable, and the daemon exits 0.
* Notifications run off the posting path (``notify.Notifier``): a slow webhook or a
  hanging command delays neither a post, nor the heartbeat, nor a stop.
* The database file deleted or replaced under a running daemon stops it with
  ``DatabaseGoneError``: it would otherwise go on posting from a file no other
  command sees, and never post what is queued in the new one.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from .accounts import client_for
from .checks import check_stored
from .config import Config
from .errors import DatabaseGoneError, ThreadbotError
from .notify import DEADLINE_SECONDS, SHUTDOWN_GRACE_SECONDS, Notifier, describe_daemon
from .notify import describe as describe_event
from .platforms import Identity
from .platforms.errors import (
    DuplicatePostError,
    NetworkError,
    RateLimitedError,
    RejectedError,
    ServerError,
    UncertainError,
)
from .publish import Event, Publisher, Stopped
from .schedule import refresh_queued
from .store import (
    BusyError,
    StateError,
    Store,
    StoredThread,
    ThreadStatus,
    now_utc,
    process_owner,
)
from .when import describe

log = logging.getLogger("threadbot.daemon")

# Passing failures (network, the platform's 5xx) are tried again later this many times,
# waiting RETRY_DELAYS[i] minutes, before the thread is marked failed.
RETRY_DELAYS = (1, 2, 4, 8, 16)


class Daemon:
    """Run with ``Daemon(config).run()``; ``once=True`` posts what is due and returns."""

    def __init__(self, config: Config, *, once: bool = False, standby: bool = False,
                 clock: Callable[[], datetime] = now_utc):
        self.config = config
        self.once = once
        self.standby = standby
        self.clock = clock
        self.owner = process_owner("daemon")
        self.stop = threading.Event()
        self.signalled = threading.Event()  # a SIGTERM/SIGINT came: exit promptly
        self.grace = timedelta(minutes=config.daemon.grace_minutes)
        self.zone = config.zone()
        self._lock = threading.Lock()
        self._workers: dict[str, _AccountWorker] = {}
        self._jobs: dict[str, frozenset[int]] = {}  # timer id -> the threads it hands over
        self._in_hand: set[int] = set()  # handed to a worker, not yet done
        self._retries: dict[int, int] = {}
        # Each account's identity, asked of its platform once rather than per thread.
        self._identities: dict[str, Identity] = {}
        self.scheduler = BackgroundScheduler(timezone="UTC")
        # Never handed to a notification command.
        self.secret_names = {name for account in config.accounts.values()
                             for name in account.env.values()}
        self.notifier = Notifier(config.daemon, secret_names=self.secret_names)
        self.started = clock()

    # --- lifecycle ----------------------------------------------------------------------

    def run(self) -> None:
        """Raises ``BusyError`` (another daemon runs), ``DatabaseGoneError`` (the
        database file was deleted or replaced while it ran), ``Stopped`` (stopped while
        standing by)."""
        store = Store(self.config.database_path())
        try:
            opened = _identity(store.path)
            self._register(store)
            self.started = self.clock()
            log.info("daemon started (%s), database %s", self.owner, store.path)
            try:
                self._recover(store)
                self.sync(store)
                if self.once:
                    self._drain()
                    self._say_what_is_next(store)
                    return
                self.scheduler.start()
                while not self.stop.wait(self.config.daemon.sync_seconds):
                    self._check_database(store, opened)
                    store.heartbeat(self.owner)
                    self.sync(store)
            except DatabaseGoneError as error:
                log.error("%s", error)
                self.notifier.submit(describe_daemon("stopped", str(error), str(store.path)))
                raise
            finally:
                if self.scheduler.running:
                    self.scheduler.shutdown(wait=False)
                self._stop_workers()
                store.release_daemon(self.owner)
                self._close_notifier()
                log.info("daemon stopped")
        finally:
            store.close()

    def _close_notifier(self) -> None:
        """Pending notifications get a bounded time: short after a signal (the stop
        must be prompt), else one notification's deadline (``--once`` from cron, or
        the notification that the daemon had to stop)."""
        grace = SHUTDOWN_GRACE_SECONDS if self.signalled.is_set() else DEADLINE_SECONDS
        self.notifier.close(grace, hurry=self.signalled, hurried=SHUTDOWN_GRACE_SECONDS)

    def _check_database(self, store: Store, opened: tuple[int, int] | None) -> None:
        """Stop if the database file this daemon has open is no longer the one at its
        path: deleted, or replaced (a restored backup, another file moved there)."""
        now = _identity(store.path)
        if now == opened:
            return
        if now is None:
            raise DatabaseGoneError(
                "the database file was deleted while the daemon was running, so the daemon "
                "stopped: every thread queued from now on would go to a new, empty file it "
                "does not read. Restore the file from a backup if you have one (or queue "
                "your drafts again), then start `threadbot daemon` again.",
                path=str(store.path))
        raise DatabaseGoneError(
            "the database file was replaced by another file while the daemon was running, "
            "so the daemon stopped rather than go on posting from the old one. If that "
            "file is the one you want, start `threadbot daemon` again to post what it "
            "holds; if not, put the right one back first.", path=str(store.path))

    def _say_what_is_next(self, store: Store) -> None:
        upcoming = [t for t in store.queued() if t.scheduled_at and t.scheduled_at > self.clock()]
        if upcoming:
            first = upcoming[0]
            log.info("nothing more due now; next: thread %s %s", first.id,
                     describe(first.scheduled_at, tz=self.zone, now=self.clock()))
        else:
            log.info("nothing more due now, and nothing else queued")

    def request_stop(self, *_args: object) -> None:
        """Finish the post in flight, then stop (the SIGTERM/SIGINT handler)."""
        if not self.stop.is_set():
            log.info("stopping: finishing the post in flight")
        self.signalled.set()
        self.stop.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)

    def _register(self, store: Store) -> None:
        while True:
            holder = store.acquire_daemon(self.owner)
            if holder is None:
                return
            if not self.standby:
                raise BusyError(
                    f"another threadbot daemon ({holder}) is already running on this database "
                    f"({store.path}); only one may post from it. Stop that one first, or start "
                    "this one with --standby to take over when it stops.")
            log.info("standing by: another daemon (%s) holds the database", holder)
            if self.stop.wait(5):
                raise Stopped("stopped while standing by")

    # --- what is due ----------------------------------------------------------------------

    def _recover(self, store: Store) -> None:
        """Threads a crash (or a stop) left half-posted go first."""
        for thread in store.stale_posting():
            if thread.scheduled_at is None:
                # Posted from the command line, which was killed: resumable by the writer.
                store.set_note(thread.id, ThreadStatus.PARTIAL if thread.posted_count else
                               ThreadStatus.FAILED,
                               f"interrupted; run `threadbot resume {thread.id}`")
                continue
            log.info("thread %s was left half-posted: finishing it", thread.id)
            self._hand_over(thread)
        for thread in store.threads():
            if (thread.status is ThreadStatus.PARTIAL and thread.scheduled_at is not None
                    and thread.not_before is None and thread.id not in self._in_hand):
                log.info("thread %s was left partial: finishing it", thread.id)
                self._hand_over(thread)

    def sync(self, store: Store) -> None:
        """Bring the timers in line with the queue in the database.

        One timer per account and moment: threads of one account due at the same
        time are handed to its worker together, so they go out in id order."""
        now = self.clock()
        wanted: dict[str, tuple[datetime, list[StoredThread]]] = {}
        for thread in store.queued():
            if thread.id in self._in_hand:
                continue
            due = max(thread.scheduled_at, thread.not_before or thread.scheduled_at)
            if due <= now:
                late = now - thread.scheduled_at
                if thread.status is ThreadStatus.QUEUED and thread.not_before is None \
                        and late > self.grace and self._due_while_down(thread):
                    self._missed(store, thread)
                else:
                    self._hand_over(thread)
                continue
            job_id = f"{thread.account}@{due.isoformat()}"
            wanted.setdefault(job_id, (due, []))[1].append(thread)
        with self._lock:
            for job_id in list(self._jobs):
                if self._jobs[job_id] != _ids(wanted.get(job_id)):
                    self._remove_job(job_id)
            if self.once:
                return
            for job_id, (due, threads) in wanted.items():
                if job_id not in self._jobs:
                    self.scheduler.add_job(
                        self._fire, DateTrigger(run_date=due), args=[job_id, threads],
                        id=job_id, replace_existing=True, misfire_grace_time=None)
                    self._jobs[job_id] = _ids(wanted[job_id])

    def _due_while_down(self, thread: StoredThread) -> bool:
        """Whether the grace period applies: only to a thread whose time passed while
        no daemon ran. One that fell due while this daemon ran is being posted (a
        tick's lag is not lateness), and one queued for right away (``queue --now``,
        ``retry``: its time is no later than when it was queued) is due whenever a
        daemon next runs, even with ``grace_minutes: 0``."""
        return thread.scheduled_at < self.started and thread.scheduled_at > thread.updated_at

    def _remove_job(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)
        try:
            self.scheduler.remove_job(job_id)
        except Exception:  # already fired and gone  # noqa: BLE001
            pass

    def _fire(self, job_id: str, threads: list[StoredThread]) -> None:
        """A timer went off (in APScheduler's thread). The worker reads each thread
        again before posting, so a change since the last sync still counts."""
        with self._lock:
            self._jobs.pop(job_id, None)
        for thread in threads:
            self._hand_over(thread)

    def _missed(self, store: Store, thread: StoredThread) -> None:
        # ``describe`` already says how long ago ("…, 2 hours ago"): not said twice.
        due = describe(thread.scheduled_at, tz=self.zone, now=now_utc())
        message = (f"missed: it was due {due}, more than the "
                   f"{self.config.daemon.grace_minutes:g}-min grace period before the daemon "
                   f"could post it. `threadbot retry {thread.id}` posts it now, or "
                   f"`threadbot reschedule {thread.id} --at WHEN`; `threadbot forget "
                   f"{thread.id}` removes it from the list.")
        store.set_note(thread.id, ThreadStatus.MISSED, message)
        log.warning("thread %s %s", thread.id, message)
        self._notify(store.thread(thread.id), "missed", message)

    def _hand_over(self, thread: StoredThread) -> None:
        with self._lock:
            if thread.id in self._in_hand:
                return
            self._in_hand.add(thread.id)
            worker = self._workers.get(thread.account)
            if worker is None:
                worker = _AccountWorker(self, thread.account)
                self._workers[thread.account] = worker
                worker.start()
            # Under the lock: the timer and the sync may hand over the same threads at
            # once, and each account's threads must reach its worker in order.
            worker.put(thread)

    def _done(self, thread_id: int) -> None:
        with self._lock:
            self._in_hand.discard(thread_id)

    def _drain(self) -> None:
        """--once: wait until every worker has emptied its queue, then stop them."""
        while True:
            with self._lock:
                busy = bool(self._in_hand)
            if not busy or self.stop.is_set():
                break
            time.sleep(0.05)

    def _stop_workers(self) -> None:
        self.stop.set()
        for worker in list(self._workers.values()):
            worker.put(None)
        for worker in list(self._workers.values()):
            worker.join()

    # --- posting one thread ---------------------------------------------------------------

    def post(self, store: Store, client, thread_id: int) -> None:
        """Post (or finish) one thread; every outcome is recorded and, when a human is
        needed, notified."""
        thread = store.thread(thread_id)
        if thread.status not in (ThreadStatus.QUEUED, ThreadStatus.PARTIAL,
                                 ThreadStatus.POSTING):
            return  # cancelled meanwhile
        now = self.clock()
        due = max(filter(None, (thread.scheduled_at, thread.not_before)), default=now)
        if due > now + timedelta(seconds=1):
            return  # rescheduled meanwhile: the next sync sets a timer for the new time
        try:
            # The draft as it is now (a typo fixed after queueing is fixed in the post);
            # once a post is up, the recorded text.
            thread = refresh_queued(self.config, store, thread)
        except ThreadbotError as error:
            self._failed(store, thread_id, f"nothing was posted, as the draft fails its "
                         f"checks at its time: {error}",
                         hint=f"fix the draft, then `threadbot retry {thread_id}` posts it "
                              f"now, or `threadbot reschedule {thread_id} --at WHEN`; "
                              f"`threadbot forget {thread_id}` removes it from the list")
            return
        needed = len(thread.posts) - thread.posted_count
        remaining, reset_at = store.account_limit(thread.account)
        if remaining is not None and reset_at is not None and reset_at > now \
                and remaining < needed:
            note = (f"waiting for the account's posting allowance: {remaining} post(s) left, "
                    f"{needed} needed; "
                    f"it resets {describe(reset_at, tz=self.zone, now=now)}")
            store.requeue(thread_id, until=reset_at, note=note)
            log.info("thread %s postponed: %s", thread_id, note)
            return

        # What may have changed since the thread was queued (another thread posted the
        # same text, an image moved): refused here, before anything is sent.
        faults = [fault for fault in check_stored(
                      store, thread, limits=self._limits(store, thread),
                      folder=self.config.writer_folder,
                      allow_outside=self.config.images_outside_folder)
                  if fault.blocking]
        if faults:
            more = len(faults) - 1
            message = faults[0].message + (f" (and {more} more problem"
                                           f"{'s' if more > 1 else ''})" if more else "")
            from .posting import refused_advice

            self._failed(store, thread_id, message, partial=thread.posted_count > 0,
                         hint=refused_advice(thread) if thread.posted_count else
                         f"nothing was sent; fix the draft, then `threadbot queue "
                         f"{thread.draft_path}` updates this thread")
            return

        def show(event: Event) -> None:
            log.info("thread %s: post %s/%s %s %s", event.thread_id, event.position,
                     event.total, event.message, event.url or "")

        publisher = Publisher(store, client, self.config.posting, on_event=show,
                              owner=self.owner, should_stop=self.stop.is_set,
                              sleep=lambda seconds: self.stop.wait(seconds) and None,
                              identity=self._identities.get(thread.account))
        log.info("thread %s: posting %s post(s) as account '%s'", thread_id, needed,
                 thread.account)
        try:
            # posted_ok=False: posted meanwhile by a `threadbot post` is a StateError.
            done = publisher.publish(thread_id, posted_ok=False)
        except (BusyError, StateError) as error:  # taken or cancelled meanwhile
            log.warning("thread %s: %s", thread_id, error.message)
            return
        except Stopped:
            store.requeue(thread_id, until=None, note=None)
            current = store.thread(thread_id)
            log.info("thread %s left to finish later (%s of %s posts up)", thread_id,
                     current.posted_count, len(current.posts))
            return
        except RateLimitedError as error:
            until = error.reset_at or (self.clock() + timedelta(minutes=15))
            note = (f"paused by the platform's rate limit; goes on "
                    f"{describe(until, tz=self.zone, now=self.clock())}")
            store.requeue(thread_id, until=until, note=note)
            log.warning("thread %s: %s", thread_id, note)
            return
        except (NetworkError, ServerError, UncertainError) as error:
            self._retry_later(store, thread_id, error)
            return
        except DuplicatePostError as error:
            self._failed(store, thread_id, error.message, hint="edit the draft, then "
                         f"`threadbot queue {thread.draft_path}` updates this thread")
            return
        except RejectedError as error:  # refused as written: retrying would be refused too
            from .posting import refused_advice

            current = store.thread(thread_id)
            self._failed(store, thread_id, error.message, partial=current.posted_count > 0,
                         hint=refused_advice(current))
            return
        except ThreadbotError as error:
            self._failed(store, thread_id, error.message)
            return
        finally:
            if publisher.identity is not None:
                self._identities[thread.account] = publisher.identity
        self._retries.pop(thread_id, None)
        log.info("thread %s posted: %s", thread_id, done.url)

    def _limits(self, store: Store, thread: StoredThread):
        """The thread's account's server limits as last read (None: the platform's)."""
        try:
            account = self.config.account(thread.account)
        except ThreadbotError:
            return None
        cached = store.platform_limits(account.name, account.api_base_url)
        return cached[0] if cached else None

    def _retry_later(self, store: Store, thread_id: int, error: ThreadbotError) -> None:
        tries = self._retries.get(thread_id, 0)
        current = store.thread(thread_id)
        if tries >= len(RETRY_DELAYS):
            self._failed(store, thread_id, error.message, partial=current.posted_count > 0)
            return
        self._retries[thread_id] = tries + 1
        until = self.clock() + timedelta(minutes=RETRY_DELAYS[tries])
        note = (f"{error.message} Trying again {describe(until, tz=self.zone, now=self.clock())}"
                f" (retry {tries + 1} of {len(RETRY_DELAYS)}).")
        store.requeue(thread_id, until=until, note=note)
        log.warning("thread %s: %s", thread_id, note)

    def _failed(self, store: Store, thread_id: int, message: str, *,
                partial: bool = False, hint: str | None = None) -> None:
        status = ThreadStatus.PARTIAL if partial else ThreadStatus.FAILED
        hint = hint or f"`threadbot retry {thread_id}` tries again"
        store.set_note(thread_id, status, f"{message} ({hint})")
        store.set_thread_status(thread_id, status, message)
        log.error("thread %s %s: %s", thread_id, status.value, message)
        self._notify(store.thread(thread_id), status.value, message)

    def _notify(self, thread: StoredThread, status: str, message: str) -> None:
        # An untitled draft is named by its path, as `threadbot list` names it.
        self.notifier.submit(describe_event(
            thread, status, message, untitled=self.config.shown_path(thread.draft_path)))


def _identity(path) -> tuple[int, int] | None:
    """The file at ``path`` as the system knows it (device, inode); None if absent."""
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return info.st_dev, info.st_ino


def _ids(group: tuple[datetime, list[StoredThread]] | None) -> frozenset[int]:
    return frozenset(t.id for t in group[1]) if group else frozenset()


class _AccountWorker(threading.Thread):
    """Posts one account's threads, one at a time, earliest first."""

    def __init__(self, daemon: Daemon, account: str):
        super().__init__(name=f"account-{account}", daemon=True)
        self.daemon_ = daemon
        self.account = account
        self.queue: queue.PriorityQueue = queue.PriorityQueue()

    def put(self, thread: StoredThread | None) -> None:
        if thread is None:
            self.queue.put((datetime.max.replace(tzinfo=now_utc().tzinfo), 1 << 62, None))
            return
        due = thread.scheduled_at or now_utc()
        self.queue.put((due, thread.id, thread.id))

    def run(self) -> None:
        daemon = self.daemon_
        store = Store(daemon.config.database_path())
        client = None
        try:
            while True:
                _due, _order, thread_id = self.queue.get()
                if thread_id is None:
                    return
                try:
                    if daemon.stop.is_set():
                        continue
                    if client is None:
                        client = client_for(daemon.config, daemon.config.account(self.account))
                    daemon.post(store, client, thread_id)
                except ThreadbotError as error:  # e.g. missing keys: tell, go on
                    try:
                        daemon._failed(store, thread_id, error.message)
                    except ThreadbotError as unrecorded:  # the database itself failed
                        log.error("thread %s: %s; this could not be recorded: %s", thread_id,
                                  error.message, unrecorded)
                except Exception:  # a bug: keep the daemon alive, say so loudly
                    log.exception("thread %s: unexpected error", thread_id)
                finally:
                    daemon._done(thread_id)
        finally:
            if client is not None:
                client.close()
            store.close()
