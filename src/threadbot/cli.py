"""The command line: a thin layer over the library.

Each command parses its options, calls one library function and prints the
result. Errors are turned into messages and exit codes in one place, ``main``.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import sys

import click

from . import __version__
from .config import PACKING_ALIASES, PACKINGS, load_config
from .counting import PLATFORMS
from .errors import (
    ExitCode,
    MediaError,
    NoTerminalError,
    NotFoundError,
    ThreadbotError,
    UsageError,
    WrongStateError,
)
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


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(])")


def _summary(help_text: str) -> str:
    """A command's one-line summary for ``threadbot --help``: the first sentence of its
    help, whole (click would cut the first line at a fixed width, mid-sentence)."""
    paragraph = " ".join(inspect.cleandoc(help_text).split("\n\n")[0].split())
    return _SENTENCE_END.split(paragraph, maxsplit=1)[0]


class _Command(click.Command):
    def get_short_help_str(self, limit: int = 45) -> str:
        if self.short_help or not self.help:
            return super().get_short_help_str(limit)
        return _summary(self.help)


class _Group(click.Group):
    command_class = _Command
    group_class = type  # groups below are _Group too

    def get_short_help_str(self, limit: int = 45) -> str:
        if self.short_help or not self.help:
            return super().get_short_help_str(limit)
        return _summary(self.help)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="threadbot")
@click.option("--config", "config_path", metavar="PATH", envvar=None,
              help="Config file (else $THREADBOT_CONFIG, else config/threadbot.yaml "
                   "here or in the nearest folder above, else defaults).")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """threadbot: turn long-form drafts into threads.

    Write a draft in drafts/, preview it with `threadbot preview DRAFT`. Run from
    anywhere in a writer's folder; `threadbot where` shows the config, record and
    keys in use.
    """
    ctx.obj = {"config_path": config_path}


class _ThreadId(click.ParamType):
    """A thread id: a whole number. One beyond what SQLite can store is no thread there."""

    name = "integer"

    def convert(self, value, param, ctx):
        number = click.INT.convert(value, param, ctx)
        if not -2**63 <= number < 2**63:
            raise NotFoundError(f"there is no thread {number}. `threadbot list` shows the "
                                "threads there are.")
        return number


_THREAD_ID = _ThreadId()


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
             account: tuple[str, ...] = (), again: bool = False,
             dry_run_of_post: bool = False, **split) -> None:
    from . import posting

    config = load_config(ctx.obj["config_path"])
    threads = posting.preview_threads(config, draft, accounts=list(account), platform=platform,
                                      again=again, **_overrides(split))
    if dry_run_of_post:
        posting.warn_reposting(config, threads, again=again)
    _show_threads(config, threads, as_json=as_json, dry_run=True)
    for thread in threads:
        thread.check()


@cli.command("preview")
@click.argument("drafts", metavar="DRAFT...", nargs=-1, required=True)
@click.option("--account", **_ACCOUNT_OPTION)
@_split_options()
@click.pass_context
def preview_command(ctx: click.Context, drafts: tuple[str, ...], **options) -> None:
    """Show the thread each DRAFT would become.

    Nothing is posted. DRAFT is a text or Markdown file, or - to read standard input. Every post is
    shown with its length against the limit, its images and alt text, every
    warning, and the cost on X's pay-per-use API. With several accounts, each
    account's thread is shown, split and counted for its platform and server.
    With several drafts, each is shown in turn, and the problems of all of them
    are told at the end.
    """
    if len(drafts) == 1:
        _dry_run(ctx, drafts[0], **options)
        return
    _preview_several(ctx, drafts, **options)


def _preview_several(ctx: click.Context, drafts: tuple[str, ...], platform, as_json: bool,
                     account: tuple[str, ...] = (), **split) -> None:
    """Several drafts: each one's preview, then one error for all their problems.
    With --json, one JSON list (one entry per draft, as `preview DRAFT --json`
    prints it), or nothing on stdout when a draft cannot be read."""
    from . import posting

    config = load_config(ctx.obj["config_path"])
    problems: list[ThreadbotError] = []
    composed = []
    for index, draft in enumerate(drafts):
        try:
            threads = posting.preview_threads(config, draft, accounts=list(account),
                                              platform=platform, **_overrides(split))
        except ThreadbotError as error:
            if as_json:
                raise
            problems.append(error)
            click.echo(("\n" if index else "") + _draft_rule(draft))
            click.echo(f"  x {error}")
            continue
        composed.append(threads)
        if not as_json:
            click.echo(("\n" if index else "") + _draft_rule(draft))
            _show_threads(config, threads, as_json=False, dry_run=True)
        for thread in threads:
            try:
                thread.check()
            except ThreadbotError as error:
                error.message = f"{draft}: {error.message}"
                problems.append(error)
    if as_json:
        rows = [threads[0].to_dict() if len(threads) == 1 else [t.to_dict() for t in threads]
                for threads in composed]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    if problems:
        first = problems[0]
        if len(problems) == 1:
            raise first
        codes = {int(p.exit_code) for p in problems}
        error = ThreadbotError(
            f"{len(problems)} of the {len(drafts)} drafts have problems to fix before "
            f"posting; the first: {first}")
        error.exit_code = ExitCode(codes.pop()) if len(codes) == 1 else first.exit_code
        raise error


def _draft_rule(draft: str) -> str:
    rule = f"━━ {draft} "
    return rule + "━" * max(0, 72 - len(rule))


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
        _dry_run(ctx, draft, account=account, again=again, dry_run_of_post=True, **options)
        return
    from . import posting

    config = load_config(ctx.obj["config_path"])
    _note_open_dotenv(config)
    as_json = options.pop("as_json")
    platform = options.pop("platform")
    plans = posting.prepare(config, draft, accounts=list(account), platform=platform,
                            again=again, **_overrides(options))
    fresh = [plan for plan in plans if plan.resume is None]
    # With --json, stdout holds the one JSON object only: sentences go to stderr.
    for plan in plans:
        earlier = plan.resume
        if earlier is None:
            continue
        if earlier.status.value == "queued":
            from .store import now_utc
            from .when import describe

            due = (f" for {describe(earlier.scheduled_at, tz=config.zone(), now=now_utc())}"
                   if earlier.scheduled_at else "")
            click.echo(f"This draft is queued for account '{plan.account.name}' as thread "
                       f"{earlier.id}{due}: posting it now posts that thread, as the draft "
                       "is now, instead of at its time.", err=True)
        else:
            click.echo(f"This draft was started before for account '{plan.account.name}' as "
                       f"thread {earlier.id} ({earlier.posted_count} of "
                       f"{len(earlier.posts)} posts are up).", err=True)
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
        click.echo("Nothing was posted.", err=as_json)
        return
    # Each new thread is claimed as it is recorded: a run started at the same moment
    # gets "busy" (or "already posted") instead of posting the draft a second time.
    ids = posting.record_plans(config, plans, again=again)
    _publish(config, ids, as_json, posted_ok=False)


def _platform_title(account) -> str:
    from .platforms import spec

    return spec(account.platform).title


def _confirm(question: str, yes: bool, *, verb: str = "post") -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        raise NoTerminalError(f"there is no terminal to ask for confirmation, so nothing was "
                              f"done. Add --yes to {verb} without being asked.")
    return click.confirm(question, default=False, err=True)


class _SomeFailed(ThreadbotError):
    """Some accounts' threads did not all go up (each is resumable on its own)."""


