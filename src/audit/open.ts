import { join } from "node:path";
import type { Logger } from "pino";
import type { AuditSettings } from "../config/schema.ts";
import { resolveSecret } from "../config/secret.ts";
import { loadOrCreateSigner } from "./keys.ts";
import { startRetention } from "./retention.ts";
import { SessionTracker } from "./session.ts";
import { openPostgresStore } from "./store/postgres.ts";
import { openSqliteStore } from "./store/sqlite.ts";
import type { AuditStore } from "./store/store.ts";
import { AuditWriter } from "./writer.ts";

export interface AuditLog {
  store: AuditStore;
  writer: AuditWriter;
  sessions: SessionTracker;
  /** The verifier key (C2SP note vkey) auditors check checkpoints with. */
  verifierKey: string;
  close(): Promise<void>;
}

/** The PostgreSQL connection the settings name (the secret resolved), when the store is PostgreSQL. */
export function postgresConnection(
  settings: AuditSettings,
): { connectionString: string; schema: string } | undefined {
  if (!("postgres" in settings.store)) return undefined;
  const { connectionString, schema } = settings.store.postgres;
  return {
    connectionString:
      typeof connectionString === "string" ? connectionString : resolveSecret(connectionString),
    schema,
  };
}

/** Opens the configured store (no writer): for auditor commands that only read. */
export async function openAuditStore(
  settings: AuditSettings,
  dataDir: string,
): Promise<AuditStore> {
  const postgres = postgresConnection(settings);
  if (postgres) return openPostgresStore(postgres);
  if (!("sqlite" in settings.store)) throw new Error("audit.store: choose sqlite or postgres");
  return openSqliteStore(settings.store.sqlite.path ?? join(dataDir, "audit.db"));
}

/** Opens the store, the checkpoint signer and the writer the gateway records through. */
export async function openAuditLog(
  settings: AuditSettings,
  dataDir: string,
  log: Logger,
): Promise<AuditLog> {
  const signer = loadOrCreateSigner(join(dataDir, "audit"), settings.signingKey);
  const store = await openAuditStore(settings, dataDir);
  const writer = await AuditWriter.open({
    store,
    signer,
    checkpointEveryRecords: settings.checkpoint.everyRecords,
    checkpointEverySeconds: settings.checkpoint.everySeconds,
    maxBatch: 500,
    log,
  });
  // Retention runs in the gateway, beside the writer that records each prune.
  const retention = startRetention(store, writer, settings.retention, log);
  return {
    store,
    writer,
    sessions: new SessionTracker(),
    verifierKey: signer.verifierKey,
    async close() {
      await retention?.stop();
      await writer.close();
      await store.close();
    },
  };
}
