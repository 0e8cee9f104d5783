import type { Detector, Finding, MaskStyle, ScanContext } from "../detector.ts";
import { applyMaskStyle } from "../mask-style.ts";

/**
 * Secrets without a recognisable shape, found by where they sit: the value
 * of a key that names a secret (`clientSecret`, `API_KEY`, `db_password`),
 * in structure (`context.key`) or in `KEY=value` / `key: value` text.
 *
 * The key decides by its last word, so `secretName`, `tokenTTL`, `token_ttl`,
 * `passwordSecretRef` and `serviceAccountToken: true` are not secrets.
 *
 * - Password keys (`password`, `passwd`, `pwd`, `pass`, `passphrase`): any
 *   real value is masked, whatever its entropy. `changeme` is a weak
 *   password, but still a password.
 * - Other secret keys (`secret`, `token`, `apikey`, `api_key`, `credential`,
 *   `private_key`, …): the value must look random: at least 16 characters,
 *   no whitespace, two or more of lower/upper/digit, and at least 3 bits of
 *   Shannon entropy per character. Names, paths and durations stay readable.
 * - Never masked: empty values, booleans, null, plain numbers, references
 *   (`${VAR}`, `$(VAR)`, `{{ … }}`) and values already masked (`****`).
 *
 * In text only the non-password keys are scanned; `password=` assignments
 * belong to the connection-string detector.
 */

const MIN_LENGTH = 16;
const MIN_BITS_PER_CHAR = 3;

const PASSWORD_WORDS = new Set(["password", "passwd", "pwd", "pass", "passphrase"]);
const SECRET_WORDS = new Set([
  "secret",
  "token",
  "apikey",
  "credential",
  "credentials",
  "private",
  "privatekey",
]);
const KEY_QUALIFIERS = new Set(["api", "private", "secret", "access", "signing", "encryption"]);

type SecretKind = "password" | "secret";

/** `clientSecret` → [client, secret]; `AWS_SECRET_ACCESS_KEY` → [aws, secret, access, key]. */
function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length > 0);
}

export function secretKind(key: string): SecretKind | undefined {
  const words = keyWords(key);
  const last = words.at(-1);
  if (last === undefined) return undefined;
  // `PGPASSWORD`, `MYSQL_ROOTPASSWORD`: glued words still end in the password word.
  if (PASSWORD_WORDS.has(last) || /passw(?:or)?d$/.test(last)) return "password";
  if (SECRET_WORDS.has(last)) return "secret";
  const qualifier = words.at(-2);
  if (last === "key" && qualifier !== undefined && KEY_QUALIFIERS.has(qualifier)) return "secret";
  return undefined;
}

export function shannonBitsPerChar(value: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    counts.set(code, (counts.get(code) ?? 0) + 1);
  }
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

function isNeverSecret(value: string): boolean {
  return (
    value.length === 0 ||
    /^(?:true|false|yes|no|null|none|nil|~)$/i.test(value) ||
    /^-?\d+(?:\.\d+)?$/.test(value) ||
    /^(?:\$\{|\$\(|\{\{|%\()/.test(value) ||
    /^\*+$/.test(value)
  );
}

function looksRandom(value: string): boolean {
  if (value.length < MIN_LENGTH || /\s/.test(value)) return false;
  const classes =
    Number(/[a-z]/.test(value)) + Number(/[A-Z]/.test(value)) + Number(/\d/.test(value));
  return classes >= 2 && shannonBitsPerChar(value) >= MIN_BITS_PER_CHAR;
}

function isSecretValue(kind: SecretKind, value: string): boolean {
  if (isNeverSecret(value)) return false;
  return kind === "password" || looksRandom(value);
}

// A key ending in a secret word, then `=` or `:`; the value follows.
const TEXT_ASSIGNMENT =
  /[A-Za-z0-9_.-]*(?:secret|token|api_?key|credentials?|private_?key|access_?key|signing_?key)["']?[ \t]*[:=][ \t]*/gi;
const TEXT_PREFILTER = /secret|token|key|credential/i;

function valueBounds(text: string, from: number): [number, number] {
  const quote = text.charCodeAt(from);
  if (quote === 34 || quote === 39) {
    const close = text.indexOf(text[from] ?? "", from + 1);
    return [from + 1, close === -1 ? text.length : close];
  }
  const rest = text.slice(from).search(/[\s,;&)}\]]/);
  return [from, rest === -1 ? text.length : from + rest];
}

function scanText(text: string): Finding[] {
  if (!TEXT_PREFILTER.test(text)) return [];
  const findings: Finding[] = [];
  for (const match of text.matchAll(TEXT_ASSIGNMENT)) {
    const key = match[0].replace(/["']?[ \t]*[:=][ \t]*$/, "");
    if (secretKind(key) !== "secret") continue;
    const [start, end] = valueBounds(text, (match.index ?? 0) + match[0].length);
    if (isSecretValue("secret", text.slice(start, end))) {
      findings.push({ start, end, detector: "secret-value" });
    }
  }
  return findings;
}

// Kubernetes bodies repeat a few hundred key names; splitting each one once is enough.
const kindByKey = new Map<string, SecretKind | null>();
const KIND_CACHE_LIMIT = 4096;

function cachedSecretKind(key: string): SecretKind | undefined {
  let kind = kindByKey.get(key);
  if (kind === undefined) {
    if (kindByKey.size >= KIND_CACHE_LIMIT) kindByKey.clear();
    kind = secretKind(key) ?? null;
    kindByKey.set(key, kind);
  }
  return kind ?? undefined;
}

function scanSecretValue(text: string, context?: ScanContext): Finding[] {
  const kind = context?.key === undefined ? undefined : cachedSecretKind(context.key);
  if (kind !== undefined) {
    return isSecretValue(kind, text)
      ? [{ start: 0, end: text.length, detector: "secret-value" }]
      : [];
  }
  return scanText(text);
}

/** Nothing of a secret is worth keeping: `partial` hides it and its length too. */
function maskSecret(value: string, style: MaskStyle, hashKey?: Uint8Array): string {
  return applyMaskStyle("secret-value", value, style, hashKey, () => "********");
}

export const secretValueDetector: Detector = {
  id: "secret-value",
  scan: scanSecretValue,
  mask: maskSecret,
};
