/**
 * Opening a log's checkpoints with nothing but its verifier key: every
 * signature must verify, every checkpoint must name the key's log, and the
 * size a store files it under must be the size it states.
 */
import { CheckpointError, verifyCheckpoint } from "./checkpoint.ts";
import { verifyConsistency } from "./merkle.ts";
import { NoteError, type NoteVerifier } from "./note.ts";
import { VerifyFailure } from "./verify-record.ts";

export interface SignedCheckpoint {
  size: number;
  rootHash: Buffer;
}

/** A consistency proof as a bundle ships it (proofs.json): hashes in hex. */
export interface ConsistencyProofJson {
  from: number;
  to: number;
  proof: string[];
}

function whyNot(error: unknown, verifier: NoteVerifier): string {
  if (error instanceof NoteError) {
    if (error.code === "invalid_signature" || error.code === "unverified_note")
      return `signature does not verify with the given key (${verifier.name})`;
    return `not a valid signed note (${error.message})`;
  }
  if (error instanceof CheckpointError) {
    return error.code === "wrong_origin"
      ? `${error.message}, the key's name`
      : `not a valid checkpoint (${error.message})`;
  }
  throw error;
}

/** Verifies every checkpoint, smallest first; the first bad one is the failure. */
export function openCheckpoints(
  rows: ReadonlyArray<{ size: number; note: string }>,
  verifier: NoteVerifier,
): SignedCheckpoint[] {
  const sorted = [...rows].sort((a, b) => a.size - b.size);
  const opened: SignedCheckpoint[] = [];
  for (const row of sorted) {
    const where = { checkpointSize: row.size };
    if (opened.at(-1)?.size === row.size)
      throw new VerifyFailure(`checkpoint at size ${row.size}: appears twice`, where);
    let size: number;
    let rootHash: Buffer;
    try {
      ({ size, rootHash } = verifyCheckpoint(row.note, verifier, verifier.name));
    } catch (error) {
      throw new VerifyFailure(`checkpoint at size ${row.size}: ${whyNot(error, verifier)}`, where);
    }
    if (size !== row.size)
      throw new VerifyFailure(
        `checkpoint at size ${row.size}: its signed note says size ${size} (moved outside Portcullis?)`,
        where,
      );
    opened.push({ size, rootHash });
  }
  return opened;
}

/** Checks shipped proofs (a bundle's proofs.json) against the signed roots they link. */
export function checkShippedProofs(
  proofs: readonly ConsistencyProofJson[],
  signed: readonly SignedCheckpoint[],
): number {
  if (!Array.isArray(proofs)) throw new VerifyFailure("proofs.json: not a list of proofs");
  for (const { from, to, proof } of proofs) {
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || !Array.isArray(proof))
      throw new VerifyFailure("proofs.json: an entry is not {from, to, proof}");
    const old = signed.find((c) => c.size === from);
    const later = signed.find((c) => c.size === to);
    const where = { checkpointSize: to };
    if (old === undefined || later === undefined)
      throw new VerifyFailure(
        `proofs.json: the proof from size ${from} to ${to} names a checkpoint the bundle does not hold`,
        where,
      );
    const hashes = proof.map((hex) => Buffer.from(hex, "hex"));
    if (!verifyConsistency(from, to, hashes, old.rootHash, later.rootHash))
      throw new VerifyFailure(
        `checkpoint at size ${to}: the consistency proof from size ${from} does not verify (proofs.json)`,
        where,
      );
  }
  return proofs.length;
}
