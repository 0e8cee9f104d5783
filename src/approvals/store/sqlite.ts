/**
 * The embedded approvals store: one SQLite file used in-process through
 * node:sqlite. Approvals are a handful of rows a minute, so unlike the audit
 * log there is no worker thread: each call is a short synchronous statement
 * or BEGIN IMMEDIATE transaction (the write lock is the row lock).
 *
 * Changes reach subscribers two ways. This store's own commits are emitted at
 * once. Every mutation also appends a row to `changes` in its transaction;
 * while anyone listens, a poll (default every 250 ms) checks
 * `PRAGMA data_version` — which moves only when another connection commits —
 * and then reads the new `changes` rows, so a decision taken by the CLI in
 * another process wakes the gateway holding the call.
 */
import { inTransaction } from "../../audit/store/sqlite-schema.ts";
import type { ApprovalRequest, Grant } from "../types.ts";
import { createChangeHub } from "./changes.ts";
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
import { openApprovalsDatabase, prepareStatements } from "./sqlite-schema.ts";
import type { ApprovalStore, StoreChange } from "./store.ts";

/** The file name in the gateway's data dir. */
export const approvalsDatabaseFile = "approvals.db";

export interface SqliteApprovalStoreOptions {
  /** How long a write waits for another connection's lock (blocking this thread) before failing. */
  busyTimeoutMs?: number;
  /** How often other processes' changes are looked for while someone listens. */
  pollIntervalMs?: number;
}

type Change = Extract<StoreChange, { id: string }>;

// Long enough for any poll to have read a change, short enough to keep the table tiny.
const changesKeptMs = 60_000;

const parseApproval = (row: Record<string, unknown> | undefined): ApprovalRequest | undefined =>
  row && JSON.parse(String(row.doc));
const parseGrant = (row: Record<string, unknown> | undefined): Grant | undefined =>
  row && JSON.parse(String(row.doc));

