/**
 * What each built-in detector needs to see before it can find anything: a
 * gate over the string's `TextProfile` (and, for detectors that look at the
 * key, the key). A gate may say yes when the detector then finds nothing; it
 * must never say no when the detector would find something. The engine runs
 * a detector only when its gate says yes, so each string costs one pass over
 * its characters plus the detectors that could match, instead of every
 * detector's own prefilter.
 *
 * Each gate restates a necessary condition that its detector's file sets out
 * (the minimum digits, the separator it joins, the prefix it starts with).
 * Change a detector, revisit its gate: `engine.test.ts` compares the gated
 * engine with running every detector over generated strings.
 *
 * Bits are keyed by the detector object, not its id, so a custom detector
 * (which has no gate) always runs.
 */

import {
  AT,
  COLON,
  DASH,
  DIGIT,
  DIGITS_ONLY,
  DOT,
  EQUALS,
  LETTER_E,
  LETTER_P,
  LETTER_W,
  LOWER,
  NON_ASCII,
  PLUS,
  QUOTE,
  SLASH,
  SPACE,
  UNDERSCORE,
  UPPER,
} from "./char-classes.ts";
import {
  ACCOUNT_WORDS,
  BIC_WORDS,
  DOB_WORDS,
  ITIN_WORDS,
  outsideFacts,
  PHONE_WORDS,
  ROUTING_WORDS,
  SECRET_KEY,
  SSN_WORDS,
  wordsSaid,
} from "./context-words.ts";
import type { Detector, ScanContext } from "./detector.ts";
import { abaDetector, bankAccountDetector } from "./detectors/aba.ts";
import { cardDetector, isCardNumber } from "./detectors/card.ts";
import {
  awsAccessKeyIdDetector,
  awsSecretKeyDetector,
  gcpServiceAccountKeyDetector,
  githubTokenDetector,
  gitlabTokenDetector,
  slackTokenDetector,
} from "./detectors/cloud-tokens.ts";
import { connectionStringPasswordDetector } from "./detectors/connection-strings.ts";
import { dobDetector } from "./detectors/dob.ts";
import { emailDetector } from "./detectors/email.ts";
import { secretValueDetector } from "./detectors/entropy.ts";
import { ibanDetector } from "./detectors/iban.ts";
import { jwtDetector } from "./detectors/jwt.ts";
import { pemPrivateKeyDetector } from "./detectors/pem.ts";
import { phoneDetector } from "./detectors/phone.ts";
import { itinDetector, ssnDetector } from "./detectors/ssn.ts";
import { swiftDetector } from "./detectors/swift.ts";
import type { TextProfile } from "./text-profile.ts";

// One bit per built-in detector in `possibleDetectors`' answer.
const CARD = 1 << 0;
const IBAN = 1 << 1;
const ABA = 1 << 2;
const BANK_ACCOUNT = 1 << 3;
const SSN = 1 << 4;
const ITIN = 1 << 5;
const SWIFT = 1 << 6;
const PEM = 1 << 7;
const JWT = 1 << 8;
const AWS_ACCESS_KEY_ID = 1 << 9;
const AWS_SECRET_KEY = 1 << 10;
const GCP_KEY = 1 << 11;
const GITHUB = 1 << 12;
const GITLAB = 1 << 13;
const SLACK = 1 << 14;
const CONNECTION_STRING = 1 << 15;
const SECRET_VALUE = 1 << 16;
const EMAIL = 1 << 17;
const PHONE = 1 << 18;
const DOB = 1 << 19;

const BITS: ReadonlyMap<Detector, number> = new Map<Detector, number>([
  [cardDetector, CARD],
  [ibanDetector, IBAN],
  [abaDetector, ABA],
  [bankAccountDetector, BANK_ACCOUNT],
  [ssnDetector, SSN],
  [itinDetector, ITIN],
  [swiftDetector, SWIFT],
  [pemPrivateKeyDetector, PEM],
  [jwtDetector, JWT],
  [awsAccessKeyIdDetector, AWS_ACCESS_KEY_ID],
  [awsSecretKeyDetector, AWS_SECRET_KEY],
  [gcpServiceAccountKeyDetector, GCP_KEY],
  [githubTokenDetector, GITHUB],
  [gitlabTokenDetector, GITLAB],
  [slackTokenDetector, SLACK],
  [connectionStringPasswordDetector, CONNECTION_STRING],
  [secretValueDetector, SECRET_VALUE],
  [emailDetector, EMAIL],
  [phoneDetector, PHONE],
  [dobDetector, DOB],
]);

/** The detector's bit in `possibleDetectors`' answer; 0 for a detector without a gate (it always runs). */
export function detectorBit(detector: Detector): number {
  return BITS.get(detector) ?? 0;
}

/**
 * The built-in detectors that could find something in this string, as bits
 * (see `detectorBit`). Shapes first, since they are nearly free; then the
 * context words that the shapes found still need, looked for together.
 */
