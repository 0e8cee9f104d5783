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

/** Opens the configured store (no writer): for auditor commands that only read. */
export async function openAuditStore(
  settings: AuditSettings,
  dataDir: string,
): Promise<AuditStore> {
  if ("postgres" in settings.store) {
    const { connectionString, schema } = settings.store.postgres;
    return openPostgresStore({
      connectionString:
        typeof connectionString === "string" ? connectionString : resolveSecret(connectionString),
      schema,
    });
  }
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
