"""What a platform accepts: every check of a thread before anything is sent.

The preview, ``post``, ``queue`` and the daemon all ask this module, so that the
preview can never pass what posting refuses:

* length: each post within the limit, as the platform counts it;
* media: images per post, each image's file, type and size, alt text length
  (``MediaRules``, from the platform's or the account's server's ``Limits``);
* duplicates: on a platform that refuses a post repeating one of the account's
  (``PlatformSpec.duplicate_window``, X), two posts of one thread with the same
  text, and a post repeating one the ledger shows the account posted within the
  window. Platforms that accept repeated text (Mastodon, Bluesky) are not warned:
  a refrain is a form writers use on purpose.

Each check returns ``Fault``\\ s; ``refuse`` turns the first blocking one into the
error ``post`` and ``queue`` raise (``MediaError`` for an image, exit code 5;
``DraftError`` otherwise, exit code 3).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .draft import Image
from .errors import DraftError, MediaError
from .media import _size, image_format, outside_folder
from .platforms import Limits, spec

if TYPE_CHECKING:
    from .store import PostedText, Store, StoredThread
    from .thread import Thread

__all__ = ["Fault", "MediaRules", "check_image", "check_ledger", "check_lengths",
           "check_media", "check_posted_before", "check_repeats", "check_stored",
           "check_thread_ledger", "media_rules", "refuse", "same_text_key"]

#: Fault kinds about images; the others are about the text.
MEDIA_KINDS = frozenset({"image", "images_per_post", "alt_text"})


@dataclass(frozen=True)
class Fault:
    """One thing the platform would refuse (``blocking``) or that the writer should
    know. ``kind``: ``length``, ``image``, ``images_per_post``, ``alt_text``,
    ``duplicate`` (two posts of the thread) or ``posted_before`` (a post the ledger
    has). ``posts``: the 1-based post numbers concerned. ``message`` names the draft
    (and line) and says how to fix it."""

    kind: str
    message: str
    posts: tuple[int, ...] = ()
    blocking: bool = True


def refuse(faults: Iterable[Fault]) -> None:
    """Raise the first blocking fault, saying how many more there are: a
    ``MediaError`` for an image, else a ``DraftError``. Nothing when none blocks."""
    blocking = [fault for fault in faults if fault.blocking]
    if not blocking:
        return
    first = blocking[0]
    more = len(blocking) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    error = MediaError if first.kind in MEDIA_KINDS else DraftError
    raise error(first.message + tail)


# --- length ------------------------------------------------------------------------------


def check_lengths(lengths: Sequence[int], limit: int, *, source: str,
                  platform: str) -> list[Fault]:
    """A fault for each post longer than ``limit`` (``lengths`` in the platform's
    unit, in post order)."""
    title = spec(platform).title
    return [Fault("length", f"{source}: post {index} is {length} characters as {title} "
                            f"counts them; it takes {limit}. Shorten it, or put a '---' line "
                            "in it to break it in two.", (index,))
            for index, length in enumerate(lengths, start=1) if length > limit]


# --- media -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaRules:
    """What a platform (or one server) accepts: sizes in bytes, alt text in characters,
    ``types`` as MIME types; with ``resize``, a larger image is scaled down to fit when
    posted instead of being refused."""

    max_bytes: int
    max_gif_bytes: int
    max_per_post: int
    max_alt: int
    types: tuple[str, ...] = ("image/png", "image/jpeg", "image/gif", "image/webp")
    resize: bool = False


def media_rules(platform: str, limits: Limits | None = None) -> MediaRules:
    """The rules for images on ``platform``: its server's ``limits`` when known, else the
    platform's published defaults (``PlatformSpec.default_limits``)."""
    platform_spec = spec(platform)
    limits = limits or platform_spec.default_limits
    return MediaRules(max_bytes=limits.max_image_bytes, max_gif_bytes=limits.max_gif_bytes,
                      max_per_post=limits.max_media, max_alt=limits.max_alt,
                      types=tuple(limits.media_types) or MediaRules.types,
                      resize=platform_spec.resizes_images)


_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


def check_image(image: Image, platform: str, source: str, rules: MediaRules | None = None,
                notes: list[str] | None = None) -> list[Fault]:
    """Problems with one image, each naming the draft line and the fix. ``rules``
    default to the platform's published limits. What is not a problem but worth
    knowing (an image that will be resized) goes to ``notes``."""
    rules = rules or media_rules(platform)
    where = f"{source}:{image.line}: image '{image.path}'"
    faults = []
    if len(image.alt) > rules.max_alt:
        faults.append(Fault("alt_text",
                            f"{where}: the alt text is {len(image.alt):,} characters; "
                            f"{platform} allows {rules.max_alt:,}. Shorten the text between "
                            "![ and ]."))
    problem = _file_problem(image.resolved, where, platform, rules, notes)
    if problem:
        faults.append(Fault("image", problem))
    return faults


