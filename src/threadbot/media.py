"""Checking images against a platform's rules before anything is sent.

The rules are the platforms' published limits (2026); X's are the ones the
issue names: PNG/JPEG/GIF/WEBP, images up to 5 MB (animated GIFs up to 15 MB),
at most 4 per post, alt text up to 1,000 characters.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .draft import Image

MB = 1024 * 1024


@dataclass(frozen=True)
class MediaRules:
    """What a platform (or one server) accepts: sizes in bytes, alt text in characters,
    ``types`` as MIME types (``None``: PNG, JPEG, GIF and WEBP); with ``resize``, a
    larger image is scaled down to fit when posted instead of being refused."""

    max_bytes: int
    max_gif_bytes: int
    max_per_post: int
    max_alt: int
    types: tuple[str, ...] | None = None
    resize: bool = False


RULES = {
    "x": MediaRules(max_bytes=5 * MB, max_gif_bytes=15 * MB, max_per_post=4, max_alt=1000),
    # Bluesky's image blob limit is 1,000,000 bytes; alt text is not capped by the lexicon
    # beyond the record size, 2,000 is the app's limit.
    "bluesky": MediaRules(max_bytes=1_000_000, max_gif_bytes=1_000_000, max_per_post=4,
                          max_alt=2000, types=("image/png", "image/jpeg", "image/webp")),
    # Mastodon's defaults: 16 MB images, 4 attachments, 1,500 characters of description.
    "mastodon": MediaRules(max_bytes=16 * MB, max_gif_bytes=16 * MB, max_per_post=4,
                           max_alt=1500),
}

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)


# No platform takes a larger image file: a bigger one is surely the wrong file.
MAX_IMAGE_FILE_BYTES = 64 * MB


def read_image(path: str | Path, max_bytes: int = MAX_IMAGE_FILE_BYTES) -> bytes:
    """The bytes of an image file about to be uploaded, read only from a regular file
    of at most ``max_bytes`` bytes, without waiting on a pipe or a device (the file may
    have been replaced since it was queued). Raises ``MediaError`` naming the file."""
    import os
    import stat

    from .errors import MediaError

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise MediaError(f"cannot read the image ({err.strerror or err}). Check the path.",
                         path=str(path)) from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise MediaError("is not a regular file (a pipe or a device), so it cannot be "
                             "an image. Point to the image file.", path=str(path))
        try:
            data = handle.read(max_bytes + 1)
        except OSError as err:
            raise MediaError(f"cannot read the image ({err.strerror or err}).",
                             path=str(path)) from None
    if len(data) > max_bytes:
        raise MediaError(f"is larger than {_size(max_bytes)}, more than any platform takes. "
                         "Check that this is the right file.", path=str(path))
    return data


def outside_folder(path: Path, folder: Path) -> Path | None:
    """The file ``path`` really is (symbolic links followed) when that lies outside
    ``folder``, else None."""
    real = Path(os.path.realpath(path))
    return None if real.is_relative_to(os.path.realpath(folder)) else real


def image_format(path: Path) -> str | None:
    """PNG, JPEG, GIF or WEBP from the file's first bytes (not its name), else None."""
    with path.open("rb") as handle:
        head = handle.read(12)
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def _size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB / 10 else f"{n / 1024:.0f} KB"


_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


def check_image(image: Image, platform: str, source: str,
                rules: MediaRules | None = None,
                notes: list[str] | None = None) -> list[str]:
    """Problems with one image, each a message naming the draft line and the fix.
    ``rules`` default to the platform's published limits (``RULES``). What is not a
    problem but worth knowing (an image that will be resized) goes to ``notes``."""
    rules = rules or RULES[platform]
    where = f"{source}:{image.line}: image '{image.path}'"
    problems = []
    if len(image.alt) > rules.max_alt:
        problems.append(
            f"{where}: the alt text is {len(image.alt):,} characters; {platform} allows "
            f"{rules.max_alt:,}. Shorten the text between ![ and ]."
        )
    path = image.resolved
    try:
        path.stat()
    except FileNotFoundError:
        problems.append(f"{where} is not there (looked for {path}). Check the path: it is "
                        "relative to the draft's folder.")
        return problems
    except OSError as exc:  # a name too long, a loop of symbolic links, no permission
        problems.append(f"{where} cannot be read: {exc.strerror}. Check the path.")
        return problems
    if not path.is_file():
        what = "a folder" if path.is_dir() else "not a regular file (a pipe or a device)"
        problems.append(f"{where} is {what}, not an image file. Point to the file.")
        return problems
    try:
        kind = image_format(path)
        size = path.stat().st_size
    except OSError as exc:
        problems.append(f"{where} cannot be read: {exc.strerror}.")
        return problems
    if kind is None:
        problems.append(f"{where} is not a PNG, JPEG, GIF or WEBP image. Convert it to one "
                        "of those formats.")
        return problems
    if rules.types is not None and _MIME[kind] not in rules.types:
        accepted = ", ".join(t.removeprefix("image/").upper() for t in rules.types)
        problems.append(f"{where} is a {kind} image, which this server does not accept "
                        f"({accepted} only). Convert it.")
        return problems
    limit = rules.max_gif_bytes if kind == "GIF" else rules.max_bytes
    if size > limit and rules.resize and kind != "GIF":
        if notes is not None:
            notes.append(f"{where} is {_size(size)}: it will be scaled down to fit "
                         f"{platform}'s {_size(limit)} when posted (its EXIF data, GPS "
                         "position included, is removed).")
    elif size > limit:
        problems.append(f"{where} is {_size(size)}; {platform} accepts {kind} images up to "
                        f"{_size(limit)}. Resize or compress it.")
    return problems