export async function openSqliteApprovalStore(
  path: string,
  options: SqliteApprovalStoreOptions = {},
): Promise<ApprovalStore> {
  const db = openApprovalsDatabase(path, options.busyTimeoutMs ?? 5000);
  const sql = prepareStatements(db);
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  // Seqs this store wrote that the poll has yet to pass, so it does not announce them twice.
  const own = new Set<number>();
  let cursor = 0;
  let dataVersion = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const hub = createChangeHub({
    onFirst() {
      // Announce what happens from now on, not what happened before anyone listened.
      cursor = Number(sql.lastChange.get()?.seq ?? 0);
      dataVersion = Number(sql.dataVersion.get()?.data_version);
      own.clear();
      timer = setInterval(poll, pollIntervalMs).unref();
    },
    onLast() {
      clearInterval(timer);
    },
  });

  function poll(): void {
    try {
      const version = Number(sql.dataVersion.get()?.data_version);
      if (version === dataVersion) return;
      dataVersion = version;
      const rows = sql.changesAfter.all(cursor);
      // Rows pruned before we read them: say so, and let holders re-read.
      if (rows.length > 0 && Number(rows[0]?.seq) > cursor + 1) hub.emit({ kind: "resync" });
      for (const row of rows) {
        const seq = Number(row.seq);
        cursor = seq;
        if (own.delete(seq)) continue;
        hub.emit({ kind: row.kind as Change["kind"], id: String(row.id) });
      }
    } catch {
      // Busy or briefly unreadable: the next tick tries again, and data_version still differs.
    }
  }

  /** One write transaction; the changes it records are emitted once it has committed. */
  function write<T>(work: (changed: (change: Change) => void) => T): T {
    if (closed) throw new Error("approvals store is closed");
    const changes: Change[] = [];
    const seqs: number[] = [];
    const result = inTransaction(db, () => {
      const value = work((change) => {
        changes.push(change);
        seqs.push(Number(sql.addChange.run(change.kind, change.id, Date.now()).lastInsertRowid));
      });
      if (changes.length > 0) sql.pruneChanges.run(Date.now() - changesKeptMs);
      return value;
    });
    if (hub.listening && seqs.length > 0) {
      // Nothing unread before our own rows (the usual case): skip past them. Otherwise the
      // poll reads them with the other process's rows, and must know they are ours.
      if (seqs[0] === cursor + 1) cursor = seqs.at(-1) ?? cursor;
      else for (const seq of seqs) own.add(seq);
    }
    for (const change of changes) hub.emit(change);
    return result;
  }

  function saveApproval(approval: ApprovalRequest, changed: (change: Change) => void): void {
    sql.updateApproval.run(approval.state, JSON.stringify(approval), approval.id);
    changed({ kind: "approval", id: approval.id });
  }

  /** Locks (the whole database), applies the rules to the stored approval, persists, then throws or returns. */
  function withApproval<T>(id: string, apply: (approval: ApprovalRequest) => Outcome<T>): T {
    let outcome: Outcome<T> | undefined;
    write((changed) => {
      const approval = parseApproval(sql.getApproval.get(id));
      if (!approval) throw approvalNotFound(id);
      outcome = apply(approval);
      if (outcome.write) saveApproval(outcome.write, changed);
    });
    if (outcome?.error) throw outcome.error;
    return outcome?.result as T;
  }

  /** Moves every approval `select` finds (under the lock) with `apply`; the moved ones. */
  function moveAll(
    rows: () => Record<string, unknown>[],
    apply: (approval: ApprovalRequest) => ApprovalRequest | undefined,
  ): ApprovalRequest[] {
    return write((changed) =>
      rows().flatMap((row) => {
        const next = apply(parseApproval(row) as ApprovalRequest);
        if (next) saveApproval(next, changed);
        return next ? [next] : [];
      }),
    );
  }

  return {
    engine: "sqlite",
    async createApproval(input, now) {
      const a = prepareApproval(input, now);
      write((changed) => {
        sql.insertApproval.run(
          ...[a.id, a.createdAt, a.expiresAt, a.state, a.mode, a.replica, a.requester.username],
          ...[a.call.method, a.call.path, a.bodySha256, JSON.stringify(a)],
        );
        changed({ kind: "approval", id: a.id });
      });
      return a;
    },
    async getApproval(id) {
      return parseApproval(sql.getApproval.get(id));
    },
    async listApprovals({ states, requester, limit = defaultListLimit } = {}) {
      const where: string[] = [];
      const values: (string | number)[] = [];
      if (states) {
        where.push(`state IN (${states.map(() => "?").join(", ") || "NULL"})`);
        values.push(...states);
      }
      if (requester !== undefined) {
        where.push("username = ?");
        values.push(requester);
      }
      const filter = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
      const query = `SELECT doc FROM approvals ${filter} ORDER BY created_at DESC, id DESC LIMIT ?`;
      return db
        .prepare(query)
        .all(...values, limit)
        .map((row) => parseApproval(row) as ApprovalRequest);
    },
    async decide(id, decision, now) {
      return withApproval(id, (approval) => applyDecision(approval, decision, now));
    },
    async transition(id, from, to, reason, now) {
      assertTransition(from, to);
      return withApproval(id, (approval) => applyTransition(approval, from, to, reason, now));
    },
    async findRetryable({ username, method, path, bodySha256, now }) {
      const row = sql.retryable.get(username, method, path, bodySha256, now.toISOString());
      return parseApproval(row);
    },
    async cancelHeldBy(replica, reason, now) {
      return moveAll(
        () => sql.heldBy.all(replica),
        (approval) =>
          applyTransition(approval, ["pending", "approved"], "cancelled", reason, now).write,
      );
    },
    async expireDue(now) {
      const expired = moveAll(
        () => sql.due.all(now.toISOString()),
        (approval) => expireApproval(approval, now),
      );
      return expired.map((approval) => approval.id);
    },
    async createGrant(input, now) {
      const g = prepareGrant(input, now);
      write((changed) => {
        sql.insertGrant.run(g.id, g.createdAt, g.expiresAt, g.subject, JSON.stringify(g));
        changed({ kind: "grant", id: g.id });
      });
      return g;
    },
    async getGrant(id) {
      return parseGrant(sql.getGrant.get(id));
    },
    async listGrants({ activeAt, subject } = {}) {
      const at = activeAt?.toISOString() ?? null;
      return sql.grants.all(subject ?? null, at).map((row) => parseGrant(row) as Grant);
    },
    async revokeGrant(id, by, reason, now) {
      return write((changed) => {
        const grant = parseGrant(sql.getGrant.get(id));
        if (!grant) throw grantNotFound(id);
        const revoked = revoke(grant, by, reason, now);
        sql.revokeGrant.run(revoked.revokedAt ?? null, JSON.stringify(revoked), id);
        changed({ kind: "grant", id });
        return revoked;
      });
    },
    async activeGrants(subject, now) {
      return sql.grants.all(subject, now.toISOString()).map((row) => parseGrant(row) as Grant);
    },
    subscribe: (listener) => hub.subscribe(listener),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      db.close();
    },
  };
}
