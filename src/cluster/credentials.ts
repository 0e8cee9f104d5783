/**
 * The credentials of a test control plane: a CA and serving certificate for
 * kube-apiserver, a serving certificate for fake kubelets (kwok, see
 * ./kwok.ts), the service-account signing key pair, static bearer tokens for
 * the fixture identities, and kubeconfig files that use them. Kept in
 * `<dataDir>/pki` and reused on a restart, so kubeconfigs handed out by
 * `portcullis cluster up` stay valid across restarts of the same data dir.
 */

import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { renderKubeconfig } from "../kube/kubeconfig.ts";
import {
  createCertificateAuthority,
  issueServingCertificate,
  type PemKeyPair,
} from "../tls/pki.ts";

export interface StaticIdentity {
  user: string;
  groups: string[];
}

/** Fixture identities. The gateway has no groups: everything it may do comes from its ClusterRoleBinding. */
export const identities = {
  admin: { user: "portcullis-admin", groups: ["system:masters"] },
  gateway: { user: "portcullis-gateway", groups: [] },
  // With --use-service-account-credentials=false every controller acts as this user.
  controllerManager: { user: "system:kube-controller-manager", groups: ["system:masters"] },
} satisfies Record<string, StaticIdentity>;

export type IdentityName = keyof typeof identities;

export interface ControlPlaneCredentials {
  caPem: string;
  caPath: string;
  servingCertPath: string;
  servingKeyPath: string;
  /** For fake kubelets on 127.0.0.1; the apiserver verifies kubelets against caPath. */
  kubeletServingCertPath: string;
  kubeletServingKeyPath: string;
  serviceAccountPublicKeyPath: string;
  serviceAccountPrivateKeyPath: string;
  tokenFilePath: string;
  tokens: Record<IdentityName, string>;
}

const servingHosts = [
  "127.0.0.1",
  "localhost",
  "10.0.0.1", // the `kubernetes` Service's cluster IP in --service-cluster-ip-range
  "kubernetes",
  "kubernetes.default",
  "kubernetes.default.svc",
  "kubernetes.default.svc.cluster.local",
];

export async function loadOrCreateCredentials(pkiDir: string): Promise<ControlPlaneCredentials> {
  const paths = {
    caPath: join(pkiDir, "ca.crt"),
    servingCertPath: join(pkiDir, "apiserver.crt"),
    servingKeyPath: join(pkiDir, "apiserver.key"),
    kubeletServingCertPath: join(pkiDir, "kubelet.crt"),
    kubeletServingKeyPath: join(pkiDir, "kubelet.key"),
    serviceAccountPublicKeyPath: join(pkiDir, "sa.pub"),
    serviceAccountPrivateKeyPath: join(pkiDir, "sa.key"),
    tokenFilePath: join(pkiDir, "tokens.csv"),
  };
  const tokensJson = join(pkiDir, "tokens.json");
  // tokens.json is written last, so its presence means the whole set is there.
  if (existsSync(tokensJson)) {
    const ca = {
      certPem: await readFile(paths.caPath, "utf8"),
      keyPem: await readFile(join(pkiDir, "ca.key"), "utf8"),
    };
    // Data dirs created before fake kubelets existed lack this certificate.
    if (!existsSync(paths.kubeletServingKeyPath)) await writeKubeletServing(ca, paths);
    return {
      ...paths,
      caPem: ca.certPem,
      tokens: JSON.parse(await readFile(tokensJson, "utf8")) as Record<IdentityName, string>,
    };
  }
  await mkdir(pkiDir, { recursive: true, mode: 0o700 });
  const ca = await createCertificateAuthority("portcullis-test-cluster-ca");
  const serving = await issueServingCertificate(ca, "kube-apiserver", servingHosts);
  const serviceAccountKeys = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  const tokens = {
    admin: newToken(),
    gateway: newToken(),
    controllerManager: newToken(),
  } satisfies Record<IdentityName, string>;
  const secret = { mode: 0o600 };
  await writeFile(paths.caPath, ca.certPem);
  await writeFile(join(pkiDir, "ca.key"), ca.keyPem, secret);
  await writeFile(paths.servingCertPath, serving.certPem);
  await writeFile(paths.servingKeyPath, serving.keyPem, secret);
  await writeKubeletServing(ca, paths);
  await writeFile(paths.serviceAccountPublicKeyPath, serviceAccountKeys.publicKey);
  await writeFile(paths.serviceAccountPrivateKeyPath, serviceAccountKeys.privateKey, secret);
  await writeFile(paths.tokenFilePath, tokenFile(tokens), secret);
  await writeFile(tokensJson, JSON.stringify(tokens), secret);
  return { ...paths, caPem: ca.certPem, tokens };
}

async function writeKubeletServing(
  ca: PemKeyPair,
  paths: { kubeletServingCertPath: string; kubeletServingKeyPath: string },
): Promise<void> {
  const kubelet = await issueServingCertificate(ca, "fake-kubelet", ["127.0.0.1", "localhost"]);
  await writeFile(paths.kubeletServingCertPath, kubelet.certPem);
  await writeFile(paths.kubeletServingKeyPath, kubelet.keyPem, { mode: 0o600 });
}

function newToken(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * kube-apiserver --token-auth-file format: token,user,uid[,"group1,group2"].
 * The groups column is left out when empty: an empty one would mean the group "".
 */
function tokenFile(tokens: Record<IdentityName, string>): string {
  const rows = (Object.keys(identities) as IdentityName[]).map((name) => {
    const { user, groups } = identities[name] as StaticIdentity;
    const row = `${tokens[name]},${user},${user}`;
    return groups.length > 0 ? `${row},"${groups.join(",")}"` : row;
  });
  return `${rows.join("\n")}\n`;
}

export interface KubeconfigSpec {
  server: string;
  caPem: string;
  token: string;
  user: string;
}

/** Writes a single-context kubeconfig that authenticates with a bearer token. */
export async function writeKubeconfig(path: string, spec: KubeconfigSpec): Promise<void> {
  const text = renderKubeconfig({
    name: spec.user,
    server: spec.server,
    caPem: spec.caPem,
    token: spec.token,
  });
  await writeFile(path, text, { mode: 0o600 });
}
