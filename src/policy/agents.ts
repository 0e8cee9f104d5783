/**
 * Per-agent least privilege at the gateway. An agent listed in `spec.agents`
 * may do only what one of its allow entries names (verbs × resources ×
 * namespaces); anything else is refused with rule id `agents/<name>`, before
 * any rule is read. Agents not listed, and people, fall through to the rules.
 *
 * Discovery reads (GET of /api, /apis, /version, /openapi/…) are allowed to
 * every listed agent, as the `system:discovery` ClusterRole allows them to every
 * authenticated user: without them kubectl cannot start.
 */
import type { Identity } from "../identity/identity.ts";
import { compilePatterns } from "./glob.ts";
import type { RequestFacts } from "./match.ts";
import type { AgentSpec } from "./schema.ts";
import type { CompiledAgent, CompiledGrant } from "./types.ts";

const discovery = compilePatterns([
  "/api",
  "/api/*",
  "/apis",
  "/apis/*",
  "/version",
  "/openapi/*",
  "/healthz",
  "/livez",
  "/readyz",
]);

export function compileAgent(spec: AgentSpec): CompiledAgent {
  return {
    name: spec.name,
    username: spec.username,
    grants: spec.allow.map(
      (g): CompiledGrant => ({
        verbs: compilePatterns(g.verbs),
        apiGroups: g.apiGroups && compilePatterns(g.apiGroups),
        resources: g.resources && compilePatterns(g.resources),
        namespaces: g.namespaces && compilePatterns(g.namespaces),
        names: g.names && compilePatterns(g.names),
        nonResourceURLs: g.nonResourceURLs && compilePatterns(g.nonResourceURLs),
        exactResources: new Set((g.resources ?? []).filter((r) => !r.includes("*"))),
      }),
    ),
  };
}

export function agentFor(
  agents: readonly CompiledAgent[],
  identity: Identity,
): CompiledAgent | undefined {
  if (identity.kind !== "agent") return undefined;
  return agents.find((a) =>
    a.username === undefined ? a.name === identity.subject : a.username === identity.username,
  );
}

export interface AgentVerdict {
  allowed: boolean;
  /** A permitting entry names the resource exactly (no wildcard). */
  named: boolean;
  why: string;
}

export function checkAgent(agent: CompiledAgent, facts: RequestFacts): AgentVerdict {
  const info = facts.input.requestInfo;
  let allowed = false;
  let named = false;
  for (const grant of agent.grants) {
    if (!grantPermits(grant, facts)) continue;
    allowed = true;
    if (grant.exactResources.has(facts.resourceKey)) named = true;
  }
  if (!allowed && !info.isResourceRequest && facts.verb === "get" && discovery.test(info.path)) {
    return { allowed: true, named: false, why: `discovery read ${info.path}` };
  }
  const what = describeRequest(facts);
  return allowed
    ? { allowed, named, why: `the allow-list of agent ${agent.name} permits ${what}` }
    : {
        allowed,
        named,
        why: `agent ${agent.name} may not ${what}: no entry of its allow-list names it`,
      };
}

function grantPermits(grant: CompiledGrant, facts: RequestFacts): boolean {
  const info = facts.input.requestInfo;
  if (!grant.verbs.test(facts.verb)) return false;
  if (grant.nonResourceURLs) {
    return !info.isResourceRequest && grant.nonResourceURLs.test(info.path);
  }
  if (!info.isResourceRequest || !grant.resources?.test(facts.resourceKey)) return false;
  if (grant.apiGroups && !grant.apiGroups.test(info.apiGroup)) return false;
  if (grant.namespaces && (info.namespace === "" || !grant.namespaces.test(info.namespace))) {
    return false;
  }
  return !grant.names || grant.names.test(info.name);
}

/** `delete deployments.apps "web" in namespace prod`, or `get /metrics`. */
export function describeRequest(facts: RequestFacts): string {
  const info = facts.input.requestInfo;
  if (!info.isResourceRequest) return `${facts.verb} ${info.path}`;
  const [resource, ...sub] = facts.resourceKey.split("/");
  const kind = `${resource}${info.apiGroup === "" ? "" : `.${info.apiGroup}`}`;
  const subresource = sub.length > 0 ? `/${sub.join("/")}` : "";
  const name = info.name === "" ? "" : ` "${info.name}"`;
  const namespaceItself = info.resource === "namespaces" && info.name === info.namespace;
  const where = info.namespace === "" || namespaceItself ? "" : ` in namespace ${info.namespace}`;
  return `${facts.verb} ${kind}${subresource}${name}${where}`;
}
