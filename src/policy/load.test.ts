import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadPolicyFile, PolicyError, parsePolicy } from "./load.ts";

const header = "apiVersion: portcullis.dev/v1\nkind: Policy\nmetadata: { name: team }\n";

function problemsOf(text: string): string[] {
  try {
    parsePolicy(text, "team.yaml");
  } catch (err) {
    assert.ok(err instanceof PolicyError, String(err));
    return err.problems;
  }
  assert.fail("expected a PolicyError");
}

test("a valid policy compiles with its rules, agents and tests", () => {
  const policy = parsePolicy(
    `${header}spec:
  defaultAction: deny
  agents:
    - name: ci
      allow: [{ verbs: [get], resources: [pods] }]
  rules:
    - id: team/x
      reason: because
      match: { verbs: [get] }
      action: allow
  tests:
    - name: t
      request: { method: GET, path: /api/v1/pods, identity: { subject: ci, kind: agent } }
      expect: allow
`,
    "team.yaml",
  );
  const [layer] = policy.layers;
  assert.equal(layer?.name, "team");
  assert.equal(layer?.rules[0]?.message, "because");
  assert.equal(layer?.agents[0]?.grants.length, 1);
  assert.equal(layer?.tests.length, 1);
});

test("the default action is required", () => {
  const [problem] = problemsOf(`${header}spec:\n  rules: []\n`);
  assert.match(problem ?? "", /^team\.yaml:5:3: spec\.defaultAction: /);
});

test("an unknown or misspelt field names file, line, path and field", () => {
  const problems = problemsOf(`${header}spec:
  defaultAction: allow
  rules:
    - id: team/x
      reason: r
      match: { verb: [get] }
      action: deny
`);
  assert.deepEqual(problems, ['team.yaml:9:14: spec.rules[0].match: unknown field "verb"']);
});

test("a bad action and a bad selector operator are named", () => {
  const problems = problemsOf(`${header}spec:
  defaultAction: allow
  rules:
    - id: team/x
      reason: r
      match:
        namespaceSelector: { matchExpressions: [{ key: a, operator: In }] }
      action: block
`);
  assert.equal(problems.length, 2);
  assert.ok(
    problems.some((p) =>
      /^team\.yaml:\d+:\d+: spec\.rules\[0\]\.match\.namespaceSelector\.matchExpressions\[0\]: In and NotIn need values/.test(
        p,
      ),
    ),
    problems.join("\n"),
  );
  assert.ok(problems.some((p) => /spec\.rules\[0\]\.action: /.test(p)));
});

test("a CEL condition that does not compile fails the load, naming the rule id and line", () => {
  const problems = problemsOf(`${header}spec:
  defaultAction: allow
  rules:
    - id: team/broken
      reason: r
      condition: "object.spec.replicas =="
      action: deny
`);
  assert.equal(problems.length, 1);
  assert.match(
    problems[0] ?? "",
    /^team\.yaml:9:18: rule team\/broken: condition does not compile: /,
  );
});

test("duplicate rule ids and agents are refused", () => {
  const problems = problemsOf(`${header}spec:
  defaultAction: allow
  agents:
    - { name: a, allow: [] }
    - { name: a, allow: [] }
  rules:
    - { id: team/x, reason: r, action: deny }
    - { id: team/x, reason: r, action: allow }
`);
  assert.deepEqual(problems, [
    "team.yaml:11:13: rule team/x: duplicate id (first used by spec.rules[0])",
    "team.yaml:8:15: agent a is listed twice",
  ]);
});

test("an allow entry names either resources or nonResourceURLs", () => {
  const [problem] = problemsOf(`${header}spec:
  defaultAction: allow
  agents:
    - { name: a, allow: [{ verbs: [get] }] }
`);
  assert.match(problem ?? "", /spec\.agents\[0\]\.allow\[0\]: an allow entry names either/);
});

test("YAML syntax errors name the line", () => {
  const [problem] = problemsOf(`${header}spec:\n  defaultAction: [allow\n`);
  assert.match(problem ?? "", /^team\.yaml:\d+:\d+: YAML syntax: /);
});

test("loadPolicyFile reads a file and names it when it cannot", () => {
  const dir = mkdtempSync(join(tmpdir(), "policy-"));
  const file = join(dir, "p.yaml");
  writeFileSync(file, `${header}spec:\n  defaultAction: allow\n`);
  assert.equal(loadPolicyFile(file).layers[0]?.file, file);
  assert.throws(() => loadPolicyFile(join(dir, "missing.yaml")), /missing\.yaml: cannot read/);
});

test("approve rules carry who may approve, how many, hold or retry, and a timeout", () => {
  const policy = parsePolicy(
    doc(`defaultAction: allow
rules:
  - id: team/approve-deletes
    reason: deletes need a second pair of eyes
    match: { verbs: [delete] }
    action: approve
    approval: { approvers: [sre, security], required: 2, mode: retry, timeout: 15m }
  - id: team/approve-scale
    reason: scaling needs approval
    match: { verbs: [patch] }
    action: approve`),
    "team.yaml",
  );
  const [deletes, scale] = policy.layers[0]?.rules ?? [];
  assert.deepEqual(deletes?.approval, {
    approvers: ["sre", "security"],
    required: 2,
    mode: "retry",
    timeout: 900,
  });
  assert.deepEqual(scale?.approval, {
    approvers: ["portcullis:approvers"],
    required: 1,
    mode: "hold",
    timeout: 600,
  });
});

test("an approval block on a rule that does not approve, or a bad timeout, is refused", () => {
  assert.throws(
    () =>
      parsePolicy(
        doc(`defaultAction: allow
rules:
  - { id: a, reason: r, action: deny, approval: { required: 1 } }`),
        "team.yaml",
      ),
    /approval is set only on rules whose action is approve/,
  );
  assert.throws(
    () =>
      parsePolicy(
        doc(`defaultAction: allow
rules:
  - { id: a, reason: r, action: approve, approval: { timeout: 2d } }`),
        "team.yaml",
      ),
    /a duration like 90s, 10m or 1h/,
  );
});

/** A policy document from its `spec` body (indented as under `spec:`). */
function doc(spec: string): string {
  return `${header}spec:\n${spec
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n")}\n`;
}
