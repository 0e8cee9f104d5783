/**
 * Records an exec/attach session as asciicast v2, incrementally.
 *
 * - Events are turned into canonical lines as they happen and held only until
 *   `drain()`, so a gateway can append the recording to storage in chunks and
 *   memory stays bounded by what it has not yet drained. The concatenation of
 *   every `drain()` (and `end()`) is the recording; its text is the same
 *   however often it was drained.
 * - Bytes are decoded as UTF-8 per source (stdout, stderr, stdin), each with
 *   its own streaming decoder: a character split across chunks is held back
 *   and written whole with the next chunk of the same source, never mixed with
 *   another source's bytes. Invalid bytes become U+FFFD (JSON cannot carry
 *   them); `end()` flushes a truncated trailing character the same way.
 * - asciicast v2 has no code for stderr. stderr is recorded as `o`, in arrival
 *   order interleaved with stdout, because that is what the client's terminal
 *   showed and what a player must reproduce (with a TTY, Kubernetes merges the
 *   two anyway). A private code would be skipped by every standard player.
 * - Times are seconds since `startedAt`, rounded to the microsecond. A clock
 *   that steps back is clamped: times never decrease, as players expect.
 */
import { TextDecoder } from "node:util";
import { PortcullisError } from "../../errors.ts";
import {
  type AsciicastHeader,
  formatEvent,
  formatHeader,
  formatSize,
  isDimension,
  type KnownEventCode,
  roundTime,
} from "./format.ts";

/** A moment: milliseconds since the Unix epoch, or a Date. */
export type Instant = number | Date;

/** Where output bytes came from; both are recorded as `o`. */
export type OutputSource = "stdout" | "stderr";

export interface AsciicastRecorderOptions {
  /** Initial terminal size; a session without a TTY can use 80x24. */
  width: number;
  height: number;
  startedAt: Instant;
  title?: string;
  /** Captured environment, e.g. TERM and SHELL. */
  env?: Record<string, string>;
  /** The recorded command, e.g. the exec `command` parameters joined. */
  command?: string;
}

type Source = OutputSource | "stdin";

function millis(at: Instant): number {
  return typeof at === "number" ? at : at.getTime();
}

export class AsciicastRecorder {
  readonly header: AsciicastHeader;
  readonly #startedAt: number;
  readonly #decoders = new Map<Source, TextDecoder>();
  #pending: string[] = [];
  #pendingChars = 0;
  #lastTime = 0;
  #ended = false;

  constructor(options: AsciicastRecorderOptions) {
    if (!isDimension(options.width) || !isDimension(options.height)) {
      throw new PortcullisError(
        "bad_request",
        `asciicast: terminal size must be positive integers, got ${options.width}x${options.height}`,
      );
    }
    this.#startedAt = millis(options.startedAt);
    if (!Number.isFinite(this.#startedAt)) {
      throw new PortcullisError("internal", "asciicast: startedAt is not a valid time");
    }
    this.header = {
      version: 2,
      width: options.width,
      height: options.height,
      timestamp: Math.floor(this.#startedAt / 1000),
      ...(options.command === undefined ? {} : { command: options.command }),
      ...(options.title === undefined ? {} : { title: options.title }),
      ...(options.env === undefined ? {} : { env: { ...options.env } }),
    };
    this.#hold(formatHeader(this.header));
  }

  /** Bytes written to the client's terminal, from stdout (the default) or stderr. */
  output(data: Buffer | string, at: Instant, source: OutputSource = "stdout"): void {
    this.#text("o", source, data, at);
  }

  /** Bytes the client typed (stdin). */
  input(data: Buffer | string, at: Instant): void {
    this.#text("i", "stdin", data, at);
  }

  resize(cols: number, rows: number, at: Instant): void {
    if (!isDimension(cols) || !isDimension(rows)) {
      throw new PortcullisError(
        "bad_request",
        `asciicast: terminal size must be positive integers, got ${cols}x${rows}`,
      );
    }
    this.#push("r", formatSize(cols, rows), at);
  }

  /** A labelled point in the session, e.g. where a policy rule fired. */
  marker(label: string, at: Instant): void {
    this.#push("m", label, at);
  }

  /** Seconds from the start to the latest event. */
  get duration(): number {
    return this.#lastTime;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** UTF-16 code units waiting for `drain()`: lets a caller flush by size. */
  get pendingChars(): number {
    return this.#pendingChars;
  }

  /** The recording text produced since the last drain (the header comes first). */
  drain(): string {
    const text = this.#pending.join("");
    this.#pending = [];
    this.#pendingChars = 0;
    return text;
  }

  /**
   * Flushes characters left incomplete at the end of each source (as U+FFFD,
   * at the time of the latest bytes received) and returns the rest of the recording.
   * Later events are refused.
   */
  end(): string {
    this.#assertOpen();
    for (const [source, decoder] of this.#decoders) {
      const rest = decoder.decode();
      if (rest !== "") this.#hold(this.#line(source === "stdin" ? "i" : "o", rest));
    }
    this.#decoders.clear();
    this.#ended = true;
    return this.drain();
  }

  #text(code: KnownEventCode, source: Source, data: Buffer | string, at: Instant): void {
    this.#assertOpen();
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let decoder = this.#decoders.get(source);
    if (decoder === undefined) {
      // ignoreBOM: a U+FEFF the program wrote is output like any other character.
      decoder = new TextDecoder("utf-8", { ignoreBOM: true });
      this.#decoders.set(source, decoder);
    }
    this.#advance(at);
    const text = decoder.decode(bytes, { stream: true });
    // Only part of a character so far: it goes out whole with the next chunk.
    if (text !== "") this.#hold(this.#line(code, text));
  }

  #push(code: KnownEventCode, data: string, at: Instant): void {
    this.#assertOpen();
    this.#advance(at);
    this.#hold(this.#line(code, data));
  }

  #hold(line: string): void {
    this.#pending.push(line);
    this.#pendingChars += line.length;
  }

  /** Moves the recording's clock to `at`, never backwards. */
  #advance(at: Instant): void {
    const ms = millis(at);
    if (!Number.isFinite(ms)) {
      throw new PortcullisError("internal", `asciicast: event time is not a number: ${String(at)}`);
    }
    const seconds = roundTime((ms - this.#startedAt) / 1000);
    this.#lastTime = Math.max(this.#lastTime, seconds);
  }

  #line(code: KnownEventCode, data: string): string {
    return formatEvent({ time: this.#lastTime, code, data });
  }

  #assertOpen(): void {
    if (this.#ended) {
      throw new PortcullisError("internal", "asciicast: the recording has already ended");
    }
  }
}
