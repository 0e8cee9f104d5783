/**
 * Builds the small Go checkers in test/cluster/tools/cmd (auditcheck,
 * cborcheck) from the pinned tools module, so they use the same Kubernetes
 * libraries as the pinned cluster. Each is built once into a per-user cache,
 * keyed by the module's go.mod, go.sum and the program itself.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { goBinary } from "../../src/cluster/go-build.ts";

const toolsDir = resolve(import.meta.dirname, "../cluster/tools");

/** Whether a Go toolchain is there to build the checkers with. */
export function hasGo(): boolean {
  return existsSync(goBinary());
}

async function cachedPath(command: string): Promise<string> {
  const hash = createHash("sha256");
  for (const file of ["go.mod", "go.sum", `cmd/${command}/main.go`]) {
    hash.update(await readFile(join(toolsDir, file)));
  }
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  const dir = join(cacheHome, "portcullis", "tools");
  await mkdir(dir, { recursive: true });
  return join(dir, `${command}-${hash.digest("hex").slice(0, 12)}`);
}

/** Builds (or finds) test/cluster/tools/cmd/`command` and returns the binary's path. */
export async function buildToolsCommand(command: string): Promise<string> {
  const binary = await cachedPath(command);
  if (existsSync(binary)) return binary;
  // Build beside the target and rename, so a concurrent run never sees half a binary.
  const partial = `${binary}.${process.pid}.partial`;
  await promisify(execFile)(goBinary(), ["build", "-trimpath", "-o", partial, `./cmd/${command}`], {
    cwd: toolsDir,
    maxBuffer: 16 << 20,
  });
  await rename(partial, binary);
  return binary;
}
