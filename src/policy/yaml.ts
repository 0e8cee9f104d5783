/**
 * YAML parsed and validated against a zod schema, with problems that name the
 * file, line, column, path and what is wrong (the approach of config/load.ts,
 * reusable by any YAML document). The returned `where` locates later, semantic
 * problems (a duplicate rule id, a CEL error) the same way.
 */
import { isNode, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";

type Path = ReadonlyArray<PropertyKey>;

/** A YAML document that failed to parse or validate; each problem is one line. */
export class YamlDocumentError extends Error {
  readonly file: string;
  readonly problems: string[];
  constructor(what: string, file: string, problems: string[]) {
    super(`invalid ${what} in ${file}:\n  ${problems.join("\n  ")}`);
    this.name = "YamlDocumentError";
    this.file = file;
    this.problems = problems;
  }
}

export interface ParsedYaml<T> {
  value: T;
  /** `file:line:col` of the deepest node that exists along `path` (or `file`). */
  where: (path: Path) => string;
}

export function formatPath(path: Path): string {
  if (path.length === 0) return "(top level)";
  return path
    .map((key, i) => (typeof key === "number" ? `[${key}]` : `${i === 0 ? "" : "."}${String(key)}`))
    .join("");
}

/** Parses `text` (from `file`, used only in messages) and validates it with `schema`. */
export function parseYamlWithSchema<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  what = "document",
): ParsedYaml<z.output<S>> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new YamlDocumentError(
      what,
      file,
      doc.errors.map((e) => {
        const { line, col } = lines.linePos(e.pos[0]);
        return `${file}:${line}:${col}: YAML syntax: ${e.message.split("\n")[0]}`;
      }),
    );
  }
  const where = (path: Path): string => {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = doc.getIn(path.slice(0, depth) as unknown[], true);
      if (isNode(node) && node.range) {
        const { line, col } = lines.linePos(node.range[0]);
        return `${file}:${line}:${col}`;
      }
    }
    return file;
  };
  const result = schema.safeParse(doc.toJS() ?? {});
  if (!result.success) {
    throw new YamlDocumentError(
      what,
      file,
      result.error.issues.map((issue) => `${where(issue.path)}: ${describeIssue(issue)}`),
    );
  }
  return { value: result.data, where };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    return `${formatPath(issue.path)}: unknown field ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  }
  return `${formatPath(issue.path)}: ${issue.message}`;
}
