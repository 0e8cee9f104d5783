/**
 * The channel protocol of src/sessions against the real kube-apiserver, no
 * gateway: a WebSocket client execs in a pod on a fake node (kwok runs the
 * command here) and every frame the apiserver sends is decoded with
 * src/sessions/channel-protocol.ts. v5 requests are terminated by the
 * apiserver itself (its stream translator); v4 ones are proxied to the
 * kubelet, here kwok, so both server implementations are exercised.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";
import { type Kwok, startKwok } from "../../src/cluster/kwok.ts";
import { type ControlPlane, startControlPlane } from "../../src/cluster/launcher.ts";
import { encodeResize, parseErrorChannel } from "../../src/sessions/channel-payloads.ts";
import {
  Channel,
  decodeFrame,
  encodeClose,
  encodeFrame,
  type Frame,
  negotiate,
  type Protocol,
} from "../../src/sessions/channel-protocol.ts";
import {
  negotiatePortForward,
  type PortForwardFrame,
  PortForwardServerReader,
  portChannels,
  spdyTunnelProtocol,
} from "../../src/sessions/portforward-protocol.ts";
import { runningPod } from "../support/kwok.ts";

let cluster: ControlPlane;
let kwok: Kwok;
let ns: string;
let workDir: string;
let echoServer: Server;
const pod = "app";

before(async () => {
  cluster = await startControlPlane({ controllerManager: false });
  ns = await cluster.createNamespace("streams");
  workDir = await mkdtemp(join(tmpdir(), "portcullis-stream-protocol-"));
  echoServer = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((done) => echoServer.listen(0, "127.0.0.1", done));
  const echoPort = (echoServer.address() as { port: number }).port;
  kwok = await startKwok(cluster, {
    exec: [{ namespaces: [ns], workDir }],
    portForwards: [{ namespaces: [ns], ports: [8080], target: { port: echoPort } }],
  });
  await runningPod(cluster, kwok, ns, pod);
});

after(async () => {
  await kwok?.stop();
  await cluster?.stop();
  await new Promise((done) => echoServer?.close(done));
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

interface Session {
  protocol: string;
  frames: Frame[];
  closeCode: number;
  channelText(channel: number): string;
}

/**
 * Execs `sh -c script` over a WebSocket offering `offered`; `onOpen` gets
 * the socket and the negotiated protocol. Resolves when the apiserver closes.
 */
