/**
 * C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys, using
 * the key strings of golang.org/x/mod/sumdb/note, so Go tooling, witnesses
 * and auditors can check what the gateway signs with nothing but its
 * verifier key:
 *
 *   verifier key  <name>+<hex key ID>+base64(0x01 || 32-byte public key)
 *   signer key    PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 || 32-byte seed)
 *   key ID        SHA-256(name || 0x0A || 0x01 || public key)[:4], big-endian
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";

export type NoteErrorCode =
  | "malformed_note"
  | "malformed_key"
  | "unverified_note"
  | "invalid_signature"
  | "ambiguous_key";

export class NoteError extends Error {
  readonly code: NoteErrorCode;

  constructor(code: NoteErrorCode, message: string) {
    super(message);
    this.name = "NoteError";
    this.code = code;
  }
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  /** The matching verifier key string, to publish. */
  readonly verifierKey: string;
  sign(message: Uint8Array): Buffer;
}

export interface NoteSignature {
  name: string;
  keyId: number;
  base64: string;
}

export interface OpenedNote {
  /** The signed text, ending in a newline. */
  text: string;
  /** Signatures that verified, one per key. */
  sigs: NoteSignature[];
  /** Signatures by keys not among the verifiers (ignored, as the spec requires). */
  unverifiedSigs: NoteSignature[];
}

const algEd25519 = 0x01;
const maxSignatures = 100; // c2sp: verifiers must accept at least 16
const signaturePrefix = "\u2014 "; // em dash, space
// RFC 8410 PKCS #8 wrapping of a raw Ed25519 seed: node derives the public key from it.
const pkcs8Ed25519Prefix = Buffer.from("302e020100300506032b657004220420", "hex");

function malformedKey(message: string): NoteError {
  return new NoteError("malformed_key", message);
}

function malformedNote(message: string): NoteError {
  return new NoteError("malformed_note", `malformed note: ${message}`);
}

/** Go's strings.Cut without the found flag: before and after the first `separator`. */
function chop(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + separator.length)];
}

/** Strict standard base64: canonical padding and bits, so one signature has one spelling. */
export function decodeBase64(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? bytes : undefined;
}

/** Key names: non-empty, no Unicode space (Go's unicode.IsSpace), no plus. */
export function isValidKeyName(name: string): boolean {
  return name !== "" && name.isWellFormed() && !/[\p{White_Space}+]/u.test(name);
}

/** The 32-bit key ID over `typedKey` = signature type byte || public key. */
function keyIdOf(name: string, typedKey: Uint8Array): number {
  return createHash("sha256").update(name).update("\n").update(typedKey).digest().readUInt32BE(0);
}

function hex8(keyId: number): string {
  return keyId.toString(16).padStart(8, "0");
}

/** The key ID of an Ed25519 public key under `name`. */
export function ed25519KeyId(name: string, publicKey: Uint8Array): number {
  return keyIdOf(name, Buffer.concat([Buffer.of(algEd25519), publicKey]));
}

/** The verifier key string for an Ed25519 public key (Go's NewEd25519VerifierKey). */
export function ed25519VerifierKey(name: string, publicKey: Uint8Array): string {
  if (!isValidKeyName(name)) throw malformedKey(`invalid key name ${JSON.stringify(name)}`);
  if (publicKey.length !== 32) throw malformedKey("an Ed25519 public key is 32 bytes");
  const typed = Buffer.concat([Buffer.of(algEd25519), publicKey]);
  return `${name}+${hex8(keyIdOf(name, typed))}+${typed.toString("base64")}`;
}

/** Splits `<name>+<hex8>+<base64 typed key>`; callers check the ID against name and key. */
function parseKeyParts(
  kind: string,
  encoded: string,
): { name: string; keyId: number; key: Buffer } {
  const [name, rest] = chop(encoded, "+");
  const [id, key64] = chop(rest, "+");
  const key = decodeBase64(key64);
  if (
    !isValidKeyName(name) ||
    !/^[0-9a-fA-F]{8}$/.test(id) ||
    key === undefined ||
    key.length === 0
  ) {
    throw malformedKey(`malformed ${kind} key`);
  }
  if (key[0] !== algEd25519) throw malformedKey(`unknown ${kind} key algorithm ${key[0]}`);
  if (key.length !== 33) throw malformedKey(`malformed ${kind} key: an Ed25519 key is 32 bytes`);
  return { name, keyId: Number.parseInt(id, 16), key: key.subarray(1) };
}

function rawPublicKey(publicKey: KeyObject): Buffer {
  return Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url");
}

/** Parses a verifier key string into a verifier. */
export function parseVerifierKey(verifierKey: string): NoteVerifier {
  const { name, keyId, key } = parseKeyParts("verifier", verifierKey);
  if (keyId !== ed25519KeyId(name, key))
    throw malformedKey("verifier key ID does not match its name and key");
  let publicKey: KeyObject;
  try {
    const jwk = { kty: "OKP", crv: "Ed25519", x: key.toString("base64url") };
    publicKey = createPublicKey({ key: jwk, format: "jwk" });
  } catch {
    throw malformedKey("verifier key is not an Ed25519 public key");
  }
  return {
    name,
    keyId,
    verify: function verifyEd25519(message, signature) {
      if (signature.length !== 64) return false;
      try {
        return verify(null, message, publicKey, signature);
      } catch {
        return false;
      }
    },
  };
}

