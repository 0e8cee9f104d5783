import type { Detector, Finding, MaskStyle, ScanContext } from "../detector.ts";
import { applyMaskStyle } from "../mask-style.ts";

/**
 * Dates of birth: a valid calendar date, only with a context word (dob,
 * birth, born, birthday) in the key, in the text before the value, or within
 * a few characters before the date in the text. Timestamps such as
 * `creationTimestamp` are never found: they have no such context.
 *
 * Forms: `1985-03-12`, `1985/03/12`, `12/03/1985`, `03-12-85`, `12.03.1985`,
 * `12 March 1985`, `March 12, 1985`.
 */

const MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec";
const MONTH_NAME = `(?:${MONTHS})[a-z]*\\.?`;
const DATE = new RegExp(
  [
    "(?<y1>\\d{4})[-/.](?<m1>\\d{1,2})[-/.](?<d1>\\d{1,2})",
    "(?<a2>\\d{1,2})[-/.](?<b2>\\d{1,2})[-/.](?<y2>\\d{4}|\\d{2})",
    `(?<d3>\\d{1,2})(?:st|nd|rd|th)?\\s+(?<m3>${MONTH_NAME})\\s+(?<y3>\\d{4})`,
    `(?<m4>${MONTH_NAME})\\s+(?<d4>\\d{1,2})(?:st|nd|rd|th)?,?\\s+(?<y4>\\d{4})`,
  ]
    .map((form) => `(?<![\\w.:/-])${form}(?![\\w:]|[-/.]\\d)`)
    .join("|"),
  "gi",
);
const CONTEXT_WORD = /\b(?:dob|d\.o\.b|birth\w*|born)\b|date.of.birth/i;
const CONTEXT_REACH = 24;

function monthNumber(name: string): number {
  return MONTHS.split("|").indexOf(name.slice(0, 3).toLowerCase()) + 1;
}

function isDate(day: number, month: number, year: number): boolean {
  const fullYear = year < 100 ? year + 1900 : year;
  const thisYear = new Date().getUTCFullYear();
  if (month < 1 || month > 12 || day < 1 || fullYear < 1900 || fullYear > thisYear) return false;
  return day <= new Date(Date.UTC(fullYear, month, 0)).getUTCDate();
}

function isValidMatch(groups: Record<string, string | undefined>): boolean {
  const n = (name: string) => Number(groups[name] ?? "NaN");
  if (groups.y1 !== undefined) return isDate(n("d1"), n("m1"), n("y1"));
  // 03/04/1985 is valid read either way; one reading is enough.
  if (groups.y2 !== undefined) {
    return isDate(n("a2"), n("b2"), n("y2")) || isDate(n("b2"), n("a2"), n("y2"));
  }
  if (groups.y3 !== undefined) return isDate(n("d3"), monthNumber(groups.m3 ?? ""), n("y3"));
  return isDate(n("d4"), monthNumber(groups.m4 ?? ""), n("y4"));
}

function isContextKey(key: string): boolean {
  return /dob|birth|born/i.test(key);
}

function scanDob(text: string, context?: ScanContext): Finding[] {
  const anywhere =
    (context?.key !== undefined && isContextKey(context.key)) ||
    (context?.before !== undefined && CONTEXT_WORD.test(context.before));
  if (!anywhere && !CONTEXT_WORD.test(text)) return [];
  const findings: Finding[] = [];
  for (const match of text.matchAll(DATE)) {
    const start = match.index ?? 0;
    if (!isValidMatch(match.groups ?? {})) continue;
    if (!anywhere && !CONTEXT_WORD.test(text.slice(Math.max(0, start - CONTEXT_REACH), start))) {
      continue;
    }
    findings.push({ start, end: start + match[0].length, detector: "dob" });
  }
  return findings;
}

/** `partial` keeps the four-digit year only: `1985-**-**`, `** ***** 1985`. */
function maskDob(value: string, style: MaskStyle, hashKey?: Uint8Array): string {
  return applyMaskStyle("dob", value, style, hashKey, (date) => {
    const year = /\d{4}/.exec(date);
    const masked = date.replace(/[A-Za-z0-9]/g, "*");
    if (year === null) return masked;
    return masked.slice(0, year.index) + year[0] + masked.slice(year.index + 4);
  });
}

export const dobDetector: Detector = { id: "dob", scan: scanDob, mask: maskDob };
