/**
 * Durable records/s of the audit store engines alone: a fake build (seqs,
 * ~600-byte JSON bodies, real SHA-256 leaf hashes; no canonicalization, no
 * Merkle tree), one append in flight as the writer does. This is the engines'
 * ceiling; the whole writer must reach 20,000/s on SQLite and 10,000/s on
 * PostgreSQL. Run: `node bench/audit-store.ts [--records 50000]`.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openPostgresStore } from "../src/audit/store/postgres.ts";
import { openSqliteStore } from "../src/audit/store/sqlite.ts";
import type { AuditStore, BuiltBatch, LogHead } from "../src/audit/store/store.ts";
import { startPostgres } from "../test/support/postgres.ts";

export interface StoreBenchRow {
  engine: string;
  batch: number;
  records: number;
  seconds: number;
  recordsPerSecond: number;
}

const padding = "x".repeat(420);

function benchBuild(count: number): (head: LogHead) => BuiltBatch {
  return function build(head) {
    const time = new Date().toISOString();
    const rows = Array.from({ length: count }, (_, i) => {
      const seq = head.size + i;
      const index = {
        time,
        kind: "request",
        requestId: `req-${seq}`,
        username: `agent:deployer-${seq % 10}`,
        subject: `deployer-${seq % 10}`,
        verb: "get",
        resource: "pods",
        namespace: `team-${seq % 7}`,
        name: `pod-${seq}`,
        decision: "allow",
        sessionId: `session-${seq % 100}`,
      };
      const body = JSON.stringify({ seq, ...index, padding });
      const leafHash = createHash("sha256").update("\0").update(body).digest();
      return { seq, body, leafHash, index, blobRefs: [] };
    });
    const size = head.size + count;
    return {
      rows,
      blobs: [],
      head: { size, frontier: [createHash("sha256").update(String(size)).digest("hex")] },
    };
  };
}

async function measure(engine: string, store: AuditStore, batch: number, records: number) {
  const started = performance.now();
  for (let done = 0; done < records; done += batch) await store.append(benchBuild(batch));
  const seconds = (performance.now() - started) / 1000;
  await store.close();
  return { engine, batch, records, seconds, recordsPerSecond: Math.round(records / seconds) };
}

export async function runAuditStoreBench(records = 50_000): Promise<StoreBenchRow[]> {
  const results: StoreBenchRow[] = [];
  const dir = await mkdtemp(join(tmpdir(), "portcullis-bench-"));
  const server = await startPostgres();
  try {
    for (const batch of [100, 500]) {
      const store = await openSqliteStore(join(dir, `audit-${batch}.db`));
      results.push(await measure("sqlite", store, batch, records));
    }
    for (const batch of [100, 500]) {
      const options = { connectionString: server.connectionString, schema: `bench_${batch}` };
      results.push(await measure("postgres", await openPostgresStore(options), batch, records));
    }
  } finally {
    await server.destroy();
    await rm(dir, { recursive: true, force: true });
  }
  return results;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { records: { type: "string", default: "50000" } } });
  const rows = await runAuditStoreBench(Number(values.records));
  process.stdout.write("engine\tbatch\trecords\tseconds\trecords/s\n");
  for (const r of rows)
    process.stdout.write(
      `${r.engine}\t${r.batch}\t${r.records}\t${r.seconds.toFixed(2)}\t${r.recordsPerSecond}\n`,
    );
  process.stdout.write(`${JSON.stringify({ bench: "audit-store", results: rows })}\n`);
}
