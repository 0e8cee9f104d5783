import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ScanContext } from "../detector.ts";
import { phoneDetector as detector } from "./phone.ts";

function found(text: string, context?: ScanContext): string[] {
  return detector.scan(text, context).map((f) => text.slice(f.start, f.end));
}

describe("phone detector", () => {
  test("finds E.164 numbers anywhere, with or without separators", () => {
    assert.deepEqual(found("call +14155552671 now"), ["+14155552671"]);
    assert.deepEqual(found("UK office +44 20 7946 0958."), ["+44 20 7946 0958"]);
    assert.deepEqual(found("+1 (415) 555-2671"), ["+1 (415) 555-2671"]);
  });

  test("ignores + runs that are too short, too long or start with 0", () => {
    assert.deepEqual(found("+1234567"), []);
    assert.deepEqual(found("+1234567890123456"), []);
    assert.deepEqual(found("+0123456789"), []);
    assert.deepEqual(found("offset 2024-05-01T10:00:00+01:00 and 1+2345678901"), []);
  });

  test("finds national numbers only with a context word", () => {
    assert.deepEqual(found("phone: (415) 555-2671"), ["(415) 555-2671"]);
    assert.deepEqual(found("Tel 020 7946 0958"), ["020 7946 0958"]);
    assert.deepEqual(found("415-555-2671", { key: "mobileNumber" }), ["415-555-2671"]);
    assert.deepEqual(found("415.555.2671", { before: "fax" }), ["415.555.2671"]);
    assert.deepEqual(found("order 415-555-2671 shipped"), []);
    assert.deepEqual(found("415-555-2671", { key: "orderId" }), []);
    assert.deepEqual(found("415-555-2671", { key: "telemetryPort" }), []);
  });

  test("a context word does not reach numbers far away", () => {
    const text = `phone ok; ${"x".repeat(40)} ref 415-555-2671`;
    assert.deepEqual(found(text), []);
  });

  test("ignores dates, IPs, resourceVersions and uids even with a context word", () => {
    assert.deepEqual(found("phone updated 2024-05-01 from 192.168.100.200"), []);
    assert.deepEqual(found("123456789", { key: "resourceVersion" }), []);
    assert.deepEqual(found("3f2504e0-4f89-11d3-9a0c-0305e82c3301", { key: "phone" }), []);
    assert.deepEqual(found("phone app v1234567"), []);
  });

  test("finds two numbers in order", () => {
    assert.deepEqual(found("+14155552671, +442079460958"), ["+14155552671", "+442079460958"]);
  });

  test("partial keeps the layout and the last two digits", () => {
    assert.equal(detector.mask("+44 20 7946 0958", "partial"), "+** ** **** **58");
    assert.equal(detector.mask("(415) 555-2671", "partial"), "(***) ***-**71");
    assert.equal(detector.mask("(415) 555-2671", "full"), "[phone]");
  });

  test("hash depends on the digits only", () => {
    const key = new Uint8Array([5]);
    assert.equal(
      detector.mask("+1 415 555 2671", "hash", key),
      detector.mask("+14155552671", "hash", key),
    );
    assert.match(detector.mask("+14155552671", "hash", key), /^\[phone:[0-9a-f]{16}\]$/);
  });
});
