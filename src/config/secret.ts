import { readFileSync } from "node:fs";
import { z } from "zod";

/**
 * A secret value in the config file: never inline in production configs, but
 * read from an environment variable or a file (a mounted Kubernetes Secret).
 */
export const secretRefSchema = z.union([
  z.object({ env: z.string().min(1) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);
export type SecretRef = z.infer<typeof secretRefSchema>;

export function resolveSecret(ref: SecretRef): string {
  if ("env" in ref) {
    const value = process.env[ref.env];
    if (value === undefined || value === "") {
      throw new Error(`environment variable ${ref.env} is not set`);
    }
    return value;
  }
  return readFileSync(ref.file, "utf8").trim();
}
