import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ApprovalState } from "../types.ts";
import { approve, at, newApproval, t0 } from "./contract-support.ts";
import { applyDecision, applyTransition, assertTransition, prepareApproval } from "./rules.ts";

const states: ApprovalState[] = ["pending", "approved", "denied", "expired", "cancelled", "used"];
const edges = new Set([
  "pending→expired",
  "pending→cancelled",
  "approved→used",
  "approved→expired",
  "approved→cancelled",
]);

describe("approval rules", () => {
  for (const from of states)
    for (const to of states) {
      const allowed = edges.has(`${from}→${to}`);
      test(`transition() ${allowed ? "allows" : "refuses"} ${from} → ${to}`, () => {
        if (allowed) assertTransition([from], to);
        else assert.throws(() => assertTransition([from], to), RangeError);
      });
    }

  test("stores expiresAt in the one ISO form, so times compare as text", () => {
    // 02:00 at +02:00 is t0 itself: not in the future, whatever the text looks like.
    const atT0 = newApproval({ expiresAt: "2030-01-01T02:00:00+02:00" });
    assert.throws(() => prepareApproval(atT0, t0), /not in the future/);
    const later = prepareApproval(newApproval({ expiresAt: "2030-01-01T03:00:00.5+02:00" }), t0);
    assert.equal(later.expiresAt, "2030-01-01T01:00:00.500Z");
  });

  test("a refused decision writes nothing, unless it found the approval expired", () => {
    const approval = prepareApproval(newApproval(), t0);
    const self = applyDecision(approval, approve(approval.requester.username), at(1));
    assert.equal(self.write, undefined);
    assert.equal(self.error?.code, "self_approval");
    const late = applyDecision(approval, approve("alice"), at(600));
    assert.equal(late.error?.code, "approval_expired");
    assert.equal(late.write?.state, "expired");
  });

  test("a failed compare-and-set writes nothing", () => {
    const approval = prepareApproval(newApproval(), t0);
    assert.deepEqual(applyTransition(approval, ["approved"], "used", "x", at(1)), {
      result: undefined,
    });
  });
});
