"""Dependency edges, batches, checkpoints, replay at an LSN, log, sync, hash and stats."""

import os
import re
import shutil
import tempfile
import unittest

from mmsb_bridge import BridgeError, deltas
from tests.support import ClientCase, Server

server: Server


def setUpModule() -> None:
    global server
    server = Server()


def tearDownModule() -> None:
    server.stop()


class State(ClientCase):
    def test_edges(self) -> None:
        a, b, c = (self.client.create(4)["handle"] for _ in range(3))
        lsn = self.client.edge(a, b)
        self.assertEqual(lsn, self.client.log()["lsn"])
        self.client.edge(b, c, kind="data")
        self.assertCode("GRAPH_CYCLE", self.client.edge, c, a)
        self.assertCode("EDGE_EXISTS", self.client.edge, a, b)
        self.assertCode("INVALID_ARGUMENT", self.client.edge, a, c, kind="telepathy")
        self.assertGreater(self.client.unedge(a, b), lsn)
        self.assertCode("EDGE_NOT_FOUND", self.client.unedge, a, b)
        self.client.edge(c, a)  # no cycle any more

    def test_a_batch_is_all_or_none(self) -> None:
        a, b = (self.client.create(2)["handle"] for _ in range(2))
        before = self.client.log()["lsn"]
        result = self.client.batch([deltas.dense(a, b"aa"), deltas.ranges(b, [(1, b"b")]), deltas.sparse(a, b"\x01", b"A")])
        self.assertEqual(result["count"], 3)
        self.assertGreater(result["lsn"], before)
        self.assertEqual(self.client.read(a).data, b"Aa")
        self.assertEqual(self.client.read(b).data, b"\0b")
        state = self.client.hash()
        self.assertCode("DELTA_SIZE_MISMATCH", self.client.batch, [deltas.dense(a, b"zz"), deltas.dense(b, b"zzz")])
        self.assertCode("EPOCH_CONFLICT", self.client.batch, [deltas.dense(a, b"zz"), deltas.dense(b, b"zz", expect_epoch=0)])
        self.assertCode("HANDLE_UNKNOWN", self.client.batch, [deltas.dense(a, b"zz"), deltas.dense(2**40, b"zz")])
        self.assertEqual(self.client.hash(), state)
        self.assertEqual(self.client.read(a).data, b"Aa")

    def test_a_batch_over_the_limit(self) -> None:
        a = self.client.create(1)["handle"]
        count = self.client.limits.max_batch_deltas + 1
        state = self.client.hash()
        self.assertCode("BATCH_TOO_LARGE", self.client.batch, [deltas.dense(a, b"x")] * count)
        self.assertEqual(self.client.hash(), state)
        self.assertEqual(self.client.batch([deltas.dense(a, b"x")] * 1000)["count"], 1000)

    def test_replay_at_an_lsn(self) -> None:
        a, b = (self.client.create(3)["handle"] for _ in range(2))
        first = self.client.write(a, b"one").lsn
        hash_then = self.client.hash()
        self.client.write(a, b"two")
        self.client.write(b, b"bbb")
        replayed = self.client.replay(first, [a, b])
        self.assertEqual(replayed["lsn"], first)
        self.assertEqual(replayed["hash"], hash_then)
        self.assertEqual(replayed["pages"], [{"handle": a, "epoch": 1, "bytes": b"one"}, {"handle": b, "epoch": 0, "bytes": b"\0\0\0"}])
        now = self.client.replay(self.client.log()["lsn"], [a])
        self.assertEqual(now["hash"], self.client.hash())
        self.assertEqual(now["pages"][0]["bytes"], b"two")

    def test_replay_across_a_checkpoint(self) -> None:
        a = self.client.create(2)["handle"]
        before = self.client.write(a, b"v1").lsn
        checkpoint = self.client.checkpoint(full=True)
        self.assertEqual(checkpoint["full"], True)
        self.assertTrue(before <= checkpoint["lsn"] <= self.client.log()["lsn"], checkpoint)
        self.client.write(a, b"v2")
        incremental = self.client.checkpoint()
        self.assertFalse(incremental["full"])
        self.client.write(a, b"v3")
        self.assertEqual(self.client.replay(before, [a])["pages"][0]["bytes"], b"v1")
        self.assertEqual(self.client.replay(incremental["lsn"], [a])["pages"][0]["bytes"], b"v2")

    def test_replay_out_of_range(self) -> None:
        a = self.client.create(1)["handle"]
        self.assertCode("LSN_OUT_OF_RANGE", self.client.replay, self.client.log()["lsn"] + 10, [a])
        self.assertCode("INVALID_ARGUMENT", self.client.replay, -1, [a])

    def test_replay_of_a_page_that_did_not_exist_yet_or_was_deleted_since(self) -> None:
        lsn = self.client.log()["lsn"]
        a = self.client.create(1)["handle"]
        self.assertCode("PAGE_NOT_FOUND", self.client.replay, lsn, [a])
        existed = self.client.write(a, b"!").lsn
        self.client.delete(a)
        self.assertEqual(self.client.replay(existed, [a])["pages"], [{"handle": a, "epoch": 1, "bytes": b"!"}])

    def test_a_replay_beyond_the_largest_message(self) -> None:
        big = self.client.create(40 * 2**20)["handle"]
        self.assertCode("MESSAGE_TOO_LARGE", self.client.replay, self.client.log()["lsn"], [big, big])

    def test_log_sync_hash(self) -> None:
        a = self.client.create(1)["handle"]
        applied = self.client.write(a, b"x")
        log = self.client.log()
        self.assertEqual(set(log), {"lsn", "durableLsn", "oldestLsn", "syncs"})
        self.assertEqual(log["lsn"], applied.lsn)
        self.assertEqual(log["durableLsn"], applied.lsn, "fsync always: an acknowledged write is durable")
        self.assertEqual(self.client.sync(), applied.lsn)
        self.assertRegex(self.client.hash(), re.compile(r"^[0-9a-f]{64}$"))
        before = self.client.hash()
        self.client.write(a, b"y")
        self.assertNotEqual(self.client.hash(), before)

    def test_stats(self) -> None:
        a = self.client.create(1)["handle"]
        self.client.open(self.client.info(a)["page"])
        with self.assertRaises(BridgeError):
            self.client.info(2**40)
        stats = self.client.stats()
        self.assertEqual(set(stats), {"bus", "bridge", "session"})
        self.assertEqual(stats["session"], {"handles": 1, "references": 2})
        bridge = stats["bridge"]
        self.assertLessEqual(
            {"sessions", "handles", "requests", "errors", "droppedFrames", "shmBytesRead", "shmBytesWritten"},
            set(bridge),
        )
        self.assertGreaterEqual(bridge["sessions"], 1)
        self.assertGreaterEqual(bridge["errors"], 1)
        self.assertGreaterEqual(bridge["requests"], 4)
        self.assertIsInstance(stats["bus"], dict)


