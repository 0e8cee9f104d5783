/**
 * What the audit log holds. Two records per call: a request record, written
 * (durably) before anything reaches the API server, and a completion record
 * when the call ends however it ends. Records are plain JSON; the store keeps
 * their RFC 8785 canonical form, which is what the Merkle tree commits to.
 */
import type { Identity } from "../identity/identity.ts";
import type { RequestInfo } from "../kube/request-info.ts";
import type { RecordIndex } from "./store/store.ts";

/** Kubernetes audit levels (audit.k8s.io), minus None: every call is recorded. */
export type AuditLevel = "Metadata" | "Request" | "RequestResponse";

export const auditLevels: readonly AuditLevel[] = ["Metadata", "Request", "RequestResponse"];

/** A captured body: inline when small, else a content-addressed blob. */
export interface BodyRef {
  contentType: string;
  /** Bytes the client sent or received (may exceed what was kept). */
  size: number;
  /** SHA-256 (hex) of the kept bytes. */
  sha256: string;
  /** The kept bytes as UTF-8 text, when small enough to keep inline. */
  text?: string;
  /** True when the kept bytes live in the blob store under `sha256`. */
  blob?: boolean;
  /** True when only the first bytes were kept. */
  truncated?: boolean;
}

export interface RecordedIdentity {
  subject: string;
  issuer: string;
  kind: Identity["kind"];
  username: string;
  groups: string[];
  method: Identity["method"];
  tokenId?: string;
}

export interface RequestRecord {
  kind: "request";
  seq?: number;
  time: string;
  requestId: string;
  identity: RecordedIdentity;
  source: { address: string; userAgent?: string };
  session: { id: string; invocation?: string; command?: string };
  request: {
    method: string;
    path: string;
    verb: string;
    isResourceRequest: boolean;
    apiGroup: string;
    apiVersion: string;
    resource: string;
    subresource: string;
    namespace: string;
    name: string;
    /** The namespace's labels when the decision was made (they can drive policy). */
    namespaceLabels?: Record<string, string>;
  };
  level: AuditLevel;
  /** The policy's decision; `dryRun` when it was judged on a dry-run of the write. */
  decision: {
    action: "allow" | "deny" | "approve";
    rule: string;
    reason?: string;
    dryRun?: boolean;
    /** The masking profile the answer goes through (`none`: answered in clear by choice). */
    maskingProfile?: string;
    /** The deciding rule lets streams the gateway cannot inspect pass unrecorded. */
    unrecordedStreams?: boolean;
  };
  approvals?: string[];
  body?: BodyRef;
}

export interface StreamSummary {
  protocol: string;
  unrecorded?: boolean;
  /** Port-forward connections, first 1000; `connectionCount` has them all. */
  connections?: PortForwardConnection[];
  connectionCount?: number;
  bytesFromClient?: number;
  bytesFromServer?: number;
}

export interface PortForwardConnection {
  port: number;
  bytesFromClient: number;
  bytesFromServer: number;
  /** Why the gateway refused this connection (and ended the port-forward). */
  refused?: string;
}

export type Outcome = "completed" | "refused" | "failed" | "client_gone";

export interface CompletionRecord {
  kind: "completion";
  seq?: number;
  time: string;
  requestId: string;
  outcome: Outcome;
  status: number;
  bytes: number;
  durationMs: number;
  error?: { code: string; message: string };
  /** What masking changed: counts by detector and field path, never values. */
  /** Why the gateway ended the session: a typed line a rule refused, with the rule. */
  sessionEnded?: string;
  /** An exec or attach session's asciicast v2 recording (blob when large); its hash is in the chain. */
  recording?: BodyRef;
  /**
   * A stream the gateway relayed: its protocol; for port-forward each
   * connection's port and byte counts (never its content); `unrecorded` when
   * a rule let a stream the gateway cannot inspect pass byte for byte.
   */
  stream?: StreamSummary;
  /**
   * The approval (its state and every decision: who, when, why) the call went
   * through or was refused by, or the grant that let it through.
   */
  approval?: {
    id: string;
    state: string;
    decisions: Array<{ by: string; decision: "approve" | "deny"; reason: string; at: string }>;
  };
  grant?: string;
  masked?: Array<{ detector: string; path: string; count: number }>;
  body?: BodyRef;
}

/** Written when retention removes a range: the log says what it lost. */
export interface PruneRecord {
  kind: "prune";
  seq?: number;
  time: string;
  requestId: string;
  prunedBelow: number;
  checkpointSize: number;
  reason: string;
}

export type AuditRecord = RequestRecord | CompletionRecord | PruneRecord;

export function recordedIdentity(identity: Identity): RecordedIdentity {
  return {
    subject: identity.subject,
    issuer: identity.issuer,
    kind: identity.kind,
    username: identity.username,
    groups: identity.groups,
    method: identity.method,
    ...(identity.tokenId ? { tokenId: identity.tokenId } : {}),
  };
}

export function recordedRequest(method: string, info: RequestInfo): RequestRecord["request"] {
  return {
    method,
    path: info.path,
    verb: info.verb,
    isResourceRequest: info.isResourceRequest,
    apiGroup: info.apiGroup,
    apiVersion: info.apiVersion,
    resource: info.resource,
    subresource: info.subresource,
    namespace: info.namespace,
    name: info.name,
  };
}

/** The searchable columns of a record. */
export function indexOf(record: AuditRecord): RecordIndex {
  switch (record.kind) {
    case "request":
      return {
        time: record.time,
        kind: record.kind,
        requestId: record.requestId,
        username: record.identity.username,
        subject: record.identity.subject,
        identityKind: record.identity.kind,
        verb: record.request.verb,
        resource: record.request.subresource
          ? `${record.request.resource}/${record.request.subresource}`
          : record.request.resource,
        namespace: record.request.namespace,
        name: record.request.name,
        decision: record.decision.action,
        sessionId: record.session.id,
      };
    case "completion":
      return {
        time: record.time,
        kind: record.kind,
        requestId: record.requestId,
        status: record.status,
      };
    case "prune":
      return { time: record.time, kind: record.kind, requestId: record.requestId };
    default: {
      const unreachable: never = record;
      throw new Error(`unknown record ${JSON.stringify(unreachable)}`);
    }
  }
}
