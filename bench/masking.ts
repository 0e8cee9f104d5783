/**
 * `npm run bench -- masking`: how fast masking runs and what memory it needs.
 *
 * 1. In process, one core: the JSON rewriter with every default detector on
 *    Kubernetes LIST bodies (ConfigMaps, Secrets, Pods), and the log masker
 *    on pod log text, in MB/s.
 * 2. In process: peak RSS while streaming a small and a large body through
 *    the rewriter: memory must not grow with the body.
 * 3. Through a real gateway process: `kubectl get cm -A -o json` of
 *    --gateway-mb MB of ConfigMaps, the gateway's peak RSS sampled meanwhile.
 */
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { renderKubeconfig } from "../src/kube/kubeconfig.ts";
import { JsonRewriter } from "../src/masking/json/rewriter.ts";
import { buildProfiles, type MaskingProfile } from "../src/masking/profiles.ts";
import { TextMasker } from "../src/masking/text-stream.ts";
import { rssMiB, say, startBenchCluster, startBenchGateway } from "./harness.ts";
import { type CorpusKind, corpusGenerator } from "./masking-corpus.ts";

const MiB = 1 << 20;
const CHUNK = 64 * 1024;
function defaultProfile(): MaskingProfile {
  const resolved = buildProfiles({}).resolve("default");
  if (resolved === undefined) throw new Error("the default profile is missing");
  return resolved;
}
const profile = defaultProfile();

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** MB/s of the JSON rewriter over `body`, fed in 64 KiB chunks; median of `rounds`. */
function rewriterSpeed(body: Buffer, rounds: number): { mbps: number; masked: number } {
  const speeds: number[] = [];
  let masked = 0;
  for (let r = 0; r < rounds; r++) {
    masked = 0;
    const rewriter = new JsonRewriter({
      engine: profile.engine,
      secretData: profile.secretData,
      onMasked: () => masked++,
    });
    const started = performance.now();
    for (let i = 0; i < body.length; i += CHUNK) rewriter.push(body.subarray(i, i + CHUNK));
    rewriter.end();
    speeds.push(body.length / MiB / ((performance.now() - started) / 1000));
  }
  return { mbps: median(speeds), masked };
}

function textSpeed(body: Buffer, rounds: number): { mbps: number; masked: number } {
  const speeds: number[] = [];
  let masked = 0;
  for (let r = 0; r < rounds; r++) {
    masked = 0;
    const masker = new TextMasker(profile.engine, { onFinding: () => masked++ });
    const started = performance.now();
    for (let i = 0; i < body.length; i += CHUNK) masker.push(body.subarray(i, i + CHUNK));
    masker.end();
    speeds.push(body.length / MiB / ((performance.now() - started) / 1000));
  }
  return { mbps: median(speeds), masked };
}

/**
 * Streams a LIST of `mb` MB through the rewriter, items generated as it
 * goes (the body never exists whole), sampling RSS; returns the peak.
 */
