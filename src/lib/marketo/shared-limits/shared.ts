import crypto from "node:crypto";
import { clientClosedError } from "../errors";
import { nextChicagoMidnight } from "../time";
import type { Logger } from "../types";
import type { CallEnd, Decision, Limits, LimitsStore } from "./types";
import { errorText } from "../../node-kit/guards";

export function sameLimits(a: Limits, b: Limits): boolean {
  return (
    a.callsPerWindow === b.callsPerWindow &&
    a.windowMs === b.windowMs &&
    a.concurrency === b.concurrency &&
    a.dailyBudget === b.dailyBudget &&
    a.quotaProbeIntervalMs === b.quotaProbeIntervalMs
  );
}

export function describeLimits(l: Limits): string {
  return `${l.callsPerWindow} calls per ${l.windowMs / 1000} s, ${l.concurrency} at once, ${l.dailyBudget} a day`;
}

/** How often a process waiting for a concurrency slot held elsewhere asks again. */
const SLOT_POLL_MS = 25;
/** How often a process asks a store it cannot reach. */
const STORE_RETRY_MS = 250;
/** How long calls wait for Marketo's own daily figure at start before going ahead without it. */
const DAILY_SYNC_WAIT_MS = 10_000;
/** A store unreachable this long shows as "waiting" (a connect at start does not flicker). */
const SHOW_WAITING_AFTER_MS = 500;
/** How often the limits agreed between processes are renewed (and re-read). */
const AGREE_EVERY_MS = 10_000;

export type SharedState =
  | { kind: "ok" }
  | { kind: "rate-limited"; resumesAt: Date; reason: string }
  | { kind: "quota"; resumesAt: Date; reason: string }
  | { kind: "waiting"; reason: string };

/** A call allowed to go out; hand it back with end(). */
export interface Grant {
  readonly id: string;
  /** This call finds out whether the daily quota is back; the others wait for its answer. */
  readonly probe: boolean;
  /** Set when Marketo answered (any answer, errors included). */
  answered: boolean;
  /** Set when the request went out. */
  sent: boolean;
}

interface Waiter {
  owner: object;
  first: boolean;
  /** A replay's call: it takes only what live calls leave (every live waiter goes before it). */
  background: boolean;
  resolve: (g: Grant) => void;
  reject: (e: Error) => void;
}

export interface SharedLimitsOptions {
  /** The instance, as the limits are keyed: the REST host. */
  instance: string;
  store: LimitsStore;
  limits: Limits;
  /** Renew every running call's lease this often (the store's leases last three times as long). */
  renewEveryMs?: number;
  /** Where the store lives, for messages ("Redis"); undefined for this process's memory. */
  storeName?: string;
  logger: Logger;
}

/**
 * The calls of one process to one Marketo instance, whichever client makes them: one FIFO in
 * front of the store, one acquire loop (only the head asks the store), leases renewed by their
 * holder, and one view of the pause/quota state for every client to show.
 */
export class SharedLimits {
  readonly instance: string;
  limits: Limits;
  private readonly queue: Waiter[] = [];
  private readonly running = new Map<string, Grant>();
  private readonly listeners = new Set<() => void>();
  private readonly owners = new Set<object>();
  private view: SharedState = { kind: "ok" };
  private calls = 0;
  private pumping = false;
  private wake?: () => void;
  private renewTimer?: NodeJS.Timeout;
  private dailySync?: Promise<void>;
  private dailySynced = false;
  private closed = false;
  private budgetWarned = false;
  private unreachableSince?: number;
  private readonly agreeTimer: NodeJS.Timeout;
  private agreedWarned = "";
  /** No call goes before the limits are agreed with the other processes. */
  private agreedOnce = false;

  constructor(private readonly o: SharedLimitsOptions) {
    this.instance = o.instance;
    this.limits = o.limits;
    if (o.renewEveryMs) {
      this.renewTimer = setInterval(() => {
        if (this.running.size) void o.store.renew([...this.running.keys()], this.limits).catch(() => undefined);
      }, o.renewEveryMs);
      this.renewTimer.unref();
    }
    this.agreeTimer = setInterval(() => void this.agree().catch(() => undefined), AGREE_EVERY_MS);
    this.agreeTimer.unref();
  }

  /** The limits this process asks for (the first of its clients still open names them). */
  setOwnLimits(l: Limits): void {
    if (sameLimits(l, this.o.limits)) return;
    this.o.limits = l;
    this.agreedOnce = false;
    this.poke();
  }

  /** Processes configured with different limits: the first stored set wins, the others warn. */
  private async agree(): Promise<void> {
    const mine = this.o.limits;
    const agreed = await this.o.store.agreeLimits(mine);
    const differs = !sameLimits(agreed, mine);
    const text = describeLimits(agreed);
    if (differs && this.agreedWarned !== text) {
      this.o.logger.warn(
        `marketo: another Node-RED on ${this.instance} set the limits first (${text}); using them instead of ${describeLimits(mine)}`,
      );
    }
    this.agreedWarned = differs ? text : "";
    this.limits = agreed;
    this.agreedOnce = true;
  }

