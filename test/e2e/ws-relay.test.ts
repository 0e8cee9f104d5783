/**
 * src/sessions/ws-relay.ts in front of the real kube-apiserver and kwok:
 * a small HTTPS server relays exec upgrades through relayExecStream (and
 * proxies plain requests, which kubectl makes first to find the pod), and
 * the kubectl built for the tests execs through it.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, request, type Server } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { after, before, beforeEach, describe, test } from "node:test";
import { type Kwok, startKwok } from "../../src/cluster/kwok.ts";
import { type ControlPlane, startControlPlane } from "../../src/cluster/launcher.ts";
import { renderKubeconfig } from "../../src/kube/kubeconfig.ts";
import { writeStatusToSocket } from "../../src/server/raw-response.ts";
import { Channel } from "../../src/sessions/channel-protocol.ts";
import {
  type ExecRelayHooks,
  type ExecSession,
  relayExecStream,
} from "../../src/sessions/ws-relay.ts";
import { createCertificateAuthority, issueServingCertificate } from "../../src/tls/pki.ts";
import { runKubectl } from "../support/kubectl.ts";
import { runningPod } from "../support/kwok.ts";

let cluster: ControlPlane;
let kwok: Kwok;
let ns: string;
let workDir: string;
let relay: Server;
let kubeconfig: string;
const connections = new Set<Socket>();
const pod = "app";

/** What the next relayed session uses, and the sessions opened so far. */
let hooks: ExecRelayHooks = {};
let sessions: ExecSession[] = [];

before(async () => {
  cluster = await startControlPlane({ controllerManager: false });
  ns = await cluster.createNamespace("ws-relay");
  workDir = await mkdtemp(join(tmpdir(), "portcullis-ws-relay-"));
  kwok = await startKwok(cluster, { exec: [{ namespaces: [ns], workDir }] });
  await runningPod(cluster, kwok, ns, pod);

  const ca = await createCertificateAuthority("ws-relay test CA");
  const serving = await issueServingCertificate(ca, "ws-relay", ["127.0.0.1"]);
  relay = createServer({ cert: serving.certPem, key: serving.keyPem }, proxyPlainRequest);
  relay.on("upgrade", relayUpgrade);
  relay.on("secureConnection", (socket: Socket) => connections.add(socket));
  await new Promise<void>((done) => relay.listen(0, "127.0.0.1", done));
  const server = `https://127.0.0.1:${(relay.address() as AddressInfo).port}`;
  kubeconfig = join(workDir, "relay.kubeconfig");
  await writeFile(
    kubeconfig,
    renderKubeconfig({ name: "admin", server, caPem: ca.certPem, token: cluster.adminToken }),
  );
});

after(async () => {
  for (const socket of connections) socket.destroy();
  await new Promise((done) => relay?.close(done));
  await kwok?.stop();
  await cluster?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

beforeEach(() => {
  hooks = {};
  sessions = [];
});

function relayUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
  relayExecStream({
    req,
    socket,
    head,
    upstream: {
      url: `${cluster.server.replace(/^https/, "wss")}${req.url ?? "/"}`,
      headers: { authorization: String(req.headers.authorization ?? "") },
      ca: cluster.caPem,
    },
    hooks,
  }).then(
    (result) => {
      if (result.kind === "open") sessions.push(result.session);
    },
    (err: unknown) => writeStatusToSocket(socket, err),
  );
}

/** kubectl reads the pod before it execs; those calls go straight through. */
function proxyPlainRequest(req: IncomingMessage, res: ServerResponse): void {
  const upstream = request(`${cluster.server}${req.url ?? "/"}`, {
    method: req.method ?? "GET",
    headers: { ...req.headers, host: new URL(cluster.server).host },
    ca: cluster.caPem,
  });
  upstream.on("response", (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on("error", () => res.destroy());
  req.pipe(upstream);
}

function kubectl(args: string[], input?: string) {
  return runKubectl(cluster.binaries.kubectl, kubeconfig, ["-n", ns, ...args], {
    timeoutMs: 30_000,
    ...(input === undefined ? {} : { input }),
  });
}

describe("kubectl exec through relayExecStream", () => {
  test("kubectl exec pod -- echo hi prints hi", async () => {
    const run = await kubectl(["exec", pod, "--", "echo", "hi"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "hi\n");
    assert.equal(sessions.length, 1, "the exec went through the relay");
    assert.equal(sessions[0]?.protocol, "v5.channel.k8s.io");
    assert.equal((await sessions[0]?.closed)?.initiator, "upstream");
  });

  test("kubectl exec -i pod -- cat echoes stdin and ends when stdin does", async () => {
    const stdin: string[] = [];
    hooks = {
      onClientFrame: (channel, payload) => {
        if (channel === Channel.stdin) stdin.push(payload.toString());
        return payload;
      },
    };
    const run = await kubectl(["exec", "-i", pod, "--", "cat"], "through the relay\nline two\n");
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "through the relay\nline two\n");
    assert.equal(stdin.join(""), "through the relay\nline two\n", "the hook saw the stdin");
  });

  test("a hook that uppercases stdout shows in kubectl's output", async () => {
    hooks = {
      onServerFrame: (channel, payload) =>
        channel === Channel.stdout ? Buffer.from(payload.toString().toUpperCase()) : payload,
    };
    const run = await kubectl(["exec", pod, "--", "sh", "-c", "echo quiet; echo err >&2"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "QUIET\n");
    assert.equal(run.stderr, "err\n");
  });

  test("kill() mid-session makes kubectl exit non-zero with the reason", async () => {
    const reason = "portcullis: session ended by an operator";
    hooks = {
      onServerFrame: (channel, payload) => {
        if (channel === Channel.stdout && payload.toString().includes("started")) {
          setTimeout(() => sessions[0]?.kill(reason), 100);
        }
        return payload;
      },
    };
    const started = Date.now();
    const run = await kubectl(["exec", pod, "--", "sh", "-c", "echo started; sleep 20"]);
    process.stderr.write(
      `killed kubectl: code ${run.code}, stderr ${JSON.stringify(run.stderr)}\n`,
    );
    assert.notEqual(run.code, 0);
    assert.equal(run.stdout, "started\n");
    assert.match(run.stderr, /session ended by an operator/);
    assert.ok(Date.now() - started < 15_000, "kubectl did not wait for the command");
    assert.equal((await sessions[0]?.closed)?.initiator, "gateway");
  });
});
