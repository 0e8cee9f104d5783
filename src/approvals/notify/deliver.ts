/**
 * Sends each event to each configured target, in the background: retried with
 * backoff, each attempt under its own timeout, and every delivery's state kept
 * for `deliveries()` and counted in `portcullis_notification_deliveries_total`.
 * `notify` never throws and never waits: a slow or failing receiver cannot
 * delay a held call, and a notification cannot decide one (this module has no
 * access to the approval store).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import { sendAttempt } from "./attempt.ts";
import { type NotificationsConfig, targetNameOf } from "./config.ts";
import type { NotificationEvent, NotificationType } from "./event.ts";
import { defaultRetryPolicy, nextDelay, type RetryPolicy } from "./retry.ts";
import { Slots } from "./slots.ts";
import { type TargetSender, targetSender } from "./targets.ts";

export type DeliveryOutcome = "delivered" | "rejected" | "given_up" | "dropped" | "cancelled";

export interface DeliveryRecord {
  eventId: string;
  eventType: NotificationType;
  /**
   * In progress: `queued` (for a free connection slot), `sending`, or
   * `waiting` (for the next attempt); then the outcome.
   */
  state: "queued" | "sending" | "waiting" | DeliveryOutcome;
  attempts: number;
  /** The last HTTP status; absent after a network error or a timeout. */
  lastStatus?: number;
  lastError?: string;
  /** RFC 3339 times. */
  queuedAt: string;
  lastAttemptAt?: string;
  nextAttemptAt?: string;
  finishedAt?: string;
}

export interface TargetDeliveries {
  target: string;
  kind: "webhook" | "slack";
  /** Newest first. */
  deliveries: DeliveryRecord[];
}

export interface NotifierOptions {
  targets: NotificationsConfig;
  /** Base URL of the approver UI; events then link to `<base>/approvals/<id>`. */
  linkBase?: string;
  registry?: Registry;
  log?: Logger;
  retry?: Partial<RetryPolicy>;
  /** Deliveries remembered per target for `deliveries()`. */
  historySize?: number;
  /** Deliveries of one target in progress at most; events beyond are dropped (and counted). */
  maxPendingPerTarget?: number;
  /** Requests to one target in flight at once; further attempts queue. */
  concurrencyPerTarget?: number;
  random?: () => number;
}

interface Target extends TargetSender {
  name: string;
  history: DeliveryRecord[];
  pending: number;
  slots: Slots;
}

export class Notifier {
  readonly #targets: Target[];
  readonly #retry: RetryPolicy;
  readonly #historySize: number;
  readonly #maxPending: number;
  readonly #random: () => number;
  readonly #log: Logger | undefined;
  readonly #outcomes: Counter<"target" | "outcome"> | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #cancel = new AbortController();

