/**
 * The SQLite audit store's database thread. node:sqlite is synchronous and a
 * durable commit waits for fsync, so the database lives here, off the
 * gateway's event loop; sqlite.ts talks to it with {id, op, args} messages.
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { parentPort, workerData } from "node:worker_threads";
import { searchTerms } from "./engine-rules.ts";
import { inTransaction, openDatabase } from "./sqlite-schema.ts";
import type { CheckpointRow, LogBase, LogHead, NewRow, SearchFilter, StoredRow } from "./store.ts";

/** A batch as it crosses threads: leaf hashes packed in one transferable buffer. */
export interface WireBatch {
  rows: Omit<NewRow, "leafHash">[];
  leafHashes: Uint8Array;
  blobs: { sha256: string; data: Uint8Array }[];
  head: LogHead;
}

export interface WorkerConfig {
  path: string;
  busyTimeoutMs: number;
}

export type SqliteRequest = { id: number; op: keyof SqliteOps; args: unknown[] };
export type SqliteResponse =
  | { id: number; ok: true; value: unknown }
  /** errcode: SQLite's result code, when the database refused. */
  | { id: number; ok: false; name: string; message: string; errcode?: number };

function isoTime(time: string): string {
  const ms = Date.parse(time);
  if (Number.isNaN(ms)) throw new Error(`record time ${JSON.stringify(time)} is not an ISO time`);
  // One format, so text comparison is time order.
  return new Date(ms).toISOString();
}

