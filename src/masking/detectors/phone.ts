import type { Detector, Finding, MaskStyle, ScanContext } from "../detector.ts";
import { applyMaskStyle } from "../mask-style.ts";

/**
 * Phone numbers. International numbers in E.164 form (`+` and 8–15 digits,
 * separators allowed: `+44 20 7946 0958`) are found anywhere. National forms
 * (`(415) 555-2671`, `020 7946 0958`) only with a context word — phone, tel,
 * mobile, cell, fax — in the key, in the text before the value, or within a
 * few characters before the number. Digit runs that are dates, times or IPv4
 * addresses are not phone numbers, whatever the context.
 */

const CONTEXT_WORD = /phone|mobile|fax|\btel\b|\bcell\b|tel(?:ephone)?[-_ ]?(?:no|num)/i;
const CONTEXT_REACH = 30;
const NOT_A_PHONE = [
  /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/, // IPv4
  /^\d{4}-\d{2}-\d{2}/, // ISO date
  /^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}$/, // other dates
];

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}
function isWordChar(code: number): boolean {
  return isDigit(code) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;
}
function isSeparator(code: number): boolean {
  return code === 32 || code === 45 || code === 46 || code === 40 || code === 41;
}

interface Candidate {
  start: number;
  end: number;
  digits: number;
}

/** A run of digits joined by at most two separators at a time, starting at `start`. */
function readNumber(text: string, start: number): Candidate {
  let i = text.charCodeAt(start) === 43 ? start + 1 : start;
  let end = start;
  let digits = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (isDigit(code)) {
      digits++;
      i++;
      end = i;
    } else if (isSeparator(code) && i - end < 2) {
      i++;
    } else {
      break;
    }
  }
  return { start, end, digits };
}

/** `phoneNumber`, `MOBILE`, `tel`, `fax_no`; not `telemetry` or `cellular`. */
function isPhoneKey(key: string): boolean {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/);
  return words.some(
    (word) =>
      word.includes("phone") ||
      word === "mobile" ||
      word === "fax" ||
      word === "tel" ||
      word === "cell",
  );
}

// Kubernetes bodies repeat a few hundred key names; splitting each one once is enough.
const contextByKey = new Map<string, boolean>();
const KEY_CACHE_LIMIT = 4096;

function isContextKey(key: string): boolean {
  let context = contextByKey.get(key);
  if (context === undefined) {
    if (contextByKey.size >= KEY_CACHE_LIMIT) contextByKey.clear();
    context = isPhoneKey(key);
    contextByKey.set(key, context);
  }
  return context;
}

function hasContext(text: string, start: number, context?: ScanContext): boolean {
  if (context?.key !== undefined && isContextKey(context.key)) return true;
  if (context?.before !== undefined && CONTEXT_WORD.test(context.before)) return true;
  return CONTEXT_WORD.test(text.slice(Math.max(0, start - CONTEXT_REACH), start));
}

function isPhone(text: string, candidate: Candidate, context?: ScanContext): boolean {
  const value = text.slice(candidate.start, candidate.end);
  if (isWordChar(text.charCodeAt(candidate.end))) return false;
  if (text.charCodeAt(candidate.start) === 43) {
    return (
      candidate.digits >= 8 && candidate.digits <= 15 && text.charCodeAt(candidate.start + 1) !== 48
    );
  }
  if (candidate.digits < 7 || candidate.digits > 15) return false;
  if (NOT_A_PHONE.some((pattern) => pattern.test(value))) return false;
  return hasContext(text, candidate.start, context);
}

function scanPhone(text: string, context?: ScanContext): Finding[] {
  const contextual =
    (context?.key !== undefined && isContextKey(context.key)) ||
    (context?.before !== undefined && CONTEXT_WORD.test(context.before)) ||
    CONTEXT_WORD.test(text);
  if (!contextual && text.indexOf("+") === -1) return [];
  const findings: Finding[] = [];
  let i = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    const startsNumber = code === 43 || (contextual && (isDigit(code) || code === 40));
    if (!startsNumber || (i > 0 && isWordChar(text.charCodeAt(i - 1)))) {
      i++;
      continue;
    }
    const candidate = readNumber(text, i);
    if (candidate.digits > 0 && isPhone(text, candidate, context)) {
      findings.push({ start: candidate.start, end: candidate.end, detector: "phone" });
    }
    i = Math.max(candidate.end, i + 1);
  }
  return findings;
}

/** `partial` keeps the layout and the last two digits: `+** ** **** **58`. */
function maskPhone(value: string, style: MaskStyle, hashKey?: Uint8Array): string {
  return applyMaskStyle("phone", value, style, hashKey, (phone) => {
    let keep = 2;
    let masked = "";
    for (let i = phone.length - 1; i >= 0; i--) {
      const c = phone[i] ?? "";
      masked = (c >= "0" && c <= "9" && keep-- <= 0 ? "*" : c) + masked;
    }
    return masked;
  });
}

export const phoneDetector: Detector = { id: "phone", scan: scanPhone, mask: maskPhone };
