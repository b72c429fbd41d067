"""Every error path of the envelope and the arguments, with the codes of docs/protocol.md.

Each failed request must change nothing: the state hash is the same before and after.
"""

import signal
import unittest

import msgpack

import mmsb_bridge
from mmsb_bridge import BridgeError
from tests.support import RawPeer, Server

server: Server
MIB = 2**20


def setUpModule() -> None:
    global server
    server = Server()


def tearDownModule() -> None:
    server.stop()


class Envelope(unittest.TestCase):
    """Requests a client library would never send, over a raw DEALER with a session."""

    def setUp(self) -> None:
        self.peer = RawPeer(server.endpoint)
        self.assertTrue(self.peer.request({"v": 1, "rid": 1, "op": "hello", "versions": [1]})["ok"])
        self.handle = self.peer.request({"v": 1, "rid": 2, "op": "create", "size": 4})["handle"]
        self.state = self.peer.request({"v": 1, "rid": 3, "op": "hash"})["hash"]

    def tearDown(self) -> None:
        self.assertEqual(self.peer.request({"v": 1, "rid": 4, "op": "hash"})["hash"], self.state, "a failed request changed the state")
        self.peer.close()

    def assertRefused(self, request: object, code: str, rid: object = 10) -> dict:
        response = self.peer.request(request, timeout=30)
        self.assertIsNotNone(response, "no response")
        self.assertEqual((response["v"], response["rid"], response["ok"], response.get("code")), (1, rid, False, code), response)
        self.assertIsInstance(response["message"], str)
        return response

    def test_bodies_that_are_not_requests(self) -> None:
        for body in (b"\xc1", b"\x85\xa1v\x01", b"", b"\x93\x01\x02\x03", b"\xa5hello", msgpack.packb({"v": 1, "op": "ping"})):
            with self.subTest(body=body):
                self.assertRefused(body, "MALFORMED_REQUEST", rid=None)

    def test_rids_that_are_not_u64(self) -> None:
        for rid in (-1, "1", 1.5, None, [1]):
            with self.subTest(rid=rid):
                self.assertRefused({"v": 1, "rid": rid, "op": "ping"}, "MALFORMED_REQUEST", rid=None)

    def test_a_missing_or_wrong_op(self) -> None:
        self.assertRefused({"v": 1, "rid": 10}, "MALFORMED_REQUEST")
        self.assertRefused({"v": 1, "rid": 10, "op": 7}, "MALFORMED_REQUEST")
        self.assertRefused({"v": 1, "rid": 10, "op": "frobnicate"}, "UNKNOWN_OPERATION")

    def test_versions(self) -> None:
        self.assertRefused({"v": 2, "rid": 10, "op": "ping"}, "PROTOCOL_VERSION")
        self.assertRefused({"v": 0, "rid": 10, "op": "ping"}, "PROTOCOL_VERSION")
        self.assertRefused({"rid": 10, "op": "ping"}, "PROTOCOL_VERSION")

    def test_rids_echo_whatever_their_size(self) -> None:
        for rid in (0, 2**53 + 1, 2**64 - 1):
            with self.subTest(rid=rid):
                response = self.peer.request({"v": 1, "rid": rid, "op": "ping"})
                self.assertEqual((response["rid"], response["ok"]), (rid, True))

    def test_ids(self) -> None:
        for handle, code in (
            (2**53, "ID_UNREPRESENTABLE"),
            (2**64 - 1, "ID_UNREPRESENTABLE"),
            (-1, "INVALID_ARGUMENT"),
            (1.5, "INVALID_ARGUMENT"),
            ("1", "INVALID_ARGUMENT"),
            (None, "INVALID_ARGUMENT"),
            (2**40, "HANDLE_UNKNOWN"),
        ):
            with self.subTest(handle=handle):
                self.assertRefused({"v": 1, "rid": 10, "op": "info", "handle": handle}, code)
        self.assertRefused({"v": 1, "rid": 10, "op": "open", "page": 2**53}, "ID_UNREPRESENTABLE")
        self.assertRefused({"v": 1, "rid": 10, "op": "release", "handles": [self.handle, 2**60]}, "ID_UNREPRESENTABLE")
        self.assertRefused({"v": 1, "rid": 10, "op": "ping", "release": [2**53]}, "ID_UNREPRESENTABLE")

    def test_whole_floats_read_as_integers(self) -> None:
        # docs/protocol.md, "Integers and ids": a float whose value is a whole number is read as that
        # integer (a client's Float64 3.0 is 3); any other float is refused like any non-integer.
        info = self.peer.request({"v": 1, "rid": 10, "op": "info", "handle": float(self.handle)})
        self.assertEqual((info["rid"], info["ok"]), (10, True), info)
        ping = self.peer.request({"v": 1, "rid": 11.0, "op": "ping"})
        self.assertEqual((ping["rid"], ping["ok"]), (11, True), ping)
        for request, code, rid in (
            ({"v": 1, "rid": 10, "op": "info", "handle": self.handle + 0.5}, "INVALID_ARGUMENT", 10),
            ({"v": 1, "rid": 10, "op": "read", "handle": self.handle, "offset": 1.5}, "INVALID_ARGUMENT", 10),
            ({"v": 1, "rid": 10, "op": "create", "size": 4.25}, "INVALID_ARGUMENT", 10),
            ({"v": 1, "rid": 10.5, "op": "ping"}, "MALFORMED_REQUEST", None),
        ):
            with self.subTest(request=request):
                self.assertRefused(request, code, rid)

    def test_arguments(self) -> None:
        h = self.handle
        for request in (
            {"op": "info"},
            {"op": "create"},
            {"op": "create", "size": "4"},
            {"op": "create", "size": -4},
            {"op": "create", "size": 4, "metadata": [1]},
            {"op": "create", "size": 4, "memory": "quantum"},
            {"op": "write", "handle": h},
            {"op": "write", "handle": h, "form": "diagonal", "bytes": b"abcd"},
            {"op": "write", "handle": h, "form": "dense"},
            {"op": "write", "handle": h, "form": "dense", "bytes": "abcd"},
            {"op": "write", "handle": h, "form": "dense", "bytes": b"abcd", "expectEpoch": "0"},
            {"op": "write", "handle": h, "form": "dense", "shm": "upload"},
            {"op": "write", "handle": h, "form": "ranges", "ranges": [[0]]},
            {"op": "write", "handle": h, "form": "ranges", "ranges": [[0, "ab"]]},
            {"op": "write", "handle": h, "form": "ranges", "ranges": b"ab"},
            {"op": "read", "handle": h, "via": "carrier-pigeon"},
            {"op": "read", "handle": h, "offset": -1},
            {"op": "batch"},
            {"op": "batch", "deltas": [7]},
            {"op": "release"},
            {"op": "release", "handles": h},
            {"op": "ping", "release": h},
            {"op": "checkpoint", "full": "yes"},
            {"op": "replay", "lsn": 1},
            {"op": "replay", "handles": [h]},
            {"op": "hello", "versions": "1"},
        ):
            with self.subTest(request=request):
                self.assertRefused({"v": 1, "rid": 10, **request}, "INVALID_ARGUMENT")

    def test_unknown_location(self) -> None:
        self.assertRefused({"v": 1, "rid": 10, "op": "create", "size": 4, "location": "mars"}, "LOCATION_UNKNOWN")

    def test_zero_sized_page(self) -> None:
        self.assertRefused({"v": 1, "rid": 10, "op": "create", "size": 0}, "PAGE_SIZE_INVALID")

    def test_sparse_mask_of_the_wrong_size(self) -> None:
        request = {"v": 1, "rid": 10, "op": "write", "handle": self.handle, "form": "sparse", "mask": b"\x01\x00", "bytes": b"a"}
        self.assertRefused(request, "DELTA_SIZE_MISMATCH")

    def test_a_request_over_the_largest_message_is_refused_undecoded(self) -> None:
        # docs/protocol.md, "Envelope": a request larger than maxMessageBytes is not decoded at all
        # and gets rid nil with MESSAGE_TOO_LARGE.
        self.assertRefused({"v": 1, "rid": 10, "op": "ping", "pad": b"\0" * (64 * MIB + 16)}, "MESSAGE_TOO_LARGE", rid=None)


