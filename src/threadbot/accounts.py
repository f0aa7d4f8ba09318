"""Accounts and their secrets.

An account's four OAuth 1.0a keys come from environment variables (by default
``X_API_KEY``, ``X_API_SECRET``, ``X_ACCESS_TOKEN``, ``X_ACCESS_TOKEN_SECRET``;
an account may name others in the config). A ``.env`` file in the config's
folder (the current folder when there is no config file) is read too; a
variable set in the environment wins over the same name in ``.env``.

Secrets are only ever read here and handed to the platform client: they are
never printed, logged, stored or put in an error message (messages name the
variables, never their values).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from .config import Account, Config
from .errors import CredentialsError
from .platforms.x import XClient, XCredentials

# Credential key -> the XCredentials field it fills.
_FIELDS = {
    "api_key": "consumer_key",
    "api_secret": "consumer_secret",
    "access_token": "access_token",
    "access_token_secret": "access_token_secret",
}


def dotenv_path(config: Config) -> Path:
    return config.folder / ".env"


def _environment(config: Config) -> dict[str, str]:
    values: dict[str, str] = {}
    path = dotenv_path(config)
    if path.is_file():
        values.update({k: v for k, v in dotenv_values(path).items() if v is not None})
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


def load_credentials(config: Config, account: Account) -> XCredentials:
    """The account's keys, or a ``CredentialsError`` naming each missing variable."""
    env = _environment(config)
    missing = [variable for variable in account.env.values() if not env.get(variable)]
    if missing:
        names = ", ".join(missing)
        raise CredentialsError(
            f"account '{account.name}' has no {names}. Set "
            f"{'it' if len(missing) == 1 else 'them'} in the environment or in "
            f"{dotenv_path(config)} (one NAME=value a line), then try again; "
            "`threadbot accounts check` tests them."
        )
    return XCredentials(**{_FIELDS[key]: env[variable] for key, variable in account.env.items()})


def client_for(config: Config, account: Account) -> XClient:
    """An X client for the account, pointed at its ``api_base_url``."""
    return XClient(load_credentials(config, account), api_base_url=account.api_base_url,
                   timeout=config.posting.timeout_seconds, account=account.name)
