/**
 * Fake nodes (kwok) behind the real API server, no gateway: a pod bound to
 * one becomes Running, and `kubectl logs` (-f), `exec` (-i) and
 * `port-forward` go through the API server to kwok, which answers from the
 * log file, local command and local port this test set up.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { appendCriLog } from "../../src/cluster/cri-log.ts";
import { type Kwok, startKwok } from "../../src/cluster/kwok.ts";
import { type ControlPlane, startControlPlane } from "../../src/cluster/launcher.ts";
import { KubectlStream, runKubectl, systemKubectl } from "../support/kubectl.ts";

let cluster: ControlPlane;
let kwok: Kwok;
let ns: string;
let workDir: string;
let logFile: string;
let echoServer: Server;
const pod = "app";

before(async () => {
  const started = Date.now();
  cluster = await startControlPlane({ controllerManager: false });
  ns = await cluster.createNamespace("kwok");
  workDir = await mkdtemp(join(tmpdir(), "portcullis-kwok-test-"));
  logFile = join(workDir, "app.log");
  await appendCriLog(logFile, "hello from app\nsecond line\n");
  echoServer = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((done) => echoServer.listen(0, "127.0.0.1", done));
  const echoPort = (echoServer.address() as { port: number }).port;
  kwok = await startKwok(cluster, {
    logs: [{ namespaces: [ns], file: logFile }],
    exec: [{ namespaces: [ns], workDir, env: { APP_GREETING: "hello" } }],
    portForwards: [{ namespaces: [ns], ports: [8080], target: { port: echoPort } }],
  });
  const manifest = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: pod, namespace: ns },
    // No scheduler runs: bind the pod to the fake node directly.
    spec: { nodeName: kwok.nodeNames[0], containers: [{ name: "app", image: "app:1" }] },
  };
  const created = await kubectl(["apply", "-f", "-"], { input: JSON.stringify(manifest) });
  assert.equal(created.code, 0, created.stderr);
  process.stderr.write(`control plane and kwok ready in ${Date.now() - started} ms\n`);
});

after(async () => {
  await kwok?.stop();
  await cluster?.stop();
  await new Promise((done) => echoServer?.close(done));
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function kubectl(args: string[], options: { input?: string } = {}) {
  return runKubectl(cluster.binaries.kubectl, cluster.adminKubeconfig, ["-n", ns, ...args], {
    ...options,
    timeoutMs: 30_000,
  });
}

/** A long-running kubectl (`logs -f`, `port-forward`) in the test namespace. */
function kubectlStream(args: string[]): KubectlStream {
  return new KubectlStream(cluster.binaries.kubectl, cluster.adminKubeconfig, ["-n", ns, ...args]);
}

