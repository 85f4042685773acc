import Bottleneck from "bottleneck";
import { clientClosedError } from "./errors";
import { nextChicagoMidnight } from "./time";
import type { Timers } from "./timers";
import type { Logger } from "./types";

/**
 * Spacing keeps 5 % below Marketo's rate: the emulator (and Marketo) judge a sliding window
 * over call ARRIVAL times, so latency jitter up to ~0.8 s between two calls cannot push a
 * window over the limit, while sustained throughput stays at 0.95 of the limit.
 */
const RATE_SAFETY = 0.95;

export interface LimiterOptions {
  callsPerWindow: number;
  windowMs: number;
  concurrency: number;
  dailyBudget: number;
  quotaProbeIntervalMs: number;
  timers: Timers;
  logger: Logger;
  onChange: () => void;
}

export type LimiterState =
  | { kind: "ok" }
  | { kind: "rate-limited"; resumesAt: Date; reason: string }
  | { kind: "quota"; resumesAt: Date; reason: string };

interface Waiter {
  timer?: NodeJS.Timeout;
  resolve: () => void;
  reject: (err: Error) => void;
}

interface QuotaPause {
  /** Next 00:00 America/Chicago: Marketo's reset. */
  resetAt: number;
  /** When one call may go through to learn whether the quota is back (bought more, reset early). */
  probeAt: number;
  probing: boolean;
  reason: string;
}

/**
 * One per client. Bottleneck owns concurrency, spacing (minTime) and the daily budget
 * (reservoir). Pauses Marketo asks for (606/615/607) are a gate every job passes right
 * before it sends: a Bottleneck reservoir cannot hold back jobs it has already registered
 * with a delay, and the gate also re-spaces jobs released together when a pause ends.
 */
