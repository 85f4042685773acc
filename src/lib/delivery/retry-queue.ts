/**
 * The retry-queue's logic, without Node-RED: what a failed message becomes (an entry with its
 * category, code and the node it failed in), when it is resubmitted, what an outcome does to it,
 * and the filters, counts and commands a person uses to look after it.
 *
 * Every change goes to a store (the journal) and the methods resolve once it is there, so the
 * node acknowledges a message only when a crash can no longer lose it. Time and randomness come
 * in through the options: tests drive the clock.
 */
import {
  emptyTotals,
  entryOf,
  isObject,
  newEntry,
  summary,
  TOTALS_ID,
  type Counts,
  type EntryState,
  type EntrySummary,
  type ErrorInfo,
  type Failure,
  type Filter,
  type Integration,
  type RetryEntry,
  type Totals,
} from "./retry-entry";
import { decideEntry, formatDuration, type QueueOptions } from "./retry-policy";
import { errorFields } from "./retry-failure";
import { matches } from "./retry-filter";

// The queue's parts, importable from one place.
export * from "./retry-entry";
export * from "./retry-policy";
export * from "./retry-failure";
export * from "./retry-filter";

/** The journal as the queue uses it (src/lib/delivery/journal.ts, or memory when there is no userDir). */
export interface QueueStore {
  put(id: string, value: unknown): Promise<void>;
  delete(id: string): Promise<void>;
}

export type ReceiveResult = { kind: "waiting" | "held" | "abandoned"; entry: RetryEntry } | { kind: "overflow" };

export type OutcomeResult =
  { kind: "stale" } | { kind: "delivered"; entry: RetryEntry } | { kind: EntryState; entry: RetryEntry };

/** An in-memory store (no userDir, and tests). */
export class MemoryStore implements QueueStore {
  readonly values = new Map<string, unknown>();
  async put(id: string, value: unknown): Promise<void> {
    this.values.set(id, JSON.parse(JSON.stringify(value)));
  }
  async delete(id: string): Promise<void> {
    this.values.delete(id);
  }
  recovered(): Array<{ id: string; value: unknown }> {
    return [...this.values].map(([id, value]) => ({ id, value }));
  }
}

