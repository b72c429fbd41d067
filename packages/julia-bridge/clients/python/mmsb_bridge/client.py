"""A client of protocol v1 (docs/protocol.md) over one DEALER socket.

One ``Client`` is one connection and so one session: ``connect`` sends
``hello``, every method sends one request and waits for the response with its
``rid`` (responses to other rids, from ``send``, are kept until asked for),
and ``close`` sends the queued releases with ``bye``. A ``Client`` is not
thread-safe (neither is a ZeroMQ socket); use one per thread.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import msgpack
import zmq

from . import deltas, signing
from .errors import INVALID_ARGUMENT, PROTOCOL_VERSION, SESSION_UNKNOWN, BridgeError, BridgeTimeout
from .notifications import Subscription
from .shared_memory import ShmRef, read_range, write_file

PROTOCOL = 1
#: The protocol versions this client speaks, offered in ``hello``.
VERSIONS = (1,)
#: The file of shmDir that ``write`` and ``write_sparse`` reuse for payloads above ``maxInlineBytes``.
UPLOAD_FILE = "upload"

Via = str  # "auto" | "inline" | "shm"


class Limits(NamedTuple):
    max_message_bytes: int
    max_batch_deltas: int
    max_inline_bytes: int
    max_in_flight: int


class Applied(NamedTuple):
    """What a write did: the page's new epoch and the LSN of its log record."""

    epoch: int
    lsn: int


class Read(NamedTuple):
    """The bytes read (``bytes``, or a ``memoryview`` of the mapped read file) and the page's epoch."""

    epoch: int
    data: bytes | memoryview


def _result(response: dict) -> dict:
    return {key: value for key, value in response.items() if key not in ("v", "rid", "ok")}


