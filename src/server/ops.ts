import type { IncomingMessage, ServerResponse } from "node:http";
import type { Upstream } from "../kube/upstream.ts";
import type { GatewayMetrics } from "./metrics.ts";

const readinessCacheMs = 1000;

/**
 * The gateway's own endpoints, answered without authentication like the API
 * server's public health endpoints: /healthz and /livez (the process is up),
 * /readyz (not draining and the API server answers its own /readyz), /metrics.
 * They shadow the API server's endpoints of the same name.
 */
export class OpsEndpoints {
  readonly #upstream: Upstream;
  readonly #metrics: GatewayMetrics;
  readonly #checks: Array<() => Promise<void>>;
  #draining = false;
  #lastCheck = 0;
  #lastResult: { ok: boolean; reason: string } = { ok: false, reason: "not checked yet" };
  #pending: Promise<{ ok: boolean; reason: string }> | undefined;

  constructor(
    upstream: Upstream,
    metrics: GatewayMetrics,
    checks: Array<() => Promise<void>> = [],
  ) {
    this.#upstream = upstream;
    this.#metrics = metrics;
    this.#checks = checks;
  }

  startDraining(): void {
    this.#draining = true;
  }

  /** Handles the request if it is one of ours; returns false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const path = (req.url ?? "").split("?", 1)[0];
    switch (path) {
      case "/healthz":
      case "/livez":
        reply(res, 200, "ok");
        return true;
      case "/readyz":
        this.#readiness().then(
          (r) => reply(res, r.ok ? 200 : 503, r.ok ? "ok" : `not ready: ${r.reason}`),
          (err: Error) => reply(res, 503, `not ready: ${err.message}`),
        );
        return true;
      case "/metrics":
        this.#metrics.registry.metrics().then(
          (text) => reply(res, 200, text, this.#metrics.registry.contentType),
          (err: Error) => reply(res, 500, err.message),
        );
        return true;
      default:
        return false;
    }
  }

  async #check(): Promise<{ ok: boolean; reason: string }> {
    for (const check of this.#checks) {
      try {
        await check();
      } catch (err) {
        return { ok: false, reason: reasonOf(err) };
      }
    }
    try {
      const { status, body } = await this.#upstream.get("/readyz");
      if (status === 200) return { ok: true, reason: "" };
      return { ok: false, reason: `API server /readyz answered ${status}: ${body.slice(0, 200)}` };
    } catch (err) {
      return { ok: false, reason: `API server unreachable: ${reasonOf(err)}` };
    }
  }

  #readiness(): Promise<{ ok: boolean; reason: string }> {
    if (this.#draining) return Promise.resolve({ ok: false, reason: "shutting down" });
    if (Date.now() - this.#lastCheck < readinessCacheMs) return Promise.resolve(this.#lastResult);
    this.#pending ??= this.#check().then((result) => {
      this.#lastResult = result;
      this.#lastCheck = Date.now();
      this.#pending = undefined;
      return result;
    });
    return this.#pending;
  }
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function reply(
  res: ServerResponse,
  status: number,
  body: string,
  type = "text/plain; charset=utf-8",
): void {
  res.writeHead(status, {
    "content-type": type,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  res.end(body);
}
