import type { Redis as RedisClient, RedisOptions } from "ioredis";
import { scrub, urlSecrets } from "../errors";
import { chicagoDay, nextChicagoMidnight } from "../time";
import type { Logger } from "../types";
import {
  minSpacing,
  windowCap,
  type CallEnd,
  type Decision,
  type Limits,
  type LimitsStore,
  type WaitReason,
} from "./types";
import { errorText } from "../../node-kit/guards";

const DAY_TTL_MS = 48 * 3600_000;
/** The stored limits outlive the last process that renews them by this much. */
const LIMITS_TTL_MS = 30_000;

/**
 * Every script reads the Redis clock (TIME), never a process's: clocks skewed between
 * replicas cannot widen the window. Keys share the hash tag {instance}, so they live in one
 * Redis Cluster slot and one script may touch them all.
 */
const CLOCK = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * One grant, atomically: pause → quota (one probe per interval, whoever asks first) → expired
 * leases dropped → concurrency → sliding window → spacing → daily budget → take it.
 * KEYS: window, leases, day, pause, quota, last. ARGV: id, windowMs, cap, concurrency,
 * spacing, budget, leaseMs, probeIntervalMs, msToMidnight.
 */
const GRANT = `${CLOCK}
local day = tonumber(redis.call('GET', KEYS[3]) or '0')
local pu = tonumber(redis.call('HGET', KEYS[4], 'until') or '0')
if pu > now then return {0, 'pause', pu - now, day, redis.call('HGET', KEYS[4], 'reason') or ''} end
local probe = 0
local q = redis.call('HMGET', KEYS[5], 'probeAt', 'reason')
if q[1] then
  local probeAt = tonumber(q[1])
  if now < probeAt then return {0, 'quota', probeAt - now, day, q[2] or ''} end
  probe = 1
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return {0, 'concurrency', 0, day, ''} end
local W = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - W)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, 'window', math.max(1, tonumber(oldest[2]) + W - now + 1), day, ''}
end
local last = tonumber(redis.call('GET', KEYS[6]) or '0')
local spacing = tonumber(ARGV[5])
if now < last + spacing then return {0, 'window', last + spacing - now, day, ''} end
if day >= tonumber(ARGV[6]) then return {0, 'budget', tonumber(ARGV[9]), day, ''} end
if probe == 1 then redis.call('HSET', KEYS[5], 'probeAt', now + tonumber(ARGV[8])) end
local lease = tonumber(ARGV[7])
redis.call('SET', KEYS[6], now, 'PX', spacing + 1000)
day = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ${DAY_TTL_MS})
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], W + lease + 1000)
redis.call('ZADD', KEYS[2], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[2], lease + 1000)
return {1, probe == 1 and 'probe' or '', 0, day, ''}
`;

/** Keeps running calls' leases and counts them in the window now. KEYS: window, leases. ARGV: windowMs, leaseMs, ids... */
const RENEW = `${CLOCK}
local W = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[2], ARGV[i]) then
    redis.call('ZADD', KEYS[2], now + lease, ARGV[i])
    redis.call('ZADD', KEYS[1], 'XX', now, ARGV[i])
  end
end
redis.call('PEXPIRE', KEYS[2], lease + 1000)
redis.call('PEXPIRE', KEYS[1], W + lease + 1000)
return 1
`;

/**
 * A call ended. Answered or not, it stays in the window from now on (Marketo saw it at the
 * latest now); a call never sent gives back its window place and its unit of the day.
 * KEYS: window, leases, day. ARGV: id, how.
 */
const END = `${CLOCK}
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == 'unsent' then
  if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 and tonumber(redis.call('GET', KEYS[3]) or '0') > 0 then redis.call('DECR', KEYS[3]) end
else
  redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
end
return 1
`;

const REFUND = `if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 1
`;

/** The longest pause wins. KEYS: pause. ARGV: ms, reason. */
const PAUSE = `${CLOCK}
local untilMs = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if untilMs > cur then
  redis.call('HSET', KEYS[1], 'until', untilMs, 'reason', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) + 1000)
end
return 1
`;

/** 607: the next probe one interval from now, the state gone at midnight. KEYS: quota. ARGV: interval, reason, msToMidnight. */
const QUOTA = `${CLOCK}
redis.call('HSET', KEYS[1], 'probeAt', now + tonumber(ARGV[1]))
redis.call('HSETNX', KEYS[1], 'reason', ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
`;

const PROBE_AGAIN = `${CLOCK}
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'probeAt', now) end
return 1
`;

/**
 * After Redis comes back (a restart loses everything without persistence), each process puts
 * back what it knows: its own calls of the last window (by age, on the Redis clock), its
 * running calls' leases and the highest day count it saw. The day count is not simply raised to
 * that figure: processes that put theirs back first may already have made calls on a lower
 * one, and those calls are on top of it. So the day key grows by how far this figure exceeds
 * the highest one put back so far (the `base` key, kept through the reseeds that follow one
 * comeback); a day key that survived already holds every figure. KEYS: window, leases, day,
 * base. ARGV: windowMs, leaseMs, dayCount, then id, age, running (1/0) triples.
 */
