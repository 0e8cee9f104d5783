/**
 * An evidence bundle read back as a LogSource, so `verifyLog` checks it
 * exactly as it checks a store. Its base is `base.json`: any frontier,
 * trusted only because, together with the records, it reproduces a signed
 * root. records.jsonl is read as bytes and split on LF alone, so a changed,
 * added or removed byte (even a CR) reaches the hash.
 */
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { CheckpointRow, LogBase, StoredRow } from "./store/store.ts";
import type { LogSource } from "./verify.ts";
import type { ConsistencyProofJson } from "./verify-checkpoints.ts";
import { VerifyFailure } from "./verify-record.ts";

async function readJson<T>(dir: string, name: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(join(dir, name), "utf8");
  } catch (error) {
    throw new Error(
      `${join(dir, name)}: ${(error as Error).message} (is this an evidence bundle?)`,
    );
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new VerifyFailure(`${name}: not valid JSON`);
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeLine(bytes: Buffer, seq: number): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new VerifyFailure(`record ${seq}: not valid UTF-8 in records.jsonl`, { seq });
  }
}

/** Yields the lines of a file as raw bytes, split on 0x0A only. */
async function* lines(path: string): AsyncGenerator<Buffer> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(path, {
    highWaterMark: 1 << 20,
  }) as AsyncIterable<Buffer>) {
    let data = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    for (let newline = data.indexOf(0x0a); newline >= 0; newline = data.indexOf(0x0a)) {
      yield data.subarray(0, newline);
      data = data.subarray(newline + 1);
    }
    rest = Buffer.from(data);
  }
  if (rest.length > 0) yield rest; // a last line without its newline still counts
}

async function readBase(dir: string): Promise<LogBase> {
  const base = await readJson<LogBase>(dir, "base.json");
  if (!Number.isSafeInteger(base?.size) || base.size < 0)
    throw new VerifyFailure("base.json: size is not a non-negative integer");
  return base;
}

/** Opens lazily: a missing or malformed file surfaces inside `verifyLog`, as its failure. */
export function openEvidenceBundle(dir: string): LogSource {
  let base: Promise<LogBase> | undefined;
  const loadBase = () => {
    base ??= readBase(dir);
    return base;
  };
  return {
    excerpt: true,
    base: loadBase,
    checkpoints: () =>
      readJson<Array<Pick<CheckpointRow, "size" | "note">>>(dir, "checkpoints.json"),
    consistencyProofs: () => readJson<ConsistencyProofJson[]>(dir, "proofs.json"),
    async *scan(from: number): AsyncGenerator<StoredRow> {
      let seq = (await loadBase()).size;
      for await (const line of lines(join(dir, "records.jsonl"))) {
        if (seq >= from) yield { seq, body: decodeLine(line, seq) };
        seq++;
      }
    },
    async getBlob(sha256: string) {
      if (!/^[0-9a-f]{64}$/.test(sha256)) return undefined;
      return readFile(join(dir, "blobs", sha256)).catch(() => undefined);
    },
  };
}
