/**
 * The strict EventList check (test/cluster/tools/cmd/auditcheck): decodes our
 * export into the real Kubernetes audit/v1 type, refusing unknown fields.
 */
import { buildToolsCommand } from "./go-tools.ts";
import { type ProcessRun, runProcess } from "./process.ts";

export { hasGo } from "./go-tools.ts";

/** Builds (or finds) the auditcheck binary and returns its path. */
export function buildAuditCheck(): Promise<string> {
  return buildToolsCommand("auditcheck");
}

/** Feeds `eventList` to the checker on stdin: exit 0 and "ok N events", or exit 1 and the problem. */
export async function runAuditCheck(eventList: string): Promise<ProcessRun> {
  return runProcess(await buildAuditCheck(), [], { input: eventList });
}
