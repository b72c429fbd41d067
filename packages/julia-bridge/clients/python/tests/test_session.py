"""hello, version negotiation, ping, bye, and what a connection without a session gets."""

import os
import signal
import time
import unittest

import mmsb_bridge
from mmsb_bridge import BridgeError
from tests.support import RawPeer, Server

server: Server


def setUpModule() -> None:
    global server
    server = Server("--session-timeout", "600", "--heartbeat", "100")


def tearDownModule() -> None:
    server.stop()


class Hello(unittest.TestCase):
    def test_hello_opens_a_session_with_the_limits_of_the_doc(self) -> None:
        with server.connect() as client:
            self.assertEqual(client.protocol, 1)
            self.assertIsInstance(client.session, int)
            self.assertTrue(0 <= client.session < 2**64)
            self.assertEqual(client.pub, server.pub)
            self.assertEqual(client.heartbeat_ms, 100)
            self.assertEqual(client.session_timeout_ms, 600)
            self.assertEqual(client.limits, mmsb_bridge.Limits(64 * 2**20, 65536, 2**20, 1024))
            self.assertTrue(os.path.isdir(client.shm_dir))
            self.assertEqual(os.stat(client.shm_dir).st_mode & 0o777, 0o700)

    def test_the_server_answers_the_highest_shared_version(self) -> None:
        with server.connect(versions=(3, 1, 2)) as client:
            self.assertEqual(client.protocol, 1)

    def test_no_shared_version_is_refused(self) -> None:
        with self.assertRaises(BridgeError) as caught:
            server.connect(versions=(2, 7))
        self.assertEqual(caught.exception.code, "PROTOCOL_VERSION")

    def test_a_second_hello_is_refused_until_bye(self) -> None:
        peer = RawPeer(server.endpoint)
        try:
            first = peer.request({"v": 1, "rid": 1, "op": "hello", "versions": [1]})
            self.assertTrue(first["ok"])
            second = peer.request({"v": 1, "rid": 2, "op": "hello", "versions": [1]})
            self.assertEqual((second["ok"], second["code"]), (False, "INVALID_ARGUMENT"))
            self.assertTrue(peer.request({"v": 1, "rid": 3, "op": "bye"})["ok"])
            third = peer.request({"v": 1, "rid": 4, "op": "hello", "versions": [1]})
            self.assertTrue(third["ok"])
            self.assertNotEqual(third["session"], first["session"])
        finally:
            peer.close()

    def test_sessions_are_distinct(self) -> None:
        with server.connect() as one, server.connect() as two:
            self.assertNotEqual(one.session, two.session)
            self.assertNotEqual(one.shm_dir, two.shm_dir)


class WithoutSession(unittest.TestCase):
    def test_a_request_before_hello_gets_session_unknown(self) -> None:
        peer = RawPeer(server.endpoint)
        try:
            response = peer.request({"v": 1, "rid": 9, "op": "ping"})
            self.assertEqual((response["rid"], response["ok"], response["code"]), (9, False, "SESSION_UNKNOWN"))
        finally:
            peer.close()

    def test_after_bye_the_session_is_gone_and_its_directory_removed(self) -> None:
        client = server.connect()
        handle = client.create(8)["handle"]
        client.read(handle, via="shm")
        shm_dir = client.shm_dir
        self.assertTrue(os.path.exists(os.path.join(shm_dir, f"h{handle}")))
        self.assertEqual(client.request("bye"), {"released": 1})
        with self.assertRaises(BridgeError) as caught:
            client.ping()
        self.assertEqual(caught.exception.code, "SESSION_UNKNOWN")
        self.assertFalse(os.path.exists(shm_dir))
        self.assertEqual(client.close(), 0, "closing an ended session frees nothing more")

    def test_a_silent_session_expires_freeing_its_handles_and_files(self) -> None:
        with server.connect() as observer:
            client = server.connect()
            handle = client.create(8)["handle"]
            client.read(handle, via="shm")
            before = observer.stats()["bridge"]["handles"]
            for _ in range(10):  # the observer keeps its own session alive meanwhile
                time.sleep(0.15)
                observer.ping()
            self.assertFalse(os.path.exists(client.shm_dir))
            self.assertEqual(observer.stats()["bridge"]["handles"], before - 1)
            with self.assertRaises(BridgeError) as caught:
                client.info(handle)
            self.assertEqual(caught.exception.code, "SESSION_UNKNOWN")
            self.assertEqual(client.close(), 0)

    def test_ping_keeps_a_session_alive_and_reports_the_log(self) -> None:
        with server.connect() as client:
            for _ in range(4):
                time.sleep(0.3)
                result = client.ping()
            self.assertEqual(set(result), {"lsn", "durableLsn"})
            self.assertLessEqual(result["durableLsn"], result["lsn"])


class Leftovers(unittest.TestCase):
    def test_a_server_start_removes_the_shared_memory_of_dead_servers(self) -> None:
        dead = Server()
        client = dead.connect()
        client.read(client.create(4)["handle"], via="shm")
        server_dir = os.path.dirname(client.shm_dir)
        dead.process.send_signal(signal.SIGKILL)
        dead.process.wait()
        dead.stop()
        client.timeout = 0.1
        with self.assertRaises(BridgeError) as caught:
            client.close()
        self.assertEqual(caught.exception.code, "BRIDGE_TIMEOUT")
        self.assertTrue(os.path.isdir(server_dir), "a killed server cannot clean up")
        fresh = Server()
        try:
            self.assertFalse(os.path.exists(server_dir))
        finally:
            fresh.stop()


if __name__ == "__main__":
    unittest.main()
