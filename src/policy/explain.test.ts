import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../../test/support/random.ts";
import { baselinePolicy } from "./baseline.ts";
import { composePolicies } from "./compose.ts";
import { evaluate } from "./evaluate.ts";
import { explain, refusalMessage } from "./explain.ts";
import { container, deployment, input, pod, podSpec, policyFromSpec } from "./testing.ts";

test("explain lists the classification, every rule considered and the decision", () => {
  const text = explain(baselinePolicy(), input("DELETE", "/api/v1/namespaces/prod"));
  assert.match(text, /request: +DELETE \/api\/v1\/namespaces\/prod/);
  assert.match(text, /classified: verb=delete apiGroup="" version=v1 resource=namespaces/);
  assert.match(text, /matched +baseline\/no-namespace-delete/);
  assert.match(text, /decision: +DENY by baseline\/no-namespace-delete: deleting namespaces/);
  const skipped = explain(
    baselinePolicy(),
    input("GET", "/api/v1/namespaces/a/secrets", { kind: "human" }),
  );
  assert.match(skipped, /skipped +baseline\/no-rbac-changes +verb not in \[create, update/);
  assert.match(skipped, /masking profile secrets/);
});

test("the refusal message names the rule and its reason", () => {
  const d = evaluate(baselinePolicy(), input("DELETE", "/api/v1/namespaces/prod"));
  assert.match(
    refusalMessage(d),
    /^portcullis: rule baseline\/no-namespace-delete: deleting namespaces is not allowed for agents/,
  );
});

const pick = <T>(r: () => number, items: readonly T[]): T =>
  items[Math.floor(r() * items.length)] as T;

const team = policyFromSpec(`defaultAction: deny
agents:
  - name: ci
    allow:
      - { verbs: [get, list, watch, create, patch], resources: [pods, deployments, secrets, "pods/exec"], namespaces: ["team-*", shop] }
rules:
  - id: team/replicas
    reason: big deployments need a person
    match: { resources: [deployments] }
    condition: object.spec.replicas > 5
    action: approve
  - id: team/reads
    reason: reads are fine
    match: { verbs: [get, list, watch] }
    action: allow
  - id: team/people
    reason: people may write
    match: { identity: { kinds: [human] } }
    action: allow`);

test("property: for random requests, explain (as JSON) and evaluate agree", () => {
  const r = seededRandom(20240601);
  const policy = composePolicies(baselinePolicy(), team);
  const methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];
  const targets = [
    "/api/v1/namespaces/NS/pods",
    "/api/v1/namespaces/NS/pods/web",
    "/api/v1/namespaces/NS/pods/web/exec",
    "/api/v1/namespaces/NS/pods/web/proxy",
    "/api/v1/namespaces/NS/secrets/db",
    "/apis/apps/v1/namespaces/NS/deployments/web",
    "/apis/apps/v1/namespaces/NS/deployments/web/scale",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles/x",
    "/api/v1/namespaces/NS",
    "/api/v1/nodes/n1",
    "/version",
  ];
  const objects = [
    undefined,
    pod(),
    pod(podSpec({ hostNetwork: true })),
    deployment(podSpec(), 0),
    deployment(podSpec({ containers: [container("a", { add: ["SYS_ADMIN"] })] }), 9),
    { spec: {} },
    { kind: "Scale", spec: { replicas: 0 } },
  ];
  for (let i = 0; i < 2000; i++) {
    const ns = pick(r, ["team-a", "shop", "prod", "kube-system"]);
    const sample = input(pick(r, methods), pick(r, targets).replace("NS", ns), {
      kind: pick(r, ["agent", "human"] as const),
      subject: pick(r, ["ci", "bot", "alice"]),
      groups: pick(r, [[], ["sre"]]),
      object: pick(r, objects),
      labels: pick<Record<string, string> | undefined>(r, [
        undefined,
        {},
        { "portcullis.dev/tier": "production" },
      ]),
    });
    const explained = JSON.parse(explain(policy, sample, "json"));
    assert.deepEqual(explained.decision, evaluate(policy, sample), `case ${i}`);
  }
});
