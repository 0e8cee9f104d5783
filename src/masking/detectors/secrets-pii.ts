import type { Detector } from "../detector.ts";
import { cloudTokenDetectors } from "./cloud-tokens.ts";
import { connectionStringPasswordDetector } from "./connection-strings.ts";
import { dobDetector } from "./dob.ts";
import { emailDetector } from "./email.ts";
import { secretValueDetector } from "./entropy.ts";
import { jwtDetector } from "./jwt.ts";
import { pemPrivateKeyDetector } from "./pem.ts";
import { phoneDetector } from "./phone.ts";

/**
 * Credential detectors, most specific first: a shape-validated token should
 * win over the generic "random value under a secret key" when findings of
 * different detectors overlap (the engine resolves overlaps between
 * detectors; each detector's own findings never overlap).
 */
export const credentialDetectors: Detector[] = [
  pemPrivateKeyDetector,
  jwtDetector,
  ...cloudTokenDetectors,
  connectionStringPasswordDetector,
  secretValueDetector,
];

/** Personal data: email, phone (E.164 anywhere, national with context), date of birth (context only). */
export const piiDetectors: Detector[] = [emailDetector, phoneDetector, dobDetector];
