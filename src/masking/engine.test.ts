import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { seededRandom } from "../../test/support/random.ts";
import { customDetector } from "./custom.ts";
import { defaultDetectors } from "./defaults.ts";
import type { Detector, Finding, MaskStyle, ScanContext } from "./detector.ts";
import { MaskingEngine } from "./engine.ts";
import { detectorBit, possibleDetectors } from "./prefilter.ts";
import { TextProfile } from "./text-profile.ts";

type Ranked = Finding & { rank: number };

/** The engine without a prefilter: every detector on every string. */
function referenceFindings(detectors: readonly Detector[], text: string, context?: ScanContext) {
  const all: Ranked[] = [];
  detectors.forEach((d, rank) => {
    for (const f of d.scan(text, context)) all.push({ ...f, rank });
  });
  if (all.length <= 1) return all;
  all.sort((a, b) => a.rank - b.rank || b.end - b.start - (a.end - a.start) || a.start - b.start);
  const kept: Ranked[] = [];
  for (const f of all) if (kept.every((k) => f.end <= k.start || f.start >= k.end)) kept.push(f);
  return kept.sort((a, b) => a.start - b.start);
}

function referenceMask(
  detectors: readonly Detector[],
  style: MaskStyle,
  text: string,
  context?: ScanContext,
): string {
  let out = "";
  let at = 0;
  for (const f of referenceFindings(detectors, text, context)) {
    const d = detectors[f.rank] as Detector;
    out += text.slice(at, f.start) + d.mask(text.slice(f.start, f.end), style);
    at = f.end;
  }
  return out + text.slice(at);
}

// Values each detector finds, context words, decoys and awkward characters.
const JWT =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
const values = [
  "4111111111111111",
  "4111 1111 1111 1111",
  "5500-0000-0000-0004",
  "378282246310005",
  "6011111111111117",
  "30569309025904",
  "6200000000000005",
  "4111111111111112",
  "GB82WEST12345698765432",
  "GB82 WEST 1234 5698 7654 32",
  "NO9386011117947",
  "DE89370400440532013000",
  "021000021",
  "011000015",
  "536-90-4399",
  "536 90 4399",
  "536904399",
  "912-70-1234",
  "912701234",
  "DEUTDEFF",
  "DEUTDEFF500",
  "CHASUS33",
  "12345678",
  "987654321012",
  "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcN\n-----END RSA PRIVATE KEY-----",
  "-----BEGIN PRIVATE KEY-----MIIEvQIBADANBg",
  "-----BEGIN EC PRIVATE KEY-----\\nMHcCAQEE\\n",
  JWT,
  "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
  "AKIAIOSFODNN7EXAMPLE",
  "ASIAY34FZKBOKMUTVV7A",
  "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  "0123456789abcdef0123456789abcdef01234567",
  '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\nMII\\n"}',
  "ghp_0123456789abcdefghijABCDEFGHIJ012345",
  "github_pat_11ABCDEFG0123456789abcdefghijklmnopqrstuvwxyz",
  "glpat-abcdefghij0123456789",
  "xoxb-1234567890-abcdefghij",
  "xapp-1-A0123-4567-abcdef",
  "postgres://app:s3cr3t@db:5432/app",
  "Server=x;Password=hunter2;",
  "password: 'a b c'",
  "pwd=$(DB)",
  "API_KEY=Zx81kLmN0pQrStUvWxYz12",
  "token: abcdefABCDEF123456",
  'client_secret="q8W2e4R6t8Y0u2I4"',
  "jane.doe@example.com",
  "a@b.co",
  "deploy@bastion",
  "app@sha256:0a1b2c",
  "+44 20 7946 0958",
  "+4915112345678",
  "(415) 555-2671",
  "020 7946 0958",
  "555-123-4567",
  "1985-03-12",
  "12/03/1985",
  "03-12-85",
  "12 March 1985",
  "March 12, 1985",
  "12.03.1985",
  "1/2/85",
  "12\u00a0March\u00a01985",
  "4222222222222",
];
const words = [
  "ssn",
  "SSN:",
  "social security",
  "ss#",
  "SS No",
  "itin",
  "taxpayer",
  "tax id",
  "tin",
  "routing",
  "aba",
  "rtn",
  "bank",
  "transit",
  "account",
  "acct",
  "a/c",
  "iban",
  "swift",
  "BIC",
  "phone",
  "tel",
  "mobile",
  "fax",
  "cell",
  "dob",
  "D.O.B",
  "born",
  "birth",
  "birthday",
  "date of birth",
  "password",
  "passwd",
  "pwd",
  "secret",
  "token",
  "apikey",
  "private_key",
  "credentials",
  "routingNumber",
  "bankAcct",
  "ban\u212A",
  "\u0130tin",
];
const decoys = [
  "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
  "2025-11-28T08:37:00Z",
  "10.96.0.1",
  "v1.28.3",
  "sha256:7031c1b283388d2c2e09b57badb803c0",
  "123456789012",
  "QUJDRDEyMzQ1Njc4OTAxMjM0NTY3ODkw",
  "DEPLOYED RUNNING",
  "node-pool-4111111111111111-abcde",
  "8080 8443 9090",
  "-----BEGIN CERTIFICATE-----",
  "I0512 10:00:00.123456 1 controller.go:42]",
  "ca.crt",
  "{{ .password }}",
  "****",
  "true",
];
const base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const separators = [
  " ",
  "",
  ", ",
  "\n",
  "=",
  ": ",
  "-",
  "_",
  "x",
  "é",
  "\u00a0",
  "\t",
  "/",
  ".",
  "+",
  '"',
];
const alphabet = `0123456789 -./()+@:=_"'\tabcXYZ#é😀\u00a0\u212A\u2028AKIAghpxoxeyJ`;
const keys = [
  undefined,
  "uid",
  "password",
  "PGPASSWORD",
  "apiToken",
  "clientSecret",
  "secretName",
  "phoneNumber",
  "mobile",
  "dob",
  "birthDate",
  "routingNumber",
  "accountNumber",
  "bankAccount",
  "ssn",
  "taxpayerId",
  "swiftCode",
  "bic",
  "private_key_id",
  "aws_secret_access_key",
  "note",
  "ca.crt",
  "telemetry",
];
const befores = [
  undefined,
  "",
  "phone:",
  "ssn",
  "Born on",
  "bank routing",
  "swift",
  "account",
  "x",
];

