/**
 * The approvals store contract as node:test tests, run against every engine
 * (sqlite.test.ts, postgres.test.ts). Each test gets two stores on one
 * database — two replicas on PostgreSQL, two connections (as the gateway and
 * the CLI would have) on SQLite — so races and notifications cross stores
 * the way they cross processes. The tests themselves are grouped by concern:
 * records here, contract-decisions.ts, contract-lifecycle.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ApprovalRequest } from "../types.ts";
import { describeConcurrency, describeStateMachine } from "./contract-decisions.ts";
import {
  describeGrants,
  describeHousekeeping,
  describeNotifications,
} from "./contract-lifecycle.ts";
import {
  at,
  deny,
  newApproval,
  newRetryApproval,
  type StoresBody,
  t0,
  type WithStores,
} from "./contract-support.ts";
import type { ApprovalStore } from "./store.ts";

export interface OpenedStores {
  a: ApprovalStore;
  b: ApprovalStore;
  /** Removes what the test created; stores are closed first. */
  cleanup(): Promise<void>;
}

export function runApprovalStoreContract(name: string, open: () => Promise<OpenedStores>): void {
  /** Runs a test body on fresh stores, closing and cleaning up whatever happens. */
  function withStores(title: string, body: StoresBody) {
    test(title, async () => {
      const { a, b, cleanup } = await open();
      try {
        await body(a, b);
      } finally {
        await Promise.all([a.close(), b.close()]);
        await cleanup();
      }
    });
  }

  describe(`${name} approvals store contract`, () => {
    describeRecords(withStores);
    describeStateMachine(withStores);
    describeConcurrency(withStores);
    describeHousekeeping(withStores);
    describeGrants(withStores);
    describeNotifications(withStores);
  });
}

function describeRecords(withStores: WithStores) {
  withStores("creates a pending approval and reads it back exactly", async (a, b) => {
    const created = await a.createApproval(newApproval(), t0);
    assert.match(created.id, /^apr-[0-9a-f]{16}$/);
    assert.equal(created.state, "pending");
    assert.equal(created.createdAt, t0.toISOString());
    assert.deepEqual(created.decisions, []);
    assert.deepEqual(await b.getApproval(created.id), created);
    assert.deepEqual({ ...created }, { ...newApproval(), ...pick(created) });
    assert.equal(await a.getApproval("apr-0000000000000000"), undefined);
  });

  withStores("refuses an invalid approval", async (a) => {
    const invalid = [
      newApproval({ approvers: { groups: ["sre"], required: 0 } }),
      newApproval({ bodySha256: "not-a-hash" }),
      newApproval({ expiresAt: t0.toISOString() }),
      newApproval({ expiresAt: "soon" }),
      newApproval({ replica: null }),
      newRetryApproval({ replica: "replica-1" }),
    ];
    for (const approval of invalid)
      await assert.rejects(a.createApproval(approval, t0), RangeError);
    assert.deepEqual(await a.listApprovals(), []);
  });

  withStores("lists newest first, by state and requester, within the limit", async (a) => {
    const first = await a.createApproval(newApproval(), at(1));
    const other = newApproval().requester;
    const second = await a.createApproval(
      newApproval({ requester: { ...other, username: "agent:other" } }),
      at(2),
    );
    const third = await a.createApproval(newApproval(), at(3));
    await a.decide(third.id, deny("alice"), at(4));
    const ids = async (filter?: Parameters<ApprovalStore["listApprovals"]>[0]) =>
      (await a.listApprovals(filter)).map((approval) => approval.id);
    assert.deepEqual(await ids(), [third.id, second.id, first.id]);
    assert.deepEqual(await ids({ states: ["pending"] }), [second.id, first.id]);
    assert.deepEqual(await ids({ states: ["denied", "approved"] }), [third.id]);
    assert.deepEqual(await ids({ states: [] }), []);
    assert.deepEqual(await ids({ requester: "agent:deployer" }), [third.id, first.id]);
    assert.deepEqual(await ids({ requester: "agent:deployer", states: ["pending"] }), [first.id]);
    assert.deepEqual(await ids({ limit: 2 }), [third.id, second.id]);
  });
}

/** The fields the store assigns, to compare the rest with what was asked. */
function pick({ id, createdAt, state, decisions }: ApprovalRequest) {
  return { id, createdAt, state, decisions };
}
