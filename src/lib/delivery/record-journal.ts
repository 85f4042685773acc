/**
 * The records an action node has accepted but not yet answered, kept on disk so that a redeploy,
 * a restart or a kill -9 does not lose them.
 *
 * One book per action node id, shared by the instances of that node in this process: after a
 * redeploy, the calls the old instance started may still be on their way, and the new instance
 * passes their answers on instead of sending the records to Marketo a second time.
 *
 * Life of a record: accepted (journaled before it goes anywhere) → waiting → live (a call works
 * on it) → answered. Only a bounded number of records are live at once (the owner's `limit`);
 * the rest wait where they already are, in the journal, as a line on disk and ~20 bytes of
 * index, and are read back in the order they came as room frees up. Without a journal (no
 * userDir), or for a record the journal refused, a waiting record is kept in memory as data:
 * its stored record and message, never a suspended call.
 *
 * The node running now (the owner) sends each answer and the record leaves the journal. An
 * answer that arrives while no instance runs (closing, redeploying) is journaled with the record
 * and sent by the next owner; a record cut off by a closing client is run again by the next owner.
 */
import { Journal, JournalWriteError, type IndexCursor } from "./journal";
import { jsonSafe, jsonSafeMessage } from "./storable";
import { errorText } from "../node-kit/guards";

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
  /** For a record of an array payload: the key its message's records share (one Catch per message). */
  group?: string;
}

export interface StoredAnswer {
  ok: boolean;
  /** `msg.marketo` as the answer set it. */
  marketo: Record<string, unknown>;
}

export interface BookEntry {
  readonly id: string;
  readonly stored: StoredRecord;
  /**
   * The message the record came in, while this process still holds it: a record that went live
   * as it arrived, or one waiting in memory. A record read back from the journal has none; its
   * answer is made from the stored record.
   */
  msg?: unknown;
  /** Read back from the journal: its stored record is its own, not shared with another. */
  readBack?: boolean;
}

export interface BookOwner {
  /** A record to send to Marketo now: the owner runs it and settles it in the book. */
  run(entry: BookEntry): void;
  /** The answer for a record: send it on and forget the entry. */
  deliver(entry: BookEntry, answer: StoredAnswer): void;
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
  return jsonSafeMessage(
    msg,
    (k, v) =>
      k === "payload" || k === "req" || k === "res" || k === "_msgid" || (many && k === "source" && Array.isArray(v)),
  );
}

/** A value JSON can hold (cycles and functions dropped), for a record's own fields. */
export function storableValue(value: unknown): unknown {
  return jsonSafe(value);
}

/**
 * Writes a stored record whose `msg` is the message itself straight to JSON, leaving out what
 * storableShell leaves out and writing BigInts as text, with no copy of the message made first.
 * A cycle still makes JSON.stringify throw; the caller then stores JSON-safe copies instead.
 */
function storableReplacer(msg: unknown, many: boolean): (this: unknown, key: string, value: unknown) => unknown {
  return function (this: unknown, key, value) {
    if (
      this === msg &&
      (key === "payload" ||
        key === "req" ||
        key === "res" ||
        key === "_msgid" ||
        (many && key === "source" && Array.isArray(value)))
    )
      return undefined;
    return typeof value === "bigint" ? value.toString() : value;
  };
}

/** The stored record of a message's record as JSON-safe copies (a message with a cycle). */
function storableCopy(
  msg: Record<string, unknown>,
  record: unknown,
  index: number,
  many: boolean,
  source: SourceOf,
  group: string | undefined,
): StoredRecord {
  const stored: StoredRecord = { msg: storableShell(msg, many), payload: storableValue(record), many, index };
  if (source.has) stored.source = storableValue(source.value);
  if (group !== undefined) stored.group = group;
  return stored;
}

/** A record's own event, when its message carries the parallel `msg.source` array. */
export interface SourceOf {
  has: boolean;
  value?: unknown;
}

/**
 * The message a stored record runs with after a restart: as it came in, with an array payload
 * (and a parallel msg.source) reduced to a sparse array holding only this record, so the nodes
 * read it exactly as they would have.
 */
