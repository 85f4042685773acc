/**
 * The records an action node has accepted but not yet answered, kept on disk so that a redeploy,
 * a restart or a kill -9 does not lose them (issue 5).
 *
 * One book per action node id, shared by the instances of that node in this process: after a
 * redeploy, the calls the old instance started may still be on their way, and the new instance
 * passes their answers on instead of sending the records to Marketo a second time.
 *
 * Life of a record: accepted (journaled before it goes anywhere) → running (a call works on it) →
 * answered. The node running it now (the owner) sends the answer and the record leaves the
 * journal. An answer that arrives while no instance runs (closing, redeploying) is journaled
 * with the record and sent by the next owner; a record cut off by a closing client is run again
 * by the next owner.
 */
import { Journal } from "./journal";
import { markResent } from "./delivery-once";
import { jsonSafe, jsonSafeMessage } from "./storable";

export interface StoredRecord {
  /** The message the record came in: JSON-safe, without `payload`, `req` and `res`. */
  msg: Record<string, unknown>;
  /** The record itself (one element when the payload was an array). */
  payload: unknown;
  /** The payload was an array: answers carry the record as their payload. */
  many: boolean;
  index: number;
  /** For an array payload with a parallel `msg.source` array (field-mapper): this record's event. */
  source?: unknown;
  /** Marketo's answer, kept only when no instance was running to pass it on. */
  answer?: StoredAnswer;
}

export interface StoredAnswer {
  ok: boolean;
  /** `msg.marketo` as the answer set it. */
  marketo: Record<string, unknown>;
}

export interface BookEntry {
  readonly id: string;
  readonly stored: StoredRecord;
  /** A call is working on it in this process. */
  running: boolean;
  /** The instance that accepted it live, and how it answers its own message. */
  local?: { owner: BookOwner; answer(outcome: StoredAnswer): void };
}

export interface BookOwner {
  /** An answer for a record this instance did not accept live: send it. */
  deliver(entry: BookEntry, answer: StoredAnswer): void;
  /** A record no call is working on: run it. */
  replay(entry: BookEntry): void;
}

export interface BookLogger {
  warn(message: string): void;
}

let sequence = 0;
const idPrefix = `${process.pid.toString(36)}.${Date.now().toString(36)}`;

/** Ids unique across restarts of the process (pid + start time) and within it. */
function newId(): string {
  return `${idPrefix}.${(sequence++).toString(36)}`;
}

/**
 * What is kept of a message for each of its records. JSON cannot hold a Node-RED message as is
 * (http-in's req/res, sockets, functions, cycles), and an array payload's parallel `msg.source`
 * array is kept per record, not whole in every record's line.
 */
export function storableShell(msg: Record<string, unknown>, many: boolean): Record<string, unknown> {
  return jsonSafeMessage(msg, (k, v) => k === "payload" || k === "req" || k === "res" || k === "_msgid" || (many && k === "source" && Array.isArray(v)));
}

/** A value JSON can hold (cycles and functions dropped), for a record's own fields. */
export function storableValue(value: unknown): unknown {
  return jsonSafe(value);
}

/**
 * The message a stored record runs with after a restart: as it came in, with an array payload
 * (and a parallel msg.source) reduced to a sparse array holding only this record, so the nodes
 * read it exactly as they would have.
 */
export function replayMessage(stored: StoredRecord, msgid: string): Record<string, unknown> {
  const msg = messageOf(stored, msgid);
  // A call may have carried it to Marketo before the restart: writes Marketo does not deduplicate
  // ask before sending it again, here and in every node after this one.
  markResent(msg);
  if (!stored.many) return msg;
  const payload: unknown[] = [];
  payload[stored.index] = msg.payload;
  msg.payload = payload;
  if ("source" in stored) {
    const source: unknown[] = [];
    source[stored.index] = msg.source;
    msg.source = source;
  }
  return msg;
}

/** The answer message for a stored record, shaped as a live answer is: the record as its payload. */
export function messageOf(stored: StoredRecord, msgid: string): Record<string, unknown> {
  const msg: Record<string, unknown> = { ...structuredClone(stored.msg), _msgid: msgid, payload: structuredClone(stored.payload) };
  if (stored.many && "source" in stored) msg.source = structuredClone(stored.source);
  return msg;
}

export class RecordBook {
  readonly entries = new Map<string, BookEntry>();
  private owner?: BookOwner;
  /** The owner's flows have started: it may send answers it did not accept itself. */
  private ready = false;
  private journalBroken = false;

