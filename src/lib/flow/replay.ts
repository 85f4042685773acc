/**
 * Replays: which kept events a request picks, and a run that hands them back to the tag-filter a
 * few at a time, with its progress and a way to cancel. No Node-RED import.
 */
import crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { EventHistory, HistoryRecord } from "./event-history";
import { errorText } from "../node-kit/guards";

export type ReplayMode = "live" | "test" | "any";

/** A replay request, as a message payload or an admin route body gives it. */
export interface ReplayRequest {
  /** Arrival from (inclusive), ms since the epoch. */
  from: number;
  /** Arrival to (inclusive), ms since the epoch. */
  to: number;
  /** The event's id or code. */
  event?: string;
  /** Registration codes. */
  registrations?: string[];
  topics?: string[];
  mode: ReplayMode;
  suppressCampaigns: boolean;
  dryRun: boolean;
}

/** What a replayed message carries as `msg.replay`. */
export interface ReplayMark {
  id: string;
  requestedAt: string;
  suppressCampaigns: boolean;
}

export type ReplayState = "counting" | "running" | "done" | "cancelled" | "failed";

export interface ReplayProgress {
  replayId: string;
  state: ReplayState;
  requestedAt: string;
  finishedAt?: string;
  dryRun: boolean;
  suppressCampaigns: boolean;
  /** Events the request picks. */
  events: number;
  /** Events handed to the filter again so far. */
  emitted: number;
  error?: string;
}

export class ReplayRequestError extends Error {
  readonly category = "validation";
  constructor(message: string) {
    super(message);
    this.name = "ReplayRequestError";
  }
}

const KEYS = new Set(["from", "to", "event", "registrations", "topics", "mode", "suppressCampaigns", "dryRun"]);
const MAX_CODES = 10_000;

function time(v: unknown, what: string, fallback: number): number {
  if (v === undefined || v === null || v === "") return fallback;
  const t = typeof v === "number" ? v : typeof v === "string" ? Date.parse(v) : NaN;
  if (!Number.isFinite(t))
    throw new ReplayRequestError(
      `replay: ${what} must be a date (ISO 8601 text or ms since 1970), not ${JSON.stringify(v)}`,
    );
  return t;
}

function textList(v: unknown, what: string): string[] | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  const list = typeof v === "string" ? v.split(",") : v;
  if (!Array.isArray(list)) throw new ReplayRequestError(`replay: ${what} must be a list or comma-separated text`);
  if (list.length > MAX_CODES)
    throw new ReplayRequestError(`replay: ${what} has ${list.length} entries; at most ${MAX_CODES}`);
  const out = list.map((x) => {
    if (typeof x !== "string" && typeof x !== "number")
      throw new ReplayRequestError(`replay: ${what} must hold text, found ${JSON.stringify(x)}`);
    return String(x).trim();
  });
  const kept = out.filter((x) => x !== "");
  return kept.length ? kept : undefined;
}

function flag(v: unknown, what: string, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean")
    throw new ReplayRequestError(`replay: ${what} must be true or false, not ${JSON.stringify(v)}`);
  return v;
}

/** Checks a request; throws ReplayRequestError naming the first bad field. */
export function parseReplayRequest(body: unknown, now = Date.now()): ReplayRequest {
  if (body === undefined || body === null) body = {};
  if (typeof body !== "object" || Array.isArray(body))
    throw new ReplayRequestError(
      "replay: the request must be an object { from, to, event, registrations, topics, mode, suppressCampaigns, dryRun }",
    );
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b))
    if (!KEYS.has(k)) throw new ReplayRequestError(`replay: unknown field "${k}"; known: ${[...KEYS].join(", ")}`);
  const from = time(b.from, "from", 0);
  const to = time(b.to, "to", now);
  if (from > to)
    throw new ReplayRequestError(
      `replay: from (${new Date(from).toISOString()}) is after to (${new Date(to).toISOString()})`,
    );
  let event: string | undefined;
  if (b.event !== undefined && b.event !== null && b.event !== "") {
    if (typeof b.event !== "string" && typeof b.event !== "number")
      throw new ReplayRequestError(`replay: event must be the event's id or code, not ${JSON.stringify(b.event)}`);
    event = String(b.event).trim();
  }
  const mode = b.mode ?? "any";
  if (mode !== "live" && mode !== "test" && mode !== "any")
    throw new ReplayRequestError(`replay: mode must be "live", "test" or "any", not ${JSON.stringify(mode)}`);
  const registrations = textList(b.registrations, "registrations");
  const topics = textList(b.topics, "topics");
  return {
    from,
    to,
    ...(event ? { event } : {}),
    ...(registrations ? { registrations } : {}),
    ...(topics ? { topics } : {}),
    mode,
    suppressCampaigns: flag(b.suppressCampaigns, "suppressCampaigns", true),
    dryRun: flag(b.dryRun, "dryRun", false),
  };
}

