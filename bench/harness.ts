/**
 * What benchmarks share: a control plane seeded with ConfigMaps, an agent
 * allowed to read them, and `portcullis serve` as a separate process in front.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type ControlPlane, startControlPlane } from "../src/cluster/launcher.ts";
import { freePorts } from "../src/cluster/processes.ts";
import { AgentTokenStore } from "../src/identity/agent-tokens.ts";
import { get, makeTarget, type Target } from "./load.ts";

export const say = (line: string) => process.stderr.write(`${line}\n`);

export interface BenchCluster {
  cluster: ControlPlane;
  ns: string;
  user: string;
  /** Direct to the API server with the same impersonation the gateway adds. */
  direct(agentId: string): Target;
  stop(): Promise<void>;
}

export async function startBenchCluster(listSize: number): Promise<BenchCluster> {
  say("starting the control plane…");
  const cluster = await startControlPlane({ controllerManager: false });
  const kubectl = async (args: string[], input?: string) => {
    const r = await cluster.kubectl(args, input === undefined ? {} : { input });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
  };
  const ns = await cluster.createNamespace("bench");
  await kubectl(["create", "configmap", "small", "-n", ns, "--from-literal=greeting=hello"]);
  const items = Array.from({ length: listSize }, (_, i) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: `cm-${i}`, labels: { app: "bench" } },
    data: { "settings.json": JSON.stringify({ index: i, region: "us-east-1", enabled: true }) },
  }));
  await kubectl(
    ["apply", "-n", ns, "-f", "-"],
    JSON.stringify({ apiVersion: "v1", kind: "List", items }),
  );
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
  return {
    cluster,
    ns,
    user,
    direct: (agentId) =>
      makeTarget(cluster.server, cluster.caPem, {
        authorization: `Bearer ${cluster.gatewayToken}`,
        "impersonate-user": user,
        "impersonate-group": "portcullis:agents",
        "impersonate-uid": agentId,
        "impersonate-extra-portcullis.dev%2Fissuer": "portcullis",
        accept: "application/json",
      }),
    stop: () => cluster.stop(),
  };
}

export interface BenchGateway {
  target: Target;
  pid: number;
  agentId: string;
  dir: string;
  stop(): Promise<void>;
}

/** `portcullis serve` in its own process; `extraConfig` is YAML appended to the config. */
export async function startBenchGateway(
  bench: BenchCluster,
  extraConfig = "",
): Promise<BenchGateway> {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-bench-"));
  const agents = await AgentTokenStore.open(dir);
  const { token, agent } = await agents.create("bench");
  const [port] = await freePorts(1);
  const config = join(dir, "portcullis.yaml");
  await writeFile(
    config,
    `dataDir: ${dir}\nlisten:\n  port: ${port}\nupstream:\n  kubeconfig: ${bench.cluster.gatewayKubeconfig}\nlogging:\n  level: warn\n${extraConfig}`,
  );
  // BENCH_GATEWAY_NODE_FLAGS (e.g. "--cpu-prof") profiles the gateway process.
  const nodeFlags = (process.env.BENCH_GATEWAY_NODE_FLAGS ?? "").split(/\s+/).filter(Boolean);
  const main = resolve(import.meta.dirname, "../src/cli/main.ts");
  const child = spawn(process.execPath, [...nodeFlags, main, "serve", "--config", config], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise((r) => child.once("exit", r));
  let caPem = "";
  for (let i = 0; i < 200 && !caPem; i++) {
    try {
      caPem = readFileSync(join(dir, "tls", "ca.crt"), "utf8");
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const target = makeTarget(`https://localhost:${port}`, caPem, {
    authorization: `Bearer ${token}`,
    accept: "application/json",
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await get(target, "/readyz").catch(() => 0);
    if (status === 200) break;
    if (Date.now() > deadline) throw new Error("gateway did not become ready");
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    target,
    pid: child.pid ?? 0,
    agentId: agent.id,
    dir,
    async stop() {
      child.kill("SIGTERM");
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
}
