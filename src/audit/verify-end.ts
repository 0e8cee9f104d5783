/**
 * What verification checks once every record present has been replayed:
 * signed checkpoints beyond the records (a truncated tail), a base with no
 * prune record behind it, and — for a store — the records no checkpoint
 * covers yet against the store's own (unsigned) head.
 */
import { leafHash } from "./merkle.ts";
import type { LogHead } from "./store/store.ts";
import type { LogSource, VerifyReport } from "./verify.ts";
import { recordRange, VerifyFailure } from "./verify-record.ts";
import type { LogReplay } from "./verify-replay.ts";

const hintChunk = 65_536;

/**
 * The first record in [from, to) whose body no longer hashes to the store's
 * cached leaf hash: a pointer into a bad range, not proof (both may be edited).
 */
export async function firstChangedLeaf(
  source: LogSource,
  from: number,
  to: number,
): Promise<number | undefined> {
  if (source.leafHashes === undefined || to <= from) return undefined;
  let expected = from;
  let stored: Buffer[] = [];
  let storedFrom = from;
  for await (const row of source.scan(from)) {
    if (row.seq >= to) return undefined;
    if (row.seq !== expected) return expected;
    if (expected - storedFrom >= stored.length) {
      storedFrom = expected;
      try {
        stored = await source.leafHashes(expected, Math.min(to, expected + hintChunk));
      } catch {
        return undefined; // rows missing: the caller's message already says where
      }
    }
    const cached = stored[expected - storedFrom];
    if (cached === undefined || !leafHash(Buffer.from(row.body, "utf8")).equals(cached))
      return expected;
    expected++;
  }
  return undefined;
}

export async function checkLogEnd(
  source: LogSource,
  end: LogReplay,
  headBefore: LogHead | undefined,
  report: VerifyReport,
): Promise<void> {
  const size = end.tree.size;
  const beyond = end.pending[0];
  if (beyond !== undefined)
    throw new VerifyFailure(
      `${recordRange(size, beyond.size)}: missing — the signed checkpoint at size ${beyond.size} covers them (the log's tail was truncated)`,
      { seq: size, checkpointSize: beyond.size },
    );
  if (end.base > 0 && !end.pruneRecorded && !source.excerpt)
    throw new VerifyFailure(
      `the log starts at record ${end.base}, but no prune record says it was pruned there (${recordRange(0, end.base)} removed outside Portcullis?)`,
      { seq: end.base },
    );
  report.uncovered = size - end.covered;
  if (source.excerpt && report.uncovered > 0)
    throw new VerifyFailure(
      `${recordRange(end.covered, size)}: no checkpoint in the bundle covers them`,
      { seq: end.covered },
    );
  if (source.head !== undefined) await checkHead(source, source.head, end, headBefore, report);
}

/** The head is unsigned, so this only catches edits to records no checkpoint covers yet. */
async function checkHead(
  source: LogSource,
  readHead: () => Promise<LogHead>,
  end: LogReplay,
  headBefore: LogHead | undefined,
  report: VerifyReport,
): Promise<void> {
  const head = await readHead();
  const size = end.tree.size;
  if (size > head.size)
    throw new VerifyFailure(
      `${recordRange(head.size, size)}: beyond the store's log head (size ${head.size}): inserted outside Portcullis?`,
      { seq: head.size },
    );
  if (size === head.size) {
    if (JSON.stringify(end.tree.state().frontier) === JSON.stringify(head.frontier)) return;
    const changed = await firstChangedLeaf(source, end.covered, size);
    const hint =
      changed === undefined ? "" : ` — first record whose stored leaf hash differs: ${changed}`;
    const what =
      end.covered < size
        ? `${recordRange(end.covered, size)} (not yet covered by a checkpoint)`
        : "the log head";
    throw new VerifyFailure(`${what}: recomputed tree differs from the store's head${hint}`, {
      seq: changed ?? end.covered,
    });
  }
  if (headBefore !== undefined && size < headBefore.size)
    throw new VerifyFailure(
      `${recordRange(size, headBefore.size)}: missing from the end of the log (the store's head counts ${headBefore.size} records; the tail was truncated)`,
      { seq: size },
    );
  report.notes.push(`${head.size - size} records appended while verifying were not checked`);
}
