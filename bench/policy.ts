/**
 * Policy decision time: the baseline plus a user policy of 200 rules (globs,
 * namespace selectors, identity matches, CEL conditions over request and
 * object), over random requests classified beforehand. Dry-run latency is
 * measured by the gateway benchmark, not here.
 */
import { baselinePolicy } from "../src/policy/baseline.ts";
import { composePolicies } from "../src/policy/compose.ts";
import { evaluate, needsObject } from "../src/policy/evaluate.ts";
import { parsePolicy } from "../src/policy/load.ts";
import { sampleInput } from "../src/policy/sample.ts";
import type { PolicyInput } from "../src/policy/types.ts";

export interface PolicyBenchResult {
  rules: number;
  requests: number;
  p50Micros: number;
  p99Micros: number;
  maxMicros: number;
  needsObjectP99Micros: number;
}

const verbs = ["get", "list", "watch", "create", "update", "patch", "delete"];
const resources = ["pods", "deployments", "configmaps", "services", "jobs", "secrets", "pods/log"];

function rule(i: number): string {
  const verb = verbs[i % verbs.length];
  const resource = resources[(i * 7) % resources.length];
  const match = [
    `verbs: [${verb}]`,
    `resources: [${resource}]`,
    `namespaces: ["team-${i % 40}", "svc-${i % 13}-*"]`,
    i % 5 === 0 ? "namespaceSelector: { matchLabels: { env: prod } }" : "",
    i % 3 === 0 ? 'identity: { kinds: [agent], groups: ["ci-*"] }' : "",
  ].filter((m) => m !== "");
  const condition =
    i % 10 === 0
      ? `    condition: 'request.userInfo.groups.exists(g, g == "ci-${i}") || identity.subject.startsWith("x")'\n`
      : i % 25 === 1
        ? "    condition: 'object.?spec.?replicas.orValue(1) > 50'\n"
        : "";
  return `  - id: bench/r${i}
    reason: rule ${i}
    match: { ${match.join(", ")} }
${condition}    action: ${["allow", "deny", "approve"][i % 3]}
`;
}

function policyText(count: number): string {
  const rules = Array.from({ length: count }, (_, i) => rule(i)).join("");
  return `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: bench }
spec:
  defaultAction: allow
  rules:
${rules}`;
}

function randomInputs(count: number): PolicyInput[] {
  let seed = 42;
  const next = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const methods = ["GET", "GET", "GET", "POST", "PUT", "PATCH", "DELETE"];
  return Array.from({ length: count }, () => {
    const ns = next() % 2 ? `team-${next() % 60}` : `svc-${next() % 20}-x`;
    const resource = ["pods", "deployments", "configmaps", "services", "secrets"][next() % 5];
    const group = resource === "deployments" ? "/apis/apps/v1" : "/api/v1";
    const named = next() % 2 === 0 ? `/${resource}/obj-${next() % 9}` : `/${resource}`;
    const method = methods[next() % methods.length] ?? "GET";
    return sampleInput({
      method: method === "POST" ? "POST" : named.split("/").length > 2 ? method : "GET",
      path: `${group}/namespaces/${ns}${method === "POST" ? `/${resource}` : named}`,
      identity: {
        subject: `agent-${next() % 10}`,
        kind: next() % 4 === 0 ? "human" : "agent",
        groups: [`ci-${next() % 200}`],
      },
      namespaceLabels: { env: next() % 2 ? "prod" : "dev" },
      object: {
        metadata: { name: "x" },
        spec: { replicas: next() % 100, template: { spec: { containers: [{ name: "c" }] } } },
      },
    });
  });
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

export function runPolicyBench(
  options: { rules?: number; requests?: number } = {},
): PolicyBenchResult {
  const ruleCount = options.rules ?? 200;
  const requests = options.requests ?? 100_000;
  const policy = composePolicies(
    baselinePolicy(),
    parsePolicy(policyText(ruleCount), "bench.yaml"),
  );
  const inputs = randomInputs(1000);
  for (let i = 0; i < 20_000; i++) evaluate(policy, inputs[i % inputs.length] as PolicyInput);
  const decide = new Float64Array(requests);
  const needs = new Float64Array(requests);
  for (let i = 0; i < requests; i++) {
    const input = inputs[i % inputs.length] as PolicyInput;
    const t0 = process.hrtime.bigint();
    needsObject(policy, input);
    const t1 = process.hrtime.bigint();
    evaluate(policy, input);
    const t2 = process.hrtime.bigint();
    needs[i] = Number(t1 - t0) / 1000;
    decide[i] = Number(t2 - t1) / 1000;
  }
  decide.sort();
  needs.sort();
  const result: PolicyBenchResult = {
    rules: policy.layers.reduce((n, l) => n + l.rules.length, 0),
    requests,
    p50Micros: percentile(decide, 0.5),
    p99Micros: percentile(decide, 0.99),
    maxMicros: decide[decide.length - 1] ?? 0,
    needsObjectP99Micros: percentile(needs, 0.99),
  };
  process.stdout.write("rules\trequests\tp50_us\tp99_us\tmax_us\tneedsObject_p99_us\n");
  process.stdout.write(
    `${result.rules}\t${result.requests}\t${result.p50Micros.toFixed(2)}\t${result.p99Micros.toFixed(2)}\t${result.maxMicros.toFixed(1)}\t${result.needsObjectP99Micros.toFixed(2)}\n`,
  );
  process.stdout.write(`${JSON.stringify({ bench: "policy", ...result })}\n`);
  return result;
}

if (import.meta.main) runPolicyBench();
