import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { emailDetector as detector } from "./email.ts";

function found(text: string): string[] {
  return detector.scan(text).map((f) => text.slice(f.start, f.end));
}

describe("email detector", () => {
  test("finds addresses in text, in order", () => {
    assert.deepEqual(found("contact jane.doe+k8s@example.co.uk or ops@corp.example."), [
      "jane.doe+k8s@example.co.uk",
      "ops@corp.example",
    ]);
    assert.deepEqual(found("<a.b@c.io>"), ["a.b@c.io"]);
    assert.deepEqual(found("mailto:alice@example.org"), ["alice@example.org"]);
  });

  test("ignores user@host without a dotted domain, image digests and versions", () => {
    assert.deepEqual(found("ssh admin@bastion"), []);
    assert.deepEqual(found("docker.io/library/nginx@sha256:0123456789abcdef0123456789abcdef"), []);
    assert.deepEqual(found("ghcr.io/org/app@v1.2.3"), []);
    assert.deepEqual(found("npm i left-pad@1.3.0"), []);
    assert.deepEqual(found("@ alone and trailing@"), []);
  });

  test("ignores URL userinfo, which is the connection-string detector's", () => {
    assert.deepEqual(found("https://user:pass@db.example.com/x"), []);
  });

  test("ignores decoys", () => {
    assert.deepEqual(
      found("3f2504e0-4f89-11d3-9a0c-0305e82c3301 10.0.0.1 2024-05-01T10:00:00Z"),
      [],
    );
  });

  test("partial keeps the first character and the domain", () => {
    assert.equal(detector.mask("jane@example.com", "partial"), "j***@example.com");
    assert.equal(detector.mask("jane@example.com", "full"), "[email]");
  });

  test("hash ignores case, so auditors can correlate one person", () => {
    const key = new Uint8Array([9]);
    assert.equal(
      detector.mask("Jane@Example.com", "hash", key),
      detector.mask("jane@example.com", "hash", key),
    );
    assert.match(detector.mask("jane@example.com", "hash", key), /^\[email:[0-9a-f]{16}\]$/);
  });
});
