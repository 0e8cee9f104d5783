import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";
import { approvalEvent, grantEvent } from "./event.ts";
import { sampleApproval, sampleEffect, sampleGrant } from "./fixture.ts";
import {
  deliveryHeader,
  replayGuard,
  signatureHeader,
  signWebhook,
  verifyWebhook,
  webhookPayload,
} from "./webhook.ts";

const secret = "whsec_test_0123456789";
const now = new Date("2025-06-01T10:00:00Z");
const body = JSON.stringify(
  webhookPayload(approvalEvent("approval.requested", sampleApproval(), sampleEffect)),
);

function signed(options: { secrets?: string[]; at?: Date; deliveryId?: string } = {}) {
  return signWebhook({
    secrets: options.secrets ?? [secret],
    body,
    now: options.at ?? now,
    ...(options.deliveryId ? { deliveryId: options.deliveryId } : {}),
  });
}

test("a delivery signed with the shared secret verifies", () => {
  const headers = signed({ deliveryId: "d-1" });
  assert.deepEqual(verifyWebhook({ secret, headers, body, now }), {
    ok: true,
    deliveryId: "d-1",
    timestamp: now.getTime() / 1000,
  });
});

test("the signature is HMAC-SHA256 over `timestamp.deliveryId.body`, as documented", () => {
  const headers = signed({ deliveryId: "d-2" });
  const t = now.getTime() / 1000;
  const expected = createHmac("sha256", secret).update(`${t}.d-2.${body}`).digest("hex");
  assert.equal(headers[signatureHeader], `t=${t},v1=${expected}`);
  assert.equal(headers[deliveryHeader], "d-2");
});

test("the test vector in docs/approvals-notifications.md holds", () => {
  const headers = signWebhook({
    secrets: ["whsec-example"],
    body: '{"type":"approval.requested"}',
    deliveryId: "0b6f1a52-1c3e-4f0e-9a43-7d2b8c5e9f10",
    now: new Date(1748772000 * 1000),
  });
  assert.equal(
    headers[signatureHeader],
    "t=1748772000,v1=91665c50d1d0047a18df948a617a343e27ab84bf628e0f2d325c4d95d772fadf",
  );
});

test("refuses a tampered body, a wrong secret and a swapped delivery id", () => {
  const headers = signed({ deliveryId: "d-3" });
  const tampered = body.replace('"delete"', '"get"');
  assert.notEqual(tampered, body);
  assert.deepEqual(verifyWebhook({ secret, headers, body: tampered, now }), {
    ok: false,
    reason: "bad_signature",
  });
  assert.equal(verifyWebhook({ secret: "not-the-secret", headers, body, now }).ok, false);
  const swapped = { ...headers, [deliveryHeader]: "d-4" };
  assert.deepEqual(verifyWebhook({ secret, headers: swapped, body, now }), {
    ok: false,
    reason: "bad_signature",
  });
});

test("refuses a timestamp outside the tolerance, past or future", () => {
  const old = signed({ at: new Date(now.getTime() - 301_000) });
  assert.deepEqual(verifyWebhook({ secret, headers: old, body, now }), {
    ok: false,
    reason: "timestamp_out_of_tolerance",
  });
  const future = signed({ at: new Date(now.getTime() + 301_000) });
  assert.equal(verifyWebhook({ secret, headers: future, body, now }).ok, false);
  const edge = signed({ at: new Date(now.getTime() - 300_000) });
  assert.equal(verifyWebhook({ secret, headers: edge, body, now }).ok, true);
  assert.equal(verifyWebhook({ secret, headers: old, body, now, toleranceSeconds: 600 }).ok, true);
});

test("a replayed delivery id is refused; a bad signature never reaches `seen`", () => {
  const seen = replayGuard(300, () => now.getTime());
  const headers = signed({ deliveryId: "d-5" });
  assert.equal(verifyWebhook({ secret, headers, body, now, seen }).ok, true);
  assert.deepEqual(verifyWebhook({ secret, headers, body, now, seen }), {
    ok: false,
    reason: "replayed",
  });

  const calls: string[] = [];
  const forged = {
    ...signed({ deliveryId: "d-6" }),
    [signatureHeader]: `t=1,v1=${"0".repeat(64)}`,
  };
  verifyWebhook({ secret, headers: forged, body, now, seen: (id) => calls.push(id) > 0 });
  assert.deepEqual(calls, []);
});

test("the replay guard forgets ids after twice the tolerance", () => {
  let clock = 0;
  const seen = replayGuard(1, () => clock);
  assert.equal(seen("a"), false);
  assert.equal(seen("a"), true);
  clock = 2001;
  assert.equal(seen("a"), false);
});

