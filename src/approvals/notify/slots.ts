/**
 * At most `size` tasks at once, the rest in arrival order. Keeps a burst of
 * events (a thousand held calls) from opening a thousand connections to one
 * receiver, which Slack would answer with 429s.
 */
export class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter, or give it back.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}