export class RetryQueue {
  readonly entries = new Map<string, RetryEntry>();
  readonly totals: Totals = emptyTotals();
  /** Recovered values that were not entries (skipped; the node says so). */
  readonly damaged: string[] = [];
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(
    readonly options: QueueOptions,
    private readonly store: QueueStore,
    recovered: Iterable<{ id: string; value: unknown }> = [],
  ) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    for (const { id, value } of recovered) {
      if (id === TOTALS_ID) {
        if (isObject(value)) {
          for (const k of Object.keys(this.totals) as Array<keyof Totals>) {
            if (typeof value[k] === "number" && Number.isFinite(value[k])) this.totals[k] = value[k] as number;
          }
        }
        continue;
      }
      const e = entryOf(id, value);
      if (e) this.entries.set(id, e);
      else this.damaged.push(id);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get full(): boolean {
    return this.entries.size >= this.options.maxEntries;
  }

  /** When the entry needs the queue's attention next (undefined: only a person moves it). */
  wakeAt(e: RetryEntry): number | undefined {
    if (e.state === "waiting") return e.nextRetryAt;
    if (e.state === "retrying") return (e.sentAt ?? e.lastFailedAt) + this.options.answerTimeoutMs;
    return undefined;
  }

  nextWake(): number | undefined {
    let at: number | undefined;
    for (const e of this.entries.values()) {
      const w = this.wakeAt(e);
      if (w !== undefined && (at === undefined || w < at)) at = w;
    }
    return at;
  }

  /** A new failure. Resolves once it is in the store. */
  async receive(f: Failure): Promise<ReceiveResult> {
    if (this.full) {
      this.totals.overflow++;
      await this.saveTotals();
      return { kind: "overflow" };
    }
    const now = this.now();
    const entry = newEntry(f, now);
    this.totals.received++;
    this.decide(entry, now);
    this.entries.set(entry.id, entry);
    await this.save(entry);
    return { kind: entry.state as "waiting" | "held" | "abandoned", entry };
  }

  private decide(e: RetryEntry, now: number, quotaWait = true): void {
    const given = decideEntry(e, this.options, now, this.random, quotaWait);
    if (given) this.totals[given]++;
  }

  /**
   * Up to `limit` waiting entries that are due, turned into resubmissions (state retrying, one
   * more attempt, a new seq). Resolves once that is in the store, before anything is sent.
   */
  async takeDue(limit: number): Promise<RetryEntry[]> {
    const now = this.now();
    const due: RetryEntry[] = [];
    for (const e of this.entries.values()) {
      if (e.state === "waiting" && (e.nextRetryAt ?? 0) <= now) {
        due.push(e);
        if (due.length >= limit) break;
      }
    }
    for (const e of due) {
      e.attempts++;
      e.seq++;
      e.state = "retrying";
      e.sentAt = now;
      e.nextRetryAt = undefined;
      e.quotaWait = undefined;
      this.totals.retried++;
    }
    if (due.length) await Promise.all([...due.map((e) => this.store.put(e.id, e)), this.saveTotals()]);
    return due;
  }

  /** Resubmissions taken but never sent (the node closed meanwhile): due again, no attempt spent. */
  async release(entries: RetryEntry[]): Promise<void> {
    const now = this.now();
    const back = entries.filter((e) => this.entries.get(e.id) === e && e.state === "retrying");
    for (const e of back) {
      e.attempts = Math.max(0, e.attempts - 1);
      e.state = "waiting";
      e.sentAt = undefined;
      e.nextRetryAt = now;
      this.totals.retried = Math.max(0, this.totals.retried - 1);
    }
    if (back.length) await Promise.all([...back.map((e) => this.store.put(e.id, e)), this.saveTotals()]);
  }

  /** The entry could not be sent at all (e.g. the node it failed in is gone): held, with why. */
  async hold(e: RetryEntry, reason: string): Promise<void> {
    if (this.entries.get(e.id) !== e) return;
    e.state = "held";
    e.reason = reason;
    e.sentAt = undefined;
    e.nextRetryAt = undefined;
    this.totals.held++;
    await this.save(e);
  }

  /**
   * How a resubmission went. An outcome for another seq, or for an entry no longer retrying, is
   * a duplicate (the registry and a wire both report failures) or too late: ignored.
   */
  async outcome(tag: { id: string; seq: number }, ok: boolean, error?: ErrorInfo): Promise<OutcomeResult> {
    const e = this.entries.get(tag.id);
    if (!e || e.state !== "retrying" || e.seq !== tag.seq) return { kind: "stale" };
    const now = this.now();
    if (ok) {
      this.entries.delete(e.id);
      this.totals.delivered++;
      await Promise.all([this.store.delete(e.id), this.saveTotals()]);
      return { kind: "delivered", entry: e };
    }
    Object.assign(e, errorFields(error));
    e.lastFailedAt = now;
    e.reason = undefined;
    // A quota failure waits for the reset without spending the attempt that met it.
    if (e.category === "quota" || e.action === "wait-day") e.attempts = Math.max(0, e.attempts - 1);
    this.decide(e, now);
    await this.save(e);
    return { kind: e.state, entry: e };
  }

  /** Resubmissions nobody answered within the answer timeout: that try counts as spent. */
  async expire(): Promise<RetryEntry[]> {
    const now = this.now();
    const late: RetryEntry[] = [];
    for (const e of this.entries.values()) {
      if (e.state === "retrying" && (e.sentAt ?? e.lastFailedAt) + this.options.answerTimeoutMs <= now) late.push(e);
    }
    for (const e of late) {
      e.lastFailedAt = now;
      e.reason = `no answer within ${formatDuration(this.options.answerTimeoutMs)} to resubmission ${e.attempts} (is output 1 wired to the node that failed?)`;
      // Silence is not a quota answer, whatever the entry first failed with: it spends the attempt.
      this.decide(e, now, false);
    }
    if (late.length) await Promise.all([...late.map((e) => this.store.put(e.id, e)), this.saveTotals()]);
    return late;
  }

  select(filter: Filter): RetryEntry[] {
    if (filter.ids && !filter.integration && !filter.state && !filter.category) {
      return filter.ids.map((id) => this.entries.get(id)).filter((e): e is RetryEntry => e !== undefined);
    }
    const out: RetryEntry[] = [];
    for (const e of this.entries.values()) if (matches(e, filter)) out.push(e);
    return out;
  }

  /**
   * A person's resubmit: attempts start again and the entries are due now, whatever held them.
   * Entries whose resubmission is under way are left alone (their answer is coming).
   */
  async resubmit(filter: Filter): Promise<number> {
    const now = this.now();
    const chosen = this.select(filter).filter((e) => e.state !== "retrying");
    for (const e of chosen) {
      e.attempts = 0;
      e.state = "waiting";
      e.nextRetryAt = now;
      e.quotaWait = undefined;
      e.reason = undefined;
      // A person judged the cause fixed: a held entry may go out as it is.
      e.retryable = true;
    }
    await Promise.all(chosen.map((e) => this.store.put(e.id, e)));
    return chosen.length;
  }

  /** Every waiting entry due now, except those waiting for the quota reset. */
  async flush(): Promise<number> {
    const now = this.now();
    const chosen: RetryEntry[] = [];
    for (const e of this.entries.values()) {
      if (e.state === "waiting" && !e.quotaWait && (e.nextRetryAt ?? 0) > now) chosen.push(e);
    }
    for (const e of chosen) e.nextRetryAt = now;
    await Promise.all(chosen.map((e) => this.store.put(e.id, e)));
    return chosen.length;
  }

  async discard(filter: Filter): Promise<number> {
    const chosen = this.select(filter);
    for (const e of chosen) this.entries.delete(e.id);
    this.totals.discarded += chosen.length;
    await Promise.all([
      ...chosen.map((e) => this.store.delete(e.id)),
      chosen.length ? this.saveTotals() : Promise.resolve(),
    ]);
    return chosen.length;
  }

  counts(entries: Iterable<RetryEntry> = this.entries.values()): Counts {
    const c: Counts = { state: { waiting: 0, retrying: 0, held: 0, abandoned: 0 }, category: {}, integration: {} };
    for (const e of entries) {
      c.state[e.state]++;
      c.category[e.category] = (c.category[e.category] ?? 0) + 1;
      c.integration[e.integration.id] = (c.integration[e.integration.id] ?? 0) + 1;
    }
    return c;
  }

  /** The integrations the entries name, by id (their type and name, for a list's labels). */
  integrations(): Record<string, Integration> {
    const out: Record<string, Integration> = {};
    for (const e of this.entries.values()) out[e.integration.id] ??= { ...e.integration };
    return out;
  }

  list(filter: Filter, limit: number, offset: number): { total: number; entries: EntrySummary[] } {
    const chosen = this.select(filter);
    return { total: chosen.length, entries: chosen.slice(offset, offset + limit).map(summary) };
  }

  /** The answer to a "stats" command. */
  stats(): { size: number; maxEntries: number; counts: Counts; totals: Totals } {
    return {
      size: this.entries.size,
      maxEntries: this.options.maxEntries,
      counts: this.counts(),
      totals: { ...this.totals },
    };
  }

  private async save(e: RetryEntry): Promise<void> {
    await Promise.all([this.store.put(e.id, e), this.saveTotals()]);
  }

  private saveTotals(): Promise<void> {
    return this.store.put(TOTALS_ID, this.totals);
  }
}
