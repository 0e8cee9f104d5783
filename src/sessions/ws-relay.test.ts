import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { afterEach, describe, test } from "node:test";
import WebSocket, { WebSocketServer } from "ws";
import { writeStatusToSocket } from "../server/raw-response.ts";
import { parseErrorChannel } from "./channel-payloads.ts";
import {
  Channel,
  decodeFrame,
  encodeFrame,
  type Frame,
  type Protocol,
} from "./channel-protocol.ts";
import {
  type ExecRelayHooks,
  type ExecRelayResult,
  type RelayCloseInfo,
  relayExecStream,
  StreamRefusal,
} from "./ws-relay.ts";

const v5: Protocol = "v5.channel.k8s.io";
const servers: Server[] = [];
/** Upgraded sockets are no longer the server's; a failed test would leave them open. */
const connections = new Set<Socket>();

afterEach(async () => {
  for (const socket of connections) socket.destroy();
  connections.clear();
  for (const server of servers.splice(0)) await new Promise((done) => server.close(done));
});

function listen(server: Server): Promise<string> {
  servers.push(server);
  server.on("connection", (socket: Socket) => connections.add(socket));
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

/** A stand-in API server: accepts the offered subprotocol, or refuses paths under /forbidden. */
async function startUpstream(onSession: (socket: WebSocket) => void): Promise<string> {
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered) => [...offered][0] ?? false,
  });
  const server = createServer();
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (req.url?.startsWith("/forbidden")) {
      const body = JSON.stringify({
        kind: "Status",
        status: "Failure",
        reason: "Forbidden",
        code: 403,
      });
      socket.end(
        `HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, onSession);
  });
  return listen(server);
}

interface Gateway {
  address: string;
  result: Promise<ExecRelayResult>;
}

/** A gateway that relays its first upgrade to `upstream` with the given hooks. */
async function startGateway(
  upstream: string,
  hooks: ExecRelayHooks = {},
  highWaterMark?: number,
): Promise<Gateway> {
  const server = createServer();
  const result = new Promise<ExecRelayResult>((resolve, reject) => {
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = req.url ?? "/";
      relayExecStream({
        req,
        socket,
        head,
        upstream: { url: `ws://${upstream}${path}`, headers: { authorization: "Bearer gw" } },
        hooks,
        ...(highWaterMark ? { highWaterMark } : {}),
      }).then(resolve, (err: unknown) => {
        writeStatusToSocket(socket, err);
        reject(err);
      });
    });
  });
  result.catch(() => {});
  return { address: await listen(server), result };
}

const execPath = "/exec?command=sh&stdin=true&stdout=true&stderr=true";

function connect(gateway: Gateway, path = execPath): WebSocket {
  return new WebSocket(`ws://${gateway.address}${path}`, [v5, "v4.channel.k8s.io"]);
}

function opened(socket: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
}

/** Frames received until close, and the close code. */
function collect(socket: WebSocket): Promise<{ frames: Frame[]; code: number }> {
  const frames: Frame[] = [];
  socket.on("message", (data, isBinary) => {
    const frame = decodeFrame(v5, data as Buffer, isBinary);
    if (frame) frames.push(frame);
  });
  return new Promise((resolve) => socket.once("close", (code) => resolve({ frames, code })));
}

function text(frames: Frame[], channel: number): string {
  return Buffer.concat(
    frames.filter((f) => f.channel === channel).map((f) => f.payload),
  ).toString();
}

function closeInfo(result: Promise<ExecRelayResult>): Promise<RelayCloseInfo> {
  return result.then((r) => {
    assert.equal(r.kind, "open");
    return r.kind === "open" ? r.session.closed : Promise.reject(new Error("refused"));
  });
}

