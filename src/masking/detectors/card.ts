/**
 * Payment card numbers (PAN): 13–19 digits that pass an issuer prefix/length
 * rule and Luhn, printed plain or in the usual groups (4-4-4-4, 4-6-5, …)
 * separated by single spaces or dashes. A number tied into a longer token
 * (`pod-4111…`, `x4111…`, `1.4111…`) is left alone.
 */
import type { Detector, Finding, MaskStyle, ScanContext } from "../detector.ts";
import { applyMaskStyle, maskKeeping } from "../mask-style.ts";
import { forEachSpan, gluedAt, spanChars } from "./scan.ts";

const MIN_DIGITS = 13;
const MAX_DIGITS = 19;
/** The longest printed form: 19 digits and 4 separators. */
const MAX_SPAN = MAX_DIGITS + 4;

/** `+4915112345678` is a phone number in E.164, whatever Luhn says. */
const PLUS = 43;

const isDigit = (c: number) => c >= 48 && c <= 57;
const isSep = (c: number) => c === 32 || c === 45;

function prefix(digits: string, n: number): number {
  return Number(digits.slice(0, n));
}

/** Issuer prefix and length rules (ISO/IEC 7812 ranges in use). */
export function issuerMatches(digits: string): boolean {
  const n = digits.length;
  const p2 = prefix(digits, 2);
  const p3 = prefix(digits, 3);
  const p4 = prefix(digits, 4);
  if (digits[0] === "4") return n === 13 || n === 16 || n === 19; // Visa
  if (n === 16 && ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))) return true; // Mastercard
  if (n === 15 && (p2 === 34 || p2 === 37)) return true; // Amex
  if (n >= 16 && (p4 === 6011 || (p3 >= 644 && p3 <= 649) || p2 === 65)) return true; // Discover
  if (n >= 16 && p4 >= 3528 && p4 <= 3589) return true; // JCB
  if (n >= 14 && (p2 === 36 || (p3 >= 300 && p3 <= 305))) return true; // Diners
  return n >= 16 && p2 === 62; // UnionPay
}

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** A digit string that is a card number by issuer rule and Luhn. */
export function isCardNumber(digits: string): boolean {
  return (
    digits.length >= MIN_DIGITS &&
    digits.length <= MAX_DIGITS &&
    issuerMatches(digits) &&
    luhnValid(digits)
  );
}

/** The printed groupings cards use: 4-4-4-4(-3), 4-6-5, 4-6-4, 4-3-3-3, shorter last group. */
function groupingAllowed(groups: number[]): boolean {
  if (groups.length === 1) return true;
  const key = groups.join("-");
  if (key === "4-6-5" || key === "4-6-4" || key === "4-3-3-3") return true;
  for (let i = 0; i < groups.length - 1; i++) if (groups[i] !== 4) return false;
  const last = groups[groups.length - 1] as number;
  return last >= 1 && last <= 4;
}

/**
 * Reads one run starting at digit `start`: digit groups joined by one
 * separator of a single kind. Returns the run end (exclusive), its digits and
 * group lengths, or undefined when the run mixes separators.
 */
function readRun(text: string, start: number) {
  const groups: number[] = [];
  let digits = "";
  let sep = -1;
  let i = start;
  let group = 0;
  let mixed = false;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (isDigit(c)) {
      digits += text[i];
      group++;
      i++;
      continue;
    }
    if (isSep(c) && group > 0 && i + 1 < text.length && isDigit(text.charCodeAt(i + 1))) {
      if (sep !== -1 && sep !== c) mixed = true;
      sep = c;
      groups.push(group);
      group = 0;
      i++;
      continue;
    }
    break;
  }
  groups.push(group);
  return { end: i, digits, groups, mixed };
}

const DIGITS_AND_SEPARATORS = spanChars((c) => isDigit(c) || isSep(c));

function scanCards(text: string): Finding[] {
  const findings: Finding[] = [];
  forEachSpan(text, MIN_DIGITS, DIGITS_AND_SEPARATORS, (s, e) => scanSpan(text, s, e, findings));
  return findings;
}

/** Examines every run inside a span of digits and separators. */
function scanSpan(text: string, s: number, e: number, findings: Finding[]): void {
  let i = s;
  while (i < e) {
    if (!isDigit(text.charCodeAt(i))) {
      i++;
      continue;
    }
    const run = readRun(text, i);
    const len = run.digits.length;
    if (
      !run.mixed &&
      len >= MIN_DIGITS &&
      len <= MAX_DIGITS &&
      run.end - i <= MAX_SPAN &&
      !gluedAt(text, i - 1, -1) &&
      !gluedAt(text, run.end, 1) &&
      text.charCodeAt(i - 1) !== PLUS &&
      groupingAllowed(run.groups) &&
      isCardNumber(run.digits)
    ) {
      findings.push({ start: i, end: run.end, detector: "card" });
    }
    i = run.end;
  }
}

export const cardDetector: Detector = {
  id: "card",
  scan(text: string, _context?: ScanContext): Finding[] {
    return scanCards(text);
  },
  mask(value: string, style: MaskStyle, hashKey?: Uint8Array): string {
    return applyMaskStyle("card", value, style, hashKey, (v) => maskKeeping(v, 0, 4));
  },
};
