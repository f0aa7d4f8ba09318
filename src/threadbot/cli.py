"""The command line: a thin layer over the library.

Each command parses its options, calls one library function and prints the
result. Errors are turned into messages and exit codes in one place, ``main``.
"""

from __future__ import annotations

import os
import sys

import click

from . import __version__
from .config import load_config
from .counting import PLATFORMS
from .errors import ExitCode, MediaError, ThreadbotError
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
@click.option("--dry-run", is_flag=True, help="Only show what would be posted (as preview).")
@_split_options
@click.pass_context
def post_command(ctx: click.Context, draft: str, dry_run: bool, **options) -> None:
    """Post DRAFT as a thread. With --dry-run, show it instead (same as preview)."""
    if not dry_run:
        raise ThreadbotError(
            "posting is not available in this version of threadbot yet. "
            "Use `threadbot post DRAFT --dry-run` (or `threadbot preview DRAFT`) to see "
            "the thread.",
        )
    _dry_run(ctx, draft, **options)


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
