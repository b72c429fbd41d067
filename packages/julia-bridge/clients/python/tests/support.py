"""Real servers and raw peers for the client's tests.

``Server`` runs ``node packages/bus/bin/mmsb.js serve`` on ipc endpoints in a
new temporary directory (the TypeScript must be built: ``bash tools/dev.sh``
set-up does it) and stops it with SIGTERM, as Ctrl-C would.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from collections.abc import Sequence
from pathlib import Path

import msgpack
import zmq

import mmsb_bridge
from mmsb_bridge import BridgeError, signing

ROOT = Path(__file__).resolve().parents[5]
MMSB = ROOT / "packages" / "bus" / "bin" / "mmsb.js"
STARTUP_SECONDS = 30.0


class Server:
    """``mmsb serve --data <tmp>/data --endpoint ipc://<tmp>/s.sock --pub ipc://<tmp>/p.sock [extra]``."""

    def __init__(self, *extra: str, key: bytes | None = None, data: str | None = None) -> None:
        """``data``: serve an existing data directory (kept when the server stops) instead of a new one."""
        self.directory = tempfile.mkdtemp(prefix="mmsb-py-")
        self.data = data or os.path.join(self.directory, "data")
        self.endpoint = f"ipc://{self.directory}/s.sock"
        self.pub = f"ipc://{self.directory}/p.sock"
        self.key = key
        arguments = ["--data", self.data, "--endpoint", self.endpoint, "--pub", self.pub, *extra]
        if key is not None:
            key_file = os.path.join(self.directory, "key")
            with open(os.open(key_file, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as file:
                file.write(key + b"\n")
            arguments += ["--key-file", key_file]
        # Warnings go to a file, not a pipe nobody drains.
        self._stderr = open(os.path.join(self.directory, "stderr.log"), "w+b")
        self.process = subprocess.Popen(["node", str(MMSB), "serve", *arguments], cwd=ROOT, stdout=subprocess.PIPE, stderr=self._stderr)
        self.output = self._read_until(b"Ctrl-C stops")

    def _read_until(self, marker: bytes) -> bytes:
        """The server's stdout up to the line holding ``marker`` (its last start-up line)."""
        assert self.process.stdout is not None
        output = b""
        deadline = time.monotonic() + STARTUP_SECONDS
        while marker not in output:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(remaining, 0))
            chunk = os.read(self.process.stdout.fileno(), 65536) if ready else b""
            if not chunk:
                self._stderr.seek(0)
                errors = self._stderr.read()
                self.stop()
                raise RuntimeError(f"mmsb serve did not start: {(output + errors).decode(errors='replace')}")
            output += chunk
        return output

    def connect(self, **options: object) -> mmsb_bridge.Client:
        return mmsb_bridge.connect(self.endpoint, key=self.key, timeout=10.0, **options)

    def stop(self) -> int:
        """SIGTERM, then the exit status (the server answers what is in flight and syncs first)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=20)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
            self._stderr.close()
            shutil.rmtree(self.directory, ignore_errors=True)
        return status


class RawPeer:
    """A DEALER that sends any bytes and decodes what comes back: what a client library would never send."""

    def __init__(self, endpoint: str, key: bytes | None = None) -> None:
        self.key = key
        self.socket = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)

    def send(self, body: bytes, frames: Sequence[bytes] | None = None) -> None:
        """Sends ``body`` (signed when the peer has a key), or exactly ``frames``."""
        self.socket.send_multipart(list(frames) if frames is not None else signing.frames(self.key, body))

    def receive_bytes(self, timeout: float = 5.0) -> bytes | None:
        """The body of the next response, or None when none comes within ``timeout`` seconds."""
        if not self.socket.poll(int(timeout * 1000)):
            return None
        received = self.socket.recv_multipart()
        body = signing.verified_body(self.key, received)
        assert body is not None, "the server's response is not signed as it should be"
        return body

    def request(self, value: object, timeout: float = 5.0) -> dict | None:
        """Sends ``value`` (bytes as they are, anything else msgpack-encoded) and decodes the response."""
        self.send(value if isinstance(value, bytes) else msgpack.packb(value, use_bin_type=True))
        body = self.receive_bytes(timeout)
        return None if body is None else msgpack.unpackb(body, raw=False)

    def close(self) -> None:
        self.socket.close()


class ClientCase(unittest.TestCase):
    """A test case with a new client of its module's ``server`` for each test."""

    def setUp(self) -> None:
        self.client = sys.modules[type(self).__module__].server.connect()

    def tearDown(self) -> None:
        self.client.close()

    def assertCode(self, code: str, call, *args, **kwargs) -> BridgeError:
        """Runs ``call`` and checks it is refused with ``code`` and a message."""
        with self.assertRaises(BridgeError) as caught:
            call(*args, **kwargs)
        self.assertEqual(caught.exception.code, code, caught.exception.message)
        self.assertTrue(caught.exception.message)
        return caught.exception