class ThroughTheClient(unittest.TestCase):
    def test_a_request_over_the_largest_message(self) -> None:
        with server.connect() as client:
            with self.assertRaises(BridgeError) as caught:
                client.request("ping", pad=b"\0" * (client.limits.max_message_bytes + 16))
            self.assertEqual(caught.exception.code, "MESSAGE_TOO_LARGE")
            client.ping()

    def test_a_timeout_is_bridge_timeout_and_the_late_response_is_dropped(self) -> None:
        with server.connect() as client:
            client.timeout = 0.3
            server.process.send_signal(signal.SIGSTOP)
            try:
                with self.assertRaises(BridgeError) as caught:
                    client.hash()
            finally:
                server.process.send_signal(signal.SIGCONT)
            self.assertEqual(caught.exception.code, "BRIDGE_TIMEOUT")
            client.timeout = 10.0
            self.assertEqual(set(client.log()), {"lsn", "durableLsn", "oldestLsn", "syncs"}, "the hash's late response is not the log's")

    def test_no_server_is_bridge_timeout(self) -> None:
        with self.assertRaises(BridgeError) as caught:
            mmsb_bridge.connect(f"ipc://{server.directory}/nobody.sock", timeout=0.3)
        self.assertEqual(caught.exception.code, "BRIDGE_TIMEOUT")

    def test_an_id_msgpack_cannot_carry_is_refused_before_sending(self) -> None:
        with server.connect() as client:
            with self.assertRaises(BridgeError) as caught:
                client.info(2**64)
            self.assertEqual(caught.exception.code, "INVALID_ARGUMENT")
            client.ping()


if __name__ == "__main__":
    unittest.main()
