import { clientClosedError } from "./errors";

/**
 * Every wait the client makes goes through one Timers instance so `close()` can cancel them
 * all. Sleeps are pending work (a retry, a poll) and keep Node alive until done or closed;
 * background timers (`after`, e.g. the midnight refill) are unref'd.
 */
export class Timers {
  private readonly sleeping = new Map<NodeJS.Timeout, (err: Error) => void>();
  private readonly repeating = new Set<NodeJS.Timeout>();
  private closed = false;

  /** Resolves after `ms`; rejects with a CLIENT_CLOSED error if the client closes first. */
  sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.reject(clientClosedError(undefined, true));
    return new Promise<void>((resolve, reject) => {
      const t = setTimeout(
        () => {
          this.sleeping.delete(t);
          resolve();
        },
        Math.max(0, ms),
      );
      this.sleeping.set(t, reject);
    });
  }

  /** A one-shot callback that is cancelled on close; `keepAlive` for timers that hold pending work. */
  after(ms: number, fn: () => void, keepAlive = false): NodeJS.Timeout {
    const t = setTimeout(
      () => {
        this.repeating.delete(t);
        fn();
      },
      Math.max(0, ms),
    );
    if (!keepAlive) t.unref();
    this.repeating.add(t);
    return t;
  }

  cancel(t: NodeJS.Timeout | undefined): void {
    if (!t) return;
    clearTimeout(t);
    this.repeating.delete(t);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    this.closed = true;
    for (const [t, reject] of this.sleeping) {
      clearTimeout(t);
      reject(clientClosedError(undefined, true));
    }
    this.sleeping.clear();
    for (const t of this.repeating) clearTimeout(t);
    this.repeating.clear();
  }
}

/** Full-jitter exponential backoff: uniform in [0, min(max, base * 2^(attempt-1))]. */
export function backoffDelay(
  attempt: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** The whole-client pause after consecutive 606s: ≈ window/4, doubling, capped at the window, ±20 %. */
export function rateLimitPause(consecutive: number, windowMs: number, random: () => number = Math.random): number {
  const base = Math.min(windowMs, (windowMs / 4) * 2 ** Math.max(0, consecutive - 1));
  return Math.round(Math.min(windowMs, base * (0.8 + 0.4 * random())));
}

/** The short pause after a 615 (too many concurrent calls): 1–3 s. */
export function concurrencyPause(random: () => number = Math.random): number {
  return Math.round(1000 + 2000 * random());
}