def _file_problem(path: Path, where: str, platform: str, rules: MediaRules,
                  notes: list[str] | None) -> str | None:
    try:
        if not path.exists():
            return (f"{where} is not there (looked for {path}). Check the path: it is "
                    "relative to the draft's folder.")
        if not path.is_file():
            what = "a folder" if path.is_dir() else "not a regular file (a pipe or a device)"
            return f"{where} is {what}, not an image file. Point to the file."
    except OSError as exc:  # a name too long, a loop of symbolic links, no permission
        return f"{where} cannot be read: {exc.strerror}. Check the path."
    try:
        kind = image_format(path)
        size = path.stat().st_size
    except OSError as exc:
        return f"{where} cannot be read: {exc.strerror}."
    if kind is None:
        return f"{where} is not a PNG, JPEG, GIF or WEBP image. Convert it to one of those formats."
    if _MIME[kind] not in rules.types:
        accepted = ", ".join(t.removeprefix("image/").upper() for t in rules.types)
        return (f"{where} is a {kind} image, which this server does not accept "
                f"({accepted} only). Convert it.")
    limit = rules.max_gif_bytes if kind == "GIF" else rules.max_bytes
    if size > limit and rules.resize and kind != "GIF":
        if notes is not None:
            notes.append(f"{where} is {_size(size)}: it will be scaled down to fit "
                         f"{platform}'s {_size(limit)} when posted (its EXIF data, GPS "
                         "position included, is removed).")
    elif size > limit:
        return (f"{where} is {_size(size)}; {platform} accepts {kind} images up to "
                f"{_size(limit)}. Resize or compress it.")
    return None


def check_media(images_per_post: Sequence[Sequence[Image]], platform: str, source: str,
                rules: MediaRules, notes: list[str]) -> list[Fault]:
    """Every image of every post (``images_per_post``, in post order), and the number
    of images in each post. An image without alt text is a note, not a fault."""
    faults: list[Fault] = []
    for index, images in enumerate(images_per_post, start=1):
        for image in images:
            faults.extend(replace_posts(f, (index,))
                          for f in check_image(image, platform, source, rules, notes))
            if not image.alt:
                notes.append(f"{source}:{image.line}: image '{image.path}' has no alt text. "
                             "Describe it between ![ and ] so that everyone can read the post.")
        if len(images) > rules.max_per_post:
            lines = ", ".join(str(i.line) for i in images)
            faults.append(Fault(
                "images_per_post",
                f"{source}:{images[0].line}: post {index} would carry {len(images)} images "
                f"(lines {lines}); {platform} allows {rules.max_per_post} per post. Move some "
                "images to another paragraph, or put a '---' line between them.", (index,)))
    return faults


def replace_posts(fault: Fault, posts: tuple[int, ...]) -> Fault:
    return Fault(fault.kind, fault.message, posts, fault.blocking)


# --- duplicates --------------------------------------------------------------------------


def _numbers(indices: list[int], shown: int = 6) -> str:
    """Post numbers for a message: "1, 3 and 5", or "1, 2, 3, 4, 5, 6 and 40 more"."""
    if len(indices) > shown + 1:
        return ", ".join(str(i) for i in indices[:shown]) + f" and {len(indices) - shown} more"
    return ", ".join(str(i) for i in indices[:-1]) + f" and {indices[-1]}"


