import type { OutgoingHttpHeaders } from "node:http";
import { request } from "node:https";

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
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
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(options.body ?? "");
  });
}