export function replayMessage(stored: StoredRecord, msgid: string, copy = true): Record<string, unknown> {
  const msg = messageOf(stored, msgid, copy);
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

/**
 * The answer message for a stored record, shaped as a live answer is: the record as its payload.
 * `copy` false: the stored record was just read back from the journal and is this message's
 * alone (a shell in memory is shared by the records of its message, so it is copied).
 */
export function messageOf(stored: StoredRecord, msgid: string, copy = true): Record<string, unknown> {
  const own = <T>(v: T): T => (copy ? structuredClone(v) : v);
  const msg: Record<string, unknown> = { ...own(stored.msg), _msgid: msgid, payload: own(stored.payload) };
  if (stored.many && "source" in stored) msg.source = own(stored.source);
  return msg;
}

export class RecordBook {
  /** Records a call works on (or whose answer is being passed on): at most `limit` while an owner runs. */
  private readonly live = new Map<string, BookEntry>();
  /** Waiting records held in memory (no journal, or one that refused them), oldest first. */
  private memory: BookEntry[] = [];
  private memoryHead = 0;
  /** Records just journaled, with their message: taken as they are if there is room at once. */
  private arriving = new Map<string, BookEntry>();
  /** Where the next waiting record in the journal is. */
  private readonly cursor: IndexCursor | undefined;
  private unanswered: number;
  private owner?: BookOwner;
  private limit = Infinity;
  /** The owner's flows have started: it may run and send what it did not accept itself. */
  private ready = false;
  private pumping = false;
  private pumpQueued = false;
  private journalBroken = false;
  private peak = 0;
  /** Records kept in memory while their journal write is on its way, to go live with their message. */
  private expected = 0;
  /** Records a closing client cut off with their call in flight (a redeploy): it may have reached Marketo. */
  private readonly cutOffIds = new Set<string>();

  constructor(
    readonly file: string | undefined,
    private readonly journal: Journal<StoredRecord> | undefined,
    private readonly logger: BookLogger,
  ) {
    this.cursor = journal?.cursor();
    this.unanswered = journal?.size ?? 0;
  }

  /** The file this book writes (its own instance file when another process writes the main one). */
  get journalPath(): string | undefined {
    return this.journal?.path;
  }

  /** Durable on disk (when a file backs the book). */
  get durable(): boolean {
    return this.journal !== undefined;
  }

  /** Records accepted and not answered yet: live, waiting, or answered while no instance ran. */
  get size(): number {
    return this.unanswered;
  }

  /** Records live now (a call works on them): never more than the owner's limit. */
  get liveCount(): number {
    return this.live.size;
  }

  /** The most records live at once so far (the bound at work, for tests and the benchmark). */
  get peakLive(): number {
    return this.peak;
  }

  /** Records on disk now (live ones included). */
  get journaled(): number {
    return this.journal?.size ?? 0;
  }

  /**
   * Journals a record before anything is sent; resolves once it is on disk. From then on it
   * waits its turn: it goes live at once with its message when there is room, else it waits in
   * the journal and its message is let go. A record the journal cannot take (disk full) still
   * goes on, waiting in memory, with a warning: refusing it would lose it for sure.
   */
  accept(
    msg: Record<string, unknown>,
    record: unknown,
    index: number,
    many: boolean,
    source: SourceOf,
    group: string | undefined,
  ): Promise<void> {
    const id = newId();
    this.unanswered++;
    const journal = this.journal;
    if (!journal) {
      this.waitInMemory(this.entryOf(id, msg, record, index, many, source, group));
      return Promise.resolve();
    }
    // Written without copies: objects that outlive the write (until its fdatasync) would teach
    // V8 to allocate every record's copies straight in the old generation, where a burst of a
    // million records piles up as garbage until the next full collection.
    const wire: StoredRecord = { msg, payload: record, many, index };
    if (source.has) wire.source = source.value;
    if (group !== undefined) wire.group = group;
    let put = journal.put(id, wire, storableReplacer(msg, many));
    if (!journal.has(id)) {
      // Refused at once: a cycle; JSON-safe copies go instead.
      put = journal.put(id, storableCopy(msg, record, index, many, source, group));
      if (!journal.has(id)) {
        const entry = this.entryOf(id, msg, record, index, many, source, group);
        return put.then(this.written, (err: unknown) => this.refused(id, err, entry, false));
      }
    }
    // A record goes live as it was read back from the journal, its message rebuilt from what was
    // stored, so the message itself is let go once it is on disk: messages held for as long as
    // a record is live would teach V8 to allocate every message of a burst straight in the old
    // generation. Only a message JSON cannot hold (http-in's req/res, for an http response
    // node after this one) is kept, if the record may go live as soon as it is on disk.
    const unstorable = msg.req !== undefined || msg.res !== undefined;
    if (unstorable && this.owner && this.live.size + this.expected < this.limit) {
      this.expected++;
      const entry = this.entryOf(id, msg, record, index, many, source, group);
      return put.then(
        () => this.arrived(entry),
        (err: unknown) => this.refused(id, err, entry, true),
      );
    }
    return put.then(this.written, this.refusedLater(id));
  }

  /**
   * Takes in a record another replica accepted and did not finish (its journal adopted after it
   * died): journaled here under its own id, so it counts as possibly sent, with
   * `msg.marketo.adoptedFrom` naming that replica. Resolves once it is on disk here; only then may
   * the other journal let it go.
   */
  adopt(id: string, stored: StoredRecord, from: string): Promise<void> {
    const prev = stored.msg.marketo;
    const marketo = prev !== null && typeof prev === "object" && !Array.isArray(prev) ? { ...prev } : {};
    const own: StoredRecord = { ...stored, msg: { ...stored.msg, marketo: { ...marketo, adoptedFrom: from } } };
    if (stored.answer) own.answer = { ...stored.answer, marketo: { ...stored.answer.marketo, adoptedFrom: from } };
    this.unanswered++;
    const journal = this.journal;
    if (!journal) {
      this.waitInMemory({ id, stored: own });
      return Promise.resolve();
    }
    return journal.put(id, own).then(
      () => this.queuePump(),
      (err: unknown) => this.refused(id, err, { id, stored: own }, false),
    );
  }

  /** A record held in memory with its message: its stored form holds the message itself. */
  private entryOf(
    id: string,
    msg: Record<string, unknown>,
    record: unknown,
    index: number,
    many: boolean,
    source: SourceOf,
    group: string | undefined,
  ): BookEntry {
    const stored: StoredRecord = { msg, payload: record, many, index };
    if (source.has) stored.source = source.value;
    if (group !== undefined) stored.group = group;
    return { id, stored, msg };
  }

  /** Journaled, after accept kept it: it goes live with its message if there is room still. */
  private arrived(entry: BookEntry): void {
    this.expected--;
    if (!this.live.has(entry.id)) this.arriving.set(entry.id, entry);
    this.written();
  }

  /** A record is on disk: an input means the flows run, so the owner may start what waits. */
  private readonly written = (): void => {
    this.ready = this.owner !== undefined;
    this.queuePump();
  };

  private refusedLater(id: string): (err: unknown) => void {
    return (err) => this.refused(id, err, undefined, false);
  }

  /** The journal could not take a record: it waits in memory instead (with a warning), never lost. */
  private refused(id: string, err: unknown, kept: BookEntry | undefined, expected: boolean): void {
    if (expected) this.expected--;
    this.warnOnce(`record kept in memory only, not in ${this.file}: ${errorText(err)}`);
    const stored = kept?.stored ?? (err instanceof JournalWriteError ? err.unsaved<StoredRecord>(id) : undefined);
    if (!stored) {
      this.logger.warn(`a record refused by ${this.file} could not be kept: ${errorText(err)}`);
      return;
    }
    this.waitInMemory(kept ?? { id, stored });
  }

  private waitInMemory(entry: BookEntry): void {
    this.ready = this.owner !== undefined;
    this.memory.push(entry);
    this.queuePump();
  }

  /** A call finished with this answer. `cutOff`: the client closed under it; nothing was decided. */
  settle(entry: BookEntry, answer: StoredAnswer, cutOff: boolean): void {
    if (this.live.get(entry.id) !== entry) return;
    if (cutOff) this.cutOffIds.add(entry.id);
    const owner = this.owner;
    if (owner && this.ready) {
      if (cutOff) owner.run(entry);
      else owner.deliver(entry, answer);
      return;
    }
    // No instance to pass it on: the next owner reads it back from the journal.
    this.live.delete(entry.id);
    if (cutOff) {
      if (!this.journal) this.memory.push(entry);
      return;
    }
    const stored: StoredRecord = { ...entry.stored, answer };
    if (!this.journal) {
      this.memory.push({ id: entry.id, stored });
      return;
    }
    // A record kept with its message is written as accept writes it; one read back is JSON already.
    const replacer = entry.readBack ? undefined : storableReplacer(stored.msg, stored.many);
    this.journal.put(entry.id, stored, replacer).catch((err: unknown) => {
      this.warnOnce(`answer kept in memory only, not in ${this.file}: ${errorText(err)}`);
      this.memory.push({ id: entry.id, stored });
    });
  }

  /** The answer left the node: the record is done with, and its room goes to a waiting one. */
  forget(entry: BookEntry): void {
    if (this.live.get(entry.id) !== entry) return;
    this.live.delete(entry.id);
    this.cutOffIds.delete(entry.id);
    this.unanswered--;
    this.journal?.delete(entry.id).catch((err: unknown) => {
      this.warnOnce(`could not remove an answered record from ${this.file}: ${errorText(err)}`);
    });
    this.queuePump();
  }

  /**
   * A call may already have carried this record to Marketo: it was accepted by an earlier process
   * (which may have died with it on the wire), or a closing client cut its call off. Writes
   * Marketo does not deduplicate ask before sending it again.
   */
  mayHaveBeenSent(entry: BookEntry): boolean {
    return !entry.id.startsWith(`${idPrefix}.`) || this.cutOffIds.has(entry.id);
  }

  /** A new instance of the node takes the book, with room for `limit` live records. */
  claim(owner: BookOwner, limit: number): void {
    this.owner = owner;
    this.limit = limit;
    this.ready = false;
  }

  /**
   * The owner's flows have started, so whatever it sends reaches the nodes after it: answers
   * kept while no instance ran go out, records no call works on run again as room allows.
   * Calls still running hand their answers over when they finish.
   */
  resume(owner: BookOwner): void {
    if (this.owner !== owner) return;
    this.ready = true;
    this.cursor?.rewind();
    this.pump();
  }

  /** The instance stops: answers from now on are kept for the next one. */
  detach(owner: BookOwner): void {
    if (this.owner !== owner) return;
    this.owner = undefined;
    this.ready = false;
  }

  /**
   * The owner stops for good (the node is deleted, or has no journal to hand over with): every
   * waiting record is answered now with `answer(entry)`, so none is left behind unanswered.
   */
  answerWaiting(owner: BookOwner, answer: (entry: BookEntry) => StoredAnswer): void {
    if (this.owner !== owner) return;
    this.limit = 0;
    for (let entry = this.nextWaiting(); entry; entry = this.nextWaiting()) {
      this.live.set(entry.id, entry);
      owner.deliver(entry, entry.stored.answer ?? answer(entry));
    }
    this.arriving.clear();
  }

  /** Resolves when everything written so far is on disk. */
  async flush(): Promise<void> {
    await this.journal?.flush().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.journal?.close().catch(() => undefined);
  }

  private queuePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    // After every record of this turn is in: those that fit go live with their message.
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /** Fills the room below the limit with waiting records, oldest first. */
  private pump(): void {
    const owner = this.owner;
    if (!owner || !this.ready || this.pumping) return;
    this.pumping = true;
    try {
      while (this.live.size < this.limit && this.owner === owner) {
        const entry = this.nextWaiting();
        if (!entry) break;
        this.live.set(entry.id, entry);
        if (this.live.size > this.peak) this.peak = this.live.size;
        if (entry.stored.answer) owner.deliver(entry, entry.stored.answer);
        else owner.run(entry);
      }
    } finally {
      this.pumping = false;
      // Not taken now: they wait in the journal, without their message.
      this.arriving.clear();
    }
  }

  /** The next record waiting (not live), from memory first, then from the journal; undefined if none. */
  private nextWaiting(): BookEntry | undefined {
    if (this.memoryHead < this.memory.length) {
      const entry = this.memory[this.memoryHead++];
      if (this.memoryHead === this.memory.length) {
        this.memory = [];
        this.memoryHead = 0;
      } else if (this.memoryHead > 1024 && this.memoryHead * 2 > this.memory.length) {
        this.memory = this.memory.slice(this.memoryHead);
        this.memoryHead = 0;
      }
      return entry;
    }
    const journal = this.journal;
    const cursor = this.cursor;
    if (!journal || !cursor) return undefined;
    for (let id = cursor.next(); id !== undefined; id = cursor.next()) {
      if (this.live.has(id)) continue;
      const arrived = this.arriving.get(id);
      if (arrived) {
        this.arriving.delete(id);
        return arrived;
      }
      let stored: StoredRecord | undefined;
      try {
        stored = journal.get(id);
      } catch (err) {
        // A damaged line: the record cannot be read back, say so and go on with the others.
        this.logger.warn(`a record could not be read back from ${this.file}: ${errorText(err)}`);
        continue;
      }
      if (stored) return { id, stored, readBack: true };
    }
    return undefined;
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
      journal = Journal.openOwn<StoredRecord>(file, { logger });
    } catch (err) {
      logger.warn(`records are kept in memory only: ${errorText(err)}`);
    }
    book = new RecordBook(file, journal, logger);
    books.set(file, book);
  }
  return book;
}

/** What each book holds now, by journal file: for the benchmark and tests of the live bound. */
export function recordBookFigures(): Array<{
  file: string;
  size: number;
  live: number;
  peakLive: number;
  journaled: number;
}> {
  return [...books.entries()].map(([file, b]) => ({
    file,
    size: b.size,
    live: b.liveCount,
    peakLive: b.peakLive,
    journaled: b.journaled,
  }));
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
