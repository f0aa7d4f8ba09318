"""The fake Bluesky PDS speaks XRPC: the atproto SDK drives it unmodified.

Everything goes through the atproto SDK (``Client(base_url=server.base_url)``), as
threadbot's Bluesky client does, plus raw ``httpx`` where a header is the point.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx
import pytest
from atproto import Client, SessionEvent, models
from atproto_client import exceptions as ex
from atproto_client.request import Request

from helpers import Clock
from threadbot.platforms.base import new_idempotency_key
from threadbot.testing import FAKES, ChainPost, rehearsal_server
from threadbot.testing.fake_bluesky import FakeBluesky

PNG = (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (640).to_bytes(4, "big")
       + (480).to_bytes(4, "big") + bytes(range(256)) * 4)
POST = "app.bsky.feed.post"
CREATE = "*createRecord"


def login(server: FakeBluesky, handle: str | None = None, **request_kwargs) -> Client:
    creds = server.credentials(handle)
    client = Client(base_url=server.base_url, request=Request(timeout=5, **request_kwargs))
    client.login(creds["handle"], creds["app_password"])
    return client


def claims(jwt: str) -> dict:
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def error_of(err: ex.RequestErrorBase) -> tuple[int, str, str | None]:
    assert err.response is not None
    content = err.response.content
    return err.response.status_code, content.error, content.message


def record(text: str, *, reply=None, facets=None, embed=None, **extra) -> dict:
    data = {"$type": POST, "text": text, "createdAt": datetime.now(UTC).isoformat(),
            "langs": ["en"], **extra}
    if reply is not None:
        data["reply"] = reply
    if facets is not None:
        data["facets"] = facets
    if embed is not None:
        data["embed"] = embed
    return data


def create(client: Client, data: dict, rkey: str | None = None):
    return client.com.atproto.repo.create_record(models.ComAtprotoRepoCreateRecord.Data(
        repo=client.me.did, collection=POST, rkey=rkey, record=data))


def refused(client: Client, data: dict, rkey: str | None = None) -> tuple[int, str, str]:
    with pytest.raises(ex.RequestErrorBase) as info:
        create(client, data, rkey)
    return error_of(info.value)


def ref(response) -> dict:
    return {"uri": response.uri, "cid": response.cid}


@pytest.fixture
def client(fake_bluesky) -> Client:
    return login(fake_bluesky)


# --------------------------------------------------------------------------- sessions


def test_login_gives_a_session_with_real_jwts_and_is_counted(fake_bluesky):
    client = login(fake_bluesky)
    account = fake_bluesky.account("threadbot.test")
    assert client.me.did == account.did and client.me.handle == "threadbot.test"
    session = client._session
    access, refresh = claims(session.access_jwt), claims(session.refresh_jwt)
    assert access["scope"] == "com.atproto.appPass" and access["sub"] == account.did
    assert access["exp"] - access["iat"] == 7200
    assert refresh["scope"] == "com.atproto.refresh" and refresh["jti"]
    assert refresh["exp"] - refresh["iat"] == 90 * 24 * 60 * 60
    # The session points the SDK at the PDS of the DID document: this server.
    assert session.pds_endpoint == fake_bluesky.base_url
    info = client.com.atproto.server.get_session()
    assert (info.did, info.handle, info.active) == (account.did, "threadbot.test", True)
    assert fake_bluesky.logins("threadbot.test") == 1
    assert fake_bluesky.logins("threadbot.test", outcome="ok") == 1
    # Logging in by DID works too.
    Client(base_url=fake_bluesky.base_url).login(account.did, account.app_password)
    assert fake_bluesky.logins(account.did) == 2


def test_a_wrong_password_is_401_and_counted_as_refused(fake_bluesky):
    for identifier in ("threadbot.test", "nobody.test"):
        with pytest.raises(ex.UnauthorizedError) as info:
            Client(base_url=fake_bluesky.base_url).login(identifier, "wrong-pass-word-0000")
        assert error_of(info.value) == (401, "AuthenticationRequired",
                                        "Invalid identifier or password")
    assert fake_bluesky.logins("threadbot.test", outcome="refused") == 1
    assert fake_bluesky.logins(outcome="refused") == 2
    assert fake_bluesky.logins("threadbot.test", outcome="ok") == 0


def test_logins_are_rate_limited_per_account_with_headers():
    clock = Clock(time.time())
    with FakeBluesky.running(rate_limits={"login": (3, 300)}, clock=clock) as server:
        creds = server.credentials()
        for _ in range(3):
            Client(base_url=server.base_url).login(creds["handle"], creds["app_password"])
        with pytest.raises(ex.RateLimitExceededError) as info:
            Client(base_url=server.base_url).login(creds["handle"], creds["app_password"])
        err = info.value
        assert error_of(err) == (429, "RateLimitExceeded", "Rate Limit Exceeded")
        assert (err.limit, err.remaining, err.policy) == (3, 0, "3;w=300")
        assert err.reset_at == datetime.fromtimestamp(int(clock.now + 300), UTC)
        assert err.retry_after == 300
        assert server.logins(creds["handle"]) == 4
        assert server.logins(creds["handle"], outcome="rate_limited") == 1
        clock.now += 301  # the window is over
        Client(base_url=server.base_url).login(creds["handle"], creds["app_password"])
        assert server.logins(creds["handle"], outcome="ok") == 4


def test_an_exported_session_is_reused_without_a_new_login(fake_bluesky, client):
    saved = client.export_session_string()
    again = Client(base_url="http://127.0.0.1:9")  # the session string carries the PDS
    again.login(session_string=saved)
    again.send_post("from the saved session")
    assert fake_bluesky.logins() == 1
    assert [p.text for p in fake_bluesky.posts()] == ["from the saved session"]


def test_the_sdk_refreshes_an_expiring_access_token_by_itself():
    # The SDK refreshes when its wall clock is within 15 minutes of the token's exp.
    with FakeBluesky.running(access_ttl=60) as server:
        client = login(server)
        events = []
        client.on_session_change(lambda event, session: events.append(event))
        first_refresh = client._session.refresh_jwt
        client.send_post("one")
        client.send_post("two")
        assert server.logins() == 1
        # Within 15 minutes of exp it refreshes before every call: already before
        # login()'s own getProfile, then before each post.
        assert server.refreshes("threadbot.test") == 3
        assert events == [SessionEvent.REFRESH, SessionEvent.REFRESH]
        assert client._session.refresh_jwt != first_refresh
        assert [p.text for p in server.posts()] == ["one", "two"]


def test_an_access_token_expired_by_the_servers_clock_is_400_expired_token():
    clock = Clock(time.time())
    with FakeBluesky.running(clock=clock) as server:
        client = login(server)
        clock.now += 7201  # the SDK judges by its own clock: it does not refresh
        with pytest.raises(ex.BadRequestError) as info:
            client.send_post("late")
        assert error_of(info.value) == (400, "ExpiredToken", "Token has expired")
        assert server.posts() == []


def test_refresh_tokens_rotate_and_the_old_one_is_refused(fake_bluesky, client):
    old = client._session.refresh_jwt
    raw = Client(base_url=fake_bluesky.base_url)
    bearer = {"Authorization": f"Bearer {old}"}
    fresh = raw.com.atproto.server.refresh_session(headers=bearer)
    assert fresh.refresh_jwt != old and fresh.did == client.me.did
    with pytest.raises(ex.BadRequestError) as info:
        raw.com.atproto.server.refresh_session(headers=bearer)
    assert error_of(info.value) == (400, "ExpiredToken", "Token has been revoked")
    # An access token is not a refresh token, nor the reverse.
    for token, call in ((fresh.access_jwt, raw.com.atproto.server.refresh_session),
                        (fresh.refresh_jwt, raw.com.atproto.server.get_session)):
        with pytest.raises(ex.BadRequestError) as info:
            call(headers={"Authorization": f"Bearer {token}"})
        assert error_of(info.value) == (400, "InvalidToken", "Token could not be verified")
    assert fake_bluesky.refreshes() == 1


def test_with_a_grace_period_the_old_refresh_token_yields_the_same_next_token():
    with FakeBluesky.running(refresh_grace=7200) as server:
        old = login(server)._session.refresh_jwt
        raw = Client(base_url=server.base_url)
        bearer = {"Authorization": f"Bearer {old}"}
        first = raw.com.atproto.server.refresh_session(headers=bearer)
        second = raw.com.atproto.server.refresh_session(headers=bearer)
        assert claims(first.refresh_jwt)["jti"] == claims(second.refresh_jwt)["jti"]


def test_bad_or_missing_tokens(fake_bluesky, client):
    raw = Client(base_url=fake_bluesky.base_url)
    with pytest.raises(ex.UnauthorizedError) as info:
        raw.com.atproto.server.get_session()
    assert error_of(info.value) == (401, "AuthMissing", "Authentication Required")
    forged = client._session.access_jwt[:-4] + "AAAA"
    with pytest.raises(ex.BadRequestError) as info:
        raw.com.atproto.server.get_session(headers={"Authorization": f"Bearer {forged}"})
    assert error_of(info.value) == (400, "InvalidToken", "Token could not be verified")


def test_revoked_refresh_tokens_force_a_new_login(fake_bluesky, client):
    raw = Client(base_url=fake_bluesky.base_url)
    fake_bluesky.revoke_refresh_tokens("threadbot.test")
    client.com.atproto.server.get_session()  # the access token still works
    with pytest.raises(ex.BadRequestError) as info:
        raw.com.atproto.server.refresh_session(
            headers={"Authorization": f"Bearer {client._session.refresh_jwt}"})
    assert error_of(info.value)[1] == "ExpiredToken"
    fake_bluesky.revoke_refresh_tokens("threadbot.test", access_tokens=True)
    with pytest.raises(ex.BadRequestError) as info:
        client.com.atproto.server.get_session()
    assert error_of(info.value) == (400, "ExpiredToken", "Token has been revoked")
    login(fake_bluesky).com.atproto.server.get_session()


# --------------------------------------------------------------------------- posts


def test_a_reply_chain_with_strong_refs_and_caller_chosen_rkeys(fake_bluesky, client):
    rkeys = [new_idempotency_key() for _ in range(3)]
    root = create(client, record("1/3"), rkeys[0])
    assert root.uri == f"at://{client.me.did}/{POST}/{rkeys[0]}"
    assert root.validation_status == "valid" and root.cid.startswith("bafyrei")
    second = create(client, record("2/3", reply={"root": ref(root), "parent": ref(root)}),
                    rkeys[1])
    create(client, record("3/3", reply={"root": ref(root), "parent": ref(second)}), rkeys[2])
    posts = fake_bluesky.posts("threadbot.test")
    assert [p.rkey for p in posts] == rkeys
    assert [p.reply_to for p in posts] == [None, rkeys[0], rkeys[1]]
    assert posts[2].reply_root == (root.uri, root.cid)
    assert posts[2].langs == ("en",)
    assert fake_bluesky.post(rkeys[1]).text == "2/3"
    assert fake_bluesky.post(second.uri).cid == second.cid
    got = client.com.atproto.repo.get_record(models.ComAtprotoRepoGetRecord.Params(
        repo="threadbot.test", collection=POST, rkey=rkeys[2]))
    assert got.value.text == "3/3" and got.value.reply.parent.cid == second.cid
    listed = client.com.atproto.repo.list_records(models.ComAtprotoRepoListRecords.Params(
        repo=client.me.did, collection=POST, limit=2))
    assert [r.uri.rsplit("/", 1)[1] for r in listed.records] == rkeys[:0:-1]
    assert fake_bluesky.thread_chain("threadbot") == [
        ChainPost(rkeys[0], None, ()), ChainPost(rkeys[1], rkeys[0], ()),
        ChainPost(rkeys[2], rkeys[1], ())]


def test_a_taken_rkey_is_a_500_as_on_the_pds(fake_bluesky, client):
    rkey = new_idempotency_key()
    first = create(client, record("first"), rkey)
    with pytest.raises(ex.RequestException) as info:
        create(client, record("again"), rkey)
    assert error_of(info.value) == (500, "InternalServerError", "Internal Server Error")
    assert [(p.text, p.cid) for p in fake_bluesky.posts()] == [("first", first.cid)]


def test_bad_record_keys_are_refused(client):
    assert refused(client, record("x"), "no spaces!") == (
        400, "InvalidRequest", "Invalid record key: no spaces!")
    status, error, message = refused(client, record("x"), "self")
    assert (status, error) == (400, "InvalidRequest")
    assert message.startswith("Invalid record key for app.bsky.feed.post: Invalid TID")


def test_bad_reply_refs_are_refused(fake_bluesky, client):
    root = create(client, record("root"))
    second = create(client, record("2", reply={"root": ref(root), "parent": ref(root)}))
    missing = {"uri": root.uri[:-3] + "aaa", "cid": root.cid}
    wrong_cid = {"uri": root.uri, "cid": second.cid}
    cases = {
        "is not a stored post": {"root": missing, "parent": missing},
        "has CID": {"root": ref(root), "parent": wrong_cid},
        "is not the root of the parent's thread": {"root": ref(second), "parent": ref(second)},
    }
    for words, reply in cases.items():
        status, error, message = refused(client, record("3", reply=reply))
        assert (status, error) == (400, "InvalidRequest") and words in message, message
    status, _, message = refused(client, record("3", reply={"root": ref(root)}))
    assert message.endswith('Missing required key "parent" at $.record.reply')
    assert len(fake_bluesky.posts()) == 2


def test_text_limits_in_graphemes_and_bytes(client):
    create(client, record("é" * 300))  # 300 graphemes, 600 bytes
    assert refused(client, record("a" * 301)) == (
        400, "InvalidRequest", "Invalid app.bsky.feed.post record: grapheme too big "
        "(maximum 300, got 301) at $.record.text")
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466"  # 25 bytes
    assert refused(client, record(family * 121))[2].endswith(
        "string too big (maximum 3000, got 3025) at $.record.text")


def test_facets_must_sit_on_utf8_boundaries_inside_the_text(fake_bluesky, client):
    text = "café 🙂 https://example.com"
    start = len("café 🙂 ".encode())
    assert start == 11

    def link(byte_start: int, byte_end: int, uri: str = "https://example.com") -> list:
        return [{"index": {"byteStart": byte_start, "byteEnd": byte_end},
                 "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}]}]

    create(client, record(text, facets=link(start, len(text.encode()))))
    index = fake_bluesky.posts()[0].facets[0]["index"]
    assert (index["byteStart"], index["byteEnd"]) == (11, 30)
    _, error, message = refused(client, record(text, facets=link(8, 30)))  # inside 🙂
    assert error == "InvalidRequest" and "UTF-8 character boundary" in message
    assert message.endswith("at $.record.facets[0].index")
    assert "outside the text's 30 UTF-8 bytes" in refused(client, record(text,
                                                                          facets=link(11, 31)))[2]
    assert "ends before it starts" in refused(client, record(text, facets=link(20, 11)))[2]
    assert "integer too small (minimum 0, got -1)" in refused(
        client, record(text, facets=link(-1, 4)))[2]
    assert 'Invalid uri (got "not a uri")' in refused(
        client, record(text, facets=link(11, 30, "not a uri")))[2]
    mention = [{"index": {"byteStart": 0, "byteEnd": 4},
                "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "alice"}]}]
    assert "Invalid DID" in refused(client, record(text, facets=mention))[2]
    tag = [{"index": {"byteStart": 0, "byteEnd": 4},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "t" * 65}]}]
    assert "grapheme too big (maximum 64, got 65)" in refused(client, record(text,
                                                                               facets=tag))[2]
    assert len(fake_bluesky.posts()) == 1


def test_blob_upload_sniffs_the_type_and_refuses_over_a_million_bytes(fake_bluesky, client):
    blob = client.upload_blob(PNG).blob
    assert (blob.mime_type, blob.size) == ("image/png", len(PNG))
    assert blob.ref.link.startswith("bafkrei")  # CIDv1, raw codec, sha-256
    stored = fake_bluesky.blobs("threadbot.test")
    assert [(b.cid, b.data) for b in stored] == [(blob.ref.link, PNG)]
    with pytest.raises(ex.BadRequestError) as info:
        client.upload_blob(b"\0" * 1_000_001)
    assert error_of(info.value) == (400, "BlobTooLarge", "This file is too large. It is "
                                    "976.56KB but the maximum size is 976.56KB.")
    client.upload_blob(b"\0" * 1_000_000)


def test_an_image_embed_with_alt_and_aspect_ratio(fake_bluesky, client):
    ratio = models.AppBskyEmbedDefs.AspectRatio(width=640, height=480)
    sent = client.send_images("look", [PNG], image_alts=["a test card"],
                              image_aspect_ratios=[ratio])
    post = fake_bluesky.post(sent.uri)
    assert post.image_alts == ("a test card",)
    ratio_sent = post.images[0]["aspectRatio"]
    assert (ratio_sent["width"], ratio_sent["height"]) == (640, 480)
    assert post.blob_cids == (fake_bluesky.blobs()[0].cid,)
    assert fake_bluesky.thread_chain("threadbot")[0].alts == ("a test card",)

    image = {"$type": "blob", "ref": {"$link": post.blob_cids[0]}, "mimeType": "image/png",
             "size": len(PNG)}

    def embed(*images: dict) -> dict:
        return {"$type": "app.bsky.embed.images", "images": list(images)}

    cases = [
        (embed({"image": image}), 'Missing required key "alt" at $.record.embed.images[0]'),
        (embed({"image": image, "alt": "", "aspectRatio": {"width": 0, "height": 1}}),
         "integer too small (minimum 1, got 0) at $.record.embed.images[0].aspectRatio.width"),
        (embed(*[{"image": image, "alt": ""}] * 5),
         "array too big (maximum 4, got 5) at $.record.embed.images"),
    ]
    for value, ending in cases:
        status, error, message = refused(client, record("x", embed=value))
        assert (status, error) == (400, "InvalidRequest") and message.endswith(ending), message
    foreign = dict(image, ref={"$link": "bafkrei" + "a" * 52})
    status, error, message = refused(client, record("x", embed=embed({"image": foreign,
                                                                      "alt": ""})))
    assert (status, error) == (400, "BlobNotFound")
    wrong_size = dict(image, size=len(PNG) + 1)
    assert refused(client, record("x", embed=embed({"image": wrong_size, "alt": ""})))[1] == (
        "InvalidSize")
    assert len(fake_bluesky.posts()) == 1


def test_blobs_of_another_account_are_not_found(fake_bluesky):
    fake_bluesky.add_account("other.test")
    mine, theirs = login(fake_bluesky), login(fake_bluesky, "other.test")
    blob = theirs.upload_blob(PNG).blob
    image = {"$type": "blob", "ref": {"$link": blob.ref.link}, "mimeType": "image/png",
             "size": len(PNG)}
    embed = {"$type": "app.bsky.embed.images", "images": [{"image": image, "alt": "x"}]}
    status, error, message = refused(mine, record("x", embed=embed))
    assert (status, error, message) == (400, "BlobNotFound",
                                        f"Could not find blob: {blob.ref.link}")


def test_resolve_handle_and_profile(fake_bluesky, client):
    did = fake_bluesky.account().did
    assert client.resolve_handle("threadbot.test").did == did
    for handle, error in (("nobody.test", "HandleNotFound"), ("nobody.example", "InvalidRequest")):
        with pytest.raises(ex.BadRequestError) as info:
            client.resolve_handle(handle)
        assert error_of(info.value) == (400, error, "Unable to resolve handle")
    profile = client.get_profile("threadbot.test")
    assert (profile.did, profile.handle, profile.posts_count) == (did, "threadbot.test", 0)


def test_delete_then_get_is_record_not_found(fake_bluesky, client):
    rkey = new_idempotency_key()
    sent = create(client, record("gone soon"), rkey)
    assert client.delete_post(sent.uri) is True
    assert fake_bluesky.posts() == []
    assert [p.deleted for p in fake_bluesky.posts(include_deleted=True)] == [True]
    with pytest.raises(ex.BadRequestError) as info:
        client.get_post(rkey)
    assert error_of(info.value) == (400, "RecordNotFound", f"Could not locate record: {sent.uri}")
    assert client.delete_post(sent.uri) is True  # deleting again is a no-op, as on the PDS
    create(client, record("same key again"), rkey)  # a freed key can be used again
    assert [p.text for p in fake_bluesky.posts()] == ["same key again"]


# --------------------------------------------------------------------------- faults


def test_injected_errors_store_nothing_and_map_to_sdk_errors(fake_bluesky, client):
    expected = {500: ex.RequestException, 502: ex.NetworkError, 503: ex.RequestException,
                401: ex.UnauthorizedError}
    for status, kind in expected.items():
        fake_bluesky.fail_next(status=status, method="POST", path=CREATE)
        with pytest.raises(kind) as info:
            client.send_post("no")
        assert info.value.response.status_code == status
    assert error_of(info.value) == (401, "AuthenticationRequired", "Authentication Required")
    assert fake_bluesky.posts() == []
    assert [r.fault for r in fake_bluesky.requests if r.fault] == ["500", "502", "503", "401"]


def test_a_drop_before_storing_stores_nothing(fake_bluesky, client):
    fake_bluesky.drop_next(after_store=False, path="com.atproto.repo.createRecord")
    with pytest.raises(httpx.RemoteProtocolError):  # the SDK does not wrap it
        client.send_post("lost")
    assert fake_bluesky.posts() == []
    assert fake_bluesky.requests[-1].status is None


def test_a_drop_after_storing_then_the_same_rkey_is_a_500_and_get_record_finds_it(
        fake_bluesky, client):
    rkey = new_idempotency_key()
    fake_bluesky.drop_next(path=CREATE)
    with pytest.raises(httpx.RemoteProtocolError):
        create(client, record("did it go through?"), rkey)
    with pytest.raises(ex.RequestException) as info:
        create(client, record("did it go through?"), rkey)
    assert info.value.response.status_code == 500
    assert client.get_post(rkey).value.text == "did it go through?"
    assert len(fake_bluesky.posts()) == 1


def test_a_delay_times_the_client_out_but_the_post_is_stored(fake_bluesky):
    client = login(fake_bluesky)
    client.request._client.timeout = httpx.Timeout(0.3)
    fake_bluesky.delay_next(1.0, path=CREATE)
    with pytest.raises(ex.InvokeTimeoutError):
        client.send_post("slow")
    assert [p.text for p in fake_bluesky.posts()] == ["slow"]


def test_a_forced_429_carries_the_rate_limit_headers(fake_bluesky, client):
    fake_bluesky.rate_limit_next(path=CREATE, reset_in=30)
    before = time.time()
    with pytest.raises(ex.RateLimitExceededError) as info:
        client.send_post("wait")
    err = info.value
    assert error_of(err) == (429, "RateLimitExceeded", "Rate Limit Exceeded")
    assert (err.limit, err.remaining, err.policy, err.retry_after) == (5000, 0, "5000;w=3600",
                                                                       30)
    assert before + 28 <= err.reset_at.timestamp() <= time.time() + 31
    assert fake_bluesky.posts() == []
    client.send_post("now")


def test_every_answer_has_rate_limit_headers_and_the_write_budget_is_enforced():
    with FakeBluesky.running(rate_limits={"repo-write-hour": (7, 3600)}) as server:
        client = login(server)
        answer = httpx.get(f"{server.base_url}/xrpc/com.atproto.identity.resolveHandle",
                           params={"handle": "threadbot.test"})
        assert answer.headers["ratelimit-policy"] == "3000;w=300"
        assert int(answer.headers["ratelimit-remaining"]) < 3000
        assert int(answer.headers["ratelimit-reset"]) > time.time()
        client.send_post("1")
        client.send_post("2")  # 6 of 7 points: a third create (3 points) is over
        with pytest.raises(ex.RateLimitExceededError) as info:
            client.send_post("3")
        assert (info.value.limit, info.value.remaining) == (7, 0)
        assert info.value.retry_after is not None and info.value.retry_after > 3500
        assert len(server.posts()) == 2


def test_random_faults_are_reproducible_and_of_every_kind():
    def run(seed: int) -> list[str | None]:
        with FakeBluesky.running() as server:
            client = login(server)
            client.request._client.timeout = httpx.Timeout(0.5)
            server.random_faults(0.6, seed=seed, path=CREATE, delay=0.6)
            for i in range(12):
                try:
                    client.send_post(f"post {i}")
                except (ex.RequestErrorBase, httpx.HTTPError):
                    pass
            return [r.fault for r in server.requests if r.nsid.endswith("createRecord")]

    first = run(20)
    assert first == run(20)
    assert {"delay", "drop", "drop_after_store", "429"} <= set(first)
    assert {"500", "502", "503", "504"} & set(first)


def test_clear_faults_and_reset(fake_bluesky, client):
    fake_bluesky.fail_next(5, path=CREATE)
    fake_bluesky.random_faults(1.0)
    fake_bluesky.clear_faults()
    client.send_post("fine")
    fake_bluesky.reset()
    assert fake_bluesky.posts() == [] and fake_bluesky.requests == []
    assert fake_bluesky.logins() == 0
    client.send_post("the session survives a reset")
    assert len(fake_bluesky.posts()) == 1


def test_the_request_log_never_shows_secrets(fake_bluesky, client):
    client.send_post("hello")
    client.com.atproto.server.refresh_session(
        headers={"Authorization": f"Bearer {client._session.refresh_jwt}"})
    logged = repr(fake_bluesky.requests)
    session = client._session
    for secret in (fake_bluesky.credentials()["app_password"], session.access_jwt,
                   session.refresh_jwt, session.access_jwt.split(".")[2]):
        assert secret not in logged
    login_request = next(r for r in fake_bluesky.requests if r.nsid.endswith("createSession"))
    assert login_request.json["password"] == "[redacted]"
    assert "Bearer [redacted]" in logged


# --------------------------------------------------------------------------- rehearsals & CLI


def test_rehearsal_server_is_registered_and_uses_name_dot_test():
    from threadbot.platforms import Limits

    assert FAKES["bluesky"] == "threadbot.testing.fake_bluesky:FakeBluesky"
    limits = Limits(max_characters=300, characters_reserved_per_url=None, max_media=4,
                    max_image_bytes=1_000_000, max_gif_bytes=1_000_000)
    with rehearsal_server("bluesky", limits) as server:
        assert server.accounts == []
        secrets = server.rehearsal_account("rehearsal")
        assert set(secrets) == {"app_password"}
        client = Client(base_url=server.base_url)
        client.login("rehearsal.test", secrets["app_password"])
        first = client.send_post("1")
        reply = models.AppBskyFeedPost.ReplyRef(root=models.create_strong_ref(first),
                                                parent=models.create_strong_ref(first))
        second = client.send_images("2", [PNG], image_alts=["alt"], reply_to=reply)
        chain = server.thread_chain("rehearsal")
        rkeys = [first.uri.rsplit("/", 1)[1], second.uri.rsplit("/", 1)[1]]
        assert chain == [ChainPost(rkeys[0], None, ()), ChainPost(rkeys[1], rkeys[0], ("alt",))]


def test_main_prints_the_url_the_handle_and_a_password_line_for_env():
    with subprocess.Popen(
        [sys.executable, "-m", "threadbot.testing.fake_bluesky", "--port", "0",
         "--user", "me.test"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    ) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            url = re.search(r"http://127\.0\.0\.1:\d+", first)
            assert url, first
            lines = [process.stdout.readline() for _ in range(6)]
            password = next(re.search(r"BLUESKY_APP_PASSWORD=(\S+)", line).group(1)
                            for line in lines if "BLUESKY_APP_PASSWORD=" in line)
            assert any("handle: me.test" in line for line in lines), lines
            client = Client(base_url=url.group(0))
            assert client.login("me.test", password).handle == "me.test"
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert process.returncode == 0
