/**
 * `portcullis audit prune --older-than 90d`: manual retention, the same
 * pruning the gateway runs on its timer. It records the prune through a
 * writer with the log's own signing key, so it refuses to invent a key.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { pino } from "pino";
import { loadOrCreateSigner, signerKeyFile } from "../audit/keys.ts";
import { parseAge, pruneOlderThan } from "../audit/retention.ts";
import { AuditWriter } from "../audit/writer.ts";
import { withAuditStore } from "./audit-access.ts";
import { type CommonOptions, withConfigOptions } from "./options.ts";

async function pruneCommand(options: CommonOptions & { olderThan: string }): Promise<void> {
  const cutoff = new Date(Date.now() - parseAge(options.olderThan));
  await withAuditStore(options, async (store, config) => {
    const keyDir = join(config.dataDir, "audit");
    if (!config.audit.signingKey && !existsSync(join(keyDir, signerKeyFile)))
      throw new Error(
        `no signing key in ${keyDir}: point --data-dir (or --config) at the gateway's data directory`,
      );
    const writer = await AuditWriter.open({
      store,
      signer: loadOrCreateSigner(keyDir, config.audit.signingKey),
      checkpointEveryRecords: config.audit.checkpoint.everyRecords,
      checkpointEverySeconds: config.audit.checkpoint.everySeconds,
      maxBatch: 500,
      log: pino({ level: "silent" }),
    });
    try {
      const result = await pruneOlderThan(
        store,
        writer,
        cutoff,
        `manual: audit prune --older-than ${options.olderThan}`,
      );
      process.stdout.write(
        result
          ? `pruned ${result.removed} records: the log now starts at record ${result.prunedBelow} (prune record ${result.recordSeq})\n`
          : `nothing to prune: no signed checkpoint has only records older than ${cutoff.toISOString()} below it\n`,
      );
    } finally {
      // Signs a checkpoint covering the prune record.
      await writer.close();
    }
  });
}

export function addPruneCommand(audit: Command): void {
  const prune = audit
    .command("prune")
    .description("remove records older than an age (whole ranges below a signed checkpoint)")
    .requiredOption("--older-than <age>", "age like 90d, 12h or 30m");
  withConfigOptions(prune).action(pruneCommand);
  prune.addHelpText(
    "after",
    `
Only whole ranges below a signed checkpoint go, so what remains verifies; a
prune record in the log says what was removed. The gateway does the same
every audit.retention.everyMinutes when audit.retention.maxAgeDays is set.

  $ portcullis audit prune --older-than 90d
  $ portcullis audit verify`,
  );
}
