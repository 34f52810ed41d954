#!/usr/bin/env python3
"""Writes apikey-file-vectors.json: test vectors for `.APIKEY` files.

An independent implementation of the file's name and contents (Python 3
standard library only; it shares no code with the Rust crates), kept so the
vectors can be checked and regenerated:

    python3 generate_apikey_file_vectors.py > apikey-file-vectors.json

The format is specified by the module documentation of
`keyward_client::key_file` (crates/keyward-client/src/key_file.rs), the file
name by `keyward_core::key_file::file_name`.
"""

import json
import sys
import zlib

# The same independent base58 encoder as the HMAC vectors (next to this file).
from generate_hmac_vectors import base58

HEADER = "# Keyward API key. Anyone holding it can act as its owner: keep this file secret."


def token(kind: str, key_id: str, secret: bytes) -> str:
    """kw_{kind}_{id}_{base58(secret ‖ big-endian CRC32 of 'kw_{kind}_{id}_' ‖ secret)}."""
    assert len(secret) == 32 and len(key_id) == 20
    prefix = f"kw_{kind}_{key_id}_"
    checksum = zlib.crc32(prefix.encode() + secret).to_bytes(4, "big")
    return prefix + base58(secret + checksum)


def file_name(display_name: str, key_id: str) -> str:
    stem = "".join(
        c for c in display_name.strip().replace(" ", "_")
        if (c.isascii() and c.isalnum()) or c in "_-."
    ).lstrip(".")
    return f"{stem or 'kw_ak_' + key_id}.APIKEY"


def text(key: str, name: str | None, display_name: str | None) -> str:
    lines = [HEADER]
    if name:
        lines.append(f"name = {name}")
    if display_name:
        lines.append(f"display_name = {display_name}")
    lines.append(f"key = {key}")
    return "\n".join(lines) + "\n"


ID_A = "0123456789abcdef0123"
ID_B = "fedcba9876543210fedc"
KEY_A = token("ak", ID_A, bytes(range(32)))
KEY_B = token("ak", ID_B, bytes(range(255, 223, -1)))
SECRET = token("cs", ID_A, bytes(range(32)))
# KEY_A with one character of its body changed: the checksum no longer matches.
TYPO = KEY_A[:-1] + ("2" if KEY_A[-1] != "2" else "3")
NAME_A = f"accounts/acme/users/alice/apiKeys/{ID_A}"


def read(name, covers, file_text, expect=None, error=None):
    case = {"name": name, "covers": covers, "text": file_text}
    if error:
        case["error"] = error
    else:
        key, resource, display = expect
        case["expect"] = {"key": key, "name": resource, "display_name": display}
    return case


def write(name, covers, key, resource, display, key_id):
    return {
        "name": name,
        "covers": covers,
        "key": key,
        "resource_name": resource,
        "display_name": display,
        "file_name": file_name(display or "", key_id),
        "text": text(key, resource, display and display.strip()),
    }


VECTORS = {
    "read": [
        read("as-written", "what Keyward writes: header comment, name, display_name, key",
             text(KEY_A, NAME_A, "CI deploys"), expect=(KEY_A, NAME_A, "CI deploys")),
        read("crlf", "CRLF line ends are read like LF",
             text(KEY_A, NAME_A, "CI deploys").replace("\n", "\r\n"),
             expect=(KEY_A, NAME_A, "CI deploys")),
        read("lone-key", "a file holding only a pasted key", KEY_B + "\n",
             expect=(KEY_B, None, None)),
        read("lone-key-no-newline", "no final newline", KEY_B, expect=(KEY_B, None, None)),
        read("spaces-comments-blank-lines",
             "indented comments, blank lines, spaces around field, '=' and value",
             f"\n   # saved by hand\n\n  display_name=  Nightly export  \n\tkey   =   {KEY_B}\t\n",
             expect=(KEY_B, None, "Nightly export")),
        read("unknown-fields-ignored", "lowercase fields this version does not know are ignored",
             f"created_at = 2026-11-23T10:00:00Z\nkey = {KEY_A}\nowner_email = a@acme.example\n",
             expect=(KEY_A, None, None)),
        read("value-holds-equals", "a line splits at the first '=' only",
             f"display_name = a=b == c\nkey = {KEY_A}\n", expect=(KEY_A, None, "a=b == c")),
        read("empty-values-are-absent", "an empty name or display_name is as if absent",
             f"name =\ndisplay_name =   \nkey = {KEY_A}\n", expect=(KEY_A, None, None)),
        read("empty-file", "no key at all", "", error="missing_key"),
        read("no-key-line", "name and display name but no key",
             f"{HEADER}\nname = {NAME_A}\ndisplay_name = CI deploys\n", error="missing_key"),
        read("key-twice", "the same key twice is still a duplicate",
             f"key = {KEY_A}\nkey = {KEY_A}\n", error="duplicate_field"),
        read("display-name-twice", "any known field at most once",
             f"display_name = one\ndisplay_name = two\nkey = {KEY_A}\n", error="duplicate_field"),
        read("checksum-mismatch", "a mistyped key is refused when read",
             f"key = {TYPO}\n", error="invalid_key"),
        read("client-secret", "a client secret (kw_cs_) is not an API key",
             f"key = {SECRET}\n", error="invalid_key"),
        read("bearer-prefix", "the key is the token alone, not an authorization header value",
             f"key = Bearer {KEY_A}\n", error="invalid_key"),
        read("lone-not-a-key", "a lone kw_ line is taken as a key and checked",
             "kw_ak_not-a-key\n", error="invalid_key"),
        read("not-field-value", "a line that is neither comment, field = value nor a lone key",
             f"hello world\nkey = {KEY_A}\n", error="syntax"),
        read("uppercase-field", "fields are lowercase", f"Key = {KEY_A}\n", error="syntax"),
        read("empty-field", "a line starting with '='", f"= {KEY_A}\n", error="syntax"),
    ],
    "write": [
        write("full", "name, display name, key; a space in the display name becomes '_'",
              KEY_A, NAME_A, "CI deploys", ID_A),
        write("no-display-name", "no name or display name: the key's public prefix names the file",
              KEY_B, None, None, ID_B),
        write("path-traversal", "'/' is dropped and leading dots removed: the file stays in its folder",
              KEY_A, NAME_A, "../../etc/passwd", ID_A),
        write("non-ascii", "characters outside ASCII letters, digits, '.', '_', '-' are dropped",
              KEY_A, NAME_A, "Déploiement prod ✓", ID_A),
        write("nothing-left", "nothing usable in the display name: the key's prefix names the file",
              KEY_B, None, "✓✓", ID_B),
        write("trimmed", "surrounding spaces are trimmed, in the file and in its name",
              KEY_A, None, "  padded name  ", ID_A),
    ],
}

if __name__ == "__main__":
    json.dump(VECTORS, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
