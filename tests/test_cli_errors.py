"""Bad input: every case gets a short message naming the file (and line), the
documented exit code, and no traceback."""

from __future__ import annotations

import struct
import zlib

import pytest

from helpers import run_cli
from threadbot.errors import ExitCode


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def png(width: int = 4, height: int = 4, extra: int = 0) -> bytes:
    """A real PNG; ``extra`` bytes of ancillary chunk make it as large as needed."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + b"\x80" * (width * 3) for _ in range(height))
    body = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    if extra:
        body += chunk(b"tEXt", b"c\x00" + b"x" * extra)
    body += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def check(result, code: ExitCode, *fragments: str):
    assert result.code == int(code), (result.code, result.err)
    assert "Traceback" not in result.err and "Traceback" not in result.out
    for fragment in fragments:
        assert fragment in result.err, (fragment, result.err)


def test_missing_file(capsys):
    check(run_cli(capsys, "preview", "nowhere.md"), ExitCode.DRAFT,
          "nowhere.md", "no such draft")


def test_directory(capsys, tmp_path):
    check(run_cli(capsys, "preview", str(tmp_path)), ExitCode.DRAFT, "folder")


def test_binary_file(capsys, tmp_path):
    path = tmp_path / "photo.md"
    path.write_bytes(png())
    check(run_cli(capsys, "preview", str(path)), ExitCode.DRAFT, "photo.md", "binary")


def test_invalid_utf8_names_line_and_column(capsys, tmp_path):
    path = tmp_path / "latin1.md"
    path.write_bytes("First line.\nCaf\u00e9 au lait.\n".encode("latin-1"))
    check(run_cli(capsys, "preview", str(path)), ExitCode.DRAFT,
          "latin1.md:2:", "not valid UTF-8", "column 4", "UTF-8")


@pytest.mark.parametrize("text", ["", "\n\n  \n", "---\ntitle: Nothing\n---\n",
                                  "<!-- only a note -->\n"])
def test_empty_draft(capsys, tmp_path, text):
    path = write(tmp_path / "empty.md", text)
    check(run_cli(capsys, "preview", str(path)), ExitCode.DRAFT, "empty.md", "nothing to post")


def test_broken_front_matter_names_the_line(capsys, tmp_path):
    path = write(tmp_path / "d.md", "---\ntitle: fine\nnumbering: [1/N\n---\nHello.\n")
    result = run_cli(capsys, "preview", str(path))
    check(result, ExitCode.DRAFT, "d.md:", "not valid YAML")
    line = int(result.err.split("d.md:")[1].split(":")[0])
    assert line in (3, 4)  # the flow sequence opened on line 3 is never closed


def test_unclosed_front_matter(capsys, tmp_path):
    path = write(tmp_path / "d.md", "---\ntitle: fine\nHello.\n")
    check(run_cli(capsys, "preview", str(path)), ExitCode.DRAFT, "d.md:1:", "never closed")


def test_unknown_front_matter_key_suggests(capsys, tmp_path):
    path = write(tmp_path / "d.md", "---\ntitle: x\nnumberin: 1/N\n---\nHello.\n")
    check(run_cli(capsys, "preview", str(path)), ExitCode.DRAFT,
          "d.md:3:", "unknown key 'numberin'", "Did you mean 'numbering'?")


def test_bad_front_matter_value(capsys, tmp_path):
    path = write(tmp_path / "d.md", "---\npacking: tight\n---\nHello.\n")
    check(run_cli(capsys, "preview", str(path)), ExitCode.DRAFT,
          "d.md:2:", "'packing' cannot be 'tight'", "paragraphs")


def test_unclosed_comment(capsys, tmp_path):
    path = write(tmp_path / "d.md", "Hello.\n\n<!-- a note\nthat runs on\n")
    check(run_cli(capsys, "preview", str(path)), ExitCode.DRAFT, "d.md:3:", "-->")


def test_unknown_config_key_suggests(capsys, tmp_path):
    config = write(tmp_path / "c.yaml", "platform: x\nsplit:\n  numbring: 1/N\n")
    draft = write(tmp_path / "d.md", "Hello.\n")
    check(run_cli(capsys, "--config", str(config), "preview", str(draft)), ExitCode.CONFIG,
          "c.yaml:3:", "unknown key 'split.numbring'", "Did you mean 'numbering'?")


def test_bad_config_value(capsys, tmp_path):
    config = write(tmp_path / "c.yaml", "pricing:\n  x:\n    post: cheap\n")
    draft = write(tmp_path / "d.md", "Hello.\n")
    check(run_cli(capsys, "--config", str(config), "preview", str(draft)), ExitCode.CONFIG,
          "c.yaml:3:", "pricing.x.post")


def test_broken_config_yaml(capsys, tmp_path):
    config = write(tmp_path / "c.yaml", "platform: x\nsplit: [\n")
    draft = write(tmp_path / "d.md", "Hello.\n")
    check(run_cli(capsys, "--config", str(config), "preview", str(draft)), ExitCode.CONFIG,
          "c.yaml:", "not valid YAML")


def test_missing_config_file(capsys, tmp_path):
    draft = write(tmp_path / "d.md", "Hello.\n")
    check(run_cli(capsys, "--config", str(tmp_path / "no.yaml"), "preview", str(draft)),
          ExitCode.CONFIG, "no.yaml", "--config")


def test_unknown_platform_option(capsys, tmp_path):
    draft = write(tmp_path / "d.md", "Hello.\n")
    result = run_cli(capsys, "preview", str(draft), "--platform", "myspace")
    assert result.code == int(ExitCode.USAGE)
    assert "myspace" in result.err and "Traceback" not in result.err


def test_unknown_platform_in_front_matter(capsys, tmp_path):
    draft = write(tmp_path / "d.md", "---\nplatform: mastdon\n---\nHello.\n")
    check(run_cli(capsys, "preview", str(draft)), ExitCode.DRAFT,
          "d.md:2:", "Did you mean 'mastodon'?")


def test_unknown_platform_in_config(capsys, tmp_path):
    config = write(tmp_path / "c.yaml", "platform: twitter\n")
    draft = write(tmp_path / "d.md", "Hello.\n")
    check(run_cli(capsys, "--config", str(config), "preview", str(draft)), ExitCode.CONFIG,
          "c.yaml:1:", "unknown platform 'twitter'")


def test_missing_image(capsys, tmp_path):
    draft = write(tmp_path / "d.md", "Look at this.\n\n![A cat asleep](img/cat.png)\n")
    result = run_cli(capsys, "preview", str(draft))
    check(result, ExitCode.MEDIA, "d.md:3:", "img/cat.png", "not there")
    assert "post 1/1" in result.out  # the preview is still shown, with the problem


def test_oversized_image(capsys, tmp_path):
    (tmp_path / "big.png").write_bytes(png(extra=5 * 1024 * 1024 + 10))
    draft = write(tmp_path / "d.md", "Big.\n![A large picture](big.png)\n")
    check(run_cli(capsys, "preview", str(draft)), ExitCode.MEDIA, "d.md:2:", "5.0 MB")


def test_not_an_image(capsys, tmp_path):
    write(tmp_path / "notes.png", "just text")
    draft = write(tmp_path / "d.md", "Hm.\n![text](notes.png)\n")
    check(run_cli(capsys, "preview", str(draft)), ExitCode.MEDIA, "PNG, JPEG, GIF or WEBP")


def test_too_many_images_in_one_post(capsys, tmp_path):
    for i in range(5):
        (tmp_path / f"{i}.png").write_bytes(png())
    images = "\n".join(f"![picture {i}]({i}.png)" for i in range(5))
    draft = write(tmp_path / "d.md", f"Five pictures.\n{images}\n")
    check(run_cli(capsys, "preview", str(draft)), ExitCode.MEDIA,
          "post 1 would carry 5 images", "allows 4")


def test_alt_text_too_long(capsys, tmp_path):
    (tmp_path / "a.png").write_bytes(png())
    draft = write(tmp_path / "d.md", f"Alt.\n\n![{'a' * 1001}](a.png)\n")
    check(run_cli(capsys, "preview", str(draft)), ExitCode.MEDIA,
          "d.md:3:", "1,001 characters", "1,000")


def test_json_output_still_lists_errors(capsys, tmp_path):
    import json

    draft = write(tmp_path / "d.md", "Look.\n![gone](gone.png)\n")
    result = run_cli(capsys, "preview", "--json", str(draft))
    assert result.code == int(ExitCode.MEDIA)
    data = json.loads(result.out)
    assert data["errors"] and "gone.png" in data["errors"][0]