function exec(
  script: string,
  offered: Protocol[],
  onOpen: (socket: WebSocket, protocol: Protocol) => void,
): Promise<Session> {
  const query = new URLSearchParams([
    ...["sh", "-c", script].map((arg): [string, string] => ["command", arg]),
    ["stdin", "true"],
    ["stdout", "true"],
    ["stderr", "true"],
  ]);
  const url = `${cluster.server.replace(/^https/, "wss")}/api/v1/namespaces/${ns}/pods/${pod}/exec?${query}`;
  const socket = new WebSocket(url, offered, {
    ca: cluster.caPem,
    headers: { Authorization: `Bearer ${cluster.adminToken}` },
  });
  const frames: Frame[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no close after 20s; frames: ${JSON.stringify(frames)}`));
    }, 20_000);
    socket.on("open", () => onOpen(socket, socket.protocol as Protocol));
    socket.on("message", (data, isBinary) => {
      const frame = decodeFrame(socket.protocol as Protocol, data as Buffer, isBinary);
      if (frame) frames.push(frame);
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", (closeCode) => {
      clearTimeout(timer);
      resolve({
        protocol: socket.protocol,
        frames,
        closeCode,
        channelText: (channel) =>
          Buffer.concat(
            frames.filter((f) => f.channel === channel).map((f) => f.payload),
          ).toString(),
      });
    });
  });
}

function send(socket: WebSocket, protocol: Protocol, channel: number, payload: Buffer | string) {
  socket.send(encodeFrame(protocol, channel, payload));
}

describe("the remote-command channel protocol against kube-apiserver", () => {
  test("v5: stdin and a close frame reach the command, a resize is taken; exit 0 is Success", async () => {
    // cat only ends when stdin is closed, which v5 alone can say without closing the socket.
    const script = 'read first; echo "out:$first"; echo "err:$first" >&2; cat; exit 0';
    const session = await exec(script, ["v5.channel.k8s.io", "v4.channel.k8s.io"], (ws, p) => {
      send(ws, p, Channel.stdin, "hello\n");
      send(ws, p, Channel.resize, encodeResize({ width: 120, height: 40 }));
      send(ws, p, Channel.stdin, "rest of stdin\n");
      ws.send(encodeClose(p, Channel.stdin));
    });
    assert.equal(session.protocol, "v5.channel.k8s.io");
    assert.equal(session.channelText(Channel.stdout), "out:hello\nrest of stdin\n");
    assert.equal(session.channelText(Channel.stderr), "err:hello\n");
    const errors = session.frames.filter((f) => f.channel === Channel.error);
    assert.equal(errors.length, 1, "one Status on the error channel");
    assert.deepEqual(parseErrorChannel(errors[0]?.payload ?? Buffer.alloc(0)), {
      status: "Success",
      exitCode: 0,
    });
    assert.ok(
      !session.frames.some((f) => f.channel === Channel.close),
      "the server sends no close frames",
    );
    process.stderr.write(
      `v5 frames: ${describeFrames(session.frames)}; close ${session.closeCode}\n`,
    );
  });

  test("v5: a non-zero exit arrives as NonZeroExitCode with the code", async () => {
    const session = await exec("echo bye >&2; exit 3", ["v5.channel.k8s.io"], (ws, p) => {
      ws.send(encodeClose(p, Channel.stdin));
    });
    process.stderr.write(`v5 exit 3 frames: ${describeFrames(session.frames)}\n`);
    assert.equal(session.channelText(Channel.stderr), "bye\n");
    const error = session.frames.find((f) => f.channel === Channel.error);
    // The translator wraps the message of the kubelet's Status in its own.
    assert.deepEqual(parseErrorChannel(error?.payload ?? ""), {
      status: "Failure",
      exitCode: 3,
      message: "command terminated with non-zero exit code: command terminated with exit code 3",
    });
  });

  test("v4 (proxied to the kubelet): stdin, output and both exit statuses", async () => {
    const offered: Protocol[] = ["v4.channel.k8s.io"];
    const script = (code: number) =>
      `read line; echo "out:$line"; echo "err:$line" >&2; exit ${code}`;
    const ok = await exec(script(0), offered, (ws, p) => {
      send(ws, p, Channel.stdin, "four\n");
      send(ws, p, Channel.resize, encodeResize({ width: 80, height: 24 }));
    });
    assert.equal(ok.protocol, "v4.channel.k8s.io");
    assert.equal(ok.channelText(Channel.stdout), "out:four\n");
    assert.equal(ok.channelText(Channel.stderr), "err:four\n");
    const okStatus = ok.frames.find((f) => f.channel === Channel.error);
    assert.deepEqual(parseErrorChannel(okStatus?.payload ?? "", "v4.channel.k8s.io"), {
      status: "Success",
      exitCode: 0,
    });
    const failed = await exec(script(7), offered, (ws, p) => {
      send(ws, p, Channel.stdin, "x\n");
    });
    const failure = failed.frames.find((f) => f.channel === Channel.error);
    const parsed = parseErrorChannel(failure?.payload ?? "", "v4.channel.k8s.io");
    assert.equal(parsed.status, "Failure");
    assert.equal(parsed.exitCode, 7);
    process.stderr.write(`v4 frames: ${describeFrames(ok.frames)}; close ${ok.closeCode}\n`);
    process.stderr.write(`v4 exit 7 frames: ${describeFrames(failed.frames)}\n`);
  });

  test("unversioned channel.k8s.io: a failure is plain text, success is silent", async () => {
    const offered: Protocol[] = ["channel.k8s.io"];
    const ok = await exec("echo fine", offered, () => {});
    assert.equal(ok.channelText(Channel.stdout), "fine\n");
    assert.ok(!ok.frames.some((f) => f.channel === Channel.error && f.payload.length > 0));
    const failed = await exec("exit 5", offered, () => {});
    const text = failed.channelText(Channel.error);
    process.stderr.write(`channel.k8s.io exit 5 error channel: ${JSON.stringify(text)}\n`);
    assert.deepEqual(parseErrorChannel(text, "channel.k8s.io"), {
      status: "Failure",
      message: text,
    });
    assert.match(text, /exit/);
  });

  test("v4.base64: text frames with digit channels decode to the same output", async () => {
    const offered: Protocol[] = ["v4.base64.channel.k8s.io"];
    const session = await exec('read line; echo "b64:$line"', offered, (ws, p) => {
      send(ws, p, Channel.stdin, "text\n");
    });
    assert.equal(session.protocol, "v4.base64.channel.k8s.io");
    assert.equal(session.channelText(Channel.stdout), "b64:text\n");
    const status = session.frames.find((f) => f.channel === Channel.error);
    assert.equal(parseErrorChannel(status?.payload ?? "", "v4.channel.k8s.io").status, "Success");
  });
});

describe("channel-framed port-forward against kube-apiserver and kwok", () => {
  test("the port prefix opens both channels and data echoes back", async () => {
    const url = `${cluster.server.replace(/^https/, "wss")}/api/v1/namespaces/${ns}/pods/${pod}/portforward?ports=8080`;
    const socket = new WebSocket(url, ["v4.channel.k8s.io"], {
      ca: cluster.caPem,
      headers: { Authorization: `Bearer ${cluster.adminToken}` },
    });
    const frames: PortForwardFrame[] = [];
    const echoed = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no echo: ${JSON.stringify(frames)}`)),
        20_000,
      );
      let reader: PortForwardServerReader | undefined;
      socket.on("open", () => {
        assert.equal(negotiatePortForward([socket.protocol]), "v4.channel.k8s.io");
        reader = new PortForwardServerReader(socket.protocol, [8080]);
        socket.send(encodeFrame(socket.protocol, portChannels(0).data, "ping over channels\n"));
      });
      socket.on("message", (data, isBinary) => {
        const frame = reader?.read(data as Buffer, isBinary);
        if (!frame) return;
        frames.push(frame);
        const text = Buffer.concat(
          frames.filter((f) => f.kind === "data").map((f) => f.payload),
        ).toString();
        if (text.length >= "ping over channels\n".length) {
          clearTimeout(timer);
          resolve(text);
        }
      });
      socket.on("error", reject);
    });
    socket.close();
    process.stderr.write(
      `port-forward frames: ${frames.map((f) => `${f.channel}${f.opening ? "(port)" : ""}:${JSON.stringify(f.payload.toString())}`).join(" ")}\n`,
    );
    assert.equal(echoed, "ping over channels\n");
    const openings = frames.filter((f) => f.opening).map((f) => f.kind);
    assert.deepEqual(openings.sort(), ["data", "error"]);
  });
});

