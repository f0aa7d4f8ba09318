"""Inputs and faults that used to end in "Unexpected error … This is a bug": each gets
a clear message naming the file (and line) or the setting, its documented exit code,
nothing half-written, and a `--json` run prints one whole JSON object or nothing on
stdout (the hardening issue, "Never a traceback")."""

from __future__ import annotations

import json

import pytest

from helpers import run_cli
from threadbot.errors import ExitCode


def clean(result, code: ExitCode, *fragments: str) -> None:
    """The run ended with ``code`` and a message holding every fragment, no traceback."""
    assert result.code == int(code), (result.code, result.out, result.err)
    for text in (result.out, result.err):
        assert "Traceback" not in text and "Unexpected error" not in text
    for fragment in fragments:
        assert fragment in result.err, (fragment, result.err)


def front_matter(folder, *lines: str, body: str = "Hello there.\n", name: str = "d.md"):
    path = folder / name
    path.write_text("---\n" + "".join(f"{line}\n" for line in lines) + "---\n" + body,
                    encoding="utf-8")
    return str(path.relative_to(folder)) if path.is_relative_to(folder) else str(path)


def config(folder, text: str) -> None:
    (folder / "config").mkdir(exist_ok=True)
    (folder / "config" / "threadbot.yaml").write_text(text, encoding="utf-8")


# --- impossible YAML dates --------------------------------------------------------------

@pytest.mark.parametrize("value", ["2026-13-45", "2026-02-30", "2026-02-30 09:00:00"])
def test_an_impossible_at_date_is_a_draft_error_at_its_line(capsys, writer, value):
    draft = front_matter(writer / "drafts", "title: Soon", f"at: {value}")
    result = run_cli(capsys, "queue", f"drafts/{draft}", "--json")
    clean(result, ExitCode.DRAFT, "d.md:3:", "'at'", "is not a date")
    assert result.out == ""
    assert json.loads(run_cli(capsys, "list", "--json").out) == []  # nothing queued


@pytest.mark.parametrize("value", ["2026-02-30", "2026-02-03", "2026-12-01 09:00:00"])
def test_a_date_like_title_is_text_exactly_as_written(capsys, isolated, value):
    draft = front_matter(isolated, f"title: {value}")
    result = run_cli(capsys, "preview", draft, "--json")
    clean(result, ExitCode.OK)
    assert json.loads(result.out)["title"] == value


def test_a_front_matter_at_with_seconds_and_offset_still_queues_at_that_time(capsys, writer):
    draft = front_matter(writer / "drafts", "at: 2031-12-01 09:00:00+02:00")
    result = run_cli(capsys, "queue", f"drafts/{draft}", "--json")
    clean(result, ExitCode.OK)
    assert json.loads(result.out)["scheduled_at"].startswith("2031-12-01T07:00:00")


@pytest.mark.parametrize(("text", "line", "said"), [
    ("title: !!timestamp 2026-13-45\n", 2, "month must be in 1..12"),
    ("title: !!float abc\n", 2, "could not convert"),
    ("split:\n  numbering: none\nlang: !!int 1" + "0" * 5000 + "\n", 4, "cannot read"),
])
def test_an_explicit_tag_yaml_cannot_build_is_named_at_its_line(capsys, isolated, text, line,
                                                                said):
    draft = front_matter(isolated, *text.rstrip("\n").split("\n"))
    clean(run_cli(capsys, "preview", draft), ExitCode.DRAFT, f"d.md:{line}:", said)
    config(isolated, text.replace("title", "timezone").replace("lang", "timezone"))
    result = run_cli(capsys, "preview", draft)
    clean(result, ExitCode.CONFIG, f"threadbot.yaml:{line - 1}:", said)


def test_an_impossible_date_in_the_config_is_refused_at_its_line(capsys, isolated):
    config(isolated, "platform: x\ntimezone: 2026-02-30\n")
    clean(run_cli(capsys, "accounts"), ExitCode.CONFIG, "threadbot.yaml:2:", "2026-02-30")