function generator(seed: number) {
  const rand = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
  const randomText = (n: number) => Array.from({ length: n }, () => pick([...alphabet])).join("");
  return function next(): [string, ScanContext | undefined] {
    let text: string;
    const mode = rand();
    if (mode < 0.15) {
      text = randomText(Math.floor(rand() * 60));
    } else if (mode < 0.25) {
      text = pick(values);
    } else if (mode < 0.45) {
      // A context word right before a value.
      text = `${pick(words)}${pick([" ", ": ", " #", "=", "-"])}${pick(values)}`;
    } else if (mode < 0.55) {
      // A long blob (base64-like, or config text) with a few values and words inside.
      const blob = rand() < 0.5 ? base64Alphabet : `${base64Alphabet} .:=-\n`;
      const chunks = [
        Array.from({ length: 64 + Math.floor(rand() * 600) }, () => pick([...blob])).join(""),
      ];
      for (let i = Math.floor(rand() * 4); i > 0; i--) {
        chunks.push(rand() < 0.6 ? pick(values) : pick(words), pick(separators));
        chunks.push(
          Array.from({ length: Math.floor(rand() * 200) }, () => pick([...blob])).join(""),
        );
      }
      text = chunks.join(pick(separators));
    } else {
      const parts: string[] = [];
      const n = 1 + Math.floor(rand() * 6);
      for (let i = 0; i < n; i++) {
        const r = rand();
        parts.push(
          r < 0.45 ? pick(values) : r < 0.75 ? pick(words) : r < 0.9 ? pick(decoys) : randomText(8),
        );
        parts.push(pick(separators));
      }
      text = parts.join("");
      // Near misses: a few characters inserted, dropped or replaced.
      for (let m = rand() < 0.4 ? 1 + Math.floor(rand() * 3) : 0; m > 0; m--) {
        const at = Math.floor(rand() * (text.length + 1));
        const op = rand();
        const ch = pick([...alphabet]);
        text = text.slice(0, at) + (op < 0.66 ? ch : "") + text.slice(op < 0.33 ? at : at + 1);
      }
    }
    const key = pick(keys);
    const before = pick(befores);
    if (key === undefined && before === undefined) return [text, rand() < 0.5 ? undefined : {}];
    return [text, { key, before }];
  };
}

