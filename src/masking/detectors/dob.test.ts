import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ScanContext } from "../detector.ts";
import { dobDetector as detector } from "./dob.ts";

function found(text: string, context?: ScanContext): string[] {
  return detector.scan(text, context).map((f) => text.slice(f.start, f.end));
}

describe("date of birth detector", () => {
  test("finds a date under a birth-like key, in every supported form", () => {
    for (const date of [
      "1985-03-12",
      "1985/3/12",
      "12/03/1985",
      "03/31/1985",
      "12.03.1985",
      "03-12-85",
      "12 March 1985",
      "3rd Sep 1999",
      "March 12, 1985",
    ]) {
      assert.deepEqual(found(date, { key: "dateOfBirth" }), [date], date);
    }
    assert.deepEqual(found("1985-03-12", { key: "DOB" }), ["1985-03-12"]);
  });

  test("finds a date just after a context word in text", () => {
    assert.deepEqual(found("name=Jane Doe dob=1985-03-12 city=Leeds"), ["1985-03-12"]);
    assert.deepEqual(found("Born on 12 March 1985 in Leeds"), ["12 March 1985"]);
    assert.deepEqual(found("date of birth: 03/31/1985"), ["03/31/1985"]);
    assert.deepEqual(found("12/03/1985", { before: "Birthdate" }), ["12/03/1985"]);
  });

  test("ignores dates without context: timestamps, release dates", () => {
    assert.deepEqual(found("creationTimestamp: 2024-05-01T10:00:00Z"), []);
    assert.deepEqual(found("1985-03-12", { key: "creationTimestamp" }), []);
    assert.deepEqual(found("released 1985-03-12"), []);
  });

  test("a context word does not reach dates far away", () => {
    assert.deepEqual(found(`dob field removed; ${"x".repeat(30)} at 1985-03-12`), []);
  });

  test("ignores impossible dates, future years and version numbers", () => {
    for (const value of ["1985-02-30", "1985-13-01", "31/31/1985", "2999-01-01", "1.2.2024.5"]) {
      assert.deepEqual(found(value, { key: "birthDate" }), [], value);
    }
    assert.deepEqual(found("10.0.0.12", { key: "dob" }), []);
    assert.deepEqual(found("3f2504e0-4f89-11d3-9a0c-0305e82c3301", { key: "dob" }), []);
  });

  test("partial keeps the year only; full leaves only the tag", () => {
    assert.equal(detector.mask("1985-03-12", "partial"), "1985-**-**");
    assert.equal(detector.mask("12 March 1985", "partial"), "** ***** 1985");
    assert.equal(detector.mask("03-12-85", "partial"), "**-**-**");
    assert.equal(detector.mask("1985-03-12", "full"), "[dob]");
    assert.match(
      detector.mask("1985-03-12", "hash", new Uint8Array([1])),
      /^\[dob:[0-9a-f]{16}\]$/,
    );
  });
});
