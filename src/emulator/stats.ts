import type { LimiterSnapshot } from "./limits";

export interface StatsJson extends LimiterSnapshot {
  /** Every HTTP request except the inspection API (identity and rejected calls included). */
  totalRequests: number;
  /** Calls that counted toward the window and the daily quota. */
  countedCalls: number;
  /** Calls to `/identity/oauth/token` (never counted). */
  identityCalls: number;
  /** Requests per matched route, keyed `"<METHOD> <pattern>"`. */
  callsByRoute: Record<string, number>;
  /** Response-level error answers per Marketo code (HTTP 5xx faults under "500"/"502"). */
  answersByCode: Record<string, number>;
  /** Answers per HTTP status. */
  answersByStatus: Record<string, number>;
  /**
   * Record results of the writes the emulator applied, per route and status (`created`,
   * `updated`, `skipped`), counted when the write applies even if a fault then replaces the
   * answer: a record sent twice shows as a second result (`updated`, or `skipped` for a
   * program status it already has), which the stored data alone cannot show.
   */
  resultsByRoute: Record<string, Record<string, number>>;
  /** Faults injected (resets included). */
  faultsInjected: number;
  /** Connections reset on purpose. */
  connectionResets: number;
  /** Whether API calls are being held. */
  paused: boolean;
  /** API calls held right now. */
  held: number;
}

/** Usage counters for `/_emulator/stats`; limit counters come from the Limiter. */
export class Stats {
  totalRequests = 0;
  countedCalls = 0;
  identityCalls = 0;
  faultsInjected = 0;
  connectionResets = 0;
  callsByRoute: Record<string, number> = {};
  answersByCode: Record<string, number> = {};
  answersByStatus: Record<string, number> = {};
  resultsByRoute: Record<string, Record<string, number>> = {};

  /** Counts the per-record statuses of an applied call's result. */
  results(key: string, body: unknown): void {
    const result = (body as { result?: unknown } | null)?.result;
    if (!Array.isArray(result)) return;
    for (const r of result) {
      const status = (r as { status?: unknown } | null)?.status;
      if (typeof status !== "string") continue;
      const counts = (this.resultsByRoute[key] ??= {});
      counts[status] = (counts[status] ?? 0) + 1;
    }
  }

  route(key: string): void {
    this.callsByRoute[key] = (this.callsByRoute[key] ?? 0) + 1;
  }

  errorCode(code: string): void {
    this.answersByCode[code] = (this.answersByCode[code] ?? 0) + 1;
  }

  httpStatus(status: number): void {
    const key = String(status);
    this.answersByStatus[key] = (this.answersByStatus[key] ?? 0) + 1;
  }

  reset(): void {
    this.totalRequests = 0;
    this.countedCalls = 0;
    this.identityCalls = 0;
    this.faultsInjected = 0;
    this.connectionResets = 0;
    this.callsByRoute = {};
    this.answersByCode = {};
    this.answersByStatus = {};
    this.resultsByRoute = {};
  }

  json(limits: LimiterSnapshot, paused: boolean, held: number): StatsJson {
    return {
      totalRequests: this.totalRequests,
      countedCalls: this.countedCalls,
      identityCalls: this.identityCalls,
      callsByRoute: { ...this.callsByRoute },
      answersByCode: { ...this.answersByCode },
      answersByStatus: { ...this.answersByStatus },
      resultsByRoute: Object.fromEntries(Object.entries(this.resultsByRoute).map(([k, v]) => [k, { ...v }])),
      faultsInjected: this.faultsInjected,
      connectionResets: this.connectionResets,
      ...limits,
      paused,
      held,
    };
  }
}
