/**
 * Write-ahead, fail closed: while the audit store cannot be written, every
 * call is refused with 503 and nothing reaches the API server; when the store
 * is back, service resumes by itself. Both engines, real servers.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type ControlPlane, startControlPlane } from "../../src/cluster/launcher.ts";
import { startTestGateway, type TestGateway } from "../support/gateway.ts";
import { rawRequest } from "../support/https.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";

let cluster: ControlPlane;

before(async () => {
  cluster = await startControlPlane({ controllerManager: false });
});
after(async () => {
  await cluster?.stop();
});

async function adminBoundAgent(gw: TestGateway, name: string): Promise<string> {
  const agent = await gw.agent(name);
  const r = await cluster.kubectl([
    "create",
    "clusterrolebinding",
    name,
    "--clusterrole=cluster-admin",
    `--user=${agent.username}`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return agent.token;
}

function createConfigMap(gw: TestGateway, token: string, ns: string, name: string) {
  return rawRequest(gw.url, gw.caPem, {
    method: "POST",
    path: `/api/v1/namespaces/${ns}/configmaps`,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name } }),
  });
}

async function existsUpstream(ns: string, name: string): Promise<boolean> {
  const r = await cluster.kubectl(["get", "configmap", name, "-n", ns, "-o", "name"]);
  return r.code === 0;
}

async function assertRefusedWhileDown(gw: TestGateway, token: string, ns: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const name = `during-outage-${i}`;
    const res = await createConfigMap(gw, token, ns, name);
    assert.equal(res.status, 503, res.body);
    const status = JSON.parse(res.body) as {
      kind: string;
      code: number;
      reason: string;
      message: string;
    };
    assert.equal(status.kind, "Status");
    assert.equal(status.code, 503);
    assert.equal(status.reason, "ServiceUnavailable");
    assert.match(status.message, /audit log cannot be written/);
    assert.equal(
      await existsUpstream(ns, name),
      false,
      `${name} must not have reached the API server`,
    );
  }
  const ready = await rawRequest(gw.url, gw.caPem, { path: "/readyz" });
  assert.equal(ready.status, 503);
  assert.match(ready.body, /audit store unavailable/);
}

async function assertServedAgain(gw: TestGateway, token: string, ns: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const res = await createConfigMap(gw, token, ns, "after-recovery");
    if (res.status === 201) break;
    if (Date.now() > deadline) assert.fail(`service did not resume: ${res.status} ${res.body}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok(await existsUpstream(ns, "after-recovery"));
}

describe("PostgreSQL store stopped", () => {
  let pg: TestPostgres;
  let gw: TestGateway;
  before(async () => {
    pg = await startPostgres();
    gw = await startTestGateway(cluster, {
      audit: { store: { postgres: { connectionString: pg.connectionString } } },
    });
  });
  after(async () => {
    await gw?.close();
    await pg?.destroy();
  });

  test("refuses every call with 503 while down, and resumes by itself", async () => {
    const token = await adminBoundAgent(gw, "pg-outage");
    const ns = await cluster.createNamespace("pg-outage");
    const ok = await createConfigMap(gw, token, ns, "before-outage");
    assert.equal(ok.status, 201, ok.body);
    await pg.stop();
    await assertRefusedWhileDown(gw, token, ns);
    await pg.start();
    await assertServedAgain(gw, token, ns);
  });
});

describe("SQLite store cannot be written (its disk is full)", {
  skip: process.getuid?.() !== 0 && "needs root to mount a tmpfs",
}, () => {
  let mount: string;
  let gw: TestGateway;
  before(async () => {
    mount = await mkdtemp(join(tmpdir(), "portcullis-full-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mount]);
    gw = await startTestGateway(cluster, {
      audit: { store: { sqlite: { path: join(mount, "audit.db") } } },
    });
  });
  after(async () => {
    await gw?.close();
    if (mount) {
      execFileSync("umount", [mount]);
      await rm(mount, { recursive: true, force: true });
    }
  });

  test("refuses every call with 503 while the file cannot grow, and resumes once it can", async () => {
    const token = await adminBoundAgent(gw, "sqlite-outage");
    const ns = await cluster.createNamespace("sqlite-outage");
    assert.equal((await createConfigMap(gw, token, ns, "before-outage")).status, 201);
    // Fill the filesystem so SQLite cannot extend its WAL.
    const filler = join(mount, "filler");
    try {
      await writeFile(filler, Buffer.alloc(4 * 1024 * 1024));
    } catch {
      // ENOSPC: exactly what we wanted; the partial file still fills the disk.
    }
    await assertRefusedWhileDown(gw, token, ns);
    await rm(filler);
    await assertServedAgain(gw, token, ns);
  });
});
