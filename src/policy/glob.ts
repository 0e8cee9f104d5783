/**
 * Pattern sets compiled once: exact values go in a Set, patterns with `*` become
 * one anchored RegExp (`*` matches any run of characters, including `/`, as
 * RBAC's `*` matches subresources). Nothing else is special.
 */
export interface PatternSet {
  readonly any: boolean;
  readonly source: readonly string[];
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
  return {
    any,
    source: patterns,
    test: (value) => any || exact.has(value) || (regex?.test(value) ?? false),
  };
}

function globToRegExpSource(pattern: string): string {
  return pattern
    .split("*")
    .map((part) => part.replace(/[\\^$.|?+()[\]{}]/g, "\\$&"))
    .join(".*");
}

/** The list as written, for trace messages: `[get, list]`. */
export function showPatterns(set: PatternSet): string {
  return `[${set.source.map((p) => (p === "" ? '""' : p)).join(", ")}]`;
}
