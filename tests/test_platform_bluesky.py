"""BlueskyClient against the fake PDS: real HTTP, the real atproto SDK, no mocks."""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers import Clock
from threadbot.errors import ConfigError, MediaError
from threadbot.platforms.base import Identity, PostOptions, PostRef, new_idempotency_key
from threadbot.platforms.bluesky import (
    DEFAULT_LIMITS,
    SPEC,
    BlueskyClient,
    display_text,
    prepare_image,
    record_key,
    shorten_url,
)
from threadbot.platforms.errors import (
    AuthError,
    BadRequestError,
    NetworkError,
    PlatformError,
    RateLimitedError,
    RejectedError,
    ServerError,
    UncertainError,
)
from threadbot.testing.fake_bluesky import FakeBluesky

PIL = pytest.importorskip("PIL")
from PIL import ExifTags, Image  # noqa: E402

ME = "threadbot.test"
FRIEND = "friend.test"
NONE = PostOptions()
SESSION = "threadbot-session-main.json"


@pytest.fixture
def clock() -> Clock:
    """The fake's clock, starting now (tokens it issues expire by it)."""
    return Clock(time.time())


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeBluesky]:
    with FakeBluesky.running(accounts=[ME, FRIEND], access_ttl=600, clock=clock) as server:
        yield server


@pytest.fixture
def state(tmp_path: Path) -> Path:
    folder = tmp_path / "state"
    folder.mkdir()
    return folder


def make_client(fake: FakeBluesky, state: Path | None, *, password: str | None = None,
                handle: str = ME, **kwargs) -> BlueskyClient:
    secret = fake.credentials(handle)["app_password"] if password is None else password
    return BlueskyClient(handle, secret, fake.base_url, 5, account="main", state_dir=state,
                         **kwargs)


@pytest.fixture
def client(fake: FakeBluesky, state: Path) -> Iterator[BlueskyClient]:
    with make_client(fake, state) as bluesky:
        yield bluesky


def post(client: BlueskyClient, text: str, reply_to: PostRef | None = None,
         root: PostRef | None = None, *, key: str | None = None,
         media_ids: tuple[str, ...] = (), options: PostOptions = NONE) -> PostRef:
    return client.create_post(text, reply_to=reply_to, root=root or reply_to,
                              media_ids=media_ids, idempotency_key=key or new_idempotency_key(),
                              options=options)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def secrets_of(fake: FakeBluesky, state: Path) -> list[str]:
    """The app password and every token saved in the session file."""
    found = [fake.credentials()["app_password"]]
    path = state / SESSION
    if path.exists():
        data = json.loads(path.read_text())
        found += [data["access_jwt"], data["refresh_jwt"]]
    return found


def assert_no_secret(error: BaseException, secrets: list[str]) -> None:
    for secret in secrets:
        for shown in (str(error), repr(error), str(getattr(error, "detail", "") or "")):
            assert secret not in shown


# ------------------------------------------------------------------ posting


def test_chain_of_three_replies_with_strong_refs_under_the_given_keys(client, fake):
    keys = [new_idempotency_key() for _ in range(3)]
    first = post(client, "one", key=keys[0], options=PostOptions(language="en"))
    second = post(client, "two", first, first, key=keys[1])
    third = post(client, "three", second, first, key=keys[2])

    stored = fake.posts(ME)
    assert [p.text for p in stored] == ["one", "two", "three"]
    assert [p.rkey for p in stored] == keys == [first.id, second.id, third.id]
    assert stored[0].reply_root is None and stored[0].reply_parent is None
    assert stored[1].reply_root == stored[1].reply_parent == (first.uri, first.cid)
    assert stored[2].reply_root == (first.uri, first.cid)
    assert stored[2].reply_parent == (second.uri, second.cid)
    assert stored[0].langs == ("en",) and stored[1].langs == ()
    did = fake.account(ME).did
    assert third.uri == f"at://{did}/app.bsky.feed.post/{keys[2]}"
    assert third.cid == stored[2].cid
    # A fake PDS: links point at it, never at bsky.app.
    assert third.url == f"{fake.base_url}/profile/{ME}/post/{keys[2]}"
    created = stored[0].created_at
    assert created.endswith("Z") and len(created) == len("2026-01-01T00:00:00.000Z")


def test_a_reply_needs_the_uri_and_cid_from_the_ledger(client, fake, state):
    first = post(client, "one")
    second = post(client, "two", first, first)
    sent = len(fake.requests)
    # Only record keys, no URI or CID: the strong refs come from the ledger, never from
    # the network, so the post is refused before anything is sent (signing in included).
    with make_client(fake, state) as fresh:
        for reply_to, root in ((PostRef(second.id), first), (second, PostRef(first.id)),
                               (PostRef(second.id), None)):
            with pytest.raises(PlatformError) as caught:
                fresh.create_post("three", reply_to=reply_to, root=root, media_ids=(),
                                  idempotency_key=new_idempotency_key(), options=NONE)
            assert "URI" in caught.value.message and "CID" in caught.value.message
    assert len(fake.requests) == sent
    assert [p.text for p in fake.posts(ME)] == ["one", "two"]


def test_a_reply_without_a_root_is_in_the_thread_of_its_parent(client, fake):
    first = post(client, "one")
    second = client.create_post("two", reply_to=first, root=None, media_ids=(),
                                idempotency_key=new_idempotency_key(), options=NONE)
    assert fake.post(second.id).reply_root == fake.post(second.id).reply_parent == \
        (first.uri, first.cid)