describe("relayExecStream", () => {
  test("passes frames through the hooks, transformed both ways, and drops what a hook drops", async () => {
    const upstreamFrames: Frame[] = [];
    const upstream = await startUpstream((socket) => {
      socket.on("message", (data, isBinary) => {
        const frame = decodeFrame(v5, data as Buffer, isBinary);
        if (!frame) return;
        upstreamFrames.push(frame);
        if (frame.channel === Channel.stdin)
          socket.send(encodeFrame(v5, Channel.stdout, frame.payload));
        if (frame.channel === Channel.close) socket.close(1000);
      });
    });
    const gateway = await startGateway(upstream, {
      onClientFrame: (channel, payload) =>
        channel === Channel.resize
          ? null
          : channel === Channel.stdin
            ? Buffer.from(payload.toString().toUpperCase())
            : payload,
      onServerFrame: (_channel, payload) => Buffer.concat([Buffer.from(">"), payload]),
    });
    const client = connect(gateway);
    const received = collect(client);
    await opened(client);
    assert.equal(client.protocol, v5);
    client.send(encodeFrame(v5, Channel.resize, '{"Width":80,"Height":24}'));
    client.send(encodeFrame(v5, Channel.stdin, "hello"));
    client.send(encodeFrame(v5, Channel.close, Buffer.of(Channel.stdin)));
    const { frames, code } = await received;
    assert.equal(text(frames, Channel.stdout), ">HELLO");
    assert.deepEqual(
      upstreamFrames.map((f) => f.channel),
      [Channel.stdin, Channel.close],
      "the resize was dropped; the v5 close frame passed",
    );
    assert.equal(code, 1000);
  });

  test("a client close closes the upstream with the same code", async () => {
    let upstreamClose: Promise<number> = Promise.resolve(0);
    const upstream = await startUpstream((socket) => {
      upstreamClose = new Promise((resolve) => socket.once("close", resolve));
    });
    const gateway = await startGateway(upstream);
    const client = connect(gateway);
    await opened(client);
    client.close(4001, "bye");
    assert.equal(await upstreamClose, 4001);
    assert.deepEqual(await closeInfo(gateway.result), {
      code: 4001,
      reason: "bye",
      initiator: "client",
    });
  });

  test("an upstream close reaches the client after the frames before it", async () => {
    const upstream = await startUpstream((socket) => {
      socket.send(encodeFrame(v5, Channel.stdout, "last words"));
      socket.close(1000, "done");
    });
    const gateway = await startGateway(upstream);
    const client = connect(gateway);
    const { frames, code } = await collect(client);
    assert.equal(text(frames, Channel.stdout), "last words");
    assert.equal(code, 1000);
    assert.equal((await closeInfo(gateway.result)).initiator, "upstream");
  });

  test("an upstream that dies without a close frame terminates the client", async () => {
    const upstream = await startUpstream((socket) => socket.terminate());
    const gateway = await startGateway(upstream);
    const { code } = await collect(connect(gateway));
    assert.equal(code, 1006);
  });

  test("a hook answering close ends the session from the gateway", async () => {
    const upstream = await startUpstream(() => {});
    const gateway = await startGateway(upstream, { onClientFrame: () => "close" });
    const client = connect(gateway);
    const received = collect(client);
    await opened(client);
    client.send(encodeFrame(v5, Channel.stdin, "rm -rf /\n"));
    assert.equal((await received).code, 1000);
    assert.equal((await closeInfo(gateway.result)).initiator, "gateway");
  });

  test("kill() sends the reason on stderr and a Failure Status, then closes both sides", async () => {
    let upstreamClose: Promise<number> = Promise.resolve(0);
    const upstream = await startUpstream((socket) => {
      upstreamClose = new Promise((resolve) => socket.once("close", resolve));
    });
    const gateway = await startGateway(upstream);
    const client = connect(gateway);
    const received = collect(client);
    await opened(client);
    const result = await gateway.result;
    assert.equal(result.kind, "open");
    if (result.kind !== "open") return;
    result.session.kill("portcullis: session killed by an operator");
    const { frames, code } = await received;
    assert.equal(text(frames, Channel.stderr), "portcullis: session killed by an operator\n");
    const error = frames.find((f) => f.channel === Channel.error);
    assert.deepEqual(parseErrorChannel(error?.payload ?? ""), {
      status: "Failure",
      message: "portcullis: session killed by an operator",
    });
    assert.equal(code, 1000);
    assert.equal(await upstreamClose, 1000);
    assert.equal((await result.session.closed).initiator, "gateway");
  });

  test("an upstream HTTP refusal reaches the client as the same HTTP answer", async () => {
    const upstream = await startUpstream(() => {});
    const gateway = await startGateway(upstream);
    const response = await new Promise<{ status: number; type: string; body: string }>(
      (resolve, reject) => {
        const req = request(`http://${gateway.address}/forbidden/exec?command=sh`, {
          headers: {
            connection: "Upgrade",
            upgrade: "websocket",
            "sec-websocket-version": "13",
            "sec-websocket-key": randomBytes(16).toString("base64"),
            "sec-websocket-protocol": v5,
          },
        });
        req.on("upgrade", () => reject(new Error("the client was upgraded")));
        req.on("response", (res) => {
          let body = "";
          res.on("data", (chunk: Buffer) => {
            body += chunk.toString();
          });
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              type: String(res.headers["content-type"]),
              body,
            }),
          );
        });
        req.on("error", reject);
        req.end();
      },
    );
    assert.equal(response.status, 403);
    assert.equal(response.type, "application/json");
    assert.equal(JSON.parse(response.body).reason, "Forbidden");
    assert.deepEqual(await gateway.result, { kind: "refused", statusCode: 403 });
  });

  test("refuses port-forward and offers without a remote-command protocol, before upgrading", async () => {
    const upstream = await startUpstream(() => {});
    const forward = await startGateway(upstream);
    const portForward = new WebSocket(`ws://${forward.address}/portforward?ports=80`, [
      "v4.channel.k8s.io",
    ]);
    portForward.on("error", () => {});
    await assert.rejects(
      forward.result,
      (err) => err instanceof StreamRefusal && err.reason === "port_forward",
    );
    const other = await startGateway(upstream);
    const unknown = new WebSocket(`ws://${other.address}${execPath}`, ["chat"]);
    const status = await new Promise<number>((resolve) =>
      unknown.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0)),
    );
    assert.equal(status, 400);
    await assert.rejects(
      other.result,
      (err) => err instanceof StreamRefusal && err.reason === "no_protocol",
    );
  });

  test("stops reading upstream while the client is backed up, and resumes when it drains", async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const total = 32 * 1024 * 1024;
    const upstream = await startUpstream((socket) => {
      for (let sent = 0; sent < total; sent += chunk.length) {
        socket.send(encodeFrame(v5, Channel.stdout, chunk));
      }
    });
    let seen = 0;
    const gateway = await startGateway(
      upstream,
      {
        onServerFrame: (_channel, payload) => {
          seen += payload.length;
          return payload;
        },
      },
      256 * 1024,
    );
    const client = connect(gateway);
    // pause() is a no-op before the handshake completes.
    client.once("open", () => client.pause());
    let received = 0;
    client.on("message", (data) => {
      received += (data as Buffer).length - 1;
    });
    await opened(client);
    await new Promise((r) => setTimeout(r, 1000));
    // Kernel socket buffers on both hops absorb some megabytes; the rest must wait upstream.
    assert.ok(seen < total - 8 * 1024 * 1024, `the relay read ${seen} of ${total} bytes`);
    client.resume();
    const deadline = Date.now() + 20_000;
    while (received < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(received, total);
    client.close();
  });
});
