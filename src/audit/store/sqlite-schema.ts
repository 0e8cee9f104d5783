/**
 * The SQLite audit database: its schema, kept as numbered migrations, and
 * how it is opened (WAL, synchronous=FULL, a busy timeout).
 */
import { DatabaseSync } from "node:sqlite";

// Each entry is one schema version; applied in order, never edited once shipped.
const migrations = [
  `CREATE TABLE records (
     seq INTEGER PRIMARY KEY, body TEXT NOT NULL, leaf_hash BLOB NOT NULL,
     time TEXT NOT NULL, kind TEXT NOT NULL, request_id TEXT NOT NULL,
     username TEXT, subject TEXT, identity_kind TEXT, verb TEXT, resource TEXT,
     namespace TEXT, name TEXT, decision TEXT, session_id TEXT, status INTEGER);
   CREATE INDEX records_time ON records (time);
   CREATE INDEX records_username ON records (username);
   CREATE INDEX records_subject ON records (subject);
   CREATE INDEX records_session ON records (session_id);
   CREATE INDEX records_request ON records (request_id);
   CREATE INDEX records_namespace ON records (namespace);
   CREATE INDEX records_name ON records (name);
   CREATE TABLE blobs (sha256 TEXT PRIMARY KEY, data BLOB NOT NULL);
   CREATE TABLE blob_refs (seq INTEGER NOT NULL, sha256 TEXT NOT NULL,
     PRIMARY KEY (seq, sha256)) WITHOUT ROWID;
   CREATE INDEX blob_refs_sha256 ON blob_refs (sha256);
   CREATE TABLE head (id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, frontier TEXT NOT NULL);
   INSERT INTO head VALUES (1, 0, '[]');
   CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL, created_at TEXT NOT NULL);
   CREATE TABLE base (id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, frontier TEXT NOT NULL);`,
];

/** Opens (creating or migrating) the audit database for durable, concurrent-reader use. */
export function openDatabase(path: string, busyTimeoutMs: number): DatabaseSync {
  const db = new DatabaseSync(path, { timeout: busyTimeoutMs });
  // FULL: a commit is on disk before append resolves (the write-ahead promise).
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
  db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  inTransaction(db, () => {
    const row = db.prepare("SELECT version FROM schema_version").get();
    const version = Number(row?.version ?? 0);
    if (version > migrations.length)
      throw new Error(`audit database schema v${version} is newer than this gateway`);
    for (const sql of migrations.slice(version)) db.exec(sql);
    db.exec("DELETE FROM schema_version");
    db.prepare("INSERT INTO schema_version VALUES (?)").run(migrations.length);
  });
  return db;
}

/** BEGIN IMMEDIATE takes the write lock up front, so a busy database fails here, not mid-way. */
export function inTransaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = work();
    db.exec("COMMIT");
    return result;
  } catch (error) {
    // Never leave a half-open transaction: the next call must start clean.
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}
