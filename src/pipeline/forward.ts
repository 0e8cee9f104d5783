import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { pipeline } from "node:stream/promises";
import { PortcullisError } from "../errors.ts";
import {
  forwardableRequestHeaders,
  forwardableResponseHeaders,
  requestHasBody,
} from "../kube/headers.ts";
import { impersonationHeaders } from "../kube/impersonation.ts";
import type { Upstream } from "../kube/upstream.ts";
import type { Classified, Recorded, Terminal } from "../server/context.ts";
import { serializeResponseHead } from "../server/raw-response.ts";

/** Largest non-101 answer to an upgrade request that is relayed (a Status, in practice). */
const maxUpgradeRefusalBytes = 1 << 20;

function upstreamHeaders(ctx: Classified): OutgoingHttpHeaders {
  return {
    ...forwardableRequestHeaders(ctx.req.headers),
    ...impersonationHeaders(ctx.identity),
    // The API server's own audit log then carries our request id.
    "audit-id": ctx.id,
    "x-forwarded-for": ctx.remoteAddress,
  };
}

function unreachable(err: unknown): PortcullisError {
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return new PortcullisError(
    "upstream_unavailable",
    `portcullis: cannot reach the Kubernetes API server (${code})`,
    { cause: err },
  );
}

/** Sends the call upstream as the caller and streams the answer back. */
export function forwardStage(upstream: Upstream): Terminal<Recorded> {
  return async function forward(ctx) {
    if (ctx.transport.kind === "upgrade") {
      return relayUpgrade(ctx, upstream, ctx.transport.socket, ctx.transport.head);
    }
    const res = ctx.transport.res;
    const upstreamRequest = upstream.request({
      method: ctx.req.method ?? "GET",
      path: ctx.req.url ?? "/",
      headers: upstreamHeaders(ctx),
      signal: ctx.signal,
    });
    const upstreamResponse = await new Promise<IncomingMessage>((resolve, reject) => {
      upstreamRequest.once("response", resolve);
      // A client that leaves aborts this call too (ctx.signal): that is not the
      // API server being unreachable, and the runner records it as 499.
      upstreamRequest.once("error", (err) => reject(ctx.signal.aborted ? err : unreachable(err)));
      if (ctx.requestBody !== undefined) {
        // Already read (to be recorded first): send exactly those bytes.
        upstreamRequest.setHeader("content-length", ctx.requestBody.length);
        upstreamRequest.end(ctx.requestBody);
      } else if (requestHasBody(ctx.req)) {
        // Request body streams with backpressure; a failure surfaces as the
        // request's own error (or the client's abort) above.
        pipeline(ctx.req, upstreamRequest).catch(() => {});
      } else {
        ctx.req.resume();
        upstreamRequest.end();
      }
    });
    ctx.outcome.status = upstreamResponse.statusCode ?? 502;
    res.writeHead(ctx.outcome.status, forwardableResponseHeaders(upstreamResponse.headers));
    // A watch sends headers long before its first event and clients wait for
    // them; other responses let headers ride with the first body chunk.
    if (ctx.requestInfo.verb === "watch") res.flushHeaders();
    await relayResponse(ctx, upstreamResponse, res);
  };
}

/**
 * Streams the upstream body to the client with backpressure. Either side
 * closing early destroys the other: a client that leaves a watch closes the
 * upstream connection, and an upstream failure aborts the client's response
 * rather than ending it as if it were complete.
 *
 * The end of the answer is held back until `beforeResponseEnd` resolves, so
 * the client cannot see the whole answer before its completion record is
 * durable.
 * On graceful shutdown a watch ends with a proper terminating chunk, as the
 * API server's own shutdown does, so clients simply re-establish it.
 */
