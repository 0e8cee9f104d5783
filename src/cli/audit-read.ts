/**
 * What the read-only audit commands (audit search/export, sessions) share:
 * opening the configured store without creating one, the time-range and
 * call-filter options, and plain aligned tables.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { openAuditStore } from "../audit/open.ts";
import { type AgentRef, agentRef, type CallFilter } from "../audit/query.ts";
import type { AuditStore } from "../audit/store/store.ts";
import { effectivePrefix } from "../identity/schema.ts";
import { type CommonOptions, configFromOptions } from "./options.ts";

const units: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** `90m`, `24h`, `7d`, `1h30m` → milliseconds. */
export function parseDuration(text: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)([smhdw])/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text)
    throw new InvalidArgumentError(`"${text}" is not a duration (like 90m, 24h, 7d)`);
  return parts.reduce((ms, [, n, unit]) => ms + Number(n) * (units[unit ?? ""] ?? 0), 0);
}

function parseTime(text: string): string {
  const ms = Date.parse(text);
  if (Number.isNaN(ms))
    throw new InvalidArgumentError(`"${text}" is not a time (ISO 8601, like 2030-01-31T12:00:00Z)`);
  return new Date(ms).toISOString();
}

export interface TimeRangeOptions {
  since?: number;
  from?: string;
  to?: string;
}

export function withTimeRangeOptions(command: Command, defaultSince?: string): Command {
  const since = new Option("--since <duration>", "calls in the last DURATION (90m, 24h, 7d)")
    .argParser(parseDuration)
    .conflicts("from");
  if (defaultSince) since.default(parseDuration(defaultSince), defaultSince);
  return command
    .addOption(since)
    .addOption(
      new Option("--from <time>", "calls at or after TIME (ISO 8601)").argParser(parseTime),
    )
    .addOption(new Option("--to <time>", "calls before TIME (ISO 8601)").argParser(parseTime));
}

/** The ISO range the options name; `--since` counts back from now. */
export function timeRange(options: TimeRangeOptions, now = Date.now()) {
  const from =
    options.from ?? (options.since ? new Date(now - options.since).toISOString() : undefined);
  return { ...(from ? { from } : {}), ...(options.to ? { to: options.to } : {}) };
}

export interface CallFilterOptions extends TimeRangeOptions {
  agent?: string;
  user?: string;
  verb?: string;
  resource?: string;
  namespace?: string;
  name?: string;
  decision?: string;
  session?: string;
}

export function withCallFilterOptions(command: Command): Command {
  return command
    .addOption(new Option("--agent <name>", "calls by this agent (its username or token subject)"))
    .addOption(
      new Option("--user <username>", "calls by this Kubernetes username").conflicts("agent"),
    )
    .option("--verb <verb>", "Kubernetes verb: get, list, watch, create, update, patch, delete, …")
    .option("--resource <resource>", "resource, or resource/subresource (pods/exec)")
    .option("-n, --namespace <namespace>", "namespace")
    .option("--name <name>", "object name")
    .addOption(
      new Option("--decision <decision>", "policy decision").choices(["allow", "deny", "approve"]),
    )
    .option("--session <id>", "session id (from `portcullis sessions list`)");
}

/** The agent's username is the configured prefix + its name, so `--agent` follows the config. */
export function agentFromOptions(
  options: CommonOptions & { agent?: string },
): AgentRef | undefined {
  if (!options.agent) return undefined;
  const prefix = effectivePrefix(
    configFromOptions(options).authentication.agentTokens.usernamePrefix,
  );
  return agentRef(options.agent, prefix);
}

export function callFilter(options: CommonOptions & CallFilterOptions): CallFilter {
  const filter: CallFilter = { ...timeRange(options) };
  const agent = agentFromOptions(options);
  if (agent) filter.agent = agent;
  const terms = {
    username: options.user,
    verb: options.verb,
    resource: options.resource,
    namespace: options.namespace,
    name: options.name,
    decision: options.decision,
    sessionId: options.session,
  };
  for (const [key, value] of Object.entries(terms))
    if (value !== undefined) Object.assign(filter, { [key]: value });
  return filter;
}

/** Opens the configured log for reading; refuses to create an empty SQLite log where none is. */
export async function openStoreForReading(options: CommonOptions): Promise<AuditStore> {
  const config = configFromOptions(options);
  if ("sqlite" in config.audit.store) {
    const path = config.audit.store.sqlite.path ?? join(config.dataDir, "audit.db");
    if (!existsSync(path))
      throw new Error(`no audit log at ${path} (is --data-dir or the config's dataDir right?)`);
  }
  return openAuditStore(config.audit, config.dataDir);
}

/** Runs `work` on the store and closes it however `work` ends. */
export async function withStore<T>(
  options: CommonOptions,
  work: (store: AuditStore) => Promise<T>,
): Promise<T> {
  const store = await openStoreForReading(options);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** Left-aligned columns two spaces apart; the last column is not padded. */
export function renderTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? "").length)));
  return all
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  "),
    )
    .map((line) => `${line.trimEnd()}\n`)
    .join("");
}

/** `2030-01-01T10:00:00.123Z` → `2030-01-01T10:00:00Z`, for tables. */
export function shortTime(iso: string): string {
  return iso.replace(/\.\d+Z$/, "Z");
}

export function parseCount(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`"${text}" is not a positive whole number`);
  return n;
}
