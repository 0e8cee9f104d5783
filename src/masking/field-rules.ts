/**
 * Field rules: mask a whole value by where it sits, whatever it looks like.
 * Three shapes, each naming a place in a Kubernetes object:
 *
 * - `path`: a dotted path from the object's root, `*` matching one key
 *   (`data.*` with `kind: Secret` masks every Secret value). Arrays are
 *   transparent: `spec.containers.args` names every container's args.
 * - `envName`: container environment variables by name (`*PASSWORD*`),
 *   wherever a pod template sits (Pods, Deployments, Jobs…).
 * - `annotation`: an annotation key (`vault.example.com/token`).
 *
 * Globs are case-insensitive for env names and annotation keys (people
 * write `db_password` and `DB_PASSWORD`), case-sensitive for paths and kinds
 * (Kubernetes field names are).
 */
import { z } from "zod";
import type { MaskStyle } from "./detector.ts";

const glob = z.string().min(1).max(253);

export const fieldRuleSchema = z
  .object({
    /** Named in the audit log as the detector; default `field:<place>`. */
    id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, "ids are letters, digits, . _ : / -")
      .optional(),
    /** Object kind the rule applies to (`Secret`); omitted: every kind. */
    kind: z.string().min(1).optional(),
    path: glob.optional(),
    envName: glob.optional(),
    annotation: glob.optional(),
    style: z.enum(["full", "hash"]).default("full"),
  })
  .strict()
  .refine(
    (r) => [r.path, r.envName, r.annotation].filter((place) => place !== undefined).length === 1,
    { message: "a field rule names exactly one of path, envName or annotation" },
  );
export type FieldRuleSpec = z.output<typeof fieldRuleSchema>;

export interface FieldRule {
  id: string;
  kind: string | undefined;
  /** Path segments; `undefined` for env and annotation rules. */
  segments: Array<(key: string) => boolean> | undefined;
  envName: RegExp | undefined;
  annotation: RegExp | undefined;
  style: MaskStyle;
}

function globToRegExp(pattern: string, flags: string): RegExp {
  const body = pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${body}$`, flags);
}

function segmentMatcher(segment: string): (key: string) => boolean {
  if (segment === "*") return () => true;
  if (!segment.includes("*")) return (key) => key === segment;
  const re = globToRegExp(segment, "");
  return (key) => re.test(key);
}

export function compileFieldRule(spec: FieldRuleSpec): FieldRule {
  const place =
    spec.path !== undefined
      ? spec.path
      : spec.envName !== undefined
        ? `env:${spec.envName}`
        : `annotation:${spec.annotation}`;
  return {
    id: spec.id ?? `field:${spec.kind === undefined ? "" : `${spec.kind}.`}${place}`,
    kind: spec.kind,
    segments: spec.path?.split(".").map(segmentMatcher),
    envName: spec.envName === undefined ? undefined : globToRegExp(spec.envName, "i"),
    annotation: spec.annotation === undefined ? undefined : globToRegExp(spec.annotation, "i"),
    style: spec.style,
  };
}
