/**
 * IBAN: a country code, two check digits and the country's BBAN, with the
 * length the SWIFT IBAN registry sets for that country and ISO 13616 mod-97
 * equal to 1. Printed electronically (`GB82WEST12345698765432`) or in groups
 * of four (`GB82 WEST 1234 5698 7654 32`). Upper case only, as printed.
 */
import type { Detector, Finding, MaskStyle, ScanContext } from "../detector.ts";
import { applyMaskStyle, maskKeeping } from "../mask-style.ts";
import { forEachSpan, gluedAt, spanChars } from "./scan.ts";

/**
 * IBAN length per country: the 89 countries of the SWIFT IBAN Registry.
 * Checked entry by entry against the registry's TXT edition
 * (swift.com iban-registry_1.txt, as transcribed in a third-party validator)
 * and Circle's ISO 13616 length table; the registry's example IBANs of the
 * recently added countries pass `isIban` (iban.test.ts). The Release 103
 * PDF was located but could not be read page by page. Territories that use
 * another country's format (French overseas departments use FR, Åland uses
 * FI) are not listed separately.
 */
const IBAN_LENGTHS: ReadonlyMap<string, number> = new Map(
  (
    "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 " +
    "DK18 DO28 EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HN28 HR21 HU28 " +
    "IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 " +
    "MK19 MN20 MR27 MT31 MU30 NI28 NL18 NO15 OM23 PK24 PL28 PS29 PT25 QA29 RO24 RS22 RU33 SA24 " +
    "SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20 YE30"
  )
    .split(" ")
    .map((entry) => [entry.slice(0, 2), Number(entry.slice(2))] as const),
);

const isDigit = (c: number) => c >= 48 && c <= 57;
const isUpper = (c: number) => c >= 65 && c <= 90;

/** ISO 7064 mod 97-10 over the rearranged IBAN (first four characters moved to the end). */
export function ibanChecksumValid(compact: string): boolean {
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let rem = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i);
    rem = isDigit(c) ? (rem * 10 + (c - 48)) % 97 : (rem * 100 + (c - 55)) % 97;
  }
  return rem === 1;
}

/** Compact (unspaced) IBAN text valid by country length and mod-97. */
export function isIban(compact: string): boolean {
  const length = IBAN_LENGTHS.get(compact.slice(0, 2));
  return length === compact.length && ibanChecksumValid(compact);
}

/**
 * Reads `length` IBAN characters from `start`, either unbroken or in groups of
 * four joined by single spaces. Returns the end index and compact form.
 */
function readIban(text: string, start: number, length: number) {
  let compact = "";
  let i = start;
  let spaced = false;
  while (compact.length < length && i < text.length) {
    const c = text.charCodeAt(i);
    if (isDigit(c) || isUpper(c)) {
      compact += text[i];
      i++;
      continue;
    }
    // A space is allowed only between groups of four.
    if (c !== 32 || compact.length % 4 !== 0) return undefined;
    if (!spaced && compact.length !== 4) return undefined;
    spaced = true;
    i++;
    if (i >= text.length || text.charCodeAt(i) === 32) return undefined;
  }
  if (compact.length < length) return undefined;
  return { end: i, compact };
}

/** The shortest IBAN (Norway). */
const MIN_LENGTH = 15;

const IBAN_CHARS = spanChars((c) => isUpper(c) || isDigit(c) || c === 32);

function scanIbans(text: string): Finding[] {
  const findings: Finding[] = [];
  // Prefilter: an IBAN lies inside a span of ≥15 capitals, digits and spaces.
  forEachSpan(text, MIN_LENGTH, IBAN_CHARS, (s, e) => {
    for (let i = s; i <= e - MIN_LENGTH; i++) {
      const found = ibanAt(text, i);
      if (found !== -1) {
        findings.push({ start: i, end: found, detector: "iban" });
        i = found - 1;
      }
    }
  });
  return findings;
}

/** The end of an IBAN starting at `i`, or -1. */
function ibanAt(text: string, i: number): number {
  if (
    !isUpper(text.charCodeAt(i)) ||
    !isUpper(text.charCodeAt(i + 1)) ||
    !isDigit(text.charCodeAt(i + 2)) ||
    !isDigit(text.charCodeAt(i + 3))
  ) {
    return -1;
  }
  const length = IBAN_LENGTHS.get(text.slice(i, i + 2));
  if (length === undefined || gluedAt(text, i - 1, -1)) return -1;
  const read = readIban(text, i, length);
  if (read === undefined || gluedAt(text, read.end, 1) || !ibanChecksumValid(read.compact)) {
    return -1;
  }
  return read.end;
}

export const ibanDetector: Detector = {
  id: "iban",
  scan(text: string, _context?: ScanContext): Finding[] {
    return scanIbans(text);
  },
  mask(value: string, style: MaskStyle, hashKey?: Uint8Array): string {
    return applyMaskStyle("iban", value, style, hashKey, (v) => maskKeeping(v, 2, 2));
  },
};
