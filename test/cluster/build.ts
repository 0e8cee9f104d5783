/**
 * Builds (or finds) the Kubernetes control-plane binaries and kwok (fake
 * nodes) before the e2e tests run, so a first build's many minutes happen
 * here with visible progress instead of inside a test runner's timeout.
 *
 *   node test/cluster/build.ts
 */
import { ensureKubeBinaries } from "../../src/cluster/build.ts";
import { ensureKwokBinary } from "../../src/cluster/kwok-build.ts";

const binaries = await ensureKubeBinaries();
// After, not beside, the control plane: two Go builds at once only compete for the CPUs.
const kwok = await ensureKwokBinary();
process.stdout.write(
  [
    `Kubernetes ${binaries.version}`,
    `  kube-apiserver           ${binaries.kubeApiserver}`,
    `  etcd                     ${binaries.etcd}`,
    `  kubectl                  ${binaries.kubectl}`,
    `  kube-controller-manager  ${binaries.kubeControllerManager ?? "(none)"}`,
    `kwok ${kwok.version}`,
    `  kwok                     ${kwok.kwok}`,
    `  default stages           ${kwok.stagesPath}`,
    "",
  ].join("\n"),
);
