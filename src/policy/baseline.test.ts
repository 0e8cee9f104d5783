import assert from "node:assert/strict";
import { test } from "node:test";
import { baselinePolicy } from "./baseline.ts";
import { composePolicies } from "./compose.ts";
import { evaluate, needsObject } from "./evaluate.ts";
import {
  container,
  cronJob,
  baselineDecides as decide,
  deployment,
  input,
  pod,
  podSpec,
  policyFromSpec,
} from "./testing.ts";
import type { Decision } from "./types.ts";

const production = { "portcullis.dev/tier": "production" };
const human = { kind: "human" as const, subject: "alice" };

function assertDecision(d: Decision, action: Decision["action"], ruleId: string): void {
  assert.deepEqual({ action: d.action, ruleId: d.ruleId }, { action, ruleId }, d.message);
}

test("every baseline rule has an id under baseline/ and a reason", () => {
  const rules = baselinePolicy().layers[0]?.rules ?? [];
  assert.ok(rules.length >= 14);
  for (const rule of rules) {
    assert.match(rule.id, /^baseline\/[a-z-]+$/);
    assert.ok(rule.reason.length > 30, rule.id);
  }
});

test("an agent cannot delete a namespace, by name or through a collection delete", () => {
  const byName = decide("DELETE", "/api/v1/namespaces/prod");
  assertDecision(byName, "deny", "baseline/no-namespace-delete");
  assert.match(byName.message, /deleting namespaces is not allowed for agents/);
  assertDecision(decide("DELETE", "/api/v1/namespaces"), "deny", "baseline/no-namespace-delete");
});

test("a person deleting a namespace is left to RBAC", () => {
  assertDecision(
    decide("DELETE", "/api/v1/namespaces/scratch", human),
    "allow",
    "baseline:default",
  );
});

test("an agent cannot deletecollection, but may delete one object by name", () => {
  assertDecision(
    decide("DELETE", "/api/v1/namespaces/team-a/pods?labelSelector=app%3Dweb"),
    "deny",
    "baseline/no-deletecollection",
  );
  assertDecision(
    decide("DELETE", "/api/v1/namespaces/team-a/pods/web-1"),
    "allow",
    "baseline/agents-masked",
  );
});

test("RBAC objects cannot be created, changed or deleted, but can be read", () => {
  const rbac = "/apis/rbac.authorization.k8s.io/v1";
  for (const [method, path] of [
    ["POST", `${rbac}/clusterrolebindings`],
    ["PUT", `${rbac}/clusterroles/admin`],
    ["PATCH", `${rbac}/namespaces/team-a/roles/edit`],
    ["DELETE", `${rbac}/namespaces/team-a/rolebindings/ci`],
  ] as const) {
    assertDecision(decide(method, path, human), "deny", "baseline/no-rbac-changes");
    assertDecision(decide(method, path), "deny", "baseline/no-rbac-changes");
  }
  assertDecision(decide("GET", `${rbac}/clusterroles`), "allow", "baseline/agents-masked");
});

test("admission configuration, CRDs and nodes cannot be changed", () => {
  const admission = "/apis/admissionregistration.k8s.io/v1";
  assertDecision(
    decide("DELETE", `${admission}/validatingwebhookconfigurations/gatekeeper`),
    "deny",
    "baseline/no-admission-changes",
  );
  assertDecision(
    decide("PATCH", `${admission}/mutatingwebhookconfigurations/istio`, human),
    "deny",
    "baseline/no-admission-changes",
  );
  assertDecision(
    decide("POST", `${admission}/validatingadmissionpolicybindings`),
    "deny",
    "baseline/no-admission-changes",
  );
  assertDecision(
    decide(
      "PUT",
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com/status",
    ),
    "deny",
    "baseline/no-crd-changes",
  );
  assertDecision(decide("PATCH", "/api/v1/nodes/node-1"), "deny", "baseline/no-node-changes");
  assertDecision(
    decide("DELETE", "/api/v1/nodes/node-1", human),
    "deny",
    "baseline/no-node-changes",
  );
  assertDecision(decide("GET", "/api/v1/nodes"), "allow", "baseline/agents-masked");
});

