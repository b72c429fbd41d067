"""A Python client of MMSB's bridge (``mmsb serve``), protocol v1 of docs/protocol.md.

    import mmsb_bridge
    with mmsb_bridge.connect("ipc:///run/user/1000/mmsb-1000/mmsb.sock") as bus:
        page = bus.create(4)
        bus.write(page["handle"], b"\\x01\\x02\\x03\\x04")
        print(bus.read(page["handle"]).data)
"""

from . import deltas, errors
from .client import VERSIONS, Applied, Client, Limits, Read, connect
from .errors import BridgeError, BridgeTimeout
from .notifications import Notification, Subscription
from .shared_memory import ShmRef

__all__ = [
    "Applied",
    "BridgeError",
    "BridgeTimeout",
    "Client",
    "Limits",
    "Notification",
    "Read",
    "ShmRef",
    "Subscription",
    "VERSIONS",
    "connect",
    "deltas",
    "errors",
]
