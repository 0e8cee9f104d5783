/**
 * The approvals store contract, part two: the state machine (who may decide,
 * when an approval closes, which moves transition() allows) and what must
 * hold when approvers, holders and retries race on two stores at once.
 */
import assert from "node:assert/strict";
import {
  approve,
  at,
  deny,
  newApproval,
  newRetryApproval,
  refused,
  t0,
  type WithStores,
} from "./contract-support.ts";
import type { ApprovalStore } from "./store.ts";

export function describeStateMachine(withStores: WithStores) {
  withStores("needs two distinct approvers when two are required", async (a, b) => {
    const { id } = await a.createApproval(
      newApproval({ approvers: { groups: ["sre"], required: 2 } }),
      t0,
    );
    const once = await a.decide(id, approve("alice"), at(1));
    assert.equal(once.state, "pending");
    assert.deepEqual(once.decisions, [{ ...approve("alice"), at: at(1).toISOString() }]);
    await assert.rejects(
      b.decide(id, approve("alice", "again"), at(2)),
      refused("already_decided"),
    );
    await assert.rejects(b.decide(id, deny("alice"), at(2)), refused("already_decided"));
    const twice = await b.decide(id, approve("bob"), at(3));
    assert.equal(twice.state, "approved");
    assert.equal(twice.closedAt, at(3).toISOString());
    assert.equal(twice.closedReason, "approved by alice, bob");
    assert.deepEqual(
      twice.decisions.map((d) => d.by),
      ["alice", "bob"],
    );
    assert.deepEqual(await a.getApproval(id), twice);
  });

  withStores("a deny closes it at once, even after an approval", async (a, b) => {
    const { id } = await a.createApproval(
      newApproval({ approvers: { groups: ["sre"], required: 2 } }),
      t0,
    );
    await a.decide(id, approve("alice"), at(1));
    const denied = await b.decide(id, deny("bob", "not during the freeze"), at(2));
    assert.equal(denied.state, "denied");
    assert.equal(denied.closedReason, "denied by bob: not during the freeze");
    assert.equal(denied.decisions.length, 2);
  });

  withStores("refuses any decision once closed", async (a, b) => {
    const approved = await a.createApproval(newApproval(), t0);
    await a.decide(approved.id, approve("alice"), at(1));
    await assert.rejects(b.decide(approved.id, deny("bob"), at(2)), refused("approval_closed"));
    const denied = await a.createApproval(newApproval(), t0);
    await a.decide(denied.id, deny("alice"), at(1));
    await assert.rejects(b.decide(denied.id, approve("bob"), at(2)), /already denied/);
    assert.equal((await a.getApproval(denied.id))?.decisions.length, 1);
  });

  withStores("refuses the requester approving their own call", async (a) => {
    const { id, requester } = await a.createApproval(newApproval(), t0);
    await assert.rejects(
      a.decide(id, approve(requester.username), at(1)),
      refused("self_approval"),
    );
    assert.equal((await a.getApproval(id))?.state, "pending");
  });

  withStores("refuses a decision after expiry and marks the approval expired", async (a, b) => {
    const { id, expiresAt } = await a.createApproval(newApproval(), t0);
    await assert.rejects(
      a.decide(id, approve("alice"), new Date(expiresAt)),
      refused("approval_expired"),
    );
    const expired = await b.getApproval(id);
    assert.equal(expired?.state, "expired");
    assert.equal(expired?.closedAt, expiresAt);
    assert.deepEqual(expired?.decisions, []);
    await assert.rejects(b.decide(id, approve("bob"), at(1)), refused("approval_closed"));
  });

  withStores("refuses decisions and transitions on an unknown approval", async (a) => {
    const unknown = "apr-0123456789abcdef";
    await assert.rejects(a.decide(unknown, approve("alice"), t0), refused("approval_not_found"));
    await assert.rejects(
      a.transition(unknown, ["approved"], "used", "forwarded", t0),
      refused("approval_not_found"),
    );
  });

  withStores("transition is a compare-and-set along the state machine's edges", async (a, b) => {
    const { id } = await a.createApproval(newApproval(), t0);
    await assert.rejects(a.transition(id, ["pending"], "used", "x", at(1)), RangeError);
    await assert.rejects(a.transition(id, ["denied"], "cancelled", "x", at(1)), RangeError);
    assert.equal(await a.transition(id, ["approved"], "used", "forwarded", at(1)), undefined);
    await a.decide(id, approve("alice"), at(2));
    const used = await b.transition(id, ["approved"], "used", "forwarded", at(3));
    assert.equal(used?.state, "used");
    assert.equal(used?.closedReason, "forwarded");
    assert.equal(await a.transition(id, ["approved"], "used", "forwarded", at(4)), undefined);
    assert.equal(
      await a.transition(id, ["pending", "approved"], "cancelled", "gone", at(4)),
      undefined,
    );
    assert.deepEqual(await a.getApproval(id), used);
  });

  withStores("an approved approval past its expiry becomes expired, not used", async (a) => {
    const { id, expiresAt } = await a.createApproval(newRetryApproval(), t0);
    await a.decide(id, approve("alice"), at(1));
    assert.equal(
      await a.transition(id, ["approved"], "used", "retried", new Date(expiresAt)),
      undefined,
    );
    assert.equal((await a.getApproval(id))?.state, "expired");
  });
}

