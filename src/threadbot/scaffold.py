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


def init_folder(directory: str | Path) -> tuple[list[Path], list[Path]]:
    """Create config/threadbot.yaml, drafts/example.md and .gitignore in ``directory``.

    Files already there are kept as they are. Returns (created, kept).
    """
    root = Path(directory)
    try:
        a_file = root.exists() and not root.is_dir()
    except OSError as exc:  # e.g. a name too long
        raise UsageError(f"cannot set up a folder there: {exc.strerror}.") from None
    if a_file:
        raise UsageError(f"{root} is a file, not a folder. Give a folder to set up.")
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
