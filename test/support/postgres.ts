/**
 * A real, throwaway PostgreSQL server for tests and benchmarks: initdb into a
 * temp dir, postgres on a free loopback port, gone when the process exits.
 * Never assumes a server is running. As root it runs the server as the
 * `postgres` system user, because PostgreSQL refuses to run as root.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { chown, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePorts } from "../../src/cluster/processes.ts";

export interface TestPostgres {
  connectionString: string;
  /** Fast shutdown; keeps the data, so `start()` can bring the same server back. */
  stop(): Promise<void>;
  /** Starts again on the same port and data (for outage and recovery tests). */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

interface Owner {
  uid: number;
  gid: number;
}

const running = new Set<ChildProcess>();
const leftovers = new Set<string>();

// Best effort when a test process ends without destroy(): SIGQUIT is an immediate shutdown.
process.on("exit", function killTestPostgres() {
  for (const child of running) child.kill("SIGQUIT");
  for (const dir of leftovers) rmSync(dir, { recursive: true, force: true });
});

function findBinDir(): string {
  const versioned = existsSync("/usr/lib/postgresql")
    ? readdirSync("/usr/lib/postgresql")
        .sort((a, b) => Number(b) - Number(a))
        .map((v) => `/usr/lib/postgresql/${v}/bin`)
    : [];
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/bin", ...versioned];
  const found = dirs.find(
    (dir) => dir && ["initdb", "postgres"].every((b) => existsSync(join(dir, b))),
  );
  if (!found)
    throw new Error(
      "PostgreSQL server binaries (initdb, postgres) not found on PATH, in /usr/local/bin or " +
        "/usr/lib/postgresql/*/bin; install them with `apt-get install postgresql`",
    );
  return found;
}

/** PostgreSQL will not run as root; as root, we hand it to the `postgres` user. */
function serverOwner(): Owner | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  if (!line)
    throw new Error("running as root, but there is no `postgres` user to run PostgreSQL as");
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

async function waitUntilReady(connectionString: string, child: ChildProcess, log: () => string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`postgres exited (${child.exitCode}):\n${log()}`);
    const client = new pg.Client({ connectionString, connectionTimeoutMillis: 1000 });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query("SELECT 1");
      return;
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`postgres did not become ready: ${error}\n${log()}`);
    } finally {
      await client.end().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = findBinDir();
  const owner = serverOwner();
  const root = await mkdtemp(join(tmpdir(), "portcullis-pg-"));
  leftovers.add(root);
  const dataDir = join(root, "data");
  const socketDir = join(root, "socket");
  await mkdir(socketDir);
  if (owner) for (const dir of [root, socketDir]) await chown(dir, owner.uid, owner.gid);
  const asOwner = { cwd: root, env: { ...process.env, LC_ALL: "C" }, ...(owner ?? {}) };
  // --no-sync: initdb's fsyncs cost seconds and a throwaway cluster needs none; the server keeps fsync=on.
  await promisify(execFile)(
    join(bin, "initdb"),
    ["-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
    asOwner,
  ).catch(async (error) => {
    await rm(root, { recursive: true, force: true });
    throw new Error(`initdb failed: ${error.stderr ?? error}`);
  });
  const [port] = await freePorts(1);
  const connectionString = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | undefined;
  let exiting: Promise<unknown> = Promise.resolve();
  let log = "";

  async function start(): Promise<void> {
    await exiting;
    if (child) return;
    const args = ["-D", dataDir, "-p", String(port), "-k", socketDir];
    args.push("-c", "listen_addresses=127.0.0.1", "-c", "fsync=on", "-c", "max_connections=100");
    // setpriv --pdeathsig: the server dies with this process even on SIGKILL or Ctrl-C.
    const guard = existsSync("/usr/bin/setpriv") ? ["--pdeathsig", "SIGQUIT", "--"] : undefined;
    const [command, ...argv] = guard
      ? ["/usr/bin/setpriv", ...guard, join(bin, "postgres"), ...args]
      : [join(bin, "postgres"), ...args];
    const started = spawn(command as string, argv, {
      ...asOwner,
      stdio: ["ignore", "ignore", "pipe"],
    });
    started.stderr?.on("data", (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-8000);
    });
    child = started;
    running.add(started);
    started.once("exit", () => {
      running.delete(started);
      if (child === started) child = undefined;
    });
    await waitUntilReady(connectionString, started, () => log);
  }

  async function stop(): Promise<void> {
    const stopping = child;
    if (stopping && stopping.exitCode === null) {
      child = undefined;
      // A start() during shutdown waits for it, rather than finding the old process.
      exiting = new Promise((resolve) => stopping.once("exit", resolve));
      stopping.kill("SIGINT");
      const timer = setTimeout(() => stopping.kill("SIGQUIT"), 10_000);
      await exiting;
      clearTimeout(timer);
    }
    await exiting;
  }

  await start();
  return {
    connectionString,
    stop,
    start,
    async destroy() {
      await stop();
      await rm(root, { recursive: true, force: true });
      leftovers.delete(root);
    },
  };
}