class Client:
    """A session on an ``mmsb serve`` server. Use ``connect``."""

    def __init__(
        self,
        endpoint: str,
        *,
        key: bytes | None = None,
        timeout: float = 10.0,
        versions: Sequence[int] = VERSIONS,
        name: str = "mmsb_bridge (Python)",
        context: zmq.Context | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._key = key
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.connect(endpoint)
        self._rids = itertools.count(1)
        self._waiting: dict = {}
        self._outstanding: set = set()
        self._abandoned: set = set()
        self._release_queue: list[int] = []
        self._subscriptions: list[Subscription] = []
        #: Responses dropped because their signature was missing or wrong.
        self.dropped_frames = 0
        try:
            hello = self.request("hello", versions=list(versions), client=name)
        except BaseException:
            self._socket.close()
            raise
        if hello["protocol"] not in versions:
            self._socket.close()
            raise BridgeError(PROTOCOL_VERSION, f"the server chose protocol {hello['protocol']}, not one of {list(versions)}")
        self.session: int = hello["session"]
        self.protocol: int = hello["protocol"]
        self.server: str = hello["server"]
        self.heartbeat_ms: int = hello["heartbeatMs"]
        self.session_timeout_ms: int = hello["sessionTimeoutMs"]
        self.shm_dir: str = hello["shmDir"]
        self.pub: str | None = hello.get("pub")
        limits = hello["limits"]
        self.limits = Limits(limits["maxMessageBytes"], limits["maxBatchDeltas"], limits["maxInlineBytes"], limits["maxInFlight"])

    # The envelope.

    def send(self, op: str, **fields: Any) -> int:
        """Sends one request without waiting (pipelining) and returns its ``rid``; see ``receive``.

        Handles queued by ``queue_release`` travel in its ``release`` list.
        """
        rid = next(self._rids)
        request = {"v": PROTOCOL, "rid": rid, "op": op, **fields}
        if self._release_queue:
            request["release"] = self._release_queue
        try:
            body = msgpack.packb(request, use_bin_type=True)
        except (OverflowError, TypeError, ValueError) as error:
            raise BridgeError(INVALID_ARGUMENT, f"{op}: the arguments cannot be encoded as plain msgpack ({error})", rid) from error
        # Large bodies go without a copy; the socket keeps a reference until they are sent.
        self._socket.send_multipart(signing.frames(self._key, body), copy=len(body) < 65536)
        self._release_queue = []
        self._outstanding.add(rid)
        return rid

    def receive(self, rid: int) -> dict:
        """The result of request ``rid`` (the response without ``v``, ``rid`` and ``ok``); raises its error."""
        if rid not in self._outstanding:
            raise ValueError(f"request {rid} is not in flight (never sent, already received, or timed out)")
        while rid not in self._waiting:
            if not self._socket.poll(int(self.timeout * 1000)):
                self._outstanding.discard(rid)
                self._abandoned.add(rid)
                raise BridgeTimeout(f"no response to request {rid} within {self.timeout} s", rid)
            body = signing.verified_body(self._key, self._socket.recv_multipart())
            if body is None:
                self.dropped_frames += 1
                continue
            response = msgpack.unpackb(body, raw=False)
            got = response.get("rid") if isinstance(response, dict) else None
            if got is None and len(self._outstanding) == 1:
                # A refusal the server could not tie to a rid (a body it did not decode): with
                # one request in flight it can only be that one's.
                got = next(iter(self._outstanding))
            if got in self._abandoned:
                self._abandoned.discard(got)
            elif got in self._outstanding:
                self._waiting[got] = response
        self._outstanding.discard(rid)
        response = self._waiting.pop(rid)
        if response.get("ok") is not True:
            raise BridgeError(str(response.get("code")), str(response.get("message")), rid)
        return _result(response)

    def request(self, op: str, **fields: Any) -> dict:
        """Sends one request and waits for its result."""
        return self.receive(self.send(op, **fields))

    # Session.

    def ping(self) -> dict:
        """A heartbeat (send one every ``heartbeat_ms`` while idle); ``{lsn, durableLsn}``."""
        return self.request("ping")

    def close(self) -> int:
        """Sends the queued releases and ``bye``, closes the sockets; the number of handles freed.

        A session that already ended (``bye`` sent, or expired) frees nothing more: 0.
        """
        if self._socket.closed:
            return 0
        try:
            return self.request("bye")["released"]
        except BridgeError as error:
            if error.code == SESSION_UNKNOWN:
                return 0
            raise
        finally:
            for subscription in self._subscriptions:
                subscription.close()
            self._socket.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # Pages and handles.

    def create(self, size: int, *, location: str | None = None, memory: str | None = None, metadata: dict | None = None) -> dict:
        """A new page of ``size`` bytes; ``{handle, page, size, epoch}``."""
        fields: dict = {"size": size}
        for key, value in (("location", location), ("memory", memory), ("metadata", metadata)):
            if value is not None:
                fields[key] = value
        return self.request("create", **fields)

    def open(self, page: int) -> dict:
        """A handle on an existing page (the same one, counted again, if this session holds it)."""
        return self.request("open", page=page)

    def info(self, handle: int) -> dict:
        return self.request("info", handle=handle)

    def release(self, *handles: int) -> int:
        """Subtracts one reference per occurrence; the number of handles freed."""
        return self.request("release", handles=list(handles))["released"]

    def queue_release(self, handle: int) -> None:
        """Releases ``handle`` with the next request (what a finalizer should call: it sends nothing itself)."""
        self._release_queue.append(handle)

    def delete(self, handle: int) -> int:
        """Removes the page from the bus (logged); the LSN."""
        return self.request("delete", handle=handle)["lsn"]

    # Writes.

    def _payload(self, data: bytes, via: Via) -> dict:
        if via not in ("auto", "inline", "shm"):
            raise ValueError(f"via must be auto, inline or shm (got {via!r})")
        if via == "shm" or (via == "auto" and len(data) > self.limits.max_inline_bytes):
            return {"shm": self.put_file(UPLOAD_FILE, data)}
        return {"data": data}

    def put_file(self, name: str, data: bytes, offset: int = 0) -> ShmRef:
        """Writes ``data`` into ``shmDir/name`` and names the range, for a ``shm=`` argument."""
        return write_file(self.shm_dir, name, data, offset)

    def _write(self, delta: dict) -> Applied:
        handle = delta.pop("handle")
        result = self.request("write", handle=handle, **delta)
        return Applied(result["epoch"], result["lsn"])

    def write(
        self,
        handle: int,
        data: bytes | None = None,
        *,
        shm: ShmRef | None = None,
        expect_epoch: int | None = None,
        via: Via = "auto",
    ) -> Applied:
        """Replaces every byte of the page: inline up to ``maxInlineBytes``, else through shmDir (or as ``via`` says)."""
        payload = {"shm": shm} if shm is not None else self._payload(data if data is not None else b"", via)
        return self._write(deltas.dense(handle, **payload, expect_epoch=expect_epoch))

    def write_sparse(
        self,
        handle: int,
        mask: bytes,
        data: bytes | None = None,
        *,
        shm: ShmRef | None = None,
        expect_epoch: int | None = None,
        via: Via = "auto",
    ) -> Applied:
        """Replaces the bytes whose mask bit is set, with ``data`` holding those bytes in order."""
        payload = {"shm": shm} if shm is not None else self._payload(data if data is not None else b"", via)
        return self._write(deltas.sparse(handle, mask, **payload, expect_epoch=expect_epoch))

    def write_ranges(self, handle: int, pairs: Iterable[tuple[int, bytes]], *, expect_epoch: int | None = None) -> Applied:
        """Replaces byte runs: ``pairs`` of (offset, bytes)."""
        return self._write(deltas.ranges(handle, pairs, expect_epoch=expect_epoch))

    def batch(self, batch: Sequence[dict]) -> dict:
        """Applies the deltas (from ``mmsb_bridge.deltas``) all or none; ``{count, lsn}``."""
        return self.request("batch", deltas=list(batch))

    # Reads.

    def read(self, handle: int, offset: int = 0, length: int | None = None, *, via: Via = "auto", copy: bool = True) -> Read:
        """The bytes of a range (default: the whole page), inline or through the handle's mapped read file.

        With ``copy=False`` a shared-memory read gives a view of the mapping itself, whose
        bytes the next shared-memory read of the handle rewrites.
        """
        fields: dict = {"handle": handle, "offset": offset, "via": via}
        if length is not None:
            fields["length"] = length
        result = self.request("read", **fields)
        if "bytes" in result:
            return Read(result["epoch"], result["bytes"])
        shm = result["shm"]
        return Read(result["epoch"], read_range(shm["path"], shm["offset"], shm["length"], copy))

    # The graph.

    def edge(self, parent: int, child: int, kind: str | None = None) -> int:
        fields: dict = {"parent": parent, "child": child}
        if kind is not None:
            fields["kind"] = kind
        return self.request("edge", **fields)["lsn"]

    def unedge(self, parent: int, child: int) -> int:
        return self.request("unedge", parent=parent, child=child)["lsn"]

    # The log and the state.

    def checkpoint(self, full: bool = False) -> dict:
        """``{lsn, full}``."""
        return self.request("checkpoint", full=full)

    def replay(self, lsn: int, handles: Sequence[int]) -> dict:
        """The pages as they were at ``lsn``: ``{lsn, hash, pages: [{handle, epoch, bytes}]}``."""
        return self.request("replay", lsn=lsn, handles=list(handles))

    def log(self) -> dict:
        """``{lsn, durableLsn, oldestLsn, syncs}``."""
        return self.request("log")

    def sync(self) -> int:
        """Syncs the log; the durable LSN."""
        return self.request("sync")["durableLsn"]

    def hash(self) -> str:
        """The bus's state hash (64 hex digits)."""
        return self.request("hash")["hash"]

    def stats(self) -> dict:
        """``{bus, bridge, session}`` counters."""
        return self.request("stats")

    # Notifications.

    def subscribe(self, topics: Iterable[str] = ("commit",)) -> Subscription:
        """A SUB socket on the server's ``pub`` endpoint (closed with the client)."""
        if self.pub is None:
            raise BridgeError(INVALID_ARGUMENT, "this server publishes no notifications (started with --pub none)")
        subscription = Subscription(self._context, self.pub, topics, self._key)
        self._subscriptions.append(subscription)
        return subscription


def connect(endpoint: str, *, key: bytes | None = None, key_file: str | None = None, **options: Any) -> Client:
    """Connects to ``endpoint`` and opens a session (``hello``).

    ``key`` (bytes) or ``key_file`` (as ``mmsb serve --key-file``) signs every message.
    Other options: ``timeout`` (seconds per response), ``versions``, ``name``, ``context``.
    """
    if key_file is not None:
        key = signing.load_key(os.fspath(key_file))
    return Client(endpoint, key=key, **options)
