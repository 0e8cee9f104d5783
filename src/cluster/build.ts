/**
 * Builds the pinned Kubernetes control-plane binaries (kube-apiserver, etcd,
 * kubectl, kube-controller-manager) from the Go tools module in
 * test/cluster/tools into a per-user cache, or uses KUBEBUILDER_ASSETS when a
 * user already has binaries. The cache directory is keyed by the version and a
 * hash of go.mod + go.sum, so editing the pins builds a fresh set.
 */
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readFile, rename, rm, unlink } from "node:fs/promises";
import { homedir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { promisify } from "node:util";

export const kubeVersion = "v1.37.2";
const toolsDir = resolve(import.meta.dirname, "../../test/cluster/tools");
const kubeCommands = ["kube-apiserver", "kubectl", "kube-controller-manager"];
const allBinaries = [...kubeCommands, "etcd"];

export interface KubeBinaries {
  kubeApiserver: string;
  etcd: string;
  kubectl: string;
  /** null when KUBEBUILDER_ASSETS lacks it: namespaces then never finish deleting. */
  kubeControllerManager: string | null;
  version: string;
}

export interface EnsureOptions {
  /** Receives one human-readable line at a time; defaults to stderr. */
  onProgress?: (line: string) => void;
}

export async function ensureKubeBinaries(options: EnsureOptions = {}): Promise<KubeBinaries> {
  const progress = options.onProgress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const fromAssets = await binariesFromAssets(process.env.KUBEBUILDER_ASSETS, progress);
  if (fromAssets) return fromAssets;

  const dir = await cacheDirectory();
  if (isComplete(dir)) return binariesIn(dir);
  const releaseLock = await acquireBuildLock(`${dir}.lock`, progress);
  try {
    // Another process may have finished the build while we waited for the lock.
    if (!isComplete(dir)) await buildInto(dir, progress);
  } finally {
    await releaseLock();
  }
  return binariesIn(dir);
}

async function binariesFromAssets(
  assets: string | undefined,
  progress: (line: string) => void,
): Promise<KubeBinaries | null> {
  if (!assets) return null;
  const required = ["kube-apiserver", "etcd", "kubectl"];
  const missing = required.filter((name) => !existsSync(join(assets, name)));
  if (missing.length > 0) {
    progress(`KUBEBUILDER_ASSETS=${assets} lacks ${missing.join(", ")}; building instead`);
    return null;
  }
  const controllerManager = join(assets, "kube-controller-manager");
  const hasControllerManager = existsSync(controllerManager);
  if (!hasControllerManager) {
    progress(
      "KUBEBUILDER_ASSETS has no kube-controller-manager: deleted namespaces will stay Terminating, " +
        "admin/edit/view ClusterRoles stay empty, and ServiceAccount admission is turned off",
    );
  }
  const kubeApiserver = join(resolve(assets), "kube-apiserver");
  return {
    kubeApiserver,
    etcd: join(resolve(assets), "etcd"),
    kubectl: join(resolve(assets), "kubectl"),
    kubeControllerManager: hasControllerManager ? resolve(controllerManager) : null,
    version: await reportedVersion(kubeApiserver),
  };
}

/** `kube-apiserver --version` prints "Kubernetes v1.x.y". */
async function reportedVersion(kubeApiserver: string): Promise<string> {
  const { stdout } = await promisify(execFile)(kubeApiserver, ["--version"]);
  return stdout.trim().replace(/^Kubernetes\s+/, "");
}

async function cacheDirectory(): Promise<string> {
  const hash = createHash("sha256");
  hash.update(await readFile(join(toolsDir, "go.mod")));
  hash.update(await readFile(join(toolsDir, "go.sum")));
  const key = hash.digest("hex").slice(0, 12);
  // Go's own build cache follows XDG_CACHE_HOME too, so changing it means a full rebuild.
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  const root = join(cacheHome, "portcullis", "kube");
  await mkdir(root, { recursive: true });
  return join(root, `${kubeVersion}-${key}`);
}

function isComplete(dir: string): boolean {
  return allBinaries.every((name) => existsSync(join(dir, name)));
}

function binariesIn(dir: string): KubeBinaries {
  return {
    kubeApiserver: join(dir, "kube-apiserver"),
    etcd: join(dir, "etcd"),
    kubectl: join(dir, "kubectl"),
    kubeControllerManager: join(dir, "kube-controller-manager"),
    version: kubeVersion,
  };
}

/**
 * An exclusive-create lock file holding the builder's pid. A lock whose pid is
 * gone (a build killed with SIGKILL) is stale and taken over.
 */
async function acquireBuildLock(
  lockPath: string,
  progress: (line: string) => void,
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
      progress(`waiting for another build of the Kubernetes binaries (pid ${holder || "?"})…`);
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

/** Builds into a sibling temporary directory and renames it into place, so the cache is never half-written. */
async function buildInto(dir: string, progress: (line: string) => void): Promise<void> {
  const partial = `${dir}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const started = Date.now();
  progress(`building Kubernetes ${kubeVersion} control-plane binaries into ${dir}`);
  progress(
    "the first build compiles ~2000 Go packages and takes several minutes; later runs reuse it",
  );
  const ldflags = [
    "-s -w",
    ...["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"].flatMap((pkg) => [
      `-X ${pkg}.gitVersion=${kubeVersion}`,
      `-X ${pkg}.gitMajor=1`,
      `-X ${pkg}.gitMinor=37`,
    ]),
  ].join(" ");
  await goBuild(
    [
      "-ldflags",
      ldflags,
      "-o",
      `${partial}/`,
      ...kubeCommands.map((c) => `k8s.io/kubernetes/cmd/${c}`),
    ],
    kubeCommands.join(", "),
    progress,
  );
  await goBuild(
    ["-ldflags", "-s -w", "-o", join(partial, "etcd"), "go.etcd.io/etcd/server/v3"],
    "etcd",
    progress,
  );
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
  progress(`built in ${Math.round((Date.now() - started) / 1000)}s: ${dir}`);
}

/** `go` from PATH, else the standard install location (PATH often lacks it in CI shells). */
export function goBinary(): string {
  const onPath = (process.env.PATH ?? "")
    .split(delimiter)
    .map((dir) => join(dir, "go"))
    .find((candidate) => existsSync(candidate));
  return onPath ?? (existsSync("/usr/local/go/bin/go") ? "/usr/local/go/bin/go" : "go");
}

/** Runs `go build -v`, counting the package lines it prints to show the build is alive. */
function goBuild(args: string[], what: string, progress: (line: string) => void): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(goBinary(), ["build", "-v", "-trimpath", ...args], {
      cwd: toolsDir,
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
