/**
 * When to try a delivery again: exponential backoff with jitter (so many
 * gateways recovering at once do not hit a receiver in lockstep), a server's
 * Retry-After honoured, and no retry for an answer that will not change.
 */

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Wait before the second attempt; doubles each time up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Share of each wait that is random: 0.5 waits between half and all of it. */
  jitter: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  attempts: 5,
  baseDelayMs: 1000,
  maxDelayMs: 16_000,
  jitter: 0.5,
};

/** A Retry-After beyond this is not waited for in full (the event would be stale). */
const maxRetryAfterMs = 60_000;

/**
 * The wait after failed attempt `attempt` (1-based): 1 s, 2 s, 4 s, 8 s, 16 s
 * by default, each shortened by up to `jitter` of itself.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const full = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(full * (1 - policy.jitter * random()));
}

/** The wait before the next attempt, given what the last one returned. */
export function nextDelay(
  policy: RetryPolicy,
  attempt: number,
  retryAfterMs: number | undefined,
  random = Math.random,
): number {
  const backoff = backoffDelay(policy, attempt, random);
  if (retryAfterMs === undefined) return backoff;
  return Math.max(backoff, Math.min(retryAfterMs, maxRetryAfterMs));
}

/**
 * Worth retrying: server errors, 408 and 429. Any other 4xx (a wrong URL,
 * a receiver refusing the signature, Slack's `invalid_payload`) and 3xx
 * (redirects are not followed: a signed body goes only where configured)
 * will not change by asking again.
 */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** Retry-After in milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