test("agents cannot use the proxy subresources or the legacy proxy paths", () => {
  for (const path of [
    "/api/v1/namespaces/team-a/pods/web/proxy/metrics",
    "/api/v1/namespaces/team-a/services/web:80/proxy/",
    "/api/v1/nodes/node-1/proxy/configz",
  ]) {
    assertDecision(decide("GET", path), "deny", "baseline/no-proxy");
  }
  assertDecision(
    decide("GET", "/api/v1/proxy/namespaces/team-a/pods/web"),
    "deny",
    "baseline/no-proxy-verb",
  );
});

test("agents cannot add ephemeral containers", () => {
  assertDecision(
    decide("PATCH", "/api/v1/namespaces/team-a/pods/web/ephemeralcontainers", {
      object: pod(podSpec({ ephemeralContainers: [container("debug")] })),
    }),
    "deny",
    "baseline/no-ephemeral-containers",
  );
});

test("exec, attach and port-forward are refused to agents unless their allow-list names them", () => {
  for (const sub of ["exec", "attach", "portforward"]) {
    const path = `/api/v1/namespaces/team-a/pods/web/${sub}`;
    assertDecision(decide("POST", path), "deny", "baseline/no-exec-by-default");
    assertDecision(decide("GET", path), "deny", "baseline/no-exec-by-default");
    assertDecision(
      decide("POST", path, human),
      sub === "portforward" ? "deny" : "allow",
      sub === "portforward" ? "baseline/port-forward-named-ports" : "baseline:default",
    );
  }
  const team = policyFromSpec(`defaultAction: allow
agents:
  - name: debugger
    allow:
      - { verbs: [create, get], resources: [pods/exec], namespaces: [team-a] }
  - name: wildcard
    allow:
      - { verbs: ["*"], resources: ["*"] }`);
  const policy = composePolicies(baselinePolicy(), team);
  const exec = "/api/v1/namespaces/team-a/pods/web/exec?command=ls";
  const allowed = evaluate(policy, input("POST", exec, { subject: "debugger" }));
  assertDecision(allowed, "allow", "baseline/agents-masked");
  assert.ok(
    allowed.trace.some(
      (t) => t.ruleId === "baseline/no-exec-by-default" && /names pods\/exec/.test(t.why),
    ),
  );
  assertDecision(
    evaluate(
      policy,
      input("POST", "/api/v1/namespaces/team-b/pods/web/exec", { subject: "debugger" }),
    ),
    "deny",
    "agents/debugger",
  );
  // "*" is not naming: a wildcard allow-list does not open exec.
  assertDecision(
    evaluate(policy, input("POST", exec, { subject: "wildcard" })),
    "deny",
    "baseline/no-exec-by-default",
  );
});

