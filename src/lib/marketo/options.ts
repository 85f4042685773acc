import { MarketoError } from "./errors";
import type { Logger, MarketoClientOptions, RetryOptions } from "./types";

export interface ResolvedOptions {
  endpoint: string;
  clientId: string;
  clientSecret: string;
  callsPerWindow: number;
  windowMs: number;
  concurrency: number;
  dailyBudget: number;
  batchWindowMs: number;
  maxBatchSize: number;
  retry: RetryOptions;
  requestTimeoutMs?: number;
  maxRateLimitWaitMs: number;
  quotaProbeIntervalMs: number;
  bulkPollIntervalMs: number;
  bulkMaxFileBytes: number;
  closeTimeoutMs: number;
  stateDir?: string;
  readDailyUsage: boolean;
  redisUrl?: string;
  leaseMs?: number;
  logger: Logger;
}

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function invalid(message: string): MarketoError {
  return new MarketoError({
    code: "INVALID_OPTION",
    message,
    category: "validation",
    action: "permanent",
    retryable: false,
  });
}

function positive(name: string, value: unknown, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw invalid(`Marketo client option ${name} must be a number greater than 0 (got ${String(value)})`);
  }
  if (value > max) throw invalid(`Marketo client option ${name} must be at most ${max} (got ${value})`);
  return value;
}

/** Checks what a person typed in a config dialog; throws a validation MarketoError naming the field. */
export function resolveOptions(o: MarketoClientOptions): ResolvedOptions {
  if (!o || typeof o !== "object") throw invalid("Marketo client options are missing");
  const text = (name: string, v: unknown): string => {
    if (typeof v !== "string" || v.trim() === "") {
      throw invalid(`Marketo ${name} is missing: copy it from Admin > Integration > LaunchPoint > View Details`);
    }
    return v.trim();
  };
  const clientId = text("Client Id", o.clientId);
  const clientSecret = text("Client Secret", o.clientSecret);
  const retry = o.retry ?? {};
  const resolved: ResolvedOptions = {
    endpoint: o.endpoint,
    clientId,
    clientSecret,
    callsPerWindow: positive("callsPerWindow", o.callsPerWindow, 100),
    windowMs: positive("windowMs", o.windowMs, 20_000),
    concurrency: Math.floor(positive("concurrency", o.concurrency, 10)),
    dailyBudget: Math.floor(positive("dailyBudget", o.dailyBudget, 50_000)),
    batchWindowMs: positive("batchWindowMs", o.batchWindowMs, 1000),
    maxBatchSize: Math.floor(positive("maxBatchSize", o.maxBatchSize, 300, 300)),
    retry: {
      maxAttempts: Math.floor(positive("retry.maxAttempts", retry.maxAttempts, 5)),
      baseDelayMs: positive("retry.baseDelayMs", retry.baseDelayMs, 1000),
      maxDelayMs: positive("retry.maxDelayMs", retry.maxDelayMs, 60_000),
    },
    maxRateLimitWaitMs: positive("maxRateLimitWaitMs", o.maxRateLimitWaitMs, 15 * 60_000),
    quotaProbeIntervalMs: positive("quotaProbeIntervalMs", o.quotaProbeIntervalMs, 60 * 60_000),
    bulkPollIntervalMs: positive("bulkPollIntervalMs", o.bulkPollIntervalMs, 5000),
    // Marketo refuses files of 10 MB and more; 5 % headroom for multipart framing.
    bulkMaxFileBytes: Math.floor(positive("bulkMaxFileBytes", o.bulkMaxFileBytes, 9_500_000, 10_000_000)),
    closeTimeoutMs: positive("closeTimeoutMs", o.closeTimeoutMs, 10_000),
    readDailyUsage: o.readDailyUsage === true,
    logger: o.logger ?? SILENT,
  };
  if (typeof o.stateDir === "string" && o.stateDir !== "") resolved.stateDir = o.stateDir;
  if (o.redisUrl !== undefined && o.redisUrl !== "") resolved.redisUrl = redisUrl(o.redisUrl);
  if (o.leaseMs !== undefined) resolved.leaseMs = positive("leaseMs", o.leaseMs, 3000);
  if (o.requestTimeoutMs !== undefined)
    resolved.requestTimeoutMs = positive("requestTimeoutMs", o.requestTimeoutMs, 30_000);
  return resolved;
}

/** Checks a Redis URL without ever repeating its password. */
export function redisUrl(v: unknown): string {
  const text = typeof v === "string" ? v.trim() : "";
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw invalid("the Redis URL is not a URL: it starts with redis:// or rediss://");
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    throw invalid(`the Redis URL must start with redis:// or rediss:// (got ${u.protocol}//)`);
  }
  if (!u.hostname) throw invalid("the Redis URL has no host");
  return text;
}

/** A Redis URL fit for logs and status: the password replaced by ***. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(a Redis URL)";
  }
}
