import assert from "node:assert/strict";
import { test } from "node:test";
import { notificationsSchema, targetNameOf } from "./config.ts";

test("parses a webhook and a Slack target, with a default timeout and names", () => {
  const targets = notificationsSchema.parse([
    { webhook: { url: "https://hooks.example/portcullis", secret: { env: "HOOK_SECRET" } } },
    { slack: { url: { file: "/run/secrets/slack-url" }, timeoutMs: 2000 } },
  ]);
  assert.deepEqual(targets[0], {
    webhook: {
      url: "https://hooks.example/portcullis",
      secret: { env: "HOOK_SECRET" },
      timeoutMs: 5000,
    },
  });
  assert.deepEqual(targets.map(targetNameOf), ["webhook-0", "slack-1"]);
});

test("accepts several webhook secrets for rotation", () => {
  const [target] = notificationsSchema.parse([
    { webhook: { url: "https://h.example", secret: [{ env: "OLD" }, { env: "NEW" }] } },
  ]);
  assert.ok(target && "webhook" in target && Array.isArray(target.webhook.secret));
});

test("refuses an inline secret, an inline Slack URL, a non-http URL and duplicate names", () => {
  const refused: unknown[] = [
    [{ webhook: { url: "https://h.example", secret: "inline" } }],
    [{ slack: { url: "https://hooks.slack.com/services/T/B/x" } }],
    [{ webhook: { url: "ftp://h.example", secret: { env: "S" } } }],
    [
      { webhook: { name: "ops", url: "https://a.example", secret: { env: "S" } } },
      { slack: { name: "ops", url: { env: "U" } } },
    ],
    [{ webhook: { url: "https://h.example", secret: { env: "S" }, extra: true } }],
  ];
  for (const config of refused) {
    assert.equal(notificationsSchema.safeParse(config).success, false, JSON.stringify(config));
  }
});
