"""Decorations (continuation marker, numbering, thread marker) never fuse with an
entity: whatever marker a writer configures, each platform's own detection on the
posted text finds exactly the links (and, on Bluesky, the mentions and tags) of the
draft, unchanged."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threadbot import compose_text, measure
from threadbot.config import Config, SplitSettings
from threadbot.counting import find_urls
from threadbot.counting._bluesky import render
from threadbot.platforms import spec
from threadbot.split import decorate

LINKS = ["https://example.com/essays/2026/on-slow-work?ref=thread", "https://a.io/x",
         "http://例え.jp/パス/道", "example.com/no/scheme/here", "example.org",
         "https://journal.example.net/river-walk/notes-three", "https://example.com/a_b-c",
         "https://example.com:8080/x"]
ENTITIES = ["@alice", "@bob.bsky.social", "@carol@mastodon.example", "#slowwork",
            "#日本語", "#tag_two", "$AAPL", "$TSLA"]
WORDS = ["word", "the", "river", "walk,", "done.", "Still", "café", "🙂", "(aside)",
         "…", "well—", "3.5", "e.g.", "node.js", "これは長い文章です。", "記事はこちら："]
TOKEN = st.one_of(st.sampled_from(LINKS), st.sampled_from(ENTITIES), st.sampled_from(WORDS),
                  st.text(alphabet="abcdefghij", min_size=1, max_size=12))
GAP = st.sampled_from([" ", " ", " ", " ", "\n", "\n\n", ". "])
MARKERS = ["…", "...", "-", "→", "+", "/thread", "(cont)", "cont", "»", "~", "_", "続く",
           "…more", "➡️", "x"]
THREAD_MARKERS = ["", "🧵", "/thread", "(thread)", "👇", "-"]


@st.composite
def drafts(draw):
    tokens = draw(st.lists(st.tuples(TOKEN, GAP), min_size=20, max_size=120))
    return "".join(token + gap for token, gap in tokens).strip() or "word"


def links(text: str, platform: str) -> list[str]:
    """What that platform's own detection takes for links in ``text``."""
    if platform == "bluesky":
        return [span.value for _, _, span in render(text)[1] if span.kind == "link"]
    return [text[start:end] for start, end in find_urls(text, platform)]


def bluesky_entities(text: str) -> list[tuple[str, str]]:
    return [(span.kind, span.value) for _, _, span in render(text)[1]]


@settings(max_examples=300, deadline=None)
@given(text=drafts(), platform=st.sampled_from(["x", "mastodon", "bluesky"]),
       continuation=st.sampled_from(MARKERS), thread_marker=st.sampled_from(THREAD_MARKERS),
       numbering=st.sampled_from(["none", "1/N", "1/", "(1/N)"]),
       position=st.sampled_from(["before", "after"]),
       packing=st.sampled_from(["natural", "compact"]),
       limit=st.sampled_from([None, 80, 120]))
def test_every_platform_finds_exactly_the_drafts_links(text, platform, continuation,
                                                       thread_marker, numbering, position,
                                                       packing, limit):
    # A small limit (as a server may set) makes many breaks, most of them mid-sentence.
    limits = None if limit is None else replace(spec(platform).default_limits,
                                                max_characters=limit)
    thread = compose_text(text, platform=platform, config=Config(), limits=limits,
                          continuation=continuation, thread_marker=thread_marker,
                          numbering=numbering, numbering_position=position, packing=packing)
    for post in thread.posts:  # the space before a marker is counted like the rest
        assert post.length == measure(post.text, platform)
        assert post.length <= thread.limit, post.text
    found = [link for post in thread.posts for link in links(post.text, platform)]
    assert found == links(text, platform), [p.text for p in thread.posts]
    if platform == "bluesky":
        seen = [e for post in thread.posts for e in bluesky_entities(post.text)]
        assert seen == bluesky_entities(text), [p.text for p in thread.posts]


@pytest.mark.parametrize(("body", "marker", "shown"), [
    ("see #slowwork", "→", "see #slowwork →"),
    ("ask @alice", "-", "ask @alice -"),
    ("buy $AAPL", "…", "buy $AAPL …"),
    ("read example.org", "…", "read example.org …"),
    ("read this", "…", "read this…"),
    ("read this", "cont", "read this cont"),
    ("read this", "-", "read this-"),
])
def test_the_continuation_marker_keeps_off_an_entity(body, marker, shown):
    assert decorate(body, index=2, total=3, mid_sentence=True,
                    settings=SplitSettings(continuation=marker)) == shown
