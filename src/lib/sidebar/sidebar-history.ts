/**
 * The last hour of a sync, for the Marketo sidebar's charts: records and calls per bucket (rates)
 * and the backlog and retry-queue levels at the end of each bucket. No Node-RED: the plugin samples
 * running totals and levels every few seconds; this turns them into points.
 *
 * Running totals may go down (a node deleted takes its figures with it): a drop counts as nothing,
 * never as negative work.
 */

/** What the plugin reads at one instant. */
export interface HistorySample {
  /** Records answered since Node-RED started (delivered and failed). */
  records: number;
  /** Of those, failed. */
  failed: number;
  /** Marketo API calls made since Node-RED started. */
  calls: number;
  /** Records handed to Marketo's client and not answered yet. */
  backlog: number;
  /** Entries the retry queues hold. */
  retry: number;
}

export interface HistoryPoint extends HistorySample {
  /** Start of the bucket (ISO). records, failed and calls are counts within it. */
  at: string;
}

export interface HistoryView {
  bucketMs: number;
  spanMs: number;
  points: HistoryPoint[];
}

interface Bucket extends HistorySample {
  start: number;
}

export const HISTORY_BUCKET_MS = 10_000;
export const HISTORY_SPAN_MS = 3_600_000;

export class History {
  private buckets: Bucket[] = [];
  private last?: HistorySample;

  constructor(
    readonly bucketMs = HISTORY_BUCKET_MS,
    readonly spanMs = HISTORY_SPAN_MS,
  ) {}

  sample(s: HistorySample, now = Date.now()): void {
    const start = now - (now % this.bucketMs);
    let b = this.buckets[this.buckets.length - 1];
    if (!b || b.start !== start) {
      b = { start, records: 0, failed: 0, calls: 0, backlog: s.backlog, retry: s.retry };
      this.buckets.push(b);
      const oldest = start - this.spanMs;
      while (this.buckets.length && this.buckets[0].start <= oldest) this.buckets.shift();
    }
    const last = this.last;
    if (last) {
      b.records += Math.max(0, s.records - last.records);
      b.failed += Math.max(0, s.failed - last.failed);
      b.calls += Math.max(0, s.calls - last.calls);
    }
    b.backlog = s.backlog;
    b.retry = s.retry;
    this.last = { ...s };
  }

  /** Oldest first; the newest bucket is still filling. */
  view(now = Date.now()): HistoryView {
    const oldest = now - (now % this.bucketMs) - this.spanMs;
    return {
      bucketMs: this.bucketMs,
      spanMs: this.spanMs,
      points: this.buckets
        .filter((b) => b.start > oldest)
        .map((b) => ({
          at: new Date(b.start).toISOString(),
          records: b.records,
          failed: b.failed,
          calls: b.calls,
          backlog: b.backlog,
          retry: b.retry,
        })),
    };
  }
}
