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
from .publish import Event, Publisher, check_not_half_posted, earlier_thread, record
from .store import Store, StoredThread, ThreadStatus, now_utc
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


def open_store(config: Config) -> Store:
    return Store(config.database_path())


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
    with open_store(config) as store:
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
                **overrides: Any) -> Thread:
    """The draft as a thread for ``account``: its platform, its server's limits, its
    split settings. With ``fetch=False`` nothing touches the network; a thread
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
                    platform: str | None = None, **overrides: Any) -> list[Thread]:
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
    return [compose_for(config, draft, account, fetch=False, **overrides)
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
        if (platform and platform != account.platform) or (
                wanted and wanted != account.platform and len(chosen) == 1):
            raise UsageError(f"the draft is set for {wanted}, but account '{account.name}' "
                             f"posts to {account.platform}. Choose another account with "
                             "--account.")
        load_secrets(config, account)  # fail now, not after the confirmation
        thread = compose_for(config, draft, account, **overrides)
        thread.check(to_post=True)
        with open_store(config) as store:
            earlier = earlier_thread(store, thread, account.name)
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
        plans.append(Plan(thread=thread, account=account))
    return plans


def record_plan(config: Config, plan: Plan) -> int:
    with open_store(config) as store:
        return record(store, plan.thread, plan.account.name)


def publish_thread(config: Config, thread_id: int,
                   on_event: Callable[[Event], None] = lambda e: None) -> StoredThread:
    """Publish (or finish) a recorded thread. On a stop, the error says how far it
    got and how to go on; the thread stays resumable."""
    with _publisher(config, thread_id, on_event) as (store, publisher):
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


@contextmanager
def _publisher(config: Config, thread_id: int, on_event: Callable[[Event], None]
               ) -> Iterator[tuple[Store, Publisher]]:
    """The store and a publisher signed in as the thread's account."""
    with open_store(config) as store:
        account = config.account(store.thread(thread_id).account)
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
                    on_start: Callable[[int, str], None] = lambda i, a: None
                    ) -> list[Outcome]:
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
            done = publish_thread(config, thread_id, on_event)
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
    with _publisher(config, thread_id, on_event) as (store, publisher):
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
        return f"{head}{error.message}"
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
                "first if it is queued).")
    return (f"{again}take the thread down (`threadbot delete {thread.id}`), edit the draft "
            "and post it anew.")


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
             "last_error": p.last_error,
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
            raise UsageError(
                f"account '{account.name}' reads {variable}, which account '{sharing[0]}' "
                "uses too and which is already set: logging in would replace its token. "
                f"Give '{account.name}' a variable of its own in the config (under the "
                f"account: env: {{{key}: {account.name.upper().replace('-', '_')}_TOKEN}}), "
                "then log in again.")
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


def rehearse(config: Config, draft_path: str, *, accounts: list[str] | None = None,
             on_event: Callable[[Event], None] = lambda e: None,
             **overrides: Any) -> list[Rehearsal]:
    """Post the draft, for each account, to a fake server of the account's platform
    running on this machine, through the same path as ``post`` (the platform's
    client library, media upload with alt text, replies, the record), with a
    throwaway database. Needs no credentials and sends nothing anywhere.

    Without accounts in the config (or given), it rehearses for the default account.
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
                                 thread=done, chain_ok=chain_ok, media=media))
    return results
