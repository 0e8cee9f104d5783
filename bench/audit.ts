/**
 * `npm run bench -- audit`: durable records/s through the real writer
 * (canonical JSON, leaf hashes, checkpoints on) for both engines, and the
 * latency write-ahead adds to proxied calls at a fixed rate.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { loadOrCreateSigner } from "../src/audit/keys.ts";
import type { CompletionRecord, RequestRecord } from "../src/audit/record.ts";
import { openPostgresStore } from "../src/audit/store/postgres.ts";
import { openSqliteStore } from "../src/audit/store/sqlite.ts";
import type { AuditStore } from "../src/audit/store/store.ts";
import { AuditWriter } from "../src/audit/writer.ts";
import { startPostgres } from "../test/support/postgres.ts";
import { say, startBenchCluster, startBenchGateway } from "./harness.ts";
import { fixedRate, type get, percentile } from "./load.ts";

/** A request/completion pair shaped like what the audit stage writes. */
function callRecords(i: number): [RequestRecord, CompletionRecord] {
  const requestId = randomUUID();
  const time = new Date().toISOString();
  return [
    {
      kind: "request",
      time,
      requestId,
      identity: {
        subject: `agent-${i % 20}`,
        issuer: "portcullis",
        kind: "agent",
        username: `portcullis:agent:agent-${i % 20}`,
        groups: ["portcullis:agents"],
        method: "agent-token",
        tokenId: "0123456789ab",
      },
      source: {
        address: "127.0.0.1",
        userAgent: "kubectl/v1.37.2 (linux/amd64) kubernetes/abcdef",
      },
      session: { id: `s-${(i % 50).toString(16).padStart(16, "0")}`, command: "kubectl get" },
      request: {
        method: "GET",
        path: `/api/v1/namespaces/team-${i % 7}/configmaps/settings-${i}`,
        verb: "get",
        isResourceRequest: true,
        apiGroup: "",
        apiVersion: "v1",
        resource: "configmaps",
        subresource: "",
        namespace: `team-${i % 7}`,
        name: `settings-${i}`,
      },
      level: "Metadata",
      decision: { action: "allow", rule: "default" },
    },
    {
      kind: "completion",
      time,
      requestId,
      outcome: "completed",
      status: 200,
      bytes: 512,
      durationMs: 1.234,
    },
  ];
}

