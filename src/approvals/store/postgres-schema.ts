/**
 * The PostgreSQL approvals schema: numbered migrations applied at open (every
 * statement idempotent), under an advisory lock so replicas starting together
 * do not race. It may share a schema with the audit log, so its version table
 * and its NOTIFY channel carry the approvals name.
 */
import type pg from "pg";
import { quoteSchema } from "../../audit/store/postgres-schema.ts";

// `doc` is text, not jsonb: jsonb refuses \u0000 in strings, and an effect
// (a dry-run object, a diff) may hold any JSON. Times are timestamptz so
// comparisons are between instants.
function migrations(s: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.approvals (
       id text PRIMARY KEY, created_at timestamptz NOT NULL, expires_at timestamptz NOT NULL,
       state text NOT NULL, mode text NOT NULL, replica text, username text NOT NULL,
       method text NOT NULL, path text NOT NULL, body_sha256 text NOT NULL, doc text NOT NULL);
     CREATE INDEX IF NOT EXISTS approvals_created ON ${s}.approvals (created_at);
     CREATE INDEX IF NOT EXISTS approvals_state ON ${s}.approvals (state, expires_at);
     CREATE INDEX IF NOT EXISTS approvals_replica ON ${s}.approvals (replica, state);
     CREATE INDEX IF NOT EXISTS approvals_requester ON ${s}.approvals (username, created_at);
     CREATE TABLE IF NOT EXISTS ${s}.grants (
       id text PRIMARY KEY, created_at timestamptz NOT NULL, expires_at timestamptz NOT NULL,
       subject text NOT NULL, revoked_at timestamptz, doc text NOT NULL);
     CREATE INDEX IF NOT EXISTS grants_created ON ${s}.grants (created_at);
     CREATE INDEX IF NOT EXISTS grants_subject ON ${s}.grants (subject, expires_at);`,
  ];
}

export interface ApprovalsSchema {
  /** The quoted schema name, for interpolating into SQL. */
  s: string;
  /** The NOTIFY channel, as pg_notify takes it. */
  channel: string;
  /** The same channel quoted for LISTEN. */
  listenChannel: string;
}

/** Validates the schema name and derives the channel every replica on it uses. */
export function approvalsSchema(schema: string): ApprovalsSchema {
  const s = quoteSchema(schema);
  const channel = `${schema}.approvals`;
  // pg_notify refuses a longer channel, and LISTEN would silently truncate it.
  if (channel.length > 63)
    throw new Error(`schema name ${JSON.stringify(schema)} is too long for approvals (53 at most)`);
  return { s, channel, listenChannel: `"${channel}"` };
}

/** Creates or upgrades the approvals tables in schema `s` (quoted); run inside a transaction. */
export async function migrateApprovals(client: pg.PoolClient, s: string): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`portcullis approvals ${s}`]);
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${s}.approvals_schema_version (version integer NOT NULL)`,
  );
  const { rows } = await client.query(
    `SELECT max(version) AS v FROM ${s}.approvals_schema_version`,
  );
  const version = Number(rows[0]?.v ?? 0);
  const all = migrations(s);
  if (version > all.length)
    throw new Error(`approvals schema v${version} is newer than this gateway`);
  for (const sql of all.slice(version)) await client.query(sql);
  await client.query(`DELETE FROM ${s}.approvals_schema_version`);
  await client.query(`INSERT INTO ${s}.approvals_schema_version VALUES ($1)`, [all.length]);
}
