/**
 * Marketo REST client: tokens, rate/concurrency/daily limits, retries, batching and bulk
 * import for one Marketo instance. Usable from any Node program; Node-RED nodes share one
 * MarketoClient per instance.
 */
export { MarketoClient, type MarketoClientEvents } from "./client";
export {
  MarketoError,
  classify,
  marketoError,
  type Classification,
  type ErrorAction,
  type ErrorCategory,
  type MarketoErrorJSON,
} from "./errors";
export { REQUIRED_PERMISSIONS, type AccessReport, type PermissionCheck, type RequiredPermission } from "./access";
export { normaliseEndpoint, apiUrl, type NormalisedEndpoint } from "./endpoint";
export { nextChicagoMidnight, chicagoDay } from "./time";
export { backoffDelay, rateLimitPause, concurrencyPause } from "./timers";
export { toCsv, parseCsv, splitCsv, columnsOf } from "./csv";
export { RowMatcher } from "./bulk";
export { Batcher, type BatcherOptions } from "./batcher";
export type { LeadMatch } from "./leads";
export type { FormAsset, FormFieldAsset } from "./form-assets";
export type * from "./types";
