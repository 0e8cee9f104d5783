/**
 * The auditor's integrity commands: `audit verify` (a store or a bundle,
 * offline, with only the verifier key), `audit evidence`, `audit pubkey`,
 * `audit checkpoint` and `audit prune`. None of them talks to a running
 * gateway: they read the store (or a bundle) directly.
 */
import { join } from "node:path";
import type { Command } from "commander";
import { writeEvidenceBundle } from "../audit/evidence.ts";
import { openEvidenceBundle } from "../audit/evidence-source.ts";
import { verifierKeyFile } from "../audit/keys.ts";
import { type LogSource, type VerifyReport, verifyLog } from "../audit/verify.ts";
import { configuredVerifierKey, readKeyFile, withAuditStore } from "./audit-access.ts";
import { addPruneCommand } from "./audit-prune.ts";
import { type CommonOptions, configFromOptions, withConfigOptions } from "./options.ts";

interface KeyOptions {
  key?: string;
  keyString?: string;
}

function printReport(report: VerifyReport): void {
  if (!report.ok) {
    process.stderr.write(`audit verify: FAILED — ${report.failure?.message}\n`);
    return;
  }
  const latest = report.latestCheckpoint;
  const lines = [
    report.records === 0
      ? `verified: no records in log ${report.origin}`
      : `verified: ${report.records} records (${report.firstRecord}–${report.size - 1}) of log ${report.origin}`,
    `  ${report.checkpoints} signed checkpoints (${report.checkpointsBeforeBase} before the first record: signature only), ${report.consistencyProofs} consistency proofs, ${report.blobs} blobs`,
    latest
      ? `  latest checkpoint: size ${latest.size}, root ${latest.rootHash}`
      : "  no checkpoint yet",
    `  not yet covered by a checkpoint: ${report.uncovered} records`,
    ...report.notes.map((note) => `  note: ${note}`),
    `  in ${report.seconds.toFixed(1)} s`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function verifyCommand(
  options: CommonOptions & KeyOptions & { bundle?: string; json?: boolean },
) {
  const onProgress = ({ records, total }: { records: number; total?: number }) =>
    process.stderr.write(`verified ${records}${total ? ` of ${total}` : ""} records…\n`);
  const verify = (source: LogSource, key: string) => verifyLog(source, key, { onProgress });
  let report: VerifyReport;
  if (options.bundle !== undefined) {
    let key = options.keyString ?? (options.key && readKeyFile(options.key));
    if (!key) {
      key = readKeyFile(join(options.bundle, verifierKeyFile));
      process.stderr.write(
        `warning: verifying with the bundle's own verifier.pub (${key}); compare it with the key the log's operator published, or pass --key\n`,
      );
    }
    report = await verify(openEvidenceBundle(options.bundle), key);
  } else {
    report = await withAuditStore(options, (store, config) => {
      const key =
        options.keyString ??
        (options.key ? readKeyFile(options.key) : configuredVerifierKey(config));
      return verify(store, key);
    });
  }
  if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else printReport(report);
  if (!report.ok) process.exitCode = 1;
}

function parseTime(flag: string, text: string): Date {
  const time = Date.parse(text);
  if (Number.isNaN(time)) throw new Error(`${flag} ${JSON.stringify(text)} is not an ISO time`);
  return new Date(time);
}

async function evidenceCommand(
  options: CommonOptions & KeyOptions & { from: string; to: string; out: string },
) {
  const range = { from: parseTime("--from", options.from), to: parseTime("--to", options.to) };
  await withAuditStore(options, async (store, config) => {
    const key =
      options.keyString ?? (options.key ? readKeyFile(options.key) : configuredVerifierKey(config));
    const manifest = await writeEvidenceBundle(store, key, range, options.out);
    const report = await verifyLog(openEvidenceBundle(options.out), key);
    if (!report.ok)
      throw new Error(`the bundle just written does not verify: ${report.failure?.message}`);
    const { records } = manifest;
    process.stdout.write(
      `wrote ${options.out}: records ${records.first}–${records.end - 1} (${records.inRange} in the range), ${manifest.checkpoints.length} checkpoints, ${manifest.blobs} blobs; verified\n`,
    );
  });
}

export function addIntegrityCommands(audit: Command): void {
  const verify = audit
    .command("verify")
    .description(
      "prove the log (or an evidence bundle) is unaltered, offline, with only the verifier key",
    )
    .option("--bundle <dir>", "verify an evidence bundle instead of the configured store")
    .option("--key <file>", "verifier key file (default: <dataDir>/audit/verifier.pub)")
    .option("--key-string <vkey>", "verifier key itself (C2SP note key: name+id+base64)")
    .option("--json", "print the report as JSON");
  withConfigOptions(verify).action(verifyCommand);
  verify.addHelpText(
    "after",
    `
Checks every checkpoint's signature, recomputes the RFC 6962 tree over every
record (each exactly RFC 8785 canonical JSON, its seq its position, its blobs
intact), compares the root with each signed checkpoint and checks a
consistency proof between consecutive ones. Exit 0 when everything holds; 1
with the first bad record or checkpoint named.

  $ portcullis audit verify
  $ portcullis audit verify --config portcullis.yaml --key ./verifier.pub --json
  $ portcullis audit verify --bundle ./evidence-2030-q1 --key ./verifier.pub`,
  );

  const evidence = audit
    .command("evidence")
    .description("write a verifiable evidence bundle of the records in a time range")
    .requiredOption("--from <time>", "start of the range (ISO time, inclusive)")
    .requiredOption("--to <time>", "end of the range (ISO time, exclusive)")
    .requiredOption("--out <dir>", "new directory for the bundle")
    .option("--key <file>", "verifier key file to ship (default: the configured log's)")
    .option("--key-string <vkey>", "verifier key itself");
  withConfigOptions(evidence).action(evidenceCommand);
  evidence.addHelpText(
    "after",
    `
The bundle holds the records (extended to the next signed checkpoint), the
tree state before them, the checkpoints, consistency proofs, blobs, the
verifier key, a per-agent summary and a README for the examiner.

  $ portcullis audit evidence --from 2030-01-01T00:00:00Z --to 2030-04-01T00:00:00Z --out ./evidence-2030-q1
  $ portcullis audit verify --bundle ./evidence-2030-q1 --key ./verifier.pub`,
  );

  withConfigOptions(audit.command("pubkey").description("print the log's verifier key"))
    .action((options: CommonOptions) => {
      process.stdout.write(`${configuredVerifierKey(configFromOptions(options))}\n`);
    })
    .addHelpText(
      "after",
      `
Publish this key to auditors: it is all they need to verify the log.

  $ portcullis audit pubkey > verifier.pub`,
    );

  withConfigOptions(
    audit
      .command("checkpoint")
      .description("print the latest signed checkpoint (C2SP signed note)"),
  )
    .action((options: CommonOptions) =>
      withAuditStore(options, async (store) => {
        const latest = (await store.checkpoints()).at(-1);
        if (latest === undefined) throw new Error("the log has no signed checkpoint yet");
        process.stdout.write(latest.note);
      }),
    )
    .addHelpText(
      "after",
      `
Read from the store; a running gateway is not asked anything.

  $ portcullis audit checkpoint > checkpoint-$(date +%F).txt`,
    );

  addPruneCommand(audit);
}
