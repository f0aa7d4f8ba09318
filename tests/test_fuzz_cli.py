"""Random input at every command: no run may end in "Unexpected error" (exit 1) or a
traceback, every exit code is a documented one, and a --json run prints one whole JSON
value or nothing on stdout (the hardening issue, "Never a traceback": find the rest of
the kind).

Each example writes a random draft (random bytes, or random YAML front matter over random
text), a random config (random YAML, or threadbot's keys with random values) and runs one
command with random option values, in a writer's folder whose account posts to a fake X
on 127.0.0.1. Nothing can reach the network: values that name a server, a file to write
or a shell command are drawn from safe lists, and every other host is unreachable.
"""

from __future__ import annotations

import json
import os
import socket
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import run_cli
from threadbot.errors import ExitCode

pytestmark = pytest.mark.slow

# Per command; THREADBOT_FUZZ_EXAMPLES=1000 searches longer.
EXAMPLES = int(os.environ.get("THREADBOT_FUZZ_EXAMPLES", "150"))
DOCUMENTED = {int(code) for code in ExitCode} - {int(ExitCode.UNEXPECTED)}

# --- random text and values ---------------------------------------------------------------

SURROGATES = st.sampled_from(["\ud800", "\udfff", "\udc80", "a\udcffb"])
ODD = st.sampled_from([
    "", " ", "-", "--", "0", "-1", "1e-9", ".nan", ".inf", "null", "~", "yes", "off",
    "2026-13-45", "2026-02-30", "9999-12-31T23:59:59-05:00", "0001-01-01 00:00", "+2h",
    "tomorrow 09:00", "mon 9:30am", "now", "+99999999999h", "🧵", "👩🏽‍💻" * 40, "x" * 400,
    "…", "\u202e", "\ufeff", "a\u0301" * 50, "https://example.com/" + "a" * 60, "@a@b.c",
    "![alt](/dev/zero)", "![](../../../etc/passwd)", "<!--", "---", "\t", "\r\n",
])
TEXT = st.one_of(st.text(alphabet=st.characters(exclude_characters="\x00"), max_size=40),
                 ODD, SURROGATES)
PLAIN = st.text(alphabet=st.characters(exclude_characters="\x00"), max_size=40)
# Undecodable arguments are refused before anything else (test_never_a_traceback checks
# that): drawn here, they would stop most runs at the door.
ARG = st.one_of(PLAIN, ODD)
NUMBER = st.one_of(st.integers(), st.floats(), st.sampled_from([10**30, -(10**30), 2**63]))
SCALAR = st.one_of(st.none(), st.booleans(), NUMBER, TEXT)
VALUE = st.recursive(SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=8)

SPLIT = {"packing": VALUE, "break": VALUE, "numbering": st.one_of(
    st.sampled_from(["none", "1/N", "1/", "(1/N)"]), VALUE),
    "numbering_position": VALUE, "continuation": VALUE, "thread_marker": VALUE}
FRONT_MATTER = {"title": VALUE, "platform": st.one_of(
    st.sampled_from(["x", "mastodon", "bluesky"]), VALUE), "account": st.one_of(
    st.sampled_from(["main", "other", ["main"], ["main", "main"]]), VALUE),
    "at": VALUE, "lang": VALUE, "cw": VALUE, "visibility": VALUE,
    "reply_visibility": VALUE, **SPLIT}


def some_of(fields: dict, extra: st.SearchStrategy = TEXT) -> st.SearchStrategy:
    """A mapping holding some of ``fields`` (each with its strategy) and maybe a stray key."""
    return st.fixed_dictionaries({}, optional=fields).flatmap(
        lambda known: st.dictionaries(extra, VALUE, max_size=1).map(
            lambda stray: {**stray, **known}))


