/**
 * US ABA routing transit numbers (9 digits, Federal Reserve prefix, 3-7-1
 * checksum) and bank account numbers (6–17 digits). Neither has a shape of its
 * own, so both are reported only next to context words: in the JSON key, in
 * the text before the value, or just before the digits in the same string.
 */
import type { Detector, Finding, MaskStyle, ScanContext } from "../detector.ts";
import { applyMaskStyle, maskKeeping } from "../mask-style.ts";
import { forEachSpan, gluedAt, isCardNumber, spanChars } from "./card.ts";

/** How far back a context word may stand: in `before`, and just before the digits in the same string. */
const BEFORE_WINDOW = 32;
const INLINE_WINDOW = 20;

const ROUTING_WORDS = ["routing", "aba", "rtn", "bank", "transit"] as const;
const ACCOUNT_WORDS = ["account", "acct", "a/c", "iban", "routing"] as const;
const ACCOUNT_MENTION = /account|acct|a\/c|iban|routing/i;

const isDigit = (c: number) => c >= 48 && c <= 57;
const isLower = (c: number) => c >= 97 && c <= 122;
const isUpperCode = (c: number) => c >= 65 && c <= 90;
const isLetter = (c: number) => isLower(c) || isUpperCode(c);
const DIGITS = spanChars(isDigit);

/**
 * True when `words` occurs in `s` as a word: not inside a longer word
 * (`database` does not contain `aba`), but camelCase and snake_case parts
 * count (`routingNumber`, `BANK_ACCT`), and a plural `s` is allowed.
 */
export function containsWord(s: string, words: readonly string[]): boolean {
  const lower = s.toLowerCase();
  for (const word of words) {
    let at = lower.indexOf(word);
    while (at !== -1) {
      const prev = at > 0 ? s.charCodeAt(at - 1) : 0;
      const startOk =
        !isLetter(prev) ||
        (isLower(prev) && isUpperCode(s.charCodeAt(at))) ||
        !isLetter(s.charCodeAt(at));
      let after = at + word.length;
      if (lower.charCodeAt(after) === 115 && !isLetter(s.charCodeAt(after + 1))) after++; // plural
      const next = after < s.length ? s.charCodeAt(after) : 0;
      const endOk = !isLetter(next) || (isUpperCode(next) && isLower(s.charCodeAt(after - 1)));
      if (startOk && endOk) return true;
      at = lower.indexOf(word, at + 1);
    }
  }
  return false;
}

/** A context word in the key or in `before`: checked once per scanned string. */
export function hasOutsideContext(
  words: readonly string[],
  context: ScanContext | undefined,
): boolean {
  if (context?.key !== undefined && containsWord(context.key, words)) return true;
  return context?.before !== undefined && containsWord(context.before.slice(-BEFORE_WINDOW), words);
}

/** A context word just before `start` in the same string. */
export function hasInlineContext(words: readonly string[], text: string, start: number): boolean {
  return start > 0 && containsWord(text.slice(Math.max(0, start - INLINE_WINDOW), start), words);
}

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
