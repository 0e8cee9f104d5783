import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Registry } from "prom-client";
import type { NotificationsConfig } from "./config.ts";
import { type DeliveryRecord, Notifier, type NotifierOptions } from "./deliver.ts";
import { approvalEvent, type NotificationEvent } from "./event.ts";
import {
  answer,
  type Receiver,
  type Script,
  sampleApproval,
  sampleEffect,
  startReceiver,
} from "./fixture.ts";
import { replayGuard, verifyWebhook, type WebhookPayload } from "./webhook.ts";

process.env.NOTIFY_TEST_SECRET = "whsec-current";
process.env.NOTIFY_TEST_OLD_SECRET = "whsec-previous";

const fast = { attempts: 5, baseDelayMs: 10, maxDelayMs: 40, jitter: 0 };
const receivers: Receiver[] = [];
const notifiers: Notifier[] = [];
let tmp: string | undefined;

after(async () => {
  await Promise.all(notifiers.map((n) => n.close()));
  await Promise.all(receivers.map((r) => r.close()));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function receiver(script: Script): Promise<Receiver> {
  const r = await startReceiver(script);
  receivers.push(r);
  return r;
}

function notifier(targets: NotificationsConfig, options: Partial<NotifierOptions> = {}) {
  const registry = new Registry();
  const n = new Notifier({ targets, registry, retry: fast, ...options });
  notifiers.push(n);
  return { notifier: n, registry };
}

function webhook(
  url: string,
  overrides: Record<string, unknown> = {},
): NotificationsConfig[number] {
  return { webhook: { url, secret: { env: "NOTIFY_TEST_SECRET" }, timeoutMs: 2000, ...overrides } };
}

const event = (): NotificationEvent =>
  approvalEvent("approval.requested", sampleApproval(), sampleEffect);

function only(n: Notifier): DeliveryRecord {
  const [target] = n.deliveries();
  assert.equal(target?.deliveries.length, 1);
  return target.deliveries[0] as DeliveryRecord;
}

async function count(registry: Registry, target: string, outcome: string): Promise<number> {
  const metric = await registry.getSingleMetric("portcullis_notification_deliveries_total")?.get();
  const value = metric?.values.find(
    (v) => v.labels.target === target && v.labels.outcome === outcome,
  );
  return value?.value ?? 0;
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A receiver that answers 204 to a delivery that verifies with `secret`, 401 otherwise. */
const verifying =
  (secret: string | string[], seen?: (id: string) => boolean): Script =>
  (request, _n, res) => {
    const verdict = verifyWebhook({ secret, headers: request.headers, body: request.body, seen });
    answer(res, verdict.ok ? 204 : 401, verdict.ok ? "" : verdict.reason);
  };

test("a webhook delivery arrives signed and verifies with the shared secret", async () => {
  const hook = await receiver(verifying("whsec-current"));
  const { notifier: n, registry } = notifier([webhook(hook.url)], {
    linkBase: "https://p.example",
  });
  const sent = event();
  n.notify(sent);
  await n.idle();
  assert.equal(only(n).state, "delivered");
  assert.equal(only(n).lastStatus, 204);
  const payload = JSON.parse(hook.received[0]?.body ?? "") as WebhookPayload;
  assert.equal(payload.id, sent.id);
  assert.equal(payload.type, "approval.requested");
  assert.equal(payload.url, "https://p.example/approvals/apr-7f3k2a9c0d1e2f30");
  assert.equal(hook.received[0]?.headers["content-type"], "application/json");
  assert.equal(await count(registry, "webhook-0", "delivered"), 1);
});

test("retries on 500 with a fresh delivery id each time, then succeeds", async () => {
  const seen = replayGuard();
  const verify = verifying("whsec-current", seen);
  const hook = await receiver((request, n, res) => {
    if (n < 2) {
      assert.equal(verifyWebhook({ secret: "whsec-current", ...request, seen }).ok, true);
      answer(res, 500, "try later");
    } else verify(request, n, res);
  });
  const { notifier: n } = notifier([webhook(hook.url)]);
  n.notify(event());
  await n.idle();
  assert.deepEqual(
    { state: only(n).state, attempts: only(n).attempts, status: only(n).lastStatus },
    { state: "delivered", attempts: 3, status: 204 },
  );
  assert.equal(only(n).lastError, undefined);
  const ids = new Set(hook.received.map((r) => r.headers["portcullis-delivery"]));
  assert.equal(ids.size, 3);
  // The body is the same event every time: receivers deduplicate on its id.
  assert.equal(new Set(hook.received.map((r) => r.body)).size, 1);
});

test("an attempt that times out is retried", async () => {
  const hook = await receiver((_request, n, res) => {
    if (n > 0) answer(res, 200);
    // The first request is never answered.
  });
  const { notifier: n } = notifier([webhook(hook.url, { timeoutMs: 100 })]);
  n.notify(event());
  await n.idle();
  assert.equal(only(n).state, "delivered");
  assert.equal(only(n).attempts, 2);
  assert.equal(hook.received.length, 2);
});

test("a target that keeps failing is given up, visible in deliveries() and the metric", async () => {
  const hook = await receiver((_request, _n, res) => answer(res, 503, "receiver\nis down"));
  const { notifier: n, registry } = notifier([webhook(hook.url, { name: "siem" })]);
  const sent = event();
  n.notify(sent);
  await n.idle();
  const [target] = n.deliveries();
  assert.equal(target?.target, "siem");
  assert.equal(target?.kind, "webhook");
  const record = only(n);
  assert.equal(record.eventId, sent.id);
  assert.equal(record.state, "given_up");
  assert.equal(record.attempts, 5);
  assert.equal(record.lastStatus, 503);
  assert.equal(record.lastError, "HTTP 503: receiver is down");
  assert.ok(record.finishedAt);
  assert.equal(hook.received.length, 5);
  assert.equal(await count(registry, "siem", "given_up"), 1);
  assert.equal(await count(registry, "siem", "delivered"), 0);
});

test("a refusal that will not change (401) is not retried", async () => {
  const hook = await receiver(verifying("some-other-secret"));
  const { notifier: n, registry } = notifier([webhook(hook.url)]);
  n.notify(event());
  await n.idle();
  assert.deepEqual(
    { state: only(n).state, attempts: only(n).attempts, error: only(n).lastError },
    { state: "rejected", attempts: 1, error: "HTTP 401: bad_signature" },
  );
  assert.equal(await count(registry, "webhook-0", "rejected"), 1);
});

test("an unreachable target records the network error", async () => {
  const gone = await startReceiver(() => {});
  await gone.close();
  const { notifier: n } = notifier([webhook(gone.url)], { retry: { ...fast, attempts: 2 } });
  n.notify(event());
  await n.idle();
  assert.equal(only(n).state, "given_up");
  assert.equal(only(n).lastStatus, undefined);
  assert.match(only(n).lastError ?? "", /ECONNREFUSED/);
});

test("notify returns at once and never throws, even for an event that cannot be sent", async () => {
  const hook = await receiver((_request, _n, res) => setTimeout(() => answer(res, 200), 300));
  const { notifier: n } = notifier([webhook(hook.url)]);
  const broken = event();
  const view = (broken as unknown as { approval: Record<string, unknown> }).approval;
  view.self = view; // JSON.stringify throws on a cycle
  const started = performance.now();
  n.notify(event());
  n.notify(broken);
  assert.ok(performance.now() - started < 50, "notify did not wait for the receiver");
  await n.idle();
  const states = n.deliveries()[0]?.deliveries.map((d) => d.state);
  assert.deepEqual(states, ["given_up", "delivered"]);
  assert.match(n.deliveries()[0]?.deliveries[0]?.lastError ?? "", /circular/);
});

test("rotation: signed with both secrets, receivers holding either one accept", async () => {
  const oldOnly = await receiver(verifying("whsec-previous"));
  const newOnly = await receiver(verifying("whsec-current"));
  const secret = [{ env: "NOTIFY_TEST_OLD_SECRET" }, { env: "NOTIFY_TEST_SECRET" }];
  const { notifier: n } = notifier([
    webhook(oldOnly.url, { secret }),
    webhook(newOnly.url, { secret }),
  ]);
  n.notify(event());
  await n.idle();
  assert.deepEqual(
    n.deliveries().map((t) => t.deliveries[0]?.state),
    ["delivered", "delivered"],
  );
});

test("a secret file is read per attempt, so a rotated file takes effect without a restart", async () => {
  tmp = await mkdtemp(join(tmpdir(), "portcullis-notify-"));
  const file = join(tmp, "secret");
  await writeFile(file, "first-secret\n");
  const hook = await receiver(verifying("second-secret"));
  const { notifier: n } = notifier([webhook(hook.url, { secret: { file } })]);
  await writeFile(file, "second-secret\n");
  n.notify(event());
  await n.idle();
  assert.equal(only(n).state, "delivered");
});

test("Slack: the Block Kit message is posted to the webhook URL from the secret", async () => {
  const slack = await receiver((_request, _n, res) => answer(res, 200, "ok"));
  process.env.NOTIFY_TEST_SLACK_URL = slack.url;
  const { notifier: n } = notifier([
    { slack: { url: { env: "NOTIFY_TEST_SLACK_URL" }, timeoutMs: 2000 } },
  ]);
  n.notify(event());
  await n.idle();
  assert.equal(only(n).state, "delivered");
  const message = JSON.parse(slack.received[0]?.body ?? "") as { text: string; blocks: unknown[] };
  assert.match(message.text, /^Approval needed/);
  assert.ok(message.blocks.length > 3);
  assert.equal(slack.received[0]?.headers["portcullis-signature"], undefined);
});

test("Slack refusing the payload is recorded with Slack's reason, not retried", async () => {
  const slack = await receiver((_request, _n, res) => answer(res, 400, "invalid_payload"));
  process.env.NOTIFY_TEST_SLACK_BAD = slack.url;
  const { notifier: n } = notifier([
    { slack: { url: { env: "NOTIFY_TEST_SLACK_BAD" }, timeoutMs: 2000 } },
  ]);
  n.notify(event());
  await n.idle();
  assert.equal(only(n).state, "rejected");
  assert.equal(only(n).lastError, "HTTP 400: invalid_payload");
});

test("close() cancels a delivery waiting for its next attempt", async () => {
  const hook = await receiver((_request, _n, res) => answer(res, 500));
  const { notifier: n, registry } = notifier([webhook(hook.url)], {
    retry: { ...fast, baseDelayMs: 60_000, maxDelayMs: 60_000 },
  });
  n.notify(event());
  await eventually(() => only(n).state === "waiting", "the first retry to be scheduled");
  assert.ok(only(n).nextAttemptAt);
  const started = performance.now();
  await n.close();
  assert.ok(performance.now() - started < 1000);
  assert.equal(only(n).state, "cancelled");
  assert.equal(await count(registry, "webhook-0", "cancelled"), 1);
});

test("requests to one target are limited; beyond the pending limit events are dropped", async () => {
  const held: (() => void)[] = [];
  const hook = await receiver((_request, _n, res) => held.push(() => answer(res, 200)));
  const { notifier: n, registry } = notifier([webhook(hook.url)], {
    concurrencyPerTarget: 2,
    maxPendingPerTarget: 4,
  });
  for (let i = 0; i < 5; i++) n.notify(event());
  await eventually(() => hook.received.length === 2, "two requests in flight");
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(hook.received.length, 2, "no third request while two are in flight");
  assert.deepEqual(
    n.deliveries()[0]?.deliveries.map((d) => d.state),
    ["dropped", "queued", "queued", "sending", "sending"],
  );
  await eventually(() => {
    for (const release of held.splice(0)) release();
    return hook.received.length === 4;
  }, "the queued deliveries");
  for (const release of held.splice(0)) release();
  await n.idle();
  const states = n.deliveries()[0]?.deliveries.map((d) => d.state);
  assert.deepEqual(states, ["dropped", "delivered", "delivered", "delivered", "delivered"]);
  assert.equal(await count(registry, "webhook-0", "dropped"), 1);
});

test("deliveries() keeps the last N per target, newest first", async () => {
  const hook = await receiver((_request, _n, res) => answer(res, 200));
  const { notifier: n } = notifier([webhook(hook.url)], { historySize: 2 });
  const events = [event(), event(), event()];
  for (const e of events) n.notify(e);
  await n.idle();
  const ids = n.deliveries()[0]?.deliveries.map((d) => d.eventId);
  assert.deepEqual(ids, [events[2]?.id, events[1]?.id]);
});

test("a secret that cannot be read stops the start", () => {
  assert.throws(
    () =>
      new Notifier({
        targets: [webhook("https://h.example", { secret: { env: "NOTIFY_UNSET" } })],
      }),
    /NOTIFY_UNSET is not set/,
  );
});

test("a notifier rebuilt on the same registry keeps counting in the same metric", async () => {
  const hook = await receiver((_request, _n, res) => answer(res, 200));
  const registry = new Registry();
  for (let i = 0; i < 2; i++) {
    const n = new Notifier({ targets: [webhook(hook.url)], registry, retry: fast });
    n.notify(event());
    await n.idle();
  }
  assert.equal(await count(registry, "webhook-0", "delivered"), 2);
});
