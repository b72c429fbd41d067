"""A server with --key-file: every message is signed; unsigned or wrongly signed ones are dropped and counted."""

import os
import subprocess
import tempfile
import unittest

import msgpack

import mmsb_bridge
from mmsb_bridge import BridgeError, signing
from tests.support import MMSB, ROOT, RawPeer, Server

KEY = b"a shared secret, not for production"
server: Server


def setUpModule() -> None:
    global server
    server = Server("--heartbeat", "100", key=KEY)


def tearDownModule() -> None:
    server.stop()


def ping(rid: int) -> bytes:
    return msgpack.packb({"v": 1, "rid": rid, "op": "ping"})


class Signed(unittest.TestCase):
    def test_a_signed_client_works_and_its_notifications_verify(self) -> None:
        with server.connect() as client, client.subscribe([""]) as subscription:
            handle = client.create(4)["handle"]
            client.write(handle, b"sign")
            self.assertEqual(client.read(handle).data, b"sign")
            self.assertEqual(subscription.receive(timeout=5).body["v"], 1)
            self.assertEqual(subscription.dropped_frames, 0)
            self.assertEqual(client.dropped_frames, 0)

    def test_a_key_file_as_the_server_reads_it(self) -> None:
        key_file = f"{server.directory}/key"
        self.assertEqual(signing.load_key(key_file), KEY)
        with mmsb_bridge.connect(server.endpoint, key_file=key_file) as client:
            client.ping()

    def test_unsigned_and_wrongly_signed_requests_are_dropped_and_counted(self) -> None:
        with server.connect() as observer:
            before = observer.stats()["bridge"]
            peer = RawPeer(server.endpoint)
            try:
                for frames in (
                    [ping(1)],
                    [b"\0" * 32, ping(2)],
                    [signing.signature(b"another key", ping(3)), ping(3)],
                    [signing.signature(KEY, ping(4))[:31], ping(4)],
                    [signing.signature(KEY, ping(5)), ping(5), b"extra"],
                ):
                    with self.subTest(frames=frames):
                        peer.send(b"", frames=frames)
                        self.assertIsNone(peer.receive_bytes(timeout=0.5), "a response to a request that is not signed right")
            finally:
                peer.close()
            after = observer.stats()["bridge"]
            self.assertEqual(after["droppedFrames"], before["droppedFrames"] + 5)
            self.assertEqual(after["droppedByReason"]["unauthenticated"], before["droppedByReason"].get("unauthenticated", 0) + 5)

    def test_an_unsigned_client_times_out(self) -> None:
        with self.assertRaises(BridgeError) as caught:
            mmsb_bridge.connect(server.endpoint, timeout=0.5)
        self.assertEqual(caught.exception.code, "BRIDGE_TIMEOUT")

    def test_a_client_with_another_key_gets_no_response(self) -> None:
        with self.assertRaises(BridgeError) as caught:
            mmsb_bridge.connect(server.endpoint, key=b"another key", timeout=0.5)
        self.assertEqual(caught.exception.code, "BRIDGE_TIMEOUT")

    def test_signed_raw_requests_get_signed_responses(self) -> None:
        peer = RawPeer(server.endpoint, key=KEY)
        try:
            self.assertTrue(peer.request({"v": 1, "rid": 1, "op": "hello", "versions": [1]})["ok"])
            self.assertEqual(peer.request(b"\xc1")["code"], "MALFORMED_REQUEST")
        finally:
            peer.close()


class OffLoopback(unittest.TestCase):
    def test_a_tcp_endpoint_off_loopback_needs_a_key(self) -> None:
        with tempfile.TemporaryDirectory(prefix="mmsb-py-") as directory:
            arguments = ["--data", os.path.join(directory, "data"), "--endpoint", "tcp://0.0.0.0:*", "--pub", "none"]
            run = subprocess.run(["node", str(MMSB), "serve", *arguments], cwd=ROOT, capture_output=True, timeout=30)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn(b"key", run.stderr + run.stdout)


if __name__ == "__main__":
    unittest.main()
