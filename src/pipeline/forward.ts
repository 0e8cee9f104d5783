import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { type Duplex, PassThrough, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { PortcullisError } from "../errors.ts";
import {
  forwardableRequestHeaders,
  forwardableResponseHeaders,
  requestHasBody,
} from "../kube/headers.ts";
import { impersonationHeaders } from "../kube/impersonation.ts";
import type { Upstream } from "../kube/upstream.ts";
import {
  answerContentType,
  isWatchStream,
  type ReadableBody,
  responseKind,
} from "../masking/negotiate.ts";
import {
  type BodyMasker,
  cborBodyMasker,
  jsonBodyMasker,
  textBodyMasker,
} from "../masking/response.ts";
import type { Classified, Masked, ResponseMasking, Terminal } from "../server/context.ts";
import { serializeResponseHead } from "../server/raw-response.ts";
import type { LiveCalls } from "../sessions/live.ts";
import { registerLiveCall } from "./live-call.ts";
import { relayPortForward } from "./portforward.ts";
import { relaySession, streamKind } from "./session.ts";

/** Largest non-101 answer to an upgrade request that is relayed (a Status, in practice). */
const maxUpgradeRefusalBytes = 1 << 20;

/** What goes upstream with the call: the client's allowed headers, then the gateway's. */
export function upstreamHeaders(ctx: Classified, masking?: ResponseMasking): OutgoingHttpHeaders {
  return {
    ...forwardableRequestHeaders(ctx.req.headers),
    // A masked answer must be readable: JSON (or log text), not compressed.
    ...(masking ? { accept: masking.upstreamAccept, "accept-encoding": "identity" } : {}),
    ...impersonationHeaders(ctx.identity),
    // The API server's own audit log then carries our request id.
    "audit-id": ctx.id,
    "x-forwarded-for": ctx.remoteAddress,
  };
}

/** Responses that carry no body whatever their headers say (RFC 9110 §6.4.1). */
function hasNoBody(method: string, status: number): boolean {
  return method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200);
}

/**
 * The masker for this answer, or a refusal when the masker cannot read it
 * (an unexpected content type or encoding): such an answer is never passed
 * on, since it would reach the client unmasked.
 */
function maskerFor(
  ctx: Masked,
  masking: ResponseMasking,
  response: IncomingMessage,
): BodyMasker | undefined {
  if (hasNoBody(ctx.req.method ?? "GET", response.statusCode ?? 200)) return undefined;
  const kind: ReadableBody = responseKind(
    response.headers["content-type"],
    response.headers["content-encoding"],
  );
  if (kind === "json") {
    const json = jsonBodyMasker(masking.profile, ctx.requestInfo, masking.tally);
    if (masking.answer === "json") return json;
    return cborBodyMasker(json, isWatchStream(response.headers["content-type"]));
  }
  if (kind === "text") {
    const info = ctx.requestInfo;
    const path = [info.resource, info.subresource].filter((p) => p !== "").join("/");
    return textBodyMasker(masking.profile, masking.tally, path);
  }
  if (response.headers["content-length"] === "0") return undefined;
  response.destroy();
  throw new PortcullisError(
    "upstream_error",
    `portcullis: the API server answered in a form the masker cannot read (content-type ${String(response.headers["content-type"] ?? "none")}, content-encoding ${String(response.headers["content-encoding"] ?? "identity")}); it is refused rather than passed on unmasked`,
  );
}

