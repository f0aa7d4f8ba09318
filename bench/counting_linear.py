"""Counting time against input size (issue #11): must grow linearly.

    .venv/bin/python bench/counting_linear.py [--sizes 2000,20000,200000,2000000]

For each platform and each hostile input, at 2 KB, 20 KB, 200 KB and 2 MB (code
points): seconds for one ``measure``, and the ratio to ``measure`` of plain prose of
the same size (sentences with full stops, curly quotes, no URL) in the same run. A
linear count keeps the ratio about constant as the size grows x10; before issue #11
the X count of "a.a.a…" took 15.8 s at 2 KB and 66 s at 4 KB.

Inputs: "a.a.a…" (a dot after every letter), "x." then Japanese, "a.a.a…" ending in
a TLD ("…a.com", one long domain), "http://a.a.a…" (a long domain after a protocol),
"a.co " repeated (one URL every 5 characters), a hashtag of punctuation before a link
(Bluesky), a URL path of parenthesis groups "http://a.com/(a)(a)…" (X and Mastodon
took 1.6 s at 20 KB and 438 s at 300 KB before ``PathMatcher``).
"""

from __future__ import annotations

import argparse
import time

from threadbot.counting import measure

INPUTS = {
    "a.a.a…": lambda n: "a." * (n // 2),
    "x.日本語…": lambda n: "x." + "日本語" * ((n - 2) // 3),
    "a.a…a.com": lambda n: "a." * ((n - 3) // 2) + "com",
    "http://a.a…": lambda n: "http://" + "a." * ((n - 7) // 2),
    "a.co a.co…": lambda n: "a.co " * (n // 5),
    "#a!!…!b link": lambda n: "#a" + "!" * (n - 24) + "b https://a.co",
    "/(a)(a)…": lambda n: "http://a.com/" + "(a)" * ((n - 13) // 3),
}
PROSE = (
    "Slow work is still work. A thread reads best in small parts, “one” at a time "
    "(see e.g. the docs). "
)


def seconds(fn, text: str) -> float:
    best = float("inf")
    for _ in range(3 if len(text) <= 200_000 else 1):
        start = time.perf_counter()
        fn(text)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2000,20000,200000,2000000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    for platform in ("x", "mastodon", "bluesky"):
        measure("warm up: a.com http://a.co 日", platform)
        print(f"\n{platform}: seconds per measure (ratio to prose of the same size)")
        print(f"{'input':<14}" + "".join(f"{n:>22,}" for n in sizes))
        base = {}
        for n in sizes:
            prose = (PROSE * (n // len(PROSE) + 1))[:n]
            base[n] = seconds(lambda t, p=platform: measure(t, p), prose)
        print(f"{'prose':<14}" + "".join(f"{base[n]:>13.4f} (  1.0x)" for n in sizes))
        for name, make in INPUTS.items():
            cells = []
            for n in sizes:
                t = seconds(lambda t, p=platform: measure(t, p), make(n))
                cells.append(f"{t:>13.4f} ({t / base[n]:5.1f}x)")
            print(f"{name:<14}" + "".join(cells))
    n = sizes[-1]
    text = "a." * (n // 2)
    print(f"\nlen() of {n:,} characters: {seconds(len, text) * 1e6:.2f} µs")


if __name__ == "__main__":
    main()
