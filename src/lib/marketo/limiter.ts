import { clientClosedError } from "./errors";
import { limitsFor } from "./shared-limits/registry";
import type { Grant, SharedLimits, SharedState } from "./shared-limits/shared";
import type { Limits } from "./shared-limits/types";
import type { Logger } from "./types";

export type { Grant } from "./shared-limits/shared";

export interface LimiterOptions extends Limits {
  /** The REST host: clients naming the same one share every limit. */
  instance: string;
  dayFile?: string;
  redisUrl?: string;
  leaseMs?: number;
  logger: Logger;
  onChange: () => void;
}

export type LimiterState = SharedState;

/**
 * One per client: the client's door to the limits of its Marketo instance, which it shares with
 * every other client of that instance in this process (and, with Redis, in every process).
 * Pauses Marketo asks for (606/615/607), the window, the concurrency slots and the daily count
 * are all checked in one grant right before a call is sent.
 */
export class CallLimiter {
  private readonly shared: SharedLimits;
  private readonly release: () => Promise<void>;
  private readonly onChange: () => void;
  private executing = 0;
  private closed = false;
  private idle?: () => void;

  constructor(o: LimiterOptions) {
    const { shared, release } = limitsFor({
      instance: o.instance,
      limits: {
        callsPerWindow: o.callsPerWindow,
        windowMs: o.windowMs,
        concurrency: o.concurrency,
        dailyBudget: o.dailyBudget,
        quotaProbeIntervalMs: o.quotaProbeIntervalMs,
      },
      logger: o.logger,
      ...(o.dayFile ? { dayFile: o.dayFile } : {}),
      ...(o.redisUrl ? { redisUrl: o.redisUrl } : {}),
      ...(o.leaseMs ? { leaseMs: o.leaseMs } : {}),
    });
    this.shared = shared;
    this.release = release;
    this.onChange = o.onChange;
    shared.attach(this, this.onChange);
  }

  /**
   * Runs `job` with a grant when every limit allows; the grant is handed back when the job
   * ends. `first` jumps the queue (the day's usage read at start); `background` (a replay's call)
   * lets every live call go first. Rejects only when closed.
   */
  async schedule<T>(job: (grant: Grant) => Promise<T>, first = false, background = false): Promise<T> {
    if (this.closed) throw clientClosedError(undefined, true);
    this.executing++;
    try {
      const grant = await this.shared.acquire(this, first, background);
      try {
        return await job(grant);
      } finally {
        this.shared.end(grant);
      }
    } finally {
      this.executing--;
      if (this.executing === 0) this.idle?.();
    }
  }

  /** Calls waiting for a grant or running. */
  waiting(): number {
    return this.executing;
  }

  /** Reads Marketo's figure for the day before other calls go (once per instance and process). */
  syncDaily(read: () => Promise<number | undefined>): void {
    this.shared.syncDaily(read);
  }

  get callsToday(): number {
    return this.shared.callsToday;
  }

  /** 606/615: hold every call of this instance for `ms` (longest pause wins). */
  pause(ms: number, reason: string): void {
    this.shared.pause(ms, reason);
  }

  get pauseEndsAt(): number {
    const s = this.shared.state();
    return s.kind === "rate-limited" ? s.resumesAt.getTime() : 0;
  }

  /** 607: stop until 00:00 Chicago, one probe per quotaProbeIntervalMs. */
  quotaReached(reason: string): void {
    this.shared.quotaReached(reason);
  }

  /**
   * A person asks to try now: the next call goes out as the quota probe without waiting for the
   * probe interval. False when no quota pause of Marketo's is in force (the package's own daily
   * budget is not Marketo's to lift).
   */
  probeNow(): boolean {
    return this.shared.probeNow();
  }

  /** Any answer other than 607 proves calls go through again. */
  answered(): void {
    this.shared.quotaAvailable();
  }

  /** Marketo does not count calls it refused with a response-level error; neither do we. */
  refund(): void {
    this.shared.refund();
  }

  state(): LimiterState {
    return this.shared.state();
  }

  /**
   * Fails this client's waiting calls. The returned promise settles only when its running
   * calls end: abort calls on the wire first.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.shared.detach(this, this.onChange);
    if (this.executing > 0) await new Promise<void>((r) => (this.idle = r));
    await this.release();
  }
}