test("port-forward goes only to pods and ports an allow or approve rule names", () => {
  const team = policyFromSpec(`defaultAction: allow
agents:
  - name: tunnel
    allow:
      - { verbs: [create, get], resources: [pods/portforward], namespaces: [team-a] }
rules:
  - id: team/db-needs-approval
    reason: the database port is opened on approval
    match: { resources: [pods/portforward], names: [db-*], ports: [5432] }
    action: approve
  - id: team/web-http
    reason: web pods' HTTP ports
    match: { resources: [pods/portforward], names: [web], ports: [8080, "9000-9010"] }
    action: allow
  - id: team/closed
    reason: a deny naming ports opens nothing
    match: { resources: [pods/portforward], names: [cache], ports: [6379] }
    action: deny`);
  const policy = composePolicies(baselinePolicy(), team);
  const at = (pod: string, ports = "") =>
    `/api/v1/namespaces/team-a/pods/${pod}/portforward${ports ? `?ports=${ports}` : ""}`;
  const person = (path: string) => evaluate(policy, input("GET", path, human));
  // Named pod and ports, or no ports yet (each connection is judged with its own).
  assertDecision(person(at("web", "8080")), "allow", "team/web-http");
  assertDecision(person(at("web", "8080,9005")), "allow", "team/web-http");
  assertDecision(person(at("web")), "allow", "team/web-http");
  // One port of the call not named: refused by the baseline.
  const refused = person(at("web", "8080,22"));
  assertDecision(refused, "deny", "baseline/port-forward-named-ports");
  assert.match(refused.message, /names with match.names and match.ports/);
  assertDecision(person(at("api", "8080")), "deny", "baseline/port-forward-named-ports");
  assertDecision(person(at("cache", "6379")), "deny", "baseline/port-forward-named-ports");
  // One connection being judged: its port alone.
  const connection = (port: number) =>
    evaluate(policy, {
      ...input("GET", at("web"), human),
      portForward: { ports: [port], connection: true },
    });
  assertDecision(connection(9010), "allow", "team/web-http");
  assertDecision(connection(9011), "deny", "baseline/port-forward-named-ports");
  // approve rules name ports too; the agent still needs its allow-list entry.
  assertDecision(
    evaluate(policy, input("GET", at("db-1", "5432"), { subject: "tunnel" })),
    "approve",
    "team/db-needs-approval",
  );
  assertDecision(
    evaluate(policy, input("GET", at("web", "8080"), { subject: "other" })),
    "deny",
    "baseline/no-exec-by-default",
  );
  assert.throws(
    () =>
      policyFromSpec(`rules:
  - id: t/no-names
    reason: ports without pods
    match: { resources: [pods/portforward], ports: [80] }
    action: allow`),
    /ports.*must name the pods/,
  );
  assert.throws(
    () =>
      policyFromSpec(`rules:
  - id: t/bad-range
    reason: a backwards range
    match: { resources: [pods/portforward], names: [web], ports: ["90-80"] }
    action: allow`),
    /range of ports/,
  );
});

const create = "/api/v1/namespaces/team-a/pods";
const privilegedCases: Array<[string, string, Record<string, unknown>]> = [
  [
    "a privileged container",
    create,
    pod(podSpec({ containers: [container("a", { privileged: true })] })),
  ],
  [
    "a privileged init container",
    create,
    pod(podSpec({ initContainers: [container("i", { privileged: true })] })),
  ],
  [
    "a privileged ephemeral container",
    create,
    pod(podSpec({ ephemeralContainers: [container("e", { privileged: true })] })),
  ],
  [
    "capability SYS_ADMIN",
    create,
    pod(podSpec({ containers: [container("a", { add: ["SYS_ADMIN"] })] })),
  ],
  ["capability ALL", create, pod(podSpec({ containers: [container("a", { add: ["ALL"] })] }))],
  [
    "capability CAP_SYS_ADMIN",
    create,
    pod(podSpec({ containers: [container("a", { add: ["CAP_SYS_ADMIN"] })] })),
  ],
  [
    "a safe and an unsafe capability",
    create,
    pod(podSpec({ containers: [container("a", { add: ["CHOWN", "NET_ADMIN"] })] })),
  ],
  [
    "a hostPath volume",
    create,
    pod(podSpec({ volumes: [{ name: "root", hostPath: { path: "/" } }] })),
  ],
  ["hostNetwork", create, pod(podSpec({ hostNetwork: true }))],
  ["hostPID", create, pod(podSpec({ hostPID: true }))],
  ["hostIPC", create, pod(podSpec({ hostIPC: true }))],
  [
    "a Deployment whose template is privileged",
    "/apis/apps/v1/namespaces/team-a/deployments",
    deployment(podSpec({ containers: [container("a", { privileged: true })] })),
  ],
  [
    "a DaemonSet template with hostPath",
    "/apis/apps/v1/namespaces/team-a/daemonsets",
    {
      ...deployment(podSpec({ volumes: [{ name: "h", hostPath: { path: "/var/run" } }] })),
      kind: "DaemonSet",
    },
  ],
  [
    "a StatefulSet template with hostNetwork",
    "/apis/apps/v1/namespaces/team-a/statefulsets/db",
    { ...deployment(podSpec({ hostNetwork: true })), kind: "StatefulSet" },
  ],
  [
    "a Job template with SYS_PTRACE",
    "/apis/batch/v1/namespaces/team-a/jobs",
    {
      ...deployment(podSpec({ containers: [container("a", { add: ["SYS_PTRACE"] })] })),
      kind: "Job",
    },
  ],
  [
    "a CronJob template that is privileged",
    "/apis/batch/v1/namespaces/team-a/cronjobs",
    cronJob(podSpec({ containers: [container("a", { privileged: true })] })),
  ],
];

