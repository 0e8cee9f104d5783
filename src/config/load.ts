import { readFileSync } from "node:fs";
import { isNode, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { type Config, configSchema } from "./schema.ts";

/** A config error that names the file, the path inside it and the problem. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(`invalid configuration in ${file}:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

type Path = ReadonlyArray<PropertyKey>;

function formatPath(path: Path): string {
  if (path.length === 0) return "(top level)";
  return path
    .map((key, i) => (typeof key === "number" ? `[${key}]` : `${i === 0 ? "" : "."}${String(key)}`))
    .join("");
}

/** Finds the line and column of the deepest YAML node that exists along `path`. */
function locate(
  doc: ReturnType<typeof parseDocument>,
  lines: LineCounter,
  path: Path,
): string | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth) as unknown[], true);
    if (isNode(node) && node.range) {
      const { line, col } = lines.linePos(node.range[0]);
      return `${line}:${col}`;
    }
  }
  return undefined;
}

function describeIssue(
  file: string,
  doc: ReturnType<typeof parseDocument>,
  lines: LineCounter,
  issue: z.core.$ZodIssue,
): string {
  const where = locate(doc, lines, issue.path);
  const prefix = where ? `${file}:${where}` : file;
  if (issue.code === "unrecognized_keys") {
    return `${prefix}: ${formatPath(issue.path)}: unknown field ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  }
  return `${prefix}: ${formatPath(issue.path)}: ${issue.message}`;
}

/** Parses and validates config text; `file` is only used in messages. */
export function parseConfig(text: string, file: string): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const { line, col } = lines.linePos(e.pos[0]);
        return `${file}:${line}:${col}: YAML syntax: ${e.message.split("\n")[0]}`;
      }),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      file,
      result.error.issues.map((issue) => describeIssue(file, doc, lines, issue)),
    );
  }
  return result.data;
}

/** Loads the config file, or embedded defaults when `file` is undefined. */
export function loadConfig(file: string | undefined): Config {
  if (file === undefined) return configSchema.parse({});
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(file, [`${file}: cannot read: ${(err as Error).message}`]);
  }
  return parseConfig(text, file);
}
