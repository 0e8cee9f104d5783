/**
 * The approval state machine and the store's validation, as pure functions
 * both engines apply to what they read under a lock. An engine only persists
 * what an outcome says to write and throws what it says to throw, so the two
 * engines cannot drift on who may decide what, or when.
 */
import { randomBytes } from "node:crypto";
import type {
  ApprovalRequest,
  ApprovalState,
  DecisionInput,
  Grant,
  NewApproval,
  NewGrant,
} from "../types.ts";
import { ApprovalStoreError } from "./store.ts";

/** What a locked mutation does: persist `write` (if any), then throw `error` or return `result`. */
export interface Outcome<T> {
  write?: ApprovalRequest;
  error?: ApprovalStoreError;
  result: T;
}

/** Every edge a transition() may take; approved and denied are reached only by decide(). */
const transitions: Record<ApprovalState, readonly ApprovalState[]> = {
  pending: ["expired", "cancelled"],
  approved: ["used", "expired", "cancelled"],
  denied: [],
  expired: [],
  cancelled: [],
  used: [],
};

export const newApprovalId = () => `apr-${randomBytes(8).toString("hex")}`;
export const newGrantId = () => `grt-${randomBytes(8).toString("hex")}`;

/** Normalises to the exact toISOString form, so stored times also compare as text. */
function isoAfter(value: string, now: Date, field: string): string {
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new RangeError(`${field} ${JSON.stringify(value)} is not a time`);
  if (time <= now.getTime()) throw new RangeError(`${field} ${value} is not in the future`);
  return new Date(time).toISOString();
}

export function isExpired(item: { expiresAt: string }, now: Date): boolean {
  return now.getTime() >= Date.parse(item.expiresAt);
}

export function prepareApproval(input: NewApproval, now: Date): ApprovalRequest {
  const { required } = input.approvers;
  if (!Number.isSafeInteger(required) || required < 1)
    throw new RangeError(`approvers.required must be a positive integer, not ${required}`);
  if (!/^([0-9a-f]{64})?$/.test(input.bodySha256))
    throw new RangeError("bodySha256 must be 64 lowercase hex digits, or empty without a body");
  if ((input.mode === "hold") !== (typeof input.replica === "string"))
    throw new RangeError("a hold-mode approval names its replica; a retry-mode one has none");
  return {
    ...input,
    id: newApprovalId(),
    createdAt: now.toISOString(),
    expiresAt: isoAfter(input.expiresAt, now, "expiresAt"),
    state: "pending",
    decisions: [],
  };
}

export function prepareGrant(input: NewGrant, now: Date): Grant {
  return {
    ...input,
    id: newGrantId(),
    createdAt: now.toISOString(),
    expiresAt: isoAfter(input.expiresAt, now, "expiresAt"),
  };
}

function close(
  approval: ApprovalRequest,
  state: ApprovalState,
  reason: string,
  now: Date,
): ApprovalRequest {
  return { ...approval, state, closedAt: now.toISOString(), closedReason: reason };
}

/** Closes a pending or approved approval as expired, saying which deadline it missed. */
export function expireApproval(approval: ApprovalRequest, now: Date): ApprovalRequest {
  const what = approval.state === "pending" ? "decided" : "used";
  return close(approval, "expired", `not ${what} before ${approval.expiresAt}`, now);
}

/** An approval the caller named that is not there. */
export function approvalNotFound(id: string): ApprovalStoreError {
  return new ApprovalStoreError("approval_not_found", `approval ${id} does not exist`);
}

export function applyDecision(
  approval: ApprovalRequest,
  input: DecisionInput,
  now: Date,
): Outcome<ApprovalRequest> {
  const refuse = (code: ApprovalStoreError["code"], message: string, write?: ApprovalRequest) => ({
    result: approval,
    error: new ApprovalStoreError(code, `approval ${approval.id}: ${message}`),
    ...(write && { write }),
  });
  if (approval.state !== "pending")
    return refuse("approval_closed", `already ${approval.state}, no longer open to decisions`);
  if (isExpired(approval, now)) {
    const expired = expireApproval(approval, now);
    return refuse("approval_expired", `expired at ${approval.expiresAt}`, expired);
  }
  if (approval.decisions.some((d) => d.by === input.by))
    return refuse("already_decided", `${input.by} has already decided`);
  // Separation of duties, enforced where the decision is taken, whatever calls the store.
  if (input.decision === "approve" && input.by === approval.requester.username)
    return refuse("self_approval", `${input.by} requested this call and cannot approve it`);
  const decided = {
    ...approval,
    decisions: [...approval.decisions, { ...input, at: now.toISOString() }],
  };
  if (input.decision === "deny") {
    const denied = close(decided, "denied", `denied by ${input.by}: ${input.reason}`, now);
    return { write: denied, result: denied };
  }
  const approvers = decided.decisions.filter((d) => d.decision === "approve").map((d) => d.by);
  if (approvers.length < approval.approvers.required) return { write: decided, result: decided };
  const approved = close(decided, "approved", `approved by ${approvers.join(", ")}`, now);
  return { write: approved, result: approved };
}

export function applyTransition(
  approval: ApprovalRequest,
  from: ApprovalState[],
  to: ApprovalState,
  reason: string,
  now: Date,
): Outcome<ApprovalRequest | undefined> {
  if (!from.includes(approval.state)) return { result: undefined };
  if (to === "used" && isExpired(approval, now))
    return { write: expireApproval(approval, now), result: undefined };
  const next = close(approval, to, reason, now);
  return { write: next, result: next };
}

/** Refuses edges the state machine does not have, before any engine touches a row. */
export function assertTransition(from: ApprovalState[], to: ApprovalState): void {
  for (const state of from)
    if (!transitions[state].includes(to))
      throw new RangeError(`an approval cannot go from ${state} to ${to} by transition()`);
}

export function revoke(grant: Grant, by: string, reason: string, now: Date): Grant {
  if (grant.revokedAt !== undefined)
    throw new ApprovalStoreError(
      "grant_revoked",
      `grant ${grant.id} was already revoked by ${grant.revokedBy} at ${grant.revokedAt}`,
    );
  return { ...grant, revokedAt: now.toISOString(), revokedBy: by, revokeReason: reason };
}

export function grantNotFound(id: string): ApprovalStoreError {
  return new ApprovalStoreError("grant_not_found", `grant ${id} does not exist`);
}

/** How many approvals listApprovals returns when the caller sets no limit. */
export const defaultListLimit = 100;