def test_a_key_that_is_not_a_tid_becomes_a_stable_tid(client, fake):
    assert record_key("3jzfcijpj2z2a") == "3jzfcijpj2z2a"
    derived = record_key("key-1")
    assert derived == record_key("key-1") != record_key("key-2")
    assert len(derived) == 13 and derived[0] in "234567abcdefghij"
    ref = post(client, "not a tid", key="key-1")
    assert ref.id == derived and fake.posts(ME)[0].rkey == derived


def test_record_keys_use_the_tid_alphabet_of_base():
    import ast
    import inspect

    from threadbot.platforms import base, bluesky

    assert bluesky._TID_ALPHABET is base._TID_ALPHABET
    tree = ast.parse(inspect.getsource(bluesky))
    assigned = {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
                for target in node.targets if isinstance(target, ast.Name)}
    assert "_TID_ALPHABET" not in assigned  # one alphabet, not a copy
    assert set(record_key("key-1")) <= set(base._TID_ALPHABET)


def test_retry_after_a_drop_after_store_returns_the_same_post(client, fake):
    key = new_idempotency_key()
    first = post(client, "first")
    fake.drop_next(path="*createRecord")
    with pytest.raises(UncertainError) as caught:
        post(client, "second", first, key=key)
    assert caught.value.may_have_posted
    assert len(fake.posts(ME)) == 2  # stored, the answer lost

    again = post(client, "second", first, key=key)
    assert len(fake.posts(ME)) == 2  # no second record
    assert again.id == key and again.cid == fake.post(key).cid
    assert again.uri == fake.post(key).uri


def test_a_key_taken_by_other_text_is_refused_not_overwritten(client, fake):
    key = new_idempotency_key()
    post(client, "original", key=key)
    with pytest.raises(RejectedError) as caught:
        post(client, "something else", key=key)
    assert key in caught.value.message
    assert [p.text for p in fake.posts(ME)] == ["original"]


def test_find_post_reads_the_very_record_key(client, fake):
    me = client.me()
    key = new_idempotency_key()
    ref = post(client, "hello", key=key)
    found = client.find_post(me, text="hello", reply_to=None, idempotency_key=key)
    assert found == [ref]
    assert client.find_post(me, text="hello", reply_to=None,
                            idempotency_key=new_idempotency_key()) == []


def test_recent_posts_newest_first_with_parents(client, fake):
    me = client.me()
    first = post(client, "one")
    second = post(client, "two", first)
    recent = client.recent_posts(me)
    assert [p.text for p in recent] == ["two", "one"]
    assert recent[0].ref == second and recent[0].in_reply_to_id == first.id
    assert recent[1].in_reply_to_id is None
    assert recent[0].created_at is not None
    later = datetime.now(UTC) + timedelta(hours=1)
    assert client.recent_posts(me, since=later) == []
    assert len(client.recent_posts(me, max_results=1)) == 1


def test_delete_and_delete_again(client, fake):
    first = post(client, "one")
    second = post(client, "two", first)
    client.delete_post(second)
    assert [p.text for p in fake.posts(ME)] == ["one"]
    client.delete_post(second)  # already gone: not an error
    client.delete_post(PostRef(first.id))  # by record key alone
    assert fake.posts(ME) == []


def test_me_limits_and_allowance(client, fake):
    assert client.me() == Identity(fake.account(ME).did, ME)
    assert client.limits() == DEFAULT_LIMITS == SPEC.default_limits
    assert client.allowance() is None
    post(client, "one")
    allowance = client.allowance()
    assert allowance is not None and allowance.remaining is not None
    assert 0 < allowance.remaining <= 3000
    assert allowance.reset_at is not None and allowance.reset_at > datetime.now(UTC)


@pytest.mark.parametrize("server", [None, "https://bsky.social", "https://pds.example.org",
                                    "https://morel.us-east.host.bsky.network",
                                    "pds.example.org:8443", "http://10.0.0.5:2583"])
def test_post_urls_of_real_servers_point_at_bsky_app(server):
    ref = PostRef("3jzfcijpj2z2a")
    me = Identity("did:plc:x", "me.example.org")
    with BlueskyClient("me.example.org", "aaaa-bbbb-cccc-dddd", server, 5) as real:
        assert real.post_url(me, ref) == \
            "https://bsky.app/profile/me.example.org/post/3jzfcijpj2z2a"


@pytest.mark.parametrize("server", ["http://127.0.0.1:2583", "http://127.8.9.10:2583",
                                    "http://localhost:2583", "http://[::1]:2583",
                                    "https://LOCALHOST"])
def test_post_urls_of_a_fake_on_this_machine_point_at_the_fake(server):
    ref = PostRef("3jzfcijpj2z2a")
    me = Identity("did:plc:x", "me.bsky.social")
    with BlueskyClient(ME, "x", server, 5) as local:
        assert local.post_url(me, ref) == \
            f"{local.api_base_url}/profile/me.bsky.social/post/{ref.id}"
        assert not local.post_url(me, ref).startswith("https://bsky.app")


# ------------------------------------------------------------------ rich text


