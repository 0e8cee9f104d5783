/**
 * The forward stage, alone and inside the whole gateway, against a local
 * stand-in for the API server: an HTTPS server that records what reaches it,
 * streams large or endless bodies, refuses or completes WebSocket upgrades and
 * echoes frames. The authenticator is a fake; everything else is real.
 */

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { WebSocket, WebSocketServer } from "ws";
import { openTestAuditLog } from "../../test/support/audit.ts";
import { allowAllPolicy } from "../../test/support/policy.ts";
import { PortcullisError } from "../errors.ts";
import type { Authenticator } from "../identity/authenticate.ts";
import type { Identity } from "../identity/identity.ts";
import { Upstream } from "../kube/upstream.ts";
import { buildProfiles } from "../masking/profiles.ts";
import type { Masked } from "../server/context.ts";
import { type Gateway, startGateway } from "../server/gateway.ts";
import { createCertificateAuthority, issueServingCertificate } from "../tls/pki.ts";
import type { ServingMaterial } from "../tls/serving.ts";
import { forwardStage } from "./forward.ts";

const gatewayToken = "gateway-sa-token";
const clientToken = "client-agent-token";
const channelProtocol = "v5.channel.k8s.io";
const bigBodyBytes = 20 * 1024 * 1024;

const identity: Identity = {
  subject: "builder",
  issuer: "portcullis",
  kind: "agent",
  username: "portcullis:agent:builder",
  groups: ["portcullis:agents", "team-a"],
  extra: { "portcullis.dev/issuer": ["portcullis"] },
  method: "agent-token",
};

const forbiddenStatus = {
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message: 'pods "denied" is forbidden: User "portcullis:agent:builder" cannot create pods/exec',
  reason: "Forbidden",
  details: { name: "denied", kind: "pods" },
  code: 403,
};

/** What the stand-in API server saw, by request path (without the query). */
interface Received {
  headers: IncomingHttpHeaders;
  distinct: Record<string, string[]>;
}

interface StandIn {
  url: string;
  received: Map<string, Received>;
  /** Resolves when the upstream response of the endless log stream closes. */
  followClosed: Promise<{ bytesWritten: number; finished: boolean }>;
  /** Resolves when the endless log stream has started writing. */
  followStarted: Promise<void>;
  /** Resolves when a request that upstream never answers has arrived. */
  slowArrived: Promise<void>;
  close(): Promise<void>;
}

