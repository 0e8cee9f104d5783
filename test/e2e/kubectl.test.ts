/**
 * Real kubectl (ours, v1.37, and the machine's own) through a real gateway to
 * a real API server: reads, writes, watches, applies, and the identity the
 * API server sees.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type ControlPlane, startControlPlane } from "../../src/cluster/launcher.ts";
import { bindRole, startTestGateway, type TestGateway } from "../support/gateway.ts";
import { KubectlStream, runKubectl, systemKubectl } from "../support/kubectl.ts";

let cluster: ControlPlane;
let gw: TestGateway;

before(async () => {
  cluster = await startControlPlane();
  gw = await startTestGateway(cluster);
});

after(async () => {
  await gw?.close();
  await cluster?.stop();
});

const kubectls = (): Array<[string, string]> => {
  const list: Array<[string, string]> = [["built kubectl v1.37", cluster.binaries.kubectl]];
  if (systemKubectl) list.push([`machine kubectl (${systemKubectl})`, systemKubectl]);
  return list;
};

describe("kubectl through the gateway", () => {
  for (const [label, index] of [
    ["built kubectl v1.37", 0],
    ["machine kubectl", 1],
  ] as const) {
    describe(label, () => {
      let kubectl: string;
      let kubeconfig: string;
      let username: string;
      let ns: string;
      const run = (args: string[], input?: string) =>
        runKubectl(kubectl, kubeconfig, args, input === undefined ? {} : { input });

      before(async () => {
        const binary = kubectls()[index]?.[1];
        if (!binary) return;
        kubectl = binary;
        ns = await cluster.createNamespace(`kubectl-${index}`);
        const agent = await gw.agent(`kubectl-agent-${index}`, { namespace: ns });
        kubeconfig = agent.kubeconfig;
        username = agent.username;
        await bindRole(cluster, username, "edit", ns);
      });

      test("auth whoami reports the agent's impersonated identity", async (t) => {
        if (!kubectl) return t.skip("no kubectl");
        const result = await run(["auth", "whoami", "-o", "json"]);
        assert.equal(result.code, 0, result.stderr);
        const review = JSON.parse(result.stdout) as {
          status: { userInfo: { username: string; groups: string[] } };
        };
        assert.equal(review.status.userInfo.username, username);
        assert.ok(review.status.userInfo.groups.includes("portcullis:agents"));
        assert.ok(!review.status.userInfo.groups.includes("system:masters"));
      });

      test("create, get, list, patch, delete a ConfigMap", async (t) => {
        if (!kubectl) return t.skip("no kubectl");
        let r = await run(["create", "configmap", "alpha", "--from-literal=k=v1"]);
        assert.equal(r.code, 0, r.stderr);
        r = await run(["get", "configmap", "alpha", "-o", "jsonpath={.data.k}"]);
        assert.equal(r.stdout, "v1", r.stderr);
        r = await run(["get", "configmaps"]);
        assert.match(r.stdout, /^alpha\s+1\s+/m, r.stderr);
        r = await run(["patch", "configmap", "alpha", "--type=merge", "-p", '{"data":{"k":"v2"}}']);
        assert.equal(r.code, 0, r.stderr);
        r = await run([
          "patch",
          "configmap",
          "alpha",
          "--type=json",
          "-p",
          '[{"op":"add","path":"/data/j","value":"x"}]',
        ]);
        assert.equal(r.code, 0, r.stderr);
        r = await run(["get", "configmap", "alpha", "-o", "json"]);
        assert.deepEqual(JSON.parse(r.stdout).data, { k: "v2", j: "x" });
        r = await run(["delete", "configmap", "alpha"]);
        assert.equal(r.code, 0, r.stderr);
        r = await run(["get", "configmap", "alpha"]);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /NotFound|not found/);
      });

      test("apply client-side and server-side", async (t) => {
        if (!kubectl) return t.skip("no kubectl");
        const manifest = (value: string) =>
          JSON.stringify({
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: "applied" },
            data: { value },
          });
        let r = await run(["apply", "-f", "-"], manifest("one"));
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /configmap\/applied created/);
        r = await run(["apply", "-f", "-"], manifest("two"));
        assert.match(r.stdout, /configmap\/applied configured/, r.stderr);
        r = await run(
          ["apply", "--server-side", "--force-conflicts", "-f", "-"],
          manifest("three"),
        );
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /serverside-applied/);
        r = await run(["get", "configmap", "applied", "-o", "json", "--show-managed-fields"]);
        const cm = JSON.parse(r.stdout) as {
          data: { value: string };
          metadata: { managedFields: Array<{ manager: string; operation: string }> };
        };
        assert.equal(cm.data.value, "three");
        assert.ok(
          cm.metadata.managedFields.some((f) => f.operation === "Apply" && f.manager === "kubectl"),
        );
      });

      test("get -w receives events while the watch stays open", async (t) => {
        if (!kubectl) return t.skip("no kubectl");
        const watch = new KubectlStream(kubectl, kubeconfig, [
          "get",
          "configmaps",
          "-w",
          "-o",
          "name",
        ]);
        try {
          await watch.waitFor("configmap/kube-root-ca.crt");
          for (const name of ["watched-1", "watched-2"]) {
            const r = await cluster.kubectl(["create", "configmap", name, "-n", ns]);
            assert.equal(r.code, 0, r.stderr);
            await watch.waitFor(`configmap/${name}`);
          }
          assert.equal(watch.child.exitCode, null, "the watch is still open");
        } finally {
          watch.stop();
          await watch.exited;
        }
      });
    });
  }
});

describe("RBAC per agent, enforced by the API server", () => {
  test("an agent bound to view in one namespace can read there, and nothing else", async () => {
    const home = await cluster.createNamespace("rbac-home");
    const other = await cluster.createNamespace("rbac-other");
    await cluster.kubectl(["create", "configmap", "seen", "-n", home]);
    const agent = await gw.agent("viewer");
    await bindRole(cluster, agent.username, "view", home);
    const run = (args: string[]) => runKubectl(cluster.binaries.kubectl, agent.kubeconfig, args);

    const read = await run(["get", "configmap", "seen", "-n", home, "-o", "name"]);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout.trim(), "configmap/seen");

    const write = await run(["create", "configmap", "nope", "-n", home]);
    assert.notEqual(write.code, 0);
    assert.match(write.stderr, /forbidden/i);
    assert.match(
      write.stderr,
      new RegExp(`User "${agent.username}" cannot create resource "configmaps"`),
    );

    const elsewhere = await run(["get", "configmaps", "-n", other]);
    assert.notEqual(elsewhere.code, 0);
    assert.match(
      elsewhere.stderr,
      new RegExp(`User "${agent.username}" cannot list resource "configmaps"`),
    );

    const secrets = await run(["get", "secrets", "-n", home]);
    assert.notEqual(secrets.code, 0, "view does not include secrets");
  });
});
