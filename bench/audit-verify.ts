/**
 * The whole audit path at scale: N realistic records (request/completion
 * pairs, some bodies as blobs) written through the real writer into SQLite —
 * RFC 8785 canonicalization, RFC 6962 hashing, signed checkpoints every 1,000
 * records, durable group commits — then `verifyLog` over all of them.
 * Targets: writer ≥ 20,000 records/s; verify of 1,000,000 records < 30 s.
 * Run: `node bench/audit-verify.ts [--records 1000000] [--window 2000]`.
 */
import { statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { loadOrCreateSigner } from "../src/audit/keys.ts";
import { openSqliteStore } from "../src/audit/store/sqlite.ts";
import { verifyLog } from "../src/audit/verify.ts";
import { AuditWriter } from "../src/audit/writer.ts";
import { generatedRecord } from "../test/support/audit-records.ts";

export interface AuditVerifyBenchResult {
  bench: "audit-verify";
  records: number;
  /** Records in flight at once: a busy gateway's concurrent calls. */
  window: number;
  writeSeconds: number;
  writeRecordsPerSecond: number;
  verifySeconds: number;
  verifyRecordsPerSecond: number;
  checkpoints: number;
  blobs: number;
  databaseMegabytes: number;
  verified: boolean;
}

async function writeLog(writer: AuditWriter, records: number, window: number): Promise<void> {
  for (let done = 0; done < records; done += window) {
    const pending: Promise<number>[] = [];
    for (let i = done; i < Math.min(records, done + window); i++) {
      const { record, blobs } = generatedRecord(i, { stepMs: 5, blobEvery: 100 });
      pending.push(writer.record(record, blobs));
    }
    await Promise.all(pending);
  }
}

export async function runAuditVerifyBench(
  records = 1_000_000,
  window = 2000,
): Promise<AuditVerifyBenchResult> {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-bench-verify-"));
  const path = join(dir, "audit.db");
  try {
    const store = await openSqliteStore(path);
    const signer = loadOrCreateSigner(join(dir, "audit"));
    const writer = await AuditWriter.open({
      ...{ store, signer, checkpointEveryRecords: 1000, checkpointEverySeconds: 10 },
      ...{ maxBatch: 500, log: pino({ level: "silent" }) },
    });
    let started = performance.now();
    await writeLog(writer, records, window);
    await writer.close();
    const writeSeconds = (performance.now() - started) / 1000;
    const databaseMegabytes = Math.round(statSync(path).size / 2 ** 20);
    started = performance.now();
    const report = await verifyLog(store, signer.verifierKey);
    const verifySeconds = (performance.now() - started) / 1000;
    await store.close();
    if (!report.ok) throw new Error(`verify failed: ${report.failure?.message}`);
    return {
      bench: "audit-verify",
      ...{ records, window, writeSeconds, verifySeconds, databaseMegabytes },
      writeRecordsPerSecond: Math.round(records / writeSeconds),
      verifyRecordsPerSecond: Math.round(records / verifySeconds),
      checkpoints: report.checkpoints,
      blobs: report.blobs,
      verified: report.ok,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      records: { type: "string", default: "1000000" },
      window: { type: "string", default: "2000" },
    },
  });
  const result = await runAuditVerifyBench(Number(values.records), Number(values.window));
  const rows = [
    ["write (writer → SQLite)", result.writeSeconds, result.writeRecordsPerSecond, "≥ 20000/s"],
    ["verify (verifyLog)", result.verifySeconds, result.verifyRecordsPerSecond, "< 30 s per 1M"],
  ];
  process.stdout.write(`phase\trecords\tseconds\trecords/s\ttarget\n`);
  for (const [phase, seconds, rate, target] of rows)
    process.stdout.write(
      `${phase}\t${result.records}\t${(seconds as number).toFixed(2)}\t${rate}\t${target}\n`,
    );
  process.stdout.write(
    `checkpoints ${result.checkpoints}, blobs ${result.blobs}, database ${result.databaseMegabytes} MB\n`,
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
