/**
 * US Social Security numbers and ITINs: `AAA-GG-SSSS` with dashes or single
 * spaces, or nine plain digits next to a context word. SSA rules: area not
 * 000, 666 or 9xx, group not 00, serial not 0000, and the values published in
 * advertising or as examples are refused. ITINs are 9xx with a group in
 * 50–65, 70–88, 90–92 or 94–99.
 */
import type { Detector, Finding, MaskStyle, ScanContext } from "../detector.ts";
import { applyMaskStyle, maskKeeping } from "../mask-style.ts";
import { forEachSpan, gluedAt, hasInlineContext, hasOutsideContext, spanChars } from "./scan.ts";

const SSN_WORDS = ["ssn", "social security", "social sec", "ss#", "ss no"] as const;
const ITIN_WORDS = ["itin", "taxpayer", "tax id", "tin"] as const;

/** Never issued: the Woolworth wallet card, SSA advertising, LifeLock's ad, the textbook example. */
const REFUSED = new Set(["078051120", "219099999", "457555462", "123456789"]);

const isDigit = (c: number) => c >= 48 && c <= 57;
const DIGITS_AND_SEPARATORS = spanChars((c) => isDigit(c) || c === 45 || c === 32);

export function isSsn(digits: string): boolean {
  const area = Number(digits.slice(0, 3));
  const group = Number(digits.slice(3, 5));
  const serial = Number(digits.slice(5));
  if (area === 0 || area === 666 || area >= 900 || group === 0 || serial === 0) return false;
  if (REFUSED.has(digits)) return false;
  return !/^(\d)\1{8}$/.test(digits);
}

export function isItin(digits: string): boolean {
  const area = Number(digits.slice(0, 3));
  const group = Number(digits.slice(3, 5));
  const serial = Number(digits.slice(5));
  if (area < 900 || serial === 0) return false;
  return (
    (group >= 50 && group <= 65) ||
    (group >= 70 && group <= 88) ||
    (group >= 90 && group <= 92) ||
    group >= 94
  );
}

function digitRunEnd(text: string, i: number): number {
  while (i < text.length && isDigit(text.charCodeAt(i))) i++;
  return i;
}

/** The end of `AAA?GG?SSSS` starting at `start` (one separator kind), or -1. */
function groupedEnd(text: string, start: number): number {
  const sep = text.charCodeAt(start + 3);
  if (sep !== 45 && sep !== 32) return -1;
  if (digitRunEnd(text, start + 4) !== start + 6 || text.charCodeAt(start + 6) !== sep) return -1;
  return digitRunEnd(text, start + 7) === start + 11 ? start + 11 : -1;
}

function scanNine(
  text: string,
  context: ScanContext | undefined,
  id: string,
  words: readonly string[],
  valid: (digits: string) => boolean,
): Finding[] {
  const findings: Finding[] = [];
  const outside = hasOutsideContext(words, context);
  forEachSpan(text, 9, DIGITS_AND_SEPARATORS, (s, e) => {
    scanSpan(text, s, e, outside, id, words, valid, findings);
  });
  return findings;
}

function scanSpan(
  text: string,
  s: number,
  e: number,
  outside: boolean,
  id: string,
  words: readonly string[],
  valid: (digits: string) => boolean,
  findings: Finding[],
): void {
  let i = s;
  while (i < e) {
    if (!isDigit(text.charCodeAt(i))) {
      i++;
      continue;
    }
    const runEnd = digitRunEnd(text, i);
    const len = runEnd - i;
    let end = -1;
    let digits = "";
    if (len === 3 && !gluedAt(text, i - 1, -1)) {
      end = groupedEnd(text, i);
      if (end !== -1)
        digits = text.slice(i, i + 3) + text.slice(i + 4, i + 6) + text.slice(i + 7, end);
    } else if (
      len === 9 &&
      !gluedAt(text, i - 1, -1) &&
      (outside || hasInlineContext(words, text, i))
    ) {
      end = runEnd;
      digits = text.slice(i, end);
    }
    if (end !== -1 && !gluedAt(text, end, 1) && valid(digits)) {
      findings.push({ start: i, end, detector: id });
      i = end;
      continue;
    }
    i = runEnd;
  }
}

const partialLast4 = (v: string) => maskKeeping(v, 0, 4);

export const ssnDetector: Detector = {
  id: "ssn",
  scan(text: string, context?: ScanContext): Finding[] {
    return scanNine(text, context, "ssn", SSN_WORDS, isSsn);
  },
  mask(value: string, style: MaskStyle, hashKey?: Uint8Array): string {
    return applyMaskStyle("ssn", value, style, hashKey, partialLast4);
  },
};

export const itinDetector: Detector = {
  id: "itin",
  scan(text: string, context?: ScanContext): Finding[] {
    return scanNine(text, context, "itin", ITIN_WORDS, isItin);
  },
  mask(value: string, style: MaskStyle, hashKey?: Uint8Array): string {
    return applyMaskStyle("itin", value, style, hashKey, partialLast4);
  },
};