def same_text_key(text: str) -> str:
    """What two posts must share to be the same text to a platform: the text in NFC,
    white space runs made one space, ends trimmed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return f"“{text if len(text) <= 40 else text[:37] + '...'}”"


def check_repeats(texts: Sequence[str], platform: str, source: str, *,
                  pending: Sequence[bool] | None = None) -> list[Fault]:
    """Posts of one thread (``texts``, in order) with the same text, on a platform that
    refuses a repeated post: one fault per text, naming every post that has it.
    ``pending`` marks the posts still to send (default: all); a repeat is a fault only
    when a later copy is still to be sent."""
    if spec(platform).duplicate_window is None:
        return []
    pending = pending if pending is not None else [True] * len(texts)
    groups: dict[str, list[int]] = {}
    for index, text in enumerate(texts, start=1):
        key = same_text_key(text)
        if key:
            groups.setdefault(key, []).append(index)
    faults = []
    title = spec(platform).title
    for indices in groups.values():
        if len(indices) < 2 or not any(pending[i - 1] for i in indices[1:]):
            continue
        names = _numbers(indices)
        faults.append(Fault(
            "duplicate",
            f"{source}: posts {names} have the same text ({_quote(texts[indices[0] - 1])}). "
            f"{title} refuses a post identical to an earlier one from the same account, so "
            f"posting would stop at post {indices[1]}, leaving the thread unfinished. Make "
            "them differ (reword one), or number the posts (`numbering: 1/N` in the front "
            "matter, or --numbering 1/N).", tuple(indices)))
    return faults


def check_posted_before(texts: Sequence[str], platform: str, source: str,
                        posted: Iterable[PostedText], *, account: str,
                        pending: Sequence[bool] | None = None) -> list[Fault]:
    """Posts of the thread (``texts``, the ones still ``pending``) repeating a post the
    ledger shows the account posted (``posted``: ``store.PostedText`` rows, already
    limited to the platform's window and to other threads), oldest first."""
    window = spec(platform).duplicate_window
    if window is None:
        return []
    pending = pending if pending is not None else [True] * len(texts)
    earlier: dict[str, PostedText] = {}
    for row in posted:
        earlier.setdefault(same_text_key(row.text), row)  # the oldest one first
    faults = []
    title = spec(platform).title
    days = window.days
    for index, text in enumerate(texts, start=1):
        row = earlier.get(same_text_key(text))
        if row is None or not pending[index - 1]:
            continue
        when = row.posted_at
        free = (when + window).strftime("%Y-%m-%d %H:%M UTC")
        faults.append(Fault(
            "posted_before",
            f"{source}: post {index} ({_quote(text)}) has the same text as post "
            f"{row.position} of thread {row.thread_id}, posted as account '{account}' on "
            f"{when:%Y-%m-%d %H:%M} UTC. {title} refuses a post identical to one the "
            f"account posted in the last {days} days, so posting would stop at post "
            f"{index}. Reword it in the draft, or post the draft after {free}.", (index,)))
    return faults


def check_ledger(store: Store, *, platform: str, account: str, texts: Sequence[str], source: str,
                 exclude: Iterable[int] = (), pending: Sequence[bool] | None = None,
                 now: datetime | None = None) -> list[Fault]:
    """``check_posted_before`` against the account's posts in the ledger (``store``,
    read only) within the platform's duplicate window, leaving out the threads in
    ``exclude`` (the one being finished, say)."""
    window = spec(platform).duplicate_window
    if window is None:
        return []
    from .store import now_utc

    skip = set(exclude)
    rows = [row for row in store.posted_texts(account, (now or now_utc()) - window)
            if row.thread_id not in skip]
    return check_posted_before(texts, platform, source, rows, account=account,
                               pending=pending)


def check_thread_ledger(store: Store, thread: Thread, account: str, *, again: bool = False,
                        now: datetime | None = None) -> list[Fault]:
    """``check_ledger`` for a composed thread (``thread.Thread``) about to be posted or
    queued as ``account``. Threads of the same draft are left out unless ``again``:
    a posted one is refused as already posted, an unfinished one (of any version of
    the draft) is finished rather than posted anew; with ``again`` a new thread
    repeats them, which the platform would refuse. ``now``: when the thread is to go
    out (a queued one's time)."""
    exclude = []
    if not again:
        from .publish import draft_location

        exclude = [t.id for t in store.threads_for_draft(thread.content_hash, account)]
        # An earlier version of the draft left unfinished is refused as such, saying how
        # to finish it or take it down.
        unfinished = store.unfinished_for_draft(draft_location(thread.source), account)
        if unfinished is not None:
            exclude.append(unfinished.id)
    return check_ledger(store, platform=thread.platform, account=account,
                        texts=[post.text for post in thread.posts], source=thread.source,
                        exclude=exclude, now=now)


def check_stored(store: Store, thread: StoredThread, *, limits: Limits | None = None,
                 now: datetime | None = None, folder: Path | None = None,
                 allow_outside: bool = False) -> list[Fault]:
    """The checks that can change between queueing and posting, for a recorded thread
    (``store.StoredThread``) about to be published: its posts still to send against
    the ledger (other threads posted meanwhile) and against its own posts; and each
    image still there, readable and within the platform's rules (its server's
    ``limits`` when known), and, given the writer's ``folder``, still inside it
    (symbolic links followed: a link swapped after queueing), unless
    ``allow_outside`` (the config's ``images: allow_outside_folder``)."""
    from .store import PostStatus

    texts = [post.text for post in thread.posts]
    pending = [post.status is PostStatus.PENDING for post in thread.posts]
    source = thread.draft_path
    faults = check_repeats(texts, thread.platform, source, pending=pending)
    faults += check_ledger(store, platform=thread.platform, account=thread.account,
                           texts=texts, source=source, exclude=[thread.id], pending=pending,
                           now=now)
    rules = media_rules(thread.platform, limits)
    for post, waiting in zip(thread.posts, pending, strict=True):
        if not waiting:
            continue
        for media in post.media:
            path = Path(media["path"])
            where = f"{source}: post {post.position}: image '{path}'"
            problem = _file_problem(path, where, thread.platform, rules, None)
            if problem is None and folder is not None and not allow_outside:
                real = outside_folder(path, folder)
                if real is not None:
                    problem = (f"{where} is now outside the writer's folder ({folder}): the "
                               f"file is {real}. Copy it into the folder, or set 'images: "
                               "allow_outside_folder: true' in the config to post it from "
                               "there.")
            if problem:
                faults.append(Fault("image", problem, (post.position,)))
    return faults

