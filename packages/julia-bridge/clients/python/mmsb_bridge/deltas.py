"""The three forms of a write, as the maps ``write`` and ``batch`` carry.

Each builder gives the operation's arguments (``handle``, ``form`` and the
form's fields); ``batch`` takes a list of them.
"""

from __future__ import annotations

from collections.abc import Iterable

from .shared_memory import ShmRef


def _with_epoch(delta: dict, expect_epoch: int | None) -> dict:
    if expect_epoch is not None:
        delta["expectEpoch"] = expect_epoch
    return delta


def dense(handle: int, data: bytes | None = None, *, shm: ShmRef | None = None, expect_epoch: int | None = None) -> dict:
    """Every byte of the page: ``data`` inline, or a range of a file of shmDir."""
    delta = {"handle": handle, "form": "dense"}
    delta.update({"shm": shm.wire()} if shm is not None else {"bytes": bytes(data if data is not None else b"")})
    return _with_epoch(delta, expect_epoch)


def sparse(
    handle: int,
    mask: bytes,
    data: bytes | None = None,
    *,
    shm: ShmRef | None = None,
    expect_epoch: int | None = None,
) -> dict:
    """The bytes whose mask bit is set (the mask inline, the bytes inline or in shmDir)."""
    delta = {"handle": handle, "form": "sparse", "mask": bytes(mask)}
    delta.update({"shm": shm.wire()} if shm is not None else {"bytes": bytes(data if data is not None else b"")})
    return _with_epoch(delta, expect_epoch)


def ranges(handle: int, pairs: Iterable[tuple[int, bytes]], *, expect_epoch: int | None = None) -> dict:
    """Byte runs at offsets, inline only."""
    delta = {"handle": handle, "form": "ranges", "ranges": [[offset, bytes(data)] for offset, data in pairs]}
    return _with_epoch(delta, expect_epoch)
