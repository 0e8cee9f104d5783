/**
 * Lines typed into an interactive session, as the shell at the other end
 * will read them, so command rules can judge each line when it is entered.
 *
 * The gateway sees keystrokes, not commands. It models a terminal line
 * discipline well enough for what people and agents type: printable text,
 * backspace/delete, Ctrl-U (kill line), Ctrl-W (kill word), Ctrl-C (discard
 * the line), Enter (CR or LF). What it cannot know exactly it reports as
 * uncertain rather than guessing: escape sequences (arrow keys recalling
 * history or moving the cursor), Tab (completion) and other control bytes
 * mean the shell may run something other than the bytes typed. A caller
 * that must fail closed treats an uncertain line as a match.
 */

export interface TypedLine {
  /** The line's text as typed (edits applied), without the line ending. */
  text: string;
  /** Cursor keys, history recall, completion or other control input were used. */
  uncertain: boolean;
  /** The line went past the length bound; `text` holds its start. */
  truncated: boolean;
}

const BS = 0x08;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const CTRL_C = 0x03;
const CTRL_D = 0x04;
const CTRL_U = 0x15;
const CTRL_W = 0x17;
const ESC = 0x1b;
const DEL = 0x7f;

/** Escape-sequence parser states. */
const TEXT = 0;
const ESCAPE = 1; // after ESC
const CSI = 2; // after ESC [
const SS3 = 3; // after ESC O: one more byte

export class StdinLineTracker {
  readonly #maxLine: number;
  readonly #decoder = new TextDecoder("utf-8", { fatal: false });
  #chars: string[] = [];
  #uncertain = false;
  #truncated = false;
  #escape = TEXT;
  /** A CR just ended a line: an LF right after it is the same Enter. */
  #afterCr = false;

  constructor(options: { maxLineChars?: number } = {}) {
    this.#maxLine = options.maxLineChars ?? 8192;
  }

  /** Feeds stdin bytes; returns the lines they complete, in order. */
  push(data: Buffer | string): TypedLine[] {
    const text = typeof data === "string" ? data : this.#decoder.decode(data, { stream: true });
    const lines: TypedLine[] = [];
    for (const ch of text) {
      const c = ch.codePointAt(0) as number;
      if (this.#escape !== TEXT) {
        this.#consumeEscape(c);
        continue;
      }
      if (c === LF && this.#afterCr) {
        this.#afterCr = false;
        continue;
      }
      this.#afterCr = false;
      switch (c) {
        case CR:
        case LF:
          lines.push(this.#take());
          this.#afterCr = c === CR;
          break;
        case BS:
        case DEL:
          this.#chars.pop();
          break;
        case CTRL_U:
          this.#chars = [];
          break;
        case CTRL_W:
          while (this.#chars.length > 0 && this.#chars.at(-1) === " ") this.#chars.pop();
          while (this.#chars.length > 0 && this.#chars.at(-1) !== " ") this.#chars.pop();
          break;
        case CTRL_C:
          this.#reset();
          break;
        case CTRL_D:
          // End of input on an empty line; otherwise nothing a line discipline records.
          break;
        case ESC:
          this.#escape = ESCAPE;
          this.#uncertain = true;
          break;
        case TAB:
          this.#uncertain = true;
          this.#add(" ");
          break;
        default:
          if (c < 0x20) this.#uncertain = true;
          else this.#add(ch);
      }
    }
    return lines;
  }

  /** The line being typed, for a final check when the session ends. */
  pending(): TypedLine | undefined {
    return this.#chars.length === 0 && !this.#uncertain ? undefined : this.#snapshot();
  }

  #add(ch: string): void {
    if (this.#chars.length >= this.#maxLine) {
      this.#truncated = true;
      return;
    }
    this.#chars.push(ch);
  }

  #consumeEscape(c: number): void {
    if (this.#escape === ESCAPE) {
      this.#escape = c === 0x5b ? CSI : c === 0x4f ? SS3 : TEXT;
      return;
    }
    if (this.#escape === SS3) {
      this.#escape = TEXT;
      return;
    }
    // CSI: parameter and intermediate bytes until a final byte 0x40–0x7E.
    if (c >= 0x40 && c <= 0x7e) this.#escape = TEXT;
  }

  #snapshot(): TypedLine {
    return { text: this.#chars.join(""), uncertain: this.#uncertain, truncated: this.#truncated };
  }

  #take(): TypedLine {
    const line = this.#snapshot();
    this.#reset();
    return line;
  }

  #reset(): void {
    this.#chars = [];
    this.#uncertain = false;
    this.#truncated = false;
  }
}
