import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { applyMaskStyle, maskFull, maskHash, maskKeeping } from "./mask-style.ts";

describe("mask styles", () => {
  test("maskKeeping keeps chosen ends and every separator", () => {
    assert.equal(maskKeeping("123-45-6789", 0, 4), "***-**-6789");
    assert.equal(maskKeeping("GB82 WEST 12", 2, 2), "GB** **** 12");
    assert.equal(maskKeeping("abc", 2, 2), "abc");
    assert.equal(maskKeeping("", 0, 4), "");
  });

  test("maskFull keeps nothing of the value", () => {
    assert.equal(maskFull("ssn"), "[ssn]");
  });

  test("maskHash is keyed, stable and ignores separators and case", () => {
    const key = new TextEncoder().encode("k");
    const tag = maskHash("iban", "gb82 west", key);
    assert.match(tag, /^\[iban:[0-9a-f]{16}\]$/);
    assert.equal(maskHash("iban", "GB82WEST", key), tag);
    assert.notEqual(maskHash("iban", "GB82WEST", new TextEncoder().encode("j")), tag);
  });

  test("applyMaskStyle refuses to emit an unkeyed hash", () => {
    const partial = (v: string) => v.toUpperCase();
    assert.equal(applyMaskStyle("x", "v", "partial", undefined, partial), "V");
    assert.equal(applyMaskStyle("x", "v", "hash", undefined, partial), "[x]");
    assert.equal(applyMaskStyle("x", "v", "hash", new Uint8Array(), partial), "[x]");
  });
});
