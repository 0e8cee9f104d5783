import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Detector, ScanContext } from "../detector.ts";
import {
  awsAccessKeyIdDetector,
  awsSecretKeyDetector,
  gcpServiceAccountKeyDetector,
  githubTokenDetector,
  gitlabTokenDetector,
  slackTokenDetector,
} from "./cloud-tokens.ts";

// AWS documentation example credentials.
const AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE";
const AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
// Dummy tokens of the right shape, built so no real token appears in the source.
const GITHUB_CLASSIC = `ghp_${"EXAMPLE0example1".repeat(2)}abcd`;
const GITHUB_FINE = `github_pat_11${"A".repeat(20)}_${"b".repeat(59)}`;
const GITLAB = `glpat-${"x1Y2z3".repeat(4)}`;
const SLACK_BOT = "xoxb-000000000000-0000000000000-EXAMPLEexampleEXAMPLEex";
const SLACK_APP = "xapp-1-A0000000000-0000000000000-abcdef0123456789";

function found(detector: Detector, text: string, context?: ScanContext): string[] {
  return detector.scan(text, context).map((f) => text.slice(f.start, f.end));
}

describe("aws access key id detector", () => {
  test("finds AKIA and ASIA key ids in text", () => {
    const asia = "ASIAIOSFODNN7EXAMPLE";
    const text = `aws_access_key_id = ${AWS_KEY_ID}\nsession ${asia}`;
    assert.deepEqual(found(awsAccessKeyIdDetector, text), [AWS_KEY_ID, asia]);
  });

  test("ignores key ids of the wrong length, lower case or glued to other characters", () => {
    assert.deepEqual(found(awsAccessKeyIdDetector, "AKIAIOSFODNN7EXAMPL"), []);
    assert.deepEqual(found(awsAccessKeyIdDetector, "AKIAIOSFODNN7EXAMPLEX"), []);
    assert.deepEqual(found(awsAccessKeyIdDetector, "akiaiosfodnn7example"), []);
    assert.deepEqual(found(awsAccessKeyIdDetector, `x${AWS_KEY_ID}`), []);
  });

  test("partial keeps the AKIA prefix", () => {
    assert.equal(awsAccessKeyIdDetector.mask(AWS_KEY_ID, "partial"), `AKIA${"*".repeat(16)}`);
    assert.equal(awsAccessKeyIdDetector.mask(AWS_KEY_ID, "full"), "[aws-access-key-id]");
  });
});

describe("aws secret key detector", () => {
  test("finds a secret key under a secret-like key name", () => {
    assert.deepEqual(found(awsSecretKeyDetector, AWS_SECRET, { key: "AWS_SECRET_ACCESS_KEY" }), [
      AWS_SECRET,
    ]);
    assert.deepEqual(found(awsSecretKeyDetector, AWS_SECRET, { key: "secretAccessKey" }), [
      AWS_SECRET,
    ]);
  });

  test("finds a secret key after aws_secret_access_key in a credentials file", () => {
    const file = `[default]\naws_access_key_id=${AWS_KEY_ID}\naws_secret_access_key = ${AWS_SECRET}\n`;
    assert.deepEqual(found(awsSecretKeyDetector, file), [AWS_SECRET]);
    assert.deepEqual(found(awsSecretKeyDetector, `{"AWS_SECRET_ACCESS_KEY": "${AWS_SECRET}"}`), [
      AWS_SECRET,
    ]);
  });

  test("ignores 40-character values without the context", () => {
    assert.deepEqual(found(awsSecretKeyDetector, AWS_SECRET), []);
    assert.deepEqual(found(awsSecretKeyDetector, AWS_SECRET, { key: "checksum" }), []);
    // A git commit id is 40 characters too, but has no upper case.
    const commit = "0123456789abcdef0123456789abcdef01234567";
    assert.deepEqual(found(awsSecretKeyDetector, commit, { key: "secretVersion" }), []);
  });
});

describe("gcp service account key detector", () => {
  const keyFile = JSON.stringify({
    type: "service_account",
    project_id: "example",
    private_key_id: "0123456789abcdef0123456789abcdef01234567",
    private_key: "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\n-----END PRIVATE KEY-----\n",
    client_email: "robot@example.iam.gserviceaccount.com",
  });

  test("finds private_key and private_key_id in a key file", () => {
    const values = found(gcpServiceAccountKeyDetector, keyFile);
    assert.deepEqual(values, [
      "0123456789abcdef0123456789abcdef01234567",
      "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkq\\n-----END PRIVATE KEY-----\\n",
    ]);
  });

  test("finds a private_key_id value by its key", () => {
    const id = "0123456789abcdef0123456789abcdef01234567";
    assert.deepEqual(found(gcpServiceAccountKeyDetector, id, { key: "private_key_id" }), [id]);
  });

  test("ignores private_key fields outside a service-account document", () => {
    assert.deepEqual(found(gcpServiceAccountKeyDetector, '{"private_key": "abc"}'), []);
  });
});

describe("forge and chat tokens", () => {
  test("finds GitHub classic and fine-grained tokens", () => {
    const text = `GITHUB_TOKEN=${GITHUB_CLASSIC} and ${GITHUB_FINE}.`;
    assert.deepEqual(found(githubTokenDetector, text), [GITHUB_CLASSIC, GITHUB_FINE]);
  });

  test("finds GitLab and Slack tokens", () => {
    assert.deepEqual(found(gitlabTokenDetector, `token: "${GITLAB}"`), [GITLAB]);
    assert.deepEqual(found(slackTokenDetector, `${SLACK_BOT} ${SLACK_APP}`), [
      SLACK_BOT,
      SLACK_APP,
    ]);
  });

  test("ignores prefixes followed by too little", () => {
    assert.deepEqual(found(githubTokenDetector, "ghp_short and myghp_x"), []);
    assert.deepEqual(found(gitlabTokenDetector, "glpat-short"), []);
    assert.deepEqual(found(slackTokenDetector, "xoxb-1"), []);
  });

  test("partial keeps the token prefix, hash is keyed and stable", () => {
    assert.equal(
      githubTokenDetector.mask(GITHUB_CLASSIC, "partial"),
      `ghp_${"*".repeat(GITHUB_CLASSIC.length - 4)}`,
    );
    assert.ok(githubTokenDetector.mask(GITHUB_FINE, "partial").startsWith("github_pat_*"));
    assert.ok(slackTokenDetector.mask(SLACK_BOT, "partial").startsWith("xoxb-*"));
    const key = new Uint8Array([7]);
    assert.match(gitlabTokenDetector.mask(GITLAB, "hash", key), /^\[gitlab-token:[0-9a-f]{16}\]$/);
    assert.equal(
      gitlabTokenDetector.mask(GITLAB, "hash", key),
      gitlabTokenDetector.mask(GITLAB, "hash", key),
    );
  });
});

describe("decoys", () => {
  const decoys = [
    "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    'resourceVersion: "123456789012345678"',
    "docker.io/library/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "2024-05-01T10:00:00Z 10.0.0.12",
    "secretName: aws-credentials",
  ];
  const detectors = [
    awsAccessKeyIdDetector,
    awsSecretKeyDetector,
    gcpServiceAccountKeyDetector,
    githubTokenDetector,
    gitlabTokenDetector,
    slackTokenDetector,
  ];
  for (const decoy of decoys) {
    test(`finds nothing in ${decoy.slice(0, 40)}`, () => {
      for (const detector of detectors) assert.deepEqual(found(detector, decoy), []);
    });
  }
});
