"""The CLI as a writer uses it: preview, post --dry-run, JSON, stdin, init, config lookup."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import threadbot
from conftest import DRAFTS, REPO
from helpers import run_cli


def test_version(capsys):
    result = run_cli(capsys, "--version")
    assert result.code == 0
    assert threadbot.__version__ in result.out


def test_preview_example_draft_plain(capsys):
    result = run_cli(capsys, "preview", str(DRAFTS / "on-slow-work.md"))
    assert result.code == 0, result.err
    thread = threadbot.compose(DRAFTS / "on-slow-work.md")
    assert f"{len(thread.posts)} posts on X" in result.out
    for post in thread.posts:
        assert f"post {post.index}/{len(thread.posts)} · {post.length}/280" in result.out
        assert post.text in result.out
    assert "[image] images/desk.png" in result.out
    assert "alt: A desk by a window" in result.out
    assert "private note" not in result.out  # HTML comments are never posted
    assert "Cost on X's pay-per-use API" in result.out
    assert "nothing was posted" in result.out


def test_json_schema(capsys):
    result = run_cli(capsys, "preview", "--json", str(DRAFTS / "on-slow-work.md"))
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert set(data) >= {"platform", "limit", "posts", "warnings", "cost"}
    assert data["platform"] == "x" and data["limit"] == 280
    assert [p["index"] for p in data["posts"]] == list(range(1, len(data["posts"]) + 1))
    for post in data["posts"]:
        assert set(post) == {"index", "text", "length", "media", "links"}
        assert post["length"] == threadbot.measure(post["text"]) <= 280
    media = [m for p in data["posts"] for m in p["media"]]
    assert media == [{"path": "images/desk.png",
                      "alt": "A desk by a window in the early morning, a notebook open "
                             "beside a cooling cup of tea"}]
    assert data["posts"][0]["text"].endswith("🧵")  # the draft's thread marker
    # No URL in this draft: every post at the plain price.
    assert data["cost"] == round(0.015 * len(data["posts"]), 4)


def test_json_cost_counts_url_posts(capsys):
    data = json.loads(run_cli(capsys, "preview", "--json",
                              str(DRAFTS / "reading-in-public.md")).out)
    with_url = [p for p in data["posts"] if "https://" in p["text"]]
    assert len(with_url) == 1
    expected = 0.20 + 0.015 * (len(data["posts"]) - 1)
    assert abs(data["cost"] - expected) < 1e-9
    assert any("URL" in w for w in data["warnings"])


def test_post_dry_run_is_the_preview(capsys):
    path = str(DRAFTS / "reading-in-public.md")
    preview = run_cli(capsys, "preview", "--json", path)
    post = run_cli(capsys, "post", "--dry-run", "--json", path)
    assert post.code == 0 and post.out == preview.out


def test_stdin(capsys):
    text = "First thought. Second thought.\n\nA new paragraph.\n"
    result = run_cli(capsys, "preview", "--json", "-", stdin=text.encode())
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["posts"][0]["text"] == "First thought. Second thought.\n\nA new paragraph."


def test_options_override_front_matter(capsys, tmp_path):
    path = tmp_path / "d.md"
    path.write_text("---\nnumbering: none\n---\n" + "A sentence that goes on. " * 30,
                    encoding="utf-8")
    data = json.loads(run_cli(capsys, "preview", "--json", "--numbering", "(1/N)",
                              "--numbering-position", "before", str(path)).out)
    total = len(data["posts"])
    assert total > 1
    for post in data["posts"]:
        assert post["text"].startswith(f"({post['index']}/{total}) ")


def test_paragraph_mode_from_front_matter(capsys):
    data = json.loads(run_cli(capsys, "preview", "--json", str(DRAFTS / "fragments.md")).out)
    draft = threadbot.read_draft(DRAFTS / "fragments.md")
    paragraphs = [p for s in draft.sections for p in s.text.split("\n\n")]
    assert [p["text"] for p in data["posts"]] == paragraphs


def test_other_platforms(capsys):
    for platform, limit in (("bluesky", 300), ("mastodon", 500)):
        data = json.loads(run_cli(capsys, "preview", "--json", "--platform", platform,
                                  str(DRAFTS / "on-slow-work.md")).out)
        assert data["platform"] == platform and data["limit"] == limit
        assert data["cost"] is None
        assert all(threadbot.measure(p["text"], platform) <= limit for p in data["posts"])


def test_config_precedence(capsys, tmp_path, monkeypatch, isolated):
    draft = tmp_path / "d.md"
    draft.write_text("One. Two. Three.\n", encoding="utf-8")

    def marker_used(*args):
        data = json.loads(run_cli(capsys, *args, "preview", "--json", str(draft)).out)
        return data["posts"][0]["text"].removeprefix("One. Two. Three.").strip()

    assert marker_used() == ""  # built-in defaults
    (isolated / "config").mkdir()
    (isolated / "config" / "threadbot.yaml").write_text('split:\n  thread_marker: "A"\n')
    assert marker_used() == "A"  # ./config/threadbot.yaml
    env_config = tmp_path / "env.yaml"
    env_config.write_text('split:\n  thread_marker: "B"\n')
    monkeypatch.setenv("THREADBOT_CONFIG", str(env_config))
    assert marker_used() == "B"  # THREADBOT_CONFIG beats ./config
    flag_config = tmp_path / "flag.yaml"
    flag_config.write_text('split:\n  thread_marker: "C"\n')
    assert marker_used("--config", str(flag_config)) == "C"  # --config beats both


def test_init_lays_out_a_folder(capsys, tmp_path):
    target = tmp_path / "writing"
    result = run_cli(capsys, "init", str(target))
    assert result.code == 0, result.err
    config = target / "config" / "threadbot.yaml"
    example = target / "drafts" / "example.md"
    assert config.is_file() and example.is_file()
    ignored = [line for line in (target / ".gitignore").read_text().splitlines()
               if line and not line.startswith("#")]
    assert ".env" in ignored
    # Secrets and state threadbot writes beside the config are never committed.
    import fnmatch

    for name in ("threadbot.db", "threadbot.db-wal", "threadbot-session-sky.json",
                 "threadbot-session-sky.lock"):
        assert any(fnmatch.fnmatch(name, pattern) for pattern in ignored), name
    # The example config documents the lookup order and loads cleanly.
    assert "THREADBOT_CONFIG" in config.read_text()
    loaded = threadbot.load_config(config)
    assert loaded.platform == "x"
    # The folder works straight away, from inside it.
    os.chdir(target)
    preview = run_cli(capsys, "preview", "drafts/example.md")
    assert preview.code == 0, preview.err
    # A second init keeps what is there.
    example.write_text("Mine.\n")
    again = run_cli(capsys, "init", str(target))
    assert again.code == 0 and "kept" in again.out
    assert example.read_text() == "Mine.\n"


def test_bundled_config_is_the_init_template():
    template = REPO / "src" / "threadbot" / "templates" / "threadbot.yaml"
    assert (REPO / "config" / "threadbot.yaml").read_text() == template.read_text()


def test_console_script_in_a_real_terminal(tmp_path):
    """In a terminal the preview is drawn with rich; NO_COLOR turns colour off."""
    exe = shutil.which("threadbot", path=os.path.dirname(sys.executable))
    assert exe, "the threadbot console script is installed"
    outputs = {}
    for no_color in (False, True):
        env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
        env.update(COLUMNS="80", TERM="xterm-256color")
        if no_color:
            env["NO_COLOR"] = "1"
        master, slave = os.openpty()
        proc = subprocess.Popen([exe, "preview", str(DRAFTS / "fragments.md")],
                                stdin=slave, stdout=slave, stderr=slave, env=env,
                                cwd=tmp_path)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        assert proc.wait(timeout=30) == 0
        outputs[no_color] = b"".join(chunks).decode("utf-8", "replace")
    assert "╭" in outputs[False] and "\x1b[" in outputs[False]  # panels, in colour
    assert "╭" in outputs[True] and "\x1b[3" not in outputs[True]  # panels, no colour