def account(base_url: str) -> st.SearchStrategy:
    return some_of({
        "platform": st.one_of(st.sampled_from(["x", "mastodon", "bluesky"]), VALUE),
        # Only servers on this machine: the fake X, or a port where nothing listens.
        "api_base_url": st.sampled_from([base_url, "http://127.0.0.1:9", "ftp://x", 3, None,
                                         "https://", "http://[::1"]),
        "env": st.one_of(VALUE, st.just({"api_key": "X_API_KEY"})),
        "slots": st.one_of(VALUE, st.lists(TEXT, max_size=3),
                           st.just(["mon-fri 09:00", "sat 11:30"])),
        "split": st.one_of(VALUE, some_of(SPLIT)),
        "visibility": VALUE, "reply_visibility": VALUE,
        "handle": st.one_of(VALUE, st.just("me.bsky.social")),
    })


# A tunable that makes threadbot wait: small, or out of range (refused before any wait).
SECONDS = st.one_of(st.sampled_from([0, 0.01, -1, 10**9, float("nan"), float("inf")]), TEXT)
QUICK = {"pause_seconds": 0, "backoff_seconds": 0.01, "timeout_seconds": 5}


def config(base_url: str) -> st.SearchStrategy:
    """threadbot's config keys with random values; the accounts post to the fake X."""
    main = account(base_url).map(lambda body: {"platform": "x", "api_base_url": base_url,
                                               **body})
    others = st.dictionaries(st.just("other"), account(base_url), max_size=1)
    rest = some_of({
        "platform": st.one_of(st.sampled_from(["x", "mastodon", "bluesky"]), VALUE),
        "split": st.one_of(VALUE, some_of(SPLIT)),
        "pricing": st.one_of(VALUE, some_of({"x": st.one_of(VALUE, some_of(
            {"post": NUMBER, "post_with_url": st.one_of(NUMBER, VALUE)}))})),
        "default_account": st.one_of(st.sampled_from(["main", "other", ["main", "other"]]),
                                     VALUE),
        # Paths the run may write: inside the folder, or where nothing can be written.
        # (Never a device: SQLite would create its journal beside it, in /dev.)
        "database": st.sampled_from(["db/threadbot.db", "threadbot.db", "", 3, None,
                                     "/proc/no/such.db", "../drafts", "../drafts/d.md",
                                     "."]),
        "posting": st.one_of(st.just(QUICK), SCALAR, some_of({
            "pause_seconds": SECONDS, "retries": st.one_of(NUMBER, TEXT),
            "backoff_seconds": SECONDS, "timeout_seconds": SECONDS}).map(
                lambda given: {**QUICK, **given})),
        "timezone": st.one_of(st.sampled_from(["Europe/Berlin", "UTC", "Mars/Olympus"]),
                              VALUE),
        "daemon": st.one_of(VALUE, some_of({
            "grace_minutes": st.one_of(NUMBER, VALUE),
            "sync_seconds": st.one_of(NUMBER, VALUE),
            "log_file": st.sampled_from(["daemon.log", "", 3, "/proc/no/such.log"]),
            "notify": st.one_of(VALUE, some_of({
                "command": st.sampled_from(["true", "", 3, None, "exit 3"]),
                "webhook": st.sampled_from(["http://127.0.0.1:9/hook", "ftp://x", "no url",
                                            "https://u:p@127.0.0.1:9/", 3]),
            })),
        })),
    })
    return st.tuples(rest, main, others).map(
        lambda parts: {"posting": QUICK, **parts[0], "accounts": {"main": parts[1],
                                                                  **parts[2]}})


def dump(data: object) -> str:
    """YAML for ``data``; the dumper may refuse some values (it then writes their repr)."""
    try:
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:
        return repr(data) + "\n"


YAMLISH = st.text(alphabet=st.sampled_from(list(":-[]{}!&*#|>'\"?,%@` \n\t\\0123abc.~")),
                  max_size=80)


def raw_lines(keys: list[str]) -> st.SearchStrategy:
    """``key: value`` lines with the value as a writer types it, unquoted: YAML decides
    its type (a date, a float, an escape in double quotes...)."""
    value = st.one_of(ODD, TEXT.map(lambda t: t.replace("\n", " ")),
                      st.sampled_from(['"\\ud800"', '"\\U0001F9F5"', "!!int x",
                                       "!!timestamp 2026-13-45", "1e-9", "[1, 2", "*x"]))
    line = st.tuples(st.sampled_from(keys), value).map(lambda kv: f"{kv[0]}: {kv[1]}\n")
    return st.lists(line, max_size=5).map("".join)


