/**
 * The baseline guardrails, proven with kubectl through the gateway against the
 * real control plane, including the evasions: writes are judged on the
 * object the API server would store, however the write was expressed. The
 * agent has cluster-admin in RBAC, so every refusal here is the gateway's.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type ControlPlane, startControlPlane } from "../../src/cluster/launcher.ts";
import { startTestGateway, type TestGateway } from "../support/gateway.ts";
import { rawRequest } from "../support/https.ts";
import { runKubectl } from "../support/kubectl.ts";
import { writePolicyFile } from "../support/policy.ts";

let cluster: ControlPlane;
let gw: TestGateway;
let kubeconfig: string;
let ns: string;
let prod: string;

const run = (args: string[], input?: string) =>
  runKubectl(cluster.binaries.kubectl, kubeconfig, args, input === undefined ? {} : { input });

function pod(name: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: { containers: [{ name: "app", image: "registry.example/app:1" }], ...spec },
  };
}

function deployment(name: string, podSpec: Record<string, unknown>, replicas = 1) {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: podSpec },
    },
  };
}

const plainPodSpec = { containers: [{ name: "app", image: "registry.example/app:1" }] };

function assertRefusedBy(result: { code: number; stderr: string }, rule: string): void {
  assert.notEqual(result.code, 0, `the call was refused: ${JSON.stringify(result)}`);
  assert.match(
    result.stderr,
    new RegExp(`portcullis: rule ${rule.replace("/", "\\/")}`),
    result.stderr,
  );
}

before(async () => {
  cluster = await startControlPlane();
  const policyFile = join(cluster.dataDir, "team-policy.yaml");
  await writePolicyFile(policyFile, "team", [
    "  defaultAction: allow",
    "  agents:",
    "    - name: reader-bot",
    "      allow:",
    "        - verbs: [get, list, watch]",
    "          resources: [configmaps]",
    "  rules:",
    "    - id: team/broken-condition",
    "      reason: conditions that fail at runtime refuse the call",
    "      match: { verbs: [create], resources: [configmaps] }",
    "      condition: object.metadata.name.startsWith('cel-error') && object.data.missing == 'x'",
    "      action: allow",
  ]);
  gw = await startTestGateway(cluster, { policy: { files: [policyFile] } });
  ns = await cluster.createNamespace("guarded");
  prod = await cluster.createNamespace("prod", { "portcullis.dev/tier": "production" });
  const agent = await gw.agent("guarded-agent", { namespace: ns });
  kubeconfig = agent.kubeconfig;
  const bind = await cluster.kubectl([
    "create",
    "clusterrolebinding",
    "guarded-agent-admin",
    "--clusterrole=cluster-admin",
    `--user=${agent.username}`,
  ]);
  assert.equal(bind.code, 0, bind.stderr);
});

after(async () => {
  await gw?.close();
  await cluster?.stop();
});

describe("namespaces and collections", () => {
  test("kubectl delete ns NAME is refused, and the namespace stays", async () => {
    const victim = await cluster.createNamespace("victim");
    assertRefusedBy(await run(["delete", "namespace", victim]), "baseline/no-namespace-delete");
    assert.equal((await cluster.kubectl(["get", "namespace", victim])).code, 0);
  });

  test("kubectl delete ns --all is refused for every namespace", async () => {
    const result = await run(["delete", "namespace", "--all", "--wait=false"]);
    assertRefusedBy(result, "baseline/no-namespace-delete");
    assert.equal((await cluster.kubectl(["get", "namespace", ns])).code, 0);
  });

  test("deletecollection is refused for agents", async () => {
    await cluster.kubectl(["create", "configmap", "keep-me", "-n", ns]);
    // DELETE on the collection itself: what `kubectl delete --raw` sends.
    const result = await run(["delete", "--raw", `/api/v1/namespaces/${ns}/configmaps`]);
    assertRefusedBy(result, "baseline/no-deletecollection");
    assert.equal((await cluster.kubectl(["get", "configmap", "keep-me", "-n", ns])).code, 0);
  });
});

describe("privileged workloads, however expressed", () => {
  test("a plain pod is allowed", async () => {
    const result = await run(["apply", "-f", "-"], JSON.stringify(pod("plain")));
    assert.equal(result.code, 0, result.stderr);
  });

  test("a privileged pod is refused", async () => {
    const result = await run(
      ["create", "-f", "-"],
      JSON.stringify(
        pod("priv", {
          containers: [{ name: "app", image: "x", securityContext: { privileged: true } }],
        }),
      ),
    );
    assertRefusedBy(result, "baseline/no-privileged-pods");
  });

  test("a JSON patch that sets privileged: true is refused", async () => {
    await run(["apply", "-f", "-"], JSON.stringify(deployment("jsonpatched", plainPodSpec)));
    const result = await run([
      "patch",
      "deployment",
      "jsonpatched",
      "--type=json",
      "-p",
      '[{"op":"add","path":"/spec/template/spec/containers/0/securityContext","value":{"privileged":true}}]',
    ]);
    assertRefusedBy(result, "baseline/no-privileged-pods");
    const current = await cluster.kubectl([
      "get",
      "deployment",
      "jsonpatched",
      "-n",
      ns,
      "-o",
      "json",
    ]);
    assert.doesNotMatch(current.stdout, /"privileged": true/);
  });

  test("a strategic merge patch that adds a hostPath volume is refused", async () => {
    await run(["apply", "-f", "-"], JSON.stringify(deployment("smp", plainPodSpec)));
    const result = await run([
      "patch",
      "deployment",
      "smp",
      "-p",
      '{"spec":{"template":{"spec":{"volumes":[{"name":"host","hostPath":{"path":"/"}}]}}}}',
    ]);
    assertRefusedBy(result, "baseline/no-privileged-pods");
  });

  test("a server-side apply of a privileged pod is refused", async () => {
    const result = await run(
      ["apply", "--server-side", "-f", "-"],
      JSON.stringify(pod("ssa-priv", { hostNetwork: true })),
    );
    assertRefusedBy(result, "baseline/no-privileged-pods");
  });

  test("a Deployment whose pod template is privileged is refused", async () => {
    const result = await run(
      ["create", "-f", "-"],
      JSON.stringify(
        deployment("priv-template", {
          containers: [{ name: "app", image: "x", securityContext: { privileged: true } }],
        }),
      ),
    );
    assertRefusedBy(result, "baseline/no-privileged-pods");
  });

  test("added capabilities beyond the safe set are refused; NET_BIND_SERVICE is not", async () => {
    const withCaps = (name: string, add: string[]) =>
      pod(name, {
        containers: [{ name: "app", image: "x", securityContext: { capabilities: { add } } }],
      });
    assertRefusedBy(
      await run(["create", "-f", "-"], JSON.stringify(withCaps("sysadmin", ["SYS_ADMIN"]))),
      "baseline/no-privileged-pods",
    );
    const ok = await run(
      ["create", "-f", "-"],
      JSON.stringify(withCaps("bind", ["NET_BIND_SERVICE"])),
    );
    assert.equal(ok.code, 0, ok.stderr);
  });
});

/**
 * Waits for the call to be held for approval under `rule`, denies it, and
 * returns kubectl's result: the refusal names the rule and the approval.
 */
