/**
 * A dead replica's accepted records, where replicas share one storage volume: each replica holds a
 * lease in Redis (renewed, naming its host and pid), and a live replica adopts the journal of one
 * whose lease has expired: it takes that journal's single-writer lock, journals every record in
 * its own book (on disk there before the dead journal lets it go) and sends it on, each answer
 * with `msg.marketo.adoptedFrom` naming the dead replica. At least once: a record the dead replica
 * had sent but not yet answered is sent again, asking Marketo first where the write is not one
 * Marketo deduplicates (it counts as possibly sent).
 *
 * A missing lease is trusted only after it has stayed missing for a whole lease as this process
 * sees it, so a restarted Redis (leases gone until their holders renew them) adopts nothing alive;
 * while Redis cannot be reached nothing is adopted. Where each replica has its own volume, no
 * other replica's journal is in sight and a dead replica finishes its records when it restarts.
 */
import { scrub, urlSecrets } from "../marketo/errors";
import { errorText } from "../node-kit/guards";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Redis as RedisClient, RedisOptions } from "ioredis";
import { Journal } from "./journal";
import {
  JournalLockedError,
  otherInstanceFiles,
  readHolder,
  replicaId,
  running,
  type LockHolder,
} from "./journal-lock";
import type { BookLogger, RecordBook, StoredRecord } from "./record-journal";

/** How long a replica's lease lasts without renewal (renewed every third of it). */
export function leaseMs(): number {
  const v = Number(process.env.MARKETO_JOURNAL_LEASE_MS);
  return Number.isFinite(v) && v >= 500 ? v : 10_000;
}

const PREFIX = "marketo:{journal-leases}";

interface Watched {
  book: RecordBook;
  /** The node's main journal file: its instance files lie in folders beside it. */
  file: string;
  logger: BookLogger;
}

interface Adopter {
  redis: RedisClient;
  watched: Map<string, Watched>;
  /** When this process first saw a journal's writer without a lease, by journal file. */
  missingSince: Map<string, number>;
  busy: boolean;
  timers: NodeJS.Timeout[];
}

const adopters = new Map<string, Adopter>();

function leaseKey(host: string, pid: number): string {
  return `${PREFIX}:lease:${host}:${pid}`;
}

function adopterFor(redisUrl: string, logger: BookLogger): Adopter {
  const known = adopters.get(redisUrl);
  if (known) return known;
  // ioredis is an optional dependency: loaded only when a Redis URL is set.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require("ioredis") as { default: new (url: string, opts: RedisOptions) => RedisClient };
  const redis = new mod.default(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: true });
  let warned = false;
  // The URL may hold a password: errors name the failure, never the URL.
  const secrets = urlSecrets(redisUrl);
  redis.on("error", (err: Error) => {
    if (warned) return;
    warned = true;
    logger.warn(
      `journal leases: Redis cannot be reached (${scrub(err.message, secrets)}); no journal is adopted meanwhile`,
    );
  });
  redis.on("ready", () => (warned = false));
  const adopter: Adopter = { redis, watched: new Map(), missingSince: new Map(), busy: false, timers: [] };
  adopters.set(redisUrl, adopter);
  const me = { host: os.hostname(), pid: process.pid, instance: replicaId(), since: new Date().toISOString() };
  const ms = leaseMs();
  const renew = (): void => {
    redis.set(leaseKey(me.host, me.pid), JSON.stringify(me), "PX", ms).catch(() => undefined);
  };
  renew();
  const renewal = setInterval(renew, Math.max(100, Math.floor(ms / 3)));
  renewal.unref();
  const scan = setInterval(() => void sweep(adopter), Math.max(100, Math.floor(ms / 2)));
  scan.unref();
  adopter.timers.push(renewal, scan);
  return adopter;
}

/**
 * Watches, for `book`, the journals other replicas keep for the same node in the shared folder,
 * and adopts those whose writer's lease expired. Nothing happens without a Redis URL.
 */
export function adoptDeadReplicas(
  book: RecordBook,
  file: string | undefined,
  redisUrl: string | undefined,
  logger: BookLogger,
): void {
  if (!file || !redisUrl || !book.durable) return;
  let adopter: Adopter;
  try {
    adopter = adopterFor(redisUrl, logger);
  } catch (err) {
    logger.warn(`journal leases: cannot start (${errorText(err)}); a dead replica's records wait for its restart`);
    return;
  }
  adopter.watched.set(path.resolve(file), { book, file: path.resolve(file), logger });
}

