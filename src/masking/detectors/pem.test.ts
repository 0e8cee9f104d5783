import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, test } from "node:test";
import { pemPrivateKeyDetector } from "./pem.ts";

function found(text: string): string[] {
  return pemPrivateKeyDetector.scan(text).map((f) => text.slice(f.start, f.end));
}

const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const openssh = [
  "-----BEGIN OPENSSH PRIVATE KEY-----",
  "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
  "QyNTUxOQAAACDUMMYDUMMYDUMMYDUMMYDUMMYDUMMYDUMMYDUMMYDUMMYAAAAAAAAAAAAA",
  "-----END OPENSSH PRIVATE KEY-----",
].join("\n");
const certificate = [
  "-----BEGIN CERTIFICATE-----",
  "MIIBszCCAVmgAwIBAgIUQ2VydGlmaWNhdGVzIGFyZSBwdWJsaWMwCgYIKoZIzj0EAwIw",
  "-----END CERTIFICATE-----",
].join("\n");

describe("pem private key detector", () => {
  const keys: [string, string][] = [
    ["PKCS#8", rsa.privateKey.export({ type: "pkcs8", format: "pem" }).toString()],
    ["PKCS#1 RSA", rsa.privateKey.export({ type: "pkcs1", format: "pem" }).toString()],
    ["SEC1 EC", ec.privateKey.export({ type: "sec1", format: "pem" }).toString()],
    [
      "encrypted PKCS#8",
      rsa.privateKey
        .export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "x" })
        .toString(),
    ],
    ["OpenSSH", openssh],
  ];
  for (const [name, pem] of keys) {
    test(`finds the body of a ${name} private key, not its BEGIN/END lines`, () => {
      const [body] = found(`tls.key: ${pem}`);
      assert.ok(body !== undefined && body.length > 40);
      assert.ok(!body.includes("-----"));
      assert.ok(pem.includes(body));
    });
  }

  test("leaves certificates and public keys alone", () => {
    const publicKey = rsa.publicKey.export({ type: "spki", format: "pem" }).toString();
    assert.deepEqual(found(`${certificate}\n${publicKey}`), []);
  });

  test("finds a key after a certificate in the same bundle, once", () => {
    const bundle = `${certificate}\n${openssh}\n${certificate}`;
    const findings = pemPrivateKeyDetector.scan(bundle);
    assert.equal(findings.length, 1);
    assert.ok(bundle.slice(findings[0]?.end).startsWith("-----END OPENSSH PRIVATE KEY-----"));
  });

  test("masks a key cut off before its END line to the end of the text", () => {
    const text = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC";
    assert.deepEqual(found(text), ["\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC"]);
  });

  test("costs nothing on text without a BEGIN line", () => {
    assert.deepEqual(found("no keys here, just -----dashes-----"), []);
  });

  test("partial keeps line breaks, real or JSON-escaped, and stars every other character", () => {
    assert.equal(pemPrivateKeyDetector.mask("\nMIIE\nAB==\n", "partial"), "\n****\n****\n");
    assert.equal(pemPrivateKeyDetector.mask("\\nMIIE\\n", "partial"), "\\n****\\n");
  });

  test("full replaces the body with the detector tag, hash with a keyed tag", () => {
    assert.equal(pemPrivateKeyDetector.mask("\nMIIE\n", "full"), "[pem-private-key]");
    const hashed = pemPrivateKeyDetector.mask("\nMIIE\n", "hash", new Uint8Array(32));
    assert.match(hashed, /^\[pem-private-key:[0-9a-f]{16}\]$/);
    assert.equal(hashed, pemPrivateKeyDetector.mask("\nMIIE\n", "hash", new Uint8Array(32)));
  });
});
