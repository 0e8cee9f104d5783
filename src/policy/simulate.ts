/**
 * `policy simulate`: the recorded calls, run through a candidate policy, and
 * what would change. The log keeps what a decision needs — identity, method,
 * path, verb, and (at Request level and above) the request body — but not the
 * object a write would have produced nor namespace labels, so:
 *  - for create and update the recorded body stands in for `object` (the
 *    API server's defaults are missing from it); patches, deletes, and calls
 *    recorded at Metadata cannot be judged on their object and are reported
 *    as "not simulated" when a candidate rule needs it;
 *  - namespace labels are those recorded with the call (as the decision saw them).
 */
import type { RequestRecord } from "../audit/record.ts";
import type { AuditStore } from "../audit/store/store.ts";
import type { Identity } from "../identity/identity.ts";
import { classifyRequest } from "../kube/request-info.ts";
import { evaluate, needsObject } from "./evaluate.ts";
import type { CompiledPolicy, PolicyInput } from "./types.ts";

export interface SimulatedChange {
  seq: number;
  time: string;
  username: string;
  verb: string;
  resource: string;
  namespace: string;
  name: string;
  was: { action: string; rule: string };
  would: { action: string; rule: string };
}

export interface SimulationReport {
  calls: number;
  unchanged: number;
  changed: SimulatedChange[];
  /** Calls a candidate rule would judge on an object the log does not hold. */
  notSimulated: number;
  /** Changes counted by "was → would (rule)". */
  byRule: Record<string, number>;
  /** Changes counted by username. */
  byAgent: Record<string, number>;
}

function identityOf(record: RequestRecord): Identity {
  const { identity } = record;
  return {
    subject: identity.subject,
    issuer: identity.issuer,
    kind: identity.kind,
    username: identity.username,
    groups: identity.groups,
    extra: {},
    method: identity.method,
    ...(identity.tokenId ? { tokenId: identity.tokenId, uid: identity.tokenId } : {}),
  };
}

/** The candidate's input for a recorded call; undefined when its path no longer classifies. */
function inputOf(record: RequestRecord): PolicyInput | undefined {
  let requestInfo: ReturnType<typeof classifyRequest>;
  try {
    // The recorded path has no query; the recorded verb carries what it said (watch).
    requestInfo = {
      ...classifyRequest(record.request.method, record.request.path),
      verb: record.request.verb,
    };
  } catch {
    return undefined;
  }
  const namespaceLabels = record.request.namespaceLabels;
  return {
    identity: identityOf(record),
    requestInfo,
    method: record.request.method,
    ...(namespaceLabels ? { namespaceLabels } : {}),
  };
}

function recordedObject(record: RequestRecord): unknown {
  const verb = record.request.verb;
  if ((verb !== "create" && verb !== "update") || record.body?.text === undefined) return undefined;
  try {
    return JSON.parse(record.body.text);
  } catch {
    return undefined;
  }
}

export async function simulate(
  store: AuditStore,
  candidate: CompiledPolicy,
  options: { from?: string; to?: string; maxChanges?: number },
): Promise<SimulationReport> {
  const report: SimulationReport = {
    calls: 0,
    unchanged: 0,
    changed: [],
    notSimulated: 0,
    byRule: {},
    byAgent: {},
  };
  const maxChanges = options.maxChanges ?? 1000;
  let afterSeq: number | undefined;
  for (;;) {
    const page = await store.search({
      kind: "request",
      ...(options.from ? { from: options.from } : {}),
      ...(options.to ? { to: options.to } : {}),
      ...(afterSeq !== undefined ? { afterSeq } : {}),
      limit: 1000,
    });
    if (page.length === 0) break;
    for (const row of page) {
      afterSeq = row.seq;
      const record = JSON.parse(row.body) as RequestRecord;
      report.calls++;
      const base = inputOf(record);
      if (!base) {
        report.notSimulated++;
        continue;
      }
      const needs = needsObject(candidate, base);
      const object = recordedObject(record);
      if ((needs.object && object === undefined) || needs.oldObject) {
        report.notSimulated++;
        continue;
      }
      const would = evaluate(candidate, { ...base, ...(object !== undefined ? { object } : {}) });
      const was = { action: record.decision.action, rule: record.decision.rule };
      // A different rule reaching the same action is no change in what happens.
      if (would.action === was.action) {
        report.unchanged++;
        continue;
      }
      const key = `${was.action} → ${would.action} (${would.ruleId})`;
      report.byRule[key] = (report.byRule[key] ?? 0) + 1;
      report.byAgent[record.identity.username] =
        (report.byAgent[record.identity.username] ?? 0) + 1;
      if (report.changed.length < maxChanges) {
        report.changed.push({
          seq: row.seq,
          time: record.time,
          username: record.identity.username,
          verb: record.request.verb,
          resource: record.request.subresource
            ? `${record.request.resource}/${record.request.subresource}`
            : record.request.resource,
          namespace: record.request.namespace,
          name: record.request.name,
          was,
          would: { action: would.action, rule: would.ruleId },
        });
      }
    }
  }
  return report;
}
