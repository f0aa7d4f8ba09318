"""Configuration: where it is found, what it may hold, and how it is checked.

Where the configuration comes from, first match wins (the way git finds its
repository):

1. ``--config PATH`` on the command line (the file must exist);
2. the ``THREADBOT_CONFIG`` environment variable (the file must exist);
3. ``config/threadbot.yaml`` in the current folder, else in its parent folder,
   and so on up to the top of the file system (a writer's folder holds
   ``config/`` and ``drafts/``, like a static site generator's, so threadbot
   run from ``drafts/`` or any folder below finds it);
4. the built-in defaults below.

Relative paths in the config (``database:``, ``daemon.log_file``) and the
``.env`` file are taken from the config's own folder, wherever threadbot is run
from; a draft's path given on the command line is relative to the current
folder, as any command's would be.

Split settings are layered the same way for every draft: built-in defaults,
then the config's ``split:`` section, then the draft's front matter, then
options given on the command line.

Unknown keys are errors (with a "did you mean"), so that a typo never silently
does nothing.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import stat
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from .counting import PLATFORMS
from .errors import ConfigError, ThreadbotError

CONFIG_ENV = "THREADBOT_CONFIG"
DEFAULT_CONFIG_PATH = Path("config") / "threadbot.yaml"

NUMBERING_STYLES = ("none", "1/N", "1/", "(1/N)")
# The packings, the default first. An old name is accepted and read as its new one.
PACKINGS = ("paragraphs", "sentences", "compact")
PACKING_ALIASES = {"natural": "sentences"}


@dataclass(frozen=True)
class SplitSettings:
    """How a draft becomes posts. Every field can be set in the config's
    ``split:`` section, in a draft's front matter, or on the command line."""

    # paragraphs: a paragraph, list or quote that fits in one post is never broken;
    # sentences: fewest posts, breaking at sentence ends (called "natural" before);
    # compact: as few posts as word-by-word packing. See PACKINGS.
    packing: str = "paragraphs"
    # auto: pack paragraphs together; paragraph: every paragraph starts a post.
    break_mode: str = "auto"
    numbering: str = "none"
    numbering_position: str = "after"
    # Closes a post whose sentence runs on into the next; "" turns it off.
    continuation: str = "…"
    # Added to the first post, e.g. "🧵"; "" for none.
    thread_marker: str = ""


# YAML key -> SplitSettings field (``break`` is a Python keyword).
SPLIT_KEYS = {
    "packing": "packing",
    "break": "break_mode",
    "numbering": "numbering",
    "numbering_position": "numbering_position",
    "continuation": "continuation",
    "thread_marker": "thread_marker",
}

_CHOICES = {
    "packing": PACKINGS,
    "break": ("auto", "paragraph"),
    "numbering": NUMBERING_STYLES,
    "numbering_position": ("before", "after"),
}


@dataclass(frozen=True)
class Pricing:
    """X's pay-per-use prices in US dollars (2026); they change, so they live in config."""

    post: float = 0.015
    post_with_url: float = 0.20


DEFAULT_API_BASE_URL = "https://api.x.com"
# Which environment variable holds each of an X account's four OAuth 1.0a keys.
DEFAULT_X_ENV = {
    "api_key": "X_API_KEY",
    "api_secret": "X_API_SECRET",
    "access_token": "X_ACCESS_TOKEN",
    "access_token_secret": "X_ACCESS_TOKEN_SECRET",
}
DB_ENV = "THREADBOT_DB"


VISIBILITIES = ("public", "unlisted", "private", "direct")


@dataclass(frozen=True)
class Account:
    """A named account to post as. Its secrets never live here: ``env`` names the
    environment variables (or ``.env`` entries) that hold them, one per credential
    key of its platform (``threadbot.platforms.spec(platform).env``)."""

    name: str
    platform: str = "x"
    api_base_url: str = DEFAULT_API_BASE_URL
    env: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_X_ENV))
    # Weekly posting times, e.g. ("mon-fri 09:00", "sat 11:30"), parsed by threadbot.when.
    slots: tuple = ()
    # Split settings of this account's threads, over the config's ``split:`` (None: those).
    split: SplitSettings | None = None
    # Visibility of a thread's first post and of its replies, where the platform has it
    # (Mastodon: public first, replies unlisted, so a thread does not flood timelines).
    visibility: str | None = None
    reply_visibility: str | None = None
    # The account's handle, for platforms that sign in with it (Bluesky).
    handle: str | None = None


