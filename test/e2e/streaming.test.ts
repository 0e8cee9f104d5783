/**
 * Streaming behaviour against the real API server: large LISTs, chunked
 * uploads, client disconnects reaching upstream, graceful shutdown that ends
 * watches cleanly, and refused upgrades relayed as the API server's Status.
 */
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { request } from "node:https";
import { after, before, test } from "node:test";
import { type ControlPlane, startControlPlane } from "../../src/cluster/launcher.ts";
import { startTestGateway, type TestGateway } from "../support/gateway.ts";
import { rawRequest } from "../support/https.ts";
import { runKubectl } from "../support/kubectl.ts";

let cluster: ControlPlane;
let gw: TestGateway;
let token: string;
let ns: string;

before(async () => {
  cluster = await startControlPlane({ controllerManager: false });
  gw = await startTestGateway(cluster);
  ns = await cluster.createNamespace("streaming");
  const agent = await gw.agent("streamer");
  token = agent.token;
  // cluster-admin keeps RBAC out of these tests' way (controller-manager is off,
  // so the aggregated edit/view roles are empty).
  const r = await cluster.kubectl([
    "create",
    "clusterrolebinding",
    "streamer-admin",
    "--clusterrole=cluster-admin",
    `--user=${agent.username}`,
  ]);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await gw?.close();
  await cluster?.stop();
});

/** Open WATCH requests the API server itself is serving (its own metric). */
async function upstreamWatches(): Promise<number> {
  const r = await cluster.kubectl(["get", "--raw", "/metrics"]);
  let total = 0;
  for (const line of r.stdout.split("\n")) {
    if (
      line.startsWith("apiserver_longrunning_requests{") &&
      line.includes('verb="WATCH"') &&
      line.includes('resource="configmaps"')
    ) {
      total += Number(line.split(" ").at(-1));
    }
  }
  return total;
}

async function eventually(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function openWatch(
  baseUrl: string,
  caPem: string,
): Promise<{ res: IncomingMessage; destroy: () => void }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: `/api/v1/namespaces/${ns}/configmaps?watch=true`,
        headers: { authorization: `Bearer ${token}` },
        ca: caPem,
        agent: false,
      },
      (res) => resolve({ res, destroy: () => req.destroy() }),
    );
    req.on("error", reject);
    req.end();
  });
}

test("a LIST of 500 ConfigMaps streams through whole and identical", async () => {
  const items = Array.from({ length: 500 }, (_, i) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: `bulk-${i}` },
    data: { payload: "x".repeat(2048) },
  }));
  const r = await cluster.kubectl(["apply", "-n", ns, "-f", "-"], {
    input: JSON.stringify({ apiVersion: "v1", kind: "List", items }),
  });
  assert.equal(r.code, 0, r.stderr);
  const res = await rawRequest(gw.url, gw.caPem, {
    path: `/api/v1/namespaces/${ns}/configmaps?labelSelector=`,
    headers: { authorization: `Bearer ${token}`, accept: "application/json" },
  });
  assert.equal(res.status, 200);
  const list = JSON.parse(res.body) as {
    items: Array<{ metadata: { name: string }; data: { payload: string } }>;
  };
  const bulk = list.items.filter((i) => i.metadata.name.startsWith("bulk-"));
  assert.equal(bulk.length, 500);
  assert.ok(bulk.every((i) => i.data.payload.length === 2048));
});

test("a chunked request body (no Content-Length) is streamed upstream", async () => {
  const url = new URL(gw.url);
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: "POST",
        path: `/api/v1/namespaces/${ns}/configmaps`,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "transfer-encoding": "chunked",
        },
        ca: gw.caPem,
        agent: false,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    const body = JSON.stringify({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "chunked" },
      data: { a: "b" },
    });
    req.write(body.slice(0, 10));
    setTimeout(() => req.end(body.slice(10)), 50);
  });
  assert.equal(status, 201);
});

test("a client leaving a watch closes the upstream watch", async () => {
  const before = await upstreamWatches();
  const watch = await openWatch(gw.url, gw.caPem);
  assert.equal(watch.res.statusCode, 200);
  await eventually(
    async () => (await upstreamWatches()) === before + 1,
    "the upstream watch to open",
  );
  watch.destroy();
  await eventually(async () => (await upstreamWatches()) === before, "the upstream watch to close");
});

test("graceful shutdown ends an open watch cleanly", async () => {
  const second = await startTestGateway(cluster);
  const r = await cluster.kubectl([
    "create",
    "clusterrolebinding",
    "shutdown-watcher",
    "--clusterrole=cluster-admin",
    "--user=portcullis:agent:shutdown-watcher",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const agent = await second.agent("shutdown-watcher");
  const url = new URL(second.url);
  const watch = await new Promise<IncomingMessage>((resolve, reject) => {
    request(
      {
        host: url.hostname,
        port: url.port,
        path: `/api/v1/namespaces/${ns}/configmaps?watch=true`,
        headers: { authorization: `Bearer ${agent.token}` },
        ca: second.caPem,
        agent: false,
      },
      resolve,
    )
      .on("error", reject)
      .end();
  });
  let received = "";
  watch.on("data", (d: Buffer) => {
    received += d.toString();
  });
  const ended = new Promise<"end" | "error">((resolve) => {
    watch.once("end", () => resolve("end"));
    watch.once("error", () => resolve("error"));
  });
  await eventually(async () => received.includes('"type":"ADDED"'), "the initial events");
  await second.close();
  assert.equal(await ended, "end", "the watch response ended with a proper terminating chunk");
  assert.ok(watch.complete, "the client saw a complete response");
});

test("a refused upgrade (exec into a missing pod) relays the API server's Status", async () => {
  const agent = { kubeconfig: await gw.kubeconfigForToken("streamer-exec", token) };
  const result = await runKubectl(cluster.binaries.kubectl, agent.kubeconfig, [
    "exec",
    "-n",
    ns,
    "no-such-pod",
    "--",
    "true",
  ]);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /pods "no-such-pod" not found/);
});

test("/metrics counts requests by verb, resource and code; /readyz reports ready", async () => {
  const ready = await rawRequest(gw.url, gw.caPem, { path: "/readyz" });
  assert.equal(ready.status, 200);
  assert.equal(ready.body, "ok");
  const metrics = await rawRequest(gw.url, gw.caPem, { path: "/metrics" });
  assert.match(
    metrics.body,
    /portcullis_requests_total\{verb="list",resource="configmaps",code="200"\} \d+/,
  );
  assert.match(
    metrics.body,
    /portcullis_request_duration_seconds_bucket\{le="0.005",verb="list",resource="configmaps"\}/,
  );
});