def _publish(config, thread_ids: int | list[int], as_json: bool, *,
             posted_ok: bool = True) -> None:
    from . import posting

    def show(event) -> None:
        if event.kind == "retry":  # progress: on stderr, so --json output stays whole
            where = f"[{event.position}/{event.total}] " if event.position else ""
            click.echo(f"{where}{event.message}", err=True)
            return
        if as_json:
            return
        if event.kind == "warning":
            click.echo(f"[{event.position}/{event.total}] note: {event.message}")
            return
        where = f"  {event.url or event.remote_id}" if event.remote_id else ""
        click.echo(f"[{event.position}/{event.total}] {event.message}{where}")

    if isinstance(thread_ids, int):  # one thread: its own error is the outcome
        thread = posting.publish_thread(config, thread_ids, on_event=show,
                                        posted_ok=posted_ok)
        if as_json:
            click.echo(json.dumps(posting.thread_summary(thread), ensure_ascii=False,
                                  indent=2))
        else:
            click.echo(f"Thread {thread.id} is up: {thread.url}")
        return
    if len(thread_ids) == 1:
        _publish(config, thread_ids[0], as_json, posted_ok=posted_ok)
        return
    def start(thread_id: int, account: str) -> None:
        if not as_json:
            click.echo(f"\nThread {thread_id}, account '{account}':")

    outcomes = posting.publish_threads(config, thread_ids, on_event=show, on_start=start,
                                       posted_ok=posted_ok)
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
    against a fake server of the account's platform (X, Mastodon or Bluesky) started
    on 127.0.0.1 for the occasion, whose address is shown; the thread's links point
    at that fake, never at the platform. Needs no credentials; nothing leaves the
    machine.
    """
    from . import posting

    config = load_config(ctx.obj["config_path"])
    as_json = options.pop("as_json")
    overrides = _overrides(options)

    from .platforms import spec

    def started(name: str, platform: str, base_url: str) -> None:
        if not as_json:
            click.echo(f"Rehearsing '{name}' on a fake {spec(platform).title} server at "
                       f"{base_url}, started on this machine for the rehearsal; nothing is "
                       f"sent to {spec(platform).title}.")

    def show(event) -> None:
        if not as_json:
            click.echo(f"[{event.position}/{event.total}] {event.message} to the fake server "
                       f"(id {event.remote_id})")

    results = posting.rehearse(config, draft, accounts=list(account), on_event=show,
                               on_server=started, **overrides)
    if as_json:
        rows = []
        for result in results:
            title = spec(result.platform).title
            data = posting.thread_summary(result.thread)
            data["chain_ok"] = result.chain_ok
            data["rehearsal_server"] = result.server
            data["note"] = (f"a rehearsal: the links point at a fake {title} server at "
                            f"{result.server}, which stopped when the rehearsal ended; they "
                            f"are not on {title}, and nothing was sent to {title}")
            rows.append(data)
        click.echo(json.dumps(rows[0] if len(rows) == 1 else rows, ensure_ascii=False,
                              indent=2))
    else:
        for result in results:
            title = spec(result.platform).title
            images = f", {len(result.media)} image(s) with alt text" if result.media else ""
            verdict = ("one connected chain" if result.chain_ok
                       else "NOT a connected chain (a bug)")
            count = len(result.thread.posts)
            click.echo(f"Rehearsal done for '{result.account}': {count} "
                       f"post{'s' if count != 1 else ''}{images}, posted to the fake "
                       f"{title} server at {result.server} as {verdict}.")
            if result.thread.url:
                click.echo(f"  Its link, {result.thread.url}, is on that fake server, NOT on "
                           f"{title} (and gone now that the rehearsal is over).")
            click.echo(f"  Nothing was sent to {title}.")
    if not all(result.chain_ok for result in results):
        raise ThreadbotError("the rehearsal did not produce a connected chain. Please report "
                             "this with the draft.")


@cli.command("resume")
@click.argument("thread_id", type=_THREAD_ID, metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the thread as JSON at the end.")
@click.pass_context
def resume_command(ctx: click.Context, thread_id: int, as_json: bool) -> None:
    """Finish thread ID, broken off part-way, from its first post not yet up.

    A post whose request was sent but never answered is looked for on the platform first,
    so that nothing is posted twice.
    """
    config = load_config(ctx.obj["config_path"])
    _refuse_unstarted(config, thread_id)
    _publish(config, thread_id, as_json)


def _refuse_unstarted(config, thread_id: int) -> None:
    """`resume` finishes what was started: a queued or cancelled thread of which
    nothing is up (or sent) is the daemon's to post at its time, from the draft as it
    is then, and is never posted at once by a word meant for broken-off threads."""
    from . import posting
    from .store import PostStatus, now_utc
    from .when import describe

    thread = posting.get_thread(config, thread_id)
    if thread.status.value not in ("queued", "cancelled") or any(
            p.status is not PostStatus.PENDING or p.remote_id for p in thread.posts):
        return
    due = (f" for {describe(thread.scheduled_at, tz=config.zone(), now=now_utc())}"
           if thread.scheduled_at else "")
    draft = ("" if thread.draft_path.startswith("<") else
             f" `threadbot post {_relative(thread.draft_path)}` posts it now, after asking.")
    if thread.status.value == "queued":
        raise WrongStateError(
            f"thread {thread_id} is queued{due}, and nothing of it is up yet, so there is "
            "nothing to resume: the daemon posts it at its time, from the draft as it is "
            f"then (`threadbot daemon`).{draft}")
    raise WrongStateError(
        f"thread {thread_id} is cancelled and nothing of it is up, so there is nothing to "
        f"resume. `threadbot retry {thread_id}` queues it again for the time it had (if "
        "still ahead); "
        f"`threadbot reschedule {thread_id} --at WHEN` for another.")


@cli.command("delete")
@click.argument("thread_id", type=_THREAD_ID, metavar="ID")
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
        raise WrongStateError(f"thread {thread_id} is queued, not posted: nothing to delete. "
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


@cli.command("list", short_help="List the recorded threads, newest first, with status, time "
             "and URL.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """List the recorded threads, newest first: status (queued, posting, partial,
    posted, failed, missed, cancelled, deleting, deleted), time and URL."""
    from . import posting
    from .schedule import draft_change
    from .store import now_utc

    config = load_config(ctx.obj["config_path"])
    threads = posting.list_threads(config)
    if as_json:
        rows = []
        for t in threads:
            row = posting.thread_summary(t, posts=False)
            change = draft_change(config, t)
            row["draft_changed"] = change is not None
            row["draft_change"] = change
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
    from .preview import shown

    for t in threads:
        title = shown(t.title or config.shown_path(t.draft_path))
        # The time it is due (a cancelled one: the time it had, which `retry` brings it
        # back for), or the time it was last touched (e.g. posted).
        moment = (t.scheduled_at if t.status.value in ("queued", "missed", "cancelled")
                  and t.scheduled_at else t.updated_at)
        when = moment.astimezone(zone).strftime("%a %d %b %H:%M %Z") if moment else ""
        posts = f"{t.posted_count}/{len(t.posts)}"
        click.echo(f"{t.id:>4}  {t.status.value:<9} {posts:>7} {t.account:<{width}} {when:<20} "
                   f"{title}  {t.url or ''}".rstrip())
        change = draft_change(config, t)
        if change:
            click.echo(f"        ! {change}")
        if t.note:
            click.echo(f"        {t.note}")
        elif t.last_error and t.status.value in ("failed", "partial", "missed"):
            click.echo(f"        {t.last_error}")
        elif (t.status.value == "cancelled" and t.posted_count == 0 and t.scheduled_at
              and t.scheduled_at > now_utc()):
            click.echo(f"        `threadbot retry {t.id}` brings it back for its time; "
                       f"`threadbot reschedule {t.id} --at WHEN` for another.")


@cli.command("show")
@click.argument("thread_id", type=_THREAD_ID, metavar="ID")
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
    from .preview import shown

    click.echo(f"Thread {thread.id}: "
               f"{shown(thread.title or config.shown_path(thread.draft_path))}")
    who = f" ({thread.handle})" if thread.handle else ""
    click.echo(f"  status {thread.status.value}, account {thread.account}{who} on "
               f"{thread.platform}, {thread.posted_count} of {len(thread.posts)} posts up")
    if thread.url:
        click.echo(f"  {thread.url}")
    shown_note = _show_queue_state(config, thread)
    # The note of a failed thread already holds its error: not said twice.
    if thread.last_error and thread.last_error not in (shown_note or ""):
        click.echo(f"  last error: {shown(thread.last_error)}")
    for post in thread.posts:
        extra = f" id {post.remote_id}" if post.remote_id else ""
        attempts = f"{post.attempts} attempt{'s' if post.attempts != 1 else ''}"
        extra += f"{',' if extra else ''} {attempts}"
        # A post found already up (this record never sent it) is not "posted" by us.
        status = "found (was already up; not sent by threadbot)" if post.found \
            else post.status.value
        click.echo(f"\n  [{post.position}] {status}{extra}")
        if post.remote_url:
            click.echo(f"      {post.remote_url}")
        if post.last_error and post.status.value != "posted":
            click.echo(f"      last error: {shown(post.last_error)}")
        for line in shown(post.text).splitlines():
            click.echo(f"      {line}")
        for media in post.media:
            click.echo(f"      [image] {shown(_relative(media['path']))} "
                       f"(alt: {shown(media.get('alt') or 'none')})")


def _show_queue_state(config, thread) -> str | None:
    """For a thread with a time: when (local and UTC), the draft's changes since it
    was queued, why it waits, and the same draft's threads for other accounts.
    Returns the thread's note when it was shown."""
    from .preview import shown
    from .schedule import draft_change, siblings
    from .store import now_utc
    from .when import describe

    if thread.scheduled_at is None or thread.status.value in ("posted", "deleted", "deleting"):
        return None
    due = describe(thread.scheduled_at, tz=config.zone(), now=now_utc())
    label = {"queued": "queued for", "cancelled": "was queued for", "missed": "was due",
             "failed": "was due", "partial": "was due"}.get(thread.status.value, "time")
    click.echo(f"  {label} {due}")
    if not thread.draft_path.startswith("<"):
        click.echo(f"  draft {_relative(thread.draft_path)}")
    change = draft_change(config, thread)
    if change:
        click.echo(f"  ! {change}")
        click.echo(f"  The posts below are as queued; `threadbot preview "
                   f"{_relative(thread.draft_path)}` shows them as the draft is now.")
    if thread.note:
        click.echo(f"  {shown(thread.note)}")
    for other in siblings(config, thread):
        click.echo(f"  also queued for account '{other.account}' as thread {other.id}")
    return thread.note


