/**
 * The audit store contract: one interface, two engines (SQLite for one
 * gateway, PostgreSQL for replicas sharing one log), one contract test suite.
 *
 * Engines know nothing about Merkle trees or canonical JSON. The writer
 * (src/audit/writer.ts) is the only code that turns records into rows: inside
 * `append`, the engine locks the log head, hands it to the writer's `build`
 * callback, and persists the rows and the new head `build` returns, all in
 * one durable transaction. That makes the head lock the single sequencer even
 * when several gateway replicas write to one PostgreSQL database.
 */

/** The state of the log after its last committed record. Opaque to engines. */
export interface LogHead {
  /** Number of records (leaves) so far; the next record gets seq = size. */
  size: number;
  /** The Merkle tree's compact range (hex hashes), persisted with each batch. */
  frontier: string[];
}

/** Columns engines index for search; all derived from the record body. */
export interface RecordIndex {
  time: string;
  kind: string;
  requestId: string;
  username?: string;
  subject?: string;
  identityKind?: string;
  verb?: string;
  resource?: string;
  namespace?: string;
  name?: string;
  decision?: string;
  sessionId?: string;
  status?: number;
}

export interface NewRow {
  seq: number;
  /** RFC 8785 canonical JSON of the record (which includes its seq). */
  body: string;
  /** RFC 6962 leaf hash of `body`, 32 bytes. A cache: verifiers recompute it. */
  leafHash: Buffer;
  index: RecordIndex;
  /** SHA-256s of the blobs this record references (kept until no kept row refers to them). */
  blobRefs: string[];
}

/** Content-addressed large bodies, referenced from records by SHA-256. */
export interface Blob {
  sha256: string;
  data: Buffer;
}

export interface BuiltBatch {
  rows: NewRow[];
  blobs: Blob[];
  head: LogHead;
}

export interface StoredRow {
  seq: number;
  body: string;
}

export interface CheckpointRow {
  size: number;
  /** The C2SP signed note text of the checkpoint. */
  note: string;
  createdAt: string;
}

/** After retention pruning: the tree state below the first kept record. */
export interface LogBase {
  size: number;
  frontier: string[];
}

export interface SearchFilter {
  username?: string;
  subject?: string;
  /** ISO time, inclusive. */
  from?: string;
  /** ISO time, exclusive. */
  to?: string;
  verb?: string;
  resource?: string;
  namespace?: string;
  name?: string;
  decision?: string;
  sessionId?: string;
  requestId?: string;
  kind?: string;
  /** Default 1000; results in seq order. */
  limit?: number;
  /** Seq to start after, for paging. */
  afterSeq?: number;
}

export interface AuditStore {
  readonly engine: "sqlite" | "postgres";
  /**
   * Durably appends one batch. `build` runs inside the transaction with the
   * locked head and must be synchronous and pure (it may be retried).
   * Rejects (and persists nothing) if the store is unavailable.
   */
  append(build: (head: LogHead) => BuiltBatch): Promise<void>;
  head(): Promise<LogHead>;
  addCheckpoint(checkpoint: Omit<CheckpointRow, "createdAt">): Promise<void>;
  /** All checkpoints, by size ascending. */
  checkpoints(): Promise<CheckpointRow[]>;
  /** Rows with from <= seq < to (to defaults to the end), in seq order, in pages. */
  scan(from: number, to?: number): AsyncIterable<StoredRow>;
  /** Stored leaf hashes for from <= seq < to (for proofs; verifiers recompute). */
  leafHashes(from: number, to: number): Promise<Buffer[]>;
  search(filter: SearchFilter): Promise<StoredRow[]>;
  getBlob(sha256: string): Promise<Buffer | undefined>;
  /** Deletes rows with seq < base.size and records `base`; blobs no longer referenced go too. */
  prune(base: LogBase): Promise<void>;
  base(): Promise<LogBase | undefined>;
  /** Cheap liveness check (a round trip); rejects when unavailable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