for (const [what, path, object] of privilegedCases) {
  test(`refuses ${what}, to agents and people, on create, update and patch`, () => {
    for (const method of ["POST", "PUT", "PATCH"]) {
      const target = method === "POST" ? path : path.endsWith("s") ? `${path}/x` : path;
      for (const caller of [{}, human]) {
        const d = decide(method, target, { ...caller, object });
        assertDecision(d, "deny", "baseline/no-privileged-pods");
        assert.match(d.message, /privileged/);
      }
    }
  });
}

test("a hostPath volume added by patch is judged on the resulting pod", () => {
  const before = pod();
  const after = pod(podSpec({ volumes: [{ name: "h", hostPath: { path: "/etc" } }] }));
  const path = "/api/v1/namespaces/team-a/pods/p";
  assertDecision(
    decide("PATCH", path, { object: after, oldObject: before }),
    "deny",
    "baseline/no-privileged-pods",
  );
  assertDecision(
    decide("PATCH", path, { object: before, oldObject: after }),
    "allow",
    "baseline/agents-masked",
  );
});

test("ordinary pods and templates pass, including the safe capabilities", () => {
  const safe = pod(
    podSpec({
      containers: [container("a", { add: ["NET_BIND_SERVICE", "CHOWN"], privileged: false })],
    }),
  );
  assertDecision(decide("POST", create, { object: safe }), "allow", "baseline/agents-masked");
  assertDecision(
    decide("POST", create, {
      object: pod(podSpec({ volumes: [{ name: "c", configMap: { name: "x" } }] })),
    }),
    "allow",
    "baseline/agents-masked",
  );
  assertDecision(
    decide("POST", "/apis/apps/v1/namespaces/team-a/deployments", { object: deployment() }),
    "allow",
    "baseline/agents-masked",
  );
  assertDecision(
    decide("POST", "/apis/batch/v1/namespaces/team-a/cronjobs", { object: cronJob() }),
    "allow",
    "baseline/agents-masked",
  );
});

test("a pod write judged without the object it would produce is refused, not waved through", () => {
  const d = decide("POST", create);
  assertDecision(d, "deny", "baseline/no-privileged-pods");
  assert.match(d.message, /condition of rule baseline\/no-privileged-pods failed.*spec/);
  assert.deepEqual(needsObject(baselinePolicy(), input("POST", create)), {
    object: true,
    oldObject: false,
  });
});

test("deleting Deployments, StatefulSets and PVCs in production needs approval; elsewhere it does not", () => {
  for (const path of [
    "/apis/apps/v1/namespaces/shop/deployments/web",
    "/apis/apps/v1/namespaces/shop/statefulsets/db",
    "/api/v1/namespaces/shop/persistentvolumeclaims/data",
  ]) {
    for (const caller of [{}, human]) {
      const d = decide("DELETE", path, { ...caller, labels: production });
      assertDecision(d, "approve", "baseline/approve-production-deletes");
      assertDecision(
        decide("DELETE", path, { ...caller, labels: { "portcullis.dev/tier": "staging" } }),
        "allow",
        caller === human ? "baseline:default" : "baseline/agents-masked",
      );
    }
  }
  assertDecision(
    decide("DELETE", "/api/v1/namespaces/shop/configmaps/web", { labels: production }),
    "allow",
    "baseline/agents-masked",
  );
});

test("unknown namespace labels do not match a selector, and the trace says so", () => {
  const d = decide("DELETE", "/apis/apps/v1/namespaces/shop/deployments/web");
  assertDecision(d, "allow", "baseline/agents-masked");
  const entry = d.trace.find((t) => t.ruleId === "baseline/approve-production-deletes");
  assert.match(entry?.why ?? "", /labels of namespace shop are unknown/);
});

