/**
 * One writer per journal. Two processes appending to one journal file (replicas sharing a
 * userDir and the same flows) overwrite each other's lines with valid CRCs, and records vanish
 * with no warning; so a journal is opened only under `<file>.lock`, created with O_EXCL and
 * holding who took it (host, pid) and a token. The holder touches the lock every HEARTBEAT_MS.
 *
 * A lock left behind is taken over when it is plainly stale: written by this very process, by a
 * process on this host that no longer runs, or not touched for STALE_MS (a dead holder on another
 * host, or a pid reused after a container restart).
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { errorText } from "../node-kit/guards";

export const HEARTBEAT_MS = 10_000;
export const STALE_MS = 60_000;

export interface LockHolder {
  host: string;
  pid: number;
  since: string;
  token: string;
  /** The replica's id (MARKETO_INSTANCE_ID, else host and pid): what adopted records name. */
  instance?: string;
}

/** This process's replica id: MARKETO_INSTANCE_ID, else host and pid. */
export function replicaId(): string {
  return process.env.MARKETO_INSTANCE_ID || `${os.hostname()}-${process.pid}`;
}

/** Another live process writes this journal: it is not opened. */
export class JournalLockedError extends Error {
  constructor(
    readonly file: string,
    readonly holder: LockHolder,
  ) {
    super(
      `journal ${file} is written by another process (host ${holder.host}, pid ${holder.pid}, since ${holder.since}): two writers would lose records`,
    );
    this.name = "JournalLockedError";
  }
}

export interface JournalLock {
  readonly file: string;
  release(): void;
}

export function readHolder(lockFile: string): LockHolder | undefined {
  try {
    const v = JSON.parse(fs.readFileSync(lockFile, "utf8")) as Partial<LockHolder>;
    if (typeof v.host !== "string" || typeof v.pid !== "number" || typeof v.token !== "string") return undefined;
    const holder: LockHolder = {
      host: v.host,
      pid: v.pid,
      since: typeof v.since === "string" ? v.since : "?",
      token: v.token,
    };
    if (typeof v.instance === "string") holder.instance = v.instance;
    return holder;
  } catch {
    return undefined;
  }
}

/** Whether a process of this host with that pid is alive. */
export function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function stale(lockFile: string, holder: LockHolder | undefined, now: number): boolean {
  const host = os.hostname();
  if (holder && holder.host === host && holder.pid === process.pid) return true;
  if (holder && holder.host === host && !running(holder.pid)) return true;
  try {
    return now - fs.statSync(lockFile).mtimeMs > STALE_MS;
  } catch {
    return true;
  }
}

/**
 * Takes the lock of `journalFile`, or throws JournalLockedError naming the live holder.
 * `takeOver` names one lock (by its token) that may be taken although it does not look stale
 * here: a holder another process knows to be dead (its Redis lease expired).
 */
export function lockJournal(journalFile: string, takeOver?: string): JournalLock {
  const lockFile = `${journalFile}.lock`;
  const me: LockHolder = {
    host: os.hostname(),
    pid: process.pid,
    since: new Date().toISOString(),
    token: randomBytes(8).toString("hex"),
    instance: replicaId(),
  };
  try {
    fs.mkdirSync(path.dirname(lockFile), { recursive: true });
  } catch {
    // The journal's own open says why the folder cannot be made.
  }
  for (let tries = 0; ; tries++) {
    try {
      const fd = fs.openSync(lockFile, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
      try {
        fs.writeSync(fd, JSON.stringify(me));
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST")
        throw new Error(`journal ${journalFile}: cannot take its lock ${lockFile}: ${errorText(err)}`, { cause: err });
      const holder = readHolder(lockFile);
      const deadHolder = takeOver !== undefined && holder?.token === takeOver;
      if (tries >= 3 || (!deadHolder && !stale(lockFile, holder, Date.now()))) {
        throw new JournalLockedError(journalFile, holder ?? { host: "unknown", pid: 0, since: "?", token: "" });
      }
      // Stale: removed, then taken with O_EXCL again, so two processes taking it over cannot both win.
      fs.rmSync(lockFile, { force: true });
    }
  }
  const timer = setInterval(() => {
    try {
      const t = new Date();
      fs.utimesSync(lockFile, t, t);
    } catch {
      // Gone (removed by hand): the next open takes it again.
    }
  }, HEARTBEAT_MS);
  timer.unref();
  let released = false;
  return {
    file: lockFile,
    release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      // Only our own lock: a later opener of this process may have taken it over meanwhile.
      if (readHolder(lockFile)?.token === me.token) fs.rmSync(lockFile, { force: true });
    },
  };
}

/**
 * This process's own journal file when `file` has another live writer: the same name in a folder
 * named after the instance (MARKETO_INSTANCE_ID, else host and pid), never a file two processes share.
 */
export function instanceJournalFile(file: string, instance = replicaId()): string {
  const safe = instance.replace(/[^A-Za-z0-9._-]/g, "_");
  return path.join(path.dirname(file), safe, path.basename(file));
}

/** The instance files of `file` other processes made (one folder per instance beside it). */
export function otherInstanceFiles(file: string): string[] {
  const dir = path.dirname(file);
  const name = path.basename(file);
  let folders: fs.Dirent[];
  try {
    folders = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return folders
    .filter((d) => d.isDirectory())
    .map((d) => path.join(dir, d.name, name))
    .filter((f) => fs.existsSync(f))
    .sort();
}
