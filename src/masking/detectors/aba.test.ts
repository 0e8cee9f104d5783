import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ScanContext } from "../detector.ts";
import { abaDetector, bankAccountDetector, isRoutingNumber } from "./aba.ts";
import { containsWord } from "./scan.ts";

const routing = (text: string, context?: ScanContext) =>
  abaDetector.scan(text, context).map((f) => text.slice(f.start, f.end));
const accounts = (text: string, context?: ScanContext) =>
  bankAccountDetector.scan(text, context).map((f) => text.slice(f.start, f.end));

describe("aba routing number detector", () => {
  for (const number of ["011000015", "021000021", "011000028", "121000358", "026009593"]) {
    test(`finds ${number} next to a context word`, () => {
      assert.equal(isRoutingNumber(number), true);
      assert.deepEqual(routing(`routing number: ${number}`), [number]);
    });
  }

  test("takes context from the key, from the text before, or inline", () => {
    assert.deepEqual(routing("021000021", { key: "routingNumber" }), ["021000021"]);
    assert.deepEqual(routing("021000021", { key: "BANK_RTN" }), ["021000021"]);
    assert.deepEqual(routing("021000021", { before: "wire via ABA" }), ["021000021"]);
    assert.deepEqual(routing("Bank: 021000021"), ["021000021"]);
  });

  test("refuses a valid number without context", () => {
    assert.deepEqual(routing("021000021"), []);
    assert.deepEqual(routing("021000021", { key: "resourceVersion" }), []);
    assert.deepEqual(routing("021000021", { key: "database_port" }), []);
  });

  test("refuses a failing checksum or an unassigned prefix", () => {
    assert.equal(isRoutingNumber("021000022"), false);
    assert.equal(isRoutingNumber("123456789"), false);
    assert.equal(isRoutingNumber("500000005"), false);
    assert.deepEqual(routing("routing 021000022"), []);
  });

  test("refuses digits glued into a longer run or token", () => {
    assert.deepEqual(routing("routing 0210000210"), []);
    assert.deepEqual(routing("routing x021000021"), []);
    assert.deepEqual(routing("routing 1-021000021"), []);
  });

  test("masks keeping the last four", () => {
    assert.equal(abaDetector.mask("021000021", "partial"), "*****0021");
    assert.equal(abaDetector.mask("021000021", "full"), "[aba]");
  });
});

describe("bank account number detector", () => {
  test("finds 6–17 digit runs next to account words", () => {
    assert.deepEqual(accounts("Account no: 12345678"), ["12345678"]);
    assert.deepEqual(accounts("acct# 000123456789"), ["000123456789"]);
    assert.deepEqual(accounts("a/c 9876543"), ["9876543"]);
    assert.deepEqual(accounts("12345678901234567", { key: "bank_account" }), ["12345678901234567"]);
    assert.deepEqual(accounts("987654", { key: "AcctNumber" }), ["987654"]);
    assert.deepEqual(accounts("998877665", { before: "routing 021000021 account" }), ["998877665"]);
  });

  test("refuses runs without context or of the wrong length", () => {
    assert.deepEqual(accounts("12345678"), []);
    assert.deepEqual(accounts("account 12345"), []);
    assert.deepEqual(accounts("account 123456789012345678"), []);
    assert.deepEqual(accounts("12345678", { key: "resourceVersion" }), []);
  });

  test("context must stand just before the digits", () => {
    assert.deepEqual(accounts("account created, resourceVersion=123456789012"), []);
  });

  test("leaves card numbers and routing numbers to their own detectors", () => {
    assert.deepEqual(accounts("account 4111111111111111"), []);
    assert.deepEqual(accounts("routing 021000021 account 12345678"), ["12345678"]);
  });

  test("masks keeping the last four", () => {
    assert.equal(bankAccountDetector.mask("000123456789", "partial"), "********6789");
  });
});

describe("context words", () => {
  test("match whole words and camelCase or snake_case parts", () => {
    assert.equal(containsWord("routingNumber", ["routing"]), true);
    assert.equal(containsWord("BANK_ACCOUNT", ["account"]), true);
    assert.equal(containsWord("bank accounts", ["account"]), true);
    assert.equal(containsWord("database", ["aba"]), false);
    assert.equal(containsWord("accountant", ["account"]), false);
    assert.equal(containsWord("data/config", ["a/c"]), false);
  });
});
