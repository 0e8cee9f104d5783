import type { Detector, Finding, MaskStyle } from "../detector.ts";
import { applyMaskStyle } from "../mask-style.ts";

/**
 * Email addresses: `local@domain.tld`, where the domain has at least two
 * labels and the last is 2–24 letters. So `user@host` (ssh targets), image
 * references (`app@sha256:…`) and versions (`pkg@1.2.3`) are not addresses.
 * The userinfo of a URL (`https://user:pass@host`) belongs to the
 * connection-string detector and is skipped here.
 */

function isLocalChar(code: number): boolean {
  return (
    (code >= 97 && code <= 122) ||
    (code >= 65 && code <= 90) ||
    (code >= 48 && code <= 57) ||
    code === 46 || // .
    code === 95 || // _
    code === 37 || // %
    code === 43 || // +
    code === 45 // -
  );
}

function isDomainChar(code: number): boolean {
  return (
    (code >= 97 && code <= 122) ||
    (code >= 65 && code <= 90) ||
    (code >= 48 && code <= 57) ||
    code === 46 ||
    code === 45
  );
}

function isValidDomain(domain: string): boolean {
  const labels = domain.split(".");
  if (labels.length < 2) return false;
  for (const label of labels) {
    if (label.length === 0 || label.length > 63 || label.startsWith("-") || label.endsWith("-")) {
      return false;
    }
  }
  return /^[A-Za-z]{2,24}$/.test(labels.at(-1) ?? "");
}

/** True when the address starting at `localStart` is URL userinfo (`scheme://…@`, no space or slash between). */
function isUrlUserinfo(text: string, localStart: number): boolean {
  const before = text.lastIndexOf("://", localStart);
  if (before === -1) return false;
  for (let i = before + 3; i < localStart; i++) {
    const code = text.charCodeAt(i);
    if (code === 32 || code === 9 || code === 10 || code === 47) return false;
  }
  return true;
}

function scanEmail(text: string): Finding[] {
  let at = text.indexOf("@");
  if (at === -1) return [];
  const findings: Finding[] = [];
  while (at !== -1) {
    let start = at;
    while (start > 0 && isLocalChar(text.charCodeAt(start - 1))) start--;
    while (start < at && text.charCodeAt(start) === 46) start++;
    let end = at + 1;
    while (end < text.length && isDomainChar(text.charCodeAt(end))) end++;
    while (end > at + 1 && text.charCodeAt(end - 1) === 46) end--; // sentence-ending dot
    const local = text.slice(start, at);
    const ok =
      local.length > 0 &&
      local.length <= 64 &&
      !local.endsWith(".") &&
      isValidDomain(text.slice(at + 1, end)) &&
      !isUrlUserinfo(text, start);
    if (ok) findings.push({ start, end, detector: "email" });
    at = text.indexOf("@", ok ? end : at + 1);
  }
  return findings;
}

/** `partial` keeps the first character and the domain: `j***@example.com`. */
function maskEmail(value: string, style: MaskStyle, hashKey?: Uint8Array): string {
  return applyMaskStyle("email", value, style, hashKey, (email) => {
    const at = email.lastIndexOf("@");
    return `${email[0]}${"*".repeat(at - 1)}${email.slice(at)}`;
  });
}

export const emailDetector: Detector = { id: "email", scan: scanEmail, mask: maskEmail };
