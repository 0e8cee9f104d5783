import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ScanContext } from "../detector.ts";
import { isBic, swiftDetector } from "./swift.ts";

const bics = (text: string, context?: ScanContext) =>
  swiftDetector.scan(text, context).map((f) => text.slice(f.start, f.end));

describe("swift/bic detector", () => {
  test("finds 8- and 11-character codes next to swift or bic", () => {
    assert.deepEqual(bics("SWIFT: DEUTDEFF"), ["DEUTDEFF"]);
    assert.deepEqual(bics("bic NWBKGB2L"), ["NWBKGB2L"]);
    assert.deepEqual(bics("swift code DEUTDEFF500"), ["DEUTDEFF500"]);
    assert.deepEqual(bics("CHASUS33", { key: "swiftCode" }), ["CHASUS33"]);
    assert.deepEqual(bics("BOFAUS3NXXX", { before: "BIC" }), ["BOFAUS3NXXX"]);
  });

  test("reports exact spans", () => {
    assert.deepEqual(swiftDetector.scan("bic=DEUTDEFF"), [
      { start: 4, end: 12, detector: "swift" },
    ]);
  });

  test("refuses codes without context, since they look like words", () => {
    assert.deepEqual(bics("DEUTDEFF"), []);
    assert.deepEqual(bics("status DEPLOYED"), []);
    assert.deepEqual(bics("DEUTDEFF", { key: "name" }), []);
  });

  test("refuses unknown countries, wrong lengths, lower case and glued tokens", () => {
    assert.equal(isBic("DEUTZZFF"), false);
    assert.equal(isBic("DEUTDEF"), false);
    assert.equal(isBic("DEUTDEFF5"), false);
    assert.equal(isBic("DEU1DEFF"), false);
    assert.deepEqual(bics("swift deutdeff"), []);
    assert.deepEqual(bics("swift DEUTDEFF5"), []);
    assert.deepEqual(bics("swift XDEUTDEFF"), []);
  });

  test("context must be near the code", () => {
    assert.deepEqual(bics(`swift ${"x ".repeat(20)}DEUTDEFF`), []);
  });

  test("partial masking keeps bank and country", () => {
    assert.equal(swiftDetector.mask("DEUTDEFF500", "partial"), "DEUTDE*****");
    assert.equal(swiftDetector.mask("DEUTDEFF", "full"), "[swift]");
  });
});
