/**
 * C2SP transparency log checkpoints (https://c2sp.org/tlog-checkpoint): the
 * signed tree head the gateway publishes and the auditor checks. The note
 * text is the origin, the decimal tree size and the base64 RFC 6962 root,
 * one per line, then optional (non-empty, opaque) extension lines.
 */
import { HASH_SIZE } from "./merkle.ts";
import {
  decodeBase64,
  type NoteSigner,
  type NoteVerifier,
  openNote,
  parseVerifierKey,
  signNote,
} from "./note.ts";

export interface Checkpoint {
  /** The log's identity; anything non-empty on one line (Go's sumdb uses spaces). */
  origin: string;
  size: number;
  rootHash: Buffer;
  /** Extension lines, if any. */
  extensions?: string[];
}

export type CheckpointErrorCode = "malformed_checkpoint" | "wrong_origin";

export class CheckpointError extends Error {
  readonly code: CheckpointErrorCode;

  constructor(code: CheckpointErrorCode, message: string) {
    super(message);
    this.name = "CheckpointError";
    this.code = code;
  }
}

function malformed(message: string): CheckpointError {
  return new CheckpointError("malformed_checkpoint", `malformed checkpoint: ${message}`);
}

/** Tree sizes are plain numbers; 2^53 records is beyond any gateway's log. */
function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0)
    throw malformed(`tree size ${size} is not a non-negative integer`);
}

function checkLine(what: string, line: string): void {
  if (line === "") throw malformed(`empty ${what}`);
  if (line.includes("\n")) throw malformed(`${what} contains a newline`);
}

/** What a checkpoint states, as callers hand it in (any byte array for the root). */
export interface CheckpointInput {
  origin: string;
  size: number;
  rootHash: Uint8Array;
  extensions?: readonly string[];
}

/** The checkpoint's note text (the part that is signed). */
export function formatCheckpoint(checkpoint: CheckpointInput): string {
  const { origin, size, rootHash, extensions = [] } = checkpoint;
  checkLine("origin", origin);
  checkSize(size);
  if (rootHash.length !== HASH_SIZE) throw malformed(`root hash must be ${HASH_SIZE} bytes`);
  for (const line of extensions) checkLine("extension line", line);
  const root = Buffer.from(rootHash.buffer, rootHash.byteOffset, rootHash.byteLength).toString(
    "base64",
  );
  return [origin, String(size), root, ...extensions].map((line) => `${line}\n`).join("");
}

/** Parses checkpoint note text strictly: canonical size, 32-byte canonical base64 root. */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith("\n")) throw malformed("text must end with a newline");
  const [origin, size, root, ...extensions] = text.slice(0, -1).split("\n");
  if (origin === undefined || size === undefined || root === undefined) {
    throw malformed("needs origin, tree size and root hash lines");
  }
  checkLine("origin", origin);
  if (!/^(0|[1-9][0-9]*)$/.test(size)) {
    throw malformed(
      `tree size ${JSON.stringify(size)} is not a decimal number without leading zeros`,
    );
  }
  const treeSize = Number(size);
  if (!Number.isSafeInteger(treeSize)) throw malformed(`tree size ${size} is too large`);
  const rootHash = decodeBase64(root);
  if (rootHash === undefined || rootHash.length !== HASH_SIZE) {
    throw malformed(`root hash is not the base64 of ${HASH_SIZE} bytes`);
  }
  for (const line of extensions) checkLine("extension line", line);
  const checkpoint: Checkpoint = { origin, size: treeSize, rootHash };
  if (extensions.length > 0) checkpoint.extensions = extensions;
  return checkpoint;
}

/** The signed note for a checkpoint. */
export function signCheckpoint(checkpoint: CheckpointInput, signer: NoteSigner): string {
  return signNote(formatCheckpoint(checkpoint), signer);
}

/**
 * Opens a signed checkpoint with the log's verifier key and checks it names
 * the expected log, returning what it commits to. Throws NoteError for
 * signature problems and CheckpointError for the body.
 */
export function verifyCheckpoint(
  note: string | Uint8Array,
  verifierKey: string | NoteVerifier,
  expectedOrigin: string,
): Checkpoint {
  const verifier = typeof verifierKey === "string" ? parseVerifierKey(verifierKey) : verifierKey;
  const { text } = openNote(note, [verifier]);
  const checkpoint = parseCheckpoint(text);
  if (checkpoint.origin !== expectedOrigin) {
    throw new CheckpointError(
      "wrong_origin",
      `checkpoint origin ${JSON.stringify(checkpoint.origin)} is not the expected ${JSON.stringify(expectedOrigin)}`,
    );
  }
  return checkpoint;
}
