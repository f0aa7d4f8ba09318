"""The command line: a thin layer over the library.

Each command parses its options, calls one library function and prints the
result. Errors are turned into messages and exit codes in one place, ``main``.
"""

from __future__ import annotations

import json
import os
import sys

import click

from . import __version__
from .config import PACKING_ALIASES, PACKINGS, load_config
from .counting import PLATFORMS
from .errors import ExitCode, MediaError, ThreadbotError, UsageError
from .scaffold import init_folder


def _split_options(*, platform: bool = True):
    """Options shared by every command that splits a draft."""
    options = [
        click.option("--packing", type=click.Choice([*PACKINGS, *PACKING_ALIASES]),
                     help="paragraphs: keep paragraphs whole (default); sentences: fewest "
                          "posts, breaking at sentence ends (old name: natural); compact: "
                          "fewest posts, word by word."),
        click.option("--break", "break_mode", type=click.Choice(["auto", "paragraph"]),
                     help="paragraph: every paragraph starts a new post."),
        click.option("--numbering", type=click.Choice(["none", "1/N", "1/", "(1/N)"]),
                     help="Number the posts in this style."),
        click.option("--numbering-position", type=click.Choice(["before", "after"]),
                     help="Put the numbering before or after the text."),
        click.option("--continuation", metavar="TEXT",
                     help='Marker closing a post whose sentence runs on ("" for none).'),
        click.option("--thread-marker", metavar="TEXT",
                     help="Marker added to the first post, e.g. 🧵."),
        click.option("--json", "as_json", is_flag=True,
                     help="Print one JSON object (schema in the README)."),
    ]
    if platform:
        options.insert(0, click.option(
            "--platform", type=click.Choice(PLATFORMS),
            help="Count and split for this platform (default: the draft's or the config's, "
                 "else x)."))

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _overrides(options: dict) -> dict:
    """The split settings given on the command line, by their YAML names."""
    return {("break" if key == "break_mode" else key): value for key, value in options.items()
            if value is not None}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="threadbot")
@click.option("--config", "config_path", metavar="PATH", envvar=None,
              help="Config file (else $THREADBOT_CONFIG, else config/threadbot.yaml "
                   "here, else defaults).")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """threadbot: turn long-form drafts into threads.

    Write a draft in drafts/, preview it with `threadbot preview DRAFT`.
    """
    ctx.obj = {"config_path": config_path}


_ACCOUNT_OPTION = dict(metavar="NAME", multiple=True,
                       help="The account to use; repeat it for several (default: the draft's "
                            "'account', else the config's default_account).")


def _show_threads(config, threads, *, as_json: bool, dry_run: bool) -> None:
    """Each thread (one per account) as the preview shows it, then one summary line
    per account when there are several."""
    from . import preview

    out = sys.stdout
    if as_json:
        if len(threads) == 1:
            preview.render_json(threads[0], out)
        else:
            json.dump([t.to_dict() for t in threads], out, ensure_ascii=False, indent=2)
            out.write("\n")
        return
    console = None
    if out.isatty():
        from rich.console import Console

        console = Console()
    for index, thread in enumerate(threads):
        if len(threads) > 1:
            name = preview.PLATFORM_NAMES[thread.platform]
            rule = f"══ account '{thread.account}' · {name} "
            click.echo(("\n" if index else "") + rule + "═" * max(0, 72 - len(rule)))
        cost = preview.cost_line(thread, config.pricing.post, config.pricing.post_with_url)
        last = index == len(threads) - 1
        if console is not None:
            preview.render_rich(thread, console, cost=cost, dry_run=dry_run and last)
        else:
            preview.render_plain(thread, out, cost=cost, dry_run=dry_run and last)
    if len(threads) > 1:
        click.echo("\nSummary:")
        for thread in threads:
            click.echo(preview.summary_line(thread, config.pricing.post,
                                            config.pricing.post_with_url))


def _dry_run(ctx: click.Context, draft: str, platform, as_json: bool,
             account: tuple[str, ...] = (), **split) -> None:
    from . import posting

    config = load_config(ctx.obj["config_path"])
    threads = posting.preview_threads(config, draft, accounts=list(account), platform=platform,
                                      **_overrides(split))
    _show_threads(config, threads, as_json=as_json, dry_run=True)
    for thread in threads:
        thread.check()


