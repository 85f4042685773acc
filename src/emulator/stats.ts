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
  }

  json(limits: LimiterSnapshot, paused: boolean, held: number): StatsJson {
    return {
      totalRequests: this.totalRequests,
      countedCalls: this.countedCalls,
      identityCalls: this.identityCalls,
      callsByRoute: { ...this.callsByRoute },
      answersByCode: { ...this.answersByCode },
      answersByStatus: { ...this.answersByStatus },
      faultsInjected: this.faultsInjected,
      connectionResets: this.connectionResets,
      ...limits,
      paused,
      held,
    };
  }
}
