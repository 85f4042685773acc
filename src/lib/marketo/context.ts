import type { Timers } from "./timers";
import type { Transport } from "./transport";
import type { Logger } from "./types";

/** What every operation module needs from the client. */
export interface OpContext {
  transport: Transport;
  /** Marketo's server-side timeout for the operation plus margin, unless overridden. */
  timeoutMs(serverSeconds: number): number;
  maxBatchSize: number;
  bulkPollIntervalMs: number;
  bulkMaxFileBytes: number;
  timers: Timers;
  logger: Logger;
}

/** Marketo's documented limit for one write or one filter list. */
export const MARKETO_MAX_RECORDS = 300;
