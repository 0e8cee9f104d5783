/**
 * What the PostgreSQL stores (the audit log, approvals) share: how their
 * connection pool is set up, and how a transaction runs on it.
 */
import pg from "pg";

export interface PoolOptions {
  connectionString: string;
  poolSize?: number;
  /** Fail fast when the server is unreachable (default 3 s). */
  connectTimeoutMs?: number;
  /** Fail rather than hang on a stalled server, lock waits included (default 15 s). */
  queryTimeoutMs?: number;
}

export function openPool(options: PoolOptions): pg.Pool {
  const queryTimeoutMs = options.queryTimeoutMs ?? 15_000;
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 4,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 3000,
    query_timeout: queryTimeoutMs,
    statement_timeout: queryTimeoutMs,
    keepAlive: true,
    allowExitOnIdle: true,
  });
  // An idle connection dying (server restart) must not crash the process; the next query reports it.
  pool.on("error", () => {});
  return pool;
}

/** Runs `work` between BEGIN and COMMIT on one pooled connection; any failure rolls back. */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let failed = false;
  const onError = () => {
    failed = true;
  };
  client.on("error", onError);
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    failed = true;
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.off("error", onError);
    // After any failure the connection's state is unknown: destroy it rather than reuse it.
    client.release(failed);
  }
}