@cli.command("queue")
@click.argument("draft", metavar="DRAFT")
@click.option("--at", "at", metavar="WHEN", help="When to post: 2026-12-01 09:00 (in the "
              "configured timezone), an ISO 8601 time, 'tomorrow 09:00', 'next friday 9am', "
              "'1 dec 09:00', noon, +2h, +30m. Default: the time it already has if queued, "
              "else the draft's 'at', else the account's next free slot.")
@click.option("--account", **_ACCOUNT_OPTION)
@click.option("--now", "now", is_flag=True, help="Queue it for right away.")
@click.option("--again", is_flag=True, help="Queue a draft that was already posted, anew.")
@_split_options(platform=False)
@click.pass_context
def queue_command(ctx: click.Context, draft: str, at: str | None, account: tuple[str, ...],
                  now: bool, again: bool, **options) -> None:
    """Queue DRAFT for the daemon to post at its time.

    The draft is split and checked now (lengths, images, each account and its keys,
    the time), and again by the daemon at its time: what is posted is the draft as
    it is then. With several accounts each gets its own queued thread. Queueing
    the same draft again updates its entry and keeps its time, unless --at is given.
    """
    from .schedule import queue_draft

    config = load_config(ctx.obj["config_path"])
    _note_open_dotenv(config)
    as_json = options.pop("as_json")
    overrides = _overrides(options)
    results = queue_draft(config, draft, at=at, accounts=list(account), now=now, again=again,
                          **overrides)
    if as_json:
        from . import posting

        rows = [{**posting.thread_summary(queued.thread), "warnings": list(queued.warnings)}
                for queued in results]
        click.echo(json.dumps(rows[0] if len(rows) == 1 else rows, ensure_ascii=False,
                              indent=2))
        return
    for queued in results:
        thread = queued.thread
        verb = "Updated queued" if queued.updated else "Queued"
        count = len(thread.posts)
        kept = (f" (the time it had; `threadbot reschedule {thread.id} --at WHEN` or --at "
                "moves it)" if queued.kept_time else "")
        click.echo(f"{verb} thread {thread.id} ({count} post{'s' if count > 1 else ''}, "
                   f"account '{thread.account}') for {queued.when}{kept}.")
        for warning in queued.warnings:
            click.echo(f"  ! {warning}")
    click.echo("Edits to the draft until then are posted: the daemon reads it again at its "
               "time (`threadbot list` shows what changed).")
    click.echo(f"The daemon posts {'them' if len(results) > 1 else 'it'} then: run `threadbot "
               "daemon` (or `threadbot daemon --once` from cron).")


