"""Accounts and their secrets.

Each account's secrets come from environment variables, one per credential key
of its platform: by default ``X_API_KEY``, ``X_API_SECRET``, ``X_ACCESS_TOKEN``,
``X_ACCESS_TOKEN_SECRET`` for X and ``MASTODON_ACCESS_TOKEN`` for Mastodon; an
account may name others in the config (``env:``). A ``.env`` file in the
config's folder (the current folder when there is no config file) is read too;
a variable set in the environment wins over the same name in ``.env``.

Secrets are only ever read here and handed to the platform client: they are
never printed, logged, stored or put in an error message (messages name the
variables, never their values). ``save_secret`` writes one into ``.env`` with
mode 0600.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from .config import Account, Config, read_text_file
from .errors import CredentialsError
from .platforms import PlatformClient, spec


def dotenv_path(config: Config) -> Path:
    """The one ``.env`` file read: beside the config (``config/.env``)."""
    return config.folder / ".env"


def ignored_dotenv(config: Config) -> Path | None:
    """A ``.env`` at the top of the writer's folder, which is *not* read (it may belong
    to another tool there), when there is one: messages name it, so that keys put
    there are not silently missed."""
    top = config.writer_folder / ".env"
    if top.absolute() == dotenv_path(config).absolute() or not top.is_file():
        return None
    return top


def dotenv_warning(config: Config) -> str | None:
    """A warning when the ``.env`` holding secrets can be read by other users."""
    path = dotenv_path(config)
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & 0o077:
        return (f"{path} can be read by other users of this machine, and it holds your keys: "
                f"run `chmod 600 {path}`.")
    return None


def _environment(config: Config) -> dict[str, str]:
    values: dict[str, str] = {}
    path = dotenv_path(config)
    if path.is_file():
        # Read as drafts are (a regular file, at most 10 MB, UTF-8), so that a damaged
        # .env gets a message naming its line, never a traceback.
        text = read_text_file(path, what=".env file", error=CredentialsError)
        values.update({k: v for k, v in dotenv_values(stream=io.StringIO(text)).items()
                       if v is not None})
    values.update(os.environ)
    return values


@dataclass(frozen=True)
class CredentialStatus:
    """Which of an account's variables are set (names only, never values)."""

    account: Account
    missing: list[str]


def credential_status(config: Config, account: Account) -> CredentialStatus:
    env = _environment(config)
    missing = [variable for variable in account.env.values() if not env.get(variable)]
    return CredentialStatus(account=account, missing=missing)


def load_secrets(config: Config, account: Account) -> dict[str, str]:
    """The account's secrets by credential key, or a ``CredentialsError`` naming
    each missing variable and how to set it."""
    env = _environment(config)
    missing = [variable for variable in account.env.values() if not env.get(variable)]
    if missing:
        names = ", ".join(missing)
        login = (f" (`threadbot accounts login {account.name}` gets one)"
                 if spec(account.platform).login is not None else "")
        ignored = ignored_dotenv(config)
        unread = (f" ({ignored} is not read: move its lines to {dotenv_path(config)})"
                  if ignored is not None else "")
        raise CredentialsError(
            f"account '{account.name}' has no {names}{login}. Set "
            f"{'it' if len(missing) == 1 else 'them'} in the environment or in "
            f"{dotenv_path(config)} (one NAME=value a line){unread}, then try again; "
            "`threadbot accounts check` tests them."
        )
    return {key: env[variable] for key, variable in account.env.items()}



def client_for(config: Config, account: Account) -> PlatformClient:
    """A client for the account's platform, pointed at its ``api_base_url``."""
    platform = spec(account.platform)
    return platform.make_client(account, load_secrets(config, account),
                                config.posting.timeout_seconds,
                                state_dir=config.database_path().parent)


def secret_names(config: Config) -> set[str]:
    """Every variable name that holds a secret of some account (to keep them out of
    what is handed to other programs)."""
    return {name for account in config.accounts.values() for name in account.env.values()}


_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def save_secret(config: Config, variable: str, value: str) -> Path:
    """Set ``variable=value`` in the ``.env`` beside the config, keeping its other
    lines; the file is written whole (a new file, renamed over the old one) with
    mode 0600. Returns its path. The value is never printed."""
    path = dotenv_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (read_text_file(path, what=".env file", error=CredentialsError).splitlines()
             if path.is_file() else [])
    kept = [line for line in lines if not ((m := _LINE.match(line)) and m.group(1) == variable)]
    kept.append(f"{variable}={value}")
    fd, temporary = tempfile.mkstemp(prefix=".env.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(kept) + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600)
    return path
