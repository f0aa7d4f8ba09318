"""The fake Mastodon server speaks Mastodon's API: Mastodon.py drives it unmodified.

Everything goes through Mastodon.py (as threadbot's Mastodon client does), plus
raw ``requests`` where a header or a status code is the point.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from types import SimpleNamespace

import mastodon.media
import pytest
import requests
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonIllegalArgumentError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonServiceUnavailableError,
    MastodonUnauthorizedError,
)

from helpers import Clock
from threadbot.testing.fake_mastodon import DEFAULT_RATE_LIMITS, FakeMastodon

PNG = (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (640).to_bytes(4, "big")
       + (480).to_bytes(4, "big") + bytes(range(256)) * 4)
JPEG = b"\xff\xd8\xff\xe0" + bytes(300)


def client(server: FakeMastodon, username: str | None = None, **kwargs) -> Mastodon:
    kwargs.setdefault("request_timeout", 5)
    return Mastodon(access_token=server.credentials(username)["access_token"],
                    api_base_url=server.base_url, version_check_mode="none",
                    ratelimit_method="throw", **kwargs)


def error_of(excinfo: pytest.ExceptionInfo) -> tuple[int, str]:
    """(status, Mastodon's "error" text) of a MastodonAPIError."""
    args = excinfo.value.args
    return args[1], args[3]


@pytest.fixture
def api(fake_mastodon) -> Mastodon:
    return client(fake_mastodon)


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Mastodon.py's media_post(synchronous=True) sleeps 5 s a poll: record instead."""
    calls: list[float] = []
    monkeypatch.setattr(mastodon.media, "time", SimpleNamespace(sleep=calls.append))
    return calls


# --------------------------------------------------------------------------- accounts


def test_verify_credentials_returns_the_account(fake_mastodon, api):
    me = api.account_verify_credentials()
    account = fake_mastodon.account()
    assert me.id == account.id and isinstance(account.id, str)
    assert (me.username, me.acct, me.display_name) == ("threadbot_test", "threadbot_test",
                                                       "Threadbot Test")
    assert me.url == f"{fake_mastodon.base_url}/@threadbot_test"
    assert me.source.privacy == "public"
    assert api.account(me.id).username == "threadbot_test"
    assert api.account_lookup("threadbot_test").id == me.id


def test_a_bad_or_missing_token_is_401(fake_mastodon):
    bad = Mastodon(access_token="not-a-token", api_base_url=fake_mastodon.base_url,
                   ratelimit_method="throw")
    with pytest.raises(MastodonUnauthorizedError) as excinfo:
        bad.account_verify_credentials()
    assert error_of(excinfo) == (401, "The access token is invalid")
    raw = requests.post(f"{fake_mastodon.base_url}/api/v1/statuses", data={"status": "x"},
                        timeout=5)
    assert raw.status_code == 401
    assert raw.json() == {"error": "The access token is invalid"}
    assert "X-RateLimit-Limit" not in raw.headers
    assert fake_mastodon.posts() == []


def test_unknown_routes_are_404_json(fake_mastodon):
    raw = requests.get(f"{fake_mastodon.base_url}/api/v1/nothing", timeout=5)
    assert (raw.status_code, raw.json()) == (404, {"error": "Not Found"})


def test_instance_publishes_the_configured_limits():
    with FakeMastodon.running(max_characters=1000, characters_reserved_per_url=30,
                              max_media_attachments=6, image_size_limit=8 * 1024 * 1024,
                              description_limit=900) as server:
        api = client(server)
        v2 = api.instance_v2()
        assert (v2.domain, v2.version) == (server.domain, "4.4.0")
        assert v2.configuration.statuses.max_characters == 1000
        assert v2.configuration.statuses.characters_reserved_per_url == 30
        assert v2.configuration.statuses.max_media_attachments == 6
        media = v2.configuration.media_attachments
        assert media.image_size_limit == 8 * 1024 * 1024
        assert media.description_limit == 900
        assert set(media.supported_mime_types) == {"image/png", "image/jpeg", "image/gif",
                                                   "image/webp"}
        v1 = api.instance_v1()
        assert v1.configuration.statuses.max_characters == 1000
        assert api.retrieve_mastodon_version() == "4.4.0"


# --------------------------------------------------------------------------- statuses


def test_a_reply_chain_is_stored_and_read_back_newest_first(fake_mastodon, api):
    first = api.status_post("One & <two>\n\nthree\nfour", visibility="public", language="de")
    second = api.status_post("Second", in_reply_to_id=first, visibility="unlisted",
                             spoiler_text="spoilers", language="de")
    third = api.status_post("Third", in_reply_to_id=second, visibility="unlisted")

    assert first.content == "<p>One &amp; &lt;two&gt;</p><p>three<br />four</p>"
    assert (second.in_reply_to_id, second.in_reply_to_account_id) == (first.id, first.account.id)
    assert second.sensitive is True  # a content warning makes a status sensitive
    assert (third.spoiler_text, third.sensitive, third.language) == ("", False, "en")
    assert third.url == f"{fake_mastodon.base_url}/@threadbot_test/{third.id}"
    assert int(first.id) < int(second.id) < int(third.id)

    stored = fake_mastodon.posts(user="threadbot_test")
    assert [(s.text, s.visibility, s.spoiler_text, s.language) for s in stored] == [
        ("One & <two>\n\nthree\nfour", "public", "", "de"),
        ("Second", "unlisted", "spoilers", "de"),
        ("Third", "unlisted", "", "en"),
    ]
    assert [s.id for s in fake_mastodon.chain(str(third.id))] == [str(first.id),
                                                                  str(second.id),
                                                                  str(third.id)]
    assert fake_mastodon.post(str(second.id)).in_reply_to_id == str(first.id)

    page = api.account_statuses(first.account.id, limit=2)
    assert [s.id for s in page] == [third.id, second.id]
    rest = api.fetch_next(page)
    assert [s.id for s in rest] == [first.id]
    assert api.fetch_next(rest) is None
    assert [s.id for s in api.fetch_previous(rest)] == [third.id, second.id]
    # Status.without_replies keeps self-replies, so a thread survives exclude_replies.
    assert len(api.account_statuses(first.account.id, exclude_replies=True)) == 3

    context = api.status_context(second)
    assert [s.id for s in context.ancestors] == [first.id]
    assert [s.id for s in context.descendants] == [third.id]
    assert api.status(first).replies_count == 1


def test_account_statuses_paginates_like_mastodon(fake_mastodon, api):
    ids = [str(api.status_post(f"post {i}").id) for i in range(5)]
    account_id = fake_mastodon.account().id
    url = f"{fake_mastodon.base_url}/api/v1/accounts/{account_id}/statuses"
    headers = {"Authorization": f"Bearer {fake_mastodon.credentials()['access_token']}"}

    def get(**params) -> requests.Response:
        return requests.get(url, params=params, headers=headers, timeout=5)

    response = get(limit=2, exclude_replies="true")
    assert [s["id"] for s in response.json()] == [ids[4], ids[3]]
    assert response.headers["Link"] == (
        f'<{url}?exclude_replies=true&limit=2&max_id={ids[3]}>; rel="next", '
        f'<{url}?exclude_replies=true&limit=2&min_id={ids[4]}>; rel="prev"'
    )
    assert [s["id"] for s in get(max_id=ids[3]).json()] == [ids[2], ids[1], ids[0]]
    assert [s["id"] for s in get(since_id=ids[0], limit=2).json()] == [ids[4], ids[3]]
    assert [s["id"] for s in get(min_id=ids[0], limit=2).json()] == [ids[2], ids[1]]
    assert len(get(limit=100).json()) == 5  # at most 40, and there are 5
    assert get(min_id=ids[4]).json() == [] and "Link" not in get(min_id=ids[4]).headers
    assert 'rel="next"' not in get(limit=10).headers["Link"]


def test_statuses_of_others_and_their_visibility(fake_mastodon, api):
    fake_mastodon.add_account("alice")
    alice = client(fake_mastodon, "alice")
    private = alice.status_post("followers only", visibility="private")
    public = alice.status_post("hello all")
    with pytest.raises(MastodonNotFoundError):
        api.status(private)
    assert api.status(public).account.username == "alice"
    assert [s.id for s in api.account_statuses(public.account.id)] == [public.id]
    reply = api.status_post("hi alice", in_reply_to_id=public)
    assert reply.in_reply_to_account_id == public.account.id
    with pytest.raises(MastodonNotFoundError) as excinfo:
        api.status_post("hi", in_reply_to_id=private)
    assert error_of(excinfo) == (404, "The post you are trying to reply to does not appear "
                                      "to exist.")
    assert [s.text for s in fake_mastodon.posts(user="alice")] == ["followers only",
                                                                   "hello all"]


def test_idempotency_key_returns_the_status_already_created():
    clock = Clock()
    with FakeMastodon.running(clock=clock) as server:
        server.add_account("alice")
        api, alice = client(server), client(server, "alice")
        first = api.status_post("once", idempotency_key="thread-1/0")
        again = api.status_post("once, retried", idempotency_key="thread-1/0")
        assert again.id == first.id and again.content == "<p>once</p>"
        assert [s.text for s in server.posts()] == ["once"]
        assert server.posts()[0].idempotency_key == "thread-1/0"
        # Keys are per account, and kept an hour.
        assert alice.status_post("mine", idempotency_key="thread-1/0").id != first.id
        clock.now += 3601
        assert api.status_post("once", idempotency_key="thread-1/0").id != first.id
        assert len(server.posts()) == 3
        # A key whose status was deleted finds nothing.
        gone = api.status_post("gone", idempotency_key="k2")
        api.status_delete(gone)
        with pytest.raises(MastodonNotFoundError):
            api.status_post("gone", idempotency_key="k2")


def test_idempotency_can_be_turned_off():
    with FakeMastodon.running(idempotency=False) as server:
        api = client(server)
        first = api.status_post("twice", idempotency_key="same")
        assert api.status_post("twice", idempotency_key="same").id != first.id
        assert len(server.posts()) == 2


def test_length_is_counted_the_way_mastodon_counts(fake_mastodon, api):
    api.status_post("a" * 500)
    api.status_post("👍🏽" * 500)  # graphemes, not code points
    url = "https://example.com/" + "p" * 200
    api.status_post("a" * 476 + " " + url)  # the URL counts 23
    api.status_post("b" * 493 + " @alice@example.social")  # counts as @alice
    api.status_post("c" * 498, spoiler_text="cw")  # the warning counts too
    for text, spoiler in [("a" * 501, None), ("a" * 477 + " " + url, None),
                          ("c" * 499, "cw")]:
        with pytest.raises(MastodonAPIError) as excinfo:
            api.status_post(text, spoiler_text=spoiler)
        assert error_of(excinfo) == (422, "Validation failed: Text character limit of 500 "
                                          "exceeded")
    assert len(fake_mastodon.posts()) == 5
    with pytest.raises(MastodonAPIError) as excinfo:
        api.status_post("   ")
    assert error_of(excinfo) == (422, "Validation failed: Text can't be blank")


def test_the_length_limit_and_url_length_are_configurable():
    with FakeMastodon.running(max_characters=50, characters_reserved_per_url=10) as server:
        api = client(server)
        api.status_post("a" * 39 + " https://example.com/a/very/long/path/indeed")
        with pytest.raises(MastodonAPIError) as excinfo:
            api.status_post("a" * 51)
        assert error_of(excinfo)[1] == "Validation failed: Text character limit of 50 exceeded"


def test_delete_returns_the_source_and_only_for_the_owner(fake_mastodon, api, sleeps):
    fake_mastodon.add_account("alice")
    media = api.media_post(PNG, mime_type="image/png", description="chart", synchronous=True)
    status = api.status_post("to delete", media_ids=[media])
    alice = client(fake_mastodon, "alice")
    with pytest.raises(MastodonNotFoundError):
        alice.status_delete(status)

    deleted = api.status_delete(status)
    assert deleted.text == "to delete" and deleted.content is None
    assert deleted.media_attachments[0].description == "chart"
    assert fake_mastodon.posts() == []
    assert [s.deleted for s in fake_mastodon.posts(include_deleted=True)] == [True]
    for call in (lambda: api.status(status), lambda: api.status_delete(status),
                 lambda: api.status_delete("123")):
        with pytest.raises(MastodonNotFoundError) as excinfo:
            call()
        assert error_of(excinfo) == (404, "Record not found")
    # Its media can be used again (delete and redraft).
    assert api.status_post("redraft", media_ids=[media]).media_attachments[0].id == media.id
    assert api.account_verify_credentials().statuses_count == 1


# --------------------------------------------------------------------------- media


def test_media_upload_with_description_then_attached(fake_mastodon, api, sleeps):
    media = api.media_post(PNG, mime_type="image/png", description="A bar chart",
                           focus=(0.5, -0.25), synchronous=True)
    assert media.url is not None and media.type == "image"
    assert media.description == "A bar chart"
    assert (media.meta.original.width, media.meta.original.height) == (640, 480)
    assert (media.meta.focus.x, media.meta.focus.y) == (0.5, -0.25)
    assert [(r.method, r.status) for r in fake_mastodon.requests
            if "media" in r.path] == [("POST", 202), ("GET", 206), ("GET", 200)]
    assert len(sleeps) == 2
    stored = fake_mastodon.media(str(media.id))[0]
    assert (stored.description, stored.processed, stored.media_type) == ("A bar chart", True,
                                                                       "image/png")

    status = api.status_post("with a chart", media_ids=[media], sensitive=True)
    assert status.media_attachments[0].description == "A bar chart"
    assert status.sensitive is True
    assert fake_mastodon.posts()[0].media_ids == (str(media.id),)
    with pytest.raises(MastodonNotFoundError):
        api.media(media)  # attached media is no longer served here


def test_media_update_and_the_old_synchronous_endpoint(fake_mastodon, api):
    pending = api.media_post(JPEG, mime_type="image/jpeg", description="old")
    assert pending.url is None
    updated = api.media_update(pending, description="new words")
    assert updated.description == "new words"
    assert fake_mastodon.media(str(pending.id))[0].description == "new words"
    with pytest.raises(MastodonAPIError) as excinfo:
        api.status_post("too soon", media_ids=[pending])
    assert error_of(excinfo) == (422, "Cannot attach files that have not finished processing. "
                                      "Try again in a moment!")

    v1 = requests.post(f"{fake_mastodon.base_url}/api/v1/media",
                       headers={"Authorization": f"Bearer {api.access_token}"},
                       files={"file": ("a.png", PNG, "image/png")}, timeout=5)
    assert v1.status_code == 200 and v1.json()["url"].endswith(".png")


def test_media_limits_are_enforced():
    with FakeMastodon.running(image_size_limit=2000, description_limit=10,
                              max_media_attachments=2, processing_polls=0) as server:
        server.add_account("alice")
        api = client(server)
        cases = [
            (dict(media_file=PNG + bytes(2000), mime_type="image/png"),
             "Validation failed: File file size must be less than 1.95 KB"),
            (dict(media_file=b"hello, not an image", mime_type="image/png"),
             "Validation failed: File content type is invalid, File is invalid"),
            (dict(media_file=PNG, mime_type="image/jpeg"),
             "Validation failed: File has contents that are not what they are reported to be"),
            (dict(media_file=PNG, mime_type="image/png", description="x" * 11),
             "Validation failed: Description is too long (maximum is 10 characters)"),
        ]
        for kwargs, message in cases:
            with pytest.raises(MastodonAPIError) as excinfo:
                api.media_post(**kwargs)
            assert error_of(excinfo) == (422, message)
        assert server.media() == []

        ok = [api.media_post(PNG, mime_type="image/png") for _ in range(3)]
        assert all(m.url for m in ok)  # processing_polls=0: processed at once, like images
        with pytest.raises(MastodonAPIError) as excinfo:
            api.status_post("three", media_ids=ok)
        assert error_of(excinfo) == (422, "Cannot attach more than 2 files")
        theirs = client(server, "alice").media_post(PNG, mime_type="image/png")
        with pytest.raises(MastodonAPIError) as excinfo:
            api.status_post("not mine", media_ids=[theirs])
        assert error_of(excinfo) == (
            422, f"Media {theirs.id} not found or already attached to another post")
        api.status_post("two", media_ids=ok[:2])
        with pytest.raises(MastodonAPIError) as excinfo:
            api.status_post("again", media_ids=[ok[0]])
        assert "already attached" in error_of(excinfo)[1]
        assert [s.text for s in server.posts()] == ["two"]


# --------------------------------------------------------------------------- rate limits


def test_rate_limit_headers_count_down_and_reset():
    clock = Clock(1_750_000_000.25)  # 199.75 s before a 5-minute boundary
    with FakeMastodon.running(clock=clock, rate_limits={"api": (3, 300)}) as server:
        api = client(server)
        remaining = []
        for _ in range(3):
            api.account_verify_credentials()
            remaining.append(api.ratelimit_remaining)
        assert remaining == [2, 1, 0]
        assert api.ratelimit_limit == 3
        # X-RateLimit-Reset is ISO 8601; Mastodon.py moves it onto its own clock by Date.
        assert abs(api.ratelimit_reset - (time.time() + 199.75)) < 1.5
        with pytest.raises(MastodonRatelimitError):
            api.account_verify_credentials()
        raw = requests.get(f"{server.base_url}/api/v1/accounts/verify_credentials",
                           headers={"Authorization": f"Bearer {api.access_token}"}, timeout=5)
        assert (raw.status_code, raw.json()) == (429, {"error": "Too many requests"})
        assert raw.headers["X-RateLimit-Remaining"] == "0"
        assert raw.headers["X-RateLimit-Reset"] == "2025-06-15T15:10:00.250000Z"
        clock.now += 200
        api.account_verify_credentials()
        assert api.ratelimit_remaining == 2


def test_media_uploads_have_their_own_window():
    with FakeMastodon.running(rate_limits={"media": (2, 1800)}, processing_polls=0) as server:
        api = client(server)
        api.media_post(PNG, mime_type="image/png")
        assert (api.ratelimit_limit, api.ratelimit_remaining) == (2, 1)
        api.media_post(PNG, mime_type="image/png")
        with pytest.raises(MastodonRatelimitError):
            api.media_post(PNG, mime_type="image/png")
        api.status_post("still fine")
        assert len(server.media()) == 2


def test_default_windows_are_mastodons():
    assert DEFAULT_RATE_LIMITS["api"] == (300, 300)
    assert DEFAULT_RATE_LIMITS["media"] == (30, 1800)
    with FakeMastodon.running() as server:
        api = client(server)
        api.status_post("hi")
        assert api.ratelimit_limit == 300 and api.ratelimit_remaining == 299


def test_a_forced_429_raises_and_stores_nothing(fake_mastodon, api):
    fake_mastodon.rate_limit_next(method="POST", path="/api/v1/statuses", reset_in=60)
    with pytest.raises(MastodonRatelimitError):
        api.status_post("not now")
    assert fake_mastodon.posts() == []
    last = fake_mastodon.requests[-1]
    assert (last.status, last.fault) == (429, "429")
    assert api.status_post("now").content == "<p>now</p>"


# --------------------------------------------------------------------------- faults


def test_fail_next_answers_an_error_without_storing(fake_mastodon, api):
    fake_mastodon.fail_next(status=503, method="POST", path="/api/v1/statuses", count=2)
    for _ in range(2):
        with pytest.raises(MastodonServiceUnavailableError):
            api.status_post("unlucky")
    fake_mastodon.fail_next(status=500, method="POST", path="/api/v2/*")
    with pytest.raises(MastodonServerError):
        api.media_post(PNG, mime_type="image/png")
    assert fake_mastodon.posts() == [] and fake_mastodon.media() == []
    assert api.status_post("lucky").content == "<p>lucky</p>"


def test_delay_processes_then_answers_late(fake_mastodon):
    fake_mastodon.delay_next(0.5, method="POST")
    impatient = client(fake_mastodon, request_timeout=0.2)
    with pytest.raises(MastodonNetworkError):
        impatient.status_post("slow", idempotency_key="slow-1")
    assert [s.text for s in fake_mastodon.posts()] == ["slow"]
    # Retrying with the same key finds the status instead of posting it twice.
    retry = client(fake_mastodon).status_post("slow", idempotency_key="slow-1")
    assert str(retry.id) == fake_mastodon.posts()[0].id
    assert len(fake_mastodon.posts()) == 1


def test_drop_before_store_loses_the_request(fake_mastodon, api):
    fake_mastodon.drop_next(after_store=False, method="POST")
    with pytest.raises(MastodonNetworkError):
        api.status_post("never arrives")
    assert fake_mastodon.posts() == []
    assert (fake_mastodon.requests[-1].status, fake_mastodon.requests[-1].fault) == (None,
                                                                                     "drop")


def test_drop_after_store_stores_but_never_answers(fake_mastodon, api):
    fake_mastodon.drop_next(method="POST", path="/api/v1/statuses")
    with pytest.raises(MastodonNetworkError):
        api.status_post("lost answer", idempotency_key="t/1")
    assert [s.text for s in fake_mastodon.posts()] == ["lost answer"]
    retried = api.status_post("lost answer", idempotency_key="t/1")
    assert retried.id == fake_mastodon.posts()[0].id
    fake_mastodon.drop_next(path="/api/v2/media")
    with pytest.raises(MastodonNetworkError):
        api.media_post(PNG, mime_type="image/png")
    assert len(fake_mastodon.media()) == 1


def test_random_faults_are_reproducible_and_only_hit_writes():
    def run(seed: int) -> list[str]:
        with FakeMastodon.running() as server:
            server.random_faults(0.4, seed=seed, delay=0.3,
                                 kinds=("5xx", "429", "drop", "drop_after_store", "delay"))
            api = client(server, request_timeout=0.15)
            outcomes = []
            for i in range(25):
                try:
                    api.status_post(f"post {i}")
                    outcomes.append("ok")
                except MastodonAPIError as err:
                    outcomes.append(str(err.args[1]))
                except (MastodonNetworkError, MastodonRatelimitError) as err:
                    outcomes.append(type(err).__name__)
                api.account_verify_credentials()  # reads are never faulted
            faults = [r.fault for r in server.requests if r.fault]
            assert all(r.method == "POST" for r in server.requests if r.fault)
            assert len(faults) == 25 - outcomes.count("ok")
            return outcomes

    first, again, other = run(3), run(3), run(4)
    assert first == again
    assert first != other
    assert 3 <= 25 - first.count("ok") <= 18


def test_clear_faults_and_reset(fake_mastodon, api):
    fake_mastodon.fail_next(status=502)
    fake_mastodon.random_faults(1.0)
    fake_mastodon.clear_faults()
    api.status_post("fine")
    fake_mastodon.reset()
    assert fake_mastodon.posts() == [] and fake_mastodon.requests == []
    assert api.account_verify_credentials().statuses_count == 0


# --------------------------------------------------------------------------- OAuth


def test_login_walkthrough_through_mastodon_py(fake_mastodon):
    base = fake_mastodon.base_url
    client_id, client_secret = Mastodon.create_app("threadbot", api_base_url=base,
                                                   scopes=["read", "write"])
    app = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base,
                   version_check_mode="none", ratelimit_method="throw")
    url = app.auth_request_url(scopes=["read", "write"], allow_http=True)
    assert url.startswith(f"{base}/oauth/authorize?")
    page = requests.get(url, timeout=5)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    code = re.search(r'class="oauth-code" readonly type="text" value="([^"]+)"', page.text)
    assert code

    token = app.log_in(code=code.group(1), scopes=["read", "write"], allow_http=True)
    assert app.account_verify_credentials().username == "threadbot_test"
    assert app.app_verify_credentials().name == "threadbot"
    assert app.status_post("logged in").application.name == "threadbot"
    with pytest.raises(MastodonIllegalArgumentError, match="invalid_grant|authorization grant"):
        app.log_in(code=code.group(1), scopes=["read", "write"], allow_http=True)

    # Everything secret stays out of the request log.
    logged = repr(fake_mastodon.requests)
    for secret in (token, code.group(1), client_secret):
        assert secret not in logged

    app.revoke_access_token(allow_http=True)
    with pytest.raises(MastodonUnauthorizedError):
        Mastodon(access_token=token, api_base_url=base).account_verify_credentials()


