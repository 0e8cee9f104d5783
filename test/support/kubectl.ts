import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { type ProcessRun, runProcess } from "../../src/cluster/processes.ts";

export type KubectlRun = ProcessRun;

/** The machine's own kubectl, when it has one (a different version from ours). */
export const systemKubectl = ["/usr/bin/kubectl", "/usr/local/bin/kubectl"].find((p) =>
  existsSync(p),
);

/** Runs a kubectl binary to completion. */
export function runKubectl(
  binary: string,
  kubeconfig: string,
  args: string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<KubectlRun> {
  return runProcess(binary, ["--kubeconfig", kubeconfig, ...args], options);
}

/** A long-running kubectl (e.g. `get -w`) whose output can be awaited line by line. */
export class KubectlStream {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<number>;

  constructor(binary: string, kubeconfig: string, args: string[], env?: NodeJS.ProcessEnv) {
    this.child = spawn(binary, ["--kubeconfig", kubeconfig, ...args], {
      // stdin stays open (and empty) until stop(): `exec -i` keeps its session.
      stdio: ["pipe", "pipe", "pipe"],
      ...(env ? { env } : {}),
    });
    this.child.stdout?.on("data", (d: Buffer) => {
      this.stdout += d.toString();
    });
    this.child.stderr?.on("data", (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) => this.child.on("close", (code) => resolve(code ?? -1)));
  }

  /** Resolves once stdout contains `text`; rejects after `timeoutMs`. */
  async waitFor(text: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.stdout.includes(text)) {
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${JSON.stringify(text)}; stdout=${this.stdout} stderr=${this.stderr}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  stop(): void {
    this.child.kill("SIGTERM");
  }
}