  /** Throws when a target's secret cannot be read, so a bad config stops the start. */
  constructor(options: NotifierOptions) {
    const concurrency = options.concurrencyPerTarget ?? 4;
    this.#targets = options.targets.map((config, index) => ({
      ...targetSender(config, options.linkBase),
      name: targetNameOf(config, index),
      history: [],
      pending: 0,
      slots: new Slots(concurrency),
    }));
    this.#retry = { ...defaultRetryPolicy, ...options.retry };
    this.#historySize = options.historySize ?? 100;
    this.#maxPending = options.maxPendingPerTarget ?? 1000;
    this.#random = options.random ?? Math.random;
    this.#log = options.log;
    if (options.registry) this.#outcomes = outcomesCounter(options.registry);
  }

  /** Queues the event for every target and returns at once. */
  notify(event: NotificationEvent): void {
    for (const target of this.#targets) {
      const record: DeliveryRecord = {
        eventId: event.id,
        eventType: event.type,
        state: "queued",
        attempts: 0,
        queuedAt: new Date().toISOString(),
      };
      target.history.unshift(record);
      target.history.length = Math.min(target.history.length, this.#historySize);
      if (this.#cancel.signal.aborted) {
        this.#finish(target, record, "cancelled");
      } else if (target.pending >= this.#maxPending) {
        record.lastError = `${target.pending} deliveries already pending`;
        this.#finish(target, record, "dropped");
      } else {
        const delivery = this.#deliver(target, event, record);
        this.#inFlight.add(delivery);
        void delivery.finally(() => this.#inFlight.delete(delivery));
      }
    }
  }

  /** A copy of each target's recent deliveries. */
  deliveries(): TargetDeliveries[] {
    return this.#targets.map((t) => ({
      target: t.name,
      kind: t.kind,
      deliveries: t.history.map((record) => ({ ...record })),
    }));
  }

  /** Resolves once every delivery started so far has finished. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Gives deliveries in progress up to `graceMs` to finish, then cancels the rest. */
  async close(graceMs = 0): Promise<void> {
    if (graceMs > 0) {
      const graceOver = new AbortController();
      const grace = sleep(graceMs, undefined, { signal: graceOver.signal }).catch(() => {});
      await Promise.race([this.idle(), grace]);
      graceOver.abort();
    }
    this.#cancel.abort();
    await this.idle();
  }

  async #deliver(target: Target, event: NotificationEvent, record: DeliveryRecord): Promise<void> {
    target.pending++;
    try {
      const nextRequest = target.prepare(event);
      for (let attempt = 1; ; attempt++) {
        if (this.#cancel.signal.aborted) return this.#finish(target, record, "cancelled");
        Object.assign(record, { state: "queued", nextAttemptAt: undefined });
        const result = await target.slots.run(() => {
          const now = new Date().toISOString();
          Object.assign(record, { state: "sending", attempts: attempt, lastAttemptAt: now });
          return sendAttempt(nextRequest, target.timeoutMs, this.#cancel.signal);
        });
        record.lastStatus = result.status;
        record.lastError = result.ok ? undefined : result.error;
        if (result.ok) return this.#finish(target, record, "delivered");
        if (this.#cancel.signal.aborted) return this.#finish(target, record, "cancelled");
        if (!result.retryable) return this.#finish(target, record, "rejected");
        if (attempt >= this.#retry.attempts) return this.#finish(target, record, "given_up");
        const waitMs = nextDelay(this.#retry, attempt, result.retryAfterMs, this.#random);
        record.state = "waiting";
        record.nextAttemptAt = new Date(Date.now() + waitMs).toISOString();
        this.#log?.debug(
          { target: target.name, eventId: event.id, attempt, error: result.error, waitMs },
          "notification attempt failed; retrying",
        );
        await sleep(waitMs, undefined, { signal: this.#cancel.signal }).catch(() => {});
      }
    } catch (err) {
      // Only a bug lands here (building the body); it is recorded, never thrown.
      record.lastError = err instanceof Error ? err.message : String(err);
      this.#finish(target, record, "given_up");
    } finally {
      target.pending--;
    }
  }

  #finish(target: Target, record: DeliveryRecord, outcome: DeliveryOutcome): void {
    record.state = outcome;
    record.nextAttemptAt = undefined;
    record.finishedAt = new Date().toISOString();
    this.#outcomes?.inc({ target: target.name, outcome });
    if (outcome === "delivered" || outcome === "cancelled") return;
    this.#log?.warn(
      {
        target: target.name,
        eventId: record.eventId,
        attempts: record.attempts,
        error: record.lastError,
      },
      `notification ${outcome.replace("_", " ")}`,
    );
  }
}

const outcomesMetric = "portcullis_notification_deliveries_total";

/** One counter per registry, so a notifier rebuilt on a config reload keeps counting. */
function outcomesCounter(registry: Registry): Counter<"target" | "outcome"> {
  const existing = registry.getSingleMetric(outcomesMetric);
  if (existing instanceof Counter) return existing as Counter<"target" | "outcome">;
  return new Counter({
    name: outcomesMetric,
    help: "Approval notifications by target and outcome (delivered, rejected, given_up, dropped, cancelled).",
    labelNames: ["target", "outcome"],
    registers: [registry],
  });
}
