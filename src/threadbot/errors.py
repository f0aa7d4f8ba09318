"""Every error a user can see, and the exit code each one maps to.

The CLI turns a ``ThreadbotError`` into its message and exit code in one place
(``threadbot.cli.main``); nothing else in the package prints errors or exits.
A message says what happened and what to do next, and names the file (and
line) where that applies.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes, documented in the README."""

    OK = 0
    UNEXPECTED = 1  # a bug in threadbot: please report it
    USAGE = 2  # bad command-line usage only: unknown option or value (click's own code)
    DRAFT = 3  # the draft cannot be read or is malformed
    CONFIG = 4  # the configuration file is missing, malformed or has bad values
    MEDIA = 5  # an image is missing, too large, of the wrong type, or too many
    OVER_LIMIT = 6  # the thread cannot be made to fit (should not happen: reported as a bug)
    PLATFORM = 7  # the platform failed or could not be reached; the thread is resumable
    AUTH = 8  # credentials missing or rejected
    RATE_LIMITED = 9  # rate limit or 24-hour cap reached; the thread is resumable later
    REJECTED = 10  # the platform refused a post (duplicate content, bad request)
    UNCERTAIN = 11  # a post may or may not have gone out; threadbot stopped to be safe
    ALREADY_POSTED = 12  # this draft was already posted to this account (use --again)
    NOT_FOUND = 13  # no thread with that id in the database
    BUSY = 14  # another process is posting that thread, or another daemon runs
    WRONG_STATE = 15  # the thread's status does not allow that (e.g. cancel a posted one)
    DATABASE = 16  # the database cannot be read or written (read-only, disk full, damaged),
    # or its file was deleted or replaced under a running daemon
    NO_TERMINAL = 17  # it would ask before acting, but there is no terminal: add --yes
    NO_TIME = 18  # nothing says when to post: give --at WHEN, or slots to the account
    INTERRUPTED = 130  # Ctrl-C; the thread is resumable


class ThreadbotError(Exception):
    """Base class: a problem the user can fix, with a message saying how."""

    exit_code: ExitCode = ExitCode.UNEXPECTED

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        self.message = message
        self.path = path
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        return f"{where}{self.message}"


class DraftError(ThreadbotError):
    exit_code = ExitCode.DRAFT


class ConfigError(ThreadbotError):
    exit_code = ExitCode.CONFIG


class MediaError(ThreadbotError):
    exit_code = ExitCode.MEDIA


class UsageError(ThreadbotError):
    """The command line itself is wrong (an option's value, options that clash). Any
    other reason gets its own class and exit code."""

    exit_code = ExitCode.USAGE


class NoTerminalError(ThreadbotError):
    """A question must be answered before acting, and there is no terminal to ask."""

    exit_code = ExitCode.NO_TERMINAL


class NoTimeError(ThreadbotError):
    """Nothing says when a thread is to go out (no --at, no ``at:``, no free slot)."""

    exit_code = ExitCode.NO_TIME


class WrongStateError(ThreadbotError):
    """The thread's status does not allow what was asked."""

    exit_code = ExitCode.WRONG_STATE


class SplitError(ThreadbotError):
    exit_code = ExitCode.OVER_LIMIT


class CredentialsError(ThreadbotError):
    """An account's keys are missing (rejected keys are ``platforms.errors.AuthError``)."""

    exit_code = ExitCode.AUTH


class AlreadyPostedError(ThreadbotError):
    exit_code = ExitCode.ALREADY_POSTED


class NotFoundError(ThreadbotError):
    exit_code = ExitCode.NOT_FOUND


class StoreError(ThreadbotError):
    """The database cannot be opened or is from a newer threadbot."""

    exit_code = ExitCode.CONFIG


class DatabaseGoneError(ThreadbotError):
    """The database file was deleted or replaced under a running daemon."""

    exit_code = ExitCode.DATABASE


class DatabaseError(StoreError):
    """The database cannot be read or written: read-only, disk full, damaged, I/O error.
    The step that met it wrote nothing (its transaction was rolled back)."""

    exit_code = ExitCode.DATABASE