@cli.command("new")
@click.argument("title", metavar="TITLE")
@click.option("--no-edit", is_flag=True, help="Do not open an editor, even in a terminal.")
@click.pass_context
def new_command(ctx: click.Context, title: str, no_edit: bool) -> None:
    """Start a new draft in drafts/.

    Creates drafts/<title as a name>.md with TITLE in its front matter. Never
    overwrites a file (a number is added to the name instead). In a terminal,
    opens the draft in $VISUAL or $EDITOR.
    """
    from .posting import new_draft

    path = new_draft(load_config(ctx.obj["config_path"]), title)
    shown = _relative(str(path))
    click.echo(f"Created {shown}.")
    if not no_edit and _terminal():
        _open_editor(str(path), shown)
    click.echo(f"Next: write in it, then `threadbot preview {shown}`.")


@cli.command("edit")
@click.argument("thread_id", type=int, metavar="ID")
@click.pass_context
def edit_command(ctx: click.Context, thread_id: int) -> None:
    """Open queued thread ID's draft in $VISUAL or $EDITOR.

    The daemon posts the draft as it is at the thread's time, so the edit is what
    goes out; afterwards this says what changed (e.g. 7 posts, was 6).
    """
    from . import posting
    from .schedule import draft_change

    config = load_config(ctx.obj["config_path"])
    thread = posting.get_thread(config, thread_id)
    if thread.draft_path.startswith("<"):
        raise WrongStateError(f"thread {thread_id} was read from standard input: there is no draft "
                               f"file to edit. `threadbot show {thread_id}` shows its posts.")
    from .store import PostStatus

    shown = _relative(thread.draft_path)
    queued = thread.status.value == "queued"
    started = any(p.status is not PostStatus.PENDING or p.remote_id for p in thread.posts)
    if started:
        click.echo(f"Note: thread {thread_id} is {thread.status.value}, with posts up: editing "
                   "its draft changes nothing already recorded or posted.")
    elif not queued:
        # Brought back, it is posted from the draft as it is then: the edit counts.
        click.echo(f"Note: thread {thread_id} is {thread.status.value}: what you write goes "
                   f"out if you bring it back (`threadbot retry {thread_id}`).")
    if not _terminal():
        click.echo(f"Thread {thread_id}'s draft is {shown} (no terminal here to open an "
                   "editor in: edit that file).")
        return
    if not _open_editor(thread.draft_path, shown) or not queued:
        return
    change = draft_change(config, posting.get_thread(config, thread_id))
    click.echo(f"Thread {thread_id}: {change}" if change else
               f"Thread {thread_id}: {shown} is as it was queued.")


