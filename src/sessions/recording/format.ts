/**
 * asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): newline-
 * delimited JSON, a header object on the first line, then one
 * `[time, code, data]` array per line, `time` in seconds (a float) since the
 * start of the session.
 *
 * This module owns the canonical text: the recorder writes it, the parser's
 * `formatAsciicast` reproduces it, and the audit chain commits to its SHA-256.
 * Canonical means: header keys in a fixed order, times rounded to the
 * microsecond (as asciinema writes them) and `JSON.stringify`'d, every line
 * ending in `\n`.
 */
import { createHash } from "node:crypto";

export interface AsciicastHeader {
  version: 2;
  /** Initial terminal width, in columns. */
  width: number;
  /** Initial terminal height, in rows. */
  height: number;
  /** Unix time, in whole seconds, when the session began. */
  timestamp?: number;
  duration?: number;
  /** Players cap pauses between events to this many seconds. */
  idle_time_limit?: number;
  command?: string;
  title?: string;
  env?: Record<string, string>;
}

/**
 * The codes asciicast v2 defines. The list is open to extension; the parser
 * keeps events with other codes and the player ignores them, as the format asks.
 */
export type KnownEventCode = "o" | "i" | "r" | "m";

/** An event with one of the codes v2 defines; its data is always a string. */
export interface RecordedEvent {
  time: number;
  /**
   * `o` output written to the terminal (the client's stdout and stderr),
   * `i` input typed (stdin), `r` resize (data `COLSxROWS`), `m` marker (data
   * its label).
   */
  code: KnownEventCode;
  data: string;
}

/** An event with a code v2 does not define, kept as it came. */
export interface ExtensionEvent {
  time: number;
  code: string;
  data: unknown;
}

export type AsciicastEvent = RecordedEvent | ExtensionEvent;

const KNOWN_CODES: ReadonlySet<string> = new Set<KnownEventCode>(["o", "i", "r", "m"]);

export function isKnownCode(code: string): code is KnownEventCode {
  return KNOWN_CODES.has(code);
}

export function isRecordedEvent(event: AsciicastEvent): event is RecordedEvent {
  return isKnownCode(event.code) && typeof event.data === "string";
}

const HEADER_KEYS = [
  "version",
  "width",
  "height",
  "timestamp",
  "duration",
  "idle_time_limit",
  "command",
  "title",
  "env",
] as const;

/** The header line, keys in a fixed order, absent fields left out. */
export function formatHeader(header: AsciicastHeader): string {
  const ordered: Record<string, unknown> = {};
  for (const key of HEADER_KEYS) {
    if (header[key] !== undefined) ordered[key] = header[key];
  }
  // Fields this module does not know (a theme, say) follow, in their own order.
  for (const [key, value] of Object.entries(header)) {
    if (!(key in ordered) && value !== undefined) ordered[key] = value;
  }
  return `${JSON.stringify(ordered)}\n`;
}

/** Seconds rounded to the microsecond, the precision asciinema itself writes. */
export function roundTime(seconds: number): number {
  return Math.round(seconds * 1e6) / 1e6;
}

export function formatEvent(event: AsciicastEvent): string {
  return `${JSON.stringify([roundTime(event.time), event.code, event.data])}\n`;
}

/** The whole recording as canonical text. */
export function formatAsciicast(header: AsciicastHeader, events: Iterable<AsciicastEvent>): string {
  let text = formatHeader(header);
  for (const event of events) text += formatEvent(event);
  return text;
}

/** The hex SHA-256 of a recording's UTF-8 text, as the audit chain references it. */
export function asciicastSha256(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

/** `COLSxROWS`, the data of a resize event. */
export function formatSize(cols: number, rows: number): string {
  return `${cols}x${rows}`;
}

const SIZE = /^([1-9][0-9]{0,5})x([1-9][0-9]{0,5})$/;

/** Parses `COLSxROWS`; undefined if it is not two positive integers. */
export function parseSize(data: string): { cols: number; rows: number } | undefined {
  const match = SIZE.exec(data);
  if (!match) return undefined;
  return { cols: Number(match[1]), rows: Number(match[2]) };
}

/** A terminal dimension: a positive integer no larger than asciicast readers expect. */
export function isDimension(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value > 0 && value <= 999_999;
}
