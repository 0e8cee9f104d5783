import { isPortcullisError } from "../errors.ts";
import { toStatus } from "../kube/status.ts";
import type { RequestContext } from "./context.ts";
import type { GatewayMetrics } from "./metrics.ts";
import { writeStatusToSocket } from "./raw-response.ts";

/** Status recorded when the client left before an answer was complete (nginx's convention). */
const clientClosedRequest = 499;

function isClientAbort(ctx: RequestContext, err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return (
    ctx.signal.aborted ||
    code === "ERR_STREAM_PREMATURE_CLOSE" ||
    code === "ECONNRESET" ||
    (err as Error | undefined)?.name === "AbortError"
  );
}

/**
 * Runs the pipeline for one request. The only place that turns an error into
 * a response: a Status before headers are sent, an aborted stream after.
 */
export function createRunner(
  pipeline: (ctx: RequestContext) => Promise<void>,
  metrics: GatewayMetrics,
): (ctx: RequestContext) => Promise<void> {
  return async function run(ctx) {
    metrics.started();
    try {
      await pipeline(ctx);
    } catch (err) {
      renderError(ctx, err);
    } finally {
      // A watch or stream lasts as long as the client wants: not a latency.
      const longRunning = ctx.outcome.verb === "watch" || ctx.transport.kind === "upgrade";
      const seconds = (performance.now() - ctx.startedAt) / 1000;
      metrics.finished(ctx.outcome, seconds, longRunning);
      ctx.log.info(
        {
          user: ctx.outcome.user || undefined,
          method: ctx.req.method,
          path: ctx.req.url,
          verb: ctx.outcome.verb,
          resource: ctx.outcome.resource,
          status: ctx.outcome.status,
          bytes: ctx.outcome.bytesOut,
          ms: Math.round(seconds * 10000) / 10,
        },
        "request",
      );
    }
  };
}

function renderError(ctx: RequestContext, err: unknown): void {
  if (ctx.transport.kind === "upgrade") {
    if (ctx.outcome.status === 0)
      ctx.outcome.status = writeStatusToSocket(ctx.transport.socket, err).code;
    else ctx.transport.socket.destroy();
    logError(ctx, err);
    return;
  }
  const res = ctx.transport.res;
  if (res.headersSent) {
    // Too late for a Status: abort so the client sees a broken stream, not a
    // response that merely looks complete.
    if (ctx.outcome.status === 0) ctx.outcome.status = res.statusCode;
    res.destroy();
    if (!isClientAbort(ctx, err)) logError(ctx, err);
    return;
  }
  if (isClientAbort(ctx, err) && !isPortcullisError(err)) {
    ctx.outcome.status = clientClosedRequest;
    res.destroy();
    return;
  }
  const status = toStatus(err);
  ctx.outcome.status = status.code;
  const body = JSON.stringify(status);
  res.writeHead(status.code, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  res.end(body);
  logError(ctx, err);
}

function logError(ctx: RequestContext, err: unknown): void {
  if (isPortcullisError(err)) {
    const level = err.code === "internal" || err.code.startsWith("upstream") ? "error" : "info";
    ctx.log[level]({ code: err.code, detail: err.detail, cause: err.cause }, err.message);
  } else {
    ctx.log.error({ err }, "unexpected error");
  }
}
