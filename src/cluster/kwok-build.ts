/**
 * Builds the pinned kwok binary from its own Go module in test/cluster/kwok
 * (kwok's k8s.io dependencies must not move the control plane's pins in
 * test/cluster/tools) into the same per-user cache as the Kubernetes
 * binaries. Two exec fixes (./kwok-patches.ts) are applied to a copy of the
 * pinned kwok source, which a temporary copy of the module `replace`s kwok
 * with. Beside the binary go the default node and pod Stages of that same
 * source: the `kwok` binary, unlike `kwokctl`, has none built in.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import {
  cacheDirectoryFor,
  ensureCachedBuild,
  goBinary,
  goBuild,
  type Progress,
  stderrProgress,
} from "./go-build.ts";
import { applyPatches, kwokPatches } from "./kwok-patches.ts";

const kwokModuleDir = resolve(import.meta.dirname, "../../test/cluster/kwok");

/**
 * kwokctl's defaults (node-fast, node-heartbeat, pod-fast): nodes become
 * Ready and stay so, pods become Running at once, Job pods complete, and
 * deleted pods are removed (there is no kubelet to confirm their deletion).
 */
const defaultStageFiles = [
  "kustomize/stage/node/fast/node-initialize.yaml",
  "kustomize/stage/node/heartbeat/node-heartbeat.yaml",
  "kustomize/stage/pod/fast/pod-ready.yaml",
  "kustomize/stage/pod/fast/pod-complete.yaml",
  "kustomize/stage/pod/fast/pod-delete.yaml",
];

export interface KwokBinary {
  kwok: string;
  /** The default Stages as one multi-document YAML, to pass in kwok's --config. */
  stagesPath: string;
  version: string;
}

export async function ensureKwokBinary(
  options: { onProgress?: Progress } = {},
): Promise<KwokBinary> {
  const progress = options.onProgress ?? stderrProgress;
  const version = await pinnedKwokVersion();
  const dir = await cacheDirectoryFor("kwok", version, kwokModuleDir, JSON.stringify(kwokPatches));
  await ensureCachedBuild({
    dir,
    what: `kwok ${version}`,
    isComplete: (candidate) =>
      existsSync(join(candidate, "kwok")) && existsSync(join(candidate, "stages.yaml")),
    build: (partial) => buildInto(partial, dir, version, progress),
    progress,
  });
  return { kwok: join(dir, "kwok"), stagesPath: join(dir, "stages.yaml"), version };
}

/** The version go.mod requires, so the pin lives in one place. */
async function pinnedKwokVersion(): Promise<string> {
  const goMod = await readFile(join(kwokModuleDir, "go.mod"), "utf8");
  const version = /^\s*sigs\.k8s\.io\/kwok (v\S+)/m.exec(goMod)?.[1];
  if (!version) throw new Error(`${kwokModuleDir}/go.mod does not require sigs.k8s.io/kwok`);
  return version;
}

async function buildInto(
  partial: string,
  dir: string,
  version: string,
  progress: Progress,
): Promise<void> {
  const started = Date.now();
  progress(`building kwok ${version} into ${dir}`);
  progress("the first build compiles several hundred Go packages and takes a minute or two");
  const source = await downloadedSource();
  const buildDir = join(partial, "build");
  await copyTree(source, join(buildDir, "kwok"));
  const patchedFiles = new Set(kwokPatches.map((patch) => patch.file));
  for (const file of patchedFiles) {
    const path = join(buildDir, "kwok", file);
    await writeFile(path, applyPatches(file, await readFile(path, "utf8"), kwokPatches));
  }
  const goMod = await readFile(join(kwokModuleDir, "go.mod"), "utf8");
  await writeFile(join(buildDir, "go.mod"), `${goMod}\nreplace sigs.k8s.io/kwok => ./kwok\n`);
  await copyFile(join(kwokModuleDir, "go.sum"), join(buildDir, "go.sum"));
  await goBuild({
    moduleDir: buildDir,
    args: ["-ldflags", "-s -w", "-o", join(partial, "kwok"), "sigs.k8s.io/kwok/cmd/kwok"],
    what: "kwok",
    progress,
  });
  const stages = await Promise.all(
    defaultStageFiles.map((file) => readFile(join(source, file), "utf8")),
  );
  const header = `# Default Stages of sigs.k8s.io/kwok ${version}: ${defaultStageFiles.join(", ")}\n`;
  await writeFile(join(partial, "stages.yaml"), header + stages.join("\n---\n"));
  await rm(buildDir, { recursive: true, force: true });
  progress(`built in ${Math.round((Date.now() - started) / 1000)}s: ${dir}`);
}

/** The pinned kwok module's source in the Go module cache, downloaded (and verified against go.sum) if need be. */
async function downloadedSource(): Promise<string> {
  const { stdout } = await promisify(execFile)(
    goBinary(),
    ["mod", "download", "-json", "sigs.k8s.io/kwok"],
    { cwd: kwokModuleDir, maxBuffer: 1 << 20 },
  );
  const { Dir, Error: problem } = JSON.parse(stdout) as { Dir?: string; Error?: string };
  if (!Dir) throw new Error(`go mod download sigs.k8s.io/kwok: ${problem ?? "no directory"}`);
  return Dir;
}

/** Copies file contents only: the module cache's files are read-only, the copy must not be. */
async function copyTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) await copyTree(source, target);
    else if (entry.isFile()) await writeFile(target, await readFile(source));
  }
}
