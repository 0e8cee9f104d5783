/**
 * Approvals across gateway replicas sharing one PostgreSQL database: a call
 * held on one replica is released by a decision taken through another
 * (LISTEN/NOTIFY), and calls held by a replica that stops or restarts are
 * cancelled and say so, never left pending or lost.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { openApprovalStore } from "../../src/approvals/open.ts";
import type { ApprovalStore } from "../../src/approvals/store/store.ts";
import type { ApprovalRequest } from "../../src/approvals/types.ts";
import { type ControlPlane, startControlPlane } from "../../src/cluster/launcher.ts";
import { configSchema } from "../../src/config/schema.ts";
import { bindRole, startTestGateway, type TestGateway } from "../support/gateway.ts";
import { KubectlStream } from "../support/kubectl.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { runProcess } from "../support/process.ts";

const cli = resolve(import.meta.dirname, "../../bin/portcullis");
const { PORTCULLIS_CONFIG: _config, KUBECONFIG: _kubeconfig, ...env } = process.env;

let pg: TestPostgres;
let cluster: ControlPlane;
let prod: string;
let dirA: string;
let gwA: TestGateway;
let gwB: TestGateway;
let store: ApprovalStore;

const auditSettings = () => ({ store: { postgres: { connectionString: pg.connectionString } } });

async function startA(): Promise<TestGateway> {
  return startTestGateway(cluster, { audit: auditSettings(), dataDir: dirA });
}

async function pending(name: string): Promise<ApprovalRequest> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const found = (await store.listApprovals({ states: ["pending"] })).find(
      (a) => a.call.name === name,
    );
    if (found) return found;
    assert.ok(Date.now() < deadline, `no pending approval for ${name}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function deployment(name: string): Promise<void> {
  const r = await cluster.kubectl([
    "create",
    "deployment",
    name,
    "-n",
    prod,
    "--image=registry.example/app:1",
  ]);
  assert.equal(r.code, 0, r.stderr);
}

const admin = (username: string) => bindRole(cluster, username, "cluster-admin");

before(async () => {
  pg = await startPostgres();
  cluster = await startControlPlane({ controllerManager: false });
  prod = await cluster.createNamespace("prod", { "portcullis.dev/tier": "production" });
  dirA = await mkdtemp(join(tmpdir(), "portcullis-replica-a-"));
  gwA = await startA();
  // Replicas share the log's signing key as they share its database.
  gwB = await startTestGateway(cluster, {
    audit: { ...auditSettings(), signingKey: { file: join(dirA, "audit", "signing.key") } },
  });
  const settings = configSchema.parse({ audit: auditSettings() });
  store = await openApprovalStore(settings.audit, dirA);
});

after(async () => {
  await store?.close();
  await gwA?.close();
  await gwB?.close();
  await cluster?.stop();
  await pg?.stop();
  if (dirA) await rm(dirA, { recursive: true, force: true });
});

describe("two replicas on one PostgreSQL", () => {
  test("a call held on replica A is released by an approval taken through replica B", async () => {
    const deployer = await gwA.agent("deployer");
    await admin(deployer.username);
    const alice = await gwB.agent("alice", { groups: ["portcullis:approvers"] });
    await deployment("web");
    const del = new KubectlStream(cluster.binaries.kubectl, deployer.kubeconfig, [
      "delete",
      "deployment",
      "web",
      "-n",
      prod,
    ]);
    try {
      const approval = await pending("web");
      assert.equal(approval.replica, (await readFile(join(dirA, "replica.id"), "utf8")).trim());
      const approved = await runProcess(
        cli,
        [
          "approvals",
          "approve",
          approval.id,
          "--reason",
          "approved on B",
          "--kubeconfig",
          alice.kubeconfig,
        ],
        { env },
      );
      assert.equal(approved.code, 0, approved.stderr);
      assert.equal(await del.exited, 0, del.stderr);
      assert.equal((await store.getApproval(approval.id))?.state, "used");
    } finally {
      del.stop();
    }
  });

  test("a replica that shuts down cancels the calls it holds and answers them", async () => {
    const deployer = await gwA.agent("deployer-2");
    await admin(deployer.username);
    await deployment("held-at-shutdown");
    const del = new KubectlStream(cluster.binaries.kubectl, deployer.kubeconfig, [
      "delete",
      "deployment",
      "held-at-shutdown",
      "-n",
      prod,
    ]);
    const approval = await pending("held-at-shutdown");
    await gwA.close();
    assert.notEqual(await del.exited, 0);
    assert.match(del.stderr, /shutting down; approval apr-[0-9a-f]{16} is cancelled/);
    const closed = await store.getApproval(approval.id);
    assert.equal(closed?.state, "cancelled");
    assert.equal(closed?.closedReason, "the gateway holding the call shut down");
    gwA = await startA();
  });

  test("a replica that restarts after a crash cancels what it held before", async () => {
    const replica = (await readFile(join(dirA, "replica.id"), "utf8")).trim();
    // What a crashed replica leaves behind: a held approval nobody will answer.
    const orphan = await store.createApproval(
      {
        expiresAt: new Date(Date.now() + 600_000).toISOString(),
        requestId: "crashed-call",
        replica,
        mode: "hold",
        requester: { username: "portcullis:agent:x", subject: "x", kind: "agent", groups: [] },
        call: {
          method: "DELETE",
          path: `/apis/apps/v1/namespaces/${prod}/deployments/gone`,
          verb: "delete",
          apiGroup: "apps",
          resource: "deployments",
          subresource: "",
          namespace: prod,
          name: "gone",
        },
        bodySha256: "",
        rule: { id: "baseline/approve-production-deletes", reason: "r" },
        approvers: { groups: ["portcullis:approvers"], required: 1 },
        effect: {},
      },
      new Date(),
    );
    await gwA.close();
    gwA = await startA();
    const after = await store.getApproval(orphan.id);
    assert.equal(after?.state, "cancelled");
    assert.equal(after?.closedReason, "the gateway holding the call restarted");
  });
});
