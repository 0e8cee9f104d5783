/**
 * The approvals store contract: one interface, two engines (SQLite in-process
 * for one gateway and its CLI, PostgreSQL for replicas), one contract test
 * suite (contract.ts).
 *
 * Engines own persistence, locking and change notification; the state
 * machine itself is pure and shared (rules.ts). Every mutation locks what it
 * changes (SQLite: BEGIN IMMEDIATE; PostgreSQL: SELECT … FOR UPDATE), applies
 * the rules to what it read under the lock, writes the result and announces
 * it, so approvers, holders and replicas racing on one approval agree.
 */
import type {
  ApprovalRequest,
  ApprovalState,
  DecisionInput,
  Grant,
  NewApproval,
  NewGrant,
} from "../types.ts";

/**
 * A committed change, by any process or replica. Listeners re-read what they
 * care about; "resync" means changes may have been missed (a dropped
 * connection), so re-read everything held.
 */
export type StoreChange = { kind: "approval" | "grant"; id: string } | { kind: "resync" };

export type ChangeListener = (change: StoreChange) => void;

export interface ApprovalFilter {
  /** Default: every state. */
  states?: ApprovalState[];
  /** The requester's user name. */
  requester?: string;
  /** Default 100; newest first. */
  limit?: number;
}

export interface GrantFilter {
  /** Only grants in force at this instant: created, not expired, not revoked. */
  activeAt?: Date;
  subject?: string;
}

export interface RetryMatch {
  username: string;
  method: string;
  path: string;
  bodySha256: string;
  now: Date;
}

export type ApprovalStoreErrorCode =
  | "approval_not_found"
  | "approval_closed"
  | "approval_expired"
  | "already_decided"
  | "self_approval"
  | "grant_not_found"
  | "grant_revoked";

/** A refusal the caller can act on (shown to an approver, mapped to a Status by the API). */
export class ApprovalStoreError extends Error {
  readonly code: ApprovalStoreErrorCode;

  constructor(code: ApprovalStoreErrorCode, message: string) {
    super(message);
    this.name = "ApprovalStoreError";
    this.code = code;
  }
}

export function isApprovalStoreError(error: unknown): error is ApprovalStoreError {
  return error instanceof ApprovalStoreError;
}

export interface ApprovalStore {
  readonly engine: "sqlite" | "postgres";
  /** Stores a new pending approval; throws RangeError on an invalid one. */
  createApproval(approval: NewApproval, now: Date): Promise<ApprovalRequest>;
  getApproval(id: string): Promise<ApprovalRequest | undefined>;
  listApprovals(filter?: ApprovalFilter): Promise<ApprovalRequest[]>;
  /**
   * Records one approver's decision, atomically. Refuses (ApprovalStoreError)
   * an unknown or closed approval, an expired one (which it then marks
   * expired), a second decision by the same approver and a requester
   * approving their own call. A deny closes the approval as denied;
   * `approvers.required` distinct approvals close it as approved.
   */
  decide(id: string, decision: DecisionInput, now: Date): Promise<ApprovalRequest>;
  /**
   * Compare-and-set: moves the approval to `to` only if its state is one of
   * `from`; undefined otherwise (someone else moved it first). For used,
   * cancelled and expired; an approved approval past its expiry becomes
   * expired instead of used. Throws RangeError on an edge the state machine
   * does not have, ApprovalStoreError on an unknown id.
   */
  transition(
    id: string,
    from: ApprovalState[],
    to: ApprovalState,
    reason: string,
    now: Date,
  ): Promise<ApprovalRequest | undefined>;
  /**
   * An approved, unexpired retry-mode approval of exactly this call by this
   * user, oldest first. The caller then spends it with
   * transition(id, ["approved"], "used"), which succeeds once.
   */
  findRetryable(match: RetryMatch): Promise<ApprovalRequest | undefined>;
  /** Cancels the pending and approved hold-mode approvals held by `replica` (it restarted). */
  cancelHeldBy(replica: string, reason: string, now: Date): Promise<ApprovalRequest[]>;
  /** Marks pending and approved approvals whose expiry has passed as expired; their ids. */
  expireDue(now: Date): Promise<string[]>;
  /** Stores a new grant; throws RangeError on an invalid one. */
  createGrant(grant: NewGrant, now: Date): Promise<Grant>;
  getGrant(id: string): Promise<Grant | undefined>;
  /** Newest first. */
  listGrants(filter?: GrantFilter): Promise<Grant[]>;
  /** Revokes a grant at once; ApprovalStoreError if unknown or already revoked. */
  revokeGrant(id: string, by: string, reason: string, now: Date): Promise<Grant>;
  /** The grants elevating `subject` in force at `now`. */
  activeGrants(subject: string, now: Date): Promise<Grant[]>;
  /**
   * Calls `listener` after every committed change by any process or replica
   * sharing the database (PostgreSQL: at once by LISTEN/NOTIFY; SQLite: at
   * once in this process, within a poll interval from other processes).
   * Listeners must not throw. Returns the unsubscribe function.
   */
  subscribe(listener: ChangeListener): () => void;
  close(): Promise<void>;
}
