/**
 * Namespace labels for policy matching (`namespaceSelector`), kept current by
 * a list-then-watch of namespaces as the gateway itself (it needs `list` and
 * `watch` on namespaces for this). On any error it re-lists after a short
 * back-off, so a lost watch never leaves labels stale for long.
 */
import type { IncomingMessage } from "node:http";
import type { Logger } from "pino";
import type { Upstream } from "../kube/upstream.ts";

interface NamespaceObject {
  metadata?: { name?: string; labels?: Record<string, string>; resourceVersion?: string };
}

interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: NamespaceObject;
}

const retryMs = 2000;
const missingTtlMs = 5000;

export class NamespaceLabels {
  readonly #upstream: Upstream;
  readonly #log: Logger;
  readonly #labels = new Map<string, Record<string, string>>();
  readonly #missing = new Map<string, number>();
  #stopped = false;
  #current: IncomingMessage | undefined;
  #synced = false;

  constructor(upstream: Upstream, log: Logger) {
    this.#upstream = upstream;
    this.#log = log;
  }

  /** Labels of a namespace; undefined when unknown (not yet listed, or no such namespace). */
  labelsOf(name: string): Record<string, string> | undefined {
    return this.#labels.get(name);
  }

  /**
   * Labels of a namespace, asking the API server when the watch has not
   * delivered it yet (a namespace created a moment ago): a rule keyed on
   * labels must not miss a namespace just because it is new. Undefined when
   * the namespace does not exist or cannot be read.
   */
  async resolve(name: string): Promise<Record<string, string> | undefined> {
    const known = this.#labels.get(name);
    if (known) return known;
    // A missing namespace is remembered briefly, so calls naming one cannot
    // turn each request into an extra API server round trip.
    const missingUntil = this.#missing.get(name);
    if (missingUntil !== undefined && missingUntil > Date.now()) return undefined;
    const { status, body } = await this.#upstream.get(
      `/api/v1/namespaces/${encodeURIComponent(name)}`,
      5000,
    );
    if (status !== 200) {
      if (this.#missing.size > 10_000) this.#missing.clear();
      this.#missing.set(name, Date.now() + missingTtlMs);
      return undefined;
    }
    this.#missing.delete(name);
    const ns = JSON.parse(body) as NamespaceObject;
    const labels = ns.metadata?.labels ?? {};
    this.#labels.set(name, labels);
    return labels;
  }

  /** True once the first list has completed. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Starts listing and watching; resolves after the first list (or its failure). */
  async start(): Promise<void> {
    await this.#listAndWatch().catch((err: unknown) => this.#retry(err));
  }

  stop(): void {
    this.#stopped = true;
    this.#current?.destroy();
  }

  #retry(err: unknown): void {
    if (this.#stopped) return;
    this.#log.warn({ err }, "namespace labels: list/watch failed; retrying");
    setTimeout(
      () => void this.#listAndWatch().catch((e: unknown) => this.#retry(e)),
      retryMs,
    ).unref();
  }

  async #listAndWatch(): Promise<void> {
    const { status, body } = await this.#upstream.get("/api/v1/namespaces", 10_000);
    if (status !== 200)
      throw new Error(`listing namespaces answered ${status}: ${body.slice(0, 200)}`);
    const list = JSON.parse(body) as {
      items: NamespaceObject[];
      metadata: { resourceVersion: string };
    };
    this.#labels.clear();
    for (const ns of list.items) this.#apply("ADDED", ns);
    this.#synced = true;
    this.#watch(list.metadata.resourceVersion);
  }

  #apply(type: WatchEvent["type"], ns: NamespaceObject): void {
    const name = ns.metadata?.name;
    if (!name) return;
    if (type === "DELETED") {
      this.#labels.delete(name);
    } else {
      this.#labels.set(name, ns.metadata?.labels ?? {});
      this.#missing.delete(name);
    }
  }

  #watch(resourceVersion: string): void {
    if (this.#stopped) return;
    const req = this.#upstream.request({
      method: "GET",
      path: `/api/v1/namespaces?watch=1&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(resourceVersion)}`,
      headers: { accept: "application/json" },
    });
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      this.#retry(err);
    };
    req.once("error", fail);
    req.once("response", (res: IncomingMessage) => {
      this.#current = res;
      if (res.statusCode !== 200) {
        res.resume();
        return fail(new Error(`watching namespaces answered ${res.statusCode}`));
      }
      let pending = "";
      res.setEncoding("utf8");
      res.on("data", (text: string) => {
        pending += text;
        let newline = pending.indexOf("\n");
        while (newline >= 0) {
          const line = pending.slice(0, newline).trim();
          pending = pending.slice(newline + 1);
          newline = pending.indexOf("\n");
          if (!line) continue;
          const event = JSON.parse(line) as WatchEvent;
          // 410 Gone and other errors arrive as ERROR events: start over.
          if (event.type === "ERROR") return res.destroy(new Error("watch error event"));
          if (event.type !== "BOOKMARK") this.#apply(event.type, event.object);
        }
      });
      res.once("error", fail);
      res.once("end", () => fail(new Error("namespace watch ended")));
    });
    req.end();
  }
}