def yaml_text(known: st.SearchStrategy, keys: list[str]) -> st.SearchStrategy:
    """Well-formed YAML of ``known`` keys, values typed unquoted, or YAML-like noise."""
    return st.one_of(known.map(dump), raw_lines(keys), YAMLISH,
                     st.tuples(known.map(dump), YAMLISH).map("".join))


BODY = st.one_of(TEXT, st.lists(st.one_of(TEXT, st.sampled_from(
    ["\n\n", "\n---\n", "![a cat](pic.png)", "![](pic.png)", "<!-- note -->", "\n"])),
    max_size=12).map("".join))


def encoded(text: str) -> bytes:
    # Lone surrogates become the bytes of a "UTF-8" surrogate, which a file may hold.
    return text.encode("utf-8", "surrogatepass")


DRAFT = st.one_of(
    st.just(b"A short draft.\n\nIn two paragraphs, with a picture.\n![a cat](pic.png)\n"),
    st.binary(max_size=400),
    BODY.map(encoded),
    st.tuples(yaml_text(some_of(FRONT_MATTER), list(FRONT_MATTER)), BODY).map(
        lambda parts: encoded(f"---\n{parts[0]}---\n{parts[1]}")),
)

# --- commands and their options -----------------------------------------------------------


def flag(name: str) -> st.SearchStrategy:
    return st.sampled_from([[], [name]])


def option(name: str, values: st.SearchStrategy = ARG) -> st.SearchStrategy:
    # Mostly left out, so that most runs get past the options to the draft and config.
    return st.one_of(st.just([]), st.just([]), st.just([]),
                     values.map(lambda value: [name, value]))


SPLIT_OPTIONS = [
    option("--packing", st.one_of(st.sampled_from(["natural", "compact"]), ARG)),
    option("--break", st.sampled_from(["auto", "paragraph"])),
    option("--numbering", st.sampled_from(["none", "1/N", "1/", "(1/N)"])),
    option("--numbering-position", st.sampled_from(["before", "after"])),
    option("--continuation"), option("--thread-marker"), flag("--json"),
]
ACCOUNT = option("--account", st.one_of(st.sampled_from(["main", "other"]), ARG))
PLATFORM = option("--platform", st.one_of(st.sampled_from(["x", "mastodon", "bluesky"]), ARG))
THREAD_ID = st.one_of(st.integers(1, 4).map(str), st.integers(1, 4).map(str),
                      st.integers(-3, 6).map(str), st.sampled_from(
    ["99999999999999999999", "0x1", "1.5", "", "-0"]), ARG)
DRAFT_ARG = st.sampled_from(["drafts/d.md", "drafts/d.md", "-", "drafts", "nowhere.md",
                             "/dev/zero", "a" * 5000, "drafts/pic.png"])
# The global --config: mostly the folder's own; else a file that is no config, or none.
CONFIG_ARG = st.one_of(st.just([]), st.just([]), st.just([]), st.sampled_from(
    ["drafts/d.md", "nowhere.yaml", "drafts", "/dev/zero", "a" * 5000, ""]).map(
        lambda path: ["--config", path]))


