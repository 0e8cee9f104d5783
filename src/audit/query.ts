/**
 * Reading the audit log as calls, not records: each request record joined
 * with its completion record (by requestId), filtered through the store's
 * indexed columns, and grouped into sessions. Everything pages through the
 * store, so a query over millions of records holds one page at a time.
 */
import type { AuditRecord, CompletionRecord, Outcome, RequestRecord } from "./record.ts";
import type { AuditStore, SearchFilter, StoredRow } from "./store/store.ts";

/** An agent by name: its Kubernetes username (prefix + name) or its token subject. */
export interface AgentRef {
  username: string;
  subject: string;
}

export const defaultAgentPrefix = "portcullis:agent:";

export function agentRef(name: string, prefix = defaultAgentPrefix): AgentRef {
  return { username: `${prefix}${name}`, subject: name };
}

/** Which calls: the store's equality filters on request records, plus an agent (either of two columns). */
export interface CallFilter
  extends Omit<SearchFilter, "kind" | "requestId" | "limit" | "afterSeq"> {
  agent?: AgentRef;
  /** Most calls to return (all when omitted). */
  limit?: number;
  /** Only calls whose request record comes after this seq, for paging. */
  afterSeq?: number;
}

/** One call: its two records as stored (bodies kept verbatim for export). */
export interface Call {
  request: RequestRecord;
  requestRow: StoredRow;
  completion?: CompletionRecord;
  completionRow?: StoredRow;
}

export interface CallView {
  seq: number;
  time: string;
  requestId: string;
  username: string;
  identityKind: RequestRecord["identity"]["kind"];
  verb: string;
  /** `resource` or `resource/subresource`; empty for non-resource paths. */
  resource: string;
  namespace: string;
  name: string;
  path: string;
  decision: RequestRecord["decision"]["action"];
  rule: string;
  sessionId: string;
  /** kubectl's per-invocation id, when the client sent one. */
  invocation: string;
  command: string;
  /** Completion fields are null while a call has no completion record (in flight, or the gateway died). */
  status: number | null;
  outcome: Outcome | null;
  durationMs: number | null;
  bytes: number | null;
  masked: NonNullable<CompletionRecord["masked"]>;
}

const pageSize = 500;

function parseRecord(row: StoredRow): AuditRecord {
  const record = JSON.parse(row.body) as AuditRecord;
  if (typeof record !== "object" || record === null || typeof record.kind !== "string")
    throw new Error(`audit record ${row.seq} is not a record`);
  return record;
}

/** The next page of request rows; an agent is two searches merged in seq order. */
async function requestPage(
  store: AuditStore,
  filter: CallFilter,
  afterSeq: number,
  limit: number,
): Promise<StoredRow[]> {
  const { agent, limit: _limit, afterSeq: _after, ...terms } = filter;
  const base: SearchFilter = { ...terms, kind: "request", afterSeq, limit };
  if (!agent) return store.search(base);
  const [byUsername, bySubject] = await Promise.all([
    store.search({ ...base, username: agent.username }),
    store.search({ ...base, subject: agent.subject }),
  ]);
  const merged = new Map<number, StoredRow>();
  for (const row of [...byUsername, ...bySubject]) merged.set(row.seq, row);
  return [...merged.values()].sort((a, b) => a.seq - b.seq).slice(0, limit);
}

async function completionOf(store: AuditStore, request: StoredRow, requestId: string) {
  // Completions always follow their request in the log.
  const [row] = await store.search({
    kind: "completion",
    requestId,
    afterSeq: request.seq,
    limit: 1,
  });
  return row;
}

/** Joins request rows with their completions: one indexed lookup each, issued together so the round trips overlap. */
function joinPage(store: AuditStore, rows: StoredRow[]): Promise<Call[]> {
  return Promise.all(
    rows.map(async function join(requestRow): Promise<Call> {
      const request = parseRecord(requestRow) as RequestRecord;
      const completionRow = await completionOf(store, requestRow, request.requestId);
      if (!completionRow) return { request, requestRow };
      const completion = parseRecord(completionRow) as CompletionRecord;
      return { request, requestRow, completion, completionRow };
    }),
  );
}

/** Calls matching `filter`, in request order, each joined with its completion. */
export async function* joinedCalls(
  store: AuditStore,
  filter: CallFilter = {},
): AsyncGenerator<Call> {
  let afterSeq = filter.afterSeq ?? -1;
  let remaining = filter.limit ?? Number.POSITIVE_INFINITY;
  while (remaining > 0) {
    const size = Math.min(pageSize, remaining);
    const rows = await requestPage(store, filter, afterSeq, size);
    yield* await joinPage(store, rows);
    if (rows.length < size) return;
    afterSeq = rows.at(-1)?.seq ?? afterSeq;
    remaining -= rows.length;
  }
}

