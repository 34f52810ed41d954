/**
 * The `.APIKEY` file: an API key saved to disk, `DISPLAY_NAME.APIKEY`.
 *
 * The same format as the Rust client's `keyward_client::key_file` (its module
 * documentation is the specification; `crates/keyward-core/testdata/
 * apikey-file-vectors.json` holds the test vectors this module is checked
 * against):
 *
 *     # Keyward API key. Anyone holding it can act as its owner: keep this file secret.
 *     name = accounts/acme/users/alice/apiKeys/0123456789abcdef0123
 *     display_name = CI deploys
 *     key = kw_ak_0123456789abcdef0123_16qJFWMMHFy3xDdLmvUeyc2S6FrWRhJP51HsvDYdz9cArV58
 *
 * Save the key of a `CreateApiKey` response, and read it back:
 *
 *     const path = ApiKeyFile.fromCreateResponse(response).writeNew(".");
 *     const { key } = ApiKeyFile.read(path);
 *
 * `writeNew` creates the file with mode 0600 and never overwrites one. The key
 * never appears in an error, in `JSON.stringify` or in `util.inspect`.
 */
import { closeSync, fchmodSync, fsyncSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { inspect } from "node:util";

/** The extension of API key files. */
export const EXTENSION = "APIKEY";

const HEADER = "# Keyward API key. Anyone holding it can act as its owner: keep this file secret.";
/** Files larger than this are not API key files and are refused unread. */
export const MAX_FILE_LEN = 64 * 1024;

const API_KEY_PREFIX = "kw_ak_";
const ID_LEN = 20;
const SECRET_LEN = 32;
const CHECKSUM_LEN = 4;
const MAX_KEY_LEN = 256;
const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** Why an API key file could not be written or read. Never carries the key. */
export class KeyFileError extends Error {
  override name = "KeyFileError";
}

/** What is wrong with the text of an API key file. */
export type ParseErrorKind = "syntax" | "duplicate_field" | "missing_key" | "invalid_key" | "invalid_value";

/** The text is not an API key file; `line` counts from 1 (0: no line concerned). */
export class ParseError extends KeyFileError {
  override name = "ParseError";
  constructor(
    readonly kind: ParseErrorKind,
    message: string,
    readonly line = 0,
  ) {
    super(line ? `line ${line}: ${message}` : message);
  }
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC32 (IEEE), as zlib computes it. */
function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function base58Decode(text: string): Uint8Array | undefined {
  let number = 0n;
  for (const char of text) {
    const value = BASE58.indexOf(char);
    if (value < 0) return undefined;
    number = number * 58n + BigInt(value);
  }
  const bytes: number[] = [];
  for (; number > 0n; number >>= 8n) bytes.unshift(Number(number & 0xffn));
  const zeros = text.length - text.replace(/^1+/, "").length;
  return Uint8Array.from([...new Array<number>(zeros).fill(0), ...bytes]);
}

/**
 * Throws a `ParseError` (kind `invalid_key`) unless `key` is a well-formed
 * Keyward API key: `kw_ak_`, a 20-hex-digit id, and a base58 body whose CRC32
 * checksum matches. This catches typos and truncation; only the server knows
 * whether the key is live.
 */
export function checkApiKey(key: string): void {
  const invalid = (why: string) => new ParseError("invalid_key", `not a Keyward API key: ${why}`);
  if (key.length > MAX_KEY_LEN) throw invalid("too long");
  if (!key.startsWith("kw_")) throw invalid("no kw_ prefix");
  if (!/^[A-Za-z0-9_]*$/.test(key)) throw invalid("a character outside letters, digits and '_'");
  if (!key.startsWith(API_KEY_PREFIX)) throw invalid("not an API key (kw_ak_)");
  const rest = key.slice(API_KEY_PREFIX.length);
  const sep = rest.indexOf("_");
  if (sep < 0) throw invalid("malformed");
  const keyId = rest.slice(0, sep);
  if (!/^[0-9a-f]{20}$/.test(keyId)) throw invalid("malformed key id");
  const payload = base58Decode(rest.slice(sep + 1));
  if (payload === undefined) throw invalid("malformed body");
  if (payload.length !== SECRET_LEN + CHECKSUM_LEN) throw invalid("wrong length");
  const prefix = new TextEncoder().encode(`${API_KEY_PREFIX}${keyId}_`);
  const signed = new Uint8Array(prefix.length + SECRET_LEN);
  signed.set(prefix);
  signed.set(payload.subarray(0, SECRET_LEN), prefix.length);
  const checksum = new DataView(payload.buffer, payload.byteOffset + SECRET_LEN, CHECKSUM_LEN).getUint32(0);
  if (checksum !== crc32(signed)) throw invalid("checksum does not match");
}

/**
 * `DISPLAY_NAME.APIKEY`, safe on every filesystem, as the server's
 * `suggestedFileName`: the display name trimmed, spaces made `_`, only ASCII
 * letters, digits, `.`, `_` and `-` kept, no leading dot; when nothing is
 * left, `kw_ak_{keyId}.APIKEY`.
 */
export function fileName(displayName: string, keyId: string): string {
  const stem = displayName
    .trim()
    .replaceAll(" ", "_")
    .replace(/[^A-Za-z0-9._-]/g, "")
    .replace(/^\.+/, "");
  return `${stem || API_KEY_PREFIX + keyId}.${EXTENSION}`;
}

function oneLine(field: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  // Unicode category Cc, as Rust's char::is_control.
  if (/[\u0000-\u001f\u007f-\u009f]/.test(trimmed)) {
    throw new ParseError("invalid_value", `\`${field}\` must be one line without control characters`);
  }
  return trimmed === "" ? undefined : trimmed;
}

const KNOWN_FIELDS = new Set(["key", "name", "display_name"]);

/** An API key with what identifies it, as saved in a `.APIKEY` file. */
export class ApiKeyFile {
  readonly #key: string;
  /** The key's resource name, if known. */
  readonly name: string | undefined;
  /** The key's display name (which names the file), if known. */
  readonly displayName: string | undefined;

  /** A file for `key`, which must be a well-formed Keyward API key. */
  constructor(key: string, name?: string, displayName?: string) {
    checkApiKey(key);
    this.#key = key;
    this.name = oneLine("name", name);
    this.displayName = oneLine("display_name", displayName);
  }

  /** The API key. */
  get key(): string {
    return this.#key;
  }

  /**
   * The file of a key just created (a `CreateApiKeyResponse`). A retried
   * create's response carries no key: `ParseError` `missing_key`.
   */
  static fromCreateResponse(response: {
    key: string;
    apiKey?: { name: string; displayName: string } | undefined;
  }): ApiKeyFile {
    if (response.key === "") {
      throw new ParseError("missing_key", "the response carries no key (a retried create)");
    }
    return new ApiKeyFile(response.key, response.apiKey?.name, response.apiKey?.displayName);
  }

  /** The name to save the file under: see `fileName`. */
  fileName(): string {
    const start = API_KEY_PREFIX.length;
    return fileName(this.displayName ?? "", this.#key.slice(start, start + ID_LEN));
  }

  /** The file's contents, in the documented format. */
  toText(): string {
    const lines = [HEADER];
    if (this.name) lines.push(`name = ${this.name}`);
    if (this.displayName) lines.push(`display_name = ${this.displayName}`);
    lines.push(`key = ${this.#key}`);
    return `${lines.join("\n")}\n`;
  }

  /** Reads the documented format; a `ParseError` says what is wrong. */
  static parse(text: string): ApiKeyFile {
    const values = new Map<string, string>();
    const lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    lines.forEach((raw, index) => {
      const number = index + 1;
      const line = raw.replace(/\r$/, "").trim();
      if (line === "" || line.startsWith("#")) return;
      let field: string;
      let value: string;
      const eq = line.indexOf("=");
      if (eq >= 0) {
        field = line.slice(0, eq).trim();
        value = line.slice(eq + 1).trim();
      } else if (line.startsWith("kw_")) {
        // A lone key: keys hold no '='.
        [field, value] = ["key", line];
      } else {
        throw new ParseError("syntax", "expected `field = value`", number);
      }
      if (KNOWN_FIELDS.has(field)) {
        if (values.has(field)) {
          throw new ParseError("duplicate_field", `\`${field}\` appears a second time`, number);
        }
        if (field === "key") {
          try {
            checkApiKey(value);
          } catch (error) {
            throw new ParseError("invalid_key", (error as Error).message, number);
          }
        }
        values.set(field, value);
      } else if (!/^[a-z_]+$/.test(field)) {
        throw new ParseError("syntax", "expected `field = value`", number);
      }
    });
    const key = values.get("key");
    if (key === undefined) throw new ParseError("missing_key", "no `key = …` line");
    return ApiKeyFile.#unchecked(key, values.get("name"), values.get("display_name"));
  }

  /** The values of a file `parse` read: checked there, kept as they are. */
  static #unchecked(key: string, name?: string, displayName?: string): ApiKeyFile {
    const file = new ApiKeyFile(key);
    (file as { name: string | undefined }).name = name || undefined;
    (file as { displayName: string | undefined }).displayName = displayName || undefined;
    return file;
  }

  /**
   * Writes the file into `directory` under `fileName()` and returns its path.
   * See `writeNewAt`.
   */
  writeNew(directory = "."): string {
    const path = join(directory, this.fileName());
    this.writeNewAt(path);
    return path;
  }

  /**
   * Creates `path` with mode 0600 and writes the key into it. Throws (code
   * `EEXIST`) if it exists: an API key file is never overwritten. Leaves
   * nothing behind if writing fails.
   */
  writeNewAt(path: string): void {
    const fd = openSync(path, "wx", 0o600);
    try {
      fchmodSync(fd, 0o600); // exactly 0600, whatever the umask took away
      writeSync(fd, this.toText());
      fsyncSync(fd);
    } catch (error) {
      closeSync(fd);
      unlinkSync(path);
      throw error;
    }
    closeSync(fd);
  }

  /** Reads an API key file; a `KeyFileError` if it is not one. */
  static read(path: string): ApiKeyFile {
    const fd = openSync(path, "r");
    const buffer = Buffer.alloc(MAX_FILE_LEN + 1);
    let length = 0;
    try {
      for (let n; length < buffer.length && (n = readSync(fd, buffer, length, buffer.length - length, null)) > 0; ) {
        length += n;
      }
    } finally {
      closeSync(fd);
    }
    if (length > MAX_FILE_LEN) {
      throw new KeyFileError(`${path}: larger than ${MAX_FILE_LEN} bytes, not an API key file`);
    }
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(buffer.subarray(0, length));
    } catch {
      throw new KeyFileError(`${path}: not UTF-8 text, not an API key file`);
    }
    try {
      return ApiKeyFile.parse(text);
    } catch (error) {
      if (error instanceof ParseError) error.message = `${path}: ${error.message}`;
      throw error;
    }
  }

  /** Never the key. */
  toJSON(): { name: string | undefined; displayName: string | undefined } {
    return { name: this.name, displayName: this.displayName };
  }

  /** Never the key. */
  [inspect.custom](): string {
    return `ApiKeyFile { name: ${this.name}, displayName: ${this.displayName} }`;
  }
}
