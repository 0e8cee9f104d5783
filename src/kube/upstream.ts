import { readFileSync } from "node:fs";
import type { ClientRequest, IncomingMessage, OutgoingHttpHeaders } from "node:http";
import http from "node:http";
import https from "node:https";
import tls from "node:tls";
import type { UpstreamTarget } from "./kubeconfig.ts";

export interface UpstreamRequestOptions {
  method: string;
  /** Origin-form request target (path and query), already validated. */
  path: string;
  headers: OutgoingHttpHeaders;
  signal?: AbortSignal;
}

const tokenRefreshMs = 60_000;

/**
 * The API server as the gateway reaches it: one keep-alive agent, the
 * gateway's own credential, and TLS verified against the configured CA.
 */
export class Upstream {
  readonly url: URL;
  readonly #target: UpstreamTarget;
  readonly #agent: http.Agent;
  #token: string | undefined;
  #tokenReadAt = 0;

  constructor(target: UpstreamTarget, options: { maxSockets: number }) {
    this.#target = target;
    this.url = new URL(target.server);
    const common = {
      keepAlive: true,
      maxSockets: options.maxSockets,
      // Keep every socket a burst opened: a new TLS connection per request
      // after each burst costs far more than an idle socket.
      maxFreeSockets: options.maxSockets,
      scheduling: "lifo" as const,
    };
    this.#agent =
      this.url.protocol === "https:"
        ? new https.Agent({
            ...common,
            // One secure context for every connection (the agent would
            // otherwise parse the CA and key again for each new socket).
            // Verification stays on (rejectUnauthorized defaults to true).
            secureContext: tls.createSecureContext({
              ...(target.caPem ? { ca: target.caPem } : {}),
              ...(target.clientCertPem ? { cert: target.clientCertPem } : {}),
              ...(target.clientKeyPem ? { key: target.clientKeyPem } : {}),
            }),
          })
        : new http.Agent(common);
    this.#token = target.token;
  }

  /** The gateway's bearer token; projected tokens are re-read once a minute. */
  #authorization(): string | undefined {
    const file = this.#target.tokenFile;
    if (file && Date.now() - this.#tokenReadAt > tokenRefreshMs) {
      this.#token = readFileSync(file, "utf8").trim();
      this.#tokenReadAt = Date.now();
    }
    return this.#token ? `Bearer ${this.#token}` : undefined;
  }

  request(options: UpstreamRequestOptions): ClientRequest {
    const headers: OutgoingHttpHeaders = { ...options.headers };
    const authorization = this.#authorization();
    if (authorization) headers.authorization = authorization;
    const transport = this.url.protocol === "https:" ? https : http;
    return transport.request({
      protocol: this.url.protocol,
      hostname: this.url.hostname.replace(/^\[|\]$/g, ""),
      port: this.url.port || (this.url.protocol === "https:" ? 443 : 80),
      method: options.method,
      path: options.path,
      headers,
      agent: this.#agent,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /**
   * What a WebSocket client needs to open `path` upstream as the gateway:
   * the wss URL, the gateway's credential added to `headers`, and the TLS
   * material (verification stays on).
   */
  socketTarget(
    path: string,
    headers: Record<string, string | string[]>,
  ): {
    url: string;
    headers: Record<string, string | string[]>;
    ca?: string;
    cert?: string;
    key?: string;
  } {
    const url = new URL(path, this.url);
    url.protocol = this.url.protocol === "https:" ? "wss:" : "ws:";
    const authorization = this.#authorization();
    return {
      url: url.toString(),
      headers: { ...headers, ...(authorization ? { authorization } : {}) },
      ...(this.#target.caPem ? { ca: this.#target.caPem } : {}),
      ...(this.#target.clientCertPem ? { cert: this.#target.clientCertPem } : {}),
      ...(this.#target.clientKeyPem ? { key: this.#target.clientKeyPem } : {}),
    };
  }

  /** A GET as the gateway itself, body collected (small responses only). */
  get(path: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = this.request({
        method: "GET",
        path,
        headers: { accept: "application/json" },
        signal: AbortSignal.timeout(timeoutMs),
      });
      req.on("response", (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end();
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
