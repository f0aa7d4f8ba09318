"""A thread: the posts a draft becomes, with their media, lengths, warnings and cost.

``compose`` is the library's main entry point: draft in, thread out, no network.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checks import Fault, check_lengths, check_media, check_repeats, media_rules, refuse
from .config import (
    VISIBILITIES,
    Account,
    Config,
    SplitSettings,
    check_platform,
    load_config,
    parse_split_settings,
)
from .counting import find_urls, get_profile
from .counting._graphemes import graphemes
from .draft import Draft, Image, Link, Section, parse_draft, read_draft
from .errors import ConfigError, DraftError, MediaError, UsageError
from .markdown import keep_links_whole, release
from .media import outside_folder
from .platforms import REGISTRY, spec
from .platforms.base import Limits
from .split import split_sections


def money(amount: float) -> str:
    """Dollars with cents, or tenths of a cent where they matter ($0.015)."""
    text = f"{amount:.3f}"
    return "$" + (text[:-1] if text.endswith("0") else text)


@dataclass(frozen=True)
class Media:
    path: str  # as written in the draft
    alt: str
    resolved: Path


@dataclass(frozen=True)
class Post:
    index: int  # 1-based
    text: str  # exactly what would be posted
    length: int  # as the platform counts it
    media: tuple[Media, ...] = ()
    has_url: bool = False
    # The draft's [text](url) links whose text is in ``text`` (code point offsets), on a
    # platform where the text itself is the link (Bluesky); elsewhere ``text (url)``.
    links: tuple[Link, ...] = ()


@dataclass
class Thread:
    source: str
    title: str | None
    platform: str
    limit: int
    settings: SplitSettings
    posts: list[Post]
    warnings: list[str] = field(default_factory=list)
    # What the platform would refuse (a missing image, two posts with the same text on
    # X): found by ``threadbot.checks``; a blocking one stops the thread from being posted.
    faults: list[Fault] = field(default_factory=list)
    # Images outside the writer's folder, not allowed by the config: shown as warnings in
    # a preview, they stop the thread from being posted or queued.
    outside_folder: list[str] = field(default_factory=list)
    cost: float | None = None  # US dollars on X's pay-per-use API; None elsewhere
    content_hash: str = ""
    # The account it is composed for (None: the platform's defaults, no account).
    account: str | None = None
    # Post settings for the platform: visibility, reply_visibility, language,
    # content_warning (kept with the recorded thread; see threadbot.platforms.PostOptions).
    options: dict[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> list[str]:
        """The messages of the blocking faults: problems to fix before posting."""
        return [fault.message for fault in self.faults if fault.blocking]

    def check(self, *, to_post: bool = False) -> None:
        """Raise the first blocking fault, if any: ``MediaError`` for an image,
        ``DraftError`` for the text (see ``threadbot.checks.refuse``). ``to_post``: the
        thread is about to be posted or queued, so images outside the writer's folder
        block it too (unless the config allows them): ``MediaError``."""
        refuse(self.faults)
        if to_post and self.outside_folder:
            more = len(self.outside_folder) - 1
            tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
            raise MediaError(self.outside_folder[0] + tail)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` schema documented in the README."""
        return {
            "source": self.source,
            "title": self.title,
            "platform": self.platform,
            "limit": self.limit,
            "posts": [
                {
                    "index": p.index,
                    "text": p.text,
                    "length": p.length,
                    "media": [{"path": m.path, "alt": m.alt} for m in p.media],
                    "links": [{"start": k.start, "end": k.end, "url": k.url}
                              for k in p.links],
                }
                for p in self.posts
            ],
            "warnings": list(self.warnings),
            "errors": list(self.errors),
            "cost": self.cost,
            "account": self.account,
            "options": dict(self.options),
        }


