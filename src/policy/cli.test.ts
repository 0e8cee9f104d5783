// Tests for src/cli/policy.ts (kept here, with the rest of the policy tests).
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { policyCommand } from "../cli/policy.ts";

async function run(...args: string[]): Promise<{ out: string; exitCode: number }> {
  const chunks: string[] = [];
  const write = process.stdout.write;
  const before = process.exitCode;
  process.exitCode = 0;
  process.stdout.write = ((chunk: string) => chunks.push(String(chunk)) > 0) as typeof write;
  try {
    await policyCommand().exitOverride().parseAsync(args, { from: "user" });
    return { out: chunks.join(""), exitCode: Number(process.exitCode ?? 0) };
  } finally {
    process.stdout.write = write;
    process.exitCode = before;
  }
}

const dir = mkdtempSync(join(tmpdir(), "policy-cli-"));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const header = "apiVersion: portcullis.dev/v1\nkind: Policy\nmetadata: { name: team }\n";

test("policy check runs a file's tests and exits 1 when one fails", async () => {
  const good = file(
    "good.yaml",
    `${header}spec:
  defaultAction: allow
  tests:
    - name: namespaces stay
      request: { method: DELETE, path: /api/v1/namespaces/x, identity: { subject: bot, kind: agent } }
      expect: deny
      rule: baseline/no-namespace-delete
`,
  );
  const ok = await run("check", good);
  assert.equal(ok.exitCode, 0);
  assert.match(ok.out, /ok +.*good\.yaml: namespaces stay/);
  assert.match(ok.out, /1 tests: 1 passed, 0 failed/);
  const bad = file(
    "bad.yaml",
    `${header}spec:
  defaultAction: allow
  tests:
    - name: wrong
      request: { method: GET, path: /api/v1/pods, identity: { subject: bot, kind: agent } }
      expect: deny
`,
  );
  const failed = await run("check", "--no-baseline", bad);
  assert.equal(failed.exitCode, 1);
  assert.match(failed.out, /FAIL .*bad\.yaml: wrong — expected deny, got allow/);
});

test("policy check refuses an invalid file with its location", async () => {
  const broken = file("broken.yaml", `${header}spec:\n  defaultAction: maybe\n`);
  await assert.rejects(run("check", broken), /broken\.yaml:5:18: spec\.defaultAction/);
});

test("policy explain prints the decision as text or JSON", async () => {
  const text = await run(
    "explain",
    "-X",
    "DELETE",
    "--path",
    "/api/v1/namespaces/prod",
    "--agent",
    "bot",
  );
  assert.match(text.out, /DENY by baseline\/no-namespace-delete/);
  const object = file(
    "pod.json",
    JSON.stringify({
      spec: { containers: [{ name: "a", securityContext: { privileged: true } }] },
    }),
  );
  const json = await run(
    "explain",
    "-X",
    "POST",
    "--path",
    "/api/v1/namespaces/a/pods",
    "--human",
    "alice",
    "--object",
    object,
    "--namespace-labels",
    "team=a,tier=dev",
    "-o",
    "json",
  );
  const parsed = JSON.parse(json.out);
  assert.equal(parsed.decision.ruleId, "baseline/no-privileged-pods");
  assert.equal(parsed.identity.kind, "human");
  assert.deepEqual(parsed.needs, { object: true, oldObject: false });
});