async function sweep(adopter: Adopter): Promise<void> {
  if (adopter.busy || adopter.redis.status !== "ready") return;
  adopter.busy = true;
  try {
    for (const w of adopter.watched.values()) {
      const own = w.book.journalPath;
      for (const candidate of [w.file, ...otherInstanceFiles(w.file)]) {
        if (candidate === own) continue;
        await consider(adopter, w, candidate);
      }
    }
  } catch (err) {
    // Redis went away mid-sweep: the next sweep tries again.
    void err;
  } finally {
    adopter.busy = false;
  }
}

async function consider(adopter: Adopter, w: Watched, candidate: string): Promise<void> {
  let size: number;
  try {
    size = fs.statSync(candidate).size;
  } catch {
    adopter.missingSince.delete(candidate);
    return;
  }
  if (size === 0) return;
  const holder = readHolder(`${candidate}.lock`);
  if (holder && holder.host === os.hostname() && holder.pid === process.pid) return;
  // On this host the process table is the surer judge: a live writer whose lease lapsed (its event
  // loop stalled on a loaded machine) keeps its journal.
  const alive = holder !== undefined && holder.host === os.hostname() && running(holder.pid);
  if (alive || (holder && (await adopter.redis.exists(leaseKey(holder.host, holder.pid))) === 1)) {
    adopter.missingSince.delete(candidate);
    return;
  }
  const now = Date.now();
  const first = adopter.missingSince.get(candidate);
  if (first === undefined) {
    adopter.missingSince.set(candidate, now);
    return;
  }
  if (now - first < leaseMs()) return;
  adopter.missingSince.delete(candidate);
  // One adopter per dead journal: the others leave it to the one that claimed it.
  const claim = `${PREFIX}:adopt:${createHash("sha1")
    .update(`${path.basename(path.dirname(candidate))}/${path.basename(candidate)}:${holder?.token ?? ""}`)
    .digest("hex")}`;
  const got = await adopter.redis.set(claim, String(process.pid), "PX", leaseMs() * 5, "NX");
  if (got !== "OK") return;
  await adopt(w, candidate, holder);
}

async function adopt(w: Watched, candidate: string, holder: LockHolder | undefined): Promise<void> {
  let journal: Journal<StoredRecord>;
  try {
    journal = Journal.open<StoredRecord>(candidate, { logger: w.logger, takeOverLock: holder?.token });
  } catch (err) {
    // A live process took it meanwhile (a restarted replica): it finishes the records itself.
    if (!(err instanceof JournalLockedError))
      w.logger.warn(`cannot adopt ${candidate}: ${errorText(err)}; its records wait for its replica's restart`);
    return;
  }
  const from = holder?.instance ?? (holder ? `${holder.host}-${holder.pid}` : path.basename(path.dirname(candidate)));
  const records = journal.recovered();
  try {
    await Promise.all(records.map((r) => w.book.adopt(r.id, r.value, from)));
  } catch (err) {
    // Never rejects in practice (a refused write waits in memory); kept whole on disk if it does.
    w.logger.warn(`adopting ${candidate} stopped: ${errorText(err)}; its records stay there`);
    await journal.close().catch(() => undefined);
    return;
  }
  w.logger.warn(
    `replica ${from} stopped renewing its lease: this replica adopted its journal ${candidate} and finishes its ${records.length} records`,
  );
  // Removed while its lock is still held, so no other process has opened it meanwhile.
  try {
    fs.rmSync(candidate, { force: true });
  } catch (err) {
    w.logger.warn(`cannot remove the adopted journal ${candidate}: ${errorText(err)}`);
  }
  await journal.close().catch(() => undefined);
  if (path.dirname(candidate) !== path.dirname(w.file)) {
    try {
      fs.rmdirSync(path.dirname(candidate));
    } catch {
      // Other nodes' journals are still in that folder.
    }
  }
}

/** Stops every lease and sweep (tests of adoption inside one process). */
export async function stopJournalLeases(): Promise<void> {
  const all = [...adopters.values()];
  adopters.clear();
  for (const a of all) for (const t of a.timers) clearInterval(t);
  await Promise.all(all.map((a) => a.redis.quit().catch(() => undefined)));
}
