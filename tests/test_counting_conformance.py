"""twitter-text's own conformance cases (tests/data/twitter-text, Apache-2.0, Twitter)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from threadbot.counting import find_urls, measure
from threadbot.counting._twitter import weighted_length

DATA = Path(__file__).parent / "data" / "twitter-text"
_VALIDATE = yaml.safe_load((DATA / "validate.yml").read_text(encoding="utf-8"))["tests"]
_TLDS = yaml.safe_load((DATA / "tlds.yml").read_text(encoding="utf-8"))["tests"]


def _cases(section: str) -> list:
    return [pytest.param(c["text"], c["expected"], id=c["description"]) for c in _VALIDATE[section]]


@pytest.mark.parametrize(("text", "expected"), _cases("WeightedTweetsCounterTest"))
def test_weighted_v2(text: str, expected: dict) -> None:
    # Config v2 differs from v3 only by counting emoji per code point.
    assert weighted_length(text, emoji_parsing=False) == expected["weightedLength"]


@pytest.mark.parametrize(
    ("text", "expected"),
    _cases("WeightedTweetsWithDiscountedEmojiCounterTest")
    + _cases("UnicodeDirectionalMarkerCounterTest"),
)
def test_weighted_v3(text: str, expected: dict) -> None:
    assert measure(text) == expected["weightedLength"]
    assert measure(text, "x") == weighted_length(text, emoji_parsing=True)


def test_case_counts() -> None:
    assert len(_VALIDATE["WeightedTweetsCounterTest"]) == 20
    assert len(_VALIDATE["WeightedTweetsWithDiscountedEmojiCounterTest"]) == 22
    assert len(_VALIDATE["UnicodeDirectionalMarkerCounterTest"]) == 2


def _tld_cases() -> list:
    return [
        pytest.param(c["text"], c["expected"], id=f"{kind}:{c['description'].split()[0]}")
        for kind in ("country", "generic")
        for c in _TLDS[kind]
    ]


@pytest.mark.parametrize(("text", "expected"), _tld_cases())
def test_tld_url_found(text: str, expected: list[str]) -> None:
    assert [text[s:e] for s, e in find_urls(text)] == expected
    assert measure(text) == 23 * len(expected) + len(text) - sum(map(len, expected))
