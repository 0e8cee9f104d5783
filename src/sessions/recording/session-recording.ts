/**
 * A session's recording as the gateway keeps it: asciicast v2 events turned
 * into bytes as they happen, held up to `maxBytes`. Past that the recording
 * says where it stopped (a marker) and the session goes on unrecorded, so a
 * session that prints gigabytes costs the gateway at most `maxBytes` of
 * memory (`audit.maxRecordingBytes`). The completion record marks such a
 * recording truncated.
 *
 * The header's terminal size is the client's: the recorder starts at the
 * first event, and a resize that comes first (kubectl sends the terminal's
 * size as soon as a TTY session opens) is the header's size rather than an
 * event after an 80x24 header.
 */
import { AsciicastRecorder, type OutputSource } from "./asciicast.ts";

const defaultSize = { width: 80, height: 24 };

export interface FinishedRecording {
  data: Buffer;
  /** Bytes the recording would have held had it not stopped (approximate past the cut). */
  totalBytes: number;
  truncated: boolean;
}

export class SessionRecording {
  readonly #maxBytes: number;
  readonly #startedAt: number;
  readonly #command: string;
  #recorder: AsciicastRecorder | undefined;
  #chunks: Buffer[] = [];
  #bytes = 0;
  /** Payload bytes that went unrecorded after the cut. */
  #skipped = 0;
  #stopped = false;

  constructor(options: { maxBytes: number; startedAt: number; command: string }) {
    this.#maxBytes = options.maxBytes;
    this.#startedAt = options.startedAt;
    this.#command = options.command;
  }

  output(data: Buffer, at: number, source: OutputSource): void {
    if (this.#skip(data.length)) return;
    this.#ensure().output(data, at, source);
    this.#collect(at);
  }

  input(data: Buffer, at: number): void {
    if (this.#skip(data.length)) return;
    this.#ensure().input(data, at);
    this.#collect(at);
  }

  resize(width: number, height: number, at: number): void {
    if (this.#skip(0)) return;
    if (this.#recorder === undefined) {
      this.#ensure({ width, height });
      this.#collect(at);
      return;
    }
    this.#recorder.resize(width, height, at);
    this.#collect(at);
  }

  /** A labelled point (a refused line, a kill); kept even past the cut, it is short. */
  marker(label: string, at: number): void {
    if (this.#recorder?.ended) return;
    this.#ensure().marker(label, at);
    this.#chunks.push(Buffer.from(this.#ensure().drain(), "utf8"));
  }

  finish(): FinishedRecording {
    const recorder = this.#ensure();
    if (!recorder.ended) this.#chunks.push(Buffer.from(recorder.drain() + recorder.end(), "utf8"));
    const data = Buffer.concat(this.#chunks);
    this.#chunks = [];
    return { data, totalBytes: data.length + this.#skipped, truncated: this.#stopped };
  }

  #ensure(size = defaultSize): AsciicastRecorder {
    this.#recorder ??= new AsciicastRecorder({
      ...size,
      startedAt: this.#startedAt,
      command: this.#command,
    });
    return this.#recorder;
  }

  #skip(bytes: number): boolean {
    if (!this.#stopped) return false;
    this.#skipped += bytes;
    return true;
  }

  /** Moves what the recorder holds into bytes; stops recording past the limit. */
  #collect(at: number): void {
    const recorder = this.#recorder;
    if (recorder === undefined) return;
    const chunk = Buffer.from(recorder.drain(), "utf8");
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    if (this.#bytes <= this.#maxBytes) return;
    this.#stopped = true;
    recorder.marker(
      `portcullis: the recording stops here, at ${this.#bytes} bytes (audit.maxRecordingBytes); the session went on unrecorded`,
      at,
    );
    this.#chunks.push(Buffer.from(recorder.drain(), "utf8"));
  }
}
