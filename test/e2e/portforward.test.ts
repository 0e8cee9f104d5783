/**
 * kubectl port-forward through the gateway, against kwok fake nodes whose
 * pod ports lead to local echo servers: it works to a pod and port a rule
 * names, over every transport kubectl and client libraries use (SPDY
 * tunnelled in WebSocket, plain SPDY, channel-framed WebSocket); it is
 * refused for a pod or port no rule names; each connection's port and byte
 * counts are in the call's completion record, never its content.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";
import type { CompletionRecord, StreamSummary } from "../../src/audit/record.ts";
import { type Kwok, startKwok } from "../../src/cluster/kwok.ts";
import { type ControlPlane, startControlPlane } from "../../src/cluster/launcher.ts";
import {
  bindRole,
  completionsWhen,
  startTestGateway,
  type TestGateway,
} from "../support/gateway.ts";
import { KubectlStream, systemKubectl } from "../support/kubectl.ts";
import { runningPod } from "../support/kwok.ts";
import { writePolicyFile } from "../support/policy.ts";

let cluster: ControlPlane;
let kwok: Kwok;
let gw: TestGateway;
let ns: string;
let workDir: string;
let kubeconfig: string;
let agentToken: string;
const servers: Server[] = [];

/** A local TCP echo server standing in for a pod port; answers with a prefix naming it. */
async function echoServer(name: string): Promise<number> {
  const server = createServer((socket) => {
    socket.on("data", (chunk: Buffer) => socket.write(`${name}:${chunk.toString()}`));
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return (server.address() as { port: number }).port;
}

before(async () => {
  cluster = await startControlPlane({ controllerManager: false });
  ns = await cluster.createNamespace("tunnels");
  workDir = await mkdtemp(join(tmpdir(), "portcullis-portforward-"));
  const http = await echoServer("http");
  const admin = await echoServer("admin");
  kwok = await startKwok(cluster, {
    portForwards: [
      { namespaces: [ns], ports: [8080], target: { port: http } },
      { namespaces: [ns], ports: [9090], target: { port: admin } },
    ],
  });
  await runningPod(cluster, kwok, ns, "web");
  await runningPod(cluster, kwok, ns, "db");
  const policyFile = join(workDir, "policy.yaml");
  await writePolicyFile(policyFile, "team", [
    "  defaultAction: allow",
    "  agents:",
    "    - name: tunnel",
    "      allow:",
    "        - { verbs: [get, list, create], resources: [pods, pods/portforward] }",
    "  rules:",
    "    - id: team/web-http",
    "      reason: the web pod's HTTP port, for checks",
    "      match: { resources: [pods/portforward], names: [web], ports: [8080] }",
    "      action: allow",
  ]);
  gw = await startTestGateway(cluster, { policy: { files: [policyFile] } });
  const agent = await gw.agent("tunnel");
  kubeconfig = agent.kubeconfig;
  agentToken = agent.token;
  await bindRole(cluster, agent.username, "cluster-admin");
});

after(async () => {
  await gw?.close();
  await kwok?.stop();
  await cluster?.stop();
  for (const server of servers) await new Promise((done) => server.close(done));
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** The completion records of port-forward calls, once `ready` holds (they follow the stream's close). */
async function portForwardsWhen(
  ready: (records: CompletionRecord[]) => boolean,
): Promise<CompletionRecord[]> {
  const forwards = (all: CompletionRecord[]) =>
    all.filter((r) => r.stream?.connections !== undefined);
  return forwards(await completionsWhen(gw, (all) => ready(forwards(all))));
}

/** Sends `text` to a local port and reads until the reply is as long as `expected`, or the peer closes. */
function talk(port: number, text: string, expectedLength: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(text));
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      received += chunk;
      if (received.length >= expectedLength) {
        socket.destroy();
        resolve(received);
      }
    });
    // A connection the gateway refused is closed or reset with nothing said.
    socket.on("close", () => resolve(received));
    socket.on("error", (err) =>
      (err as NodeJS.ErrnoException).code === "ECONNRESET" ? resolve(received) : reject(err),
    );
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer after 10s: ${received}`)));
  });
}

function portForward(
  pod: string,
  remotePort: number,
  binary = cluster.binaries.kubectl,
  env?: NodeJS.ProcessEnv,
) {
  return new KubectlStream(
    binary,
    kubeconfig,
    ["-n", ns, "port-forward", `pod/${pod}`, `0:${remotePort}`],
    env,
  );
}

function localPortOf(forward: KubectlStream): number {
  return Number(/127\.0\.0\.1:(\d+)/.exec(forward.stdout)?.[1]);
}

describe("port-forward through the gateway", () => {
  test("kubectl reaches a pod and port a rule names; connections and bytes are on record", async () => {
    const forward = portForward("web", 8080);
    let localPort: number;
    try {
      await forward.waitFor("Forwarding from 127.0.0.1:");
      localPort = localPortOf(forward);
      assert.equal(await talk(localPort, "first\n", 11), "http:first\n");
      assert.equal(await talk(localPort, "second!\n", 13), "http:second!\n");
    } finally {
      forward.stop();
    }
    await forward.exited;
    const [record] = await portForwardsWhen((r) => r.some((c) => c.stream?.connectionCount === 2));
    assert.ok(record, "a completion record with the port-forward's connections");
    const stream = record.stream as StreamSummary;
    assert.equal(stream.protocol, "SPDY/3.1+portforward.k8s.io");
    assert.deepEqual(
      stream.connections?.map((c) => [c.port, c.bytesFromClient, c.bytesFromServer]),
      [
        [8080, 6, 11],
        [8080, 8, 13],
      ],
    );
    assert.equal(stream.bytesFromClient, 14);
    assert.equal(stream.bytesFromServer, 24);
    // Counts, never content.
    assert.doesNotMatch(JSON.stringify(record), /first|second/);
  });

  test("a pod no rule names is refused when the call is made", async () => {
    const forward = portForward("db", 8080);
    const code = await forward.exited;
    assert.notEqual(code, 0);
    assert.match(forward.stderr, /baseline\/port-forward-named-ports/, forward.stderr);
    assert.doesNotMatch(forward.stdout, /Forwarding from/);
  });

  test("a port no rule names is refused when its connection opens, and the port-forward ends", async () => {
    const before = (await portForwardsWhen(() => true)).length;
    const forward = portForward("web", 9090);
    try {
      await forward.waitFor("Forwarding from 127.0.0.1:");
      const reply = await talk(localPortOf(forward), "let me in\n", 16);
      assert.equal(reply, "", "nothing from the admin port comes back");
      assert.notEqual(await forward.exited, 0, "kubectl ends once its tunnel is closed");
    } finally {
      forward.stop();
    }
    // kubectl prints the rule's reason (client-go reads it from the error stream).
    assert.match(
      forward.stderr,
      /An error occurred forwarding.*port-forward-named-ports/,
      forward.stderr,
    );
    const records = await portForwardsWhen((r) => r.length > before);
    const refused = records.at(-1);
    assert.match(refused?.sessionEnded ?? "", /port 9090 of pod .*\/web/);
    assert.deepEqual(
      refused?.stream?.connections?.map((c) => [c.port, c.bytesFromClient, Boolean(c.refused)]),
      [[9090, 0, true]],
    );
  });

  test("plain SPDY (no WebSocket tunnel) works and is recorded the same way", async () => {
    const before = (await portForwardsWhen(() => true)).length;
    const forward = portForward("web", 8080, cluster.binaries.kubectl, {
      ...process.env,
      KUBECTL_PORT_FORWARD_WEBSOCKETS: "false",
    });
    try {
      await forward.waitFor("Forwarding from 127.0.0.1:");
      assert.equal(await talk(localPortOf(forward), "spdy\n", 10), "http:spdy\n");
    } finally {
      forward.stop();
    }
    await forward.exited;
    const records = await portForwardsWhen((r) => r.length > before);
    const stream = records.at(-1)?.stream;
    assert.equal(stream?.protocol, "SPDY/3.1 portforward.k8s.io");
    assert.deepEqual(
      stream?.connections?.map((c) => [c.port, c.bytesFromClient, c.bytesFromServer]),
      [[8080, 5, 10]],
    );
  });

  test("the machine's kubectl port-forwards through the gateway", {
    skip: !systemKubectl,
  }, async () => {
    const forward = portForward("web", 8080, systemKubectl ?? "");
    try {
      await forward.waitFor("Forwarding from 127.0.0.1:");
      assert.equal(await talk(localPortOf(forward), "old\n", 9), "http:old\n");
    } finally {
      forward.stop();
    }
  });

  test("channel-framed WebSocket port-forward (client libraries): ports judged with the call", async () => {
    const url = (ports: string) =>
      `${gw.url.replace(/^https/, "wss")}/api/v1/namespaces/${ns}/pods/web/portforward?ports=${ports}`;
    const open = (ports: string) =>
      new WebSocket(url(ports), ["v4.channel.k8s.io"], {
        headers: { authorization: `Bearer ${agentToken}` },
        ca: gw.caPem,
      });
    // 8080 is named: data on channel 0 comes back from the pod's port.
    const socket = open("8080");
    const echoed = await new Promise<string>((resolve, reject) => {
      let opened = 0;
      socket.on("message", (data: Buffer) => {
        const channel = data[0];
        const payload = data.subarray(1);
        if (channel === 0 && opened < 2) {
          opened++;
          if (payload.length > 2) resolve(payload.subarray(2).toString());
          return;
        }
        if (channel === 1) {
          opened++;
          if (opened === 2) socket.send(Buffer.concat([Buffer.from([0]), Buffer.from("ws\n")]));
          return;
        }
        if (channel === 0) resolve(payload.toString());
      });
      socket.on("error", reject);
    });
    socket.close();
    assert.equal(echoed, "http:ws\n");
    // 9090 is not: the upgrade is answered with the rule's refusal.
    const refused = open("8080,9090");
    const status = await new Promise<number>((resolve) => {
      refused.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      refused.on("open", () => resolve(101));
      refused.on("error", () => {});
    });
    assert.equal(status, 403);
  });
});
