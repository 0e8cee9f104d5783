/**
 * `npm run bench -- approvals`: how long a held call takes to reach the API
 * server once it is approved, on one gateway and across two replicas on one
 * PostgreSQL, and the gateway memory each held call costs.
 *
 * A policy holds GETs of one ConfigMap for approval. For each round the
 * client's GET is held, the bench waits until the approval is listed, then
 * times from sending the approval (POST …/approve) to the held GET's answer
 * arriving. That span includes the approve call's own round trip and the
 * upstream GET, so it bounds the decision → API server time from above.
 */

import { writeFile } from "node:fs/promises";
import https from "node:https";
import { join } from "node:path";
import { AgentTokenStore } from "../src/identity/agent-tokens.ts";
import { startPostgres } from "../test/support/postgres.ts";
import {
  type BenchCluster,
  type BenchGateway,
  rssMiB,
  say,
  startBenchCluster,
  startBenchGateway,
} from "./harness.ts";
import { get, percentile } from "./load.ts";

interface Api {
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: string }>;
}

function api(gw: BenchGateway, token: string): Api {
  const agent = new https.Agent({ keepAlive: true, ca: gw.target.caPem });
  return {
    call(method, path, body) {
      const url = new URL(`/portcullis/v1/${path}`, gw.target.url);
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      return new Promise((resolve, reject) => {
        const req = https.request(
          url,
          {
            method,
            agent,
            headers: {
              authorization: `Bearer ${token}`,
              ...(payload
                ? { "content-type": "application/json", "content-length": payload.length }
                : {}),
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
              resolve({
                status: res.statusCode ?? 0,
                body: Buffer.concat(chunks).toString("utf8"),
              }),
            );
            res.on("error", reject);
          },
        );
        req.on("error", reject);
        req.end(payload);
      });
    },
  };
}

async function pendingIds(approver: Api): Promise<string[]> {
  const res = await approver.call("GET", "approvals?state=pending&limit=10000");
  return (JSON.parse(res.body) as { items: Array<{ id: string }> }).items.map((a) => a.id);
}

async function waitForPending(approver: Api, count: number): Promise<string[]> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ids = await pendingIds(approver);
    if (ids.length >= count) return ids;
    if (Date.now() > deadline) throw new Error(`only ${ids.length} of ${count} calls were held`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function approverToken(gw: BenchGateway): Promise<string> {
  const agents = await AgentTokenStore.open(gw.dir);
  const { token } = await agents.create(`approver-${Date.now()}`, {
    groups: ["portcullis:approvers"],
  });
  // The gateway re-reads its agents file on an unknown token within ~100 ms.
  return token;
}

/** Rounds of: hold a GET on `holder`, approve through `decider`, time to the answer. */
async function releaseLatency(
  bench: BenchCluster,
  holder: BenchGateway,
  decider: Api,
  rounds: number,
): Promise<{ p50: number; p99: number }> {
  const path = `/api/v1/namespaces/${bench.ns}/configmaps/small`;
  const spans: number[] = [];
  for (let i = 0; i < rounds; i++) {
    let answered = 0;
    const held = get(holder.target, path).then((status) => {
      answered = performance.now();
      return status;
    });
    const [id] = await waitForPending(decider, 1);
    const started = performance.now();
    const res = await decider.call("POST", `approvals/${id}/approve`, { reason: "bench" });
    if (res.status !== 200) throw new Error(`approve: ${res.status} ${res.body}`);
    const status = await held;
    if (status !== 200) throw new Error(`the held GET answered ${status}`);
    spans.push(answered - started);
  }
  spans.sort((a, b) => a - b);
  return { p50: percentile(spans, 50), p99: percentile(spans, 99) };
}

const policy = (ns: string) => `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: bench }
spec:
  defaultAction: allow
  rules:
    - id: bench/hold-reads
      reason: the bench holds reads of one ConfigMap
      match: { verbs: [get], resources: [configmaps], namespaces: [${ns}], names: [small] }
      action: approve
      approval: { timeout: 10m }
`;

export async function runApprovalsBench(options: { rounds: number; held: number }) {
  const bench = await startBenchCluster(1);
  const policyFile = join(bench.cluster.dataDir, "bench-approvals.yaml");
  await writeFile(policyFile, policy(bench.ns));
  const policyConfig = `policy:\n  files: [${policyFile}]\n`;
  const figures: Record<string, number> = {};
  /** Release latency with calls held on `holder` and approved through `decider`. */
  const measure = async (
    key: string,
    label: string,
    holder: BenchGateway,
    decider: BenchGateway,
  ) => {
    const approver = api(decider, await approverToken(decider));
    await new Promise((r) => setTimeout(r, 300));
    const { p50, p99 } = await releaseLatency(bench, holder, approver, options.rounds);
    figures[`${key}_p50_ms`] = p50;
    figures[`${key}_p99_ms`] = p99;
    process.stdout.write(
      `approve → held call answered, ${label}: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (${options.rounds} rounds)\n`,
    );
    return approver;
  };
  try {
    say("one gateway (SQLite)…");
    const gw = await startBenchGateway(bench, policyConfig);
    try {
      const approver = await measure("one_replica", "one gateway", gw, gw);

      say(`holding ${options.held} calls at once…`);
      const before = rssMiB(gw.pid);
      const path = `/api/v1/namespaces/${bench.ns}/configmaps/small`;
      // Each held call needs its own connection.
      const holding = {
        ...gw.target,
        agent: new https.Agent({
          keepAlive: false,
          maxSockets: options.held + 8,
          ca: gw.target.caPem,
        }),
      };
      let failed = 0;
      let firstError = "";
      const calls = Array.from({ length: options.held }, () =>
        get(holding, path).catch((err: unknown) => {
          failed++;
          firstError ||= String(err);
          return 0;
        }),
      );
      const ids = await waitForPending(approver, options.held);
      const during = rssMiB(gw.pid);
      figures.held = ids.length;
      figures.rss_before_mib = Math.round(before);
      figures.rss_holding_mib = Math.round(during);
      figures.kib_per_held_call = Math.round(((during - before) * 1024) / options.held);
      process.stdout.write(
        `holding ${ids.length} calls: gateway RSS ${before.toFixed(0)} → ${during.toFixed(0)} MiB (${figures.kib_per_held_call} KiB per held call)\n`,
      );
      if (failed > 0) say(`${failed} held calls failed: ${firstError}`);
      say("denying them…");
      for (const id of ids)
        await approver.call("POST", `approvals/${id}/deny`, { reason: "bench" });
      await Promise.all(calls);
    } finally {
      await gw.stop();
    }

    say("two replicas on one PostgreSQL…");
    const pg = await startPostgres();
    try {
      const store = `audit:\n  store:\n    postgres:\n      connectionString: ${pg.connectionString}\n`;
      const a = await startBenchGateway(bench, `${policyConfig}${store}`);
      const b = await startBenchGateway(
        bench,
        `${policyConfig}${store}  signingKey: { file: ${join(a.dir, "audit", "signing.key")} }\n`,
      );
      try {
        await measure("two_replicas", "held on replica A, approved on B", a, b);
      } finally {
        await a.stop();
        await b.stop();
      }
    } finally {
      await pg.stop();
    }
  } finally {
    await bench.stop();
  }
  return figures;
}
