"""Posting as a library: what ``threadbot post``, ``resume``, ``list``, ``show`` and
``accounts`` do, without the command line around it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .accounts import client_for, credential_status, load_credentials
from .config import Account, Config
from .draft import read_draft
from .errors import (
    AlreadyPostedError,
    ConfigError,
    DraftError,
    ExitCode,
    ThreadbotError,
    UsageError,
)
from .platforms.errors import AuthError, DuplicatePostError, PlatformError, RateLimitedError
from .publish import Event, Publisher, earlier_thread, record
from .store import Store, StoredThread, ThreadStatus
from .thread import Thread, compose


class Interrupted(ThreadbotError):
    exit_code = ExitCode.INTERRUPTED


@dataclass(frozen=True)
class Plan:
    """What ``post`` is about to do: a new thread, or finish an earlier one."""

    thread: Thread
    account: Account
    resume: StoredThread | None = None


def draft_account(config: Config, draft, name: str | None) -> Account:
    """The account to post as: ``name``, else the draft's ``account:``, else the default.
    An unknown account written in the draft is reported at its line."""
    if name is not None or "account" not in draft.front_matter:
        return config.account(name)
    try:
        return config.account(draft.front_matter["account"])
    except ConfigError as error:
        raise DraftError(f"'account': {error.message}", path=draft.source,
                         line=draft.front_matter_lines.get("account")) from None


def open_store(config: Config) -> Store:
    return Store(config.database_path())


def prepare(config: Config, draft_path: str, *, account: str | None = None,
            platform: str | None = None, again: bool = False, **overrides: Any) -> Plan:
    """Compose the draft for the account and check everything that can be checked
    before the network: images, credentials present, not already posted."""
    draft = read_draft(draft_path)
    chosen = draft_account(config, draft, account)
    wanted = platform or draft.front_matter.get("platform")
    if wanted and wanted != chosen.platform:
        raise UsageError(f"the draft is set for {wanted}, but account '{chosen.name}' posts "
                         f"to {chosen.platform}. Choose another account with --account.")
    thread = compose(draft, config=config, platform=chosen.platform, **overrides)
    thread.check()
    load_credentials(config, chosen)  # fail now, not after the confirmation
    with open_store(config) as store:
        earlier = earlier_thread(store, thread, chosen.name)
    if earlier is not None and not again:
        if earlier.status is ThreadStatus.POSTED:
            when = earlier.updated_at.strftime("%Y-%m-%d %H:%M UTC")
            raise AlreadyPostedError(
                f"this draft was already posted to account '{chosen.name}' on {when} as "
                f"thread {earlier.id}: {earlier.url}. To post it again on purpose, add --again.",
                path=thread.source)
        return Plan(thread=thread, account=chosen, resume=earlier)
    return Plan(thread=thread, account=chosen)


def record_plan(config: Config, plan: Plan) -> int:
    with open_store(config) as store:
        return record(store, plan.thread, plan.account.name)


def publish_thread(config: Config, thread_id: int,
                   on_event: Callable[[Event], None] = lambda e: None) -> StoredThread:
    """Publish (or finish) a recorded thread. On a stop, the error says how far it
    got and how to go on; the thread stays resumable."""
    with open_store(config) as store:
        thread = store.thread(thread_id)
        account = config.account(thread.account)
        with client_for(config, account) as client:
            publisher = Publisher(store, client, config.posting, on_event=on_event)
            try:
                return publisher.publish(thread_id)
            except KeyboardInterrupt:
                done = store.thread(thread_id)
                raise Interrupted(
                    f"stopped with {done.posted_count} of {len(done.posts)} posts up. Run "
                    f"`threadbot resume {thread_id}` to finish the thread.") from None
            except PlatformError as error:
                done = store.thread(thread_id)
                error.message = _stopped(error, done)
                raise


def _stopped(error: PlatformError, thread: StoredThread) -> str:
    head = (f"Posting thread {thread.id} stopped with {thread.posted_count} of "
            f"{len(thread.posts)} posts up. ")
    if isinstance(error, RateLimitedError) and error.reset_at is not None:
        when = error.reset_at.strftime("%H:%M UTC on %Y-%m-%d")
        return (f"{head}{error.message} Posting can go on after {when}: run "
                f"`threadbot resume {thread.id}` then.")
    if isinstance(error, AuthError):
        return f"{head}{error.message} Then run `threadbot resume {thread.id}`."
    if isinstance(error, DuplicatePostError):
        return f"{head}{error.message}"
    return f"{head}{error.message} Run `threadbot resume {thread.id}` to go on."


def list_threads(config: Config) -> list[StoredThread]:
    with open_store(config) as store:
        return store.threads()


def get_thread(config: Config, thread_id: int) -> StoredThread:
    with open_store(config) as store:
        return store.thread(thread_id)


def thread_summary(thread: StoredThread, *, posts: bool = True) -> dict[str, Any]:
    """A thread as JSON-ready data (never any secret)."""
    data: dict[str, Any] = {
        "id": thread.id,
        "title": thread.title,
        "draft": thread.draft_path,
        "account": thread.account,
        "platform": thread.platform,
        "status": thread.status.value,
        "posted": thread.posted_count,
        "total": len(thread.posts),
        "url": thread.url,
        "last_error": thread.last_error,
        "created_at": thread.created_at.isoformat(),
        "updated_at": thread.updated_at.isoformat(),
        "scheduled_at": thread.scheduled_at.isoformat() if thread.scheduled_at else None,
        "note": thread.note,
    }
    if posts:
        data["posts"] = [
            {"index": p.position, "text": p.text, "status": p.status.value,
             "remote_id": p.remote_id, "attempts": p.attempts, "last_error": p.last_error,
             "media": p.media}
            for p in thread.posts]
    return data


def account_statuses(config: Config):
    return [credential_status(config, account) for account in config.accounts.values()]


def check_account(config: Config, name: str | None = None) -> tuple[Account, str, str]:
    """Sign in as the account; returns (account, user id, username)."""
    account = config.account(name)
    with client_for(config, account) as client:
        try:
            user_id, username = client.me()
        except AuthError as error:
            raise AuthError(
                f"X rejected the keys of account '{account.name}' (401). One or more of "
                f"{', '.join(account.env.values())} is wrong or revoked: compare each with "
                "the X developer portal (Keys and tokens); the access token and secret must "
                "be generated for the same app as the API key, with read and write "
                f"permission.{_shape_hints(config, account)}",
                status=error.status, detail=error.detail) from None
    return account, user_id, username


def _shape_hints(config: Config, account: Account) -> str:
    """Common .env mistakes, named without showing any value."""
    from .accounts import _environment

    env = _environment(config)
    odd = [name for name in account.env.values()
           if env.get(name, "") != env.get(name, "").strip(" \t'\"")]
    if odd:
        return f" Note: {', '.join(odd)} has spaces or quotes around its value."
    return ""


@dataclass(frozen=True)
class Rehearsal:
    thread: StoredThread
    chain_ok: bool  # every post replies to the one before, in order
    media: list[tuple[int, str | None]]  # (post position, alt text as X recorded it)


def rehearse(config: Config, draft_path: str, *, on_event: Callable[[Event], None] =
             lambda e: None, **overrides: Any) -> Rehearsal:
    """Post the draft to a fake X running on this machine, through the same path as
    ``post`` (tweepy, media upload, the record), with a throwaway database.
    Needs no credentials and sends nothing anywhere."""
    import tempfile
    from dataclasses import replace

    from .platforms.x import XClient
    from .testing.fake_x import FakeX

    draft = read_draft(draft_path)
    thread = compose(draft, config=config, platform="x", **overrides)
    thread.check()
    settings = replace(config.posting, pause_seconds=0)
    with FakeX.running(user_post_cap_24h=None, accounts=[]) as server, \
            tempfile.TemporaryDirectory(prefix="threadbot-rehearsal-") as folder:
        server.add_account("rehearsal")
        with Store(Path(folder) / "rehearsal.db") as store, \
                XClient(server.credentials("rehearsal"), api_base_url=server.base_url,
                        account="rehearsal") as client:
            thread_id = record(store, thread, "rehearsal")
            done = Publisher(store, client, settings, on_event=on_event).publish(thread_id)
        posts = server.posts()
        chain_ok = [p.id for p in posts] == [p.remote_id for p in done.posts] and all(
            post.reply_to == (posts[i - 1].id if i else None) for i, post in enumerate(posts))
        media = [(i + 1, m.alt_text) for i, post in enumerate(posts)
                 for m in (server.media(media_id)[0] for media_id in post.media_ids)]
    return Rehearsal(thread=done, chain_ok=chain_ok, media=media)
