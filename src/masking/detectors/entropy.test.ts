import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { secretValueDetector as detector, secretKind, shannonBitsPerChar } from "./entropy.ts";

const RANDOM = "Zx8qL2vN0pRt7sKw4mYb"; // 20 characters, mixed case and digits
const AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

function found(text: string, key?: string): string[] {
  const context = key === undefined ? undefined : { key };
  return detector.scan(text, context).map((f) => text.slice(f.start, f.end));
}

describe("secret key names", () => {
  test("names a secret by its last word", () => {
    for (const key of ["clientSecret", "API_KEY", "apiKey", "api-key", "GITHUB_TOKEN", "token"]) {
      assert.equal(secretKind(key), "secret", key);
    }
    for (const key of ["AWS_SECRET_ACCESS_KEY", "privateKey", "credentials", "signing_key"]) {
      assert.equal(secretKind(key), "secret", key);
    }
    for (const key of ["password", "DB_PASSWORD", "adminPasswd", "pwd", "PGPASSWORD"]) {
      assert.equal(secretKind(key), "password", key);
    }
  });

  test("does not take Kubernetes field names for secrets", () => {
    const fields = [
      "secretName",
      "tokenTTL",
      "token_ttl",
      "tokenExpirationSeconds",
      "passwordSecretRef",
      "secretKeyRef",
      "keyId",
      "publicKey",
      "key",
      "uid",
    ];
    for (const key of fields) assert.equal(secretKind(key), undefined, key);
  });
});

describe("secret value detector", () => {
  test("masks random values under secret keys", () => {
    assert.deepEqual(found(RANDOM, "clientSecret"), [RANDOM]);
    assert.deepEqual(found(AWS_SECRET, "AWS_SECRET_ACCESS_KEY"), [AWS_SECRET]);
    assert.deepEqual(found("0f3a9c2be4d1708a5c6e9b2f4d8a1c3e", "api_key"), [
      "0f3a9c2be4d1708a5c6e9b2f4d8a1c3e",
    ]);
  });

  test("masks any real value under a password key, weak ones included", () => {
    assert.deepEqual(found("changeme", "password"), ["changeme"]);
    assert.deepEqual(found("hunter2", "DB_PASSWORD"), ["hunter2"]);
  });

  test("leaves empty, boolean, numeric and reference values alone", () => {
    assert.deepEqual(found("", "password"), []);
    assert.deepEqual(found("true", "serviceAccountToken"), []);
    assert.deepEqual(found("3600", "token"), []);
    assert.deepEqual(found(`\${DB_PASSWORD}`, "password"), []);
    assert.deepEqual(found("********", "password"), []);
  });

  test("leaves low-entropy or short values under secret keys alone", () => {
    assert.deepEqual(found("changeme", "apiToken"), []);
    assert.deepEqual(found("my-app-secret-name", "secret"), []);
    assert.deepEqual(found("/var/run/secrets/kubernetes.io/serviceaccount/token", "token"), []);
    assert.deepEqual(found("aaaaaaaaaaaaaaaaaaaaA1", "token"), []);
    assert.deepEqual(found("Please rotate this value 2024", "clientSecret"), []);
  });

  test("leaves values under non-secret keys alone, however random", () => {
    assert.deepEqual(found(RANDOM, "secretName"), []);
    assert.deepEqual(found("3f2504e0-4f89-11d3-9a0c-0305e82c3301", "uid"), []);
    assert.deepEqual(found("sha256:0123456789abcdef0123456789abcdef", "imageID"), []);
  });

  test("finds KEY=value and key: value assignments in text", () => {
    const env = `LOG_LEVEL=debug\nSTRIPE_API_KEY=${RANDOM}\nclient_secret: "${AWS_SECRET}"\n`;
    assert.deepEqual(found(env), [RANDOM, AWS_SECRET]);
    assert.deepEqual(found(`{"accessToken":"${RANDOM}","expires":3600}`), [RANDOM]);
  });

  test("ignores assignments in text that are not secrets", () => {
    assert.deepEqual(found("token_ttl=3600 tokenTTL: 1h secretName: db-creds"), []);
    assert.deepEqual(found(`resourceVersion: 123456789 uid: ${RANDOM}`), []);
    assert.deepEqual(found("password=hunter2"), []);
  });

  test("entropy is 0 for one repeated character and log2(n) for n distinct ones", () => {
    assert.equal(shannonBitsPerChar("aaaa"), 0);
    assert.equal(shannonBitsPerChar("abcd"), 2);
  });

  test("masks hide value and length; hash is keyed", () => {
    assert.equal(detector.mask(RANDOM, "partial"), "********");
    assert.equal(detector.mask(RANDOM, "full"), "[secret-value]");
    assert.match(
      detector.mask(RANDOM, "hash", new Uint8Array([3])),
      /^\[secret-value:[0-9a-f]{16}\]$/,
    );
  });
});
