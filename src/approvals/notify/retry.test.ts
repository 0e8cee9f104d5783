import assert from "node:assert/strict";
import { test } from "node:test";
import {
  backoffDelay,
  defaultRetryPolicy,
  isRetryableStatus,
  nextDelay,
  parseRetryAfter,
} from "./retry.ts";

test("backoff doubles from 1 s and stops growing at 16 s", () => {
  const noJitter = { ...defaultRetryPolicy, jitter: 0 };
  const waits = [1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(noJitter, attempt));
  assert.deepEqual(waits, [1000, 2000, 4000, 8000, 16_000, 16_000]);
});

test("jitter shortens a wait by at most its share", () => {
  assert.equal(
    backoffDelay(defaultRetryPolicy, 3, () => 0),
    4000,
  );
  assert.equal(
    backoffDelay(defaultRetryPolicy, 3, () => 0.999_999),
    2000,
  );
  assert.equal(
    backoffDelay(defaultRetryPolicy, 3, () => 0.5),
    3000,
  );
});

test("a Retry-After longer than the backoff is honoured, up to a minute", () => {
  const policy = { ...defaultRetryPolicy, jitter: 0 };
  assert.equal(nextDelay(policy, 1, 5000), 5000);
  assert.equal(nextDelay(policy, 4, 5000), 8000);
  assert.equal(nextDelay(policy, 1, 3_600_000), 60_000);
});

test("only server errors, 408 and 429 are worth another attempt", () => {
  const table: [number, boolean][] = [
    [500, true],
    [502, true],
    [503, true],
    [408, true],
    [429, true],
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [410, false],
    [302, false],
  ];
  for (const [status, retryable] of table)
    assert.equal(isRetryableStatus(status), retryable, `${status}`);
});

test("Retry-After is read as seconds or as an HTTP date", () => {
  const now = Date.parse("2025-06-01T10:00:00Z");
  assert.equal(parseRetryAfter("7", now), 7000);
  assert.equal(parseRetryAfter("Sun, 01 Jun 2025 10:00:30 GMT", now), 30_000);
  assert.equal(parseRetryAfter("Sun, 01 Jun 2025 09:00:00 GMT", now), 0);
  assert.equal(parseRetryAfter("soon", now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});
