/**
 * The real control plane the other e2e tests stand on: it starts, reports the
 * pinned version, gives the gateway identity impersonation and nothing else,
 * and runs the controllers that make deleted namespaces go away.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type ControlPlane, startControlPlane } from "../../src/cluster/launcher.ts";

describe("test control plane", () => {
  let cluster: ControlPlane;

  before(async () => {
    const started = Date.now();
    cluster = await startControlPlane();
    process.stderr.write(`control plane started in ${Date.now() - started} ms\n`);
  });

  after(async () => {
    await cluster?.stop();
  });

  test("the admin sees a ready apiserver", async () => {
    const result = await cluster.kubectl(["get", "--raw", "/readyz"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), "ok");
  });

  test("the server reports Kubernetes v1.37.2", async () => {
    const result = await cluster.kubectl(["version", "-o", "json"]);
    assert.equal(result.code, 0, result.stderr);
    const version = JSON.parse(result.stdout) as { serverVersion: { gitVersion: string } };
    assert.equal(version.serverVersion.gitVersion, "v1.37.2");
  });

  test("the gateway identity can impersonate a user", async () => {
    const result = await cluster.kubectl(["--as=alice", "auth", "whoami", "-o", "json"], {
      kubeconfig: cluster.gatewayKubeconfig,
    });
    assert.equal(result.code, 0, result.stderr);
    const review = JSON.parse(result.stdout) as { status: { userInfo: { username: string } } };
    assert.equal(review.status.userInfo.username, "alice");
  });

  test("the gateway identity can impersonate groups, uids and extras", async () => {
    const args = [
      "--as=alice",
      "--as-group=team-a",
      "--as-uid=alice-1",
      "--as-user-extra=scopes=read",
    ];
    const result = await cluster.kubectl([...args, "auth", "whoami", "-o", "json"], {
      kubeconfig: cluster.gatewayKubeconfig,
    });
    assert.equal(result.code, 0, result.stderr);
    const { userInfo } = (JSON.parse(result.stdout) as { status: { userInfo: UserInfo } }).status;
    assert.equal(userInfo.uid, "alice-1");
    assert.ok(userInfo.groups.includes("team-a"));
    assert.deepEqual(userInfo.extra?.scopes, ["read"]);
  });

  test("the gateway identity cannot list secrets as itself", async () => {
    const result = await cluster.kubectl(["get", "secrets", "-A"], {
      kubeconfig: cluster.gatewayKubeconfig,
    });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /Forbidden/);
    assert.match(result.stderr, /portcullis-gateway/);
  });

  test("a deleted namespace really goes away", async () => {
    const namespace = await cluster.createNamespace("cluster-test", { purpose: "e2e" });
    const created = await cluster.kubectl(["get", "namespace", namespace, "-o", "json"]);
    assert.equal(created.code, 0, created.stderr);
    const deleted = await cluster.kubectl(["delete", "namespace", namespace, "--timeout=60s"]);
    assert.equal(deleted.code, 0, deleted.stderr);
    const gone = await cluster.kubectl(["get", "namespace", namespace]);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /NotFound/);
  });
});

interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}
