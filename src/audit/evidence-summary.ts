/**
 * The examiner's first page: per agent or person, what they did in the
 * range — calls, refusals, failures, approvals and who gave them, which
 * fields masking changed, first and last call. Derived from the records
 * in the bundle; it is a convenience, the records are the evidence.
 */
import type { ParsedRecord } from "./verify-record.ts";

export interface ActorSummary {
  username: string;
  kind: string;
  calls: number;
  /** Completions with outcome `refused` (policy, approval or gateway refusal). */
  refusals: number;
  /** Completions with outcome `failed` (upstream or gateway errors). */
  failures: number;
  approvals: Array<{ seq: number; requestId: string; approvals: string[] }>;
  masked: Array<{ detector: string; path: string; count: number }>;
  first: string;
  last: string;
}

interface Call {
  actor: ActorSummary;
  masked: Map<string, { detector: string; path: string; count: number }>;
}

export class EvidenceSummary {
  readonly #actors = new Map<string, ActorSummary>();
  readonly #masked = new Map<
    ActorSummary,
    Map<string, { detector: string; path: string; count: number }>
  >();
  readonly #calls = new Map<string, Call>();

  /** Adds a request record in the range (starting a call) or any completion of such a call. */
  add(record: ParsedRecord, seq: number, inRange: boolean): void {
    if (record.kind === "request" && inRange) this.#addRequest(record, seq);
    else if (record.kind === "completion") this.#addCompletion(record);
  }

  #addRequest(record: ParsedRecord, seq: number): void {
    const identity = (record.identity ?? {}) as { username?: string; kind?: string };
    const username = identity.username ?? "(unknown)";
    const time = String(record.time);
    let actor = this.#actors.get(username);
    if (actor === undefined) {
      actor = {
        ...{ username, kind: identity.kind ?? "", calls: 0, refusals: 0, failures: 0 },
        ...{ approvals: [], masked: [], first: time, last: time },
      };
      this.#actors.set(username, actor);
      this.#masked.set(actor, new Map());
    }
    actor.calls++;
    if (time < actor.first) actor.first = time;
    if (time > actor.last) actor.last = time;
    const requestId = String(record.requestId);
    if (Array.isArray(record.approvals) && record.approvals.length > 0)
      actor.approvals.push({ seq, requestId, approvals: record.approvals.map(String) });
    this.#calls.set(requestId, { actor, masked: this.#masked.get(actor) ?? new Map() });
  }

  #addCompletion(record: ParsedRecord): void {
    const call = this.#calls.get(String(record.requestId));
    if (call === undefined) return; // the call began outside the range
    if (record.outcome === "refused") call.actor.refusals++;
    if (record.outcome === "failed") call.actor.failures++;
    const masked = Array.isArray(record.masked) ? record.masked : [];
    for (const entry of masked as Array<{ detector: string; path: string; count: number }>) {
      const key = `${entry.detector}\u0000${entry.path}`;
      const total = call.masked.get(key) ?? {
        detector: entry.detector,
        path: entry.path,
        count: 0,
      };
      total.count += Number(entry.count) || 0;
      call.masked.set(key, total);
    }
  }

  actors(): ActorSummary[] {
    return [...this.#actors.values()]
      .map((actor) => ({ ...actor, masked: [...(this.#masked.get(actor)?.values() ?? [])] }))
      .sort((a, b) => a.username.localeCompare(b.username));
  }
}

function cell(text: string | number): string {
  return String(text).replace(/\|/g, "\\|");
}

/** summary.md: one table, then approvals and masked fields per actor. */
export function summaryMarkdown(
  actors: ActorSummary[],
  range: { from: string; to: string },
): string {
  const lines = [
    `# Audit summary, ${range.from} to ${range.to}`,
    "",
    "| who | kind | calls | refused | failed | approvals | masked fields | first call | last call |",
    "|---|---|---:|---:|---:|---:|---:|---|---|",
  ];
  for (const a of actors) {
    const masked = a.masked.reduce((sum, m) => sum + m.count, 0);
    lines.push(
      `| ${[a.username, a.kind, a.calls, a.refusals, a.failures, a.approvals.length, masked, a.first, a.last].map(cell).join(" | ")} |`,
    );
  }
  for (const a of actors) {
    if (a.approvals.length === 0 && a.masked.length === 0) continue;
    lines.push("", `## ${a.username}`);
    for (const approval of a.approvals)
      lines.push(
        `- record ${approval.seq} (${approval.requestId}) approved: ${approval.approvals.join(", ")}`,
      );
    for (const m of a.masked) lines.push(`- masked ${m.detector} at \`${m.path}\`: ${m.count}`);
  }
  return `${lines.join("\n")}\n`;
}
