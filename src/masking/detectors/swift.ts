/**
 * SWIFT/BIC codes (ISO 9362): 4 letters of bank, an ISO 3166 country, 2
 * letters/digits of location and an optional 3 of branch. Eight capitals look
 * like an ordinary word (`DEPLOYED`), so a code is reported only next to the
 * words `swift` or `bic`.
 */
import type { Detector, Finding, MaskStyle, ScanContext } from "../detector.ts";
import { applyMaskStyle, maskKeeping } from "../mask-style.ts";
import { forEachSpan, hasInlineContext, hasOutsideContext, spanChars } from "./scan.ts";

const WORDS = ["swift", "bic"] as const;

/**
 * ISO 3166-1 alpha-2: the 249 officially assigned codes (checked against the
 * ISO 3166/MA list as published in wooorm/iso-3166), plus the user-assigned
 * XK (Kosovo), which SWIFT uses in BICs.
 */
const COUNTRIES = new Set(
  (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ " +
    "BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM " +
    "DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS " +
    "GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN " +
    "KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ " +
    "MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM " +
    "PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV " +
    "SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI " +
    "VN VU WF WS XK YE YT ZA ZM ZW"
  ).split(" "),
);

const isDigit = (c: number) => c >= 48 && c <= 57;
const isUpper = (c: number) => c >= 65 && c <= 90;
const isAlnum = (c: number) => isDigit(c) || isUpper(c) || (c >= 97 && c <= 122);

/** A BIC of 8 or 11 characters with a known country. */
export function isBic(code: string): boolean {
  if (code.length !== 8 && code.length !== 11) return false;
  for (let i = 0; i < code.length; i++) {
    const c = code.charCodeAt(i);
    if (i < 6 ? !isUpper(c) : !(isUpper(c) || isDigit(c))) return false;
  }
  return COUNTRIES.has(code.slice(4, 6));
}

const MENTION = /swift|bic/i;
const CODE_CHARS = spanChars((c) => isUpper(c) || isDigit(c));

function scanBics(text: string, context: ScanContext | undefined): Finding[] {
  const findings: Finding[] = [];
  const outside = hasOutsideContext(WORDS, context);
  // Prefilter: without a context word outside, the string itself must name one.
  if (!outside && !MENTION.test(text)) return findings;
  // Prefilter: a code is a span of 8 or 11 capitals/digits standing alone.
  forEachSpan(text, 8, CODE_CHARS, (s, e) => {
    if (
      (e - s === 8 || e - s === 11) &&
      !isAlnum(text.charCodeAt(s - 1)) &&
      !isAlnum(text.charCodeAt(e)) &&
      isBic(text.slice(s, e)) &&
      (outside || hasInlineContext(WORDS, text, s))
    ) {
      findings.push({ start: s, end: e, detector: "swift" });
    }
  });
  return findings;
}

export const swiftDetector: Detector = {
  id: "swift",
  scan(text: string, context?: ScanContext): Finding[] {
    return scanBics(text, context);
  },
  mask(value: string, style: MaskStyle, hashKey?: Uint8Array): string {
    return applyMaskStyle("swift", value, style, hashKey, (v) => maskKeeping(v, 6, 0));
  },
};
