/**
 * Masking text streams (pod logs, `kubectl logs -f`) line by line.
 *
 * - Lines are cut on the byte `\n`, which never occurs inside a multi-byte
 *   UTF-8 character, so a character split across chunks is decoded whole
 *   with its line. A line is masked and emitted as soon as its newline
 *   arrives; nothing waits for more data. `\r\n` is kept as it came.
 * - A line with nothing to mask is passed through byte for byte (even
 *   invalid UTF-8); a masked line, and a long line holding invalid UTF-8,
 *   is re-encoded from its decoded text (invalid bytes become U+FFFD).
 * - A line longer than `maxLineBytes` (64 KiB, its newline included) is
 *   masked in pieces, so the buffer stays bounded, whether it arrives in
 *   one chunk or many. Each piece is cut `overlapBytes` (4 KiB) before
 *   the end of the 64 KiB window, preferably after a space, never inside a
 *   value the window shows, and the rest of the window is masked again with
 *   the bytes that follow. So any value of up to 4 KiB is seen whole: JWTs,
 *   tokens (≤ 255 characters) and PEM keys written on one line (an RSA-4096
 *   body is about 3.2 KiB) included. Rescanning costs at most 4 KiB per
 *   60 KiB emitted (~7%). The end of each piece is handed to the next as
 *   `ScanContext.before`, so a context word just before the cut still counts.
 * - PEM private keys across lines: after a line that opens a private key
 *   without closing it, every line is masked as key body until the matching
 *   END line. The key is counted once.
 */
import { Transform } from "node:stream";
import type { ScanContext } from "./detector.ts";
import { pemPrivateKeyDetector } from "./detectors/pem.ts";
import type { MaskingEngine, OnFinding } from "./engine.ts";

export interface TextMaskerOptions {
  /** Called with the detector id of each value masked (a private key: once). */
  onFinding?: OnFinding;
  /** Longest line masked whole, in bytes. */
  maxLineBytes?: number;
  /** Bytes at the end of a long line's window masked again with what follows. */
  overlapBytes?: number;
}

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;
export const DEFAULT_OVERLAP_BYTES = 4 * 1024;
/** Characters of a long line's previous piece given to the next as `before`. */
const CARRIED_CONTEXT = 32;
const NEWLINE = 0x0a;
const CR = 0x0d;
const BEGIN = "-----BEGIN ";
const PEM_ID = pemPrivateKeyDetector.id;

interface OpenKey {
  /** `-----BEGIN RSA PRIVATE KEY-----` */
  header: string;
  /** `-----END RSA PRIVATE KEY-----` */
  footer: string;
  counted: boolean;
}

/** Push chunks, get masked bytes back; `end()` flushes a last line without a newline. */
export class TextMasker {
  readonly #engine: MaskingEngine;
  readonly #onFinding: OnFinding | undefined;
  readonly #maxLine: number;
  readonly #overlap: number;
  /** Whether the profile masks private keys at all. */
  readonly #keys: boolean;
  /** The bytes of the line not yet complete. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** The end of the previous piece of a long line. */
  #before: string | undefined;
  #openKey: OpenKey | undefined;
  /** The start of the current word already emitted by `flushSafePrefix` (one that may not start a value). */
  #wordHead = "";
  /** The end of the current line's text already emitted by `flushSafePrefix`, to find a key's BEGIN line. */
  #lineHead = "";

