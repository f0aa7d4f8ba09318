"""Micro-benchmark: threadbot.counting.measure (X) vs twitter-text-parser 3.0.0.

Run: .venv/bin/python bench/counting.py
"""

from __future__ import annotations

import time
import warnings

from threadbot.counting import measure

ENGLISH = (
    "Threads are easier to read when each post ends on a complete thought, so the splitter "
    "prefers sentence breaks over word breaks, and word breaks over anything else. Links like "
    "example.com/docs count 23 no matter how long they are; see https://github.com/x/y too. "
)[:280]
CJK = ("日本語の文章を自然に分割するには、句読点の位置を考えることが大切です。" * 10)[:140]
EMOJI = ("Launch day 🚀🎉 thanks team 👩🏽‍💻👨‍👩‍👧‍👦 🇯🇵🇺🇸 ❤️ #️⃣ 👍🏻 " * 6)[:200]
CASES = {"english-280": ENGLISH, "cjk-140": CJK, "emoji-heavy": EMOJI}


def per_call_us(fn, text: str, budget: float = 0.5) -> float:
    fn(text)  # warm up (lazy regex builds)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < budget:
        for _ in range(50):
            fn(text)
        n += 50
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import twitter_text
        except ImportError:
            twitter_text = None
    print(f"{'case':<12} {'ours µs':>9} {'ref µs':>9} {'ratio':>7}  length")
    for name, text in CASES.items():
        ours = per_call_us(measure, text)
        if twitter_text is None:
            print(f"{name:<12} {ours:9.1f} {'n/a':>9}")
            continue
        ref = per_call_us(lambda t: twitter_text.parse_tweet(t).weightedLength, text)
        length = (measure(text), twitter_text.parse_tweet(text).weightedLength)
        print(f"{name:<12} {ours:9.1f} {ref:9.1f} {ref / ours:6.1f}x  {length}")
    words = ENGLISH.split()
    start = time.perf_counter()
    for _ in range(200):
        for w in words:
            measure(w)
    print(f"short words: {(time.perf_counter() - start) / (200 * len(words)) * 1e6:.2f} µs/call")


if __name__ == "__main__":
    main()