function streamedPeakRss(mb: number): number {
  const gen = corpusGenerator(3);
  const sample = gen.listBody("configmaps", 4 * MiB).toString("utf8");
  const items = sample.slice(sample.indexOf("[") + 1, sample.lastIndexOf("]"));
  const rewriter = new JsonRewriter({ engine: profile.engine, secretData: "scan" });
  rewriter.push(Buffer.from('{"kind":"ConfigMapList","apiVersion":"v1","metadata":{},"items":['));
  let sent = 0;
  let peak = process.memoryUsage().rss;
  const block = Buffer.from(items);
  for (let first = true; sent < mb * MiB; first = false) {
    if (!first) rewriter.push(Buffer.from(","));
    for (let i = 0; i < block.length; i += CHUNK) rewriter.push(block.subarray(i, i + CHUNK));
    sent += block.length;
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  rewriter.push(Buffer.from("]}"));
  rewriter.end();
  return peak / MiB;
}

export interface MaskingBenchOptions {
  mb: number;
  rounds: number;
  gatewayMb: number;
}

export async function runMaskingBench(
  options: MaskingBenchOptions,
): Promise<Record<string, unknown>> {
  const figures: Record<string, unknown> = {};
  // Memory first, before the speed corpora fill the heap.
  say("streaming 100 MB and 800 MB bodies through the rewriter for memory…");
  const start = process.memoryUsage().rss / MiB;
  const small = streamedPeakRss(100);
  const large = streamedPeakRss(800);
  process.stdout.write(
    `RSS at start ${start.toFixed(0)} MiB; peak streaming 100 MB: ${small.toFixed(0)} MiB; 800 MB: ${large.toFixed(0)} MiB\n`,
  );
  figures.rewriter_rss_start_mib = Math.round(start);
  figures.rewriter_peak_rss_100mb_mib = Math.round(small);
  figures.rewriter_peak_rss_800mb_mib = Math.round(large);

  if (options.mb > 0) {
    const gen = corpusGenerator(1);
    const rows: Array<Record<string, unknown>> = [];
    for (const kind of ["configmaps", "secrets", "pods"] as CorpusKind[]) {
      say(`generating ${options.mb} MB of ${kind}…`);
      const body = gen.listBody(kind, options.mb * MiB);
      const { mbps, masked } = rewriterSpeed(body, options.rounds);
      rows.push({
        body: `LIST ${kind}`,
        MB: (body.length / MiB).toFixed(1),
        "MB/s": mbps.toFixed(0),
        masked,
      });
      figures[`json_${kind}_mbps`] = Math.round(mbps);
    }
    say(`generating ${options.mb} MB of log text…`);
    const logs = gen.logText(options.mb * MiB);
    const text = textSpeed(logs, options.rounds);
    rows.push({
      body: "pod log text",
      MB: (logs.length / MiB).toFixed(1),
      "MB/s": text.mbps.toFixed(0),
      masked: text.masked,
    });
    figures.log_text_mbps = Math.round(text.mbps);
    process.stdout.write("body\tMB\tMB/s (one core)\tvalues masked\n");
    for (const r of rows) process.stdout.write(`${r.body}\t${r.MB}\t${r["MB/s"]}\t${r.masked}\n`);
  }
  if (options.gatewayMb > 0) Object.assign(figures, await gatewayList(options.gatewayMb));
  return figures;
}

/** `kubectl get cm -A -o json` of `mb` MB through a gateway process; its peak RSS. */
async function gatewayList(mb: number): Promise<Record<string, unknown>> {
  const bench = await startBenchCluster(1);
  try {
    const perMap = 900 * 1024;
    const count = Math.ceil((mb * MiB) / perMap);
    say(`creating ${count} ConfigMaps of ${perMap >> 10} KiB (${mb} MB)…`);
    const line = "payments.endpoint=https://ledger.payments.svc.cluster.local:8443 timeout=30s\n";
    const filler = line.repeat(Math.floor((perMap - 200) / line.length));
    for (let start = 0; start < count; start += 10) {
      const items = [];
      for (let i = start; i < Math.min(count, start + 10); i++) {
        items.push({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: `big-${i}`, namespace: bench.ns },
          data: { "app.properties": `${filler}card=4111 1111 1111 1111\norder=4111111111111112\n` },
        });
      }
      const r = await bench.cluster.kubectl(["create", "-f", "-"], {
        input: JSON.stringify({ apiVersion: "v1", kind: "List", items }),
      });
      if (r.code !== 0) throw new Error(r.stderr);
      if (start % 50 === 0) say(`  ${start + items.length}/${count}`);
    }
    for (const args of [
      ["create", "clusterrole", "bench-cm-lister", "--verb=list", "--resource=configmaps"],
      [
        "create",
        "clusterrolebinding",
        "bench-cm-lister",
        "--clusterrole=bench-cm-lister",
        `--user=${bench.user}`,
      ],
    ]) {
      const r = await bench.cluster.kubectl(args);
      if (r.code !== 0) throw new Error(r.stderr);
    }
    const gw = await startBenchGateway(bench);
    try {
      const kubeconfig = join(gw.dir, "agent.kubeconfig");
      const token = String(gw.target.headers.authorization).replace("Bearer ", "");
      await writeFile(
        kubeconfig,
        renderKubeconfig({ name: "bench", server: gw.target.url, caPem: gw.target.caPem, token }),
      );
      const before = rssMiB(gw.pid);
      let peak = before;
      const sampler = setInterval(() => {
        try {
          peak = Math.max(peak, rssMiB(gw.pid));
        } catch {
          // The gateway has exited; the failure surfaces from kubectl.
        }
      }, 50);
      say("kubectl get cm -A -o json through the gateway…");
      const started = performance.now();
      const { bytes, clear, masked } = await new Promise<{
        bytes: number;
        clear: number;
        masked: number;
      }>((resolve, reject) => {
        const child = spawn(
          bench.cluster.binaries.kubectl,
          ["--kubeconfig", kubeconfig, "get", "cm", "-A", "-o", "json", "--request-timeout=10m"],
          { stdio: ["ignore", "pipe", "inherit"] },
        );
        let total = 0;
        let clearCount = 0;
        let maskedCount = 0;
        let tail = "";
        child.stdout.on("data", (d: Buffer) => {
          total += d.length;
          const text = tail + d.toString("latin1");
          clearCount += text.split("4111 1111 1111 1111").length - 1;
          maskedCount += text.split("**** **** **** 1111").length - 1;
          tail = text.slice(-32);
        });
        child.on("error", reject);
        child.on("close", (code) =>
          code === 0
            ? resolve({ bytes: total, clear: clearCount, masked: maskedCount })
            : reject(new Error(`kubectl exited ${code}`)),
        );
      });
      const seconds = (performance.now() - started) / 1000;
      clearInterval(sampler);
      process.stdout.write(
        `gateway LIST ${mb} MB via kubectl: ${(bytes / MiB).toFixed(0)} MiB out in ${seconds.toFixed(1)} s; gateway RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} MiB; cards masked ${masked}, in clear ${clear}\n`,
      );
      return {
        gateway_list_mb: mb,
        gateway_list_seconds: Math.round(seconds * 10) / 10,
        gateway_rss_before_mib: Math.round(before),
        gateway_rss_peak_mib: Math.round(peak),
        gateway_cards_masked: masked,
        gateway_cards_clear: clear,
      };
    } finally {
      await gw.stop();
    }
  } finally {
    await bench.stop();
  }
}
