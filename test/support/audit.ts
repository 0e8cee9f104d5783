/**
 * A real audit log (SQLite in a temporary directory) for tests that start a
 * gateway; the same code the gateway runs, not a stand-in.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { type AuditLog, openAuditLog } from "../../src/audit/open.ts";
import { configSchema } from "../../src/config/schema.ts";
import type { AuditStageOptions } from "../../src/pipeline/audit.ts";

export interface TestAuditLog {
  log: AuditLog;
  dir: string;
  stage: AuditStageOptions;
  close(): Promise<void>;
}

export async function openTestAuditLog(): Promise<TestAuditLog> {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-audit-"));
  const settings = configSchema.parse({}).audit;
  const logger = pino({ level: "silent" });
  const log = await openAuditLog(settings, dir, logger);
  return {
    log,
    dir,
    stage: {
      writer: log.writer,
      sessions: log.sessions,
      defaultLevel: settings.level,
      readLevel: settings.readLevel,
      maxInlineBytes: settings.maxInlineBytes,
      maxResponseBytes: settings.maxResponseBytes,
      maxRecordingBytes: settings.maxRecordingBytes,
      log: logger,
    },
    async close() {
      await log.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
