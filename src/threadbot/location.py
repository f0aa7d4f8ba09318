"""Where threadbot is working: the writer's folder, the config file and why it was
chosen, the database, the ``.env`` files, the accounts and the daemon (what
``threadbot where`` prints). Only reads: nothing here creates a file.

Secrets never appear here: accounts are shown by name, platform, server and the
*names* of the variables their keys come from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .accounts import credential_status, dotenv_path
from .config import CONFIG_ENV, DB_ENV, Config
from .store import DaemonRecord, Store, now_utc


@dataclass(frozen=True)
class EnvFile:
    """A ``.env`` file threadbot reads (``read``), or one it leaves alone and says so."""

    path: Path
    exists: bool
    read: bool
    why: str


@dataclass(frozen=True)
class AccountLine:
    name: str
    platform: str
    api_base_url: str
    default: bool
    missing: list[str]  # variable names (never values) not set anywhere


@dataclass(frozen=True)
class Location:
    writer_folder: Path
    config_path: Path | None
    config_found_by: str  # one of threadbot.config.FOUND_BY
    config_why: str
    database: Path
    database_exists: bool
    database_why: str
    threads: int
    env_files: list[EnvFile]
    accounts: list[AccountLine]
    daemon: DaemonRecord | None
    daemon_running: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, as ``threadbot where --json`` prints it (schema in the README)."""
        daemon: dict[str, Any] = {"running": self.daemon_running}
        if self.daemon is not None:
            daemon.update(pid=self.daemon.pid, host=self.daemon.host,
                          started_at=self.daemon.started_at.isoformat(),
                          heartbeat_at=self.daemon.heartbeat_at.isoformat())
        return {
            "writer_folder": str(self.writer_folder),
            "config": {"path": str(self.config_path) if self.config_path else None,
                       "found_by": self.config_found_by, "why": self.config_why},
            "database": {"path": str(self.database), "exists": self.database_exists,
                         "why": self.database_why, "threads": self.threads},
            "env_files": [{"path": str(e.path), "exists": e.exists, "read": e.read,
                           "why": e.why} for e in self.env_files],
            "accounts": [{"name": a.name, "platform": a.platform,
                          "api_base_url": a.api_base_url, "default": a.default,
                          "keys_set": not a.missing, "missing": a.missing}
                         for a in self.accounts],
            "daemon": daemon,
        }


def _config_why(config: Config) -> str:
    if config.found_by == "--config":
        return "given with --config"
    if config.found_by == CONFIG_ENV:
        return f"named by ${CONFIG_ENV}"
    if config.found_by == "search":
        here = Path.cwd()
        if config.writer_folder == here:
            return "found in this folder"
        return f"found in {config.writer_folder}, the nearest folder above this one with one"
    return ("none found: no --config, no $THREADBOT_CONFIG, and no config/threadbot.yaml "
            "in this folder or any above it, so the built-in defaults are used")


def _database_why(config: Config) -> str:
    if os.environ.get(DB_ENV):
        return f"named by ${DB_ENV}"
    if config.database is not None:
        return "'database:' in the config"
    if config.path is None:
        return "threadbot.db in this folder, as there is no config file"
    return "threadbot.db beside the config"


def _env_files(config: Config) -> list[EnvFile]:
    read = dotenv_path(config).absolute()
    files = [EnvFile(read, read.is_file(), True,
                     "keys are read from it (a variable set in the environment wins)")]
    top = config.writer_folder / ".env"
    if top != read:  # shown even when absent: where a writer might look for keys
        files.append(EnvFile(top, top.is_file(), False,
                             f"not read: threadbot reads keys only from {read} and the "
                             "environment"))
    return files


def locate(config: Config) -> Location:
    """Everything ``threadbot where`` shows, for this config. Creates no file."""
    database = config.database_path().absolute()
    exists = database.is_file()
    record = None
    threads = 0
    if exists:
        with Store(database, read_only=True) as store:
            record = store.daemon()
            threads = len(store.threads())
    defaults = config.default_accounts or (config.default_account,)
    accounts = [AccountLine(a.name, a.platform, a.api_base_url, a.name in defaults,
                            credential_status(config, a).missing)
                for a in config.accounts.values()]
    return Location(
        writer_folder=config.writer_folder,
        config_path=config.path.absolute() if config.path else None,
        config_found_by=config.found_by, config_why=_config_why(config),
        database=database, database_exists=exists, database_why=_database_why(config),
        threads=threads, env_files=_env_files(config), accounts=accounts,
        daemon=record, daemon_running=record is not None and record.running())


def ago(moment: datetime, now: datetime | None = None) -> str:
    """How long ago, in words: "12 s", "5 min", "3 h", "2 days"."""
    seconds = max(0, int(((now or now_utc()) - moment).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