function maskingFailed(err: unknown): PortcullisError {
  return new PortcullisError(
    "upstream_error",
    `portcullis: the API server's answer could not be masked (${(err as Error).message}); it was cut off rather than passed on in clear`,
    { cause: err },
  );
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
/** Calls that stay open until someone ends them: the kill switch can reach them. */
function longRunning(ctx: Masked): string | undefined {
  const info = ctx.requestInfo;
  if (info.verb === "watch") return "watch";
  if (info.subresource === "log" && /[?&]follow=(true|1)\b/.test(ctx.req.url ?? "")) return "log";
  return undefined;
}

export interface ForwardOptions {
  /** Open streams and watches, for the kill switch. */
  live?: LiveCalls;
  /** Largest recording kept per exec or attach session. */
  maxRecordingBytes: number;
}

export function forwardStage(upstream: Upstream, options: ForwardOptions): Terminal<Masked> {
  const live = options.live;
  return async function forward(ctx) {
    if (ctx.transport.kind === "upgrade") {
      const { socket, head } = ctx.transport;
      switch (streamKind(ctx)) {
        case "exec":
          return relaySession(ctx, upstream, socket, head, options);
        case "portforward":
          return relayPortForward(ctx, upstream, socket, head, live);
        default:
          // Only with a rule's `streams.unrecorded: allow` (enforce refuses otherwise).
          return relayUpgrade(ctx, upstream, socket, head);
      }
    }
    const res = ctx.transport.res;
    const upstreamRequest = upstream.request({
      method: ctx.req.method ?? "GET",
      path: ctx.req.url ?? "/",
      headers: upstreamHeaders(ctx, ctx.masking),
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
    const masker = ctx.masking ? maskerFor(ctx, ctx.masking, upstreamResponse) : undefined;
    ctx.outcome.status = upstreamResponse.statusCode ?? 502;
    const headers = forwardableResponseHeaders(upstreamResponse.headers);
    if (masker && ctx.masking) {
      // Masking changes the length; the answer goes chunked.
      delete headers["content-length"];
      const type = upstreamResponse.headers["content-type"];
      if (type !== undefined) headers["content-type"] = answerContentType(ctx.masking.answer, type);
    }
    res.writeHead(ctx.outcome.status, headers);
    // A watch sends headers long before its first event and clients wait for
    // them; other responses let headers ride with the first body chunk.
    if (ctx.requestInfo.verb === "watch") res.flushHeaders();
    const kind = live ? longRunning(ctx) : undefined;
    if (live === undefined || kind === undefined) {
      return relayResponse(ctx, upstreamResponse, res, masker, undefined);
    }
    const kill = new AbortController();
    const unregister = registerLiveCall(live, ctx, kind, () => kill.abort());
    try {
      await relayResponse(ctx, upstreamResponse, res, masker, kill.signal);
    } finally {
      unregister();
    }
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
  ctx: Masked,
  upstreamResponse: IncomingMessage,
  res: ServerResponse,
  masker: BodyMasker | undefined,
  killed: AbortSignal | undefined,
): Promise<void> {
  // A watch ends with a proper terminating chunk on shutdown; any long call does when killed.
  const stops = [ctx.requestInfo.verb === "watch" ? ctx.shutdown : undefined, killed].filter(
    (s): s is AbortSignal => s !== undefined,
  );
  const endCleanly = stops.length === 0 ? undefined : AbortSignal.any(stops);
  return new Promise<void>((resolve, reject) => {
    let held: Buffer | undefined;
    let ending = false;
    const send = (chunk: Buffer) => {
      if (!res.write(chunk)) upstreamResponse.pause();
    };
    /** Counted and captured before it is sent: the completion record must include it. */
    const account = (chunk: Buffer) => {
      ctx.outcome.bytesOut += chunk.length;
      ctx.onResponseChunk?.(chunk);
    };
    const fail = (err: unknown) => {
      ending = true;
      cleanup();
      upstreamResponse.destroy();
      res.destroy();
      reject(maskingFailed(err));
    };
    /** `shuttingDown`: a watch cut at an event boundary; whatever the masker still holds is dropped. */
    const finish = async (shuttingDown = false) => {
      if (ending) return;
      if (masker) {
        let tail: Buffer;
        try {
          tail = masker.end();
        } catch (err) {
          if (!shuttingDown) return fail(err);
          tail = Buffer.alloc(0);
        }
        if (tail.length > 0) {
          account(tail);
          held = held ? Buffer.concat([held, tail]) : tail;
        }
      }
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
      void finish(true);
      upstreamResponse.destroy();
    };
    const cleanup = () => endCleanly?.removeEventListener("abort", onShutdown);
    // With Content-Length the client knows the answer is complete on its last
    // byte, so that chunk waits; a chunked (streaming) response is complete
    // only at its terminating chunk, so its data flows at once (watch events,
    // followed logs) and only res.end() waits.
    const holdLast = !masker && upstreamResponse.headers["content-length"] !== undefined;
    upstreamResponse.on("data", (received: Buffer) => {
      if (ending) return;
      let chunk = received;
      if (masker) {
        try {
          chunk = masker.push(received);
        } catch (err) {
          return fail(err);
        }
        if (chunk.length === 0) return;
      }
      account(chunk);
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

/** upstreamHeaders for a WebSocket the gateway opens itself: no handshake headers, all strings. */
export function upstreamSocketHeaders(ctx: Classified): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(upstreamHeaders(ctx))) {
    if (value === undefined || name.startsWith("sec-websocket")) continue;
    headers[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return headers;
}

/** Watches (and may hold back) the bytes of an upgraded connection, each way. */
export interface UpgradeTap {
  /** The bytes to send on (the same chunk, usually), or null to hold them back. */
  fromClient(chunk: Buffer): Buffer | null;
  fromServer(chunk: Buffer): Buffer | null;
  /** Once upgraded: how the tap writes bytes of its own to the client, or ends both sides. */
  opened(control: UpgradeControl): void;
}

export interface UpgradeControl {
  sendToClient(bytes: Buffer): void;
  /** Ends the client's side after what was written to it, and drops the upstream. */
  end(): void;
}

function tapStream(see: (chunk: Buffer) => Buffer | null): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      try {
        callback(null, see(chunk) ?? undefined);
      } catch (err) {
        callback(err as Error);
      }
    },
  });
}

/**
 * Relays an HTTP/1.1 upgrade byte for byte: a raw SPDY port-forward (through
 * `tap`), or a stream a rule lets pass unrecorded.
 */
export async function relayUpgrade(
  ctx: Classified,
  upstream: Upstream,
  client: Duplex,
  head: Buffer,
  tap?: UpgradeTap,
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
        const toClient = tap ? tapStream((chunk) => tap.fromServer(chunk)) : new PassThrough();
        const toServer = tap ? tapStream((chunk) => tap.fromClient(chunk)) : new PassThrough();
        if (upstreamHead.length > 0) toClient.write(upstreamHead);
        if (head.length > 0) toServer.write(head);
        upstreamSocket.on("data", (chunk: Buffer) => {
          ctx.outcome.bytesOut += chunk.length;
        });
        let open = 2;
        const done = () => {
          open -= 1;
          if (open === 0) resolve();
        };
        tap?.opened({
          sendToClient: (bytes) => {
            if (!client.destroyed) client.write(bytes);
          },
          end: () => {
            client.end();
            upstreamSocket.destroy();
          },
        });
        pipeline(upstreamSocket, toClient, client).then(done, () => {
          client.destroy();
          resolve();
        });
        pipeline(client, toServer, upstreamSocket).then(done, () => {
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
