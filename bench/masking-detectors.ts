/**
 * `node bench/masking-detectors.ts [--mb 50] [--rounds 3]`: speed of the
 * built-in detectors over ConfigMap-like JSON string values (mostly decoys:
 * UUIDs, timestamps, IPs, digests, base64, config text; a few real values).
 * Prints MB/s per detector, for the financial ones run one after another, for
 * every default detector run one after another (no prefilter), and for
 * `MaskingEngine.mask` with every default detector (shared prefilter), then
 * one JSON line. Numbers only: no assertions on time.
 */
import { parseArgs } from "node:util";
import { defaultDetectors } from "../src/masking/defaults.ts";
import type { Detector, ScanContext } from "../src/masking/detector.ts";
import { isCardNumber } from "../src/masking/detectors/card.ts";
import { financialDetectors } from "../src/masking/detectors/financial.ts";
import { MaskingEngine } from "../src/masking/engine.ts";
import { seededRandom } from "../test/support/random.ts";

const { values } = parseArgs({
  options: {
    mb: { type: "string", default: "50" },
    rounds: { type: "string", default: "3" },
  },
});
const targetBytes = Number(values.mb) * 1024 * 1024;
const rounds = Number(values.rounds);

// Seeded, so every run scans the same corpus.
const rand = seededRandom(42);
const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 10)).join("");
const hex = (n: number) =>
  Array.from({ length: n }, () => "0123456789abcdef"[Math.floor(rand() * 16)]).join("");
const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
const b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const base64 = (n: number) =>
  Array.from({ length: n }, () => b64chars[Math.floor(rand() * 64)]).join("");

/** 16-digit order numbers that are not card numbers (they fail Luhn or the issuer rule). */
function orderNumber(): string {
  for (;;) {
    const n = digits(16);
    if (!isCardNumber(n)) return n;
  }
}

const decoyValue: Array<() => [string, string]> = [
  () => ["uid", uuid()],
  () => ["resourceVersion", digits(12)],
  () => ["creationTimestamp", `2025-11-${10 + Math.floor(rand() * 18)}T08:37:${digits(2)}Z`],
  () => [
    "clusterIP",
    `10.${Math.floor(rand() * 255)}.${Math.floor(rand() * 255)}.${Math.floor(rand() * 255)}`,
  ],
  () => ["imageID", `registry.k8s.io/app@sha256:${hex(64)}`],
  () => ["orderId", orderNumber()],
  () => ["phone", `+1 (555) ${digits(3)}-${digits(4)}`],
  () => ["version", `v1.${digits(2)}.${digits(1)}`],
  () => ["ca.crt", base64(1200)],
  () => [
    "application.properties",
    `server.port=8080\nspring.datasource.url=jdbc:postgresql://db.team-a.svc:5432/orders\nretry.max=${digits(2)}\nfeature.flags=alpha,beta\nlog.level=INFO\n`,
  ],
  () => [
    "app.log",
    `2025-11-28T08:37:${digits(2)}.${digits(6)}Z INFO request id=${uuid()} took ${digits(3)}ms status=200 bytes=${digits(5)} path=/api/v1/orders/${digits(10)}\n`,
  ],
  () => [
    "config.yaml",
    `replicas: 3\nimage: nginx:1.27.${digits(1)}\nresources:\n  limits:\n    cpu: 500m\n    memory: 256Mi\n`,
  ],
];
const realValue: Array<() => [string, string]> = [
  () => ["card", "4111 1111 1111 1111"],
  () => ["note", "wire to GB82 WEST 1234 5698 7654 32, routing 021000021, account 12345678"],
  () => ["employee", "ssn 536-90-4399"],
  () => ["bank", "swift DEUTDEFF"],
  () => ["contact", "jane.doe@example.com"],
  () => ["DATABASE_URL", "postgres://app:s3cr3t-Pa55@db.team-a.svc:5432/orders"],
  () => ["apiToken", "ghp_0123456789abcdefghijABCDEFGHIJ012345"],
];

const generated: Array<[ScanContext, string]> = [];
let bytes = 0;
while (bytes < targetBytes) {
  const [key, value] = rand() < 0.002 ? pick(realValue)() : pick(decoyValue)();
  generated.push([{ key }, value]);
  bytes += Buffer.byteLength(value);
}
// Through JSON, as the gateway gets its strings: flat, not the ropes that
// template literals build (reading a rope character by character is slower).
const corpus: Array<[ScanContext, string]> = JSON.parse(JSON.stringify(generated));
const mb = bytes / 1024 / 1024;

function timeScan(detectors: readonly Detector[]): { mbPerSec: number; findings: number } {
  let best = Number.POSITIVE_INFINITY;
  let findings = 0;
  for (let r = 0; r < rounds; r++) {
    findings = 0;
    const t0 = process.hrtime.bigint();
    for (const [context, value] of corpus) {
      for (const d of detectors) findings += d.scan(value, context).length;
    }
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return { mbPerSec: mb / best, findings };
}

function timeEngine(engine: MaskingEngine): { mbPerSec: number; findings: number } {
  let best = Number.POSITIVE_INFINITY;
  let findings = 0;
  const count = () => {
    findings++;
  };
  for (let r = 0; r < rounds; r++) {
    findings = 0;
    const t0 = process.hrtime.bigint();
    for (const [context, value] of corpus) engine.mask(value, context, count);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return { mbPerSec: mb / best, findings };
}

const results: Record<string, number> = {};
function report(name: string, r: { mbPerSec: number; findings: number }): void {
  results[name] = Number(r.mbPerSec.toFixed(1));
  process.stdout.write(`${name}\t${r.mbPerSec.toFixed(1)}\t${r.findings}\n`);
}

const defaults = defaultDetectors();
process.stdout.write(`corpus\t${mb.toFixed(1)} MB\t${corpus.length} values\n`);
process.stdout.write("detector\tMB/s\tfindings\n");
for (const d of defaults) report(d.id, timeScan([d]));
report("financial, one after another", timeScan(financialDetectors));
report("defaults, one after another", timeScan(defaults));
report("engine.mask, defaults", timeEngine(new MaskingEngine({ detectors: defaults })));
process.stdout.write(
  `${JSON.stringify({ bench: "masking-detectors", mb: Number(mb.toFixed(1)), mbPerSec: results })}\n`,
);
