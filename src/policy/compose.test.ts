import assert from "node:assert/strict";
import { test } from "node:test";
import { baselinePolicy } from "./baseline.ts";
import { composePolicies, withoutRules } from "./compose.ts";
import { decide, policyFromSpec } from "./testing.ts";

const loosening = policyFromSpec(`defaultAction: allow
rules:
  - id: team/allow-everything
    reason: an over-broad allow written by mistake
    action: allow
    masking: { profile: none }
    audit: { level: RequestResponse }`);

test("a user allow cannot loosen a baseline deny", () => {
  const policy = composePolicies(baselinePolicy(), loosening);
  const d = decide(policy, "DELETE", "/api/v1/namespaces/prod");
  assert.deepEqual([d.action, d.ruleId], ["deny", "baseline/no-namespace-delete"]);
  const approve = decide(policy, "DELETE", "/apis/apps/v1/namespaces/s/deployments/w", {
    labels: { "portcullis.dev/tier": "production" },
  });
  assert.deepEqual(
    [approve.action, approve.ruleId],
    ["approve", "baseline/approve-production-deletes"],
  );
});

test("a user deny or default deny tightens the baseline", () => {
  const strict = policyFromSpec(`defaultAction: deny
rules:
  - id: team/no-prod-deletes
    reason: nothing is deleted in prod
    match: { verbs: [delete], namespaces: [shop] }
    action: deny
  - id: team/pods
    reason: reading pods is fine
    match: { verbs: [get, list], resources: [pods] }
    action: allow`);
  const policy = composePolicies(baselinePolicy(), strict);
  const d = decide(policy, "DELETE", "/apis/apps/v1/namespaces/shop/deployments/w", {
    labels: { "portcullis.dev/tier": "production" },
  });
  assert.deepEqual([d.action, d.ruleId], ["deny", "team/no-prod-deletes"]);
  // The baseline allows secrets reads only masked; it grants nothing, so the user's default holds.
  const secret = decide(policy, "GET", "/api/v1/namespaces/a/secrets/s");
  assert.deepEqual([secret.action, secret.ruleId], ["deny", "team:default"]);
  // The user file's own order still works: an allow before the default.
  assert.equal(decide(policy, "GET", "/api/v1/namespaces/a/pods").action, "allow");
});

test("on an allow tie the granting rule is named, and protections from both are kept", () => {
  const policy = composePolicies(baselinePolicy(), loosening);
  const d = decide(policy, "GET", "/api/v1/namespaces/a/secrets/s");
  assert.equal(d.ruleId, "team/allow-everything");
  assert.equal(d.maskingProfile, "secrets");
  assert.equal(d.auditLevel, "RequestResponse");
});

test("on a tie a matching rule is named over a default, and the trace shows both layers", () => {
  const policy = composePolicies(baselinePolicy(), loosening);
  const d = decide(policy, "GET", "/api/v1/namespaces/a/pods", {
    kind: "human",
    subject: "alice",
  });
  assert.equal(d.ruleId, "team/allow-everything");
  assert.deepEqual(
    d.trace.slice(-2).map((t) => t.ruleId),
    ["baseline:default", "team/allow-everything"],
  );
});

test("names and rule ids must be unique across the composed policies", () => {
  assert.throws(
    () => composePolicies(baselinePolicy(), baselinePolicy()),
    /two policies are named baseline/,
  );
  const clash = policyFromSpec(
    "defaultAction: allow\nrules: [{ id: baseline/no-proxy, reason: r, action: allow }]",
    "other",
  );
  assert.throws(
    () => composePolicies(baselinePolicy(), clash),
    /rule id baseline\/no-proxy is used by both/,
  );
});

test("a baseline rule is dropped only by naming it", () => {
  const policy = withoutRules(baselinePolicy(), ["baseline/no-node-changes"]);
  assert.equal(decide(policy, "PATCH", "/api/v1/nodes/n").action, "allow");
  assert.throws(
    () => withoutRules(baselinePolicy(), ["baseline/nope"]),
    /no such rule to disable: baseline\/nope/,
  );
});