@cli.command("preview")
@click.argument("draft", metavar="DRAFT")
@click.option("--account", **_ACCOUNT_OPTION)
@_split_options()
@click.pass_context
def preview_command(ctx: click.Context, draft: str, **options) -> None:
    """Show the thread DRAFT would become, without posting anything.

    DRAFT is a text or Markdown file, or - to read standard input. Every post is
    shown with its length against the limit, its images and alt text, every
    warning, and the cost on X's pay-per-use API. With several accounts, each
    account's thread is shown, split and counted for its platform and server.
    """
    _dry_run(ctx, draft, **options)


@cli.command("post")
@click.argument("draft", metavar="DRAFT")
@click.option("--account", **_ACCOUNT_OPTION)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (required "
              "without a terminal).")
@click.option("--again", is_flag=True, help="Post a draft that was already posted, anew.")
@click.option("--dry-run", is_flag=True, help="Only show what would be posted (as preview).")
@_split_options()
@click.pass_context
def post_command(ctx: click.Context, draft: str, account: tuple[str, ...], yes: bool,
                 again: bool, dry_run: bool, **options) -> None:
    """Post DRAFT as a thread, each post a reply to the one before.

    Shows the thread and asks before posting. With several accounts (--account
    repeated, or a list in the draft or the config) each gets its own thread;
    one failing never stops the others. Every post is recorded as it goes up, so
    a thread broken off half-way can be finished with `threadbot resume`, and a
    draft already posted is not posted twice (unless --again).
    """
    if dry_run:
        _dry_run(ctx, draft, account=account, **options)
        return
    from . import posting

    config = load_config(ctx.obj["config_path"])
    as_json = options.pop("as_json")
    platform = options.pop("platform")
    plans = posting.prepare(config, draft, accounts=list(account), platform=platform,
                            again=again, **_overrides(options))
    fresh = [plan for plan in plans if plan.resume is None]
    for plan in plans:
        earlier = plan.resume
        if earlier is None:
            continue
        if earlier.status.value == "queued":
            click.echo(f"This draft is queued for account '{plan.account.name}' as thread "
                       f"{earlier.id} (for {earlier.scheduled_at:%Y-%m-%d %H:%M} UTC).")
        else:
            click.echo(f"This draft was started before for account '{plan.account.name}' as "
                       f"thread {earlier.id} ({earlier.posted_count} of "
                       f"{len(earlier.posts)} posts are up).")
    if fresh and not as_json:
        _show_threads(config, [plan.thread for plan in fresh], as_json=False, dry_run=False)
    if len(plans) == 1:
        plan = plans[0]
        count = len(plan.thread.posts)
        if plan.resume is None:
            question = (f"Post these {count} post{'s' if count > 1 else ''} to "
                        f"{_platform_title(plan.account)} as account '{plan.account.name}'?")
        elif plan.resume.status.value == "queued":
            question = f"Post thread {plan.resume.id} now instead?"
        else:
            question = f"Finish thread {plan.resume.id}?"
    else:
        names = ", ".join(f"'{p.account.name}' ({_platform_title(p.account)})" for p in plans)
        question = f"Post to {len(plans)} accounts: {names}?"
    if not _confirm(question, yes):
        click.echo("Nothing was posted.")
        return
    ids = [plan.resume.id if plan.resume else posting.record_plan(config, plan)
           for plan in plans]
    _publish(config, ids, as_json)


def _platform_title(account) -> str:
    from .platforms import spec

    return spec(account.platform).title


def _confirm(question: str, yes: bool, *, verb: str = "post") -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"there is no terminal to ask for confirmation. Add --yes to {verb} "
                         "without being asked.")
    return click.confirm(question, default=False, err=True)


class _SomeFailed(ThreadbotError):
    """Some accounts' threads did not all go up (each is resumable on its own)."""


