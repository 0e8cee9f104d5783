/**
 * The detector contract for inline masking. A detector finds sensitive
 * values in one string (a JSON string value, a log line) and knows how to
 * mask what it found. Detectors validate, not just match: a card number must
 * pass Luhn and an issuer rule, an IBAN its mod-97 check, and so on, so that
 * order numbers, UUIDs and resource versions come back unchanged.
 *
 * Speed: every detector is called on every string the gateway relays, so
 * each starts with a cheap prefilter on character codes (is there a run of
 * digits long enough? an `@`? a known prefix?) and returns an empty list
 * fast when there is nothing to look at.
 */

/** Where a string sits, for detectors that need context words or key names. */
export interface ScanContext {
  /** The JSON key (or env var name, annotation key) the value belongs to, if any. */
  key?: string;
  /** Text just before the value on the same line (log lines: the words preceding a digit run). */
  before?: string;
}

export interface Finding {
  /** Start index (UTF-16 code units) in the scanned string. */
  start: number;
  /** End index, exclusive. */
  end: number;
  detector: string;
}

export type MaskStyle = "partial" | "full" | "hash";

export interface Detector {
  /** Stable id used in configuration and in the audit log (`card`, `iban`, …). */
  readonly id: string;
  /** Finds every sensitive value in `text`, non-overlapping, in order. */
  scan(text: string, context?: ScanContext): Finding[];
  /**
   * The masked replacement for one found value. `partial` keeps shape
   * (`**** **** **** 1111`), `full` hides all of it, `hash` replaces it with
   * a keyed hash so auditors can correlate without seeing the value.
   */
  mask(value: string, style: MaskStyle, hashKey?: Uint8Array): string;
}
