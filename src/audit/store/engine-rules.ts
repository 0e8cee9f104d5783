/**
 * What every engine enforces the same way, so the two cannot drift: a batch
 * must continue the head exactly, and search filters name these columns.
 */
import type { BuiltBatch, LogHead, SearchFilter } from "./store.ts";

/** Rows per page when scanning; big enough to amortize round trips, small enough to stream. */
export const scanPageSize = 1000;

/** Equality filters → columns; the time range and paging are handled apart. */
export const searchColumns = {
  username: "username",
  subject: "subject",
  verb: "verb",
  resource: "resource",
  namespace: "namespace",
  name: "name",
  decision: "decision",
  sessionId: "session_id",
  requestId: "request_id",
  kind: "kind",
} as const satisfies Partial<Record<keyof SearchFilter, string>>;

/** The equality filters a search sets, as [column, value] pairs. */
export function searchTerms(filter: SearchFilter): [string, string][] {
  return Object.entries(searchColumns).flatMap(([field, column]) => {
    const value = filter[field as keyof typeof searchColumns];
    return value === undefined ? [] : [[column, value] as [string, string]];
  });
}

/** The seqs must continue the head exactly: a gap or an overlap would break the tree. */
export function assertBatchFollows(head: LogHead, batch: BuiltBatch): void {
  batch.rows.forEach((row, i) => {
    if (row.seq !== head.size + i)
      throw new Error(`batch row ${i} has seq ${row.seq}, expected ${head.size + i}`);
    if (row.leafHash.length !== 32) throw new Error(`batch row ${i} leaf hash is not 32 bytes`);
  });
  const size = head.size + batch.rows.length;
  if (batch.head.size !== size)
    throw new Error(`batch head size ${batch.head.size} does not follow the rows (${size})`);
}

/** Proofs need every leaf in the range; a short answer must not pass for a whole one. */
export function assertAllLeaves(from: number, to: number, found: number): void {
  if (found !== to - from)
    throw new RangeError(`leaf hashes ${from}..${to} are not all stored (${found} found)`);
}
