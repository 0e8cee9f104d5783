import type { Detector, Finding, MaskStyle } from "../detector.ts";
import { applyMaskStyle } from "../mask-style.ts";

/**
 * JSON Web Tokens (JWS compact form): three base64url segments whose first
 * decodes to a JSON object with an `alg`. Base64 ConfigMap data that happens
 * to start with `eyJ` but is not a JOSE header is left alone.
 */

function isBase64Url(code: number): boolean {
  return (
    (code >= 65 && code <= 90) ||
    (code >= 97 && code <= 122) ||
    (code >= 48 && code <= 57) ||
    code === 45 ||
    code === 95
  );
}

function segmentEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length && isBase64Url(text.charCodeAt(i))) i++;
  return i;
}

function isJoseHeader(segment: string): boolean {
  try {
    const header: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return (
      typeof header === "object" &&
      header !== null &&
      typeof (header as { alg?: unknown }).alg === "string"
    );
  } catch {
    return false;
  }
}

/** Returns the end of a JWT starting at `start`, or -1. */
function jwtEnd(text: string, start: number): number {
  const headerEnd = segmentEnd(text, start);
  if (text.charCodeAt(headerEnd) !== 46) return -1;
  const payloadEnd = segmentEnd(text, headerEnd + 1);
  if (payloadEnd === headerEnd + 1 || text.charCodeAt(payloadEnd) !== 46) return -1;
  // The signature may be empty (alg none); a fourth dot means JWE or something else.
  const signatureEnd = segmentEnd(text, payloadEnd + 1);
  if (text.charCodeAt(signatureEnd) === 46) return -1;
  if (!isJoseHeader(text.slice(start, headerEnd))) return -1;
  return signatureEnd;
}

function scanJwt(text: string): Finding[] {
  const findings: Finding[] = [];
  let at = text.indexOf("eyJ");
  while (at !== -1) {
    const end = at > 0 && isBase64Url(text.charCodeAt(at - 1)) ? -1 : jwtEnd(text, at);
    if (end !== -1) {
      findings.push({ start: at, end, detector: "jwt" });
      at = text.indexOf("eyJ", end);
    } else {
      at = text.indexOf("eyJ", at + 3);
    }
  }
  return findings;
}

/** `partial` keeps the header (it names the algorithm, nothing secret) and stars claims and signature. */
function maskJwt(value: string, style: MaskStyle, hashKey?: Uint8Array): string {
  return applyMaskStyle("jwt", value, style, hashKey, (jwt) => {
    const firstDot = jwt.indexOf(".");
    return jwt.slice(0, firstDot) + jwt.slice(firstDot).replace(/[^.]/g, "*");
  });
}

export const jwtDetector: Detector = { id: "jwt", scan: scanJwt, mask: maskJwt };
