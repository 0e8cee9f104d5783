/**
 * Starts a real gateway in-process in front of a real control plane, for
 * end-to-end tests. Clients reach it over HTTPS exactly as they would a
 * deployed one; only the process boundary is saved.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { AuditLog } from "../../src/audit/open.ts";
import type { CompletionRecord } from "../../src/audit/record.ts";
import type { ControlPlane } from "../../src/cluster/launcher.ts";
import { configSchema } from "../../src/config/schema.ts";
import { AgentTokenStore } from "../../src/identity/agent-tokens.ts";
import type { OidcIssuerInput } from "../../src/identity/schema.ts";
import { readKubeconfig, renderKubeconfig } from "../../src/kube/kubeconfig.ts";
import { assembleGateway } from "../../src/server/assemble.ts";
import type { Gateway } from "../../src/server/gateway.ts";

export interface TestGateway {
  gateway: Gateway;
  audit: AuditLog;
  url: string;
  caPem: string;
  dataDir: string;
  agents: AgentTokenStore;
  /** Creates an agent and writes its kubeconfig; returns the path and token. */
  agent(
    name: string,
    options?: { groups?: string[]; namespace?: string },
  ): Promise<{ kubeconfig: string; token: string; username: string }>;
  /** Writes a kubeconfig for an arbitrary bearer token (e.g. an OIDC JWT). */
  kubeconfigForToken(name: string, token: string): Promise<string>;
  close(): Promise<void>;
}

export async function startTestGateway(
  cluster: ControlPlane,
  options: {
    oidc?: OidcIssuerInput[];
    audit?: Record<string, unknown>;
    policy?: Record<string, unknown>;
    masking?: Record<string, unknown>;
    approvals?: Record<string, unknown>;
    /** Reuse a data dir (a gateway restarting); it is then kept on close. */
    dataDir?: string;
  } = {},
): Promise<TestGateway> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "portcullis-gw-")));
  const config = configSchema.parse({
    dataDir,
    listen: { port: 0 },
    upstream: { kubeconfig: cluster.gatewayKubeconfig },
    authentication: { oidc: options.oidc ?? [] },
    ...(options.audit ? { audit: options.audit } : {}),
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.masking ? { masking: options.masking } : {}),
    ...(options.approvals ? { approvals: options.approvals } : {}),
    logging: { level: process.env.PORTCULLIS_TEST_LOG ?? "silent" },
    shutdown: { timeoutSeconds: 5 },
  });
  const log = pino({ level: config.logging.level });
  const agents = await AgentTokenStore.open(dataDir, config.authentication.agentTokens);
  const { gateway, serving, audit } = await assembleGateway(
    config,
    readKubeconfig(cluster.gatewayKubeconfig),
    agents,
    log,
  );
  const url = gateway.url.replace("127.0.0.1", "localhost");

  async function kubeconfigForToken(
    name: string,
    token: string,
    namespace?: string,
  ): Promise<string> {
    const path = join(dataDir, `${name}.kubeconfig`);
    await writeFile(
      path,
      renderKubeconfig({
        name,
        server: url,
        caPem: serving.caPem,
        token,
        ...(namespace ? { namespace } : {}),
      }),
      { mode: 0o600 },
    );
    return path;
  }

  return {
    gateway,
    audit,
    url,
    caPem: serving.caPem,
    dataDir,
    agents,
    async agent(name, agentOptions = {}) {
      const { token } = await agents.create(name, { groups: agentOptions.groups ?? [] });
      const kubeconfig = await kubeconfigForToken(name, token, agentOptions.namespace);
      return { kubeconfig, token, username: `portcullis:agent:${name}` };
    },
    kubeconfigForToken: (name, token) => kubeconfigForToken(name, token),
    async close() {
      await gateway.close();
      if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A RoleBinding (or ClusterRoleBinding without namespace) for a user, applied as admin. */
export async function bindRole(
  cluster: ControlPlane,
  user: string,
  clusterRole: string,
  namespace?: string,
): Promise<void> {
  const name = `${user.replaceAll(":", "-")}-${clusterRole}`;
  const args = namespace
    ? [
        "create",
        "rolebinding",
        name,
        `--clusterrole=${clusterRole}`,
        `--user=${user}`,
        "-n",
        namespace,
      ]
    : ["create", "clusterrolebinding", name, `--clusterrole=${clusterRole}`, `--user=${user}`];
  const result = await cluster.kubectl(args);
  if (result.code !== 0) throw new Error(`bind ${clusterRole} to ${user}: ${result.stderr}`);
}

/**
 * The gateway's completion records once `ready` holds for them (or after
 * `timeoutMs`, whatever they are then). A stream's completion record is
 * written when the stream has closed, moments after the client saw the end,
 * so tests of streams wait for it.
 */
export async function completionsWhen(
  gw: TestGateway,
  ready: (records: CompletionRecord[]) => boolean,
  timeoutMs = 10_000,
): Promise<CompletionRecord[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await gw.audit.store.search({ kind: "completion", limit: 5000 });
    const records = rows.map((r) => JSON.parse(r.body) as CompletionRecord);
    if (ready(records) || Date.now() > deadline) return records;
    await new Promise((r) => setTimeout(r, 50));
  }
}