def command(*parts: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(CONFIG_ARG, *parts).map(
        lambda pieces: [piece for part in pieces for piece in part])


def word(*words: str) -> st.SearchStrategy:
    return st.just(list(words))


COMMANDS = {
    "preview": command(word("preview"), DRAFT_ARG.map(lambda d: [d]), ACCOUNT, PLATFORM,
                       *SPLIT_OPTIONS),
    "post --dry-run": command(word("post", "--dry-run"), DRAFT_ARG.map(lambda d: [d]),
                              ACCOUNT, PLATFORM, *SPLIT_OPTIONS),
    "post": command(word("post", "--yes"), DRAFT_ARG.map(lambda d: [d]), ACCOUNT,
                    flag("--again"), *SPLIT_OPTIONS),
    "queue": command(word("queue"), DRAFT_ARG.map(lambda d: [d]), ACCOUNT,
                     st.one_of(option("--at", st.one_of(st.sampled_from(
                         ["+2h", "+1d", "tomorrow 09:00", "2099-01-01 10:00"]), ARG)),
                         flag("--now")), flag("--again"),
                     *SPLIT_OPTIONS),
    "rehearse": command(word("rehearse"), DRAFT_ARG.map(lambda d: [d]), ACCOUNT,
                        *SPLIT_OPTIONS),
    "list": command(word("list"), flag("--json")),
    "show": command(word("show"), THREAD_ID.map(lambda i: [i]), flag("--json")),
    "cancel": command(word("cancel"), THREAD_ID.map(lambda i: [i])),
    "retry": command(word("retry"), THREAD_ID.map(lambda i: [i])),
    "reschedule": command(word("reschedule"), THREAD_ID.map(lambda i: [i]), st.one_of(
        st.sampled_from(["+2h", "tomorrow 09:00"]), ARG).map(lambda at: ["--at", at])),
    "resume": command(word("resume"), THREAD_ID.map(lambda i: [i]), flag("--json")),
    "delete": command(word("delete", "--yes"), THREAD_ID.map(lambda i: [i])),
    "accounts": command(word("accounts")),
    "accounts check": command(word("accounts", "check"), st.one_of(
        st.just([]), st.sampled_from(["main", "other"]).map(lambda n: [n]), ARG.map(
            lambda n: [n]))),
    "slots": command(word("slots"), option("--account"), option("--count", st.one_of(
        st.integers(-5, 2000).map(str), st.just("99999999999"), ARG))),
    "daemon --once": command(word("daemon", "--once")),
    # Only places inside the test's folder, or where nothing can be created.
    "init": command(word("init"), st.sampled_from(
        [[], ["new"], ["drafts/d.md"], ["/dev/null/x"], ["a" * 5000], [""], ["config"]])),
}
FEWER = {"rehearse": EXAMPLES // 4, "daemon --once": EXAMPLES // 4, "post": EXAMPLES // 2}


# --- the property -------------------------------------------------------------------------


@pytest.fixture
def offline(monkeypatch):
    """No host but this machine can be reached, whatever a config says."""
    real = socket.getaddrinfo

    def local_only(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1", None):
            raise socket.gaierror(socket.EAI_NONAME, "no network in tests")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_no_input_ends_in_a_traceback(capsys, writer, fake_x, offline, name):
    (writer / "drafts" / "pic.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)  # a broken PNG, for the images drawn
    base_config = (writer / "config" / "threadbot.yaml").read_text(encoding="utf-8")
    # Some threads to act on: one queued, one posted.
    (writer / "drafts" / "seed.md").write_text("A thread to act on.\n", encoding="utf-8")
    assert run_cli(capsys, "queue", "drafts/seed.md", "--at", "+2h").code == 0
    assert run_cli(capsys, "post", "drafts/seed.md", "--yes", "--again").code == 0

    @settings(max_examples=FEWER.get(name, EXAMPLES), deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(args=COMMANDS[name], draft=DRAFT, stdin=DRAFT,
           config_text=st.one_of(
               st.just(base_config),
               raw_lines(["platform", "timezone", "default_account"]).map(
                   lambda lines: base_config + lines),
               yaml_text(config(fake_x.base_url), ["platform", "timezone"])))
    def run(args, draft, stdin, config_text):
        (writer / "drafts" / "d.md").write_bytes(draft)
        (writer / "config" / "threadbot.yaml").write_text(config_text, encoding="utf-8",
                                                          errors="surrogatepass")
        result = run_cli(capsys, *args, stdin=stdin)
        outcomes[result.code] = outcomes.get(result.code, 0) + 1
        shown = f"threadbot {args!r}\nconfig:\n{config_text}\ndraft: {draft!r}\n{result}"
        assert result.code in DOCUMENTED, shown
        assert "Unexpected error" not in result.err and "Traceback" not in result.err, shown
        if "--json" in args and result.out.strip():
            json.loads(result.out)  # one whole JSON value, nothing around it

    outcomes: dict[int, int] = {}
    run()
    # How far the runs got (0: all the way), to keep the strategies honest: see it with
    # -s -n 0.
    print(f"{name}: exit codes {dict(sorted(outcomes.items()))}", file=sys.__stderr__)
