"""Posting as a library: what ``threadbot post``, ``resume``, ``list``, ``show`` and
``accounts`` do, without the command line around it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from .accounts import client_for, credential_status, load_secrets
from .checks import check_stored, check_thread_ledger, refuse
from .config import Account, Config
from .draft import Draft, read_draft
from .errors import (
    AlreadyPostedError,
    ConfigError,
    DraftError,
    ExitCode,
    ThreadbotError,
    UsageError,
)
from .platforms import Identity, Limits, shown_url, spec
from .platforms.errors import (
    AuthError,
    DuplicatePostError,
    PlatformError,
    RateLimitedError,
    RejectedError,
    UncertainError,
)
from .publish import (
    Event,
    Publisher,
    check_not_half_posted,
    draft_location,
    earlier_thread,
    record,
)
from .store import Store, StoredThread, ThreadStatus, now_utc, process_owner
from .thread import Thread, compose

# A server's published limits are asked again after this long (and on `accounts check`).
LIMITS_MAX_AGE = timedelta(days=1)


class Interrupted(ThreadbotError):
    exit_code = ExitCode.INTERRUPTED


@dataclass(frozen=True)
class Plan:
    """What ``post`` is about to do for one account: a new thread, or finish an
    earlier one."""

    thread: Thread
    account: Account
    resume: StoredThread | None = None


def draft_accounts(config: Config, draft: Draft, names: list[str] | tuple[str, ...] | None
                   ) -> list[Account]:
    """The accounts to post as: ``names`` (``--account``, repeatable), else the draft's
    ``account:`` (a name or a list), else the config's ``default_account`` (a name or
    a list), else its first account. An unknown account written in the draft is
    reported at its line."""
    if names:
        return [config.account(name) for name in dict.fromkeys(names)]
    if "account" in draft.front_matter:
        written = draft.front_matter["account"]
        written = written if isinstance(written, list) else [written]
        try:
            return [config.account(name) for name in dict.fromkeys(written)]
        except ConfigError as error:
            raise DraftError(f"'account': {error.message}", path=draft.source,
                             line=draft.front_matter_lines.get("account")) from None
    return [config.account(name) for name in config.default_accounts] or [config.account()]


def draft_account(config: Config, draft: Draft, name: str | None) -> Account:
    """The one account to post as (the first of ``draft_accounts``)."""
    return draft_accounts(config, draft, [name] if name else None)[0]


def open_store(config: Config, *, read_only: bool = False) -> Store:
    """The config's database; ``read_only`` for commands that only read, which never
    create it (see ``Store``)."""
    return Store(config.database_path(), read_only=read_only)


def account_limits(config: Config, account: Account, *, fetch: bool = True,
                   refresh: bool = False) -> Limits | None:
    """The account's limits as its server publishes them (a Mastodon instance's
    ``/api/v2/instance``), cached in the store and asked again when older than a
    day, or when ``refresh``. With ``fetch=False`` (a preview) nothing is asked of
    the network and no database is created: the cached limits, or ``None``.

    For a platform whose limits are the same for every account, the platform's own
    numbers, never fetched. Raises ``PlatformError`` when the server cannot be asked.
    """
    platform = spec(account.platform)
    if not platform.server_limits:
        return platform.default_limits
    if not fetch and not config.database_path().exists():
        return None
    with open_store(config, read_only=not fetch) as store:
        cached = store.platform_limits(account.name, account.api_base_url)
        fresh = cached is not None and now_utc() - cached[1] < LIMITS_MAX_AGE
        if cached is not None and (fresh or not fetch) and not refresh:
            return cached[0]
        if not fetch:
            return None
        with client_for(config, account) as client:
            limits = client.limits()
        store.set_platform_limits(account.name, account.api_base_url, limits)
        return limits


def compose_for(config: Config, draft: Draft, account: Account, *, fetch: bool = True,
                again: bool = False, **overrides: Any) -> Thread:
    """The draft as a thread for ``account``: its platform, its server's limits, its
    split settings; checked against what the account posted before (a post X would
    refuse as a duplicate; ``again``: as for a new thread of a draft already posted;
    see ``threadbot.checks.check_thread_ledger``). With
    ``fetch=False`` nothing touches the network and no database is created; a thread
    counted with the platform's default limits because the server's are not known
    yet says so in a warning."""
    try:
        limits = account_limits(config, account, fetch=fetch)
        unreachable = None
    except PlatformError as error:
        # The server could not say: its last known limits (or the usual ones) will do
        # for splitting, and the post itself will tell if they changed.
        limits = account_limits(config, account, fetch=False)
        unreachable = error.message
    thread = compose(draft, config=config, account=account, limits=limits, **overrides)
    if spec(account.platform).duplicate_window is not None \
            and config.database_path().exists():
        with open_store(config) as store:
            thread.faults.extend(check_thread_ledger(store, thread, account.name,
                                                     again=again))
    if unreachable is not None:
        thread.warnings.insert(0, (
            f"account '{account.name}': could not read its server's limits ({unreachable}); "
            f"counted with {'the last ones read' if limits else 'the usual ones'}."))
    elif limits is None:
        default = spec(account.platform).default_limits
        thread.warnings.insert(0, (
            f"account '{account.name}': its server's limits are not known yet, so this "
            f"preview uses {default.max_characters} characters a post (URLs "
            f"{default.characters_reserved_per_url}). `threadbot accounts check "
            f"{account.name}` reads them from {shown_url(account.api_base_url)}."))
    return thread


def preview_threads(config: Config, draft_path: str, *, accounts: list[str] | None = None,
                    platform: str | None = None, again: bool = False,
                    **overrides: Any) -> list[Thread]:
    """The thread the draft becomes for each account, without the network (what
    ``threadbot preview`` shows). ``platform`` without ``accounts`` composes it for
    that platform's default limits, with no account; so does a draft whose front
    matter names a ``platform`` but no account."""
    draft = read_draft(draft_path)
    wanted = platform or draft.front_matter.get("platform")
    if not accounts and wanted and "account" not in draft.front_matter:
        thread = compose(draft, config=config, platform=wanted, **overrides)
        if spec_has_server_limits(wanted):
            usual = spec(wanted).default_limits.max_characters
            thread.warnings.insert(0, (
                f"counted with {spec(wanted).title}'s usual limit ({usual} characters a "
                "post); an account's own server may allow more: preview with --account NAME "
                "to count with its limits."))
        return [thread]
    chosen = draft_accounts(config, draft, accounts)
    if platform:
        other = [a.name for a in chosen if a.platform != platform]
        if other:
            raise UsageError(f"--platform {platform} does not match account "
                             f"'{other[0]}', which posts to {config.account(other[0]).platform}."
                             " Leave out --platform: an account's thread is always counted "
                             "for its own platform.")
    # ``again``: checked as `post --again` would be, so the preview refuses what it refuses.
    return [compose_for(config, draft, account, fetch=False, again=again, **overrides)
            for account in chosen]


def spec_has_server_limits(platform: str) -> bool:
    """Whether each server of ``platform`` publishes its own limits."""
    from .platforms import REGISTRY

    return platform in REGISTRY and spec(platform).server_limits


def prepare(config: Config, draft_path: str, *, accounts: list[str] | None = None,
            platform: str | None = None, again: bool = False, **overrides: Any) -> list[Plan]:
    """Compose the draft for each account and check everything that can be checked
    before posting: images, credentials present, not already posted. One plan per
    account, in order."""
    draft = read_draft(draft_path)
    chosen = draft_accounts(config, draft, accounts)
    wanted = platform or draft.front_matter.get("platform")
    plans = []
    for account in chosen:
        if platform and platform != account.platform:
            raise UsageError(f"--platform {platform} does not match account "
                             f"'{account.name}', which posts to {account.platform}. Leave "
                             "out --platform, or choose another account with --account.")
        if wanted and wanted != account.platform and len(chosen) == 1:
            # The draft's front matter and the account disagree: not a command-line slip.
            raise DraftError(f"the draft is set for {wanted} ('platform:'), but account "
                             f"'{account.name}' posts to {account.platform}. Choose another "
                             "account with --account, or change or remove 'platform:'.",
                             path=draft.source,
                             line=draft.front_matter_lines.get("platform"))
        load_secrets(config, account)  # fail now, not after the confirmation
        thread = compose_for(config, draft, account, again=again, **overrides)
        thread.check(to_post=True)
        with open_store(config) as store:
            earlier = earlier_thread(store, thread, account.name)
            if not again and (earlier is None or earlier.status is not ThreadStatus.POSTED):
                # Queued, then edited: the queued thread is this post (its posts the
                # draft as it is now), never a second thread beside it.
                earlier = _queued_thread(config, store, thread, account.name) or earlier
            if not again:
                check_not_half_posted(store, thread, account.name, earlier)
        if earlier is not None and not again:
            if earlier.status is ThreadStatus.POSTED:
                when = earlier.updated_at.strftime("%Y-%m-%d %H:%M UTC")
                raise AlreadyPostedError(
                    f"this draft was already posted to account '{account.name}' on {when} as "
                    f"thread {earlier.id}: {earlier.url}. To post it again on purpose, add "
                    "--again" + (", or leave that account out." if len(chosen) > 1 else "."),
                    path=thread.source)
            plans.append(Plan(thread=thread, account=account, resume=earlier))
            continue
        if again and earlier is not None:
            warn_unchanged(thread, account, earlier)
        plans.append(Plan(thread=thread, account=account))
    return plans


def _queued_thread(config: Config, store: Store, thread: Thread,
                   account: str) -> StoredThread | None:
    """The thread queued from this same draft file for ``account``, refreshed to the
    draft as it is now (``schedule.refresh_queued``), or None."""
    from .schedule import refresh_queued  # schedule builds on this module

    for queued in store.queued_for_draft(draft_location(thread.source)):
        if queued.account == account:
            return refresh_queued(config, store, queued)
    return None


def warn_reposting(config: Config, threads: list[Thread], *, again: bool = True) -> None:
    """``post --dry-run``: say in each thread's warnings what ``post`` would do with a
    draft its account already posted: refuse it (without ``again``, exit code
    ``ALREADY_POSTED``), or, with ``again``, ``warn_unchanged``'s warning. Reads the
    record only if it exists, and never writes it (a preview creates no file)."""
    if not config.database_path().exists():
        return
    with open_store(config, read_only=True) as store:
        for thread in threads:
            if thread.account is None:
                continue
            earlier = earlier_thread(store, thread, thread.account)
            if earlier is None:
                continue
            if again:
                warn_unchanged(thread, config.account(thread.account), earlier)
            elif earlier.status is ThreadStatus.POSTED:
                thread.warnings.insert(0, (
                    f"this draft was already posted to account '{thread.account}' as thread "
                    f"{earlier.id}: {earlier.url}. `threadbot post` refuses it; --again posts "
                    "it anew."))


def warn_unchanged(thread: Thread, account: Account, earlier: StoredThread) -> None:
    """Posting an unchanged draft again (``--again``) on a platform that refuses a
    text the account already posted: say so in the thread's warnings, before it is
    refused."""
    platform = spec(account.platform)
    if earlier.status is ThreadStatus.POSTED and platform.duplicate_window is not None:
        thread.warnings.insert(0, (
            f"{platform.title} refuses a post whose text account '{account.name}' already "
            f"posted: this draft is unchanged since thread {earlier.id}, so its first post "
            "will be refused as a duplicate and nothing will go up. Edit the text (even a "
            "word) to post it anew."))


def record_plan(config: Config, plan: Plan, *, again: bool = False) -> int:
    """Record the plan's new thread, claimed by this process in the same transaction
    (see ``Store.add_thread``): ``BusyError`` when another run is posting the draft to
    the account, ``AlreadyPostedError`` when it was posted since ``prepare`` looked."""
    with open_store(config) as store:
        return record(store, plan.thread, plan.account.name, claim_for=process_owner("cli"),
                      again=again)


def record_plans(config: Config, plans: list[Plan], *, again: bool = False) -> list[int]:
    """The thread id of each plan, in order: the earlier thread a plan finishes, or a
    new thread recorded and claimed (``record_plan``). When one account's draft is
    taken by another run, the threads just recorded for the others are removed
    again (nothing of them was sent) and that error is raised: nothing half-claimed
    is left behind."""
    ids: list[int] = []
    fresh: list[int] = []
    try:
        for plan in plans:
            if plan.resume is not None:
                ids.append(plan.resume.id)
                continue
            thread_id = record_plan(config, plan, again=again)
            ids.append(thread_id)
            fresh.append(thread_id)
    except BaseException:
        if fresh:
            with open_store(config) as store:
                for thread_id in fresh:
                    store.forget_unsent(thread_id)
        raise
    return ids


def publish_thread(config: Config, thread_id: int,
                   on_event: Callable[[Event], None] = lambda e: None, *,
                   posted_ok: bool = True) -> StoredThread:
    """Publish (or finish) a recorded thread. On a stop, the error says how far it
    got and how to go on; the thread stays resumable. ``BusyError`` when another
    process is posting it; unless ``posted_ok``, ``PostedMeanwhile`` when another
    process posted it since the caller looked (nothing is sent)."""
    with _publisher(config, thread_id, on_event) as (store, publisher):
        try:
            return publisher.publish(thread_id, posted_ok=posted_ok)
        except KeyboardInterrupt:
            done = store.thread(thread_id)
            raise Interrupted(
                f"stopped with {done.posted_count} of {len(done.posts)} posts up. Run "
                f"`threadbot resume {thread_id}` to finish the thread.") from None
        except PlatformError as error:
            done = store.thread(thread_id)
            error.message = _stopped(error, done)
            raise


@contextmanager
def _publisher(config: Config, thread_id: int, on_event: Callable[[Event], None],
               *, check: bool = True) -> Iterator[tuple[Store, Publisher]]:
    """The store and a publisher signed in as the thread's account. With ``check``,
    the thread's posts still to send are checked first (``checks.check_stored``: a
    duplicate of a post made since, an image gone), and refused before anything is
    sent."""
    with open_store(config) as store:
        stored = store.thread(thread_id)
        account = config.account(stored.account)
        if check:
            refuse(check_stored(store, stored,
                                limits=account_limits(config, account, fetch=False),
                                folder=config.writer_folder,
                                allow_outside=config.images_outside_folder))
        with client_for(config, account) as client:
            yield store, Publisher(store, client, config.posting, on_event=on_event)


@dataclass(frozen=True)
class Outcome:
    """How one account's thread ended: ``thread`` as recorded, and the error that
    stopped it (``None`` when every post is up)."""

    account: str
    thread_id: int
    thread: StoredThread | None
    error: ThreadbotError | None = None


def publish_threads(config: Config, thread_ids: list[int],
                    on_event: Callable[[Event], None] = lambda e: None,
                    on_start: Callable[[int, str], None] = lambda i, a: None, *,
                    posted_ok: bool = True) -> list[Outcome]:
    """Publish several recorded threads (one draft to several accounts), one after
    the other; ``on_start(thread id, account)`` is called before each. One failing
    (credentials, refusal, rate limit, network) never stops the others: each outcome
    is returned, and each failed thread stays resumable on its own. Ctrl-C stops
    them all: the one in flight is left resumable, and the ``Interrupted`` error
    names the threads not started."""
    outcomes = []
    for index, thread_id in enumerate(thread_ids):
        account = get_thread(config, thread_id).account
        on_start(thread_id, account)
        try:
            done = publish_thread(config, thread_id, on_event, posted_ok=posted_ok)
        except Interrupted as error:
            waiting = thread_ids[index + 1:]
            if waiting:
                error.message += (f" Not started: thread{'s' if len(waiting) > 1 else ''} "
                                  f"{', '.join(map(str, waiting))}; `threadbot resume ID` "
                                  "posts each.")
            raise
        except ThreadbotError as error:
            outcomes.append(Outcome(account, thread_id, get_thread(config, thread_id), error))
            continue
        outcomes.append(Outcome(account, thread_id, done))
    return outcomes


def delete_thread(config: Config, thread_id: int,
                  on_event: Callable[[Event], None] = lambda e: None) -> StoredThread:
    """Take a posted or partial thread down, last post first. Each deletion is
    recorded as it is confirmed; stopped part-way, the same call goes on."""
    with _publisher(config, thread_id, on_event, check=False) as (store, publisher):
        try:
            return publisher.delete(thread_id)
        except KeyboardInterrupt:
            done = store.thread(thread_id)
            raise Interrupted(
                f"stopped with {done.deleted_count} post(s) deleted. Run "
                f"`threadbot delete {thread_id}` to go on.") from None
        except PlatformError as error:
            left = store.thread(thread_id).posted_count
            error.message = (f"Deleting thread {thread_id} stopped with {left} post(s) "
                             f"still up. {error.message} Run `threadbot delete "
                             f"{thread_id}` to go on.")
            raise


def _stopped(error: PlatformError, thread: StoredThread) -> str:
    head = (f"Posting thread {thread.id} (account '{thread.account}') stopped with "
            f"{thread.posted_count} of {len(thread.posts)} posts up. ")
    if isinstance(error, RateLimitedError) and error.reset_at is not None:
        when = error.reset_at.strftime("%H:%M UTC on %Y-%m-%d")
        return (f"{head}{error.message} Posting can go on after {when}: run "
                f"`threadbot resume {thread.id}` then.")
    if isinstance(error, AuthError):
        return f"{head}{error.message} Then run `threadbot resume {thread.id}`."
    if isinstance(error, DuplicatePostError):
        forget = ("" if thread.posted_count else
                  f" `threadbot forget {thread.id}` removes this thread, of which nothing went "
                  "up, from the list.")
        return f"{head}{error.message}{forget}"
    if isinstance(error, RejectedError):
        return f"{head}{error.message} {refused_advice(thread)}"
    if isinstance(error, UncertainError) and "threadbot resume" in error.message:
        return f"{head}{error.message}"
    return f"{head}{error.message} Run `threadbot resume {thread.id}` to go on."


def refused_advice(thread: StoredThread) -> str:
    """What to do when the platform refused a post as written: resuming would send
    the same text and be refused again."""
    again = (f"`threadbot resume {thread.id}` sends the same text again: if the reason is "
             "about the text, it would be refused again, so ")
    if not thread.posted_count:
        return (f"{again}edit the draft and post it anew (`threadbot cancel {thread.id}` "
                f"first if it is queued); `threadbot forget {thread.id}` removes this thread, "
                "of which nothing went up, from the list.")
    return (f"{again}take the thread down (`threadbot delete {thread.id}`), edit the draft "
            "and post it anew.")


def list_threads(config: Config) -> list[StoredThread]:
    with open_store(config, read_only=True) as store:
        return store.threads()


def get_thread(config: Config, thread_id: int) -> StoredThread:
    with open_store(config, read_only=True) as store:
        return store.thread(thread_id)


def thread_summary(thread: StoredThread, *, posts: bool = True) -> dict[str, Any]:
    """A thread as JSON-ready data (never any secret)."""
    data: dict[str, Any] = {
        "id": thread.id,
        "title": thread.title,
        "draft": thread.draft_path,
        "account": thread.account,
        "platform": thread.platform,
        "handle": thread.handle,
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
             "remote_id": p.remote_id, "url": p.remote_url, "attempts": p.attempts,
             "last_error": p.last_error, "found": p.found,
             "media": p.media}
            for p in thread.posts]
    return data


def account_statuses(config: Config):
    return [credential_status(config, account) for account in config.accounts.values()]


@dataclass(frozen=True)
class AccountCheck:
    account: Account
    identity: Identity
    limits: Limits


def check_account(config: Config, name: str | None = None) -> AccountCheck:
    """Sign in as the account, and read its server's limits again (cached for
    previews). Raises ``AuthError`` with what to check when the keys are refused."""
    account = config.account(name)
    platform = spec(account.platform)
    with client_for(config, account) as client:
        try:
            identity = client.me()
        except AuthError as error:
            raise AuthError(_auth_help(config, account),
                            status=error.status, detail=error.detail) from None
        except PlatformError as error:
            if error.status in (404, 405, 501):
                raise ConfigError(
                    f"{shown_url(account.api_base_url)} does not answer like a "
                    f"{platform.title} server ({error.status} when asked who the account "
                    f"is). Check 'api_base_url' of account '{account.name}' in the config."
                ) from None
            raise
    limits = account_limits(config, account, refresh=True)
    return AccountCheck(account, identity, limits or platform.default_limits)


def _auth_help(config: Config, account: Account) -> str:
    platform = spec(account.platform)
    where = platform.auth_help.format(names=", ".join(account.env.values()),
                                      account=account.name)
    return (f"{platform.title} rejected the keys of account '{account.name}' (401). {where}"
            f"{_shape_hints(config, account)}")


@dataclass(frozen=True)
class Login:
    path: Path  # the .env file the secrets were saved in
    identity: Identity
    limits: Limits | None  # the server's limits, read while signing in
    # Things the writer should know: another account using the same variable, or the
    # environment overriding what was saved.
    notes: tuple[str, ...] = ()


def login(config: Config, name: str, *, ask: Callable[[str], str],
          say: Callable[[str], None]) -> Login:
    """Walk the writer through getting account ``name``'s secrets on its server
    (Mastodon: register an app, open the authorization URL, paste the code), check
    them by signing in, save them in the ``.env`` beside the config (mode 0600), and
    read the server's limits. ``ask(prompt, hidden=False)`` returns what the writer typed;
    ``say(text)`` shows text. The secrets are never shown. Raises ``UsageError`` for
    a platform without such a flow, ``AuthError`` when the server refuses,
    ``ConfigError`` when ``api_base_url`` is not such a server."""
    import os

    from .accounts import save_secret

    account = config.account(name)
    platform = spec(account.platform)
    if platform.login is None:
        names = ", ".join(account.env.values())
        raise UsageError(f"{platform.title} has no sign-in from threadbot: create the keys in "
                         f"its developer portal and put {names} in "
                         f"{config.folder / '.env'} (one NAME=value a line).")
    from .accounts import _environment

    known = _environment(config)
    for key, variable in account.env.items():
        sharing = _sharing(config, account, variable)
        if sharing and known.get(variable):
            raise ConfigError(
                f"account '{account.name}' reads {variable}, which account '{sharing[0]}' "
                "uses too and which is already set: logging in would replace its token. "
                f"Give '{account.name}' a variable of its own in the config (under the "
                f"account: env: {{{key}: {account.name.upper().replace('-', '_')}_TOKEN}}), "
                "then log in again.", path=str(config.path) if config.path else None)
    secrets = platform.login(account, ask=ask, say=say,
                             state_dir=config.database_path().parent)
    with platform.make_client(account, secrets, config.posting.timeout_seconds,
                              state_dir=config.database_path().parent) as client:
        identity = client.me()
    path = config.folder / ".env"
    notes = []
    for key, value in secrets.items():
        variable = account.env[key]
        path = save_secret(config, variable, value)
        sharing = _sharing(config, account, variable)
        if sharing:
            one = len(sharing) == 1
            notes.append(f"{', '.join(repr(n) for n in sharing)} also read{'s' if one else ''} "
                         f"{variable}, so {'it' if one else 'they'} now use this token too. "
                         f"To keep them apart, give '{account.name}' its own "
                         f"variable in the config (env: {{{key}: SOME_NAME}}) and log in again.")
        if os.environ.get(variable) and os.environ[variable] != value:
            notes.append(f"{variable} is also set in your environment, which wins over "
                         f"{path.name}: unset it (unset {variable}) so that the token just "
                         "saved is used.")
    limits = None
    if platform.server_limits:
        try:
            limits = account_limits(config, account, refresh=True)
        except PlatformError:
            limits = None  # signed in; `accounts check` reads them later
    return Login(path=path, identity=identity, limits=limits, notes=tuple(notes))


def _sharing(config: Config, account: Account, variable: str) -> list[str]:
    """The other accounts that read their secret from ``variable`` too."""
    return [other.name for other in config.accounts.values()
            if other.name != account.name and variable in other.env.values()]


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
    account: str
    platform: str
    thread: StoredThread
    chain_ok: bool  # every post replies to the one before, in order
    media: list[tuple[int, str | None]]  # (post position, alt text as the server recorded it)
    # The fake server's address (http://127.0.0.1:PORT), stopped once the rehearsal is
    # done: the thread's links point there, never at the platform.
    server: str = ""


def rehearse(config: Config, draft_path: str, *, accounts: list[str] | None = None,
             on_event: Callable[[Event], None] = lambda e: None,
             on_server: Callable[[str, str, str], None] = lambda *a: None,
             **overrides: Any) -> list[Rehearsal]:
    """Post the draft, for each account, to a fake server of the account's platform
    running on this machine, through the same path as ``post`` (the platform's
    client library, media upload with alt text, replies, the record), with a
    throwaway database. Needs no credentials and sends nothing anywhere.

    Without accounts in the config (or given), it rehearses for the default account.
    ``on_server(account, platform, base_url)`` is called as each fake server starts.
    """
    import tempfile
    from dataclasses import replace

    from .testing import rehearsal_server

    draft = read_draft(draft_path)
    settings = replace(config.posting, pause_seconds=0)
    results = []
    for account in draft_accounts(config, draft, accounts):
        thread = compose_for(config, draft, account, fetch=False, **overrides)
        thread.check()
        platform = spec(account.platform)
        limits = account_limits(config, account, fetch=False) or platform.default_limits
        with rehearsal_server(account.platform, limits) as server, \
                tempfile.TemporaryDirectory(prefix="threadbot-rehearsal-") as folder:
            fake_account = replace(account, api_base_url=server.base_url)
            if account.handle is not None:  # the fake's own account signs in, not yours
                fake_account = replace(fake_account,
                                       handle=server.rehearsal_handle("rehearsal"))
            secrets = server.rehearsal_account("rehearsal")
            address = server.base_url  # kept: the server is gone after the block
            on_server(account.name, account.platform, address)
            with Store(Path(folder) / "rehearsal.db") as store, \
                    platform.make_client(fake_account, secrets, 10.0,
                                         state_dir=Path(folder)) as client:
                thread_id = record(store, thread, account.name)
                done = Publisher(store, client, settings, on_event=on_event).publish(thread_id)
            chain = server.thread_chain("rehearsal")
        ids = [post.id for post in chain]
        chain_ok = ids == [p.remote_id for p in done.posts] and all(
            post.reply_to == (ids[i - 1] if i else None) for i, post in enumerate(chain))
        media = [(i + 1, alt) for i, post in enumerate(chain) for alt in post.alts]
        results.append(Rehearsal(account=account.name, platform=account.platform,
                                 thread=done, chain_ok=chain_ok, media=media,
                                 server=address))
    return results


def drafts_folder(config: Config) -> Path:
    """The writer's ``drafts/`` folder: beside ``config/`` when the config is
    ``config/threadbot.yaml`` in a writer's folder, else in the current folder."""
    if config.path is not None and config.path.parent.name == "config":
        return config.path.parent.parent / "drafts"
    return Path.cwd() / "drafts"