const RESEED = `${CLOCK}
local W = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local day = redis.call('GET', KEYS[3])
local base = redis.call('GET', KEYS[4])
if base then base = tonumber(base) elseif day then base = tonumber(day) else base = 0 end
local mine = tonumber(ARGV[3])
if mine > base then
  redis.call('INCRBY', KEYS[3], mine - base)
  redis.call('PEXPIRE', KEYS[3], ${DAY_TTL_MS})
  base = mine
end
redis.call('SET', KEYS[4], base, 'PX', W + lease + 1000)
for i = 4, #ARGV, 3 do
  redis.call('ZADD', KEYS[1], 'NX', now - tonumber(ARGV[i + 1]), ARGV[i])
  if ARGV[i + 2] == '1' then redis.call('ZADD', KEYS[2], 'NX', now + lease, ARGV[i]) end
end
redis.call('PEXPIRE', KEYS[1], W + lease + 1000)
redis.call('PEXPIRE', KEYS[2], lease + 1000)
return 1
`;

const OBSERVE = `local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = tonumber(ARGV[1])
if n > cur then redis.call('SET', KEYS[1], n, 'PX', ${DAY_TTL_MS}) return n end
return cur
`;

/** The first stored limits win; their owner keeps them alive. KEYS: limits. ARGV: mine. */
const AGREE = `local cur = redis.call('GET', KEYS[1])
if not cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ${LIMITS_TTL_MS}) return ARGV[1] end
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ${LIMITS_TTL_MS}) end
return cur
`;

type Reply = [number, string, number, number, string];

interface Scripts {
  mkGrant(...args: Array<string | number>): Promise<Reply>;
  mkRenew(...args: Array<string | number>): Promise<number>;
  mkEnd(...args: Array<string | number>): Promise<number>;
  mkRefund(...args: Array<string | number>): Promise<number>;
  mkPause(...args: Array<string | number>): Promise<number>;
  mkQuota(...args: Array<string | number>): Promise<number>;
  mkProbeAgain(...args: Array<string | number>): Promise<number>;
  mkObserve(...args: Array<string | number>): Promise<number>;
  mkReseed(...args: Array<string | number>): Promise<number>;
  mkAgree(...args: Array<string | number>): Promise<string>;
}

export interface RedisStoreOptions {
  url: string;
  instance: string;
  leaseMs: number;
  logger: Logger;
}

/**
 * The limits of one Marketo instance in Redis, shared by every process that uses the same
 * Redis. While Redis cannot be reached every method rejects: the caller waits, it never sends
 * unlimited.
 */
export class RedisStore implements LimitsStore {
  private readonly redis: RedisClient & Scripts;
  private readonly key: (name: string) => string;
  private readonly secrets: string[];
  private lastError = "";
  /** This process's calls, granted within the last window or still running: put back after an outage. */
  private readonly mine = new Map<string, { at: number; running: boolean }>();
  private lastDayCount = 0;
  private lastDay = "";
  private reseedNeeded = false;

