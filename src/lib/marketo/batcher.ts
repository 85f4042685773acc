import { asError } from "./results";
import type { MarketoError } from "./errors";
import type { Timers } from "./timers";
import type { RecordResult } from "./types";
import type { BatchDispatch, BatchSeal } from "./batch-seal";

export interface BatcherOptions<T> {
  /** Operation name, for errors. */
  operation: string;
  maxBatchSize: number;
  windowMs: number;
  /**
   * Records with the same key never share a call, and a record waits while an earlier one with
   * its key is in flight: Marketo can create duplicates for close upserts or answer 1036.
   */
  dedupeKey?: (item: T) => string | undefined;
  /** Sends one call, sealing the batch when the limiter runs it (see batch-seal.ts). */
  dispatch: BatchDispatch<T>;
  timers: Timers;
  onChange: () => void;
}

interface Held<T> {
  item: T;
  at: number;
  key?: string;
  resolve: (r: RecordResult) => void;
}

/**
 * Collects records for one (operation, key) and sends them in calls of up to maxBatchSize.
 * A call is armed when a full batch is held or the oldest record is batchWindowMs old, but
 * its contents are sealed only when the limiter runs it (the BatchSeal protocol of
 * batch-seal.ts): under load every call leaves full.
 */
export class Batcher<T> {
  private held: Held<T>[] = [];
  /** Calls queued in the limiter, not sealed yet. */
  private armed = 0;
  /** Calls sealed and waiting for Marketo's answer. */
  private sending = 0;
  private readonly keysInFlight = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private timerAt = 0;
  private flushing = false;
  private evaluateQueued = false;

  constructor(private readonly o: BatcherOptions<T>) {}

  submit(item: T): Promise<RecordResult> {
    return new Promise<RecordResult>((resolve) => {
      this.held.push({ item, at: Date.now(), key: this.o.dedupeKey?.(item), resolve });
      this.queueEvaluate();
      this.o.onChange();
    });
  }

  /** Arms calls for everything held now, without waiting for the batch window. */
  flush(): void {
    if (this.held.length) this.flushing = true;
    this.evaluate();
  }

  get heldCount(): number {
    return this.held.length;
  }

  /** Nothing held, nothing armed, nothing sending. */
  get idle(): boolean {
    return this.held.length === 0 && this.armed === 0 && this.sending === 0;
  }

  /** On close: everything still held resolves as failed with `error`. */
  failHeld(error: MarketoError): void {
    this.o.timers.cancel(this.timer);
    this.timer = undefined;
    const held = this.held;
    this.held = [];
    for (const h of held) h.resolve({ ok: false, status: "failed", error });
  }

  // Many records submitted in one tick are looked at once, not once per record.
  private queueEvaluate(): void {
    if (this.evaluateQueued) return;
    this.evaluateQueued = true;
    queueMicrotask(() => {
      this.evaluateQueued = false;
      this.evaluate();
    });
  }

  /** Records that could go in the next calls: not blocked by a key in flight, first of their key. */
  private eligible(): Held<T>[] {
    const seen = new Set<string>();
    const out: Held<T>[] = [];
    for (const h of this.held) {
      if (h.key !== undefined) {
        if (this.keysInFlight.has(h.key) || seen.has(h.key)) continue;
        seen.add(h.key);
      }
      out.push(h);
    }
    return out;
  }

  private evaluate(): void {
    if (this.held.length === 0) {
      this.flushing = false;
      this.clearTimer();
      return;
    }
    const max = this.o.maxBatchSize;
    const eligible = this.eligible();
    let covered = this.armed * max;
    const now = Date.now();
    while (covered < eligible.length) {
      const uncovered = eligible.length - covered;
      const oldest = eligible[covered];
      const due = this.flushing || uncovered >= max || now - oldest.at >= this.o.windowMs;
      if (!due) break;
      this.arm();
      covered += max;
    }
    if (covered < eligible.length) this.setTimer(eligible[covered].at + this.o.windowMs);
    else this.clearTimer();
  }

  private setTimer(at: number): void {
    if (this.timer && this.timerAt <= at) return;
    this.clearTimer();
    this.timerAt = at;
    // Kept alive: held records are pending work; close() cancels it.
    this.timer = this.o.timers.after(
      Math.max(0, at - Date.now()),
      () => {
        this.timer = undefined;
        this.evaluate();
      },
      true,
    );
  }

  private clearTimer(): void {
    this.o.timers.cancel(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.armed++;
    let taken: Held<T>[] = [];
    let sealed = false;
    const seal: BatchSeal<T> = () => {
      sealed = true;
      this.armed--;
      taken = this.take();
      if (taken.length) this.sending++;
      this.o.onChange();
      return taken.map((h) => h.item);
    };
    this.o
      .dispatch(seal)
      .then(
        ({ results }) => taken.forEach((h, i) => h.resolve(results[i] ?? missing(this.o.operation))),
        (err: unknown) =>
          taken.forEach((h) => h.resolve({ ok: false, status: "failed", error: asError(err, this.o.operation) })),
      )
      .finally(() => {
        if (!sealed) this.armed--;
        if (taken.length) this.sending--;
        for (const h of taken) this.releaseKey(h.key);
        this.o.onChange();
        this.evaluate();
      });
  }

  private take(): Held<T>[] {
    const batch: Held<T>[] = [];
    const keep: Held<T>[] = [];
    const keys = new Set<string>();
    for (const h of this.held) {
      const blocked = h.key !== undefined && (keys.has(h.key) || this.keysInFlight.has(h.key));
      if (batch.length < this.o.maxBatchSize && !blocked) {
        batch.push(h);
        if (h.key !== undefined) keys.add(h.key);
      } else {
        keep.push(h);
      }
    }
    this.held = keep;
    for (const k of keys) this.keysInFlight.set(k, (this.keysInFlight.get(k) ?? 0) + 1);
    return batch;
  }

  private releaseKey(key: string | undefined): void {
    if (key === undefined) return;
    const n = (this.keysInFlight.get(key) ?? 1) - 1;
    if (n <= 0) this.keysInFlight.delete(key);
    else this.keysInFlight.set(key, n);
  }
}

function missing(operation: string): RecordResult {
  return {
    ok: false,
    status: "failed",
    error: asError(new Error("no result for this record"), operation),
  };
}
