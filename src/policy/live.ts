/**
 * The policy in force: the baseline pack plus the configured files, compiled
 * at start (a bad file stops the start, naming file, rule and field) and
 * hot-reloaded when a file changes. A bad edit keeps the last good policy,
 * logs the error and sets a metric; the gateway stays ready.
 */
import { type FSWatcher, watch } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import type { PolicySettings } from "../config/schema.ts";
import { composeWithBaseline } from "./compose.ts";
import type { PolicyEngine } from "./engine.ts";
import { evaluate, needsObject } from "./evaluate.ts";
import { loadPolicyFile } from "./load.ts";
import type { CompiledPolicy } from "./types.ts";

const reloadDebounceMs = 200;

/** Compiles the configured policy; throws with a message naming what is wrong. */
export function compileConfiguredPolicy(settings: PolicySettings): CompiledPolicy {
  return composeWithBaseline(
    settings.baseline,
    settings.files.map((file) => loadPolicyFile(resolve(file))),
  );
}

export function engineFor(policy: CompiledPolicy): PolicyEngine {
  return {
    needsObject: (request) => needsObject(policy, request),
    decide: (input) => evaluate(policy, input),
  };
}

export class LivePolicy {
  readonly #settings: PolicySettings;
  readonly #log: Logger;
  readonly #watchers: FSWatcher[] = [];
  readonly #failures: Counter | undefined;
  readonly #healthy: Gauge | undefined;
  #engine: PolicyEngine;
  #timer: NodeJS.Timeout | undefined;

  constructor(settings: PolicySettings, log: Logger, registry?: Registry) {
    this.#settings = settings;
    this.#log = log;
    this.#engine = engineFor(compileConfiguredPolicy(settings));
    if (registry) {
      this.#failures = new Counter({
        name: "portcullis_policy_reload_failures_total",
        help: "Policy reloads refused because an edited file did not compile (the last good policy stays).",
        registers: [registry],
      });
      this.#healthy = new Gauge({
        name: "portcullis_policy_last_reload_ok",
        help: "1 when the policy files on disk are the policy in force, 0 after a refused reload.",
        registers: [registry],
      });
      this.#healthy.set(1);
    }
  }

  /** The engine for the policy in force now. */
  current(): PolicyEngine {
    return this.#engine;
  }

  /** Watches the configured files' directories (editors replace files by rename). */
  watchFiles(): void {
    const byDir = new Map<string, Set<string>>();
    for (const file of this.#settings.files.map((f) => resolve(f))) {
      const names = byDir.get(dirname(file)) ?? new Set<string>();
      names.add(basename(file));
      byDir.set(dirname(file), names);
    }
    for (const [dir, names] of byDir) {
      const watcher = watch(dir, (_event, name) => {
        if (name && names.has(name.toString())) this.#scheduleReload();
      });
      watcher.unref();
      this.#watchers.push(watcher);
    }
  }

  #scheduleReload(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.reload(), reloadDebounceMs);
    this.#timer.unref();
  }

  /** Recompiles from disk; keeps the last good policy when that fails. */
  reload(): boolean {
    try {
      this.#engine = engineFor(compileConfiguredPolicy(this.#settings));
      this.#healthy?.set(1);
      this.#log.info({ files: this.#settings.files }, "policy reloaded");
      return true;
    } catch (err) {
      this.#failures?.inc();
      this.#healthy?.set(0);
      this.#log.error(
        { err: (err as Error).message },
        "policy reload refused; the last good policy stays in force",
      );
      return false;
    }
  }

  close(): void {
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers) watcher.close();
  }
}
