import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { type KubeStatus, toStatus } from "../kube/status.ts";

/** Status line and headers for a response written straight to a socket. */
export function serializeResponseHead(
  status: number,
  message: string | undefined,
  rawHeaders: string[],
): Buffer {
  let head = `HTTP/1.1 ${status} ${message || STATUS_CODES[status] || ""}\r\n`;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  }
  return Buffer.from(`${head}\r\n`, "latin1");
}

/** Answers an upgrade request that will not be upgraded with a Status, then closes. */
export function writeStatusToSocket(socket: Duplex, err: unknown): KubeStatus {
  const status = toStatus(err);
  const body = Buffer.from(JSON.stringify(status));
  const head = serializeResponseHead(status.code, undefined, [
    "content-type",
    "application/json",
    "content-length",
    String(body.length),
    "connection",
    "close",
  ]);
  if (!socket.destroyed) socket.end(Buffer.concat([head, body]));
  return status;
}