/** The gateway's writer (checkpoints every 1000 records) over `store`, with a throwaway key. */
async function openBenchWriter(
  store: AuditStore,
): Promise<{ writer: AuditWriter; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-bench-key-"));
  const writer = await AuditWriter.open({
    store,
    signer: loadOrCreateSigner(dir),
    checkpointEveryRecords: 1000,
    checkpointEverySeconds: 10,
    maxBatch: 500,
    log: pino({ level: "silent" }),
  });
  return {
    writer,
    async close() {
      await writer.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function writerThroughput(store: AuditStore, records: number): Promise<number> {
  const { writer, close } = await openBenchWriter(store);
  const inFlight = 2000;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < records) {
        const i = next;
        next += 2;
        const [request, completion] = callRecords(i);
        await Promise.all([writer.record(request), writer.record(completion)]);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await close();
  return records / seconds;
}

/** One record at a time, each awaited: the write-ahead cost on an otherwise idle gateway. */
async function sequentialAppendLatency(
  store: AuditStore,
  count = 2000,
): Promise<{ p50Ms: number; p99Ms: number }> {
  const { writer, close } = await openBenchWriter(store);
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const [, completion] = callRecords(i);
    const started = performance.now();
    await writer.record(completion);
    latencies.push(performance.now() - started);
  }
  await close();
  latencies.sort((a, b) => a - b);
  return { p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}

/** Quantile from a Prometheus histogram's cumulative buckets (upper bound of the bucket). */
function histogramQuantile(metrics: string, name: string, kind: string, q: number): number {
  const buckets: Array<[number, number]> = [];
  const pattern = new RegExp(`^${name}_bucket\\{le="([^"]+)",kind="${kind}"\\} (\\d+)`, "gm");
  for (const m of metrics.matchAll(pattern)) buckets.push([Number(m[1]), Number(m[2])]);
  const total = buckets.at(-1)?.[1] ?? 0;
  const hit = buckets.find(([, count]) => count >= q * total);
  return (hit?.[0] ?? Number.NaN) * 1000;
}

async function scrape(target: Parameters<typeof get>[0]): Promise<string> {
  const { request } = await import("node:https");
  const url = new URL("/metrics", target.url);
  return new Promise((resolve, reject) => {
    request(
      { host: url.hostname, port: url.port, path: url.pathname, agent: target.agent },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => {
          text += d.toString();
        });
        res.on("end", () => resolve(text));
      },
    )
      .on("error", reject)
      .end();
  });
}

export async function runAuditBench(options: {
  records: number;
  rate: number;
  seconds: number;
}): Promise<Record<string, unknown>> {
  const pg = await startPostgres();
  const dir = await mkdtemp(join(tmpdir(), "portcullis-bench-audit-"));
  const result: Record<string, unknown> = { benchmark: "audit", records: options.records };
  try {
    say(`writer throughput: ${options.records} records through the SQLite writer…`);
    result.sqliteRecordsPerSecond = await writerThroughput(
      await openSqliteStore(join(dir, "audit.db")),
      options.records,
    );
    say(`writer throughput: ${options.records} records through the PostgreSQL writer…`);
    result.postgresRecordsPerSecond = await writerThroughput(
      await openPostgresStore({ connectionString: pg.connectionString, schema: "bench_writer" }),
      options.records,
    );

    say("append latency: one record at a time, SQLite then PostgreSQL…");
    result.sequentialAppend = {
      sqlite: await sequentialAppendLatency(await openSqliteStore(join(dir, "sequential.db"))),
      postgres: await sequentialAppendLatency(
        await openPostgresStore({
          connectionString: pg.connectionString,
          schema: "bench_sequential",
        }),
      ),
    };

    const bench = await startBenchCluster(10);
    try {
      const path = `/api/v1/namespaces/${bench.ns}/configmaps/small`;
      const rows: Array<Record<string, unknown>> = [];
      const engines: Array<[string, string]> = [
        ["sqlite", ""],
        [
          "postgres",
          `audit:\n  store:\n    postgres:\n      connectionString: "${pg.connectionString}"\n`,
        ],
      ];
      for (const [engine, extra] of engines) {
        const gateway = await startBenchGateway(bench, extra);
        try {
          const direct = bench.direct(gateway.agentId);
          say(
            `${engine}: GET at ${options.rate} req/s for ${options.seconds}s, direct then through the gateway…`,
          );
          await fixedRate(gateway.target, path, options.rate, 3);
          const d = await fixedRate(direct, path, options.rate, options.seconds);
          const g = await fixedRate(gateway.target, path, options.rate, options.seconds);
          const metrics = await scrape(gateway.target);
          const name = "portcullis_audit_append_seconds";
          rows.push({
            engine,
            rate: options.rate,
            directP50Ms: d.p50Ms,
            directP99Ms: d.p99Ms,
            gatewayP50Ms: g.p50Ms,
            gatewayP99Ms: g.p99Ms,
            requestRecordP50Ms: histogramQuantile(metrics, name, "request", 0.5),
            requestRecordP99Ms: histogramQuantile(metrics, name, "request", 0.99),
            completionRecordP50Ms: histogramQuantile(metrics, name, "completion", 0.5),
            completionRecordP99Ms: histogramQuantile(metrics, name, "completion", 0.99),
            errors: d.errors + g.errors,
          });
        } finally {
          await gateway.stop();
        }
      }
      result.latency = rows;
    } finally {
      await bench.stop();
    }
  } finally {
    await pg.destroy();
    await rm(dir, { recursive: true, force: true });
  }
  return result;
}