@dataclass(frozen=True)
class PostingSettings:
    """How posting behaves; each is a key of the config's ``posting:`` section."""

    # Seconds between two posts: X can refuse a reply sent too soon after its parent.
    pause_seconds: float = 2.0
    # Tries for a request that failed for a passing reason (network, 5xx).
    retries: int = 4
    # First wait before a retry, doubled each time, with jitter.
    backoff_seconds: float = 1.0
    # Seconds to wait for X to answer one request.
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class DaemonSettings:
    """The daemon's settings: the config's ``daemon:`` section."""

    # A thread whose time passed while no daemon ran is still posted if it is at most
    # this late; later than that it is marked missed (and you are told).
    grace_minutes: float = 60.0
    # How often the daemon reads the queue for changes made by other processes.
    sync_seconds: float = 2.0
    log_file: str | None = None  # relative to the config's folder
    # Run when a thread fails, stays partial after its retries, or is missed.
    notify_command: str | None = None  # a shell command; THREADBOT_* variables describe it
    notify_webhook: str | None = None  # a URL that receives a JSON description (POST)


@dataclass(frozen=True)
class Config:
    platform: str = "x"
    split: SplitSettings = field(default_factory=SplitSettings)
    pricing: Pricing = field(default_factory=Pricing)
    # Without an accounts section there is one account, "default", on X, whose keys
    # come from X_API_KEY, X_API_SECRET, X_ACCESS_TOKEN and X_ACCESS_TOKEN_SECRET.
    accounts: dict[str, Account] = field(
        default_factory=lambda: {"default": Account(name="default")})
    # The account(s) a draft goes to when neither --account nor its front matter says.
    default_accounts: tuple[str, ...] = ()
    database: Path | None = None  # as written in the config, relative to it
    posting: PostingSettings = field(default_factory=PostingSettings)
    # Times without an offset (queue --at, slots) are read in this zone; None means the
    # system's own zone.
    timezone: str | None = None
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    path: Path | None = None  # the file it was read from, None for built-in defaults
    # How ``path`` was chosen: one of FOUND_BY (see ``find_config``).
    found_by: str = "defaults"
    # ``images: allow_outside_folder: true``: post images that lie (or whose symbolic
    # links point) outside the writer's folder. Off, such a draft can be previewed, but
    # neither posted nor queued.
    images_outside_folder: bool = False

    def zone(self):
        """The configured time zone as a ZoneInfo."""
        from .when import resolve_timezone

        return resolve_timezone(self.timezone)

    @property
    def folder(self) -> Path:
        """Where relative paths in the config start: its folder, else the current one."""
        return self.path.parent if self.path is not None else Path.cwd()

    @property
    def writer_folder(self) -> Path:
        """The writer's folder: the one holding ``config/`` (the config's own folder
        when the file is not in a folder named ``config``; the current folder when
        there is no config file)."""
        if self.path is None:
            return Path.cwd()
        path = self.path.absolute()
        return path.parent.parent if path.parent.name == "config" else path.parent

    def shown_path(self, path: str | os.PathLike) -> str:
        """A file's path as messages show it: relative to the writer's folder when it
        is inside it (``drafts/ideas.md``), else absolute; names such as ``<stdin>``
        are kept."""
        text = os.fspath(path)
        if text.startswith("<"):
            return text
        full = Path(os.path.normpath(os.path.join(os.getcwd(), text)))
        try:
            return full.relative_to(self.writer_folder).as_posix()
        except ValueError:
            return str(full)

    def database_path(self) -> Path:
        """The SQLite database: $THREADBOT_DB, else ``database:`` in the config
        (relative to the config's folder), else threadbot.db beside the config
        (in the current folder when there is no config file)."""
        env = os.environ.get(DB_ENV)
        if env:
            return Path(env)
        if self.database is not None:
            return self.folder / self.database
        return self.folder / "threadbot.db"

    @property
    def default_account(self) -> str:
        """The first default account (the only one, unless ``default_account`` is a list)."""
        return self.default_accounts[0] if self.default_accounts else next(iter(self.accounts))

    def account(self, name: str | None = None) -> Account:
        """The account called ``name``, else the (first) default one.

        Raises ``ConfigError`` naming the known accounts when there is no such one."""
        if name is None:
            name = self.default_account
        if name not in self.accounts:
            known = list(self.accounts)
            where = f" in {self.path}" if self.path else ""
            raise ConfigError(
                f"there is no account '{name}'{where}.{did_you_mean(name, known)} "
                f"Known accounts: {', '.join(known)}. Add it under 'accounts:' in the config."
            )
        return self.accounts[name]


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """A " Did you mean 'x'?" hint, or "" when nothing is close."""
    same_but_case = [c for c in choices if c.lower() == word.lower()]
    close = same_but_case or difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


