import assert from "node:assert/strict";
import { test } from "node:test";
import { approvalEvent, grantEvent } from "./event.ts";
import { sampleApproval, sampleEffect, sampleGrant } from "./fixture.ts";
import { type SlackMessage, slackLimits, slackMessage } from "./slack.ts";

/**
 * The Block Kit rules an incoming webhook enforces (api.slack.com reference:
 * blocks, composition objects): a failing message is refused whole with
 * `invalid_blocks`, so the shape is checked structurally here.
 */
function assertBlockKit(message: unknown): asserts message is SlackMessage {
  const m = message as Record<string, unknown>;
  assert.equal(typeof m.text, "string", "top-level text is the notification fallback");
  assert.ok(Array.isArray(m.blocks) && m.blocks.length > 0 && m.blocks.length <= 50);
  assert.deepEqual(Object.keys(m).sort(), ["blocks", "text"]);
  for (const block of m.blocks as Record<string, unknown>[]) {
    switch (block.type) {
      case "header":
        assertText(block.text, "plain_text", slackLimits.header);
        assert.deepEqual(Object.keys(block).sort(), ["text", "type"]);
        break;
      case "section": {
        assert.ok(
          block.text !== undefined || block.fields !== undefined,
          "section needs text or fields",
        );
        if (block.text !== undefined) assertText(block.text, undefined, slackLimits.sectionText);
        if (block.fields !== undefined) {
          assert.ok(Array.isArray(block.fields) && block.fields.length <= slackLimits.fields);
          for (const f of block.fields) assertText(f, undefined, slackLimits.field);
        }
        break;
      }
      case "context":
        assert.ok(Array.isArray(block.elements) && block.elements.length <= 10);
        for (const e of block.elements) assertText(e, undefined, 3000);
        break;
      default:
        assert.fail(`unexpected block type ${String(block.type)}`);
    }
  }
}

function assertText(value: unknown, type: "plain_text" | "mrkdwn" | undefined, max: number) {
  const t = value as { type: string; text: string };
  assert.ok(t.type === "plain_text" || t.type === "mrkdwn", `text object type ${t.type}`);
  if (type) assert.equal(t.type, type);
  assert.ok(typeof t.text === "string" && t.text.length >= 1 && t.text.length <= max, t.text);
  assert.deepEqual(Object.keys(t).sort(), ["text", "type"]);
}

const allText = (m: SlackMessage) => JSON.stringify(m.blocks);

test("an approval request shows who, what, why, the effect and how to decide", () => {
  const message = slackMessage(approvalEvent("approval.requested", sampleApproval(), sampleEffect));
  assertBlockKit(message);
  assert.equal(message.blocks[0]?.type, "header");
  assert.match(message.text, /Approval needed: delete deployments\.apps payments\/api/);
  const text = allText(message);
  for (const expected of [
    "portcullis:agent:deploy-bot",
    "ses_91ac",
    "kubectl delete",
    "*Verb*\\n`delete`",
    "*Resource*\\n`deployments.apps`",
    "*Namespace*\\n`payments`",
    "*Name*\\n`api`",
    "baseline/prod-deletes",
    "deleting in production needs a second person",
    "would delete Deployment payments/api",
    'portcullis approvals approve apr-7f3k2a9c0d1e2f30 --reason \\"…\\"',
    'portcullis approvals deny apr-7f3k2a9c0d1e2f30 --reason \\"…\\"',
  ]) {
    assert.ok(text.includes(expected), `missing ${expected}`);
  }
  assert.ok(!text.includes("Open this approval"), "no link without a base URL");
});

test("with a base URL the message links to the approval", () => {
  const message = slackMessage(approvalEvent("approval.requested", sampleApproval()), {
    linkBase: "https://portcullis.example/ui/",
  });
  assertBlockKit(message);
  assert.ok(
    allText(message).includes(
      "<https://portcullis.example/ui/approvals/apr-7f3k2a9c0d1e2f30|Open this approval",
    ),
  );
});