async function startStandIn(
  serving: { certPem: string; keyPem: string },
  body: Buffer,
): Promise<StandIn> {
  const received = new Map<string, Received>();
  let followStartedResolve: () => void = () => {};
  const followStarted = new Promise<void>((resolve) => {
    followStartedResolve = resolve;
  });
  let followClosedResolve: (v: { bytesWritten: number; finished: boolean }) => void = () => {};
  const followClosed = new Promise<{ bytesWritten: number; finished: boolean }>((resolve) => {
    followClosedResolve = resolve;
  });

  let slowArrivedResolve: () => void = () => {};
  const slowArrived = new Promise<void>((resolve) => {
    slowArrivedResolve = resolve;
  });

  function record(req: IncomingMessage): string {
    const path = (req.url ?? "").split("?", 1)[0] ?? "";
    received.set(path, {
      headers: req.headers,
      distinct: req.headersDistinct as Record<string, string[]>,
    });
    return path;
  }

  async function streamBody(res: ServerResponse): Promise<void> {
    res.writeHead(200, { "content-type": "application/octet-stream" });
    const chunk = 64 * 1024;
    for (let offset = 0; offset < body.length; offset += chunk) {
      if (!res.write(body.subarray(offset, offset + chunk))) await once(res, "drain");
    }
    res.end();
  }

  function followLog(res: ServerResponse): void {
    res.writeHead(200, { "content-type": "text/plain" });
    let bytesWritten = 0;
    const line = Buffer.from(`${"log line ".repeat(100)}\n`);
    const timer = setInterval(() => {
      res.write(line);
      bytesWritten += line.length;
      followStartedResolve();
    }, 5);
    res.once("close", () => {
      clearInterval(timer);
      followClosedResolve({ bytesWritten, finished: res.writableFinished });
    });
  }

  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => (protocols.has(channelProtocol) ? channelProtocol : false),
  });
  wss.on("connection", (ws) => {
    // Upstream speaks first (a stdout frame), then echoes whatever arrives.
    ws.send(Buffer.from([1, ...Buffer.from("ready\n")]), { binary: true });
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  });

  const server = https.createServer(
    { cert: serving.certPem, key: serving.keyPem },
    (req: IncomingMessage, res: ServerResponse) => {
      const path = record(req);
      req.resume();
      if (path === "/api/v1/namespaces/default/configmaps") {
        streamBody(res).catch(() => res.destroy());
      } else if (path === "/api/v1/namespaces/default/pods/follow/log") {
        followLog(res);
      } else if (path === "/api/v1/namespaces/default/pods/slow") {
        slowArrivedResolve(); // and never answer
      } else {
        res.writeHead(200, {
          "content-type": "application/json",
          "audit-id": "upstream-audit-id",
          warning: '299 - "stand-in warning"',
          connection: "keep-alive, x-hop-secret",
          "x-hop-secret": "must not reach the client",
        });
        res.end(JSON.stringify({ kind: "PodList", apiVersion: "v1", items: [] }));
      }
    },
  );
  server.on("upgrade", (req: IncomingMessage, socket, head: Buffer) => {
    const path = record(req);
    if (path === "/api/v1/namespaces/default/pods/denied/exec") {
      const payload = Buffer.from(JSON.stringify(forbiddenStatus));
      socket.end(
        Buffer.concat([
          Buffer.from(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n" +
              `Content-Length: ${payload.length}\r\nConnection: close\r\n\r\n`,
          ),
          payload,
        ]),
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    followStarted,
    followClosed,
    slowArrived,
    async close() {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

/** A port nothing listens on: bound, then closed again. */
async function closedPort(): Promise<number> {
  const server = https.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}

let caPem: string;
let body: Buffer;
let standIn: StandIn;
let gateway: Gateway;
let gatewayUrl: string;
const authorizations: Array<string[] | undefined> = [];

const fakeAuthenticator: Authenticator = {
  authenticate: async (authorization) => {
    authorizations.push(authorization);
    return identity;
  },
};

/** One CA and serving certificate for every gateway here, so `caPem` never changes under a test. */
let gatewayServing: Promise<ServingMaterial> | undefined;

async function startTestGateway(upstream: Upstream): Promise<Gateway> {
  gatewayServing ??= (async () => {
    const ca = await createCertificateAuthority("forward test CA");
    const serving = await issueServingCertificate(ca, "portcullis", ["localhost", "127.0.0.1"]);
    return { caPem: ca.certPem, ...serving };
  })();
  const serving = await gatewayServing;
  caPem = serving.caPem;
  const audit = await openTestAuditLog();
  return startGateway({
    address: "127.0.0.1",
    port: 0,
    serving,
    deps: {
      upstream,
      masking: buildProfiles({}),
      authenticator: fakeAuthenticator,
      audit: audit.stage,
      policy: allowAllPolicy(upstream, pino({ level: "silent" })),
    },
    log: pino({ level: "silent" }),
    drainTimeoutMs: 1000,
    onClosed: [() => audit.close()],
  });
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function request(
  baseUrl: string,
  path: string,
  headers: Record<string, string | string[]> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      `${baseUrl}${path}`,
      {
        ca: caPem,
        agent: false,
        headers: { authorization: `Bearer ${clientToken}`, ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on("error", reject);
  });
}

function openWebSocket(path: string): WebSocket {
  return new WebSocket(`${gatewayUrl.replace(/^https/, "wss")}${path}`, channelProtocol, {
    ca: caPem,
    headers: { authorization: `Bearer ${clientToken}` },
  });
}

/** Resolves with the next `count` binary messages. */
function nextMessages(ws: WebSocket, count: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const messages: Buffer[] = [];
    const onMessage = (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return reject(new Error("expected a binary frame"));
      messages.push(data);
      if (messages.length === count) {
        ws.off("message", onMessage);
        resolve(messages);
      }
    };
    ws.on("message", onMessage);
    ws.once("error", reject);
  });
}

describe("forward through the gateway", () => {
  before(async () => {
    // Random bytes: no repeating pattern that a dropped or duplicated chunk could hide in.
    body = randomBytes(bigBodyBytes);
    const upstreamCa = await createCertificateAuthority("stand-in API server CA");
    const upstreamServing = await issueServingCertificate(upstreamCa, "kube-apiserver", [
      "127.0.0.1",
    ]);
    standIn = await startStandIn(upstreamServing, body);
    const upstream = new Upstream(
      { server: standIn.url, caPem: upstreamCa.certPem, token: gatewayToken },
      { maxSockets: 16 },
    );
    gateway = await startTestGateway(upstream);
    gatewayUrl = gateway.url.replace("127.0.0.1", "localhost");
  });

  after(async () => {
    await gateway.close();
    await standIn.close();
  });

  test("asserts the caller's identity with impersonation headers and the gateway's own token", async () => {
    const answer = await request(gatewayUrl, "/api/v1/namespaces/default/pods", {
      "impersonate-user": "system:admin",
      "impersonate-group": ["system:masters", "system:nodes"],
      "impersonate-uid": "forged-uid",
      "impersonate-extra-scopes": "all",
      "x-remote-user": "system:admin",
      "audit-id": "forged-audit-id",
      "user-agent": "kubectl/v1.37.0",
    });
    assert.equal(answer.status, 200);
    const seen = standIn.received.get("/api/v1/namespaces/default/pods");
    assert.ok(seen, "the stand-in API server saw no request");
    assert.deepEqual(seen.distinct["impersonate-user"], ["portcullis:agent:builder"]);
    assert.deepEqual(seen.distinct["impersonate-group"], ["portcullis:agents", "team-a"]);
    assert.deepEqual(seen.distinct["impersonate-extra-portcullis.dev%2fissuer"], ["portcullis"]);
    assert.deepEqual(seen.distinct.authorization, [`Bearer ${gatewayToken}`]);
    assert.equal(seen.headers["impersonate-uid"], undefined);
    assert.equal(seen.headers["impersonate-extra-scopes"], undefined);
    assert.equal(seen.headers["x-remote-user"], undefined);
    // The gateway's own request id, in place of the one the client sent.
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    assert.equal(seen.distinct["audit-id"]?.length, 1);
    assert.match(seen.distinct["audit-id"]?.[0] ?? "", uuid);
    assert.equal(seen.headers["user-agent"], "kubectl/v1.37.0");
    assert.doesNotMatch(JSON.stringify(seen.headers), new RegExp(clientToken));
    assert.doesNotMatch(JSON.stringify(seen.headers), /system:admin|system:masters|forged/);
    // The fake authenticator was handed the client's credential, not the gateway's.
    assert.deepEqual(authorizations.at(-1), [`Bearer ${clientToken}`]);
  });

  test("a client that lists Authorization or Impersonate-User in Connection cannot strip the gateway's", async () => {
    await request(gatewayUrl, "/api/v1/namespaces/default/pods", {
      connection: "keep-alive, Authorization, Impersonate-User, Impersonate-Group",
    });
    const seen = standIn.received.get("/api/v1/namespaces/default/pods");
    assert.deepEqual(seen?.distinct.authorization, [`Bearer ${gatewayToken}`]);
    assert.deepEqual(seen?.distinct["impersonate-user"], ["portcullis:agent:builder"]);
    assert.deepEqual(seen?.distinct["impersonate-group"], ["portcullis:agents", "team-a"]);
  });

  test("relays end-to-end response headers and drops hop-by-hop and Connection-listed ones", async () => {
    const answer = await request(gatewayUrl, "/api/v1/namespaces/default/pods");
    assert.equal(answer.headers["audit-id"], "upstream-audit-id");
    assert.equal(answer.headers.warning, '299 - "stand-in warning"');
    assert.equal(answer.headers["content-type"], "application/json");
    assert.equal(answer.headers["x-hop-secret"], undefined);
    assert.deepEqual(JSON.parse(answer.body.toString("utf8")), {
      kind: "PodList",
      apiVersion: "v1",
      items: [],
    });
  });

  test("streams a 20 MB upstream body to the client byte for byte", async () => {
    const answer = await request(gatewayUrl, "/api/v1/namespaces/default/configmaps");
    assert.equal(answer.status, 200);
    assert.equal(answer.body.length, body.length);
    assert.ok(answer.body.equals(body), "the relayed body differs from what upstream sent");
  });

  test("closes the upstream response when the client aborts a long response midway", async () => {
    const req = https.get(`${gatewayUrl}/api/v1/namespaces/default/pods/follow/log?follow=true`, {
      ca: caPem,
      agent: false,
      headers: { authorization: `Bearer ${clientToken}` },
    });
    req.on("error", () => {});
    const [res] = (await once(req, "response")) as [IncomingMessage];
    assert.equal(res.statusCode, 200);
    res.on("error", () => {});
    let received = 0;
    res.on("data", (chunk: Buffer) => {
      received += chunk.length;
    });
    await standIn.followStarted;
    while (received === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    req.destroy();
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      standIn.followClosed,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("upstream response still open 5 s later")), 5000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.ok(closed.bytesWritten > 0);
    assert.equal(closed.finished, false, "upstream must be cut off, not allowed to finish");
  });

  test("records a client that leaves before upstream answers as 499, not as an upstream failure", async () => {
    const req = https.get(`${gatewayUrl}/api/v1/namespaces/default/pods/slow`, {
      ca: caPem,
      agent: false,
      headers: { authorization: `Bearer ${clientToken}` },
    });
    req.on("error", () => {});
    await standIn.slowArrived;
    req.destroy();
    const series = /portcullis_requests_total\{verb="get",resource="pods",code="(\d+)"\} 1/;
    let code: string | undefined;
    for (let attempt = 0; attempt < 100 && code === undefined; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      code = series.exec((await request(gatewayUrl, "/metrics")).body.toString("utf8"))?.[1];
    }
    assert.equal(code, "499");
  });

  test("upgrades a WebSocket stream with the negotiated protocol and relays frames both ways", async () => {
    const ws = openWebSocket(
      "/api/v1/namespaces/default/pods/shell/exec?command=sh&stdin=true&stdout=true",
    );
    const upstreamFirst = nextMessages(ws, 1);
    await once(ws, "open");
    try {
      assert.equal(ws.protocol, channelProtocol);
      const [ready] = await upstreamFirst;
      assert.deepEqual(ready, Buffer.from([1, ...Buffer.from("ready\n")]));

      const frames = [
        Buffer.from([0, ...Buffer.from("echo hello\n")]),
        Buffer.from([4, ...Buffer.from('{"Width":80,"Height":24}')]),
        Buffer.concat([Buffer.from([0]), body.subarray(0, 256 * 1024)]),
      ];
      const echoed = nextMessages(ws, frames.length);
      for (const frame of frames) ws.send(frame, { binary: true });
      assert.deepEqual(await echoed, frames);

      const seen = standIn.received.get("/api/v1/namespaces/default/pods/shell/exec");
      assert.deepEqual(seen?.distinct["impersonate-user"], ["portcullis:agent:builder"]);
      assert.deepEqual(seen?.distinct.authorization, [`Bearer ${gatewayToken}`]);
      assert.match(seen?.headers["sec-websocket-protocol"] ?? "", /v5\.channel\.k8s\.io/);
    } finally {
      ws.close();
      await once(ws, "close");
    }
  });

  test("relays an upgrade the API server refuses as that status and Status body", async () => {
    const ws = openWebSocket("/api/v1/namespaces/default/pods/denied/exec?command=sh");
    const [, res] = (await once(ws, "unexpected-response")) as [unknown, IncomingMessage];
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    // Ending a handshake that never completed makes ws report an error; expected here.
    ws.on("error", () => {});
    ws.terminate();
    assert.equal(res.statusCode, 403);
    assert.equal(res.headers["content-type"], "application/json");
    assert.deepEqual(JSON.parse(Buffer.concat(chunks).toString("utf8")), forbiddenStatus);
  });
});

describe("forward with the API server unreachable", () => {
  let unreachableGateway: Gateway;
  let unreachableUrl: string;

  before(async () => {
    const upstream = new Upstream(
      { server: `https://127.0.0.1:${await closedPort()}`, token: gatewayToken },
      { maxSockets: 4 },
    );
    unreachableGateway = await startTestGateway(upstream);
    unreachableUrl = unreachableGateway.url.replace("127.0.0.1", "localhost");
  });

  after(() => unreachableGateway.close());

  test("answers 502 with a Status that names the API server", async () => {
    const answer = await request(unreachableUrl, "/api/v1/namespaces/default/pods");
    assert.equal(answer.status, 502);
    assert.equal(answer.headers["content-type"], "application/json");
    const status = JSON.parse(answer.body.toString("utf8"));
    assert.equal(status.kind, "Status");
    assert.equal(status.code, 502);
    assert.match(status.message, /Kubernetes API server/);
  });

  test("answers an upgrade request with a 502 Status too", async () => {
    const ws = new WebSocket(
      `${unreachableUrl.replace(/^https/, "wss")}/api/v1/namespaces/default/pods/p/exec`,
      channelProtocol,
      { ca: caPem, headers: { authorization: `Bearer ${clientToken}` } },
    );
    const [, res] = (await once(ws, "unexpected-response")) as [unknown, IncomingMessage];
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    // Ending a handshake that never completed makes ws report an error; expected here.
    ws.on("error", () => {});
    ws.terminate();
    assert.equal(res.statusCode, 502);
    assert.equal(JSON.parse(Buffer.concat(chunks).toString("utf8")).code, 502);
  });

  test("forwardStage itself rejects with upstream_unavailable rather than answering", async () => {
    const upstream = new Upstream(
      { server: `https://127.0.0.1:${await closedPort()}` },
      {
        maxSockets: 1,
      },
    );
    const req = Object.assign(Readable.from([]), {
      method: "GET",
      url: "/api/v1/pods",
      headers: {},
    });
    let wrote = false;
    const ctx = {
      id: "id",
      req,
      transport: {
        kind: "http",
        res: {
          writeHead: () => {
            wrote = true;
          },
        },
      },
      remoteAddress: "127.0.0.1",
      signal: new AbortController().signal,
      shutdown: new AbortController().signal,
      identity,
      requestInfo: { verb: "list" },
      outcome: { status: 0, bytesOut: 0, verb: "", resource: "", user: "" },
      requestBody: undefined,
      onResponseChunk: undefined,
      beforeResponseEnd: undefined,
      masking: undefined,
    } as unknown as Masked;
    try {
      await assert.rejects(
        forwardStage(upstream, { maxRecordingBytes: 1 << 20 })(ctx),
        (err: unknown) =>
          err instanceof PortcullisError &&
          err.code === "upstream_unavailable" &&
          /cannot reach the Kubernetes API server \(ECONNREFUSED\)/.test(err.message),
      );
      assert.equal(wrote, false, "the stage must leave rendering to the runner");
    } finally {
      upstream.close();
    }
  });
});
