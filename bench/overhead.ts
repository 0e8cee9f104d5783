/**
 * `npm run bench -- overhead`: the same load straight to the API server and
 * through the gateway (a separate `portcullis serve` process), on one
 * machine. Direct requests carry the same impersonation the gateway adds, so
 * the API server does the same work and the difference is the gateway hop.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startControlPlane } from "../src/cluster/launcher.ts";
import { freePorts } from "../src/cluster/processes.ts";
import { AgentTokenStore } from "../src/identity/agent-tokens.ts";
import { fixedRate, get, type LatencyResult, makeTarget, saturate, type Target } from "./load.ts";

export interface OverheadOptions {
  rate: number;
  seconds: number;
  saturateSeconds: number;
  concurrency: number;
  soakSeconds: number;
  /** "get", "list" or "all". */
  workload: string;
}

const say = (line: string) => process.stderr.write(`${line}\n`);

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

async function waitReady(target: Target): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await get(target, "/readyz")) === 200) return;
    } catch {}
    if (Date.now() > deadline) throw new Error("gateway did not become ready");
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function seed(
  kubectl: (args: string[], input?: string) => Promise<void>,
  ns: string,
  count: number,
) {
  const items = Array.from({ length: count }, (_, i) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: `cm-${i}`, labels: { app: "bench" } },
    data: { "settings.json": JSON.stringify({ index: i, region: "us-east-1", enabled: true }) },
  }));
  await kubectl(
    ["apply", "-n", ns, "-f", "-"],
    JSON.stringify({ apiVersion: "v1", kind: "List", items }),
  );
}