  constructor(engine: MaskingEngine, options: TextMaskerOptions = {}) {
    this.#engine = engine;
    this.#onFinding = options.onFinding;
    this.#maxLine = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.#overlap = options.overlapBytes ?? DEFAULT_OVERLAP_BYTES;
    if (!(this.#maxLine >= 16 && this.#overlap >= 0 && this.#overlap * 2 <= this.#maxLine)) {
      throw new Error("maxLineBytes must be at least 16 and twice overlapBytes");
    }
    this.#keys = engine.detectors.some((d) => d.id === PEM_ID);
  }

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let from = 0;
    while (from < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, from);
      const to = newline === -1 ? chunk.length : newline + 1;
      this.#pending.push(chunk.subarray(from, to));
      this.#pendingBytes += to - from;
      // Cut by the first maxLineBytes only, so pieces do not depend on chunking.
      while (this.#pendingBytes > this.#maxLine) out.push(this.#cutLongLine());
      if (newline !== -1) out.push(this.#maskLine(this.#takePending()));
      from = to;
    }
    return out;
  }

  /** The last line, when the text did not end with a newline. */
  end(): Buffer[] {
    if (this.#pendingBytes > 0) return [this.#maskLine(this.#takePending())];
    // All of it was flushed already: the next text starts afresh.
    this.#before = undefined;
    this.#wordHead = "";
    this.#lineHead = "";
    return [];
  }

  /**
   * For interactive streams (`kubectl exec` echo): masks and returns the part
   * of the unfinished line that no sensitive value can continue from, and
   * keeps the rest pending, to be completed by later pushes or flushed whole,
   * masked, by `end()`. The kept tail starts after the last whitespace that
   * ends a word no spaced value continues from (not after a digit, a digit
   * group like `(555)` or `12,`, a short group of an IBAN such as `WEST`, or a
   * month name), and is kept only if it may start a value: it holds a digit or
   * `@`, or is an upper-case word of 8 letters or more, or a mixed-case one
   * of 16 (see mayStartValue). Typed shell words go out at once; `echo 4111 1111 1111 1111` goes out as `echo ` and then the masked
   * card. A character split across chunks is never cut; while a private key
   * or a `-----` line is open, nothing is flushed. Calling it again without a
   * push returns nothing; text with nothing to mask comes out byte for byte
   * (invalid UTF-8 in a flushed prefix is re-encoded, as in long lines).
   *
   * Limit: what is flushed cannot be taken back. A value without digits or
   * `@` goes out piece by piece while it does not yet look like one, when
   * typed one key at a time: a SWIFT code typed key by key shows its first 7
   * letters, an email typed key by key its local part (and when that has
   * no digit, the whole address is in clear once the `@` comes too late).
   * Lines that arrive whole are masked as before.
   */
  flushSafePrefix(): Buffer[] {
    if (this.#pendingBytes === 0 || this.#openKey !== undefined) return [];
    let all =
      this.#pending.length === 1 ? (this.#pending[0] as Buffer) : Buffer.concat(this.#pending);
    let end = completeCharsEnd(all);
    const text = all.toString("utf8", 0, end);
    if (text.includes("\uFFFD")) {
      const partial = all.subarray(end);
      all = Buffer.concat([Buffer.from(text, "utf8"), partial]);
      end = all.length - partial.length;
    }
    const line = this.#wordHead + text;
    // A PEM line is kept whole, so its BEGIN line opens the key.
    if ((this.#lineHead + line).includes("-----")) return [];
    const tailStart = keptTailStart(line);
    const cut = Math.max(0, tailStart - this.#wordHead.length);
    if (cut === 0) return [];
    const prefix = text.slice(0, cut);
    const masked = this.#maskSegment(prefix);
    this.#before = ((this.#before ?? "") + prefix).slice(-CARRIED_CONTEXT);
    this.#lineHead = (this.#lineHead + prefix).slice(-CARRIED_CONTEXT);
    this.#wordHead = cut === text.length ? line.slice(lastBreakEnd(line)) : "";
    const cutBytes = cut === text.length ? end : Buffer.byteLength(prefix, "utf8");
    const rest = all.subarray(cutBytes);
    this.#pending = rest.length === 0 ? [] : [rest];
    this.#pendingBytes = rest.length;
    return [masked === prefix ? all.subarray(0, cutBytes) : Buffer.from(masked, "utf8")];
  }

  #takePending(): Buffer {
    const line =
      this.#pending.length === 1 ? (this.#pending[0] as Buffer) : Buffer.concat(this.#pending);
    this.#pending = [];
    this.#pendingBytes = 0;
    return line;
  }

  /** One whole line, with its `\n` or `\r\n` if it has one. */
  #maskLine(line: Buffer): Buffer {
    let end = line.length;
    if (end > 0 && line[end - 1] === NEWLINE) end -= end > 1 && line[end - 2] === CR ? 2 : 1;
    const text = line.toString("utf8", 0, end);
    const masked = this.#maskSegment(text);
    this.#before = undefined;
    this.#wordHead = "";
    this.#lineHead = "";
    if (masked === text) return line;
    return Buffer.concat([Buffer.from(masked, "utf8"), line.subarray(end)]);
  }

  /**
   * Masks and emits the first piece of a line longer than `maxLineBytes`,
   * keeping the rest (at least `overlapBytes` of the window) pending.
   */
  #cutLongLine(): Buffer {
    let all =
      this.#pending.length === 1 ? (this.#pending[0] as Buffer) : Buffer.concat(this.#pending);
    let windowEnd = charStart(all, this.#maxLine);
    let text = all.toString("utf8", 0, windowEnd);
    if (text.includes("\uFFFD")) {
      // Invalid UTF-8 (decoded as U+FFFD): go on with the decoded text,
      // re-encoded, so that character and byte offsets agree.
      all = Buffer.concat([Buffer.from(text, "utf8"), all.subarray(windowEnd)]);
      windowEnd = charStart(all, this.#maxLine);
      text = all.toString("utf8", 0, windowEnd);
    }
    const cut = this.#choosePieceEnd(text);
    const piece = text.slice(0, cut);
    const masked = this.#maskSegment(piece);
    this.#before = piece.slice(-CARRIED_CONTEXT);
    this.#wordHead = "";
    const cutBytes = Buffer.byteLength(piece, "utf8");
    const rest = all.subarray(cutBytes);
    this.#pending = [rest];
    this.#pendingBytes = rest.length;
    return masked === piece ? all.subarray(0, cutBytes) : Buffer.from(masked, "utf8");
  }

  /** Where a long line's piece ends (a character index in the window `text`). */
  #choosePieceEnd(text: string): number {
    let cut = Math.max(1, text.length - this.#overlap);
    // Prefer to cut just after a space or tab in the half-overlap before the target.
    const floor = Math.max(1, cut - (this.#overlap >> 1));
    for (let i = cut - 1; i >= floor; i--) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9) {
        cut = i + 1;
        break;
      }
    }
    // Never cut inside a value the window shows (or a key's END line): move
    // before it, or past it when it starts the window.
    const spans: Array<{ start: number; end: number }> = [];
    if (this.#openKey !== undefined) {
      const footerAt = text.indexOf(this.#openKey.footer);
      if (footerAt !== -1)
        spans.push({ start: footerAt, end: footerAt + this.#openKey.footer.length });
    } else {
      spans.push(...this.#engine.findings(text, this.#context()));
    }
    for (const span of spans) {
      if (span.start < cut && cut < span.end) cut = span.start > 0 ? span.start : span.end;
    }
    // Not between the halves of a surrogate pair.
    if (cut < text.length && isLowSurrogate(text.charCodeAt(cut)) && cut > 1) cut--;
    return cut;
  }

  #context(): ScanContext | undefined {
    return this.#before === undefined ? undefined : { before: this.#before };
  }

  /** A line or a long line's piece, through the private-key state machine. */
  #maskSegment(text: string): string {
    const key = this.#openKey;
    if (key === undefined) return this.#maskOutsideKey(text);
    const footerAt = text.indexOf(key.footer);
    if (footerAt === -1) return this.#maskKeyBody(key, text);
    this.#openKey = undefined;
    const body = this.#maskKeyBody(key, text.slice(0, footerAt));
    return body + this.#maskOutsideKey(text.slice(footerAt));
  }

  #maskOutsideKey(text: string): string {
    const masked = this.#maskAfterWordHead(text);
    if (this.#keys) {
      // The BEGIN line's start may have been flushed already.
      const seen = this.#lineHead + text;
      if (seen.includes(BEGIN)) this.#openKey = openKey(seen);
    }
    return masked;
  }

  /**
   * `text` masked as the rest of the word `flushSafePrefix` began (`GB` of
   * `GB82 WEST…`, `jane.do` of an email), so the value is still found. The
   * flushed head is gone; when the style keeps lengths, the rest of the
   * masked value is what follows it.
   */
  #maskAfterWordHead(text: string): string {
    const head = this.#wordHead;
    this.#wordHead = "";
    if (head === "") return this.#engine.mask(text, this.#context(), this.#onFinding);
    const whole = head + text;
    const masked = this.#engine.mask(whole, this.#context(), this.#onFinding);
    if (masked.length === whole.length) return masked.slice(head.length);
    return this.#engine.mask(text, this.#context());
  }

  /**
   * Key body text (base64 lines, `Proc-Type:` headers): masked by the
   * engine as if it followed its BEGIN line, so the profile's style for
   * private keys applies. Should the key's finding lose an overlap to
   * another detector, every visible character is starred instead.
   */
  #maskKeyBody(key: OpenKey, body: string): string {
    if (body.length === 0) return body;
    let sawKey = false;
    const masked = this.#engine.mask(key.header + body, undefined, (id) => {
      if (id === PEM_ID) sawKey = true;
    });
    if (!key.counted) {
      key.counted = true;
      this.#onFinding?.(PEM_ID);
    }
    if (sawKey && masked.startsWith(key.header)) return masked.slice(key.header.length);
    return body.replace(/\S/g, "*");
  }
}

/**
 * The private key `text` opens and does not close, if any. The PEM
 * detector decides what a private-key header is: it masks a key whose END
 * line is missing up to the end of the text, so a finding that reaches the
 * end of `text + "\n"` is an open key.
 */
function openKey(text: string): OpenKey | undefined {
  const probe = `${text}\n`;
  const last = pemPrivateKeyDetector.scan(probe).at(-1);
  if (last === undefined || last.end !== probe.length) return undefined;
  const header = text.slice(text.lastIndexOf(BEGIN, last.start), last.start);
  // A body on the opening line was found (and counted) by the engine already.
  return { header, footer: header.replace(BEGIN, "-----END "), counted: last.start < text.length };
}

const MONTH =
  /^(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?$/i;
const SPACE = /\s/;

/** Whether the whitespace after `word` may be inside a spaced value (card, IBAN, phone, date). */
function gluesNext(word: string, glued: boolean): boolean {
  if (/\d[^\p{L}\p{N}]*$|\d(?:st|nd|rd|th)$/iu.test(word)) return true;
  return MONTH.test(word) || (glued && /^[A-Za-z0-9]{1,4}$/.test(word));
}

/** Where the text after the last break (whitespace no spaced value goes on across) starts. */
function lastBreakEnd(line: string): number {
  let after = 0;
  let glued = false;
  let wordStart = 0;
  for (let i = 0; i < line.length; i++) {
    if (!SPACE.test(line[i] as string)) continue;
    if (wordStart < i) glued = gluesNext(line.slice(wordStart, i), glued);
    if (!glued) after = i + 1;
    wordStart = i + 1;
  }
  return after;
}

/** Where the kept tail of an unfinished line starts: its length when nothing may start a value. */
function keptTailStart(line: string): number {
  const start = lastBreakEnd(line);
  const tail = line.slice(start);
  return mayStartValue(tail) ? start : line.length;
}

/**
 * Whether a word may be (the start of) a sensitive value: it holds a digit
 * or `@` (cards, accounts, SSNs, phones, dates, emails, most tokens), or is
 * upper case of 8 letters or more (SWIFT/BIC codes), or mixes cases over 16
 * (letter-only tokens). A lower-case word never is: typed commands and
 * prose go out at once, however long.
 */
function mayStartValue(word: string): boolean {
  if (/[\d@]/.test(word)) return true;
  if (word.length >= 8 && /^[A-Z]+$/.test(word)) return true;
  return word.length >= 16 && /[A-Z]/.test(word) && /[a-z]/.test(word);
}

/** Where a character cut off by the end of `bytes` starts (`bytes.length` when none is). */
function completeCharsEnd(bytes: Buffer): number {
  for (let i = bytes.length - 1; i >= 0 && i >= bytes.length - 3; i--) {
    const b = bytes[i] as number;
    if ((b & 0xc0) === 0x80) continue;
    const size = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return i + size > bytes.length ? i : bytes.length;
  }
  return bytes.length;
}

/** `at`, moved back to the first byte of the UTF-8 character it falls in (at most 3 bytes back). */
function charStart(bytes: Buffer, at: number): number {
  const end = Math.min(at, bytes.length);
  for (let i = end; i > end - 4 && i > 0; i--) {
    if (i === bytes.length || ((bytes[i] as number) & 0xc0) !== 0x80) return i;
  }
  return end;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** `TextMasker` as a Transform stream: backpressure and errors as Node streams do them. */
export function textMaskingStream(engine: MaskingEngine, options?: TextMaskerOptions): Transform {
  const masker = new TextMasker(engine, options);
  const emit = (stream: Transform, parts: Buffer[]) => {
    if (parts.length > 0) stream.push(parts.length === 1 ? parts[0] : Buffer.concat(parts));
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      try {
        emit(this, masker.push(chunk));
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
    flush(callback) {
      try {
        emit(this, masker.end());
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
  });
}