describe("subprotocol negotiation", () => {
  const offers: string[][] = [
    ["v5.channel.k8s.io", "v4.channel.k8s.io"],
    ["v4.channel.k8s.io", "v5.channel.k8s.io"],
    ["v4.base64.channel.k8s.io", "v4.channel.k8s.io"],
    ["base64.channel.k8s.io"],
    ["channel.k8s.io"],
    ["unknown.k8s.io", "v4.channel.k8s.io"],
  ];
  for (const offered of offers) {
    test(`negotiate(${offered.join(", ")}) picks what the apiserver picks`, async () => {
      const chosen = await handshake("exec?command=true&stdout=true", offered);
      assert.equal(chosen, negotiate(offered) ?? "");
    });
  }

  test("port-forward offers: negotiatePortForward agrees with the apiserver", async () => {
    for (const offered of [
      [spdyTunnelProtocol],
      ["v4.base64.channel.k8s.io", spdyTunnelProtocol],
    ]) {
      const chosen = await handshake("portforward?ports=8080", offered);
      assert.equal(chosen, negotiatePortForward(offered), offered.join(", "));
    }
  });
});

/**
 * The subprotocol the apiserver accepts for `subresource` (with its query),
 * then hangs up. A raw upgrade: `ws` refuses names with "/" and "+", which
 * the SPDY tunnel's has.
 */
function handshake(subresource: string, offered: string[]): Promise<string> {
  const url = `${cluster.server}/api/v1/namespaces/${ns}/pods/${pod}/${subresource}`;
  const request = httpsRequest(url, {
    ca: cluster.caPem,
    headers: {
      Authorization: `Bearer ${cluster.adminToken}`,
      Connection: "Upgrade",
      Upgrade: "websocket",
      "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
      "Sec-WebSocket-Protocol": offered.join(", "),
    },
  });
  return new Promise((resolve, reject) => {
    request.on("upgrade", (response, socket) => {
      socket.destroy();
      resolve(String(response.headers["sec-websocket-protocol"] ?? ""));
    });
    request.on("response", (response) => {
      response.resume();
      reject(new Error(`HTTP ${response.statusCode} for ${offered.join(", ")}`));
    });
    request.on("error", reject);
    request.end();
  });
}

/** `channel:"text"` for each frame, for the log: what the apiserver actually sent. */
function describeFrames(frames: Frame[]): string {
  return frames.map((f) => `${f.channel}:${JSON.stringify(f.payload.toString())}`).join(" ");
}
