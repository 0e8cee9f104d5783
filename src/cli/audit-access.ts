/**
 * What the audit commands share: the configured store, opened and closed
 * around one piece of work, and the log's verifier key.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { signerKeyFile, verifierKeyFile } from "../audit/keys.ts";
import { parseSignerKey } from "../audit/note.ts";
import { openAuditStore } from "../audit/open.ts";
import type { AuditStore } from "../audit/store/store.ts";
import type { Config } from "../config/schema.ts";
import { resolveSecret } from "../config/secret.ts";
import { type CommonOptions, configFromOptions } from "./options.ts";

export function readKeyFile(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (error) {
    throw new Error(`cannot read the verifier key ${path}: ${(error as Error).message}`);
  }
}

/** The configured log's verifier key: from the configured signing key, or <dataDir>/audit/verifier.pub. */
export function configuredVerifierKey(config: Config): string {
  if (config.audit.signingKey)
    return parseSignerKey(resolveSecret(config.audit.signingKey)).verifierKey;
  const path = join(config.dataDir, "audit", verifierKeyFile);
  if (!existsSync(path)) {
    const hint = existsSync(join(config.dataDir, "audit", signerKeyFile))
      ? "it was removed"
      : "the gateway creates it on first start";
    throw new Error(`no verifier key at ${path} (${hint}); pass --key FILE or --key-string VKEY`);
  }
  return readKeyFile(path);
}

/** Runs `work` on the configured store, closing it whatever happens. */
export async function withAuditStore<T>(
  options: CommonOptions,
  work: (store: AuditStore, config: Config) => Promise<T>,
): Promise<T> {
  const config = configFromOptions(options);
  const { store: where } = config.audit;
  // Opening SQLite creates the file: an auditor pointed at the wrong place must hear so, not see an empty log.
  if ("sqlite" in where) {
    const path = where.sqlite.path ?? join(config.dataDir, "audit.db");
    if (!existsSync(path)) throw new Error(`no audit log at ${path}: check --data-dir or --config`);
  }
  const store = await openAuditStore(config.audit, config.dataDir);
  try {
    return await work(store, config);
  } finally {
    await store.close();
  }
}
