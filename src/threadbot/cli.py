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
from .config import load_config
from .counting import PLATFORMS
from .errors import ExitCode, MediaError, ThreadbotError, UsageError
from .scaffold import init_folder
from .thread import compose


def _split_options(command):
    """Options shared by every command that splits a draft."""
    options = [
        click.option("--platform", type=click.Choice(PLATFORMS),
                     help="Count and split for this platform (default: the draft's or "
                          "the config's, else x)."),
        click.option("--packing", type=click.Choice(["natural", "compact"]),
                     help="natural: break at sentence ends; compact: fewest posts."),
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
    for option in reversed(options):
        command = option(command)
    return command


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


def _dry_run(ctx: click.Context, draft: str, platform, as_json: bool, **split) -> None:
    config = load_config(ctx.obj["config_path"])
    overrides = {("break" if k == "break_mode" else k): v for k, v in split.items()
                 if v is not None}
    thread = compose(draft, config=config, platform=platform, **overrides)
    out = sys.stdout
    from . import preview

    if as_json:
        preview.render_json(thread, out)
    else:
        cost = preview.cost_line(thread, config.pricing.post, config.pricing.post_with_url)
        if out.isatty():
            from rich.console import Console

            preview.render_rich(thread, Console(), cost=cost)
        else:
            preview.render_plain(thread, out, cost=cost)
    thread.check()


@cli.command("preview")
@click.argument("draft", metavar="DRAFT")
@_split_options
@click.pass_context
def preview_command(ctx: click.Context, draft: str, **options) -> None:
    """Show the thread DRAFT would become, without posting anything.

    DRAFT is a text or Markdown file, or - to read standard input. Every post is
    shown with its length against the limit, its images and alt text, every
    warning, and the cost on X's pay-per-use API.
    """
    _dry_run(ctx, draft, **options)


@cli.command("post")
@click.argument("draft", metavar="DRAFT")
@click.option("--account", metavar="NAME", help="Post as this account (default: the draft's "
              "'account', else the config's default).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (required "
              "without a terminal).")
@click.option("--again", is_flag=True, help="Post a draft that was already posted, anew.")
@click.option("--dry-run", is_flag=True, help="Only show what would be posted (as preview).")
@_split_options
@click.pass_context
def post_command(ctx: click.Context, draft: str, account: str | None, yes: bool, again: bool,
                 dry_run: bool, **options) -> None:
    """Post DRAFT to X as a thread, each post a reply to the one before.

    Shows the thread and asks before posting. Every post is recorded as it goes
    up, so a thread broken off half-way can be finished with `threadbot resume`,
    and a draft already posted is not posted twice (unless --again).
    """
    if dry_run:
        _dry_run(ctx, draft, **options)
        return
    from . import posting

    config = load_config(ctx.obj["config_path"])
    as_json = options.pop("as_json")
    platform = options.pop("platform")
    overrides = {("break" if k == "break_mode" else k): v for k, v in options.items()
                 if v is not None}
    plan = posting.prepare(config, draft, account=account, platform=platform,
                           again=again, **overrides)
    out = sys.stdout
    if plan.resume is not None:
        earlier = plan.resume
        click.echo(f"This draft was started before as thread {earlier.id} "
                   f"({earlier.posted_count} of {len(earlier.posts)} posts are up).")
        if not _confirm(f"Finish thread {earlier.id}?", yes):
            click.echo("Nothing was posted.")
            return
        _publish(config, plan.resume.id, as_json)
        return
    from . import preview

    if not as_json:
        cost = preview.cost_line(plan.thread, config.pricing.post, config.pricing.post_with_url)
        if out.isatty():
            from rich.console import Console

            preview.render_rich(plan.thread, Console(), cost=cost, dry_run=False)
        else:
            preview.render_plain(plan.thread, out, cost=cost, dry_run=False)
    count = len(plan.thread.posts)
    if not _confirm(f"Post these {count} post{'s' if count > 1 else ''} to X as account "
                    f"'{plan.account.name}'?", yes):
        click.echo("Nothing was posted.")
        return
    thread_id = posting.record_plan(config, plan)
    _publish(config, thread_id, as_json)


def _confirm(question: str, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError("there is no terminal to ask for confirmation. Add --yes to post "
                         "without being asked.")
    return click.confirm(question, default=False)


def _publish(config, thread_id: int, as_json: bool) -> None:
    from . import posting

    def show(event) -> None:
        if not as_json:
            where = f"  {event.url or event.remote_id}" if event.remote_id else ""
            click.echo(f"[{event.position}/{event.total}] {event.message}{where}")

    thread = posting.publish_thread(config, thread_id, on_event=show)
    if as_json:
        click.echo(json.dumps(posting.thread_summary(thread), ensure_ascii=False, indent=2))
    else:
        click.echo(f"Thread {thread.id} is up: {thread.url}")


@cli.command("rehearse")
@click.argument("draft", metavar="DRAFT")
@_split_options
@click.pass_context
def rehearse_command(ctx: click.Context, draft: str, **options) -> None:
    """Post DRAFT to a fake X on this machine, to rehearse the whole flow.

    Goes through everything `threadbot post` does (tweepy, image upload with
    alt text, replies, the record) against a fake X API server started on
    127.0.0.1 for the occasion. Needs no credentials; nothing leaves the machine.
    """
    from . import posting

    config = load_config(ctx.obj["config_path"])
    as_json = options.pop("as_json")
    options.pop("platform")
    overrides = {("break" if k == "break_mode" else k): v for k, v in options.items()
                 if v is not None}

    def show(event) -> None:
        if not as_json:
            click.echo(f"[{event.position}/{event.total}] {event.message}  {event.url}")

    result = posting.rehearse(config, draft, on_event=show, **overrides)
    if as_json:
        data = posting.thread_summary(result.thread)
        data["chain_ok"] = result.chain_ok
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    images = f", {len(result.media)} image(s) with alt text" if result.media else ""
    verdict = "one connected chain" if result.chain_ok else "NOT a connected chain (a bug)"
    click.echo(f"Rehearsal done: {len(result.thread.posts)} posts{images}, posted to a fake X "
               f"on this machine as {verdict}. Nothing was sent to X.")
    if not result.chain_ok:
        raise ThreadbotError("the rehearsal did not produce a connected chain. Please report "
                             "this with the draft.")


@cli.command("resume")
@click.argument("thread_id", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the thread as JSON at the end.")
@click.pass_context
def resume_command(ctx: click.Context, thread_id: int, as_json: bool) -> None:
    """Finish thread ID, broken off part-way, from its first post not yet up.

    A post whose request was sent but never answered is looked for on X first,
    so that nothing is posted twice.
    """
    config = load_config(ctx.obj["config_path"])
    _publish(config, thread_id, as_json)


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """List the recorded threads, newest first, with status and URL."""
    from . import posting

    config = load_config(ctx.obj["config_path"])
    threads = posting.list_threads(config)
    if as_json:
        click.echo(json.dumps([posting.thread_summary(t, posts=False) for t in threads],
                              ensure_ascii=False, indent=2))
        return
    if not threads:
        click.echo("No threads yet. Post one with `threadbot post DRAFT`.")
        return
    for t in threads:
        title = t.title or t.draft_path
        click.echo(f"{t.id:>4}  {t.status.value:<8} {t.posted_count:>3}/{len(t.posts):<3} "
                   f"{t.account:<10} {title}  {t.url or ''}".rstrip())


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
    click.echo(f"  status {thread.status.value}, account {thread.account}, "
               f"{thread.posted_count} of {len(thread.posts)} posts up")
    if thread.url:
        click.echo(f"  {thread.url}")
    if thread.last_error:
        click.echo(f"  last error: {thread.last_error}")
    for post in thread.posts:
        extra = f" id {post.remote_id}" if post.remote_id else ""
        if post.attempts > 1:
            extra += f", {post.attempts} attempts"
        click.echo(f"\n  [{post.position}] {post.status.value}{extra}")
        if post.last_error and post.status.value != "posted":
            click.echo(f"      last error: {post.last_error}")
        for line in post.text.splitlines():
            click.echo(f"      {line}")
        for media in post.media:
            click.echo(f"      [image] {media['path']} (alt: {media.get('alt') or 'none'})")


@cli.group("accounts", invoke_without_command=True)
@click.pass_context
def accounts_group(ctx: click.Context) -> None:
    """List the configured accounts and whether their keys are set."""
    if ctx.invoked_subcommand is not None:
        return
    from . import posting

    config = load_config(ctx.parent.obj["config_path"])
    for status in posting.account_statuses(config):
        account = status.account
        default = " (default)" if account.name == config.account().name else ""
        keys = "keys set" if not status.missing else f"missing {', '.join(status.missing)}"
        click.echo(f"{account.name}{default}  {account.platform}  {account.api_base_url}  "
                   f"{keys}")


@accounts_group.command("check")
@click.argument("name", required=False, metavar="[NAME]")
@click.pass_context
def accounts_check(ctx: click.Context, name: str | None) -> None:
    """Sign in as account NAME (default: the default account) and print its @username."""
    from . import posting

    config = load_config(ctx.find_root().obj["config_path"])
    account, user_id, username = posting.check_account(config, name)
    click.echo(f"{account.name}: signed in to X as @{username} (user id {user_id}).")


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
    target = os.path.join(directory, "drafts", "example.md")
    click.echo(f"\nNext: edit {target}, then run `threadbot preview {target}`.")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error becomes a message on stderr and an exit code."""
    try:
        cli.main(args=argv, prog_name="threadbot", standalone_mode=False)
    except ThreadbotError as error:
        label = "Cannot post" if isinstance(error, MediaError) else "Error"
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
