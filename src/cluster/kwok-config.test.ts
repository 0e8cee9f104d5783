import assert from "node:assert/strict";
import { test } from "node:test";
import { parseAllDocuments } from "yaml";
import { kwokRuleObjects, renderKwokConfig } from "./kwok-config.ts";

test("a rule without pods or namespaces has no selector, so it matches every pod", () => {
  const [logs] = kwokRuleObjects({ logs: [{ file: "/tmp/app.log" }] });
  assert.deepEqual(logs, {
    apiVersion: "kwok.x-k8s.io/v1alpha1",
    kind: "ClusterLogs",
    metadata: { name: "logs-0" },
    spec: { logs: [{ logsFile: "/tmp/app.log", follow: true }] },
  });
});

test("namespaces, pods and containers narrow a rule", () => {
  const [exec] = kwokRuleObjects({
    exec: [{ namespaces: ["a"], pods: ["web"], containers: ["app"], env: { MODE: "test" } }],
  });
  assert.deepEqual(exec?.spec, {
    selector: { matchNamespaces: ["a"], matchNames: ["web"] },
    execs: [{ containers: ["app"], local: { envs: [{ name: "MODE", value: "test" }] } }],
  });
});

test("a port-forward target defaults to loopback", () => {
  const [forward] = kwokRuleObjects({ portForwards: [{ ports: [80], target: { port: 8080 } }] });
  assert.deepEqual(forward?.spec, {
    forwards: [{ ports: [80], target: { address: "127.0.0.1", port: 8080 } }],
  });
});

test("rules keep their order, which is kwok's precedence, and render as YAML documents", () => {
  const objects = kwokRuleObjects({
    logs: [{ pods: ["special"], file: "/special.log" }, { file: "/default.log" }],
    exec: [{}],
  });
  const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
  assert.deepEqual(names, ["ClusterLogs/logs-0", "ClusterLogs/logs-1", "ClusterExec/exec-0"]);
  const parsed = parseAllDocuments(renderKwokConfig(objects)).map((d) => d.toJS());
  assert.deepEqual(parsed, objects);
});
