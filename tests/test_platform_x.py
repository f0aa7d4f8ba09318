"""XClient against the fake X server: real HTTP, real tweepy, real OAuth signatures."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helpers import Clock
from threadbot.errors import MediaError, ThreadbotError
from threadbot.platforms.errors import (
    AuthError,
    BadRequestError,
    DuplicatePostError,
    NetworkError,
    PlatformError,
    RateLimitedError,
    RejectedError,
    ServerError,
    UncertainError,
)
from threadbot.platforms.x import XClient, XCredentials, _RoutedSession
from threadbot.testing.fake_x import FakeX

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16  # ~4 KB


@pytest.fixture
def client(fake: FakeX) -> Iterator[XClient]:
    with XClient(fake.credentials(), api_base_url=fake.base_url, timeout=5,
                 account="@threadbot_test") as xclient:
        yield xclient


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "chart.png"
    path.write_bytes(PNG)
    return path


def secrets_of(fake: FakeX) -> list[str]:
    creds = fake.credentials()
    return [creds["consumer_secret"], creds["access_token_secret"]]


# --------------------------------------------------------------------------- routing


def test_every_call_goes_to_api_base_url(fake, client, image):
    user_id, username = client.me()
    media_id = client.upload_media(image, "alt")
    client.create_post("hi", media_ids=[media_id])
    client.recent_posts(user_id)
    assert (user_id, username) == (fake.account().user_id, "threadbot_test")
    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", "/2/users/me"),
        ("POST", "/2/media/upload"),
        ("POST", "/2/media/metadata"),
        ("POST", "/2/tweets"),
        ("GET", f"/2/users/{user_id}/tweets"),
    ]
    assert all(r.status in (200, 201) for r in fake.requests)


@pytest.mark.parametrize("url", ["https://api.twitter.com/2/tweets", "https://api.x.com/2/tweets"])
def test_session_rewrites_tweepys_hard_coded_host(url):
    session = _RoutedSession("http://127.0.0.1:9/", timeout=1)
    seen = {}

    def fake_send(request, **kwargs):
        seen["url"], seen["timeout"] = request.url, kwargs.get("timeout")
        raise RuntimeError("stop here")

    session.send = fake_send  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        session.request("POST", url, json={})
    assert seen == {"url": "http://127.0.0.1:9/2/tweets", "timeout": 1}


# --------------------------------------------------------------------------- happy paths


def test_a_chain_of_replies(fake, client):
    user_id, _ = client.me()
    ids = []
    for text in ("1/3 start", "2/3 middle", "3/3 end"):
        ids.append(client.create_post(text, reply_to=ids[-1] if ids else None))
    stored = fake.posts(user="threadbot_test")
    assert [p.id for p in stored] == ids
    assert [p.reply_to for p in stored] == [None, ids[0], ids[1]]
    recent = client.recent_posts(user_id)
    assert [p.id for p in recent] == ids[::-1]
    assert [p.in_reply_to_id for p in recent] == [ids[1], ids[0], None]
    assert {p.conversation_id for p in recent} == {ids[0]}
    assert all(isinstance(p.created_at, datetime) for p in recent)


def test_recent_posts_pages_and_stops_at_max_results():
    with FakeX.running(user_post_cap_24h=None, rate_limits={"POST /2/tweets": (200, 900)}) as fake:
        client = XClient(fake.credentials(), api_base_url=fake.base_url)
        ids = [client.create_post(f"post number {i}") for i in range(107)]
        before = len(fake.requests)
        everything = client.recent_posts(fake.account().user_id, max_results=200)
        assert [p.id for p in everything] == ids[::-1]
        assert len(fake.requests) - before == 2  # 100 + 7: two pages
        newest = client.recent_posts(fake.account().user_id, max_results=3)
        assert [p.id for p in newest] == ids[:-4:-1]


def test_recent_posts_since():
    clock = Clock()
    with FakeX.running(clock=clock) as fake:
        client = XClient(fake.credentials(), api_base_url=fake.base_url)
        client.create_post("old")
        clock.now += 3600
        new = client.create_post("new")
        since = datetime.fromtimestamp(clock.now - 60, UTC)
        assert [p.id for p in client.recent_posts(fake.account().user_id, since=since)] == [new]


def test_simple_upload_sets_alt_text(fake, client, image):
    media_id = client.upload_media(image, alt_text="A rising line")
    [item] = fake.media(media_id)
    assert (item.data, item.alt_text, item.chunked, item.category) == (
        PNG, "A rising line", False, "tweet_image")
    post_id = client.create_post("with a picture", media_ids=[media_id])
    assert fake.post(post_id).media_ids == (media_id,)


def test_chunked_upload_over_threshold(fake, image):
    client = XClient(fake.credentials(), api_base_url=fake.base_url,
                     chunk_threshold=1024, chunk_size=1000)
    media_id = client.upload_media(image, alt_text="chunked")
    [item] = fake.media(media_id)
    assert (item.data, item.alt_text, item.chunked) == (PNG, "chunked", True)
    appends = [r for r in fake.requests if r.path.endswith("/append")]
    assert len(appends) == -(-len(PNG) // 1000)
    assert [r.path.rsplit("/", 1)[-1] for r in fake.requests] == (
        ["initialize"] + ["append"] * len(appends) + ["finalize", "metadata"])


def test_upload_without_alt_text_skips_metadata(fake, client, image):
    client.upload_media(image)
    assert [r.path for r in fake.requests] == ["/2/media/upload"]


def test_images_are_checked_locally(client, tmp_path):
    not_image = tmp_path / "notes.png"
    not_image.write_text("hello")
    with pytest.raises(MediaError, match="not a PNG, JPEG, GIF or WEBP"):
        client.upload_media(not_image, "alt")
    with pytest.raises(MediaError, match="cannot read"):
        client.upload_media(tmp_path / "missing.png", "alt")


def test_rate_limit_info_from_last_answer(client):
    client.create_post("counted")
    limits = client.rate_limit
    assert limits.limit == 100 and limits.remaining == 99
    assert limits.limit_24h == 100 and limits.remaining_24h == 99
    assert limits.reset_at is not None and limits.reset_at.tzinfo is not None


# --------------------------------------------------------------------------- refusals


def test_bad_signature_raises_auth_error_without_secrets(fake):
    creds = {**fake.credentials(), "access_token_secret": "definitely-wrong-secret"}
    client = XClient(creds, api_base_url=fake.base_url)
    with pytest.raises(AuthError) as caught:
        client.create_post("hello")
    error = caught.value
    assert error.status == 401
    assert "threadbot accounts check" in str(error)
    for text in (str(error), repr(error), repr(client), repr(XCredentials.from_mapping(creds))):
        assert "definitely-wrong-secret" not in text
        assert all(secret not in text for secret in secrets_of(fake))
    assert isinstance(error, ThreadbotError)
    assert fake.posts() == []


def test_duplicate_raises_duplicate_error(client):
    client.create_post("only once")
    with pytest.raises(DuplicatePostError, match="already posted exactly this text") as caught:
        client.create_post("only once")
    assert caught.value.status == 403 and not caught.value.may_have_posted


def test_over_280_raises_bad_request_with_xs_detail(fake, client):
    with pytest.raises(BadRequestError, match="Your Tweet text is too long") as caught:
        client.create_post("x" * 281)
    assert caught.value.status == 400
    assert fake.posts() == []


def test_reply_to_missing_post_is_rejected(client):
    with pytest.raises(RejectedError, match="deleted or not visible"):
        client.create_post("reply", reply_to="1")


def test_invalid_media_ids_are_a_bad_request(client):
    with pytest.raises(BadRequestError, match="media IDs are invalid"):
        client.create_post("pic", media_ids=["999"])


# --------------------------------------------------------------------------- rate limits


def test_window_429_carries_reset_time():
    clock = Clock()
    with FakeX.running(clock=clock, rate_limits={"POST /2/tweets": (1, 900)}) as fake:
        client = XClient(fake.credentials(), api_base_url=fake.base_url)
        client.create_post("first")
        with pytest.raises(RateLimitedError) as caught:
            client.create_post("second")
    error = caught.value
    assert error.status == 429 and error.retryable
    assert error.reset_at == datetime.fromtimestamp(int(clock.now + 900), UTC)
    assert not error.daily_cap_hit
    assert error.remaining_24h == 99 and error.limit_24h == 100
    assert "15 minutes" in str(error) and "resets at" in str(error)


def test_daily_cap_429_uses_the_24_hour_reset():
    clock = Clock()
    with FakeX.running(clock=clock, user_post_cap_24h=2) as fake:
        client = XClient(fake.credentials(), api_base_url=fake.base_url)
        client.create_post("one")
        clock.now += 600
        client.create_post("two")
        with pytest.raises(RateLimitedError) as caught:
            client.create_post("three")
    error = caught.value
    assert error.daily_cap_hit and error.remaining_24h == 0 and error.limit_24h == 2
    assert error.reset_at == datetime.fromtimestamp(int(clock.now - 600 + 86400), UTC)
    assert "24-hour post limit (2)" in str(error)


# --------------------------------------------------------------------------- faults


def test_5xx_raises_server_error(fake, client):
    fake.fail_next(status=503, path="/2/tweets")
    with pytest.raises(ServerError) as caught:
        client.create_post("unlucky")
    assert caught.value.status == 503 and caught.value.retryable
    assert caught.value.may_have_posted  # a write: check before retrying
    fake.fail_next(status=500, path="/2/users/me")
    with pytest.raises(ServerError) as caught:
        client.me()
    assert not caught.value.may_have_posted


def test_5xx_during_upload(fake, client, image):
    fake.fail_next(status=500, path="/2/media/metadata")
    with pytest.raises(ServerError, match="upload chart.png"):
        client.upload_media(image, "alt")


def test_read_timeout_is_uncertain_and_the_post_is_findable(fake):
    client = XClient(fake.credentials(), api_base_url=fake.base_url, timeout=0.2)
    fake.delay_next(1.0, method="POST", path="/2/tweets")
    with pytest.raises(UncertainError, match="no answer within 0.2 seconds") as caught:
        client.create_post("slow one")
    assert caught.value.may_have_posted and caught.value.status is None
    assert [p.text for p in client.recent_posts(fake.account().user_id)] == ["slow one"]


def test_drop_after_store_is_uncertain_and_the_post_is_findable(fake, client):
    first = client.create_post("1/2")
    fake.drop_next(method="POST", path="/2/tweets")
    with pytest.raises(UncertainError, match="may have been published") as caught:
        client.create_post("2/2", reply_to=first)
    assert caught.value.may_have_posted
    [found, _] = client.recent_posts(fake.account().user_id)
    assert (found.text, found.in_reply_to_id) == ("2/2", first)
    assert len(fake.posts()) == 2  # stored exactly once: no silent retry


def test_dropped_read_is_uncertain_but_posted_nothing(fake, client):
    fake.drop_next(after_store=False, method="GET")
    with pytest.raises(UncertainError) as caught:
        client.me()
    assert not caught.value.may_have_posted


def test_connection_refused_is_a_network_error():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    creds = {"consumer_key": "k", "consumer_secret": "s", "access_token": "t",
             "access_token_secret": "ts"}
    client = XClient(creds, api_base_url=f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(NetworkError, match="Nothing was sent") as caught:
        client.create_post("hello")
    assert not caught.value.may_have_posted and caught.value.retryable


def test_all_platform_errors_are_threadbot_errors():
    for cls in (AuthError, RateLimitedError, DuplicatePostError, BadRequestError, RejectedError,
                ServerError, NetworkError, UncertainError):
        assert issubclass(cls, PlatformError) and issubclass(cls, ThreadbotError)


def test_random_faults_only_ever_surface_as_platform_errors(fake):
    """Under a seeded 30% fault rate every failure is one of ours, and every
    post reported as published really is stored."""
    client = XClient(fake.credentials(), api_base_url=fake.base_url, timeout=0.3)
    fake.random_faults(0.3, seed=3, kinds=("500", "503", "drop_after_store", "drop"),
                       path="/2/tweets")
    published, failures = [], []
    for i in range(30):
        try:
            published.append(client.create_post(f"post {i}"))
        except PlatformError as error:
            failures.append(type(error))
    stored = {p.id for p in fake.posts()}
    assert set(published) <= stored
    assert failures and set(failures) <= {ServerError, UncertainError}


def test_debug_logs_never_contain_secrets(fake, client, image, caplog):
    """tweepy and requests-oauthlib log requests at DEBUG: secrets must not appear."""
    caplog.set_level(logging.DEBUG)
    client.upload_media(image, "alt")
    client.create_post("logged")
    assert caplog.records  # the libraries did log
    assert all(secret not in caplog.text for secret in secrets_of(fake))