def test_facets_land_on_the_right_bytes(client, fake):
    text = "café 🙂 https://example.com/a/very/long/path?x=1 #tag @friend.test"
    ref = post(client, text)
    stored = fake.post(ref.id)
    assert stored.text == "café 🙂 example.com/a/very/long/... #tag @friend.test"
    data = stored.text.encode("utf-8")
    shown = {}
    for facet in stored.facets:
        feature = facet["features"][0]
        piece = data[facet["index"]["byteStart"]:facet["index"]["byteEnd"]].decode("utf-8")
        shown[feature["$type"].rsplit("#", 1)[1]] = (piece, feature)
    assert shown["link"] == ("example.com/a/very/long/...",
                             {"$type": "app.bsky.richtext.facet#link",
                              "uri": "https://example.com/a/very/long/path?x=1"})
    assert shown["tag"][0] == "#tag" and shown["tag"][1]["tag"] == "tag"
    assert shown["mention"][0] == "@friend.test"
    assert shown["mention"][1]["did"] == fake.account(FRIEND).did
    assert client.warnings == []


def test_links_without_scheme_tags_and_punctuation(client, fake):
    text = "Read example.org/guide, then (https://x.org/a). #Done! $aapl ok"
    ref = post(client, text)
    stored = fake.post(ref.id)
    assert stored.text == "Read example.org/guide, then (x.org/a). #Done! $aapl ok"
    data = stored.text.encode()
    found = [(data[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode(), f["features"][0])
             for f in stored.facets]
    assert [(piece, feature.get("uri") or feature.get("tag")) for piece, feature in found] == [
        ("example.org/guide", "https://example.org/guide"),
        ("x.org/a", "https://x.org/a"),
        ("#Done", "Done"),
        ("$aapl", "$AAPL"),
    ]


def test_an_unresolvable_mention_stays_plain_text_with_a_warning(client, fake):
    ref = post(client, "hi @nobody.test and @friend.test")
    stored = fake.post(ref.id)
    assert stored.text == "hi @nobody.test and @friend.test"
    mentions = [f for f in stored.facets
                if f["features"][0]["$type"].endswith("#mention")]
    assert len(mentions) == 1
    data = stored.text.encode()
    assert data[mentions[0]["index"]["byteStart"]:mentions[0]["index"]["byteEnd"]] == \
        b"@friend.test"
    assert len(client.warnings) == 1 and "@nobody.test" in client.warnings[0]
    post(client, "again @nobody.test")
    assert len(client.warnings) == 1  # said once


def test_warnings_of_a_failed_attempt_are_not_reported_under_the_next_post(client, fake):
    client.me()
    fake.fail_next(status=400, path="*createRecord")
    with pytest.raises(BadRequestError):
        post(client, "hi @nobody.test")
    assert len(client.warnings) == 1 and "@nobody.test" in client.warnings[0]
    post(client, "no mention here")
    assert client.warnings == []


def test_shorten_url_follows_the_bluesky_app():
    assert shorten_url("https://example.com/a/very/long/path?x=1") == \
        "example.com/a/very/long/..."
    assert shorten_url("https://example.com") == "example.com"
    assert shorten_url("https://example.com/") == "example.com"
    assert shorten_url("http://Example.COM:80/abc") == "example.com/abc"
    assert shorten_url("https://example.com:8443/x") == "example.com:8443/x"
    assert shorten_url("https://example.com/exactly15chars") == "example.com/exactly15chars"
    assert shorten_url("https://example.com/exactly16charss") == "example.com/exactly16cha..."
    assert shorten_url("https://user:pw@example.com/p") == "example.com/p"
    assert shorten_url("https://café.fr/menu") == "xn--caf-dma.fr/menu"
    assert shorten_url("https://example.com/päth") == "example.com/p%C3%A4th"
    assert shorten_url("https://example.com/a/./b/../c") == "example.com/a/c"
    assert shorten_url("example.com/a/very/long/path") == "example.com/a/very/long/path"
    assert shorten_url("ftp://example.com/a/very/long/path") == \
        "ftp://example.com/a/very/long/path"
    assert shorten_url("https://exa mple.com/") == "https://exa mple.com/"
    assert shorten_url("https://[::1]:8080/x") == "[::1]:8080/x"


@pytest.mark.parametrize(("url", "shown"), [
    # Checked against Node 20's ``new URL`` (ada 2), except where said.
    ("https://münchen.de/straße", "xn--mnchen-3ya.de/stra%C3%9Fe"),  # IDN host: punycode
    ("https://例え.テスト/", "xn--r8jz45g.xn--zckzah"),
    ("https://ex\u00adample.com/", "example.com"),  # a soft hyphen is ignored (UTS 46)
    ("https://example.com:443/", "example.com"),  # the default port is dropped
    ("https://example.com:0443/x", "example.com/x"),
    ("http://example.com:443/", "example.com:443"),  # not http's default
    ("https://example.com:99999/", "https://example.com:99999/"),  # no such port
    ("https://example.com/../../x", "example.com/x"),  # `..` segments resolved
    ("https://example.com/a/%2e%2E/b", "example.com/b"),
    ("https://example.com/a b?c d#e f", "example.com/a%20b?c%20d#..."),  # spaces encoded
    ("https://example.com/\"q\"", "example.com/%22q%22"),
    ("HTTPS://EXAMPLE.COM/PATH", "example.com/PATH"),  # host lower-cased, path kept
    ("https:\\\\example.com\\a\\b", "example.com/a/b"),  # backslashes are slashes
    (" https://example.com/x\n", "example.com/x"),  # outer blanks stripped
    ("http://0x7f.1/", "127.0.0.1"),  # IPv4 in other notations
    ("https://example.com/?q=1#", "example.com?q=1"),  # an empty fragment is dropped
    # Lone surrogates become U+FFFD, as JavaScript strings do.
    ("https://example.com/\ud800x", "example.com/%EF%BF%BDx"),
    # The URL standard since 2025 (whatwg/url#846), browsers and ada 3: ^ is encoded in
    # paths (Node 20 shows it as is).
    ("https://example.com/a^b", "example.com/a%5Eb"),
])
def test_shorten_url_parses_as_the_url_standard(url, shown):
    assert shorten_url(url) == shown


def test_shorten_url_without_ada_url_says_how_to_install_it(monkeypatch):
    from threadbot.counting import _bluesky
    from threadbot.platforms import bluesky

    monkeypatch.setattr(_bluesky, "ada_url", None)
    monkeypatch.setattr(bluesky, "ada_url", None)
    with pytest.raises(ConfigError, match="ada-url"):
        shorten_url("https://example.com/")
    with pytest.raises(ConfigError, match="pip install .*ada-url"):
        BlueskyClient(ME, "x", "https://bsky.social")
    assert display_text("no links here #tag") == "no links here #tag"


def test_without_atproto_the_hint_names_the_version_threadbot_needs(monkeypatch):
    from threadbot.platforms import bluesky

    monkeypatch.setattr(bluesky, "Client", None)
    with pytest.raises(ConfigError) as caught:
        BlueskyClient(ME, "x", "https://bsky.social")
    assert "'atproto>=0.0.73,<0.1'" in caught.value.message
    assert "0.0.60" not in caught.value.message


def test_the_module_imports_without_ada_url():
    code = ("import sys; sys.modules['ada_url'] = None\n"
            "from threadbot.platforms.bluesky import display_text\n"
            "print(display_text('no links'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "no links\n"


def test_display_text_is_what_is_posted():
    text = "A long one: https://example.com/a/very/long/path/indeed and a short https://x.org"
    assert display_text(text) == "A long one: example.com/a/very/long/... and a short x.org"
    assert display_text("no links, café 🙂 #tag") == "no links, café 🙂 #tag"
    # Written without a scheme, a link is shown as written (the app cannot parse it).
    assert display_text("see example.com/a/very/long/path") == \
        "see example.com/a/very/long/path"


# ------------------------------------------------------------------ images


def noise_photo(path: Path, size: tuple[int, int], *, orientation: int = 1,
                quality: int = 95) -> Path:
    """A JPEG of random pixels (so it does not compress) with GPS EXIF."""
    width, height = size
    image = Image.frombytes("RGB", size, os.urandom(width * height * 3))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (48.0, 51.0, 24.0),
        ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (2.0, 21.0, 3.0)}
    image.save(path, "JPEG", quality=quality, exif=exif)
    return path


APP1 = 0xE1  # the JPEG segment that holds EXIF (and XMP)
APP2 = 0xE2  # ICC profiles, and the MPF index of a multi-picture file


def jpeg_image(data: bytes, at: int = 0) -> tuple[list[tuple[int, bytes]], int]:
    """The segments ``(marker, payload)`` of the JPEG image starting at ``at``, through
    all its scans, and where it ends (after its EOI)."""
    assert data[at:at + 2] == b"\xff\xd8", f"no image at {at}"
    segments: list[tuple[int, bytes]] = []
    at += 2
    while True:
        assert data[at] == 0xFF, f"no marker at {at}"
        while data[at] == 0xFF:
            at += 1
        marker = data[at]
        at += 1
        if marker == 0xD9:
            return segments, at
        length = int.from_bytes(data[at:at + 2], "big")
        segments.append((marker, data[at + 2:at + length]))
        at += length
        if marker == 0xDA:  # compressed pixels: stuffed 0xFF00 and restarts, then a marker
            while not (data[at] == 0xFF and data[at + 1] not in (0x00, *range(0xD0, 0xD8))):
                at += 1


def jpeg_images(data: bytes) -> tuple[list[list[tuple[int, bytes]]], bytes]:
    """The segments of every image in a JPEG file (a multi-picture file has several, one
    after another), and whatever follows the last one."""
    images, at = [], 0
    while at < len(data) and data[at:at + 2] == b"\xff\xd8":
        segments, at = jpeg_image(data, at)
        images.append(segments)
    return images, data[at:]


def jpeg_markers(data: bytes) -> list[int]:
    """The markers of a JPEG's segments (of its first image; a byte search could find
    "GPS" by chance in compressed pixels)."""
    return [marker for marker, _ in jpeg_image(data)[0]]


def exif_of(segments: list[tuple[int, bytes]]) -> list[Image.Exif]:
    """The EXIF blocks among an image's segments, parsed."""
    found = []
    for marker, payload in segments:
        if marker == APP1 and payload.startswith(b"Exif\0\0"):
            exif = Image.Exif()
            exif.load(payload)
            found.append(exif)
    return found


def multi_picture_photo(path: Path, size: tuple[int, int], **options) -> Path:
    """A multi-picture JPEG (MPO: a primary image and a second one after it, as stereo
    cameras, gain maps and motion photos make) with GPS EXIF in each image."""
    width, height = size
    frames = [Image.frombytes("RGB", size, os.urandom(width * height * 3)) for _ in range(2)]
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    exif[ExifTags.Base.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (48.0, 51.0, 24.0),
        ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (2.0, 21.0, 3.0)}
    frames[0].save(path, "MPO", save_all=True, append_images=frames[1:], exif=exif,
                   quality=90, **options)
    return path


def test_a_3_mb_photo_with_gps_is_uploaded_small_without_exif(client, fake, tmp_path):
    photo = noise_photo(tmp_path / "photo.jpg", (1900, 1350))
    assert photo.stat().st_size > 3_000_000
    with Image.open(photo) as original:
        assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)

    media_id = client.upload_media(photo, "A field at dusk")
    ref = post(client, "with a photo", media_ids=(media_id,))

    stored = fake.post(ref.id)
    (image,) = stored.images
    assert image["alt"] == "A field at dusk"
    (blob,) = fake.blobs(ME)
    assert blob.size < 1_000_000 and blob.mime_type == "image/jpeg"
    assert stored.blob_cids == (blob.cid,)
    with Image.open(io.BytesIO(blob.data)) as sent:
        assert not sent.getexif()
        assert APP1 not in jpeg_markers(blob.data)  # no EXIF (or XMP) segment at all
        ratio = image["aspectRatio"]
        assert (ratio["width"], ratio["height"]) == (sent.width, sent.height)
        assert abs(sent.width / sent.height - 1900 / 1350) < 0.01


