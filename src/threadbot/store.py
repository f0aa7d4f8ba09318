"""The record: every thread and every post, in SQLite.

This database is the single source of truth for what was posted. Its rules:

* WAL mode and a busy timeout, so the CLI and a daemon can share it;
  ``synchronous=FULL`` so that a committed post id survives a power cut.
* Each post's remote id is committed the moment the platform returns it,
  before the next request; a post is marked ``sending`` (and committed) before
  its request goes out, so a crash mid-request leaves a visible "uncertain"
  post rather than a silent gap.
* No transaction is ever held open across a network call: every method here
  is one short transaction.
* Schema changes are numbered migrations, recorded in the ``migrations`` table.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import sqlite3
import types
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from .errors import (
    AlreadyPostedError,
    DatabaseError,
    ExitCode,
    NotFoundError,
    StoreError,
    ThreadbotError,
)
from .platforms.base import Limits, PostRef, new_idempotency_key


class ThreadStatus(StrEnum):
    PENDING = "pending"  # recorded, nothing sent yet
    QUEUED = "queued"  # waiting for its time; the daemon will post it
    POSTING = "posting"  # being posted right now
    PARTIAL = "partial"  # some posts are up; resumable
    POSTED = "posted"  # every post is up
    FAILED = "failed"  # stopped by an error that needs the writer; resumable once fixed
    MISSED = "missed"  # its time passed while no daemon ran, beyond the grace period
    CANCELLED = "cancelled"
    DELETING = "deleting"  # being taken down (or stopped part-way: `delete` goes on)
    DELETED = "deleted"  # every post that was up has been deleted


class PostStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # the request may have gone out: resolve before sending again
    POSTED = "posted"
    DELETED = "deleted"  # was up, then deleted by `threadbot delete`


def now_utc() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class StoredPost:
    id: int
    thread_id: int
    position: int
    text: str
    media: list[dict]  # [{"path": absolute path, "alt": text}]
    status: PostStatus
    remote_id: str | None
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    posted_at: datetime | None
    remote_url: str | None = None  # the post's address, as the platform gave it
    remote_uri: str | None = None  # AT Protocol strong reference (Bluesky)
    remote_cid: str | None = None
    # Chosen when the post is recorded and the same for every attempt at it.
    idempotency_key: str = ""
    # The platform already had this post (same text, same place in the chain, from this
    # account) and this record never sent it: it was found there, not posted by us.
    found: bool = False
    # A request for this post may have reached the platform (an answer lost, a 5xx, a
    # crash mid-request): a matching post found later may be ours.
    maybe_sent: bool = False
    # Links over the text: [{"start", "end", "url"}] (see m004_post_links).
    links: tuple[dict, ...] = ()

    @property
    def ref(self) -> PostRef | None:
        """What a reply to this post (or its deletion) needs, once it is up."""
        if self.remote_id is None:
            return None
        return PostRef(id=self.remote_id, url=self.remote_url, uri=self.remote_uri,
                       cid=self.remote_cid)


@dataclass(frozen=True)
class StoredThread:
    id: int
    draft_path: str
    content_hash: str
    title: str | None
    account: str
    platform: str
    status: ThreadStatus
    user_id: str | None
    username: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    posts: list[StoredPost]
    scheduled_at: datetime | None = None  # set for queued threads
    not_before: datetime | None = None  # postponed (rate limits) until then
    note: str | None = None  # why it waits, or why it was missed
    claimed_by: str | None = None  # the process posting it
    # Post settings for the platform: visibility, reply_visibility, language,
    # content_warning (see threadbot.platforms.PostOptions).
    options: dict = field(default_factory=dict)

    @property
    def first_remote_id(self) -> str | None:
        return self.posts[0].remote_id if self.posts else None

    @property
    def url(self) -> str | None:
        """The first post's address, as the platform gave it, once it is up."""
        return self.posts[0].remote_url if self.posts and self.posts[0].remote_id else None

    @property
    def handle(self) -> str | None:
        """The account as people write it (``@me``, ``@me@instance``), once known."""
        return f"@{self.username}" if self.username else None

    @property
    def posted_count(self) -> int:
        return sum(1 for p in self.posts if p.status is PostStatus.POSTED)

    @property
    def deleted_count(self) -> int:
        return sum(1 for p in self.posts if p.status is PostStatus.DELETED)


# --- migrations -------------------------------------------------------------------------


