/**
 * The shared approvals store for several gateway replicas: tables in one
 * PostgreSQL schema. A mutation locks the rows it changes (SELECT … FOR
 * UPDATE, in id order so two replicas never deadlock), applies the rules
 * (rules.ts) to what it read, writes, and NOTIFYs in the same transaction: the
 * notification is delivered only if, and only once, the change commits.
 *
 * Each store keeps one dedicated LISTEN connection (postgres-listener.ts);
 * every replica's subscribers — including this one's — hear every change
 * through it, so a decision taken on any replica (or by the CLI) releases the
 * call wherever it is held.
 */
import type pg from "pg";
import { inTransaction, openPool, type PoolOptions } from "../../audit/store/postgres-pool.ts";
import type { ApprovalRequest, Grant } from "../types.ts";
import { createChangeHub } from "./changes.ts";
import { startListener } from "./postgres-listener.ts";
import { approvalsSchema, migrateApprovals } from "./postgres-schema.ts";
import {
  applyDecision,
  applyTransition,
  approvalNotFound,
  assertTransition,
  defaultListLimit,
  expireApproval,
  grantNotFound,
  type Outcome,
  prepareApproval,
  prepareGrant,
  revoke,
} from "./rules.ts";
import type { ApprovalStore, StoreChange } from "./store.ts";

export interface PostgresApprovalStoreOptions extends PoolOptions {
  /** Schema holding the tables; default "portcullis" (shared with the audit log is fine). */
  schema?: string;
  /** How often the LISTEN connection proves it is alive (default 10 s). */
  heartbeatMs?: number;
}

type Change = Extract<StoreChange, { id: string }>;
type Changed = (change: Change) => void;

const docs = <T>(rows: { doc: string }[]): T[] => rows.map((row) => JSON.parse(row.doc));

/** Reads a NOTIFY payload; anything else on the channel is ignored. */
function parseChange(payload: string): Change | undefined {
  try {
    const change = JSON.parse(payload);
    if ((change.kind === "approval" || change.kind === "grant") && typeof change.id === "string")
      return { kind: change.kind, id: change.id };
  } catch {}
  return undefined;
}

