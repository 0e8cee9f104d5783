import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ControlPlane } from "../cluster/launcher.ts";
import type { Config } from "../config/schema.ts";
import type { AgentTokenStore } from "../identity/agent-tokens.ts";
import { effectivePrefix } from "../identity/schema.ts";
import { renderKubeconfig } from "../kube/kubeconfig.ts";

export const demoAgent = "demo-agent";
export const demoNamespace = "demo";

async function kubectlOrThrow(
  cluster: ControlPlane,
  args: string[],
  input?: string,
): Promise<void> {
  const result = await cluster.kubectl(args, input === undefined ? {} : { input });
  if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${result.stderr.trim()}`);
}

/**
 * The embedded sandbox's first-run setup: a `demo` namespace, an agent that
 * may edit it (RBAC, enforced by the API server under impersonation), and a
 * kubeconfig for that agent. Idempotent across restarts.
 */
export async function prepareDemo(
  cluster: ControlPlane,
  agents: AgentTokenStore,
  config: Config,
  gatewayUrl: string,
  caPem: string,
): Promise<string> {
  const user = effectivePrefix(config.authentication.agentTokens.usernamePrefix) + demoAgent;
  const manifest = JSON.stringify({
    apiVersion: "v1",
    kind: "List",
    items: [
      { apiVersion: "v1", kind: "Namespace", metadata: { name: demoNamespace } },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: `${demoAgent}-edit`, namespace: demoNamespace },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "edit" },
        subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
      },
    ],
  });
  await kubectlOrThrow(cluster, ["apply", "-f", "-"], manifest);
  const path = join(config.dataDir, `${demoAgent}.kubeconfig`);
  const active = (await agents.list()).some((a) => a.name === demoAgent && !a.revokedAt);
  if (active && existsSync(path)) return path;
  if (active) await agents.revoke(demoAgent);
  const { token } = await agents.create(demoAgent);
  writeFileSync(
    path,
    renderKubeconfig({
      name: demoAgent,
      server: gatewayUrl,
      caPem,
      token,
      namespace: demoNamespace,
    }),
    { mode: 0o600 },
  );
  return path;
}