export function describeConcurrency(withStores: WithStores) {
  withStores("of two racing approvals with one required, exactly one closes it", async (a, b) => {
    for (let round = 0; round < 10; round++) {
      const { id } = await a.createApproval(newApproval(), t0);
      const results = await Promise.allSettled([
        a.decide(id, approve("alice"), at(1)),
        b.decide(id, approve("bob"), at(1)),
      ]);
      const won = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      const lost = results.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
      assert.equal(won.length, 1, `round ${round}: one decision closes it`);
      assert.ok(refused("approval_closed")(lost[0]), `round ${round}: the other sees it closed`);
      const stored = await a.getApproval(id);
      assert.equal(stored?.state, "approved");
      assert.deepEqual(stored?.decisions, won[0]?.decisions);
      assert.equal(stored?.decisions.length, 1);
    }
  });

  withStores(
    "three racing approvers with two required: two recorded, one refused",
    async (a, b) => {
      const { id } = await a.createApproval(
        newApproval({ approvers: { groups: ["sre"], required: 2 } }),
        t0,
      );
      const results = await Promise.allSettled([
        a.decide(id, approve("alice"), at(1)),
        b.decide(id, approve("bob"), at(1)),
        a.decide(id, approve("carol"), at(1)),
      ]);
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 2);
      const stored = await b.getApproval(id);
      assert.equal(stored?.state, "approved");
      assert.equal(stored?.decisions.length, 2);
    },
  );

  withStores(
    "a retryable approval is found only for exactly that call, and used once",
    async (a, b) => {
      const retry = newRetryApproval();
      const { id } = await a.createApproval(retry, t0);
      const match = {
        username: retry.requester.username,
        method: retry.call.method,
        path: retry.call.path,
        bodySha256: retry.bodySha256,
        now: at(10),
      };
      assert.equal(await a.findRetryable(match), undefined, "not while pending");
      await a.decide(id, approve("alice"), at(5));
      assert.equal((await b.findRetryable(match))?.id, id);
      for (const other of [
        { username: "agent:other" },
        { method: "PUT" },
        { path: `${retry.call.path}x` },
        { bodySha256: "" },
        { now: new Date(retry.expiresAt) },
      ])
        assert.equal(
          await a.findRetryable({ ...match, ...other }),
          undefined,
          JSON.stringify(other),
        );
      // Ten retries at once, on both stores: find, then spend. Exactly one gets through.
      const spend = async (store: ApprovalStore) => {
        const found = await store.findRetryable(match);
        return found && store.transition(found.id, ["approved"], "used", "retried", at(11));
      };
      const spent = await Promise.all(Array.from({ length: 10 }, (_, i) => spend(i % 2 ? a : b)));
      assert.equal(spent.filter((approval) => approval?.state === "used").length, 1);
      assert.equal(await a.findRetryable(match), undefined);
    },
  );

  withStores("a hold-mode approval is never retryable", async (a) => {
    const hold = newApproval();
    const { id } = await a.createApproval(hold, t0);
    await a.decide(id, approve("alice"), at(1));
    const { username } = hold.requester;
    const { method, path } = hold.call;
    assert.equal(
      await a.findRetryable({ username, method, path, bodySha256: "", now: at(2) }),
      undefined,
    );
  });
}
