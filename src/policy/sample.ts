/**
 * Requests written by hand (policy file tests, `policy explain`) turned into
 * what the gateway would pass to evaluate: classified exactly as live traffic.
 */

import type { Identity } from "../identity/identity.ts";
import { execRequest } from "../kube/exec-request.ts";
import { portForwardRequest } from "../kube/portforward-request.ts";
import { classifyRequest } from "../kube/request-info.ts";
import type { TestIdentitySpec } from "./schema.ts";
import type { PolicyInput } from "./types.ts";

export interface SampleRequest {
  method: string;
  /** Path and query, as on the request line. */
  path: string;
  identity: TestIdentitySpec;
  object?: unknown;
  oldObject?: unknown;
  namespaceLabels?: Record<string, string>;
}

/** Defaults follow the gateway's: agents are `portcullis:agent:<name>`, people keep their name. */
export function sampleIdentity(spec: TestIdentitySpec): Identity {
  const agent = spec.kind === "agent";
  const identity: Identity = {
    subject: spec.subject,
    issuer: spec.issuer ?? (agent ? "portcullis" : "https://issuer.example"),
    kind: spec.kind,
    username: spec.username ?? (agent ? `portcullis:agent:${spec.subject}` : spec.subject),
    groups: [...(spec.groups ?? [])],
    extra: {},
    method: agent ? "agent-token" : "oidc",
  };
  if (spec.uid !== undefined) identity.uid = spec.uid;
  return identity;
}

export function sampleInput(request: SampleRequest): PolicyInput {
  const input: PolicyInput = {
    identity: sampleIdentity(request.identity),
    requestInfo: classifyRequest(request.method, request.path),
    method: request.method,
    dryRun: new URL(request.path, "http://x").searchParams.getAll("dryRun").includes("All"),
  };
  if (request.namespaceLabels !== undefined) input.namespaceLabels = request.namespaceLabels;
  if (request.object !== undefined) input.object = request.object;
  if (request.oldObject !== undefined) input.oldObject = request.oldObject;
  const exec = execRequest(input.requestInfo, request.path);
  if (exec) input.exec = exec;
  const portForward = portForwardRequest(input.requestInfo, request.path);
  if (portForward) input.portForward = portForward;
  return input;
}