function field(o: unknown, k: string): unknown {
  return o !== null && typeof o === "object" && Object.prototype.hasOwnProperty.call(o, k)
    ? (o as Record<string, unknown>)[k]
    : undefined;
}

function isTest(v: unknown): boolean {
  return v === true || v === 1 || v === "true" || v === "1";
}

/** A predicate over kept events for `r` (arrival range is the reader's). */
export function replayMatcher(r: ReplayRequest): (rec: HistoryRecord) => boolean {
  const regs = r.registrations ? new Set(r.registrations) : undefined;
  const topics = r.topics ? new Set(r.topics.map((t) => t.toLowerCase())) : undefined;
  return (rec) => {
    if (topics && (typeof rec.topic !== "string" || !topics.has(rec.topic.trim().toLowerCase()))) return false;
    const event = field(rec.payload, "event");
    const reg = field(rec.payload, "registration");
    if (r.event !== undefined) {
      const id = field(event, "id");
      const code = field(event, "code");
      if (!(
        (id !== undefined && id !== null && String(id) === r.event) ||
        (typeof code === "string" && code === r.event)
      ))
        return false;
    }
    if (regs) {
      const code = field(reg, "code");
      if ((typeof code !== "string" && typeof code !== "number") || !regs.has(String(code))) return false;
    }
    if (r.mode !== "any") {
      const test = isTest(field(reg, "test")) || isTest(field(event, "test"));
      if ((r.mode === "live") === test) return false;
    }
    return true;
  };
}

/** Counts the events `r` picks. */
export async function countReplay(history: EventHistory, r: ReplayRequest): Promise<number> {
  const match = replayMatcher(r);
  let n = 0;
  for await (const rec of history.read(r.from, r.to)) if (match(rec)) n++;
  return n;
}

/** Events handed over per turn of the event loop: live messages get a turn between chunks. */
const CHUNK = 100;

/**
 * One replay: counts first (the answer to the request), then, unless a dry run, hands each event
 * to `emit` in arrival order, yielding between chunks. `emit` must not throw.
 */
export class ReplayRun {
  readonly id = crypto.randomUUID();
  readonly requestedAt = new Date();
  private progressNow: ReplayProgress;
  private cancelled = false;
  /** Settles with the count once it is known. */
  readonly counted: Promise<number>;
  /** Settles when the run is over (done, cancelled or failed). */
  readonly finished: Promise<ReplayProgress>;

  constructor(
    private readonly history: EventHistory,
    readonly request: ReplayRequest,
    private readonly emit: (rec: HistoryRecord, mark: ReplayMark) => void,
  ) {
    this.progressNow = {
      replayId: this.id,
      state: "counting",
      requestedAt: this.requestedAt.toISOString(),
      dryRun: request.dryRun,
      suppressCampaigns: request.suppressCampaigns,
      events: 0,
      emitted: 0,
    };
    this.counted = countReplay(history, request).then((n) => {
      this.progressNow.events = n;
      return n;
    });
    this.finished = this.run();
  }

  get progress(): ReplayProgress {
    return { ...this.progressNow };
  }

  /** Stops handing events over; true when the run was still going. */
  cancel(): boolean {
    if (this.progressNow.state !== "counting" && this.progressNow.state !== "running") return false;
    this.cancelled = true;
    return true;
  }

  private end(state: ReplayState, error?: string): ReplayProgress {
    this.progressNow.state = state;
    this.progressNow.finishedAt = new Date().toISOString();
    if (error) this.progressNow.error = error;
    return this.progress;
  }

