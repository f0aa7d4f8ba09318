"""Clients for the platforms threadbot posts to (``threadbot.platforms.x``)."""
