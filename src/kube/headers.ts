import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from "node:http";

/**
 * Request headers a client may send through the gateway. Everything else is
 * dropped: credentials (`Authorization`), identity assertions (`Impersonate-*`,
 * front-proxy `X-Remote-*`) and anything we have not thought about. An
 * allow-list fails closed when a new dangerous header appears.
 */
const forwardedRequestHeaders = new Set([
  "accept",
  "accept-encoding",
  "accept-language",
  "content-type",
  "content-length",
  "content-encoding",
  "user-agent",
  "kubectl-command",
  "kubectl-session",
  "x-stream-protocol-version",
  "sec-websocket-protocol",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "if-match",
  "if-none-match",
]);

/** RFC 9110 §7.6.1 hop-by-hop headers, never copied from one connection to the next. */
const hopByHop = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Header names listed in `Connection:` — hop-by-hop for this message only. */
export function connectionListed(headers: IncomingHttpHeaders): Set<string> {
  const listed = new Set<string>();
  const value = headers.connection;
  if (value === undefined) return listed;
  for (const token of String(value).split(",")) {
    const name = token.trim().toLowerCase();
    if (name) listed.add(name);
  }
  return listed;
}

/**
 * The client headers that may go upstream. Connection-listed headers are
 * removed first; the gateway adds its own credential and impersonation headers
 * afterwards, so a client listing `Impersonate-User` or `Authorization` in
 * `Connection:` can never strip what the gateway asserts.
 */
export function forwardableRequestHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionListed(headers);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || listed.has(name) || !forwardedRequestHeaders.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Response headers to copy back to the client: all but hop-by-hop ones. */
export function forwardableResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionListed(headers);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || hopByHop.has(name) || listed.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** RFC 9112 §6.3: a request has a body only if its headers say so. */
export function requestHasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}
