import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveSecret, type SecretRef } from "../config/secret.ts";
import { signCheckpoint } from "./checkpoint.ts";
import { generateSigner, parseSignerKey } from "./note.ts";
import type { CheckpointSigner } from "./writer.ts";

export interface LoadedSigner extends CheckpointSigner {
  /** The C2SP note verifier key, all an auditor needs. */
  readonly verifierKey: string;
}

export const signerKeyFile = "signing.key";
export const verifierKeyFile = "verifier.pub";

/**
 * The checkpoint signing key: from the configured secret, or created on first
 * start in `dir` (mode 0600) with its verifier key beside it. The key's name
 * is the log's origin line, so a checkpoint names the log it belongs to.
 */
export function loadOrCreateSigner(dir: string, configured?: SecretRef): LoadedSigner {
  let signerKey: string;
  if (configured) {
    signerKey = resolveSecret(configured);
  } else {
    const path = join(dir, signerKeyFile);
    if (!existsSync(path)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const generated = generateSigner(`portcullis-audit-${randomBytes(4).toString("hex")}`);
      writeFileSync(path, `${generated.signerKey}\n`, { mode: 0o600, flag: "wx" });
      writeFileSync(join(dir, verifierKeyFile), `${generated.verifierKey}\n`, { mode: 0o644 });
    }
    signerKey = readFileSync(path, "utf8").trim();
  }
  const signer = parseSignerKey(signerKey);
  return {
    origin: signer.name,
    verifierKey: signer.verifierKey,
    sign(size, rootHash) {
      return signCheckpoint({ origin: signer.name, size, rootHash }, signer);
    },
  };
}
