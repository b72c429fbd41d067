"""Pages and handles: create, open, info, release (direct and queued), delete, and whose handle is whose."""

import os
import unittest

import msgpack

from mmsb_bridge import BridgeError
from tests.support import ClientCase, RawPeer, Server

server: Server


def setUpModule() -> None:
    global server
    server = Server()


def tearDownModule() -> None:
    server.stop()


class Handles(ClientCase):
    def test_create_then_info(self) -> None:
        created = self.client.create(32, location="cpu", memory="arena", metadata={"name": "weights", "n": 3})
        self.assertLessEqual({"handle", "page", "size", "epoch"}, set(created))
        self.assertEqual((created["size"], created["epoch"]), (32, 0))
        info = self.client.info(created["handle"])
        self.assertEqual(info["page"], created["page"])
        self.assertEqual((info["size"], info["epoch"], info["location"], info["memory"]), (32, 0, "cpu", "arena"))
        self.assertEqual(info["metadata"], {"name": "weights", "n": 3})

    def test_open_of_a_held_page_counts_the_same_handle_again(self) -> None:
        created = self.client.create(4)
        opened = self.client.open(created["page"])
        self.assertEqual(opened["handle"], created["handle"])
        self.assertEqual((opened["page"], opened["size"], opened["location"]), (created["page"], 4, "cpu"))
        self.assertEqual(self.client.stats()["session"], {"handles": 1, "references": 2})
        self.assertEqual(self.client.release(created["handle"]), 0)
        self.assertEqual(self.client.info(created["handle"])["size"], 4)
        self.assertEqual(self.client.release(created["handle"]), 1)
        self.assertCode("HANDLE_UNKNOWN", self.client.info, created["handle"])

    def test_handle_ids_are_never_reused(self) -> None:
        first = self.client.create(4)["handle"]
        self.client.release(first)
        second = self.client.create(4)["handle"]
        self.assertGreater(second, first)
        reopened = self.client.open(self.client.info(second)["page"])["handle"]
        self.assertEqual(reopened, second)

    def test_queued_releases_travel_with_the_next_request(self) -> None:
        handles = [self.client.create(4)["handle"] for _ in range(3)]
        for handle in handles[:2]:
            self.client.queue_release(handle)
        self.assertEqual(self.client.stats()["session"]["handles"], 1)
        self.assertCode("HANDLE_UNKNOWN", self.client.info, handles[0])

    def test_queued_releases_apply_even_when_the_operation_fails(self) -> None:
        handle = self.client.create(4)["handle"]
        other = self.client.create(4)["handle"]
        self.client.queue_release(handle)
        self.assertCode("DELTA_SIZE_MISMATCH", self.client.write, other, b"abc")
        self.assertEqual(self.client.stats()["session"]["handles"], 1)
        self.assertCode("HANDLE_UNKNOWN", self.client.info, handle)

    def test_the_release_list_runs_before_the_operation(self) -> None:
        handle = self.client.create(4)["handle"]
        self.client.queue_release(handle)
        self.assertCode("HANDLE_UNKNOWN", self.client.info, handle)

    def test_a_bad_release_list_releases_nothing(self) -> None:
        keep = self.client.create(4)["handle"]
        self.assertCode("HANDLE_UNKNOWN", self.client.release, keep, 2**40)
        self.assertEqual(self.client.info(keep)["size"], 4)
        self.client.queue_release(keep)
        self.client.queue_release(2**40)
        self.assertCode("HANDLE_UNKNOWN", self.client.ping)
        self.assertEqual(self.client.info(keep)["size"], 4)

    def test_releasing_more_references_than_held_fails_whole(self) -> None:
        handle = self.client.create(4)["handle"]
        self.assertCode("HANDLE_UNKNOWN", self.client.release, handle, handle)
        self.assertEqual(self.client.stats()["session"], {"handles": 1, "references": 1})

    def test_freeing_a_handle_removes_its_read_file(self) -> None:
        handle = self.client.create(16)["handle"]
        self.client.read(handle, via="shm")
        path = os.path.join(self.client.shm_dir, f"h{handle}")
        self.assertEqual(os.path.getsize(path), 16)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.client.release(handle)
        self.assertFalse(os.path.exists(path))

    def test_delete_makes_every_handle_to_the_page_page_released(self) -> None:
        created = self.client.create(4)
        with server.connect() as other:
            theirs = other.open(created["page"])["handle"]
            lsn = self.client.delete(created["handle"])
            self.assertEqual(lsn, self.client.log()["lsn"])
            self.assertCode("PAGE_RELEASED", self.client.read, created["handle"])
            self.assertCode("PAGE_RELEASED", other.write, theirs, b"abcd")
            self.assertEqual(other.release(theirs), 1)
        self.assertEqual(self.client.release(created["handle"]), 1)

    def test_open_of_a_page_that_does_not_exist(self) -> None:
        self.assertCode("PAGE_NOT_FOUND", self.client.open, 2**50)

    def test_bye_frees_every_handle(self) -> None:
        with server.connect() as other:
            for _ in range(3):
                other.create(4)
            before = self.client.stats()["bridge"]["handles"]
            self.assertEqual(other.request("bye"), {"released": 3})
            self.assertEqual(self.client.stats()["bridge"]["handles"], before - 3)