# --- YAML with line numbers -------------------------------------------------


class LocatedMapping(dict):
    """A dict from YAML that remembers the line of each key (1-based), and each
    top-level scalar as it was written (``title: 1e5`` is the text "1e5")."""

    lines: dict[str, int]
    written: dict[str, str]


class _AliasRefused(Exception):
    def __init__(self, anchor: str, line: int):
        super().__init__(anchor)
        self.anchor, self.line = anchor, line


class _BadValue(Exception):
    """A scalar YAML parsed but could not build (``!!int x``, an impossible ``!!timestamp``)."""

    def __init__(self, reason: str, line: int):
        super().__init__(reason)
        self.reason, self.line = reason, line


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing aliases (``*name``) before anything is built: a
    few lines of them ("billion laughs") expand to gigabytes.

    Two departures from YAML 1.1's implicit types, both towards YAML 1.2 and what a
    writer means: a date-like value (``title: 2026-02-30``, ``at: 2026-12-01 09:00:00``)
    stays text, to be read by threadbot's own time parser, never turned into a date
    (PyYAML raises on impossible ones, and a title is not a date); and a number in
    scientific notation without a dot (``1e-9``, ``2E3``) is a number, not text."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _AliasRefused(str(event.anchor), event.start_mark.line)
        return super().compose_node(parent, index)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        # Explicit tags still reach constructors that raise plain Python errors
        # (``!!float abc``, ``!!timestamp 2026-13-45``, an int of 5,000 digits).
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:
            raise _BadValue(str(exc), node.start_mark.line) from None


_NoAliasLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers
            if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_NoAliasLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


def _surrogate_line(node: Any) -> int | None:
    """The 0-based line of the first scalar holding a lone surrogate (``"\\ud800"``),
    which no file, post or platform can carry, or None."""
    if isinstance(node, yaml.ScalarNode):
        text = node.value if isinstance(node.value, str) else ""
        return node.start_mark.line if any("\ud800" <= c <= "\udfff" for c in text) else None
    children: list = []
    if isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = node.value
    for child in children:
        line = _surrogate_line(child)
        if line is not None:
            return line
    return None


