/**
 * `node bench/merkle.ts [--leaves 1000000] [--record-bytes 600]`: how fast the
 * audit log's integrity core hashes and folds records, sized against the
 * auditor's target (1,000,000 records verified in under 30 s). Prints a table
 * and, last, one JSON line with the figures. No assertions: numbers only.
 */
import { parseArgs } from "node:util";
import {
  CompactRange,
  consistencyProof,
  inclusionProof,
  leafHash,
  verifyConsistency,
  verifyInclusion,
} from "../src/audit/merkle.ts";

const { values } = parseArgs({
  options: {
    leaves: { type: "string", default: "1000000" },
    "record-bytes": { type: "string", default: "600" },
  },
});
const leaves = Number(values.leaves);
const recordBytes = Number(values["record-bytes"]);

/** A record-shaped JSON body padded to the requested size; seq digits are rewritten in place. */
function recordTemplate(): { body: Buffer; seqAt: number } {
  const head = '{"kind":"request","seq":';
  const seq = "0000000000";
  const tail =
    ',"time":"2025-11-28T08:37:00.000Z","identity":{"subject":"agent:deploy-bot","issuer":"portcullis",' +
    '"kind":"agent","username":"portcullis:agent:deploy-bot","groups":["system:authenticated"]},' +
    '"request":{"verb":"get","resource":"configmaps","namespace":"team-a","name":"settings"},"pad":"';
  const fill = "x".repeat(Math.max(0, recordBytes - head.length - seq.length - tail.length - 2));
  return { body: Buffer.from(`${head}${seq}${tail}${fill}"}`), seqAt: head.length };
}

function writeSeq(record: Buffer, at: number, seq: number): void {
  record.write(seq.toString().padStart(10, "0"), at, "latin1");
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const { body, seqAt } = recordTemplate();

let start = process.hrtime.bigint();
for (let i = 0; i < leaves; i++) {
  writeSeq(body, seqAt, i);
  leafHash(body);
}
const hashOnly = seconds(start);

const allLeaves = Buffer.allocUnsafe(32 * leaves);
const range = new CompactRange();
start = process.hrtime.bigint();
for (let i = 0; i < leaves; i++) {
  writeSeq(body, seqAt, i);
  const leaf = leafHash(body);
  range.append(leaf);
  leaf.copy(allLeaves, 32 * i);
}
const hashAndAppend = seconds(start);

start = process.hrtime.bigint();
const root = range.root();
const rootTime = seconds(start);

// What the auditor does per stored row: text from the database to bytes, hash, fold.
const text = body.toString("utf8");
const fromText = new CompactRange();
start = process.hrtime.bigint();
for (let i = 0; i < leaves; i++) fromText.append(leafHash(Buffer.from(text, "utf8")));
const textHashAndAppend = seconds(start);

const getLeaf = (i: number) => allLeaves.subarray(32 * i, 32 * i + 32);
const index = Math.floor(leaves * 0.618);
start = process.hrtime.bigint();
const inclusion = inclusionProof(index, leaves, getLeaf);
const inclusionTime = seconds(start);
const inclusionOk = verifyInclusion(index, leaves, getLeaf(index), inclusion, root);

const half = Math.floor(leaves / 2) + 1;
const halfRange = new CompactRange();
for (let i = 0; i < half; i++) halfRange.append(getLeaf(i));
start = process.hrtime.bigint();
const consistency = consistencyProof(half, leaves, getLeaf);
const consistencyTime = seconds(start);
const consistencyOk = verifyConsistency(half, leaves, consistency, halfRange.root(), root);

const result = {
  leaves,
  recordBytes: body.length,
  leafHashPerSecond: Math.round(leaves / hashOnly),
  leafHashSeconds: hashOnly,
  hashAndAppendPerSecond: Math.round(leaves / hashAndAppend),
  hashAndAppendSeconds: hashAndAppend,
  textHashAndAppendSeconds: textHashAndAppend,
  rootMilliseconds: rootTime * 1000,
  inclusionProofSeconds: inclusionTime,
  consistencyProofSeconds: consistencyTime,
  proofsVerify: inclusionOk && consistencyOk,
  root: root.toString("hex"),
};
const rows: [string, string][] = [
  ["leaves", `${leaves} × ${body.length} B`],
  [
    "leaf hash only",
    `${hashOnly.toFixed(3)} s  (${result.leafHashPerSecond.toLocaleString("en")}/s)`,
  ],
  [
    "leaf hash + append",
    `${hashAndAppend.toFixed(3)} s  (${result.hashAndAppendPerSecond.toLocaleString("en")}/s)`,
  ],
  ["text → bytes + hash + append", `${textHashAndAppend.toFixed(3)} s`],
  ["root() at the end", `${result.rootMilliseconds.toFixed(3)} ms`],
  [`inclusion proof (leaves only, O(n))`, `${inclusionTime.toFixed(3)} s`],
  [`consistency proof ${half} → ${leaves} (O(n))`, `${consistencyTime.toFixed(3)} s`],
  ["proofs verify", String(result.proofsVerify)],
];
for (const [what, figure] of rows) process.stdout.write(`${what.padEnd(46)}${figure}\n`);
process.stdout.write(`${JSON.stringify(result)}\n`);