def test_a_small_photo_loses_its_exif_but_not_its_pixels(tmp_path):
    photo = noise_photo(tmp_path / "small.jpg", (200, 100), quality=90)
    data, mime, width, height, resized = prepare_image(photo)
    assert (mime, width, height, resized) == ("image/jpeg", 200, 100, False)
    assert APP1 not in jpeg_markers(data) and len(data) < photo.stat().st_size
    with Image.open(photo) as before, Image.open(io.BytesIO(data)) as after:
        assert not after.getexif()
        assert before.tobytes() == after.tobytes()  # removed losslessly


@pytest.mark.parametrize("options", [{}, {"progressive": True},
                                     {"restart_marker_blocks": 1}],
                         ids=["baseline", "progressive", "restart-markers"])
def test_a_multi_picture_jpeg_keeps_only_its_primary_image_without_exif(
        client, fake, tmp_path, options):
    photo = multi_picture_photo(tmp_path / "stereo.jpg", (240, 160), **options)
    original = photo.read_bytes()
    assert len(original) <= 1_000_000
    images, _ = jpeg_images(original)
    assert len(images) == 2
    assert all(exif.get_ifd(ExifTags.IFD.GPSInfo) for segments in images
               for exif in exif_of(segments))
    assert any(p.startswith(b"MPF\0") for m, p in images[0] if m == APP2)

    client.upload_media(photo, "Two views")
    (blob,) = fake.blobs(ME)
    assert blob.mime_type == "image/jpeg"
    images, trailing = jpeg_images(blob.data)
    assert len(images) == 1 and trailing == b""  # the second image is gone
    for segments in images:
        assert exif_of(segments) == []
        assert [m for m, _ in segments if m == APP1 or 0xE3 <= m <= 0xEF or m == 0xFE] == []
        assert not any(p.startswith(b"MPF\0") for m, p in segments if m == APP2)
    with Image.open(photo) as before, Image.open(io.BytesIO(blob.data)) as after:
        assert after.format == "JPEG" and getattr(after, "n_frames", 1) == 1
        assert not after.getexif()
        assert before.tobytes() == after.tobytes()  # the primary image, losslessly