test("text from the requester cannot mention a channel or hide a link", () => {
  const approval = sampleApproval({
    requester: {
      username: "bot",
      subject: "bot",
      kind: "agent",
      groups: [],
      command: "kubectl <!channel> <https://evil.example|approve here> `x`",
    },
  });
  const message = slackMessage(approvalEvent("approval.requested", approval));
  assertBlockKit(message);
  const text = allText(message);
  assert.ok(!text.includes("<!channel>"));
  assert.ok(!text.includes("<https://evil.example"));
  assert.ok(text.includes("&lt;!channel&gt;"));
});

test("a long diff is cut to fit Slack's limits, and says so", () => {
  const effect = Array.from({ length: 2000 }, (_, i) => `-  replicas: ${i} & <more>`).join("\n");
  const message = slackMessage(approvalEvent("approval.requested", sampleApproval(), effect));
  assertBlockKit(message);
  const section = message.blocks.find(
    (b) => b.type === "section" && b.text?.text.startsWith("*Effect*"),
  );
  assert.ok(section?.type === "section" && section.text);
  assert.match(section.text.text, /more lines\)\n```$/);
  assert.ok(!/&[a-z]*\n/.test(section.text.text), "no entity is split");
});

test("a decision names the approver, the verdict and the reason", () => {
  const approval = sampleApproval({
    state: "denied",
    decisions: [
      {
        by: "alice",
        groups: ["sre"],
        decision: "deny",
        reason: "not during the freeze",
        at: "2025-06-01T10:02:00Z",
      },
    ],
  });
  const message = slackMessage(approvalEvent("approval.decided", approval));
  assertBlockKit(message);
  assert.match(message.text, /^Denied: delete/);
  assert.ok(allText(message).includes("`alice` denied: not during the freeze"));
  assert.ok(!allText(message).includes("approvals approve"), "no commands once decided");
});

test("an approval closed without a decision says why", () => {
  const approval = sampleApproval({
    state: "expired",
    closedReason: "approval timed out after 10m",
  });
  const message = slackMessage(approvalEvent("approval.decided", approval));
  assertBlockKit(message);
  assert.match(message.text, /^Approval expired: delete/);
  assert.ok(allText(message).includes("approval timed out after 10m"));
});

test("grants created and revoked are valid messages with scope and expiry", () => {
  const created = slackMessage(grantEvent("grant.created", sampleGrant()));
  assertBlockKit(created);
  assert.match(created.text, /Grant created for portcullis:agent:deploy-bot/);
  assert.ok(allText(created).includes("2025-06-01T10:15:00.000Z"));
  const revoked = slackMessage(
    grantEvent(
      "grant.revoked",
      sampleGrant({
        revokedBy: "bob",
        revokedAt: "2025-06-01T10:05:00Z",
        revokeReason: "rollout done",
      }),
    ),
  );
  assertBlockKit(revoked);
  assert.ok(allText(revoked).includes("*Revoked by*\\n`bob`"));
  assert.ok(allText(revoked).includes("*Why revoked*\\nrollout done"));
  assert.ok(allText(revoked).includes("*Names*\\n`*`"), "no names listed means any name");
  const core = slackMessage(
    grantEvent(
      "grant.created",
      sampleGrant({ scope: { ...sampleGrant().scope, apiGroups: [""] } }),
    ),
  );
  assert.ok(allText(core).includes("*API groups*\\n`core`"));
});

test("a cluster-scoped call without a kubectl command still fills every field", () => {
  const approval = sampleApproval({
    requester: { username: "alice", subject: "alice", kind: "human", groups: [] },
    call: {
      method: "DELETE",
      path: "/api/v1/namespaces/payments",
      verb: "delete",
      apiGroup: "",
      resource: "namespaces",
      subresource: "",
      namespace: "",
      name: "payments",
    },
  });
  const message = slackMessage(approvalEvent("approval.requested", approval));
  assertBlockKit(message);
  assert.ok(allText(message).includes("*Namespace*\\n—"));
});