/** Parses a signer key string; the key ID must match the public key the seed derives. */
export function parseSignerKey(signerKey: string): NoteSigner {
  const [private1, afterPrivate] = chop(signerKey, "+");
  const [private2, rest] = chop(afterPrivate, "+");
  if (private1 !== "PRIVATE" || private2 !== "KEY") throw malformedKey("malformed signer key");
  const { name, keyId, key } = parseKeyParts("signer", rest);
  const privateKey = createPrivateKey({
    key: Buffer.concat([pkcs8Ed25519Prefix, key]),
    format: "der",
    type: "pkcs8",
  });
  const publicKey = rawPublicKey(createPublicKey(privateKey));
  if (keyId !== ed25519KeyId(name, publicKey))
    throw malformedKey("signer key ID does not match its name and key");
  return {
    name,
    keyId,
    verifierKey: ed25519VerifierKey(name, publicKey),
    sign: function signEd25519(message) {
      return sign(null, message, privateKey);
    },
  };
}

/** A fresh Ed25519 key under `name`: the secret signer key string and the public verifier key. */
export function generateSigner(name: string): { signerKey: string; verifierKey: string } {
  if (!isValidKeyName(name)) throw malformedKey(`invalid key name ${JSON.stringify(name)}`);
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const seed = Buffer.from(privateKey.export({ format: "jwk" }).d as string, "base64url");
  const rawPublic = rawPublicKey(publicKey);
  const typedSeed = Buffer.concat([Buffer.of(algEd25519), seed]).toString("base64");
  return {
    signerKey: `PRIVATE+KEY+${name}+${hex8(ed25519KeyId(name, rawPublic))}+${typedSeed}`,
    verifierKey: ed25519VerifierKey(name, rawPublic),
  };
}

/** Notes are UTF-8 with no control characters but newline. */
function checkCharacters(text: string): void {
  if (!text.isWellFormed()) throw malformedNote("not valid UTF-8");
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 && code !== 0x0a)
      throw malformedNote(`control character U+${code.toString(16).padStart(4, "0")}`);
  }
}

/** Signs `text` (which must end in a newline) and returns the note: text, blank line, signature lines. */
export function signNote(text: string, ...signers: NoteSigner[]): string {
  checkCharacters(text);
  if (!text.endsWith("\n")) throw malformedNote("text must end with a newline");
  if (signers.length === 0) throw new NoteError("malformed_key", "signNote needs a signer");
  const message = Buffer.from(text, "utf8");
  const lines = signers.map(function signatureLine(signer) {
    if (!isValidKeyName(signer.name))
      throw malformedKey(`invalid key name ${JSON.stringify(signer.name)}`);
    const keyId = Buffer.alloc(4);
    keyId.writeUInt32BE(signer.keyId);
    const signature = Buffer.concat([keyId, signer.sign(message)]).toString("base64");
    return `${signaturePrefix}${signer.name} ${signature}\n`;
  });
  return `${text}\n${lines.join("")}`;
}

/** Splits a note at its last blank line into text and signature lines. */
function splitNote(note: string | Uint8Array): { text: string; lines: string[] } {
  let decoded: string;
  try {
    decoded =
      typeof note === "string"
        ? note
        : new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(note);
  } catch {
    throw malformedNote("not valid UTF-8");
  }
  checkCharacters(decoded);
  const split = decoded.lastIndexOf("\n\n");
  if (split < 0) throw malformedNote("no blank line before the signatures");
  const block = decoded.slice(split + 2);
  if (block === "") throw malformedNote("no signature lines");
  if (!block.endsWith("\n")) throw malformedNote("signature lines must end with a newline");
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > maxSignatures) throw malformedNote(`more than ${maxSignatures} signatures`);
  return { text: decoded.slice(0, split + 1), lines };
}

/**
 * Opens a note: every signature by a known key must verify, and at least one
 * must exist; signatures by unknown keys (name or ID differ) are ignored.
 */
export function openNote(
  note: string | Uint8Array,
  verifiers: readonly NoteVerifier[],
): OpenedNote {
  const { text, lines } = splitNote(note);
  const message = Buffer.from(text, "utf8");
  const opened: OpenedNote = { text, sigs: [], unverifiedSigs: [] };
  const verified = new Set<string>();
  const unverified = new Set<string>();
  for (const line of lines) {
    if (!line.startsWith(signaturePrefix))
      throw malformedNote("a signature line must start with an em dash and a space");
    const [name, base64] = chop(line.slice(signaturePrefix.length), " ");
    if (!isValidKeyName(name)) throw malformedNote(`invalid key name ${JSON.stringify(name)}`);
    const signature = decodeBase64(base64);
    if (signature === undefined || base64 === "")
      throw malformedNote(`signature by ${name} is not base64`);
    if (signature.length < 5) throw malformedNote(`signature by ${name} is too short`);
    const keyId = signature.readUInt32BE(0);
    const key = `${name}+${hex8(keyId)}`;
    const matches = verifiers.filter((v) => v.name === name && v.keyId === keyId);
    if (matches.length > 1) throw new NoteError("ambiguous_key", `ambiguous key ${key}`);
    const verifier = matches[0];
    if (verifier === undefined) {
      if (!unverified.has(line)) opened.unverifiedSigs.push({ name, keyId, base64 });
      unverified.add(line);
      continue;
    }
    // Stricter than Go, which skips a key's repeated signatures: every one must verify.
    if (!verifier.verify(message, signature.subarray(4))) {
      throw new NoteError("invalid_signature", `invalid signature for key ${key}`);
    }
    if (!verified.has(key)) opened.sigs.push({ name, keyId, base64 });
    verified.add(key);
  }
  if (opened.sigs.length === 0)
    throw new NoteError("unverified_note", "note has no verifiable signatures");
  return opened;
}
