/**
 * The strict EventList check (test/cluster/tools/cmd/auditcheck): decodes our
 * export into the real Kubernetes audit/v1 type, refusing unknown fields.
 * Built once from the pinned Go tools module into a per-user cache, keyed by
 * the module's go.mod, go.sum and the program itself.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { goBinary } from "../../src/cluster/build.ts";
import { type ProcessRun, runProcess } from "./process.ts";

const toolsDir = resolve(import.meta.dirname, "../cluster/tools");
const sources = ["go.mod", "go.sum", "cmd/auditcheck/main.go"];

/** Whether a Go toolchain is there to build the checker with. */
export function hasGo(): boolean {
  return existsSync(goBinary());
}

async function cachedPath(): Promise<string> {
  const hash = createHash("sha256");
  for (const file of sources) hash.update(await readFile(join(toolsDir, file)));
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  const dir = join(cacheHome, "portcullis", "tools");
  await mkdir(dir, { recursive: true });
  return join(dir, `auditcheck-${hash.digest("hex").slice(0, 12)}`);
}

/** Builds (or finds) the auditcheck binary and returns its path. */
export async function buildAuditCheck(): Promise<string> {
  const binary = await cachedPath();
  if (existsSync(binary)) return binary;
  // Build beside the target and rename, so a concurrent run never sees half a binary.
  const partial = `${binary}.${process.pid}.partial`;
  await promisify(execFile)(goBinary(), ["build", "-trimpath", "-o", partial, "./cmd/auditcheck"], {
    cwd: toolsDir,
    maxBuffer: 16 << 20,
  });
  await rename(partial, binary);
  return binary;
}

/** Feeds `eventList` to the checker on stdin: exit 0 and "ok N events", or exit 1 and the problem. */
export async function runAuditCheck(eventList: string): Promise<ProcessRun> {
  return runProcess(await buildAuditCheck(), [], { input: eventList });
}
