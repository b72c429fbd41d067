"""The one exception of the client: a stable ``code`` and a ``message``.

Codes are those of ``@mmsb/bus``'s ``ErrorCode`` (docs/protocol.md, "Error
codes"); the server sends them in failed responses and the client raises them
unchanged. ``BRIDGE_TIMEOUT`` is the client's own.
"""

from __future__ import annotations

#: The bridge's own codes (docs/protocol.md); the bus's codes arrive as strings too.
MALFORMED_REQUEST = "MALFORMED_REQUEST"
PROTOCOL_VERSION = "PROTOCOL_VERSION"
UNKNOWN_OPERATION = "UNKNOWN_OPERATION"
MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"
BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
SESSION_UNKNOWN = "SESSION_UNKNOWN"
HANDLE_UNKNOWN = "HANDLE_UNKNOWN"
HANDLE_FOREIGN = "HANDLE_FOREIGN"
ID_UNREPRESENTABLE = "ID_UNREPRESENTABLE"
SHM_INVALID = "SHM_INVALID"
BRIDGE_TIMEOUT = "BRIDGE_TIMEOUT"
#: The bus's code for a bad argument (a missing field, a wrong type), which the client also raises.
INVALID_ARGUMENT = "INVALID_ARGUMENT"


class BridgeError(Exception):
    """A failed request (``ok: false``) or a client-side failure such as a timeout."""

    def __init__(self, code: str, message: str, rid: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.rid = rid


class BridgeTimeout(BridgeError):
    """No response within the client's timeout (code ``BRIDGE_TIMEOUT``)."""

    def __init__(self, message: str, rid: int | None = None) -> None:
        super().__init__(BRIDGE_TIMEOUT, message, rid)
