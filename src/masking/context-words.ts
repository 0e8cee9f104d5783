/**
 * The context words of the context-bound detectors (bank account, routing
 * number, plain SSN/ITIN, BIC, national phone number, date of birth), for
 * the prefilter: does the key, `before` or the text mention one?
 *
 * Each group is matched as substrings in any case. A detector's own test
 * (`containsWord`, which lower-cases, or its case-insensitive regex) over
 * the same string or a part of it implies a match here, so the prefilter
 * never says no where the detector would say yes. The Kelvin sign is spelt
 * out: it lower-cases to `k` (`containsWord` sees "bank"), yet a
 * case-insensitive regex without the `u` flag does not match it for `k`.
 */

import { LETTER_A, LETTER_B, LETTER_E, LETTER_I, LETTER_S, LETTER_T } from "./char-classes.ts";
import type { ScanContext } from "./detector.ts";
import { secretKind } from "./detectors/entropy.ts";
import type { TextProfile } from "./text-profile.ts";

export const ROUTING_WORDS = 1 << 0;
export const ACCOUNT_WORDS = 1 << 1;
export const SSN_WORDS = 1 << 2;
export const ITIN_WORDS = 1 << 3;
export const BIC_WORDS = 1 << 4;
export const PHONE_WORDS = 1 << 5;
export const DOB_WORDS = 1 << 6;
/** Not a word: the key names a secret (`secretKind`), the secret-value detector's key path. */
export const SECRET_KEY = 1 << 7;

/**
 * Each group's words, as aba.ts, ssn.ts, swift.ts, phone.ts and dob.ts list
 * them, with class letters every one of its words has: a text without any
 * of them is not searched.
 */
const GROUPS: ReadonlyArray<[group: number, letters: number, words: readonly string[]]> = [
  [ROUTING_WORDS, LETTER_A | LETTER_T, ["routing", "aba", "rtn", "bank", "transit"]],
  [ACCOUNT_WORDS, LETTER_A | LETTER_T, ["account", "acct", "a/c", "iban", "routing"]],
  [SSN_WORDS, LETTER_S, ["ssn", "social sec", "ss#", "ss no"]],
  [ITIN_WORDS, LETTER_T, ["tin", "taxpayer", "tax id"]],
  [BIC_WORDS, LETTER_I, ["swift", "bic"]],
  [PHONE_WORDS, LETTER_E | LETTER_A, ["phone", "mobile", "fax", "tel", "cell"]],
  [DOB_WORDS, LETTER_B, ["dob", "d.o.b", "birth", "born"]],
];
const ALL_WORDS = (1 << GROUPS.length) - 1;

// By bit position, for loops without destructuring (this runs for most strings).
const LETTERS: number[] = [];
const PATTERNS: RegExp[] = [];
for (const [group, letters, words] of GROUPS) {
  const g = 31 - Math.clz32(group);
  LETTERS[g] = letters;
  PATTERNS[g] = wordsPattern(words);
}

/**
 * The words as one case-insensitive regex. The Kelvin sign is spelt out for
 * k: it lower-cases to k (`containsWord` sees "bank"), yet a case-insensitive
 * regex without the `u` flag does not match it for k.
 */
function wordsPattern(words: readonly string[]): RegExp {
  const alternatives = words.map((word) =>
    word.replace(/[./#]/g, "\\$&").replace(/k/g, "[k\u212A]"),
  );
  return new RegExp(alternatives.join("|"), "i");
}

/** Which of `words` `s` mentions; `classes` (a TextProfile's) skips groups whose letters are absent. */
function wordsIn(s: string, words: number, classes = -1): number {
  let found = 0;
  for (let g = 0; g < PATTERNS.length; g++) {
    const group = 1 << g;
    if ((words & group) === 0 || (classes & (LETTERS[g] as number)) === 0) continue;
    if ((PATTERNS[g] as RegExp).test(s)) found |= group;
  }
  return found;
}

// Kubernetes bodies repeat a few hundred key names; look at each one once.
const KEY_CACHE_LIMIT = 4096;
const factsByKey = new Map<string, number>();

function keyFacts(key: string): number {
  let facts = factsByKey.get(key);
  if (facts === undefined) {
    if (factsByKey.size >= KEY_CACHE_LIMIT) factsByKey.clear();
    facts = wordsIn(key, ALL_WORDS) | (secretKind(key) !== undefined ? SECRET_KEY : 0);
    factsByKey.set(key, facts);
  }
  return facts;
}

/** The context words of the key (remembered) and of `before`, and SECRET_KEY. */
export function outsideFacts(context: ScanContext | undefined): number {
  if (context === undefined) return 0;
  const key = context.key === undefined ? 0 : keyFacts(context.key);
  return context.before === undefined ? key : key | wordsIn(context.before, ALL_WORDS);
}

/**
 * Which of `words` the key or `before` (`outside`, from outsideFacts) or the
 * text mention. Groups whose letters the text lacks are not searched; when
 * several are left, one regex of all their words answers the common case
 * (none), and only a match sends each group to its own regex.
 */
export function wordsSaid(p: TextProfile, outside: number, words: number): number {
  const said = outside & words;
  let rest = words & ~said;
  for (let g = 0; g < PATTERNS.length; g++) {
    if ((rest & (1 << g)) !== 0 && !p.has(LETTERS[g] as number)) rest &= ~(1 << g);
  }
  if (rest === 0) return said;
  if ((rest & (rest - 1)) !== 0 && !anyOf(rest).test(p.text)) return said;
  return said | wordsIn(p.text, rest);
}

const unions = new Map<number, RegExp>();

/** One case-insensitive regex for the words of several groups. */
function anyOf(groups: number): RegExp {
  let union = unions.get(groups);
  if (union === undefined) {
    const sources = PATTERNS.filter((_, g) => (groups & (1 << g)) !== 0).map((re) => re.source);
    union = new RegExp(sources.join("|"), "i");
    unions.set(groups, union);
  }
  return union;
}
