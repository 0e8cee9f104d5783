/**
 * Builds the pinned Kubernetes control-plane binaries (kube-apiserver, etcd,
 * kubectl, kube-controller-manager) from the Go tools module in
 * test/cluster/tools into a per-user cache, or uses KUBEBUILDER_ASSETS when a
 * user already has binaries. The cache directory is keyed by the version and a
 * hash of go.mod + go.sum, so editing the pins builds a fresh set.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import {
  cacheDirectoryFor,
  ensureCachedBuild,
  goBuild,
  type Progress,
  stderrProgress,
} from "./go-build.ts";

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
  onProgress?: Progress;
}

export async function ensureKubeBinaries(options: EnsureOptions = {}): Promise<KubeBinaries> {
  const progress = options.onProgress ?? stderrProgress;
  const fromAssets = await binariesFromAssets(process.env.KUBEBUILDER_ASSETS, progress);
  if (fromAssets) return fromAssets;

  const dir = await cacheDirectoryFor("kube", kubeVersion, toolsDir);
  await ensureCachedBuild({
    dir,
    what: "the Kubernetes binaries",
    isComplete,
    build: (partial) => buildInto(partial, dir, progress),
    progress,
  });
  return binariesIn(dir);
}

async function binariesFromAssets(
  assets: string | undefined,
  progress: Progress,
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

/** Fills `partial`, which ensureCachedBuild then renames to `dir`. */
async function buildInto(partial: string, dir: string, progress: Progress): Promise<void> {
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
  await goBuild({
    moduleDir: toolsDir,
    args: [
      "-ldflags",
      ldflags,
      "-o",
      `${partial}/`,
      ...kubeCommands.map((c) => `k8s.io/kubernetes/cmd/${c}`),
    ],
    what: kubeCommands.join(", "),
    progress,
  });
  await goBuild({
    moduleDir: toolsDir,
    args: ["-ldflags", "-s -w", "-o", join(partial, "etcd"), "go.etcd.io/etcd/server/v3"],
    what: "etcd",
    progress,
  });
  progress(`built in ${Math.round((Date.now() - started) / 1000)}s: ${dir}`);
}