  get callsToday(): number {
    return this.calls;
  }

  state(): SharedState {
    return this.view;
  }

  /** Calls of `owner` waiting for a grant. */
  waitingFor(owner: object): number {
    return this.queue.filter((w) => w.owner === owner).length;
  }

  attach(owner: object, onChange: () => void): void {
    this.owners.add(owner);
    this.listeners.add(onChange);
  }

  /** Forgets `owner`, failing its waiting calls; true when no owner is left. */
  detach(owner: object, onChange: () => void): boolean {
    this.owners.delete(owner);
    this.listeners.delete(onChange);
    for (const w of this.queue.filter((x) => x.owner === owner)) {
      this.queue.splice(this.queue.indexOf(w), 1);
      w.reject(clientClosedError(undefined, true));
    }
    this.poke();
    return this.owners.size === 0;
  }

  /**
   * Reads Marketo's figure for the day once, before any other call of this process goes out
   * (the read itself is `first`). Calls wait for it at most DAILY_SYNC_WAIT_MS.
   */
  syncDaily(read: () => Promise<number | undefined>): void {
    if (this.dailySync || this.closed) return;
    const done = read()
      .then(async (total) => {
        // Marketo's figure may not include the read itself yet: count it, erring on the safe side.
        if (total !== undefined) this.calls = await this.o.store.observeDailyTotal(total + 1);
      })
      .catch((err: unknown) => this.o.logger.debug(`marketo: could not read the day's usage: ${errorText(err)}`));
    const timeout = new Promise<void>((r) => setTimeout(r, DAILY_SYNC_WAIT_MS).unref());
    this.dailySync = Promise.race([done, timeout]).then(() => {
      this.dailySynced = true;
      this.poke();
      this.changed();
    });
  }

  /**
   * Resolves with a grant when every shared limit allows a call; FIFO across this process, except
   * that a `background` call (a replay's) waits behind every live one, even live ones that come
   * later. It still waits for pauses and the quota like any call.
   */
  acquire(owner: object, first = false, background = false): Promise<Grant> {
    if (this.closed) return Promise.reject(clientClosedError(undefined, true));
    return new Promise<Grant>((resolve, reject) => {
      const w: Waiter = { owner, first, background, resolve, reject };
      if (first) this.queue.unshift(w);
      else if (background) this.queue.push(w);
      else {
        // Live: after the live waiters, before the first background one. The pump notices a new
        // head when the store answers and hands a slot meant for a replay back.
        const at = this.queue.findIndex((x) => x.background);
        if (at < 0) this.queue.push(w);
        else this.queue.splice(at, 0, w);
      }
      this.poke();
    });
  }

  /** The call of `g` is over. */
  end(g: Grant): void {
    if (!this.running.delete(g.id)) return;
    const how: CallEnd = g.answered ? "answered" : g.sent ? "unanswered" : "unsent";
    void this.o.store
      .end(g.id, how)
      .catch(() => undefined)
      .then(() => this.poke());
    if (g.probe && !g.answered) void this.o.store.probeInconclusive().catch(() => undefined);
  }

  refund(): void {
    if (this.calls > 0) this.calls--;
    void this.o.store.refund().catch(() => undefined);
  }

  pause(ms: number, reason: string): void {
    const until = Date.now() + ms;
    if (this.view.kind !== "rate-limited" || this.view.resumesAt.getTime() < until)
      this.setView({ kind: "rate-limited", resumesAt: new Date(until), reason });
    void this.o.store.pause(ms, reason).catch(() => undefined);
    setTimeout(() => this.poke(), ms + 5).unref();
  }

  quotaReached(reason: string): void {
    if (this.view.kind !== "quota")
      this.o.logger.warn(`marketo: daily quota reached (${reason}); calls wait for 00:00 America/Chicago`);
    this.setView({ kind: "quota", resumesAt: nextChicagoMidnight(), reason });
    void this.o.store
      .quotaReached(reason, this.limits)
      .catch(() => undefined)
      .then(() => this.poke());
  }

  /**
   * A person asks to try now during Marketo's daily-quota pause: the next call of any process
   * probes at once instead of at the next probe time. False when no such pause is in force (the
   * package's own daily budget is not Marketo's to lift).
   */
  probeNow(): boolean {
    if (this.view.kind !== "quota" || this.view.reason === "daily budget used") return false;
    void this.o.store
      .probeInconclusive()
      .catch(() => undefined)
      .then(() => this.poke());
    return true;
  }

