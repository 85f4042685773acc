/**
 * When an entry is tried again: the settings (attempts, backoff, answer timeout), durations as a
 * person writes them, and the decision after a failure: wait, wait for Marketo's day to turn
 * over, hold for a person, or give up.
 */
import { nextChicagoMidnight } from "../marketo/time";
import type { RetryEntry } from "./retry-entry";

export interface QueueOptions {
  maxAttempts: number;
  backoffMs: number[];
  maxEntries: number;
  answerTimeoutMs: number;
  now?: () => number;
  random?: () => number;
  /** Spread of quota waits past midnight, so a full queue does not hit Marketo in one second. */
  quotaJitterMs?: number;
}

export const DEFAULTS = {
  maxAttempts: 3,
  backoff: "30s, 2m, 10m",
  maxEntries: 10_000,
  answerTimeout: "10m",
  quotaJitterMs: 120_000,
} as const;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "30s", "2m", "1.5h", "250ms" → milliseconds; a reason when it is not one. */
export function parseDuration(text: string): { ok: true; ms: number } | { ok: false; reason: string } {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/i.exec(text);
  if (!m) return { ok: false, reason: `"${text.trim()}" is not a duration like 30s, 2m or 1h` };
  const ms = Math.round(Number(m[1]) * UNITS[m[2].toLowerCase()]);
  if (ms <= 0) return { ok: false, reason: `"${text.trim()}" must be longer than 0` };
  if (ms > 7 * 24 * 3_600_000) return { ok: false, reason: `"${text.trim()}" is longer than 7 days` };
  return { ok: true, ms };
}

/** "30s, 2m, 10m" → [30000, 120000, 600000]: attempt n waits entry n-1, the last repeats. */
export function parseBackoff(text: unknown): { ok: true; ms: number[] } | { ok: false; reason: string } {
  if (typeof text !== "string" || !text.trim())
    return { ok: false, reason: "backoff is empty: give delays like 30s, 2m, 10m" };
  const out: number[] = [];
  for (const part of text.split(/[,;]/)) {
    if (!part.trim()) continue;
    const d = parseDuration(part);
    if (!d.ok) return { ok: false, reason: `backoff: ${d.reason}` };
    out.push(d.ms);
  }
  if (out.length === 0) return { ok: false, reason: "backoff is empty: give delays like 30s, 2m, 10m" };
  return { ok: true, ms: out };
}

/** 90000 → "1.5m": for reasons a person reads. */
export function formatDuration(ms: number): string {
  const pick = ms >= 3_600_000 ? ["h", 3_600_000] : ms >= 60_000 ? ["m", 60_000] : ms >= 1000 ? ["s", 1000] : ["ms", 1];
  return `${Number((ms / (pick[1] as number)).toFixed(1))}${pick[0]}`;
}

/** The wait before resubmission n (1-based). */
export function backoffFor(backoffMs: readonly number[], attempt: number): number {
  if (backoffMs.length === 0) return 0;
  return backoffMs[Math.min(Math.max(attempt, 1), backoffMs.length) - 1];
}

/** The next quota reset (00:00 America/Chicago) plus jitter. */
export function quotaResumeAt(now: number, random: () => number, jitterMs: number): number {
  return nextChicagoMidnight(now).getTime() + Math.floor(random() * Math.max(0, jitterMs));
}

/**
 * After a failure (or an unanswered resubmission): waiting again, held (a person must fix the
 * cause) or abandoned (attempts used up). Says which give-up it was, for the totals.
 */
export function decideEntry(
  e: RetryEntry,
  options: QueueOptions,
  now: number,
  random: () => number,
  quotaWait = true,
): "held" | "abandoned" | undefined {
  e.sentAt = undefined;
  if (!e.retryable) {
    e.state = "held";
    e.nextRetryAt = undefined;
    e.quotaWait = undefined;
    e.reason ??= `${e.category} failure: a person must fix the cause, then resubmit`;
    return "held";
  }
  if (quotaWait && (e.category === "quota" || e.action === "wait-day")) {
    e.state = "waiting";
    e.quotaWait = true;
    e.nextRetryAt = quotaResumeAt(now, random, options.quotaJitterMs ?? DEFAULTS.quotaJitterMs);
    return undefined;
  }
  e.quotaWait = undefined;
  if (e.attempts >= options.maxAttempts) {
    e.state = "abandoned";
    e.nextRetryAt = undefined;
    e.reason = e.reason
      ? `${e.reason}; gave up after ${e.attempts} of ${options.maxAttempts} attempts`
      : `gave up after ${e.attempts} of ${options.maxAttempts} attempts`;
    return "abandoned";
  }
  e.state = "waiting";
  e.nextRetryAt = now + backoffFor(options.backoffMs, e.attempts + 1);
  return undefined;
}
