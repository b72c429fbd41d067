"""The bulk path: files in the session's private shared-memory directory.

The client writes a payload into a file of ``shmDir`` and names a range of it
(``shm: {name, offset, length}``); the server writes reads into the handle's
read file ``shmDir/h<handle>`` and names a range of that, which the client maps.
"""

from __future__ import annotations

import mmap
import os
import re
from typing import NamedTuple

# docs/protocol.md: letters, digits, '-', '_' and '.', not starting with 'h' (the server's read files).
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


class ShmRef(NamedTuple):
    """A range of a file in the session's shared-memory directory."""

    name: str
    offset: int
    length: int

    def wire(self) -> dict:
        return {"name": self.name, "offset": self.offset, "length": self.length}


def check_name(name: str) -> None:
    if not _NAME.match(name) or name.startswith("h"):
        raise ValueError(f"{name!r} is not a name for a client file of shmDir (letters, digits, '-', '_', '.'; not starting with 'h')")


def write_file(directory: str, name: str, data: bytes, offset: int = 0) -> ShmRef:
    """Writes ``data`` at ``offset`` of ``directory/name`` (created mode 0600) and names that range."""
    check_name(name)
    descriptor = os.open(os.path.join(directory, name), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        view = memoryview(data)
        written = 0
        while written < len(view):
            written += os.pwrite(descriptor, view[written:], offset + written)
    finally:
        os.close(descriptor)
    return ShmRef(name, offset, len(data))


def read_range(path: str, offset: int, length: int, copy: bool = True) -> bytes | memoryview:
    """``length`` bytes at ``offset`` of the file at ``path``, through a mapping of it.

    With ``copy=False`` a read-only view of the mapping itself: it stays valid while
    referenced (the server never shrinks a read file), but the next shared-memory
    read of the same handle rewrites its bytes.
    """
    if length == 0:
        return b"" if copy else memoryview(b"")
    with open(path, "rb") as file:
        mapped = mmap.mmap(file.fileno(), 0, prot=mmap.PROT_READ)
    if not copy:
        return memoryview(mapped)[offset : offset + length]
    with mapped:
        return mapped[offset : offset + length]
