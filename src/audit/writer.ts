import type { Logger } from "pino";
import { canonicalJson } from "./canonical.ts";
import { CompactRange, leafHash } from "./merkle.ts";
import { type AuditRecord, indexOf } from "./record.ts";
import type {
  AuditStore,
  Blob,
  BuiltBatch,
  CheckpointRow,
  LogHead,
  NewRow,
} from "./store/store.ts";

/** Signs a checkpoint of the tree of `size` leaves with root `rootHash`; returns the note text. */
export interface CheckpointSigner {
  readonly origin: string;
  sign(size: number, rootHash: Buffer): string;
}

export interface AuditWriterOptions {
  store: AuditStore;
  signer: CheckpointSigner;
  /** Sign a checkpoint after this many new records… */
  checkpointEveryRecords: number;
  /** …or after this many seconds with new records, whichever comes first. */
  checkpointEverySeconds: number;
  /** Most records committed in one transaction. */
  maxBatch: number;
  log: Logger;
}

interface Pending {
  record: AuditRecord;
  blobs: Blob[];
  resolve: (seq: number) => void;
  reject: (err: unknown) => void;
}

/**
 * Turns each batch into rows inside the store's transaction: sequence
 * numbers from the locked head, RFC 8785 bodies, RFC 6962 leaf hashes and the
 * new frontier. Pure and synchronous, as `AuditStore.append` requires.
 */
export function buildBatch(
  head: LogHead,
  batch: ReadonlyArray<{ record: AuditRecord; blobs: Blob[] }>,
): BuiltBatch {
  const tree = CompactRange.fromJSON(head);
  const rows: NewRow[] = [];
  const blobs: Blob[] = [];
  for (const { record, blobs: recordBlobs } of batch) {
    const seq = tree.size;
    const body = canonicalJson({ ...record, seq });
    const leaf = leafHash(Buffer.from(body, "utf8"));
    tree.append(leaf);
    rows.push({
      seq,
      body,
      leafHash: leaf,
      index: indexOf(record),
      blobRefs: recordBlobs.map((b) => b.sha256),
    });
    blobs.push(...recordBlobs);
  }
  return { rows, blobs, head: tree.toJSON() };
}

/**
 * The one way records enter the log. Group commit: while one transaction is
 * in flight, new records queue up and go together in the next, so a quiet
 * gateway commits each record at once and a busy one amortizes the fsync over
 * hundreds. `record()` resolves only when its record is durable.
 */
export class AuditWriter {
  readonly #options: AuditWriterOptions;
  #queue: Pending[] = [];
  #flushing = false;
  #size = 0;
  #lastCheckpointSize = 0;
  #checkpointing: Promise<CheckpointRow | undefined> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #lastFailure: { at: number; message: string } | undefined;

  private constructor(options: AuditWriterOptions) {
    this.#options = options;
  }

  static async open(options: AuditWriterOptions): Promise<AuditWriter> {
    const writer = new AuditWriter(options);
    writer.#size = (await options.store.head()).size;
    const checkpoints = await options.store.checkpoints();
    writer.#lastCheckpointSize = checkpoints.at(-1)?.size ?? 0;
    writer.#timer = setInterval(() => {
      if (writer.#size > writer.#lastCheckpointSize) void writer.checkpoint().catch(() => {});
    }, options.checkpointEverySeconds * 1000);
    writer.#timer.unref();
    return writer;
  }

  /** Records one entry; resolves with its sequence number once it is durable. */
  record(record: AuditRecord, blobs: Blob[] = []): Promise<number> {
    if (this.#closed) return Promise.reject(new Error("audit writer is closed"));
    return new Promise((resolve, reject) => {
      this.#queue.push({ record, blobs, resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#options.maxBatch);
        let first = 0;
        try {
          await this.#options.store.append((head) => {
            first = head.size;
            return buildBatch(head, batch);
          });
        } catch (err) {
          this.#lastFailure = { at: Date.now(), message: (err as Error)?.message ?? String(err) };
          for (const pending of batch) pending.reject(err);
          continue;
        }
        this.#lastFailure = undefined;
        this.#size = first + batch.length;
        batch.forEach((pending, i) => {
          pending.resolve(first + i);
        });
        if (this.#size - this.#lastCheckpointSize >= this.#options.checkpointEveryRecords) {
          void this.checkpoint().catch(() => {});
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  /**
   * Rejects while appends are failing: the last one failed within `withinMs`
   * and none has succeeded since. A store that can be read but not written
   * (disk full) passes a ping, so readiness asks the writer too.
   */
  async health(withinMs = 5000): Promise<void> {
    const failure = this.#lastFailure;
    if (failure && Date.now() - failure.at < withinMs) throw new Error(failure.message);
  }

  /** Signs and stores a checkpoint of the log as it stands; one at a time. */
  checkpoint(): Promise<CheckpointRow | undefined> {
    this.#checkpointing ??= this.#checkpoint().finally(() => {
      this.#checkpointing = undefined;
    });
    return this.#checkpointing;
  }

  async #checkpoint(): Promise<CheckpointRow | undefined> {
    const { store, signer, log } = this.#options;
    try {
      const head = await store.head();
      if (head.size === 0) return undefined;
      const existing = (await store.checkpoints()).at(-1);
      if (existing && existing.size >= head.size) {
        this.#lastCheckpointSize = existing.size;
        return existing;
      }
      const note = signer.sign(head.size, CompactRange.fromJSON(head).root());
      await store.addCheckpoint({ size: head.size, note });
      this.#lastCheckpointSize = head.size;
      return { size: head.size, note, createdAt: new Date().toISOString() };
    } catch (err) {
      // Another replica may have signed the same size first; anything else
      // is retried by the next trigger. Records stay durable either way.
      log.warn({ err }, "audit: checkpoint not written");
      throw err;
    }
  }

  /** Flushes what is queued and signs a final checkpoint. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    while (this.#flushing || this.#queue.length > 0) await new Promise((r) => setTimeout(r, 5));
    if (this.#size > this.#lastCheckpointSize) await this.checkpoint().catch(() => {});
  }
}
