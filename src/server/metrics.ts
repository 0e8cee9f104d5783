import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Outcome } from "./context.ts";

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<"verb" | "resource" | "code">;
  readonly #duration: Histogram<"verb" | "resource">;
  readonly #inflight: Gauge;
  readonly #auditAppend: Histogram<"kind">;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "portcullis_" });
    this.#requests = new Counter({
      name: "portcullis_requests_total",
      help: "API requests handled, by verb, resource and HTTP status code.",
      labelNames: ["verb", "resource", "code"],
      registers: [this.registry],
    });
    this.#duration = new Histogram({
      name: "portcullis_request_duration_seconds",
      help: "Time from request to the end of the response, excluding watches and streams.",
      labelNames: ["verb", "resource"],
      buckets: [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
      ],
      registers: [this.registry],
    });
    this.#auditAppend = new Histogram({
      name: "portcullis_audit_append_seconds",
      help: "Time a call waits for its audit record to be durable (request records before forwarding, completion records before the answer ends).",
      labelNames: ["kind"],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [this.registry],
    });
    this.#inflight = new Gauge({
      name: "portcullis_inflight_requests",
      help: "Requests in flight, including open watches and streams.",
      registers: [this.registry],
    });
  }

  /** Time from handing a record to the audit writer until it is durable. */
  auditAppended(kind: string, seconds: number): void {
    this.#auditAppend.observe({ kind }, seconds);
  }

  started(): void {
    this.#inflight.inc();
  }

  finished(outcome: Outcome, seconds: number, longRunning: boolean): void {
    this.#inflight.dec();
    const labels = { verb: outcome.verb, resource: outcome.resource };
    this.#requests.inc({ ...labels, code: String(outcome.status) });
    if (!longRunning) this.#duration.observe(labels, seconds);
  }
}
