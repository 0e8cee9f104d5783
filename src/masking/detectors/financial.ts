/**
 * The financial detectors, in the order the masking engine should run them:
 * specific shapes first (card, IBAN), then the context-bound ones.
 */
import type { Detector } from "../detector.ts";
import { abaDetector, bankAccountDetector } from "./aba.ts";
import { cardDetector } from "./card.ts";
import { ibanDetector } from "./iban.ts";
import { itinDetector, ssnDetector } from "./ssn.ts";
import { swiftDetector } from "./swift.ts";

export const financialDetectors: Detector[] = [
  cardDetector,
  ibanDetector,
  abaDetector,
  bankAccountDetector,
  ssnDetector,
  itinDetector,
  swiftDetector,
];
