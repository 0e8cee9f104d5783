/**
 * An unchanged @kubernetes/client-node program, given only an agent
 * kubeconfig, works through the gateway: list, watch, create.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CoreV1Api, KubeConfig, type V1ConfigMap, Watch } from "@kubernetes/client-node";
import { type ControlPlane, startControlPlane } from "../../src/cluster/launcher.ts";
import { bindRole, startTestGateway, type TestGateway } from "../support/gateway.ts";

let cluster: ControlPlane;
let gw: TestGateway;
let kc: KubeConfig;
let ns: string;

before(async () => {
  // The controller manager aggregates the built-in edit/view ClusterRoles.
  cluster = await startControlPlane();
  gw = await startTestGateway(cluster);
  ns = await cluster.createNamespace("client-node");
  const agent = await gw.agent("client-node-agent");
  await bindRole(cluster, agent.username, "edit", ns);
  kc = new KubeConfig();
  kc.loadFromFile(agent.kubeconfig);
});

after(async () => {
  await gw?.close();
  await cluster?.stop();
});

test("client-node creates and lists ConfigMaps through the gateway", async () => {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedConfigMap({
    namespace: ns,
    body: { metadata: { name: "from-client-node" }, data: { hello: "world" } },
  });
  const list = await core.listNamespacedConfigMap({ namespace: ns });
  const made = list.items.find((cm) => cm.metadata?.name === "from-client-node");
  assert.deepEqual(made?.data, { hello: "world" });
});

test("client-node receives watch events through the gateway", async () => {
  const core = kc.makeApiClient(CoreV1Api);
  const seen: string[] = [];
  let resolveSeen: () => void;
  const gotIt = new Promise<void>((resolve) => {
    resolveSeen = resolve;
  });
  const watcher = await new Watch(kc).watch(
    `/api/v1/namespaces/${ns}/configmaps`,
    {},
    (type: string, object: V1ConfigMap) => {
      seen.push(`${type} ${object.metadata?.name}`);
      if (object.metadata?.name === "watched-by-client-node" && type === "ADDED") resolveSeen();
    },
    () => {},
  );
  try {
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: "watched-by-client-node" } },
    });
    await Promise.race([
      gotIt,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`no event; saw ${seen.join(", ")}`)), 15_000),
      ),
    ]);
    assert.ok(seen.includes("ADDED watched-by-client-node"));
  } finally {
    watcher.abort();
  }
});

test("client-node sees the API server's Forbidden for what RBAC does not allow", async () => {
  const core = kc.makeApiClient(CoreV1Api);
  await assert.rejects(
    core.listNamespacedConfigMap({ namespace: "kube-system" }),
    (err: { code?: number; body?: string }) => {
      assert.equal(err.code, 403);
      assert.match(String(err.body), /portcullis:agent:client-node-agent/);
      return true;
    },
  );
});
