/**
 * Digit shapes, for the gates of the digit-shaped detectors: which maximal
 * digit runs there are, the most digits in one phone- or card-like run, a
 * numeric date, an SSN's 3-2-4 groups. Measured only when a gate asks (see
 * TextProfile), by reading the digits run by run.
 */
import { CLASSES, DATE_SEPARATOR, NUMBER_SEPARATOR, NUMBERISH } from "./char-classes.ts";

export interface DigitShapes {
  /** Bit L set when a maximal run of exactly L digits exists; bit 30 for 30 or more. */
  runLengths: number;
  /** Most digits in one run of digits and number separators (`+1 (415) 555-2671`: 11). */
  numberDigits: number;
  /** A run of digits and date separators, six or more long, with two separators (`1/2/85`). */
  dateLike: boolean;
  /** Digit runs of 3, 2 and 4 joined by the same single `-` or space (`536-90-4399`). */
  ssnGrouped: boolean;
  /** The shapes are exact for questions about this many characters or more. */
  exactFrom: number;
}

export const LONG_RUN = 30;

/**
 * The digit shapes of `text`, and from how many characters on they are
 * exact: a text of nothing but digits is one run; in any other only the
 * NUMBERISH spans at least six (or, for questions about shorter shapes,
 * four) characters long are read, which answers every question about that
 * many characters or more. Probing one character in six instead of four is
 * cheaper, and only the date-of-birth gate asks about four.
 */
export function measureDigitShapes(text: string, min: number, digitsOnly: boolean): DigitShapes {
  const shapes: DigitShapes = {
    runLengths: 0,
    numberDigits: 0,
    dateLike: false,
    ssnGrouped: false,
    exactFrom: 0,
  };
  if (digitsOnly) {
    // One run, the whole text: nothing to read.
    shapes.runLengths = 1 << Math.min(text.length, LONG_RUN);
    shapes.numberDigits = text.length;
    return shapes;
  }
  shapes.exactFrom = min >= 6 ? 6 : 4;
  measureSpans(text, shapes.exactFrom, shapes);
  return shapes;
}

function isNumberish(c: number): boolean {
  return c < 128 && ((CLASSES[c] as number) & NUMBERISH) !== 0;
}

/**
 * Every digit shape lies inside one span of NUMBERISH characters; only
 * spans of `min` or more are read, found by probing one character in `min`
 * (the `forEachSpan` lattice, written out: locals beat a callback here).
 */
function measureSpans(text: string, min: number, shapes: DigitShapes): void {
  const n = text.length;
  let p = min - 1;
  while (p < n) {
    if (!isNumberish(text.charCodeAt(p))) {
      p += min;
      continue;
    }
    let s = p;
    while (s > 0 && isNumberish(text.charCodeAt(s - 1))) s--;
    let e = p + 1;
    while (e < n && isNumberish(text.charCodeAt(e))) e++;
    p = e + min;
    if (e - s >= min) measureSpan(text, s, e, shapes);
  }
}

/**
 * Digit runs, digits between number separators, date runs, and 3-2-4
 * groups, in `text[s..e)`: a NUMBERISH span, or any text (other characters
 * end runs and groups as the span's end would).
 */
function measureSpan(text: string, s: number, e: number, shapes: DigitShapes): void {
  let runLengths = 0;
  let numberDigits = 0;
  let dateLike = false;
  let ssnGrouped = false;
  let run = 0;
  // Digits since the last character that is no number separator; date
  // characters (digits, - / .) since the last that is none, and how many of
  // those are separators.
  let number = 0;
  let date = 0;
  let dateSeparators = 0;
  // The last two digit runs, and the single separator before each (-1: none, or more than one).
  let lastEnd = -1;
  let previous = 0;
  let beforePrevious = 0;
  let gap = -1;
  let previousGap = -1;
  for (let i = s; i <= e; i++) {
    const c = i < e ? text.charCodeAt(i) : -1;
    if (isDigitCode(c)) {
      if (run === 0) gap = lastEnd !== -1 && i - lastEnd === 1 ? text.charCodeAt(lastEnd) : -1;
      run++;
      number++;
      date++;
      if (number > numberDigits) numberDigits = number;
      if (date >= 6 && dateSeparators >= 2) dateLike = true;
      continue;
    }
    if (run > 0) {
      runLengths |= 1 << Math.min(run, LONG_RUN);
      if (run === 4 && previous === 2 && beforePrevious === 3 && gap === previousGap) {
        if (gap === 45 || gap === 32) ssnGrouped = true;
      }
      beforePrevious = previous;
      previous = run;
      previousGap = gap;
      lastEnd = i;
      run = 0;
    }
    // A number separator keeps the digits counted; a date separator extends the date.
    const k = c >= 0 && c < 128 ? (CLASSES[c] as number) : 0;
    if ((k & NUMBER_SEPARATOR) === 0) number = 0;
    if ((k & DATE_SEPARATOR) === 0) {
      date = 0;
      dateSeparators = 0;
    } else {
      date++;
      dateSeparators++;
    }
  }
  shapes.runLengths |= runLengths;
  if (numberDigits > shapes.numberDigits) shapes.numberDigits = numberDigits;
  if (dateLike) shapes.dateLike = true;
  if (ssnGrouped) shapes.ssnGrouped = true;
}

function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}
