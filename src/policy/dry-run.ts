/**
 * Writes judged on their result: the object the API server would store for a
 * create, update or patch (any patch type, server-side apply included), with
 * defaults and admission applied, obtained by sending the same request as the
 * same impersonated caller with `dryRun=All`; and the current object, for
 * updates, patches and deletes (`oldObject`).
 *
 * Time of check, time of use: the real request follows the dry-run, so an
 * object changed by someone else in between is judged as it was at the
 * dry-run. For create and update the real request carries the same body; for
 * patches the patch is applied to whatever is current when the real request
 * arrives. Kubernetes' own optimistic concurrency (resourceVersion in the
 * body, or a `test` op in a JSON patch) closes the window for callers that
 * use it.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import type { Identity } from "../identity/identity.ts";
import { impersonationHeaders } from "../kube/impersonation.ts";
import type { RequestInfo } from "../kube/request-info.ts";
import type { Upstream } from "../kube/upstream.ts";

export interface UpstreamAnswer {
  status: number;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

const maxObjectBytes = 16 * 1024 * 1024;

function send(
  upstream: Upstream,
  method: string,
  path: string,
  headers: OutgoingHttpHeaders,
  body?: Buffer,
): Promise<UpstreamAnswer> {
  return new Promise((resolve, reject) => {
    const req = upstream.request({ method, path, headers, signal: AbortSignal.timeout(30_000) });
    req.once("response", (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxObjectBytes) return res.destroy(new Error("dry-run answer too large"));
        chunks.push(chunk);
      });
      res.once("error", reject);
      res.once("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.once("error", reject);
    req.end(body);
  });
}

/** `path` with `dryRun=All` added to its query. */
export function withDryRun(path: string): string {
  return `${path}${path.includes("?") ? "&" : "?"}dryRun=All`;
}

function baseHeaders(identity: Identity, requestId: string): OutgoingHttpHeaders {
  return { ...impersonationHeaders(identity), accept: "application/json", "audit-id": requestId };
}

/** The object as the API server would store it, or its refusal. */
export function dryRunWrite(
  upstream: Upstream,
  options: {
    method: string;
    path: string;
    contentType: string;
    body: Buffer;
    identity: Identity;
    requestId: string;
  },
): Promise<UpstreamAnswer> {
  return send(
    upstream,
    options.method,
    withDryRun(options.path),
    {
      ...baseHeaders(options.identity, options.requestId),
      "content-type": options.contentType,
      "content-length": options.body.length,
    },
    options.body,
  );
}

/** The current object the call addresses (GET as the caller), for oldObject. */
export function currentObject(
  upstream: Upstream,
  info: RequestInfo,
  identity: Identity,
  requestId: string,
): Promise<UpstreamAnswer> {
  return send(upstream, "GET", info.path.replace(/\/+$/, ""), baseHeaders(identity, requestId));
}

export function parseObject(answer: UpstreamAnswer): unknown {
  return JSON.parse(answer.body.toString("utf8"));
}