export function possibleDetectors(p: TextProfile, context: ScanContext | undefined): number {
  const outside = outsideFacts(context);
  let open = credentialShaped(p, context, outside);
  // An address's domain has a dot after the @.
  if (p.has(AT) && p.has(DOT) && p.text.lastIndexOf(".") > p.text.indexOf("@")) open |= EMAIL;
  // Detectors found by shape but still needing a context word, by word group.
  let needs = 0;
  if (p.has(DIGIT)) {
    // A text of nothing but digits is its only card candidate: validate it here
    // (order numbers, millisecond timestamps) rather than call the detector.
    if (p.classes === DIGITS_ONLY ? isCardNumber(p.text) : p.numberDigitsAtLeast(13)) open |= CARD;
    // `536-90-4399`, `536 90 4399`.
    if (p.has(DASH | SPACE) && p.ssnGrouped) open |= SSN | ITIN;
    if (p.hasDigitRun(9, 9)) needs |= ROUTING_WORDS | SSN_WORDS | ITIN_WORDS;
    if (p.hasDigitRun(6, 17)) needs |= ACCOUNT_WORDS;
    // E.164 anywhere (a `+` and 8 digits); national numbers (7 digits) with a context word.
    if (p.has(PLUS) && p.numberDigitsAtLeast(8)) open |= PHONE;
    else if (p.numberDigitsAtLeast(7)) needs |= PHONE_WORDS;
    // A numeric date, or `12 March 1985` (whitespace and a year).
    if (p.dateLike || (p.has(SPACE | NON_ASCII) && p.hasDigitRun(4))) needs |= DOB_WORDS;
  }
  if (p.has(UPPER)) {
    const run = p.capitalBound;
    // IBANs: 15 characters or more of capitals, digits and spaces. Only
    // Norway's are as short as 15, printed without spaces, and they are `NO`
    // and 13 digits; every other IBAN makes a run of 16 or more.
    const norway = run >= 15 && p.numberishBound >= 13 && p.text.includes("NO");
    if (p.has(DIGIT) && (run >= 16 || norway)) open |= IBAN;
    if (run >= 16 && (p.text.includes("AKIA") || p.text.includes("ASIA"))) {
      open |= AWS_ACCESS_KEY_ID;
    }
    if (run >= 8) needs |= BIC_WORDS;
  }
  if (needs === 0) return open;
  const said = wordsSaid(p, outside, needs);
  if ((said & ROUTING_WORDS) !== 0) open |= ABA;
  if ((said & SSN_WORDS) !== 0) open |= SSN;
  if ((said & ITIN_WORDS) !== 0) open |= ITIN;
  if ((said & ACCOUNT_WORDS) !== 0) open |= BANK_ACCOUNT;
  if ((said & PHONE_WORDS) !== 0) open |= PHONE;
  if ((said & DOB_WORDS) !== 0) open |= DOB;
  if ((said & BIC_WORDS) !== 0) open |= SWIFT;
  return open;
}

/**
 * The fixed prefix each token starts from (the classes of its characters
 * first, then the prefix itself), an assignment, or a key naming a secret.
 */
function credentialShaped(
  p: TextProfile,
  context: ScanContext | undefined,
  outside: number,
): number {
  const text = p.text;
  let open = 0;
  if (context?.key !== undefined) {
    // The AWS secret and GCP key detectors' key-only paths take a 40-character value.
    if (text.length === 40) open |= AWS_SECRET_KEY | GCP_KEY;
    if ((outside & SECRET_KEY) !== 0) open |= SECRET_VALUE;
  }
  if (p.has(COLON | EQUALS)) {
    // `://`; `password=`, `passwd:`, `pwd=`.
    if ((p.has(LETTER_P) && p.has(LETTER_W)) || (p.has(SLASH) && text.includes("://"))) {
      open |= CONNECTION_STRING;
    }
    // `token=`, `api_key:`, …: every key word of the text path has an e.
    if (p.has(LETTER_E)) open |= SECRET_VALUE;
    if (p.has(LETTER_W) && (text.includes("ccess") || text.includes("CCESS"))) {
      open |= AWS_SECRET_KEY;
    }
  }
  if (p.has(QUOTE) && p.has(LETTER_P) && text.includes('"private_key')) open |= GCP_KEY;
  if (p.has(DASH)) {
    if (p.has(SPACE) && p.has(UPPER) && text.includes("-----BEGIN ")) open |= PEM;
    if (p.has(LETTER_P) && text.includes("glpat-")) open |= GITLAB;
    if (p.has(LOWER) && (text.includes("xox") || text.includes("xapp-"))) open |= SLACK;
  }
  if (p.has(DOT) && p.has(LETTER_E) && text.includes("eyJ")) open |= JWT;
  if (p.has(UNDERSCORE) && text.length >= 40) open |= GITHUB;
  return open;
}
