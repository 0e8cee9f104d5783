/**
 * The built-in detectors: the default profile's list, in priority order, and
 * a lookup by id for profiles that name their detectors.
 *
 * Order matters because the engine keeps, of two overlapping findings, the
 * one of the detector listed first and drops the other whole. Credentials come
 * first: a PEM body, a whole value under a `password` key, a JWT cover a wide
 * span, and a narrower financial or personal finding inside one (a digit run
 * in a key body, an email in a password) must not knock them out and leave
 * the rest of the secret readable. Financial data comes next, then personal
 * data, whose context-bound shapes (phone, date of birth) are the loosest.
 */
import type { Detector } from "./detector.ts";
import { financialDetectors } from "./detectors/financial.ts";
import { credentialDetectors, piiDetectors } from "./detectors/secrets-pii.ts";

const BUILT_IN: readonly Detector[] = [
  ...credentialDetectors,
  ...financialDetectors,
  ...piiDetectors,
];

const BY_ID: ReadonlyMap<string, Detector> = new Map(BUILT_IN.map((d) => [d.id, d]));

/** Every built-in detector, in the default priority order. A fresh array: callers may reorder it. */
export function defaultDetectors(): Detector[] {
  return [...BUILT_IN];
}

/** The built-in detector with this id, or undefined. */
export function detectorById(id: string): Detector | undefined {
  return BY_ID.get(id);
}

/** The ids of the built-in detectors, for validation messages and custom-id checks. */
export function builtInDetectorIds(): string[] {
  return [...BY_ID.keys()];
}
