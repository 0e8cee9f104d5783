import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Detector, ScanContext } from "../detector.ts";
import { credentialDetectors, piiDetectors } from "./secrets-pii.ts";

const all: Detector[] = [...credentialDetectors, ...piiDetectors];

const JWT_IO =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

const appConfig = [
  "DATABASE_URL=postgres://app:s3cr3t@db.prod:5432/app",
  "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
  "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  `SESSION_TOKEN=${JWT_IO}`,
  "SUPPORT=help@example.com phone: +1 415 555 2671 dob 1985-03-12",
  "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
].join("\n");

// Values every detector must return unchanged, with the keys they come under.
const decoys: [string, ScanContext | undefined][] = [
  ["3f2504e0-4f89-11d3-9a0c-0305e82c3301", { key: "uid" }],
  ["123456789012", { key: "resourceVersion" }],
  ["2024-05-01T10:00:00Z", { key: "creationTimestamp" }],
  ["10.96.0.1", { key: "clusterIP" }],
  ["sha256:9b2a6f5e0c1d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f", { key: "imageID" }],
  ["registry.example.com/team/app@sha256:9b2a6f5e0c1d4e3f2a1b0c9d", { key: "image" }],
  ["YXBpVmVyc2lvbjogdjEKa2luZDogQ29uZmlnTWFwCg==", { key: "config.yaml" }],
  ["db-credentials", { key: "secretName" }],
  ["true", { key: "automountServiceAccountToken" }],
  ["3600", { key: "tokenTTL" }],
  ["", { key: "password" }],
  [
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
    { key: "ca.crt" },
  ],
  ["ssh -i key deploy@bastion -p 2222", undefined],
  ["I0512 10:00:00.123456       1 controller.go:42] synced 1234 objects in 0.52s", undefined],
];

describe("credential and PII detector sets", () => {
  test("every id is unique", () => {
    const ids = all.map((d) => d.id);
    assert.equal(new Set(ids).size, ids.length);
  });

  test("each detector's findings in a mixed config are ordered and non-overlapping", () => {
    for (const detector of all) {
      const findings = detector.scan(appConfig);
      for (let i = 1; i < findings.length; i++) {
        assert.ok((findings[i - 1]?.end ?? 0) <= (findings[i]?.start ?? 0), detector.id);
      }
      for (const f of findings) assert.equal(f.detector, detector.id);
    }
  });

  test("together they find every seeded value in a mixed config", () => {
    const found = new Set(
      all.flatMap((d) => d.scan(appConfig).map((f) => appConfig.slice(f.start, f.end))),
    );
    for (const value of [
      "s3cr3t",
      "AKIAIOSFODNN7EXAMPLE",
      "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      JWT_IO,
      "help@example.com",
      "+1 415 555 2671",
      "1985-03-12",
      "\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n",
    ]) {
      assert.ok(found.has(value), value);
    }
  });

  for (const [value, context] of decoys) {
    test(`no detector finds anything in ${context?.key ?? "text"}: ${value.slice(0, 30)}`, () => {
      for (const detector of all) assert.deepEqual(detector.scan(value, context), [], detector.id);
    });
  }

  test("no mask style gives the value back; hash without a key falls back to full", () => {
    const key = new Uint8Array([1, 2, 3]);
    for (const detector of all) {
      for (const f of detector.scan(appConfig)) {
        const value = appConfig.slice(f.start, f.end);
        assert.notEqual(detector.mask(value, "full"), value, detector.id);
        assert.notEqual(detector.mask(value, "partial"), value, detector.id);
        assert.ok(!detector.mask(value, "hash", key).includes(value.trim()), detector.id);
        assert.equal(detector.mask(value, "hash"), detector.mask(value, "full"), detector.id);
      }
    }
  });
});