def _publish(config, thread_ids: int | list[int], as_json: bool) -> None:
    from . import posting

    def show(event) -> None:
        if as_json:
            return
        if event.kind == "warning":
            click.echo(f"[{event.position}/{event.total}] note: {event.message}")
            return
        where = f"  {event.url or event.remote_id}" if event.remote_id else ""
        click.echo(f"[{event.position}/{event.total}] {event.message}{where}")

    if isinstance(thread_ids, int):  # one thread: its own error is the outcome
        thread = posting.publish_thread(config, thread_ids, on_event=show)
        if as_json:
            click.echo(json.dumps(posting.thread_summary(thread), ensure_ascii=False,
                                  indent=2))
        else:
            click.echo(f"Thread {thread.id} is up: {thread.url}")
        return
    if len(thread_ids) == 1:
        _publish(config, thread_ids[0], as_json)
        return
    def start(thread_id: int, account: str) -> None:
        if not as_json:
            click.echo(f"\nThread {thread_id}, account '{account}':")

    outcomes = posting.publish_threads(config, thread_ids, on_event=show, on_start=start)
    failed = [o for o in outcomes if o.error is not None]
    if as_json:
        click.echo(json.dumps([{**(posting.thread_summary(o.thread) if o.thread else
                                   {"id": o.thread_id, "account": o.account}),
                                "error": o.error.message if o.error else None}
                               for o in outcomes], ensure_ascii=False, indent=2))
    else:
        click.echo("\nDone:")
        for outcome in outcomes:
            if outcome.error is None:
                click.echo(f"  '{outcome.account}': thread {outcome.thread_id} is up: "
                           f"{outcome.thread.url}")
            else:
                click.echo(f"  '{outcome.account}': thread {outcome.thread_id} did NOT go up: "
                           f"{outcome.error.message}")
    if failed:
        codes = {int(o.error.exit_code) for o in failed}
        error = _SomeFailed(
            f"{len(failed)} of {len(outcomes)} accounts' threads did not all go up "
            f"({', '.join(repr(o.account) for o in failed)}); the others are up. Each "
            "message above says why and how to go on; `threadbot resume ID` finishes one.")
        error.exit_code = ExitCode(codes.pop()) if len(codes) == 1 else ExitCode.PLATFORM
        raise error


@cli.command("rehearse")
@click.argument("draft", metavar="DRAFT")
@click.option("--account", **_ACCOUNT_OPTION)
@_split_options(platform=False)
@click.pass_context
def rehearse_command(ctx: click.Context, draft: str, account: tuple[str, ...],
                     **options) -> None:
    """Post DRAFT to a fake server on this machine, to rehearse the whole flow.

    For each account, goes through everything `threadbot post` does (the
    platform's client library, image upload with alt text, replies, the record)
    against a fake server of the account's platform (X or Mastodon) started on
    127.0.0.1 for the occasion. Needs no credentials; nothing leaves the machine.
    """
    from . import posting

    config = load_config(ctx.obj["config_path"])
    as_json = options.pop("as_json")
    overrides = _overrides(options)

    def show(event) -> None:
        if not as_json:
            click.echo(f"[{event.position}/{event.total}] {event.message} to the fake server "
                       f"(id {event.remote_id})")

    results = posting.rehearse(config, draft, accounts=list(account), on_event=show,
                               **overrides)
    if as_json:
        rows = []
        for result in results:
            data = posting.thread_summary(result.thread)
            data["chain_ok"] = result.chain_ok
            rows.append(data)
        click.echo(json.dumps(rows[0] if len(rows) == 1 else rows, ensure_ascii=False,
                              indent=2))
    else:
        from .platforms import spec

        for result in results:
            title = spec(result.platform).title
            images = f", {len(result.media)} image(s) with alt text" if result.media else ""
            verdict = ("one connected chain" if result.chain_ok
                       else "NOT a connected chain (a bug)")
            count = len(result.thread.posts)
            click.echo(f"Rehearsal done for '{result.account}': {count} "
                       f"post{'s' if count != 1 else ''}{images}, posted to a fake {title} "
                       f"on this machine as {verdict}. "
                       f"Nothing was sent to {title}.")
    if not all(result.chain_ok for result in results):
        raise ThreadbotError("the rehearsal did not produce a connected chain. Please report "
                             "this with the draft.")


