/**
 * One call as a Kubernetes audit event (audit.k8s.io/v1 Event, from
 * k8s.io/apiserver pkg/apis/audit/v1/types.go), so SIEM pipelines that ingest
 * the API server's audit log take ours unchanged. What Kubernetes has no field
 * for (decision, rule, session, kubectl command, masking) rides in
 * `annotations`, which the type defines as string → string.
 */

import type { Call } from "./query.ts";
import type { BodyRef, RequestRecord } from "./record.ts";

/** authentication/v1 UserInfo. */
export interface AuditUser {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** audit/v1 ObjectReference (all fields optional there). */
export interface AuditObjectRef {
  resource?: string;
  namespace?: string;
  name?: string;
  apiGroup?: string;
  apiVersion?: string;
  subresource?: string;
}

/** meta/v1 Status as the audit log carries it. */
export interface AuditResponseStatus {
  metadata: Record<string, never>;
  status?: "Failure";
  message?: string;
  reason?: string;
  code: number;
}

export interface AuditEvent {
  level: RequestRecord["level"];
  auditID: string;
  stage: "RequestReceived" | "ResponseComplete";
  requestURI: string;
  verb: string;
  user: AuditUser;
  sourceIPs?: string[];
  userAgent?: string;
  objectRef?: AuditObjectRef;
  responseStatus?: AuditResponseStatus;
  requestObject?: unknown;
  responseObject?: unknown;
  /** meta/v1 MicroTime: RFC 3339 with exactly six fractional digits. */
  requestReceivedTimestamp: string;
  stageTimestamp: string;
  annotations: Record<string, string>;
}

export type BlobLoader = (sha256: string) => Promise<Buffer | undefined>;

/** `2026-01-02T03:04:05.123Z` → `2026-01-02T03:04:05.123000Z` (Go parses RFC3339Micro strictly). */
export function microTime(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`audit record time ${JSON.stringify(iso)} is not a time`);
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** A recorded body as an object, when it was kept whole and is JSON (Kubernetes records only JSON). */
async function bodyObject(ref: BodyRef | undefined, loadBlob: BlobLoader): Promise<unknown> {
  if (!ref || ref.truncated) return undefined;
  const text = ref.text ?? (ref.blob ? (await loadBlob(ref.sha256))?.toString("utf8") : undefined);
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    // Protobuf, CBOR, a watch stream of several objects, YAML: not an object Kubernetes would log.
    return undefined;
  }
}

function user(identity: RequestRecord["identity"]): AuditUser {
  const extra: Record<string, string[]> = {
    "portcullis.dev/subject": [identity.subject],
    "portcullis.dev/issuer": [identity.issuer],
    "portcullis.dev/auth-method": [identity.method],
  };
  if (identity.tokenId) extra["portcullis.dev/token-id"] = [identity.tokenId];
  return { username: identity.username, groups: identity.groups, extra };
}

function objectRef(request: RequestRecord["request"]): AuditObjectRef | undefined {
  if (!request.isResourceRequest) return undefined;
  const ref: AuditObjectRef = {};
  const fields = [
    "resource",
    "namespace",
    "name",
    "apiGroup",
    "apiVersion",
    "subresource",
  ] as const;
  for (const field of fields) if (request[field]) ref[field] = request[field];
  return ref;
}

/** Kubernetes writes plain IPv4 addresses, not IPv4-mapped IPv6. */
function sourceIP(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

function responseStatus(call: Call, responseObject: unknown): AuditResponseStatus | undefined {
  const completion = call.completion;
  if (!completion) return undefined;
  const status: AuditResponseStatus = { metadata: {}, code: completion.status };
  if (completion.status < 400) return status;
  status.status = "Failure";
  const body = responseObject as
    | { kind?: unknown; message?: unknown; reason?: unknown }
    | undefined;
  const fromBody = body?.kind === "Status";
  const message = completion.error?.message ?? (fromBody ? body.message : undefined);
  if (typeof message === "string" && message) status.message = message;
  if (fromBody && typeof body.reason === "string" && body.reason) status.reason = body.reason;
  return status;
}

function annotations({ request, requestRow, completion, completionRow }: Call) {
  const notes: Record<string, string> = {
    "portcullis.dev/decision": request.decision.action,
    "portcullis.dev/rule": request.decision.rule,
    "portcullis.dev/session": request.session.id,
    "portcullis.dev/identity-kind": request.identity.kind,
    "portcullis.dev/request-seq": String(requestRow.seq),
  };
  if (request.decision.reason) notes["portcullis.dev/decision-reason"] = request.decision.reason;
  if (request.session.invocation)
    notes["portcullis.dev/kubectl-session"] = request.session.invocation;
  if (request.session.command) notes["portcullis.dev/kubectl-command"] = request.session.command;
  if (request.approvals?.length)
    notes["portcullis.dev/approvals"] = JSON.stringify(request.approvals);
  if (completion && completionRow) {
    notes["portcullis.dev/completion-seq"] = String(completionRow.seq);
    notes["portcullis.dev/outcome"] = completion.outcome;
    notes["portcullis.dev/masked"] = JSON.stringify(completion.masked ?? []);
    if (completion.error) notes["portcullis.dev/error-code"] = completion.error.code;
  }
  return notes;
}

/**
 * The Event for one call: stage ResponseComplete once it has a completion
 * record, RequestReceived while it has none. Bodies appear only where the
 * record's level allows and only for resource requests, as in Kubernetes.
 */
export async function toAuditEvent(call: Call, loadBlob: BlobLoader): Promise<AuditEvent> {
  const { request, completion } = call;
  const r = request.request;
  const withBodies = r.isResourceRequest;
  const requestObject =
    withBodies && request.level !== "Metadata"
      ? await bodyObject(request.body, loadBlob)
      : undefined;
  const responseObject =
    withBodies && request.level === "RequestResponse"
      ? await bodyObject(completion?.body, loadBlob)
      : undefined;
  const ref = objectRef(r);
  const status = responseStatus(call, responseObject);
  return {
    level: request.level,
    auditID: request.requestId,
    stage: completion ? "ResponseComplete" : "RequestReceived",
    requestURI: r.path,
    verb: r.verb,
    user: user(request.identity),
    sourceIPs: [sourceIP(request.source.address)],
    ...(request.source.userAgent ? { userAgent: request.source.userAgent } : {}),
    ...(ref ? { objectRef: ref } : {}),
    ...(status ? { responseStatus: status } : {}),
    ...(requestObject !== undefined ? { requestObject } : {}),
    ...(responseObject !== undefined ? { responseObject } : {}),
    requestReceivedTimestamp: microTime(request.time),
    stageTimestamp: microTime(completion?.time ?? request.time),
    annotations: annotations(call),
  };
}