def test_authorization_code_helper_and_other_accounts(fake_mastodon):
    fake_mastodon.add_account("alice")
    base = fake_mastodon.base_url
    client_id, client_secret = Mastodon.create_app("threadbot", api_base_url=base,
                                                   scopes=["read"])
    app = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base,
                   version_check_mode="none", ratelimit_method="throw")
    app.log_in(code=fake_mastodon.authorization_code("alice"), scopes=["read"],
               allow_http=True)
    assert app.account_verify_credentials().username == "alice"
    with pytest.raises(MastodonAPIError) as excinfo:
        app.status_post("read-only token")
    assert error_of(excinfo) == (403, "This action is outside the authorized scopes")

    url = app.auth_request_url(scopes=["read"], allow_http=True) + "&username=alice"
    code = re.search(r'value="([^"]+)"', requests.get(url, timeout=5).text).group(1)
    wrong = Mastodon(client_id=client_id, client_secret="wrong", api_base_url=base)
    with pytest.raises(MastodonIllegalArgumentError):
        wrong.log_in(code=code, scopes=["read"], allow_http=True)
    response = requests.post(f"{base}/oauth/token", timeout=5, data={
        "grant_type": "authorization_code", "code": "made-up", "client_id": client_id,
        "client_secret": client_secret, "redirect_uri": "urn:ietf:wg:oauth:2.0:oob"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_authorize_redirects_with_the_code(fake_mastodon):
    base = fake_mastodon.base_url
    client_id, _ = Mastodon.create_app("web", api_base_url=base,
                                       redirect_uris="https://app.example/callback")
    response = requests.get(f"{base}/oauth/authorize", allow_redirects=False, timeout=5, params={
        "client_id": client_id, "response_type": "code", "scope": "read",
        "redirect_uri": "https://app.example/callback", "state": "xyz"})
    assert response.status_code == 302
    assert re.fullmatch(r"https://app\.example/callback\?code=[\w-]+&state=xyz",
                        response.headers["Location"])
    response = requests.get(f"{base}/oauth/authorize", allow_redirects=False, timeout=5, params={
        "client_id": client_id, "response_type": "code",
        "redirect_uri": "https://evil.example/"})
    assert response.status_code == 400


# --------------------------------------------------------------------------- CLI


def test_main_prints_the_url_and_a_token_line_for_env():
    with subprocess.Popen(
        [sys.executable, "-m", "threadbot.testing.fake_mastodon", "--port", "0",
         "--user", "rehearsal"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    ) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            match = re.search(r"http://127\.0\.0\.1:\d+", first)
            assert match, first
            lines = [process.stdout.readline() for _ in range(5)]
            token = next(re.search(r"MASTODON_ACCESS_TOKEN=(\S+)", line).group(1)
                         for line in lines if "MASTODON_ACCESS_TOKEN=" in line)
            me = Mastodon(access_token=token, api_base_url=match.group(0),
                          request_timeout=5).account_verify_credentials()
            assert me.username == "rehearsal"
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert process.returncode == 0


def test_a_json_body_works_like_a_form(fake_mastodon, api):
    media = requests.post(f"{fake_mastodon.base_url}/api/v1/media", timeout=5,
                          headers={"Authorization": f"Bearer {api.access_token}"},
                          files={"file": ("a.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(40),
                                          "image/webp")}).json()
    response = requests.post(f"{fake_mastodon.base_url}/api/v1/statuses", timeout=5, json={
        "status": "json", "media_ids": [media["id"]], "sensitive": True,
        "visibility": "private"}, headers={"Authorization": f"Bearer {api.access_token}",
                                           "Idempotency-Key": "json-1"})
    assert response.status_code == 200
    body = response.json()
    assert (body["sensitive"], body["visibility"]) == (True, "private")
    assert body["media_attachments"][0]["id"] == media["id"]
    assert fake_mastodon.requests[-1].idempotency_key == "json-1"
    assert fake_mastodon.posts()[0].media_ids == (media["id"],)
