import { Command } from "commander";
import { addIntegrityCommands } from "./audit-integrity.ts";
import { addQueryCommands } from "./audit-query.ts";

/** `portcullis audit …`: the auditor's commands over the tamper-evident log. */
export function auditCommand(): Command {
  const audit = new Command("audit").description(
    "verify, search and export the tamper-evident audit log (works offline, with only the public key)",
  );
  addIntegrityCommands(audit);
  addQueryCommands(audit);
  return audit;
}
