/**
 * Command lines for the test control plane's components, each flag with the
 * reason it is set. Everything listens on 127.0.0.1 only.
 */
import type { ControlPlaneCredentials } from "./credentials.ts";

export function etcdArgs(dataDir: string, clientPort: number, peerPort: number): string[] {
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return [
    "--name=portcullis",
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=portcullis=${peer}`,
    // A throwaway test store: skipping fsync makes every write (and startup) much faster.
    "--unsafe-no-fsync=true",
    "--log-level=warn",
  ];
}

export interface ApiserverFlagInputs {
  port: number;
  etcdUrl: string;
  credentials: ControlPlaneCredentials;
  certDir: string;
  /** Off only without a controller manager: nothing would create the `default` ServiceAccount pods need. */
  serviceAccountAdmission: boolean;
}

export function apiserverArgs(inputs: ApiserverFlagInputs): string[] {
  const { credentials } = inputs;
  const args = [
    `--etcd-servers=${inputs.etcdUrl}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    // The lease reconciler refuses a loopback advertise address; nothing in-cluster needs the
    // `kubernetes` Service's endpoints here (no real kubelets; pods never really run).
    "--endpoint-reconciler-type=none",
    `--secure-port=${inputs.port}`,
    `--cert-dir=${inputs.certDir}`,
    `--tls-cert-file=${credentials.servingCertPath}`,
    `--tls-private-key-file=${credentials.servingKeyPath}`,
    // Static bearer tokens: the simplest authenticator that gives fixed, named identities.
    `--token-auth-file=${credentials.tokenFilePath}`,
    // RBAC alone: no Node authorizer, since there are no real kubelets.
    "--authorization-mode=RBAC",
    // Fake kubelets (kwok, ./kwok.ts) serve logs/exec/port-forward on 127.0.0.1 with a
    // certificate from our CA: verify it rather than skip verification. No client certificate:
    // kwok authenticates no caller, so there is nothing for one to prove.
    `--kubelet-certificate-authority=${credentials.caPath}`,
    // A fake node's only dialable address is its InternalIP (127.0.0.1); its Hostname is not in DNS.
    "--kubelet-preferred-address-types=InternalIP",
    // Needed for TokenRequest and for the controller manager's token controller.
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${credentials.serviceAccountPublicKeyPath}`,
    `--service-account-signing-key-file=${credentials.serviceAccountPrivateKeyPath}`,
    "--service-cluster-ip-range=10.0.0.0/24",
    // Guardrail tests create privileged pods: our gateway must refuse them, not the apiserver.
    "--allow-privileged=true",
    // Fewer moving parts and no request queuing surprises under test load.
    "--enable-priority-and-fairness=false",
    "--profiling=false",
  ];
  if (!inputs.serviceAccountAdmission) args.push("--disable-admission-plugins=ServiceAccount");
  return args;
}

/**
 * Only the controllers fixtures rely on: namespace deletion and garbage
 * collection (so deleted namespaces and owned objects really go away), the
 * `default` ServiceAccount and its token and root-CA ConfigMap (so pods pass
 * ServiceAccount admission), and ClusterRole aggregation (the bootstrap
 * admin/edit/view roles are empty until it fills them).
 */
export const controllers = [
  "namespace-controller",
  "garbage-collector-controller",
  "serviceaccount-controller",
  "serviceaccount-token-controller",
  "root-ca-certificate-publisher-controller",
  "clusterrole-aggregation-controller",
];

export function controllerManagerArgs(
  kubeconfig: string,
  credentials: ControlPlaneCredentials,
): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--controllers=${controllers.join(",")}`,
    `--service-account-private-key-file=${credentials.serviceAccountPrivateKeyPath}`,
    `--root-ca-file=${credentials.caPath}`,
    // One identity (system:masters) for all controllers: no per-controller ServiceAccounts to mint.
    "--use-service-account-credentials=false",
    "--leader-elect=false",
    // No metrics/health endpoint: nothing scrapes it, and it would need its own authn setup.
    "--secure-port=0",
  ];
}
