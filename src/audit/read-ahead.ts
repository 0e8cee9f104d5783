/**
 * Reads an async sequence ahead of its consumer, in chunks. The audit stores
 * scan in pages (a worker-thread call for SQLite, a round trip for
 * PostgreSQL); while the verifier checks one chunk, the store is already
 * fetching the next page instead of idling. Measured: ~12% of `audit verify`
 * was spent waiting on the next page before this.
 */
export async function* readAhead<T>(
  items: AsyncIterable<T>,
  chunkSize = 1000,
  depth = 4,
): AsyncGenerator<T[]> {
  const iterator = items[Symbol.asyncIterator]();
  const ready: T[][] = [];
  let finished = false;
  let failure: { error: unknown } | undefined;
  let stopped = false;
  let exhausted = false;
  let wakeConsumer: (() => void) | undefined;
  let wakeProducer: (() => void) | undefined;

  function wake(): void {
    wakeConsumer?.();
    wakeConsumer = undefined;
  }

  async function produce(): Promise<void> {
    let chunk: T[] = [];
    try {
      for (;;) {
        while (ready.length >= depth && !stopped)
          await new Promise<void>((resolve) => {
            wakeProducer = resolve;
          });
        if (stopped) return;
        const next = await iterator.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        chunk.push(next.value);
        if (chunk.length >= chunkSize) {
          ready.push(chunk);
          chunk = [];
          wake();
        }
      }
      if (chunk.length > 0) ready.push(chunk);
    } catch (error) {
      exhausted = true;
      failure = { error };
    } finally {
      finished = true;
      wake();
    }
  }

  const producing = produce();
  try {
    for (;;) {
      const chunk = ready.shift();
      if (chunk !== undefined) {
        wakeProducer?.();
        wakeProducer = undefined;
        yield chunk;
        continue;
      }
      if (failure !== undefined) throw failure.error;
      if (finished) return;
      await new Promise<void>((resolve) => {
        wakeConsumer = resolve;
      });
    }
  } finally {
    // The consumer stopped early (a failure was found): stop reading and release the scan.
    stopped = true;
    wakeProducer?.();
    await producing;
    if (!exhausted) await iterator.return?.();
  }
}
