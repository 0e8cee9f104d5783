import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { jwtDetector } from "./jwt.ts";

// The example token shown on jwt.io.
const JWT_IO =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
const HEADER = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

function found(text: string): string[] {
  return jwtDetector.scan(text).map((f) => text.slice(f.start, f.end));
}

describe("jwt detector", () => {
  test("finds the jwt.io example token alone and inside a header line", () => {
    assert.deepEqual(found(JWT_IO), [JWT_IO]);
    assert.deepEqual(found(`Authorization: Bearer ${JWT_IO}\n`), [JWT_IO]);
  });

  test("finds two tokens in one string, in order", () => {
    assert.deepEqual(found(`a=${JWT_IO} b="${JWT_IO}"`), [JWT_IO, JWT_IO]);
  });

  test("finds an unsigned token (alg none, empty signature)", () => {
    const header = Buffer.from('{"alg":"none"}').toString("base64url");
    const token = `${header}.eyJzdWIiOiJ4In0.`;
    assert.deepEqual(found(`token ${token} end`), [token]);
  });

  test("ignores base64 JSON that is not a JOSE header", () => {
    const config = Buffer.from('{"apiVersion":"v1","kind":"Config"}').toString("base64url");
    assert.ok(config.startsWith("eyJ"));
    assert.deepEqual(found(`${config}.${config}.abc`), []);
    assert.deepEqual(found(config), []);
  });

  test("ignores a JOSE header without payload, and five-part JWE", () => {
    assert.deepEqual(found(`${HEADER}.`), []);
    assert.deepEqual(found(`${HEADER}..sig`), []);
    assert.deepEqual(found(`${HEADER}.a.b.c.d`), []);
  });

  test("ignores eyJ inside a longer base64 run", () => {
    assert.deepEqual(found(`AAAA${JWT_IO}`), []);
  });

  test("partial keeps the header, full leaves only the tag, hash is keyed", () => {
    const partial = jwtDetector.mask(JWT_IO, "partial");
    assert.ok(partial.startsWith(`${HEADER}.***`));
    assert.equal(partial.length, JWT_IO.length);
    assert.equal(jwtDetector.mask(JWT_IO, "full"), "[jwt]");
    const a = jwtDetector.mask(JWT_IO, "hash", new Uint8Array([1]));
    const b = jwtDetector.mask(JWT_IO, "hash", new Uint8Array([2]));
    assert.match(a, /^\[jwt:[0-9a-f]{16}\]$/);
    assert.notEqual(a, b);
  });
});
