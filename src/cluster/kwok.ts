/**
 * Fake nodes for the test control plane, run by kwok: pods bound to them
 * (spec.nodeName; there is no scheduler) become Running, and the real
 * kube-apiserver reaches kwok's kubelet-like server on 127.0.0.1 for
 * `kubectl logs`, `exec` and `port-forward`, which ./kwok-config.ts rules
 * answer from local files, local commands and local ports.
 *
 * kwok's server authenticates nobody, so the apiserver needs no kubelet
 * client certificate and no RBAC for the apiserver → kubelet path; but any
 * local user who finds the port can exec commands as the test's user, so it
 * listens on 127.0.0.1 only and lives no longer than the test.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type ApiTarget, apiCall, apiRequest, waitUntil } from "./api.ts";
import type { Progress } from "./go-build.ts";
import { ensureKwokBinary } from "./kwok-build.ts";
import { type KwokRules, kwokRuleObjects, renderKwokConfig } from "./kwok-config.ts";
import type { ControlPlane } from "./launcher.ts";
import { freePorts, startProcess } from "./processes.ts";
import { isOk, whileRunning } from "./readiness.ts";

export type { ExecRule, KwokRules, LogsRule, PortForwardRule } from "./kwok-config.ts";

/** Marks the nodes one kwok instance manages, so several can share a control plane. */
const instanceLabel = "portcullis.dev/kwok";

export interface StartKwokOptions extends KwokRules {
  /** Fake nodes to create (they must not exist yet); default one, `kwok-<random>`. */
  nodeNames?: string[];
  /** Receives kwok's log lines, prefixed `[kwok-<instance>]`. */
  log?: (line: string) => void;
  /** Build progress when kwok is not cached yet (about a minute); defaults to stderr. */
  onBuildProgress?: Progress;
  startupTimeoutMs?: number;
}

export interface Kwok {
  nodeNames: string[];
  /** The port of kwok's kubelet-like server on 127.0.0.1 (every fake node's kubelet port). */
  kubeletPort: number;
  /** Where kwok's own log goes. */
  logPath: string;
  /** Stops kwok and every command it still runs, and removes its nodes and their pods. */
  stop(): Promise<void>;
}

export async function startKwok(
  controlPlane: ControlPlane,
  options: StartKwokOptions = {},
): Promise<Kwok> {
  const binary = await ensureKwokBinary(
    options.onBuildProgress ? { onProgress: options.onBuildProgress } : {},
  );
  const instance = randomBytes(4).toString("hex");
  const nodeNames = options.nodeNames ?? [`kwok-${instance}`];
  const admin: ApiTarget = {
    server: controlPlane.server,
    caPem: controlPlane.caPem,
    token: controlPlane.adminToken,
  };
  const dir = await mkdtemp(join(controlPlane.dataDir, "kwok-"));
  const [port = 0] = await freePorts(1);
  const rulesPath = join(dir, "rules.yaml");
  await writeFile(rulesPath, renderKwokConfig(kwokRuleObjects(options)));
  // kwok also loads $KWOK_WORKDIR/kwok.yaml (default ~/.kwok): keep a user's own out.
  const workDir = join(dir, "workdir");
  await mkdir(workDir);

  const args = kwokArgs(controlPlane, instance, port, [binary.stagesPath, rulesPath]);
  // Its log stays with the control plane's (kept when the caller chose the data dir).
  const kwok = startProcess(`kwok-${instance}`, binary.kwok, args, {
    logDir: join(controlPlane.dataDir, "logs"),
    log: options.log,
    env: { ...process.env, KWOK_WORKDIR: workDir },
    processGroup: true,
  });
  const timeoutMs = options.startupTimeoutMs ?? 60_000;
  async function stop(): Promise<void> {
    await kwok.stop();
    await rm(dir, { recursive: true, force: true });
    await removeNodes(admin, nodeNames);
  }

  try {
    await whileRunning([kwok], async (signal) => {
      const kubelet: ApiTarget = { ...admin, server: `https://127.0.0.1:${port}` };
      await waitUntil("kwok /healthz", timeoutMs, () => isOk(kubelet, "/healthz"), signal);
      for (const name of nodeNames) {
        await apiCall(admin, "POST", "/api/v1/nodes", fakeNode(name, instance, port));
      }
      for (const name of nodeNames) {
        await waitUntil(`fake node ${name} Ready`, timeoutMs, () => isReady(admin, name), signal);
      }
    });
  } catch (error) {
    await stop();
    throw error;
  }

  let stopped: Promise<void> | null = null;
  return {
    nodeNames,
    kubeletPort: port,
    logPath: kwok.logPath,
    stop() {
      stopped ??= stop();
      return stopped;
    },
  };
}

