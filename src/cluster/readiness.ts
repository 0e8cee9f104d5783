/**
 * Readiness checks for the control plane's components, and the guard that
 * turns "a component died while we waited" into an immediate, explained error
 * instead of a timeout.
 */
import { type ApiTarget, apiRequest, waitUntil } from "./api.ts";
import { failOnExit, type ManagedProcess } from "./processes.ts";

/** Runs a readiness wait, failing fast (with the dead process's log tail) if any component exits meanwhile. */
export async function whileRunning(
  processes: ManagedProcess[],
  work: (signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const abandon = new AbortController();
  try {
    await Promise.race([work(abandon.signal), failOnExit(processes)]);
  } finally {
    abandon.abort();
  }
}

export function waitForEtcd(etcdUrl: string, timeoutMs: number, signal: AbortSignal) {
  return waitUntil(
    "etcd /health",
    timeoutMs,
    async () => {
      const response = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(2000) });
      return response.ok && ((await response.json()) as { health?: string }).health === "true";
    },
    signal,
  );
}

export async function isOk(target: ApiTarget, path: string): Promise<boolean> {
  return (await apiRequest(target, "GET", path)).status === 200;
}

const viewRole = "/apis/rbac.authorization.k8s.io/v1/clusterroles/view";

/** /readyz, then the RBAC bootstrap policy (reconciled by a post-start hook; `view` marks it done). */
export async function waitForApiserver(
  admin: ApiTarget,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<void> {
  await waitUntil("kube-apiserver /readyz", timeoutMs, () => isOk(admin, "/readyz"), signal);
  await waitUntil("RBAC bootstrap policy", timeoutMs, () => isOk(admin, viewRole), signal);
}

/**
 * The controllers are working once the `default` ServiceAccount exists
 * (serviceaccount-controller) and `view` has aggregated rules
 * (clusterrole-aggregation-controller: bootstrap admin/edit/view start empty).
 */
export async function waitForControllers(
  admin: ApiTarget,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<void> {
  const defaultAccount = "/api/v1/namespaces/default/serviceaccounts/default";
  await waitUntil(
    "the default ServiceAccount",
    timeoutMs,
    () => isOk(admin, defaultAccount),
    signal,
  );
  await waitUntil(
    "aggregated rules in ClusterRole view",
    timeoutMs,
    async () => {
      const role = await apiRequest(admin, "GET", viewRole);
      return role.status === 200 && ((JSON.parse(role.text).rules ?? []) as unknown[]).length > 0;
    },
    signal,
  );
}
