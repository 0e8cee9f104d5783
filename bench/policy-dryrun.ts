/**
 * The latency the dry-run adds to a write: the same ConfigMap creates through
 * two gateways, one whose policy judges ConfigMap creates on their object
 * (so each create is first sent with dryRun=All) and one whose policy does
 * not look at the object.
 */

import { writeFile } from "node:fs/promises";
import https from "node:https";
import { join } from "node:path";
import { type BenchCluster, say, startBenchCluster, startBenchGateway } from "./harness.ts";
import { percentile, type Target } from "./load.ts";

const judgedOnObject = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: judge-configmaps }
spec:
  defaultAction: allow
  rules:
    - id: bench/configmap-size
      reason: at most 50 keys per ConfigMap
      match: { verbs: [create], resources: [configmaps] }
      condition: "!has(object.data) || size(object.data) <= 50"
      action: allow
`;

function create(target: Target, ns: string, name: string): Promise<number> {
  const url = new URL(`/api/v1/namespaces/${ns}/configmaps`, target.url);
  const body = JSON.stringify({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name },
    data: { a: "b" },
  });
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        agent: target.agent,
        headers: {
          ...target.headers,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function createLatencies(
  target: Target,
  ns: string,
  prefix: string,
  count: number,
): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const status = await create(target, ns, `${prefix}-${i}`);
    if (status !== 201) throw new Error(`create answered ${status}`);
    latencies.push(performance.now() - started);
  }
  return latencies.sort((a, b) => a - b);
}

async function grantCreate(bench: BenchCluster): Promise<void> {
  const r = await bench.cluster.kubectl([
    "create",
    "role",
    "cm-writer",
    "-n",
    bench.ns,
    "--verb=create",
    "--resource=configmaps",
  ]);
  if (r.code !== 0) throw new Error(r.stderr);
  const b = await bench.cluster.kubectl([
    "create",
    "rolebinding",
    "cm-writer",
    "-n",
    bench.ns,
    "--role=cm-writer",
    `--user=${bench.user}`,
  ]);
  if (b.code !== 0) throw new Error(b.stderr);
}

export async function runDryRunBench(count = 300): Promise<Record<string, number>> {
  const bench = await startBenchCluster(1);
  try {
    await grantCreate(bench);
    const policyFile = join(bench.cluster.dataDir, "judge-configmaps.yaml");
    await writeFile(policyFile, judgedOnObject);
    const plain = await startBenchGateway(bench);
    const judging = await startBenchGateway(bench, `policy:\n  files: [${policyFile}]\n`);
    try {
      say(`dry-run: ${count} sequential ConfigMap creates through each gateway…`);
      await createLatencies(plain.target, bench.ns, "warm-plain", 20);
      await createLatencies(judging.target, bench.ns, "warm-judged", 20);
      const without = await createLatencies(plain.target, bench.ns, "plain", count);
      const withDryRun = await createLatencies(judging.target, bench.ns, "judged", count);
      return {
        creates: count,
        withoutDryRunP50Ms: percentile(without, 50),
        withoutDryRunP99Ms: percentile(without, 99),
        withDryRunP50Ms: percentile(withDryRun, 50),
        withDryRunP99Ms: percentile(withDryRun, 99),
        addedP50Ms: percentile(withDryRun, 50) - percentile(without, 50),
        addedP99Ms: percentile(withDryRun, 99) - percentile(without, 99),
      };
    } finally {
      await plain.stop();
      await judging.stop();
    }
  } finally {
    await bench.stop();
  }
}