export class CallLimiter {
  readonly minTime: number;
  private readonly bottleneck: Bottleneck;
  private readonly waiters = new Set<Waiter>();
  private pausedUntil = 0;
  private pauseReason = "";
  private quota?: QuotaPause;
  private budgetDepleted = false;
  private lastPassAt = 0;
  private midnightTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly o: LimiterOptions) {
    this.minTime = Math.ceil(o.windowMs / (o.callsPerWindow * RATE_SAFETY));
    this.bottleneck = new Bottleneck({
      maxConcurrent: o.concurrency,
      minTime: this.minTime,
      reservoir: o.dailyBudget,
    });
    // Bottleneck only emits "error" when a listener throws; keep it from becoming unhandled.
    this.bottleneck.on("error", (err: unknown) => o.logger.error(`marketo limiter: ${String(err)}`));
    this.bottleneck.on("depleted", () => {
      this.budgetDepleted = true;
      o.logger.warn(`marketo: daily budget of ${o.dailyBudget} calls used; calls wait for 00:00 America/Chicago`);
      o.onChange();
    });
    this.scheduleMidnight();
  }

  /** Runs `job` when concurrency, spacing and the daily budget allow; never rejects unless closed. */
  schedule<T>(job: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(clientClosedError(undefined, true));
    return this.bottleneck.schedule(job).catch((err: unknown) => {
      // Only Bottleneck's own stop() rejections land here: our jobs never throw.
      if (this.closed) throw clientClosedError(undefined, true);
      throw err;
    });
  }

  /**
   * Jobs in Bottleneck that have not finished: received, queued, started, and executing —
   * the last includes calls parked at the pause gate and calls on the wire. (EXECUTING was
   * left out, so close() saw no pending work while a direct call sat out a 606 pause.)
   */
  waiting(): number {
    const n = this.bottleneck.counts();
    return (n.RECEIVED ?? 0) + (n.QUEUED ?? 0) + (n.RUNNING ?? 0) + (n.EXECUTING ?? 0);
  }

  /** Called by a job right before it sends. Resolves when no pause forbids sending. */
  async pass(): Promise<void> {
    for (;;) {
      if (this.closed) throw clientClosedError(undefined, true);
      const now = Date.now();
      const q = this.quota;
      if (q) {
        if (now >= q.resetAt) {
          this.endQuota();
          continue;
        }
        if (!q.probing && now >= q.probeAt) {
          // This call is the probe; everyone else waits for its answer.
          q.probing = true;
          this.o.logger.info("marketo: probing whether the daily quota is available again");
        } else {
          await this.waitFor(q.probing ? undefined : Math.min(q.probeAt, q.resetAt) - now);
          continue;
        }
      } else if (now < this.pausedUntil) {
        await this.waitFor(this.pausedUntil - now);
        continue;
      } else if (now < this.lastPassAt + this.minTime) {
        // Bottleneck spaces starts already; this only spreads calls released together after a
        // pause. It must use the full minTime: a looser gap (it was 0.9 x minTime) lets up to
        // `concurrency` parked calls through ~5 % above the limit, which breaks the window
        // whenever concurrency is close to callsPerWindow (e.g. 6 calls in 1 s with 5/s).
        await this.waitFor(this.lastPassAt + this.minTime - now);
        continue;
      }
      this.lastPassAt = Date.now();
      return;
    }
  }

  /** 606/615: hold every call of this client until `ms` from now (longest pause wins). */
  pause(ms: number, reason: string): void {
    const until = Date.now() + ms;
    if (until > this.pausedUntil) {
      this.pausedUntil = until;
      this.pauseReason = reason;
      this.o.timers.after(ms + 5, () => this.o.onChange());
      this.o.onChange();
    }
  }

  get pauseEndsAt(): number {
    return this.pausedUntil;
  }

  /** 607: stop until 00:00 Chicago, probing once every quotaProbeIntervalMs. */
  quotaReached(reason: string): void {
    const now = Date.now();
    if (this.quota) {
      // A probe (or a call already in flight) hit the quota again: wait for the next probe.
      this.quota.probing = false;
      this.quota.probeAt = now + this.o.quotaProbeIntervalMs;
      this.wakeAll(); // waiters parked behind the probe re-read the new probe time
    } else {
      this.quota = {
        resetAt: nextChicagoMidnight(now).getTime(),
        probeAt: now + this.o.quotaProbeIntervalMs,
        probing: false,
        reason,
      };
      this.o.logger.warn(`marketo: daily quota reached (${reason}); calls wait for 00:00 America/Chicago`);
    }
    this.o.onChange();
  }

  /**
   * A person asks to try now: the next call goes out as the quota probe without waiting for the
   * probe interval. False when no quota pause of Marketo's is in force (the package's own daily
   * budget is not Marketo's to lift).
   */
  probeNow(): boolean {
    if (!this.quota) return false;
    if (!this.quota.probing) {
      this.quota.probeAt = Date.now();
      this.wakeAll();
    }
    return true;
  }

  /** Any answer other than 607 proves calls go through again. */
  answered(): void {
    if (this.quota) {
      this.o.logger.info("marketo: daily quota available again");
      this.endQuota();
    }
  }

  /** A call that went through the gate but ended without an answer: let the next one probe. */
  probeInconclusive(): void {
    if (this.quota?.probing) {
      this.quota.probing = false;
      this.wakeAll();
    }
  }

  /** Marketo does not count calls it refused with a response-level error; neither do we. */
  refund(): void {
    void this.bottleneck.incrementReservoir(1).then(() => {
      if (this.budgetDepleted) {
        this.budgetDepleted = false;
        this.o.onChange();
      }
    });
  }

  state(): LimiterState {
    const now = Date.now();
    if (this.quota) return { kind: "quota", resumesAt: new Date(this.quota.resetAt), reason: this.quota.reason };
    if (this.budgetDepleted) {
      return { kind: "quota", resumesAt: nextChicagoMidnight(now), reason: "daily budget used" };
    }
    if (now < this.pausedUntil) {
      return { kind: "rate-limited", resumesAt: new Date(this.pausedUntil), reason: this.pauseReason };
    }
    return { kind: "ok" };
  }

  /**
   * Stops Bottleneck (dropping jobs that have not started) and fails every waiter. The
   * returned promise settles only when executing jobs end: abort calls on the wire first.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.o.timers.cancel(this.midnightTimer);
    for (const w of this.waiters) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(clientClosedError(undefined, true));
    }
    this.waiters.clear();
    await this.bottleneck.stop({ dropWaitingJobs: true }).catch(() => undefined);
  }

  /** Hook for the client's day counter. */
  onNewDay?: () => void;

  private endQuota(): void {
    this.quota = undefined;
    this.wakeAll();
    this.o.onChange();
  }

  private scheduleMidnight(): void {
    const ms = nextChicagoMidnight().getTime() - Date.now();
    // Long timers are fine in Node (max ~24.8 days); one day is far below that.
    this.midnightTimer = this.o.timers.after(ms + 1000, () => {
      this.bottleneck.updateSettings({ reservoir: this.o.dailyBudget });
      this.budgetDepleted = false;
      if (this.quota) this.endQuota();
      this.onNewDay?.();
      this.o.onChange();
      this.wakeAll();
      this.scheduleMidnight();
    });
  }

  private waitFor(ms: number | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        resolve: () => {
          this.waiters.delete(w);
          if (w.timer) clearTimeout(w.timer);
          resolve();
        },
        reject,
      };
      if (ms !== undefined) {
        // Ref'd on purpose: a call waiting here is pending work; close() clears it.
        w.timer = setTimeout(w.resolve, Math.max(1, ms));
      }
      this.waiters.add(w);
    });
  }

  private wakeAll(): void {
    for (const w of [...this.waiters]) w.resolve();
  }
}
