"""MastodonClient against the fake Mastodon server: real HTTP, real Mastodon.py, no mocks."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from helpers import Clock
from threadbot.errors import MediaError, ThreadbotError
from threadbot.platforms import spec
from threadbot.platforms.base import Identity, Limits, PostOptions, PostRef
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
from threadbot.platforms.mastodon import (
    DEFAULT_LIMITS,
    SPEC,
    MastodonClient,
    _limits,
    authorization_url,
    exchange_code,
    html_to_text,
    register_app,
)
from threadbot.testing.fake_mastodon import FakeMastodon

PNG = (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (640).to_bytes(4, "big")
       + (480).to_bytes(4, "big") + bytes(range(256)) * 4)
PUBLIC = PostOptions(visibility="public")
UNLISTED = PostOptions(visibility="unlisted")


@pytest.fixture
def fake(fake_mastodon: FakeMastodon) -> FakeMastodon:
    return fake_mastodon


@pytest.fixture
def client(fake: FakeMastodon) -> Iterator[MastodonClient]:
    with MastodonClient(fake.credentials()["access_token"], fake.base_url, 5,
                        account="main") as mastodon:
        yield mastodon


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "chart.png"
    path.write_bytes(PNG)
    return path


def post(client: MastodonClient, text: str, reply_to: PostRef | None = None, *,
         key: str | None = None, options: PostOptions = PUBLIC,
         media_ids: tuple[str, ...] = ()) -> PostRef:
    return client.create_post(text, reply_to=reply_to, root=None, media_ids=media_ids,
                              idempotency_key=key or f"key-{text}", options=options)


def assert_no_secret(error: BaseException, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in str(error)
        assert secret not in repr(error)
        assert secret not in str(getattr(error, "detail", "") or "")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- account, limits


def test_me_gives_the_account_id_and_a_handle_with_the_instance(fake, client):
    identity = client.me()
    assert identity == Identity(account_id=fake.account().id, handle="threadbot_test@127.0.0.1")
    assert identity.shown == "@threadbot_test@127.0.0.1"


def test_repr_shows_the_instance_and_account_never_the_token(fake, client):
    token = fake.credentials()["access_token"]
    assert repr(client) == f"MastodonClient(api_base_url='{fake.base_url}', account='main')"
    assert token not in repr(client) and token not in repr(client.__dict__)


def test_limits_come_from_the_instance():
    with FakeMastodon.running(
        max_characters=1000, characters_reserved_per_url=30, max_media_attachments=6,
        image_size_limit=8 * 1024 * 1024, description_limit=900,
        supported_mime_types=("image/png", "image/jpeg", "image/avif", "video/mp4"),
    ) as server:
        with MastodonClient(server.credentials()["access_token"], server.base_url, 5) as client:
            limits = client.limits()
    assert limits == Limits(
        max_characters=1000, characters_reserved_per_url=30, max_media=6,
        max_image_bytes=8 * 1024 * 1024, max_gif_bytes=8 * 1024 * 1024,
        media_types=("image/png", "image/jpeg", "image/avif"), max_alt=900,
    )


def test_limits_fall_back_to_the_v1_instance_for_older_servers():
    with FakeMastodon.running(max_characters=1000) as server:
        server.fail_next(status=404, method="GET", path="/api/v2/instance")
        with MastodonClient(server.credentials()["access_token"], server.base_url, 5) as client:
            limits = client.limits()
        paths = [r.path for r in server.requests]
    assert paths == ["/api/v2/instance", "/api/v1/instance"]
    # v1 has no description_limit: Mastodon's 1,500.
    assert (limits.max_characters, limits.max_alt) == (1000, 1500)


def test_limits_default_to_mastodons_for_what_is_missing():
    assert _limits({}) == DEFAULT_LIMITS == SPEC.default_limits
    assert _limits({"max_toot_chars": 5000}).max_characters == 5000  # Pleroma, older servers
    partial = _limits({"configuration": {"statuses": {"max_characters": 640},
                                         "media_attachments": {"supported_mime_types": [
                                             "video/mp4"]}}})
    assert partial == Limits(640, 23, 4, 16 * 1024 * 1024, 16 * 1024 * 1024,
                             DEFAULT_LIMITS.media_types, 1500)


def test_limits_server_error_is_a_server_error(fake, client):
    fake.fail_next(status=502, method="GET", path="/api/v2/instance")
    with pytest.raises(ServerError) as excinfo:
        client.limits()
    assert excinfo.value.may_have_posted is False
    assert f"127.0.0.1:{fake.port}" in str(excinfo.value)


# --------------------------------------------------------------------------- posting


def test_a_three_post_thread_public_then_unlisted(fake, client):
    options = PostOptions(visibility="public", language="de", content_warning="Spoilers")
    first = client.create_post("Eins", reply_to=None, root=None, media_ids=(),
                               idempotency_key="k1", options=options)
    reply_options = PostOptions(visibility="unlisted", language="de",
                                content_warning="Spoilers")
    second = client.create_post("Zwei", reply_to=first, root=first, media_ids=(),
                                idempotency_key="k2", options=reply_options)
    third = client.create_post("Drei", reply_to=second, root=first, media_ids=(),
                               idempotency_key="k3", options=reply_options)

    stored = fake.posts(user="threadbot_test")
    assert [s.id for s in stored] == [first.id, second.id, third.id]
    assert [s.text for s in stored] == ["Eins", "Zwei", "Drei"]  # no mention added
    assert [s.in_reply_to_id for s in stored] == [None, first.id, second.id]
    assert [s.visibility for s in stored] == ["public", "unlisted", "unlisted"]
    assert {s.language for s in stored} == {"de"}
    assert {s.spoiler_text for s in stored} == {"Spoilers"}
    assert all(s.sensitive for s in stored)  # a content warning marks the post sensitive
    assert first.url == f"{fake.base_url}/@threadbot_test/{first.id}"
    assert [r.idempotency_key for r in fake.requests if r.path == "/api/v1/statuses"] == [
        "k1", "k2", "k3"]


def test_no_options_leave_the_accounts_defaults(fake, client):
    client.create_post("plain", reply_to=None, root=None, media_ids=(),
                       idempotency_key="k", options=PostOptions())
    (request,) = [r for r in fake.requests if r.path == "/api/v1/statuses"]
    assert "visibility" not in request.form and "language" not in request.form
    assert "spoiler_text" not in request.form
    assert fake.posts()[0].visibility == "public"


def test_the_same_idempotency_key_gives_one_status(fake, client):
    first = post(client, "once", key="thread-1-post-1")
    again = post(client, "once", key="thread-1-post-1")
    assert again == first
    assert len(fake.posts()) == 1
    other = post(client, "once", key="thread-1-post-2")
    assert other.id != first.id and len(fake.posts()) == 2


def test_a_key_that_cannot_be_a_header_is_sent_as_its_digest(fake, client):
    first = post(client, "odd key", key="thread 1\npost 1 \u00e9")
    assert post(client, "odd key", key="thread 1\npost 1 \u00e9") == first
    assert len(fake.posts()) == 1
    (key,) = {r.idempotency_key for r in fake.requests if r.path == "/api/v1/statuses"}
    assert key.startswith("sha256-")


def test_image_with_alt_text_is_processed_then_attached(fake, client, image):
    media_id = client.upload_media(image, "A bar chart: sales doubled.")
    (stored,) = fake.media(media_id)
    assert stored.description == "A bar chart: sales doubled."
    assert stored.media_type == "image/png" and stored.processed
    # The fake keeps it "processing" for one poll: we polled until 200.
    polls = [r.status for r in fake.requests if r.path == f"/api/v1/media/{media_id}"]
    assert polls == [206, 200]

    ref = post(client, "with a chart", media_ids=(media_id,))
    assert fake.post(ref.id).media_ids == (media_id,)
    assert fake.media(media_id)[0].status_id == ref.id


def test_image_type_comes_from_the_bytes_not_the_name(fake, client, tmp_path):
    misnamed = tmp_path / "photo.jpg"
    misnamed.write_bytes(PNG)
    media_id = client.upload_media(misnamed, None)
    stored = fake.media(media_id)[0]
    assert stored.media_type == "image/png" and stored.description is None


def test_image_processing_has_a_deadline(image):
    with FakeMastodon.running(processing_polls=10_000) as server:
        with MastodonClient(server.credentials()["access_token"], server.base_url, 5,
                            processing_timeout=0.6) as client:
            started = datetime.now(UTC)
            with pytest.raises(ServerError, match="still processing the image chart.png"):
                client.upload_media(image, "alt")
            assert datetime.now(UTC) - started < timedelta(seconds=3)


def test_images_are_checked_locally(fake, client, tmp_path):
    missing = tmp_path / "missing.png"
    with pytest.raises(MediaError) as excinfo:
        client.upload_media(missing, "alt")
    assert str(missing) in str(excinfo.value)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(MediaError, match="not a PNG, JPEG, GIF or WEBP"):
        client.upload_media(text, "alt")
    assert fake.media() == []


def test_the_instance_refusing_an_image_is_a_bad_request(image):
    with FakeMastodon.running(description_limit=10) as server:
        with MastodonClient(server.credentials()["access_token"], server.base_url, 5) as client:
            with pytest.raises(BadRequestError) as excinfo:
                client.upload_media(image, "a description far longer than ten characters")
    assert "Mastodon refused the image chart.png:" in str(excinfo.value)
    assert excinfo.value.status == 422 and excinfo.value.detail


# --------------------------------------------------------------------------- reading back


SENT = ("Line one\nline two & <b>not bold</b>\n\n"
        "Second paragraph with a link https://example.com/a?b=c&d=e and more.\n"
        "Last line.")


def test_recent_posts_turn_html_back_into_the_text_sent(fake, client):
    first = post(client, "root")
    second = post(client, SENT, first, options=UNLISTED)
    identity = client.me()
    recent = client.recent_posts(identity)
    assert [p.ref for p in recent] == [second, first]
    seen = recent[0]
    assert seen.text == SENT
    assert client.same_text(SENT, seen.text)
    assert seen.in_reply_to_id == first.id and recent[1].in_reply_to_id is None
    assert seen.created_at is not None and seen.created_at.tzinfo is not None
    assert abs(datetime.now(UTC) - seen.created_at) < timedelta(minutes=1)


def test_html_to_text_of_mastodons_markup():
    content = (
        '<p>Hi <span class="h-card"><a href="https://x.y/@a" class="u-url mention">@<span>a'
        '</span></a></span> &amp; you&#39;re &lt;here&gt;<br />see <a href="https://example.'
        'com/long/path" rel="nofollow noopener" target="_blank"><span class="invisible">'
        'https://</span><span class="ellipsis">example.com/long</span><span class="invisible">'
        '/path</span></a></p><p>Second</p><p>Third<br/>line</p>'
    )
    assert html_to_text(content) == (
        "Hi @a & you're <here>\nsee https://example.com/long/path\n\nSecond\n\nThird\nline")
    assert html_to_text("") == ""
    assert html_to_text("no tags &quot;at all&quot;") == 'no tags "at all"'


def test_recent_posts_follow_pagination_past_forty(fake, client):
    refs = [post(client, f"post {n}") for n in range(45)]
    identity = client.me()
    recent = client.recent_posts(identity)
    assert [p.ref.id for p in recent] == [r.id for r in reversed(refs)]
    pages = [r for r in fake.requests if r.path.endswith("/statuses") and r.method == "GET"]
    assert len(pages) == 2 and pages[0].query["limit"] == ["40"]
    assert [p.ref.id for p in client.recent_posts(identity, max_results=42)] == [
        r.id for r in reversed(refs)][:42]


def test_recent_posts_stop_at_since():
    clock = Clock(1_780_000_000.0)
    with FakeMastodon.running(clock=clock) as server:
        with MastodonClient(server.credentials()["access_token"], server.base_url, 5) as client:
            old = post(client, "old")
            clock.now += 3600
            since = datetime.fromtimestamp(clock.now - 1, UTC)
            new = [post(client, "new 1"), post(client, "new 2")]
            recent = client.recent_posts(client.me(), since=since)
            assert [p.ref for p in recent] == new[::-1]
            naive = since.replace(tzinfo=None)  # naive times are UTC
            assert [p.ref for p in client.recent_posts(client.me(), since=naive)] == new[::-1]
            assert old not in [p.ref for p in client.recent_posts(client.me(), since=since)]


def test_delete_and_delete_again(fake, client):
    ref = post(client, "to go")
    client.delete_post(ref)
    assert fake.posts() == [] and fake.post(ref.id).deleted
    client.delete_post(ref)  # already gone: not an error
    assert [r.status for r in fake.requests if r.method == "DELETE"] == [200, 404]


# --------------------------------------------------------------------------- allowance


def test_allowance_from_the_last_answer(fake, client):
    assert client.allowance() is None
    post(client, "counted")
    allowance = client.allowance()
    assert allowance is not None and allowance.remaining is not None
    assert 0 < allowance.remaining < 300
    assert allowance.reset_at is not None and allowance.reset_at.tzinfo is not None
    assert datetime.now(UTC) < allowance.reset_at < datetime.now(UTC) + timedelta(hours=3)


# --------------------------------------------------------------------------- errors


def test_a_bad_token_is_an_auth_error_naming_the_login_command(fake):
    token = "not-a-real-token-123456"
    with MastodonClient(token, fake.base_url, 5, account="main") as client:
        with pytest.raises(AuthError) as excinfo:
            client.me()
        with pytest.raises(AuthError):
            post(client, "hello")
    error = excinfo.value
    assert error.status == 401 and error.platform == "mastodon"
    assert "threadbot accounts login main" in str(error)
    assert "threadbot accounts check" in str(error)
    assert f"127.0.0.1:{fake.port}" in str(error)
    assert_no_secret(error, token)
    assert fake.posts() == []


def test_403_is_an_auth_error(fake, client):
    fake.fail_next(status=403, method="POST", path="/api/v1/statuses")
    with pytest.raises(AuthError) as excinfo:
        post(client, "hello")
    assert excinfo.value.status == 403
    assert "threadbot accounts login main" in str(excinfo.value)


def test_422_is_a_bad_request_with_mastodons_reason(fake, client):
    with pytest.raises(BadRequestError) as excinfo:
        post(client, "x" * 501)
    error = excinfo.value
    assert error.status == 422
    assert str(error).startswith("Mastodon refused the post: Validation failed: Text "
                                 "character limit of 500 exceeded.")
    assert "character limit of 500" in (error.detail or "")
    assert isinstance(error, RejectedError) and not error.retryable
    assert fake.posts() == []


def test_reply_to_a_missing_post_is_rejected(fake, client):
    with pytest.raises(RejectedError) as excinfo:
        post(client, "reply", PostRef(id="1234567"))
    assert excinfo.value.status in (404, 422)
    assert excinfo.value.detail


def test_429_is_rate_limited_with_the_reset_time(fake, client):
    fake.rate_limit_next(method="POST", path="/api/v1/statuses", reset_in=120)
    with pytest.raises(RateLimitedError) as excinfo:
        post(client, "too soon")
    error = excinfo.value
    assert error.status == 429 and error.retryable
    assert error.reset_at is not None
    expected = datetime.now(UTC) + timedelta(seconds=120)
    assert abs(error.reset_at - expected) < timedelta(seconds=5)
    assert error.reset_at.astimezone().strftime("%H:%M") in str(error)
    assert fake.posts() == []


def test_the_instances_own_window_raises_rate_limited():
    with FakeMastodon.running(rate_limits={"api": (2, 300)}) as server:
        with MastodonClient(server.credentials()["access_token"], server.base_url, 5) as client:
            client.me()
            client.me()
            with pytest.raises(RateLimitedError) as excinfo:
                client.me()
            assert excinfo.value.reset_at is not None
            assert client.allowance().remaining == 0


def test_503_on_a_post_is_a_server_error_that_may_have_posted(fake, client):
    fake.fail_next(status=503, method="POST", path="/api/v1/statuses")
    with pytest.raises(ServerError) as excinfo:
        post(client, "hello")
    error = excinfo.value
    assert error.status == 503 and error.may_have_posted and error.retryable
    assert "recent posts" in str(error)


def test_5xx_on_a_read_or_an_upload_did_not_post(fake, client, image):
    fake.fail_next(status=500, method="GET")
    with pytest.raises(ServerError) as excinfo:
        client.me()
    assert excinfo.value.may_have_posted is False
    fake.fail_next(status=504, method="POST", path="/api/v2/media")
    with pytest.raises(ServerError) as excinfo:
        client.upload_media(image, "alt")
    assert excinfo.value.may_have_posted is False


def test_a_dropped_connection_on_a_post_is_uncertain_and_the_post_is_findable(fake, client):
    fake.drop_next(method="POST", path="/api/v1/statuses")
    with pytest.raises(UncertainError) as excinfo:
        post(client, "did it go?", key="k-drop")
    error = excinfo.value
    assert error.may_have_posted is True and error.status is None
    assert "check the account's recent posts" in str(error)
    (found,) = client.recent_posts(client.me())
    assert client.same_text("did it go?", found.text)
    # The retry with the same key gives the same status, not a second one.
    assert post(client, "did it go?", key="k-drop") == found.ref
    assert len(fake.posts()) == 1


def test_a_read_timeout_on_a_post_is_uncertain(fake):
    with MastodonClient(fake.credentials()["access_token"], fake.base_url, 0.5) as client:
        fake.delay_next(2.0, method="POST", path="/api/v1/statuses")
        with pytest.raises(UncertainError) as excinfo:
            post(client, "slow")
    assert excinfo.value.may_have_posted is True
    assert "no answer came within 0.5 seconds" in str(excinfo.value)


def test_a_dropped_read_is_uncertain_but_posted_nothing(fake, client):
    identity = client.me()
    fake.drop_next(method="GET", path="/api/v1/accounts/*/statuses")
    with pytest.raises(UncertainError) as excinfo:
        client.recent_posts(identity)
    assert excinfo.value.may_have_posted is False
    assert "Try again" in str(excinfo.value)


def test_connection_refused_is_a_network_error():
    with MastodonClient("token-abc", f"http://127.0.0.1:{closed_port()}", 2) as client:
        with pytest.raises(NetworkError) as excinfo:
            post(client, "hello")
    error = excinfo.value
    assert error.may_have_posted is False and error.retryable
    assert "connection was refused" in str(error) and "Nothing was sent" in str(error)
    assert_no_secret(error, "token-abc")


def test_an_unknown_host_is_a_network_error():
    with MastodonClient("token-abc", "https://no-such-host.invalid", 2) as client:
        with pytest.raises(NetworkError, match="no-such-host.invalid"):
            client.me()


def test_random_faults_only_ever_surface_as_platform_errors(fake, client):
    fake.random_faults(0.5, seed=3, delay=0.1)
    outcomes = set()
    for n in range(30):
        try:
            post(client, f"post {n}")
            outcomes.add("ok")
        except PlatformError as error:
            outcomes.add(type(error).__name__)
            assert isinstance(error, ThreadbotError)
            assert_no_secret(error, fake.credentials()["access_token"])
    assert "ok" in outcomes and len(outcomes) > 2


# --------------------------------------------------------------------------- logging in


def test_login_helpers_end_to_end(fake):
    base = fake.base_url
    client_id, client_secret = register_app(base, timeout=5)
    url = authorization_url(base, client_id, client_secret, timeout=5)
    assert url.startswith(f"{base}/oauth/authorize?")
    assert f"client_id={client_id}" in url and "scope=read+write" in url
    assert "redirect_uri=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob" in url
    page = requests.get(url, timeout=5)
    code = re.search(r'class="oauth-code" readonly type="text" value="([^"]+)"', page.text)
    assert code

    token = exchange_code(base, client_id, client_secret, f"  {code.group(1)}\n", timeout=5)
    with MastodonClient(token, base, 5) as client:
        assert client.me().handle.startswith("threadbot_test@")
        ref = post(client, "logged in")
    assert fake.post(ref.id).application == "threadbot"
    for secret in (token, client_secret, code.group(1)):
        assert secret not in repr(fake.requests)

    # A code works once.
    with pytest.raises(AuthError) as excinfo:
        exchange_code(base, client_id, client_secret, code.group(1), timeout=5)
    assert "did not accept the code" in str(excinfo.value)
    assert_no_secret(excinfo.value, code.group(1), client_secret, token)


def test_a_wrong_code_is_an_auth_error(fake):
    client_id, client_secret = register_app(fake.base_url, timeout=5)
    with pytest.raises(AuthError) as excinfo:
        exchange_code(fake.base_url, client_id, client_secret, "made-up-code", timeout=5)
    error = excinfo.value
    assert error.status == 400 and "invalid_grant" in (error.detail or "")
    assert "paste the new code" in str(error)
    assert_no_secret(error, client_secret, "made-up-code")

    code = fake.authorization_code(client_id=client_id)
    with pytest.raises(AuthError, match="did not recognise threadbot's app") as excinfo:
        exchange_code(fake.base_url, client_id, "wrong-secret", code, timeout=5)
    assert_no_secret(excinfo.value, "wrong-secret", code, client_secret)


def test_login_helpers_map_errors(fake):
    refused = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(NetworkError, match="register threadbot"):
        register_app(refused, timeout=2)
    with pytest.raises(NetworkError):
        authorization_url(refused, "id", "secret-xyz", timeout=2)
    with pytest.raises(NetworkError) as excinfo:
        exchange_code(refused, "id", "secret-xyz", "code-xyz", timeout=2)
    assert_no_secret(excinfo.value, "secret-xyz", "code-xyz")

    fake.fail_next(status=503, method="POST", path="/api/v1/apps")
    with pytest.raises(ServerError) as excinfo:
        register_app(fake.base_url, timeout=5)
    assert excinfo.value.may_have_posted is False
    fake.fail_next(status=422, method="POST", path="/api/v1/apps")
    with pytest.raises(BadRequestError, match="refused the app registration"):
        register_app(fake.base_url, timeout=5)


# --------------------------------------------------------------------------- spec


def test_the_spec_makes_a_client_from_an_account(fake):
    assert spec("mastodon") is SPEC
    assert SPEC.env == {"access_token": "MASTODON_ACCESS_TOKEN"}
    assert (SPEC.first_visibility, SPEC.reply_visibility) == ("public", "unlisted")
    assert SPEC.default_api_base_url is None and SPEC.extra == "mastodon"
    account = SimpleNamespace(name="main", api_base_url=fake.base_url)
    token = fake.credentials()["access_token"]
    with SPEC.make_client(account, {"access_token": token}, 5) as client:
        assert client.platform == "mastodon" and client.account == "main"
        assert client.me().account_id == fake.account().id
        assert token not in repr(client)
