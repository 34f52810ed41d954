"""keyward.key_file against the published .APIKEY vectors
(crates/keyward-core/testdata/apikey-file-vectors.json), which the Rust client
and the TypeScript SDK check too.

    python -m unittest discover -s sdk/python/tests      # with keyward installed
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import unittest
from pathlib import Path

from keyward.key_file import ApiKeyFile, KeyFileError, ParseError, check_api_key

VECTORS = json.loads(
    (Path(__file__).resolve().parents[3] / "crates/keyward-core/testdata/apikey-file-vectors.json")
    .read_text(encoding="utf-8")
)


class ReadVectors(unittest.TestCase):
    def test_read(self) -> None:
        self.assertGreaterEqual(len(VECTORS["read"]), 15)
        for case in VECTORS["read"]:
            with self.subTest(case["name"]):
                if "error" in case:
                    with self.assertRaises(ParseError) as raised:
                        ApiKeyFile.parse(case["text"])
                    self.assertEqual(raised.exception.kind, case["error"], str(raised.exception))
                else:
                    parsed = ApiKeyFile.parse(case["text"])
                    self.assertEqual(parsed.key, case["expect"]["key"])
                    self.assertEqual(parsed.name, case["expect"]["name"])
                    self.assertEqual(parsed.display_name, case["expect"]["display_name"])


class WriteVectors(unittest.TestCase):
    def test_write(self) -> None:
        self.assertGreaterEqual(len(VECTORS["write"]), 5)
        for case in VECTORS["write"]:
            with self.subTest(case["name"]):
                file = ApiKeyFile(case["key"], case["resource_name"], case["display_name"])
                self.assertEqual(file.to_text(), case["text"])
                self.assertEqual(file.file_name(), case["file_name"])
                self.assertEqual(ApiKeyFile.parse(case["text"]).key, case["key"])

    def test_write_new_is_0600_and_never_overwrites(self) -> None:
        case = VECTORS["write"][0]
        file = ApiKeyFile(case["key"], case["resource_name"], case["display_name"])
        with tempfile.TemporaryDirectory() as directory:
            path = file.write_new(directory)
            self.assertEqual(path.name, case["file_name"])
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            self.assertEqual(path.read_text(encoding="utf-8"), case["text"])
            self.assertEqual(ApiKeyFile.read(path), file)
            with self.assertRaises(FileExistsError):
                file.write_new(directory)
            self.assertEqual(path.read_text(encoding="utf-8"), case["text"])

    def test_read_refuses_what_is_not_a_key_file(self) -> None:
        with tempfile.TemporaryDirectory() as directory:
            big = Path(directory) / "big.APIKEY"
            big.write_bytes(b"#" * (64 * 1024 + 1))
            with self.assertRaisesRegex(KeyFileError, "larger than"):
                ApiKeyFile.read(big)
            binary = Path(directory) / "binary.APIKEY"
            binary.write_bytes(b"\xff\xfe key")
            with self.assertRaisesRegex(KeyFileError, "not UTF-8"):
                ApiKeyFile.read(binary)


class Secrecy(unittest.TestCase):
    def test_key_never_shown(self) -> None:
        case = VECTORS["write"][0]
        file = ApiKeyFile(case["key"], case["resource_name"], case["display_name"])
        self.assertNotIn(case["key"], repr(file))
        typo = next(c for c in VECTORS["read"] if c["name"] == "checksum-mismatch")
        with self.assertRaises(ParseError) as raised:
            ApiKeyFile.parse(typo["text"])
        self.assertNotIn("kw_ak_", str(raised.exception))

    def test_values_must_be_one_line(self) -> None:
        case = VECTORS["write"][0]
        with self.assertRaises(ParseError) as raised:
            ApiKeyFile(case["key"], display_name="two\nlines")
        self.assertEqual(raised.exception.kind, "invalid_value")
        with self.assertRaises(ParseError):
            check_api_key("Bearer " + case["key"])


if __name__ == "__main__":
    unittest.main()
