/**
 * The shared audit store for several gateway replicas: one PostgreSQL schema.
 * `append` locks the single head row (SELECT … FOR UPDATE), so that lock is
 * the one sequencer across replicas; rows go in with one unnest INSERT per
 * table. Any failure rolls back and destroys the connection, so an outage
 * never wedges the pool and the first append after it works again.
 */
import pg from "pg";
import { PortcullisError } from "../../errors.ts";
import { assertAllLeaves, assertBatchFollows, scanPageSize, searchTerms } from "./engine-rules.ts";
import { inTransaction as inPoolTransaction, openPool } from "./postgres-pool.ts";
import { migrate, quoteSchema, recordColumns } from "./postgres-schema.ts";
import type { AuditStore, BuiltBatch, LogBase, LogHead, StoredRow } from "./store.ts";

export interface PostgresStoreOptions {
  connectionString: string;
  /** Schema holding the tables; default "portcullis". */
  schema?: string;
  poolSize?: number;
  /** Fail fast when the server is unreachable (default 3 s). */
  connectTimeoutMs?: number;
  /** Fail rather than hang on a stalled server; includes waiting for the head lock (default 15 s). */
  queryTimeoutMs?: number;
}

/**
 * Server and network failures (refused, terminated, timed out) mean "unavailable";
 * data errors (SQLSTATE classes 22, 23) and our own validation are bugs, not outages.
 */
function toError(error: unknown): unknown {
  if (error instanceof PortcullisError || error instanceof RangeError) return error;
  const { message } = error as Error;
  if (error instanceof pg.DatabaseError && /^2[23]/.test(error.code ?? ""))
    return new Error(`audit store (postgres): ${message}`, { cause: error });
  return new PortcullisError("audit_unavailable", `audit store unavailable: ${message}`, {
    cause: error,
  });
}

async function insertBatch(client: pg.PoolClient, s: string, batch: BuiltBatch): Promise<void> {
  const { rows } = batch;
  if (rows.length > 0) {
    // Column arrays + unnest: one statement and one round trip per batch, whatever its size.
    const names = recordColumns.map(([name]) => name).join(", ");
    const arrays = recordColumns.map(([, type], i) => `$${i + 1}::${type}[]`).join(", ");
    await client.query(
      `INSERT INTO ${s}.records (${names}) SELECT * FROM unnest(${arrays})`,
      recordColumns.map(([, , value]) => rows.map(value)),
    );
  }
  const refs = rows.flatMap((row) => row.blobRefs.map((sha256) => [row.seq, sha256] as const));
  if (refs.length > 0)
    await client.query(
      `INSERT INTO ${s}.blob_refs (seq, sha256) SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING`,
      [refs.map((r) => r[0]), refs.map((r) => r[1])],
    );
  if (batch.blobs.length > 0)
    await client.query(
      `INSERT INTO ${s}.blobs (sha256, data) SELECT * FROM unnest($1::text[], $2::bytea[]) ON CONFLICT DO NOTHING`,
      [batch.blobs.map((b) => b.sha256), batch.blobs.map((b) => b.data)],
    );
  await client.query(`UPDATE ${s}.head SET size = $1, frontier = $2 WHERE id = 1`, [
    batch.head.size,
    JSON.stringify(batch.head.frontier),
  ]);
}

