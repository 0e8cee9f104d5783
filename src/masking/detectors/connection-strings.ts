import type { Detector, Finding, MaskStyle } from "../detector.ts";
import { applyMaskStyle } from "../mask-style.ts";

/**
 * Passwords in connection strings: the password part of URL userinfo
 * (`postgres://app:PASSWORD@db:5432/app`) and `password=` / `pwd=` /
 * `passwd:` assignments in text, DSNs (`Server=x;Password=…;`) and query
 * strings. The finding covers only the password, so host and user stay
 * readable. References that are not values (`${DB_PASSWORD}`, `{{ .pass }}`,
 * `$(PASS)`) and values already masked are left alone.
 */

const ASSIGNMENT = /(?:password|passwd|pwd)["']?[ \t]*[:=][ \t]*/gi;

function isSchemeChar(code: number): boolean {
  return (
    (code >= 97 && code <= 122) ||
    (code >= 65 && code <= 90) ||
    (code >= 48 && code <= 57) ||
    code === 43 ||
    code === 45 ||
    code === 46
  );
}

function isWhitespace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 13;
}

function isReference(value: string): boolean {
  return (
    value.startsWith("${") ||
    value.startsWith("$(") ||
    value.startsWith("{{") ||
    value.startsWith("%(") ||
    /^\*+$/.test(value)
  );
}

/** `scheme://user:password@host`: the password, between the first `:` of userinfo and the last `@`. */
function scanUrlPasswords(text: string, findings: Finding[]): void {
  let at = text.indexOf("://");
  while (at !== -1) {
    const next = text.indexOf("://", at + 3);
    if (at > 0 && isSchemeChar(text.charCodeAt(at - 1))) {
      const from = at + 3;
      let colon = -1;
      let lastAt = -1;
      let i = from;
      const limit = next === -1 ? text.length : next;
      for (; i < limit; i++) {
        const code = text.charCodeAt(i);
        if (code === 47 || code === 63 || code === 35 || isWhitespace(code)) break;
        if (code === 58 && colon === -1) colon = i;
        if (code === 64) lastAt = i;
      }
      const hostFollows = lastAt !== -1 && lastAt + 1 < i;
      if (colon !== -1 && hostFollows && colon + 1 < lastAt) {
        const password = text.slice(colon + 1, lastAt);
        if (!isReference(password)) {
          findings.push({ start: colon + 1, end: lastAt, detector: "connection-string-password" });
        }
      }
    }
    at = next;
  }
}

/** End of an assignment value: a closing quote, or a separator for unquoted values. */
function valueBounds(text: string, from: number): [number, number] {
  const quote = text.charCodeAt(from);
  if (quote === 34 || quote === 39) {
    let i = from + 1;
    while (i < text.length && text.charCodeAt(i) !== quote) {
      if (text.charCodeAt(i) === 92) i++;
      i++;
    }
    return [from + 1, Math.min(i, text.length)];
  }
  let i = from;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    // whitespace ; & , ) } ] end an unquoted value
    if (isWhitespace(code) || code === 59 || code === 38 || code === 44) break;
    if (code === 41 || code === 125 || code === 93) break;
    i++;
  }
  return [from, i];
}

function scanAssignments(text: string, findings: Finding[]): void {
  for (const match of text.matchAll(ASSIGNMENT)) {
    const keywordAt = match.index ?? 0;
    const [start, end] = valueBounds(text, keywordAt + match[0].length);
    if (end <= start || isReference(text.slice(start, end))) continue;
    // A URL password already found by the userinfo scan is not reported twice.
    if (findings.some((f) => f.start < end && start < f.end)) continue;
    findings.push({ start, end, detector: "connection-string-password" });
  }
}

function scanConnectionStrings(text: string): Finding[] {
  const hasUrl = text.indexOf("://") !== -1;
  const hasKeyword = /p(?:ass|wd)/i.test(text);
  if (!hasUrl && !hasKeyword) return [];
  const findings: Finding[] = [];
  if (hasUrl) scanUrlPasswords(text, findings);
  if (hasKeyword) scanAssignments(text, findings);
  return findings.length > 1 ? findings.sort((a, b) => a.start - b.start) : findings;
}

/** A password has no useful partial form: `partial` hides it and its length too. */
function maskPassword(value: string, style: MaskStyle, hashKey?: Uint8Array): string {
  return applyMaskStyle("connection-string-password", value, style, hashKey, () => "********");
}

export const connectionStringPasswordDetector: Detector = {
  id: "connection-string-password",
  scan: scanConnectionStrings,
  mask: maskPassword,
};
