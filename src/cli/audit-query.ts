/**
 * `portcullis audit search` and `portcullis audit export`: the auditor's
 * read-only views of the log — calls by agent, time and target, and exports
 * in JSON Lines, Kubernetes EventList or CSV.
 */
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { type Command, Option } from "commander";
import { type ExportFormat, exportAudit, exportFormats } from "../audit/export.ts";
import { type CallView, findCalls, findRecentCalls } from "../audit/query.ts";
import {
  type CallFilterOptions,
  callFilter,
  parseCount,
  renderTable,
  shortTime,
  withCallFilterOptions,
  withStore,
  withTimeRangeOptions,
} from "./audit-read.ts";
import { type CommonOptions, withConfigOptions } from "./options.ts";

interface SearchOptions extends CommonOptions, CallFilterOptions {
  limit: number;
  after?: number;
  tail?: boolean;
  output: "table" | "json" | "jsonl";
}

/** Where a call went: `namespace/name`, `name`, or the namespace alone. */
export function target(call: CallView): string {
  if (call.namespace && call.name) return `${call.namespace}/${call.name}`;
  return call.name || call.namespace || "-";
}

export function callsTable(calls: CallView[]): string {
  return renderTable(
    ["TIME", "USER", "VERB", "RESOURCE", "NAMESPACE/NAME", "STATUS", "DECISION", "MS"],
    calls.map((call) => [
      shortTime(call.time),
      call.username,
      call.verb,
      call.resource || call.path,
      target(call),
      call.status === null ? "-" : String(call.status),
      call.decision,
      call.durationMs === null ? "-" : String(Math.round(call.durationMs)),
    ]),
  );
}

function printCalls(calls: CallView[], output: SearchOptions["output"]): void {
  if (output === "json") process.stdout.write(`${JSON.stringify(calls, null, 2)}\n`);
  else if (output === "jsonl")
    process.stdout.write(calls.map((call) => `${JSON.stringify(call)}\n`).join(""));
  else if (calls.length === 0) process.stderr.write("no calls match\n");
  else process.stdout.write(callsTable(calls));
}

async function search(options: SearchOptions): Promise<void> {
  const filter = callFilter(options);
  if (options.after !== undefined) filter.afterSeq = options.after;
  await withStore(options, async (store) => {
    const calls = options.tail
      ? await findRecentCalls(store, filter, options.limit)
      : await findCalls(store, { ...filter, limit: options.limit });
    printCalls(calls, options.output);
    const last = calls.at(-1);
    if (!options.tail && last && calls.length === options.limit)
      process.stderr.write(
        `showing the first ${options.limit} matching calls; continue with --after ${last.seq}\n`,
      );
  });
}

interface ExportOptions extends CommonOptions, CallFilterOptions {
  format: ExportFormat;
  out?: string;
}

async function exportTo(options: ExportOptions): Promise<void> {
  const filter = callFilter(options);
  const file = options.out ? createWriteStream(options.out, { mode: 0o600 }) : undefined;
  const out: Writable = file ?? process.stdout;
  const unit = options.format === "jsonl" ? "records" : "calls";
  try {
    const count = await withStore(options, (store) =>
      exportAudit(options.format, store, out, filter, {
        progressEvery: 100_000,
        onProgress: (n) => process.stderr.write(`exported ${n} ${unit}…\n`),
      }),
    );
    if (file) {
      file.end();
      await finished(file);
    }
    process.stderr.write(
      `exported ${count} ${unit} as ${options.format}${options.out ? ` to ${options.out}` : ""}\n`,
    );
  } catch (error) {
    // A reader that stopped early (`| head`) is not a failure of the export.
    if (!file && ((error as NodeJS.ErrnoException).code === "EPIPE" || process.stdout.destroyed))
      return;
    // A half-written export must not pass for a whole one.
    if (file && options.out) {
      file.destroy();
      await rm(options.out, { force: true });
    }
    throw error;
  }
}

export function addQueryCommands(audit: Command): void {
  const searchCommand = audit
    .command("search")
    .description(
      "find calls by agent, time range, verb, resource, namespace, name, decision or session",
    )
    .addOption(new Option("--limit <n>", "most calls to show").argParser(parseCount).default(100))
    .addOption(
      new Option("--after <seq>", "only calls after this log position (paging)").argParser(Number),
    )
    .option("--tail", "show the most recent matching calls instead of the first")
    .addOption(
      new Option("-o, --output <format>", "output format")
        .choices(["table", "json", "jsonl"])
        .default("table"),
    );
  withConfigOptions(withTimeRangeOptions(withCallFilterOptions(searchCommand)))
    .addHelpText(
      "after",
      `
Examples:
  $ portcullis audit search --agent deployer --since 24h
  $ portcullis audit search --from 2030-01-01T00:00:00Z --to 2030-01-02T00:00:00Z --decision deny
  $ portcullis audit search --resource secrets -n prod -o json
  $ portcullis audit search --session s-1f2e3d4c5b6a7988 --tail --limit 20`,
    )
    .action(search);

  const exportCommand = audit
    .command("export")
    .description("export the log as JSON Lines, a Kubernetes audit.k8s.io/v1 EventList, or CSV")
    .addOption(
      new Option(
        "-f, --format <format>",
        "jsonl: stored records; eventlist: one Event per call; csv: one row per call",
      )
        .choices(exportFormats)
        .makeOptionMandatory(),
    )
    .option("--out <file>", "write to FILE instead of stdout");
  withConfigOptions(withTimeRangeOptions(withCallFilterOptions(exportCommand)))
    .addHelpText(
      "after",
      `
JSON Lines without call filters holds every record in the range exactly as
stored (each line re-hashes to its Merkle leaf); with filters, each matching
call's request and completion records.

Examples:
  $ portcullis audit export --format eventlist --since 7d --out events.json
  $ portcullis audit export --format jsonl --from 2030-01-01T00:00:00Z --to 2030-02-01T00:00:00Z > january.jsonl
  $ portcullis audit export --format csv --agent deployer --since 30d --out deployer.csv`,
    )
    .action(exportTo);
}
