"""Commit notifications and heartbeats on the PUB socket."""

import time
import unittest

from mmsb_bridge import BridgeTimeout, Subscription, deltas
from tests.support import Server

server: Server


def setUpModule() -> None:
    global server
    server = Server("--heartbeat", "100")


def tearDownModule() -> None:
    server.stop()


def joined(subscription: Subscription) -> None:
    """Waits for a heartbeat, so the subscription reached the server (ZeroMQ's slow joiner)."""
    deadline = time.monotonic() + 5
    while subscription.receive(timeout=5).topic != "heartbeat":
        if time.monotonic() > deadline:
            raise AssertionError("no heartbeat")


class Notifications(unittest.TestCase):
    def test_heartbeats(self) -> None:
        with server.connect() as client, client.subscribe(["heartbeat"]) as subscription:
            first = subscription.receive(timeout=5)
            second = subscription.receive(timeout=5)
            self.assertEqual(first.topic, "heartbeat")
            self.assertEqual(set(first.body), {"v", "time", "lsn", "sessions"})
            self.assertEqual(first.body["v"], 1)
            self.assertGreaterEqual(first.body["sessions"], 1)
            self.assertGreater(second.body["time"], first.body["time"])
            self.assertLess(abs(second.body["time"] / 1000 - time.time()), 60)

    def test_commits_name_the_pages_and_lsns(self) -> None:
        with server.connect() as client, client.subscribe([""]) as everything:
            joined(everything)
            with client.subscribe(["commit"]) as commits:
                time.sleep(0.3)  # the second subscription joins too
                a = client.create(4)
                b = client.create(4)
                written = client.write(a["handle"], b"abcd")
                notification = commits.receive(timeout=5)
                while written.lsn not in range(notification.body["firstLsn"], notification.body["lastLsn"] + 1):
                    notification = commits.receive(timeout=5)
                self.assertEqual(notification.topic, "commit")
                self.assertEqual(set(notification.body), {"v", "pages", "firstLsn", "lastLsn", "source"})
                self.assertEqual(notification.body["v"], 1)
                self.assertEqual(notification.body["pages"], [a["page"]])
                self.assertEqual(notification.body["source"], "bridge")
                batch = client.batch([deltas.dense(a["handle"], b"1111"), deltas.dense(b["handle"], b"2222")])
                notification = commits.receive(timeout=5)
                self.assertEqual(sorted(notification.body["pages"]), sorted([a["page"], b["page"]]))
                self.assertEqual(notification.body["lastLsn"], batch["lsn"])
                self.assertLessEqual(notification.body["firstLsn"], notification.body["lastLsn"])
                with self.assertRaises(BridgeTimeout):
                    while True:  # nothing but commits on this subscription
                        self.assertEqual(commits.receive(timeout=0.3).topic, "commit")


if __name__ == "__main__":
    unittest.main()