export async function runOverhead(options: OverheadOptions): Promise<Record<string, unknown>> {
  say("starting the control plane…");
  const cluster = await startControlPlane({ controllerManager: false });
  const dir = await mkdtemp(join(tmpdir(), "portcullis-bench-"));
  const kubectl = async (args: string[], input?: string) => {
    const r = await cluster.kubectl(args, input === undefined ? {} : { input });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
  };
  let gatewayPid: number | undefined;
  let stopGateway = async () => {};
  try {
    const ns = await cluster.createNamespace("bench");
    await kubectl(["create", "configmap", "small", "-n", ns, "--from-literal=greeting=hello"]);
    await seed(kubectl, ns, 500);
    const user = "portcullis:agent:bench";
    await kubectl([
      "create",
      "role",
      "cm-reader",
      "-n",
      ns,
      "--verb=get,list",
      "--resource=configmaps",
    ]);
    await kubectl([
      "create",
      "rolebinding",
      "cm-reader",
      "-n",
      ns,
      "--role=cm-reader",
      `--user=${user}`,
    ]);

    const agents = await AgentTokenStore.open(dir);
    const { token, agent } = await agents.create("bench");
    const [port] = await freePorts(1);
    const config = join(dir, "portcullis.yaml");
    await writeFile(
      config,
      `dataDir: ${dir}\nlisten:\n  port: ${port}\nupstream:\n  kubeconfig: ${cluster.gatewayKubeconfig}\nlogging:\n  level: warn\n`,
    );
    // BENCH_GATEWAY_NODE_FLAGS (e.g. "--cpu-prof") profiles the gateway process.
    const nodeFlags = (process.env.BENCH_GATEWAY_NODE_FLAGS ?? "").split(/\s+/).filter(Boolean);
    const main = resolve(import.meta.dirname, "../src/cli/main.ts");
    const child = spawn(process.execPath, [...nodeFlags, main, "serve", "--config", config], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    gatewayPid = child.pid;
    const gatewayExited = new Promise((r) => child.once("exit", r));
    stopGateway = async () => {
      child.kill("SIGTERM");
      await gatewayExited;
    };
    const caPem = await (async () => {
      for (let i = 0; i < 100; i++) {
        try {
          return readFileSync(join(dir, "tls", "ca.crt"), "utf8");
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      throw new Error("gateway CA never appeared");
    })();
    const viaGateway = makeTarget(`https://localhost:${port}`, caPem, {
      authorization: `Bearer ${token}`,
      accept: "application/json",
    });
    await waitReady(viaGateway);
    const direct = makeTarget(cluster.server, cluster.caPem, {
      authorization: `Bearer ${cluster.gatewayToken}`,
      "impersonate-user": user,
      "impersonate-group": "portcullis:agents",
      "impersonate-uid": agent.id,
      "impersonate-extra-portcullis.dev%2Fissuer": "portcullis",
      accept: "application/json",
    });

    const workloads = [
      { name: "GET small ConfigMap", path: `/api/v1/namespaces/${ns}/configmaps/small` },
      {
        name: "LIST 500 ConfigMaps",
        path: `/api/v1/namespaces/${ns}/configmaps?labelSelector=app%3Dbench`,
      },
    ];
    const rows: Array<Record<string, number | string>> = [];
    const chosen = workloads.filter(
      (w) => options.workload === "all" || w.name.toLowerCase().startsWith(options.workload),
    );
    for (const workload of chosen) {
      say(`${workload.name}: warming up…`);
      await fixedRate(direct, workload.path, options.rate, 3);
      await fixedRate(viaGateway, workload.path, options.rate, 3);
      say(
        `${workload.name}: ${options.rate} req/s for ${options.seconds}s, direct then through the gateway…`,
      );
      const d: LatencyResult = await fixedRate(
        direct,
        workload.path,
        options.rate,
        options.seconds,
      );
      const g: LatencyResult = await fixedRate(
        viaGateway,
        workload.path,
        options.rate,
        options.seconds,
      );
      say(
        `${workload.name}: saturation with ${options.concurrency} concurrent clients, ${options.saturateSeconds}s each…`,
      );
      const dMax = await saturate(
        direct,
        workload.path,
        options.concurrency,
        options.saturateSeconds,
      );
      const gMax = await saturate(
        viaGateway,
        workload.path,
        options.concurrency,
        options.saturateSeconds,
      );
      rows.push({
        workload: workload.name,
        directP50Ms: d.p50Ms,
        gatewayP50Ms: g.p50Ms,
        addedP50Ms: g.p50Ms - d.p50Ms,
        directP99Ms: d.p99Ms,
        gatewayP99Ms: g.p99Ms,
        addedP99Ms: g.p99Ms - d.p99Ms,
        directMaxRps: dMax,
        gatewayMaxRps: gMax,
        throughputRatio: gMax / dMax,
        errors: d.errors + g.errors,
      });
    }

    let memory: Record<string, number> = {};
    if (options.soakSeconds > 0 && gatewayPid !== undefined) {
      say(
        `memory soak: ${options.rate} req/s mixed GET/LIST through the gateway for ${options.soakSeconds}s…`,
      );
      const samples: number[] = [];
      const pid = gatewayPid;
      const sampler = setInterval(() => samples.push(rssMiB(pid)), 5000);
      samples.push(rssMiB(pid));
      const half = options.soakSeconds / 2;
      await Promise.all([
        fixedRate(viaGateway, workloads[0]?.path ?? "", options.rate / 2, options.soakSeconds),
        fixedRate(viaGateway, workloads[1]?.path ?? "", options.rate / 2, options.soakSeconds),
      ]);
      clearInterval(sampler);
      samples.push(rssMiB(pid));
      const firstHalf = samples.slice(0, Math.max(1, Math.floor(samples.length / 2)));
      const secondHalf = samples.slice(Math.floor(samples.length / 2));
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      memory = {
        soakSeconds: options.soakSeconds,
        rssStartMiB: samples[0] ?? Number.NaN,
        rssEndMiB: samples.at(-1) ?? Number.NaN,
        rssMaxMiB: Math.max(...samples),
        rssFirstHalfMeanMiB: mean(firstHalf),
        rssSecondHalfMeanMiB: mean(secondHalf),
      };
      void half;
    }
    return {
      benchmark: "overhead",
      rate: options.rate,
      seconds: options.seconds,
      workloads: rows,
      memory,
    };
  } finally {
    await stopGateway();
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