  quotaAvailable(): void {
    // Our own budget is not Marketo's quota: an answer does not lift it.
    if (this.view.kind === "quota" && this.view.reason === "daily budget used") return;
    if (this.view.kind === "quota") {
      this.o.logger.info("marketo: daily quota available again");
      void this.o.store.quotaAvailable().catch(() => undefined);
    }
    if (this.view.kind === "quota" || this.view.kind === "rate-limited") {
      if (this.view.kind === "rate-limited" && this.view.resumesAt.getTime() > Date.now()) return;
      this.setView({ kind: "ok" });
    }
  }

  /** Rejects every waiter and stops the loop; the store is closed by the registry. */
  close(): void {
    this.closed = true;
    if (this.renewTimer) clearInterval(this.renewTimer);
    clearInterval(this.agreeTimer);
    for (const w of this.queue.splice(0)) w.reject(clientClosedError(undefined, true));
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
    if (!this.pumping && this.queue.length && !this.closed) void this.pump();
  }

  private changed(): void {
    for (const l of [...this.listeners]) l();
  }

  private setView(v: SharedState): void {
    const p = this.view;
    const same =
      p.kind === v.kind &&
      ("reason" in p ? p.reason : "") === ("reason" in v ? v.reason : "") &&
      ("resumesAt" in p ? p.resumesAt.getTime() : 0) === ("resumesAt" in v ? v.resumesAt.getTime() : 0);
    this.view = v;
    if (!same) this.changed();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(t);
        if (this.wake === wake) this.wake = undefined;
        resolve();
      };
      // Ref'd on purpose: calls waiting here are pending work; close() wakes it.
      const t = setTimeout(wake, Math.max(1, ms));
      this.wake = wake;
    });
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (!this.closed && this.queue.length) {
        const head = this.queue[0];
        if (!this.dailySynced && this.dailySync && !head.first) {
          await this.sleep(DAILY_SYNC_WAIT_MS); // the sync pokes when it settles
          continue;
        }
        const id = crypto.randomUUID();
        let d: Decision;
        try {
          if (!this.agreedOnce) await this.agree();
          d = await this.o.store.grant(id, this.limits, { probeAllowed: true });
        } catch (err) {
          const now = Date.now();
          this.unreachableSince ??= now;
          if (now - this.unreachableSince >= SHOW_WAITING_AFTER_MS) {
            this.setView({ kind: "waiting", reason: `waiting for ${this.o.storeName ?? "the limits store"}` });
          }
          this.o.logger.debug(`marketo: ${this.o.storeName ?? "limits store"} unreachable: ${errorText(err)}`);
          await this.sleep(this.unreachableSince === now ? 50 : STORE_RETRY_MS);
          continue;
        }
        this.unreachableSince = undefined;
        this.calls = d.callsToday;
        if (d.granted) {
          if (this.closed || this.queue[0] !== head) {
            // The waiter left (its client closed) while the store answered: hand the slot back.
            void this.o.store.end(id, "unsent").catch(() => undefined);
            continue;
          }
          this.queue.shift();
          this.budgetWarned = false;
          const g: Grant = { id, probe: d.probe, answered: false, sent: false };
          this.running.set(id, g);
          if (
            this.view.kind === "waiting" ||
            (this.view.kind === "quota" && this.view.reason === "daily budget used") ||
            (this.view.kind === "rate-limited" && this.view.resumesAt.getTime() <= Date.now())
          ) {
            this.setView({ kind: "ok" });
          }
          if (d.probe) this.o.logger.info("marketo: probing whether the daily quota is available again");
          head.resolve(g);
          continue;
        }
        const resumesAt = new Date(Date.now() + d.waitMs);
        if (d.why === "pause") this.setView({ kind: "rate-limited", resumesAt, reason: d.reason ?? "rate limit" });
        else if (d.why === "quota")
          this.setView({ kind: "quota", resumesAt: nextChicagoMidnight(), reason: d.reason ?? "daily quota reached" });
        else if (d.why === "budget") {
          if (!this.budgetWarned) {
            this.budgetWarned = true;
            this.o.logger.warn(
              `marketo: daily budget of ${this.limits.dailyBudget} calls used; calls wait for 00:00 America/Chicago`,
            );
          }
          this.setView({ kind: "quota", resumesAt: nextChicagoMidnight(), reason: "daily budget used" });
        } else if (this.view.kind === "waiting") this.setView({ kind: "ok" });
        // A slot held by this process frees with a poke; one held elsewhere is polled for.
        const wait = d.why === "concurrency" ? (this.o.storeName ? SLOT_POLL_MS : 60_000) : d.waitMs;
        // The budget is asked again now and then: another process may refund, or the day turn.
        await this.sleep(d.why === "budget" ? Math.min(wait, 5000) : wait);
      }
    } finally {
      this.pumping = false;
    }
    if (!this.closed && this.queue.length) void this.pump();
  }
}
