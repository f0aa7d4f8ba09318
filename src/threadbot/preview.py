"""Showing a thread before it is posted: for reading in a terminal, as plain text, or as JSON."""

from __future__ import annotations

import json
import re
from typing import TextIO

from .thread import Thread, money

PLATFORM_NAMES = {"x": "X", "bluesky": "Bluesky", "mastodon": "Mastodon"}

# Control characters (C0 but the line break and tab, DEL, C1): a terminal acts on them
# (an escape sequence recolours, moves the cursor, retitles the window, even writes to
# the clipboard), so a draft holding them would rewrite the preview it is checked in.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def shown(text: str) -> str:
    """``text`` as the preview displays it: each control character (ESC, BEL, a
    carriage return, …; not the line break or tab) written as its escape, ``\\x1b``,
    so that what the draft holds is seen, never run by the terminal. The posts and the
    ``--json`` output keep the text as it is."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def headline(thread: Thread) -> str:
    name = PLATFORM_NAMES[thread.platform]
    title = f"“{thread.title}” ({thread.source})" if thread.title else thread.source
    who = f" as '{thread.account}'" if thread.account else ""
    return (f"{title} → {_count(len(thread.posts), 'post')} on {name}{who}, "
            f"limit {thread.limit} per post")


def options_line(thread: Thread) -> str | None:
    """The platform settings the posts go out with (Mastodon: visibility, language,
    content warning), or None when there are none to tell."""
    options = thread.options
    parts = []
    if "visibility" in options:
        parts.append(f"first post {options['visibility']}, replies "
                     f"{options.get('reply_visibility', options['visibility'])}")
    if "language" in options:
        parts.append(f"language {options['language']}")
    if "content_warning" in options:
        parts.append(f"content warning “{options['content_warning']}” on every post "
                     "(it counts against each post's limit)")
    return " · ".join(parts) or None


def summary_line(thread: Thread, post_price: float, url_price: float) -> str:
    """One line per account at the end of a preview: posts, warnings, cost on X."""
    name = PLATFORM_NAMES[thread.platform]
    who = f"'{thread.account}' ({name})" if thread.account else name
    parts = [_count(len(thread.posts), "post"), _count(len(thread.warnings), "warning")]
    if thread.errors:
        parts.append(_count(len(thread.errors), "problem"))
    if thread.cost is not None:
        parts.append(f"{money(thread.cost)} on X")
    return f"  {who}: {', '.join(parts)}"



def cost_line(thread: Thread, post_price: float, url_price: float) -> str | None:
    if thread.cost is None:
        return None
    with_url = sum(1 for p in thread.posts if p.has_url)
    plain = len(thread.posts) - with_url
    parts = [f"{_count(plain, 'post')} × {money(post_price)}"]
    if with_url:
        parts.append(f"{with_url} with a URL × {money(url_price)}")
    return f"Cost on X's pay-per-use API: {' + '.join(parts)} = {money(thread.cost)}"


def render_json(thread: Thread, out: TextIO) -> None:
    json.dump(thread.to_dict(), out, ensure_ascii=False, indent=2)
    out.write("\n")


def render_plain(thread: Thread, out: TextIO, *, cost: str | None, dry_run: bool = True) -> None:
    total = len(thread.posts)
    out.write(shown(headline(thread)) + "\n")
    settings = options_line(thread)
    if settings:
        out.write(shown(settings) + "\n")
    for post in thread.posts:
        over = "  OVER THE LIMIT" if post.length > thread.limit else ""
        out.write(f"\n--- post {post.index}/{total} · {post.length}/{thread.limit}{over} ---\n")
        out.write(shown(post.text) + "\n")
        for media in post.media:
            out.write(f"  [image] {shown(media.path)}\n")
            out.write(f"          alt: {shown(media.alt) or '(none)'}\n")
        for link in post.links:  # Bluesky: the text itself is the link
            out.write(f"  [link] {shown(post.text[link.start:link.end])} → {shown(link.url)}\n")
    _notes_plain(thread, out, cost, dry_run)


def _notes_plain(thread: Thread, out: TextIO, cost: str | None, dry_run: bool) -> None:
    if thread.warnings:
        out.write("\nWarnings:\n")
        for warning in thread.warnings:
            out.write(f"  ! {shown(warning)}\n")
    if thread.errors:
        out.write("\nProblems to fix before posting:\n")
        for error in thread.errors:
            out.write(f"  x {shown(error)}\n")
    out.write("\n")
    if cost:
        out.write(cost + "\n")
    if dry_run:
        out.write("Dry run: nothing was posted.\n")


def _media_table(media):
    """An image and its alt text, the alt text wrapping under itself."""
    from rich.table import Table
    from rich.text import Text

    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", no_wrap=True)
    table.add_column()
    table.add_row("", "")
    table.add_row("image:", Text(shown(media.path), style="cyan"))
    table.add_row("alt:", Text(shown(media.alt) or "(none: add a description)",
                               style="italic" if media.alt else "red"))
    return table


def render_rich(thread: Thread, console, *, cost: str | None, dry_run: bool = True) -> None:
    """The terminal view: one panel per post, its length green (yellow near the
    limit, red over it)."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    total = len(thread.posts)
    console.print(Text(shown(headline(thread)), style="bold"))
    settings = options_line(thread)
    if settings:
        console.print(Text(shown(settings), style="dim"))
    for post in thread.posts:
        colour = "red" if post.length > thread.limit else (
            "yellow" if post.length > thread.limit * 0.95 else "green")
        # Text, not markup: a writer's [brackets] stay as written. Built piece by piece,
        # since showing a control character lengthens the text before a link.
        body = Text()
        done = 0
        for link in post.links:  # Bluesky: the text itself is the link
            body.append(shown(post.text[done:link.start]))
            body.append(shown(post.text[link.start:link.end]),
                        style=f"underline link {shown(link.url)}")
            done = link.end
        body.append(shown(post.text[done:]))
        body = Group(body, *(_media_table(m) for m in post.media))
        console.print(Panel(
            body,
            title=f"{post.index}/{total}",
            title_align="left",
            subtitle=Text(f"{post.length}/{thread.limit}", style=colour),
            subtitle_align="right",
            width=min(console.width, 72),
        ))
    for warning in thread.warnings:
        console.print(Text("! ", style="yellow bold") + Text(shown(warning)))
    for error in thread.errors:
        console.print(Text("✗ ", style="red bold") + Text(shown(error)))
    if cost:
        console.print(Text(cost))
    if dry_run:
        console.print(Text("Dry run: nothing was posted.", style="dim"))
