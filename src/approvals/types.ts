/**
 * Just-in-time approvals: the records the approvals store keeps. An
 * `ApprovalRequest` is one held (or refused-until-approved) API call and the
 * decisions taken on it; a `Grant` is a time-boxed elevation an approver gives
 * instead of a single call. All times are ISO 8601 strings in UTC
 * (`Date.prototype.toISOString()`), so they also sort as text.
 */

/**
 * pending → approved | denied | expired | cancelled; approved → used | expired | cancelled.
 * denied, expired, cancelled and used are final.
 */
export type ApprovalState = "pending" | "approved" | "denied" | "expired" | "cancelled" | "used";

/**
 * hold: the gateway keeps the HTTP request open on `replica` until a decision.
 * retry: the gateway answered 403 at once; a matching retry passes once after approval.
 */
export type ApprovalMode = "hold" | "retry";

export interface Requester {
  /** Kubernetes user name the call is made as; what separation of duties compares. */
  username: string;
  subject: string;
  kind: "agent" | "human";
  groups: string[];
  uid?: string;
  sessionId?: string;
  /** The `Kubectl-Command` header, when the client sent one. */
  command?: string;
}

/** The call being approved, as classified (see src/kube/request-info.ts). */
export interface HeldCall {
  method: string;
  /** Path and query exactly as the client sent them; a retry must match it. */
  path: string;
  verb: string;
  apiGroup: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

export interface Decision {
  /** The approver's user name. */
  by: string;
  groups: string[];
  decision: "approve" | "deny";
  reason: string;
  at: string;
}

export interface ApprovalRequest {
  /** `apr-` and 16 random hex digits. */
  id: string;
  createdAt: string;
  /** After this a pending approval can no longer be decided, nor an approved one used. */
  expiresAt: string;
  /** The audit request id of the call, linking the approval to its records. */
  requestId: string;
  /** The gateway instance holding the call; null in retry mode. */
  replica: string | null;
  mode: ApprovalMode;
  requester: Requester;
  call: HeldCall;
  /** SHA-256 (hex) of the request body, "" without one; a retry must send the same bytes. */
  bodySha256: string;
  rule: { id: string; reason: string };
  /** Who may decide and how many distinct approvals close it as approved. */
  approvers: { groups: string[]; required: number };
  /** What the call would do (dry-run object, diff, what a delete removes). Opaque to the store. */
  effect: unknown;
  state: ApprovalState;
  decisions: Decision[];
  closedAt?: string;
  closedReason?: string;
}

/** What a caller supplies; the store assigns id, createdAt, state and decisions. */
export type NewApproval = Omit<
  ApprovalRequest,
  "id" | "createdAt" | "state" | "decisions" | "closedAt" | "closedReason"
>;

/** What an approver supplies; the store stamps `at`. */
export type DecisionInput = Omit<Decision, "at">;

/** Which calls a grant lets through. Each list matches any of its entries; "*" matches all. */
export interface GrantScope {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  namespaces: string[];
  /** Absent: any name. */
  names?: string[];
}

export interface Grant {
  /** `grt-` and 16 random hex digits. */
  id: string;
  createdAt: string;
  expiresAt: string;
  grantedBy: string;
  reason: string;
  /** The user name (usually an agent's) the grant elevates. */
  subject: string;
  scope: GrantScope;
  /** The approval the grant was given from, if any. */
  fromApproval?: string;
  revokedAt?: string;
  revokedBy?: string;
  revokeReason?: string;
}

export type NewGrant = Omit<Grant, "id" | "createdAt" | "revokedAt" | "revokedBy" | "revokeReason">;
