/** A pod bound to a kwok fake node, waited for until it is Running. */
import assert from "node:assert/strict";
import type { Kwok } from "../../src/cluster/kwok.ts";
import type { ControlPlane } from "../../src/cluster/launcher.ts";

export async function runningPod(
  cluster: ControlPlane,
  kwok: Kwok,
  ns: string,
  name: string,
): Promise<void> {
  const manifest = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns },
    // No scheduler runs: the pod is bound to the fake node directly.
    spec: { nodeName: kwok.nodeNames[0], containers: [{ name: "app", image: "app:1" }] },
  };
  const created = await cluster.kubectl(["apply", "-f", "-"], {
    input: JSON.stringify(manifest),
  });
  assert.equal(created.code, 0, created.stderr);
  const running = await cluster.kubectl([
    ...["-n", ns, "wait", `pod/${name}`],
    ...["--for=jsonpath={.status.phase}=Running", "--timeout=20s"],
  ]);
  assert.equal(running.code, 0, running.stderr);
}