def m001_initial(db: sqlite3.Connection) -> None:
    db.execute("""
        CREATE TABLE threads (
            id INTEGER PRIMARY KEY,
            draft_path TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            title TEXT,
            account TEXT NOT NULL,
            platform TEXT NOT NULL,
            status TEXT NOT NULL,
            user_id TEXT,
            username TEXT,
            last_error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX threads_by_draft ON threads (content_hash, account)")
    db.execute("""
        CREATE TABLE posts (
            id INTEGER PRIMARY KEY,
            thread_id INTEGER NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            text TEXT NOT NULL,
            media TEXT NOT NULL DEFAULT '[]',
            status TEXT NOT NULL,
            remote_id TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            sent_at TEXT,
            posted_at TEXT,
            UNIQUE (thread_id, position)
        )""")


def m002_queue(db: sqlite3.Connection) -> None:
    for column in ("scheduled_at TEXT", "not_before TEXT", "note TEXT", "claimed_by TEXT",
                   "claimed_at TEXT"):
        db.execute(f"ALTER TABLE threads ADD COLUMN {column}")
    db.execute("CREATE INDEX threads_by_status ON threads (status, scheduled_at)")
    # What the platform last said of each account's allowance, so a daemon does not start a
    # thread that the 24-hour cap cannot hold.
    db.execute("""
        CREATE TABLE account_limits (
            account TEXT PRIMARY KEY,
            remaining_24h INTEGER,
            reset_24h_at TEXT,
            updated_at TEXT NOT NULL
        )""")
    # The daemon holding this database (at most one posts from it).
    db.execute("""
        CREATE TABLE daemons (
            owner TEXT PRIMARY KEY,
            started_at TEXT NOT NULL,
            heartbeat_at TEXT NOT NULL
        )""")


def m003_platforms(db: sqlite3.Connection) -> None:
    # What each platform needs to continue a chain: the id (all), the post's URL as the
    # server gave it, and for the AT Protocol a URI and a CID; an idempotency key fixed
    # for each post when it is recorded; when the post was deleted.
    for column in ("remote_url TEXT", "remote_uri TEXT", "remote_cid TEXT",
                   "idempotency_key TEXT", "deleted_at TEXT"):
        db.execute(f"ALTER TABLE posts ADD COLUMN {column}")
    db.execute("UPDATE posts SET idempotency_key = lower(hex(randomblob(16)))")
    # Every post recorded before this migration went to X, whose post URLs had this form.
    db.execute("UPDATE posts SET remote_url = 'https://x.com/' || (SELECT username FROM "
               "threads WHERE threads.id = posts.thread_id) || '/status/' || remote_id "
               "WHERE remote_id IS NOT NULL")
    db.execute("ALTER TABLE threads ADD COLUMN options TEXT NOT NULL DEFAULT '{}'")
    # Each account's limits as its server publishes them (a Mastodon instance's
    # /api/v2/instance), refreshed at most daily.
    db.execute("""
        CREATE TABLE platform_limits (
            account TEXT PRIMARY KEY,
            api_base_url TEXT NOT NULL,
            limits TEXT NOT NULL,
            fetched_at TEXT NOT NULL
        )""")


def m004_post_links(db: sqlite3.Connection) -> None:
    # A draft's [text](url) links over each post's text, where the platform makes the
    # text itself the link (Bluesky): [{"start", "end", "url"}], code point offsets.
    db.execute("ALTER TABLE posts ADD COLUMN links TEXT NOT NULL DEFAULT '[]'")


def m005_one_posting_thread(db: sqlite3.Connection) -> None:
    # At most one thread of a draft (content hash) per account is being posted at a time:
    # two runs started together both passed "already posted?" and posted every post twice.
    # Threads left ``posting`` twice over by such runs (their processes long gone) keep
    # the newest; the others become partial or failed, as a crash leaves them.
    db.execute(f"""
        UPDATE threads SET status = CASE WHEN EXISTS (SELECT 1 FROM posts WHERE
            posts.thread_id = threads.id AND posts.status IN ('posted', 'sending'))
            THEN 'partial' ELSE 'failed' END, claimed_by = NULL,
            note = {_INTERRUPTED_NOTE_SQL}
        WHERE status = 'posting' AND id < (SELECT MAX(other.id) FROM threads AS other
            WHERE other.status = 'posting' AND other.content_hash = threads.content_hash
            AND other.account = threads.account)""")
    db.execute("CREATE UNIQUE INDEX threads_one_posting ON threads (content_hash, account) "
               "WHERE status = 'posting'")
    # found: the post was already on the platform and this record never sent it.
    # maybe_sent: a request for it may have reached the platform. Posts tried before this
    # migration may have been: a matching post found for them counts as ours.
    db.execute("ALTER TABLE posts ADD COLUMN found INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE posts ADD COLUMN maybe_sent INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE posts SET maybe_sent = 1 WHERE attempts > 0")


_INTERRUPTED_NOTE_SQL = ("'interrupted (the process posting it stopped); `threadbot resume ' "
                         "|| id || '` finishes it'")

MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [m001_initial, m002_queue,
                                                          m003_platforms, m004_post_links,
                                                          m005_one_posting_thread]


def database_error(exc: sqlite3.Error, path: Path, timeout: float) -> ThreadbotError:
    """What a failed SQLite call means for the writer, and what to do next.

    Read-only, full, damaged and unreadable databases raise ``DatabaseError`` (exit 17);
    one locked by another process for longer than ``timeout`` seconds, ``BusyError``
    (exit 14). Result codes: https://www.sqlite.org/rescode.html"""
    name = getattr(exc, "sqlite_errorname", "") or ""
    said = f"(SQLite: {exc})"
    shown = str(path)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return BusyError(
            f"the database is busy: another threadbot process (a daemon, or a post in "
            f"progress) has held it for over {timeout:g} seconds {said}. Wait for it to "
            "finish, then run this again; nothing was changed.", path=shown)
    if name.startswith("SQLITE_READONLY") or (
            name.startswith("SQLITE_CANTOPEN") and not _writable(path)):
        message = ("the database cannot be written: the file or its folder is read-only "
                   f"{said}. Make both writable by you (chmod u+w on the file and its "
                   "folder), or point 'database:' in the config at a writable place.")
    elif name == "SQLITE_FULL":
        message = (f"the disk holding the database is full {said}. Free some space, then "
                   "run the command again.")
    elif name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        message = ("the database file is damaged, or is not a threadbot database "
                   f"{said}. Restore it from a backup, or move it aside to start a new "
                   "record (your drafts are not in it; the record of what was posted is).")
    elif name.startswith("SQLITE_IOERR"):
        message = (f"the database could not be read or written {said}. Check the disk it "
                   "is on (free space, file size limits, a removed drive), then run the "
                   "command again.")
    elif name.startswith(("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        message = (f"the database cannot be opened {said}. Check that its folder exists "
                   "and that you may read and write there, or set 'database:' in the "
                   "config.")
    else:
        message = (f"the database failed {said}. Check that it is a threadbot database on "
                   "a working disk, then run the command again.")
    return DatabaseError(message, path=shown)


def _writable(path: Path) -> bool:
    """May this process write the database and its folder (WAL keeps files beside it)?
    False on a read-only file system, even for root."""
    try:
        return os.access(path.parent, os.W_OK) and (not path.exists()
                                                     or os.access(path, os.W_OK))
    except OSError:  # a name too long: not a read-only problem
        return True


def _explained(method: Callable) -> Callable:
    @functools.wraps(method)
    def call(self: Store, *args: object, **kwargs: object) -> object:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise database_error(exc, self.path, self.timeout) from None
    return call


def _sqlite_errors_explained(cls: type) -> type:
    """Every method of ``cls`` turns SQLite's own errors into threadbot's (above), so
    that none reaches the writer as a traceback, whichever method meets it."""
    for name, value in list(vars(cls).items()):
        if isinstance(value, types.FunctionType) and name not in ("transaction", "__exit__"):
            setattr(cls, name, _explained(value))
    return cls


@_sqlite_errors_explained
class Store:
    """The threadbot database. Open one per process (or thread) with ``Store(path)``.

    ``Store(path, read_only=True)`` is for commands that only read (``list``, ``show``,
    ``slots``, ``where``): it never creates a file. A database that does not exist yet
    reads as an empty one (in memory); an existing one is opened without the right to
    write (``mode=rw`` so that SQLite removes its WAL files on close, and ``PRAGMA
    query_only``), and one from an older threadbot is copied into memory and migrated
    there, leaving the file as it was. Writing through it is a bug (sqlite3 refuses).

    Every method raises ``DatabaseError`` or ``BusyError`` (see ``database_error``)
    when SQLite fails, never SQLite's own exceptions."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0, read_only: bool = False):
        self.path = Path(path)
        self.timeout = timeout
        self.read_only = read_only
        if read_only:
            self._open_read_only(timeout)
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(f"cannot create the database's folder: {exc.strerror}. "
                                "Create it, or set 'database:' in the config to a "
                                "writable place.", path=str(self.path.parent)) from None
        try:
            # isolation_level=None: we issue BEGIN ourselves, so no transaction is
            # ever left open by the driver between our calls.
            self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                      check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self.db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = FULL")
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except BaseException:
            if getattr(self, "db", None) is not None:
                self.db.close()
            raise

    def _open_read_only(self, timeout: float) -> None:
        def connect(target: str, *, uri: bool) -> sqlite3.Connection:
            db = sqlite3.connect(target, timeout=timeout, isolation_level=None,
                                 check_same_thread=False, uri=uri)
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            return db

        try:
            try:
                missing = not self.path.exists()
            except OSError as exc:  # a name too long: the system cannot even look it up
                raise DatabaseError(f"the database cannot be opened: {exc.strerror}. Set "
                                    "'database:' in the config (or THREADBOT_DB) to a "
                                    "shorter path.", path=str(self.path)[:200]) from None
            if missing:
                self.db = connect(":memory:", uri=False)
                self._migrate()
                return
            file = None
            for mode in ("rw", "ro"):  # "ro" when the file itself is not writable
                try:
                    file = connect(f"{self.path.absolute().as_uri()}?mode={mode}", uri=True)
                    file.execute("PRAGMA query_only = ON")
                    file.execute("SELECT count(*) FROM sqlite_master").fetchone()
                    break
                except sqlite3.OperationalError:
                    if file is not None:
                        file.close()
                        file = None
                    if mode == "ro":
                        raise
            assert file is not None
            self.db = file
            known = {m.__name__ for m in MIGRATIONS}
            try:
                done = {row[0] for row in file.execute("SELECT name FROM migrations")}
            except sqlite3.OperationalError:
                done = set()
            if done - known:
                raise StoreError(
                    "this database was written by a newer threadbot "
                    f"(migrations {', '.join(sorted(done - known))}). Upgrade threadbot.",
                    path=str(self.path))
            if done != known:  # older: read a migrated copy, leave the file to writers
                memory = connect(":memory:", uri=False)
                file.backup(memory)
                file.close()
                self.db = memory
                self._migrate()
        except sqlite3.Error as exc:
            if getattr(self, "db", None) is not None:
                self.db.close()
            raise database_error(exc, self.path, self.timeout) from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction. BEGIN IMMEDIATE takes the write lock up
        front, so a read-then-write never fails half-way with "database is locked"."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException:
            # Also reached by Ctrl-C between BEGIN and COMMIT: never leave it open.
            if self.db.in_transaction:
                try:
                    self.db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # SQLite rolled it back itself (e.g. disk full): report the cause
            raise

    def _migrate(self) -> None:
        known = [m.__name__ for m in MIGRATIONS]
        try:
            done = {row[0] for row in self.db.execute("SELECT name FROM migrations")}
        except sqlite3.OperationalError:  # a new database
            done = set()
        if done == set(known):
            return  # up to date: no need for the write lock
        with self.transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS migrations "
                       "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
            done = {row[0] for row in db.execute("SELECT name FROM migrations")}
            known = {m.__name__ for m in MIGRATIONS}
            if done - known:
                raise StoreError(
                    "this database was written by a newer threadbot "
                    f"(migrations {', '.join(sorted(done - known))}). Upgrade threadbot.",
                    path=str(self.path))
            for migration in MIGRATIONS:
                if migration.__name__ not in done:
                    migration(db)
                    db.execute("INSERT INTO migrations VALUES (?, ?)",
                               (migration.__name__, _iso(now_utc())))

    # --- threads ------------------------------------------------------------------------

    def add_thread(self, *, draft_path: str, content_hash: str, title: str | None,
                   account: str, platform: str, posts: list[tuple],
                   scheduled_at: datetime | None = None,
                   options: dict | None = None, claim_for: str | None = None,
                   again: bool = False, seen: Collection[int] | None = None) -> int:
        """Record a thread and its posts (text, media[, links]) in one transaction; returns its id.
        With ``scheduled_at`` it is queued for the daemon. ``options`` are its post
        settings (visibility, language, content warning).

        With ``claim_for`` (a ``process_owner``), the thread is recorded already claimed
        by that process (``posting``), in the same transaction that checks the draft
        (``content_hash``) has no other thread on the account: claiming a draft is one
        atomic step, so two runs started together never both post it. Raises
        ``BusyError`` when another live process is posting this draft to the account
        (or recorded it a moment ago), and ``AlreadyPostedError`` when it is posted,
        unless ``again`` (then only a thread being posted right now stops it).

        With ``seen`` (the ids of this draft's threads on the account that the caller
        saw when it checked, ``queue``), a thread of the draft recorded since by another
        run (a ``post`` or ``queue`` started at the same moment) refuses the new one in
        the same transaction: ``AlreadyPostedError`` when that one is posted, else
        ``BusyError``; never two threads of one draft (unless ``again``)."""
        stamp = _iso(now_utc())
        status = ThreadStatus.QUEUED if scheduled_at else ThreadStatus.PENDING
        if claim_for is not None:
            status = ThreadStatus.POSTING
        with self.transaction() as db:
            if claim_for is not None:
                self._check_unclaimed(db, content_hash, account, claim_for, again=again)
            elif seen is not None and not again:
                self._check_unseen(db, content_hash, account, set(seen))
            try:
                cursor = db.execute(
                    "INSERT INTO threads (draft_path, content_hash, title, account, platform, "
                    "status, created_at, updated_at, scheduled_at, options, claimed_by, "
                    "claimed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (draft_path, content_hash, title, account, platform, status.value, stamp,
                     stamp, _iso(scheduled_at), json.dumps(options or {}), claim_for,
                     stamp if claim_for else None))
            except sqlite3.IntegrityError:  # the unique index: another run holds it
                raise _draft_busy(account, None) from None
            thread_id = cursor.lastrowid
            assert thread_id is not None
            self._insert_posts(db, thread_id, posts)
        return thread_id

    def _check_unclaimed(self, db: sqlite3.Connection, content_hash: str, account: str,
                         owner: str, *, again: bool) -> None:
        """Inside a write transaction: refuse a new thread of this draft on this account
        while another is being posted (or, without ``again``, while any other is
        recorded, posted or not: the caller saw none a moment ago)."""
        rows = db.execute(
            "SELECT id, status, claimed_by, account FROM threads WHERE content_hash = ? "
            "AND account = ? AND status != ? ORDER BY id DESC",
            (content_hash, account, ThreadStatus.DELETED.value)).fetchall()
        self._release_stale(db, rows, owner, exclude=None)
        if again:
            return
        for row in rows:
            if row["status"] == ThreadStatus.POSTED.value:
                thread = self.thread(row["id"])  # same connection: inside this transaction
                when = thread.updated_at.strftime("%Y-%m-%d %H:%M UTC")
                raise AlreadyPostedError(
                    f"this draft was just posted to account '{account}' by another threadbot "
                    f"run ({when}, thread {row['id']}: {thread.url}); nothing was sent by "
                    "this one. To post it again on purpose, add --again.")
            raise BusyError(
                f"another threadbot run recorded this draft for account '{account}' a "
                f"moment ago, as thread {row['id']} ({row['status']}); nothing was sent "
                f"by this one. `threadbot show {row['id']}` says where it stands.")

    def _check_unseen(self, db: sqlite3.Connection, content_hash: str, account: str,
                      seen: set[int]) -> None:
        """Inside a write transaction: refuse to queue a thread of this draft on this
        account while another live process is posting one (seen or not: it will be
        posted in a moment), or when another run recorded one since the caller looked
        (``seen``)."""
        rows = db.execute(
            "SELECT id, status, claimed_by, account FROM threads WHERE content_hash = ? "
            "AND account = ? AND status != ? ORDER BY id DESC",
            (content_hash, account, ThreadStatus.DELETED.value)).fetchall()
        self._release_stale(db, rows, "", exclude=None)
        for row in rows:
            if row["id"] in seen:
                continue
            if row["status"] == ThreadStatus.POSTED.value:
                thread = self.thread(row["id"])  # same connection: inside this transaction
                raise AlreadyPostedError(
                    f"this draft was just posted to account '{account}' by another threadbot "
                    f"run (thread {row['id']}: {thread.url}); nothing was queued by this one. "
                    "To queue it again on purpose, add --again.")
            raise BusyError(
                f"another threadbot run recorded this draft for account '{account}' a "
                f"moment ago, as thread {row['id']} ({row['status']}); nothing was queued "
                f"by this one. `threadbot show {row['id']}` says where it stands.")

    @staticmethod
    def _release_stale(db: sqlite3.Connection, rows: list[sqlite3.Row], owner: str,
                       exclude: int | None) -> None:
        """Of these threads (one draft, one account), one that another live process is
        posting stops us (``BusyError``); one left ``posting`` by a process that is
        gone is released (partial, or failed if nothing is up), as a crash leaves it."""
        for row in rows:
            if row["id"] == exclude or row["status"] != ThreadStatus.POSTING.value:
                continue
            holder = row["claimed_by"]
            if holder and holder != owner and _alive(holder):
                raise _draft_busy(row["account"], row["id"], holder)
            db.execute(f"UPDATE threads SET status = CASE WHEN EXISTS (SELECT 1 FROM posts "
                       f"WHERE posts.thread_id = threads.id AND posts.status IN (?, ?)) "
                       f"THEN ? ELSE ? END, claimed_by = NULL, note = {_INTERRUPTED_NOTE_SQL}"
                       f" WHERE id = ?",
                       (PostStatus.POSTED.value, PostStatus.SENDING.value,
                        ThreadStatus.PARTIAL.value, ThreadStatus.FAILED.value, row["id"]))

    @staticmethod
    def _insert_posts(db: sqlite3.Connection, thread_id: int, posts: list[tuple]) -> None:
        """``posts``: ``(text, media)`` or ``(text, media, links)`` each."""
        db.executemany(
            "INSERT INTO posts (thread_id, position, text, media, status, idempotency_key, "
            "links) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(thread_id, i, text, json.dumps(media, ensure_ascii=False),
              PostStatus.PENDING.value, new_idempotency_key(),
              json.dumps(links[0] if links else [], ensure_ascii=False))
             for i, (text, media, *links) in enumerate(posts, start=1)])

    def forget_unsent(self, thread_id: int) -> None:
        """Remove a thread of which no request was ever made (just recorded, then given
        up before posting): as if it had never been recorded."""
        with self.transaction() as db:
            db.execute("DELETE FROM threads WHERE id = ? AND NOT EXISTS (SELECT 1 FROM "
                       "posts WHERE posts.thread_id = threads.id AND posts.attempts > 0)",
                       (thread_id,))

    def replace_queued(self, thread_id: int, *, content_hash: str, title: str | None,
                       posts: list[tuple], scheduled_at: datetime,
                       options: dict | None = None) -> bool:
        """Update a queued thread with a new split and time (the draft was queued
        again). False if it is no longer queued (the daemon took it meanwhile)."""
        with self.transaction() as db:
            row = db.execute("SELECT status FROM threads WHERE id = ?", (thread_id,)).fetchone()
            # A post that is up, or may be (sending: its answer never came), keeps its
            # thread and its idempotency key: replacing them could post it twice.
            posted = db.execute("SELECT COUNT(*) FROM posts WHERE thread_id = ? AND status "
                                "IN (?, ?)", (thread_id, PostStatus.POSTED.value,
                                              PostStatus.SENDING.value)).fetchone()[0]
            if row is None or row["status"] not in _REQUEUEABLE or posted:
                return False
            db.execute("DELETE FROM posts WHERE thread_id = ?", (thread_id,))
            self._insert_posts(db, thread_id, posts)
            db.execute("UPDATE threads SET status = ?, content_hash = ?, title = ?, "
                       "scheduled_at = ?, not_before = NULL, note = NULL, last_error = NULL, "
                       "options = ?, updated_at = ? WHERE id = ?",
                       (ThreadStatus.QUEUED.value, content_hash, title, _iso(scheduled_at),
                        json.dumps(options or {}), _iso(now_utc()), thread_id))
        return True

    def refresh_posts(self, thread_id: int, *, content_hash: str, title: str | None,
                      posts: list[tuple[str, list[dict]]], options: dict) -> bool:
        """Replace a queued thread's posts with the draft as it is now, keeping its
        status and time. False (and nothing changed) once any post is up or may be
        (``sending``), or the thread is no longer queued: a thread whose first post
        is up never changes text."""
        with self.transaction() as db:
            row = db.execute("SELECT status FROM threads WHERE id = ?", (thread_id,)).fetchone()
            started = db.execute("SELECT COUNT(*) FROM posts WHERE thread_id = ? AND status "
                                 "!= ?", (thread_id, PostStatus.PENDING.value)).fetchone()[0]
            if row is None or row["status"] != ThreadStatus.QUEUED.value or started:
                return False
            db.execute("DELETE FROM posts WHERE thread_id = ?", (thread_id,))
            self._insert_posts(db, thread_id, posts)
            db.execute("UPDATE threads SET content_hash = ?, title = ?, options = ?, "
                       "updated_at = ? WHERE id = ?",
                       (content_hash, title, json.dumps(options), _iso(now_utc()), thread_id))
        return True

    def forget(self, thread_id: int) -> StoredThread:
        """Remove a thread none of whose posts ever went up (or may have) from the
        record; returns it as it was. Raises ``StateError`` for a thread being posted
        or with any post up, sending or taken down (its record is what `delete` and
        the never-twice check need)."""
        with self.transaction() as db:
            status = self._status(db, thread_id)
            touched = db.execute("SELECT COUNT(*) FROM posts WHERE thread_id = ? AND "
                                 "(status != ? OR remote_id IS NOT NULL)",
                                 (thread_id, PostStatus.PENDING.value)).fetchone()[0]
            if touched or status not in (ThreadStatus.FAILED, ThreadStatus.MISSED,
                                         ThreadStatus.CANCELLED, ThreadStatus.PENDING):
                raise StateError(thread_id, status, "forgotten")
            thread = self.thread(thread_id)
            db.execute("DELETE FROM posts WHERE thread_id = ?", (thread_id,))
            db.execute("DELETE FROM threads WHERE id = ?", (thread_id,))
        return thread

    def queued_for_draft(self, draft_path: str) -> list[StoredThread]:
        """This draft file's threads waiting in the queue, one per account."""
        ids = [row[0] for row in self.db.execute(
            "SELECT id FROM threads WHERE draft_path = ? AND status = ? ORDER BY id",
            (draft_path, ThreadStatus.QUEUED.value))]
        return [self.thread(i) for i in ids]

    @staticmethod
    def _status(db: sqlite3.Connection, thread_id: int) -> ThreadStatus:
        row = db.execute("SELECT status FROM threads WHERE id = ?", (thread_id,)).fetchone()
        if row is None:
            raise _not_found(thread_id)
        return ThreadStatus(row["status"])

    def schedule(self, thread_id: int, scheduled_at: datetime, *,
                 allowed: tuple[ThreadStatus, ...]) -> StoredThread:
        """Queue the thread for ``scheduled_at`` if its status is one of ``allowed``."""
        with self.transaction() as db:
            status = self._status(db, thread_id)
            if status not in allowed:
                raise StateError(thread_id, status, "scheduled")
            # A partial thread stays partial (some posts are up); its not_before makes
            # the daemon's sync pick it up at that time.
            partial = status is ThreadStatus.PARTIAL
            db.execute("UPDATE threads SET status = ?, scheduled_at = ?, not_before = ?, "
                       "note = NULL, claimed_by = NULL, updated_at = ? WHERE id = ?",
                       (status.value if partial else ThreadStatus.QUEUED.value,
                        _iso(scheduled_at), _iso(scheduled_at) if partial else None,
                        _iso(now_utc()), thread_id))
        return self.thread(thread_id)

    def cancel(self, thread_id: int) -> StoredThread:
        with self.transaction() as db:
            status = self._status(db, thread_id)
            if status not in (ThreadStatus.QUEUED, ThreadStatus.MISSED, ThreadStatus.FAILED,
                              ThreadStatus.PARTIAL, ThreadStatus.PENDING):
                raise StateError(thread_id, status, "cancelled")
            # The note said why it waited ("trying again at ..."): not true any more.
            db.execute("UPDATE threads SET status = ?, note = NULL, not_before = NULL, "
                       "claimed_by = NULL, updated_at = ? WHERE id = ?",
                       (ThreadStatus.CANCELLED.value, _iso(now_utc()), thread_id))
        return self.thread(thread_id)

    def queued(self) -> list[StoredThread]:
        """Threads the daemon is to post: queued ones, and partial ones it paused."""
        ids = [row[0] for row in self.db.execute(
            "SELECT id FROM threads WHERE scheduled_at IS NOT NULL AND (status = ? OR "
            "(status = ? AND not_before IS NOT NULL)) ORDER BY scheduled_at, id",
            (ThreadStatus.QUEUED.value, ThreadStatus.PARTIAL.value))]
        return [self.thread(i) for i in ids]

    def scheduled_times(self, account: str) -> list[datetime]:
        """When this account's queued threads are due (to keep one thread per slot)."""
        return [_parse(row[0]) for row in self.db.execute(
            "SELECT scheduled_at FROM threads WHERE account = ? AND scheduled_at IS NOT NULL "
            "AND status IN (?, ?, ?)", (account, ThreadStatus.QUEUED.value,
                                        ThreadStatus.POSTING.value, ThreadStatus.POSTED.value))]

    def find_queued(self, draft_path: str, account: str) -> StoredThread | None:
        """This draft's entry in the queue that queueing it again may update: queued,
        or failed, missed or cancelled before any of its posts went up (or may have:
        a post left ``sending`` counts as up)."""
        rows = self.db.execute(
            "SELECT id FROM threads WHERE draft_path = ? AND account = ? AND status IN "
            "(?, ?, ?, ?) ORDER BY id DESC", (draft_path, account, *_REQUEUEABLE)).fetchall()
        for row in rows:
            thread = self.thread(row[0])
            if not any(p.status in (PostStatus.POSTED, PostStatus.SENDING)
                       for p in thread.posts):
                return thread
        return None

    def unfinished_for_draft(self, draft_path: str, account: str) -> StoredThread | None:
        """The latest thread of this draft file and account that has posts up (or
        possibly up) but is not complete: posting the draft anew would repeat them."""
        rows = self.db.execute(
            "SELECT id FROM threads WHERE draft_path = ? AND account = ? AND status NOT IN "
            "(?, ?) ORDER BY id DESC", (draft_path, account, ThreadStatus.POSTED.value,
                                        ThreadStatus.DELETED.value)).fetchall()
        for row in rows:
            thread = self.thread(row[0])
            if any(p.status in (PostStatus.POSTED, PostStatus.SENDING) for p in thread.posts):
                return thread
        return None

    def requeue(self, thread_id: int, *, until: datetime | None, note: str | None) -> None:
        """Back in the queue (as partial if some posts are up), not before ``until``;
        ``note`` says why it waits."""
        with self.transaction() as db:
            posted = db.execute("SELECT COUNT(*) FROM posts WHERE thread_id = ? AND status = ?",
                                (thread_id, PostStatus.POSTED.value)).fetchone()[0]
            status = ThreadStatus.PARTIAL if posted else ThreadStatus.QUEUED
            db.execute("UPDATE threads SET status = ?, not_before = ?, note = ?, "
                       "claimed_by = NULL, updated_at = ? WHERE id = ?",
                       (status.value, _iso(until), note, _iso(now_utc()), thread_id))

    def set_note(self, thread_id: int, status: ThreadStatus, note: str | None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE threads SET status = ?, note = ?, claimed_by = NULL, "
                       "not_before = NULL, updated_at = ? WHERE id = ?",
                       (status.value, note, _iso(now_utc()), thread_id))

    # --- who is posting what ------------------------------------------------------------

    def claim(self, thread_id: int, owner: str,
              status: ThreadStatus = ThreadStatus.POSTING, *,
              posted_ok: bool = True) -> None:
        """Take the thread for posting (status ``posting``, or ``deleting``), in one
        short transaction.

        Refused (``BusyError``) while another live process is posting or deleting
        it, or posting another thread of the same draft to the same account, so that
        two processes never post the same posts. A thread already posted is refused
        (``PostedMeanwhile``) unless ``posted_ok``: the caller saw it unposted, so
        another process finished it meanwhile."""
        with self.transaction() as db:
            row = db.execute("SELECT status, claimed_by, content_hash, account FROM threads "
                             "WHERE id = ?", (thread_id,)).fetchone()
            if row is None:
                raise _not_found(thread_id)
            holder = row["claimed_by"]
            busy = (ThreadStatus.POSTING.value, ThreadStatus.DELETING.value)
            if row["status"] in busy and holder and holder != owner and _alive(holder):
                doing = "posted" if row["status"] == ThreadStatus.POSTING.value else "deleted"
                raise BusyError(
                    f"thread {thread_id} is being {doing} right now by another threadbot "
                    f"process ({_describe_owner(holder)}). Nothing was sent by this one. "
                    f"Wait for it (`threadbot show {thread_id}` shows how far it got), or "
                    "stop it first.")
            current = ThreadStatus(row["status"])
            if status is ThreadStatus.POSTING and current is ThreadStatus.POSTED \
                    and not posted_ok:
                raise PostedMeanwhile(thread_id)
            if status is ThreadStatus.POSTING and current in (
                    ThreadStatus.CANCELLED, ThreadStatus.DELETING, ThreadStatus.DELETED):
                raise StateError(thread_id, current, "posted")
            if status is ThreadStatus.DELETING and current not in (
                    ThreadStatus.POSTED, ThreadStatus.PARTIAL, ThreadStatus.DELETING,
                    ThreadStatus.FAILED, ThreadStatus.POSTING):
                raise StateError(thread_id, current, "deleted")
            if status is ThreadStatus.POSTING:
                # Another thread of this draft being posted to this account (posted
                # with --again, or by another run) would repeat these posts.
                others = db.execute(
                    "SELECT id, status, claimed_by, account FROM threads WHERE "
                    "content_hash = ? AND account = ? AND status = ? AND id != ?",
                    (row["content_hash"], row["account"], ThreadStatus.POSTING.value,
                     thread_id)).fetchall()
                self._release_stale(db, others, owner, exclude=thread_id)
            try:
                db.execute("UPDATE threads SET status = ?, claimed_by = ?, claimed_at = ?, "
                           "not_before = NULL, note = NULL, updated_at = ? WHERE id = ?",
                           (status.value, owner, _iso(now_utc()), _iso(now_utc()),
                            thread_id))
            except sqlite3.IntegrityError:  # the unique index: another run holds the draft
                raise _draft_busy(row["account"], None) from None

    def stale_posting(self) -> list[StoredThread]:
        """Threads left ``posting`` by a process that is gone (a crash)."""
        rows = self.db.execute("SELECT id, claimed_by FROM threads WHERE status = ?",
                               (ThreadStatus.POSTING.value,)).fetchall()
        return [self.thread(r["id"]) for r in rows
                if not r["claimed_by"] or not _alive(r["claimed_by"])]

    # --- what the platform said of each account's allowance --------------------------

    def set_account_limit(self, account: str, remaining_24h: int | None,
                          reset_24h_at: datetime | None) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO account_limits VALUES (?, ?, ?, ?) ON CONFLICT (account) "
                       "DO UPDATE SET remaining_24h = excluded.remaining_24h, "
                       "reset_24h_at = excluded.reset_24h_at, updated_at = excluded.updated_at",
                       (account, remaining_24h, _iso(reset_24h_at), _iso(now_utc())))

    def account_limit(self, account: str) -> tuple[int | None, datetime | None]:
        row = self.db.execute("SELECT remaining_24h, reset_24h_at FROM account_limits "
                              "WHERE account = ?", (account,)).fetchone()
        return (row[0], _parse(row[1])) if row else (None, None)

    # --- the one daemon per database ------------------------------------------------------

    def acquire_daemon(self, owner: str, *, stale_after: float = 15.0) -> str | None:
        """Register this daemon; returns the owner of another live one instead, if any."""
        now = now_utc()
        with self.transaction() as db:
            for row in db.execute("SELECT owner, heartbeat_at FROM daemons").fetchall():
                fresh = (now - _parse(row["heartbeat_at"])).total_seconds() < stale_after
                if row["owner"] != owner and fresh and _alive(row["owner"]):
                    return row["owner"]
            db.execute("DELETE FROM daemons")
            db.execute("INSERT INTO daemons VALUES (?, ?, ?)", (owner, _iso(now), _iso(now)))
        return None

    def heartbeat(self, owner: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE daemons SET heartbeat_at = ? WHERE owner = ?",
                       (_iso(now_utc()), owner))

    def daemon(self) -> DaemonRecord | None:
        """The daemon registered on this database, if any (it may have died since:
        ``DaemonRecord.running`` tells)."""
        row = self.db.execute("SELECT owner, started_at, heartbeat_at FROM daemons "
                              "ORDER BY heartbeat_at DESC").fetchone()
        if row is None:
            return None
        return DaemonRecord(owner=row["owner"], started_at=_parse(row["started_at"]),
                            heartbeat_at=_parse(row["heartbeat_at"]))

    def release_daemon(self, owner: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM daemons WHERE owner = ?", (owner,))

    def thread(self, thread_id: int) -> StoredThread:
        row = self.db.execute("SELECT * FROM threads WHERE id = ?", (thread_id,)).fetchone()
        if row is None:
            raise _not_found(thread_id)
        posts = self.db.execute("SELECT * FROM posts WHERE thread_id = ? ORDER BY position",
                                (thread_id,)).fetchall()
        return _thread(row, [_post(p) for p in posts])

    def threads(self) -> list[StoredThread]:
        """Every thread, newest first."""
        rows = self.db.execute("SELECT * FROM threads ORDER BY id DESC").fetchall()
        posts: dict[int, list[StoredPost]] = {}
        for p in self.db.execute("SELECT * FROM posts ORDER BY thread_id, position"):
            posts.setdefault(p["thread_id"], []).append(_post(p))
        return [_thread(row, posts.get(row["id"], [])) for row in rows]

    def threads_for_draft(self, content_hash: str, account: str) -> list[StoredThread]:
        ids = [row[0] for row in self.db.execute(
            "SELECT id FROM threads WHERE content_hash = ? AND account = ? ORDER BY id",
            (content_hash, account))]
        return [self.thread(i) for i in ids]

    def set_thread_status(self, thread_id: int, status: ThreadStatus,
                          error: str | None = None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE threads SET status = ?, last_error = ?, claimed_by = NULL, "
                       "updated_at = ? WHERE id = ?",
                       (status.value, error, _iso(now_utc()), thread_id))

    def set_thread_user(self, thread_id: int, user_id: str, username: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE threads SET user_id = ?, username = ?, updated_at = ? "
                       "WHERE id = ?", (user_id, username, _iso(now_utc()), thread_id))

    # --- the post ledger ----------------------------------------------------------------

    def recorded_elsewhere(self, remote_ids: list[str], thread_id: int) -> set[str]:
        """Which of these remote ids the record already gives to another thread."""
        if not remote_ids:
            return set()
        marks = ", ".join("?" * len(remote_ids))
        rows = self.db.execute(f"SELECT remote_id FROM posts WHERE thread_id != ? AND "
                               f"remote_id IN ({marks})", (thread_id, *remote_ids))
        return {row[0] for row in rows}

    def mark_sending(self, post_id: int) -> None:
        """Commit that a request for this post is about to go out."""
        with self.transaction() as db:
            db.execute("UPDATE posts SET status = ?, attempts = attempts + 1, sent_at = ?, "
                       "last_error = NULL WHERE id = ?",
                       (PostStatus.SENDING.value, _iso(now_utc()), post_id))

    def mark_posted(self, post_id: int, ref: PostRef) -> None:
        """Commit what the platform returned for this post (id, URL, and URI and CID
        where it has them): from now on it is never sent again."""
        with self.transaction() as db:
            db.execute("UPDATE posts SET status = ?, remote_id = ?, remote_url = ?, "
                       "remote_uri = ?, remote_cid = ?, posted_at = ?, last_error = NULL "
                       "WHERE id = ?",
                       (PostStatus.POSTED.value, ref.id, ref.url, ref.uri, ref.cid,
                        _iso(now_utc()), post_id))

    def mark_found(self, post_id: int, ref: PostRef, posted_at: datetime | None) -> None:
        """Commit a post the platform already had (same text, same place, from this
        account) that this record never sent: it is up, and the thread goes on from it,
        but it is recorded as found, not posted by us. ``posted_at``: when the platform
        says it was posted, if it said."""
        with self.transaction() as db:
            db.execute("UPDATE posts SET status = ?, remote_id = ?, remote_url = ?, "
                       "remote_uri = ?, remote_cid = ?, posted_at = ?, found = 1, "
                       "last_error = NULL WHERE id = ?",
                       (PostStatus.POSTED.value, ref.id, ref.url, ref.uri, ref.cid,
                        _iso(posted_at or now_utc()), post_id))

    def mark_maybe_sent(self, post_id: int, error: str | None = None) -> None:
        """Commit that a request for this post may have reached the platform (its answer
        was lost, a 5xx, or a crash mid-request), with the error if there was one: a
        matching post found on the platform from now on may be ours."""
        with self.transaction() as db:
            db.execute("UPDATE posts SET maybe_sent = 1, last_error = COALESCE(?, last_error) "
                       "WHERE id = ?", (error, post_id))

    def mark_deleted(self, post_id: int) -> None:
        """Commit that this post was taken down (its id and URL are kept)."""
        with self.transaction() as db:
            db.execute("UPDATE posts SET status = ?, deleted_at = ?, last_error = NULL "
                       "WHERE id = ?", (PostStatus.DELETED.value, _iso(now_utc()), post_id))

    # --- each account's limits, as its server publishes them --------------------------

    def set_platform_limits(self, account: str, api_base_url: str, limits: Limits) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO platform_limits VALUES (?, ?, ?, ?) ON CONFLICT (account) "
                       "DO UPDATE SET api_base_url = excluded.api_base_url, "
                       "limits = excluded.limits, fetched_at = excluded.fetched_at",
                       (account, api_base_url, json.dumps(limits.to_dict()),
                        _iso(now_utc())))

    def platform_limits(self, account: str, api_base_url: str
                        ) -> tuple[Limits, datetime] | None:
        """The account's cached limits and when they were fetched, if they were
        fetched from the server it now points to."""
        row = self.db.execute("SELECT api_base_url, limits, fetched_at FROM platform_limits "
                              "WHERE account = ?", (account,)).fetchone()
        if row is None or row["api_base_url"] != api_base_url:
            return None
        return Limits.from_dict(json.loads(row["limits"])), _parse(row["fetched_at"])

    def mark_not_sent(self, post_id: int, error: str) -> None:
        """The request certainly did not create the post: it may be sent again."""
        with self.transaction() as db:
            db.execute("UPDATE posts SET status = ?, last_error = ? WHERE id = ?",
                       (PostStatus.PENDING.value, error, post_id))

    def posted_texts(self, account: str, since: datetime) -> list[PostedText]:
        """The account's posts that are up (posted, not deleted) and were posted at or
        after ``since``, oldest first: for the duplicate check of
        ``threadbot.checks``. Read only."""
        rows = self.db.execute(
            "SELECT posts.thread_id, posts.position, posts.text, posts.posted_at "
            "FROM posts JOIN threads ON threads.id = posts.thread_id "
            "WHERE threads.account = ? AND posts.status = ? AND posts.posted_at >= ? "
            "ORDER BY posts.posted_at, posts.id",
            (account, PostStatus.POSTED.value, _iso(since))).fetchall()
        return [PostedText(row[0], row[1], row[2], _parse(row[3])) for row in rows]


@dataclass(frozen=True)
class PostedText:
    """One post that is up, as the ledger has it: its thread, position (1-based),
    text and when it was posted (UTC)."""

    thread_id: int
    position: int
    text: str
    posted_at: datetime


# Threads that queueing their draft again may update (when none of their posts is up).
_REQUEUEABLE = tuple(s.value for s in (ThreadStatus.QUEUED, ThreadStatus.FAILED,
                                       ThreadStatus.MISSED, ThreadStatus.CANCELLED))


# A daemon whose heartbeat is older than this (seconds) is taken to be gone.
DAEMON_STALE_AFTER = 15.0


@dataclass(frozen=True)
class DaemonRecord:
    """The daemon a database records: ``owner`` is ``host:pid:daemon``."""

    owner: str
    started_at: datetime
    heartbeat_at: datetime

    @property
    def host(self) -> str:
        return self.owner.rsplit(":", 2)[0]

    @property
    def pid(self) -> int | None:
        try:
            return int(self.owner.rsplit(":", 2)[1])
        except (IndexError, ValueError):
            return None

    def running(self, now: datetime | None = None) -> bool:
        """Alive: its process exists, on this host; on another host (which cannot be
        asked), its heartbeat is recent."""
        if self.host == socket.gethostname():
            return _alive(self.owner)
        return ((now or now_utc()) - self.heartbeat_at).total_seconds() < DAEMON_STALE_AFTER


def _not_found(thread_id: int) -> NotFoundError:
    return NotFoundError(f"there is no thread {thread_id}. `threadbot list` shows the threads "
                         "there are.")


def process_owner(kind: str = "cli") -> str:
    """This process, as recorded on what it claims: host, pid and what it is."""
    return f"{socket.gethostname()}:{os.getpid()}:{kind}"


def _alive(owner: str) -> bool:
    """Is the process behind ``owner`` still running? Only a process on this host
    can be checked; one elsewhere is taken to be alive (to be safe)."""
    try:
        host, pid, _kind = owner.rsplit(":", 2)
    except ValueError:
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    # A process killed but not yet reaped by its parent (a zombie, e.g. a daemon started
    # with `&` and killed with -9) still answers kill(0): its state says it is gone.
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def _draft_busy(account: str | None, thread_id: int | None,
                holder: str | None = None) -> BusyError:
    who = f" ({_describe_owner(holder)})" if holder else ""
    on = f" to account '{account}'" if account else ""
    which = f" as thread {thread_id}" if thread_id is not None else ""
    show = (f"`threadbot show {thread_id}` shows how far it got" if thread_id is not None
            else "`threadbot list` shows it")
    return BusyError(f"another threadbot run{who} is posting this draft{on} right now"
                     f"{which}. Nothing was sent by this one. Wait for it ({show}); "
                     "its posts go up once.")


def _describe_owner(owner: str) -> str:
    host, pid, kind = owner.rsplit(":", 2)
    return f"{'the daemon' if kind == 'daemon' else 'threadbot'}, pid {pid} on {host}"


class BusyError(ThreadbotError):
    exit_code = ExitCode.BUSY


class StateError(ThreadbotError):
    exit_code = ExitCode.WRONG_STATE

    def __init__(self, thread_id: int, status: ThreadStatus, action: str):
        already = "already " if action == status.value else ""
        super().__init__(f"thread {thread_id} is {already}{status.value}, so it cannot be "
                         f"{action}. `threadbot show {thread_id}` tells more.")


class PostedMeanwhile(StateError):
    """The thread was posted by another process between our reading it and claiming it."""

    exit_code = ExitCode.ALREADY_POSTED

    def __init__(self, thread_id: int):
        self.thread_id = thread_id
        ThreadbotError.__init__(
            self, f"thread {thread_id} was posted meanwhile by another threadbot process; "
            f"nothing was sent by this one. `threadbot show {thread_id}` shows its posts.")


def _post(row: sqlite3.Row) -> StoredPost:
    return StoredPost(
        id=row["id"], thread_id=row["thread_id"], position=row["position"], text=row["text"],
        media=json.loads(row["media"]), status=PostStatus(row["status"]),
        remote_id=row["remote_id"], attempts=row["attempts"], last_error=row["last_error"],
        sent_at=_parse(row["sent_at"]), posted_at=_parse(row["posted_at"]),
        remote_url=row["remote_url"], remote_uri=row["remote_uri"],
        remote_cid=row["remote_cid"], idempotency_key=row["idempotency_key"] or "",
        found=bool(row["found"]), maybe_sent=bool(row["maybe_sent"]),
        links=tuple(json.loads(row["links"] or "[]")))


def _thread(row: sqlite3.Row, posts: list[StoredPost]) -> StoredThread:
    status = ThreadStatus(row["status"])
    note = row["note"]
    if status is ThreadStatus.DELETING and not (row["claimed_by"] and _alive(row["claimed_by"])):
        note = (f"taking it down stopped part-way; `threadbot delete {row['id']}` goes on")
    if status is ThreadStatus.POSTING and not (row["claimed_by"] and _alive(row["claimed_by"])):
        # The process posting it is gone (killed): that is a partial thread.
        status = ThreadStatus.PARTIAL
        finisher = "the daemon finishes it when it starts, or " if row["scheduled_at"] else ""
        note = (f"interrupted (the process posting it stopped); {finisher}"
                f"`threadbot resume {row['id']}` finishes it now")
    return StoredThread(
        id=row["id"], draft_path=row["draft_path"], content_hash=row["content_hash"],
        title=row["title"], account=row["account"], platform=row["platform"],
        status=status, user_id=row["user_id"], username=row["username"],
        last_error=row["last_error"], created_at=_parse(row["created_at"]),
        updated_at=_parse(row["updated_at"]), posts=posts,
        scheduled_at=_parse(row["scheduled_at"]), not_before=_parse(row["not_before"]),
        note=note, claimed_by=row["claimed_by"], options=json.loads(row["options"] or "{}"))
