import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type CustomDetectorSpec, customDetector, customDetectorSchema } from "./custom.ts";
import type { ScanContext } from "./detector.ts";

function found(spec: CustomDetectorSpec, text: string, context?: ScanContext): string[] {
  return customDetector(spec)
    .scan(text, context)
    .map((f) => text.slice(f.start, f.end));
}

const employeeId: CustomDetectorSpec = { id: "employee-id", pattern: "EMP-[0-9]{6}" };

describe("custom detectors", () => {
  test("finds every match of the pattern, in order", () => {
    assert.deepEqual(found(employeeId, "EMP-123456 reports to EMP-654321"), [
      "EMP-123456",
      "EMP-654321",
    ]);
    assert.deepEqual(found(employeeId, "EMP-12345 and emp-123456"), []);
  });

  test("the i flag makes the pattern case-insensitive", () => {
    assert.deepEqual(found({ ...employeeId, flags: "i" }, "emp-123456"), ["emp-123456"]);
  });

  test("reports exact spans with the detector's id", () => {
    assert.deepEqual(customDetector(employeeId).scan("id EMP-123456."), [
      { start: 3, end: 13, detector: "employee-id" },
    ]);
  });

  test("indexes in UTF-16 code units, like the other detectors", () => {
    const text = "é😀 EMP-123456";
    assert.deepEqual(customDetector(employeeId).scan(text), [
      { start: 4, end: 14, detector: "employee-id" },
    ]);
  });

  describe("validators", () => {
    const cards: CustomDetectorSpec = {
      id: "store-card",
      pattern: "[0-9]{4}(?: ?[0-9]{4}){3}",
      validator: "luhn",
    };
    test("luhn keeps numbers that pass and drops those that fail", () => {
      assert.deepEqual(found(cards, "4111 1111 1111 1111 / 4111 1111 1111 1112"), [
        "4111 1111 1111 1111",
      ]);
    });

    const ibans: CustomDetectorSpec = {
      id: "iban-like",
      pattern: "[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?",
      validator: "mod97",
    };
    test("mod97 checks the ISO 7064 remainder of the compact value", () => {
      assert.deepEqual(found(ibans, "GB82 WEST 1234 5698 7654 32"), [
        "GB82 WEST 1234 5698 7654 32",
      ]);
      assert.deepEqual(found(ibans, "GB83 WEST 1234 5698 7654 32"), []);
    });

    const routing: CustomDetectorSpec = { id: "rtn", pattern: "\\b[0-9]{9}\\b", validator: "aba" };
    test("aba checks the 3-7-1 checksum and Federal Reserve prefix", () => {
      assert.deepEqual(found(routing, "021000021 and 021000022"), ["021000021"]);
    });
  });

  describe("context words", () => {
    const badge: CustomDetectorSpec = {
      id: "badge",
      pattern: "\\b[0-9]{5}\\b",
      contextWords: ["Badge", "door code"],
    };
    test("counts a match with a word just before it", () => {
      assert.deepEqual(found(badge, "badge 12345, in the meeting room 54321"), ["12345"]);
      assert.deepEqual(found(badge, "door code: 12345"), ["12345"]);
    });
    test("counts every match when the key or the text before names a word", () => {
      assert.deepEqual(found(badge, "12345 54321", { key: "badgeNumber" }), ["12345", "54321"]);
      assert.deepEqual(found(badge, "12345", { before: "new badge:" }), ["12345"]);
    });
    test("does not count a match without a word near it", () => {
      assert.deepEqual(found(badge, "room 12345"), []);
      assert.deepEqual(found(badge, "badge issued; see the list at floor plan 12345"), []);
      assert.deepEqual(found(badge, "12345", { key: "zipCode" }), []);
    });
  });

  test("partial masks keep the configured ends and the separators", () => {
    const detector = customDetector({ ...employeeId, mask: { keepFirst: 3, keepLast: 2 } });
    assert.equal(detector.mask("EMP-123456", "partial"), "EMP-****56");
    assert.equal(customDetector(employeeId).mask("EMP-123456", "partial"), "***-******");
    assert.equal(detector.mask("EMP-123456", "full"), "[employee-id]");
    assert.match(
      detector.mask("EMP-123456", "hash", new Uint8Array([1, 2, 3])),
      /^\[employee-id:[0-9a-f]{16}\]$/,
    );
  });

  test("a catastrophic-backtracking pattern runs in linear time and answers correctly", () => {
    const detector = customDetector({ id: "redos", pattern: "(a+)+$" });
    const text = `${"a".repeat(50_000)}!`;
    assert.deepEqual(detector.scan(text), []);
    assert.deepEqual(detector.scan("baaa"), [{ start: 1, end: 4, detector: "redos" }]);
  });

  describe("refuses bad specs with a message that says what is wrong", () => {
    const cases: Array<[string, CustomDetectorSpec, RegExp]> = [
      [
        "unbalanced group",
        { id: "x", pattern: "(EMP-[0-9]+" },
        /not valid RE2 syntax.*missing closing \)/,
      ],
      ["backreference", { id: "x", pattern: "(a)\\1" }, /not valid RE2 syntax.*escape/],
      ["lookahead", { id: "x", pattern: "a(?=b)" }, /not valid RE2 syntax/],
      ["bad repeat", { id: "x", pattern: "a{3,1}" }, /not valid RE2 syntax.*repeat/],
      ["empty match", { id: "x", pattern: "[0-9]*" }, /matches the empty string/],
      ["built-in id", { id: "card", pattern: "x" }, /built-in/],
    ];
    for (const [what, spec, message] of cases) {
      test(what, () => assert.throws(() => customDetector(spec), message));
    }
  });

  describe("schema", () => {
    test("accepts a full spec", () => {
      const spec = customDetectorSchema.parse({
        id: "store-card",
        pattern: "[0-9]{16}",
        flags: "i",
        validator: "luhn",
        contextWords: ["card"],
        mask: { keepFirst: 0, keepLast: 4 },
      });
      assert.equal(customDetector(spec).id, "store-card");
    });
    test("refuses unknown fields, validators, flags and built-in ids", () => {
      const bad = [
        { id: "x", pattern: "a", colour: "red" },
        { id: "x", pattern: "a", validator: "crc32" },
        { id: "x", pattern: "a", flags: "g" },
        { id: "X Y", pattern: "a" },
        { id: "iban", pattern: "a" },
        { id: "x", pattern: "" },
        { id: "x", pattern: "a", contextWords: [] },
        { id: "x", pattern: "a", mask: { keepLast: -1 } },
      ];
      for (const spec of bad) assert.equal(customDetectorSchema.safeParse(spec).success, false);
    });
  });
});