@cli.command("resume")
@click.argument("thread_id", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the thread as JSON at the end.")
@click.pass_context
def resume_command(ctx: click.Context, thread_id: int, as_json: bool) -> None:
    """Finish thread ID, broken off part-way, from its first post not yet up.

    A post whose request was sent but never answered is looked for on the platform first,
    so that nothing is posted twice.
    """
    config = load_config(ctx.obj["config_path"])
    _publish(config, thread_id, as_json)


@cli.command("delete")
@click.argument("thread_id", type=int, metavar="ID")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def delete_command(ctx: click.Context, thread_id: int, yes: bool) -> None:
    """Take thread ID down: delete its posts from the platform, last post first.

    Each deletion is recorded as it is confirmed; if it stops part-way, run the
    same command again to go on. The thread stays in `threadbot list`, marked
    deleted.
    """
    from . import posting

    config = load_config(ctx.obj["config_path"])
    thread = posting.get_thread(config, thread_id)
    # A post left "sending" may be up: delete looks for it first.
    up = sum(1 for p in thread.posts if p.status.value in ("posted", "sending"))
    if thread.status.value == "deleted":
        click.echo(f"Thread {thread_id} is already deleted.")
        return
    deleting = thread.status.value == "deleting"  # stopped part-way: go on
    if thread.status.value == "queued":
        raise UsageError(f"thread {thread_id} is queued, not posted: nothing to delete. "
                         f"`threadbot cancel {thread_id}` takes it out of the queue.")
    if thread.status.value not in ("posted", "partial", "failed", "deleting") or not (
            up or deleting):
        from .store import StateError

        raise StateError(thread_id, thread.status, "deleted")
    where = f" {thread.url}" if thread.url else ""
    if up and not _confirm(f"Delete the {up} post{'s' if up > 1 else ''} of thread {thread_id} "
                    f"(account '{thread.account}'){where}? This cannot be undone.", yes,
                           verb="delete"):
        click.echo("Nothing was deleted.")
        return

    def show(event) -> None:
        click.echo(f"[{event.position}/{event.total}] deleted  {event.url or event.remote_id}")

    done = posting.delete_thread(config, thread_id, on_event=show)
    click.echo(f"Thread {done.id} is deleted ({done.deleted_count} post"
               f"{'s' if done.deleted_count != 1 else ''} taken down).")


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """List the recorded threads, newest first: status (queued, posting, partial,
    posted, failed, missed, cancelled, deleting, deleted), time and URL."""
    from . import posting
    from .schedule import draft_changed

    config = load_config(ctx.obj["config_path"])
    threads = posting.list_threads(config)
    if as_json:
        rows = []
        for t in threads:
            row = posting.thread_summary(t, posts=False)
            row["draft_changed"] = t.status.value == "queued" and draft_changed(t)
            rows.append(row)
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not threads:
        click.echo("No threads yet. Post one with `threadbot post DRAFT`, or queue one with "
                   "`threadbot queue DRAFT`.")
        return
    zone = config.zone()
    width = max([10, *(len(t.account) for t in threads)])
    click.echo(f"{'id':>4}  {'status':<9} {'posts':>7} {'account':<{width}} {'time':<20} "
               "title and URL")
    for t in threads:
        title = t.title or t.draft_path
        # The time it is due, or the time it was last touched (e.g. posted).
        moment = t.scheduled_at if t.status.value in ("queued", "missed") else t.updated_at
        when = moment.astimezone(zone).strftime("%a %d %b %H:%M %Z") if moment else ""
        posts = f"{t.posted_count}/{len(t.posts)}"
        click.echo(f"{t.id:>4}  {t.status.value:<9} {posts:>7} {t.account:<{width}} {when:<20} "
                   f"{title}  {t.url or ''}".rstrip())
        if t.status.value == "queued" and draft_changed(t):
            click.echo("        ! the draft changed since it was queued: run `threadbot queue "
                       f"{t.draft_path}` again to post the new text")
        if t.note:
            click.echo(f"        {t.note}")
        elif t.last_error and t.status.value in ("failed", "partial", "missed"):
            click.echo(f"        {t.last_error}")


@cli.command("show")
@click.argument("thread_id", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show_command(ctx: click.Context, thread_id: int, as_json: bool) -> None:
    """Show thread ID post by post: status, remote id, attempts, last error."""
    from . import posting

    config = load_config(ctx.obj["config_path"])
    thread = posting.get_thread(config, thread_id)
    if as_json:
        click.echo(json.dumps(posting.thread_summary(thread), ensure_ascii=False, indent=2))
        return
    click.echo(f"Thread {thread.id}: {thread.title or thread.draft_path}")
    who = f" ({thread.handle})" if thread.handle else ""
    click.echo(f"  status {thread.status.value}, account {thread.account}{who} on "
               f"{thread.platform}, {thread.posted_count} of {len(thread.posts)} posts up")
    if thread.url:
        click.echo(f"  {thread.url}")
    if thread.last_error:
        click.echo(f"  last error: {thread.last_error}")
    for post in thread.posts:
        extra = f" id {post.remote_id}" if post.remote_id else ""
        attempts = f"{post.attempts} attempt{'s' if post.attempts != 1 else ''}"
        extra += f"{',' if extra else ''} {attempts}"
        click.echo(f"\n  [{post.position}] {post.status.value}{extra}")
        if post.remote_url:
            click.echo(f"      {post.remote_url}")
        if post.last_error and post.status.value != "posted":
            click.echo(f"      last error: {post.last_error}")
        for line in post.text.splitlines():
            click.echo(f"      {line}")
        for media in post.media:
            click.echo(f"      [image] {_relative(media['path'])} "
                       f"(alt: {media.get('alt') or 'none'})")


@cli.command("queue")
@click.argument("draft", metavar="DRAFT")
@click.option("--at", "at", metavar="WHEN", help="When to post: 2026-12-01 09:00 (in the "
              "configured timezone), an ISO 8601 time, 'tomorrow 09:00', +2h, +30m. Default: "
              "the draft's 'at', else the account's next free slot.")
@click.option("--account", **_ACCOUNT_OPTION)
@click.option("--now", "now", is_flag=True, help="Queue it for right away.")
@click.option("--again", is_flag=True, help="Queue a draft that was already posted, anew.")
@_split_options(platform=False)
@click.pass_context
def queue_command(ctx: click.Context, draft: str, at: str | None, account: tuple[str, ...],
                  now: bool, again: bool, **options) -> None:
    """Queue DRAFT for the daemon to post at its time.

    The draft is split now and checked (lengths, images, each account and its keys,
    the time); that text is what will be posted. With several accounts each gets
    its own queued thread. Queueing the same draft again updates its entry.
    """
    from .schedule import queue_draft

    config = load_config(ctx.obj["config_path"])
    as_json = options.pop("as_json")
    overrides = _overrides(options)
    results = queue_draft(config, draft, at=at, accounts=list(account), now=now, again=again,
                          **overrides)
    if as_json:
        from . import posting

        rows = [posting.thread_summary(queued.thread) for queued in results]
        click.echo(json.dumps(rows[0] if len(rows) == 1 else rows, ensure_ascii=False,
                              indent=2))
        return
    for queued in results:
        thread = queued.thread
        verb = "Updated queued" if queued.updated else "Queued"
        count = len(thread.posts)
        click.echo(f"{verb} thread {thread.id} ({count} post{'s' if count > 1 else ''}, "
                   f"account '{thread.account}') for {queued.when}.")
    click.echo(f"The daemon posts {'them' if len(results) > 1 else 'it'} then: run `threadbot "
               "daemon` (or `threadbot daemon --once` from cron).")


@cli.command("slots")
@click.option("--account", metavar="NAME", help="The account (default: the default one).")
@click.option("--count", default=5, show_default=True, help="How many slots to show.")
@click.pass_context
def slots_command(ctx: click.Context, account: str | None, count: int) -> None:
    """Show the account's next free posting slots."""
    from .schedule import free_slots
    from .when import describe

    config = load_config(ctx.obj["config_path"])
    chosen, slots = free_slots(config, account, count)
    if not chosen.slots:
        click.echo(f"Account '{chosen.name}' has no slots. Add some under the account in the "
                   'config, e.g. slots: ["mon-fri 09:00", "sat 11:30"].')
        return
    from .store import now_utc

    current = now_utc()
    click.echo(f"Next free slots for '{chosen.name}' ({', '.join(chosen.slots)}):")
    for slot in slots:
        click.echo(f"  {describe(slot, tz=config.zone(), now=current)}")


@cli.command("cancel")
@click.argument("thread_id", type=int, metavar="ID")
@click.pass_context
def cancel_command(ctx: click.Context, thread_id: int) -> None:
    """Cancel queued thread ID (it stays in the list, marked cancelled)."""
    from .schedule import cancel

    thread = cancel(load_config(ctx.obj["config_path"]), thread_id)
    click.echo(f"Cancelled thread {thread.id}. `threadbot retry {thread.id}` queues it again.")


@cli.command("reschedule")
@click.argument("thread_id", type=int, metavar="ID")
@click.option("--at", "at", metavar="WHEN", required=True, help="The new time (as for queue).")
@click.pass_context
def reschedule_command(ctx: click.Context, thread_id: int, at: str) -> None:
    """Move thread ID to another time."""
    from .schedule import reschedule

    thread, when = reschedule(load_config(ctx.obj["config_path"]), thread_id, at)
    click.echo(f"Thread {thread.id} is now queued for {when}.")


@cli.command("retry")
@click.argument("thread_id", type=int, metavar="ID")
@click.pass_context
def retry_command(ctx: click.Context, thread_id: int) -> None:
    """Queue a failed, missed, partial or cancelled thread again, for right away."""
    from .schedule import retry

    thread = retry(load_config(ctx.obj["config_path"]), thread_id)
    click.echo(f"Thread {thread.id} is queued again, for now: the daemon will post it "
               "(from where it stopped, if some posts are up).")


@cli.command("daemon")
@click.option("--once", is_flag=True, help="Post what is due now, then exit (for cron).")
@click.option("--standby", is_flag=True, help="If another daemon runs on this database, wait "
              "and take over when it stops (instead of refusing to start).")
@click.pass_context
def daemon_command(ctx: click.Context, once: bool, standby: bool) -> None:
    """Publish queued threads at their time; runs until stopped (Ctrl-C or SIGTERM).

    Logs with timestamps to stderr (and to daemon.log_file if configured). On
    start it finishes threads a crash left half-posted, then posts what fell due
    while it was down (within daemon.grace_minutes; older ones are marked missed).
    """
    import logging

    from .daemon import Daemon

    config = load_config(ctx.obj["config_path"])
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if config.daemon.log_file:
        handlers.append(logging.FileHandler(config.folder / config.daemon.log_file,
                                            encoding="utf-8"))
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    logger = logging.getLogger("threadbot.daemon")
    logger.setLevel(logging.INFO)
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    daemon = Daemon(config, once=once, standby=standby)
    daemon.install_signal_handlers()
    daemon.run()


def _relative(path: str) -> str:
    """A path as short as it can be from the current folder."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive
        return path


@cli.group("accounts", invoke_without_command=True)
@click.pass_context
def accounts_group(ctx: click.Context) -> None:
    """List the configured accounts and whether their keys are set."""
    if ctx.invoked_subcommand is not None:
        return
    from . import posting
    from .platforms import shown_url

    config = load_config(ctx.parent.obj["config_path"])
    defaults = config.default_accounts or (config.default_account,)
    for status in posting.account_statuses(config):
        account = status.account
        default = " (default)" if account.name in defaults else ""
        keys = "keys set" if not status.missing else f"missing {', '.join(status.missing)}"
        click.echo(f"{account.name}{default}  {account.platform}  "
                   f"{shown_url(account.api_base_url)}  "
                   f"{keys}")
    from .accounts import dotenv_warning

    warning = dotenv_warning(config)
    if warning:
        click.echo(f"Note: {warning}", err=True)


@accounts_group.command("check")
@click.argument("name", required=False, metavar="[NAME]")
@click.pass_context
def accounts_check(ctx: click.Context, name: str | None) -> None:
    """Sign in as account NAME (default: each default account), print its @handle,
    and read its server's limits again (a Mastodon instance's)."""
    from . import posting
    from .accounts import dotenv_warning
    from .platforms import spec

    config = load_config(ctx.find_root().obj["config_path"])
    names = [name] if name else list(config.default_accounts or (config.default_account,))
    for each in names:
        checked = posting.check_account(config, each)
        platform = spec(checked.account.platform)
        click.echo(f"{checked.account.name}: signed in to {platform.title} as "
                   f"{checked.identity.shown} (user id {checked.identity.account_id}).")
        if platform.server_limits:
            limits = checked.limits
            url = (f", URLs count {limits.characters_reserved_per_url}"
                   if limits.characters_reserved_per_url else "")
            click.echo(f"  Its server takes posts of up to {limits.max_characters} characters"
                       f"{url}, {limits.max_media} images a post, alt text up to "
                       f"{limits.max_alt} characters.")
    warning = dotenv_warning(config)
    if warning:
        click.echo(f"Note: {warning}", err=True)


@accounts_group.command("login")
@click.argument("name", metavar="NAME")
@click.pass_context
def accounts_login(ctx: click.Context, name: str) -> None:
    """Get account NAME's access token by signing in on its server (Mastodon),
    and keep it in the .env beside the config (mode 0600; never printed)."""
    from . import posting

    config = load_config(ctx.find_root().obj["config_path"])
    def ask(prompt: str, hidden: bool = False) -> str:
        # An empty answer is allowed: it takes the default the prompt shows, if any.
        return click.prompt(prompt, err=True, hide_input=hidden, default="",
                            show_default=False).strip()

    result = posting.login(config, name, ask=ask, say=lambda text: click.echo(text, err=True))
    click.echo(f"Saved the access token of '{name}' in {result.path} (readable only by you). "
               f"Signed in as {result.identity.shown}.")
    if result.limits is not None:
        click.echo(f"Its server takes posts of up to {result.limits.max_characters} "
                   "characters; previews for this account count with that.")
    for note in result.notes:
        click.echo(f"Note: {note}")
    click.echo(f"Next: `threadbot preview DRAFT --account {name}`.")


@cli.command("init")
@click.argument("directory", default=".", metavar="[DIR]")
def init_command(directory: str) -> None:
    """Lay out a writer's folder in DIR (default: here): config/threadbot.yaml with
    comments, drafts/ with an example draft, and a .gitignore for local state."""
    created, kept = init_folder(directory)
    for path in created:
        click.echo(f"created  {path}")
    for path in kept:
        click.echo(f"kept     {path} (already there)")
    where = "" if os.path.abspath(directory) == os.getcwd() else f"cd {directory} && "
    click.echo(f"\nNext: edit drafts/example.md, then run `{where}threadbot preview "
               "drafts/example.md` (threadbot finds config/threadbot.yaml from inside the "
               "folder).")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error becomes a message on stderr and an exit code."""
    try:
        cli.main(args=argv, prog_name="threadbot", standalone_mode=False)
    except ThreadbotError as error:
        label = ("Cannot post" if isinstance(error, MediaError) else
                 "Stopped" if error.exit_code == ExitCode.INTERRUPTED else "Error")
        click.echo(f"{label}: {error}", err=True)
        return int(error.exit_code)
    except click.exceptions.Exit as exit_:
        return exit_.exit_code
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.exceptions.Abort:
        click.echo("Stopped.", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("\nStopped.", err=True)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not an error worth a message.
        sys.stderr.close()
        return 0
    except Exception as error:  # a bug: one line, and the way to see the details
        if os.environ.get("THREADBOT_DEBUG"):
            raise
        click.echo(
            f"Unexpected error: {type(error).__name__}: {error}\n"
            "This is a bug in threadbot. Run again with THREADBOT_DEBUG=1 to see the "
            "details, and please report them.",
            err=True,
        )
        return int(ExitCode.UNEXPECTED)
    return 0


def run() -> None:
    sys.exit(main())