def _open_editor(path: str, shown: str) -> bool:
    """Open ``path`` in $VISUAL or $EDITOR; False, with a note on stderr saying what to
    do, when the editor cannot be started or gives up. The draft is there either way,
    so that is no failure of the command."""
    try:
        click.edit(filename=path)
    except click.ClickException as error:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "the default editor"
        click.echo(f"Note: could not open {shown} in {editor} ({error.format_message()}). "
                   "Set $VISUAL or $EDITOR to an editor you have (e.g. `export EDITOR=nano`), "
                   f"or open {shown} yourself.", err=True)
        return False
    return True


def _terminal() -> bool:
    """Whether a person is at a terminal (an editor can be opened)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


@cli.command("slots")
@click.option("--account", metavar="NAME", help="The account (default: the default one).")
@click.option("--count", default=5, show_default=True, type=click.IntRange(1, 1000),
              help="How many slots to show (1 to 1000).")
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
@click.argument("thread_id", type=_THREAD_ID, metavar="ID")
@click.pass_context
def cancel_command(ctx: click.Context, thread_id: int) -> None:
    """Cancel queued thread ID.

    It stays in the list, marked cancelled, with its time: `threadbot reschedule ID
    --at WHEN` queues it again for a new time, `threadbot retry ID` for the time it
    had (if still ahead).
    """
    from .schedule import cancel
    from .store import now_utc
    from .when import describe

    config = load_config(ctx.obj["config_path"])
    thread = cancel(config, thread_id)
    again = f"`threadbot reschedule {thread.id} --at WHEN` queues it again for a new time"
    if thread.scheduled_at is not None and thread.scheduled_at > now_utc():
        due = describe(thread.scheduled_at, tz=config.zone(), now=now_utc())
        again += (f"; `threadbot queue {_relative(thread.draft_path)}` puts it back for the "
                  f"time it had ({due})" if not thread.draft_path.startswith("<") else "")
    click.echo(f"Cancelled thread {thread.id}: it stays in `threadbot list`, marked "
               f"cancelled, and nothing of it is posted. {again}.")


@cli.command("reschedule")
@click.argument("thread_id", type=_THREAD_ID, metavar="ID")
@click.option("--at", "at", metavar="WHEN", required=True, help="The new time (as for queue).")
@click.pass_context
def reschedule_command(ctx: click.Context, thread_id: int, at: str) -> None:
    """Move thread ID to another time."""
    from .schedule import reschedule

    config = load_config(ctx.obj["config_path"])
    thread, when = reschedule(config, thread_id, at)
    click.echo(f"Thread {thread.id} is now queued for {when}.")
    _say_draft_change(config, thread)


def _say_draft_change(config, thread) -> None:
    """A thread just queued again: what its draft's changes since do, or what would
    now make it fail at its time (a draft gone, an image missing)."""
    from .schedule import draft_change

    change = draft_change(config, thread)
    if change:
        click.echo(f"  ! {change}")


@cli.command("retry")
@click.argument("thread_id", type=_THREAD_ID, metavar="ID")
@click.option("--now", "now", is_flag=True, help="A cancelled thread: post it now rather "
              "than at the time it had.")
@click.pass_context
def retry_command(ctx: click.Context, thread_id: int, now: bool) -> None:
    """Queue a failed, missed or partial thread again.

    It is queued for right away. A cancelled thread comes back for the time it had,
    if still ahead (--now posts it at once; `threadbot reschedule ID --at WHEN`
    gives it another time).
    """
    from .schedule import retry

    config = load_config(ctx.obj["config_path"])
    thread, kept = retry(config, thread_id, now=now)
    if kept is not None:
        click.echo(f"Thread {thread.id} is queued again for {kept}, the time it had. "
                   f"`threadbot reschedule {thread.id} --at WHEN` gives it another.")
        _say_draft_change(config, thread)
        return
    click.echo(f"Thread {thread.id} is queued again, for now: the daemon will post it "
               "(from where it stopped, if some posts are up).")


@cli.command("forget")
@click.argument("thread_id", type=int, metavar="ID")
@click.pass_context
def forget_command(ctx: click.Context, thread_id: int) -> None:
    """Remove thread ID, of which nothing was posted, from the list.

    For a thread that failed (e.g. X refused it as a duplicate), was missed or
    cancelled before any post went up. A thread with posts up is kept: `threadbot
    delete ID` takes them down.
    """
    from .schedule import forget

    thread = forget(load_config(ctx.obj["config_path"]), thread_id)
    click.echo(f"Forgot thread {thread.id} ({thread.status.value}, nothing of it was posted); "
               "the draft itself is untouched.")


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
    from .accounts import dotenv_warning

    warning = dotenv_warning(config)
    if warning:
        logger.warning(warning)
    try:
        daemon = Daemon(config, once=once, standby=standby)
        daemon.install_signal_handlers()
        daemon.run()
    finally:
        # Run again in the same process (the library API, tests), the daemon must not
        # log once per earlier run, nor to a stream or file closed since.
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()


def _note_open_dotenv(config) -> None:
    """On stderr (stdout may be --json): the .env holding keys can be read by others."""
    from .accounts import dotenv_warning

    warning = dotenv_warning(config)
    if warning:
        click.echo(f"Note: {warning}", err=True)


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
    from .accounts import dotenv_path, dotenv_warning, ignored_dotenv

    warning = dotenv_warning(config)
    if warning:
        click.echo(f"Note: {warning}", err=True)
    ignored = ignored_dotenv(config)
    if ignored is not None:
        click.echo(f"Note: {ignored} is not read; keys go in {dotenv_path(config)} or the "
                   "environment. Move its lines there.", err=True)


@accounts_group.command("check", short_help="Sign in as an account, print its @handle and "
                        "read its server's limits.")
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


@accounts_group.command("login", short_help="Sign in on an account's server and keep its "
                        "token in .env.")
@click.argument("name", metavar="NAME")
@click.pass_context
def accounts_login(ctx: click.Context, name: str) -> None:
    """Get account NAME's access token by signing in on its server (Mastodon),
    and keep it in the .env beside the config (mode 0600; never printed)."""
    from . import posting

    config = load_config(ctx.find_root().obj["config_path"])

    def ask(prompt: str, hidden: bool = False) -> str:
        # An empty answer is allowed: it takes the default the prompt shows, if any.
        try:
            answer = click.prompt(prompt, err=True, hide_input=hidden, default="",
                                  show_default=False).strip()
        except click.exceptions.Abort:
            if sys.stdin.isatty():
                raise  # Ctrl-C or Ctrl-D at the prompt: the writer stopped it
            # Piped answers ran out: not an interruption, a missing terminal.
            raise NoTerminalError(f"`threadbot accounts login {name}` asks questions, and "
                                  "there is no terminal to answer them (standard input "
                                  "ended). Run it in a terminal.") from None
        if _undecodable(answer):  # bytes the terminal sent that are not UTF-8
            raise UsageError(f"what you typed for '{prompt}' is not valid UTF-8 text. Check "
                             "the terminal's encoding, then run this again; nothing was "
                             "saved.")
        return answer

    result = posting.login(config, name, ask=ask, say=lambda text: click.echo(text, err=True))
    click.echo(f"Saved the access token of '{name}' in {result.path} (readable only by you). "
               f"Signed in as {result.identity.shown}.")
    if result.limits is not None:
        click.echo(f"Its server takes posts of up to {result.limits.max_characters} "
                   "characters; previews for this account count with that.")
    for note in result.notes:
        click.echo(f"Note: {note}")
    click.echo(f"Next: `threadbot preview DRAFT --account {name}`.")


@cli.command("where", short_help="Show the folder, config, record, keys and daemon in use.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (schema in the "
              "README).")
@click.pass_context
def where_command(ctx: click.Context, as_json: bool) -> None:
    """Show what threadbot uses from here: the writer's folder, the config file and
    why it was chosen, the database (the record), each .env file and whether it is
    read, the accounts (never their keys) and whether the daemon runs. Creates no
    file."""
    from .location import ago, locate

    config = load_config(ctx.obj["config_path"])
    found = locate(config)
    if as_json:
        click.echo(json.dumps(found.to_dict(), ensure_ascii=False, indent=2))
        return
    zone = config.zone()
    if found.config_path is not None:
        click.echo(f"Writer's folder: {found.writer_folder}")
    else:
        click.echo(f"Folder:    {found.writer_folder} (no writer's folder found; this one "
                   "is used)")
    if found.config_path is not None:
        click.echo(f"Config:    {found.config_path}\n           ({found.config_why})")
    else:
        click.echo(f"Config:    none ({found.config_why.removeprefix('none found: ')}). "
                   "`threadbot init` lays out a writer's folder.")
    if found.database_exists:
        count = found.threads
        state = f"{count} thread{'s' if count != 1 else ''} recorded"
    else:
        state = "not created yet: the first post or queue creates it"
    click.echo(f"Database:  {found.database}\n           ({found.database_why}; {state})")
    for env in found.env_files:
        if env.read:
            there = "" if env.exists else " (no such file yet)"
            click.echo(f"Keys from: {env.path}{there} and the environment")
        elif env.exists:
            click.echo(f"Ignored:   {env.path}\n           ({env.why}; move its lines there)")
    click.echo("Accounts:")
    from .platforms import shown_url, spec

    rows = [(f"{a.name}{' (default)' if a.default else ''}", spec(a.platform).title,
             shown_url(a.api_base_url),
             "keys set" if not a.missing else f"missing {', '.join(a.missing)}")
            for a in found.accounts]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        click.echo("  " + "  ".join(f"{cell:<{width}}" for cell, width in zip(
            row, widths, strict=False)) + f"  {row[3]}")
    record = found.daemon
    if found.daemon_running and record is not None:
        since = record.started_at.astimezone(zone).strftime("%a %d %b %H:%M %Z")
        click.echo(f"Daemon:    running, pid {record.pid} on {record.host}, since {since} "
                   f"(last sign of life {ago(record.heartbeat_at)} ago)")
    elif record is not None:
        click.echo(f"Daemon:    not running (pid {record.pid} on {record.host} stopped without "
                   f"signing off, last seen {ago(record.heartbeat_at)} ago). `threadbot "
                   "daemon` starts one.")
    else:
        click.echo("Daemon:    not running. `threadbot daemon` starts one (queued threads "
                   "wait until then).")


@cli.command("init")
@click.argument("directory", default=".", metavar="[DIR]")
@click.option("--inside", is_flag=True, help="Lay it out even inside another writer's "
              "folder (which threadbot run in the new one then no longer sees).")
def init_command(directory: str, inside: bool) -> None:
    """Lay out a writer's folder in DIR (default: here).

    Creates config/threadbot.yaml with comments, drafts/ with an example draft, and
    a .gitignore for local state; keeps files already there. Refuses a DIR inside
    another writer's folder (say, its drafts/) unless --inside."""
    created, kept = init_folder(directory, inside=inside)
    for path in created:
        click.echo(f"created  {path}")
    for path in kept:
        click.echo(f"kept     {path} (already there)")
    where = "" if os.path.abspath(directory) == os.getcwd() else f"cd {directory} && "
    click.echo(f"\nNext: edit drafts/example.md, then run `{where}threadbot preview "
               "drafts/example.md` (threadbot finds config/threadbot.yaml from inside the "
               "folder).")


