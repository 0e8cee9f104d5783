/**
 * Pattern sets compiled once: exact values go in a Set, patterns with `*` become
 * one anchored RegExp (`*` matches any run of characters, including `/`, as
 * RBAC's `*` matches subresources). Nothing else is special.
 */
export interface PatternSet {
  readonly any: boolean;
  readonly source: readonly string[];
  /** The list as written, for trace messages: `[get, list]`. */
  readonly shown: string;
  test(value: string): boolean;
}

export function compilePatterns(patterns: readonly string[]): PatternSet {
  const exact = new Set<string>();
  const globs: string[] = [];
  let any = false;
  for (const pattern of patterns) {
    if (pattern === "*") any = true;
    else if (pattern.includes("*")) globs.push(globToRegExpSource(pattern));
    else exact.add(pattern);
  }
  const regex = globs.length > 0 ? new RegExp(`^(?:${globs.join("|")})$`, "s") : undefined;
  const shown = `[${patterns.map((p) => (p === "" ? '""' : p)).join(", ")}]`;
  if (any) return { any, source: patterns, shown, test: () => true };
  if (regex === undefined) return { any, source: patterns, shown, test: (v) => exact.has(v) };
  return { any, source: patterns, shown, test: (v) => exact.has(v) || regex.test(v) };
}

function globToRegExpSource(pattern: string): string {
  return pattern
    .split("*")
    .map((part) => part.replace(/[\\^$.|?+()[\]{}]/g, "\\$&"))
    .join(".*");
}

/** The list as written, for trace messages: `[get, list]`. */
export function showPatterns(set: PatternSet): string {
  return set.shown;
}
