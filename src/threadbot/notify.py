"""Telling someone when the daemon needs a human: a thread failed, stayed partial,
or was missed. Nobody watches a daemon at 3 a.m.

A notification that itself fails is logged, never fatal.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import urllib.request
from typing import Any

from .config import DaemonSettings
from .store import StoredThread

log = logging.getLogger("threadbot.daemon")


def describe(thread: StoredThread, status: str, message: str) -> dict[str, Any]:
    return {
        "event": "threadbot.thread." + status,
        "thread_id": thread.id,
        "title": thread.title,
        "draft": thread.draft_path,
        "account": thread.account,
        "status": status,
        "message": message,
        "posted": thread.posted_count,
        "total": len(thread.posts),
        "url": thread.url,
        "scheduled_at": thread.scheduled_at.isoformat() if thread.scheduled_at else None,
    }


def notify(settings: DaemonSettings, thread: StoredThread, status: str, message: str, *,
           secret_names: set[str] = frozenset()) -> None:
    """Run the configured command and/or call the configured webhook. The command's
    environment holds none of ``secret_names`` (the accounts' key variables)."""
    data = describe(thread, status, message)
    if settings.notify_command:
        env = {**{k: v for k, v in os.environ.items() if k not in secret_names},
               "THREADBOT_THREAD_ID": str(thread.id),
               "THREADBOT_STATUS": status,
               "THREADBOT_MESSAGE": message,
               "THREADBOT_TITLE": thread.title or "",
               "THREADBOT_URL": thread.url or "",
               "THREADBOT_JSON": json.dumps(data, ensure_ascii=False)}
        try:
            done = subprocess.run(settings.notify_command, shell=True, env=env, timeout=60,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True)
            if done.returncode != 0:
                log.warning("notification command exited with %s: %s", done.returncode,
                            (done.stderr or done.stdout).strip()[:300])
        except (OSError, subprocess.SubprocessError) as error:
            log.warning("notification command could not run: %s", error)
    if settings.notify_webhook:
        request = urllib.request.Request(
            settings.notify_webhook, data=json.dumps(data, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "threadbot"},
            method="POST")
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                response.read()
        except (OSError, ValueError) as error:
            log.warning("notification webhook failed: %s", error)
