"""A webhook receiver on 127.0.0.1 that answers as slowly as a broken one can: it
reads the whole request, then sends its answer one byte every ``interval``
seconds, so that a client with a per-read timeout longer than ``interval`` waits
for as long as the answer lasts (``answer`` repeated ``repeat`` times: minutes).

It records each request's JSON body (``received``) and whether the client hung up
before the answer was over (``hung_up``, one entry per connection).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Slow: "


class SlowWebhook:
    def __init__(self, interval: float = 2.0, repeat: int = 1000):
        self.interval = interval
        self.repeat = repeat
        self.received: list[Any] = []
        self.hung_up: list[bool] = []
        self.connected = threading.Event()  # a first request was read in full
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._threads: list[threading.Thread] = []
        # The path carries a token, as many webhook addresses do: it must never be logged.
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/hook/secret-token-in-path"

    @classmethod
    @contextmanager
    def running(cls, **kwargs: Any) -> Iterator[SlowWebhook]:
        server = cls(**kwargs)
        server.start()
        try:
            yield server
        finally:
            server.stop()

    def start(self) -> None:
        thread = threading.Thread(target=self._accept, name="slow-webhook", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        try:
            self._sock.close()
        except OSError:
            pass
        for thread in self._threads:
            thread.join(5)

    def _accept(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(body) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    body += chunk
            except OSError:
                return
            try:
                self.received.append(json.loads(body or b"null"))
            except ValueError:
                self.received.append(body)
            self.connected.set()
            answer = ANSWER + b"x" * self.repeat + b"\r\n\r\n"
            for byte in answer:
                if self._stop.wait(self.interval):
                    self.hung_up.append(False)
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    self.hung_up.append(True)
                    return
            self.hung_up.append(False)
