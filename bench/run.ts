/**
 * Benchmarks: `npm run bench -- NAME [--option value]`. Each prints a table
 * and, last, one JSON line with the figures.
 */
import { parseArgs } from "node:util";
import { runApprovalsBench } from "./approvals.ts";
import { runAuditBench } from "./audit.ts";
import { runAuditVerifyBench } from "./audit-verify.ts";
import { runMaskingBench } from "./masking.ts";
import { runOverhead } from "./overhead.ts";
import { runPolicyBench } from "./policy.ts";
import { runDryRunBench } from "./policy-dryrun.ts";
import { runStreamsBench } from "./streams.ts";

const usage = `usage: npm run bench -- overhead [--rate 200] [--seconds 20] [--saturate-seconds 10]
                         [--concurrency 32] [--soak-seconds 300] [--workload all|get|list]
       npm run bench -- policy
       npm run bench -- masking [--mb 64] [--rounds 3] [--gateway-mb 200]
       npm run bench -- approvals [--rounds 50] [--held 1000]
       npm run bench -- audit [--records 100000] [--rate 1000] [--seconds 20]
                         [--verify-records 1000000]
       npm run bench -- streams [--stream-mb 100] [--sessions 500] [--keystrokes 500]
                         [--rounds 3]

  overhead   latency (p50/p99 at a fixed rate), throughput at saturation and
             gateway memory over a soak: direct to the API server vs through
             the gateway, for GET of a small ConfigMap and LIST of 500.
  audit      durable records/s through the audit writer (SQLite, PostgreSQL;
             checkpoints on) and the time each call waits for its records at
             a fixed request rate; then \`audit verify\` over a log of
             --verify-records records.
  masking    MB/s of the JSON rewriter (default profile) on LIST bodies of
             ConfigMaps, Secrets and Pods and of the log masker on pod
             logs, one core; peak RSS streaming 100 vs 800 MB; then
             \`kubectl get cm -A -o json\` of --gateway-mb MB through a
             gateway process, its peak RSS (--gateway-mb 0 skips it).
  approvals  time from approving a held call to its answer, on one gateway
             and across two replicas on one PostgreSQL; gateway memory per
             held call with --held calls held at once.
  policy     decision time for the baseline plus 200 rules (p50/p99 µs),
             and the latency the dry-run step adds to a write.
  streams    exec over WebSockets, direct vs through the gateway with the
             agent's masking on (and a gateway without masking): stdout
             MB/s of \`cat\` of --stream-mb MB of log lines, keystroke
             echo latency (p50/p99) of an interactive \`cat\`, and gateway
             memory per session with --sessions sessions open at once.`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    rate: { type: "string" },
    seconds: { type: "string", default: "20" },
    "saturate-seconds": { type: "string", default: "10" },
    concurrency: { type: "string", default: "32" },
    "soak-seconds": { type: "string", default: "300" },
    workload: { type: "string", default: "all" },
    records: { type: "string", default: "100000" },
    "verify-records": { type: "string", default: "1000000" },
    mb: { type: "string", default: "64" },
    rounds: { type: "string" },
    "gateway-mb": { type: "string", default: "200" },
    held: { type: "string", default: "1000" },
    "stream-mb": { type: "string", default: "100" },
    sessions: { type: "string", default: "500" },
    keystrokes: { type: "string", default: "500" },
    help: { type: "boolean", short: "h" },
  },
});

const fmt = (n: unknown) =>
  typeof n === "number" ? (Number.isInteger(n) ? String(n) : n.toFixed(3)) : String(n);

function printTable(rows: Array<Record<string, unknown>>): void {
  const columns = Object.keys(rows[0] ?? {});
  process.stdout.write(`${columns.join("\t")}\n`);
  for (const row of rows) process.stdout.write(`${columns.map((c) => fmt(row[c])).join("\t")}\n`);
}

const name = positionals[0];
if (
  values.help ||
  !["overhead", "audit", "policy", "masking", "approvals", "streams"].includes(name ?? "")
) {
  process.stdout.write(`${usage}\n`);
  process.exit(values.help ? 0 : 2);
}

if (name === "policy") {
  const decisions = runPolicyBench();
  process.stdout.write(
    `decision\t${Object.entries(decisions)
      .map(([k, v]) => `${k}=${fmt(v)}`)
      .join("\t")}\n`,
  );
  const dryRun = await runDryRunBench();
  process.stdout.write(
    `dry-run\t${Object.entries(dryRun)
      .map(([k, v]) => `${k}=${fmt(v)}`)
      .join("\t")}\n`,
  );
  process.stdout.write(`${JSON.stringify({ benchmark: "policy", decisions, dryRun })}\n`);
} else if (name === "approvals") {
  const figures = await runApprovalsBench({
    rounds: Number(values.rounds ?? 50),
    held: Number(values.held),
  });
  process.stdout.write(`${JSON.stringify({ benchmark: "approvals", ...figures })}\n`);
} else if (name === "streams") {
  const { rows, figures } = await runStreamsBench({
    streamMb: Number(values["stream-mb"]),
    sessions: Number(values.sessions),
    keystrokes: Number(values.keystrokes),
    rounds: Number(values.rounds ?? 3),
  });
  printTable(rows);
  process.stdout.write(`${JSON.stringify({ benchmark: "streams", ...figures })}\n`);
} else if (name === "masking") {
  const figures = await runMaskingBench({
    mb: Number(values.mb),
    rounds: Number(values.rounds ?? 3),
    gatewayMb: Number(values["gateway-mb"]),
  });
  process.stdout.write(`${JSON.stringify({ benchmark: "masking", ...figures })}\n`);
} else if (name === "overhead") {
  const result = await runOverhead({
    rate: Number(values.rate ?? 200),
    seconds: Number(values.seconds),
    saturateSeconds: Number(values["saturate-seconds"]),
    concurrency: Number(values.concurrency),
    soakSeconds: Number(values["soak-seconds"]),
    workload: values.workload ?? "all",
  });
  printTable(result.workloads as Array<Record<string, unknown>>);
  const memory = result.memory as Record<string, number>;
  if (Object.keys(memory).length > 0) {
    process.stdout.write(
      `memory\t${Object.entries(memory)
        .map(([k, v]) => `${k}=${fmt(v)}`)
        .join("\t")}\n`,
    );
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  const result = await runAuditBench({
    records: Number(values.records),
    rate: Number(values.rate ?? 1000),
    seconds: Number(values.seconds),
  });
  process.stdout.write(
    `writer records/s\tsqlite=${fmt(result.sqliteRecordsPerSecond)}\tpostgres=${fmt(result.postgresRecordsPerSecond)}\n`,
  );
  const sequential = result.sequentialAppend as Record<string, { p50Ms: number; p99Ms: number }>;
  for (const [engine, l] of Object.entries(sequential)) {
    process.stdout.write(
      `append (idle)\t${engine}\tp50=${fmt(l.p50Ms)} ms\tp99=${fmt(l.p99Ms)} ms\n`,
    );
  }
  printTable(result.latency as Array<Record<string, unknown>>);
  process.stderr.write(
    `verify: writing ${values["verify-records"]} records, then verifying them…\n`,
  );
  const verify = await runAuditVerifyBench(Number(values["verify-records"]));
  process.stdout.write(
    `verify\trecords=${verify.records}\twriteRecordsPerSecond=${verify.writeRecordsPerSecond}\tverifySeconds=${fmt(verify.verifySeconds)}\tverified=${verify.verified}\n`,
  );
  process.stdout.write(`${JSON.stringify({ ...result, verify })}\n`);
}
process.exit(0);