def slug(title: str) -> str:
    """A file name for a title: lower-case words (letters and digits of any script)
    joined by hyphens, at most 60 characters; ``draft`` when nothing is left."""
    import re
    import unicodedata

    text = unicodedata.normalize("NFKC", title).lower()
    words = re.findall(r"[^\W_]+", text)
    name = "-".join(words)[:60].strip("-")
    return name or "draft"


def new_draft(config: Config, title: str) -> Path:
    """Create ``drafts/<slug>.md`` holding front matter with ``title`` and a note on
    how to go on; returns its path. Never overwrites a file: when the name is taken,
    ``<slug>-2.md``, ``<slug>-3.md``… Raises ``UsageError`` for an empty title and
    ``DraftError`` when the folder cannot be written."""
    import json

    title = " ".join(title.split())
    if not title:
        raise UsageError('the title is empty. Give one, e.g. threadbot new "Why I write".')
    try:
        title.encode("utf-8")
    except UnicodeEncodeError:
        # Bytes that are not UTF-8 on the command line arrive as lone surrogates.
        raise UsageError("the title holds bytes that are not UTF-8 text. Type it again, "
                         "or write it in the draft's front matter.") from None
    folder = drafts_folder(config)
    text = (f"---\ntitle: {json.dumps(title, ensure_ascii=False)}\n---\n\n"
            "<!-- Write below, in paragraphs. Notes like this one are never posted. "
            "`threadbot preview` shows the thread; `threadbot queue` queues it. -->\n\n")
    base = slug(title)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for number in range(1, 1000):
            path = folder / (f"{base}.md" if number == 1 else f"{base}-{number}.md")
            try:
                # "x": created here or not at all, even if another process races us.
                with path.open("x", encoding="utf-8") as out:
                    out.write(text)
                return path
            except FileExistsError:
                continue
    except OSError as error:
        raise DraftError(f"cannot create the draft: {error.strerror}. Check that the folder "
                         "is writable.", path=str(folder)) from None
    raise DraftError(f"drafts named {base}.md to {base}-999.md all exist. Choose another "
                     "title.", path=str(folder))
