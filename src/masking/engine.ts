/**
 * The masking engine: runs a profile's detectors over one string, resolves
 * findings that overlap between detectors (the detector listed first wins,
 * then the longer finding), and replaces each finding with its detector's
 * mask in the profile's style. Reports each finding by detector id, never
 * its value.
 *
 * Speed: the engine looks at each string once (`TextProfile`) and runs only
 * the detectors the prefilter (`prefilter.ts`) says could match; most
 * strings in a Kubernetes body (names, UUIDs, timestamps, base64) wake none.
 * The result is the same as running every detector.
 */
import type { Detector, Finding, MaskStyle, ScanContext } from "./detector.ts";
import { detectorBit, possibleDetectors } from "./prefilter.ts";
import { TextProfile } from "./text-profile.ts";

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

type RankedFinding = Finding & { rank: number };

export class MaskingEngine {
  readonly detectors: readonly Detector[];
  readonly #styles: MaskStyle[];
  readonly #hashKey: Uint8Array | undefined;
  /** Each detector's prefilter bit; 0: no prefilter, always run. */
  readonly #bits: number[];
  /** True when every detector has a prefilter bit: a string none may match is done. */
  readonly #allGated: boolean;

  constructor(options: EngineOptions) {
    this.detectors = options.detectors;
    const fallback = options.defaultStyle ?? "partial";
    this.#styles = options.detectors.map((d) => options.styles?.[d.id] ?? fallback);
    this.#hashKey = options.hashKey;
    this.#bits = options.detectors.map(detectorBit);
    this.#allGated = this.#bits.every((bit) => bit !== 0);
  }

  /** Every finding of every detector, overlaps resolved, in text order. */
  findings(text: string, context?: ScanContext): RankedFinding[] {
    const open = possibleDetectors(new TextProfile(text), context);
    if (open === 0 && this.#allGated) return [];
    let all: RankedFinding[] | undefined;
    for (let rank = 0; rank < this.detectors.length; rank++) {
      const bit = this.#bits[rank] as number;
      if (bit !== 0 && (open & bit) === 0) continue;
      const found = (this.detectors[rank] as Detector).scan(text, context);
      if (found.length === 0) continue;
      all ??= [];
      for (const f of found) all.push({ ...f, rank });
    }
    if (all === undefined) return [];
    return all.length === 1 ? all : resolveOverlaps(all);
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

/**
 * Earlier detector first, then longer, then leftmost; keeps those that do not
 * overlap anything kept before them, in text order.
 */
export function resolveOverlaps(all: RankedFinding[]): RankedFinding[] {
  all.sort((a, b) => a.rank - b.rank || b.end - b.start - (a.end - a.start) || a.start - b.start);
  const kept: RankedFinding[] = [];
  for (const f of all) {
    if (kept.every((k) => f.end <= k.start || f.start >= k.end)) kept.push(f);
  }
  return kept.sort((a, b) => a.start - b.start);
}