class Restart(unittest.TestCase):
    def test_acknowledged_writes_survive_a_clean_shutdown(self) -> None:
        data = os.path.join(tempfile.mkdtemp(prefix="mmsb-py-data-"), "data")
        try:
            first = Server(data=data)
            with first.connect() as client:
                page = client.create(5 * 2**20)
                payload = os.urandom(5 * 2**20)
                client.write(page["handle"], payload)
                rids = [client.send("write", handle=page["handle"], form="ranges", ranges=[[i, bytes([i])]]) for i in range(100)]
                for rid in rids:
                    client.receive(rid)
                state, lsn = client.hash(), client.log()["lsn"]
            self.assertEqual(first.stop(), 0, "SIGTERM is a clean stop")
            second = Server(data=data)
            try:
                with second.connect() as client:
                    self.assertEqual((client.hash(), client.log()["lsn"]), (state, lsn))
                    handle = client.open(page["page"])["handle"]
                    self.assertEqual(client.read(handle).data, bytes(range(100)) + payload[100:])
            finally:
                second.stop()
        finally:
            shutil.rmtree(os.path.dirname(data), ignore_errors=True)


class Pipelining(unittest.TestCase):
    def test_many_requests_in_flight_answered_by_rid(self) -> None:
        with server.connect() as client:
            handle = client.create(4)["handle"]
            rids = [client.send("write", handle=handle, form="dense", bytes=bytes([i] * 4)) for i in range(200)]
            epochs = [client.receive(rid)["epoch"] for rid in reversed(rids)]
            self.assertEqual(sorted(epochs), list(range(1, 201)))
            self.assertEqual(epochs[0], 200, "writes of one session apply in the order they arrive")
            self.assertEqual(client.read(handle).data, bytes([199] * 4))

    def test_more_requests_in_flight_than_max_in_flight_are_all_answered(self) -> None:
        with server.connect() as client:
            count = 5 * client.limits.max_in_flight
            rids = [client.send("ping") for _ in range(count)]
            for rid in rids:
                client.receive(rid)
            self.assertEqual(client.stats()["bridge"]["droppedFrames"], 0)


if __name__ == "__main__":
    unittest.main()
