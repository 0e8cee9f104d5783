/**
 * A minimal JSON client for the test control plane's own fixtures (readiness,
 * RBAC bootstrap, namespaces). Node's fetch cannot take a custom CA without
 * undici internals, so this uses node:https directly.
 */
import { request } from "node:https";

export interface ApiTarget {
  server: string;
  caPem: string;
  token: string;
}

export interface ApiResponse {
  status: number;
  text: string;
}

export function apiRequest(
  target: ApiTarget,
  method: string,
  path: string,
  body?: unknown,
): Promise<ApiResponse> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, target.server),
      {
        method,
        ca: target.caPem,
        timeout: 10_000,
        headers: {
          authorization: `Bearer ${target.token}`,
          accept: "application/json",
          ...(payload === undefined ? {} : { "content-type": "application/json" }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** Like apiRequest, but any status outside 2xx (and `allowed`) is an error quoting the body. */
export async function apiCall(
  target: ApiTarget,
  method: string,
  path: string,
  body?: unknown,
  allowed: number[] = [],
): Promise<ApiResponse> {
  const response = await apiRequest(target, method, path, body);
  if ((response.status < 200 || response.status > 299) && !allowed.includes(response.status)) {
    throw new Error(`${method} ${path}: HTTP ${response.status}: ${response.text.slice(0, 500)}`);
  }
  return response;
}

/**
 * Calls `attempt` every 100 ms until it returns true or `timeoutMs` passes;
 * errors count as "not yet" and the last one is quoted on timeout. An aborted
 * `signal` ends the wait early (the caller has already given up).
 */
export async function waitUntil(
  what: string,
  timeoutMs: number,
  attempt: () => Promise<boolean>,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastProblem = "";
  for (;;) {
    signal?.throwIfAborted();
    try {
      if (await attempt()) return;
      lastProblem = "";
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    if (Date.now() > deadline) {
      const detail = lastProblem ? `: ${lastProblem}` : "";
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${detail}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
}
