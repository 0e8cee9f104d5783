import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { cardDetector, isCardNumber, luhnValid } from "./card.ts";

const found = (text: string) => cardDetector.scan(text).map((f) => text.slice(f.start, f.end));

describe("card detector", () => {
  const publicTestNumbers = [
    ["Visa", "4111111111111111"],
    ["Visa", "4012888888881881"],
    ["Visa 13", "4222222222222"],
    ["Mastercard 5x", "5500005555555559"],
    ["Mastercard 5x", "5555555555554444"],
    ["Mastercard 2-series", "2223003122003222"],
    ["Amex 37", "378282246310005"],
    ["Amex 37", "371449635398431"],
    ["Discover 6011", "6011111111111117"],
    ["Discover 6011", "6011000990139424"],
    ["Discover 644", "6445644564456445"],
    ["JCB", "3530111333300000"],
    ["JCB", "3566002020360505"],
    ["Diners 305", "30569309025904"],
    ["Diners 36", "36227206271667"],
    ["UnionPay", "6200000000000005"],
  ] as const;
  for (const [issuer, number] of publicTestNumbers) {
    test(`finds the ${issuer} test number ${number}`, () => {
      assert.deepEqual(found(`pan=${number};`), [number]);
    });
  }

  test("finds numbers printed with spaces or dashes in the usual groups", () => {
    assert.deepEqual(found("card 4111 1111 1111 1111 exp 12/29"), ["4111 1111 1111 1111"]);
    assert.deepEqual(found("4111-1111-1111-1111"), ["4111-1111-1111-1111"]);
    assert.deepEqual(found("amex 3782 822463 10005."), ["3782 822463 10005"]);
    assert.deepEqual(found("diners 3056 930902 5904"), ["3056 930902 5904"]);
  });

  test("reports the exact span and several numbers in order", () => {
    const text = "a 4111111111111111 b 5500 0055 5555 5559 c";
    assert.deepEqual(cardDetector.scan(text), [
      { start: 2, end: 18, detector: "card" },
      { start: 21, end: 40, detector: "card" },
    ]);
  });

  test("refuses numbers that fail Luhn", () => {
    assert.deepEqual(found("order 4111111111111112"), []);
    assert.equal(luhnValid("4111111111111112"), false);
  });

  test("refuses Luhn-valid numbers without an issuer prefix or with the wrong length", () => {
    assert.equal(luhnValid("9000123456789016"), true);
    assert.deepEqual(found("9000123456789016 1234567890123452"), []);
    assert.equal(isCardNumber("37828224631000"), false); // Amex is 15 digits
    assert.equal(isCardNumber("41111111111111111"), false); // Visa is not 17
  });

  test("refuses mixed separators, odd groupings and doubled separators", () => {
    assert.deepEqual(found("4111 1111-1111 1111"), []);
    assert.deepEqual(found("41 1111 1111 1111 11"), []);
    assert.deepEqual(found("4111  1111  1111  1111"), []);
  });

  test("refuses numbers glued into longer tokens", () => {
    for (const text of [
      "x4111111111111111",
      "4111111111111111x",
      "pod-4111111111111111",
      "4111111111111111-abc",
      "14111111111111111",
      "1.4111111111111111",
      "4111111111111111.5",
      "my_4111111111111111",
      "+4111111111111",
    ]) {
      assert.deepEqual(found(text), [], text);
    }
  });

  test("partial masking keeps the last four and the separators", () => {
    assert.equal(cardDetector.mask("4111 1111 1111 1111", "partial"), "**** **** **** 1111");
    assert.equal(cardDetector.mask("4111-1111-1111-1111", "partial"), "****-****-****-1111");
    assert.equal(cardDetector.mask("378282246310005", "partial"), "***********0005");
  });

  test("full masking hides everything, hash masking correlates across spellings", () => {
    const key = new TextEncoder().encode("audit-key");
    assert.equal(cardDetector.mask("4111111111111111", "full"), "[card]");
    const a = cardDetector.mask("4111 1111 1111 1111", "hash", key);
    assert.match(a, /^\[card:[0-9a-f]{16}\]$/);
    assert.equal(cardDetector.mask("4111-1111-1111-1111", "hash", key), a);
    assert.notEqual(cardDetector.mask("5500005555555559", "hash", key), a);
    assert.notEqual(
      cardDetector.mask("4111111111111111", "hash", new TextEncoder().encode("other")),
      a,
    );
  });

  test("hash masking without a key falls back to full", () => {
    assert.equal(cardDetector.mask("4111111111111111", "hash"), "[card]");
  });

  test("finds a number at the very start and the very end of a string", () => {
    assert.deepEqual(found("4111111111111111"), ["4111111111111111"]);
    assert.deepEqual(found("x 4111111111111111"), ["4111111111111111"]);
  });
});