  constructor(private readonly o: RedisStoreOptions) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require("ioredis") as { default: new (url: string, opts: RedisOptions) => RedisClient };
    const options: RedisOptions = {
      // A command while disconnected fails at once: calls wait visibly instead of piling up.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 2000,
      connectTimeout: 2000,
      // Reconnect soon after Redis comes back (a restart, a failover): calls resume by themselves.
      retryStrategy: (times: number) => Math.min(50 * times, 500),
    };
    const redis = new mod.default(o.url, options) as RedisClient & Scripts;
    this.secrets = urlSecrets(o.url);
    redis.on("error", (err: Error) => {
      const msg = scrub(err.message, this.secrets);
      if (msg !== this.lastError) {
        this.lastError = msg;
        o.logger.warn(`marketo: Redis: ${msg}; calls wait until it answers`);
      }
    });
    redis.on("ready", () => {
      if (this.lastError) o.logger.info("marketo: Redis reachable again");
      this.lastError = "";
      // It may be a new Redis (restarted, failed over) that knows nothing of the last window.
      this.reseedNeeded = true;
    });
    const define = (name: string, numberOfKeys: number, lua: string): void =>
      redis.defineCommand(name, { numberOfKeys, lua });
    define("mkGrant", 6, GRANT);
    define("mkRenew", 2, RENEW);
    define("mkEnd", 3, END);
    define("mkRefund", 1, REFUND);
    define("mkPause", 1, PAUSE);
    define("mkQuota", 1, QUOTA);
    define("mkProbeAgain", 1, PROBE_AGAIN);
    define("mkObserve", 1, OBSERVE);
    define("mkReseed", 4, RESEED);
    define("mkAgree", 1, AGREE);
    this.redis = redis;
    const tag = `marketo:{${o.instance}}`;
    this.key = (name) => `${tag}:${name}`;
  }

  async grant(id: string, l: Limits, opts: { probeAllowed: boolean }): Promise<Decision> {
    const now = Date.now();
    if (this.reseedNeeded) await this.reseed(l);
    const r = await this.run(() =>
      this.redis.mkGrant(
        this.key("window"),
        this.key("leases"),
        this.dayKey(),
        this.key("pause"),
        this.key("quota"),
        this.key("last"),
        id,
        l.windowMs,
        windowCap(l),
        l.concurrency,
        minSpacing(l),
        l.dailyBudget,
        this.o.leaseMs,
        l.quotaProbeIntervalMs,
        nextChicagoMidnight(now).getTime() - now + 1000,
      ),
    );
    const [ok, why, waitMs, callsToday, reason] = r;
    this.noteDay(Number(callsToday));
    if (ok === 1) {
      const at = Date.now();
      for (const [k, m] of this.mine) if (!m.running && at - m.at > l.windowMs) this.mine.delete(k);
      this.mine.set(id, { at, running: true });
    }
    if (ok === 1) return { granted: true, probe: why === "probe" && opts.probeAllowed, callsToday: Number(callsToday) };
    return {
      granted: false,
      why: why as WaitReason,
      waitMs: Number(waitMs),
      callsToday: Number(callsToday),
      ...(reason ? { reason } : {}),
    };
  }

  async renew(ids: string[], l: Limits): Promise<void> {
    if (ids.length === 0) return;
    await this.run(() =>
      this.redis.mkRenew(this.key("window"), this.key("leases"), l.windowMs, this.o.leaseMs, ...ids),
    );
  }

  async end(id: string, how: CallEnd): Promise<void> {
    const m = this.mine.get(id);
    if (m) {
      if (how === "unsent") this.mine.delete(id);
      else this.mine.set(id, { at: Date.now(), running: false });
    }
    await this.run(() => this.redis.mkEnd(this.key("window"), this.key("leases"), this.dayKey(), id, how));
  }

  async refund(): Promise<void> {
    await this.run(() => this.redis.mkRefund(this.dayKey()));
  }

  async pause(ms: number, reason: string): Promise<void> {
    await this.run(() => this.redis.mkPause(this.key("pause"), Math.max(1, Math.round(ms)), reason));
  }

  async quotaReached(reason: string, l: Limits): Promise<void> {
    const now = Date.now();
    await this.run(() =>
      this.redis.mkQuota(
        this.key("quota"),
        l.quotaProbeIntervalMs,
        reason,
        nextChicagoMidnight(now).getTime() - now + 1000,
      ),
    );
  }

  async quotaAvailable(): Promise<void> {
    await this.run(() => this.redis.del(this.key("quota")));
  }

  async probeInconclusive(): Promise<void> {
    await this.run(() => this.redis.mkProbeAgain(this.key("quota")));
  }

  async observeDailyTotal(total: number): Promise<number> {
    const count = Number(await this.run(() => this.redis.mkObserve(this.dayKey(), Math.floor(total))));
    // Marketo's figure is part of what this process puts back should Redis lose the day.
    this.noteDay(count);
    return count;
  }

  async agreeLimits(mine: Limits): Promise<Limits> {
    const json = JSON.stringify({
      callsPerWindow: mine.callsPerWindow,
      windowMs: mine.windowMs,
      concurrency: mine.concurrency,
      dailyBudget: mine.dailyBudget,
      quotaProbeIntervalMs: mine.quotaProbeIntervalMs,
    });
    const stored = await this.run(() => this.redis.mkAgree(this.key("limits"), json));
    try {
      const l = JSON.parse(stored) as Limits;
      return { ...mine, ...l };
    } catch {
      return mine;
    }
  }

  async close(): Promise<void> {
    const quit = this.redis.quit().catch(() => undefined);
    const timer = new Promise<void>((r) => setTimeout(r, 1000).unref());
    await Promise.race([quit, timer]);
    this.redis.disconnect();
  }

  private noteDay(count: number): void {
    const today = chicagoDay();
    if (today !== this.lastDay) {
      this.lastDay = today;
      this.lastDayCount = 0;
    }
    this.lastDayCount = Math.max(this.lastDayCount, count);
  }

  private async reseed(l: Limits): Promise<void> {
    const now = Date.now();
    const args: Array<string | number> = [];
    for (const [id, m] of this.mine) {
      if (!m.running && now - m.at > l.windowMs) this.mine.delete(id);
      else args.push(id, Math.max(0, now - m.at), m.running ? "1" : "0");
    }
    if (this.lastDay !== chicagoDay()) this.lastDayCount = 0;
    await this.run(() =>
      this.redis.mkReseed(
        this.key("window"),
        this.key("leases"),
        this.dayKey(),
        `${this.dayKey()}:base`,
        l.windowMs,
        this.o.leaseMs,
        this.lastDayCount,
        ...args,
      ),
    );
    this.reseedNeeded = false;
  }

  private dayKey(): string {
    return this.key(`day:${chicagoDay()}`);
  }

  /** Every failure says what went wrong without the URL's password. */
  private async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.redis.status !== "ready") throw new Error(`Redis is ${this.redis.status}`);
    try {
      return await fn();
    } catch (err) {
      throw new Error(scrub(errorText(err), this.secrets));
    }
  }
}
