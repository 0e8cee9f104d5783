import assert from "node:assert/strict";
import { test } from "node:test";
import { baselinePolicy } from "./baseline.ts";
import { composePolicies } from "./compose.ts";
import { policyFromSpec } from "./testing.ts";
import { runAllPolicyTests, runPolicyTests } from "./tests.ts";

const team = policyFromSpec(`defaultAction: deny
rules:
  - id: team/read-pods
    reason: reading pods is fine
    match: { verbs: [get, list], resources: [pods] }
    action: allow
tests:
  - name: pods can be listed
    request: { method: GET, path: /api/v1/namespaces/a/pods, identity: { subject: bot, kind: agent } }
    expect: allow
    rule: team/read-pods
  - name: namespaces cannot be deleted
    request: { method: DELETE, path: /api/v1/namespaces/a, identity: { subject: bot, kind: agent } }
    expect: deny
    rule: baseline/no-namespace-delete
  - name: a wrong expectation fails
    request: { method: GET, path: /api/v1/namespaces/a/configmaps, identity: { subject: alice, kind: human } }
    expect: allow
  - name: a wrong rule id fails
    request: { method: GET, path: /api/v1/namespaces/a/pods/x, identity: { subject: bot, kind: agent } }
    expect: allow
    rule: team/other
  - name: an ambiguous path is an error, not a pass
    request: { method: GET, path: "/api/v1/namespaces/a/pods/%2e%2e", identity: { subject: bot, kind: agent } }
    expect: deny`);

test("policy file tests run against the composed policy and report each result", () => {
  const policy = composePolicies(baselinePolicy(), team);
  const results = runPolicyTests(policy, team.layers[0]?.tests ?? []);
  assert.deepEqual(
    results.map((r) => r.passed),
    [true, true, false, false, false],
  );
  assert.match(
    results[2]?.problem ?? "",
    /^expected allow, got deny \(no rule of policy team matched/,
  );
  assert.match(results[3]?.problem ?? "", /expected rule team\/other, got team\/read-pods/);
  assert.match(results[4]?.problem ?? "", /dot segment/);
});

test("runAllPolicyTests runs every layer's tests and names the file", () => {
  const results = runAllPolicyTests(composePolicies(baselinePolicy(), team));
  assert.ok(results.some((r) => r.file === "baseline.yaml"));
  assert.ok(results.some((r) => r.file === "team.yaml"));
});
