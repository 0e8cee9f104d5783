import type { Logger } from "pino";
import { openApprovals } from "../approvals/open.ts";
import { type AuditLog, openAuditLog } from "../audit/open.ts";
import type { Config } from "../config/schema.ts";
import { resolveSecret } from "../config/secret.ts";
import type { AgentTokenStore } from "../identity/agent-tokens.ts";
import { createAuthenticator } from "../identity/authenticate.ts";
import { inClusterTarget, readKubeconfig, type UpstreamTarget } from "../kube/kubeconfig.ts";
import { Upstream } from "../kube/upstream.ts";
import { profilesFromConfig } from "../masking/config.ts";
import { LivePolicy } from "../policy/live.ts";
import { NamespaceLabels } from "../policy/namespace-labels.ts";
import { LiveCalls } from "../sessions/live.ts";
import { ensureServingMaterial, readServingFiles, type ServingMaterial } from "../tls/serving.ts";
import { type Gateway, startGateway } from "./gateway.ts";
import { GatewayMetrics } from "./metrics.ts";

/** The upstream target a config names; undefined when no upstream is configured. */
export function upstreamTargetFromConfig(config: Config): UpstreamTarget | undefined {
  const settings = config.upstream;
  if (!settings) return undefined;
  let target: UpstreamTarget;
  if (settings.inCluster) target = inClusterTarget();
  else if (settings.kubeconfig) target = readKubeconfig(settings.kubeconfig, settings.context);
  else throw new Error("upstream: set kubeconfig or inCluster: true");
  if (settings.token) {
    target = { ...target, token: resolveSecret(settings.token) };
    delete target.tokenFile;
  }
  return target;
}

export async function servingMaterial(config: Config): Promise<ServingMaterial> {
  const tls = config.listen.tls;
  if (tls.certFile && tls.keyFile) return readServingFiles(tls.certFile, tls.keyFile);
  return ensureServingMaterial(config.dataDir, tls.hosts);
}

/** Wires a gateway from validated config; the caller owns the agent store. */
export async function assembleGateway(
  config: Config,
  target: UpstreamTarget,
  agentTokens: AgentTokenStore,
  log: Logger,
): Promise<{ gateway: Gateway; serving: ServingMaterial; audit: AuditLog }> {
  const serving = await servingMaterial(config);
  const upstream = new Upstream(target, { maxSockets: config.upstream?.maxSockets ?? 256 });
  const authenticator = createAuthenticator({ oidc: config.authentication.oidc, agentTokens });
  const metrics = new GatewayMetrics();
  const masking = profilesFromConfig(config.masking, config.dataDir);
  const policy = new LivePolicy(config.policy, log, metrics.registry);
  policy.watchFiles();
  const namespaces = new NamespaceLabels(upstream, log);
  await namespaces.start();
  const audit = await openAuditLog(config.audit, config.dataDir, log);
  const defaultMasking = masking.resolve("default");
  if (defaultMasking === undefined) throw new Error("masking: the default profile is missing");
  const live = new LiveCalls();
  // Revoking an agent's token (from the CLI, in another process) ends what it has open.
  const revocations = setInterval(() => {
    if (live.list().length === 0) return;
    agentTokens
      .revokedUsernames()
      .then((usernames) => {
        for (const username of usernames) {
          live.endUser(username, "portcullis: the agent's token was revoked");
        }
      })
      .catch((err: unknown) => log.warn({ err }, "could not read revoked agents"));
  }, 1000);
  revocations.unref();
  const approvals = await openApprovals({
    config: config.approvals,
    audit: config.audit,
    dataDir: config.dataDir,
    upstream,
    authenticator,
    mask: defaultMasking.engine,
    registry: metrics.registry,
    log,
    live,
  });
  const gateway = await startGateway({
    address: config.listen.address,
    port: config.listen.port,
    serving,
    deps: {
      authenticator,
      upstream,
      masking,
      approvals: approvals.gate,
      live,
      policy: { engine: () => policy.current(), upstream, namespaces, log },
      audit: {
        writer: audit.writer,
        sessions: audit.sessions,
        defaultLevel: config.audit.level,
        readLevel: config.audit.readLevel,
        maxInlineBytes: config.audit.maxInlineBytes,
        maxResponseBytes: config.audit.maxResponseBytes,
        maxRecordingBytes: config.audit.maxRecordingBytes,
        log,
        observeAppend: (kind, seconds) => metrics.auditAppended(kind, seconds),
      },
    },
    metrics,
    log,
    drainTimeoutMs: config.shutdown.timeoutSeconds * 1000,
    handlers: [(req, res) => approvals.api.handle(req, res)],
    readinessChecks: [
      async () => {
        try {
          await audit.writer.health();
          await audit.store.ping();
        } catch (err) {
          throw new Error(`audit store unavailable: ${(err as Error).message}`);
        }
      },
    ],
    onClosed: [
      async () => {
        clearInterval(revocations);
        policy.close();
        namespaces.stop();
      },
      () => approvals.close(),
      () => audit.close(),
    ],
  });
  return { gateway, serving, audit };
}
