"""threadbot: turn long-form drafts into threads.

The library API (the CLI is a thin layer over it)::

    import threadbot

    threadbot.measure("Hello, world…")                 # 14: the length X counts
    thread = threadbot.compose("drafts/on-slow-work.md")  # no network
    for post in thread.posts:
        print(post.index, post.length, post.text)
"""

from importlib.metadata import PackageNotFoundError, version

from .config import Config, SplitSettings, load_config
from .counting import PLATFORMS, find_urls, get_profile, measure
from .draft import Draft, parse_draft, read_draft
from .errors import ExitCode, ThreadbotError
from .thread import Post, Thread, compose, compose_text

try:
    __version__ = version("threadbot")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

__all__ = [
    "PLATFORMS",
    "Config",
    "Draft",
    "ExitCode",
    "Post",
    "SplitSettings",
    "Thread",
    "ThreadbotError",
    "__version__",
    "compose",
    "compose_text",
    "find_urls",
    "get_profile",
    "load_config",
    "measure",
    "parse_draft",
    "read_draft",
]
