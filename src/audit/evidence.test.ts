import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type FilledLog, fillSqliteLog } from "../../test/support/audit-records.ts";
import { openEvidenceBundle, readManifest, writeEvidenceBundle } from "./evidence.ts";
import { verifyLog } from "./verify.ts";

const start = new Date("2030-01-01T00:00:00Z");
const at = (index: number, ms = 0) => new Date(start.getTime() + index * 1000 + ms);
let log: FilledLog;
let work: string;
let bundle: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "portcullis-evidence-"));
  log = await fillSqliteLog(work, 2000, { start, checkpointEvery: 100, blobEvery: 5 });
  bundle = join(work, "bundle");
  // Records 1001–1049 are in range; the covering checkpoint (1100) pulls in 1050–1099.
  await writeEvidenceBundle(
    log.store,
    log.signer.verifierKey,
    { from: at(1000, 500), to: at(1050) },
    bundle,
  );
});
after(async () => {
  await log.writer.close();
  await log.store.close();
  await rm(work, { recursive: true, force: true });
});

/** A copy of the bundle with `change` applied to one file. */
async function alteredBundle(file: string, change: (data: Buffer) => Buffer): Promise<string> {
  const dir = await mkdtemp(join(work, "altered-"));
  await cp(bundle, dir, { recursive: true });
  await writeFile(join(dir, file), change(await readFile(join(dir, file))));
  return dir;
}

async function verifyBundle(dir: string) {
  return verifyLog(openEvidenceBundle(dir), log.signer.verifierKey);
}

describe("evidence bundles", () => {
  test("hold the range up to its covering checkpoint, and verify", async () => {
    const manifest = await readManifest(bundle);
    assert.deepEqual(manifest.records, {
      first: 1001,
      end: 1100,
      inRange: 49,
      outsideRange: [[1050, 1100]],
    });
    assert.deepEqual(manifest.checkpoints, [1000, 1100]);
    const names = (await readdir(bundle)).sort();
    for (const name of [
      "README.md",
      "base.json",
      "blobs",
      "checkpoints.json",
      "checkpoints.txt",
      "manifest.json",
      "proofs.json",
      "records.jsonl",
      "summary.json",
      "summary.md",
      "verifier.pub",
    ])
      assert.ok(names.includes(name), name);
    assert.equal((await readdir(join(bundle, "blobs"))).length, manifest.blobs);
    assert.ok(manifest.blobs > 0);
    assert.equal(JSON.parse(await readFile(join(bundle, "base.json"), "utf8")).size, 1001);
    const lines = (await readFile(join(bundle, "records.jsonl"), "utf8")).trimEnd().split("\n");
    assert.equal(lines.length, 99);
    assert.equal(JSON.parse(lines[0] as string).seq, 1001);
    const report = await verifyBundle(bundle);
    assert.equal(report.ok, true, report.failure?.message);
    assert.equal(report.records, 99);
    assert.equal(report.consistencyProofs, 1);
  });

  test("summarize calls per agent from the records in the range", async () => {
    const { actors } = JSON.parse(await readFile(join(bundle, "summary.json"), "utf8"));
    const calls = actors.reduce((sum: number, a: { calls: number }) => sum + a.calls, 0);
    assert.equal(calls, 24); // requests are the even records 1002–1048
    const markdown = await readFile(join(bundle, "summary.md"), "utf8");
    assert.match(markdown, /\| agent:deployer \| agent \| 6 \|/);
    assert.match(
      await readFile(join(bundle, "README.md"), "utf8"),
      /portcullis audit verify --bundle \. --key verifier\.pub/,
    );
  });

  test("fail when one byte of records.jsonl changes", async () => {
    const dir = await alteredBundle("records.jsonl", (data) => {
      const at = data.indexOf('"verb":"get"');
      data[at + 10] = "x".charCodeAt(0);
      return data;
    });
    const report = await verifyBundle(dir);
    assert.equal(
      report.failure?.message,
      "records 1001–1099: recomputed root differs from the signed checkpoint at size 1100",
    );
  });

  test("fail when a line is removed, naming the record after the gap", async () => {
    const dir = await alteredBundle("records.jsonl", (data) => {
      const lines = data.toString().split("\n");
      lines.splice(10, 1);
      return Buffer.from(lines.join("\n"));
    });
    const report = await verifyBundle(dir);
    assert.equal(
      report.failure?.message,
      "record 1011: its seq says 1012 (records missing or reordered)",
    );
  });

  test("fail when a blob, a proof or the base is changed", async () => {
    const [blob] = await readdir(join(bundle, "blobs"));
    const blobDir = await alteredBundle(`blobs/${blob}`, (data) =>
      Buffer.concat([data, Buffer.from(" ")]),
    );
    assert.match(
      (await verifyBundle(blobDir)).failure?.message ?? "",
      /^record \d+: its body blob [0-9a-f]{64} does not match/,
    );
    const proofDir = await alteredBundle("proofs.json", (data) =>
      Buffer.from(data.toString().replace(/"[0-9a-f]{64}"/, `"${"0".repeat(64)}"`)),
    );
    assert.match(
      (await verifyBundle(proofDir)).failure?.message ?? "",
      /^checkpoint at size 1100: the consistency proof from size 1000 does not verify/,
    );
    const baseDir = await alteredBundle("base.json", (data) =>
      Buffer.from(data.toString().replace(/"[0-9a-f]{64}"/, `"${"0".repeat(64)}"`)),
    );
    assert.match(
      (await verifyBundle(baseDir)).failure?.message ?? "",
      /^records 1001–1099: recomputed root differs/,
    );
  });

  test("refuse an empty range, an uncovered range and a directory in use", async () => {
    const store = log.store;
    const key = log.signer.verifierKey;
    await assert.rejects(
      writeEvidenceBundle(store, key, { from: at(5000), to: at(6000) }, join(work, "none")),
      /no audit records between/,
    );
    await log.writer.record({
      kind: "prune",
      time: at(3000).toISOString(),
      requestId: "r",
      prunedBelow: 0,
      checkpointSize: 0,
      reason: "test",
    });
    await assert.rejects(
      writeEvidenceBundle(store, key, { from: at(2999), to: at(3001) }, join(work, "late")),
      /not covered by a signed checkpoint yet/,
    );
    await mkdir(join(work, "used"));
    await writeFile(join(work, "used", "x"), "x");
    await assert.rejects(
      writeEvidenceBundle(store, key, { from: at(0), to: at(10) }, join(work, "used")),
      /is not empty/,
    );
  });
});
