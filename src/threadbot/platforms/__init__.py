"""The platforms threadbot posts to, each one module here, registered below.

Nothing outside this package imports a platform's client library: the rest of
threadbot asks :func:`spec` for a platform's :class:`~.base.PlatformSpec` and
talks to the :class:`~.base.PlatformClient` it makes. A platform module is
imported only when an account of that platform is used, so a missing optional
library (``pip install 'threadbot[mastodon]'``) only matters to its accounts.
"""

from __future__ import annotations

from importlib import import_module

from ..errors import ConfigError
from .base import (
    Allowance,
    Identity,
    Limits,
    PlatformClient,
    PlatformSpec,
    PostOptions,
    PostRef,
    RemotePost,
    shown_url,
)

__all__ = ["REGISTRY", "Allowance", "Identity", "Limits", "PlatformClient", "PlatformSpec",
           "PostOptions", "PostRef", "RemotePost", "shown_url", "spec"]

# Platform name -> the module whose ``SPEC`` describes it. One line per platform.
REGISTRY: dict[str, str] = {
    "x": "threadbot.platforms.x",
    "mastodon": "threadbot.platforms.mastodon",
    "bluesky": "threadbot.platforms.bluesky",
}


def spec(platform: str) -> PlatformSpec:
    """The spec of ``platform`` (a ``REGISTRY`` name).

    Raises ``ConfigError`` when threadbot cannot post to it, or when its library
    is not installed (naming the pip extra that installs it).
    """
    module_name = REGISTRY.get(platform)
    if module_name is None:
        raise ConfigError(f"threadbot cannot post to {platform!r} yet; it posts to "
                          f"{', '.join(REGISTRY)}.")
    try:
        module = import_module(module_name)
    except ModuleNotFoundError as error:
        raise ConfigError(
            f"posting to {platform} needs the {error.name} library, which is not installed. "
            f"Install it with: pip install 'threadbot[{platform}]'") from None
    return module.SPEC
