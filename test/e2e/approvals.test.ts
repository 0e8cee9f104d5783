/**
 * Just-in-time approval of single calls, with kubectl through the gateway
 * against the real control plane and the `portcullis approvals` CLI as the
 * approver: a production delete waits and finishes once approved; a denial
 * reaches kubectl as a readable Forbidden; a timeout likewise; the
 * requester cannot approve their own call; retry mode answers at once and
 * lets one retry through; a grant lets the next call through without
 * waiting until it is revoked; every decision is in the call's records.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { replayGuard, verifyWebhook } from "../../src/approvals/notify/webhook.ts";
import type { ApprovalRequest } from "../../src/approvals/types.ts";
import { type ControlPlane, startControlPlane } from "../../src/cluster/launcher.ts";
import { bindRole, startTestGateway, type TestGateway } from "../support/gateway.ts";
import { KubectlStream, runKubectl } from "../support/kubectl.ts";
import { writePolicyFile } from "../support/policy.ts";
import { type ProcessRun, runProcess } from "../support/process.ts";

const cli = resolve(import.meta.dirname, "../../bin/portcullis");
const { PORTCULLIS_CONFIG: _config, KUBECONFIG: _kubeconfig, ...env } = process.env;

let cluster: ControlPlane;
let gw: TestGateway;
let prod: string;
let scratch: string;
type Agent = { kubeconfig: string; token: string; username: string };
let deployer: Agent;
let alice: Agent;
let bob: Agent;
let opsBot: Agent;
let receiver: Server;
const webhookSecret = "e2e-webhook-secret-0123456789abcdef";
const deliveries: Array<{ headers: IncomingHttpHeaders; body: string }> = [];

function portcullis(args: string[], as: Agent): Promise<ProcessRun> {
  return runProcess(cli, [...args, "--kubeconfig", as.kubeconfig], { env });
}

function kubectl(as: Agent, args: string[]) {
  return runKubectl(cluster.binaries.kubectl, as.kubeconfig, args, { timeoutMs: 60_000 });
}

/** Waits until the gateway holds a pending approval matching `match`. */
async function pendingApproval(match: (a: ApprovalRequest) => boolean): Promise<ApprovalRequest> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const result = await portcullis(["approvals", "list", "-o", "json"], alice);
    assert.equal(result.code, 0, result.stderr);
    const found = (JSON.parse(result.stdout) as ApprovalRequest[]).find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error("no pending approval appeared");
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function deployment(ns: string, name: string): Promise<void> {
  const r = await cluster.kubectl([
    "create",
    "deployment",
    name,
    "-n",
    ns,
    "--image=registry.example/app:1",
  ]);
  assert.equal(r.code, 0, r.stderr);
}

async function exists(kind: string, ns: string, name: string): Promise<boolean> {
  return (await cluster.kubectl(["get", kind, name, "-n", ns])).code === 0;
}

