import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Finding, ScanContext } from "../detector.ts";
import { financialDetectors } from "./financial.ts";

function scanAll(text: string, context?: ScanContext): Finding[] {
  return financialDetectors
    .flatMap((d) => d.scan(text, context))
    .sort((a, b) => a.start - b.start || a.end - b.end);
}

/** Values that look numeric or code-like and must come back unchanged. */
const decoys: Array<[string, string, string?]> = [
  ["uuid", "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "uid"],
  ["uuid with long digit groups", "12345678-1234-1234-1234-123456789012", "uid"],
  ["resourceVersion", "123456789012", "resourceVersion"],
  ["resourceVersion (9 digits)", "021000021", "resourceVersion"],
  ["generation", "536904399", "generation"],
  ["rfc3339", "2025-11-28T08:37:00Z", "creationTimestamp"],
  ["rfc3339 nanos", "2025-11-28T08:37:00.123456789+01:00", "time"],
  ["ipv4", "10.96.0.1", "clusterIP"],
  ["ipv4 list", "192.168.100.200, 172.16.254.1", "ips"],
  ["ipv6", "2001:db8::8a2e:370:7334", "clusterIP"],
  ["ipv6 long", "fe80:0000:0000:0000:0202:b3ff:fe1e:8329", "ip"],
  [
    "image digest",
    "registry.k8s.io/pause@sha256:7031c1b283388d2c2e09b57badb803c05ebed362dc88d84b480cc47f72a21097",
    "imageID",
  ],
  [
    "digest with a card-like run",
    "sha256:a4111111111111111b2c2e09b57badb803c05ebed362dc88d84b480cc47f72a2",
    "image",
  ],
  ["order number failing luhn", "4111111111111112", "orderId"],
  ["spaced order number failing luhn", "4111 1111 1111 1112", "order"],
  ["16 digits, no issuer", "9000123456789016", "id"],
  ["phone e164", "+4915112345678", "phone"],
  ["phone us", "+1 (555) 123-4567", "phone"],
  ["phone dashed", "555-123-4567", "phone"],
  ["phone uk", "+44 20 7946 0958", "phone"],
  ["version", "v1.28.3", "version"],
  ["semver", "1.2.3-rc.4+build.20240101123456", "version"],
  ["dotted digits", "1.4111111111111111", "ratio"],
  ["base64", "QUJDRDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNA==", "ca.crt"],
  ["base64 with a card run", "YWJj4111111111111111ZGVmGB82WEST12345698765432xyz", "blob"],
  ["token with digits", "build4111111111111111", "tag"],
  ["k8s name with digits", "node-pool-4111111111111111-abcde", "nodeName"],
  ["job name", "backup-29381740-x7k2p", "name"],
  ["iban glued to a word", "refGB82WEST12345698765432", "ref"],
  ["date", "2024-11-28", "date"],
  ["upper-case word", "DEPLOYED RUNNING CHASUS33", "status"],
  ["unix time ms", "1732783020123", "ts"],
  ["port list", "8080 8443 9090 9091", "ports"],
];

describe("financial detectors", () => {
  for (const [what, value, key] of decoys) {
    test(`leaves a decoy alone: ${what}`, () => {
      assert.deepEqual(scanAll(value), [], "without context");
      assert.deepEqual(scanAll(value, { key: key as string }), [], `under key ${key}`);
      assert.deepEqual(scanAll(`value ${value} end`), [], "inside text");
    });
  }

  test("finds each kind in one realistic log line, without overlaps", () => {
    const line =
      "payment card=4111 1111 1111 1111 iban=GB82 WEST 1234 5698 7654 32 routing 021000021 " +
      "account 12345678 ssn 536-90-4399 itin 912-70-1234 swift DEUTDEFF uid=3f2504e0-4f89-41d3-9a0c-0305e82c3301";
    const findings = scanAll(line);
    assert.deepEqual(
      findings.map((f) => [f.detector, line.slice(f.start, f.end)]),
      [
        ["card", "4111 1111 1111 1111"],
        ["iban", "GB82 WEST 1234 5698 7654 32"],
        ["aba", "021000021"],
        ["bank-account", "12345678"],
        ["ssn", "536-90-4399"],
        ["itin", "912-70-1234"],
        ["swift", "DEUTDEFF"],
      ],
    );
    for (let i = 1; i < findings.length; i++) {
      assert.ok((findings[i - 1] as Finding).end <= (findings[i] as Finding).start);
    }
  });

  test("every detector has a distinct id and masks in all three styles", () => {
    const ids = financialDetectors.map((d) => d.id);
    assert.equal(new Set(ids).size, ids.length);
    const key = new TextEncoder().encode("k");
    for (const d of financialDetectors) {
      assert.equal(d.mask("021000021", "full"), `[${d.id}]`);
      assert.match(d.mask("021000021", "hash", key), new RegExp(`^\\[${d.id}:[0-9a-f]{16}\\]$`));
      assert.doesNotMatch(d.mask("021000021", "partial"), /^021000021$/);
    }
  });
});
