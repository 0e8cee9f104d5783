import assert from "node:assert/strict";
import { test } from "node:test";
import { evaluate, needsObject } from "./evaluate.ts";
import { decide, input, policyFromSpec } from "./testing.ts";

const rules = policyFromSpec(`defaultAction: deny
defaultMessage: not on the list
rules:
  - id: team/first
    reason: the first rule that matches decides
    match: { verbs: [get, list], resources: [pods, "pods/*"], namespaces: [team-a, "team-*"] }
    action: allow
    audit: { level: Metadata }
  - id: team/later
    reason: never reached for pods in team namespaces
    match: { verbs: [get, list] }
    action: deny
    message: reads elsewhere are refused
  - id: team/prod-people
    reason: people in the sre group may change prod
    match:
      identity: { kinds: [human], groups: [sre, "oncall-*"] }
      namespaceSelector:
        matchLabels: { env: prod }
        matchExpressions: [{ key: frozen, operator: DoesNotExist }]
    action: allow
    audit: { level: RequestResponse }
  - id: team/cel
    reason: replica counts above ten need a person
    match: { verbs: [create, update, patch], resources: [deployments] }
    condition: object.spec.replicas > 10
    action: approve
  - id: team/non-resource
    reason: metrics are for people
    match: { nonResourceURLs: ["/metrics", "/debug/*"] }
    action: deny
  - id: team/names
    reason: only the web deployment may be read by name
    match: { resources: [deployments], names: ["web-*"] }
    action: allow
`);

test("rules are read in order and the first match wins", () => {
  const d = decide(rules, "GET", "/api/v1/namespaces/team-b/pods/web/log");
  assert.equal(d.ruleId, "team/first");
  assert.equal(d.action, "allow");
  assert.equal(d.auditLevel, "Metadata");
  assert.deepEqual(d.trace, [
    { ruleId: "team/first", outcome: "matched", why: "all match fields fit" },
  ]);
  const later = decide(rules, "GET", "/api/v1/namespaces/other/pods");
  assert.equal(later.ruleId, "team/later");
  assert.equal(later.message, "reads elsewhere are refused");
  assert.match(later.trace[0]?.why ?? "", /^namespace not in \[team-a, team-\*\]$/);
});

test("globs: * matches any run of characters; exact entries match exactly", () => {
  assert.equal(decide(rules, "GET", "/api/v1/namespaces/team-/pods").ruleId, "team/first");
  assert.equal(decide(rules, "GET", "/api/v1/namespaces/teamx/pods").ruleId, "team/later");
  assert.equal(decide(rules, "GET", "/api/v1/namespaces/team-a/configmaps").ruleId, "team/later");
  // "pods" does not cover subresources; "pods/*" does.
  assert.equal(
    decide(rules, "DELETE", "/apis/apps/v1/namespaces/x/deployments/web-1").ruleId,
    "team/names",
  );
  assert.equal(
    decide(rules, "DELETE", "/apis/apps/v1/namespaces/x/deployments/api").ruleId,
    "team:default",
  );
});

test("the default applies when nothing matches, with its message", () => {
  const d = decide(rules, "DELETE", "/api/v1/namespaces/x/configmaps/y", { kind: "human" });
  assert.deepEqual([d.action, d.ruleId, d.message], ["deny", "team:default", "not on the list"]);
  assert.equal(
    d.trace.length,
    rules.layers[0]?.rules.length ? rules.layers[0].rules.length + 1 : 0,
  );
});

test("identity kinds and groups (with globs) must match", () => {
  const prod = { env: "prod" };
  const path = "/api/v1/namespaces/shop/configmaps/c";
  assert.equal(
    decide(rules, "PUT", path, { kind: "human", groups: ["sre"], labels: prod }).ruleId,
    "team/prod-people",
  );
  assert.equal(
    decide(rules, "PUT", path, { kind: "human", groups: ["oncall-eu"], labels: prod }).ruleId,
    "team/prod-people",
  );
  assert.equal(
    decide(rules, "PUT", path, { kind: "human", groups: ["dev"], labels: prod }).ruleId,
    "team:default",
  );
  assert.equal(
    decide(rules, "PUT", path, { kind: "agent", groups: ["sre"], labels: prod }).ruleId,
    "team:default",
  );
});

