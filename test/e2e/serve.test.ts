/**
 * `portcullis serve` as a person runs it: a separate process, on embedded
 * defaults (sandbox control plane + demo agent) and with a config file in
 * front of an existing API server; SIGTERM stops it cleanly.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { type ControlPlane, startControlPlane } from "../../src/cluster/launcher.ts";
import { runKubectl } from "../support/kubectl.ts";

const cli = resolve(import.meta.dirname, "../../bin/portcullis");

class Serve {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<number | null>;
  constructor(args: string[], cwd: string) {
    this.child = spawn(cli, ["serve", ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout?.on("data", (d: Buffer) => {
      this.stdout += d.toString();
    });
    this.child.stderr?.on("data", (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((r) => this.child.on("close", (code) => r(code)));
  }
  async waitFor(pattern: RegExp, timeoutMs = 120_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = (this.stdout + this.stderr).match(pattern);
      if (match) return match;
      if (this.child.exitCode !== null)
        throw new Error(`serve exited ${this.child.exitCode}: ${this.stderr}`);
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${pattern}: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe("portcullis serve on embedded defaults", () => {
  let dir: string;
  let serve: Serve;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "portcullis-serve-"));
    serve = new Serve(["--port", "0"], dir);
  });
  after(async () => {
    if (serve.child.exitCode === null) serve.child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  test("starts a sandbox, prints a kubeconfig that works, and stops on SIGTERM", async () => {
    const [, kubeconfig] = await serve.waitFor(/An agent kubeconfig \(demo-agent[^)]*\): (\S+)/);
    assert.ok(kubeconfig?.startsWith(dir), kubeconfig);
    const kubectl = (await import("../../src/cluster/build.ts")).ensureKubeBinaries();
    const binary = (await kubectl).kubectl;
    const whoami = await runKubectl(binary, kubeconfig ?? "", [
      "auth",
      "whoami",
      "-o",
      "jsonpath={.status.userInfo.username}",
    ]);
    assert.equal(whoami.stdout, "portcullis:agent:demo-agent", whoami.stderr);
    const create = await runKubectl(binary, kubeconfig ?? "", [
      "create",
      "configmap",
      "hello",
      "--from-literal=greeting=hi",
    ]);
    assert.equal(create.code, 0, create.stderr);
    const elsewhere = await runKubectl(binary, kubeconfig ?? "", [
      "get",
      "pods",
      "-n",
      "kube-system",
    ]);
    assert.match(elsewhere.stderr, /forbidden/);
    serve.child.kill("SIGTERM");
    assert.equal(await serve.exited, 0);
    assert.match(serve.stdout, /"msg":"gateway stopped"/);
  });
});

describe("portcullis serve with a config file", () => {
  let cluster: ControlPlane;
  let dir: string;
  before(async () => {
    cluster = await startControlPlane();
    dir = await mkdtemp(join(tmpdir(), "portcullis-serve-"));
  });
  after(async () => {
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("proxies the configured upstream; kubeconfig --agent gives a working client", async () => {
    const config = join(dir, "portcullis.yaml");
    await writeFile(
      config,
      [
        `dataDir: ${join(dir, "data")}`,
        "listen:",
        "  port: 0",
        "upstream:",
        `  kubeconfig: ${cluster.gatewayKubeconfig}`,
        "",
      ].join("\n"),
    );
    const serve = new Serve(["--config", config], dir);
    try {
      const [, url] = await serve.waitFor(/"url":"(https:[^"]+)","msg":"gateway listening"/);
      const made = await new Promise<{ code: number | null; out: string; err: string }>(
        (resolveRun) => {
          const child = spawn(
            cli,
            ["kubeconfig", "--agent", "cfg-agent", "--config", config, "--server", url ?? ""],
            { cwd: dir },
          );
          let out = "";
          let err = "";
          child.stdout.on("data", (d: Buffer) => {
            out += d.toString();
          });
          child.stderr.on("data", (d: Buffer) => {
            err += d.toString();
          });
          child.on("close", (code) => resolveRun({ code, out, err }));
        },
      );
      assert.equal(made.code, 0, made.err);
      assert.doesNotMatch(made.out, /insecure-skip-tls-verify/);
      const kubeconfig = join(dir, "cfg-agent.kubeconfig");
      await writeFile(kubeconfig, made.out);
      const whoami = await runKubectl(cluster.binaries.kubectl, kubeconfig, [
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
      ]);
      assert.equal(whoami.stdout, "portcullis:agent:cfg-agent", whoami.stderr);
    } finally {
      serve.child.kill("SIGTERM");
      assert.equal(await serve.exited, 0);
    }
  });

  test("a bad config file stops startup with the file, path and problem", async () => {
    const config = join(dir, "bad.yaml");
    await writeFile(config, "listen:\n  port: 70000\nupstream:\n  kubeconfg: x\n");
    const serve = new Serve(["--config", config], dir);
    const code = await serve.exited;
    assert.equal(code, 1);
    assert.match(serve.stderr, /bad\.yaml:2:9: listen\.port: /);
    assert.match(serve.stderr, /bad\.yaml:\d+:\d+: upstream: unknown field "kubeconfg"/);
  });
});