async function heldThenDenied(args: string[], rule: string) {
  const approver = await gw.agent(`approver-${Math.random().toString(16).slice(2, 8)}`, {
    groups: ["portcullis:approvers"],
  });
  const api = (method: string, path: string, body?: unknown) =>
    rawRequest(gw.url, gw.caPem, {
      method,
      path: `/portcullis/v1/${path}`,
      headers: { authorization: `Bearer ${approver.token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const call = run(args);
  const deadline = Date.now() + 20_000;
  let id: string | undefined;
  while (id === undefined) {
    const list = await api("GET", "approvals?state=pending");
    const items = (JSON.parse(list.body) as { items: Array<{ id: string; rule: { id: string } }> })
      .items;
    id = items.find((a) => a.rule.id === rule)?.id;
    assert.ok(id !== undefined || Date.now() < deadline, `no approval held under ${rule}`);
    if (id === undefined) await new Promise((r) => setTimeout(r, 100));
  }
  const denied = await api("POST", `approvals/${id}/deny`, { reason: "not in this test" });
  assert.equal(denied.status, 200, denied.body);
  const result = await call;
  assert.notEqual(result.code, 0);
  assert.match(
    result.stderr,
    new RegExp(`portcullis: rule ${rule.replace("/", "\\/")}: approval ${id} was denied`),
  );
  return result;
}

describe("production", () => {
  test("kubectl scale --replicas=0 in a production namespace needs approval; elsewhere it is allowed", async () => {
    await cluster.kubectl(["apply", "-n", prod, "-f", "-"], {
      input: JSON.stringify(deployment("web", plainPodSpec, 2)),
    });
    await heldThenDenied(
      ["scale", "deployment", "web", "-n", prod, "--replicas=0"],
      "baseline/approve-production-scale-to-zero",
    );
    await run(["apply", "-f", "-"], JSON.stringify(deployment("web", plainPodSpec, 2)));
    const elsewhere = await run(["scale", "deployment", "web", "--replicas=0"]);
    assert.equal(elsewhere.code, 0, elsewhere.stderr);
  });

  test("deleting a Deployment in production needs approval", async () => {
    await heldThenDenied(
      ["delete", "deployment", "web", "-n", prod],
      "baseline/approve-production-deletes",
    );
    assert.equal((await cluster.kubectl(["get", "deployment", "web", "-n", prod])).code, 0);
  });
});

describe("RBAC-like rules the API server cannot express", () => {
  test("changing RBAC is refused even for a cluster-admin agent", async () => {
    const result = await run([
      "create",
      "clusterrolebinding",
      "escalate",
      "--clusterrole=cluster-admin",
      "--user=mallory",
    ]);
    assertRefusedBy(result, "baseline/no-rbac-changes");
  });

  test("an agent named in an allow-list may do only what it lists", async () => {
    const reader = await gw.agent("reader-bot", { namespace: ns });
    await cluster.kubectl([
      "create",
      "clusterrolebinding",
      "reader-bot-admin",
      "--clusterrole=cluster-admin",
      `--user=${reader.username}`,
    ]);
    const read = await runKubectl(cluster.binaries.kubectl, reader.kubeconfig, [
      "get",
      "configmaps",
    ]);
    assert.equal(read.code, 0, read.stderr);
    const write = await runKubectl(cluster.binaries.kubectl, reader.kubeconfig, [
      "create",
      "configmap",
      "nope",
    ]);
    assertRefusedBy(write, "agents/reader-bot");
  });

  test("a condition that fails at runtime refuses the call and says why", async () => {
    const result = await run(["create", "configmap", "cel-error-1", "--from-literal=a=b"]);
    assertRefusedBy(result, "team/broken-condition");
  });
});

describe("the rest of the baseline", () => {
  test("changing admission control is refused", async () => {
    const webhook = {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      metadata: { name: "sneaky" },
      webhooks: [],
    };
    assertRefusedBy(
      await run(["create", "-f", "-"], JSON.stringify(webhook)),
      "baseline/no-admission-changes",
    );
  });

  test("changing CustomResourceDefinitions is refused", async () => {
    const crd = {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "widgets.example.com" },
      spec: {
        group: "example.com",
        names: { plural: "widgets", singular: "widget", kind: "Widget" },
        scope: "Namespaced",
        versions: [
          {
            name: "v1",
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: "object" } },
          },
        ],
      },
    };
    assertRefusedBy(
      await run(["create", "-f", "-"], JSON.stringify(crd)),
      "baseline/no-crd-changes",
    );
  });

  test("changing nodes is refused", async () => {
    const node = { apiVersion: "v1", kind: "Node", metadata: { name: "guarded-node" } };
    const made = await cluster.kubectl(["apply", "-f", "-"], { input: JSON.stringify(node) });
    assert.equal(made.code, 0, made.stderr);
    assertRefusedBy(
      await run(["label", "node", "guarded-node", "pwned=true"]),
      "baseline/no-node-changes",
    );
    // kubectl cordon reports the refusal but exits 0; the node must stay schedulable.
    const cordon = await run(["cordon", "guarded-node"]);
    assert.match(cordon.stderr, /portcullis: rule baseline\/no-node-changes/);
    const after = await cluster.kubectl([
      "get",
      "node",
      "guarded-node",
      "-o",
      "jsonpath={.spec.unschedulable}",
    ]);
    assert.notEqual(after.stdout, "true");
    const labels = await cluster.kubectl([
      "get",
      "node",
      "guarded-node",
      "-o",
      "jsonpath={.metadata.labels.pwned}",
    ]);
    assert.equal(labels.stdout, "");
  });

  test("the API server's proxy is refused for agents", async () => {
    const result = await run([
      "get",
      "--raw",
      `/api/v1/namespaces/${ns}/services/anything:80/proxy/`,
    ]);
    assertRefusedBy(result, "baseline/no-proxy");
  });

  test("exec is refused unless the agent's allow-list names it", async () => {
    const target = pod("exec-target");
    await cluster.kubectl(["apply", "-n", ns, "-f", "-"], { input: JSON.stringify(target) });
    const result = await run(["exec", "exec-target", "--", "true"]);
    assertRefusedBy(result, "baseline/no-exec-by-default");
  });

  test("adding an ephemeral debug container is refused", async () => {
    await cluster.kubectl(["apply", "-n", ns, "-f", "-"], {
      input: JSON.stringify(pod("debug-target")),
    });
    const result = await run(["debug", "debug-target", "--image=busybox", "--", "true"]);
    assertRefusedBy(result, "baseline/no-ephemeral-containers");
  });

  test("reading Secrets goes through the secrets masking profile: values never reach the agent", async () => {
    await cluster.kubectl(["create", "secret", "generic", "s1", "-n", ns, "--from-literal=a=b"]);
    const result = await run(["get", "secret", "s1", "-o", "json"]);
    assert.equal(result.code, 0, result.stderr);
    const secret = JSON.parse(result.stdout) as { data: Record<string, string> };
    assert.equal(Buffer.from(secret.data.a ?? "", "base64").toString(), "[secret-data]");
  });
});

describe("the audit log records each decision", () => {
  test("a refusal is recorded with its rule and a 403 completion", async () => {
    const rows = await gw.audit.store.search({ decision: "deny" });
    const rules = rows.map(
      (r) => (JSON.parse(r.body) as { decision: { rule: string } }).decision.rule,
    );
    assert.ok(rules.includes("baseline/no-namespace-delete"), rules.join(","));
    assert.ok(rules.includes("baseline/no-privileged-pods"));
  });
});