test("namespaceSelector: matchLabels and matchExpressions against the namespace's labels", () => {
  const path = "/api/v1/namespaces/shop/configmaps/c";
  const sre = { kind: "human" as const, groups: ["sre"] };
  assert.equal(
    decide(rules, "PUT", path, { ...sre, labels: { env: "prod", frozen: "yes" } }).ruleId,
    "team:default",
  );
  assert.equal(
    decide(rules, "PUT", path, { ...sre, labels: { env: "dev" } }).ruleId,
    "team:default",
  );
  const unknown = decide(rules, "PUT", path, sre);
  assert.equal(unknown.ruleId, "team:default");
  assert.ok(
    unknown.trace.some(
      (t) => t.ruleId === "team/prod-people" && /labels of namespace shop are unknown/.test(t.why),
    ),
  );
  const cluster = decide(rules, "PUT", "/api/v1/nodes/n", { ...sre, labels: { env: "prod" } });
  assert.ok(cluster.trace.some((t) => /cluster-scoped request/.test(t.why)));
});

test("selector operators In and NotIn follow Kubernetes (NotIn matches an absent key)", () => {
  const policy = policyFromSpec(`defaultAction: allow
rules:
  - id: t/in
    reason: r
    match: { namespaceSelector: { matchExpressions: [{ key: tier, operator: In, values: [a, b] }] } }
    action: deny
  - id: t/notin
    reason: r
    match: { namespaceSelector: { matchExpressions: [{ key: tier, operator: NotIn, values: [c] }] } }
    action: approve`);
  const path = "/api/v1/namespaces/x/pods";
  assert.equal(decide(policy, "GET", path, { labels: { tier: "b" } }).ruleId, "t/in");
  assert.equal(decide(policy, "GET", path, { labels: {} }).ruleId, "t/notin");
  assert.equal(decide(policy, "GET", path, { labels: { tier: "c" } }).ruleId, "team:default");
});

test("a condition decides whether a rule matches", () => {
  const path = "/apis/apps/v1/namespaces/x/deployments";
  const big = { spec: { replicas: 50 } };
  assert.equal(decide(rules, "POST", path, { object: big }).action, "approve");
  const small = decide(rules, "POST", path, { object: { spec: { replicas: 2 } } });
  assert.equal(small.ruleId, "team:default");
  assert.ok(small.trace.some((t) => t.ruleId === "team/cel" && t.why === "condition is false"));
});

test("a condition that fails at run time denies the call and says why (fail closed)", () => {
  const d = decide(rules, "POST", "/apis/apps/v1/namespaces/x/deployments", {
    object: { spec: {} },
  });
  assert.equal(d.action, "deny");
  assert.equal(d.ruleId, "team/cel");
  assert.match(
    d.message,
    /^the condition of rule team\/cel failed, so the call is refused: No such key: replicas$/,
  );
  const none = decide(rules, "POST", "/apis/apps/v1/namespaces/x/deployments");
  assert.match(none.message, /object is null: none was supplied/);
});

test("an allow rule whose condition fails still denies", () => {
  const policy = policyFromSpec(`defaultAction: allow
rules:
  - id: t/allow-if
    reason: r
    condition: object.metadata.labels.team == "a"
    action: allow`);
  const d = decide(policy, "POST", "/api/v1/namespaces/x/configmaps", { object: { metadata: {} } });
  assert.equal(d.action, "deny");
  assert.equal(d.ruleId, "t/allow-if");
});

test("non-resource rules match only non-resource paths", () => {
  assert.equal(decide(rules, "GET", "/metrics", { kind: "human" }).ruleId, "team/later");
  assert.equal(
    decide(rules, "POST", "/debug/pprof/profile", { kind: "human" }).ruleId,
    "team/non-resource",
  );
});

