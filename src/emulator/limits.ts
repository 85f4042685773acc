import { nextChicagoMidnight as nextMidnight } from "../lib/marketo/time";
import type { EmulatorLimits } from "./types";

export type { EmulatorLimits } from "./types";

export const DEFAULT_LIMITS: Readonly<EmulatorLimits> = {
  callsPerWindow: 100,
  windowMs: 20_000,
  concurrency: 10,
  dailyQuota: 50_000,
  maxBodyBytes: 1_048_576,
  maxBulkBodyBytes: 10_485_760,
  maxUrlBytes: 8192,
  maxBatch: 300,
  importsRunning: 2,
  importsQueued: 10,
  maxMembersQueried: 100_000,
};

/** An admitted call; hand it back to `finish` when the call is answered. */
export interface Ticket {
  readonly at: number;
  /**
   * The quota day the call was charged to. A generation number rather than the day's reset
   * instant: rolloverDay() and reset() start a new day whose reset instant is the same
   * midnight, and a refund must not reach into that new day's counter either.
   */
  readonly day: number;
  done: boolean;
}

export type Admission = { ok: true; ticket: Ticket } | { ok: false; code: "606" | "607" | "615"; message: string };

export interface LimiterSnapshot {
  inFlight: number;
  callsInWindow: number;
  maxCallsInWindow: number;
  maxInFlight: number;
  dailyUsed: number;
  dailyQuota: number;
  quotaResetsAt: string;
}

/**
 * Marketo's three call limits: in-flight calls (615), a rolling window (606) and a daily quota
 * (607). A call is charged to the window and the day at admission, so a burst of parallel calls
 * is judged as Marketo judges it, and refunded if it ends with a response-level error, because
 * Marketo does not count failed calls.
 */
export class Limiter {
  private inFlight = 0;
  private window: Ticket[] = [];
  private dailyUsed = 0;
  private resetsAt: number;
  /** Bumped whenever the daily counter starts over (midnight, rolloverDay, reset). */
  private dayGeneration = 0;
  private maxCallsInWindow = 0;
  private maxInFlight = 0;

  constructor(
    private readonly limits: Readonly<EmulatorLimits>,
    private readonly now: () => number = Date.now,
  ) {
    this.resetsAt = chicagoMidnightAfter(now());
  }

  admit(): Admission {
    const now = this.now();
    this.rollIfDue(now);
    this.prune(now);
    const l = this.limits;
    if (this.inFlight >= l.concurrency) {
      return { ok: false, code: "615", message: `Concurrent access limit '${l.concurrency}' reached` };
    }
    if (this.window.length >= l.callsPerWindow) {
      return {
        ok: false,
        code: "606",
        message: `Max rate limit '${l.callsPerWindow}' exceeded with in '${l.windowMs / 1000}' secs`,
      };
    }
    if (this.dailyUsed >= l.dailyQuota) {
      return { ok: false, code: "607", message: "Daily quota reached" };
    }
    const ticket: Ticket = { at: now, day: this.dayGeneration, done: false };
    this.window.push(ticket);
    this.dailyUsed += 1;
    this.inFlight += 1;
    this.maxCallsInWindow = Math.max(this.maxCallsInWindow, this.window.length);
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return { ok: true, ticket };
  }

  /** Ends an admitted call; `counted: false` refunds its window slot and quota unit. */
  finish(ticket: Ticket, counted: boolean): void {
    if (ticket.done) return;
    ticket.done = true;
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (counted) return;
    const i = this.window.indexOf(ticket);
    if (i >= 0) this.window.splice(i, 1);
    // A call admitted before midnight (or a rollover/reset) must not be refunded from the new
    // day's counter.
    if (ticket.day === this.dayGeneration && this.dailyUsed > 0) this.dailyUsed -= 1;
  }

  /** Starts a new quota day now (the inspection API's stand-in for waiting until midnight). */
  rolloverDay(): void {
    this.dailyUsed = 0;
    this.dayGeneration += 1;
    this.resetsAt = chicagoMidnightAfter(this.now());
  }

  snapshot(): LimiterSnapshot {
    const now = this.now();
    this.rollIfDue(now);
    this.prune(now);
    return {
      inFlight: this.inFlight,
      callsInWindow: this.window.length,
      maxCallsInWindow: this.maxCallsInWindow,
      maxInFlight: this.maxInFlight,
      dailyUsed: this.dailyUsed,
      dailyQuota: this.limits.dailyQuota,
      quotaResetsAt: new Date(this.resetsAt).toISOString(),
    };
  }

  /** Clears the high-water marks (stats reset); live counters keep running. */
  resetMaxima(): void {
    this.maxCallsInWindow = this.window.length;
    this.maxInFlight = this.inFlight;
  }

  /** Forgets all usage; calls still in flight are finished against the cleared counters. */
  reset(): void {
    this.window = [];
    this.dailyUsed = 0;
    this.dayGeneration += 1;
    this.resetsAt = chicagoMidnightAfter(this.now());
    this.maxCallsInWindow = 0;
    this.maxInFlight = this.inFlight;
  }

  private rollIfDue(now: number): void {
    if (now >= this.resetsAt) {
      this.dailyUsed = 0;
      this.dayGeneration += 1;
      this.resetsAt = chicagoMidnightAfter(now);
    }
  }

  private prune(now: number): void {
    const cutoff = now - this.limits.windowMs;
    let drop = 0;
    while (drop < this.window.length && this.window[drop].at <= cutoff) drop += 1;
    if (drop > 0) this.window.splice(0, drop);
  }
}

/** Marketo's quota day ends at 00:00 US Central (the client computes the same instant). */
function chicagoMidnightAfter(ms: number): number {
  return nextMidnight(ms).getTime();
}