const defaults = defaultDetectors();

describe("masking engine", () => {
  test("returns the same string object when nothing is found", () => {
    const engine = new MaskingEngine({ detectors: defaults });
    const text = ["3f2504e0-4f89-41d3-9a0c-0305e82c3301"].join("");
    assert.equal(engine.mask(text, { key: "uid" }), text);
    assert.deepEqual(engine.findings("", { key: "password" }), []);
  });

  test("the detector listed first wins an overlap, then the longer finding", () => {
    const engine = new MaskingEngine({ detectors: defaults });
    // Under a password key the whole value is the secret's, card number or not.
    assert.equal(engine.mask("4111 1111 1111 1111", { key: "password" }), "********");
    assert.equal(engine.mask("4111 1111 1111 1111", { key: "note" }), "**** **** **** 1111");
    const cardFirst = new MaskingEngine({ detectors: [...defaults].reverse() });
    assert.equal(cardFirst.mask("4111 1111 1111 1111", { key: "password" }), "**** **** **** 1111");
  });

  test("applies each detector's style and reports each finding", () => {
    const engine = new MaskingEngine({
      detectors: defaults,
      styles: { email: "full" },
      defaultStyle: "partial",
    });
    const seen: string[] = [];
    const out = engine.mask("jane@example.com 4111 1111 1111 1111", undefined, (id) =>
      seen.push(id),
    );
    assert.equal(out, "[email] **** **** **** 1111");
    assert.deepEqual(seen, ["email", "card"]);
  });

  test("always runs a detector it has no prefilter for", () => {
    const custom = customDetector({ id: "ticket", pattern: "TCK-[0-9]+" });
    assert.equal(detectorBit(custom), 0);
    const engine = new MaskingEngine({ detectors: [...defaults, custom] });
    assert.equal(engine.mask("see TCK-42"), "see ***-**");
  });

  test("context words that overlap, and the rarer ones, still wake their detector", () => {
    const engine = new MaskingEngine({ detectors: defaults });
    const ids = (text: string) => engine.findings(text).map((f) => engine.detectors[f.rank]?.id);
    // `iBank`: the words `iban` and `bank` overlap; `bank` makes the routing context.
    assert.deepEqual(ids("iBank 021000021"), ["aba"]);
    assert.deepEqual(ids("tax id 912701234"), ["itin"]);
    assert.deepEqual(ids("ban\u212A 021000021"), ["aba"]);
  });

  test("finds what every detector finds, on generated strings (prefilter soundness)", () => {
    const next = generator(7);
    for (let i = 0; i < 20_000; i++) {
      const [text, context] = next();
      const open = possibleDetectors(new TextProfile(text), context);
      for (const d of defaults) {
        if ((open & detectorBit(d)) === 0 && d.scan(text, context).length > 0) {
          assert.fail(
            `prefilter skipped ${d.id} on ${JSON.stringify(text)} ${JSON.stringify(context)}`,
          );
        }
      }
    }
  });

  test("masks exactly as running every detector would, on generated strings", () => {
    const next = generator(42);
    const engine = new MaskingEngine({ detectors: defaults });
    const full = new MaskingEngine({ detectors: defaults, defaultStyle: "full" });
    let found = 0;
    for (let i = 0; i < 10_000; i++) {
      const [text, context] = next();
      const expected = referenceFindings(defaults, text, context);
      found += expected.length;
      assert.deepEqual(engine.findings(text, context), expected, JSON.stringify([text, context]));
      assert.equal(engine.mask(text, context), referenceMask(defaults, "partial", text, context));
      assert.equal(full.mask(text, context), referenceMask(defaults, "full", text, context));
    }
    // The generator must exercise the detectors, not only the decoys.
    assert.ok(found > 5_000, `only ${found} findings`);
  });
});
