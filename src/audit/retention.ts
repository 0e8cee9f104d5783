/**
 * Retention: removes old records, but only whole ranges below a signed
 * checkpoint, so what remains stays verifiable — the kept base frontier
 * must reproduce that checkpoint's root — and the log itself says what it
 * lost (a `prune` record, written before the rows go).
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { AuditSettings } from "../config/schema.ts";
import { leafHash, type TreeState } from "./merkle.ts";
import { statedRoot, TreeReplay } from "./replay.ts";
import type { AuditStore, CheckpointRow, LogBase } from "./store/store.ts";
import type { AuditWriter } from "./writer.ts";

export interface PruneResult {
  /** Records with seq below this are gone; it is a signed checkpoint's size. */
  prunedBelow: number;
  removed: number;
  /** The seq of the prune record that says so. */
  recordSeq: number;
}

/**
 * The frontier at `checkpoint.size`, replayed from the store's bodies
 * (not its cached leaf hashes), refusing to go on if it does not reproduce
 * the checkpoint's root: pruning a damaged range would destroy the evidence.
 */
async function frontierAt(
  store: AuditStore,
  base: LogBase,
  checkpoint: CheckpointRow,
): Promise<TreeState> {
  const tree = new TreeReplay(base);
  for await (const row of store.scan(base.size, checkpoint.size)) {
    if (row.seq !== tree.size) break;
    tree.append(leafHash(Buffer.from(row.body, "utf8")));
  }
  if (tree.size !== checkpoint.size || !tree.root().equals(statedRoot(checkpoint.note).rootHash)) {
    throw new Error(
      `refusing to prune: records ${base.size}–${checkpoint.size - 1} do not reproduce the signed checkpoint at size ${checkpoint.size}; run \`portcullis audit verify\``,
    );
  }
  return tree.state();
}

/**
 * Prunes below the largest checkpoint size S such that every record with
 * seq < S is older than `cutoff`. Returns undefined when there is nothing to
 * prune. The prune record goes first: a crash between it and the deletion
 * leaves a record of an intent, never a silent gap.
 */
export async function pruneOlderThan(
  store: AuditStore,
  writer: AuditWriter,
  cutoff: Date,
  reason = `retention: records before ${cutoff.toISOString()}`,
): Promise<PruneResult | undefined> {
  const base = (await store.base()) ?? { size: 0, frontier: [] };
  const head = await store.head();
  // Records are searched in seq order: the first one at or after the cutoff bounds the prunable prefix.
  const [firstKept] = await store.search({
    from: cutoff.toISOString(),
    afterSeq: base.size - 1,
    limit: 1,
  });
  const limit = firstKept?.seq ?? head.size;
  const checkpoint = (await store.checkpoints())
    .filter((c) => c.size > base.size && c.size <= limit)
    .at(-1);
  if (checkpoint === undefined) return undefined;
  const frontier = await frontierAt(store, base, checkpoint);
  const size = checkpoint.size;
  const recordSeq = await writer.record({
    kind: "prune",
    time: new Date().toISOString(),
    requestId: randomUUID(),
    prunedBelow: size,
    checkpointSize: size,
    reason,
  });
  await store.prune({ size, frontier: frontier.frontier });
  return { prunedBelow: size, removed: size - base.size, recordSeq };
}

/** Parses "90d", "12h", "30m" into milliseconds. */
export function parseAge(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(d|h|m)$/.exec(text.trim());
  if (!match) throw new Error(`age ${JSON.stringify(text)} is not like 90d, 12h or 30m`);
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[match[2] as "d" | "h" | "m"];
  return Number(match[1]) * unit;
}

/**
 * The gateway's retention timer: every `everyMinutes` (and once soon after
 * start, so a gateway restarted often still prunes), one run at a time.
 */
export function startRetention(
  store: AuditStore,
  writer: AuditWriter,
  settings: AuditSettings["retention"],
  log: Logger,
): { stop(): Promise<void> } | undefined {
  const { maxAgeDays: days, everyMinutes } = settings;
  if (days === undefined) return undefined;
  const maxAgeDays: number = days;
  let running: Promise<void> | undefined;
  function runRetention(): void {
    if (running) return;
    const cutoff = new Date(Date.now() - maxAgeDays * 86_400_000);
    running = pruneOlderThan(store, writer, cutoff, `retention: older than ${maxAgeDays} days`)
      .then((result) => {
        if (result)
          log.info(
            { ...result, cutoff },
            `audit: pruned ${result.removed} records older than ${maxAgeDays} days`,
          );
      })
      .catch((err: unknown) => log.warn({ err }, "audit: retention pruning failed"))
      .finally(() => {
        running = undefined;
      });
  }
  const first = setTimeout(runRetention, 1000);
  const timer = setInterval(runRetention, everyMinutes * 60_000);
  first.unref();
  timer.unref();
  return {
    async stop() {
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}
