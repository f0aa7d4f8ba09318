"""`threadbot init`: lay out a writer's folder."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import ConfigError, UsageError

GITIGNORE = """\
# threadbot's local state and secrets: never commit these.
.env
*.db
*.db-wal
*.db-shm
*.log
# Bluesky sessions (access and refresh tokens) and their lock files.
threadbot-session-*.json
threadbot-session-*.lock
"""


def _template(name: str) -> str:
    return resources.files("threadbot.templates").joinpath(name).read_text(encoding="utf-8")


CONFIG = Path("config") / "threadbot.yaml"


def _enclosing_writer_folder(root: Path) -> Path | None:
    """The writer's folder ``root`` lies inside (the nearest folder above it holding
    config/threadbot.yaml, as threadbot finds one), unless ``root`` is one itself."""
    root = root.absolute()
    if (root / CONFIG).is_file():
        return None
    for folder in root.parents:
        try:
            if (folder / CONFIG).is_file():
                return folder
        except OSError:
            continue
    return None


def init_folder(directory: str | Path, *, inside: bool = False) -> tuple[list[Path],
                                                                         list[Path]]:
    """Create config/threadbot.yaml, drafts/example.md and .gitignore in ``directory``.

    Files already there are kept as they are. Returns (created, kept). Raises
    ``UsageError`` for a ``directory`` inside another writer's folder (one it would
    hide), unless ``inside``, and for a file; ``ConfigError`` when it cannot be written.
    """
    root = Path(directory)
    try:
        a_file = root.exists() and not root.is_dir()
    except OSError as exc:  # e.g. a name too long
        raise UsageError(f"cannot set up a folder there: {exc.strerror}.") from None
    if a_file:
        raise UsageError(f"{root} is a file, not a folder. Give a folder to set up.")
    outer = None if inside else _enclosing_writer_folder(root)
    if outer is not None:
        raise UsageError(
            f"{root.absolute()} is inside the writer's folder {outer} (it has "
            f"{outer / CONFIG}). A writer's folder here would hide that one (its config, "
            f"record and keys) from threadbot run here. Work in {outer} as it is (`threadbot "
            "where` shows it), or give init a folder outside it, e.g. `threadbot init "
            "~/writing` (--inside lays it out there all the same).")
    files = {
        root / "config" / "threadbot.yaml": _template("threadbot.yaml"),
        root / "drafts" / "example.md": _template("example-draft.md"),
        root / ".gitignore": GITIGNORE,
    }
    created, kept = [], []
    for path, content in files.items():
        try:
            if path.exists():
                kept.append(path)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            # "x": never overwrite a file that appeared meanwhile.
            with path.open("x", encoding="utf-8") as handle:
                handle.write(content)
        except OSError as exc:
            # Not a command-line slip: the folder cannot be written (exit code 4).
            raise ConfigError(f"cannot create {path}: {exc.strerror}. Check that you may "
                              "write in that folder.") from None
        created.append(path)
    return created, kept