function relayResponse(
  ctx: Recorded,
  upstreamResponse: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const endCleanly = ctx.requestInfo.verb === "watch" ? ctx.shutdown : undefined;
  return new Promise<void>((resolve, reject) => {
    let held: Buffer | undefined;
    let ending = false;
    const send = (chunk: Buffer) => {
      if (!res.write(chunk)) upstreamResponse.pause();
    };
    const finish = async () => {
      if (ending) return;
      ending = true;
      cleanup();
      try {
        await ctx.beforeResponseEnd?.();
      } catch (err) {
        res.destroy();
        reject(err);
        return;
      }
      if (held) send(held);
      held = undefined;
      res.end();
    };
    const onShutdown = () => {
      // finish() marks the response as ending before destroy() emits
      // `aborted`, so the shutdown is not mistaken for an upstream failure.
      void finish();
      upstreamResponse.destroy();
    };
    const cleanup = () => endCleanly?.removeEventListener("abort", onShutdown);
    // With Content-Length the client knows the answer is complete on its last
    // byte, so that chunk waits; a chunked (streaming) response is complete
    // only at its terminating chunk, so its data flows at once (watch events,
    // followed logs) and only res.end() waits.
    const holdLast = upstreamResponse.headers["content-length"] !== undefined;
    upstreamResponse.on("data", (chunk: Buffer) => {
      // Counted and captured on arrival: the completion record, written
      // before a held last chunk goes out, must include it.
      ctx.outcome.bytesOut += chunk.length;
      ctx.onResponseChunk?.(chunk);
      if (!holdLast) return send(chunk);
      if (held) send(held);
      held = chunk;
    });
    res.on("drain", () => upstreamResponse.resume());
    upstreamResponse.once("end", () => void finish());
    res.once("finish", resolve);
    res.once("close", () => {
      cleanup();
      if (!res.writableFinished) {
        upstreamResponse.destroy();
        reject(Object.assign(new Error("client closed the connection"), { code: "ECONNRESET" }));
      }
    });
    upstreamResponse.once("error", (err) => {
      if (ending) return;
      cleanup();
      reject(err);
    });
    upstreamResponse.once("aborted", () => {
      if (ending) return;
      cleanup();
      reject(new Error("the API server aborted the response"));
    });
    if (endCleanly?.aborted) return onShutdown();
    endCleanly?.addEventListener("abort", onShutdown, { once: true });
  });
}

/** Relays an HTTP/1.1 upgrade (exec, attach, port-forward) byte for byte. */
async function relayUpgrade(
  ctx: Classified,
  upstream: Upstream,
  client: Duplex,
  head: Buffer,
): Promise<void> {
  const headers = upstreamHeaders(ctx);
  headers.connection = "Upgrade";
  headers.upgrade = ctx.req.headers.upgrade ?? "";
  const upstreamRequest = upstream.request({
    method: ctx.req.method ?? "GET",
    path: ctx.req.url ?? "/",
    headers,
    signal: ctx.signal,
  });
  // Two pipelines plus the server's own listeners exceed Node's default of
  // ten `close` listeners on the client socket; that is expected, not a leak.
  client.setMaxListeners(32);
  await new Promise<void>((resolve, reject) => {
    upstreamRequest.once("error", (err) => reject(unreachable(err)));
    upstreamRequest.once(
      "upgrade",
      (response: IncomingMessage, upstreamSocket: Duplex, upstreamHead: Buffer) => {
        ctx.outcome.status = response.statusCode ?? 101;
        client.write(
          serializeResponseHead(ctx.outcome.status, response.statusMessage, response.rawHeaders),
        );
        if (upstreamHead.length > 0) client.write(upstreamHead);
        if (head.length > 0) upstreamSocket.write(head);
        upstreamSocket.on("data", (chunk: Buffer) => {
          ctx.outcome.bytesOut += chunk.length;
        });
        let open = 2;
        const done = () => {
          open -= 1;
          if (open === 0) resolve();
        };
        pipeline(upstreamSocket, client).then(done, () => {
          client.destroy();
          resolve();
        });
        pipeline(client, upstreamSocket).then(done, () => {
          upstreamSocket.destroy();
          resolve();
        });
      },
    );
    upstreamRequest.once("response", (response: IncomingMessage) => {
      // The API server refused the upgrade (RBAC, bad request): relay its answer.
      ctx.outcome.status = response.statusCode ?? 502;
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size <= maxUpgradeRefusalBytes) chunks.push(chunk);
      });
      response.once("error", reject);
      response.once("end", () => {
        const body = Buffer.concat(chunks);
        const raw: string[] = [];
        const passed = forwardableResponseHeaders(response.headers);
        for (const [name, value] of Object.entries(passed)) {
          if (name === "content-length" || value === undefined) continue;
          for (const v of Array.isArray(value) ? value : [String(value)]) raw.push(name, v);
        }
        raw.push("content-length", String(body.length), "connection", "close");
        client.end(
          Buffer.concat([
            serializeResponseHead(ctx.outcome.status, response.statusMessage, raw),
            body,
          ]),
        );
        ctx.outcome.bytesOut += body.length;
        resolve();
      });
    });
    upstreamRequest.end();
  });
}
