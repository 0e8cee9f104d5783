/**
 * Builds (or finds) the Kubernetes control-plane binaries before the e2e
 * tests run, so a first build's many minutes happen here with visible
 * progress instead of inside a test runner's timeout.
 *
 *   node test/cluster/build.ts
 */
import { ensureKubeBinaries } from "../../src/cluster/build.ts";

const binaries = await ensureKubeBinaries();
process.stdout.write(
  [
    `Kubernetes ${binaries.version}`,
    `  kube-apiserver           ${binaries.kubeApiserver}`,
    `  etcd                     ${binaries.etcd}`,
    `  kubectl                  ${binaries.kubectl}`,
    `  kube-controller-manager  ${binaries.kubeControllerManager ?? "(none)"}`,
    "",
  ].join("\n"),
);
