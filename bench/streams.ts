/**
 * `npm run bench -- streams`: exec sessions over the Kubernetes WebSocket
 * protocol (v5.channel.k8s.io), straight to the API server and through the
 * gateway (a separate `portcullis serve` process) with the agent's masking
 * on, and through a second gateway without masking (baseline off), so the
 * cost of relaying and the cost of masking show apart.
 *
 * The pod lives on a kwok fake node, whose exec runs the command on this
 * machine: `cat FILE` streams a generated log of log-like lines, a few with
 * card numbers so masking does real work; `cat` with stdin open echoes
 * keystrokes. Direct sessions carry the impersonation the gateway adds, so
 * the API server does the same work and the difference is the gateway.
 */

import { once } from "node:events";
import { createWriteStream, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import type { CompletionRecord, RequestRecord } from "../src/audit/record.ts";
import { openSqliteStore } from "../src/audit/store/sqlite.ts";
import { startKwok } from "../src/cluster/kwok.ts";
import { runningPod } from "../test/support/kwok.ts";
import { writePolicyFile } from "../test/support/policy.ts";
import {
  type BenchCluster,
  type BenchGateway,
  rssMiB,
  say,
  startBenchCluster,
  startBenchGateway,
} from "./harness.ts";
import { percentile } from "./load.ts";

export interface StreamsOptions {
  streamMb: number;
  sessions: number;
  keystrokes: number;
  /** Rounds of the big `cat` per path; the table shows the median. */
  rounds: number;
}

const POD = "shell";

/** The soft limit on open files this process (and the cluster it starts) inherits. */
function openFilesLimit(): number {
  const limits = readFileSync("/proc/self/limits", "utf8");
  return Number(/Max open files\s+(\d+)/.exec(limits)?.[1] ?? Number.NaN);
}

export async function runStreamsBench(options: StreamsOptions) {
  // Per session: 2 sockets in the gateway, 2 in the API server, a socket and three pipes in kwok.
  const filesNeeded = options.sessions * 6 + 1024;
  const fileLimit = openFilesLimit();
  if (fileLimit < filesNeeded) {
    say(
      `warning: ulimit -n is ${fileLimit}; ${options.sessions} sessions need about ${filesNeeded} (raise it, or pass a smaller --sessions)`,
    );
  }
  const workDir = await mkdtemp(join(tmpdir(), "portcullis-bench-streams-"));
  const logFile = join(workDir, "app.log");
  say(`writing ${options.streamMb} MB of log lines…`);
  const generated = await writeLogFile(logFile, options.streamMb * 1024 * 1024);
  const bench = await startBenchCluster(1);
  // Stopped in reverse order, whatever step fails.
  const cleanups: Array<() => Promise<void>> = [
    () => rm(workDir, { recursive: true, force: true }),
    () => bench.stop(),
  ];
  try {
    return await measureStreams(options, bench, workDir, logFile, generated, cleanups);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

async function measureStreams(
  options: StreamsOptions,
  bench: BenchCluster,
  workDir: string,
  logFile: string,
  generated: { lines: number; cards: number },
  cleanups: Array<() => Promise<void>>,
) {
  const { ns, cluster } = bench;
  const kubectl = async (args: string[]) => {
    const r = await cluster.kubectl(args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
  };
  await kubectl(["create", "role", "exec", "-n", ns, "--verb=get,create", "--resource=pods/exec"]);
  await kubectl(["create", "rolebinding", "exec", "-n", ns, "--role=exec", `--user=${bench.user}`]);
  const kwok = await startKwok(cluster, { exec: [{ namespaces: [ns], workDir }] });
  cleanups.push(() => kwok.stop());
  const policyFile = join(workDir, "policy.yaml");
  await writePolicyFile(policyFile, "bench-streams", [
    "  defaultAction: allow",
    "  agents:",
    "    - name: bench",
    "      allow:",
    "        - { verbs: [get, list, create], resources: [pods, pods/exec, configmaps] }",
  ]);
  const masked = await startBenchGateway(bench, `policy:\n  files: [${policyFile}]\n`);
  cleanups.push(() => masked.stop());
  const unmasked = await startBenchGateway(
    bench,
    `policy:\n  baseline: false\n  files: [${policyFile}]\n`,
  );
  cleanups.push(() => unmasked.stop());
  await runningPod(cluster, kwok, ns, POD);
  // The impersonation the gateway adds, as the harness's direct target sends it.
  const directHeaders: Record<string, string> = {};
  for (const [header, value] of Object.entries(bench.direct(masked.agentId).headers)) {
    if (header !== "accept" && value !== undefined) directHeaders[header] = String(value);
  }
  const endpoints: Array<{ name: string; endpoint: ExecEndpoint }> = [
    {
      name: "direct",
      endpoint: { url: cluster.server, ca: cluster.caPem, headers: directHeaders },
    },
    { name: "gateway (masked)", endpoint: endpointOf(masked) },
    { name: "gateway (unmasked)", endpoint: endpointOf(unmasked) },
  ];
  const streamPath = execPath(ns, POD, ["cat", logFile], false);
  const catPath = execPath(ns, POD, ["cat"], true);

  say("warming up…");
  for (const { endpoint } of endpoints) {
    await streamOutput(endpoint, execPath(ns, POD, ["head", "-c", "1000000", logFile], false));
    await echoLatencies(endpoint, catPath, 20, 0x61);
  }

  const gatewayOf = [undefined, masked, unmasked];
  const streams: Array<Array<Awaited<ReturnType<typeof streamOutput>>>> = [[], [], []];
  const peaks = [0, 0, 0];
  for (let round = 1; round <= options.rounds; round++) {
    for (const [i, { name, endpoint }] of endpoints.entries()) {
      say(`${name}: cat of ${options.streamMb} MB (round ${round} of ${options.rounds})…`);
      const gateway = gatewayOf[i];
      const sampler = setInterval(() => {
        if (gateway) peaks[i] = Math.max(peaks[i] ?? 0, rssMiB(gateway.pid));
      }, 100);
      const stream = await streamOutput(endpoint, streamPath).finally(() => clearInterval(sampler));
      streams[i]?.push(stream);
    }
  }
  const rows: Array<Record<string, number | string>> = [];
  for (const [i, { name, endpoint }] of endpoints.entries()) {
    say(`${name}: ${options.keystrokes} keystrokes, a letter then a newline…`);
    const letters = await echoLatencies(endpoint, catPath, options.keystrokes, 0x61);
    const newlines = await echoLatencies(endpoint, catPath, options.keystrokes, 0x0a);
    const runs = streams[i] ?? [];
    const rates = runs.map((r) => r.bytes / 1024 / 1024 / r.seconds).sort((x, y) => x - y);
    const last = runs.at(-1);
    rows.push({
      path: name,
      mbPerS: percentile(rates, 50),
      mbPerSRange: `${rates[0]?.toFixed(1)}-${rates.at(-1)?.toFixed(1)}`,
      bytesOut: last?.bytes ?? 0,
      clearCards: last?.clearCards ?? 0,
      maskedCards: last?.maskedCards ?? 0,
      peakRssMiB: gatewayOf[i] ? Math.round(peaks[i] ?? 0) : "-",
      keyP50Ms: percentile(letters, 50),
      keyP99Ms: percentile(letters, 99),
      newlineP50Ms: percentile(newlines, 50),
      newlineP99Ms: percentile(newlines, 99),
    });
  }
  const maskingApplied = await maskingRecord(masked);

  // A fresh gateway, so the heap grown by the big streams does not hide the sessions' cost.
  say(`holding ${options.sessions} cat sessions through a fresh masked gateway…`);
  const fresh = await startBenchGateway(bench, `policy:\n  files: [${policyFile}]\n`);
  let held: Awaited<ReturnType<typeof holdSessions>>;
  try {
    held = await holdSessions(endpointOf(fresh), fresh.pid, catPath, options.sessions);
  } finally {
    await fresh.stop();
  }

  const [direct, viaMasked, viaUnmasked] = rows;
  const num = (row: Record<string, number | string> | undefined, key: string) =>
    Number(row?.[key] ?? Number.NaN);
  const figures = {
    streamMb: options.streamMb,
    linesWritten: generated.lines,
    cardsWritten: generated.cards,
    throughputRatioMasked: num(viaMasked, "mbPerS") / num(direct, "mbPerS"),
    throughputRatioUnmasked: num(viaUnmasked, "mbPerS") / num(direct, "mbPerS"),
    addedKeyP99MsMasked: num(viaMasked, "keyP99Ms") - num(direct, "keyP99Ms"),
    addedKeyP99MsUnmasked: num(viaUnmasked, "keyP99Ms") - num(direct, "keyP99Ms"),
    addedNewlineP99MsMasked: num(viaMasked, "newlineP99Ms") - num(direct, "newlineP99Ms"),
    keystrokes: options.keystrokes,
    rounds: options.rounds,
    ...held,
    openFilesLimit: openFilesLimit(),
    maskingApplied,
  };
  return { rows, figures };
}

function endpointOf(gateway: BenchGateway): ExecEndpoint {
  return {
    url: gateway.target.url,
    ca: gateway.target.caPem,
    headers: { authorization: String(gateway.target.headers.authorization) },
  };
}

/** What the masked gateway's audit log says of the big `cat` (the exec with the most output). */
async function maskingRecord(gateway: BenchGateway): Promise<Record<string, unknown>> {
  const store = await openSqliteStore(join(gateway.dir, "audit.db"));
  try {
    const completions = (await store.search({ kind: "completion", limit: 100_000 }))
      .map((row) => JSON.parse(row.body) as CompletionRecord)
      .filter((c) => c.recording !== undefined)
      .sort((a, b) => b.bytes - a.bytes);
    const completion = completions[0];
    if (!completion) return {};
    const [row] = await store.search({ kind: "request", requestId: completion.requestId });
    const request = row ? (JSON.parse(row.body) as RequestRecord) : undefined;
    return {
      rule: request?.decision.rule,
      profile: request?.decision.maskingProfile ?? "none",
      bytes: completion.bytes,
      masked: completion.masked,
      recordingBytes: completion.recording?.size,
    };
  } finally {
    await store.close();
  }
}

/** Luhn-valid test card numbers; the default profile keeps the last four digits. */
const CARDS = ["4111 1111 1111 1111", "5555 5555 5555 4444"];
const MASKED = "**** **** **** ";

/** A deterministic log: request lines, now and then a payment line with a card number. */
async function writeLogFile(
  path: string,
  bytes: number,
): Promise<{ lines: number; cards: number }> {
  const out = createWriteStream(path);
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const levels = ["INFO ", "INFO ", "INFO ", "DEBUG", "WARN "];
  const paths = ["/api/orders", "/api/carts", "/healthz", "/api/users/me", "/api/search?q=shoes"];
  let written = 0;
  let lines = 0;
  let cards = 0;
  const start = Date.UTC(2026, 10, 28, 12);
  while (written < bytes) {
    const batch: string[] = [];
    for (let i = 0; i < 2000; i++, lines++) {
      const time = new Date(start + lines * 7).toISOString();
      const head = `${time} ${levels[rand(levels.length)]} [worker-${rand(16)}] req=${rand(1 << 30).toString(16)}`;
      if (lines % 500 === 499) {
        batch.push(
          `${head} payment accepted card=${CARDS[cards++ % CARDS.length]} amount=${rand(50000) / 100} currency=EUR\n`,
        );
      } else {
        batch.push(
          `${head} ${paths[rand(paths.length)]} status=${rand(10) === 0 ? 404 : 200} duration_ms=${rand(900)} bytes=${rand(65536)} region=eu-west-1\n`,
        );
      }
    }
    const chunk = batch.join("");
    written += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  return { lines, cards };
}

interface ExecEndpoint {
  url: string;
  ca: string;
  headers: Record<string, string>;
}

function execPath(ns: string, pod: string, command: string[], stdin: boolean): string {
  const query = new URLSearchParams({ container: "app", stdout: "true", stdin: String(stdin) });
  for (const word of command) query.append("command", word);
  return `/api/v1/namespaces/${ns}/pods/${pod}/exec?${query}`;
}

const STDIN = 0;
const STDOUT = 1;
const ERROR = 3;
const CLOSE = 255;

function openExec(endpoint: ExecEndpoint, path: string): Promise<WebSocket> {
  const url = new URL(path, endpoint.url);
  url.protocol = "wss:";
  const socket = new WebSocket(url, ["v5.channel.k8s.io"], {
    headers: endpoint.headers,
    ca: endpoint.ca,
    perMessageDeflate: false,
  });
  return new Promise((resolve, reject) => {
    socket.once("open", () => resolve(socket));
    socket.once("error", reject);
    socket.once("unexpected-response", (_req, res) =>
      reject(new Error(`exec upgrade answered ${res.statusCode} ${res.statusMessage}`)),
    );
  });
}

/** Half-closes stdin (v5) and waits for the session to end. */
async function finish(socket: WebSocket): Promise<void> {
  const closed = once(socket, "close");
  if (socket.readyState === WebSocket.OPEN) socket.send(Buffer.of(CLOSE, STDIN));
  await closed;
}

/** Occurrences of `needle` across chunk boundaries. */
function counter(needle: string) {
  const pattern = Buffer.from(needle);
  let tail = Buffer.alloc(0);
  let count = 0;
  return {
    push(chunk: Buffer) {
      const all = tail.length ? Buffer.concat([tail, chunk]) : chunk;
      for (let at = all.indexOf(pattern); at !== -1; at = all.indexOf(pattern, at + 1)) count++;
      tail = Buffer.from(all.subarray(Math.max(0, all.length - pattern.length + 1)));
    },
    get count() {
      return count;
    },
  };
}

/** One exec whose stdout is read to the end; time from the upgrade request to the close. */
async function streamOutput(endpoint: ExecEndpoint, path: string) {
  const started = performance.now();
  const socket = await openExec(endpoint, path);
  const clear = CARDS.map(counter);
  const masked = counter(MASKED);
  let bytes = 0;
  let status = "";
  socket.on("message", (data: Buffer) => {
    if (data[0] === STDOUT) {
      const payload = data.subarray(1);
      bytes += payload.length;
      for (const c of clear) c.push(payload);
      masked.push(payload);
    } else if (data[0] === ERROR) status = data.subarray(1).toString();
  });
  await once(socket, "close");
  const seconds = (performance.now() - started) / 1000;
  if (status && !status.includes('"Success"')) throw new Error(`exec failed: ${status}`);
  return {
    bytes,
    seconds,
    clearCards: clear.reduce((n, c) => n + c.count, 0),
    maskedCards: masked.count,
  };
}

/** Sends one byte at a time to an interactive `cat`, timing each until its echo arrives. */
async function echoLatencies(
  endpoint: ExecEndpoint,
  path: string,
  count: number,
  byte: number,
): Promise<number[]> {
  const socket = await openExec(endpoint, path);
  let echoed: () => void = () => {};
  socket.on("message", (data: Buffer) => {
    if (data[0] === STDOUT && data.length > 1) echoed();
  });
  const spans: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const arrived = new Promise<void>((resolve) => {
        echoed = resolve;
      });
      const sent = performance.now();
      socket.send(Buffer.of(STDIN, byte));
      await arrived;
      spans.push(performance.now() - sent);
    }
  } finally {
    await finish(socket);
  }
  return spans.sort((a, b) => a - b);
}

/** Opens `count` interactive sessions at once, each echoing one line, and measures the gateway. */
async function holdSessions(endpoint: ExecEndpoint, pid: number, path: string, count: number) {
  // Warm-up: a few sessions opened and closed, so start-up costs are not counted.
  for (let i = 0; i < 5; i++) await finish(await openExec(endpoint, path));
  await new Promise((r) => setTimeout(r, 1000));
  const before = rssMiB(pid);
  const sockets: WebSocket[] = [];
  let failed = 0;
  let firstError = "";
  const started = performance.now();
  for (let i = 0; i < count; i += 50) {
    const batch = Array.from({ length: Math.min(50, count - i) }, () => openExec(endpoint, path));
    for (const result of await Promise.allSettled(batch)) {
      if (result.status === "fulfilled") sockets.push(result.value);
      else {
        failed++;
        firstError ||= String(result.reason);
      }
    }
  }
  const openSeconds = (performance.now() - started) / 1000;
  // Every session in use: one line typed and echoed, so maskers and recorders hold state.
  await Promise.all(
    sockets.map(async (socket) => {
      const echoed = new Promise<void>((resolve) =>
        socket.on("message", (data: Buffer) => {
          if (data[0] === STDOUT) resolve();
        }),
      );
      socket.send(Buffer.from("\0hello\n", "latin1"));
      await echoed;
    }),
  );
  await new Promise((r) => setTimeout(r, 2000));
  const holding = rssMiB(pid);
  say(
    `${sockets.length} sessions open (${failed} failed${firstError ? `: ${firstError}` : ""}); closing…`,
  );
  await Promise.all(sockets.map(finish));
  await new Promise((r) => setTimeout(r, 3000));
  const after = rssMiB(pid);
  return {
    sessionsHeld: sockets.length,
    sessionsFailed: failed,
    sessionsOpenSeconds: openSeconds,
    rssBeforeSessionsMiB: Math.round(before),
    rssHoldingMiB: Math.round(holding),
    rssAfterCloseMiB: Math.round(after),
    kibPerSession: Math.round(((holding - before) * 1024) / Math.max(1, sockets.length)),
  };
}
