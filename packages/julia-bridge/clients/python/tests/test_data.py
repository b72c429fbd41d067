"""Writes and reads, inline and through shared memory, byte-exact, up to several MiB."""

import os
import unittest

from mmsb_bridge import ShmRef, deltas
from tests.support import ClientCase, Server

server: Server
MIB = 2**20


def setUpModule() -> None:
    global server
    server = Server()


def tearDownModule() -> None:
    server.stop()


def pattern(size: int, seed: int = 0) -> bytes:
    """Bytes that differ at every offset mod 251, so a shifted or truncated copy shows."""
    return bytes((index * 7 + seed) % 251 for index in range(251)) * (size // 251) + bytes(range(size % 251))


class Data(ClientCase):
    def test_dense_sparse_and_ranges_inline(self) -> None:
        handle = self.client.create(8)["handle"]
        self.assertEqual(self.client.write(handle, b"abcdefgh", via="inline").epoch, 1)
        applied = self.client.write_sparse(handle, bytes([0b10000001]), b"AH")
        self.assertEqual(applied.epoch, 2)
        self.assertEqual(self.client.read(handle).data, b"AbcdefgH")
        applied = self.client.write_ranges(handle, [(1, b"BC"), (5, b"F")])
        self.assertEqual(self.client.read(handle, via="inline"), (3, b"ABCdeFgH"))
        self.assertEqual(applied.lsn, self.client.log()["lsn"])

    def test_a_write_expecting_an_epoch(self) -> None:
        handle = self.client.create(2)["handle"]
        self.client.write(handle, b"ab", expect_epoch=0)
        self.assertCode("EPOCH_CONFLICT", self.client.write, handle, b"cd", expect_epoch=0)
        self.assertEqual(self.client.read(handle), (1, b"ab"))

    def test_a_dense_write_of_the_wrong_size(self) -> None:
        handle = self.client.create(4)["handle"]
        self.assertCode("DELTA_SIZE_MISMATCH", self.client.write, handle, b"abc")
        self.assertCode("DELTA_SIZE_MISMATCH", self.client.write, handle, b"abc", via="shm")
        self.assertEqual(self.client.read(handle), (0, b"\0\0\0\0"))

    def test_a_range_outside_the_page(self) -> None:
        handle = self.client.create(4)["handle"]
        self.assertCode("RANGE_OUT_OF_BOUNDS", self.client.write_ranges, handle, [(3, b"xy")])
        self.assertCode("RANGE_OUT_OF_BOUNDS", self.client.read, handle, 2, 3)
        self.assertCode("RANGE_OUT_OF_BOUNDS", self.client.read, handle, 2, 3, via="shm")

    def test_overlapping_ranges(self) -> None:
        handle = self.client.create(4)["handle"]
        self.assertCode("RANGE_OVERLAP", self.client.write_ranges, handle, [(0, b"xy"), (1, b"z")])

    def test_read_ranges_inline_and_through_shared_memory(self) -> None:
        data = pattern(1000)
        handle = self.client.create(1000)["handle"]
        self.client.write(handle, data)
        self.assertEqual(self.client.read(handle, 10, 20).data, data[10:30])
        self.assertEqual(self.client.read(handle, 990).data, data[990:])
        shm = self.client.request("read", handle=handle, offset=100, length=50, via="shm")
        self.assertEqual(shm["shm"], {"path": os.path.join(self.client.shm_dir, f"h{handle}"), "offset": 100, "length": 50})
        with open(shm["shm"]["path"], "rb") as file:
            whole = file.read()
        self.assertEqual(len(whole), 1000, "the read file is sized to the whole page")
        self.assertEqual(whole[100:150], data[100:150])
        self.assertEqual(self.client.read(handle, 100, 50, via="shm").data, data[100:150])
        self.assertEqual(self.client.read(handle, 0, 0).data, b"")

    def test_auto_reads_switch_to_shared_memory_above_max_inline_bytes(self) -> None:
        limit = self.client.limits.max_inline_bytes
        handle = self.client.create(limit + 1)["handle"]
        self.assertIn("bytes", self.client.request("read", handle=handle, length=limit))
        self.assertIn("shm", self.client.request("read", handle=handle))
        self.assertIn("bytes", self.client.request("read", handle=handle, via="inline"))

    def test_a_mapped_read_sees_the_next_read_of_the_handle(self) -> None:
        handle = self.client.create(4)["handle"]
        self.client.write(handle, b"1111")
        mapped = self.client.read(handle, via="shm", copy=False).data
        self.assertIsInstance(mapped, memoryview)
        self.assertEqual(mapped.tobytes(), b"1111")
        self.client.write(handle, b"2222")
        self.assertEqual(mapped.tobytes(), b"1111", "the file changes only on the next shm read")
        self.client.read(handle, via="shm")
        self.assertEqual(mapped.tobytes(), b"2222")

    def test_writes_through_shared_memory(self) -> None:
        handle = self.client.create(64)["handle"]
        data = pattern(64, seed=3)
        reference = self.client.put_file("payload.bin", b"junk" + data + b"more")
        self.assertEqual(os.stat(os.path.join(self.client.shm_dir, "payload.bin")).st_mode & 0o777, 0o600)
        self.client.write(handle, shm=ShmRef(reference.name, 4, 64))
        self.assertEqual(self.client.read(handle).data, data)
        mask = bytes([0xFF] + [0] * 7)
        self.client.write_sparse(handle, mask, shm=self.client.put_file("sparse", b"ABCDEFGH"))
        self.assertEqual(self.client.read(handle).data, b"ABCDEFGH" + data[8:])
        self.assertTrue(os.path.exists(os.path.join(self.client.shm_dir, "payload.bin")), "the file stays the client's")

    def test_names_that_are_not_client_files_are_shm_invalid(self) -> None:
        handle = self.client.create(8)["handle"]
        self.client.put_file("small", b"12345678")
        self.client.read(handle, via="shm")
        for name in (f"h{handle}", "../small", "./small", "", "a/b"):
            with self.subTest(name=name):
                self.assertCode("SHM_INVALID", self.client.request, "write", handle=handle, form="dense", shm=ShmRef(name, 0, 8).wire())
        self.assertEqual(self.client.read(handle).epoch, 0)

    def test_a_missing_or_foreign_shm_file_is_shm_invalid(self) -> None:
        handle = self.client.create(8)["handle"]
        with server.connect() as other:
            other.put_file("theirs", b"12345678")
            for reference in (ShmRef("missing", 0, 8), ShmRef("theirs", 0, 8), ShmRef("missing", 0, 0)):
                with self.subTest(reference=reference):
                    self.assertCode("SHM_INVALID", self.client.request, "write", handle=handle, form="dense", shm=reference.wire())

    def test_a_range_outside_the_shm_file_is_shm_invalid(self) -> None:
        handle = self.client.create(8)["handle"]
        self.client.put_file("small", b"12345678")
        for reference in (ShmRef("small", 4, 8), ShmRef("small", 0, 9), ShmRef("small", 9, 0)):
            with self.subTest(reference=reference):
                self.assertCode("SHM_INVALID", self.client.request, "write", handle=handle, form="dense", shm=reference.wire())

    def test_a_batch_carries_its_bytes_inline(self) -> None:
        handle = self.client.create(8)["handle"]
        reference = self.client.put_file("batch", b"12345678")
        self.assertCode("INVALID_ARGUMENT", self.client.batch, [deltas.dense(handle, shm=reference)])

    def test_a_several_mib_page_byte_exact_through_shared_memory(self) -> None:
        size = 12 * MIB + 3
        data = os.urandom(size)
        handle = self.client.create(size)["handle"]
        self.client.write(handle, data)  # above maxInlineBytes: through shmDir
        self.assertGreaterEqual(self.client.stats()["bridge"]["shmBytesRead"], size)
        read = self.client.read(handle)  # auto: through the mapped read file
        self.assertEqual(read.epoch, 1)
        self.assertEqual(read.data, data)
        self.assertGreaterEqual(self.client.stats()["bridge"]["shmBytesWritten"], size)
        self.assertEqual(self.client.read(handle, 5 * MIB, MIB + 1, via="shm").data, data[5 * MIB : 6 * MIB + 1])

    def test_a_several_mib_page_byte_exact_inline(self) -> None:
        size = 6 * MIB + 1
        data = os.urandom(size)
        handle = self.client.create(size)["handle"]
        self.client.write(handle, data, via="inline")
        self.assertEqual(self.client.read(handle, via="inline").data, data)

    def test_an_inline_read_beyond_the_largest_message(self) -> None:
        size = 64 * MIB
        handle = self.client.create(size)["handle"]
        self.assertCode("MESSAGE_TOO_LARGE", self.client.read, handle, via="inline")
        self.assertEqual(len(self.client.read(handle).data), size)


if __name__ == "__main__":
    unittest.main()
