"""Reading image files for upload, and telling their format from their first bytes.

Whether a platform accepts an image (type, size, alt text, how many per post) is
checked in ``threadbot.checks``, with every other check of what a platform accepts.
"""

from __future__ import annotations

import os
from pathlib import Path

MB = 1024 * 1024


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
