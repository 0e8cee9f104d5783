import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { connectionStringPasswordDetector as detector } from "./connection-strings.ts";

function found(text: string): string[] {
  return detector.scan(text).map((f) => text.slice(f.start, f.end));
}

describe("connection string password detector", () => {
  test("finds the password in URL userinfo, and only the password", () => {
    assert.deepEqual(found("postgres://app:s3cr3t-Pa55@db.prod:5432/app?sslmode=require"), [
      "s3cr3t-Pa55",
    ]);
    assert.deepEqual(found("DATABASE_URL=mysql://root:hunter2@10.0.0.5/shop"), ["hunter2"]);
    assert.deepEqual(found("redis://:onlypass@cache:6379/0"), ["onlypass"]);
  });

  test("keeps a password containing @ and : whole", () => {
    assert.deepEqual(found("amqp://user:p@ss:w0rd@rabbit/vhost"), ["p@ss:w0rd"]);
  });

  test("finds passwords in two URLs on one line", () => {
    assert.deepEqual(found("primary=postgres://a:one@h1/x replica=postgres://b:two@h2/x"), [
      "one",
      "two",
    ]);
  });

  test("finds password=, pwd= and passwd: assignments in text and DSNs", () => {
    assert.deepEqual(found("Server=sql1;User Id=sa;Password=Pa$$w0rd!;Encrypt=true"), [
      "Pa$$w0rd!",
    ]);
    assert.deepEqual(found("Driver={ODBC};Uid=sa;PWD=abc123;"), ["abc123"]);
    assert.deepEqual(found('login failed passwd: "my secret phrase" for bob'), [
      "my secret phrase",
    ]);
    assert.deepEqual(found("host=db user=app password=changeme dbname=app"), ["changeme"]);
    assert.deepEqual(found("https://api/login?user=a&password=xyz&next=/"), ["xyz"]);
    assert.deepEqual(found("DB_PASSWORD=topsecret"), ["topsecret"]);
  });

  test("reports a URL password found by both scans once", () => {
    assert.deepEqual(found("mongodb://admin:password=1@mongo/db"), ["password=1"]);
  });

  test("ignores URLs without a password, and image references with @", () => {
    assert.deepEqual(found("https://user@example.com/path"), []);
    assert.deepEqual(found("https://example.com:8443/a@b"), []);
    assert.deepEqual(found("ghcr.io/org/app@sha256:0123456789abcdef"), []);
    assert.deepEqual(found("ssh git@github.com:org/repo.git"), []);
  });

  test("ignores references, empty values and fields that only mention passwords", () => {
    assert.deepEqual(found(`postgres://app:\${DB_PASSWORD}@db/app`), []);
    assert.deepEqual(found("password: {{ .Values.db.password }}"), []);
    assert.deepEqual(found('password: ""'), []);
    assert.deepEqual(found("passwordSecretRef: db-creds, passwordPolicy strict"), []);
    assert.deepEqual(found("password=********"), []);
  });

  test("finds nothing in decoys", () => {
    assert.deepEqual(
      found("3f2504e0-4f89-11d3-9a0c-0305e82c3301 10.1.2.3 2024-05-01T10:00:00Z"),
      [],
    );
  });

  test("masks hide the length; hash is keyed", () => {
    assert.equal(detector.mask("hunter2", "partial"), "********");
    assert.equal(detector.mask("a-very-long-password", "partial"), "********");
    assert.equal(detector.mask("hunter2", "full"), "[connection-string-password]");
    assert.match(
      detector.mask("hunter2", "hash", new Uint8Array([1])),
      /^\[connection-string-password:[0-9a-f]{16}\]$/,
    );
  });
});
