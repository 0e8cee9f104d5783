/**
 * US ABA routing transit numbers (9 digits, Federal Reserve prefix, 3-7-1
 * checksum) and bank account numbers (6–17 digits). Neither has a shape of its
 * own, so both are reported only next to context words: in the JSON key, in
 * the text before the value, or just before the digits in the same string.
 */
import type { Detector, Finding, MaskStyle, ScanContext } from "../detector.ts";
import { applyMaskStyle, maskKeeping } from "../mask-style.ts";
import { isCardNumber } from "./card.ts";
import { forEachSpan, gluedAt, hasInlineContext, hasOutsideContext, spanChars } from "./scan.ts";

const ROUTING_WORDS = ["routing", "aba", "rtn", "bank", "transit"] as const;
const ACCOUNT_WORDS = ["account", "acct", "a/c", "iban", "routing"] as const;
const ACCOUNT_MENTION = /account|acct|a\/c|iban|routing/i;

const isDigit = (c: number) => c >= 48 && c <= 57;
const DIGITS = spanChars(isDigit);

/** Federal Reserve prefixes: 00–12 (banks), 21–32 (thrifts), 61–72 (electronic), 80 (travellers cheques). */
function routingPrefixValid(digits: string): boolean {
  const p = Number(digits.slice(0, 2));
  return p <= 12 || (p >= 21 && p <= 32) || (p >= 61 && p <= 72) || p === 80;
}

export function isRoutingNumber(digits: string): boolean {
  if (digits.length !== 9 || !routingPrefixValid(digits)) return false;
  const d = (i: number) => digits.charCodeAt(i) - 48;
  const sum = 3 * (d(0) + d(3) + d(6)) + 7 * (d(1) + d(4) + d(7)) + (d(2) + d(5) + d(8));
  return sum % 10 === 0;
}

/**
 * Calls `visit` for each run of `min`–`max` digits standing alone (not glued
 * to letters, other digits, or `-`/`.`/`_` joined tokens).
 */
function forEachDigitRun(
  text: string,
  min: number,
  max: number,
  visit: (start: number, end: number) => void,
): void {
  forEachSpan(text, min, DIGITS, (start, end) => {
    if (end - start <= max && !gluedAt(text, start - 1, -1) && !gluedAt(text, end, 1)) {
      visit(start, end);
    }
  });
}

function scanRouting(text: string, context: ScanContext | undefined): Finding[] {
  const findings: Finding[] = [];
  // The stride-9 digit scan is cheaper here than a regex for the context words.
  const outside = hasOutsideContext(ROUTING_WORDS, context);
  forEachDigitRun(text, 9, 9, (start, end) => {
    if (
      isRoutingNumber(text.slice(start, end)) &&
      (outside || hasInlineContext(ROUTING_WORDS, text, start))
    ) {
      findings.push({ start, end, detector: "aba" });
    }
  });
  return findings;
}

function scanAccounts(text: string, context: ScanContext | undefined): Finding[] {
  const findings: Finding[] = [];
  const outside = hasOutsideContext(ACCOUNT_WORDS, context);
  // Prefilter: without a context word outside, the string itself must name one.
  if (!outside && !ACCOUNT_MENTION.test(text)) return findings;
  const routingOutside = hasOutsideContext(ROUTING_WORDS, context);
  forEachDigitRun(text, 6, 17, (start, end) => {
    if (!outside && !hasInlineContext(ACCOUNT_WORDS, text, start)) return;
    const digits = text.slice(start, end);
    // Card numbers and routing numbers are the card and aba detectors' to report.
    if (isCardNumber(digits)) return;
    if (
      isRoutingNumber(digits) &&
      (routingOutside || hasInlineContext(ROUTING_WORDS, text, start))
    ) {
      return;
    }
    findings.push({ start, end, detector: "bank-account" });
  });
  return findings;
}

export const abaDetector: Detector = {
  id: "aba",
  scan(text: string, context?: ScanContext): Finding[] {
    return scanRouting(text, context);
  },
  mask(value: string, style: MaskStyle, hashKey?: Uint8Array): string {
    return applyMaskStyle("aba", value, style, hashKey, (v) => maskKeeping(v, 0, 4));
  },
};

export const bankAccountDetector: Detector = {
  id: "bank-account",
  scan(text: string, context?: ScanContext): Finding[] {
    return scanAccounts(text, context);
  },
  mask(value: string, style: MaskStyle, hashKey?: Uint8Array): string {
    return applyMaskStyle("bank-account", value, style, hashKey, (v) => maskKeeping(v, 0, 4));
  },
};