before(async () => {
  cluster = await startControlPlane({ controllerManager: false });
  const policyFile = join(cluster.dataDir, "approvals-policy.yaml");
  await writePolicyFile(policyFile, "team", [
    "  defaultAction: allow",
    "  rules:",
    "    - id: team/quick-configmap-deletes",
    "      reason: configmap deletes in scratch need a quick approval",
    "      match: { verbs: [delete], resources: [configmaps], namespaces: [scratch-*] }",
    "      condition: oldObject.metadata.name.startsWith('timed-')",
    "      action: approve",
    "      approval: { timeout: 3s }",
    "    - id: team/retry-secret-deletes",
    "      reason: deleting a Secret needs approval; agents retry once approved",
    "      match: { verbs: [delete], resources: [secrets], namespaces: [scratch-*] }",
    "      action: approve",
    "      approval: { mode: retry, timeout: 5m }",
  ]);
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((done) => receiver.listen(0, "127.0.0.1", done));
  process.env.E2E_WEBHOOK_SECRET = webhookSecret;
  gw = await startTestGateway(cluster, {
    policy: { files: [policyFile] },
    approvals: {
      notifications: [
        {
          webhook: {
            url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`,
            secret: { env: "E2E_WEBHOOK_SECRET" },
          },
        },
      ],
    },
  });
  prod = await cluster.createNamespace("prod", { "portcullis.dev/tier": "production" });
  scratch = await cluster.createNamespace("scratch");
  deployer = await gw.agent("deployer");
  alice = await gw.agent("alice", { groups: ["portcullis:approvers"] });
  bob = await gw.agent("bob", { groups: ["portcullis:approvers"] });
  opsBot = await gw.agent("ops-bot", { groups: ["portcullis:approvers"] });
  for (const agent of [deployer, opsBot]) await bindRole(cluster, agent.username, "cluster-admin");
});

after(async () => {
  await gw?.close();
  await cluster?.stop();
  await new Promise((done) => receiver?.close(done));
});

describe("a held call", () => {
  test("kubectl delete deployment in production waits; approving through the CLI lets it finish", async () => {
    await deployment(prod, "web");
    const del = new KubectlStream(cluster.binaries.kubectl, deployer.kubeconfig, [
      "delete",
      "deployment",
      "web",
      "-n",
      prod,
    ]);
    try {
      const approval = await pendingApproval((a) => a.call.name === "web" && a.state === "pending");
      assert.equal(approval.rule.id, "baseline/approve-production-deletes");
      assert.equal(approval.requester.username, deployer.username);
      assert.equal(approval.requester.command, "kubectl delete");
      assert.ok(await exists("deployment", prod, "web"), "nothing is deleted while the call waits");

      const shown = await portcullis(["approvals", "show", approval.id], alice);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /who: +portcullis:agent:deployer \(agent\)/);
      assert.match(shown.stdout, /what: +delete deployments\/web -n prod/);
      assert.match(shown.stdout, /why: +rule baseline\/approve-production-deletes/);
      assert.match(shown.stdout, /Would delete:\n[\s\S]*name: web/);

      const approved = await portcullis(
        ["approvals", "approve", approval.id, "--reason", "CHG-1234 planned cleanup"],
        alice,
      );
      assert.equal(approved.code, 0, approved.stderr);
      assert.equal(await del.exited, 0, del.stderr);
      assert.match(del.stdout, /deployment.apps "web" deleted/);
      assert.equal(await exists("deployment", prod, "web"), false);

      const completions = await gw.audit.store.search({
        kind: "completion",
        requestId: approval.requestId,
      });
      const record = JSON.parse(completions[0]?.body ?? "{}") as {
        status: number;
        approval?: { id: string; decisions: Array<{ by: string; reason: string }> };
      };
      assert.equal(record.status, 200);
      assert.equal(record.approval?.id, approval.id);
      assert.deepEqual(
        record.approval?.decisions.map((d) => [d.by, d.reason]),
        [[alice.username, "CHG-1234 planned cleanup"]],
      );
    } finally {
      del.stop();
    }
  });

  test("denying gives kubectl a readable Forbidden with the approver's reason", async () => {
    await deployment(prod, "api");
    const del = runKubectl(
      cluster.binaries.kubectl,
      deployer.kubeconfig,
      ["delete", "deployment", "api", "-n", prod],
      {
        timeoutMs: 60_000,
      },
    );
    const approval = await pendingApproval((a) => a.call.name === "api" && a.state === "pending");
    const denied = await portcullis(
      ["approvals", "deny", approval.id, "--reason", "not during the freeze"],
      bob,
    );
    assert.equal(denied.code, 0, denied.stderr);
    const result = await del;
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /Forbidden/);
    assert.match(
      result.stderr,
      new RegExp(`approval ${approval.id} was denied: ${bob.username}: not during the freeze`),
    );
    assert.ok(await exists("deployment", prod, "api"));
    const completion = await gw.audit.store.search({
      kind: "completion",
      requestId: approval.requestId,
    });
    const record = JSON.parse(completion[0]?.body ?? "{}") as {
      status: number;
      approval?: { id: string; state: string; decisions: Array<{ by: string; decision: string }> };
    };
    assert.equal(record.status, 403);
    assert.equal(record.approval?.state, "denied");
    assert.deepEqual(
      record.approval?.decisions.map((d) => [d.by, d.decision]),
      [[bob.username, "deny"]],
    );
  });

  test("a call nobody decides times out with a readable Forbidden", async () => {
    const made = await cluster.kubectl(["create", "configmap", "timed-out", "-n", scratch]);
    assert.equal(made.code, 0, made.stderr);
    const result = await kubectl(deployer, ["delete", "configmap", "timed-out", "-n", scratch]);
    assert.notEqual(result.code, 0);
    assert.match(
      result.stderr,
      /rule team\/quick-configmap-deletes: approval apr-[0-9a-f]{16} timed out after 3s/,
    );
    assert.ok(await exists("configmap", scratch, "timed-out"));
  });

  test("the requester's own approval is refused, and so is a non-approver's", async () => {
    await deployment(prod, "own");
    const del = runKubectl(
      cluster.binaries.kubectl,
      opsBot.kubeconfig,
      ["delete", "deployment", "own", "-n", prod],
      {
        timeoutMs: 60_000,
      },
    );
    const approval = await pendingApproval((a) => a.call.name === "own" && a.state === "pending");
    const self = await portcullis(
      ["approvals", "approve", approval.id, "--reason", "trust me"],
      opsBot,
    );
    assert.notEqual(self.code, 0);
    assert.match(self.stderr, /requested this call and cannot approve it/);
    const outsider = await portcullis(
      ["approvals", "approve", approval.id, "--reason", "sure"],
      deployer,
    );
    assert.notEqual(outsider.code, 0);
    assert.match(outsider.stderr, /not found|may not/);
    const denied = await portcullis(
      ["approvals", "deny", approval.id, "--reason", "cleanup"],
      alice,
    );
    assert.equal(denied.code, 0, denied.stderr);
    assert.notEqual((await del).code, 0);
  });
});

describe("notifications", () => {
  test("approval requests and decisions reach the webhook signed; tampered or replayed deliveries fail", async () => {
    const deadline = Date.now() + 10_000;
    while (!deliveries.some((d) => d.body.includes('"approval.decided"'))) {
      assert.ok(Date.now() < deadline, `no decision delivered: ${deliveries.length} deliveries`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const seen = replayGuard();
    for (const d of deliveries) {
      const verified = verifyWebhook({
        secret: webhookSecret,
        headers: d.headers,
        body: d.body,
        seen,
      });
      assert.ok(verified.ok, JSON.stringify(verified));
    }
    const first = deliveries[0];
    assert.ok(first);
    const payload = JSON.parse(first.body) as { type: string; approval?: { id: string } };
    assert.equal(payload.type, "approval.requested");
    assert.match(payload.approval?.id ?? "", /^apr-[0-9a-f]{16}$/);
    const replayed = verifyWebhook({
      secret: webhookSecret,
      headers: first.headers,
      body: first.body,
      seen,
    });
    assert.deepEqual(replayed, { ok: false, reason: "replayed" });
    const tampered = verifyWebhook({
      secret: webhookSecret,
      headers: first.headers,
      body: first.body.replace("approval.requested", "approval.decided"),
    });
    assert.deepEqual(tampered, { ok: false, reason: "bad_signature" });
    const shown = await portcullis(["approvals", "notifications", "-o", "json"], alice);
    assert.equal(shown.code, 0, shown.stderr);
    const [target] = JSON.parse(shown.stdout) as Array<{
      target: string;
      deliveries: Array<{ state: string; eventType: string }>;
    }>;
    assert.equal(target?.target, "webhook-0");
    assert.ok(
      target?.deliveries.some(
        (d) => d.state === "delivered" && d.eventType === "approval.requested",
      ),
    );
    const wrongKey = verifyWebhook({
      secret: "another-secret-0123456789abcdef",
      headers: first.headers,
      body: first.body,
    });
    assert.deepEqual(wrongKey, { ok: false, reason: "bad_signature" });
  });
});

describe("retry mode and grants", () => {
  test("retry mode: refused at once with the approval id; once approved, one retry passes", async () => {
    const made = await cluster.kubectl([
      "create",
      "secret",
      "generic",
      "old-creds",
      "-n",
      scratch,
      "--from-literal=a=b",
    ]);
    assert.equal(made.code, 0, made.stderr);
    const first = await kubectl(deployer, ["delete", "secret", "old-creds", "-n", scratch]);
    assert.notEqual(first.code, 0);
    const id =
      /Approval (apr-[0-9a-f]{16}) is requested; retry the same call after it is approved/.exec(
        first.stderr,
      )?.[1];
    assert.ok(id, first.stderr);
    const again = await kubectl(deployer, ["delete", "secret", "old-creds", "-n", scratch]);
    assert.match(again.stderr, new RegExp(id), "asking again while pending reuses the approval");
    const approved = await portcullis(["approvals", "approve", id, "--reason", "rotated"], alice);
    assert.equal(approved.code, 0, approved.stderr);
    const retried = await kubectl(deployer, ["delete", "secret", "old-creds", "-n", scratch]);
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal(await exists("secret", scratch, "old-creds"), false);
    const shown = await portcullis(["approvals", "show", id, "-o", "json"], alice);
    assert.equal((JSON.parse(shown.stdout) as ApprovalRequest).state, "used");
  });

  test("a grant lets the next matching call through without waiting, until it is revoked", async () => {
    await deployment(prod, "batch-1");
    await deployment(prod, "batch-2");
    const created = await portcullis(
      [
        "grants",
        "create",
        "--subject",
        deployer.username,
        "--verbs",
        "delete",
        "--resources",
        "deployments",
        "--api-groups",
        "apps",
        "--namespaces",
        prod,
        "--for",
        "15m",
        "--reason",
        "CHG-99 batch cleanup",
      ],
      alice,
    );
    assert.equal(created.code, 0, created.stderr);
    const grantId = /grant (grt-[0-9a-f]{16})/.exec(created.stdout)?.[1];
    assert.ok(grantId, created.stdout);
    const quick = await kubectl(deployer, ["delete", "deployment", "batch-1", "-n", prod]);
    assert.equal(quick.code, 0, quick.stderr);
    const rows = await gw.audit.store.search({ kind: "completion", limit: 5000 });
    assert.ok(rows.some((r) => (JSON.parse(r.body) as { grant?: string }).grant === grantId));

    const revoked = await portcullis(["grants", "revoke", grantId, "--reason", "done"], alice);
    assert.equal(revoked.code, 0, revoked.stderr);
    const del = new KubectlStream(cluster.binaries.kubectl, deployer.kubeconfig, [
      "delete",
      "deployment",
      "batch-2",
      "-n",
      prod,
    ]);
    try {
      const approval = await pendingApproval(
        (a) => a.call.name === "batch-2" && a.state === "pending",
      );
      assert.ok(approval, "after revocation the call waits for approval again");
    } finally {
      del.stop();
      await del.exited;
    }
    // The client went away: its approval is cancelled, not left pending.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const list = await portcullis(
        ["approvals", "list", "--state", "cancelled", "-o", "json"],
        alice,
      );
      if ((JSON.parse(list.stdout) as ApprovalRequest[]).some((a) => a.call.name === "batch-2"))
        break;
      assert.ok(Date.now() < deadline, "the abandoned approval was cancelled");
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(await exists("deployment", prod, "batch-2"));
  });
});
