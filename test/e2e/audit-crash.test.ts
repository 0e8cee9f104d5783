/**
 * kill -9 of the gateway in the middle of load, ten times over one SQLite
 * log: afterwards the log verifies, and every call whose answer a client saw
 * complete has both its request and its completion record.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { openSqliteStore } from "../../src/audit/store/sqlite.ts";
import { verifyLog } from "../../src/audit/verify.ts";
import { type ControlPlane, startControlPlane } from "../../src/cluster/launcher.ts";
import { freePorts } from "../../src/cluster/processes.ts";
import { AgentTokenStore } from "../../src/identity/agent-tokens.ts";

const main = resolve(import.meta.dirname, "../../src/cli/main.ts");
const rounds = 10;

let cluster: ControlPlane;
let dir: string;

before(async () => {
  cluster = await startControlPlane({ controllerManager: false });
  dir = await mkdtemp(join(tmpdir(), "portcullis-crash-"));
});
after(async () => {
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  auditId: string | undefined;
}

/** One call; resolves only if the whole answer arrived (its end was seen). */
function call(
  port: number,
  caPem: string,
  token: string,
  method: string,
  path: string,
  body?: string,
): Promise<Answer> {
  return new Promise((resolveCall, reject) => {
    const req = request(
      {
        host: "localhost",
        port,
        method,
        path,
        ca: caPem,
        agent: false,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      },
      (res) => {
        res.resume();
        res.on("error", reject);
        res.on("end", () => {
          if (!res.complete) return reject(new Error("incomplete"));
          const id = res.headers["audit-id"];
          resolveCall({ status: res.statusCode ?? 0, auditId: Array.isArray(id) ? id[0] : id });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function waitReady(port: number, caPem: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`gateway exited ${child.exitCode}`);
    const ok = await new Promise<boolean>((r) => {
      request({ host: "localhost", port, path: "/readyz", ca: caPem, agent: false }, (res) => {
        res.resume();
        r(res.statusCode === 200);
      })
        .on("error", () => r(false))
        .end();
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("gateway not ready");
}

test(`kill -9 during load, ${rounds} rounds: the log verifies and answered calls have both records`, async () => {
  const agents = await AgentTokenStore.open(dir);
  const { token, agent } = await agents.create("crash-test");
  const user = `portcullis:agent:${agent.name}`;
  const ns = await cluster.createNamespace("crash");
  const bind = await cluster.kubectl([
    "create",
    "rolebinding",
    "crash",
    "-n",
    ns,
    "--clusterrole=admin",
    `--user=${user}`,
  ]);
  assert.equal(bind.code, 0, bind.stderr);
  // cluster-admin's aggregated roles are empty without the controller manager; grant directly.
  await cluster.kubectl([
    "create",
    "clusterrolebinding",
    "crash",
    "--clusterrole=cluster-admin",
    `--user=${user}`,
  ]);

  const answered: string[] = [];
  let sequence = 0;
  for (let round = 0; round < rounds; round++) {
    const [port = 0] = await freePorts(1);
    const config = join(dir, "portcullis.yaml");
    await writeFile(
      config,
      `dataDir: ${dir}\nlisten:\n  port: ${port}\nupstream:\n  kubeconfig: ${cluster.gatewayKubeconfig}\nlogging:\n  level: silent\naudit:\n  checkpoint:\n    everyRecords: 50\n`,
    );
    const child = spawn(process.execPath, [main, "serve", "--config", config], { stdio: "ignore" });
    const exited = new Promise((r) => child.once("exit", r));
    let caPem = "";
    for (let i = 0; i < 100 && !caPem; i++) {
      try {
        caPem = readFileSync(join(dir, "tls", "ca.crt"), "utf8");
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await waitReady(port, caPem, child);
    let stop = false;
    const worker = async () => {
      while (!stop) {
        const n = sequence++;
        const attempt =
          n % 2 === 0
            ? call(
                port,
                caPem,
                token,
                "POST",
                `/api/v1/namespaces/${ns}/configmaps`,
                JSON.stringify({ metadata: { name: `cm-${n}` }, data: { n: String(n) } }),
              )
            : call(port, caPem, token, "GET", `/api/v1/namespaces/${ns}/configmaps?limit=5`);
        try {
          const answer = await attempt;
          if (answer.auditId) answered.push(answer.auditId);
        } catch {
          // Cut off by the kill: the client never saw this answer.
        }
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    await new Promise((r) => setTimeout(r, 300 + Math.random() * 700));
    child.kill("SIGKILL");
    await exited;
    stop = true;
    await Promise.all(workers);
  }
  assert.ok(answered.length > rounds * 10, `only ${answered.length} calls were answered`);

  const store = await openSqliteStore(join(dir, "audit.db"));
  try {
    const verifierKey = readFileSync(join(dir, "audit", "verifier.pub"), "utf8").trim();
    const report = await verifyLog(store, verifierKey);
    assert.equal(report.ok, true, JSON.stringify(report));
    for (const requestId of answered) {
      const rows = await store.search({ requestId });
      const kinds = rows.map((r) => (JSON.parse(r.body) as { kind: string }).kind).sort();
      assert.deepEqual(
        kinds,
        ["completion", "request"],
        `call ${requestId} has records ${kinds.join(",")}`,
      );
    }
  } finally {
    await store.close();
  }
});
