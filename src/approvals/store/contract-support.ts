/**
 * What the approvals store contract tests share: fixed times (the store never
 * reads the clock for what it decides), a sample held call, and a
 * time-bounded wait for change notifications.
 */
import type { DecisionInput, NewApproval, NewGrant } from "../types.ts";
import {
  type ApprovalStore,
  type ApprovalStoreErrorCode,
  isApprovalStoreError,
  type StoreChange,
} from "./store.ts";

/** A test body, given two stores on one database. */
export type StoresBody = (a: ApprovalStore, b: ApprovalStore) => Promise<void>;
/** Declares a test that runs `body` on fresh stores. */
export type WithStores = (title: string, body: StoresBody) => void;

export const t0 = new Date("2030-01-01T00:00:00.000Z");
/** `seconds` after t0. */
export const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

export function newApproval(overrides: Partial<NewApproval> = {}): NewApproval {
  return {
    expiresAt: at(600).toISOString(),
    requestId: "req-1",
    replica: "replica-1",
    mode: "hold",
    requester: {
      username: "agent:deployer",
      subject: "deployer",
      kind: "agent",
      groups: ["agents"],
      sessionId: "ses-1",
      command: "kubectl delete deployment web -n payments",
    },
    call: {
      method: "DELETE",
      path: "/apis/apps/v1/namespaces/payments/deployments/web",
      verb: "delete",
      apiGroup: "apps",
      resource: "deployments",
      subresource: "",
      namespace: "payments",
      name: "web",
    },
    bodySha256: "",
    rule: { id: "prod-deletes", reason: "deletes in production need a second pair of eyes" },
    approvers: { groups: ["sre"], required: 1 },
    // Any JSON, including what jsonb would refuse (a NUL in a string).
    effect: { deletes: [{ kind: "Deployment", name: "web" }], diff: "- replicas: 3\n\u0000" },
    ...overrides,
  };
}

/** A retry-mode approval of a PATCH with a body. */
export function newRetryApproval(overrides: Partial<NewApproval> = {}): NewApproval {
  const base = newApproval();
  return newApproval({
    mode: "retry",
    replica: null,
    call: { ...base.call, method: "PATCH" },
    bodySha256: "ab".repeat(32),
    ...overrides,
  });
}

export function newGrant(overrides: Partial<NewGrant> = {}): NewGrant {
  return {
    expiresAt: at(900).toISOString(),
    grantedBy: "alice",
    reason: "incident 42",
    subject: "agent:deployer",
    scope: {
      verbs: ["delete"],
      apiGroups: ["apps"],
      resources: ["deployments"],
      namespaces: ["payments"],
    },
    ...overrides,
  };
}

export const approve = (by: string, reason = "looks right"): DecisionInput => ({
  by,
  groups: ["sre"],
  decision: "approve",
  reason,
});

export const deny = (by: string, reason = "not during the freeze"): DecisionInput => ({
  by,
  groups: ["sre"],
  decision: "deny",
  reason,
});

/** For assert.rejects: an ApprovalStoreError with this code. */
export const refused = (code: ApprovalStoreErrorCode) => (error: unknown) =>
  isApprovalStoreError(error) && error.code === code;

export interface ChangeWatch {
  /** Every change seen so far, in order. */
  readonly seen: StoreChange[];
  /** The first change (seen already or to come) that matches, or a rejection after `timeoutMs`. */
  waitFor(match: (change: StoreChange) => boolean, timeoutMs?: number): Promise<StoreChange>;
  stop(): void;
}

/** Subscribes to `store` and records what arrives, so tests wait on events rather than sleep. */
export function watchChanges(store: ApprovalStore): ChangeWatch {
  const seen: StoreChange[] = [];
  const waiters = new Set<() => void>();
  const stop = store.subscribe((change) => {
    seen.push(change);
    for (const wake of [...waiters]) wake();
  });
  function waitFor(match: (change: StoreChange) => boolean, timeoutMs = 1000) {
    return new Promise<StoreChange>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no matching change within ${timeoutMs} ms; saw ${JSON.stringify(seen)}`));
      }, timeoutMs);
      function check() {
        const found = seen.find(match);
        if (!found) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(found);
      }
      waiters.add(check);
      check();
    });
  }
  return { seen, waitFor, stop };
}

/** Matches a change of this kind to this id. */
export const changeOf =
  (kind: "approval" | "grant", id: string) =>
  (change: StoreChange): boolean =>
    change.kind === kind && change.id === id;