def test_nesting_thousands_deep_is_refused_not_a_crash(capsys, isolated):
    draft = front_matter(isolated, "title: x", "cw: " + "[" * 5000)
    clean(run_cli(capsys, "preview", draft), ExitCode.DRAFT, "d.md:", "nests")
    config(isolated, "split: " + "{a: " * 3000 + "\n")
    clean(run_cli(capsys, "accounts"), ExitCode.CONFIG, "threadbot.yaml:", "nests")


# --- numbers in scientific notation ---------------------------------------------------

def test_a_price_in_scientific_notation_is_a_number(capsys, isolated):
    config(isolated, "pricing:\n  x:\n    post: 2e-2\n    post_with_url: 1E-1\n"
                     "posting:\n  timeout_seconds: 3e1\n")
    draft = front_matter(isolated, "break: paragraph", body="One.\n\nTwo.\n\nThree.\n")
    result = run_cli(capsys, "preview", draft, "--json")
    clean(result, ExitCode.OK)
    assert json.loads(result.out)["cost"] == pytest.approx(0.06)


def test_a_scientific_notation_tunable_is_still_bounded(capsys, isolated):
    config(isolated, "posting:\n  retries: 1e6\n")
    clean(run_cli(capsys, "accounts"), ExitCode.CONFIG, "threadbot.yaml:2:", "posting.retries")


# --- lone surrogates ----------------------------------------------------------------------

def test_a_lone_surrogate_escape_in_front_matter_is_refused_at_its_line(capsys, isolated):
    draft = front_matter(isolated, "title: fine", 'cw: "a \\ud800 b"')
    result = run_cli(capsys, "preview", draft, "--json")
    clean(result, ExitCode.DRAFT, "d.md:3:", "lone surrogate")
    assert result.out == ""


def test_a_lone_surrogate_escape_in_the_config_is_refused_at_its_line(capsys, isolated):
    config(isolated, 'split:\n  thread_marker: "\\udc00"\n')
    clean(run_cli(capsys, "accounts"), ExitCode.CONFIG, "threadbot.yaml:2:", "lone surrogate")


def test_an_encoded_surrogate_in_a_draft_body_is_not_utf8(capsys, isolated):
    (isolated / "d.md").write_bytes(b"Hello \xed\xa0\x80 there.\n")
    clean(run_cli(capsys, "preview", "d.md"), ExitCode.DRAFT, "d.md:1:", "not valid UTF-8")
    clean(run_cli(capsys, "preview", "-", stdin=b"Hi \xed\xb0\x80.\n"), ExitCode.DRAFT,
          "<stdin>:1:", "not valid UTF-8")


@pytest.mark.parametrize("args", [
    ["preview", "d.md", "--thread-marker", "\ud800"],
    ["preview", "d.md", "--continuation", "a\udcffb", "--json"],
    ["preview", "\udcff.md"],  # a file name of bytes that are not UTF-8 (surrogateescape)
    ["queue", "d.md", "--at", "tomorrow \udc80"],
    ["preview", "d.md", "--account", "\udfff"],
])
def test_an_argument_that_is_not_utf8_is_a_usage_error(capsys, isolated, args):
    (isolated / "d.md").write_text("Hello there.\n", encoding="utf-8")
    result = run_cli(capsys, *args)
    clean(result, ExitCode.USAGE, "is not valid UTF-8 text")
    assert result.out == ""


def test_an_undecodable_argument_from_a_real_shell(isolated):
    import subprocess
    import sys

    (isolated / "d.md").write_text("Hello there.\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "threadbot", "preview", "d.md",
                           "--thread-marker", b"\xed\xa0\x80"], cwd=isolated,
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == int(ExitCode.USAGE), done.stderr
    assert b"\\xed\\xa0\\x80" in done.stderr and done.stdout == b""


# --- post --json: only JSON on stdout -----------------------------------------------------

