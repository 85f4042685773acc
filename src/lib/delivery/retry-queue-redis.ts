/**
 * The retry-queue's entries kept in a BullMQ queue on Redis, shared by every replica running the
 * same flow: any replica lists, resubmits and discards every entry, and a replica that dies
 * mid-resubmission loses nothing, since its job's lock expires and another replica's worker takes
 * the job up (BullMQ's stalled-job recovery).
 *
 * How entries map onto BullMQ jobs (one job per entry, the job id is the entry id, the entry is
 * the job's data):
 * - waiting: a delayed job until its backoff step (or the quota reset) ends, then a waiting job;
 * - retrying: an active job: the worker that took it sent the resubmission and holds the job's
 *   lock until the outcome arrives or the answer timeout ends;
 * - held and abandoned: failed jobs, kept until a person resubmits (job.retry) or discards them.
 * Delivered entries are completed jobs, removed at once. The decisions (backoff, quota waits,
 * attempts) are the same as the in-process queue's: src/lib/delivery/retry-queue.ts.
 *
 * Only this file loads bullmq and ioredis, and only when a Redis URL is set.
 */
import type { Job, Queue, Worker } from "bullmq";
import type { Redis as RedisClient } from "ioredis";
import {
  type EntryState,
  type ErrorInfo,
  type Failure,
  type Filter,
  type QueueOptions,
  type ReceiveResult,
  type RetryEntry,
  type Totals,
  type Counts,
  type EntrySummary,
  type Integration,
  decideEntry,
  entryOf,
  errorFields,
  formatDuration,
  matches,
  newEntry,
  summary,
} from "./retry-queue";
import { errorText } from "../node-kit/guards";

export interface RedisQueueOptions extends QueueOptions {
  url: string;
  /** The retry-queue node's id: replicas with identical flows share it, hence the queue. */
  name: string;
  /** How long a dead replica's resubmissions stay locked before another replica takes them. */
  lockMs?: number;
  /** Resubmissions one replica has under way at once. */
  concurrency?: number;
}

export interface RedisQueueHandlers {
  /** Sends a resubmission; a string is why it cannot be sent (the entry is then held). */
  send(entry: RetryEntry): string | undefined;
  /** An entry this replica's worker gave up on (held or abandoned). */
  givenUp(entry: RetryEntry): void;
  /** Something changed: the status may repaint. */
  changed(): void;
  warn(message: string): void;
}

/** Keys share the hash tag: every key of the queue lives in one Redis Cluster slot. */
export const PREFIX = "{marketo-retry}";
const LIVE_STATES = ["active", "waiting", "delayed", "prioritized", "failed"] as const;
type LiveState = (typeof LIVE_STATES)[number];

type Answer = { kind: "outcome"; ok: boolean; error?: ErrorInfo } | { kind: "timeout" } | { kind: "closed" };

/** Redis settings that decide whether a Redis restart keeps the queue's entries. */
export async function persistenceProblems(client: RedisClient): Promise<string[]> {
  const get = async (name: string): Promise<string | undefined> => {
    const r = (await client.call("CONFIG", "GET", name)) as string[];
    return r[1];
  };
  const problems: string[] = [];
  try {
    const aof = await get("appendonly");
    const fsync = await get("appendfsync");
    const policy = await get("maxmemory-policy");
    if (aof !== "yes")
      problems.push(
        "appendonly is not yes: a Redis restart loses every entry written since the last snapshot (set appendonly yes)",
      );
    else if (fsync === "no")
      problems.push(
        "appendfsync is no: a Redis crash can lose the last ~30 s of entries (set appendfsync everysec or always)",
      );
    if (policy !== undefined && policy !== "noeviction")
      problems.push(`maxmemory-policy is ${policy}: Redis may evict entries when full (set noeviction)`);
  } catch (err) {
    problems.push(
      `cannot check the Redis persistence settings (CONFIG GET is refused: ${errorText(err)}); make sure appendonly is yes and maxmemory-policy is noeviction`,
    );
  }
  return problems;
}

/** What the entry's job state says about the entry a person sees. */
function stateOf(data: RetryEntry, live: LiveState): EntryState {
  // A held or abandoned entry passes through a worker once to be parked as a failed job; it is
  // never resubmitted on the way, so it shows as what it is, not as retrying.
  if (data.state === "held" || data.state === "abandoned") return data.state;
  if (live === "active") return "retrying";
  if (live === "failed") return "held";
  return "waiting";
}

