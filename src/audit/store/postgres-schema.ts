/**
 * The PostgreSQL audit schema: numbered migrations applied at open, under an
 * advisory lock so replicas starting together do not race on CREATE TABLE.
 */
import type pg from "pg";
import type { NewRow } from "./store.ts";

// `time` is timestamptz: range filters compare instants, whatever offset a caller writes.
function migrations(s: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.records (
       seq bigint PRIMARY KEY, body text NOT NULL, leaf_hash bytea NOT NULL,
       time timestamptz NOT NULL, kind text NOT NULL, request_id text NOT NULL,
       username text, subject text, identity_kind text, verb text, resource text,
       namespace text, name text, decision text, session_id text, status integer);
     CREATE INDEX IF NOT EXISTS records_time ON ${s}.records (time);
     CREATE INDEX IF NOT EXISTS records_username ON ${s}.records (username, seq);
     CREATE INDEX IF NOT EXISTS records_subject ON ${s}.records (subject, seq);
     CREATE INDEX IF NOT EXISTS records_session ON ${s}.records (session_id, seq);
     CREATE INDEX IF NOT EXISTS records_request ON ${s}.records (request_id, seq);
     CREATE INDEX IF NOT EXISTS records_namespace ON ${s}.records (namespace, seq);
     CREATE INDEX IF NOT EXISTS records_name ON ${s}.records (name, seq);
     CREATE TABLE IF NOT EXISTS ${s}.blobs (sha256 text PRIMARY KEY, data bytea NOT NULL);
     CREATE TABLE IF NOT EXISTS ${s}.blob_refs (seq bigint NOT NULL, sha256 text NOT NULL,
       PRIMARY KEY (seq, sha256));
     CREATE INDEX IF NOT EXISTS blob_refs_sha256 ON ${s}.blob_refs (sha256);
     CREATE TABLE IF NOT EXISTS ${s}.head (id integer PRIMARY KEY CHECK (id = 1),
       size bigint NOT NULL, frontier jsonb NOT NULL);
     INSERT INTO ${s}.head VALUES (1, 0, '[]') ON CONFLICT DO NOTHING;
     CREATE TABLE IF NOT EXISTS ${s}.checkpoints (size bigint PRIMARY KEY, note text NOT NULL,
       created_at text NOT NULL);
     CREATE TABLE IF NOT EXISTS ${s}.base (id integer PRIMARY KEY CHECK (id = 1),
       size bigint NOT NULL, frontier jsonb NOT NULL);`,
  ];
}

/** Schema names are interpolated into SQL: allow plain identifiers only. */
export function quoteSchema(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    throw new Error(`invalid schema name ${JSON.stringify(schema)}`);
  return `"${schema}"`;
}

/** The records columns as unnest sees them: name, array element type, value. */
export const recordColumns: [string, string, (row: NewRow) => unknown][] = [
  ["seq", "bigint", (r) => r.seq],
  ["body", "text", (r) => r.body],
  ["leaf_hash", "bytea", (r) => r.leafHash],
  ["time", "timestamptz", (r) => r.index.time],
  ["kind", "text", (r) => r.index.kind],
  ["request_id", "text", (r) => r.index.requestId],
  ["username", "text", (r) => r.index.username],
  ["subject", "text", (r) => r.index.subject],
  ["identity_kind", "text", (r) => r.index.identityKind],
  ["verb", "text", (r) => r.index.verb],
  ["resource", "text", (r) => r.index.resource],
  ["namespace", "text", (r) => r.index.namespace],
  ["name", "text", (r) => r.index.name],
  ["decision", "text", (r) => r.index.decision],
  ["session_id", "text", (r) => r.index.sessionId],
  ["status", "integer", (r) => r.index.status],
];

/** Creates or upgrades the schema `s` (already quoted); run inside a transaction. */
export async function migrate(client: pg.PoolClient, s: string): Promise<void> {
  // Replicas starting together must not race on CREATE TABLE.
  await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`portcullis schema ${s}`]);
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_version (version integer NOT NULL)`);
  const { rows } = await client.query(`SELECT max(version) AS v FROM ${s}.schema_version`);
  const version = Number(rows[0]?.v ?? 0);
  const all = migrations(s);
  if (version > all.length) throw new Error(`audit schema v${version} is newer than this gateway`);
  for (const sql of all.slice(version)) await client.query(sql);
  await client.query(`DELETE FROM ${s}.schema_version`);
  await client.query(`INSERT INTO ${s}.schema_version VALUES ($1)`, [all.length]);
}
