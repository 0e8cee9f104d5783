/**
 * Reads and validates an asciicast v2 recording. Errors name the line
 * (1-based, the header is line 1) so a damaged recording can be found.
 *
 * Strict where our own recordings are concerned, tolerant where the format
 * is open: unknown header fields and unknown event codes are kept (the
 * format says readers should pass through what they do not understand), but
 * known codes must carry string data, resizes must read `COLSxROWS`, and
 * times must be finite, non-negative and never decrease. Lines end in `\n`;
 * only the last line may be empty.
 */
import { PortcullisError } from "../../errors.ts";
import {
  type AsciicastEvent,
  type AsciicastHeader,
  asciicastSha256,
  isDimension,
  isKnownCode,
  parseSize,
} from "./format.ts";

export interface ParsedAsciicast {
  header: AsciicastHeader;
  events: AsciicastEvent[];
  /** SHA-256 of the text as given (for a recording we wrote: its canonical text). */
  sha256: string;
}

/** An asciicast that does not parse; `line` is 1-based. */
export class AsciicastFormatError extends PortcullisError {
  readonly line: number;

  constructor(line: number, problem: string) {
    super("bad_request", `asciicast line ${line}: ${problem}`);
    this.name = "AsciicastFormatError";
    this.line = line;
  }
}

export function parseAsciicast(text: string): ParsedAsciicast {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  if (lines.length === 0) throw new AsciicastFormatError(1, "empty recording, no header");
  const header = parseHeader(lines[0] ?? "");
  const events: AsciicastEvent[] = [];
  let previous = 0;
  for (let i = 1; i < lines.length; i++) {
    const event = parseEvent(lines[i] ?? "", i + 1);
    if (event.time < previous) {
      throw new AsciicastFormatError(
        i + 1,
        `time ${event.time} is earlier than the event before (${previous})`,
      );
    }
    previous = event.time;
    events.push(event);
  }
  return { header, events, sha256: asciicastSha256(text) };
}

function parseJson(line: string, lineNumber: number): unknown {
  if (line.trim() === "") throw new AsciicastFormatError(lineNumber, "blank line");
  try {
    return JSON.parse(line);
  } catch (err) {
    throw new AsciicastFormatError(lineNumber, `not JSON (${(err as Error).message})`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseHeader(line: string): AsciicastHeader {
  const value = parseJson(line, 1);
  const fail = (problem: string): never => {
    throw new AsciicastFormatError(1, problem);
  };
  if (!isRecord(value)) return fail("the header must be a JSON object");
  if (value.version !== 2) return fail(`version must be 2, got ${JSON.stringify(value.version)}`);
  if (!isDimension(value.width)) return fail("width must be a positive integer");
  if (!isDimension(value.height)) return fail("height must be a positive integer");
  const { timestamp, duration, idle_time_limit, command, title, env } = value;
  if (timestamp !== undefined && !Number.isInteger(timestamp)) {
    fail("timestamp must be an integer (Unix seconds)");
  }
  for (const [name, seconds] of [
    ["duration", duration],
    ["idle_time_limit", idle_time_limit],
  ] as const) {
    if (seconds !== undefined && !isNonNegative(seconds)) {
      fail(`${name} must be a non-negative number of seconds`);
    }
  }
  // asciinema writes `"title": null` in some versions; null reads as absent.
  for (const [name, field] of [
    ["command", command],
    ["title", title],
  ] as const) {
    if (field !== undefined && field !== null && typeof field !== "string") {
      fail(`${name} must be a string`);
    }
  }
  if (env !== undefined && env !== null) {
    if (!isRecord(env) || !Object.values(env).every((v) => typeof v === "string")) {
      fail("env must be an object of strings");
    }
  }
  const header = { ...value };
  for (const name of ["command", "title", "env"]) if (header[name] === null) delete header[name];
  return header as unknown as AsciicastHeader;
}

function isNonNegative(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

function parseEvent(line: string, lineNumber: number): AsciicastEvent {
  const value = parseJson(line, lineNumber);
  const fail = (problem: string): never => {
    throw new AsciicastFormatError(lineNumber, problem);
  };
  if (!Array.isArray(value) || value.length !== 3) {
    return fail("an event must be a JSON array [time, code, data]");
  }
  const [time, code, data] = value as [unknown, unknown, unknown];
  if (!isNonNegative(time)) return fail("time must be a non-negative number of seconds");
  if (typeof code !== "string" || code === "") return fail("code must be a non-empty string");
  if (!isKnownCode(code)) return { time, code, data };
  if (typeof data !== "string") return fail(`"${code}" event data must be a string`);
  if (code === "r" && parseSize(data) === undefined) {
    return fail(`resize data must be COLSxROWS, got ${JSON.stringify(data)}`);
  }
  return { time, code, data };
}