export function toCallView({ request, requestRow, completion }: Call): CallView {
  const r = request.request;
  return {
    seq: requestRow.seq,
    time: request.time,
    requestId: request.requestId,
    username: request.identity.username,
    identityKind: request.identity.kind,
    verb: r.verb,
    resource: r.subresource ? `${r.resource}/${r.subresource}` : r.resource,
    namespace: r.namespace,
    name: r.name,
    path: r.path,
    decision: request.decision.action,
    rule: request.decision.rule,
    sessionId: request.session.id,
    invocation: request.session.invocation ?? "",
    command: request.session.command ?? "",
    status: completion?.status ?? null,
    outcome: completion?.outcome ?? null,
    durationMs: completion?.durationMs ?? null,
    bytes: completion?.bytes ?? null,
    masked: completion?.masked ?? [],
  };
}

export async function findCalls(store: AuditStore, filter: CallFilter = {}): Promise<CallView[]> {
  const views: CallView[] = [];
  for await (const call of joinedCalls(store, filter)) views.push(toCallView(call));
  return views;
}

/**
 * The last `count` calls matching `filter`, oldest first. Walks the matching
 * request rows (cheap) keeping only the last `count`, and joins only those.
 */
export async function findRecentCalls(
  store: AuditStore,
  filter: CallFilter,
  count: number,
): Promise<CallView[]> {
  const kept: StoredRow[] = [];
  for (let afterSeq = filter.afterSeq ?? -1; count > 0; ) {
    const rows = await requestPage(store, filter, afterSeq, pageSize);
    kept.push(...rows);
    if (kept.length > count) kept.splice(0, kept.length - count);
    if (rows.length < pageSize) break;
    afterSeq = rows.at(-1)?.seq ?? afterSeq;
  }
  return (await joinPage(store, kept)).map(toCallView);
}

/** Refused by the gateway (policy, approval) or by the API server (RBAC). */
export function isRefusal(call: CallView): boolean {
  return (
    call.decision === "deny" ||
    call.outcome === "refused" ||
    call.status === 401 ||
    call.status === 403
  );
}

export interface SessionSummary {
  id: string;
  username: string;
  kind: CallView["identityKind"];
  first: string;
  last: string;
  calls: number;
  /** kubectl invocations (distinct Kubectl-Session ids). */
  invocations: number;
  /** Distinct kubectl commands, in the order first seen. */
  commands: string[];
  refusals: number;
}

export interface SessionQuery {
  from?: string;
  to?: string;
  username?: string;
  agent?: AgentRef;
}

/**
 * Sessions with calls in the range, oldest first. Memory grows with the
 * number of sessions (and their distinct invocations), not with calls.
 */
export async function listSessions(
  store: AuditStore,
  query: SessionQuery = {},
): Promise<SessionSummary[]> {
  const sessions = new Map<string, Tally>();
  for await (const call of joinedCalls(store, query)) {
    const view = toCallView(call);
    let session = sessions.get(view.sessionId);
    if (!session) {
      session = startSummary(view);
      sessions.set(view.sessionId, session);
    }
    addToSummary(session, view);
  }
  return [...sessions.values()]
    .map(({ seen: _seen, ...summary }) => summary)
    .sort((a, b) => a.first.localeCompare(b.first));
}

type Tally = SessionSummary & { seen: Set<string> };

function startSummary(view: CallView): Tally {
  return {
    id: view.sessionId,
    username: view.username,
    kind: view.identityKind,
    first: view.time,
    last: view.time,
    calls: 0,
    invocations: 0,
    commands: [],
    refusals: 0,
    seen: new Set(),
  };
}

function addToSummary(session: Tally, view: CallView): void {
  session.calls++;
  if (view.time < session.first) session.first = view.time;
  if (view.time > session.last) session.last = view.time;
  if (isRefusal(view)) session.refusals++;
  if (view.invocation && !session.seen.has(`i:${view.invocation}`)) {
    session.seen.add(`i:${view.invocation}`);
    session.invocations++;
  }
  if (view.command && !session.seen.has(`c:${view.command}`)) {
    session.seen.add(`c:${view.command}`);
    session.commands.push(view.command);
  }
}

export interface SessionTimeline {
  session: SessionSummary;
  calls: CallView[];
}

/** One session's calls in order; undefined when the log has no such session. */
export async function sessionTimeline(
  store: AuditStore,
  id: string,
): Promise<SessionTimeline | undefined> {
  const calls = await findCalls(store, { sessionId: id });
  const first = calls[0];
  if (!first) return undefined;
  const session = startSummary(first);
  for (const call of calls) addToSummary(session, call);
  const { seen: _seen, ...summary } = session;
  return { session: summary, calls };
}
