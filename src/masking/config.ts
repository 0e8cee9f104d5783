/**
 * The `masking` section of the config file: the key for hash-style masks,
 * custom detectors, and profiles (see profiles.ts for the built-in ones).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { resolveSecret, secretRefSchema } from "../config/secret.ts";
import { customDetector, customDetectorSchema } from "./custom.ts";
import { buildProfiles, type ProfileSet, profileSchema } from "./profiles.ts";

export const maskingConfigSchema = z
  .object({
    /**
     * Key for `hash`-style masks (HMAC-SHA-256), so equal values correlate
     * across calls without being revealed. Created on first start in
     * <dataDir>/masking/ when not set; replicas must share one.
     */
    hashKey: secretRefSchema.optional(),
    customDetectors: z.array(customDetectorSchema).default([]),
    profiles: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/), profileSchema).default({}),
  })
  .strict();
export type MaskingConfig = z.output<typeof maskingConfigSchema>;

export const hashKeyFile = "hash.key";

function loadOrCreateHashKey(dataDir: string): Uint8Array {
  const dir = join(dataDir, "masking");
  const path = join(dir, hashKeyFile);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      writeFileSync(path, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600, flag: "wx" });
    } catch (err) {
      // Another process created it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  return Buffer.from(readFileSync(path, "utf8").trim(), "base64");
}

/** Builds the profiles a gateway masks with; errors name the config path. */
export function profilesFromConfig(config: MaskingConfig, dataDir: string): ProfileSet {
  const hashKey = config.hashKey
    ? Buffer.from(resolveSecret(config.hashKey), "utf8")
    : loadOrCreateHashKey(dataDir);
  const extraDetectors = config.customDetectors.map((spec, i) => {
    try {
      return customDetector(spec);
    } catch (err) {
      throw new Error(`masking.customDetectors[${i}] (${spec.id}): ${(err as Error).message}`);
    }
  });
  return buildProfiles(config.profiles, { extraDetectors, hashKey });
}
