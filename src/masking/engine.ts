/**
 * The masking engine: runs a profile's detectors over one string, resolves
 * findings that overlap between detectors (the detector listed first wins,
 * then the longer finding), and replaces each finding with its detector's
 * mask in the profile's style. Reports each finding by detector id, never
 * its value.
 */
import type { Detector, Finding, MaskStyle, ScanContext } from "./detector.ts";

export interface EngineOptions {
  /** Detectors in priority order: on overlap the earlier one wins. */
  detectors: readonly Detector[];
  /** Style per detector id; detectors not named use `defaultStyle`. */
  styles?: Readonly<Record<string, MaskStyle>>;
  defaultStyle?: MaskStyle;
  /** Key for the `hash` style; without it `hash` falls back to `full`. */
  hashKey?: Uint8Array;
}

export type OnFinding = (detector: string) => void;

export class MaskingEngine {
  readonly detectors: readonly Detector[];
  readonly #styles: MaskStyle[];
  readonly #hashKey: Uint8Array | undefined;

  constructor(options: EngineOptions) {
    this.detectors = options.detectors;
    const fallback = options.defaultStyle ?? "partial";
    this.#styles = options.detectors.map((d) => options.styles?.[d.id] ?? fallback);
    this.#hashKey = options.hashKey;
  }

  /** Every finding of every detector, overlaps resolved, in text order. */
  findings(text: string, context?: ScanContext): Array<Finding & { rank: number }> {
    const all: Array<Finding & { rank: number }> = [];
    for (let rank = 0; rank < this.detectors.length; rank++) {
      const found = (this.detectors[rank] as Detector).scan(text, context);
      for (const f of found) all.push({ ...f, rank });
    }
    if (all.length <= 1) return all;
    // Earlier detector first, then longer, then leftmost; keep those that do
    // not overlap anything kept before them.
    all.sort((a, b) => a.rank - b.rank || b.end - b.start - (a.end - a.start) || a.start - b.start);
    const kept: Array<Finding & { rank: number }> = [];
    for (const f of all) {
      if (kept.every((k) => f.end <= k.start || f.start >= k.end)) kept.push(f);
    }
    return kept.sort((a, b) => a.start - b.start);
  }

  /**
   * `text` with every finding masked, or `text` itself (the same string)
   * when nothing was found, so callers can test `result === text` cheaply.
   */
  mask(text: string, context?: ScanContext, onFinding?: OnFinding): string {
    const found = this.findings(text, context);
    if (found.length === 0) return text;
    let out = "";
    let at = 0;
    for (const f of found) {
      const detector = this.detectors[f.rank] as Detector;
      out += text.slice(at, f.start);
      out += detector.mask(
        text.slice(f.start, f.end),
        this.#styles[f.rank] as MaskStyle,
        this.#hashKey,
      );
      at = f.end;
      onFinding?.(detector.id);
    }
    return out + text.slice(at);
  }
}