def test_a_jpeg_whose_structure_is_odd_is_encoded_anew(tmp_path):
    from threadbot.platforms.bluesky import _strip_jpeg

    photo = noise_photo(tmp_path / "small.jpg", (64, 48))
    data = photo.read_bytes()
    assert _strip_jpeg(data[:-2]) is None  # no end of image
    assert _strip_jpeg(data[:200]) is None  # cut short
    assert _strip_jpeg(b"\xff\xd8\xff\xd9") is None  # no image at all
    end = _strip_jpeg(data)
    assert end is not None and jpeg_images(end)[1] == b""
    # Stray bytes after the JFIF segment (which Pillow reads past): encoded anew.
    assert data[2:4] == b"\xff\xe0" and data[20:22] == b"\xff\xe1"
    odd = data[:20] + b"\0\0" + data[20:]
    assert _strip_jpeg(odd) is None
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(odd)
    sent, mime, width, height, _ = prepare_image(broken)
    assert (mime, width, height) == ("image/jpeg", 64, 48)
    images, trailing = jpeg_images(sent)
    assert len(images) == 1 and trailing == b"" and exif_of(images[0]) == []
    assert [m for m, _ in images[0] if m == APP1] == []


def test_orientation_is_applied_before_the_exif_goes(tmp_path):
    photo = noise_photo(tmp_path / "turned.jpg", (300, 200), orientation=6)
    data, _, width, height, resized = prepare_image(photo)
    assert (width, height, resized) == (200, 300, False)
    with Image.open(io.BytesIO(data)) as after:
        assert after.size == (200, 300) and not after.getexif()


def test_png_text_and_exif_chunks_are_removed(tmp_path):
    from PIL import PngImagePlugin

    image = Image.new("RGBA", (40, 30), (10, 20, 30, 128))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "taken at home")
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    path = tmp_path / "chart.png"
    image.save(path, "PNG", pnginfo=info, exif=exif)
    assert b"taken at home" in path.read_bytes() and b"eXIf" in path.read_bytes()
    data, mime, width, height, resized = prepare_image(path)
    assert (mime, width, height, resized) == ("image/png", 40, 30, False)
    assert b"taken at home" not in data and b"eXIf" not in data
    with Image.open(io.BytesIO(data)) as after:
        assert after.tobytes() == image.tobytes()


