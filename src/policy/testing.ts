/** Shared by the policy tests: requests and Kubernetes objects, written briefly. */
import { baselinePolicy } from "./baseline.ts";
import { evaluate } from "./evaluate.ts";
import { parsePolicy } from "./load.ts";
import { sampleInput } from "./sample.ts";
import type { CompiledPolicy, Decision, PolicyInput } from "./types.ts";

export interface Caller {
  kind?: "agent" | "human";
  subject?: string;
  groups?: string[];
}

export interface RequestOptions extends Caller {
  object?: unknown;
  oldObject?: unknown;
  labels?: Record<string, string>;
}

export function input(method: string, path: string, options: RequestOptions = {}): PolicyInput {
  return sampleInput({
    method,
    path,
    identity: {
      subject: options.subject ?? "bot",
      kind: options.kind ?? "agent",
      groups: options.groups ?? [],
    },
    object: options.object,
    oldObject: options.oldObject,
    namespaceLabels: options.labels,
  });
}

export function decide(
  policy: CompiledPolicy,
  method: string,
  path: string,
  options?: RequestOptions,
): Decision {
  return evaluate(policy, input(method, path, options));
}

export function baselineDecides(method: string, path: string, options?: RequestOptions): Decision {
  return decide(baselinePolicy(), method, path, options);
}

/** A policy from the `spec` body alone (YAML, indented as under `spec:`). */
export function policyFromSpec(spec: string, name = "team"): CompiledPolicy {
  const text = `apiVersion: portcullis.dev/v1\nkind: Policy\nmetadata: { name: ${name} }\nspec:\n${spec
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n")}\n`;
  return parsePolicy(text, `${name}.yaml`);
}

export interface ContainerOptions {
  privileged?: boolean;
  add?: string[];
}

export function container(name: string, options: ContainerOptions = {}): Record<string, unknown> {
  const securityContext: Record<string, unknown> = {};
  if (options.privileged !== undefined) securityContext.privileged = options.privileged;
  if (options.add !== undefined) securityContext.capabilities = { add: options.add, drop: [] };
  return {
    name,
    image: "registry.example/app:1",
    ...(Object.keys(securityContext).length > 0 ? { securityContext } : {}),
  };
}

export function podSpec(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { containers: [container("app")], restartPolicy: "Always", ...extra };
}

export function pod(spec: Record<string, unknown> = podSpec()): Record<string, unknown> {
  return { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "team-a" }, spec };
}

export function deployment(
  template: Record<string, unknown> = podSpec(),
  replicas = 2,
): Record<string, unknown> {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "team-a" },
    spec: {
      replicas,
      selector: { matchLabels: { app: "web" } },
      template: { metadata: { labels: { app: "web" } }, spec: template },
    },
  };
}

export function cronJob(template: Record<string, unknown> = podSpec()): Record<string, unknown> {
  return {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: { name: "nightly", namespace: "team-a" },
    spec: {
      schedule: "0 3 * * *",
      jobTemplate: { spec: { template: { spec: { ...template, restartPolicy: "OnFailure" } } } },
    },
  };
}
