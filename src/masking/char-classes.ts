/**
 * Character classes for the masking prefilter: one table lookup gives every
 * class an ASCII character belongs to (digit, capital, the separators that
 * numbers and dates use, a few punctuation marks and letters that tokens and
 * context words need).
 */

/** Character classes, OR-ed into `TextProfile.classes`. */
export const DIGIT = 1 << 0;
export const UPPER = 1 << 1;
export const LOWER = 1 << 2;
/** ASCII whitespace: what `\s` matches below 128. */
export const SPACE = 1 << 3;
export const AT = 1 << 4;
export const PLUS = 1 << 5;
export const COLON = 1 << 6;
export const EQUALS = 1 << 7;
export const DASH = 1 << 8;
export const DOT = 1 << 9;
export const UNDERSCORE = 1 << 10;
export const QUOTE = 1 << 11;
/** Any character above 127 (it may be Unicode whitespace, for instance). */
export const NON_ASCII = 1 << 12;
/** Digits and the separators of numbers and dates (space - . ( ) /). */
export const NUMBERISH = 1 << 13;
/** Capitals, digits and the space (IBAN groups, BICs, AWS key ids). */
export const CAPITAL = 1 << 14;
export const SLASH = 1 << 15;
/** Letters in either case, for the words and prefixes the gates look for. */
export const LETTER_A = 1 << 16;
export const LETTER_B = 1 << 17;
export const LETTER_E = 1 << 18;
export const LETTER_I = 1 << 19;
export const LETTER_P = 1 << 20;
export const LETTER_S = 1 << 21;
export const LETTER_T = 1 << 22;
export const LETTER_W = 1 << 23;
/** A separator inside phone and card numbers (space - . ( )), inside numeric dates (- / .). */
export const NUMBER_SEPARATOR = 1 << 24;
export const DATE_SEPARATOR = 1 << 25;

const isDigit = (c: number) => c >= 48 && c <= 57;
/** Separators inside phone and card numbers: space - . ( ) */
const isNumberSeparator = (c: number) => c === 32 || c === 45 || c === 46 || c === 40 || c === 41;
/** Separators inside numeric dates: - / . */
const isDateSeparator = (c: number) => c === 45 || c === 47 || c === 46;

/** Any other ASCII character (`#`, `!`, control characters): every character has a class. */
export const OTHER = 1 << 26;

/** A text of nothing but digits has exactly these classes. */
export const DIGITS_ONLY = DIGIT | NUMBERISH | CAPITAL;

/** The classes of each ASCII character; any other character is NON_ASCII only. */
export const CLASSES = new Uint32Array(128);
for (let c = 0; c < 128; c++) {
  let k = 0;
  if (isDigit(c)) k |= DIGIT | NUMBERISH | CAPITAL;
  if (c >= 65 && c <= 90) k |= UPPER | CAPITAL;
  if (c >= 97 && c <= 122) k |= LOWER;
  if (c === 32 || (c >= 9 && c <= 13)) k |= SPACE;
  if (isNumberSeparator(c)) k |= NUMBERISH | NUMBER_SEPARATOR;
  if (isDateSeparator(c)) k |= NUMBERISH | DATE_SEPARATOR;
  if (c === 32) k |= CAPITAL;
  const singles: Array<[string, number]> = [
    ["@", AT],
    ["+", PLUS],
    [":", COLON],
    ["=", EQUALS],
    ["-", DASH],
    [".", DOT],
    ["_", UNDERSCORE],
    ['"', QUOTE],
    ["/", SLASH],
    ["a", LETTER_A],
    ["b", LETTER_B],
    ["e", LETTER_E],
    ["i", LETTER_I],
    ["p", LETTER_P],
    ["s", LETTER_S],
    ["t", LETTER_T],
    ["w", LETTER_W],
  ];
  for (const [ch, bit] of singles) {
    if (String.fromCharCode(c).toLowerCase() === ch) k |= bit;
  }
  CLASSES[c] = k === 0 ? OTHER : k;
}
