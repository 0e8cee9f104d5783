import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { PortcullisError } from "../errors.ts";
import type { BodyRef } from "./record.ts";
import type { Blob } from "./store/store.ts";

/** The API server's own limit on request bodies (apiserver MaxRequestBodyBytes). */
export const maxRequestBodyBytes = 3 * 1024 * 1024;

/**
 * Reads a whole request body, refusing more than `limit` bytes. Used when the
 * body must be recorded (or judged) before the call goes upstream; the
 * buffered bytes are then forwarded as they were read.
 */
export async function readRequestBody(
  req: IncomingMessage,
  limit = maxRequestBodyBytes,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      throw new PortcullisError(
        "payload_too_large",
        `portcullis: request body is larger than ${limit} bytes, the API server's own limit`,
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** Keeps the first `cap` bytes of a response stream, counting all of them. */
export class BodyCapture {
  readonly #cap: number;
  readonly #chunks: Buffer[] = [];
  #kept = 0;
  size = 0;

  constructor(cap: number) {
    this.#cap = cap;
  }

  push(chunk: Buffer): void {
    this.size += chunk.length;
    const room = this.#cap - this.#kept;
    if (room <= 0) return;
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    // Copy: the stream may reuse its buffer after the chunk is consumed.
    this.#chunks.push(Buffer.from(part));
    this.#kept += part.length;
  }

  bytes(): Buffer {
    return Buffer.concat(this.#chunks, this.#kept);
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function asText(bytes: Buffer): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * A body reference for a record: small UTF-8 bodies inline, the rest as a
 * content-addressed blob (the record commits to its SHA-256, so a changed
 * blob is as detectable as a changed record).
 */
export function bodyRef(
  kept: Buffer,
  totalSize: number,
  contentType: string,
  maxInlineBytes: number,
): { ref: BodyRef; blob?: Blob } {
  const sha256 = createHash("sha256").update(kept).digest("hex");
  const ref: BodyRef = { contentType, size: totalSize, sha256 };
  if (kept.length < totalSize) ref.truncated = true;
  const text = kept.length <= maxInlineBytes ? asText(kept) : undefined;
  if (text !== undefined) {
    ref.text = text;
    return { ref };
  }
  ref.blob = true;
  return { ref, blob: { sha256, data: kept } };
}
