import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ScanContext } from "../detector.ts";
import { isItin, isSsn, itinDetector, ssnDetector } from "./ssn.ts";

const ssns = (text: string, context?: ScanContext) =>
  ssnDetector.scan(text, context).map((f) => text.slice(f.start, f.end));
const itins = (text: string, context?: ScanContext) =>
  itinDetector.scan(text, context).map((f) => text.slice(f.start, f.end));

describe("ssn detector", () => {
  test("finds AAA-GG-SSSS with dashes or spaces", () => {
    assert.deepEqual(ssns("SSN 536-90-4399."), ["536-90-4399"]);
    assert.deepEqual(ssns("536 90 4399"), ["536 90 4399"]);
    assert.deepEqual(ssns("a 001-01-0001 b 772-12-3456"), ["001-01-0001", "772-12-3456"]);
  });

  test("reports exact spans", () => {
    assert.deepEqual(ssnDetector.scan("id=536-90-4399"), [{ start: 3, end: 14, detector: "ssn" }]);
  });

  test("finds nine plain digits only with context", () => {
    assert.deepEqual(ssns("536904399"), []);
    assert.deepEqual(ssns("536904399", { key: "employee_ssn" }), ["536904399"]);
    assert.deepEqual(ssns("social security 536904399"), ["536904399"]);
    assert.deepEqual(ssns("536904399", { before: "SSN:" }), ["536904399"]);
  });

  test("refuses area 000, 666 and 900–999, group 00, serial 0000", () => {
    for (const value of ["000-12-3456", "666-12-3456", "900-12-3456", "999-70-1234"]) {
      assert.equal(isSsn(value.replaceAll("-", "")), false, value);
      assert.deepEqual(ssns(value), [], value);
    }
    assert.deepEqual(ssns("536-00-4399 536-90-0000"), []);
  });

  test("refuses published and example values", () => {
    assert.deepEqual(ssns("078-05-1120 219-09-9999 457-55-5462 123-45-6789 111-11-1111"), []);
  });

  test("refuses mixed separators and other shapes", () => {
    assert.deepEqual(ssns("536-90 4399 5369-04-399 536-904-399 53-690-4399"), []);
  });

  test("refuses values glued into longer tokens", () => {
    for (const text of [
      "x536-90-4399",
      "536-90-4399x",
      "1536-90-4399",
      "536-90-43991",
      "v-536-90-4399",
    ]) {
      assert.deepEqual(ssns(text), [], text);
    }
  });

  test("masks keeping the last four and the dashes", () => {
    assert.equal(ssnDetector.mask("536-90-4399", "partial"), "***-**-4399");
    assert.equal(ssnDetector.mask("536904399", "partial"), "*****4399");
    assert.equal(ssnDetector.mask("536-90-4399", "full"), "[ssn]");
  });
});

describe("itin detector", () => {
  test("finds 9xx numbers with an ITIN group", () => {
    assert.deepEqual(itins("ITIN 912-70-1234"), ["912-70-1234"]);
    for (const group of ["50", "65", "70", "88", "90", "92", "94", "99"]) {
      assert.equal(isItin(`912${group}1234`), true, group);
    }
    assert.deepEqual(itins("912701234", { key: "itin" }), ["912701234"]);
  });

  test("refuses groups outside the ITIN ranges and non-9xx areas", () => {
    for (const group of ["00", "49", "66", "69", "89", "93"]) {
      assert.equal(isItin(`912${group}1234`), false, group);
    }
    assert.deepEqual(itins("536-70-4399 912-93-1234"), []);
    assert.deepEqual(itins("912701234"), []);
  });

  test("an ITIN is never an SSN and the other way round", () => {
    assert.deepEqual(ssns("912-70-1234"), []);
    assert.deepEqual(itins("536-90-4399"), []);
  });

  test("masks keeping the last four", () => {
    assert.equal(itinDetector.mask("912-70-1234", "partial"), "***-**-1234");
  });
});
