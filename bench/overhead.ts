/**
 * `npm run bench -- overhead`: the same load straight to the API server and
 * through the gateway (a separate `portcullis serve` process), on one
 * machine. Direct requests carry the same impersonation the gateway adds, so
 * the API server does the same work and the difference is the gateway hop.
 */
import { rssMiB, say, startBenchCluster, startBenchGateway } from "./harness.ts";
import { fixedRate, saturate } from "./load.ts";

export interface OverheadOptions {
  rate: number;
  seconds: number;
  saturateSeconds: number;
  concurrency: number;
  soakSeconds: number;
  /** "get", "list" or "all". */
  workload: string;
}

export async function runOverhead(options: OverheadOptions): Promise<Record<string, unknown>> {
  const bench = await startBenchCluster(500);
  const gateway = await startBenchGateway(bench);
  try {
    const direct = bench.direct(gateway.agentId);
    const viaGateway = gateway.target;
    const workloads = [
      { name: "GET small ConfigMap", path: `/api/v1/namespaces/${bench.ns}/configmaps/small` },
      {
        name: "LIST 500 ConfigMaps",
        path: `/api/v1/namespaces/${bench.ns}/configmaps?labelSelector=app%3Dbench`,
      },
    ];
    const rows: Array<Record<string, number | string>> = [];
    const chosen = workloads.filter(
      (w) => options.workload === "all" || w.name.toLowerCase().startsWith(options.workload),
    );
    for (const workload of chosen) {
      say(`${workload.name}: warming up…`);
      await fixedRate(direct, workload.path, options.rate, 3);
      await fixedRate(viaGateway, workload.path, options.rate, 3);
      say(
        `${workload.name}: ${options.rate} req/s for ${options.seconds}s, direct then through the gateway…`,
      );
      const d = await fixedRate(direct, workload.path, options.rate, options.seconds);
      const g = await fixedRate(viaGateway, workload.path, options.rate, options.seconds);
      say(
        `${workload.name}: saturation with ${options.concurrency} concurrent clients, ${options.saturateSeconds}s each…`,
      );
      const dMax = await saturate(
        direct,
        workload.path,
        options.concurrency,
        options.saturateSeconds,
      );
      const gMax = await saturate(
        viaGateway,
        workload.path,
        options.concurrency,
        options.saturateSeconds,
      );
      rows.push({
        workload: workload.name,
        directP50Ms: d.p50Ms,
        gatewayP50Ms: g.p50Ms,
        addedP50Ms: g.p50Ms - d.p50Ms,
        directP99Ms: d.p99Ms,
        gatewayP99Ms: g.p99Ms,
        addedP99Ms: g.p99Ms - d.p99Ms,
        directMaxRps: dMax,
        gatewayMaxRps: gMax,
        throughputRatio: gMax / dMax,
        errors: d.errors + g.errors,
      });
    }

    let memory: Record<string, number> = {};
    if (options.soakSeconds > 0) {
      say(
        `memory soak: ${options.rate} req/s mixed GET/LIST through the gateway for ${options.soakSeconds}s…`,
      );
      const samples: number[] = [rssMiB(gateway.pid)];
      const sampler = setInterval(() => samples.push(rssMiB(gateway.pid)), 5000);
      await Promise.all(
        workloads.map((w) =>
          fixedRate(viaGateway, w.path, options.rate / workloads.length, options.soakSeconds),
        ),
      );
      clearInterval(sampler);
      samples.push(rssMiB(gateway.pid));
      const half = Math.floor(samples.length / 2);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      memory = {
        soakSeconds: options.soakSeconds,
        rssStartMiB: samples[0] ?? Number.NaN,
        rssEndMiB: samples.at(-1) ?? Number.NaN,
        rssMaxMiB: Math.max(...samples),
        rssFirstHalfMeanMiB: mean(samples.slice(0, Math.max(1, half))),
        rssSecondHalfMeanMiB: mean(samples.slice(half)),
      };
    }
    return {
      benchmark: "overhead",
      rate: options.rate,
      seconds: options.seconds,
      workloads: rows,
      memory,
    };
  } finally {
    await gateway.stop();
    await bench.stop();
  }
}
