/**
 * Plays an asciicast v2 recording back to a terminal (`portcullis sessions
 * play ID`).
 *
 * - Output (`o`) is written at its recorded time, pauses divided by `speed`.
 *   A pause longer than `maxIdleSeconds` (default: the header's
 *   `idle_time_limit`, else none) is cut to it before scaling, as asciinema
 *   players do.
 * - Input (`i`) is not written: the remote terminal's echo is already in the
 *   output, so writing it again would show every keystroke twice. Markers and
 *   codes v2 does not define are skipped, as the format asks of players.
 * - A resize (`r`) is announced as `\r\n[resized to COLSxROWS]\r\n` only when
 *   the writer is not a TTY (a file or a pipe, where the note is the only
 *   trace of it). On a TTY the line would be drawn into the replayed screen
 *   and corrupt full-screen programs, and we do not resize the viewer's own
 *   window; the header's size is the viewer's cue.
 * - Pauses shorter than a millisecond are carried into the next pause rather
 *   than dropped, so many tiny gaps still add up to the recorded time.
 */
import { setTimeout as delay } from "node:timers/promises";
import { PortcullisError } from "../../errors.ts";
import { isRecordedEvent, parseSize } from "./format.ts";
import { parseAsciicast } from "./parse.ts";

export interface PlayOptions {
  /** 2 plays twice as fast. Must be positive. */
  speed?: number;
  /** Longest pause, in recorded seconds, before scaling by speed. */
  maxIdleSeconds?: number;
  write: (text: string) => void;
  /** Whether `write` goes to a terminal; decides whether resizes are announced. */
  isTTY?: boolean;
  /** Injected in tests; defaults to a real timer. */
  sleep?: (ms: number) => Promise<void>;
  /** Stops playback between events. */
  signal?: AbortSignal;
}

export interface PlaybackSummary {
  /** Events written: output, and resizes when announced. */
  written: number;
  /** Milliseconds of pauses requested, after capping and scaling. */
  pausedMs: number;
  /** False when the signal stopped playback early. */
  completed: boolean;
}

function realSleep(ms: number): Promise<void> {
  return delay(ms);
}

export async function playAsciicast(text: string, options: PlayOptions): Promise<PlaybackSummary> {
  const { header, events } = parseAsciicast(text);
  const speed = options.speed ?? 1;
  if (!(Number.isFinite(speed) && speed > 0)) {
    throw new PortcullisError(
      "bad_request",
      `playback speed must be a positive number, got ${speed}`,
    );
  }
  const maxIdle = options.maxIdleSeconds ?? header.idle_time_limit;
  if (maxIdle !== undefined && !(maxIdle >= 0)) {
    throw new PortcullisError("bad_request", `idle limit must be non-negative, got ${maxIdle}`);
  }
  const sleep = options.sleep ?? realSleep;
  const summary: PlaybackSummary = { written: 0, pausedMs: 0, completed: false };
  let previous = 0;
  let owedMs = 0;

  for (const event of events) {
    if (options.signal?.aborted) return summary;
    const gap = event.time - previous;
    previous = event.time;
    owedMs += ((maxIdle === undefined ? gap : Math.min(gap, maxIdle)) * 1000) / speed;
    const text = isRecordedEvent(event) ? render(event.code, event.data, options.isTTY) : "";
    if (text === "") continue;
    if (owedMs >= 1) {
      const ms = Math.round(owedMs);
      await sleep(ms);
      summary.pausedMs += ms;
      owedMs -= ms;
      if (options.signal?.aborted) return summary;
    }
    options.write(text);
    summary.written++;
  }
  summary.completed = true;
  return summary;
}

/** What an event puts on the viewer's screen; empty if nothing. */
function render(code: "o" | "i" | "r" | "m", data: string, isTTY = false): string {
  switch (code) {
    case "o":
      return data;
    case "r": {
      const size = parseSize(data);
      return isTTY || size === undefined ? "" : `\r\n[resized to ${size.cols}x${size.rows}]\r\n`;
    }
    case "i":
    case "m":
      return "";
    default: {
      const unreachable: never = code;
      throw new Error(`unhandled event code ${String(unreachable)}`);
    }
  }
}
