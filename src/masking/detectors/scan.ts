/**
 * What the digit- and word-shaped detectors share: the span prefilter that
 * lets text without candidates be probed at one character in `min`, the
 * test that a value is glued into a longer token, and context words (in the
 * JSON key, in the text before the value, or just before it in the string).
 */
import type { ScanContext } from "../detector.ts";

/** How far back a context word may stand: in `before`, and just before the value in the same string. */
const BEFORE_WINDOW = 32;
const INLINE_WINDOW = 20;

const isDigit = (c: number) => c >= 48 && c <= 57;
const isLower = (c: number) => c >= 97 && c <= 122;
const isUpperCode = (c: number) => c >= 65 && c <= 90;
const isLetter = (c: number) => isLower(c) || isUpperCode(c);
const isAlnum = (c: number) => isDigit(c) || isLetter(c);
const isJoiner = (c: number) => c === 45 || c === 95 || c === 46;

/** True when `text[at]` (with `text[at + step]`) glues the value to a neighbouring token. */
export function gluedAt(text: string, at: number, step: 1 | -1): boolean {
  if (at < 0 || at >= text.length) return false;
  const c = text.charCodeAt(at);
  if (isAlnum(c)) return true;
  if (!isJoiner(c)) return false;
  const next = at + step;
  return next >= 0 && next < text.length && isAlnum(text.charCodeAt(next));
}

/** A table of the ASCII characters a span may hold: one array read per probe, the same call shape for every detector. */
export function spanChars(accepts: (c: number) => boolean): Uint8Array {
  const table = new Uint8Array(128);
  for (let c = 0; c < 128; c++) table[c] = accepts(c) ? 1 : 0;
  return table;
}

/**
 * Calls `visit(start, end)` for every maximal span of at least `min`
 * characters in `chars`. Any such span covers one index of the stride-`min`
 * lattice, so text without one is probed at one character in `min`: the
 * prefilter every digit-shaped detector starts with.
 */
export function forEachSpan(
  text: string,
  min: number,
  chars: Uint8Array,
  visit: (start: number, end: number) => void,
): void {
  const n = text.length;
  let p = min - 1;
  while (p < n) {
    if (chars[text.charCodeAt(p)] !== 1) {
      p += min;
      continue;
    }
    let s = p;
    while (s > 0 && chars[text.charCodeAt(s - 1)] === 1) s--;
    let e = p + 1;
    while (e < n && chars[text.charCodeAt(e)] === 1) e++;
    if (e - s >= min) visit(s, e);
    p = e + min;
  }
}

/**
 * True when `words` occurs in `s` as a word: not inside a longer word
 * (`database` does not contain `aba`), but camelCase and snake_case parts
 * count (`routingNumber`, `BANK_ACCT`), and a plural `s` is allowed.
 */
export function containsWord(s: string, words: readonly string[]): boolean {
  const lower = s.toLowerCase();
  for (const word of words) {
    let at = lower.indexOf(word);
    while (at !== -1) {
      const prev = at > 0 ? s.charCodeAt(at - 1) : 0;
      const startOk =
        !isLetter(prev) ||
        (isLower(prev) && isUpperCode(s.charCodeAt(at))) ||
        !isLetter(s.charCodeAt(at));
      let after = at + word.length;
      if (lower.charCodeAt(after) === 115 && !isLetter(s.charCodeAt(after + 1))) after++; // plural
      const next = after < s.length ? s.charCodeAt(after) : 0;
      const endOk = !isLetter(next) || (isUpperCode(next) && isLower(s.charCodeAt(after - 1)));
      if (startOk && endOk) return true;
      at = lower.indexOf(word, at + 1);
    }
  }
  return false;
}

/** A context word in the key or in `before`: checked once per scanned string. */
export function hasOutsideContext(
  words: readonly string[],
  context: ScanContext | undefined,
): boolean {
  if (context?.key !== undefined && containsWord(context.key, words)) return true;
  return context?.before !== undefined && containsWord(context.before.slice(-BEFORE_WINDOW), words);
}

/** A context word just before `start` in the same string. */
export function hasInlineContext(words: readonly string[], text: string, start: number): boolean {
  return start > 0 && containsWord(text.slice(Math.max(0, start - INLINE_WINDOW), start), words);
}
