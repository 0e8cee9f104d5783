import type { Command } from "commander";

/** search, export — filled in by the audit-query work. */
export function addQueryCommands(_audit: Command): void {}
