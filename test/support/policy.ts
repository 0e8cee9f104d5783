/**
 * Real policy engines for tests that are about something else: "allow
 * everything" (no rules, baseline off) for forwarding tests, and the shipped
 * baseline.
 */
import { writeFile } from "node:fs/promises";
import type { Logger } from "pino";
import type { Upstream } from "../../src/kube/upstream.ts";
import type { DecideOptions } from "../../src/pipeline/decide.ts";
import { engineFor } from "../../src/policy/live.ts";
import { parsePolicy } from "../../src/policy/load.ts";

const allowEverything = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: allow-everything }
spec:
  defaultAction: allow
`;

export function allowAllPolicy(upstream: Upstream, log: Logger): DecideOptions {
  const engine = engineFor(parsePolicy(allowEverything, "allow-everything.yaml"));
  return { engine: () => engine, upstream, namespaces: undefined, log };
}

/** Writes a policy file named `name` whose spec is `specLines` (indented as under `spec:`). */
export async function writePolicyFile(
  path: string,
  name: string,
  specLines: string[],
): Promise<void> {
  const header = [
    "apiVersion: portcullis.dev/v1",
    "kind: Policy",
    `metadata: { name: ${name} }`,
    "spec:",
  ];
  await writeFile(path, `${[...header, ...specLines].join("\n")}\n`);
}
