/**
 * What one response had masked, for its completion record: detector, field
 * path and count, never a value. Distinct (detector, path) pairs are capped
 * so a LIST of ten thousand objects with user-chosen keys cannot grow the
 * record without bound; the overflow is counted under the path `(other)`.
 */
export interface MaskedCount {
  detector: string;
  path: string;
  count: number;
}

export const MAX_DISTINCT_PATHS = 200;

export class MaskTally {
  readonly #counts = new Map<string, MaskedCount>();
  #total = 0;

  add(detector: string, path: string): void {
    this.#total++;
    const key = `${detector}\u0000${path}`;
    let entry = this.#counts.get(key);
    if (entry === undefined) {
      const full = this.#counts.size >= MAX_DISTINCT_PATHS;
      const other = `${detector}\u0000(other)`;
      entry = full ? this.#counts.get(other) : undefined;
      if (entry === undefined) {
        entry = { detector, path: full ? "(other)" : path, count: 0 };
        this.#counts.set(full ? other : key, entry);
      }
    }
    entry.count++;
  }

  get total(): number {
    return this.#total;
  }

  /** Sorted by detector, then path: the same tally always records the same way. */
  entries(): MaskedCount[] {
    return [...this.#counts.values()]
      .map((e) => ({ ...e }))
      .sort((a, b) =>
        a.detector === b.detector
          ? a.path < b.path
            ? -1
            : a.path > b.path
              ? 1
              : 0
          : a.detector < b.detector
            ? -1
            : 1,
      );
  }
}
