/**
 * Child processes of the control plane: each writes stdout and stderr to a
 * log file (and optionally to a line callback), keeps its last lines for
 * error messages, and can be stopped with SIGTERM, then SIGKILL.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";

const tailLines = 30;
/** Every child still running, with how to SIGKILL it (and its process group, if it leads one). */
const running = new Map<ChildProcess, () => void>();
const removeAtExit = new Set<string>();
let exitHookInstalled = false;

export interface ManagedProcess {
  name: string;
  pid: number | undefined;
  logPath: string;
  /** Settles when the process has exited, with its exit code or signal. */
  exited: Promise<string>;
  hasExited(): boolean;
  /** The last lines it printed, for error messages. */
  tail(): string;
  stop(timeoutMs?: number): Promise<void>;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface StartProcessOptions {
  logDir: string;
  log?: ((line: string) => void) | undefined;
  /** The child's environment; the parent's by default. */
  env?: NodeJS.ProcessEnv;
  /**
   * Start it as the leader of a new process group and signal the whole group,
   * so that commands it runs itself (kwok's exec targets) stop with it.
   */
  processGroup?: boolean;
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: StartProcessOptions,
): ManagedProcess {
  installExitHook();
  const logPath = join(options.logDir, `${name}.log`);
  const logFile = createWriteStream(logPath, { flags: "a" });
  const child = spawn(command, args, {
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.processGroup ?? false,
    ...(options.env ? { env: options.env } : {}),
  });
  function sendSignal(which: NodeJS.Signals): void {
    if (!options.processGroup || child.pid === undefined) {
      child.kill(which);
      return;
    }
    try {
      process.kill(-child.pid, which);
    } catch (error) {
      // ESRCH: the group has no members left.
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
  }
  running.set(child, () => sendSignal("SIGKILL"));
  const recent: string[] = [];
  let exitDescription: string | null = null;

  function record(chunk: Buffer): void {
    logFile.write(chunk);
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line.length === 0) continue;
      recent.push(line);
      if (recent.length > tailLines) recent.shift();
      options.log?.(`[${name}] ${line}`);
    }
  }
  child.stdout?.on("data", record);
  child.stderr?.on("data", record);

  const exited = new Promise<string>((resolve) => {
    child.on("error", (error) => {
      recent.push(`failed to start ${command}: ${error.message}`);
      exitDescription = "failed to start";
      running.delete(child);
      resolve(exitDescription);
    });
    child.on("close", (code, signal) => {
      exitDescription = signal ? `killed by ${signal}` : `exit code ${code}`;
      running.delete(child);
      logFile.end();
      resolve(exitDescription);
    });
  });

  async function stop(timeoutMs = 10_000): Promise<void> {
    if (exitDescription === null) {
      sendSignal("SIGTERM");
      const timer = setTimeout(() => sendSignal("SIGKILL"), timeoutMs);
      await exited;
      clearTimeout(timer);
    }
    // Whatever the leader left behind in its group goes too.
    if (options.processGroup) sendSignal("SIGKILL");
  }

  return {
    name,
    pid: child.pid,
    logPath,
    exited,
    hasExited: () => exitDescription !== null,
    tail: () => recent.join("\n"),
    stop,
  };
}

/** Rejects as soon as any of `processes` exits, naming it and quoting its last log lines. */
export function failOnExit(processes: ManagedProcess[]): Promise<never> {
  return Promise.race(
    processes.map(async (proc) => {
      const how = await proc.exited;
      throw new Error(
        `${proc.name} exited during startup (${how}); last lines of ${proc.logPath}:\n${proc.tail()}`,
      );
    }),
  );
}

/**
 * Best effort: a test runner that exits without calling stop() must not leave
 * an apiserver (or a temporary data dir) behind. Only synchronous work is
 * possible in an exit handler, hence SIGKILL and rmSync.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", function killChildren() {
    for (const kill of running.values()) kill();
    for (const path of removeAtExit) rmSync(path, { recursive: true, force: true });
  });
}

/** Removes `path` if the Node process exits first; call the returned function to cancel. */
export function removeAtProcessExit(path: string): () => void {
  installExitHook();
  removeAtExit.add(path);
  return () => removeAtExit.delete(path);
}

/**
 * Distinct free TCP ports on 127.0.0.1: bind port 0 for each (all held open at
 * once, so none repeats), read them, close. The race until the real server
 * binds is accepted.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, listenOnAnyPort));
  const ports = servers.map((server) => {
    const address = server.address();
    return typeof address === "object" && address ? address.port : 0;
  });
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  return ports;
}

function listenOnAnyPort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

export interface ProcessRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion with `input` on stdin, collecting its output. */
export function runProcess(
  command: string,
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ProcessRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      stdio: ["pipe", "pipe", "pipe"],
      timeout: options.timeoutMs ?? 60_000,
      ...(options.env ? { env: options.env } : {}),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

/** Runs kubectl to completion with `input` on stdin, collecting its output. */
export function runKubectl(
  kubectl: string,
  kubeconfig: string,
  args: string[],
  input: string | undefined,
): Promise<KubectlResult> {
  return runProcess(
    kubectl,
    ["--kubeconfig", kubeconfig, ...args],
    input === undefined ? {} : { input },
  );
}
