"""The fake X API server speaks X's protocol: signed requests, X's bodies and headers.

These tests talk raw HTTP (requests + requests-oauthlib, as tweepy does) so
they check the server on its own; tests/test_platform_x.py drives XClient.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
import requests
from requests_oauthlib import OAuth1

from helpers import Clock
from threadbot.testing.fake_x import DEFAULT_RATE_LIMITS, FakeX, sniff_media_type

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
GIF = b"GIF89a" + b"\x00" * 100


def auth(server: FakeX, username: str | None = None, **override: str) -> OAuth1:
    creds = {**server.credentials(username), **override}
    return OAuth1(creds["consumer_key"], creds["consumer_secret"], creds["access_token"],
                  creds["access_token_secret"], decoding=None)


def call(server: FakeX, method: str, route: str, username: str | None = None,
         **kwargs) -> requests.Response:
    kwargs.setdefault("auth", auth(server, username))
    kwargs.setdefault("timeout", 5)
    return requests.request(method, server.base_url + route, **kwargs)


def tweet(server: FakeX, text: str, username: str | None = None, **extra) -> requests.Response:
    return call(server, "POST", "/2/tweets", username, json={"text": text, **extra})


# --------------------------------------------------------------------------- auth


def test_users_me_returns_the_signed_in_account(fake):
    response = call(fake, "GET", "/2/users/me")
    assert response.status_code == 200
    assert response.json() == {"data": {"id": fake.account().user_id, "name": "Threadbot Test",
                                        "username": "threadbot_test"}}


@pytest.mark.parametrize("override", [
    {"consumer_secret": "wrong"},
    {"access_token_secret": "wrong"},
    {"consumer_key": "unknown-app"},
    {"access_token": "999-unknown"},
])
def test_bad_signature_or_unknown_key_is_401_with_xs_body(fake, override):
    response = call(fake, "GET", "/2/users/me", auth=auth(fake, **override))
    assert response.status_code == 401
    assert response.json() == {"title": "Unauthorized", "detail": "Unauthorized",
                               "type": "about:blank", "status": 401}
    assert fake.posts() == []


def test_unsigned_request_is_401(fake):
    assert call(fake, "GET", "/2/users/me", auth=None).status_code == 401


def test_signature_covers_the_query_string(fake):
    """Sign one URL, send another: the server must notice."""
    user_id = fake.account().user_id
    prepared = requests.Request(
        "GET", f"{fake.base_url}/2/users/{user_id}/tweets?max_results=5", auth=auth(fake)
    ).prepare()
    prepared.url = prepared.url.replace("max_results=5", "max_results=6")
    response = requests.Session().send(prepared, timeout=5)
    assert response.status_code == 401


def test_replayed_request_is_refused(fake):
    prepared = requests.Request("GET", fake.base_url + "/2/users/me", auth=auth(fake)).prepare()
    session = requests.Session()
    assert session.send(prepared, timeout=5).status_code == 200
    assert session.send(prepared, timeout=5).status_code == 401


# --------------------------------------------------------------------------- posts


def test_create_post_returns_201_and_stores_it(fake):
    response = tweet(fake, "hello world")
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["text"] == "hello world"
    assert data["id"].isdigit()
    [post] = fake.posts(user="threadbot_test")
    assert (post.id, post.text, post.reply_to, post.media_ids) == (data["id"], "hello world",
                                                                     None, ())


def test_ids_are_increasing_snowflake_strings(fake):
    ids = [tweet(fake, f"post {i}").json()["data"]["id"] for i in range(5)]
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)
    assert len(set(ids)) == 5
    assert all(int(i) > 10**17 for i in ids)  # time-based, like X's


def test_reply_chain_is_linked(fake):
    first = tweet(fake, "1/3").json()["data"]["id"]
    second = tweet(fake, "2/3", reply={"in_reply_to_tweet_id": first}).json()["data"]["id"]
    third = tweet(fake, "3/3", reply={"in_reply_to_tweet_id": second}).json()["data"]["id"]
    posts = {p.id: p for p in fake.posts()}
    assert posts[second].reply_to == first and posts[third].reply_to == second
    assert {p.conversation_id for p in posts.values()} == {first}


def test_duplicate_text_from_same_user_is_403(fake):
    assert tweet(fake, "same words").status_code == 201
    response = tweet(fake, "same words")
    assert response.status_code == 403
    assert response.json() == {
        "title": "Forbidden", "type": "about:blank", "status": 403,
        "detail": "You are not allowed to create a Tweet with duplicate content.",
    }
    # Another account may say the same thing.
    fake.add_account("someone_else")
    assert tweet(fake, "same words", "someone_else").status_code == 201


def test_duplicate_window_expires():
    clock = Clock()
    with FakeX.running(clock=clock, duplicate_window=60) as fake:
        assert tweet(fake, "again").status_code == 201
        clock.now += 61
        assert tweet(fake, "again").status_code == 201


def test_text_over_280_weighted_is_rejected(fake):
    # CJK counts 2 on X: 140 fit exactly, 141 do not.
    assert tweet(fake, "字" * 140).status_code == 201
    response = tweet(fake, "漢" * 141)
    assert response.status_code == 400
    assert "Tweet text is too long" in response.json()["detail"]
    assert tweet(fake, "a" * 281).status_code == 400
    assert len(fake.posts()) == 1


def test_reply_to_unknown_post_is_403(fake):
    response = tweet(fake, "orphan", reply={"in_reply_to_tweet_id": "12345"})
    assert response.status_code == 403
    assert "deleted or not visible" in response.json()["detail"]


def test_empty_post_and_bad_json_are_400(fake):
    assert tweet(fake, "").status_code == 400
    response = call(fake, "POST", "/2/tweets", data=b"{not json",
                    headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_unknown_route_is_404(fake):
    assert call(fake, "GET", "/2/nope").status_code == 404


def test_delete_then_reply_is_refused(fake):
    post_id = tweet(fake, "short-lived").json()["data"]["id"]
    assert call(fake, "DELETE", f"/2/tweets/{post_id}").json() == {"data": {"deleted": True}}
    assert fake.posts() == []
    assert tweet(fake, "late", reply={"in_reply_to_tweet_id": post_id}).status_code == 403


# --------------------------------------------------------------------------- timeline


def test_user_tweets_newest_first_with_requested_fields(fake):
    first = tweet(fake, "first").json()["data"]["id"]
    second = tweet(fake, "second", reply={"in_reply_to_tweet_id": first}).json()["data"]["id"]
    user_id = fake.account().user_id
    fields = "created_at,referenced_tweets,in_reply_to_user_id,conversation_id"
    body = call(fake, "GET", f"/2/users/{user_id}/tweets",
                params={"tweet.fields": fields, "max_results": 5}).json()
    assert [p["id"] for p in body["data"]] == [second, first]
    newest = body["data"][0]
    assert newest["referenced_tweets"] == [{"type": "replied_to", "id": first}]
    assert newest["in_reply_to_user_id"] == user_id
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", newest["created_at"])
    assert "referenced_tweets" not in body["data"][1]
    assert body["meta"] == {"result_count": 2, "newest_id": second, "oldest_id": first}
    plain = call(fake, "GET", f"/2/users/{user_id}/tweets").json()["data"][0]
    assert set(plain) == {"id", "text", "edit_history_tweet_ids"}


def test_user_tweets_paginate(fake):
    ids = [tweet(fake, f"n{i}").json()["data"]["id"] for i in range(12)]
    user_id = fake.account().user_id
    seen, token = [], None
    while True:
        params = {"max_results": 5, **({"pagination_token": token} if token else {})}
        body = call(fake, "GET", f"/2/users/{user_id}/tweets", params=params).json()
        seen += [p["id"] for p in body["data"]]
        token = body["meta"].get("next_token")
        if not token:
            break
    assert seen == ids[::-1]


def test_user_tweets_validation(fake):
    user_id = fake.account().user_id
    response = call(fake, "GET", f"/2/users/{user_id}/tweets", params={"max_results": 3})
    assert response.status_code == 400
    assert response.json()["title"] == "Invalid Request"
    missing = call(fake, "GET", "/2/users/42/tweets").json()
    assert missing["errors"][0]["title"] == "Not Found Error"
    assert call(fake, "GET", f"/2/users/{user_id}/tweets").json() == {"meta": {"result_count": 0}}


# --------------------------------------------------------------------------- media


def upload(fake: FakeX, data: bytes, username: str | None = None) -> requests.Response:
    return call(fake, "POST", "/2/media/upload", username,
                files={"media": ("x.png", data, "image/png")},
                data={"media_category": "tweet_image"})


def test_simple_upload_then_alt_text_then_post(fake):
    response = upload(fake, PNG)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["media_key"] == f"3_{data['id']}" and data["size"] == len(PNG)
    meta = call(fake, "POST", "/2/media/metadata",
                json={"id": data["id"], "metadata": {"alt_text": {"text": "A chart"}}})
    assert meta.status_code == 200
    assert meta.json()["data"]["associated_metadata"] == {"alt_text": {"text": "A chart"}}
    [item] = fake.media(data["id"])
    assert (item.alt_text, item.media_type, item.data, item.chunked) == (
        "A chart", "image/png", PNG, False)
    posted = tweet(fake, "look", media={"media_ids": [data["id"]]})
    assert posted.status_code == 201
    assert fake.posts()[0].media_ids == (data["id"],)


def test_chunked_upload_with_new_endpoints(fake):
    init = call(fake, "POST", "/2/media/upload/initialize",
                json={"media_type": "image/gif", "total_bytes": len(GIF),
                      "media_category": "tweet_gif"})
    media_id = init.json()["data"]["id"]
    for index, start in enumerate(range(0, len(GIF), 40)):
        response = call(fake, "POST", f"/2/media/upload/{media_id}/append",
                        files={"media": ("c", GIF[start:start + 40])},
                        data={"segment_index": str(index)})
        assert response.status_code == 200
    final = call(fake, "POST", f"/2/media/upload/{media_id}/finalize")
    assert final.status_code == 200
    assert final.json()["data"]["media_key"] == f"16_{media_id}"
    status = call(fake, "GET", "/2/media/upload",
                  params={"command": "STATUS", "media_id": media_id}).json()["data"]
    assert status["processing_info"]["state"] == "succeeded"
    assert fake.media(media_id)[0].data == GIF


def test_chunked_upload_with_legacy_commands(fake):
    init = call(fake, "POST", "/2/media/upload",
                data={"command": "INIT", "media_type": "image/png", "total_bytes": len(PNG)})
    media_id = init.json()["data"]["id"]
    call(fake, "POST", "/2/media/upload", files={"media": ("c", PNG)},
         data={"command": "APPEND", "media_id": media_id, "segment_index": "0"})
    final = call(fake, "POST", "/2/media/upload",
                 data={"command": "FINALIZE", "media_id": media_id})
    assert final.status_code == 200
    assert fake.media(media_id)[0].state == "succeeded"


def test_media_is_checked_by_magic_bytes_and_size(fake):
    assert upload(fake, b"not an image at all").status_code == 400
    assert upload(fake, PNG + b"\0" * (5 * 1024 * 1024)).status_code == 400
    too_big = call(fake, "POST", "/2/media/upload/initialize",
                   json={"media_type": "image/png", "total_bytes": 6 * 1024 * 1024})
    assert too_big.status_code == 400
    assert sniff_media_type(b"RIFF\0\0\0\0WEBPVP8 ") == "image/webp"
    assert fake.media() == []


def test_unfinished_foreign_unknown_or_too_many_media_are_refused(fake):
    fake.add_account("other")
    theirs = upload(fake, PNG, "other").json()["data"]["id"]
    unfinished = call(fake, "POST", "/2/media/upload/initialize",
                      json={"media_type": "image/png", "total_bytes": 10}).json()["data"]["id"]
    mine = [upload(fake, PNG).json()["data"]["id"] for _ in range(5)]
    for ids in ([theirs], [unfinished], ["123"], mine):
        response = tweet(fake, f"with {ids}", media={"media_ids": ids})
        assert response.status_code == 400, ids
    assert tweet(fake, "four is fine", media={"media_ids": mine[:4]}).status_code == 201


def test_alt_text_limit(fake):
    media_id = upload(fake, PNG).json()["data"]["id"]
    body = {"id": media_id, "metadata": {"alt_text": {"text": "a" * 1001}}}
    assert call(fake, "POST", "/2/media/metadata", json=body).status_code == 400
    body["metadata"]["alt_text"]["text"] = "a" * 1000
    assert call(fake, "POST", "/2/media/metadata", json=body).status_code == 200


# --------------------------------------------------------------------------- rate limits


def test_rate_limit_headers_on_every_response_and_429_when_exceeded():
    clock = Clock()
    with FakeX.running(clock=clock, rate_limits={"GET /2/users/me": (2, 900)}) as fake:
        first = call(fake, "GET", "/2/users/me")
        assert first.headers["x-rate-limit-limit"] == "2"
        assert first.headers["x-rate-limit-remaining"] == "1"
        assert first.headers["x-rate-limit-reset"] == str(int(clock.now + 900))
        assert call(fake, "GET", "/2/users/me").headers["x-rate-limit-remaining"] == "0"
        limited = call(fake, "GET", "/2/users/me")
        assert limited.status_code == 429
        assert limited.json()["title"] == "Too Many Requests"
        assert limited.headers["x-rate-limit-remaining"] == "0"
        clock.now += 901
        assert call(fake, "GET", "/2/users/me").status_code == 200


def test_24_hour_post_cap():
    clock = Clock()
    with FakeX.running(clock=clock, user_post_cap_24h=2, app_post_cap_24h=10) as fake:
        first = tweet(fake, "one")
        assert first.headers["x-user-limit-24hour-limit"] == "2"
        assert first.headers["x-user-limit-24hour-remaining"] == "1"
        assert first.headers["x-app-limit-24hour-remaining"] == "9"
        clock.now += 3600
        tweet(fake, "two")
        capped = tweet(fake, "three")
        assert capped.status_code == 429
        assert capped.headers["x-user-limit-24hour-remaining"] == "0"
        # The oldest post leaves the 24-hour window first.
        assert capped.headers["x-user-limit-24hour-reset"] == str(int(clock.now - 3600 + 86400))
        clock.now += 86400 - 3600 + 1
        assert tweet(fake, "three").status_code == 201


def test_default_limits_cover_every_route():
    assert "POST /2/tweets" in DEFAULT_RATE_LIMITS
    assert all(limit > 0 and window > 0 for limit, window in DEFAULT_RATE_LIMITS.values())


# --------------------------------------------------------------------------- faults


def test_fail_next_matches_method_and_path(fake):
    fake.fail_next(2, status=500, method="POST", path="/2/tweets")
    assert call(fake, "GET", "/2/users/me").status_code == 200
    assert tweet(fake, "a").status_code == 500
    assert tweet(fake, "b").status_code == 500
    assert tweet(fake, "c").status_code == 201
    assert [p.text for p in fake.posts()] == ["c"]
    assert [r.fault for r in fake.requests] == [None, "500", "500", None]


def test_path_wildcards(fake):
    fake.fail_next(status=503, path="/2/media/*")
    assert upload(fake, PNG).status_code == 503
    assert upload(fake, PNG).status_code == 200


def test_drop_after_store_stores_but_never_answers(fake):
    fake.drop_next(method="POST", path="/2/tweets")
    with pytest.raises(requests.ConnectionError):
        tweet(fake, "lost answer")
    assert [p.text for p in fake.posts()] == ["lost answer"]
    assert fake.requests[-1].status is None


def test_drop_before_store_loses_the_request(fake):
    fake.drop_next(after_store=False)
    with pytest.raises(requests.ConnectionError):
        tweet(fake, "never stored")
    assert fake.posts() == []


def test_delay_then_answer(fake):
    fake.delay_next(0.3)
    start = time.monotonic()
    assert tweet(fake, "slow").status_code == 201
    assert time.monotonic() - start >= 0.3
    fake.delay_next(1.0)
    with pytest.raises(requests.ReadTimeout):
        call(fake, "GET", "/2/users/me", timeout=0.1)


def test_random_faults_are_reproducible_with_a_seed():
    def run(seed: int) -> list[int]:
        with FakeX.running() as fake:
            fake.random_faults(0.3, seed=seed, kinds=("500", "503"))
            return [call(fake, "GET", "/2/users/me").status_code for _ in range(30)]

    first, again, other = run(7), run(7), run(8)
    assert first == again
    assert first != other
    assert {500, 503, 200} == set(first)
    assert 3 <= sum(code != 200 for code in first) <= 18


def test_latency_is_added_to_every_request():
    with FakeX.running(latency=0.05) as fake:
        start = time.monotonic()
        for _ in range(3):
            call(fake, "GET", "/2/users/me")
        assert time.monotonic() - start >= 0.15


def test_clear_faults(fake):
    fake.fail_next(5)
    fake.random_faults(1.0)
    fake.clear_faults()
    assert call(fake, "GET", "/2/users/me").status_code == 200


def test_request_log_keeps_no_secrets(fake):
    tweet(fake, "logged")
    creds = fake.credentials()
    [entry] = fake.requests
    assert (entry.method, entry.path, entry.json, entry.status) == (
        "POST", "/2/tweets", {"text": "logged"}, 201)
    text = repr(fake.requests) + repr(fake.accounts)
    assert creds["consumer_secret"] not in text
    assert creds["access_token_secret"] not in text


def test_stop_is_idempotent_and_frees_the_port():
    fake = FakeX().start()
    url = fake.base_url
    fake.stop()
    fake.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/2/users/me", timeout=2)


# --------------------------------------------------------------------------- entry point


def test_module_entry_point_prints_base_url_and_fake_credentials():
    with subprocess.Popen(
        [sys.executable, "-m", "threadbot.testing.fake_x", "--port", "0", "--user", "rehearsal"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    ) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            match = re.search(r"http://127\.0\.0\.1:(\d+)", first)
            assert match, first
            lines = [process.stdout.readline() for _ in range(10)]
            assert any("@rehearsal" in line for line in lines)
            assert any("X_API_KEY=fake-consumer-key" in line for line in lines)
            response = requests.get(match.group(0) + "/2/users/me", timeout=5)
            assert response.status_code == 401  # it really serves
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert process.returncode == 0
