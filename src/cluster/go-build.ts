/**
 * Building pinned Go programs into a per-user cache, shared by the Kubernetes
 * control-plane binaries (./build.ts) and kwok (./kwok-build.ts): one
 * directory per pinned module, keyed by a hash of its go.mod + go.sum, built
 * under an exclusive lock into a sibling directory that is renamed into place,
 * so the cache is never half-written and concurrent test runs build once.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readFile, rename, rm, unlink } from "node:fs/promises";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";

export type Progress = (line: string) => void;

export const stderrProgress: Progress = (line) => process.stderr.write(`${line}\n`);

/**
 * `<cache>/portcullis/<kind>/<version>-<hash>`, its parent created; the hash
 * covers go.mod, go.sum and `extraKey` (whatever else changes the build).
 */
export async function cacheDirectoryFor(
  kind: string,
  version: string,
  moduleDir: string,
  extraKey = "",
): Promise<string> {
  const hash = createHash("sha256");
  hash.update(await readFile(join(moduleDir, "go.mod")));
  hash.update(await readFile(join(moduleDir, "go.sum")));
  hash.update(extraKey);
  const key = hash.digest("hex").slice(0, 12);
  // Go's own build cache follows XDG_CACHE_HOME too, so changing it means a full rebuild.
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  const root = join(cacheHome, "portcullis", kind);
  await mkdir(root, { recursive: true });
  return join(root, `${version}-${key}`);
}

export interface CachedBuild {
  /** The final directory; `build` fills a temporary sibling that is renamed to it. */
  dir: string;
  /** What is being built, for progress lines ("the Kubernetes binaries"). */
  what: string;
  /** True when `dir` holds everything; checked before and after taking the lock. */
  isComplete(dir: string): boolean;
  build(partialDir: string): Promise<void>;
  progress: Progress;
}

export async function ensureCachedBuild(spec: CachedBuild): Promise<void> {
  if (spec.isComplete(spec.dir)) return;
  const releaseLock = await acquireBuildLock(`${spec.dir}.lock`, spec.what, spec.progress);
  try {
    // Another process may have finished the build while we waited for the lock.
    if (spec.isComplete(spec.dir)) return;
    const partial = `${spec.dir}.partial`;
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial, { recursive: true });
    await spec.build(partial);
    await rm(spec.dir, { recursive: true, force: true });
    await rename(partial, spec.dir);
  } finally {
    await releaseLock();
  }
}

/**
 * An exclusive-create lock file holding the builder's pid. A lock whose pid is
 * gone (a build killed with SIGKILL) is stale and taken over.
 */
async function acquireBuildLock(
  lockPath: string,
  what: string,
  progress: Progress,
): Promise<() => Promise<void>> {
  let announced = false;
  for (;;) {
    try {
      const handle = await open(lockPath, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => unlink(lockPath).catch(() => undefined);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = Number((await readFile(lockPath, "utf8").catch(() => "")).trim());
    if (holder > 0 && !isAlive(holder)) {
      await unlink(lockPath).catch(() => undefined);
      continue;
    }
    if (!announced) {
      progress(`waiting for another build of ${what} (pid ${holder || "?"})…`);
      announced = true;
    }
    await new Promise((done) => setTimeout(done, 1000));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** `go` from PATH, else the standard install location (PATH often lacks it in CI shells). */
export function goBinary(): string {
  const onPath = (process.env.PATH ?? "")
    .split(delimiter)
    .map((dir) => join(dir, "go"))
    .find((candidate) => existsSync(candidate));
  return onPath ?? (existsSync("/usr/local/go/bin/go") ? "/usr/local/go/bin/go" : "go");
}

export interface GoBuild {
  /** The Go module to build in. */
  moduleDir: string;
  /** Arguments after `go build -v -trimpath`. */
  args: string[];
  what: string;
  progress: Progress;
}

/** Runs `go build -v`, counting the package lines it prints to show the build is alive. */
export function goBuild({ moduleDir, args, what, progress }: GoBuild): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(goBinary(), ["build", "-v", "-trimpath", ...args], {
      cwd: moduleDir,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let compiled = 0;
    const output: string[] = [];
    const started = Date.now();
    progress(`go build ${what}…`);
    const ticker = setInterval(() => {
      const seconds = Math.round((Date.now() - started) / 1000);
      progress(`  ${what}: compiled ${compiled} packages (${seconds}s)…`);
    }, 5000);
    let pending = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (pending + chunk).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        // -v prints one import path per package compiled; anything else is a diagnostic.
        if (/^[\w.-]+(\/[\w.~-]+)*$/.test(line)) compiled++;
        else output.push(line);
      }
    });
    child.on("error", (error) => {
      clearInterval(ticker);
      const hint =
        (error as NodeJS.ErrnoException).code === "ENOENT" ? " (is Go ≥1.26 on PATH?)" : "";
      reject(new Error(`cannot run go${hint}: ${error.message}`));
    });
    child.on("close", (code) => {
      clearInterval(ticker);
      if (code === 0) {
        progress(`  ${what}: done, ${compiled} packages compiled`);
        resolvePromise();
      } else {
        const tail = [...output, pending].filter(Boolean).slice(-30).join("\n");
        reject(new Error(`go build ${what} failed (exit ${code}):\n${tail}`));
      }
    });
  });
}
