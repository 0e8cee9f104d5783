import type { Command } from "commander";

/** verify, evidence, pubkey, prune — filled in by the audit-integrity work. */
export function addIntegrityCommands(_audit: Command): void {}
