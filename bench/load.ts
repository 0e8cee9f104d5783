/**
 * Load generation for benchmarks: an open-loop generator at a fixed rate
 * (latency measured from each request's scheduled start, so a slow server
 * cannot hide queueing — no coordinated omission) and a closed-loop one for
 * throughput at saturation.
 */

import type { OutgoingHttpHeaders } from "node:http";
import https from "node:https";

export interface Target {
  url: string;
  caPem: string;
  headers: OutgoingHttpHeaders;
  agent: https.Agent;
}

export function makeTarget(url: string, caPem: string, headers: OutgoingHttpHeaders): Target {
  return {
    url,
    caPem,
    headers,
    agent: new https.Agent({ keepAlive: true, maxSockets: 256, ca: caPem }),
  };
}

/** One GET, body read and discarded; resolves with the status code. */
export function get(target: Target, path: string): Promise<number> {
  const url = new URL(path, target.url);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        headers: target.headers,
        agent: target.agent,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

export interface LatencyResult {
  count: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  achievedRps: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? Number.NaN;
}

/** Sends `rate` requests per second for `seconds`, regardless of how fast answers come. */
export async function fixedRate(
  target: Target,
  path: string,
  rate: number,
  seconds: number,
): Promise<LatencyResult> {
  const total = Math.round(rate * seconds);
  const intervalMs = 1000 / rate;
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const scheduled = start + i * intervalMs;
    const wait = scheduled - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    else if (wait > 0) await new Promise((r) => setImmediate(r));
    pending.push(
      get(target, path).then(
        (status) => {
          if (status !== 200) errors++;
          latencies.push(performance.now() - scheduled);
        },
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    count: latencies.length,
    errors,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    achievedRps: latencies.length / elapsed,
  };
}

/** `concurrency` workers each sending back-to-back requests for `seconds`. */
export async function saturate(
  target: Target,
  path: string,
  concurrency: number,
  seconds: number,
): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      const status = await get(target, path);
      if (status === 200) done++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done / ((performance.now() - start) / 1000);
}
