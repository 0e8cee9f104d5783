import assert from "node:assert/strict";
import { test } from "node:test";
import {
  approvalCommands,
  approvalEvent,
  grantEvent,
  objectLabel,
  resourceLabel,
  subjectLink,
  truncateEffect,
} from "./event.ts";
import { sampleApproval, sampleGrant } from "./fixture.ts";

test("links join the base URL whether or not it ends in a slash", () => {
  const approval = approvalEvent("approval.requested", sampleApproval({ id: "apr-1" }));
  const grant = grantEvent("grant.created", sampleGrant({ id: "grt-1" }));
  const table: [string | undefined, string | undefined, string | undefined][] = [
    [undefined, undefined, undefined],
    ["https://p.example", "https://p.example/approvals/apr-1", "https://p.example/grants/grt-1"],
    [
      "https://p.example/ui/",
      "https://p.example/ui/approvals/apr-1",
      "https://p.example/ui/grants/grt-1",
    ],
    [
      "https://p.example/ui",
      "https://p.example/ui/approvals/apr-1",
      "https://p.example/ui/grants/grt-1",
    ],
  ];
  for (const [base, approvalUrl, grantUrl] of table) {
    assert.equal(subjectLink(approval, base), approvalUrl);
    assert.equal(subjectLink(grant, base), grantUrl);
  }
});

test("command lines quote an id that is not plainly safe for a shell", () => {
  assert.equal(approvalCommands("apr-1").show, "portcullis approvals show apr-1");
  assert.equal(
    approvalCommands("x'; rm -rf ~").deny,
    `portcullis approvals deny 'x'\\''; rm -rf ~' --reason "…"`,
  );
});

test("resources and objects are named as kubectl names them", () => {
  const call = sampleApproval().call;
  const table: [Partial<typeof call>, string, string][] = [
    [{}, "deployments.apps", "payments/api"],
    [{ subresource: "scale" }, "deployments.apps/scale", "payments/api"],
    [{ apiGroup: "", resource: "pods", name: "" }, "pods", "payments/*"],
    [{ apiGroup: "", resource: "namespaces", namespace: "", name: "prod" }, "namespaces", "prod"],
  ];
  for (const [change, resource, object] of table) {
    assert.equal(resourceLabel({ ...call, ...change }), resource);
    assert.equal(objectLabel({ ...call, ...change }), object);
  }
});

test("an effect is cut by lines or by characters, saying so", () => {
  assert.deepEqual(truncateEffect("a\nb", 100, 10), { text: "a\nb", truncated: false });
  assert.deepEqual(truncateEffect("a\nb\nc\nd", 100, 2), {
    text: "a\nb\n… (2 more lines)",
    truncated: true,
  });
  assert.deepEqual(truncateEffect("abcdef", 3, 10), {
    text: "abc\n… (truncated)",
    truncated: true,
  });
});

test("an event carries a fresh id and a copy of the grant", () => {
  const grant = sampleGrant();
  const [a, b] = [grantEvent("grant.created", grant), grantEvent("grant.created", grant)];
  assert.notEqual(a.id, b.id);
  grant.reason = "changed later";
  assert.ok("grant" in a && a.grant.reason === "rollout of payments 1.43");
});
