/**
 * `portcullis cluster`: a real local Kubernetes control plane (etcd,
 * kube-apiserver, kube-controller-manager) to try the gateway against,
 * built from pinned Go modules on first use.
 */
import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Command } from "commander";
import { ensureKubeBinaries } from "../cluster/build.ts";
import { startControlPlane } from "../cluster/launcher.ts";

const defaultDataDir = ".portcullis/cluster";

interface ClusterState {
  pid: number;
  server: string;
  adminKubeconfig: string;
  gatewayKubeconfig: string;
  startedAt: string;
}

export function clusterCommand(): Command {
  const cluster = new Command("cluster")
    .description(
      "run a local Kubernetes control plane (etcd + kube-apiserver) for trying Portcullis",
    )
    .addHelpText(
      "after",
      `
The binaries (Kubernetes v1.37, etcd) are built from pinned Go modules into
~/.cache/portcullis/kube on first use, which takes several minutes and needs Go.
Set KUBEBUILDER_ASSETS to a directory holding kube-apiserver, etcd and kubectl
to use existing binaries instead.

Examples:
  $ portcullis cluster up                  # start; Ctrl-C stops it
  $ portcullis cluster up --data-dir /tmp/k8s --verbose
  $ portcullis cluster down                # stop an "up" running elsewhere
  $ portcullis cluster build               # only build the binaries`,
    );
  cluster.addCommand(upCommand()).addCommand(downCommand()).addCommand(buildCommand());
  return cluster;
}

function upCommand(): Command {
  return new Command("up")
    .description("start the control plane in the foreground until Ctrl-C")
    .option(
      "--data-dir <dir>",
      "where etcd data, credentials, kubeconfigs and logs live",
      defaultDataDir,
    )
    .option(
      "--no-controller-manager",
      "skip kube-controller-manager (namespaces never finish deleting)",
    )
    .option("-v, --verbose", "stream every component's log lines to stderr")
    .addHelpText(
      "after",
      `
Writes admin.kubeconfig (system:masters) and gateway.kubeconfig (may only
impersonate) into the data dir, and logs/<component>.log. Credentials and etcd
data are kept, so a later "up" on the same dir resumes the same cluster.

Examples:
  $ portcullis cluster up
  $ KUBECONFIG=.portcullis/cluster/admin.kubeconfig kubectl get namespaces`,
    )
    .action(runUp);
}

async function runUp(options: {
  dataDir: string;
  controllerManager: boolean;
  verbose?: boolean;
}): Promise<void> {
  const dataDir = resolve(options.dataDir);
  const statePath = join(dataDir, "state.json");
  const previous = await readState(statePath);
  if (previous && isAlive(previous.pid)) {
    throw new Error(
      `a cluster is already running from ${dataDir} (pid ${previous.pid}); stop it with "portcullis cluster down"`,
    );
  }
  const started = Date.now();
  const controlPlane = await startControlPlane({
    dataDir,
    controllerManager: options.controllerManager,
    ...(options.verbose ? { log: (line: string) => process.stderr.write(`${line}\n`) } : {}),
  });
  const state: ClusterState = {
    pid: process.pid,
    server: controlPlane.server,
    adminKubeconfig: controlPlane.adminKubeconfig,
    gatewayKubeconfig: controlPlane.gatewayKubeconfig,
    startedAt: new Date().toISOString(),
  };
  await writeFile(statePath, `${JSON.stringify(state, null, 2)}\n`);
  process.stdout.write(
    [
      `Kubernetes ${controlPlane.binaries.version} is up (${((Date.now() - started) / 1000).toFixed(1)}s)`,
      `  server              ${controlPlane.server}`,
      `  admin kubeconfig    ${controlPlane.adminKubeconfig}`,
      `  gateway kubeconfig  ${controlPlane.gatewayKubeconfig}`,
      `  logs                ${join(dataDir, "logs")}`,
      "",
      `  export KUBECONFIG=${controlPlane.adminKubeconfig}`,
      "",
      "Press Ctrl-C to stop.",
      "",
    ].join("\n"),
  );
  const signal = await new Promise<NodeJS.Signals>((done) => {
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
  process.stdout.write(`\n${signal}: stopping…\n`);
  await controlPlane.stop();
  await rm(statePath, { force: true });
  process.stdout.write("stopped\n");
}

function downCommand(): Command {
  return new Command("down")
    .description('stop a control plane started by "cluster up"')
    .option("--data-dir <dir>", "the data dir given to up", defaultDataDir)
    .addHelpText("after", "\nExample:\n  $ portcullis cluster down --data-dir /tmp/k8s")
    .action(runDown);
}

async function runDown(options: { dataDir: string }): Promise<void> {
  const statePath = join(resolve(options.dataDir), "state.json");
  const state = await readState(statePath);
  if (!state || !isAlive(state.pid)) {
    await rm(statePath, { force: true });
    process.stdout.write(`no cluster is running from ${resolve(options.dataDir)}\n`);
    return;
  }
  process.kill(state.pid, "SIGTERM");
  const deadline = Date.now() + 30_000;
  while (isAlive(state.pid)) {
    if (Date.now() > deadline) throw new Error(`pid ${state.pid} did not stop within 30s`);
    await new Promise((done) => setTimeout(done, 200));
  }
  process.stdout.write(`stopped the cluster at ${state.server} (pid ${state.pid})\n`);
}

function buildCommand(): Command {
  return new Command("build")
    .description("build (or find) the Kubernetes binaries and print their paths")
    .addHelpText("after", "\nExample:\n  $ portcullis cluster build")
    .action(async function runBuild() {
      const binaries = await ensureKubeBinaries();
      process.stdout.write(`${JSON.stringify(binaries, null, 2)}\n`);
    });
}

async function readState(path: string): Promise<ClusterState | null> {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(await readFile(path, "utf8")) as ClusterState;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