const agents = policyFromSpec(`defaultAction: allow
agents:
  - name: ci-bot
    allow:
      - verbs: [get, list, watch]
        resources: [pods, pods/log, configmaps]
        namespaces: [team-a, "team-*"]
      - verbs: [get]
        apiGroups: [apps]
        resources: [deployments]
      - verbs: [get]
        nonResourceURLs: [/metrics]
  - name: by-username
    username: system:serviceaccount:ci:deployer
    allow:
      - { verbs: [patch], apiGroups: [apps], resources: [deployments], names: [web] }
rules:
  - id: t/deny-configmaps
    reason: configmaps are off limits
    match: { resources: [configmaps] }
    action: deny`);

test("a listed agent may do only what its allow-list names", () => {
  assert.equal(
    decide(agents, "GET", "/api/v1/namespaces/team-a/pods/x/log", { subject: "ci-bot" }).action,
    "allow",
  );
  assert.equal(
    decide(agents, "GET", "/apis/apps/v1/namespaces/x/deployments/web", { subject: "ci-bot" })
      .action,
    "allow",
  );
  assert.equal(
    decide(agents, "GET", "/apis/apps/v1/deployments", { subject: "ci-bot" }).ruleId,
    "agents/ci-bot",
  );
  assert.equal(decide(agents, "GET", "/metrics", { subject: "ci-bot" }).action, "allow");
  const d = decide(agents, "DELETE", "/api/v1/namespaces/team-a/pods/x", { subject: "ci-bot" });
  assert.deepEqual([d.action, d.ruleId], ["deny", "agents/ci-bot"]);
  assert.equal(
    d.message,
    'agent ci-bot may not delete pods "x" in namespace team-a: no entry of its allow-list names it',
  );
  assert.equal(
    decide(agents, "GET", "/api/v1/namespaces/prod/pods", { subject: "ci-bot" }).ruleId,
    "agents/ci-bot",
  );
  // Namespaced entries do not cover cluster-scoped reads.
  assert.equal(
    decide(agents, "GET", "/api/v1/pods", { subject: "ci-bot" }).ruleId,
    "agents/ci-bot",
  );
  // The wrong API group is not covered.
  assert.equal(
    decide(agents, "GET", "/apis/example.com/v1/deployments", { subject: "ci-bot" }).ruleId,
    "agents/ci-bot",
  );
});

test("an allow-list restricts; it does not override the rules", () => {
  const d = decide(agents, "GET", "/api/v1/namespaces/team-a/configmaps", { subject: "ci-bot" });
  assert.equal(d.ruleId, "t/deny-configmaps");
});

test("discovery reads are open to listed agents, so kubectl can start", () => {
  for (const path of ["/api", "/apis", "/apis/apps/v1", "/version", "/openapi/v3"]) {
    assert.equal(decide(agents, "GET", path, { subject: "ci-bot" }).action, "allow", path);
  }
  assert.equal(decide(agents, "POST", "/apis", { subject: "ci-bot" }).ruleId, "agents/ci-bot");
});

test("agents are matched by subject, or by username when the entry gives one; others fall through", () => {
  const sa = input("PATCH", "/apis/apps/v1/namespaces/x/deployments/web", { subject: "deployer" });
  sa.identity.username = "system:serviceaccount:ci:deployer";
  assert.equal(evaluate(agents, sa).action, "allow");
  sa.requestInfo.name = "api";
  assert.equal(evaluate(agents, sa).ruleId, "agents/by-username");
  assert.equal(
    decide(agents, "DELETE", "/api/v1/namespaces/x/pods/y", { subject: "other" }).ruleId,
    "team:default",
  );
  // People are never held to an agent's list, even with the same subject.
  assert.equal(
    decide(agents, "DELETE", "/api/v1/namespaces/x/pods/y", { kind: "human", subject: "ci-bot" })
      .ruleId,
    "team:default",
  );
});