function kwokArgs(
  controlPlane: ControlPlane,
  instance: string,
  port: number,
  configs: string[],
): string[] {
  return [
    ...configs.map((path) => `--config=${path}`),
    `--kubeconfig=${controlPlane.adminKubeconfig}`,
    `--manage-nodes-with-label-selector=${instanceLabel}=${instance}`,
    // --node-port alone would listen on 0.0.0.0; it still names the port nodes advertise.
    `--server-address=127.0.0.1:${port}`,
    `--node-port=${port}`,
    "--node-ip=127.0.0.1",
    `--tls-cert-file=${controlPlane.kubeletServing.certPath}`,
    `--tls-private-key-file=${controlPlane.kubeletServing.keyPath}`,
    // kwok's default pod CIDR is the apiserver's Service range (10.0.0.0/24).
    "--cidr=10.244.0.0/16",
  ];
}

/**
 * A Node as a kubelet would register it. kwok's node-initialize Stage keeps
 * these addresses and the kubelet port and adds the conditions, capacity and
 * node info that make it Ready.
 */
function fakeNode(name: string, instance: string, port: number) {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: {
        [instanceLabel]: instance,
        type: "kwok",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
      },
      annotations: { "kwok.x-k8s.io/node": "fake" },
    },
    status: {
      addresses: [
        { type: "InternalIP", address: "127.0.0.1" },
        { type: "Hostname", address: name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: port } },
    },
  };
}

async function isReady(admin: ApiTarget, name: string): Promise<boolean> {
  const response = await apiRequest(admin, "GET", `/api/v1/nodes/${name}`);
  if (response.status !== 200) return false;
  const node = JSON.parse(response.text) as {
    status?: { conditions?: { type: string; status: string }[] };
  };
  return (node.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

/**
 * With kwok gone nothing would finish deleting the nodes' pods (deletion of a
 * bound pod waits for its kubelet), and their namespaces would hang
 * Terminating; so force-delete them, as the pod GC controller would for pods
 * of a deleted node. Best effort: the control plane may already be stopped.
 */
async function removeNodes(admin: ApiTarget, nodeNames: string[]): Promise<void> {
  try {
    for (const name of nodeNames) {
      const selector = encodeURIComponent(`spec.nodeName=${name}`);
      const list = await apiCall(admin, "GET", `/api/v1/pods?fieldSelector=${selector}`);
      const pods = (JSON.parse(list.text) as { items: PodRef[] }).items;
      for (const { metadata } of pods) {
        const path = `/api/v1/namespaces/${metadata.namespace}/pods/${metadata.name}`;
        await apiCall(admin, "DELETE", `${path}?gracePeriodSeconds=0`, undefined, [404]);
      }
      await apiCall(admin, "DELETE", `/api/v1/nodes/${name}`, undefined, [404]);
    }
  } catch (error) {
    // A network error: the control plane is already stopped, its nodes and pods with it.
    if (!(error as NodeJS.ErrnoException).code) throw error;
  }
}

interface PodRef {
  metadata: { name: string; namespace: string };
}
