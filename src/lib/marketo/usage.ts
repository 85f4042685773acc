import { chicagoDay } from "./time";
import type { RecordResult, Usage } from "./types";

const EMIT_EVERY_MS = 500;

function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

/**
 * Counters behind `client.usage()`. Live figures (queue, in-flight, state) are read from
 * the parts that own them through `live()`.
 */
export class UsageTracker {
  private callsTotal = 0;
  private callsToday = 0;
  private day = chicagoDay();
  private limiterWaitMs = 0;
  private readonly callsByOperation: Record<string, number> = {};
  private readonly recordsByOperation: Record<string, number> = {};
  private readonly outcomes: Record<string, number> = {};
  private readonly answersByCode: Record<string, number> = {};
  private dirty = false;
  private timer?: NodeJS.Timeout;
  private lastEmit = 0;
  private closed = false;

  constructor(
    private readonly dailyBudget: number,
    private readonly live: () => Pick<Usage, "queuedRecords" | "inFlight" | "state" | "resumesAt" | "arrivalChecks">,
    private readonly emit: (u: Usage) => void,
    /** The instance's count for the day (shared, kept across restarts), when someone keeps one. */
    private readonly sharedCallsToday?: () => number,
  ) {}

  /** One API call sent (identity calls are not counted, like Marketo). */
  call(operation: string, records: number): void {
    this.rollDay();
    this.callsTotal++;
    this.callsToday++;
    bump(this.callsByOperation, operation);
    if (records > 0) bump(this.recordsByOperation, operation, records);
    this.changed();
  }

  /** A call Marketo refused at request level does not count toward its daily quota. */
  uncount(): void {
    if (this.callsToday > 0) this.callsToday--;
    this.changed();
  }

  answer(code: string): void {
    bump(this.answersByCode, code);
    this.changed();
  }

  waited(ms: number): void {
    this.limiterWaitMs += Math.max(0, ms);
    this.changed();
  }

  results(results: RecordResult[]): void {
    for (const r of results) bump(this.outcomes, r.status);
    if (results.length) this.changed();
  }

  newDay(): void {
    this.day = chicagoDay();
    this.callsToday = 0;
    this.changed();
  }

  snapshot(): Usage {
    this.rollDay();
    const live = this.live();
    return {
      callsTotal: this.callsTotal,
      callsToday: this.sharedCallsToday?.() ?? this.callsToday,
      dailyBudget: this.dailyBudget,
      callsByOperation: { ...this.callsByOperation },
      recordsByOperation: { ...this.recordsByOperation },
      outcomes: { ...this.outcomes },
      answersByCode: { ...this.answersByCode },
      limiterWaitMs: Math.round(this.limiterWaitMs),
      ...live,
      // Every call sent for a question, retries included: they are named `<write>:<question>`.
      arrivalChecks: {
        ...live.arrivalChecks,
        calls: Object.entries(this.callsByOperation).reduce((n, [op, k]) => (op.includes(":") ? n + k : n), 0),
      },
    };
  }

  /** Something visible changed (also called by the client for queue/state changes). */
  changed(): void {
    if (this.closed) return;
    this.dirty = true;
    if (this.timer) return;
    const wait = Math.max(0, this.lastEmit + EMIT_EVERY_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.dirty || this.closed) return;
      this.dirty = false;
      this.lastEmit = Date.now();
      this.emit(this.snapshot());
    }, wait);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private rollDay(): void {
    const today = chicagoDay();
    if (today !== this.day) {
      this.day = today;
      this.callsToday = 0;
    }
  }
}
