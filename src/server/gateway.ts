import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { buildPipeline, type PipelineDeps } from "../pipeline/pipeline.ts";
import type { ServingMaterial } from "../tls/serving.ts";
import type { RequestContext, Transport } from "./context.ts";
import { GatewayMetrics } from "./metrics.ts";
import { OpsEndpoints } from "./ops.ts";
import { createRunner } from "./runner.ts";

export interface GatewayOptions {
  address: string;
  port: number;
  serving: ServingMaterial;
  deps: PipelineDeps;
  /** Shared with components that report their own metrics (the audit writer). */
  metrics?: GatewayMetrics;
  log: Logger;
  drainTimeoutMs: number;
  /** Extra readiness checks (e.g. the audit store); each rejects with a reason. */
  readinessChecks?: Array<() => Promise<void>>;
  /** Run after requests have drained, in order (e.g. final audit checkpoint, store close). */
  onClosed?: Array<() => Promise<void>>;
  /** The gateway's own APIs (approvals), tried before the Kubernetes pipeline; true when handled. */
  handlers?: Array<(req: IncomingMessage, res: ServerResponse) => boolean>;
}

export interface Gateway {
  /** https://host:port the gateway listens on. */
  readonly url: string;
  readonly metrics: GatewayMetrics;
  /** Stops accepting, ends watches cleanly, drains, then closes what is left. */
  close(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const metrics = options.metrics ?? new GatewayMetrics();
  const ops = new OpsEndpoints(options.deps.upstream, metrics, options.readinessChecks ?? []);
  const run = createRunner(buildPipeline(options.deps), metrics);
  const shutdown = new AbortController();
  const inflight = new Set<Promise<void>>();
  const upgraded = new Set<Duplex>();

  function dispatch(req: IncomingMessage, transport: Transport, socket: Socket): void {
    // One listener per request on the request's own objects: keep-alive
    // sockets serve many requests, so listeners on the socket would pile up.
    const client = new AbortController();
    if (transport.kind === "http") {
      const res = transport.res;
      res.once("close", () => {
        if (!res.writableFinished) client.abort();
      });
    } else {
      transport.socket.once("close", () => client.abort());
    }
    const id = randomUUID();
    const ctx: RequestContext = {
      id,
      req,
      transport,
      startedAt: performance.now(),
      remoteAddress: socket.remoteAddress ?? "",
      log: options.log.child({ id }),
      signal: client.signal,
      shutdown: shutdown.signal,
      outcome: { status: 0, bytesOut: 0, verb: "", resource: "", user: "" },
    };
    const done = run(ctx).finally(() => inflight.delete(done));
    inflight.add(done);
  }

  const server = https.createServer(
    {
      cert: options.serving.certPem,
      key: options.serving.keyPem,
      // Request bodies may stream slowly (large applies); watches are
      // responses and are not limited by this.
      requestTimeout: 0,
      keepAliveTimeout: 65_000,
    },
    (req: IncomingMessage, res: ServerResponse) => {
      if (ops.handle(req, res)) return;
      for (const handle of options.handlers ?? []) if (handle(req, res)) return;
      dispatch(req, { kind: "http", res }, req.socket);
    },
  );
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgraded.add(socket);
    socket.once("close", () => upgraded.delete(socket));
    socket.on("error", () => socket.destroy());
    dispatch(req, { kind: "upgrade", socket, head }, req.socket);
  });
  server.on("clientError", (_err, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.address, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `https://${host}:${address.port}`;
  options.log.info({ url }, "gateway listening");

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    ops.startDraining();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    shutdown.abort();
    server.closeIdleConnections();
    const drained = Promise.allSettled([...inflight]);
    const timeout = new Promise<void>((resolve) =>
      setTimeout(resolve, options.drainTimeoutMs).unref(),
    );
    await Promise.race([drained, timeout]);
    for (const socket of upgraded) socket.destroy();
    server.closeAllConnections();
    await closed;
    options.deps.upstream.close();
    for (const hook of options.onClosed ?? []) {
      await hook().catch((err: unknown) => options.log.error({ err }, "shutdown step failed"));
    }
    options.log.info("gateway stopped");
  }

  return {
    url,
    metrics,
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}
