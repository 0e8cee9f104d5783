/**
 * The signed webhook: a JSON body, and an HMAC-SHA256 over
 * `${timestamp}.${deliveryId}.${body}` in `Portcullis-Signature: t=…,v1=…`
 * (the Stripe/Slack scheme: the timestamp is inside the MAC, so an old
 * delivery cannot be re-sent with a fresh one). Each active secret adds one
 * `v1=` so receivers keep verifying while a secret is rotated.
 * docs/approvals-notifications.md describes the scheme for receivers.
 */
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import {
  type ApprovalCommands,
  type ApprovalView,
  approvalCommands,
  type GrantView,
  type NotificationEvent,
  type NotificationType,
  subjectLink,
  truncateEffect,
} from "./event.ts";

export const signatureHeader = "Portcullis-Signature";
export const deliveryHeader = "Portcullis-Delivery";

/** Effects beyond this are cut: the payload is a summary, `approvals show` has the whole. */
const maxEffectChars = 8192;
const maxEffectLines = 200;
const maxSignatureEntries = 16;
/** Delivery ids never contain the `.` separator, so the signed string splits one way only. */
const deliveryIdPattern = /^[A-Za-z0-9_-]{1,128}$/;

export interface WebhookPayload {
  type: NotificationType;
  id: string;
  time: string;
  approval?: ApprovalView & { effectTruncated?: true };
  grant?: GrantView;
  /** The approval or grant in the approver UI, when a base URL is configured. */
  url?: string;
  /** The CLI lines that decide a pending approval (approval.requested only). */
  commands?: ApprovalCommands;
}

export function webhookPayload(event: NotificationEvent, linkBase?: string): WebhookPayload {
  const url = subjectLink(event, linkBase);
  const common = { type: event.type, id: event.id, time: event.time, ...(url ? { url } : {}) };
  if (!("approval" in event)) return { ...common, grant: event.grant };
  const approval: WebhookPayload["approval"] = { ...event.approval };
  if (approval.effect !== undefined) {
    const effect = truncateEffect(approval.effect, maxEffectChars, maxEffectLines);
    approval.effect = effect.text;
    if (effect.truncated) approval.effectTruncated = true;
  }
  return {
    ...common,
    approval,
    ...(event.type === "approval.requested" ? { commands: approvalCommands(approval.id) } : {}),
  };
}

export interface SignOptions {
  /** Every active secret; each adds a `v1=` signature. */
  secrets: readonly string[];
  body: string | Uint8Array;
  /** Fresh for every attempt, so a receiver's replay check never refuses a retry. */
  deliveryId?: string;
  now?: Date;
}

/** The headers of one delivery attempt. */
export function signWebhook(options: SignOptions): Record<string, string> {
  const deliveryId = options.deliveryId ?? randomUUID();
  if (!deliveryIdPattern.test(deliveryId)) throw new TypeError("malformed delivery id");
  const secrets = checkedSecrets(options.secrets);
  const timestamp = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const signatures = secrets.map(
    (secret) => `v1=${mac(secret, timestamp, deliveryId, options.body).toString("hex")}`,
  );
  return {
    [signatureHeader]: [`t=${timestamp}`, ...signatures].join(","),
    [deliveryHeader]: deliveryId,
  };
}

export type WebhookRejection =
  | "missing_headers"
  | "malformed_headers"
  | "bad_signature"
  | "timestamp_out_of_tolerance"
  | "replayed";

export type WebhookVerification =
  | { ok: true; deliveryId: string; timestamp: number }
  | { ok: false; reason: WebhookRejection };

export interface VerifyWebhookOptions {
  /** The shared secret, or several while rotating: any one of them may match. */
  secret: string | readonly string[];
  /** `req.headers` of node:http or a fetch `Headers`. */
  headers: Headers | Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The raw body exactly as received: re-serialised JSON does not verify. */
  body: string | Uint8Array;
  now?: Date;
  toleranceSeconds?: number;
  /**
   * Called only for an authentic, fresh delivery: true when its id was seen
   * before (the caller remembers ids for at least the tolerance window).
   */
  seen?: (deliveryId: string) => boolean;
}

