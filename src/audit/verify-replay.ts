/**
 * The verifier's walk over the records: from the base, each row is checked
 * and its leaf appended; at each signed checkpoint the replayed root must be
 * the signed root and a consistency proof must link it to the one before.
 * `step` is synchronous, so a chunk of rows costs no promise turns; only a
 * failure goes back to the source (to name the first changed record).
 */
import { leafHash, verifyConsistency } from "./merkle.ts";
import { TreeReplay } from "./replay.ts";
import type { StoredRow } from "./store/store.ts";
import type { LogSource } from "./verify.ts";
import type { SignedCheckpoint } from "./verify-checkpoints.ts";
import { firstChangedLeaf } from "./verify-end.ts";
import {
  BlobChecks,
  blobReference,
  checkBody,
  checkPosition,
  RootMismatch,
  VerifyFailure,
} from "./verify-record.ts";

export class LogReplay {
  readonly tree: TreeReplay;
  readonly base: number;
  readonly blobs: BlobChecks;
  /** Signed checkpoints after the base the records have not reached yet. */
  readonly pending: SignedCheckpoint[];
  /** Records below this are covered by a matching signed checkpoint (or the anchored base). */
  covered: number;
  /** Whether a prune record names the base as where the log was pruned. */
  pruneRecorded = false;
  records = 0;
  consistencyProofs = 0;
  #previous: SignedCheckpoint | undefined;

  private constructor(tree: TreeReplay, signed: readonly SignedCheckpoint[], source: LogSource) {
    this.tree = tree;
    this.base = tree.size;
    this.covered = tree.size;
    this.blobs = new BlobChecks((sha256) => source.getBlob(sha256));
    this.pending = signed.filter((c) => c.size > tree.size);
    this.#previous = signed.find((c) => c.size === tree.size);
  }

  /** Starts from the source's base; a pruned store's base must reproduce its signed checkpoint. */
  static async start(source: LogSource, signed: readonly SignedCheckpoint[]): Promise<LogReplay> {
    const base = (await source.base()) ?? { size: 0, frontier: [] };
    const where = { seq: base.size, checkpointSize: base.size };
    let tree: TreeReplay;
    try {
      tree = new TreeReplay(base);
    } catch (error) {
      throw new VerifyFailure(`the log's base is malformed: ${(error as Error).message}`, where);
    }
    const anchor = signed.find((c) => c.size === base.size);
    if (base.size > 0 && anchor === undefined && !source.excerpt)
      throw new VerifyFailure(
        `the log starts at record ${base.size} (pruned), but no signed checkpoint at size ${base.size} anchors it`,
        where,
      );
    if (anchor !== undefined && !tree.root().equals(anchor.rootHash))
      throw new VerifyFailure(
        `the log's base (records below ${base.size} pruned) does not reproduce the signed checkpoint at size ${base.size}`,
        where,
      );
    return new LogReplay(tree, signed, source);
  }

  /** Checks one row and appends its leaf; at a checkpoint size, checks the signed root. */
  step(row: StoredRow): void {
    const seq = this.tree.size;
    checkPosition(row.seq, seq);
    const record = checkBody(row.body, seq);
    if (record.kind === "prune" && record.prunedBelow === this.base) this.pruneRecorded = true;
    const blob = blobReference(record, seq);
    if (blob !== undefined) this.blobs.add(seq, blob);
    this.tree.append(leafHash(Buffer.from(row.body, "utf8")));
    this.records++;
    const checkpoint = this.pending[0];
    if (checkpoint?.size === this.tree.size) {
      this.pending.shift();
      this.#atCheckpoint(checkpoint);
    }
  }

  #atCheckpoint(checkpoint: SignedCheckpoint): void {
    const { size } = checkpoint;
    if (!this.tree.root().equals(checkpoint.rootHash)) throw new RootMismatch(this.covered, size);
    const interval = this.tree.mark();
    const previous = this.#previous;
    this.#previous = checkpoint;
    this.covered = size;
    // Both roots already match the replay; the proof says the same in RFC 6962's own terms.
    if (interval === undefined || previous === undefined) return;
    if (
      !verifyConsistency(
        previous.size,
        size,
        interval.proof,
        previous.rootHash,
        checkpoint.rootHash,
      )
    )
      throw new VerifyFailure(
        `checkpoint at size ${size}: no consistency proof links it to the checkpoint at size ${previous.size}`,
        { checkpointSize: size },
      );
    this.consistencyProofs++;
  }

  /**
   * The failure to report: a blob failure earlier in the log wins; a bad root
   * is narrowed to the first record whose stored leaf hash differs; a bad
   * row is preceded by any earlier changed row not yet covered by a checkpoint.
   */
  async explain(source: LogSource, error: unknown): Promise<unknown> {
    if (!(error instanceof VerifyFailure)) return error;
    let failure: VerifyFailure = error;
    try {
      await this.blobs.settle();
    } catch (blobError) {
      if (!(blobError instanceof VerifyFailure)) return blobError;
      if ((blobError.seq ?? 0) < (failure.seq ?? Number.POSITIVE_INFINITY)) failure = blobError;
    }
    if (failure instanceof RootMismatch) {
      const changed = await firstChangedLeaf(source, failure.from, failure.size);
      return changed === undefined
        ? failure
        : new RootMismatch(failure.from, failure.size, changed);
    }
    if (failure.seq === undefined || failure.seq <= this.covered) return failure;
    const changed = await firstChangedLeaf(source, this.covered, failure.seq);
    if (changed === undefined) return failure;
    return new VerifyFailure(
      `record ${changed}: body differs from its stored leaf hash (edited outside Portcullis?); later, ${failure.message}`,
      { seq: changed },
    );
  }
}