def test_post_json_prints_only_json_on_stdout(capsys, writer, fake_x):
    (writer / "drafts" / "d.md").write_text("Hello there.\n", encoding="utf-8")
    queued = run_cli(capsys, "queue", "drafts/d.md", "--at", "+2h")
    assert queued.code == 0, queued.err
    result = run_cli(capsys, "post", "drafts/d.md", "--yes", "--json")
    clean(result, ExitCode.OK)
    assert json.loads(result.out)["status"] == "posted"  # the whole of stdout is JSON
    assert "queued for account 'main'" in result.err
    assert len(fake_x.posts()) == 1


# --- database faults ----------------------------------------------------------------------

def queued_one(capsys, writer) -> None:
    (writer / "drafts" / "d.md").write_text("Hello there.\n", encoding="utf-8")
    result = run_cli(capsys, "queue", "drafts/d.md", "--at", "+2h")
    assert result.code == 0, result.err


def threadbot(folder, *args: str, limit_file_bytes: int | None = None):
    """Run threadbot in a subprocess (with a watchdog); ``limit_file_bytes`` caps the size
    of any file it writes (RLIMIT_FSIZE), as a nearly full disk would."""
    import os
    import resource
    import signal
    import subprocess
    import sys

    def cap() -> None:
        # Ignored, SIGXFSZ lets the write fail with EFBIG instead of killing the process.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_bytes, limit_file_bytes))

    return subprocess.run([sys.executable, "-m", "threadbot", *args], cwd=folder,
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, env=dict(os.environ),
                          preexec_fn=cap if limit_file_bytes else None)