def test_a_large_png_without_transparency_becomes_a_jpeg(tmp_path):
    path = tmp_path / "screenshot.png"
    Image.frombytes("RGB", (900, 700), os.urandom(900 * 700 * 3)).save(path, "PNG")
    assert path.stat().st_size > 1_000_000
    data, mime, width, height, resized = prepare_image(path)
    assert mime == "image/jpeg" and resized and len(data) <= 1_000_000
    assert abs(width / height - 900 / 700) < 0.01


def test_a_large_transparent_png_stays_a_png(tmp_path):
    path = tmp_path / "logo.png"
    Image.frombytes("RGBA", (800, 600), os.urandom(800 * 600 * 4)).save(path, "PNG")
    assert path.stat().st_size > 1_000_000
    data, mime, width, height, resized = prepare_image(path)
    assert mime == "image/png" and resized and len(data) <= 1_000_000
    with Image.open(io.BytesIO(data)) as after:
        assert after.mode == "RGBA" and after.size == (width, height)


def test_webp_exif_and_xmp_are_removed_losslessly(tmp_path):
    from PIL import features

    if not features.check("webp"):
        pytest.skip("Pillow without WEBP")
    image = Image.frombytes("RGB", (64, 48), os.urandom(64 * 48 * 3))
    exif = Image.Exif()
    exif[ExifTags.Base.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N",
                                   ExifTags.GPS.GPSLatitude: (48.0, 51.0, 24.0)}
    path = tmp_path / "photo.webp"
    image.save(path, "WEBP", lossless=True, exif=exif, xmp=b"<x:xmpmeta>home</x:xmpmeta>")
    assert b"EXIF" in path.read_bytes() and b"xmpmeta" in path.read_bytes()
    data, mime, width, height, resized = prepare_image(path)
    assert (mime, width, height, resized) == ("image/webp", 64, 48, False)
    assert b"EXIF" not in data and b"xmpmeta" not in data
    with Image.open(io.BytesIO(data)) as after:
        assert not after.getexif() and after.convert("RGB").tobytes() == image.tobytes()


def test_images_that_cannot_be_used(tmp_path, client):
    with pytest.raises(MediaError) as caught:
        prepare_image(tmp_path / "missing.png")
    assert "missing.png" in str(caught.value)
    gif = tmp_path / "anim.gif"
    Image.new("RGB", (4, 4)).save(gif, "GIF")
    with pytest.raises(MediaError, match="GIF"):
        client.upload_media(gif, None)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(MediaError, match="not a PNG, JPEG or WEBP"):
        prepare_image(text)


# ------------------------------------------------------------------ sessions

SCRIPT = textwrap.dedent("""
    import sys
    from threadbot.platforms.bluesky import BlueskyClient
    base, handle, password, state = sys.argv[1:5]
    with BlueskyClient(handle, password, base, 10, account="main", state_dir=state) as c:
        print(c.me().handle)
""")


def run_processes(fake: FakeBluesky, state: Path, count: int, *,
                  parallel: bool = False) -> list[subprocess.CompletedProcess]:
    credentials = fake.credentials(ME)
    argv = [sys.executable, "-c", SCRIPT, fake.base_url, ME, credentials["app_password"],
            str(state)]
    if not parallel:
        return [subprocess.run(argv, capture_output=True, text=True, timeout=60)
                for _ in range(count)]
    running = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(count)]
    done = []
    for process in running:
        out, err = process.communicate(timeout=60)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return done


def test_ten_processes_in_a_row_sign_in_once(fake, state):
    results = run_processes(fake, state, 10)
    assert [r.returncode for r in results] == [0] * 10, results[0].stderr
    assert all(r.stdout.strip() == ME for r in results)
    assert fake.logins(ME) == 1
    secrets = secrets_of(fake, state)
    for result in results:
        for secret in secrets:
            assert secret not in result.stdout + result.stderr


def test_the_session_file_is_private_and_holds_the_tokens(client, fake, state, capsys, caplog):
    client.me()
    path = state / SESSION
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["did"] == fake.account(ME).did and data["handle"] == ME
    assert data["access_jwt"].count(".") == 2 and data["refresh_jwt"].count(".") == 2
    assert fake.credentials()["app_password"] not in path.read_text()
    assert [p.name for p in state.iterdir() if p.name.endswith(".tmp")] == []
    secrets = secrets_of(fake, state)
    captured = capsys.readouterr()
    for secret in secrets:
        assert secret not in repr(client)
        assert secret not in captured.out + captured.err + caplog.text


def test_an_expired_token_is_refreshed_without_signing_in(fake, state, clock):
    # The client shares the fake's clock: it sees the token expire and refreshes first.
    with make_client(fake, state, clock=clock) as client:
        client.me()
        before = json.loads((state / SESSION).read_text())
        clock.now += 601
        post(client, "after an hour")
    assert fake.logins(ME) == 1 and fake.refreshes(ME) == 1
    after = json.loads((state / SESSION).read_text())
    assert after["refresh_jwt"] != before["refresh_jwt"]
    # The next process uses the refreshed session.
    with make_client(fake, state, clock=clock) as client:
        assert client.me().handle == ME
    assert fake.logins(ME) == 1 and fake.refreshes(ME) == 1


def test_a_token_the_server_calls_expired_is_refreshed(fake, state, clock):
    # The client's clock says the token is good; the server's says it expired.
    with make_client(fake, state) as client:
        client.me()
        clock.now += 601
        ref = post(client, "clocks disagree")
    assert fake.post(ref.id).text == "clocks disagree"
    assert fake.logins(ME) == 1 and fake.refreshes(ME) == 1


