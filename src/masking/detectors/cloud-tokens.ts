import type { Detector, Finding, MaskStyle, ScanContext } from "../detector.ts";
import { applyMaskStyle } from "../mask-style.ts";

/**
 * Cloud and forge credentials with a recognisable shape: AWS access key ids
 * and secret keys, GCP service-account key files, GitHub, GitLab and Slack
 * tokens. Each scan starts from `indexOf` of a fixed prefix, so text without
 * one costs a handful of substring searches.
 */

function isAlnum(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}
function isUpperAlnum(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90);
}
function isTokenChar(code: number): boolean {
  return isAlnum(code) || code === 95 || code === 45;
}

interface TokenShape {
  /** What `indexOf` looks for: `gh` covers the five classic GitHub prefixes in one pass. */
  anchors: readonly string[];
  prefixes: readonly string[];
  body: (code: number) => boolean;
  minBody: number;
  maxBody: number;
}

function scanFromAnchor(
  text: string,
  anchor: string,
  shape: TokenShape,
  detector: string,
  findings: Finding[],
): void {
  let at = text.indexOf(anchor);
  while (at !== -1) {
    const prefix = shape.prefixes.find((p) => text.startsWith(p, at));
    let end = at + anchor.length;
    if (prefix !== undefined) {
      end = at + prefix.length;
      while (end < text.length && shape.body(text.charCodeAt(end))) end++;
      const bodyLength = end - at - prefix.length;
      const bounded =
        (at === 0 || !isTokenChar(text.charCodeAt(at - 1))) &&
        (end === text.length || !isTokenChar(text.charCodeAt(end)));
      if (bounded && bodyLength >= shape.minBody && bodyLength <= shape.maxBody) {
        findings.push({ start: at, end, detector });
      }
    }
    at = text.indexOf(anchor, end);
  }
}

/** Finds `prefix + body` runs bounded by non-token characters on both sides. */
function scanPrefixed(text: string, shape: TokenShape, detector: string): Finding[] {
  const findings: Finding[] = [];
  for (const anchor of shape.anchors) scanFromAnchor(text, anchor, shape, detector, findings);
  return findings.length > 1 ? findings.sort((a, b) => a.start - b.start) : findings;
}

/** `partial` keeps the token's public prefix (`ghp_`, `AKIA`), which says what leaked. */
function tokenMasker(id: string, keep: (value: string) => number): Detector["mask"] {
  return function maskToken(value: string, style: MaskStyle, hashKey?: Uint8Array): string {
    return applyMaskStyle(id, value, style, hashKey, (token) => {
      const kept = keep(token);
      return token.slice(0, kept) + "*".repeat(token.length - kept);
    });
  };
}

/** The public prefix a token starts with, kept by `partial` masking. */
function matchedPrefix(shape: TokenShape): (value: string) => number {
  return (value) => shape.prefixes.find((prefix) => value.startsWith(prefix))?.length ?? 0;
}

function prefixedDetector(id: string, shape: TokenShape): Detector {
  return {
    id,
    scan: (text) => scanPrefixed(text, shape, id),
    mask: tokenMasker(id, matchedPrefix(shape)),
  };
}

export const awsAccessKeyIdDetector = prefixedDetector("aws-access-key-id", {
  anchors: ["AKIA", "ASIA"],
  prefixes: ["AKIA", "ASIA"],
  body: isUpperAlnum,
  minBody: 16,
  maxBody: 16,
});

export const githubTokenDetector = prefixedDetector("github-token", {
  anchors: ["gh", "github_pat_"],
  prefixes: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
  body: (c) => isAlnum(c) || c === 95,
  minBody: 36,
  maxBody: 255,
});

export const gitlabTokenDetector = prefixedDetector("gitlab-token", {
  anchors: ["glpat-"],
  prefixes: ["glpat-"],
  body: (c) => isTokenChar(c) || c === 46,
  minBody: 20,
  maxBody: 255,
});

export const slackTokenDetector = prefixedDetector("slack-token", {
  anchors: ["xox", "xapp-"],
  prefixes: ["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xapp-"],
  body: (c) => isAlnum(c) || c === 45,
  minBody: 10,
  maxBody: 255,
});

// AWS secret keys are 40 base64 characters with no prefix: only found under a
// key that names them, or right after `aws_secret_access_key =` in text.
const AWS_SECRET = /^[A-Za-z0-9/+]{40}$/;
const AWS_SECRET_ASSIGNMENT =
  /aws_?secret_?access_?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/gi;
const SECRET_KEY_NAME = /secret/i;

function looksLikeAwsSecret(value: string): boolean {
  return AWS_SECRET.test(value) && /[a-z]/.test(value) && /[A-Z]/.test(value) && /\d/.test(value);
}

function scanAwsSecret(text: string, context?: ScanContext): Finding[] {
  const key = context?.key;
  if (key !== undefined && SECRET_KEY_NAME.test(key) && looksLikeAwsSecret(text)) {
    return [{ start: 0, end: text.length, detector: "aws-secret-key" }];
  }
  if (text.indexOf("ccess") === -1 && text.indexOf("CCESS") === -1) return [];
  const findings: Finding[] = [];
  for (const match of text.matchAll(AWS_SECRET_ASSIGNMENT)) {
    const value = match[1] ?? "";
    if (!looksLikeAwsSecret(value)) continue;
    const start = (match.index ?? 0) + match[0].length - value.length;
    findings.push({ start, end: start + value.length, detector: "aws-secret-key" });
  }
  return findings;
}

export const awsSecretKeyDetector: Detector = {
  id: "aws-secret-key",
  scan: scanAwsSecret,
  mask: tokenMasker("aws-secret-key", () => 0),
};

// GCP service-account key files: the `private_key` and `private_key_id`
// values of a JSON document that says `"type": "service_account"`.
const GCP_FIELD = /"private_key(?:_id)?"\s*:\s*"((?:[^"\\]|\\.)*)"/g;
const HEX40 = /^[0-9a-f]{40}$/;

function scanGcpServiceAccount(text: string, context?: ScanContext): Finding[] {
  if (context?.key === "private_key_id" && HEX40.test(text)) {
    return [{ start: 0, end: text.length, detector: "gcp-service-account-key" }];
  }
  if (text.indexOf('"private_key') === -1 || text.indexOf("service_account") === -1) return [];
  const findings: Finding[] = [];
  for (const match of text.matchAll(GCP_FIELD)) {
    const value = match[1] ?? "";
    if (value.length === 0) continue;
    const start = (match.index ?? 0) + match[0].length - value.length - 1;
    findings.push({ start, end: start + value.length, detector: "gcp-service-account-key" });
  }
  return findings;
}

export const gcpServiceAccountKeyDetector: Detector = {
  id: "gcp-service-account-key",
  scan: scanGcpServiceAccount,
  mask: tokenMasker("gcp-service-account-key", () => 0),
};

export const cloudTokenDetectors: Detector[] = [
  awsAccessKeyIdDetector,
  awsSecretKeyDetector,
  gcpServiceAccountKeyDetector,
  githubTokenDetector,
  gitlabTokenDetector,
  slackTokenDetector,
];