def _undecodable(text: str) -> bool:
    """Does ``text`` hold a lone surrogate: bytes that were not UTF-8, kept by Python?"""
    return any("\ud800" <= c <= "\udfff" for c in text)


def _refuse_undecodable(args: list[str]) -> None:
    """Refuse an argument that is not UTF-8 text (Python keeps undecodable bytes as lone
    surrogates): it would reach a post, the database or the JSON output as garbage."""
    for arg in args:
        if _undecodable(arg):
            try:
                shown = str(os.fsencode(arg))[2:-1]  # the bytes as they were typed
            except UnicodeError:
                shown = arg.encode("utf-8", "backslashreplace").decode("utf-8")
            raise UsageError(f"the argument '{shown}' is not valid UTF-8 text. Type it again "
                             "in UTF-8 (for a file name, rename the file to a UTF-8 name).")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error becomes a message on stderr and an exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        _refuse_undecodable(args)
        cli.main(args=args, prog_name="threadbot", standalone_mode=False)
    except ThreadbotError as error:
        label = ("Cannot post" if isinstance(error, MediaError) else
                 "Stopped" if error.exit_code == ExitCode.INTERRUPTED else "Error")
        from .preview import shown  # a message may quote the draft: never run by the terminal

        click.echo(f"{label}: {shown(str(error))}", err=True)
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


def _json_escape(error: UnicodeError) -> tuple[str, int]:
    """Write what the output's encoding cannot hold as JSON escapes (\\u2192, and a pair
    for characters beyond U+FFFF): readable text, and still valid --json output."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    escaped = []
    for char in error.object[error.start:error.end]:
        data = char.encode("utf-16-be", "surrogatepass")
        escaped += [f"\\u{int.from_bytes(data[i:i + 2], 'big'):04x}"
                    for i in range(0, len(data), 2)]
    return "".join(escaped), error.end


def run() -> None:
    # A terminal or cron job whose encoding cannot show a character (PYTHONIOENCODING=
    # latin-1, an old system's locale) gets escapes, never a crash half-way through.
    import codecs

    codecs.register_error("threadbot-json-escape", _json_escape)
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="threadbot-json-escape")
    sys.exit(main())
