/**
 * `audit evidence`: a directory an examiner can verify offline — the
 * records of a time range (RFC 8785 bodies, one per line), the tree state
 * before the first of them, the signed checkpoints that cover them, RFC 6962
 * consistency proofs between those checkpoints, the blobs they reference,
 * the verifier key, a per-agent summary and a README. `openEvidenceBundle`
 * (evidence-source.ts) reads one back for `verifyLog`.
 */
import { createHash } from "node:crypto";
import { mkdir, open, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { evidenceReadme } from "./evidence-readme.ts";
import { EvidenceSummary, summaryMarkdown } from "./evidence-summary.ts";
import { leafHash } from "./merkle.ts";
import { parseVerifierKey } from "./note.ts";
import { type IntervalProof, statedRoot, TreeReplay } from "./replay.ts";
import type { AuditStore, CheckpointRow, LogBase } from "./store/store.ts";
import { blobReference, type ParsedRecord } from "./verify-record.ts";

export { openEvidenceBundle } from "./evidence-source.ts";

export interface EvidenceManifest {
  format: "portcullis-evidence/1";
  createdAt: string;
  origin: string;
  range: { from: string; to: string };
  /** Records first ≤ seq < end are in records.jsonl, line i holding seq first + i. */
  records: { first: number; end: number; inRange: number; outsideRange: Array<[number, number]> };
  checkpoints: number[];
  blobs: number;
  /** SHA-256 of each file but this one, for the examiner's chain of custody. */
  files: Record<string, string>;
}

/** Where the bundle starts and ends, and the checkpoints it carries. */
interface Plan {
  base: LogBase;
  first: number;
  end: number;
  /** Every checkpoint from the base to the end (each root is checked while copying)… */
  all: CheckpointRow[];
  /** …and those the bundle carries. */
  checkpoints: CheckpointRow[];
}

async function planBundle(store: AuditStore, from: Date, to: Date): Promise<Plan> {
  if (!(from < to)) throw new Error("--from must be before --to");
  const base = (await store.base()) ?? { size: 0, frontier: [] };
  const window = { from: from.toISOString(), to: to.toISOString() };
  const [first] = await store.search({ ...window, afterSeq: base.size - 1, limit: 1 });
  if (first === undefined)
    throw new Error(`no audit records between ${window.from} and ${window.to}`);
  const [after] = await store.search({ from: window.to, afterSeq: first.seq, limit: 1 });
  const stop = after?.seq ?? (await store.head()).size;
  const stored = (await store.checkpoints()).filter((c) => c.size >= base.size);
  const covering = stored.find((c) => c.size >= stop);
  if (covering === undefined)
    throw new Error(
      `records up to ${stop - 1} are not covered by a signed checkpoint yet; a running gateway signs one within audit.checkpoint.everySeconds (and on shutdown): retry then`,
    );
  // The last checkpoint at or before the first record links the bundle to checkpoints an examiner may already hold.
  const all = stored.filter((c) => c.size <= covering.size);
  const before = all.filter((c) => c.size <= first.seq).at(-1);
  const checkpoints = all.filter((c) => c === before || c.size > first.seq);
  return { base, first: first.seq, end: covering.size, all, checkpoints };
}

/** Buffered line writer: records.jsonl can be large. */
async function lineWriter(path: string) {
  const file = await open(path, "wx");
  const hash = createHash("sha256");
  let pending: string[] = [];
  let size = 0;
  async function flush() {
    const chunk = Buffer.from(pending.join(""), "utf8");
    pending = [];
    size = 0;
    hash.update(chunk);
    await file.write(chunk);
  }
  return {
    async line(text: string) {
      pending.push(text, "\n");
      size += text.length + 1;
      if (size > 1 << 20) await flush();
    },
    async close(): Promise<string> {
      await flush();
      await file.close();
      return hash.digest("hex");
    },
  };
}

function withinRange(record: ParsedRecord, from: string, to: string): boolean {
  const time = Date.parse(String(record.time));
  return time >= Date.parse(from) && time < Date.parse(to);
}

interface Copied {
  base: LogBase;
  inRange: number;
  outside: Array<[number, number]>;
  blobs: number;
  proofs: IntervalProof[];
  summary: EvidenceSummary;
  recordsSha256: string;
}

/**
 * Replays the store from its base to the bundle's end, writing the bundle's
 * records and blobs, and checking every signed root on the way: evidence
 * the store cannot back is never handed out.
 */
async function copyRecords(
  store: AuditStore,
  plan: Plan,
  dir: string,
  window: { from: string; to: string },
): Promise<Copied> {
  const records = await lineWriter(join(dir, "records.jsonl"));
  const copied = { base: plan.base, inRange: 0, blobs: 0, summary: new EvidenceSummary() };
  const outside: Array<[number, number]> = [];
  const proofs: IntervalProof[] = [];
  const blobs = new Set<string>();
  const roots = new Map(plan.all.map((c) => [c.size, statedRoot(c.note).rootHash]));
  const included = new Set(plan.checkpoints.map((c) => c.size));
  const tree = new TreeReplay(plan.base);
  for await (const row of store.scan(plan.base.size, plan.end)) {
    if (row.seq !== tree.size) throw new Error(`record ${tree.size} is missing from the store`);
    if (row.seq === plan.first) copied.base = tree.state();
    if (row.seq >= plan.first) {
      await records.line(row.body);
      const record = JSON.parse(row.body) as ParsedRecord;
      const inRange = withinRange(record, window.from, window.to);
      const last = outside.at(-1);
      if (inRange) copied.inRange++;
      else if (last !== undefined && last[1] === row.seq) last[1]++;
      else outside.push([row.seq, row.seq + 1]);
      copied.summary.add(record, row.seq, inRange);
      const blob = blobReference(record, row.seq);
      if (blob !== undefined && !blobs.has(blob)) {
        const data = await store.getBlob(blob);
        if (data === undefined) throw new Error(`record ${row.seq}: its body blob is missing`);
        await writeFile(join(dir, "blobs", blob), data);
        blobs.add(blob);
      }
    }
    tree.append(leafHash(Buffer.from(row.body, "utf8")));
    const root = roots.get(tree.size);
    if (root === undefined) continue;
    if (!tree.root().equals(root))
      throw new Error(`the store does not reproduce the signed checkpoint at size ${tree.size}`);
    const proof = tree.mark();
    if (proof !== undefined && included.has(proof.from) && included.has(proof.to))
      proofs.push(proof);
  }
  if (tree.size !== plan.end) throw new Error(`records ${tree.size}–${plan.end - 1} are missing`);
  const recordsSha256 = await records.close();
  return { ...copied, outside, proofs, blobs: blobs.size, recordsSha256 };
}

/** Writes the bundle for records in [from, to) into `dir` (created; must be new or empty). */
export async function writeEvidenceBundle(
  store: AuditStore,
  verifierKey: string,
  range: { from: Date; to: Date },
  dir: string,
): Promise<EvidenceManifest> {
  const origin = parseVerifierKey(verifierKey.trim()).name;
  const plan = await planBundle(store, range.from, range.to);
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length > 0)
    throw new Error(`${dir} is not empty: choose a new directory for the bundle`);
  await mkdir(join(dir, "blobs"));
  const window = { from: range.from.toISOString(), to: range.to.toISOString() };
  let copied: Copied;
  try {
    copied = await copyRecords(store, plan, dir, window);
  } catch (error) {
    throw new Error(`${(error as Error).message}; run \`portcullis audit verify\``, {
      cause: error,
    });
  }
  const files: Record<string, string> = { "records.jsonl": copied.recordsSha256 };
  async function put(name: string, text: string) {
    await writeFile(join(dir, name), text, { flag: "wx" });
    files[name] = createHash("sha256").update(text).digest("hex");
  }
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  const checkpoints = plan.checkpoints.map(({ size, note, createdAt }) => ({
    size,
    note,
    createdAt,
  }));
  await put("base.json", json({ size: copied.base.size, frontier: copied.base.frontier }));
  await put("checkpoints.json", json(checkpoints));
  await put("checkpoints.txt", checkpoints.map((c) => `${c.note}\n`).join(""));
  const hex = (hashes: Buffer[]) => hashes.map((h) => h.toString("hex"));
  await put("proofs.json", json(copied.proofs.map((p) => ({ ...p, proof: hex(p.proof) }))));
  await put("verifier.pub", `${verifierKey.trim()}\n`);
  const actors = copied.summary.actors();
  await put("summary.json", json({ range: window, actors }));
  await put("summary.md", summaryMarkdown(actors, window));
  const manifest: EvidenceManifest = {
    format: "portcullis-evidence/1",
    createdAt: new Date().toISOString(),
    origin,
    range: window,
    records: {
      ...{ first: plan.first, end: plan.end, inRange: copied.inRange },
      outsideRange: copied.outside,
    },
    checkpoints: checkpoints.map((c) => c.size),
    blobs: copied.blobs,
    files,
  };
  await put("README.md", evidenceReadme(manifest));
  await writeFile(join(dir, "manifest.json"), json(manifest), { flag: "wx" });
  return manifest;
}

/** Reads a bundle's manifest (not trusted by verification; a guide for people). */
export async function readManifest(dir: string): Promise<EvidenceManifest> {
  return JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as EvidenceManifest;
}