test("needsObject: only when a rule that could apply reads object or oldObject", () => {
  const policy = policyFromSpec(`defaultAction: allow
rules:
  - id: t/plain
    reason: r
    match: { resources: [secrets] }
    action: deny
  - id: t/new
    reason: r
    match: { resources: [deployments], namespaceSelector: { matchLabels: { env: prod } } }
    condition: object.spec.replicas == 0
    action: approve
  - id: t/old
    reason: r
    match: { resources: [deployments, configmaps] }
    condition: oldObject.metadata.labels.locked == "true"
    action: deny`);
  const needs = (method: string, path: string) => needsObject(policy, input(method, path));
  assert.deepEqual(needs("PATCH", "/apis/apps/v1/namespaces/x/deployments/w"), {
    object: true,
    oldObject: true,
  });
  assert.deepEqual(needs("POST", "/apis/apps/v1/namespaces/x/deployments"), {
    object: true,
    oldObject: false,
  });
  assert.deepEqual(needs("DELETE", "/apis/apps/v1/namespaces/x/deployments/w"), {
    object: false,
    oldObject: true,
  });
  assert.deepEqual(needs("DELETE", "/api/v1/namespaces/x/configmaps"), {
    object: false,
    oldObject: false,
  });
  assert.deepEqual(needs("GET", "/apis/apps/v1/namespaces/x/deployments/w"), {
    object: false,
    oldObject: false,
  });
  // An unconditional earlier match means later conditions are never read.
  assert.deepEqual(needs("PUT", "/api/v1/namespaces/x/secrets/s"), {
    object: false,
    oldObject: false,
  });
  assert.deepEqual(needs("PUT", "/api/v1/namespaces/x/configmaps/c"), {
    object: false,
    oldObject: true,
  });
  // A namespaceSelector whose labels are known and do not match rules the rule out.
  const known = input("PATCH", "/apis/apps/v1/namespaces/x/deployments/w", {
    labels: { env: "dev" },
  });
  assert.deepEqual(needsObject(policy, known), { object: false, oldObject: true });
});

test("needsObject is false when an agent's allow-list already refuses the call", () => {
  const policy = policyFromSpec(`defaultAction: allow
agents: [{ name: bot, allow: [] }]
rules:
  - { id: t/c, reason: r, condition: "object.x == 1", action: deny }`);
  assert.deepEqual(needsObject(policy, input("POST", "/api/v1/namespaces/x/pods")), {
    object: false,
    oldObject: false,
  });
});

test("conditions see what an exec asks for: the command, container and streams", () => {
  const policy = policyFromSpec(`defaultAction: allow
rules:
  - id: team/no-shells
    reason: no interactive shells
    match: { resources: [pods/exec] }
    condition: request.exec.command.size() > 0 && request.exec.command[0] in ['sh', 'bash', '/bin/sh']
    action: deny
  - id: team/no-tty-attach
    reason: no attaching with a terminal
    match: { resources: [pods/attach] }
    condition: request.exec.tty && request.exec.container == 'app'
    action: deny`);
  const exec = (query: string) =>
    decide(policy, "POST", `/api/v1/namespaces/a/pods/web/exec?${query}`).ruleId;
  assert.equal(exec("command=sh&command=-c&command=id&stdin=true&tty=true"), "team/no-shells");
  assert.equal(exec("command=%2Fbin%2Fsh"), "team/no-shells");
  assert.equal(exec("command=ls&command=-l&stdout=true"), "team:default");
  const attach = (query: string) =>
    decide(policy, "POST", `/api/v1/namespaces/a/pods/web/attach?${query}`).ruleId;
  assert.equal(attach("container=app&tty=true&stdin=1"), "team/no-tty-attach");
  assert.equal(attach("container=app&tty=false"), "team:default");
  // Elsewhere request.exec is null.
  const other = policyFromSpec(`defaultAction: allow
rules:
  - { id: t/x, reason: r, match: { resources: [pods] }, condition: request.exec == null, action: deny }`);
  assert.equal(decide(other, "GET", "/api/v1/namespaces/a/pods/web").ruleId, "t/x");
});
