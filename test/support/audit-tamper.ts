/**
 * Audit logs at rest for tamper tests, on either engine: a fresh log written
 * through the real writer, raw SQL on its tables (as an intruder has it), and
 * the `portcullis` CLI as a process.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import pg from "pg";
import { openPostgresStore } from "../../src/audit/store/postgres.ts";
import { openSqliteStore } from "../../src/audit/store/sqlite.ts";
import type { AuditStore } from "../../src/audit/store/store.ts";
import { verifyLog } from "../../src/audit/verify.ts";
import { type FilledStore, fillLog } from "./audit-records.ts";
import type { TestPostgres } from "./postgres.ts";

const cli = resolve(import.meta.dirname, "../../bin/portcullis");
export const start = new Date("2020-01-01T00:00:00Z");
export const at = (index: number, ms = 0) => new Date(start.getTime() + index * 1000 + ms);
export const records = 1000;
type Row = Record<string, unknown>;

/** One engine: a fresh log per test, and raw SQL on its tables (`?` placeholders). */
export interface Engine {
  name: "sqlite" | "postgres";
  fresh(dir: string): Promise<{
    open(): Promise<AuditStore>;
    sql(text: string, values?: unknown[]): Promise<Row[]>;
  }>;
}

export const sqlite: Engine = {
  name: "sqlite",
  async fresh(dir) {
    const path = join(dir, "audit.db");
    return {
      open: () => openSqliteStore(path),
      async sql(text, values = []) {
        const db = new DatabaseSync(path);
        try {
          return db.prepare(text).all(...(values as SQLInputValue[])) as Row[];
        } finally {
          db.close();
        }
      },
    };
  },
};

let schemas = 0;

/** PostgreSQL: each log in its own schema of the server (started later, hence a getter). */
export function postgresEngine(server: () => TestPostgres): Engine {
  return {
    name: "postgres",
    async fresh() {
      const schema = `tamper_${process.pid}_${schemas++}`;
      const { connectionString } = server();
      return {
        open: () => openPostgresStore({ connectionString, schema }),
        async sql(text, values = []) {
          const client = new pg.Client({ connectionString, options: `-c search_path=${schema}` });
          await client.connect();
          try {
            let n = 0;
            return (
              await client.query(
                text.replace(/\?/g, () => `$${++n}`),
                values,
              )
            ).rows;
          } finally {
            await client.end();
          }
        },
      };
    },
  };
}

export interface Log extends Awaited<ReturnType<Engine["fresh"]>> {
  dir: string;
  key: string;
  checkpoints: number[];
}

const dirs: string[] = [];

/** Removes every log directory made so far. */
export async function removeLogs(): Promise<void> {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
}

/** A log of 1000 records through the real writer, checkpoints every 100, closed (as at rest). */
export async function freshLog(
  engine: Engine,
  keepOpen?: (filled: FilledStore) => Promise<void>,
): Promise<Log> {
  const dir = await mkdtemp(join(tmpdir(), `portcullis-tamper-${engine.name}-`));
  dirs.push(dir);
  const log = await engine.fresh(dir);
  const filled = await fillLog(await log.open(), dir, records, {
    start,
    checkpointEvery: 100,
    blobEvery: 10,
  });
  await keepOpen?.(filled);
  await filled.writer.close();
  const checkpoints = (await filled.store.checkpoints()).map((c) => c.size);
  await filled.store.close();
  return { ...log, dir, key: filled.signer.verifierKey, checkpoints };
}

export async function verifyStore(log: Log) {
  const store = await log.open();
  try {
    return await verifyLog(store, log.key);
  } finally {
    await store.close();
  }
}

export function portcullis(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(cli, args, (error, stdout, stderr) => {
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}
