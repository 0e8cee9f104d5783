import assert from "node:assert/strict";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { pino } from "pino";
import { Registry } from "prom-client";
import type { Identity } from "../identity/identity.ts";
import { classifyRequest } from "../kube/request-info.ts";
import { LivePolicy } from "./live.ts";

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-policy-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const identity: Identity = {
  subject: "bot",
  issuer: "portcullis",
  kind: "agent",
  username: "portcullis:agent:bot",
  groups: [],
  extra: {},
  method: "agent-token",
};

function policyText(action: "allow" | "deny"): string {
  return `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: team }
spec:
  defaultAction: allow
  rules:
    - id: team/configmap-writes
      reason: configmap writes are ${action === "deny" ? "frozen" : "open"}
      match: { verbs: [create], resources: [configmaps] }
      action: ${action}
`;
}

function decideCreate(live: LivePolicy) {
  return live.current().decide({
    identity,
    requestInfo: classifyRequest("POST", "/api/v1/namespaces/a/configmaps"),
    method: "POST",
  });
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("an edited policy file takes effect without a restart; a bad edit keeps the last good policy", async () => {
  const file = join(dir, "team.yaml");
  await writeFile(file, policyText("allow"));
  const registry = new Registry();
  const live = new LivePolicy(
    { baseline: true, files: [file] },
    pino({ level: "silent" }),
    registry,
  );
  live.watchFiles();
  try {
    assert.equal(decideCreate(live).action, "allow");

    // Editors often write a temporary file and rename it over the original.
    await writeFile(`${file}.tmp`, policyText("deny"));
    await rename(`${file}.tmp`, file);
    await eventually(() => decideCreate(live).action === "deny", "the deny to take effect");
    assert.equal(decideCreate(live).ruleId, "team/configmap-writes");

    await writeFile(file, "spec:\n  rules: [ { id: broken\n");
    const metrics = async () => registry.metrics();
    const deadline = Date.now() + 5000;
    while (!/portcullis_policy_reload_failures_total 1/.test(await metrics())) {
      if (Date.now() > deadline) assert.fail("the refused reload was not counted");
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.match(await metrics(), /portcullis_policy_last_reload_ok 0/);
    assert.equal(decideCreate(live).action, "deny", "the last good policy stays in force");

    await writeFile(file, policyText("allow"));
    await eventually(() => decideCreate(live).action === "allow", "the fixed file to take effect");
    assert.match(await metrics(), /portcullis_policy_last_reload_ok 1/);
  } finally {
    live.close();
  }
});

test("a policy that does not compile stops the start, naming the file and the rule", async () => {
  const file = join(dir, "bad.yaml");
  await writeFile(
    file,
    `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: bad }
spec:
  defaultAction: allow
  rules:
    - id: bad/cel
      reason: does not compile
      match: { verbs: [create] }
      condition: "object.spec.replicas >"
      action: deny
`,
  );
  assert.throws(
    () => new LivePolicy({ baseline: true, files: [file] }, pino({ level: "silent" })),
    (err: Error) => err.message.includes("bad.yaml") && err.message.includes("bad/cel"),
  );
});
