/**
 * Streaming exports of the audit log: JSON Lines (the stored canonical
 * records, so each line can be re-hashed), a Kubernetes audit.k8s.io/v1
 * EventList (one Event per call) and CSV (one row per call). Records are read
 * a page at a time and written with backpressure, so the size of an export is
 * bounded by the disk, not by memory.
 */
import type { Writable } from "node:stream";
import { toAuditEvent } from "./k8s-event.ts";
import { type CallFilter, type CallView, joinedCalls, toCallView } from "./query.ts";
import type { AuditStore, StoredRow } from "./store/store.ts";

export type ExportFormat = "jsonl" | "eventlist" | "csv";

export const exportFormats: readonly ExportFormat[] = ["jsonl", "eventlist", "csv"];

export interface ExportOptions {
  /** Called every `progressEvery` items (default 10,000) with the count so far. */
  onProgress?: (count: number) => void;
  progressEvery?: number;
}

/** Resolves once `out` can take more; rejects if it fails or closes first. */
function drained(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (error?: Error) => {
      out.off("drain", onDrain);
      out.off("error", onError);
      out.off("close", onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => settle();
    const onError = (error: Error) => settle(error);
    const onClose = () => settle(new Error("export output closed before the export finished"));
    out.on("drain", onDrain);
    out.on("error", onError);
    out.on("close", onClose);
  });
}

/** Writes a chunk, waiting for the reader whenever the stream's buffer is full. */
async function write(out: Writable, chunk: string): Promise<void> {
  if (out.destroyed) throw new Error("export output closed before the export finished");
  if (!out.write(chunk)) await drained(out);
}

/** Writes each item as `render` makes it; returns how many were written. */
async function writeEach<T>(
  out: Writable,
  items: AsyncIterable<T>,
  render: (item: T, index: number) => string | Promise<string>,
  options: ExportOptions,
): Promise<number> {
  const every = options.progressEvery ?? 10_000;
  let count = 0;
  for await (const item of items) {
    await write(out, await render(item, count));
    if (++count % every === 0) options.onProgress?.(count);
  }
  return count;
}

/** Filters beyond a time range select calls, so the export follows calls rather than the raw log. */
function selectsCalls(filter: CallFilter): boolean {
  const { from: _from, to: _to, ...rest } = filter;
  return Object.values(rest).some((value) => value !== undefined);
}

/** Every stored record in the time range (all kinds), in log order, a page at a time. */
async function* storedRows(store: AuditStore, filter: CallFilter): AsyncGenerator<StoredRow> {
  const limit = 1000;
  for (let afterSeq = -1; ; ) {
    const rows = await store.search({ from: filter.from, to: filter.to, afterSeq, limit });
    yield* rows;
    if (rows.length < limit) return;
    afterSeq = rows.at(-1)?.seq ?? afterSeq;
  }
}

/** Each matching call's request record, then its completion record when there is one. */
async function* callRows(store: AuditStore, filter: CallFilter): AsyncGenerator<StoredRow> {
  for await (const call of joinedCalls(store, filter)) {
    yield call.requestRow;
    if (call.completionRow) yield call.completionRow;
  }
}

/**
 * JSON Lines, one stored record per line, byte for byte as the log keeps it.
 * A time range alone exports every record in it (prunes too), in log order;
 * call filters export each matching call's request and completion records.
 */
export function exportJsonLines(
  store: AuditStore,
  out: Writable,
  filter: CallFilter = {},
  options: ExportOptions = {},
): Promise<number> {
  const rows = selectsCalls(filter) ? callRows(store, filter) : storedRows(store, filter);
  return writeEach(out, rows, (row) => `${row.body}\n`, options);
}

/** An audit.k8s.io/v1 EventList, streamed item by item. */
export async function exportEventList(
  store: AuditStore,
  out: Writable,
  filter: CallFilter = {},
  options: ExportOptions = {},
): Promise<number> {
  const loadBlob = (sha256: string) => store.getBlob(sha256);
  await write(out, '{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[');
  const count = await writeEach(
    out,
    joinedCalls(store, filter),
    async (call, index) =>
      `${index === 0 ? "" : ","}\n${JSON.stringify(await toAuditEvent(call, loadBlob))}`,
    options,
  );
  await write(out, "\n]}\n");
  return count;
}

export const csvColumns = [
  "seq",
  "time",
  "requestId",
  "username",
  "identityKind",
  "verb",
  "resource",
  "namespace",
  "name",
  "path",
  "decision",
  "rule",
  "sessionId",
  "invocation",
  "command",
  "status",
  "outcome",
  "durationMs",
  "bytes",
  "masked",
] as const satisfies readonly (keyof CallView)[];

/** RFC 4180: a field holding a comma, quote, CR or LF is quoted, quotes doubled. */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvRow(values: readonly unknown[]): string {
  return `${values.map(csvField).join(",")}\r\n`;
}

/** CSV with a header row, one row per call; `masked` as JSON text. */
export async function exportCsv(
  store: AuditStore,
  out: Writable,
  filter: CallFilter = {},
  options: ExportOptions = {},
): Promise<number> {
  await write(out, csvRow(csvColumns));
  return writeEach(
    out,
    joinedCalls(store, filter),
    (call) => {
      const view = toCallView(call);
      return csvRow(csvColumns.map((column) => view[column]));
    },
    options,
  );
}

/** Writes the export in `format`; resolves with the number of records (jsonl) or calls. */
export function exportAudit(
  format: ExportFormat,
  store: AuditStore,
  out: Writable,
  filter: CallFilter = {},
  options: ExportOptions = {},
): Promise<number> {
  switch (format) {
    case "jsonl":
      return exportJsonLines(store, out, filter, options);
    case "eventlist":
      return exportEventList(store, out, filter, options);
    case "csv":
      return exportCsv(store, out, filter, options);
    default: {
      const unknown: never = format;
      throw new Error(`unknown export format ${String(unknown)}`);
    }
  }
}