export async function openPostgresApprovalStore(
  options: PostgresApprovalStoreOptions,
): Promise<ApprovalStore> {
  const { s, channel, listenChannel } = approvalsSchema(options.schema ?? "portcullis");
  const connectTimeoutMs = options.connectTimeoutMs ?? 3000;
  const pool = openPool(options);

  /** One transaction whose changes are NOTIFYed in it, so they are announced exactly when they commit. */
  function write<T>(work: (client: pg.PoolClient, changed: Changed) => Promise<T>): Promise<T> {
    return inTransaction(pool, async (client) => {
      const changes: Change[] = [];
      const result = await work(client, (change) => changes.push(change));
      if (changes.length > 0)
        await client.query("SELECT pg_notify($1, c) FROM unnest($2::text[]) AS c", [
          channel,
          changes.map((change) => JSON.stringify(change)),
        ]);
      return result;
    });
  }

  async function saveApprovals(
    client: pg.PoolClient,
    approvals: ApprovalRequest[],
    changed: Changed,
  ) {
    if (approvals.length === 0) return;
    await client.query(
      `UPDATE ${s}.approvals a SET state = u.state, doc = u.doc
       FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, state, doc) WHERE a.id = u.id`,
      [
        approvals.map((a) => a.id),
        approvals.map((a) => a.state),
        approvals.map((a) => JSON.stringify(a)),
      ],
    );
    for (const { id } of approvals) changed({ kind: "approval", id });
  }

  /** Locks one approval's row, applies the rules, persists; throws after commit if refused. */
  async function withApproval<T>(
    id: string,
    apply: (a: ApprovalRequest) => Outcome<T>,
  ): Promise<T> {
    const outcome = await write(async (client, changed) => {
      const { rows } = await client.query(
        `SELECT doc FROM ${s}.approvals WHERE id = $1 FOR UPDATE`,
        [id],
      );
      const [approval] = docs<ApprovalRequest>(rows);
      if (!approval) throw approvalNotFound(id);
      const result = apply(approval);
      if (result.write) await saveApprovals(client, [result.write], changed);
      return result;
    });
    if (outcome.error) throw outcome.error;
    return outcome.result;
  }

  /** Locks the rows `where` selects (in id order), moves each with `apply`; the moved ones. */
  function moveAll(
    where: string,
    values: unknown[],
    apply: (approval: ApprovalRequest) => ApprovalRequest | undefined,
  ): Promise<ApprovalRequest[]> {
    return write(async (client, changed) => {
      const { rows } = await client.query(
        `SELECT doc FROM ${s}.approvals WHERE ${where} ORDER BY id FOR UPDATE`,
        values,
      );
      const moved = docs<ApprovalRequest>(rows).flatMap((a) => apply(a) ?? []);
      await saveApprovals(client, moved, changed);
      return moved;
    });
  }

  await inTransaction(pool, (client) => migrateApprovals(client, s)).catch(async (error) => {
    await pool.end();
    throw error;
  });
  const hub = createChangeHub();
  const listener = await startListener({
    connectionString: options.connectionString,
    channel: listenChannel,
    connectTimeoutMs,
    heartbeatMs: options.heartbeatMs ?? 10_000,
    onNotification(payload) {
      const change = parseChange(payload);
      if (change) hub.emit(change);
    },
    onResync: () => hub.emit({ kind: "resync" }),
  }).catch(async (error) => {
    await pool.end();
    throw error;
  });

  let closed = false;
  const grantsQuery = `SELECT doc FROM ${s}.grants
    WHERE ($1::text IS NULL OR subject = $1)
      AND ($2::timestamptz IS NULL OR (created_at <= $2 AND expires_at > $2
                                       AND (revoked_at IS NULL OR revoked_at > $2)))
    ORDER BY created_at DESC, id DESC`;

  return {
    engine: "postgres",
    async createApproval(input, now) {
      const a = prepareApproval(input, now);
      await write(async (client, changed) => {
        await client.query(
          `INSERT INTO ${s}.approvals (id, created_at, expires_at, state, mode, replica, username,
             method, path, body_sha256, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [
            ...[a.id, a.createdAt, a.expiresAt, a.state, a.mode, a.replica, a.requester.username],
            ...[a.call.method, a.call.path, a.bodySha256, JSON.stringify(a)],
          ],
        );
        changed({ kind: "approval", id: a.id });
      });
      return a;
    },
    async getApproval(id) {
      const { rows } = await pool.query(`SELECT doc FROM ${s}.approvals WHERE id = $1`, [id]);
      return docs<ApprovalRequest>(rows)[0];
    },
    async listApprovals({ states, requester, limit = defaultListLimit } = {}) {
      const { rows } = await pool.query(
        `SELECT doc FROM ${s}.approvals
         WHERE ($1::text[] IS NULL OR state = ANY($1)) AND ($2::text IS NULL OR username = $2)
         ORDER BY created_at DESC, id DESC LIMIT $3`,
        [states ?? null, requester ?? null, limit],
      );
      return docs<ApprovalRequest>(rows);
    },
    decide: (id, decision, now) =>
      withApproval(id, (approval) => applyDecision(approval, decision, now)),
    async transition(id, from, to, reason, now) {
      assertTransition(from, to);
      return withApproval(id, (approval) => applyTransition(approval, from, to, reason, now));
    },
    async findRetryable({ username, method, path, bodySha256, now }) {
      const { rows } = await pool.query(
        `SELECT doc FROM ${s}.approvals WHERE state = 'approved' AND mode = 'retry'
           AND username = $1 AND method = $2 AND path = $3 AND body_sha256 = $4 AND expires_at > $5
         ORDER BY created_at, id LIMIT 1`,
        [username, method, path, bodySha256, now.toISOString()],
      );
      return docs<ApprovalRequest>(rows)[0];
    },
    cancelHeldBy: (replica, reason, now) =>
      moveAll(
        "replica = $1 AND mode = 'hold' AND state IN ('pending', 'approved')",
        [replica],
        (approval) =>
          applyTransition(approval, ["pending", "approved"], "cancelled", reason, now).write,
      ),
    async expireDue(now) {
      const expired = await moveAll(
        "state IN ('pending', 'approved') AND expires_at <= $1",
        [now.toISOString()],
        (approval) => expireApproval(approval, now),
      );
      return expired.map((approval) => approval.id);
    },
    async createGrant(input, now) {
      const g = prepareGrant(input, now);
      await write(async (client, changed) => {
        await client.query(
          `INSERT INTO ${s}.grants (id, created_at, expires_at, subject, doc) VALUES ($1, $2, $3, $4, $5)`,
          [g.id, g.createdAt, g.expiresAt, g.subject, JSON.stringify(g)],
        );
        changed({ kind: "grant", id: g.id });
      });
      return g;
    },
    async getGrant(id) {
      const { rows } = await pool.query(`SELECT doc FROM ${s}.grants WHERE id = $1`, [id]);
      return docs<Grant>(rows)[0];
    },
    async listGrants({ activeAt, subject } = {}) {
      const { rows } = await pool.query(grantsQuery, [
        subject ?? null,
        activeAt?.toISOString() ?? null,
      ]);
      return docs<Grant>(rows);
    },
    revokeGrant: (id, by, reason, now) =>
      write(async (client, changed) => {
        const { rows } = await client.query(
          `SELECT doc FROM ${s}.grants WHERE id = $1 FOR UPDATE`,
          [id],
        );
        const [grant] = docs<Grant>(rows);
        if (!grant) throw grantNotFound(id);
        const revoked = revoke(grant, by, reason, now);
        await client.query(`UPDATE ${s}.grants SET revoked_at = $1, doc = $2 WHERE id = $3`, [
          revoked.revokedAt,
          JSON.stringify(revoked),
          id,
        ]);
        changed({ kind: "grant", id });
        return revoked;
      }),
    async activeGrants(subject, now) {
      const { rows } = await pool.query(grantsQuery, [subject, now.toISOString()]);
      return docs<Grant>(rows);
    },
    subscribe: (listener) => hub.subscribe(listener),
    async close() {
      if (closed) return;
      closed = true;
      await listener.close();
      await pool.end();
    },
  };
}