def test_a_long_running_client_adopts_the_session_another_process_renewed(state, clock):
    # Two "processes" (clients sharing the session file); refresh tokens rotate, and the
    # old one works only a few seconds more.
    with FakeBluesky.running(accounts=[ME], access_ttl=600, refresh_grace=5,
                             clock=clock) as fake:
        with make_client(fake, state, clock=clock) as daemon:
            daemon.me()
            assert fake.logins(ME) == 1
            clock.now += 500  # the access token is near its end
            with make_client(fake, state, clock=clock) as other:
                other.me()  # refreshes, rotating the refresh token the daemon holds
            assert fake.logins(ME) == 1 and fake.refreshes(ME) == 1
            clock.now += 500  # the other's session is near its end too
            ref = post(daemon, "still signed in")
        assert fake.post(ref.id).text == "still signed in"
        assert fake.logins(ME) == 1 and fake.refreshes(ME) == 2
        with make_client(fake, state, clock=clock) as later:  # the file holds the newest
            assert later.me().handle == ME
        assert fake.logins(ME) == 1 and fake.refreshes(ME) == 2


def test_a_long_running_client_adopts_a_fresh_session_without_refreshing(state, clock):
    with FakeBluesky.running(accounts=[ME], access_ttl=600, clock=clock) as fake:
        with make_client(fake, state, clock=clock) as daemon:
            daemon.me()
            clock.now += 500
            with make_client(fake, state, clock=clock) as other:
                other.me()
            clock.now += 10  # the other's session is fresh
            post(daemon, "adopted")
        assert fake.logins(ME) == 1 and fake.refreshes(ME) == 1


def test_processes_renewing_at_once_rotate_the_token_once(fake, state, clock):
    run_processes(fake, state, 1)
    clock.now += 601  # every saved access token is now refused by the server
    results = run_processes(fake, state, 5, parallel=True)
    assert [r.returncode for r in results] == [0] * 5, [r.stderr for r in results]
    assert fake.logins(ME) == 1 and fake.refreshes(ME) == 1


def test_revoked_refresh_tokens_mean_signing_in_again(fake, state, clock):
    with make_client(fake, state, clock=clock) as client:
        client.me()
        fake.revoke_refresh_tokens(ME)
        clock.now += 601
        assert client.me().handle == ME
    assert fake.logins(ME) == 2 and fake.refreshes(ME) == 0
    with make_client(fake, state, clock=clock) as client:
        fake.revoke_refresh_tokens(ME, access_tokens=True)  # refused at once
        post(client, "signed in anew")
    assert fake.logins(ME) == 3


def test_a_session_of_another_handle_or_server_is_not_used(fake, state):
    with make_client(fake, state) as client:
        client.me()
    with make_client(fake, state, handle=FRIEND) as friend:
        assert friend.me().handle == FRIEND
    assert fake.logins(FRIEND) == 1
    with FakeBluesky.running(accounts=[ME]) as other:
        with BlueskyClient(ME, other.credentials(ME)["app_password"], other.base_url, 5,
                           account="main", state_dir=state) as moved:
            assert moved.me().account_id == other.account(ME).did
        assert other.logins(ME) == 1


@pytest.mark.parametrize("damage", ["tokens", "json"])
def test_a_damaged_session_file_means_signing_in_again(fake, state, damage):
    with make_client(fake, state) as client:
        client.me()
    path = state / SESSION
    if damage == "tokens":
        data = json.loads(path.read_text())
        path.write_text(json.dumps({**data, "access_jwt": "garbage", "refresh_jwt": "junk"}))
    else:
        path.write_text("{not json")
    with make_client(fake, state) as client:
        assert client.me().handle == ME
    assert fake.logins(ME) == 2
    assert json.loads(path.read_text())["access_jwt"].count(".") == 2


def test_without_a_state_folder_the_session_stays_in_memory(fake, tmp_path):
    with make_client(fake, None) as client:
        client.me()
        client.me()
    assert fake.logins(ME) == 1
    assert list(tmp_path.glob("**/threadbot-session-*")) == []


# ------------------------------------------------------------------ errors


def test_a_wrong_app_password_names_the_login_command(fake, state):
    with make_client(fake, state, password="wron-gwro-ngwr-ongw") as client:
        with pytest.raises(AuthError) as caught:
            client.me()
    message = caught.value.message
    assert "threadbot accounts login main" in message
    assert "App passwords" in message and "main password" in message
    assert "wron-gwro-ngwr-ongw" not in str(caught.value) + repr(caught.value)
    assert caught.value.status == 401
    assert not (state / SESSION).exists()


def test_a_missing_app_password(fake, state):
    with make_client(fake, state, password="") as client, pytest.raises(AuthError) as caught:
        client.me()
    assert "threadbot accounts login main" in caught.value.message


def test_rate_limited_with_the_reset_time(client, fake, clock, state):
    client.me()
    fake.rate_limit_next(path="*createRecord", reset_in=120)
    with pytest.raises(RateLimitedError) as caught:
        post(client, "too fast")
    error = caught.value
    assert error.status == 429 and not error.may_have_posted
    assert error.reset_at == datetime.fromtimestamp(int(clock.now + 120), UTC)
    assert error.reset_at.astimezone().strftime("%H:%M") in error.message
    assert_no_secret(error, secrets_of(fake, state))


