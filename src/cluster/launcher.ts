/**
 * Starts a real Kubernetes control plane on loopback for tests and sandboxes:
 * etcd, kube-apiserver (RBAC, static tokens) and, by default, a
 * kube-controller-manager running only the controllers that fixtures rely on.
 * Flags live in ./flags.ts, readiness checks in ./readiness.ts; this file
 * sequences startup and hands out the fixtures.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type ApiTarget, apiCall, waitUntil } from "./api.ts";
import { ensureKubeBinaries, type KubeBinaries } from "./build.ts";
import {
  type ControlPlaneCredentials,
  loadOrCreateCredentials,
  writeKubeconfig,
} from "./credentials.ts";
import { apiserverArgs, controllerManagerArgs, etcdArgs } from "./flags.ts";
import {
  freePorts,
  type KubectlResult,
  type ManagedProcess,
  removeAtProcessExit,
  runKubectl,
  startProcess,
} from "./processes.ts";
import { grantGatewayImpersonation } from "./rbac.ts";
import {
  isOk,
  waitForApiserver,
  waitForControllers,
  waitForEtcd,
  whileRunning,
} from "./readiness.ts";

export interface StartControlPlaneOptions {
  /** Kept after stop() when given; a temporary directory (removed on stop) otherwise. */
  dataDir?: string;
  /** Run kube-controller-manager (namespace deletion, GC, default ServiceAccounts). Default true. */
  controllerManager?: boolean;
  /** Receives every log line of every component, prefixed with its name. */
  log?: (line: string) => void;
  /** Build progress when the binaries are not cached yet (minutes); defaults to stderr, not `log`. */
  onBuildProgress?: (line: string) => void;
  startupTimeoutMs?: number;
}

export type { KubectlResult };

export interface ControlPlane {
  server: string;
  caPem: string;
  adminToken: string;
  gatewayToken: string;
  adminKubeconfig: string;
  gatewayKubeconfig: string;
  dataDir: string;
  binaries: KubeBinaries;
  /** For fake kubelets (./kwok.ts) on 127.0.0.1: the apiserver trusts this certificate's CA. */
  kubeletServing: { certPath: string; keyPath: string };
  kubectl(args: string[], opts?: { kubeconfig?: string; input?: string }): Promise<KubectlResult>;
  createNamespace(prefix: string, labels?: Record<string, string>): Promise<string>;
  stop(): Promise<void>;
}