function createOps(db: DatabaseSync) {
  const stmt = (sql: string) => db.prepare(sql);
  const readHeadStmt = stmt("SELECT size, frontier FROM head WHERE id = 1");
  const insertRecord = stmt(
    `INSERT INTO records (seq, body, leaf_hash, time, kind, request_id, username, subject,
       identity_kind, verb, resource, namespace, name, decision, session_id, status)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertBlob = stmt("INSERT OR IGNORE INTO blobs (sha256, data) VALUES (?, ?)");
  const insertRef = stmt("INSERT OR IGNORE INTO blob_refs (seq, sha256) VALUES (?, ?)");
  const updateHead = stmt("UPDATE head SET size = ?, frontier = ? WHERE id = 1");
  const searches = new Map<string, StatementSync>();

  function readHead(): LogHead {
    const row = readHeadStmt.get() as { size: number; frontier: string };
    return { size: row.size, frontier: JSON.parse(row.frontier) };
  }

  function insertBatch(batch: WireBatch): void {
    batch.rows.forEach((row, i) => {
      const x = row.index;
      const leafHash = batch.leafHashes.subarray(i * 32, i * 32 + 32);
      insertRecord.run(
        row.seq,
        row.body,
        leafHash,
        isoTime(x.time),
        x.kind,
        x.requestId,
        x.username ?? null,
        x.subject ?? null,
        x.identityKind ?? null,
        x.verb ?? null,
        x.resource ?? null,
        x.namespace ?? null,
        x.name ?? null,
        x.decision ?? null,
        x.sessionId ?? null,
        x.status ?? null,
      );
      for (const sha256 of row.blobRefs) insertRef.run(row.seq, sha256);
    });
    for (const blob of batch.blobs) insertBlob.run(blob.sha256, blob.data);
    updateHead.run(batch.head.size, JSON.stringify(batch.head.frontier));
  }

  return {
    head: readHead,
    /** Commits a batch built on `expected`; "moved" if another writer got there first. */
    commit(expected: LogHead, batch: WireBatch): "committed" | "moved" {
      return inTransaction(db, () => {
        const head = readHead();
        if (
          head.size !== expected.size ||
          JSON.stringify(head.frontier) !== JSON.stringify(expected.frontier)
        )
          return "moved";
        insertBatch(batch);
        return "committed";
      });
    },
    addCheckpoint(size: number, note: string, createdAt: string): void {
      stmt("INSERT INTO checkpoints (size, note, created_at) VALUES (?, ?, ?)").run(
        size,
        note,
        createdAt,
      );
    },
    checkpoints(): CheckpointRow[] {
      const rows = stmt("SELECT size, note, created_at FROM checkpoints ORDER BY size").all();
      return rows.map((r) => ({
        size: Number(r.size),
        note: String(r.note),
        createdAt: String(r.created_at),
      }));
    },
    scan(from: number, to: number, limit: number): StoredRow[] {
      const sql = "SELECT seq, body FROM records WHERE seq >= ? AND seq < ? ORDER BY seq LIMIT ?";
      return stmt(sql).all(from, to, limit) as unknown as StoredRow[];
    },
    /** All hashes packed into one buffer, so the reply transfers instead of copying. */
    leafHashes(from: number, to: number): Uint8Array {
      const rows = stmt(
        "SELECT leaf_hash FROM records WHERE seq >= ? AND seq < ? ORDER BY seq",
      ).all(from, to);
      const packed = new Uint8Array(rows.length * 32);
      rows.forEach((r, i) => {
        packed.set(r.leaf_hash as Uint8Array, i * 32);
      });
      return packed;
    },
    search(filter: SearchFilter): StoredRow[] {
      const where: string[] = ["seq > ?"];
      const args: SQLInputValue[] = [filter.afterSeq ?? -1];
      for (const [column, value] of searchTerms(filter)) {
        where.push(`${column} = ?`);
        args.push(value);
      }
      if (filter.from !== undefined) {
        where.push("time >= ?");
        args.push(isoTime(filter.from));
      }
      if (filter.to !== undefined) {
        where.push("time < ?");
        args.push(isoTime(filter.to));
      }
      const sql = `SELECT seq, body FROM records WHERE ${where.join(" AND ")} ORDER BY seq LIMIT ?`;
      const search = searches.get(sql) ?? stmt(sql);
      searches.set(sql, search);
      return search.all(...args, filter.limit ?? 1000) as unknown as StoredRow[];
    },
    getBlob(sha256: string): Uint8Array | undefined {
      return stmt("SELECT data FROM blobs WHERE sha256 = ?").get(sha256)?.data as
        | Uint8Array
        | undefined;
    },
    prune(base: LogBase): void {
      inTransaction(db, () => {
        const kept = stmt("SELECT size FROM base WHERE id = 1").get();
        if (base.size > readHead().size)
          throw new RangeError(`prune base ${base.size} is beyond the log head`);
        if (kept && base.size < Number(kept.size))
          throw new RangeError(`prune base ${base.size} is below the current base ${kept.size}`);
        // Blobs whose every reference is pruned go; blobs a kept row refers to stay.
        db.exec("CREATE TEMP TABLE pruned_blobs (sha256 TEXT PRIMARY KEY)");
        stmt("INSERT OR IGNORE INTO pruned_blobs SELECT sha256 FROM blob_refs WHERE seq < ?").run(
          base.size,
        );
        stmt("DELETE FROM blob_refs WHERE seq < ?").run(base.size);
        stmt("DELETE FROM records WHERE seq < ?").run(base.size);
        db.exec(`DELETE FROM blobs WHERE sha256 IN (SELECT sha256 FROM pruned_blobs)
                 AND NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.sha256 = blobs.sha256)`);
        db.exec("DROP TABLE temp.pruned_blobs");
        stmt("INSERT OR REPLACE INTO base (id, size, frontier) VALUES (1, ?, ?)").run(
          base.size,
          JSON.stringify(base.frontier),
        );
      });
    },
    base(): LogBase | undefined {
      const row = stmt("SELECT size, frontier FROM base WHERE id = 1").get();
      return row && { size: Number(row.size), frontier: JSON.parse(String(row.frontier)) };
    },
    ping(): void {
      // A tiny real write: a store that can be read but not written (disk
      // full, locked) must not report ready.
      db.exec("BEGIN IMMEDIATE");
      try {
        db.exec("UPDATE head SET size = size WHERE id = 1");
        db.exec("COMMIT");
      } catch (err) {
        if (db.isTransaction) db.exec("ROLLBACK");
        throw err;
      }
    },
    close(): void {
      if (db.isOpen) db.close();
    },
  };
}

export type SqliteOps = ReturnType<typeof createOps>;

/** Replies own their buffers (fresh from SQLite), so they can move rather than copy. */
function transferables(value: unknown): ArrayBuffer[] {
  if (value instanceof Uint8Array && value.byteOffset === 0 && value.buffer instanceof ArrayBuffer)
    return value.byteLength === value.buffer.byteLength ? [value.buffer] : [];
  return [];
}

function failure(id: number, error: unknown): SqliteResponse {
  const { name, message, errcode } = error as Error & { errcode?: number };
  return { id, ok: false, name, message, ...(typeof errcode === "number" ? { errcode } : {}) };
}

function serve(): void {
  const port = parentPort;
  if (!port) throw new Error("sqlite-worker.ts runs as a worker thread");
  let ops: SqliteOps;
  try {
    const { path, busyTimeoutMs } = workerData as WorkerConfig;
    ops = createOps(openDatabase(path, busyTimeoutMs));
  } catch (error) {
    port.postMessage(failure(0, error));
    return;
  }
  port.postMessage({ id: 0, ok: true, value: null });
  port.on("message", function handle({ id, op, args }: SqliteRequest) {
    try {
      const value = (ops[op] as (...a: unknown[]) => unknown)(...args);
      port.postMessage({ id, ok: true, value }, transferables(value));
    } catch (error) {
      port.postMessage(failure(id, error));
    }
  });
}

serve();
