import type { Logger } from "../types";
import { LocalStore } from "./local";
import { SharedLimits, describeLimits, sameLimits } from "./shared";
import type { Limits, LimitsStore } from "./types";

export interface LimitsRequest {
  /** The REST host: every client naming it shares one set of limits. */
  instance: string;
  limits: Limits;
  /** Where this process keeps the day's count across restarts (no Redis). */
  dayFile?: string;
  /** Shares the limits with every process using the same Redis; undefined = this process only. */
  redisUrl?: string;
  /** A running call's lease in Redis: how long a crashed process can hold its slots. */
  leaseMs?: number;
  logger: Logger;
}

interface Entry {
  shared: SharedLimits;
  store: LimitsStore;
  redisUrl?: string;
  /** The limits each open client asked for, oldest first: the oldest apply. */
  users: Array<{ limits: Limits }>;
}

const byInstance = new Map<string, Entry>();
/**
 * In-memory stores outlive their clients: a redeploy makes new clients, and the window, a
 * pause and the day's count must carry over to them.
 */
const localStores = new Map<string, LocalStore>();

/**
 * The one SharedLimits of `instance` in this process, made on first use. A client that asks
 * with other limits (or another Redis) gets the first one's and is told so in its log.
 */
export function limitsFor(req: LimitsRequest): { shared: SharedLimits; release: () => Promise<void> } {
  let e = byInstance.get(req.instance);
  if (!e) {
    let store: LimitsStore;
    let storeName: string | undefined;
    let renewEveryMs: number | undefined;
    if (req.redisUrl) {
      // Loaded only here: a deployment without Redis never loads ioredis.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { RedisStore } = require("./redis") as typeof import("./redis");
      const leaseMs = req.leaseMs ?? 3000;
      store = new RedisStore({ url: req.redisUrl, instance: req.instance, leaseMs, logger: req.logger });
      storeName = "Redis";
      renewEveryMs = Math.max(100, Math.floor(leaseMs / 3));
    } else {
      let local = localStores.get(req.instance);
      if (!local) {
        local = new LocalStore(req.dayFile);
        localStores.set(req.instance, local);
      } else if (req.dayFile) local.useDayFile(req.dayFile);
      store = local;
    }
    const shared = new SharedLimits({
      instance: req.instance,
      store,
      limits: req.limits,
      logger: req.logger,
      ...(storeName ? { storeName } : {}),
      ...(renewEveryMs ? { renewEveryMs } : {}),
    });
    e = { shared, store, users: [], ...(req.redisUrl ? { redisUrl: req.redisUrl } : {}) };
    byInstance.set(req.instance, e);
  } else {
    if (req.dayFile && e.store instanceof LocalStore) e.store.useDayFile(req.dayFile);
    if (!sameLimits(e.shared.limits, req.limits)) {
      req.logger.warn(
        `marketo: another config on ${req.instance} set the limits first (${describeLimits(e.shared.limits)}); using them instead of ${describeLimits(req.limits)}`,
      );
    }
    if ((e.redisUrl ?? "") !== (req.redisUrl ?? "")) {
      req.logger.warn(
        `marketo: another config on ${req.instance} chose ${e.redisUrl ? "a different Redis" : "no Redis"}; its choice applies to every config of this instance`,
      );
    }
  }
  const entry = e;
  const user = { limits: req.limits };
  entry.users.push(user);
  let released = false;
  return {
    shared: entry.shared,
    release: async () => {
      if (released) return;
      released = true;
      entry.users.splice(entry.users.indexOf(user), 1);
      // A client that leaves (a Test connection probe, a config removed) stops setting the limits.
      if (entry.users.length > 0) {
        entry.shared.setOwnLimits(entry.users[0].limits);
        return;
      }
      byInstance.delete(req.instance);
      entry.shared.close();
      await entry.store.close().catch(() => undefined);
    },
  };
}
