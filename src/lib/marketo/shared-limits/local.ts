import fs from "node:fs";
import path from "node:path";
import { chicagoDay, nextChicagoMidnight } from "../time";
import { minSpacing, windowCap, type CallEnd, type Decision, type Limits, type LimitsStore } from "./types";

interface DayFile {
  day: string;
  calls: number;
}

/**
 * The limits of one Marketo instance inside one process. The day's count is written to
 * `dayFile` (when given) on every change, so a restart or redeploy starts from it.
 */
export class LocalStore implements LimitsStore {
  /** Calls running now (a lease each). */
  private readonly running = new Set<string>();
  /** Calls that ended, by the time they left Marketo's view: the answer (or the send). */
  private readonly window = new Map<string, number>();
  private lastGrantAt = 0;
  private pausedUntil = 0;
  private pauseReason = "";
  private quota?: { resetAt: number; probeAt: number; reason: string };
  private day = chicagoDay();
  private calls = 0;

  constructor(private dayFile?: string) {
    if (dayFile) this.load(dayFile);
  }

  /** A client that knows the userDir came after one that did not (a Test connection probe). */
  useDayFile(file: string): void {
    if (this.dayFile) return;
    this.dayFile = file;
    this.load(file);
    this.save();
  }

  private load(file: string): void {
    try {
      const saved = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<DayFile>;
      if (saved.day === this.day && typeof saved.calls === "number" && saved.calls > this.calls)
        this.calls = Math.floor(saved.calls);
    } catch {
      // No file yet (first start) or unreadable: Marketo's own figure is read at start too.
    }
  }

  async grant(id: string, l: Limits, opts: { probeAllowed: boolean }): Promise<Decision> {
    const now = Date.now();
    this.rollDay();
    const callsToday = this.calls;
    if (now < this.pausedUntil)
      return { granted: false, why: "pause", waitMs: this.pausedUntil - now, callsToday, reason: this.pauseReason };
    let probe = false;
    if (this.quota) {
      if (now >= this.quota.resetAt) this.quota = undefined;
      else if (now < this.quota.probeAt || !opts.probeAllowed) {
        return {
          granted: false,
          why: "quota",
          waitMs: Math.min(this.quota.probeAt, this.quota.resetAt) - now,
          callsToday,
          reason: this.quota.reason,
        };
      } else probe = true;
    }
    if (this.running.size >= l.concurrency) return { granted: false, why: "concurrency", waitMs: 0, callsToday };
    const cutoff = now - l.windowMs;
    let oldest = Infinity;
    for (const [k, at] of this.window) {
      if (at <= cutoff) this.window.delete(k);
      else oldest = Math.min(oldest, at);
    }
    // Calls still running count as arriving now: a stalled network can deliver them any time.
    if (this.window.size + this.running.size >= windowCap(l)) {
      return { granted: false, why: "window", waitMs: oldest === Infinity ? 0 : oldest - cutoff + 1, callsToday };
    }
    const spacing = minSpacing(l);
    if (now < this.lastGrantAt + spacing)
      return { granted: false, why: "window", waitMs: this.lastGrantAt + spacing - now, callsToday };
    if (this.calls >= l.dailyBudget) {
      return { granted: false, why: "budget", waitMs: nextChicagoMidnight(now).getTime() - now + 1000, callsToday };
    }
    if (probe && this.quota) this.quota.probeAt = now + l.quotaProbeIntervalMs;
    this.lastGrantAt = now;
    this.running.add(id);
    this.calls++;
    this.save();
    return { granted: true, probe, callsToday: this.calls };
  }

  async renew(): Promise<void> {
    // Running calls already count as "now" in grant().
  }

  async end(id: string, how: CallEnd): Promise<void> {
    if (!this.running.delete(id)) return;
    if (how === "unsent") {
      if (this.calls > 0) this.calls--;
      this.save();
      return;
    }
    this.window.set(id, Date.now());
  }

  async refund(): Promise<void> {
    this.rollDay();
    if (this.calls > 0) this.calls--;
    this.save();
  }

  async pause(ms: number, reason: string): Promise<void> {
    const until = Date.now() + ms;
    if (until > this.pausedUntil) {
      this.pausedUntil = until;
      this.pauseReason = reason;
    }
  }

  async quotaReached(reason: string, l: Limits): Promise<void> {
    const now = Date.now();
    if (this.quota) this.quota.probeAt = now + l.quotaProbeIntervalMs;
    else this.quota = { resetAt: nextChicagoMidnight(now).getTime(), probeAt: now + l.quotaProbeIntervalMs, reason };
  }

  async quotaAvailable(): Promise<void> {
    this.quota = undefined;
  }

  async probeInconclusive(): Promise<void> {
    if (this.quota) this.quota.probeAt = Date.now();
  }

  async observeDailyTotal(total: number): Promise<number> {
    this.rollDay();
    if (total > this.calls) {
      this.calls = total;
      this.save();
    }
    return this.calls;
  }

  async agreeLimits(mine: Limits): Promise<Limits> {
    return mine;
  }

  /** The quota or pause state, for a process that asks without calling. */
  get callsToday(): number {
    this.rollDay();
    return this.calls;
  }

  async close(): Promise<void> {
    this.save();
  }

  private rollDay(): void {
    const today = chicagoDay();
    if (today !== this.day) {
      this.day = today;
      this.calls = 0;
      this.quota = undefined;
    }
  }

  private save(): void {
    if (!this.dayFile) return;
    const body: DayFile = { day: this.day, calls: this.calls };
    try {
      fs.mkdirSync(path.dirname(this.dayFile), { recursive: true });
      // Written whole then renamed: a crash mid-write leaves the previous count, never a torn file.
      const tmp = `${this.dayFile}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(body));
      fs.renameSync(tmp, this.dayFile);
    } catch {
      // A read-only userDir loses only the restart case; Get Daily Usage still covers it.
    }
  }
}