describe("fake nodes", () => {
  test("the fake node is Ready and a pod bound to it becomes Running", async () => {
    const node = await kubectl(["get", "node", kwok.nodeNames[0] ?? "", "-o", "json"]);
    assert.equal(node.code, 0, node.stderr);
    const { status } = JSON.parse(node.stdout) as { status: NodeStatus };
    assert.ok(status.conditions.some((c) => c.type === "Ready" && c.status === "True"));
    const running = await kubectl([
      "wait",
      `pod/${pod}`,
      "--for=jsonpath={.status.phase}=Running",
      "--timeout=20s",
    ]);
    assert.equal(running.code, 0, running.stderr);
  });

  test("kubectl logs returns the container's log file", async () => {
    const logs = await kubectl(["logs", pod]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.equal(logs.stdout, "hello from app\nsecond line\n");
  });

  test("kubectl logs -f shows a line appended after it started", async () => {
    const follow = kubectlStream(["logs", "-f", pod]);
    try {
      await follow.waitFor("second line");
      await appendCriLog(logFile, "appended while following\n");
      await follow.waitFor("appended while following");
    } finally {
      follow.stop();
    }
  });

  test("kubectl exec runs the command here, in the rule's directory and environment", async () => {
    const hi = await kubectl(["exec", pod, "--", "echo", "hi"]);
    assert.equal(hi.code, 0, hi.stderr);
    assert.equal(hi.stdout, "hi\n");
    const shell = await kubectl(["exec", pod, "--", "sh", "-c", 'pwd; echo "$APP_GREETING"']);
    assert.equal(shell.code, 0, shell.stderr);
    assert.equal(shell.stdout, `${workDir}\nhello\n`);
  });

  test("kubectl exec -i echoes stdin through cat, which ends with it", async () => {
    const cat = await kubectl(["exec", "-i", pod, "--", "cat"], { input: "line one\nline two\n" });
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, "line one\nline two\n");
  });

  test("a command's non-zero exit code reaches kubectl", async () => {
    const failed = await kubectl(["exec", pod, "--", "sh", "-c", "exit 3"]);
    assert.equal(failed.code, 3);
    assert.match(failed.stderr, /command terminated with exit code 3/);
  });

  test("kubectl port-forward reaches the local TCP server", async () => {
    const forward = kubectlStream(["port-forward", `pod/${pod}`, "0:8080"]);
    try {
      await forward.waitFor("Forwarding from 127.0.0.1:");
      const localPort = Number(/127\.0\.0\.1:(\d+)/.exec(forward.stdout)?.[1]);
      assert.equal(
        await echoThrough(localPort, "ping over port-forward\n"),
        "ping over port-forward\n",
      );
    } finally {
      forward.stop();
    }
  });

  test("the machine's kubectl execs over WebSocket", { skip: !systemKubectl }, async () => {
    const machine = systemKubectl ?? "";
    const args = ["-n", ns, "-v=8", "exec", "-i", pod, "--", "cat"];
    const cat = await runKubectl(machine, cluster.adminKubeconfig, args, {
      input: "through websockets\n",
      timeoutMs: 30_000,
    });
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, "through websockets\n");
    assert.match(cat.stderr, /Sec-Websocket-Protocol: v5\.channel\.k8s\.io/);
  });

  test("stop() ends kwok and the commands it runs, and removes its node and pods", async () => {
    const pids = join(workDir, "pids");
    // $PPID of the exec'd shell is kwok itself; the sleep would outlive a careless stop.
    const script = `echo $$ $PPID > ${pids}; exec sleep 300`;
    const sleeper = kubectlStream(["exec", pod, "--", "sh", "-c", script]);
    const [sleepPid, kwokPid] = await waitForPids(pids);
    assert.ok(isRunning(sleepPid) && isRunning(kwokPid));
    await kwok.stop();
    await sleeper.exited;
    // SIGKILL is sent by the time stop() returns; allow the kernel a moment to act on it.
    await eventually(() => !isRunning(sleepPid), "the exec'd command to end");
    await eventually(() => !isRunning(kwokPid), "kwok to end");
    const node = await kubectl(["get", "node", kwok.nodeNames[0] ?? ""]);
    assert.match(node.stderr, /NotFound/);
    const pods = await kubectl(["get", "pods", "-o", "name"]);
    assert.equal(pods.stdout, "");
  });
});

interface NodeStatus {
  conditions: { type: string; status: string }[];
}

/** Sends `text` to 127.0.0.1:port and resolves with as many bytes coming back. */
function echoThrough(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(text));
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      received += chunk;
      if (received.length >= text.length) {
        socket.end();
        resolve(received);
      }
    });
    socket.on("error", reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no echo after 10s: ${received}`)));
  });
}

async function waitForPids(path: string): Promise<[number, number]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const text = await readFile(path, "utf8").catch(() => "");
    const pids = text.trim().split(" ").map(Number);
    if (pids.length === 2 && pids.every((pid) => pid > 0)) return pids as [number, number];
    if (Date.now() > deadline) throw new Error(`no pids in ${path} after 20s`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

/** Alive and not a zombie (an orphan killed here may wait a moment for init to reap it). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}