export function verifyWebhook(options: VerifyWebhookOptions): WebhookVerification {
  const secrets = checkedSecrets(
    typeof options.secret === "string" ? [options.secret] : options.secret,
  );
  const signature = header(options.headers, signatureHeader);
  const deliveryId = header(options.headers, deliveryHeader);
  if (signature === undefined || deliveryId === undefined) {
    return { ok: false, reason: "missing_headers" };
  }
  const parsed = parseSignature(signature);
  if (parsed === undefined || !deliveryIdPattern.test(deliveryId)) {
    return { ok: false, reason: "malformed_headers" };
  }
  const { timestamp, candidates } = parsed;
  const authentic = secrets.some((secret) => {
    const expected = mac(secret, timestamp, deliveryId, options.body);
    return candidates.some((candidate) => timingSafeEqual(candidate, expected));
  });
  if (!authentic) return { ok: false, reason: "bad_signature" };
  const nowSeconds = (options.now ?? new Date()).getTime() / 1000;
  if (Math.abs(nowSeconds - timestamp) > (options.toleranceSeconds ?? 300)) {
    return { ok: false, reason: "timestamp_out_of_tolerance" };
  }
  if (options.seen?.(deliveryId)) return { ok: false, reason: "replayed" };
  return { ok: true, deliveryId, timestamp };
}

/**
 * A `seen` for one receiver process: remembers delivery ids for twice the
 * tolerance (older deliveries fail the timestamp check anyway). Receivers
 * running several replicas need a shared store instead.
 */
export function replayGuard(toleranceSeconds = 300, clock = Date.now): (id: string) => boolean {
  const expiries = new Map<string, number>();
  const ttlMs = 2 * toleranceSeconds * 1000;
  return function seen(deliveryId) {
    const now = clock();
    // Insertion order is expiry order (one TTL), so expired ids sit at the front.
    for (const [id, expiry] of expiries) {
      if (expiry > now) break;
      expiries.delete(id);
    }
    if (expiries.has(deliveryId)) return true;
    expiries.set(deliveryId, now + ttlMs);
    return false;
  };
}

function mac(secret: string, timestamp: number, deliveryId: string, body: string | Uint8Array) {
  return createHmac("sha256", secret).update(`${timestamp}.${deliveryId}.`).update(body).digest();
}

function checkedSecrets(secrets: readonly string[]): readonly string[] {
  if (secrets.length === 0 || secrets.some((s) => s === "")) {
    throw new TypeError("webhook signing needs at least one non-empty secret");
  }
  return secrets;
}

function parseSignature(value: string): { timestamp: number; candidates: Buffer[] } | undefined {
  const entries = value.split(",");
  if (entries.length > maxSignatureEntries) return undefined;
  let timestamp: number | undefined;
  const candidates: Buffer[] = [];
  for (const entry of entries) {
    const [key, val, ...rest] = entry.trim().split("=");
    if (val === undefined || rest.length > 0) return undefined;
    if (key === "t") {
      if (timestamp !== undefined || !/^\d{1,12}$/.test(val)) return undefined;
      timestamp = Number(val);
    } else if (key === "v1") {
      if (!/^[0-9a-f]{64}$/.test(val)) return undefined;
      candidates.push(Buffer.from(val, "hex"));
    }
    // Other schemes (v0, v2, …) are skipped so a future scheme can be added alongside v1.
  }
  if (timestamp === undefined || candidates.length === 0) return undefined;
  return { timestamp, candidates };
}

function header(headers: VerifyWebhookOptions["headers"], name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted) continue;
    // A repeated header is ambiguous: which one did the sender sign?
    if (typeof value === "string") return value;
    return value?.length === 1 ? value[0] : undefined;
  }
  return undefined;
}
