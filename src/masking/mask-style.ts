/**
 * Shared masking helpers for detectors: `partial` keeps the value's shape
 * (separators stay, chosen characters stay, the rest become `*`), `full`
 * replaces it with the detector's tag, `hash` with a keyed HMAC-SHA-256 tag
 * (`[card:3f9a0c…]`) so auditors can correlate equal values without seeing them.
 */
import { createHmac } from "node:crypto";
import type { MaskStyle } from "./detector.ts";

/** Hex digits of the HMAC kept in a hash tag: 64 bits, enough to correlate, short to read. */
const HASH_HEX_CHARS = 16;

function isAlnumCode(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * Keeps the first `keepFirst` and the last `keepLast` letters/digits, turns
 * the other letters/digits into `*` and keeps every other character (spaces,
 * dashes) where it was: `4111 1111 1111 1111` → `**** **** **** 1111`.
 */
export function maskKeeping(value: string, keepFirst: number, keepLast: number): string {
  let total = 0;
  for (let i = 0; i < value.length; i++) if (isAlnumCode(value.charCodeAt(i))) total++;
  let seen = 0;
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    if (!isAlnumCode(value.charCodeAt(i))) {
      out += ch;
      continue;
    }
    out += seen < keepFirst || seen >= total - keepLast ? ch : "*";
    seen++;
  }
  return out;
}

/** `full`: nothing of the value survives, not even its length. */
export function maskFull(detectorId: string): string {
  return `[${detectorId}]`;
}

/**
 * `hash`: an HMAC-SHA-256 of the value's letters and digits (upper-cased, so
 * `4111 1111 …` and `4111-1111-…` correlate), truncated, tagged with the detector.
 */
export function maskHash(detectorId: string, value: string, key: Uint8Array): string {
  let canonical = "";
  for (let i = 0; i < value.length; i++) {
    if (isAlnumCode(value.charCodeAt(i))) canonical += value[i];
  }
  const mac = createHmac("sha256", key).update(canonical.toUpperCase()).digest("hex");
  return `[${detectorId}:${mac.slice(0, HASH_HEX_CHARS)}]`;
}

/**
 * Applies a style. Without a key, `hash` falls back to `full`: an unkeyed hash
 * of a card or SSN is brute-forced in seconds, so it must never be emitted
 * (profile validation is where a missing key should be reported).
 */
export function applyMaskStyle(
  detectorId: string,
  value: string,
  style: MaskStyle,
  hashKey: Uint8Array | undefined,
  partial: (value: string) => string,
): string {
  switch (style) {
    case "partial":
      return partial(value);
    case "full":
      return maskFull(detectorId);
    case "hash":
      return hashKey && hashKey.length > 0
        ? maskHash(detectorId, value, hashKey)
        : maskFull(detectorId);
  }
}
