/**
 * Container log files in the CRI format kubelets (and kwok) read:
 * `<RFC 3339 time> <stdout|stderr> <F|P> <text>` per line, F marking a full
 * line and P a partial one. kwok serves a fake pod's `kubectl logs` from
 * such a file and follows it for `kubectl logs -f`.
 */
import { appendFile } from "node:fs/promises";

export type LogStream = "stdout" | "stderr";

/** One full CRI line per line of `text` (a trailing newline ends the last line, adds none). */
export function formatCriLog(text: string, stream: LogStream, time: Date): string {
  const lines = text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n");
  const stamp = time.toISOString();
  return lines.map((line) => `${stamp} ${stream} F ${line}\n`).join("");
}

/** Appends `text` as the container printed it now; `kubectl logs -f` shows it within a second. */
export async function appendCriLog(
  path: string,
  text: string,
  stream: LogStream = "stdout",
): Promise<void> {
  await appendFile(path, formatCriLog(text, stream, new Date()));
}
