/**
 * Where the action nodes tell a retry-queue how a resubmitted message went. Process-wide: the
 * queue that resubmitted a message is found by its node id, whichever flow or wire the message
 * took back to Marketo.
 *
 * An outcome for a queue that is not registered (a redeploy is replacing it, or a restart has not
 * created it yet) is kept and handed over when a queue registers under that id. What is kept is
 * bounded: losing the oldest outcomes costs only time, since a queue that never hears back takes
 * the entry back after its answer timeout.
 */

/** `msg.marketo.retry` on a message a retry-queue resubmitted. */
export interface RetryTag {
  queue: string;
  id: string;
  attempt: number;
  seq: number;
}

/** `msg.marketo.error` as the action nodes set it. */
export interface RetryOutcomeError {
  code?: string;
  message?: string;
  category?: string;
  retryable?: boolean;
  action?: string;
  [key: string]: unknown;
}

export interface RetryOutcomeSink {
  outcome(tag: RetryTag, ok: boolean, error?: RetryOutcomeError): void;
  /** What the queue holds and has done, for the Marketo sidebar's summary. */
  figures?(): QueueFigures;
}

export interface QueueFigures {
  id: string;
  name: string;
  size: number;
  counts: { state: Record<string, number>; category: Record<string, number> };
  totals: Record<string, number>;
}

/** How many outcomes are kept, over all absent queues, until one registers. */
export const PENDING_LIMIT = 10_000;

interface Pending {
  tag: RetryTag;
  ok: boolean;
  error?: RetryOutcomeError;
}

const sinks = new Map<string, RetryOutcomeSink>();
const pending = new Map<string, Pending[]>();
let pendingCount = 0;

/** A `msg.marketo.retry` read defensively: it travels through user flows and may be anything. */
export function retryTagOf(value: unknown): RetryTag | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.queue !== "string" || !v.queue || typeof v.id !== "string" || !v.id) return undefined;
  if (typeof v.seq !== "number" || !Number.isInteger(v.seq)) return undefined;
  const attempt = typeof v.attempt === "number" && Number.isFinite(v.attempt) ? v.attempt : 0;
  return { queue: v.queue, id: v.id, attempt, seq: v.seq };
}

function errorOf(error: unknown): RetryOutcomeError | undefined {
  if (error === null || typeof error !== "object" || Array.isArray(error)) return undefined;
  return error as RetryOutcomeError;
}

function deliver(sink: RetryOutcomeSink, p: Pending): void {
  try {
    sink.outcome(p.tag, p.ok, p.error);
  } catch {
    // A queue's bug must never fail the action node that reported the outcome.
  }
}

export function registerQueue(id: string, sink: RetryOutcomeSink): void {
  sinks.set(id, sink);
  const kept = pending.get(id);
  if (!kept) return;
  pending.delete(id);
  pendingCount -= kept.length;
  for (const p of kept) deliver(sink, p);
}

/** Only the sink that registered removes itself: a new instance may already have taken the id. */
export function unregisterQueue(id: string, sink: RetryOutcomeSink): void {
  if (sinks.get(id) === sink) sinks.delete(id);
}

/** Every registered queue's figures (read-only copies). */
export function queueFigures(): QueueFigures[] {
  const out: QueueFigures[] = [];
  for (const sink of sinks.values()) {
    try {
      const f = sink.figures?.();
      if (f) out.push(f);
    } catch {
      // A queue that cannot say is left out rather than failing the summary.
    }
  }
  return out;
}

export function isQueueRegistered(id: string): boolean {
  return sinks.has(id);
}

/**
 * Called by the action nodes for every message they answer. Does nothing unless the message
 * carries a retry tag; never throws.
 */
export function reportRetryOutcome(retry: unknown, ok: boolean, error?: unknown): void {
  const tag = retryTagOf(retry);
  if (!tag) return;
  const p: Pending = { tag, ok: ok === true, error: errorOf(error) };
  const sink = sinks.get(tag.queue);
  if (sink) {
    deliver(sink, p);
    return;
  }
  let list = pending.get(tag.queue);
  if (!list) {
    list = [];
    pending.set(tag.queue, list);
  }
  list.push(p);
  pendingCount++;
  while (pendingCount > PENDING_LIMIT) dropOldest();
}

/** Drops from the longest list: the queue most likely gone for good. */
function dropOldest(): void {
  let longest: string | undefined;
  let size = 0;
  for (const [id, list] of pending) {
    if (list.length > size) {
      size = list.length;
      longest = id;
    }
  }
  if (longest === undefined) {
    pendingCount = 0;
    return;
  }
  const list = pending.get(longest)!;
  list.shift();
  pendingCount--;
  if (list.length === 0) pending.delete(longest);
}

/** Outcomes kept for absent queues (tests and the lead's diagnostics). */
export function pendingOutcomes(id?: string): number {
  return id === undefined ? pendingCount : (pending.get(id)?.length ?? 0);
}
