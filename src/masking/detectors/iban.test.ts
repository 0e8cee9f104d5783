import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ibanChecksumValid, ibanDetector, isIban } from "./iban.ts";

const found = (text: string) => ibanDetector.scan(text).map((f) => text.slice(f.start, f.end));

describe("iban detector", () => {
  // Examples from the SWIFT IBAN registry.
  const registryExamples = [
    "GB82WEST12345698765432",
    "DE89370400440532013000",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
    "CH9300762011623852957",
    "NO9386011117947",
    "BE68539007547034",
    "MT84MALT011000012345MTLCAST001S",
    "AT611904300234573201",
    "ES9121000418450200051332",
    // Countries added to the registry in recent releases.
    "BI4210000100010000332045181",
    "DJ2100010000000154000100186",
    "FK88SC123456789012",
    "HN88CABF00000000000250005469",
    "LY83002048000020100120361",
    "MN121234123456789123",
    "NI79BAMC00000000000003123123",
    "OM810180000001299123456",
    "RU0204452560040702810412345678901",
    "SD2129010501234001",
    "SO211000001001000100141",
    "YE15CBYE0001018861234567891234",
  ];
  for (const iban of registryExamples) {
    test(`finds the registry example ${iban}`, () => {
      assert.equal(isIban(iban), true);
      assert.deepEqual(found(`iban: ${iban}.`), [iban]);
    });
  }

  test("finds the printed form in groups of four", () => {
    assert.deepEqual(found("pay to GB82 WEST 1234 5698 7654 32 today"), [
      "GB82 WEST 1234 5698 7654 32",
    ]);
    assert.deepEqual(found("DE89 3704 0044 0532 0130 00"), ["DE89 3704 0044 0532 0130 00"]);
  });

  test("reports exact spans in order", () => {
    const text = "a=GB82WEST12345698765432,b=DE89370400440532013000";
    assert.deepEqual(ibanDetector.scan(text), [
      { start: 2, end: 24, detector: "iban" },
      { start: 27, end: 49, detector: "iban" },
    ]);
  });

  test("refuses a wrong check digit", () => {
    assert.equal(ibanChecksumValid("GB82WEST12345698765433"), false);
    assert.deepEqual(found("GB82WEST12345698765433 GB83WEST12345698765432"), []);
  });

  test("refuses the wrong length for the country and unknown countries", () => {
    assert.deepEqual(found("GB82WEST1234569876543"), []);
    assert.deepEqual(found("GB82WEST123456987654321"), []);
    assert.deepEqual(found("ZZ82WEST12345698765432"), []);
  });

  test("refuses irregular spacing and glued tokens", () => {
    assert.deepEqual(found("GB82WEST 1234 5698 7654 32"), []);
    assert.deepEqual(found("GB82 WEST  1234 5698 7654 32"), []);
    assert.deepEqual(found("XGB82WEST12345698765432"), []);
    assert.deepEqual(found("GB82WEST12345698765432X"), []);
    assert.deepEqual(found("acct-GB82WEST12345698765432"), []);
  });

  test("partial masking keeps the country code, the last two and the spacing", () => {
    assert.equal(
      ibanDetector.mask("GB82 WEST 1234 5698 7654 32", "partial"),
      "GB** **** **** **** **** 32",
    );
    assert.equal(ibanDetector.mask("DE89370400440532013000", "partial"), "DE******************00");
    assert.equal(ibanDetector.mask("DE89370400440532013000", "full"), "[iban]");
  });

  test("hash masking is the same for the spaced and the electronic form", () => {
    const key = new Uint8Array([1, 2, 3]);
    assert.equal(
      ibanDetector.mask("GB82 WEST 1234 5698 7654 32", "hash", key),
      ibanDetector.mask("GB82WEST12345698765432", "hash", key),
    );
  });
});
