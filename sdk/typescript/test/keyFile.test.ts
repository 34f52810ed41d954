/**
 * keyFile against the published .APIKEY vectors
 * (crates/keyward-core/testdata/apikey-file-vectors.json), which the Rust
 * client and the Python SDK check too.
 *
 *     npm run build && npm test
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";

import { ApiKeyFile, checkApiKey, KeyFileError, ParseError } from "../src/index.js";

interface ReadCase {
  name: string;
  text: string;
  error?: string;
  expect?: { key: string; name: string | null; display_name: string | null };
}
interface WriteCase {
  name: string;
  key: string;
  resource_name: string | null;
  display_name: string | null;
  file_name: string;
  text: string;
}

// dist/test/ → the repository root is four levels up.
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
const vectors = JSON.parse(
  readFileSync(join(root, "crates/keyward-core/testdata/apikey-file-vectors.json"), "utf-8"),
) as { read: ReadCase[]; write: WriteCase[] };

function parseError(call: () => unknown): ParseError {
  try {
    call();
  } catch (error) {
    assert.ok(error instanceof ParseError, `not a ParseError: ${error}`);
    return error;
  }
  assert.fail("no error");
}

test("read vectors", () => {
  assert.ok(vectors.read.length >= 15);
  for (const c of vectors.read) {
    if (c.error !== undefined) {
      assert.equal(parseError(() => ApiKeyFile.parse(c.text)).kind, c.error, c.name);
    } else {
      const file = ApiKeyFile.parse(c.text);
      assert.equal(file.key, c.expect!.key, c.name);
      assert.equal(file.name ?? null, c.expect!.name, c.name);
      assert.equal(file.displayName ?? null, c.expect!.display_name, c.name);
    }
  }
});

test("write vectors", () => {
  assert.ok(vectors.write.length >= 5);
  for (const c of vectors.write) {
    const file = new ApiKeyFile(c.key, c.resource_name ?? undefined, c.display_name ?? undefined);
    assert.equal(file.toText(), c.text, c.name);
    assert.equal(file.fileName(), c.file_name, c.name);
    assert.equal(ApiKeyFile.parse(c.text).key, c.key, c.name);
  }
});

test("writeNew: mode 0600, never overwrites, reads back", () => {
  const c = vectors.write[0]!;
  const file = new ApiKeyFile(c.key, c.resource_name ?? undefined, c.display_name ?? undefined);
  const directory = mkdtempSync(join(tmpdir(), "keyward-"));
  try {
    const path = file.writeNew(directory);
    assert.equal(path, join(directory, c.file_name));
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(readFileSync(path, "utf-8"), c.text);
    const again = ApiKeyFile.read(path);
    assert.equal(again.key, c.key);
    assert.equal(again.displayName, file.displayName);
    assert.throws(() => file.writeNew(directory), { code: "EEXIST" });
    assert.equal(readFileSync(path, "utf-8"), c.text);

    const big = join(directory, "big.APIKEY");
    writeFileSync(big, "#".repeat(64 * 1024 + 1));
    assert.throws(() => ApiKeyFile.read(big), (error) => error instanceof KeyFileError && /larger than/.test(error.message));
    const binary = join(directory, "binary.APIKEY");
    writeFileSync(binary, Buffer.from([0xff, 0xfe, 0x20]));
    assert.throws(() => ApiKeyFile.read(binary), (error) => error instanceof KeyFileError && /not UTF-8/.test(error.message));
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test("the key is never shown", () => {
  const c = vectors.write[0]!;
  const file = new ApiKeyFile(c.key, c.resource_name ?? undefined, c.display_name ?? undefined);
  assert.ok(!inspect(file).includes(c.key));
  assert.ok(!JSON.stringify(file).includes(c.key));
  const typo = vectors.read.find((r) => r.name === "checksum-mismatch")!;
  assert.ok(!parseError(() => ApiKeyFile.parse(typo.text)).message.includes("kw_ak_"));
  assert.equal(parseError(() => new ApiKeyFile(c.key, undefined, "two\nlines")).kind, "invalid_value");
  assert.equal(parseError(() => checkApiKey(`Bearer ${c.key}`)).kind, "invalid_key");
});
