"""Signed messages: HMAC-SHA256 over the body, sent as a frame before it.

With an auth key every message is ``[signature, body]`` (notifications
``[topic, signature, body]``), the signature being the 32 raw bytes of
HMAC-SHA256(key, body), as the Jupyter protocol signs its frames.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence


def load_key(path: str) -> bytes:
    """The key of a key file as the server reads it: its text, one trailing newline removed."""
    with open(path, "rb") as file:
        key = file.read()
    if key.endswith(b"\r\n"):
        key = key[:-2]
    elif key.endswith(b"\n"):
        key = key[:-1]
    if not key:
        raise ValueError(f"the key file {path} is empty")
    return key


def signature(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()


def frames(key: bytes | None, body: bytes) -> list:
    """The frames that carry ``body``: the body alone, or signed."""
    return [body] if key is None else [signature(key, body), body]


def verified_body(key: bytes | None, received: Sequence[bytes]) -> bytes | None:
    """The body of a received message, or None when its signature is missing or wrong."""
    if key is None:
        return received[0] if len(received) == 1 else None
    if len(received) != 2:
        return None
    sent, body = received
    return body if hmac.compare_digest(sent, signature(key, body)) else None
