/**
 * The approvals store contract, part three: housekeeping (a restarted
 * replica's held calls, expiry), grants, and change notifications across
 * stores.
 */
import assert from "node:assert/strict";
import {
  approve,
  at,
  changeOf,
  deny,
  newApproval,
  newGrant,
  newRetryApproval,
  refused,
  t0,
  type WithStores,
  watchChanges,
} from "./contract-support.ts";
import type { ApprovalStore } from "./store.ts";

export function describeHousekeeping(withStores: WithStores) {
  withStores("cancelHeldBy cancels only that replica's open hold-mode approvals", async (a, b) => {
    const pending = await a.createApproval(newApproval(), t0);
    const approved = await a.createApproval(newApproval(), t0);
    await a.decide(approved.id, approve("alice"), at(1));
    const denied = await a.createApproval(newApproval(), t0);
    await a.decide(denied.id, deny("alice"), at(1));
    const elsewhere = await a.createApproval(newApproval({ replica: "replica-2" }), t0);
    const retry = await a.createApproval(newRetryApproval(), t0);
    const cancelled = await b.cancelHeldBy("replica-1", "replica-1 restarted", at(2));
    assert.deepEqual(cancelled.map((x) => x.id).sort(), [pending.id, approved.id].sort());
    for (const x of cancelled) {
      assert.equal(x.state, "cancelled");
      assert.equal(x.closedReason, "replica-1 restarted");
      assert.deepEqual(await a.getApproval(x.id), x);
    }
    for (const [x, state] of [
      [denied, "denied"],
      [elsewhere, "pending"],
      [retry, "pending"],
    ] as const)
      assert.equal((await a.getApproval(x.id))?.state, state);
    assert.deepEqual(await a.cancelHeldBy("replica-1", "again", at(3)), []);
  });

  withStores(
    "expireDue expires pending and approved approvals past their time, once",
    async (a, b) => {
      const soon = await a.createApproval(newApproval({ expiresAt: at(60).toISOString() }), t0);
      const approved = await a.createApproval(
        newRetryApproval({ expiresAt: at(60).toISOString() }),
        t0,
      );
      await a.decide(approved.id, approve("alice"), at(1));
      const later = await a.createApproval(newApproval({ expiresAt: at(120).toISOString() }), t0);
      const closed = await a.createApproval(newApproval({ expiresAt: at(60).toISOString() }), t0);
      await a.decide(closed.id, deny("alice"), at(1));
      assert.deepEqual(await a.expireDue(at(59)), []);
      assert.deepEqual((await b.expireDue(at(60))).sort(), [soon.id, approved.id].sort());
      assert.deepEqual(await a.expireDue(at(61)), []);
      const expired = await a.getApproval(soon.id);
      assert.equal(expired?.state, "expired");
      assert.equal(expired?.closedReason, `not decided before ${at(60).toISOString()}`);
      assert.equal(
        (await a.getApproval(approved.id))?.closedReason,
        `not used before ${at(60).toISOString()}`,
      );
      assert.equal((await a.getApproval(later.id))?.state, "pending");
      assert.equal((await a.getApproval(closed.id))?.state, "denied");
    },
  );
}

