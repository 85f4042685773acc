/**
 * The limits of one Marketo subscription, as every process that calls it must see them: one
 * sliding window, one set of concurrency slots, one pause, one quota state and one daily count.
 * A store keeps that state (in memory for one process, in Redis for several); SharedLimits
 * queues the calls of one process in front of it.
 */

export interface Limits {
  callsPerWindow: number;
  windowMs: number;
  concurrency: number;
  dailyBudget: number;
  quotaProbeIntervalMs: number;
}

/**
 * Spacing and the window cap keep 5 % below Marketo's rate: Marketo judges a sliding window over
 * call ARRIVAL times, so latency jitter between grant and arrival cannot push a window over.
 */
export const RATE_SAFETY = 0.95;

/** Calls granted in any window at most. */
export function windowCap(l: Limits): number {
  return Math.max(1, Math.floor(l.callsPerWindow * RATE_SAFETY));
}

/** The least time between two grants: spreads calls released together after a pause. */
export function minSpacing(l: Limits): number {
  return Math.ceil(l.windowMs / (l.callsPerWindow * RATE_SAFETY));
}

export type WaitReason = "pause" | "quota" | "budget" | "window" | "concurrency";

export type Decision =
  | { granted: true; probe: boolean; callsToday: number }
  | {
      granted: false;
      why: WaitReason;
      /** How long until asking again makes sense (the store's clock); 0 = when woken. */
      waitMs: number;
      callsToday: number;
      /** The Marketo message behind a pause or a quota stop. */
      reason?: string;
    };

/** How a granted call ended, for the window and the daily count. */
export type CallEnd =
  /** Marketo answered: the call stays in the window until one window after the answer. */
  | "answered"
  /** The request went out but no answer came (network error, timeout): it may have arrived. */
  | "unanswered"
  /** Nothing was sent (no token, nothing left to send): the grant is handed back whole. */
  | "unsent";

export interface LimitsStore {
  /** Takes a slot for call `id` when every limit allows it, atomically; else says why not. */
  grant(id: string, limits: Limits, opts: { probeAllowed: boolean }): Promise<Decision>;
  /** Keeps the leases of calls still running alive (and counts them in the window now). */
  renew(ids: string[], limits: Limits): Promise<void>;
  end(id: string, how: CallEnd): Promise<void>;
  /** Marketo refused the call at request level: it does not count toward the daily quota. */
  refund(): Promise<void>;
  /** 606/615: nobody sends for `ms` (the longest pause wins). */
  pause(ms: number, reason: string): Promise<void>;
  /** 607: nobody sends until 00:00 Chicago but one probe per interval. */
  quotaReached(reason: string, limits: Limits): Promise<void>;
  /** A call went through: the quota is back. */
  quotaAvailable(): Promise<void>;
  /** A probe ended without an answer: the next call may probe at once. */
  probeInconclusive(): Promise<void>;
  /** Marketo's own figure for today (Get Daily Usage): the count becomes the larger of both. */
  observeDailyTotal(total: number): Promise<number>;
  /** The limits every process uses: the first stored ones win over `mine`. */
  agreeLimits(mine: Limits): Promise<Limits>;
  close(): Promise<void>;
}
