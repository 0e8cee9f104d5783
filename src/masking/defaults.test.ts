import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { builtInDetectorIds, defaultDetectors, detectorById } from "./defaults.ts";
import { financialDetectors } from "./detectors/financial.ts";
import { credentialDetectors, piiDetectors } from "./detectors/secrets-pii.ts";

describe("default detectors", () => {
  test("are every built-in once: credentials, then financial, then personal data", () => {
    const ids = defaultDetectors().map((d) => d.id);
    assert.deepEqual(
      ids,
      [...credentialDetectors, ...financialDetectors, ...piiDetectors].map((d) => d.id),
    );
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual(builtInDetectorIds(), ids);
  });

  test("a private key's body outranks the financial detectors (the earlier detector wins an overlap)", () => {
    const ids = defaultDetectors().map((d) => d.id);
    assert.ok(ids.indexOf("pem-private-key") < ids.indexOf("card"));
    assert.ok(ids.indexOf("secret-value") < ids.indexOf("card"));
  });

  test("each call returns a fresh list", () => {
    const list = defaultDetectors();
    list.pop();
    assert.equal(defaultDetectors().length, list.length + 1);
  });

  test("finds a built-in by id, and nothing for an unknown id", () => {
    assert.equal(detectorById("iban")?.id, "iban");
    assert.equal(detectorById("employee-id"), undefined);
  });
});
