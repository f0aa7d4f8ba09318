"""Post length exactly as each platform counts it.

``measure(text, platform)`` returns the number the platform compares with its limit
(``get_profile(platform).limit``): a post fits when ``measure(...) <= limit``.

* ``x`` (280): twitter-text 3.1 weighted length, config v3 (see ``_twitter``):
  NFC, URLs 23, emoji sequences 2, CJK and most symbols 2, Latin etc. 1.
* ``bluesky`` (300): extended grapheme clusters of the text as posted: a link with
  ``http(s)://`` is shown (and counted) shortened as the Bluesky app shows it
  (``_bluesky.shorten_url``), other text in full. The record
  also caps the text at 3,000 UTF-8 bytes, which 300 graphemes exceed only when
  they average over 10 bytes (long ZWJ emoji, flags, Zalgo), so the length is the
  larger of the graphemes and a tenth of the bytes (rounded up): ``measure <= 300``
  then means both limits hold, and the splitter needs no special case.
* ``mastodon`` (500): grapheme clusters after replacing each URL with a protocol by
  23 characters and each ``@user@domain`` by ``@user`` (see ``_graphemes``).

Every rule errs toward counting more where the platforms' own implementations
disagree or are not reproduced exactly: a post we call fitting must not be
rejected.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

from ..errors import UsageError
from ._graphemes import BLUESKY_MAX_BYTES, MASTODON_URL_LENGTH, graphemes, mastodon_entities
from ._graphemes import mastodon_length as _mastodon_length
from ._twitter import URL_LENGTH as _X_URL_LENGTH
from ._twitter import url_entities as _x_url_entities
from ._twitter import weighted_length as _x_length

__all__ = ["PLATFORMS", "Profile", "find_urls", "get_profile", "measure"]

PLATFORMS: tuple[str, ...] = ("x", "bluesky", "mastodon")


@dataclass(frozen=True)
class Profile:
    """A platform's counting rules.

    ``limit``: the largest ``measure(text)`` a post may have.
    ``url_length``: what a URL costs regardless of its length, or ``None`` when URLs
    count their own text (Bluesky).
    ``max_bytes``: an extra cap on the UTF-8 size of the text, or ``None``.
    """

    name: str
    limit: int
    url_length: int | None
    max_bytes: int | None = None
    _measure: Callable[[str], int] = field(repr=False, compare=False, default=len)

    def measure(self, text: str) -> int:
        """The length this platform counts for ``text``."""
        return self._measure(text)

    def fits(self, text: str) -> bool:
        """Whether ``text`` is within every limit of the platform (length and bytes)."""
        if self.max_bytes is not None and len(text.encode("utf-8")) > self.max_bytes:
            return False
        return self._measure(text) <= self.limit


def _bluesky_length(text: str) -> int:
    # What is counted is what is posted: each http(s) link shortened as the Bluesky app
    # shows it (the link facet keeps the full address).
    if "://" in text:
        from ._bluesky import display_text

        text = display_text(text)
    # Both terms add up at least as much over pieces as over the whole, so the
    # splitter's sums never undercount a post.
    size = len(text.encode("utf-8"))
    return max(graphemes(text), -(-size * 300 // BLUESKY_MAX_BYTES))


_PROFILES: dict[str, Profile] = {
    "x": Profile("x", 280, _X_URL_LENGTH, None, _x_length),
    "bluesky": Profile("bluesky", 300, None, BLUESKY_MAX_BYTES, _bluesky_length),
    "mastodon": Profile("mastodon", 500, MASTODON_URL_LENGTH, None, _mastodon_length),
}


def get_profile(platform: str, *, limit: int | None = None,
                url_length: int | None = None) -> Profile:
    """The counting rules for ``platform`` (one of ``PLATFORMS``).

    ``limit`` and ``url_length`` replace the platform's defaults with one server's
    own numbers (a Mastodon instance's ``max_characters`` and
    ``characters_reserved_per_url``; ``url_length`` only where URLs count a fixed
    length). Raises ``threadbot.errors.UsageError`` for an unknown platform name,
    suggesting the closest.
    """
    try:
        profile = _PROFILES[platform]
    except (KeyError, TypeError):
        profile = None
    if profile is not None:
        if url_length is not None and profile.url_length is not None \
                and url_length != profile.url_length:
            if profile.name != "mastodon":
                raise UsageError(f"{platform} counts every URL as {profile.url_length}.")
            profile = replace(profile, url_length=url_length,
                              _measure=partial(_mastodon_length, url_length=url_length))
        if limit is not None:
            profile = replace(profile, limit=limit)
        return profile
    close = difflib.get_close_matches(str(platform).lower(), PLATFORMS, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise UsageError(f"Unknown platform '{platform}'.{hint} Choose one of: {', '.join(PLATFORMS)}.")


def measure(text: str, platform: str = "x") -> int:
    """The length ``platform`` counts for ``text`` (compare with ``get_profile().limit``)."""
    if platform == "x":  # the hot path: skip the profile lookup
        return _x_length(text)
    return get_profile(platform).measure(text)


def find_urls(text: str, platform: str = "x") -> list[tuple[int, int]]:
    """Sorted ``[start, end)`` indices into ``text`` as given of the URLs that
    ``platform`` counts at a fixed length (X: with or without protocol; Mastodon:
    with a protocol). Bluesky has no fixed length (a link counts as shown), so it
    returns ``[]``.

    Useful to avoid splitting inside a link.
    """
    profile = get_profile(platform)
    if profile.name == "bluesky":
        return []
    if profile.name == "mastodon":
        return [(s, e) for s, e, rep in mastodon_entities(text) if not rep.startswith("@")]
    if "." not in text:
        return []
    if unicodedata.is_normalized("NFC", text):
        return sorted((s, e) for s, e, _, _ in _x_url_entities(text))
    return _x_urls_unnormalised(text)


def _x_urls_unnormalised(text: str) -> list[tuple[int, int]]:
    """URL spans of a non-NFC text, mapped back from its NFC form.

    NFC only recombines code points within a grapheme cluster, so the clusters,
    normalised one by one, give a map from normalised to original offsets. A span
    edge that falls inside a cluster is widened to the cluster's edge.
    """
    import regex

    starts: list[int] = []  # normalised offset of each cluster start
    orig: list[int] = []  # original offset of the same cluster start
    parts: list[str] = []
    n = 0
    for m in regex.finditer(r"\X", text):
        starts.append(n)
        orig.append(m.start())
        piece = unicodedata.normalize("NFC", m.group())
        parts.append(piece)
        n += len(piece)
    starts.append(n)
    orig.append(len(text))
    normalised = "".join(parts)
    if normalised != unicodedata.normalize("NFC", text):  # pragma: no cover - not seen
        # Give up on precision rather than report wrong offsets: the whole text.
        return [(0, len(text))] if _x_url_entities(unicodedata.normalize("NFC", text)) else []

    import bisect

    spans = []
    for s, e, _, _ in _x_url_entities(normalised):
        i = bisect.bisect_right(starts, s) - 1
        j = bisect.bisect_left(starts, e)
        spans.append((orig[i], orig[j]))
    return sorted(spans)
