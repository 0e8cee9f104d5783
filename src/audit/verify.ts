/**
 * `audit verify`: proves offline, with only the verifier key, that a log (a
 * store or an evidence bundle) is what the gateway signed. It opens every
 * checkpoint, replays the RFC 6962 tree from the base over every record in
 * order (each one valid, exactly canonical RFC 8785 JSON naming its own seq,
 * its blobs intact), compares the replayed root with the signed root at each
 * checkpoint and checks a consistency proof between consecutive ones. The
 * first thing wrong ends the run, named by record or checkpoint.
 */
import { type NoteVerifier, parseVerifierKey } from "./note.ts";
import { readAhead } from "./read-ahead.ts";
import type { CheckpointRow, LogBase, LogHead, StoredRow } from "./store/store.ts";
import {
  type ConsistencyProofJson,
  checkShippedProofs,
  openCheckpoints,
  type SignedCheckpoint,
} from "./verify-checkpoints.ts";
import { checkLogEnd } from "./verify-end.ts";
import { VerifyFailure } from "./verify-record.ts";
import { LogReplay } from "./verify-replay.ts";

/** What verification reads; the audit store and an opened evidence bundle both provide it. */
export interface LogSource {
  base(): Promise<LogBase | undefined>;
  checkpoints(): Promise<ReadonlyArray<Pick<CheckpointRow, "size" | "note">>>;
  /** Rows from `from` on, in seq order. */
  scan(from: number): AsyncIterable<StoredRow>;
  getBlob(sha256: string): Promise<Buffer | undefined>;
  /** A store's cached leaf hashes: only a hint, to name which record of a bad range changed. */
  leafHashes?(from: number, to: number): Promise<Buffer[]>;
  /** A store's (unsigned) head: cross-checks the records no checkpoint covers yet. */
  head?(): Promise<LogHead>;
  /** Proofs shipped with a bundle, checked against the signed roots. */
  consistencyProofs?(): Promise<ConsistencyProofJson[]>;
  /** A bundle holds an excerpt: its base is any frontier, trusted only via a later checkpoint. */
  readonly excerpt?: boolean;
}

export interface VerifyOptions {
  onProgress?: (progress: { records: number; total?: number }) => void;
  /** Records between progress calls (default 100,000). */
  progressEvery?: number;
}

export interface VerifyReport {
  ok: boolean;
  /** The log's origin: the verifier key's name. */
  origin: string;
  /** The first record present (the base after pruning; a bundle's first record). */
  firstRecord: number;
  /** The replayed tree's size: the first record plus the records checked. */
  size: number;
  records: number;
  blobs: number;
  checkpoints: number;
  /** Checkpoints below the base (pruned range): signatures checked, roots cannot be. */
  checkpointsBeforeBase: number;
  consistencyProofs: number;
  latestCheckpoint?: { size: number; rootHash: string };
  /** Records after the latest checkpoint: checked, but no signature covers them yet. */
  uncovered: number;
  failure?: { message: string; seq?: number; checkpointSize?: number };
  notes: string[];
  seconds: number;
}

export async function verifyLog(
  source: LogSource,
  verifierKey: string,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const started = performance.now();
  let verifier: NoteVerifier;
  try {
    verifier = parseVerifierKey(verifierKey.trim());
  } catch (error) {
    throw new Error(
      `the verifier key is not usable (${(error as Error).message}); expected name+id+base64, as \`portcullis audit pubkey\` prints it`,
    );
  }
  const report: VerifyReport = {
    ...{ ok: false, origin: verifier.name, firstRecord: 0, size: 0, records: 0, blobs: 0 },
    ...{ checkpoints: 0, checkpointsBeforeBase: 0, consistencyProofs: 0, uncovered: 0 },
    notes: [],
    seconds: 0,
  };
  try {
    const headBefore = await source.head?.();
    const signed = openCheckpoints(await source.checkpoints(), verifier);
    report.checkpoints = signed.length;
    report.consistencyProofs += checkShippedProofs(
      (await source.consistencyProofs?.()) ?? [],
      signed,
    );
    const end = await replayRecords(source, signed, report, options, headBefore?.size);
    await checkLogEnd(source, end, headBefore, report);
    const latest = signed.at(-1);
    if (latest)
      report.latestCheckpoint = { size: latest.size, rootHash: latest.rootHash.toString("base64") };
    report.ok = true;
  } catch (error) {
    if (!(error instanceof VerifyFailure)) throw error;
    report.failure = { message: error.message };
    if (error.seq !== undefined) report.failure.seq = error.seq;
    if (error.checkpointSize !== undefined) report.failure.checkpointSize = error.checkpointSize;
  }
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

async function replayRecords(
  source: LogSource,
  signed: readonly SignedCheckpoint[],
  report: VerifyReport,
  options: VerifyOptions,
  headSize: number | undefined,
): Promise<LogReplay> {
  const replay = await LogReplay.start(source, signed);
  report.firstRecord = replay.base;
  report.checkpointsBeforeBase = signed.filter((c) => c.size < replay.base).length;
  const every = options.progressEvery ?? 100_000;
  const total = headSize === undefined ? undefined : headSize - replay.base;
  let nextProgress = every;
  for await (const rows of readAhead(source.scan(replay.base))) {
    try {
      for (const row of rows) replay.step(row);
      await replay.blobs.settle();
    } catch (error) {
      throw await replay.explain(source, error);
    }
    if (replay.records >= nextProgress) {
      options.onProgress?.({ records: replay.records, total });
      nextProgress += every;
    }
  }
  report.records = replay.records;
  report.size = replay.tree.size;
  report.blobs = replay.blobs.checked;
  report.consistencyProofs += replay.consistencyProofs;
  return replay;
}
