"""The ``.APIKEY`` file: an API key saved to disk, ``DISPLAY_NAME.APIKEY``.

The same format as the Rust client's ``keyward_client::key_file`` (its module
documentation is the specification; ``crates/keyward-core/testdata/
apikey-file-vectors.json`` holds the test vectors this module is checked
against)::

    # Keyward API key. Anyone holding it can act as its owner: keep this file secret.
    name = accounts/acme/users/alice/apiKeys/0123456789abcdef0123
    display_name = CI deploys
    key = kw_ak_0123456789abcdef0123_16qJFWMMHFy3xDdLmvUeyc2S6FrWRhJP51HsvDYdz9cArV58

Save the key of a ``CreateApiKey`` response, and read it back::

    response = api_keys.CreateApiKey(request, metadata=bearer(admin_key))
    path = ApiKeyFile.from_create_response(response).write_new(".")
    key = ApiKeyFile.read(path).key

:meth:`ApiKeyFile.write_new` creates the file with mode 0600 and never
overwrites one. The key never appears in ``repr`` or in an error.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import InitVar, dataclass, field
from pathlib import Path

__all__ = [
    "EXTENSION",
    "ApiKeyFile",
    "KeyFileError",
    "ParseError",
    "check_api_key",
    "file_name",
]

#: The extension of API key files.
EXTENSION = "APIKEY"

HEADER = "# Keyward API key. Anyone holding it can act as its owner: keep this file secret."
#: Files larger than this are not API key files and are refused unread.
MAX_FILE_LEN = 64 * 1024

_API_KEY_PREFIX = "kw_ak_"
_ID_LEN = 20
_SECRET_LEN = 32
_CHECKSUM_LEN = 4
_MAX_KEY_LEN = 256
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_VALUE = {c: i for i, c in enumerate(_BASE58)}
_HEX = frozenset("0123456789abcdef")


class KeyFileError(Exception):
    """An API key file could not be written or read. Never carries the key."""


class ParseError(KeyFileError):
    """The text is not an API key file.

    ``kind`` is one of ``"syntax"``, ``"duplicate_field"``, ``"missing_key"``,
    ``"invalid_key"`` and ``"invalid_value"``; ``line`` counts from 1 (0 when
    no line is concerned).
    """

    def __init__(self, kind: str, message: str, line: int = 0) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.kind = kind
        self.line = line


def _base58_decode(text: str) -> bytes | None:
    number = 0
    for char in text:
        value = _BASE58_VALUE.get(char)
        if value is None:
            return None
        number = number * 58 + value
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + number.to_bytes((number.bit_length() + 7) // 8, "big")


def check_api_key(key: str) -> None:
    """Raises :class:`ParseError` (kind ``invalid_key``) unless ``key`` is a
    well-formed Keyward API key: ``kw_ak_``, a 20-hex-digit id, and a base58
    body whose CRC32 checksum matches. This catches typos and truncation; only
    the server knows whether the key is live."""

    def invalid(why: str) -> ParseError:
        return ParseError("invalid_key", f"not a Keyward API key: {why}")

    if len(key) > _MAX_KEY_LEN:
        raise invalid("too long")
    if not key.startswith("kw_"):
        raise invalid("no kw_ prefix")
    if not all((c.isascii() and c.isalnum()) or c == "_" for c in key):
        raise invalid("a character outside letters, digits and '_'")
    if not key.startswith(_API_KEY_PREFIX):
        raise invalid("not an API key (kw_ak_)")
    key_id, sep, body = key[len(_API_KEY_PREFIX):].partition("_")
    if not sep:
        raise invalid("malformed")
    if len(key_id) != _ID_LEN or not set(key_id) <= _HEX:
        raise invalid("malformed key id")
    payload = _base58_decode(body)
    if payload is None:
        raise invalid("malformed body")
    if len(payload) != _SECRET_LEN + _CHECKSUM_LEN:
        raise invalid("wrong length")
    secret, checksum = payload[:_SECRET_LEN], payload[_SECRET_LEN:]
    expected = zlib.crc32(f"{_API_KEY_PREFIX}{key_id}_".encode() + secret).to_bytes(4, "big")
    if checksum != expected:
        raise invalid("checksum does not match")


def file_name(display_name: str, key_id: str) -> str:
    """``DISPLAY_NAME.APIKEY``, safe on every filesystem, as the server's
    ``suggested_file_name``: the display name trimmed, spaces made ``_``, only
    ASCII letters, digits, ``.``, ``_`` and ``-`` kept, no leading dot; when
    nothing is left, ``kw_ak_{key_id}.APIKEY``."""
    stem = "".join(
        c for c in display_name.strip().replace(" ", "_")
        if (c.isascii() and c.isalnum()) or c in "_-."
    ).lstrip(".")
    return f"{stem or _API_KEY_PREFIX + key_id}.{EXTENSION}"


def _one_line(field_name: str, value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        raise ParseError("invalid_value", f"`{field_name}` must be one line without control characters")
    return value or None


@dataclass(frozen=True)
class ApiKeyFile:
    """An API key with what identifies it, as saved in a ``.APIKEY`` file."""

    key: str = field(repr=False)
    name: str | None = None
    display_name: str | None = None
    #: False when the values come from a file, which :meth:`parse` checked.
    check_values: InitVar[bool] = True

    def __post_init__(self, check_values: bool) -> None:
        check_api_key(self.key)
        if check_values:
            object.__setattr__(self, "name", _one_line("name", self.name))
            object.__setattr__(self, "display_name", _one_line("display_name", self.display_name))

    @classmethod
    def from_create_response(cls, response) -> ApiKeyFile:
        """The file of a key just created (a ``CreateApiKeyResponse``). A
        retried create's response carries no key: :class:`ParseError`
        ``missing_key``."""
        if not response.key:
            raise ParseError("missing_key", "the response carries no key (a retried create)")
        return cls(response.key, response.api_key.name, response.api_key.display_name)

    def file_name(self) -> str:
        """The name to save the file under: see :func:`file_name`."""
        key_id = self.key[len(_API_KEY_PREFIX):len(_API_KEY_PREFIX) + _ID_LEN]
        return file_name(self.display_name or "", key_id)

    def to_text(self) -> str:
        """The file's contents, in the documented format."""
        lines = [HEADER]
        if self.name:
            lines.append(f"name = {self.name}")
        if self.display_name:
            lines.append(f"display_name = {self.display_name}")
        lines.append(f"key = {self.key}")
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> ApiKeyFile:
        """Reads the documented format; :class:`ParseError` says what is wrong."""
        values: dict[str, str] = {}
        # Lines end at LF; a CR before it is part of the line end.
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for number, raw in enumerate(lines, start=1):
            line = raw.removesuffix("\r").strip()
            if not line or line.startswith("#"):
                continue
            name, sep, value = line.partition("=")
            if sep:
                name, value = name.strip(), value.strip()
            elif line.startswith("kw_"):  # a lone key: keys hold no '='
                name, value = "key", line
            else:
                raise ParseError("syntax", "expected `field = value`", number)
            if name in ("key", "name", "display_name"):
                if name in values:
                    raise ParseError("duplicate_field", f"`{name}` appears a second time", number)
                if name == "key":
                    try:
                        check_api_key(value)
                    except ParseError as err:
                        raise ParseError("invalid_key", str(err), number) from None
                values[name] = value
            elif not name or not all(c.islower() and c.isascii() or c == "_" for c in name):
                raise ParseError("syntax", "expected `field = value`", number)
        if "key" not in values:
            raise ParseError("missing_key", "no `key = …` line")
        return cls(values["key"], values.get("name") or None, values.get("display_name") or None, False)

    def write_new(self, directory: str | os.PathLike[str] = ".") -> Path:
        """Writes the file into ``directory`` under :meth:`file_name` and
        returns its path. See :meth:`write_new_at`."""
        path = Path(directory) / self.file_name()
        self.write_new_at(path)
        return path

    def write_new_at(self, path: str | os.PathLike[str]) -> None:
        """Creates ``path`` with mode 0600 and writes the key into it. Raises
        :class:`FileExistsError` if it exists (an API key file is never
        overwritten); leaves nothing behind if writing fails."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            os.fchmod(fd, 0o600)  # exactly 0600, whatever the umask took away
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as file:
                fd = -1
                file.write(self.to_text())
                file.flush()
                os.fsync(file.fileno())
        except BaseException:
            if fd >= 0:
                os.close(fd)
            Path(path).unlink(missing_ok=True)
            raise

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> ApiKeyFile:
        """Reads an API key file; :class:`KeyFileError` if it is not one."""
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_LEN + 1)
        if len(data) > MAX_FILE_LEN:
            raise KeyFileError(f"{path}: larger than {MAX_FILE_LEN} bytes, not an API key file")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise KeyFileError(f"{path}: not UTF-8 text, not an API key file") from None
        try:
            return cls.parse(text)
        except ParseError as err:
            located = ParseError(err.kind, f"{path}: {err}")
            located.line = err.line
            raise located from None
