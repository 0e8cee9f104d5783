/**
 * The in-process side of change notification, shared by both engines: a set
 * of listeners and an `emit` that reaches each of them. Engines feed it from
 * their own commits and from whatever tells them about other processes
 * (PostgreSQL NOTIFY, the SQLite change poll).
 */
import type { ChangeListener, StoreChange } from "./store.ts";

export interface ChangeHub {
  subscribe(listener: ChangeListener): () => void;
  emit(change: StoreChange): void;
  readonly listening: boolean;
}

/**
 * `onFirst`/`onLast` let an engine run its poll only while someone listens.
 * A listener that throws is a bug: the others are still called, then the
 * error is rethrown outside the store (an uncaught exception, as from an
 * EventEmitter handler), never as the failure of a committed mutation.
 */
export function createChangeHub(hooks: { onFirst?(): void; onLast?(): void } = {}): ChangeHub {
  const listeners = new Set<ChangeListener>();
  return {
    subscribe(listener) {
      // A wrapper per subscription: the same function subscribed twice is called twice.
      const entry: ChangeListener = (change) => listener(change);
      listeners.add(entry);
      if (listeners.size === 1) hooks.onFirst?.();
      return function unsubscribe() {
        if (listeners.delete(entry) && listeners.size === 0) hooks.onLast?.();
      };
    },
    emit(change) {
      for (const listener of [...listeners]) {
        try {
          listener(change);
        } catch (error) {
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    },
    get listening() {
      return listeners.size > 0;
    },
  };
}
