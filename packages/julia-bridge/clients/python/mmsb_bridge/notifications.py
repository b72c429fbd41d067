"""Commit notifications and heartbeats from the server's PUB socket."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

import msgpack
import zmq

from . import signing
from .errors import BridgeTimeout


class Notification(NamedTuple):
    """``topic`` is ``commit`` or ``heartbeat``; ``body`` the decoded map."""

    topic: str
    body: dict


class Subscription:
    """A SUB socket on the server's ``pub`` endpoint, filtered by topic prefixes."""

    def __init__(self, context: zmq.Context, endpoint: str, topics: Iterable[str], key: bytes | None = None) -> None:
        self._key = key
        self._socket = context.socket(zmq.SUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        for topic in topics:
            self._socket.setsockopt(zmq.SUBSCRIBE, topic.encode())
        self._socket.connect(endpoint)
        #: Messages dropped because their signature was missing or wrong.
        self.dropped_frames = 0

    def receive(self, timeout: float | None = 5.0) -> Notification:
        """The next notification; ``BridgeTimeout`` if none comes within ``timeout`` seconds (None: wait)."""
        while True:
            if not self._socket.poll(None if timeout is None else int(timeout * 1000)):
                raise BridgeTimeout(f"no notification within {timeout} s")
            topic, *rest = self._socket.recv_multipart()
            body = signing.verified_body(self._key, rest)
            if body is None:
                self.dropped_frames += 1
                continue
            return Notification(topic.decode(), msgpack.unpackb(body, raw=False))

    def __iter__(self) -> Iterator[Notification]:
        while True:
            yield self.receive(timeout=None)

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