@pytest.mark.parametrize("damage", ["random bytes", "truncated", "zeroed pages"])
def test_a_damaged_database_is_named_with_what_to_do(capsys, writer, damage):
    import os

    queued_one(capsys, writer)
    database = writer / "config" / "threadbot.db"
    data = database.read_bytes()
    if damage == "random bytes":
        database.write_bytes(os.urandom(len(data)))
    elif damage == "truncated":
        database.write_bytes(data[:len(data) // 3])
    else:  # the header survives, the tables' pages do not
        database.write_bytes(data[:100] + b"\x00" * (len(data) - 100))
    for args in (["list", "--json"], ["show", "1", "--json"], ["cancel", "1"],
                 ["queue", "drafts/d.md", "--at", "+3h", "--json"]):
        result = run_cli(capsys, *args)
        clean(result, ExitCode.DATABASE, "threadbot.db:", "damaged", "backup")
        assert result.out == ""


def read_only(folder):
    """Make ``folder`` read-only for this process, root included (a read-only bind
    mount); returns the function that undoes it."""
    import os
    import subprocess

    if os.geteuid() != 0:
        modes = {path: path.stat().st_mode for path in [folder, *folder.iterdir()]}
        for path in modes:
            path.chmod(0o555 if path.is_dir() else 0o444)
        return lambda: [path.chmod(mode) for path, mode in modes.items()]
    for command in (["mount", "--bind", str(folder), str(folder)],
                    ["mount", "-o", "remount,ro,bind", str(folder)]):
        if subprocess.run(command, capture_output=True).returncode != 0:
            subprocess.run(["umount", str(folder)], capture_output=True)
            pytest.skip("root, and cannot mount a read-only folder here")
    return lambda: subprocess.run(["umount", str(folder)], check=True)


def test_a_read_only_database_is_named_with_the_fix(capsys, writer):
    queued_one(capsys, writer)
    folder = writer / "db"
    folder.mkdir()
    (writer / "config" / "threadbot.db").rename(folder / "threadbot.db")
    (writer / "config" / "threadbot.yaml").open("a").write("database: ../db/threadbot.db\n")
    undo = read_only(folder)
    try:
        for args in (["cancel", "1"], ["queue", "drafts/d.md", "--at", "+3h", "--json"],
                     ["list"]):
            result = run_cli(capsys, *args)
            clean(result, ExitCode.DATABASE, "threadbot.db:", "read-only", "chmod u+w")
            assert result.out == ""
    finally:
        undo()
    assert json.loads(run_cli(capsys, "show", "1", "--json").out)["status"] == "queued"


def test_a_full_disk_leaves_the_record_as_it_was(capsys, writer):
    queued_one(capsys, writer)
    database = writer / "config" / "threadbot.db"
    # A draft of thousands of posts: its record cannot fit in the space left.
    # (Each sentence its own, as X refuses two posts with the same text.)
    (writer / "drafts" / "long.md").write_text(
        "".join(f"Word by word, on and on, line {n}. " for n in range(20000)),
        encoding="utf-8")
    done = threadbot(writer, "queue", "drafts/long.md", "--at", "+3h", "--json",
                     limit_file_bytes=database.stat().st_size + 64 * 1024)
    assert done.returncode == int(ExitCode.DATABASE), done.stderr
    assert "threadbot.db:" in done.stderr and "Traceback" not in done.stderr
    assert "could not be read or written" in done.stderr or "is full" in done.stderr
    assert done.stdout == ""
    listed = json.loads(run_cli(capsys, "list", "--json").out)
    assert [t["id"] for t in listed] == [1]  # nothing half-written
    import sqlite3

    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT COUNT(*) FROM posts").fetchone() == (1,)


@pytest.mark.slow
def test_a_database_locked_past_the_busy_timeout_is_busy_not_a_bug(capsys, writer):
    import sqlite3

    queued_one(capsys, writer)
    holder = sqlite3.connect(writer / "config" / "threadbot.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing, and never finishing
    try:
        done = threadbot(writer, "cancel", "1")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert done.returncode == int(ExitCode.BUSY), done.stderr
    assert "database is busy" in done.stderr and "30 seconds" in done.stderr
    assert "Traceback" not in done.stderr
    assert json.loads(run_cli(capsys, "show", "1", "--json").out)["status"] == "queued"


# --- markers longer than a post -----------------------------------------------------------

# Each sentence its own: X refuses two posts with the same text.
LONG_DRAFT = "".join(f"A sentence that goes on for a while, as sentence {n} does. "
                     for n in range(20))


@pytest.mark.parametrize(("option", "value", "named"), [
    ("--thread-marker", "🧵" * 140, "thread_marker"),
    ("--thread-marker", "x" * 279, "thread_marker"),
    ("--continuation", "(more below) " * 20, "continuation"),
])
def test_a_marker_as_long_as_a_post_is_refused_naming_the_setting(capsys, isolated, option,
                                                                  value, named):
    (isolated / "d.md").write_text(LONG_DRAFT, encoding="utf-8")
    result = run_cli(capsys, "preview", "d.md", option, value, "--json")
    clean(result, ExitCode.USAGE, f"Shorten '{named}' given as {option}", "of the 280")
    assert result.out == ""


def test_a_long_marker_in_front_matter_is_a_draft_error_at_its_line(capsys, isolated):
    draft = front_matter(isolated, "title: Long", "numbering: (1/N)",
                         f"thread_marker: {'A thread, read it all. ' * 12}", body=LONG_DRAFT)
    result = run_cli(capsys, "preview", draft, "--platform", "bluesky")
    clean(result, ExitCode.DRAFT, "d.md:4:", "'thread_marker' in the front matter",
          "of the 300")


def test_a_long_marker_in_the_config_is_a_config_error(capsys, isolated):
    config(isolated, f"split:\n  continuation: \"{'-' * 260}\"\n")
    (isolated / "d.md").write_text(LONG_DRAFT, encoding="utf-8")
    clean(run_cli(capsys, "preview", "d.md"), ExitCode.CONFIG, "threadbot.yaml:",
          "'continuation' under 'split:'")
    # The same marker fits a Mastodon post of 500 characters.
    assert run_cli(capsys, "preview", "d.md", "--platform", "mastodon").code == 0


def test_markers_that_leave_room_still_split(capsys, isolated):
    (isolated / "d.md").write_text(LONG_DRAFT, encoding="utf-8")
    result = run_cli(capsys, "preview", "d.md", "--thread-marker", "x" * 200, "--json")
    clean(result, ExitCode.OK)
    posts = json.loads(result.out)["posts"]
    assert posts[0]["text"].endswith("x" * 200) and all(p["length"] <= 280 for p in posts)


# --- found by the property test (test_fuzz_cli.py) ----------------------------------------

def test_a_control_character_in_yaml_is_named_at_its_line(capsys, isolated):
    draft = front_matter(isolated, "title: fine", "cw: a\x1fb")
    clean(run_cli(capsys, "preview", draft), ExitCode.DRAFT, "d.md:3:", "U+001F")
    config(isolated, "platform: x\n\ntimezone: \x07\n")
    clean(run_cli(capsys, "accounts"), ExitCode.CONFIG, "threadbot.yaml:3:", "U+0007")


@pytest.mark.parametrize("url", ["http://[::1", "https://example.com:99999", "https://:80",
                                 "https://"])
def test_an_api_base_url_without_a_valid_host_or_port_is_refused(capsys, isolated, url):
    config(isolated, f"accounts:\n  me:\n    platform: mastodon\n    api_base_url: '{url}'\n")
    clean(run_cli(capsys, "accounts"), ExitCode.CONFIG, "threadbot.yaml:4:",
          "'accounts.me.api_base_url' must be a URL")


@pytest.mark.parametrize("command", ["show", "cancel", "retry", "resume", "delete"])
def test_a_thread_id_beyond_what_sqlite_holds_is_not_found(capsys, isolated, command):
    args = [command, "99999999999999999999"] + (["--yes"] if command == "delete" else [])
    clean(run_cli(capsys, *args), ExitCode.NOT_FOUND, "there is no thread 99999999999999999999")


# --- images outside the writer's folder ---------------------------------------------------

def picture(path) -> None:
    from test_cli_errors import png

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png())


@pytest.mark.parametrize("how", ["relative path", "absolute path", "symbolic link",
                                 "linked folder"])
def test_an_image_outside_the_writers_folder_is_shown_and_not_posted(capsys, writer, fake_x,
                                                                    how):
    elsewhere = writer.parent / "private" / "photo.png"
    picture(elsewhere)
    written = {"relative path": "../../private/photo.png", "absolute path": str(elsewhere),
               "symbolic link": "photo.png", "linked folder": "pics/photo.png"}[how]
    if how == "symbolic link":
        (writer / "drafts" / "photo.png").symlink_to(elsewhere)
    if how == "linked folder":
        (writer / "drafts" / "pics").symlink_to(elsewhere.parent)
    (writer / "drafts" / "d.md").write_text(f"Look.\n\n![A photo]({written})\n",
                                            encoding="utf-8")
    preview = run_cli(capsys, "preview", "drafts/d.md")
    clean(preview, ExitCode.OK)
    assert f"is outside the writer's folder ({writer})" in preview.out
    assert f"the file is {elsewhere}" in preview.out
    assert ("through a symbolic link" in preview.out) == (how in ("symbolic link",
                                                                  "linked folder"))
    for args in (["post", "drafts/d.md", "--yes", "--json"], ["queue", "drafts/d.md", "--now"]):
        result = run_cli(capsys, *args)
        clean(result, ExitCode.MEDIA, "d.md:3:", str(elsewhere),
              "images: allow_outside_folder: true")
        assert result.out == ""
    assert fake_x.posts() == [] and json.loads(run_cli(capsys, "list", "--json").out) == []
    # Allowed in the config: posted, and the preview still names the file.
    (writer / "config" / "threadbot.yaml").open("a").write(
        "images:\n  allow_outside_folder: true\n")
    assert str(elsewhere) in run_cli(capsys, "preview", "drafts/d.md").out
    posted = run_cli(capsys, "post", "drafts/d.md", "--yes")
    clean(posted, ExitCode.OK)
    (post,) = fake_x.posts()
    assert fake_x.media(post.media_ids[0])[0].data == elsewhere.read_bytes()


def test_an_image_inside_the_folder_through_a_link_inside_it_is_fine(capsys, writer, fake_x):
    picture(writer / "images" / "desk.png")
    (writer / "drafts" / "desk.png").symlink_to(writer / "images" / "desk.png")
    (writer / "drafts" / "d.md").write_text("Look.\n\n![A desk](desk.png)\n"
                                            "![The same](../images/desk.png)\n",
                                            encoding="utf-8")
    result = run_cli(capsys, "post", "drafts/d.md", "--yes")
    clean(result, ExitCode.OK)
    assert "outside" not in result.out and len(fake_x.posts()) == 1


@pytest.mark.parametrize("runner", ["daemon", "post"])
def test_a_link_swapped_to_a_file_outside_the_folder_after_queueing_is_not_posted(
        capsys, writer, fake_x, runner):
    """The image was a file inside the folder when the draft was queued (the record
    keeps its path); replaced by a symbolic link to a private file before its time, the
    thread is refused when it is to go out (the daemon, or `post` of the draft posting
    the queued thread now), naming the file, and nothing is sent."""
    from test_daemon import run_once

    image = writer / "drafts" / "desk.png"
    picture(image)
    secret = writer.parent / "private" / "secret.png"
    picture(secret)
    (writer / "drafts" / "d.md").write_text("Look.\n\n![A desk](desk.png)\n",
                                            encoding="utf-8")
    clean(run_cli(capsys, "queue", "drafts/d.md", "--now"), ExitCode.OK)
    image.unlink()
    image.symlink_to(secret)
    if runner == "post":
        clean(run_cli(capsys, "post", "drafts/d.md", "--yes"), ExitCode.MEDIA,
              "d.md:3:", "outside the writer's folder", str(secret))
        assert fake_x.posts() == []
        return
    done = run_once(writer)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert fake_x.posts() == []
    assert json.loads(run_cli(capsys, "list", "--json").out)[0]["status"] == "failed"
    shown = run_cli(capsys, "show", "1")
    assert "now outside the writer's folder" in shown.out, shown.out
    assert str(secret) in shown.out


@pytest.mark.parametrize("value", ["yes please", "1", "[true]"])
def test_allow_outside_folder_must_be_true_or_false(capsys, isolated, value):
    config(isolated, f"images:\n  allow_outside_folder: {value}\n")
    clean(run_cli(capsys, "accounts"), ExitCode.CONFIG, "threadbot.yaml:2:",
          "'images.allow_outside_folder' must be true or false")


# --- paths the system refuses, output it cannot encode --------------------------------------

def test_paths_too_long_for_the_system_are_named_not_a_crash(capsys, isolated):
    long = "a" * 5000
    clean(run_cli(capsys, "preview", long), ExitCode.DRAFT, "cannot read this draft",
          "File name too long")
    clean(run_cli(capsys, "--config", long, "list"), ExitCode.CONFIG,
          "cannot read this config file", "File name too long")
    (isolated / "d.md").write_text(f"Look.\n\n![A photo]({long}.png)\n", encoding="utf-8")
    clean(run_cli(capsys, "preview", "d.md"), ExitCode.MEDIA, "d.md:3:", "File name too long")


def test_a_folder_given_as_the_config_is_named(capsys, isolated):
    clean(run_cli(capsys, "--config", str(isolated), "list"), ExitCode.CONFIG,
          "a folder, not a config file")


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_output_the_terminal_cannot_encode_is_escaped_and_json_stays_json(isolated,
                                                                         encoding):
    import os
    import subprocess
    import sys

    (isolated / "d.md").write_text("A thread \u2192 here 🧵.\n", encoding="utf-8")
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    for args in (["preview", "d.md"], ["preview", "d.md", "--json"]):
        done = subprocess.run([sys.executable, "-m", "threadbot", *args], cwd=isolated,
                              capture_output=True, timeout=60, env=env,
                              stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr
        out = done.stdout.decode(encoding)
        if "--json" in args:
            assert json.loads(out)["posts"][0]["text"] == "A thread \u2192 here 🧵."
        else:
            assert "\\ud83e\\uddf5" in out  # the thread emoji, escaped


def test_init_where_the_system_refuses_a_folder_says_why(capsys, isolated):
    clean(run_cli(capsys, "init", "a" * 5000), ExitCode.USAGE, "File name too long")


@pytest.mark.parametrize("value", ["-0.01", ".inf", "-.inf", ".nan", "-1e-3"])
def test_a_price_that_is_not_a_finite_amount_is_refused_never_shown(capsys, isolated, value):
    config(isolated, f"pricing:\n  x:\n    post_with_url: {value}\n")
    (isolated / "d.md").write_text("See https://example.com for more.\n", encoding="utf-8")
    result = run_cli(capsys, "preview", "d.md")
    clean(result, ExitCode.CONFIG, "threadbot.yaml:3:", "'pricing.x.post_with_url' must be a "
          "price in dollars")
    assert "$nan" not in result.out and "$inf" not in result.out


def test_the_daemon_on_a_damaged_database_stops_with_its_message(writer):
    (writer / "config" / "threadbot.db").write_bytes(b"not a database, just bytes " * 200)
    done = threadbot(writer, "daemon", "--once")
    assert done.returncode == int(ExitCode.DATABASE), done.stderr
    assert "damaged" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(("data", "said"), [
    (b"X_API_KEY=1\n\xff\xfe=2\n", ".env:2:"),
    (b"X_API_KEY=1\x00\n", "binary"),
])
def test_a_damaged_env_file_is_named_without_its_values(capsys, writer, data, said):
    (writer / "config" / ".env").write_bytes(data)
    (writer / "drafts" / "d.md").write_text("Hello.\n", encoding="utf-8")
    for args in (["accounts"], ["queue", "drafts/d.md", "--now"], ["post", "drafts/d.md",
                                                                   "--yes"]):
        result = run_cli(capsys, *args)
        clean(result, ExitCode.AUTH, ".env", said)
        assert "X_API_KEY=1" not in result.err


def test_a_database_path_too_long_is_named(capsys, isolated, monkeypatch):
    monkeypatch.setenv("THREADBOT_DB", "a" * 5000)
    clean(run_cli(capsys, "list"), ExitCode.DATABASE, "the database cannot be opened")


def test_a_login_answer_that_is_not_utf8_is_refused_and_nothing_saved(isolated):
    import subprocess
    import sys

    config(isolated, "accounts:\n  sky:\n    platform: bluesky\n    handle: me.bsky.social\n"
                     "    api_base_url: http://127.0.0.1:9\n")
    done = subprocess.run([sys.executable, "-m", "threadbot", "accounts", "login", "sky"],
                          cwd=isolated, input=b"\xff\xfe\n", capture_output=True, timeout=60)
    assert done.returncode == int(ExitCode.USAGE), done.stderr
    assert b"is not valid UTF-8 text" in done.stderr and b"Traceback" not in done.stderr
    assert not (isolated / "config" / ".env").exists()


@pytest.mark.parametrize("value", ["1e5", "2026", "0x1F", "1.50", "true", ".inf", "1_000"])
def test_a_title_yaml_would_read_as_a_number_is_the_text_written(capsys, isolated, value):
    draft = front_matter(isolated, f"title: {value}")
    result = run_cli(capsys, "preview", draft, "--json")
    clean(result, ExitCode.OK)
    assert json.loads(result.out)["title"] == value


@pytest.mark.parametrize("count", ["99999999999", "0", "-5"])
def test_slots_count_out_of_range_is_a_usage_error(capsys, isolated, count):
    config(isolated, 'accounts:\n  main:\n    slots: ["mon-fri 09:00"]\n')
    result = run_cli(capsys, "slots", "--count", count)
    assert result.code == int(ExitCode.USAGE) and "1<=x<=1000" in result.err, result.err


@pytest.mark.parametrize("text", ["~", "null", "", "# only a comment"])
def test_an_empty_config_or_front_matter_is_the_defaults(capsys, isolated, text):
    config(isolated, text + "\n")
    draft = front_matter(isolated, text)
    result = run_cli(capsys, "preview", draft, "--json")
    clean(result, ExitCode.OK)
    assert json.loads(result.out)["title"] is None