def compose(
    draft: Draft | str | Path,
    *,
    config: Config | None = None,
    platform: str | None = None,
    account: Account | None = None,
    limits: Limits | None = None,
    **overrides: Any,
) -> Thread:
    """Turn a draft into a thread, without touching the network.

    ``draft`` is a parsed ``Draft`` or the path of a draft file (``"-"`` reads
    standard input); for draft text in a string, use ``compose_text``.
    ``account`` composes it for that account: its platform, its split settings
    and visibility. ``limits`` are the account's server's own numbers (a Mastodon
    instance's ``max_characters``, URL length, media limits); without them the
    platform's defaults apply. ``overrides`` are split settings by their YAML names
    (``packing``, ``break``, ``numbering``, ``numbering_position``,
    ``continuation``, ``thread_marker``), applied over the config, the account and
    the draft's front matter.

    A content warning (front matter ``cw:``) counts against every post's limit on
    Mastodon, so the posts are split that much shorter.
    """
    if not isinstance(draft, Draft):
        draft = read_draft(draft)
    config = config if config is not None else load_config()
    if account is not None:
        platform = account.platform
    base = account.split if account is not None and account.split is not None else config.split
    settings = draft.split_settings(base)
    if overrides:
        unknown = [k for k in overrides if k not in
                   ("packing", "break", "numbering", "numbering_position", "continuation",
                    "thread_marker")]
        if unknown:
            raise UsageError(f"unknown split setting '{unknown[0]}'.")
        settings = parse_split_settings(overrides, settings, path="command line", lines={},
                                        error=UsageError)
    chosen = platform or draft.front_matter.get("platform") or config.platform
    chosen = check_platform(chosen, path=None, line=None, error=UsageError)
    options, notes = _post_options(draft, chosen, account)
    profile = get_profile(chosen)
    if limits is not None:
        profile = get_profile(chosen, limit=limits.max_characters,
                              url_length=limits.characters_reserved_per_url)
    warning = options.get("content_warning")
    if warning:
        # Mastodon counts the content warning with the text of every post.
        # The warning counts in full, without the text's URL and mention discounts.
        size = graphemes(warning)
        room = profile.limit - size
        if room < 50:
            left = f"leaving only {room}" if room > 0 else "leaving nothing"
            raise DraftError(f"the content warning is {size} characters long, {left} of the "
                             f"{profile.limit} a post may have (the warning counts against "
                             "each post). Shorten 'cw' to a few words.",
                             path=draft.source, line=draft.front_matter_lines.get("cw"))
        profile = get_profile(chosen, limit=room, url_length=profile.url_length)

    _check_marker_room(settings, profile, draft, config, overrides)
    link_text = chosen in REGISTRY and spec(chosen).link_text
    sections = [s if link_text else s.with_addresses() for s in draft.sections]
    # A link (its text, or "text (url)") stays in one post when short enough to move whole.
    texts = [keep_links_whole(s.text, s.runs, profile.limit // 2, profile.measure)
             for s in sections]
    result = split_sections(texts, limit=profile.limit, measure=profile.measure,
                            settings=settings)
    posted, lengths = result.texts, result.lengths
    if any(text is not s.text for text, s in zip(texts, sections, strict=True)):
        posted = [release(text) for text in result.texts]
        lengths = [profile.measure(text) for text in posted]
        if max(lengths, default=0) > profile.limit:
            # Should a platform read the stand-ins differently: split as written instead.
            result = split_sections([s.text for s in sections], limit=profile.limit,
                                    measure=profile.measure, settings=settings)
            posted, lengths = result.texts, result.lengths
    media_per_post = _place_images(sections, result.pieces)
    posts = []
    for index, (text, length) in enumerate(zip(posted, lengths, strict=True)):
        images = media_per_post[index]
        piece = result.pieces[index]
        posts.append(Post(
            index=index + 1,
            text=text,
            length=length,
            media=tuple(Media(path=i.path, alt=i.alt, resolved=i.resolved) for i in images),
            has_url=bool(find_urls(text, chosen)),
            links=_links_in(text, sections[piece.section], piece.start, piece.end,
                            before=settings.numbering_position == "before"),
        ))
    thread = Thread(
        source=draft.source, title=draft.title, platform=chosen, limit=profile.limit,
        settings=settings, posts=posts, content_hash=draft.content_hash,
        account=account.name if account is not None else None, options=options,
    )
    thread.warnings.extend(notes)
    thread.warnings.extend(result.warnings)
    thread.faults.extend(check_lengths([p.length for p in posts], profile.limit,
                                       source=draft.source, platform=chosen))
    thread.faults.extend(check_media(media_per_post, chosen, draft.source,
                                     media_rules(chosen, limits), thread.warnings))
    thread.faults.extend(check_repeats([p.text for p in posts], chosen, draft.source))
    _check_image_places(thread, draft, media_per_post, config)
    if chosen in REGISTRY and spec(chosen).paid_posts:
        thread.cost = round(sum(config.pricing.post_with_url if p.has_url else config.pricing.post
                                for p in posts), 4)
        with_url = [p.index for p in posts if p.has_url]
        if with_url:
            shown = ", ".join(str(i) for i in with_url)
            plural = len(with_url) > 1
            thread.warnings.append(
                f"post{'s' if plural else ''} {shown} contain{'' if plural else 's'} "
                f"a URL: on X's pay-per-use API a post with a URL costs "
                f"{money(config.pricing.post_with_url)} instead of "
                f"{money(config.pricing.post)}."
            )
    return thread


def compose_text(text: str, **options: Any) -> Thread:
    """``compose`` for draft text held in a string (image paths are relative to
    the current folder)."""
    return compose(parse_draft(text), **options)


def _links_in(post: str, section: Section, start: int, end: int, *,
              before: bool) -> tuple[Link, ...]:
    """The section's links within ``section.text[start:end]``, the post's share of it,
    as offsets into ``post`` (the share with its decorations: numbering, ``before`` it
    or after, and markers after it)."""
    body = section.text[start:end]
    inside = [k for k in section.links if k.start < end and k.end > start]
    if not inside or not body:
        return ()
    at = post.rfind(body) if before else post.find(body)
    if at < 0:
        return ()
    return tuple(Link(at + max(k.start, start) - start, at + min(k.end, end) - start, k.url)
                 for k in inside)


def _place_images(sections: list[Section], pieces) -> list[list[Image]]:
    """Each image goes to the post holding the place where it was written (the
    earlier post when that place falls between two posts)."""
    per_post: list[list[Image]] = [[] for _ in pieces]
    for section_index, section in enumerate(sections):
        owned = [i for i, p in enumerate(pieces) if p.section == section_index]
        if not owned:
            continue
        for image in section.images:
            target = owned[0]
            for i in owned:
                if pieces[i].start <= image.anchor:
                    target = i
                if pieces[i].end >= image.anchor:
                    break
            per_post[target].append(image)
    return per_post


def _post_options(draft: Draft, platform: str, account: Account | None
                  ) -> tuple[dict[str, str], list[str]]:
    """The thread's post settings (visibility, language, content warning) from the
    platform's defaults, the account and the front matter; and notes on settings
    this platform ignores."""
    front = draft.front_matter
    options: dict[str, str] = {}
    notes: list[str] = []
    platform_spec = spec(platform) if platform in REGISTRY else None
    if platform_spec is not None and platform_spec.first_visibility is not None:
        chosen = {key: front.get(key) or (getattr(account, key, None) if account else None)
                  for key in ("visibility", "reply_visibility")}
        first = chosen["visibility"] or platform_spec.first_visibility
        default_reply = platform_spec.reply_visibility or first
        # Replies are never more public than the first post: a followers-only thread
        # keeps its replies followers-only unless told otherwise.
        # (VISIBILITIES runs from the most public to the least.)
        reply = chosen["reply_visibility"] or max(first, default_reply,
                                                  key=VISIBILITIES.index)
        options["visibility"], options["reply_visibility"] = first, reply
        if VISIBILITIES.index(reply) < VISIBILITIES.index(first):
            notes.append(f"replies are '{reply}', more public than the first post ('{first}'):"
                         " people who cannot see the first post may see the replies.")
        if options.get("reply_visibility") == "direct" and first != "direct":
            notes.append("replies are 'direct': only accounts mentioned in them will see them, "
                         "so readers of the first post will not see the rest of the thread.")
    else:
        for key in ("visibility", "reply_visibility"):
            if key in front:
                notes.append(f"{draft.source}:{draft.front_matter_lines.get(key)}: '{key}' "
                             f"is ignored on {platform}, which has no post visibility.")
    if "lang" in front:
        options["language"] = front["lang"]
    if "cw" in front:
        if platform_spec is not None and platform_spec.content_warning:
            options["content_warning"] = front["cw"].strip()
        else:
            notes.append(f"{draft.source}:{draft.front_matter_lines.get('cw')}: 'cw' (content "
                         f"warning) is ignored on {platform}, which has none: the posts go out "
                         "without it.")
    return options, notes


# The least room a post must keep for the draft's own text, in the platform's
# characters, once the thread marker, the continuation marker and the numbering are in.
MIN_TEXT_ROOM = 50


def _check_marker_room(settings: SplitSettings, profile, draft: Draft, config: Config,
                       overrides: dict[str, Any]) -> None:
    """Refuse markers that leave a post less than ``MIN_TEXT_ROOM`` characters of text,
    naming the setting and where it is set (command line, front matter, config)."""
    sizes = {
        "thread_marker": profile.measure(" " + settings.thread_marker)
        if settings.thread_marker else 0,
        "continuation": profile.measure(" " + settings.continuation)
        if settings.continuation else 0,
        # The numbering of a thread of up to 99 posts, e.g. "(99/99) ".
        "numbering": profile.measure(settings.numbering.replace("1", "99").replace("N", "99")
                                     + " ") if settings.numbering != "none" else 0,
    }
    room = profile.limit - sum(sizes.values())
    if room >= MIN_TEXT_ROOM:
        return
    key = max(sizes, key=sizes.get)
    value = getattr(settings, key)
    shown = value if len(value) <= 24 else value[:21] + "..."
    left = f"only {room}" if room > 0 else "nothing"
    message = (f"the {key.replace('_', ' ')} '{shown}' ({sizes[key]} characters with its "
               f"space) leaves {left} of the {profile.limit} characters a post may have "
               f"for the text (at least {MIN_TEXT_ROOM} are needed). Shorten '{key}'")
    if key in overrides:
        raise UsageError(f"{message} given as --{key.replace('_', '-')}.")
    if key in draft.front_matter:
        raise DraftError(f"{message} in the front matter.", path=draft.source,
                         line=draft.front_matter_lines.get(key))
    where = str(config.path) if config.path is not None else None
    raise ConfigError(f"{message} under 'split:' in the config (or the account's 'split:').",
                      path=where)


def _check_image_places(thread: Thread, draft: Draft, media_per_post: list[list[Image]],
                        config: Config) -> None:
    """Name every image that is (or links to) a file outside the writer's folder, with the
    file it really is: a draft from elsewhere must not post a private picture unseen."""
    folder = config.writer_folder
    for images in media_per_post:
        for image in images:
            try:
                if not image.resolved.is_file():
                    continue  # reported by _check_media
            except OSError:
                continue  # reported by _check_media
            real = outside_folder(image.resolved, folder)
            if real is None:
                continue
            where = f"{draft.source}:{image.line}: image '{image.path}'"
            link = (" through a symbolic link"
                    if str(real) != os.path.abspath(image.resolved) else "")
            if config.images_outside_folder:
                thread.warnings.append(f"{where} is outside the writer's folder ({folder}): "
                                       f"the file posted is {real}{link} (allowed by "
                                       "'images: allow_outside_folder').")
                continue
            message = (f"{where} is outside the writer's folder ({folder}): the file is "
                       f"{real}{link}. Copy it into the folder, or set 'images: "
                       "allow_outside_folder: true' in the config to post it from there.")
            thread.warnings.append(message)
            thread.outside_folder.append(message)
