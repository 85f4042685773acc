/**
 * When the no-show sweep runs, and that it runs once per program: the programs swept and the
 * sweeps still due live in one small JSON file in the userDir, so a restart neither forgets a
 * sweep due nor sweeps a program twice. No Node-RED import.
 */
import { errorText } from "../node-kit/guards";
import * as fs from "fs";
import * as path from "path";
import { SWEEP_OPERATION, type SweepReport } from "./no-show-sweep";
import { MarketoError } from "../marketo";

/** A program swept: when, and what it did. */
export interface DoneSweep {
  at: string;
  set: number;
  skipped: number;
  read: number;
}

interface MemoryFile {
  done: Record<string, DoneSweep>;
  /** programId → epoch ms the sweep is due. */
  due: Record<string, number>;
}

function fileNamePart(text: string): string {
  return text.replace(/[^A-Za-z0-9.]/g, (ch) => `_${Buffer.from(ch, "utf8").toString("hex")}`);
}

/** `<userDir>/marketo-no-show/<nodeId>.json`, or undefined without a userDir (kept in memory only). */
export function sweepMemoryFile(settings: { userDir?: unknown }, nodeId: string): string | undefined {
  const userDir = settings?.userDir;
  if (typeof userDir !== "string" || userDir === "") return undefined;
  return path.join(userDir, "marketo-no-show", `${fileNamePart(nodeId)}.json`);
}

/** The done programs and due sweeps, written through to the file on every change. */
export class SweepMemory {
  private data: MemoryFile = { done: {}, due: {} };

  constructor(
    private readonly file: string | undefined,
    private readonly warn: (message: string) => void = () => undefined,
  ) {
    if (!file) return;
    try {
      const parsed: unknown = JSON.parse(fs.readFileSync(file, "utf8"));
      if (parsed && typeof parsed === "object") {
        const p = parsed as Partial<MemoryFile>;
        if (p.done && typeof p.done === "object") this.data.done = p.done;
        if (p.due && typeof p.due === "object") {
          for (const [k, v] of Object.entries(p.due))
            if (typeof v === "number" && Number.isFinite(v)) this.data.due[k] = v;
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT")
        warn(`the no-show sweeps done could not be read from ${file}: ${(err as Error).message}; starting afresh`);
    }
  }

  done(programId: number): DoneSweep | undefined {
    return this.data.done[String(programId)];
  }

  markDone(report: SweepReport): void {
    this.data.done[String(report.programId)] = {
      at: report.finishedAt,
      set: report.set,
      skipped: report.skipped,
      read: report.read,
    };
    delete this.data.due[String(report.programId)];
    this.save();
  }

  dueAt(programId: number): number | undefined {
    return this.data.due[String(programId)];
  }

  setDue(programId: number, at: number): void {
    if (this.data.due[String(programId)] === at) return;
    this.data.due[String(programId)] = at;
    this.save();
  }

  /** Every sweep due, as [programId, epoch ms]. */
  allDue(): Array<[number, number]> {
    return Object.entries(this.data.due).map(([k, v]) => [Number(k), v]);
  }

  private save(): void {
    if (!this.file) return;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      // Written aside then renamed: a crash mid-write leaves the old file, never half of one.
      const tmp = `${this.file}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(this.data));
      fs.renameSync(tmp, this.file);
    } catch (err) {
      this.warn(`the no-show sweeps could not be saved to ${this.file}: ${(err as Error).message}`);
    }
  }
}

/** What asking for a sweep gave. */
export type SweepOutcome =
  | { ok: true; report: SweepReport }
  | { ok: true; alreadyDone: DoneSweep; programId: number }
  | { ok: false; programId: number; error: MarketoError };

export interface SweeperOptions {
  memory: SweepMemory;
  /** Sweep by itself when an event's end plus the delay comes. */
  enabled: boolean;
  delayMs: number;
  /** One sweep through the node's client. */
  execute(programId: number, dryRun: boolean): Promise<SweepReport>;
  /** A sweep the timer ran: its outcome goes to the node's output and status. */
  onTimedSweep(outcome: SweepOutcome): void;
  /** A sweep that failed is tried again after this long (default an hour). */
  retryMs?: number;
  now?: () => number;
}

/** setTimeout holds at most 2^31-1 ms (~24.8 days); longer waits are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function asError(err: unknown): MarketoError {
  if (err instanceof MarketoError) return err;
  return new MarketoError({
    code: "INTERNAL",
    message: `the no-show sweep failed: ${errorText(err)}`,
    category: "marketo",
    action: "permanent",
    retryable: false,
    operation: SWEEP_OPERATION,
  });
}

/** Runs sweeps once per program, now (a message) or at their time (the events seen). */
export class NoShowSweeper {
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private readonly running = new Map<string, Promise<SweepOutcome>>();
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly opts: SweeperOptions) {
    this.now = opts.now ?? Date.now;
    if (opts.enabled) for (const [programId] of opts.memory.allDue()) this.arm(programId);
  }

  /** An event of this program ends at `endMs`: its sweep is due at end + delay (the latest end seen wins). */
  saw(programId: number, endMs: number | undefined): void {
    if (!this.opts.enabled || this.closed || endMs === undefined) return;
    if (this.opts.memory.done(programId)) return;
    const due = endMs + this.opts.delayMs;
    if (this.opts.memory.dueAt(programId) === due && this.timers.has(programId)) return;
    this.opts.memory.setDue(programId, due);
    this.arm(programId);
  }

  /**
   * A sweep now. A real sweep of a program already swept does nothing and says so; one already
   * running is shared. Only a sweep that failed no lead marks the program done.
   */
  sweep(programId: number, dryRun: boolean): Promise<SweepOutcome> {
    if (!dryRun) {
      const done = this.opts.memory.done(programId);
      if (done) return Promise.resolve({ ok: true, alreadyDone: done, programId });
    }
    const key = `${programId}|${dryRun}`;
    const running = this.running.get(key);
    if (running) return running;
    const p = this.opts
      .execute(programId, dryRun)
      .then((report): SweepOutcome => {
        if (!dryRun && report.failed === 0) {
          this.opts.memory.markDone(report);
          this.disarm(programId);
        }
        return { ok: true, report };
      })
      .catch((err: unknown): SweepOutcome => ({ ok: false, programId, error: asError(err) }))
      .finally(() => this.running.delete(key));
    this.running.set(key, p);
    return p;
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private disarm(programId: number): void {
    const t = this.timers.get(programId);
    if (t) clearTimeout(t);
    this.timers.delete(programId);
  }

  private arm(programId: number): void {
    this.disarm(programId);
    const due = this.opts.memory.dueAt(programId);
    if (this.closed || due === undefined) return;
    const wait = Math.max(0, Math.min(due - this.now(), MAX_TIMER_MS));
    const t = setTimeout(() => {
      this.timers.delete(programId);
      if (this.closed) return;
      if (this.now() < due) return this.arm(programId);
      void this.sweep(programId, false).then((outcome) => {
        if (this.closed) return;
        const failed = !outcome.ok || ("report" in outcome && outcome.report.failed > 0);
        if (failed) {
          // Still due: tried again later (and after a restart), as nothing marked it done.
          this.opts.memory.setDue(programId, this.now() + (this.opts.retryMs ?? 3_600_000));
          this.arm(programId);
        }
        this.opts.onTimedSweep(outcome);
      });
    }, wait);
    // A sweep days away must not keep Node-RED (or a test) alive by itself.
    t.unref?.();
    this.timers.set(programId, t);
  }
}