export function describeGrants(withStores: WithStores) {
  withStores("a grant is active from creation until it expires", async (a, b) => {
    const grant = await a.createGrant(newGrant({ fromApproval: "apr-0123456789abcdef" }), at(10));
    assert.match(grant.id, /^grt-[0-9a-f]{16}$/);
    assert.equal(grant.createdAt, at(10).toISOString());
    assert.deepEqual(await b.getGrant(grant.id), grant);
    assert.equal(await b.getGrant("grt-0000000000000000"), undefined);
    const active = async (seconds: number) =>
      (await b.activeGrants("agent:deployer", at(seconds))).map((g) => g.id);
    assert.deepEqual(await active(9), []);
    assert.deepEqual(await active(10), [grant.id]);
    assert.deepEqual(await active(899), [grant.id]);
    assert.deepEqual(await active(900), []);
    assert.deepEqual(await b.activeGrants("agent:other", at(100)), []);
    await assert.rejects(
      a.createGrant(newGrant({ expiresAt: at(5).toISOString() }), at(10)),
      RangeError,
    );
  });

  withStores("a revoked grant stops at once and cannot be revoked twice", async (a, b) => {
    const grant = await a.createGrant(newGrant(), t0);
    const revoked = await b.revokeGrant(grant.id, "bob", "done early", at(30));
    assert.deepEqual(revoked, {
      ...grant,
      revokedAt: at(30).toISOString(),
      revokedBy: "bob",
      revokeReason: "done early",
    });
    assert.deepEqual(await a.getGrant(grant.id), revoked);
    assert.deepEqual(await a.activeGrants("agent:deployer", at(29)), [revoked]);
    assert.deepEqual(await a.activeGrants("agent:deployer", at(30)), []);
    await assert.rejects(
      a.revokeGrant(grant.id, "carol", "again", at(31)),
      refused("grant_revoked"),
    );
    await assert.rejects(
      a.revokeGrant("grt-0000000000000000", "carol", "x", at(31)),
      refused("grant_not_found"),
    );
  });

  withStores("lists grants newest first, by subject and by instant", async (a) => {
    const first = await a.createGrant(newGrant(), at(1));
    const other = await a.createGrant(newGrant({ subject: "agent:other" }), at(2));
    const short = await a.createGrant(newGrant({ expiresAt: at(100).toISOString() }), at(3));
    const ids = async (filter?: Parameters<ApprovalStore["listGrants"]>[0]) =>
      (await a.listGrants(filter)).map((g) => g.id);
    assert.deepEqual(await ids(), [short.id, other.id, first.id]);
    assert.deepEqual(await ids({ subject: "agent:deployer" }), [short.id, first.id]);
    assert.deepEqual(await ids({ activeAt: at(200) }), [other.id, first.id]);
    assert.deepEqual(await ids({ activeAt: at(2), subject: "agent:deployer" }), [first.id]);
  });
}

export function describeNotifications(withStores: WithStores) {
  withStores("a subscriber hears every change made through its own store", async (a) => {
    const watch = watchChanges(a);
    try {
      const { id } = await a.createApproval(newApproval(), t0);
      await watch.waitFor(changeOf("approval", id));
      const grant = await a.createGrant(newGrant(), t0);
      await watch.waitFor(changeOf("grant", grant.id));
    } finally {
      watch.stop();
    }
  });

  withStores(
    "a subscriber on one store sees changes made through the other within a second",
    async (a, b) => {
      const onA = watchChanges(a);
      const onB = watchChanges(b);
      try {
        const { id } = await b.createApproval(
          newApproval({ approvers: { groups: ["sre"], required: 2 } }),
          t0,
        );
        await onA.waitFor(changeOf("approval", id));
        const count = () => onA.seen.filter(changeOf("approval", id)).length;
        for (const change of [
          () => b.decide(id, approve("alice"), at(1)),
          () => b.decide(id, approve("bob"), at(2)),
          () => b.transition(id, ["approved"], "used", "forwarded", at(3)),
        ]) {
          const before = count();
          await change();
          await onA.waitFor(() => count() > before);
        }
        // And the other way round, for grants.
        const grant = await a.createGrant(newGrant(), t0);
        await onB.waitFor(changeOf("grant", grant.id));
        const seen = onB.seen.length;
        await a.revokeGrant(grant.id, "bob", "done", at(1));
        await onB.waitFor(
          (change) => onB.seen.indexOf(change) >= seen && changeOf("grant", grant.id)(change),
        );
      } finally {
        onA.stop();
        onB.stop();
      }
    },
  );

  withStores("each change is heard once, whichever store made it", async (a, b) => {
    const watch = watchChanges(a);
    try {
      const mine = await a.createApproval(newApproval(), t0);
      const theirs = await b.createApproval(newApproval(), t0);
      await a.decide(mine.id, approve("alice"), at(1));
      await b.decide(theirs.id, deny("alice"), at(1));
      await a.transition(mine.id, ["approved"], "used", "forwarded", at(2));
      // A last change through b: once it is heard, everything before it has been too.
      const last = await b.createGrant(newGrant(), t0);
      await watch.waitFor(changeOf("grant", last.id));
      const heard = (id: string) => watch.seen.filter(changeOf("approval", id)).length;
      assert.deepEqual([heard(mine.id), heard(theirs.id)], [3, 2]);
    } finally {
      watch.stop();
    }
  });

  withStores("an unsubscribed listener hears nothing more", async (a) => {
    const gone = watchChanges(a);
    const staying = watchChanges(a);
    try {
      gone.stop();
      const { id } = await a.createApproval(newApproval(), t0);
      await staying.waitFor(changeOf("approval", id));
      assert.deepEqual(gone.seen, []);
    } finally {
      staying.stop();
    }
  });
}
