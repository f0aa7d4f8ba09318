"""The splitter and links: what a post counts is what it shows, whatever comes before a
link (a space, a CJK character, nothing), and a continuation mark never joins a link."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from threadbot import compose_text, measure
from threadbot.config import Config

LINKS = ["https://example.com/essays/2026/on-slow-work-and-the-long-view?ref=thread",
         "https://a.io/x", "http://例え.jp/パス/とても/長い/道", "example.com/no/scheme/here"]
PIECES = st.one_of(
    st.sampled_from(LINKS),
    st.sampled_from(["記事はこちら：", "これは長い文章です。", "café ☕", "🙂", "#tag", "word",
                     "a sentence that ends.", "。", "、", "\n", " ", "  "]),
    st.text(alphabet="abcdefghij ", min_size=1, max_size=30),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(PIECES, min_size=1, max_size=60), st.sampled_from(["bluesky", "x",
                                                                   "mastodon"]))
def test_every_post_fits_as_shown(parts, platform):
    text = "".join(parts)
    if not text.strip():
        return
    thread = compose_text(text, platform=platform, config=Config())
    for post in thread.posts:
        assert measure(post.text, platform) <= thread.limit, post.text
        assert post.length == measure(post.text, platform)
        # "…" glued to a link would become part of the address.
        assert not re.search(r"(://|\.[a-z]{2,}/)\S*…$", post.text.split()[-1] if
                             post.text.split() else ""), post.text


def test_a_link_right_after_a_cjk_character_counts_in_full_on_bluesky():
    text = "記事はこちら：https://example.com/" + "a" * 300
    thread = compose_text(text, platform="bluesky", config=Config())
    assert len(thread.posts) == 2
    assert all(measure(p.text, "bluesky") <= 300 for p in thread.posts)


def test_the_continuation_mark_stands_apart_from_a_link():
    from threadbot.config import SplitSettings
    from threadbot.split import decorate

    for body, shown in [("read https://example.com/a/b", "read https://example.com/a/b …"),
                        ("read example.com/a", "read example.com/a …"),
                        ("read this", "read this…"), ("read this,", "read this, …")]:
        assert decorate(body, index=2, total=3, mid_sentence=True,
                        settings=SplitSettings()) == shown
