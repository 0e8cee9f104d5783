/**
 * One cheap look at a string before the detectors run: which classes of
 * character it holds (see char-classes.ts), and bounds on the runs the
 * digit- and capital-shaped detectors need. The engine uses it to skip
 * detectors that cannot match; see `prefilter.ts` for what each one needs.
 *
 * The constructor reads every character once, with one table lookup and two
 * counters. The finer digit shapes (digit-shapes.ts) are measured lazily,
 * the first time a gate asks: most strings never pay for them.
 */
import { CLASSES, DIGITS_ONLY } from "./char-classes.ts";
import { type DigitShapes, LONG_RUN, measureDigitShapes } from "./digit-shapes.ts";

/** classes, NUMBERISH run bound, CAPITAL run bound: measureClasses' answer. */
const measured = new Int32Array(3);

/**
 * One pass over the characters: the classes seen and bounds on the longest
 * NUMBERISH and CAPITAL runs, left in `measured` (no allocation).
 *
 * Short strings are read with `charCodeAt`, and the bound kept is the OR of
 * every run's length as it grows: never below the longest run, with the same
 * highest bit (a bound of 16 or more means a run of 16 or more). A running
 * maximum would be exact, but its compare is a coin toss in hex text and
 * the mispredicted branches cost as much as the rest of the loop.
 *
 * Long ASCII strings (base64 blobs, config files) are copied into a byte
 * buffer first, which reads faster, and there the NUMBERISH bound is the
 * exact maximum: a loose one would send base64 to the digit measurement
 * every time (the capital bound's gates are written for the loose bound).
 */
function measureClasses(text: string): void {
  const n = text.length;
  // UTF-8 has one byte per character only for ASCII: the write doubles as the check.
  if (n >= LONG_STRING && n <= MAX_COPIED && scratch.write(text, 0, "utf8") === n) {
    measureAsciiBytes(scratch, n);
  } else {
    measureChars(text);
  }
}

const LONG_STRING = 64;
/** Any string up to this long fits the scratch buffer even as 3-byte UTF-8. */
const MAX_COPIED = 32 * 1024;
const scratch = Buffer.allocUnsafe(3 * MAX_COPIED);

// In both loops the bits are spelt as literals (NON_ASCII = 4096, NUMBERISH
// = 1 << 13, CAPITAL = 1 << 14): V8 reloads module-level constants on every
// iteration, which costs these loops about 15%. The counters are branch-free.

function measureChars(text: string): void {
  let classes = 0;
  let numberish = 0;
  let numberishBound = 0;
  let capital = 0;
  let capitalBound = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const k = c < 128 ? (CLASSES[c] as number) : 4096;
    classes |= k;
    numberish = (numberish + 1) & -((k >> 13) & 1);
    numberishBound |= numberish;
    capital = (capital + 1) & -((k >> 14) & 1);
    capitalBound |= capital;
  }
  measured[0] = classes;
  measured[1] = numberishBound;
  measured[2] = capitalBound;
}

function measureAsciiBytes(bytes: Buffer, n: number): void {
  let classes = 0;
  let numberish = 0;
  let longestNumberish = 0;
  let capital = 0;
  let capitalBound = 0;
  for (let i = 0; i < n; i++) {
    const k = CLASSES[bytes[i] as number] as number;
    classes |= k;
    numberish = (numberish + 1) & -((k >> 13) & 1);
    // biome-ignore lint/complexity/useMathMinMax: Math.max is measurably slower in this loop.
    longestNumberish = longestNumberish > numberish ? longestNumberish : numberish;
    capital = (capital + 1) & -((k >> 14) & 1);
    capitalBound |= capital;
  }
  measured[0] = classes;
  measured[1] = longestNumberish;
  measured[2] = capitalBound;
}

export class TextProfile {
  readonly text: string;
  /** The OR of the classes of every character. */
  readonly classes: number;
  /**
   * A bound on the longest run of digits and number or date separators
   * (space - . ( ) /), which bounds every digit shape (see measureClasses).
   */
  readonly numberishBound: number;
  /**
   * A bound on the longest run of capitals, digits and spaces: 8 or more
   * means a run of 8 or more, 16 or more a run of 16 or more.
   */
  readonly capitalBound: number;
  #digits: DigitShapes | undefined;

  constructor(text: string) {
    this.text = text;
    measureClasses(text);
    this.classes = measured[0] as number;
    this.numberishBound = measured[1] as number;
    this.capitalBound = measured[2] as number;
  }

  /** True when the text holds a character of any of the given classes. */
  has(classes: number): boolean {
    return (this.classes & classes) !== 0;
  }

  /** A maximal run of `min` (four or more) to `max` digits. */
  hasDigitRun(min: number, max = LONG_RUN): boolean {
    if (this.numberishBound < min) return false;
    const upTo = max >= LONG_RUN ? 0x7fffffff : (1 << (max + 1)) - 1;
    const lengths = upTo & ~((1 << min) - 1);
    return (this.#digitShapes(min).runLengths & lengths) !== 0;
  }

  /** At least `min` (four or more) digits in one run of digits and number separators. */
  numberDigitsAtLeast(min: number): boolean {
    return this.numberishBound >= min && this.#digitShapes(min).numberDigits >= min;
  }

  /** A numeric date's shape: `1985-03-12`, `12/03/1985`, `1.2.85`. */
  get dateLike(): boolean {
    return this.numberishBound >= 6 && this.#digitShapes(6).dateLike;
  }

  /** An SSN's grouped shape: `536-90-4399`, `536 90 4399`. */
  get ssnGrouped(): boolean {
    return this.numberishBound >= 11 && this.#digitShapes(11).ssnGrouped;
  }

  #digitShapes(min: number): DigitShapes {
    if (this.#digits === undefined || this.#digits.exactFrom > min) {
      this.#digits = measureDigitShapes(this.text, min, this.classes === DIGITS_ONLY);
    }
    return this.#digits;
  }
}