export async function startControlPlane(
  options: StartControlPlaneOptions = {},
): Promise<ControlPlane> {
  const binaries = await ensureKubeBinaries(
    options.onBuildProgress ? { onProgress: options.onBuildProgress } : {},
  );
  const workspace = await openWorkspace(options.dataDir);
  const { dataDir } = workspace;
  const credentials = await loadOrCreateCredentials(join(dataDir, "pki"));
  const [etcdClientPort, etcdPeerPort, apiserverPort] = await freePorts(3);
  const server = `https://127.0.0.1:${apiserverPort}`;
  const kubeconfigs = await writeKubeconfigs(dataDir, server, credentials);
  const admin: ApiTarget = { server, caPem: credentials.caPem, token: credentials.tokens.admin };
  const withControllerManager =
    (options.controllerManager ?? true) && binaries.kubeControllerManager !== null;
  const timeoutMs = options.startupTimeoutMs ?? 120_000;
  const processes: ManagedProcess[] = [];
  function start(name: string, command: string, args: string[]): void {
    processes.push(
      startProcess(name, command, args, { logDir: workspace.logDir, log: options.log }),
    );
  }
  async function stopAll(): Promise<void> {
    // Reverse order: the apiserver should not lose etcd while it still serves.
    for (const proc of [...processes].reverse()) await proc.stop();
  }

  try {
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    start("etcd", binaries.etcd, etcdArgs(join(dataDir, "etcd"), etcdClientPort, etcdPeerPort));
    await whileRunning(processes, (signal) => waitForEtcd(etcdUrl, timeoutMs, signal));
    const apiserver = apiserverArgs({
      port: apiserverPort,
      etcdUrl,
      credentials,
      certDir: join(dataDir, "apiserver-certs"),
      serviceAccountAdmission: withControllerManager,
    });
    start("kube-apiserver", binaries.kubeApiserver, apiserver);
    await whileRunning(processes, async (signal) => {
      await waitForApiserver(admin, timeoutMs, signal);
      await grantGatewayImpersonation(admin);
    });
    if (withControllerManager && binaries.kubeControllerManager) {
      const args = controllerManagerArgs(kubeconfigs.controllerManager, credentials);
      start("kube-controller-manager", binaries.kubeControllerManager, args);
      await whileRunning(processes, (signal) => waitForControllers(admin, timeoutMs, signal));
    }
  } catch (error) {
    await stopAll();
    await workspace.removeIfOwned();
    throw error;
  }

  let stopped: Promise<void> | null = null;
  return {
    server,
    caPem: credentials.caPem,
    adminToken: credentials.tokens.admin,
    gatewayToken: credentials.tokens.gateway,
    adminKubeconfig: kubeconfigs.admin,
    gatewayKubeconfig: kubeconfigs.gateway,
    dataDir,
    binaries,
    kubeletServing: {
      certPath: credentials.kubeletServingCertPath,
      keyPath: credentials.kubeletServingKeyPath,
    },
    kubectl: (args, opts = {}) =>
      runKubectl(binaries.kubectl, opts.kubeconfig ?? kubeconfigs.admin, args, opts.input),
    createNamespace: (prefix, labels = {}) =>
      createNamespace(admin, prefix, labels, withControllerManager),
    stop() {
      stopped ??= stopAll().then(workspace.removeIfOwned);
      return stopped;
    },
  };
}

interface Workspace {
  dataDir: string;
  logDir: string;
  removeIfOwned(): Promise<void>;
}

/** The given data dir, or a temporary one that is removed on stop (or when Node exits first). */
async function openWorkspace(requested: string | undefined): Promise<Workspace> {
  const owned = requested === undefined;
  const dataDir = requested
    ? resolve(requested)
    : await mkdtemp(join(tmpdir(), "portcullis-cluster-"));
  const cancelExitRemoval = owned ? removeAtProcessExit(dataDir) : () => false;
  const logDir = join(dataDir, "logs");
  await mkdir(logDir, { recursive: true });
  return {
    dataDir,
    logDir,
    async removeIfOwned() {
      if (!owned) return;
      cancelExitRemoval();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Kubeconfigs carry the server URL, whose port changes on every start, so they are rewritten each time. */
async function writeKubeconfigs(
  dataDir: string,
  server: string,
  credentials: ControlPlaneCredentials,
) {
  const kubeconfigs = {
    admin: join(dataDir, "admin.kubeconfig"),
    gateway: join(dataDir, "gateway.kubeconfig"),
    controllerManager: join(dataDir, "controller-manager.kubeconfig"),
  };
  for (const name of ["admin", "gateway", "controllerManager"] as const) {
    const token = credentials.tokens[name];
    const spec = { server, caPem: credentials.caPem, token, user: name };
    await writeKubeconfig(kubeconfigs[name], spec);
  }
  return kubeconfigs;
}

/** Creates `<prefix>-<random>`; with controllers, waits for its default ServiceAccount so pods can be created at once. */
async function createNamespace(
  admin: ApiTarget,
  prefix: string,
  labels: Record<string, string>,
  withControllers: boolean,
): Promise<string> {
  const stem = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 50);
  const name = `${stem || "ns"}-${randomBytes(4).toString("hex")}`;
  const namespace = { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } };
  await apiCall(admin, "POST", "/api/v1/namespaces", namespace);
  if (withControllers) {
    const account = `/api/v1/namespaces/${name}/serviceaccounts/default`;
    await waitUntil(`the default ServiceAccount in ${name}`, 30_000, () => isOk(admin, account));
  }
  return name;
}
