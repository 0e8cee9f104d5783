import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type LiveCall, LiveCalls } from "./live.ts";

function call(requestId: string, username: string, ended: string[]): LiveCall {
  return {
    requestId,
    username,
    kind: "exec",
    target: "ns/pod",
    startedAt: "2026-11-28T00:00:00Z",
    end: (reason) => ended.push(`${requestId}: ${reason}`),
  };
}

describe("LiveCalls", () => {
  test("ends one call, or every call of a user, once", () => {
    const live = new LiveCalls();
    const ended: string[] = [];
    live.add(call("a", "alice", ended));
    live.add(call("b", "bob", ended));
    live.add(call("c", "bob", ended));
    assert.deepEqual(
      live.list().map((c) => c.requestId),
      ["a", "b", "c"],
    );
    assert.equal(live.end("a", "stop"), true);
    assert.equal(live.end("a", "stop"), false);
    assert.equal(live.endUser("bob", "revoked"), 2);
    assert.deepEqual(ended, ["a: stop", "b: revoked", "c: revoked"]);
    assert.deepEqual(live.list(), []);
  });

  test("a call that ended by itself unregisters", () => {
    const live = new LiveCalls();
    const remove = live.add(call("a", "alice", []));
    remove();
    assert.equal(live.end("a", "stop"), false);
  });
});
