import type { OutgoingHttpHeaders } from "node:http";
import { request } from "node:https";

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The body as received (binary answers: CBOR, protobuf). */
  bytes: Buffer;
}

/**
 * One HTTPS request with exactly the headers given (arrays send a header
 * several times) and the path sent verbatim, so tests can send what a
 * hostile client would.
 */
export function rawRequest(
  baseUrl: string,
  caPem: string,
  options: { method?: string; path: string; headers?: OutgoingHttpHeaders; body?: string },
): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        servername: url.hostname,
        method: options.method ?? "GET",
        path: options.path,
        headers: options.headers ?? {},
        ca: caPem,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const bytes = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: bytes.toString("utf8"),
            bytes,
          });
        });
      },
    );
    req.on("error", reject);
    req.end(options.body ?? "");
  });
}
