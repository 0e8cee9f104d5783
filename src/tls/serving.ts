import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createCertificateAuthority, issueServingCertificate, type PemKeyPair } from "./pki.ts";

export interface ServingMaterial {
  /** The CA clients must trust (written into generated kubeconfigs). */
  caPem: string;
  certPem: string;
  keyPem: string;
}

const renewBeforeMs = 30 * 24 * 60 * 60 * 1000;

function readPair(dir: string, name: string): PemKeyPair | undefined {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  if (!existsSync(cert) || !existsSync(key)) return undefined;
  return { certPem: readFileSync(cert, "utf8"), keyPem: readFileSync(key, "utf8") };
}

function writePair(dir: string, name: string, pair: PemKeyPair): void {
  writeFileSync(join(dir, `${name}.crt`), pair.certPem, { mode: 0o644 });
  writeFileSync(join(dir, `${name}.key`), pair.keyPem, { mode: 0o600 });
}

/** True when the certificate covers every host and is not near expiry. */
function stillGood(pair: PemKeyPair, hosts: string[]): boolean {
  const cert = new X509Certificate(pair.certPem);
  if (new Date(cert.validTo).getTime() - Date.now() < renewBeforeMs) return false;
  return hosts.every(
    (host) => cert.checkHost(host) !== undefined || cert.checkIP(host) !== undefined,
  );
}

/**
 * The gateway's own CA and serving certificate, created on first start in
 * `<dataDir>/tls` and reused afterwards; the serving certificate is reissued
 * when the configured hosts change or it nears expiry (the CA stays, so
 * kubeconfigs already handed out keep working).
 */
export async function ensureServingMaterial(
  dataDir: string,
  hosts: string[],
): Promise<ServingMaterial> {
  const dir = join(dataDir, "tls");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let ca = readPair(dir, "ca");
  if (!ca) {
    ca = await createCertificateAuthority("Portcullis gateway CA");
    writePair(dir, "ca", ca);
  }
  let serving = readPair(dir, "serving");
  if (!serving || !stillGood(serving, hosts)) {
    serving = await issueServingCertificate(ca, "portcullis", hosts);
    writePair(dir, "serving", serving);
  }
  return { caPem: ca.certPem, certPem: serving.certPem, keyPem: serving.keyPem };
}

/** Operator-supplied certificate files; the CA clients need is the chain's last link. */
export function readServingFiles(certFile: string, keyFile: string): ServingMaterial {
  const certPem = readFileSync(certFile, "utf8");
  const blocks =
    certPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return { caPem: `${blocks.at(-1) ?? certPem}\n`, certPem, keyPem: readFileSync(keyFile, "utf8") };
}
