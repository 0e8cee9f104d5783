/**
 * Masking profiles: what a policy rule names with `masking: { profile }`.
 * A profile is a set of detectors with their styles, how Secret values are
 * treated, and field rules. Three are built in and can be tuned (not
 * removed) in the config file:
 *
 * - `default`: every built-in detector, partial masks, Secret values
 *   decoded and scanned. The baseline applies it to every call an agent makes.
 * - `secrets`: as `default`, but every Secret value is masked whole: the
 *   baseline applies it to reading Secrets.
 * - `none`: no masking at all. Only a rule can choose it, and the call's
 *   records name it, so an examiner sees every clear answer and who got it.
 */
import { z } from "zod";
import { defaultDetectors } from "./defaults.ts";
import type { Detector, MaskStyle } from "./detector.ts";
import { MaskingEngine } from "./engine.ts";
import { compileFieldRule, type FieldRule, fieldRuleSchema } from "./field-rules.ts";

export const NO_MASKING = "none";

const styleSchema = z.enum(["partial", "full", "hash"]);
const idSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, "ids are letters, digits, . _ : / -");

export const profileSchema = z
  .object({
    /** Detector ids to run (built-in and custom); omitted: all of them. */
    detectors: z.array(idSchema).optional(),
    /** Detector ids left out of `detectors`. */
    exclude: z.array(idSchema).default([]),
    /** Style for detectors `styles` does not name. */
    style: styleSchema.default("partial"),
    styles: z.record(idSchema, styleSchema).default({}),
    /** Secret `data` values: decoded and scanned, or masked whole. */
    secretData: z.enum(["scan", "mask"]).default("scan"),
    fieldRules: z.array(fieldRuleSchema).default([]),
  })
  .strict();
export type ProfileSpec = z.output<typeof profileSchema>;

export interface MaskingProfile {
  readonly name: string;
  readonly engine: MaskingEngine;
  readonly secretData: "scan" | "mask";
  readonly fieldRules: readonly FieldRule[];
  readonly hashKey: Uint8Array | undefined;
}

const builtIn: Record<string, Partial<ProfileSpec>> = {
  default: {},
  secrets: { secretData: "mask" },
};

export interface ProfileSet {
  /** The profile a rule names; undefined for `none`. Throws for a name that is not configured. */
  resolve(name: string): MaskingProfile | undefined;
  readonly names: readonly string[];
}

export class UnknownProfileError extends Error {
  override name = "UnknownProfileError";
}

/**
 * Builds every profile once at start (detectors compiled, styles resolved).
 * `extraDetectors` are the custom detectors from configuration; a profile
 * naming an unknown detector id is a configuration error, reported with
 * the profile's name.
 */
export function buildProfiles(
  specs: Readonly<Record<string, ProfileSpec>>,
  options: { extraDetectors?: readonly Detector[]; hashKey?: Uint8Array } = {},
): ProfileSet {
  const available = [...defaultDetectors(), ...(options.extraDetectors ?? [])];
  const byId = new Map(available.map((d) => [d.id, d]));
  const profiles = new Map<string, MaskingProfile>();
  const merged: Record<string, ProfileSpec> = {};
  for (const [name, partial] of Object.entries(builtIn)) {
    merged[name] = profileSchema.parse({ ...partial, ...(specs[name] ?? {}) });
  }
  for (const [name, spec] of Object.entries(specs)) {
    if (name === NO_MASKING) {
      throw new Error(
        `masking.profiles.${name}: "${NO_MASKING}" is built in and means no masking; it cannot be configured`,
      );
    }
    if (!(name in merged)) merged[name] = spec;
  }
  for (const [name, spec] of Object.entries(merged)) {
    for (const id of [...(spec.detectors ?? []), ...spec.exclude, ...Object.keys(spec.styles)]) {
      if (!byId.has(id)) {
        throw new Error(
          `masking.profiles.${name}: unknown detector "${id}" (known: ${[...byId.keys()].join(", ")})`,
        );
      }
    }
    const chosen = (spec.detectors?.map((id) => byId.get(id) as Detector) ?? available).filter(
      (d) => !spec.exclude.includes(d.id),
    );
    if (spec.style === "hash" || Object.values(spec.styles).includes("hash" as MaskStyle)) {
      if (options.hashKey === undefined) {
        throw new Error(`masking.profiles.${name}: the hash style needs masking.hashKey`);
      }
    }
    profiles.set(name, {
      name,
      engine: new MaskingEngine({
        detectors: chosen,
        styles: spec.styles,
        defaultStyle: spec.style,
        hashKey: options.hashKey,
      }),
      secretData: spec.secretData,
      fieldRules: spec.fieldRules.map(compileFieldRule),
      hashKey: options.hashKey,
    });
  }
  return {
    names: [...profiles.keys(), NO_MASKING],
    resolve(name) {
      if (name === NO_MASKING) return undefined;
      const profile = profiles.get(name);
      if (profile === undefined) {
        throw new UnknownProfileError(
          `masking profile "${name}" is not configured (configured: ${[...profiles.keys(), NO_MASKING].join(", ")})`,
        );
      }
      return profile;
    },
  };
}
