/**
 * Custom detectors from configuration: a pattern in RE2 syntax, optionally
 * a checksum the match must pass and context words that must stand near it.
 * Patterns run on re2js, an RE2 port whose matching time is linear in the
 * text: a configured pattern such as `(a+)+$` cannot hang the gateway the way
 * a backtracking RegExp would. RE2 syntax has no backreferences or
 * lookaround; such patterns are refused when the detector is built.
 */
import { RE2JS } from "re2js";
import { z } from "zod";
import { detectorById } from "./defaults.ts";
import type { Detector, Finding, MaskStyle, ScanContext } from "./detector.ts";
import { isRoutingNumber } from "./detectors/aba.ts";
import { luhnValid } from "./detectors/card.ts";
import { ibanChecksumValid } from "./detectors/iban.ts";
import { hasInlineContext, hasOutsideContext } from "./detectors/scan.ts";
import { applyMaskStyle, maskKeeping } from "./mask-style.ts";

export const customValidators = ["luhn", "mod97", "aba"] as const;
export type CustomValidator = (typeof customValidators)[number];

const keep = z.number().int().min(0).max(64);

export const customDetectorSchema = z
  .object({
    /** Names the detector in profiles, masks (`[id]`) and the audit log. */
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]*$/, "ids are lower-case letters, digits and -")
      .refine((id) => detectorById(id) === undefined, "is the id of a built-in detector"),
    /** RE2 syntax (https://github.com/google/re2/wiki/Syntax); the whole match is masked. */
    pattern: z.string().min(1),
    /** `i`: case-insensitive. */
    flags: z.enum(["i"]).optional(),
    /** A checksum the match must pass: Luhn (cards), ISO 7064 mod 97-10 (IBAN), ABA 3-7-1. */
    validator: z.enum(customValidators).optional(),
    /**
     * The match counts only next to one of these words: in the JSON key, in
     * the text before the value, or just before the match in the same string.
     */
    contextWords: z.array(z.string().trim().min(1)).min(1).optional(),
    /** `partial` style: letters and digits kept at each end; the rest become `*`. */
    mask: z.object({ keepFirst: keep.optional(), keepLast: keep.optional() }).strict().optional(),
  })
  .strict();
export type CustomDetectorSpec = z.output<typeof customDetectorSchema>;

const onlyDigits = (value: string) => value.replace(/[^0-9]/g, "");

const VALIDATORS: Record<CustomValidator, (value: string) => boolean> = {
  luhn: (value) => {
    const digits = onlyDigits(value);
    return digits.length >= 2 && luhnValid(digits);
  },
  mod97: (value) => {
    const compact = value.replace(/[\s-]/g, "").toUpperCase();
    return /^[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}$/.test(compact) && ibanChecksumValid(compact);
  },
  aba: (value) => isRoutingNumber(onlyDigits(value)),
};

function compile(pattern: string, flags: string | undefined): RE2JS {
  if (flags !== undefined && flags !== "i") {
    throw new Error(`flags ${JSON.stringify(flags)}: the only flag is "i"`);
  }
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(pattern, flags === "i" ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (err) {
    // re2js says what and where: "error parsing regexp: missing closing ): `(a`".
    throw new Error(
      `pattern ${JSON.stringify(pattern)} is not valid RE2 syntax: ${errorText(err)}`,
    );
  }
  if (compiled.testExact("")) {
    throw new Error(`pattern ${JSON.stringify(pattern)} matches the empty string`);
  }
  return compiled;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Builds a detector from a configured spec. Throws an Error saying what is
 * wrong (bad id, pattern syntax, a pattern that matches nothing but the
 * empty string); the config loader prefixes where the spec sits.
 */
export function customDetector(spec: CustomDetectorSpec): Detector {
  const id = spec.id;
  if (detectorById(id) !== undefined) throw new Error(`id "${id}" is a built-in detector's`);
  const pattern = compile(spec.pattern, spec.flags);
  const validate = spec.validator === undefined ? undefined : VALIDATORS[spec.validator];
  // `containsWord` compares lower-cased text with the words as given.
  const words = spec.contextWords?.map((word) => word.toLowerCase());
  const keepFirst = spec.mask?.keepFirst ?? 0;
  const keepLast = spec.mask?.keepLast ?? 0;

  function scan(text: string, context?: ScanContext): Finding[] {
    // The DFA answers "any match at all?" fastest; most strings stop here.
    if (!pattern.test(text)) return [];
    const outside = words === undefined || hasOutsideContext(words, context);
    const findings: Finding[] = [];
    const matcher = pattern.matcher(text);
    let from = 0;
    while (from <= text.length && matcher.find(from)) {
      const start = matcher.start();
      const end = matcher.end();
      // A match that fails its checks is skipped whole: no retry inside it keeps the scan linear.
      from = end > start ? end : end + 1;
      if (end === start) continue;
      if (validate !== undefined && !validate(text.slice(start, end))) continue;
      if (!outside && !hasInlineContext(words ?? [], text, start)) continue;
      findings.push({ start, end, detector: id });
    }
    return findings;
  }

  return {
    id,
    scan,
    mask(value: string, style: MaskStyle, hashKey?: Uint8Array): string {
      return applyMaskStyle(id, value, style, hashKey, (v) => maskKeeping(v, keepFirst, keepLast));
    },
  };
}
