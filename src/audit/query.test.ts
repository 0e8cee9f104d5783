import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { agentRef, findCalls, findRecentCalls, listSessions, sessionTimeline } from "./query.ts";
import { at, type CallSpec, type FilledStore, openFilledStore } from "./query-fixture.ts";

let filled: FilledStore;

before(async () => {
  filled = await openFilledStore();
});

after(async () => {
  await filled?.close();
});

const ids = (calls: Array<{ requestId: string }>) => calls.map((c) => c.requestId);

describe("findCalls", () => {
  test("returns every call in request order, each joined with its completion", async () => {
    const calls = await findCalls(filled.store);
    assert.deepEqual(ids(calls), ["r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9"]);
    const get = calls[2];
    assert.equal(get?.status, 200);
    assert.equal(get?.outcome, "completed");
    assert.equal(get?.durationMs, 12.5);
    assert.deepEqual(get?.masked, [{ detector: "card", path: "data.card", count: 1 }]);
    assert.equal(get?.command, "kubectl get");
    assert.equal(get?.invocation, "k2");
    assert.ok((get?.seq ?? -1) >= 0);
  });

  test("a call without a completion record has null completion fields", async () => {
    const [logs] = await findCalls(filled.store, { sessionId: "s-deploy-2" });
    assert.equal(logs?.requestId, "r9");
    assert.equal(logs?.resource, "pods/log");
    assert.equal(logs?.status, null);
    assert.equal(logs?.outcome, null);
    assert.equal(logs?.bytes, null);
    assert.deepEqual(logs?.masked, []);
  });

  test("an agent matches by username or by subject", async () => {
    assert.deepEqual(ids(await findCalls(filled.store, { agent: agentRef("deployer") })), [
      "r1",
      "r3",
      "r5",
      "r7",
      "r8",
      "r9",
    ]);
    // A custom username prefix still finds the agent by its token subject.
    const bySubject = await findCalls(filled.store, { agent: agentRef("reader", "other:") });
    assert.deepEqual(ids(bySubject), ["r2", "r4"]);
    assert.deepEqual(ids(await findCalls(filled.store, { username: "alice@example.com" })), ["r6"]);
  });

  test("filters by verb, resource, namespace, name, decision and session", async () => {
    assert.deepEqual(ids(await findCalls(filled.store, { verb: "list" })), ["r2", "r6"]);
    assert.deepEqual(ids(await findCalls(filled.store, { resource: "configmaps" })), [
      "r1",
      "r3",
      "r5",
      "r7",
    ]);
    assert.deepEqual(
      ids(await findCalls(filled.store, { namespace: "team-a", name: "app", verb: "get" })),
      ["r3"],
    );
    assert.deepEqual(ids(await findCalls(filled.store, { decision: "deny" })), ["r4"]);
    assert.deepEqual(ids(await findCalls(filled.store, { sessionId: "s-read" })), ["r2", "r4"]);
  });

  test("filters by time range, from inclusive and to exclusive", async () => {
    assert.deepEqual(ids(await findCalls(filled.store, { from: at(2), to: at(5) })), [
      "r3",
      "r4",
      "r5",
    ]);
    assert.deepEqual(ids(await findCalls(filled.store, { from: at(60) })), ["r9"]);
  });

  test("limit and afterSeq page through the calls", async () => {
    const first = await findCalls(filled.store, { agent: agentRef("deployer"), limit: 2 });
    assert.deepEqual(ids(first), ["r1", "r3"]);
    const next = await findCalls(filled.store, {
      agent: agentRef("deployer"),
      limit: 2,
      afterSeq: first.at(-1)?.seq ?? -1,
    });
    assert.deepEqual(ids(next), ["r5", "r7"]);
  });

  test("findRecentCalls returns the last matching calls, oldest first, joined", async () => {
    const recent = await findRecentCalls(filled.store, { agent: agentRef("deployer") }, 3);
    assert.deepEqual(ids(recent), ["r7", "r8", "r9"]);
    assert.equal(recent[0]?.status, 200);
    assert.equal(recent[2]?.status, null);
  });

  test("pages of more than one store page keep their order and joins", async () => {
    const many: CallSpec[] = Array.from({ length: 1203 }, (_, i) => ({
      id: `m${i}`,
      at: i,
      who: i % 2 ? "deployer" : "reader",
      session: `s-${i % 3}`,
      verb: "get",
      resource: "configmaps",
      namespace: "ns",
      name: `cm-${i}`,
      status: 200 + (i % 7),
    }));
    const big = await openFilledStore(many);
    try {
      const calls = await findCalls(big.store, { agent: agentRef("deployer") });
      assert.equal(calls.length, 601);
      assert.deepEqual(
        calls.map((c) => c.name),
        many.filter((_, i) => i % 2).map((c) => c.name),
      );
      assert.ok(calls.every((c, k) => c.status === 200 + ((2 * k + 1) % 7)));
    } finally {
      await big.close();
    }
  });
});

describe("listSessions", () => {
  test("summarizes each session: who, when, calls, commands in order, refusals", async () => {
    const sessions = await listSessions(filled.store);
    assert.deepEqual(
      sessions.map((s) => s.id),
      ["s-deploy", "s-read", "s-alice", "s-deploy-2"],
    );
    const deploy = sessions[0];
    assert.equal(deploy?.username, "portcullis:agent:deployer");
    assert.equal(deploy?.kind, "agent");
    assert.equal(deploy?.first, at(0));
    assert.equal(deploy?.last, at(7));
    assert.equal(deploy?.calls, 5);
    assert.equal(deploy?.invocations, 5);
    assert.deepEqual(deploy?.commands, [
      "kubectl create configmap",
      "kubectl get",
      "kubectl apply",
      "kubectl delete",
    ]);
    assert.equal(deploy?.refusals, 0);
    // A policy denial and an RBAC 403 both count as refusals.
    assert.equal(sessions[1]?.refusals, 1);
    assert.equal(sessions[2]?.refusals, 1);
    assert.equal(sessions[2]?.kind, "human");
  });

  test("narrows by agent and time range", async () => {
    const sessions = await listSessions(filled.store, {
      agent: agentRef("deployer"),
      from: at(0),
      to: at(60),
    });
    assert.deepEqual(
      sessions.map((s) => s.id),
      ["s-deploy"],
    );
  });
});

describe("sessionTimeline", () => {
  test("lists one session's calls in order with command, decision, status and masking", async () => {
    const timeline = await sessionTimeline(filled.store, "s-deploy");
    assert.ok(timeline);
    assert.equal(timeline.session.calls, 5);
    assert.deepEqual(
      timeline.calls.map((c) => [c.command, c.verb, c.resource || c.path, c.decision, c.status]),
      [
        ["kubectl create configmap", "create", "configmaps", "allow", 201],
        ["kubectl get", "get", "configmaps", "allow", 200],
        ["kubectl apply", "patch", "configmaps", "allow", 200],
        ["kubectl delete", "delete", "configmaps", "allow", 200],
        ["kubectl get", "get", "/version", "allow", 200],
      ],
    );
    assert.equal(timeline.calls[1]?.masked[0]?.detector, "card");
  });

  test("is undefined for an unknown session", async () => {
    assert.equal(await sessionTimeline(filled.store, "s-nope"), undefined);
  });
});