class AcrossSessions(unittest.TestCase):
    def test_a_handle_of_another_session_is_refused(self) -> None:
        with server.connect() as owner, server.connect() as intruder:
            handle = owner.create(8)["handle"]
            owner.write(handle, b"12345678")
            before = owner.hash()
            for call, args in (
                (intruder.info, (handle,)),
                (intruder.read, (handle,)),
                (intruder.write, (handle, b"xxxxxxxx")),
                (intruder.delete, (handle,)),
                (intruder.release, (handle,)),
                (intruder.edge, (handle, handle)),
                (intruder.replay, (1, [handle])),
            ):
                with self.subTest(call=call.__name__):
                    with self.assertRaises(BridgeError) as caught:
                        call(*args)
                    self.assertEqual(caught.exception.code, "HANDLE_FOREIGN")
            intruder.queue_release(handle)
            with self.assertRaises(BridgeError) as caught:
                intruder.ping()
            self.assertEqual(caught.exception.code, "HANDLE_FOREIGN", "in a release list too")
            self.assertEqual(owner.read(handle).data, b"12345678")
            self.assertEqual(owner.hash(), before)

    def test_a_handle_of_an_ended_session_is_unknown(self) -> None:
        with server.connect() as one:
            with server.connect() as gone:
                handle = gone.create(4)["handle"]
            with self.assertRaises(BridgeError) as caught:
                one.info(handle)
            self.assertEqual(caught.exception.code, "HANDLE_UNKNOWN")

    def test_the_same_page_gets_a_handle_per_session(self) -> None:
        with server.connect() as one, server.connect() as two:
            created = one.create(4)
            opened = two.open(created["page"])
            self.assertNotEqual(opened["handle"], created["handle"])
            one.write(created["handle"], b"\x01\x02\x03\x04")
            self.assertEqual(two.read(opened["handle"]).data, b"\x01\x02\x03\x04")


class Ids(unittest.TestCase):
    def test_ids_come_back_as_uint64_whatever_their_value(self) -> None:
        peer = RawPeer(server.endpoint)
        try:
            peer.send(msgpack.packb({"v": 1, "rid": 1, "op": "hello", "versions": [1]}))
            hello = peer.receive_bytes()
            self.assertIn(b"\xa7session\xcf" + msgpack.unpackb(hello)["session"].to_bytes(8, "big"), hello)
            peer.send(msgpack.packb({"v": 1, "rid": 2, "op": "create", "size": 1}))
            body = peer.receive_bytes()
            response = msgpack.unpackb(body)
            for key in ("rid", "handle", "page"):
                self.assertIn(key.encode() + b"\xcf" + response[key].to_bytes(8, "big"), body, key)
        finally:
            peer.close()


if __name__ == "__main__":
    unittest.main()