def load_yaml_mapping(
    text: str, *, path: str, first_line: int = 1, what: str = "file",
    error: type[ThreadbotError] = ConfigError,
) -> LocatedMapping:
    """Parse YAML text that must hold a mapping (or nothing).

    ``first_line`` is the file line where ``text`` starts, so that errors in
    front matter point at the right line of the draft.
    """
    loader = None
    try:
        loader = _NoAliasLoader(text)  # refuses control characters at once (ReaderError)
        node = loader.get_single_node()
        bad_text = _surrogate_line(node)
        if bad_text is not None:
            raise error(
                f"the {what} holds a lone surrogate escape (such as \"\\ud800\"), which is "
                "not a character and cannot be posted or saved. Write the character itself, "
                "or its full \\U0001xxxx escape.", path=path, line=first_line + bad_text)
        data = loader.construct_document(node) if node is not None else None
        # Within the try: these walk the tree as deep as it nests.
        _refuse_duplicate_keys(node, path=path, first_line=first_line, what=what, error=error)
        lines = _key_lines(node, first_line)
    except _AliasRefused as exc:
        raise error(
            f"the {what} uses a YAML alias (*{exc.anchor}), which threadbot does not allow "
            "(aliases can make a small file expand without end). Write the value out "
            "instead.", path=path, line=first_line + exc.line) from None
    except _BadValue as exc:
        raise error(
            f"the {what} holds a value YAML cannot read ({exc.reason}). Fix the value on "
            "that line, or put it in quotes to keep it as text.",
            path=path, line=first_line + exc.line) from None
    except RecursionError:
        raise error(
            f"the {what} nests lists or mappings hundreds of levels deep, which threadbot "
            "does not read. Check for a run of '[' or '{' left open.", path=path,
            line=first_line) from None
    except yaml.reader.ReaderError as exc:
        raise error(
            f"the {what} holds a control character (U+{exc.character:04X}), which YAML does "
            "not allow. Delete it (it is invisible in most editors: retype the line).",
            path=path, line=first_line + text.count("\n", 0, exc.position)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = first_line + mark.line if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(
            f"the {what} is not valid YAML ({problem}). Fix the YAML syntax on that line "
            "(check indentation, colons and quotes).",
            path=path,
            line=line,
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise error(
            f"the {what} must be a set of 'key: value' lines, not a {type(data).__name__}.",
            path=path,
            line=first_line,
        )
    result = LocatedMapping(data)
    result.lines = lines
    result.written = {str(key.value): value.value for key, value in node.value
                      if isinstance(value, yaml.ScalarNode)} \
        if isinstance(node, yaml.MappingNode) else {}  # "~" or nothing: no keys
    return result


def _refuse_duplicate_keys(node: Any, *, path: str, first_line: int, what: str,
                           error: type[ThreadbotError]) -> None:
    """YAML lets a later key silently replace an earlier one (a second ``accounts:``
    drops the first); threadbot refuses it, naming both lines."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = first_line + key_node.start_mark.line
            name = str(key_node.value)
            if name in seen:
                raise error(
                    f"'{name}' appears twice in the {what} (lines {seen[name]} and {line}); "
                    "the second would silently replace the first. Merge them into one.",
                    path=path, line=line)
            seen[name] = line
            _refuse_duplicate_keys(value_node, path=path, first_line=first_line, what=what,
                                   error=error)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(item, path=path, first_line=first_line, what=what,
                                   error=error)


def _key_lines(node: Any, first_line: int, prefix: str = "") -> dict[str, int]:
    """Map "key" and "key.sub" to the 1-based line where each key is written."""
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            name = f"{prefix}{key_node.value}"
            lines[name] = first_line + key_node.start_mark.line
            lines.update(_key_lines(value_node, first_line, prefix=f"{name}."))
    return lines


# --- validation ---------------------------------------------------------------


def check_keys(
    data: dict, allowed: list[str], *, path: str, lines: dict[str, int], prefix: str = "",
    where: str = "", error: type[ThreadbotError] = ConfigError,
) -> None:
    for key in data:
        if key not in allowed:
            name = f"{prefix}{key}"
            raise error(
                f"unknown key '{name}'{where}.{did_you_mean(str(key), allowed)} "
                f"Known keys: {', '.join(allowed)}.",
                path=path,
                line=lines.get(name),
            )


def parse_split_settings(
    data: dict, base: SplitSettings, *, path: str, lines: dict[str, int], prefix: str = "",
    error: type[ThreadbotError] = ConfigError,
) -> SplitSettings:
    """Apply the split keys found in ``data`` on top of ``base``, checking each value."""
    changes: dict[str, str] = {}
    for key, attr in SPLIT_KEYS.items():
        if key not in data:
            continue
        value = data[key]
        line = lines.get(f"{prefix}{key}")
        if key in ("continuation", "thread_marker"):
            # "off", false and null all mean "none" for the markers.
            if value is None or value is False or value == "off":
                value = ""
            if not isinstance(value, str):
                raise error(
                    f"'{prefix}{key}' must be text (or \"\" to turn it off), not {value!r}.",
                    path=path,
                    line=line,
                )
        else:
            if value is False and key == "numbering":
                value = "none"
            if key == "packing" and isinstance(value, str):
                value = PACKING_ALIASES.get(value, value)
            choices = _CHOICES[key]
            if value not in choices:
                raise error(
                    f"'{prefix}{key}' cannot be {value!r}.{did_you_mean(str(value), choices)} "
                    f"Choose one of: {', '.join(repr(c) for c in choices)}.",
                    path=path,
                    line=line,
                )
        changes[attr] = value
    return replace(base, **changes)


def check_platform(value: Any, *, path: str | None, line: int | None,
                   error: type[ThreadbotError] = ConfigError) -> str:
    if value not in PLATFORMS:
        raise error(
            f"unknown platform {value!r}.{did_you_mean(str(value), PLATFORMS)} "
            f"Choose one of: {', '.join(PLATFORMS)}.",
            path=path,
            line=line,
        )
    return value


def _parse_config(data: LocatedMapping, path: str) -> Config:
    lines = data.lines
    check_keys(data, ["platform", "split", "pricing", "accounts", "default_account",
                      "database", "posting", "timezone", "daemon", "images"], path=path,
               lines=lines)
    config = Config(path=Path(path))
    if "platform" in data:
        config = replace(
            config, platform=check_platform(data["platform"], path=path, line=lines["platform"])
        )
    if "split" in data:
        split = data["split"] or {}
        if not isinstance(split, dict):
            raise ConfigError("'split' must hold 'key: value' lines.", path=path,
                              line=lines["split"])
        check_keys(split, list(SPLIT_KEYS), path=path, lines=lines, prefix="split.")
        config = replace(config, split=parse_split_settings(
            split, SplitSettings(), path=path, lines=lines, prefix="split."))
    if "pricing" in data:
        config = replace(config, pricing=_parse_pricing(data["pricing"], path, lines))
    if "accounts" in data:
        config = replace(config, accounts=_parse_accounts(data["accounts"], path, lines,
                                                          config.split))
    if "default_account" in data:
        names = data["default_account"]
        names = names if isinstance(names, list) and names else [names]
        for name in names:
            if not isinstance(name, str) or name not in config.accounts:
                raise ConfigError(
                    f"'default_account' names {name!r}, which is not under 'accounts:'."
                    f"{did_you_mean(str(name), list(config.accounts))}",
                    path=path, line=lines.get("default_account"))
        config = replace(config, default_accounts=tuple(dict.fromkeys(names)))
    if "database" in data:
        value = data["database"]
        if not isinstance(value, str) or not value.strip():
            raise ConfigError("'database' must be a file path such as threadbot.db.",
                              path=path, line=lines.get("database"))
        config = replace(config, database=Path(value).expanduser())
    if "posting" in data:
        config = replace(config, posting=_parse_posting(data["posting"], path, lines))
    if "timezone" in data:
        from .when import resolve_timezone

        resolve_timezone(str(data["timezone"]), path=path, line=lines.get("timezone"))
        config = replace(config, timezone=str(data["timezone"]))
    if "daemon" in data:
        config = replace(config, daemon=_parse_daemon(data["daemon"], path, lines))
    if "images" in data:
        images = data["images"] or {}
        if not isinstance(images, dict):
            raise ConfigError("'images' must hold 'allow_outside_folder: true' or false.",
                              path=path, line=lines.get("images"))
        check_keys(images, ["allow_outside_folder"], path=path, lines=lines,
                   prefix="images.")
        allow = images.get("allow_outside_folder", False)
        if not isinstance(allow, bool):
            raise ConfigError(f"'images.allow_outside_folder' must be true or false, not "
                              f"{allow!r}.", path=path,
                              line=lines.get("images.allow_outside_folder"))
        config = replace(config, images_outside_folder=allow)
    return config


def _parse_daemon(data: Any, path: str, lines: dict[str, int]) -> DaemonSettings:
    if not isinstance(data, dict):
        raise ConfigError("'daemon' must hold 'key: value' lines.", path=path,
                          line=lines.get("daemon"))
    check_keys(data, ["grace_minutes", "sync_seconds", "log_file", "notify"], path=path,
               lines=lines, prefix="daemon.")
    values: dict[str, Any] = {}
    for name in ("grace_minutes", "sync_seconds"):
        if name in data:
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (
                    not math.isfinite(value)) or (name == "sync_seconds" and not 0 < value <= 5) \
                    or (name == "grace_minutes" and value > 10080):
                limit = " between 0 and 5" if name == "sync_seconds" else \
                    " between 0 and 10080 (a week)"
                raise ConfigError(f"'daemon.{name}' must be a number{limit}, not {value!r}.",
                                  path=path, line=lines.get(f"daemon.{name}"))
            values[name] = float(value)
    if "log_file" in data:
        values["log_file"] = _text(data["log_file"], "daemon.log_file", path, lines)
    notify = data.get("notify") or {}
    if not isinstance(notify, dict):
        raise ConfigError("'daemon.notify' must hold 'command:' and/or 'webhook:'.",
                          path=path, line=lines.get("daemon.notify"))
    check_keys(notify, ["command", "webhook"], path=path, lines=lines, prefix="daemon.notify.")
    if "command" in notify:
        values["notify_command"] = _text(notify["command"], "daemon.notify.command", path, lines)
    if "webhook" in notify:
        url = _text(notify["webhook"], "daemon.notify.webhook", path, lines)
        values["notify_webhook"] = _webhook_url(url, path, lines.get("daemon.notify.webhook"))
    return DaemonSettings(**values)


def _webhook_url(url: str, path: str, line: int | None) -> str:
    """A webhook address checked when the config is read (scheme, host, port), so that
    the daemon never meets a bad one at 3 a.m. A user name or password in it is
    refused: it would sit in the config and could reach a log."""
    from urllib.parse import urlsplit

    name = "'daemon.notify.webhook'"
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ConfigError(f"{name} is not a valid URL (check its port and brackets).",
                          path=path, line=line) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http(s) URL with a host, such as "
                          "https://example.com/threadbot-hook.", path=path, line=line)
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{name} holds a user name or password (user:password@host), which "
                          "threadbot does not send and will not keep in the config. Use a "
                          "webhook address whose path carries its own token, without them.",
                          path=path, line=line)
    if port == 0:
        raise ConfigError(f"{name} has port 0; give the port the webhook listens on.",
                          path=path, line=line)
    return url.strip()


def _valid_host_and_port(url: str) -> bool:
    """Does ``url`` name a host, and a port from 1 to 65535 if any (brackets closed)?"""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return False
    return bool(parts.hostname) and port != 0


def _text(value: Any, name: str, path: str, lines: dict[str, int]) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"'{name}' must be text, not {value!r}.", path=path,
                          line=lines.get(name))
    return value


def _parse_accounts(data: Any, path: str, lines: dict[str, int],
                    split: SplitSettings) -> dict[str, Account]:
    if not isinstance(data, dict) or not data:
        raise ConfigError(
            "'accounts' must name at least one account, e.g.\n  accounts:\n    me:\n"
            "      platform: x", path=path, line=lines.get("accounts"))
    return {str(name): _parse_account(str(name), body, path, lines, split)
            for name, body in data.items()}


def _parse_account(name: str, body: Any, path: str, lines: dict[str, int],
                   split: SplitSettings) -> Account:
    from .platforms import REGISTRY, spec

    prefix = f"accounts.{name}."
    body = body or {}
    if not isinstance(body, dict):
        raise ConfigError(f"account '{name}' must hold 'key: value' lines.", path=path,
                          line=lines.get(f"accounts.{name}"))
    check_keys(body, ["platform", "api_base_url", "env", "slots", "split", "visibility",
                      "reply_visibility", "handle"], path=path, lines=lines, prefix=prefix)
    platform = check_platform(body.get("platform", "x"), path=path,
                              line=lines.get(prefix + "platform"))
    if platform not in REGISTRY:
        raise ConfigError(f"account '{name}': posting to {platform} is not supported yet; "
                          f"accounts can post to {', '.join(REGISTRY)}.", path=path,
                          line=lines.get(prefix + "platform"))
    try:
        platform_spec = spec(platform)
    except ConfigError as error:
        raise ConfigError(f"account '{name}': {error.message}", path=path,
                          line=lines.get(prefix + "platform")) from None
    url = body.get("api_base_url", platform_spec.default_api_base_url)
    if url is None:
        raise ConfigError(f"account '{name}' needs 'api_base_url', the address of its "
                          f"{platform_spec.title} server, e.g. api_base_url: "
                          "https://mastodon.social", path=path,
                          line=lines.get(f"accounts.{name}"))
    if not isinstance(url, str) or not url.startswith(("https://", "http://")) \
            or not _valid_host_and_port(url):
        example = platform_spec.default_api_base_url or "https://mastodon.social"
        raise ConfigError(f"'{prefix}api_base_url' must be a URL such as "
                          f"{example}, not {url!r}.", path=path,
                          line=lines.get(prefix + "api_base_url"))
    env = dict(platform_spec.env)
    if "env" in body:
        given = body["env"] or {}
        if not isinstance(given, dict):
            raise ConfigError(f"'{prefix}env' must map each key to a variable name.",
                              path=path, line=lines.get(prefix + "env"))
        check_keys(given, list(platform_spec.env), path=path, lines=lines,
                   prefix=prefix + "env.")
        for key, variable in given.items():
            if not isinstance(variable, str) or not variable.isidentifier():
                raise ConfigError(
                    f"'{prefix}env.{key}' must be the NAME of an environment variable "
                    "(the key itself goes in the environment or .env, never here).",
                    path=path, line=lines.get(f"{prefix}env.{key}"))
            env[key] = variable
    slots = body.get("slots") or []
    if isinstance(slots, str):
        slots = [slots]
    if not isinstance(slots, list) or not all(isinstance(x, str) for x in slots):
        raise ConfigError(f"'{prefix}slots' must be a list such as "
                          '["mon-fri 09:00", "sat 11:30"].', path=path,
                          line=lines.get(prefix + "slots"))
    if slots:
        from .when import parse_slots

        parse_slots(slots, path=path, line=lines.get(prefix + "slots"))
    account_split = None
    if "split" in body:
        given = body["split"] or {}
        if not isinstance(given, dict):
            raise ConfigError(f"'{prefix}split' must hold 'key: value' lines.", path=path,
                              line=lines.get(prefix + "split"))
        check_keys(given, list(SPLIT_KEYS), path=path, lines=lines, prefix=prefix + "split.")
        account_split = parse_split_settings(given, split, path=path, lines=lines,
                                             prefix=prefix + "split.")
    visibility = {}
    for key in ("visibility", "reply_visibility"):
        if key in body:
            value = body[key]
            if platform_spec.first_visibility is None:
                raise ConfigError(f"'{prefix}{key}': {platform_spec.title} posts have no "
                                  "visibility setting. Remove this line.", path=path,
                                  line=lines.get(prefix + key))
            if value not in VISIBILITIES:
                raise ConfigError(
                    f"'{prefix}{key}' cannot be {value!r}.{did_you_mean(str(value), VISIBILITIES)}"
                    f" Choose one of: {', '.join(VISIBILITIES)}.", path=path,
                    line=lines.get(prefix + key))
            visibility[key] = value
    handle = body.get("handle")
    if platform_spec.needs_handle:
        if not isinstance(handle, str) or not handle.strip(" @"):
            raise ConfigError(f"account '{name}' needs 'handle', the {platform_spec.title} "
                              "handle it posts as, e.g. handle: yourname.bsky.social",
                              path=path, line=lines.get(prefix + "handle",
                                                        lines.get(f"accounts.{name}")))
        handle = handle.strip().lstrip("@")
    elif handle is not None:
        raise ConfigError(f"'{prefix}handle': {platform_spec.title} accounts are found from "
                          "their keys; remove this line.", path=path,
                          line=lines.get(prefix + "handle"))
    return Account(name=name, platform=platform, api_base_url=url.rstrip("/"), env=env,
                   slots=tuple(slots), split=account_split, handle=handle, **visibility)


def _parse_posting(data: Any, path: str, lines: dict[str, int]) -> PostingSettings:
    if not isinstance(data, dict):
        raise ConfigError("'posting' must hold 'key: value' lines.", path=path,
                          line=lines.get("posting"))
    names = [f.name for f in fields(PostingSettings)]
    check_keys(data, names, path=path, lines=lines, prefix="posting.")
    values: dict[str, Any] = {}
    for name, value in data.items():
        low, high = _POSTING_RANGES[name]
        whole = name == "retries"
        ok = (not isinstance(value, bool) and isinstance(value, int if whole else (int, float))
              and math.isfinite(value) and low <= value <= high
              and not (name == "timeout_seconds" and value <= 0))
        if not ok:
            kind = "whole number" if whole else "number of seconds"
            above = "above 0" if name == "timeout_seconds" else f"from {low:g}"
            raise ConfigError(
                f"'posting.{name}' must be a {kind} {above} to {high:g}, not {value!r}.",
                path=path, line=lines.get(f"posting.{name}"))
        values[name] = value
    return PostingSettings(**values)


# Sensible bounds for each posting tunable: beyond them a typo (retries: 1000000) would
# make threadbot retry for days, or give up before any server could answer.
_POSTING_RANGES = {
    "pause_seconds": (0, 3600),
    "retries": (1, 20),
    "backoff_seconds": (0, 300),
    "timeout_seconds": (0, 600),
}


def _parse_pricing(data: Any, path: str, lines: dict[str, int]) -> Pricing:
    if not isinstance(data, dict):
        raise ConfigError("'pricing' must hold 'x:' with 'post' and 'post_with_url'.",
                          path=path, line=lines.get("pricing"))
    check_keys(data, ["x"], path=path, lines=lines, prefix="pricing.")
    x = data.get("x") or {}
    if not isinstance(x, dict):
        raise ConfigError("'pricing.x' must hold 'post' and 'post_with_url'.",
                          path=path, line=lines.get("pricing.x"))
    names = [f.name for f in fields(Pricing)]
    check_keys(x, names, path=path, lines=lines, prefix="pricing.x.")
    values = {}
    for name in names:
        if name in x:
            value = x[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 \
                    or not math.isfinite(value):
                raise ConfigError(
                    f"'pricing.x.{name}' must be a price in dollars such as 0.015, not {value!r}.",
                    path=path, line=lines.get(f"pricing.x.{name}"),
                )
            values[name] = float(value)
    return Pricing(**values)


# The largest draft or config file threadbot reads, in bytes: far beyond any writer's
# draft, and small enough that a wrong path (a disk image, /dev/zero) fails at once.
MAX_TEXT_BYTES = 10 * 1024 * 1024


def read_text_file(path: Path, *, what: str, error: type[ThreadbotError],
                   max_bytes: int = MAX_TEXT_BYTES) -> str:
    """Read a UTF-8 text file of at most ``max_bytes`` bytes, turning every way it can
    fail into a clear error. Only a regular file is read: a FIFO, a device or a socket
    is refused without waiting on it (it is opened non-blocking and checked first)."""
    shown = str(path)
    folder = f"this is a folder, not a {what}. Give the path of a file in it."
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error(f"no such {what}. Check the path and the current folder.",
                    path=shown) from None
    except IsADirectoryError:
        raise error(folder, path=shown) from None
    except OSError as exc:  # e.g. a name too long, a loop of symbolic links
        raise error(f"cannot read this {what}: {exc.strerror}.", path=shown) from None
    # Checked on the descriptor before wrapping it: Python refuses to wrap a folder's.
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise error(folder, path=shown)
        raise error(f"this is not a regular file (a pipe, a device or a socket), so it "
                    f"cannot be a {what}. Give the path of a text file.", path=shown)
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise error(f"cannot read this {what}: {exc.strerror}.", path=shown) from None
    return decode_text(check_size(data, max_bytes, shown=shown, what=what, error=error),
                       shown=shown, what=what, error=error)


def check_size(data: bytes, max_bytes: int, *, shown: str, what: str,
               error: type[ThreadbotError]) -> bytes:
    """``data`` if it holds at most ``max_bytes`` bytes, else a clear error."""
    if len(data) > max_bytes:
        raise error(f"this {what} is larger than {max_bytes // (1024 * 1024)} MB, which no "
                    f"{what} needs to be. Check that this is the right file.", path=shown)
    return data


def decode_text(data: bytes, *, shown: str, what: str, error: type[ThreadbotError]) -> str:
    if b"\x00" in data:
        raise error(
            f"this looks like a binary file, not a {what}. "
            "Save it as plain text (UTF-8) or give the right file.",
            path=shown,
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(
            f"this {what} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at column {column}). "
            "Re-save it with UTF-8 encoding.",
            path=shown,
            line=line,
        ) from None
    return normalise_text(text)


def normalise_text(text: str) -> str:
    """Without a byte-order mark, with every line ending as "\\n"."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _is_file(path: Path) -> bool:
    """Is ``path`` a file? One the system cannot even look up (a name too long) is
    taken as one, so that reading it says the system's reason."""
    try:
        return path.is_file()
    except OSError:
        return True


# How the config file was chosen, as ``Config.found_by`` says it.
FOUND_BY = ("--config", CONFIG_ENV, "search", "defaults")


def find_config(explicit: str | os.PathLike | None = None,
                start: str | os.PathLike | None = None) -> tuple[Path | None, str]:
    """The config file to read (absolute; ``None`` for the built-in defaults) and how it
    was chosen (one of ``FOUND_BY``), in the order the module docstring gives.
    ``start`` is the folder the search begins in (default: the current one).

    Raises ``ConfigError`` when ``--config`` or ``THREADBOT_CONFIG`` names no file."""
    if explicit is not None:
        path = Path(explicit)
        if not _is_file(path):
            what = "a folder, not a config file" if path.is_dir() else "no config file here"
            raise ConfigError(f"{what}. Check the path given to --config.", path=str(path))
        return path.absolute(), "--config"
    env = os.environ.get(CONFIG_ENV)
    if env:
        path = Path(env)
        if not _is_file(path):
            what = "a folder, not a config file" if path.is_dir() else "no config file here"
            raise ConfigError(
                f"{what}, but {CONFIG_ENV} points to it. Fix or unset {CONFIG_ENV}.",
                path=str(path),
            )
        return path.absolute(), CONFIG_ENV
    folder = Path(start) if start is not None else Path.cwd()
    folder = folder.absolute()
    for candidate in (folder, *folder.parents):
        path = candidate / DEFAULT_CONFIG_PATH
        try:
            if path.is_file():
                return path, "search"
        except OSError:  # a folder we may not look into: go on upwards, as git does
            continue
    return None, "defaults"


def _shown(path: Path) -> str:
    """The config's path in messages: relative when it is below the current folder."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Load the configuration, found as the module docstring describes."""
    found, how = find_config(path)
    if found is None:
        return Config()
    shown = _shown(found)
    text = read_text_file(Path(shown), what="config file", error=ConfigError)
    data = load_yaml_mapping(text, path=shown, what="config file")
    # Kept as shown (relative below the current folder) so that messages stay short;
    # the current folder does not change while threadbot runs.
    return replace(_parse_config(data, shown), path=Path(shown), found_by=how)