export async function openPostgresStore(options: PostgresStoreOptions): Promise<AuditStore> {
  const s = quoteSchema(options.schema ?? "portcullis");
  const pool = openPool(options);
  const inTransaction = <T>(work: (client: pg.PoolClient) => Promise<T>) =>
    inPoolTransaction(pool, work);

  const query = (text: string, values?: unknown[]) =>
    pool.query(text, values).catch((error) => Promise.reject(toError(error)));

  await inTransaction((client) => migrate(client, s)).catch(async (error) => {
    await pool.end();
    throw toError(error);
  });

  async function lockHead(client: pg.PoolClient): Promise<LogHead> {
    const { rows } = await client.query(
      `SELECT size, frontier FROM ${s}.head WHERE id = 1 FOR UPDATE`,
    );
    return { size: Number(rows[0].size), frontier: rows[0].frontier };
  }

  // One append in flight per process: replicas still meet at the head lock, but
  // one process never queues several connections behind its own lock.
  let appends: Promise<unknown> = Promise.resolve();
  let closed = false;

  return {
    engine: "postgres",
    append(build) {
      let buildError: unknown;
      const done = appends
        .then(() =>
          inTransaction(async (client) => {
            const head = await lockHead(client);
            let batch: BuiltBatch;
            try {
              batch = build(head);
              assertBatchFollows(head, batch);
            } catch (error) {
              buildError = error;
              throw error;
            }
            await insertBatch(client, s, batch);
          }),
        )
        // The caller's own errors come back untouched; the database's say "unavailable".
        .catch((error) => Promise.reject(error === buildError ? error : toError(error)));
      appends = done.catch(() => {});
      return done;
    },
    async head() {
      const { rows } = await query(`SELECT size, frontier FROM ${s}.head WHERE id = 1`);
      return { size: Number(rows[0].size), frontier: rows[0].frontier };
    },
    async addCheckpoint({ size, note }) {
      await query(`INSERT INTO ${s}.checkpoints (size, note, created_at) VALUES ($1, $2, $3)`, [
        size,
        note,
        new Date().toISOString(),
      ]);
    },
    async checkpoints() {
      const { rows } = await query(
        `SELECT size, note, created_at FROM ${s}.checkpoints ORDER BY size`,
      );
      return rows.map((r) => ({ size: Number(r.size), note: r.note, createdAt: r.created_at }));
    },
    async *scan(from: number, to = Number.MAX_SAFE_INTEGER): AsyncGenerator<StoredRow> {
      for (let next = from; next < to; ) {
        const { rows } = await query(
          `SELECT seq, body FROM ${s}.records WHERE seq >= $1 AND seq < $2 ORDER BY seq LIMIT $3`,
          [next, to, scanPageSize],
        );
        for (const row of rows) yield { seq: Number(row.seq), body: row.body };
        if (rows.length < scanPageSize) return;
        next = Number(rows[rows.length - 1].seq) + 1;
      }
    },
    async leafHashes(from, to) {
      const { rows } = await query(
        `SELECT leaf_hash FROM ${s}.records WHERE seq >= $1 AND seq < $2 ORDER BY seq`,
        [from, to],
      );
      assertAllLeaves(from, to, rows.length);
      return rows.map((r) => r.leaf_hash as Buffer);
    },
    async search(filter) {
      const where = ["seq > $1"];
      const values: unknown[] = [filter.afterSeq ?? -1];
      const add = (sql: string, value: unknown) => {
        values.push(value);
        where.push(`${sql} $${values.length}`);
      };
      for (const [column, value] of searchTerms(filter)) add(`${column} =`, value);
      if (filter.from !== undefined) add("time >=", filter.from);
      if (filter.to !== undefined) add("time <", filter.to);
      values.push(filter.limit ?? 1000);
      const sql = `SELECT seq, body FROM ${s}.records WHERE ${where.join(" AND ")} ORDER BY seq LIMIT $${values.length}`;
      const { rows } = await query(sql, values);
      return rows.map((r) => ({ seq: Number(r.seq), body: r.body }));
    },
    async getBlob(sha256) {
      const { rows } = await query(`SELECT data FROM ${s}.blobs WHERE sha256 = $1`, [sha256]);
      return rows[0]?.data;
    },
    prune: (base) =>
      inTransaction((client) => pruneBelow(client, s, base, lockHead)).catch((error) =>
        Promise.reject(toError(error)),
      ),
    async base() {
      const { rows } = await query(`SELECT size, frontier FROM ${s}.base WHERE id = 1`);
      return rows[0] && { size: Number(rows[0].size), frontier: rows[0].frontier };
    },
    async ping() {
      await query("SELECT 1");
    },
    async close() {
      if (closed) return;
      closed = true;
      await appends;
      await pool.end();
    },
  };
}

async function pruneBelow(
  client: pg.PoolClient,
  s: string,
  base: LogBase,
  lockHead: (client: pg.PoolClient) => Promise<LogHead>,
): Promise<void> {
  // Holding the head lock keeps appends out, so no batch can reference a blob we delete.
  const head = await lockHead(client);
  if (base.size > head.size) throw new RangeError(`prune base ${base.size} is beyond the log head`);
  const kept = await client.query(`SELECT size FROM ${s}.base WHERE id = 1`);
  if (kept.rows[0] && base.size < Number(kept.rows[0].size))
    throw new RangeError(`prune base ${base.size} is below the current base ${kept.rows[0].size}`);
  await client.query(
    `WITH gone AS (DELETE FROM ${s}.blob_refs WHERE seq < $1 RETURNING sha256)
     DELETE FROM ${s}.blobs b WHERE b.sha256 IN (SELECT sha256 FROM gone)
       AND NOT EXISTS (SELECT 1 FROM ${s}.blob_refs r WHERE r.sha256 = b.sha256 AND r.seq >= $1)`,
    [base.size],
  );
  await client.query(`DELETE FROM ${s}.records WHERE seq < $1`, [base.size]);
  await client.query(
    `INSERT INTO ${s}.base (id, size, frontier) VALUES (1, $1, $2)
     ON CONFLICT (id) DO UPDATE SET size = excluded.size, frontier = excluded.frontier`,
    [base.size, JSON.stringify(base.frontier)],
  );
}