test("kubectl scale --replicas=0 in production needs approval (the Scale omits a zero)", () => {
  const scale = "/apis/apps/v1/namespaces/shop/deployments/web/scale";
  const zero = { apiVersion: "autoscaling/v1", kind: "Scale", metadata: { name: "web" }, spec: {} };
  const three = { ...zero, spec: { replicas: 3 } };
  assertDecision(
    decide("PATCH", scale, { object: zero, labels: production }),
    "approve",
    "baseline/approve-production-scale-to-zero",
  );
  assertDecision(
    decide("PUT", scale, { object: { ...zero, spec: { replicas: 0 } }, labels: production }),
    "approve",
    "baseline/approve-production-scale-to-zero",
  );
  assertDecision(
    decide("PATCH", scale, { object: three, labels: production }),
    "allow",
    "baseline/agents-masked",
  );
  assertDecision(
    decide("PATCH", scale, { object: zero, labels: { "portcullis.dev/tier": "dev" } }),
    "allow",
    "baseline/agents-masked",
  );
});

test("a Deployment or StatefulSet patched to zero replicas in production needs approval", () => {
  const path = "/apis/apps/v1/namespaces/shop/deployments/web";
  assertDecision(
    decide("PATCH", path, { object: deployment(podSpec(), 0), labels: production }),
    "approve",
    "baseline/approve-production-scale-to-zero",
  );
  assertDecision(
    decide("PATCH", path, { object: deployment(podSpec(), 1), labels: production }),
    "allow",
    "baseline/agents-masked",
  );
  assertDecision(
    decide("PUT", "/apis/apps/v1/namespaces/shop/statefulsets/db", {
      object: { ...deployment(podSpec(), 0), kind: "StatefulSet" },
      labels: production,
    }),
    "approve",
    "baseline/approve-production-scale-to-zero",
  );
});

test("a privileged template is denied before any approval is asked", () => {
  const object = deployment(podSpec({ hostPID: true }), 0);
  assertDecision(
    decide("PATCH", "/apis/apps/v1/namespaces/shop/deployments/web", {
      object,
      labels: production,
    }),
    "deny",
    "baseline/no-privileged-pods",
  );
});

test("reading Secrets is allowed only with the secrets masking profile", () => {
  for (const path of [
    "/api/v1/namespaces/team-a/secrets/db",
    "/api/v1/namespaces/team-a/secrets",
    "/api/v1/secrets?watch=1",
  ]) {
    const d = decide("GET", path);
    assertDecision(d, "allow", "baseline/secrets-masked");
    assert.equal(d.maskingProfile, "secrets");
  }
  assert.equal(
    decide("GET", "/api/v1/namespaces/team-a/configmaps/x", human).maskingProfile,
    undefined,
  );
});

test("every answer to an agent goes through the default masking profile; people's do not", () => {
  for (const [method, path] of [
    ["GET", "/api/v1/namespaces/team-a/configmaps/x"],
    ["GET", "/api/v1/namespaces/team-a/pods/web-1/log?follow=true"],
    ["DELETE", "/api/v1/namespaces/team-a/configmaps/x"],
  ] as const) {
    const d = decide(method, path);
    assertDecision(d, "allow", "baseline/agents-masked");
    assert.equal(d.maskingProfile, "default");
    assert.equal(decide(method, path, human).maskingProfile, undefined);
  }
  // Discovery and other non-resource paths carry no data to mask.
  assert.equal(decide("GET", "/apis").maskingProfile, undefined);
});

test("the tests written in baseline.yaml pass", async () => {
  const { runPolicyTests } = await import("./tests.ts");
  const policy = baselinePolicy();
  const results = runPolicyTests(policy, policy.layers[0]?.tests ?? []);
  assert.ok(results.length >= 8);
  for (const r of results) assert.ok(r.passed, `${r.name}: ${r.problem}`);
});
