"""The conformance vectors (vectors/v1.json), replayed over one connection to a fresh server.

A fresh server on a new, empty data directory with the defaults of ``mmsb serve``
must answer each request as the file says, except the keys at the dotted
paths of the case's ``ignore``.
"""

import copy
import json
import unittest

import msgpack

from tests.support import ROOT, RawPeer, Server

VECTORS = ROOT / "packages" / "julia-bridge" / "vectors" / "v1.json"


def without(value: dict, paths: list) -> dict:
    """``value`` without the keys at the dotted ``paths``."""
    value = copy.deepcopy(value)
    for path in paths:
        *parents, last = path.split(".")
        target = value
        for key in parents:
            target = target.get(key) if isinstance(target, dict) else None
        if isinstance(target, dict):
            target.pop(last, None)
    return value


class Vectors(unittest.TestCase):
    def test_a_fresh_server_answers_every_vector(self) -> None:
        with open(VECTORS) as file:
            vectors = json.load(file)
        self.assertEqual(vectors["protocol"], 1)
        self.assertGreater(len(vectors["cases"]), 40)
        server = Server()
        peer = RawPeer(server.endpoint)
        try:
            for case in vectors["cases"]:
                peer.send(bytes.fromhex(case["request"]))
                body = peer.receive_bytes(timeout=10)
                self.assertIsNotNone(body, f"{case['name']}: no response")
                actual = without(msgpack.unpackb(body, raw=False), case["ignore"])
                expected = without(msgpack.unpackb(bytes.fromhex(case["response"]), raw=False), case["ignore"])
                self.assertEqual(actual, expected, case["name"])
        finally:
            peer.close()
            server.stop()

    def test_ignored_paths_name_keys_of_the_expected_responses(self) -> None:
        with open(VECTORS) as file:
            cases = json.load(file)["cases"]
        for case in cases:
            response = msgpack.unpackb(bytes.fromhex(case["response"]), raw=False)
            for path in case["ignore"]:
                with self.subTest(case=case["name"], path=path):
                    target = response
                    for key in path.split("."):
                        self.assertIn(key, target)
                        target = target[key]


if __name__ == "__main__":
    unittest.main()