test("rotation: signed with two secrets, a receiver holding either one verifies", () => {
  const headers = signed({ secrets: ["old-secret", "new-secret"] });
  assert.equal(headers[signatureHeader]?.split(",v1=").length, 3);
  assert.equal(verifyWebhook({ secret: "old-secret", headers, body, now }).ok, true);
  assert.equal(verifyWebhook({ secret: "new-secret", headers, body, now }).ok, true);
  assert.equal(verifyWebhook({ secret: "other", headers, body, now }).ok, false);
  const newOnly = signed({ secrets: ["new-secret"] });
  assert.equal(
    verifyWebhook({ secret: ["old-secret", "new-secret"], headers: newOnly, body, now }).ok,
    true,
  );
});

test("reads node:http and fetch headers, in any letter case", () => {
  const headers = signed();
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  assert.equal(verifyWebhook({ secret, headers: lower, body, now }).ok, true);
  assert.equal(verifyWebhook({ secret, headers: new Headers(headers), body, now }).ok, true);
  assert.equal(verifyWebhook({ secret, headers, body: Buffer.from(body), now }).ok, true);
});

test("missing or malformed headers are refused before any MAC is computed", () => {
  const headers = signed({ deliveryId: "d-7" });
  const cases: [Record<string, string>, string][] = [
    [{ [deliveryHeader]: "d-7" }, "missing_headers"],
    [{ ...headers, [signatureHeader]: "v1=abc" }, "malformed_headers"],
    [{ ...headers, [signatureHeader]: "t=now,v1=00" }, "malformed_headers"],
    [{ ...headers, [signatureHeader]: `${headers[signatureHeader]},t=1` }, "malformed_headers"],
    [{ ...headers, [deliveryHeader]: "d.7" }, "malformed_headers"],
  ];
  for (const [given, reason] of cases) {
    assert.deepEqual(verifyWebhook({ secret, headers: given, body, now }), { ok: false, reason });
  }
});

test("an unknown signature scheme beside v1 is skipped, not refused", () => {
  const headers = signed();
  const withV2 = { ...headers, [signatureHeader]: `${headers[signatureHeader]},v2=future` };
  assert.equal(verifyWebhook({ secret, headers: withV2, body, now }).ok, true);
});

test("signing refuses an empty secret list or an empty secret", () => {
  assert.throws(() => signWebhook({ secrets: [], body }), TypeError);
  assert.throws(() => verifyWebhook({ secret: "", headers: signed(), body }), TypeError);
});

test("the payload carries the summary, the decision commands and the link", () => {
  const event = approvalEvent("approval.requested", sampleApproval());
  const payload = webhookPayload(event, "https://portcullis.example/ui");
  assert.equal(payload.type, "approval.requested");
  assert.equal(payload.id, event.id);
  assert.equal(payload.approval?.rule.id, "baseline/prod-deletes");
  assert.equal(payload.url, "https://portcullis.example/ui/approvals/apr-7f3k2a9c0d1e2f30");
  assert.equal(
    payload.commands?.approve,
    'portcullis approvals approve apr-7f3k2a9c0d1e2f30 --reason "…"',
  );

  const decided = webhookPayload(approvalEvent("approval.decided", sampleApproval()));
  assert.equal(decided.commands, undefined);
  assert.equal(decided.url, undefined);

  const grant = webhookPayload(grantEvent("grant.revoked", sampleGrant()), "https://p.example");
  assert.equal(grant.grant?.id, "grt-52hd00aa11bb22cc");
  assert.equal(grant.url, "https://p.example/grants/grt-52hd00aa11bb22cc");
});

test("a long effect is cut in the payload and marked so", () => {
  const effect = Array.from({ length: 500 }, (_, i) => `+  line ${i}`).join("\n");
  const payload = webhookPayload(approvalEvent("approval.requested", sampleApproval(), effect));
  assert.equal(payload.approval?.effectTruncated, true);
  assert.match(payload.approval?.effect ?? "", /… \(300 more lines\)$/);
});

test("only the chosen fields leave: not the raw effect, the path, the body hash or the groups", () => {
  const event = approvalEvent("approval.requested", sampleApproval(), sampleEffect);
  const sent = JSON.stringify(webhookPayload(event));
  for (const kept of [
    "must-not-leave",
    "secretData",
    "/apis/apps",
    "bodySha256",
    "portcullis:agents",
  ]) {
    assert.ok(!sent.includes(kept), `${kept} left the gateway`);
  }
  assert.ok(sent.includes(sampleEffect));
  const withoutSummary = webhookPayload(approvalEvent("approval.requested", sampleApproval()));
  assert.equal(withoutSummary.approval?.effect, undefined);
});
