import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, loadConfig, parseConfig } from "./load.ts";

function problemsOf(text: string): string[] {
  try {
    parseConfig(text, "portcullis.yaml");
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

test("embedded defaults need no file", () => {
  const config = loadConfig(undefined);
  assert.equal(config.listen.port, 8443);
  assert.equal(config.dataDir, ".portcullis");
  assert.equal(config.upstream, undefined);
  assert.deepEqual(config.authentication.oidc, []);
});

test("a valid file is parsed with defaults filled in", () => {
  const config = parseConfig(
    "listen:\n  port: 9443\nupstream:\n  kubeconfig: /etc/kube/config\n  context: prod\n",
    "portcullis.yaml",
  );
  assert.equal(config.listen.port, 9443);
  assert.equal(config.listen.address, "127.0.0.1");
  assert.equal(config.upstream?.kubeconfig, "/etc/kube/config");
  assert.equal(config.upstream?.maxSockets, 256);
});

test("a wrong type names the file, line, path and problem", () => {
  const [problem] = problemsOf('listen:\n  port: "eighty"\n');
  assert.match(problem ?? "", /^portcullis\.yaml:2:9: listen\.port: .*number/);
});

test("an unknown field is named with its location", () => {
  const [problem] = problemsOf("upstream:\n  kubeconfig: x\n  kubeconfg: y\n");
  assert.match(problem ?? "", /^portcullis\.yaml:\d+:\d+: upstream: unknown field "kubeconfg"/);
});

test("an out-of-range value inside a list is located by index", () => {
  const problems = problemsOf(
    "authentication:\n  oidc:\n    - issuer: http://idp.example.com\n      audiences: [portcullis]\n",
  );
  assert.ok(
    problems.some((p) => /portcullis\.yaml:3:\d+: authentication\.oidc\[0\]\.issuer: /.test(p)),
    problems.join("\n"),
  );
});

test("several problems are all reported", () => {
  const problems = problemsOf("listen:\n  port: -1\nlogging:\n  level: loud\n");
  assert.equal(problems.length, 2);
});

test("YAML syntax errors carry a line and column", () => {
  const [problem] = problemsOf("listen:\n  port: [1,\n");
  assert.match(problem ?? "", /^portcullis\.yaml:\d+:\d+: YAML syntax:/);
});

test("a missing file is named", () => {
  assert.throws(
    () => loadConfig("/nonexistent/portcullis.yaml"),
    /\/nonexistent\/portcullis\.yaml: cannot read/,
  );
});

test("certFile without keyFile is refused", () => {
  const [problem] = problemsOf("listen:\n  tls:\n    certFile: /tls.crt\n");
  assert.match(problem ?? "", /certFile and keyFile must be given together/);
});