def test_too_long_a_post_is_refused_with_the_servers_reason(client, fake):
    with pytest.raises(BadRequestError) as caught:
        post(client, "x" * 301)
    assert caught.value.status == 400
    assert "grapheme" in caught.value.message and "Fix the post" in caught.value.message
    assert fake.posts(ME) == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_may_have_posted_only_for_writes(client, fake, status):
    client.me()
    fake.fail_next(status=status, path="*createRecord")
    with pytest.raises(ServerError) as caught:
        post(client, "five hundred")
    assert caught.value.may_have_posted and caught.value.status == status
    fake.fail_next(status=status, path="*getSession")
    with pytest.raises(ServerError) as caught:
        client.me()
    assert not caught.value.may_have_posted


def test_nothing_sent_versus_no_answer(fake, state):
    with BlueskyClient(ME, "aaaa-bbbb-cccc-dddd", f"http://127.0.0.1:{closed_port()}", 2,
                       account="main", state_dir=state) as nowhere:
        with pytest.raises(NetworkError) as caught:
            nowhere.me()
    assert "refused" in caught.value.message and not caught.value.may_have_posted

    with make_client(fake, state) as client:
        client.me()
        fake.drop_next(after_store=False, path="*createRecord")
        with pytest.raises(UncertainError) as caught:
            post(client, "dropped")
        assert caught.value.may_have_posted
        fake.drop_next(after_store=False, path="*getSession")
        with pytest.raises(UncertainError) as caught:
            client.me()
        assert not caught.value.may_have_posted


def test_a_slow_answer_is_uncertain(fake, state):
    with BlueskyClient(ME, fake.credentials(ME)["app_password"], fake.base_url, 0.5,
                       account="main", state_dir=state) as client:
        client.me()
        fake.delay_next(2.0, path="*createRecord")
        with pytest.raises(UncertainError) as caught:
            post(client, "slow")
    assert "0.5 seconds" in caught.value.message and caught.value.may_have_posted


def test_a_server_that_is_not_a_pds(client, fake):
    client.me()
    fake.fail_next(status=404, path="*getSession")
    with pytest.raises(RejectedError) as caught:
        client.me()
    assert "api_base_url" in caught.value.message and caught.value.status == 404


def test_the_client_holds_no_secret_in_its_repr(client, fake, state):
    client.me()
    assert "main" in repr(client) and ME in repr(client)
    for secret in secrets_of(fake, state):
        assert secret not in repr(client)


# ------------------------------------------------------------------ setting up


def test_spec():
    assert SPEC.name == "bluesky" and SPEC.title == "Bluesky"
    assert SPEC.env == {"app_password": "BLUESKY_APP_PASSWORD"}
    assert SPEC.default_api_base_url == "https://bsky.social"
    assert SPEC.needs_handle and SPEC.resizes_images and SPEC.extra == "bluesky"
    assert SPEC.default_limits.max_characters == 300
    assert SPEC.default_limits.max_image_bytes == 1_000_000
    assert SPEC.default_limits.media_types == ("image/png", "image/jpeg", "image/webp")


def account(fake: FakeBluesky, handle: str = ME) -> SimpleNamespace:
    return SimpleNamespace(name="main", platform="bluesky", api_base_url=fake.base_url,
                           handle=handle, env=dict(SPEC.env))


def test_make_client_and_login_walk_through(fake, state):
    said: list[str] = []
    answers = iter(["", fake.credentials(ME)["app_password"]])
    prompts: list[str] = []

    def ask(prompt: str, hidden: bool = False) -> str:
        prompts.append(prompt)
        return next(answers)

    secrets = SPEC.login(account(fake), ask=ask, say=said.append, state_dir=state)
    assert secrets == {"app_password": fake.credentials(ME)["app_password"]}
    assert ME in prompts[0] and "App password" in prompts[1]
    assert any("App passwords" in text and "never your main password" in text
               for text in said)
    assert fake.logins(ME) == 1 and (state / SESSION).exists()
    # The client made next reuses that session.
    with SPEC.make_client(account(fake), secrets, 5, state_dir=state) as client:
        assert client.me().handle == ME
    assert fake.logins(ME) == 1
    for text in said + prompts:
        assert secrets["app_password"] not in text


def test_login_warns_of_a_password_that_is_not_an_app_password(fake, state):
    fake.add_account("plain.test", app_password="hunter2hunter2")
    said: list[str] = []
    answers = iter(["plain.test", "hunter2hunter2"])
    SPEC.login(account(fake, "plain.test"), ask=lambda prompt, hidden=False: next(answers),
               say=said.append, state_dir=state)
    assert any(text.startswith("Warning:") and "main password" in text for text in said)


def test_login_refuses_another_handle_than_the_configs(fake, state):
    answers = iter([FRIEND])
    with pytest.raises(ConfigError) as caught:
        SPEC.login(account(fake), ask=lambda prompt, hidden=False: next(answers),
                   say=lambda text: None, state_dir=state)
    assert f"handle: {FRIEND}" in caught.value.message
    assert fake.logins() == 0


def test_login_with_a_wrong_app_password(fake, state):
    answers = iter([ME, "wron-gwro-ngwr-ongw"])
    with pytest.raises(AuthError) as caught:
        SPEC.login(account(fake), ask=lambda prompt, hidden=False: next(answers),
                   say=lambda text: None, state_dir=state)
    assert "wron-gwro-ngwr-ongw" not in str(caught.value)
    assert not (state / SESSION).exists()
