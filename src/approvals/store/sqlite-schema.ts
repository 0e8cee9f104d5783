/**
 * The SQLite approvals database (`approvals.db` in the data dir, apart from
 * the audit log so neither's locks stall the other): its schema, kept as
 * numbered migrations in `PRAGMA user_version`, and how it is opened (WAL, so
 * the gateway and the CLI can both have it open; a busy timeout, so a write
 * waits for the other's lock instead of failing).
 */
import { DatabaseSync } from "node:sqlite";
import { inTransaction } from "../../audit/store/sqlite-schema.ts";

// Each entry is one schema version; applied in order, never edited once shipped.
// `doc` holds the whole record as JSON; the other columns are what queries filter on.
const migrations = [
  `CREATE TABLE approvals (
     id TEXT PRIMARY KEY, created_at TEXT NOT NULL, expires_at TEXT NOT NULL,
     state TEXT NOT NULL, mode TEXT NOT NULL, replica TEXT, username TEXT NOT NULL,
     method TEXT NOT NULL, path TEXT NOT NULL, body_sha256 TEXT NOT NULL, doc TEXT NOT NULL);
   CREATE INDEX approvals_created ON approvals (created_at);
   CREATE INDEX approvals_state ON approvals (state, expires_at);
   CREATE INDEX approvals_replica ON approvals (replica, state);
   CREATE INDEX approvals_requester ON approvals (username, created_at);
   CREATE TABLE grants (
     id TEXT PRIMARY KEY, created_at TEXT NOT NULL, expires_at TEXT NOT NULL,
     subject TEXT NOT NULL, revoked_at TEXT, doc TEXT NOT NULL);
   CREATE INDEX grants_created ON grants (created_at);
   CREATE INDEX grants_subject ON grants (subject, expires_at);
   CREATE TABLE changes (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, id TEXT NOT NULL,
     at_ms INTEGER NOT NULL);`,
];

/** Opens (creating or migrating) the approvals database. */
export function openApprovalsDatabase(path: string, busyTimeoutMs: number): DatabaseSync {
  const db = new DatabaseSync(path, { timeout: busyTimeoutMs });
  try {
    // FULL: a decision is on disk before decide() resolves and the call is let through.
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
    inTransaction(db, () => {
      const version = Number(db.prepare("PRAGMA user_version").get()?.user_version ?? 0);
      if (version > migrations.length)
        throw new Error(`approvals database schema v${version} is newer than this gateway`);
      for (const sql of migrations.slice(version)) db.exec(sql);
      db.exec(`PRAGMA user_version = ${migrations.length}`);
    });
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** Every fixed statement, prepared once. */
export function prepareStatements(db: DatabaseSync) {
  return {
    dataVersion: db.prepare("PRAGMA data_version"),
    // AUTOINCREMENT's high-water mark: still right after every row has been pruned.
    lastChange: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'changes'"),
    changesAfter: db.prepare("SELECT seq, kind, id FROM changes WHERE seq > ? ORDER BY seq"),
    addChange: db.prepare("INSERT INTO changes (kind, id, at_ms) VALUES (?, ?, ?)"),
    pruneChanges: db.prepare("DELETE FROM changes WHERE at_ms < ?"),
    insertApproval: db.prepare(
      `INSERT INTO approvals (id, created_at, expires_at, state, mode, replica, username,
         method, path, body_sha256, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    getApproval: db.prepare("SELECT doc FROM approvals WHERE id = ?"),
    updateApproval: db.prepare("UPDATE approvals SET state = ?, doc = ? WHERE id = ?"),
    retryable: db.prepare(
      `SELECT doc FROM approvals WHERE state = 'approved' AND mode = 'retry' AND username = ?
         AND method = ? AND path = ? AND body_sha256 = ? AND expires_at > ?
       ORDER BY created_at, id LIMIT 1`,
    ),
    heldBy: db.prepare(
      `SELECT doc FROM approvals
       WHERE replica = ? AND mode = 'hold' AND state IN ('pending', 'approved')`,
    ),
    due: db.prepare(
      "SELECT doc FROM approvals WHERE state IN ('pending', 'approved') AND expires_at <= ?",
    ),
    insertGrant: db.prepare(
      "INSERT INTO grants (id, created_at, expires_at, subject, doc) VALUES (?, ?, ?, ?, ?)",
    ),
    getGrant: db.prepare("SELECT doc FROM grants WHERE id = ?"),
    // ?1 subject, ?2 instant; either may be NULL (no filter).
    grants: db.prepare(
      `SELECT doc FROM grants
       WHERE (?1 IS NULL OR subject = ?1)
         AND (?2 IS NULL OR (created_at <= ?2 AND expires_at > ?2
                             AND (revoked_at IS NULL OR revoked_at > ?2)))
       ORDER BY created_at DESC, id DESC`,
    ),
    revokeGrant: db.prepare("UPDATE grants SET revoked_at = ?, doc = ? WHERE id = ?"),
  };
}
