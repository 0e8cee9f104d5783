import assert from "node:assert/strict";
import { once } from "node:events";
import http, { type IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { type ErrorCode, PortcullisError } from "../errors.ts";
import type { RequestContext, Transport } from "./context.ts";
import { GatewayMetrics } from "./metrics.ts";
import { createRunner } from "./runner.ts";

type Pipeline = (ctx: RequestContext) => Promise<void>;

const log = pino({ level: "silent" });
let server: http.Server;
let base: string;
/** What the next request runs, and the contexts the runner finished with. */
let pipeline: Pipeline = async () => {};
let finish: (ctx: RequestContext) => void = () => {};

function nextFinished(): Promise<RequestContext> {
  return new Promise((resolve) => {
    finish = resolve;
  });
}

function dispatch(req: IncomingMessage, transport: Transport, socket: Socket): void {
  const client = new AbortController();
  socket.once("close", () => client.abort());
  const ctx: RequestContext = {
    id: "test",
    req,
    transport,
    startedAt: performance.now(),
    remoteAddress: socket.remoteAddress ?? "",
    log,
    signal: client.signal,
    shutdown: new AbortController().signal,
    outcome: { status: 0, bytesOut: 0, verb: "", resource: "", user: "" },
  };
  const run = createRunner((c) => pipeline(c), new GatewayMetrics());
  run(ctx).then(() => finish(ctx));
}

before(async () => {
  server = http.createServer((req, res) => dispatch(req, { kind: "http", res }, req.socket));
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) =>
    dispatch(req, { kind: "upgrade", socket, head }, req.socket),
  );
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, "close");
});

function get(headers: http.OutgoingHttpHeaders = {}): Promise<{
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/api/v1/pods`, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

const codes: ErrorCode[] = [
  "unauthenticated",
  "bad_request",
  "ambiguous_path",
  "forbidden",
  "not_found",
  "not_acceptable",
  "payload_too_large",
  "upstream_unavailable",
  "upstream_error",
  "audit_unavailable",
  "shutting_down",
  "internal",
];

describe("createRunner", () => {
  for (const code of codes) {
    test(`answers a ${code} error thrown before headers with a Status whose code is the HTTP status`, async () => {
      pipeline = async () => {
        throw new PortcullisError(code, `portcullis: ${code}`);
      };
      const done = nextFinished();
      const res = await get();
      const status = JSON.parse(res.body);
      assert.equal(status.kind, "Status");
      assert.equal(status.message, `portcullis: ${code}`);
      assert.equal(res.status, status.code);
      assert.notEqual(res.status, 200);
      assert.equal(res.headers["content-type"], "application/json");
      assert.equal((await done).outcome.status, res.status);
    });
  }

  test("answers an unexpected error with a 500 Status that hides its message", async () => {
    pipeline = async () => {
      throw new TypeError("cannot read properties of undefined (secret internals)");
    };
    const res = await get();
    assert.equal(res.status, 500);
    assert.deepEqual(JSON.parse(res.body).code, 500);
    assert.doesNotMatch(res.body, /secret internals/);
  });

  test("answers an upgrade request that fails with a Status on the raw socket", async () => {
    pipeline = async () => {
      throw new PortcullisError("forbidden", "portcullis: exec denied");
    };
    const req = http.request(`${base}/api/v1/namespaces/a/pods/p/exec`, {
      agent: false,
      headers: { connection: "Upgrade", upgrade: "websocket" },
    });
    req.end();
    const [res] = (await once(req, "response")) as [IncomingMessage];
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const status = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    assert.equal(res.statusCode, 403);
    assert.equal(status.code, 403);
    assert.equal(status.message, "portcullis: exec denied");
  });

  test("aborts the response, rather than ending it cleanly, when an error follows the headers", async () => {
    pipeline = async (ctx) => {
      if (ctx.transport.kind !== "http") throw new Error("expected http");
      ctx.transport.res.writeHead(200, { "content-type": "application/json" });
      ctx.transport.res.write('{"kind":"PodList","items":[');
      await new Promise((resolve) => setTimeout(resolve, 20));
      throw new PortcullisError("upstream_error", "portcullis: upstream broke");
    };
    const done = nextFinished();
    const req = http.get(`${base}/api/v1/pods`, { agent: false });
    req.on("error", () => {});
    const [res] = (await once(req, "response")) as [IncomingMessage];
    // events.once would reject on the expected "aborted" error; wait for close itself.
    const closed = new Promise((resolve) => res.on("close", resolve));
    res.on("error", () => {});
    res.resume();
    await closed;
    assert.equal(res.statusCode, 200);
    assert.equal(res.complete, false, "the client must see a truncated response");
    assert.equal((await done).outcome.status, 200);
  });

  test("records 499 when the client goes away before an answer", async () => {
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    pipeline = async (ctx) => {
      started();
      await once(ctx.signal, "abort");
      throw Object.assign(new Error("aborted"), { name: "AbortError" });
    };
    const done = nextFinished();
    const req = http.get(`${base}/api/v1/pods`, { agent: false });
    req.on("error", () => {});
    await running;
    req.destroy();
    assert.equal((await done).outcome.status, 499);
  });
});