/** How long a person's resubmit waits for a worker to finish parking a held entry. */
const PARKING_WAIT_MS = 5000;

export class RedisRetryQueue {
  private readonly queue: Queue;
  private readonly worker: Worker;
  private readonly client: RedisClient;
  private readonly bullConnection: RedisClient;
  private readonly waiters = new Map<string, (a: Answer) => void>();
  private readonly totalsKey: string;
  private closed = false;
  private readonly bull: typeof import("bullmq");
  /** The last counts read from Redis, for a status or a summary that cannot wait. */
  lastCounts: Counts = { state: { waiting: 0, retrying: 0, held: 0, abandoned: 0 }, category: {}, integration: {} };
  lastTotals: Totals = { received: 0, retried: 0, delivered: 0, abandoned: 0, held: 0, discarded: 0, overflow: 0 };
  lastSize = 0;

  constructor(
    readonly options: RedisQueueOptions,
    private readonly handlers: RedisQueueHandlers,
  ) {
    // Loaded only here: a retry-queue without Redis never loads bullmq or ioredis.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    this.bull = require("bullmq") as typeof import("bullmq");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const IORedis = (require("ioredis") as typeof import("ioredis")).default;
    const connection = { maxRetriesPerRequest: null, enableOfflineQueue: true };
    this.client = new IORedis(options.url, connection);
    this.client.on("error", () => undefined);
    this.totalsKey = `${PREFIX}:${options.name}:marketo-totals`;
    const bullConnection = new IORedis(options.url, connection);
    bullConnection.on("error", () => undefined);
    this.bullConnection = bullConnection;
    this.queue = new this.bull.Queue(options.name, { connection: bullConnection, prefix: PREFIX });
    this.queue.on("error", () => undefined);
    this.worker = new this.bull.Worker(options.name, (job, token) => this.process(job as Job<RetryEntry>, token), {
      connection: bullConnection,
      prefix: PREFIX,
      concurrency: options.concurrency ?? 500,
      lockDuration: options.lockMs ?? 30_000,
      stalledInterval: Math.max(500, Math.floor((options.lockMs ?? 30_000) / 2)),
      // A replica dying mid-resubmission is no fault of the entry: it goes out again, however often.
      maxStalledCount: 1_000_000,
      autorun: false,
    });
    this.worker.on("error", () => undefined);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
  private random(): number {
    return (this.options.random ?? Math.random)();
  }

  /** Connects, checks Redis's persistence settings (returned as warnings) and starts taking jobs. */
  async start(): Promise<string[]> {
    const problems = await persistenceProblems(this.client);
    void this.worker.run().catch((err: unknown) => this.handlers.warn(`retry queue worker stopped: ${errorText(err)}`));
    await this.worker.waitUntilReady();
    await this.refresh();
    return problems;
  }

  private async bump(field: keyof Totals, n = 1): Promise<void> {
    if (n) await this.client.hincrby(this.totalsKey, field, n);
  }

  async totals(): Promise<Totals> {
    const raw = await this.client.hgetall(this.totalsKey);
    const t = { ...this.lastTotals };
    for (const k of Object.keys(t) as Array<keyof Totals>) t[k] = Number(raw[k] ?? 0) || 0;
    this.lastTotals = t;
    return t;
  }

  async size(): Promise<number> {
    return this.queue.getJobCountByTypes(...LIVE_STATES);
  }

  /** A new failure. Resolves once it is a job in Redis. */
  async receive(f: Failure): Promise<ReceiveResult> {
    if ((await this.size()) >= this.options.maxEntries) {
      await this.bump("overflow");
      return { kind: "overflow" };
    }
    const now = this.now();
    const entry = newEntry(f, now);
    const given = decideEntry(entry, this.options, now, () => this.random());
    await this.queue.add("entry", entry, {
      jobId: entry.id,
      delay: entry.state === "waiting" ? Math.max(0, (entry.nextRetryAt ?? now) - now) : 0,
      attempts: 1,
      removeOnComplete: true,
      removeOnFail: false,
    });
    await this.bump("received");
    if (given) await this.bump(given);
    this.handlers.changed();
    return { kind: entry.state as "waiting" | "held" | "abandoned", entry };
  }

  /**
   * Entries this node kept in its journal before Redis was configured, moved into the shared
   * queue under their own ids (a second replica moving the same ones adds nothing twice). A
   * resubmission that was under way goes out again. Returns how many were added.
   */
  async adopt(values: Array<{ id: string; value: unknown }>): Promise<number> {
    let n = 0;
    const now = this.now();
    for (const { id, value } of values) {
      const e = entryOf(id, value);
      if (!e) continue;
      if (e.state === "retrying") {
        e.state = "waiting";
        e.sentAt = undefined;
        e.nextRetryAt = now;
      }
      if (await this.queue.getJob(e.id)) continue;
      await this.queue.add("entry", e, {
        jobId: e.id,
        delay: e.state === "waiting" ? Math.max(0, (e.nextRetryAt ?? now) - now) : 0,
        attempts: 1,
        removeOnComplete: true,
        removeOnFail: false,
      });
      n++;
    }
    if (n) await this.bump("received", n);
    this.handlers.changed();
    return n;
  }

  /** The outcome of a resubmission this replica sent; false when it is not waited for here. */
  outcome(tag: { id: string; seq: number }, ok: boolean, error?: ErrorInfo): boolean {
    const w = this.waiters.get(`${tag.id}#${tag.seq}`);
    if (!w) return false;
    w({ kind: "outcome", ok, error });
    return true;
  }

  private answer(e: RetryEntry): Promise<Answer> {
    const key = `${e.id}#${e.seq}`;
    return new Promise<Answer>((resolve) => {
      const timer = setTimeout(() => done({ kind: "timeout" }), this.options.answerTimeoutMs);
      const done = (a: Answer): void => {
        clearTimeout(timer);
        this.waiters.delete(key);
        resolve(a);
      };
      this.waiters.set(key, done);
    });
  }

  /** One entry's turn: park it (held, abandoned), or resubmit it and wait for how it went. */
  private async process(job: Job<RetryEntry>, token: string | undefined): Promise<void> {
    const { DelayedError, UnrecoverableError } = this.bull;
    const e = entryOf(job.id ?? "", job.data) ?? ({ ...job.data, id: job.id } as RetryEntry);
    if (e.state === "held" || e.state === "abandoned") throw new UnrecoverableError(e.reason ?? e.state);
    if (this.closed) {
      await job.moveToDelayed(this.now(), token);
      throw new DelayedError();
    }
    const now = this.now();
    e.attempts++;
    e.seq++;
    e.state = "retrying";
    e.sentAt = now;
    e.nextRetryAt = undefined;
    e.quotaWait = undefined;
    await job.updateData(e);
    await this.bump("retried");
    const answered = this.answer(e);
    const cannot = this.handlers.send(e);
    if (cannot !== undefined) {
      this.waiters.get(`${e.id}#${e.seq}`)?.({ kind: "closed" });
      await answered;
      e.state = "held";
      e.reason = cannot;
      e.sentAt = undefined;
      await job.updateData(e);
      await this.bump("held");
      this.handlers.givenUp(e);
      this.handlers.changed();
      throw new UnrecoverableError(cannot);
    }
    this.handlers.changed();
    const a = await answered;
    const at = this.now();
    if (a.kind === "outcome" && a.ok) {
      await this.bump("delivered");
      this.handlers.changed();
      return;
    }
    let given: "held" | "abandoned" | undefined;
    if (a.kind === "closed") {
      // This replica is stopping: the entry goes out again from whichever replica takes it next.
      e.state = "waiting";
      e.sentAt = undefined;
      e.nextRetryAt = at;
    } else if (a.kind === "timeout") {
      e.lastFailedAt = at;
      e.reason = `no answer within ${formatDuration(this.options.answerTimeoutMs)} to resubmission ${e.attempts} (is output 1 wired to the node that failed?)`;
      given = decideEntry(e, this.options, at, () => this.random(), false);
    } else {
      Object.assign(e, errorFields(a.error));
      e.lastFailedAt = at;
      e.reason = undefined;
      if (e.category === "quota" || e.action === "wait-day") e.attempts = Math.max(0, e.attempts - 1);
      given = decideEntry(e, this.options, at, () => this.random());
    }
    await job.updateData(e);
    this.handlers.changed();
    if (e.state === "waiting") {
      await job.moveToDelayed(e.nextRetryAt ?? at, token);
      throw new DelayedError();
    }
    if (given) await this.bump(given);
    this.handlers.givenUp(e);
    throw new UnrecoverableError(e.reason ?? e.state);
  }

  /** Every entry with the state it is in now, oldest job first within a state. */
  private async all(): Promise<Array<{ entry: RetryEntry; job: Job<RetryEntry>; live: LiveState }>> {
    const out: Array<{ entry: RetryEntry; job: Job<RetryEntry>; live: LiveState }> = [];
    for (const live of LIVE_STATES) {
      const jobs = (await this.queue.getJobs([live], 0, -1, true)) as unknown as Array<Job<RetryEntry> | undefined>;
      for (const job of jobs) {
        if (!job?.id) continue;
        const entry = entryOf(job.id, job.data);
        if (!entry) continue;
        entry.state = stateOf(entry, live);
        out.push({ entry, job, live });
      }
    }
    return out;
  }

  async select(filter: Filter): Promise<Array<{ entry: RetryEntry; job: Job<RetryEntry>; live: LiveState }>> {
    return (await this.all()).filter((x) => matches(x.entry, filter));
  }

  /** Counts, totals and size read afresh (kept for the status and the sidebar). */
  async refresh(): Promise<{
    counts: Counts;
    totals: Totals;
    size: number;
    integrations: Record<string, Integration>;
  }> {
    const all = await this.all();
    const counts: Counts = { state: { waiting: 0, retrying: 0, held: 0, abandoned: 0 }, category: {}, integration: {} };
    const integrations: Record<string, Integration> = {};
    for (const { entry: e } of all) {
      counts.state[e.state]++;
      counts.category[e.category] = (counts.category[e.category] ?? 0) + 1;
      counts.integration[e.integration.id] = (counts.integration[e.integration.id] ?? 0) + 1;
      integrations[e.integration.id] ??= { ...e.integration };
    }
    this.lastCounts = counts;
    this.lastSize = all.length;
    return { counts, totals: await this.totals(), size: all.length, integrations };
  }

  async list(filter: Filter, limit: number, offset: number): Promise<{ total: number; entries: EntrySummary[] }> {
    const chosen = await this.select(filter);
    return { total: chosen.length, entries: chosen.slice(offset, offset + limit).map((x) => summary(x.entry)) };
  }

  /**
   * A person's resubmit, from any replica: attempts start again and the entries are due now,
   * whatever held them. Entries whose resubmission is under way are left alone.
   */
  async resubmit(filter: Filter): Promise<number> {
    let n = 0;
    const now = this.now();
    for (const chosen of await this.select(filter)) {
      const { entry: e, job } = chosen;
      let live: LiveState | "parked" | "gone" = chosen.live;
      if (live === "active" && (e.state === "held" || e.state === "abandoned")) live = await this.parked(job);
      if (live === "active" || live === "gone") continue;
      e.attempts = 0;
      e.state = "waiting";
      e.nextRetryAt = now;
      e.quotaWait = undefined;
      e.reason = undefined;
      e.retryable = true;
      try {
        await job.updateData(e);
        if (live === "failed" || live === "parked") await job.retry("failed");
        else if (live === "delayed") await job.promote();
        n++;
      } catch {
        // Taken meanwhile by a worker (or discarded by another replica): its turn is under way.
      }
    }
    this.handlers.changed();
    return n;
  }

  /** Waits until a worker has parked a held entry as a failed job ("parked"), or says it did not. */
  private async parked(job: Job<RetryEntry>): Promise<"parked" | "active" | "gone"> {
    const end = Date.now() + PARKING_WAIT_MS;
    for (;;) {
      const state = await job.getState();
      if (state === "failed") return "parked";
      if (state === "unknown") return "gone";
      if (Date.now() > end) return "active";
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Every waiting entry due now, except those waiting for the quota reset. */
  async flush(): Promise<number> {
    let n = 0;
    const now = this.now();
    for (const { entry: e, job, live } of await this.select({})) {
      if (live !== "delayed" || e.quotaWait || e.state !== "waiting") continue;
      e.nextRetryAt = now;
      try {
        await job.updateData(e);
        await job.promote();
        n++;
      } catch {
        // Promoted or taken meanwhile.
      }
    }
    this.handlers.changed();
    return n;
  }

  /** Removes entries; one whose resubmission is under way stays (its lock belongs to a worker). */
  async discard(filter: Filter): Promise<number> {
    let n = 0;
    for (const { job, live } of await this.select(filter)) {
      if (live === "active") continue;
      try {
        await job.remove();
        n++;
      } catch {
        // Taken by a worker meanwhile.
      }
    }
    await this.bump("discarded", n);
    this.handlers.changed();
    return n;
  }

  /** Stops taking jobs; resubmissions still unanswered go back to waiting, due now. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of [...this.waiters.values()]) w({ kind: "closed" });
    try {
      await this.worker.close();
    } finally {
      await this.queue.close().catch(() => undefined);
      this.client.disconnect();
      this.bullConnection.disconnect();
    }
  }
}