  private async run(): Promise<ReplayProgress> {
    try {
      await this.counted;
      if (this.cancelled) return this.end("cancelled");
      if (this.request.dryRun) return this.end("done");
      this.progressNow.state = "running";
      const mark: ReplayMark = {
        id: this.id,
        requestedAt: this.progressNow.requestedAt,
        suppressCampaigns: this.request.suppressCampaigns,
      };
      const match = replayMatcher(this.request);
      let inChunk = 0;
      for await (const rec of this.history.read(this.request.from, this.request.to)) {
        if (this.cancelled) return this.end("cancelled");
        if (!match(rec)) continue;
        // Events that arrived after the count (the range reaches now) are not part of this replay.
        if (this.progressNow.emitted >= this.progressNow.events) break;
        this.emit(rec, { ...mark });
        this.progressNow.emitted++;
        if (++inChunk >= CHUNK) {
          inChunk = 0;
          await new Promise<void>((r) => setImmediate(r));
        }
      }
      return this.end(this.cancelled ? "cancelled" : "done");
    } catch (err) {
      return this.end("failed", errorText(err));
    }
  }
}

/** Replays a tag-filter remembers (the running ones and the latest finished), across restarts. */
export const KEEP_REPLAYS = 20;
/** A running replay's progress is written at most this often. */
const SAVE_EVERY_MS = 2000;

/**
 * The list of a tag-filter's replays, in `replays.json` beside its history: the latest
 * KEEP_REPLAYS, newest last. Written whole to a temporary file then renamed, so a crash leaves
 * the old list or the new one. A replay that was running when Node-RED stopped is listed as
 * cancelled, saying so. Never throws: the list must not stop a replay.
 */
export class ReplayLog {
  private readonly file: string;
  private readonly entries = new Map<string, ReplayProgress>();
  private readonly live = new Map<string, ReplayRun>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    dir: string,
    private readonly warn: (message: string) => void = () => undefined,
  ) {
    this.file = path.join(dir, "replays.json");
    let text: string | undefined;
    try {
      text = fs.readFileSync(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") this.warn(`replay list not read: ${String(err)}`);
    }
    if (text === undefined) return;
    try {
      const list = JSON.parse(text) as unknown;
      if (!Array.isArray(list)) throw new Error("not a list");
      for (const p of list.slice(-KEEP_REPLAYS)) {
        if (p === null || typeof p !== "object" || typeof (p as ReplayProgress).replayId !== "string") continue;
        const e = { ...(p as ReplayProgress) };
        if (e.state === "counting" || e.state === "running") {
          e.state = "cancelled";
          e.finishedAt ??= new Date().toISOString();
          e.error = "Node-RED stopped before the replay ended";
        }
        this.entries.set(e.replayId, e);
      }
    } catch (err) {
      this.warn(`replay list ${this.file} is damaged and starts empty (${errorText(err)})`);
    }
  }

  /** Remembers a run from now on; its progress is saved while it runs and once it ends. */
  track(run: ReplayRun): void {
    this.live.set(run.id, run);
    this.entries.set(run.id, run.progress);
    this.trim();
    this.save();
    this.timer ??= setInterval(() => this.save(), SAVE_EVERY_MS);
    this.timer.unref?.();
    void run.finished.then((final) => {
      this.live.delete(run.id);
      if (this.entries.has(run.id)) this.entries.set(run.id, final);
      this.save();
      if (this.live.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    });
  }

  /** A remembered replay's progress (a running one's as it is now). */
  get(replayId: string): ReplayProgress | undefined {
    const run = this.live.get(replayId);
    if (run) return run.progress;
    const e = this.entries.get(replayId);
    return e ? { ...e } : undefined;
  }

  /** Every remembered replay, newest first. */
  list(): ReplayProgress[] {
    return [...this.entries.keys()].reverse().map((id) => this.get(id)!);
  }

  /** Stops saving (after one last save). */
  close(): void {
    this.save();
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Only the latest are remembered; a running one is never forgotten. */
  private trim(): void {
    for (const id of [...this.entries.keys()]) {
      if (this.entries.size <= KEEP_REPLAYS) break;
      if (!this.live.has(id)) this.entries.delete(id);
    }
  }

  private save(): void {
    if (this.closed) return;
    for (const [id, run] of this.live) this.entries.set(id, run.progress);
    const tmp = `${this.file}.tmp`;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      fs.writeFileSync(tmp, `${JSON.stringify([...this.entries.values()])}\n`);
      fs.renameSync(tmp, this.file);
    } catch (err) {
      this.warn(`replay list not saved: ${errorText(err)}`);
    }
  }
}
