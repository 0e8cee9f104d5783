import type { Detector, Finding, MaskStyle } from "../detector.ts";
import { applyMaskStyle } from "../mask-style.ts";

/**
 * PEM private keys (PKCS#1 RSA, SEC1 EC, DSA, OpenSSH, PKCS#8 and encrypted
 * PKCS#8). The finding covers the body between the BEGIN and END lines, so
 * the masked text still reads as "a private key was here". Certificates,
 * public keys and CSRs are public and left alone.
 */

const BEGIN = "-----BEGIN ";
const LABELS = [
  "PRIVATE KEY",
  "RSA PRIVATE KEY",
  "EC PRIVATE KEY",
  "DSA PRIVATE KEY",
  "OPENSSH PRIVATE KEY",
  "ENCRYPTED PRIVATE KEY",
];

function privateKeyLabelAt(text: string, at: number): string | undefined {
  for (const label of LABELS) {
    if (text.startsWith(`${label}-----`, at)) return label;
  }
  return undefined;
}

function scanPem(text: string): Finding[] {
  const findings: Finding[] = [];
  let from = text.indexOf(BEGIN);
  while (from !== -1) {
    const labelAt = from + BEGIN.length;
    const label = privateKeyLabelAt(text, labelAt);
    if (label === undefined) {
      from = text.indexOf(BEGIN, labelAt);
      continue;
    }
    const start = labelAt + label.length + 5;
    const footer = `-----END ${label}-----`;
    const footerAt = text.indexOf(footer, start);
    // A key cut off mid-body (truncated log line) is masked to the end.
    const end = footerAt === -1 ? text.length : footerAt;
    if (end > start) findings.push({ start, end, detector: "pem-private-key" });
    if (footerAt === -1) break;
    from = text.indexOf(BEGIN, footerAt + footer.length);
  }
  return findings;
}

/** `partial` stars every character but line breaks (real or JSON-escaped), keeping the block's shape. */
function maskPemBody(body: string, style: MaskStyle, hashKey?: Uint8Array): string {
  return applyMaskStyle("pem-private-key", body, style, hashKey, (value) =>
    value.replace(/\\n|\\r|[^\r\n]/g, (c) => (c.length === 2 ? c : "*")),
  );
}

export const pemPrivateKeyDetector: Detector = {
  id: "pem-private-key",
  scan: scanPem,
  mask: maskPemBody,
};
