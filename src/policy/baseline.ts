/** The shipped baseline pack (baseline.yaml), compiled once per process. */
import { readFileSync } from "node:fs";
import { parsePolicy } from "./load.ts";
import type { CompiledPolicy } from "./types.ts";

export const baselineFile = new URL("./baseline.yaml", import.meta.url);

let compiled: CompiledPolicy | undefined;

export function baselinePolicy(): CompiledPolicy {
  compiled ??= parsePolicy(readFileSync(baselineFile, "utf8"), "baseline.yaml");
  return compiled;
}

/** The same, under the name the live policy loader uses. */
export const loadBaseline = baselinePolicy;