  constructor(
    readonly file: string | undefined,
    private readonly journal: Journal<StoredRecord> | undefined,
    private readonly logger: BookLogger,
  ) {
    for (const { id, value } of journal?.recovered() ?? []) {
      this.entries.set(id, { id, stored: value, running: false });
    }
  }

  /** Durable on disk (when a file backs the book). */
  get durable(): boolean {
    return this.journal !== undefined;
  }

  /**
   * Journals a record before anything is sent. Resolves with its entry once it is on disk; a
   * record the journal cannot take (disk full, a value JSON cannot hold) still goes on, in
   * memory only, with a warning: refusing it would lose it for sure.
   */
  async accept(stored: StoredRecord, local: BookEntry["local"]): Promise<BookEntry> {
    const entry: BookEntry = { id: newId(), stored, running: true, local };
    this.entries.set(entry.id, entry);
    if (this.journal) {
      try {
        await this.journal.put(entry.id, stored);
      } catch (err) {
        this.warnOnce(`record kept in memory only, not in ${this.file}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return entry;
  }

  /** A call finished with this answer. `cutOff`: the client closed under it; nothing was decided. */
  settle(entry: BookEntry, answer: StoredAnswer, cutOff: boolean): void {
    entry.running = false;
    if (this.entries.get(entry.id) !== entry) return;
    const owner = this.owner;
    if (owner && entry.local?.owner === owner) {
      entry.local.answer(answer);
      return;
    }
    if (owner && this.ready) {
      if (cutOff) owner.replay(entry);
      else owner.deliver(entry, answer);
      return;
    }
    if (cutOff) return; // still accepted: the owner runs it again once its flows have started
    entry.stored.answer = answer;
    entry.local = undefined;
    this.journal?.put(entry.id, entry.stored).catch((err: unknown) => {
      this.warnOnce(`answer kept in memory only, not in ${this.file}: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  /** The answer left the node: the record is done with. */
  forget(entry: BookEntry): void {
    if (this.entries.get(entry.id) !== entry) return;
    this.entries.delete(entry.id);
    this.journal?.delete(entry.id).catch((err: unknown) => {
      this.warnOnce(`could not remove an answered record from ${this.file}: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  /** A new instance of the node takes the book: answers to what it accepts go to it. */
  claim(owner: BookOwner): void {
    this.owner = owner;
    this.ready = false;
  }

  /**
   * The owner's flows have started, so whatever it sends reaches the nodes after it: answers
   * kept while no instance ran go out now, records no call works on run again. Calls still
   * running hand their answers over when they finish.
   */
  resume(owner: BookOwner): void {
    if (this.owner !== owner) return;
    this.ready = true;
    for (const entry of [...this.entries.values()]) {
      if (entry.running) continue;
      if (entry.stored.answer) owner.deliver(entry, entry.stored.answer);
      else owner.replay(entry);
    }
  }

  /** The instance stops: answers from now on are kept for the next one. */
  detach(owner: BookOwner): void {
    if (this.owner !== owner) return;
    this.owner = undefined;
    this.ready = false;
  }

  /** Resolves when everything written so far is on disk. */
  async flush(): Promise<void> {
    await this.journal?.flush().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.journal?.close().catch(() => undefined);
  }

  private warnOnce(message: string): void {
    if (this.journalBroken) return;
    this.journalBroken = true;
    this.logger.warn(message);
  }
}

/**
 * Books live as long as the process: a redeploy's new instance must find the calls the old one
 * left running, and closing a journal while a new instance reopens the same file would let two
 * writers append to it.
 */
const books = new Map<string, RecordBook>();

export function recordBook(file: string | undefined, logger: BookLogger): RecordBook {
  // Without a file (no userDir: the test helper) a book is the instance's own: nothing outlives
  // the process anyway, and a later flow reusing the node id must not inherit its records.
  if (!file) return new RecordBook(undefined, undefined, logger);
  let book = books.get(file);
  if (!book) {
    let journal: Journal<StoredRecord> | undefined;
    try {
      journal = Journal.open<StoredRecord>(file, { logger });
    } catch (err) {
      logger.warn(`records are kept in memory only: ${err instanceof Error ? err.message : String(err)}`);
    }
    book = new RecordBook(file, journal, logger);
    books.set(file, book);
  }
  return book;
}

/**
 * Closes every journal and forgets every book, as a process exit would: the next instance reads
 * its records back from disk. For tests of recovery inside one process.
 */
export async function closeRecordBooks(): Promise<void> {
  const all = [...books.values()];
  books.clear();
  await Promise.all(all.map((b) => b.close()));
}
