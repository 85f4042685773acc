/**
 * A durable journal of entries by id: what action nodes and the retry queue have accepted, kept so
 * that a redeploy, a restart or a kill -9 loses nothing.
 *
 * The file is append-only, one line per change: `<crc32 hex8> <json>\n`, the json being
 * `{"p":id,"v":value}` (put) or `{"d":id}` (delete). The CRC covers the json's UTF-8 bytes.
 *
 * - Group commit: every put/delete of one turn of the event loop goes out in one write and one
 *   fdatasync (scheduled with setImmediate). The flush runs synchronously, so groups reach the file
 *   strictly in call order and nothing else touches the file meanwhile.
 * - A promise resolves only after its group's fdatasync. A failed write or sync rejects the whole
 *   group and the file is cut back to where the group began, so a half-written group can never
 *   sit in front of later lines.
 * - At open, a last line without its newline (a write torn by kill -9) is cut off; a complete line
 *   whose CRC or shape is wrong (disk damage) is skipped and later lines still count.
 * - Memory holds only an index (id → offset and length of its live line, src/lib/delivery/journal-index.ts,
 *   about 20 bytes an id); values are read back from the file when asked for (get, recovered).
 * - Compaction copies the live lines to `<file>.tmp`, fsyncs it, renames it over the file and
 *   fsyncs the folder: a crash leaves either the old or the new file, both complete. A `.tmp` found
 *   at open is what such a crash left behind and is removed.
 */
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { JournalIndex, type IndexCursor } from "./journal-index";
import {
  JournalLockedError,
  instanceJournalFile,
  lockJournal,
  otherInstanceFiles,
  type JournalLock,
} from "./journal-lock";
import { errorText } from "../node-kit/guards";

export type { IndexCursor } from "./journal-index";

export interface JournalOptions {
  /** fdatasync each group commit (default true). */
  sync?: boolean;
  /** Compact once the file is larger than this and at most half of it is live (default 4 MiB). */
  compactAtBytes?: number;
  /** Told about a damaged line skipped at open, a torn tail cut, a compaction failure. */
  logger?: { warn(message: string): void };
  /** The token of a lock whose holder is known dead (journal adoption): it is taken over. */
  takeOverLock?: string;
}

const DEFAULT_COMPACT_AT = 4 * 1024 * 1024;
const READ_CHUNK = 1024 * 1024;
const NEWLINE = 0x0a;

// zlib.crc32 arrived in Node 20.15; the package supports all of Node 20.
const crc32: (data: Buffer | string) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === "function" ? (data) => zlib.crc32(data) : tableCrc32;

let crcTable: Uint32Array | undefined;
function tableCrc32(data: Buffer | string): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

/** The changes of one turn, last word per id, sharing one write and one promise. */
interface Group {
  /** id → put json, or null for a delete. */
  ops: Map<string, string | null>;
  /** Ids deleted then put again in this group: written as a delete line before the put, so the id
   *  moves to the end of the order as it does on recovery. */
  reput: Set<string>;
  promise: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

function message(err: unknown): string {
  return errorText(err);
}

function syncFolder(dir: string): void {
  // Windows cannot open a folder to sync it; NTFS journals names itself.
  if (process.platform === "win32") return;
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A group that could not be written; it still holds what each put of it would have stored. */
export class JournalWriteError extends Error {
  constructor(
    message: string,
    private readonly ops: Map<string, string | null>,
    cause: unknown,
  ) {
    super(message, { cause });
  }

  /** The value a put of this group would have stored for `id`, so the caller need not keep its own copy. */
  unsaved<V>(id: string): V | undefined {
    const json = this.ops.get(id);
    return json ? (JSON.parse(json) as { v: V }).v : undefined;
  }
}

export class Journal<V = unknown> {
  private fd: number;
  private readonly index = new JournalIndex();
  /** Bytes of the live lines, to know when compaction pays. */
  private liveBytes = 0;
  private fileBytes = 0;
  private recoveredOnce = false;
  private group: Group | undefined;
  private immediate: NodeJS.Immediate | undefined;
  /** A failed group could not be cut off: cut it before anything else is written. */
  private truncatePending = false;
  /** A rename or file creation is not yet durable in the folder. */
  private folderSyncPending = false;
  private closed = false;
  private readonly sync: boolean;
  private readonly compactAt: number;
  private readonly logger: { warn(message: string): void };
  /** This process's hold on the file: no other process writes it while the journal is open. */
  private readonly lock: JournalLock;

  private constructor(
    private readonly file: string,
    options: JournalOptions,
  ) {
    this.sync = options.sync ?? true;
    this.compactAt = options.compactAtBytes ?? DEFAULT_COMPACT_AT;
    this.logger = options.logger ?? { warn: (m) => process.emitWarning(m, "JournalWarning") };
    this.lock = lockJournal(file, options.takeOverLock);
    try {
      this.fd = this.openFile();
    } catch (err) {
      this.lock.release();
      throw err;
    }
    try {
      this.read();
    } catch (err) {
      fs.closeSync(this.fd);
      this.lock.release();
      throw new Error(`journal ${file}: cannot be read: ${message(err)}`, { cause: err });
    }
    this.maybeCompact();
  }

  /** Opens (creating the folder and file) and reads what is there. Synchronous. Throws a clear Error
   *  naming the file if it cannot be opened/created (permission, a directory in the way...). */
  static open<V>(file: string, options: JournalOptions = {}): Journal<V> {
    return new Journal<V>(path.resolve(file), options);
  }

  /**
   * Opens `file`, or, when another live process writes it, this process's own file beside it
   * (an instance folder, src/lib/delivery/journal-lock.ts), after a warning naming the holder.
   */
  static openOwn<V>(file: string, options: JournalOptions = {}): Journal<V> {
    try {
      return Journal.open<V>(file, options);
    } catch (err) {
      if (!(err instanceof JournalLockedError)) throw err;
      const warn = (m: string): void =>
        options.logger ? options.logger.warn(m) : process.emitWarning(m, "JournalWarning");
      const own = instanceJournalFile(path.resolve(file));
      // Without a stable instance id, a file another process left behind (it no longer runs) is
      // taken up first, so its records are finished rather than left in a folder nobody opens.
      const left = process.env.MARKETO_INSTANCE_ID
        ? []
        : otherInstanceFiles(path.resolve(file)).filter((f) => f !== own);
      for (const candidate of left) {
        let j: Journal<V>;
        try {
          j = Journal.open<V>(candidate, options);
        } catch (e) {
          if (e instanceof JournalLockedError) continue;
          throw e;
        }
        if (j.size === 0) {
          void j.close();
          continue;
        }
        warn(
          `${err.message}; this process keeps its records in ${candidate}, left by a process that no longer runs, and finishes its ${j.size} records`,
        );
        return j;
      }
      warn(`${err.message}; this process keeps its records in ${own} instead`);
      return Journal.open<V>(own, options);
    }
  }

  /** The file this journal writes. */
  get path(): string {
    return this.file;
  }

  /** Live entries found at open (last put per id, minus deleted ids), in first-put order.
   *  Values are handed out once: a second call returns []. */
  recovered(): Array<{ id: string; value: V }> {
    if (this.recoveredOnce) return [];
    this.recoveredOnce = true;
    const out: Array<{ id: string; value: V }> = [];
    for (const slot of this.index.liveSlots()) {
      const id = this.index.idAt(slot);
      out.push({ id, value: this.readSlot(id, slot) });
    }
    return out;
  }

  /**
   * The value of a live id, read back from the file (or from the group not yet written), or
   * undefined when the id is not live. Throws a clear Error when its line cannot be read.
   */
  get(id: string): V | undefined {
    const op = this.group?.ops.get(id);
    if (op === null) return undefined;
    if (op !== undefined) return (JSON.parse(op) as { v: V }).v;
    const slot = this.index.find(id);
    return slot < 0 ? undefined : this.readSlot(id, slot);
  }

  /**
   * Walks the ids written so far in first-put order (an id put again keeps its place), and
   * sees ids written after it was made: what a consumer reads back as room frees up.
   */
  cursor(): IndexCursor {
    return this.index.cursor();
  }

  private readSlot(id: string, slot: number): V {
    const n = this.index.length(slot);
    const offset = this.index.offset(slot);
    const buf = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const r = fs.readSync(this.fd, buf, got, n - got, offset + got);
      if (r === 0) throw new Error(`journal ${this.file}: the line of ${id} at byte ${offset} is cut short`);
      got += r;
    }
    const body = buf.subarray(9, n - 1);
    if (buf[n - 1] !== NEWLINE || Number.parseInt(buf.toString("latin1", 0, 8), 16) !== crc32(body)) {
      throw new Error(`journal ${this.file}: the line of ${id} at byte ${offset} is damaged`);
    }
    return (JSON.parse(body.toString("utf8")) as { v: V }).v;
  }

  /** Resolves once the entry is on disk (its group was written and fdatasync'ed). A value that
   *  JSON cannot represent (circular, BigInt) rejects at once with a TypeError and writes nothing. */
  put(id: string, value: V, replacer?: (this: unknown, key: string, value: unknown) => unknown): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    if (typeof id !== "string") return Promise.reject(new TypeError(`journal ${this.file}: an id must be a string`));
    let json: string;
    try {
      // Serialised now: the caller may change the object before the group is written.
      json = JSON.stringify({ p: id, v: value }, replacer);
    } catch (err) {
      return Promise.reject(
        new TypeError(`journal ${this.file}: the value for ${id} cannot be stored as JSON: ${message(err)}`),
      );
    }
    if (value !== undefined && json.length === JSON.stringify(id).length + 6) {
      // A function or symbol vanishes silently in JSON.stringify: it would come back as undefined.
      return Promise.reject(
        new TypeError(`journal ${this.file}: the value for ${id} cannot be stored as JSON (${typeof value})`),
      );
    }
    const group = this.currentGroup();
    const previous = group.ops.get(id);
    if (previous === null) {
      group.ops.delete(id);
      group.reput.add(id);
    }
    group.ops.set(id, json);
    return group.promise;
  }

  /** Same durability as put. Deleting an unknown id is allowed and cheap. */
  delete(id: string): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    if (typeof id !== "string") return Promise.reject(new TypeError(`journal ${this.file}: an id must be a string`));
    const group = this.group;
    if (group?.ops.has(id)) {
      if (this.index.has(id)) group.ops.set(id, null);
      else group.ops.delete(id);
      group.reput.delete(id);
      return group.promise;
    }
    if (!this.index.has(id)) return group ? group.promise : Promise.resolve();
    const next = this.currentGroup();
    next.ops.set(id, null);
    return next.promise;
  }

  has(id: string): boolean {
    const op = this.group?.ops.get(id);
    if (op !== undefined) return op !== null;
    return this.index.has(id);
  }

  /** Live entries. */
  get size(): number {
    const group = this.group;
    if (!group) return this.index.size;
    let size = this.index.size;
    for (const [id, op] of group.ops) {
      const onDisk = this.index.has(id);
      if (op === null && onDisk) size--;
      else if (op !== null && !onDisk) size++;
    }
    return size;
  }

  /** Current file size in bytes. */
  get bytes(): number {
    return this.fileBytes;
  }

  /** Resolves when everything queued so far is durable. */
  flush(): Promise<void> {
    return this.group ? this.group.promise : Promise.resolve();
  }

  /** Flushes, then closes the file. Later put/delete reject with an Error saying the journal is closed. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    const pending = this.group?.promise;
    // Written now rather than on the next turn: nothing can join the group any more.
    this.commit();
    try {
      fs.closeSync(this.fd);
    } catch (err) {
      return Promise.reject(new Error(`journal ${this.file}: cannot be closed: ${message(err)}`, { cause: err }));
    } finally {
      this.lock.release();
    }
    return pending ?? Promise.resolve();
  }

  private closedError(): Error {
    return new Error(`journal ${this.file} is closed`);
  }

  private currentGroup(): Group {
    if (this.group) return this.group;
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.group = { ops: new Map(), reput: new Set(), promise, resolve, reject };
    this.immediate = setImmediate(() => this.commit());
    return this.group;
  }

  private openFile(): number {
    const dir = path.dirname(this.file);
    let created: string | undefined;
    try {
      created = fs.mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new Error(`journal ${this.file}: cannot create its folder ${dir}: ${message(err)}`, { cause: err });
    }
    try {
      fs.rmSync(`${this.file}.tmp`, { force: true });
    } catch (err) {
      throw new Error(
        `journal ${this.file}: cannot remove ${this.file}.tmp left by an interrupted compaction: ${message(err)}`,
        { cause: err },
      );
    }
    const existed = fs.existsSync(this.file);
    let fd: number;
    try {
      fd = fs.openSync(this.file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
      if (!fs.fstatSync(fd).isFile()) {
        fs.closeSync(fd);
        throw new Error("not a regular file");
      }
    } catch (err) {
      throw new Error(`journal ${this.file}: cannot be opened: ${message(err)}`, { cause: err });
    }
    if (this.sync && !existed) {
      // A new file's name is only durable once its folder is synced (and the folder's own name,
      // when mkdir just made it). Retried before the first group if it fails now.
      try {
        syncFolder(dir);
        if (created !== undefined) syncFolder(path.dirname(created));
      } catch {
        this.folderSyncPending = true;
      }
    }
    return fd;
  }

  private read(): void {
    const size = fs.fstatSync(this.fd).size;
    let position = 0;
    let carry: Buffer | undefined;
    let carryStart = 0;
    const damaged: number[] = [];
    while (position < size) {
      const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK, size - position));
      const n = fs.readSync(this.fd, chunk, 0, chunk.length, position);
      if (n === 0) break;
      const buf = carry ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      const bufStart = carry ? carryStart : position;
      position += n;
      let start = 0;
      for (let nl = buf.indexOf(NEWLINE, start); nl !== -1; nl = buf.indexOf(NEWLINE, start)) {
        if (!this.apply(buf.subarray(start, nl), bufStart + start, nl - start + 1)) damaged.push(bufStart + start);
        start = nl + 1;
      }
      carry = start < buf.length ? buf.subarray(start) : undefined;
      carryStart = bufStart + start;
    }
    if (damaged.length > 0) {
      const shown = damaged.slice(0, 5).join(", ");
      const more = damaged.length > 5 ? ` and ${damaged.length - 5} more` : "";
      this.logger.warn(`journal ${this.file}: skipped ${damaged.length} damaged line(s) at byte ${shown}${more}`);
    }
    const end = carry ? carryStart : position;
    if (end < size) {
      // An unfinished last line: its group never completed, so none of it was acknowledged.
      fs.ftruncateSync(this.fd, end);
      if (this.sync) fs.fdatasyncSync(this.fd);
      this.logger.warn(
        `journal ${this.file}: cut off an unfinished last line (${size - end} bytes at byte ${end}), left by an interrupted write`,
      );
    }
    this.fileBytes = end;
  }

  /** Takes one line (without its newline) read at open; false when it is damaged. */
  private apply(text: Buffer, offset: number, length: number): boolean {
    if (text.length < 11 || text[8] !== 0x20) return false;
    const crcText = text.toString("latin1", 0, 8);
    const body = text.subarray(9);
    if (!/^[0-9a-f]{8}$/.test(crcText) || Number.parseInt(crcText, 16) !== crc32(body)) return false;
    let entry: unknown;
    try {
      entry = JSON.parse(body.toString("utf8"));
    } catch {
      return false;
    }
    if (typeof entry !== "object" || entry === null) return false;
    const { p, d } = entry as { p?: unknown; d?: unknown };
    if (typeof p === "string") {
      this.liveBytes += length - this.index.set(p, offset, length);
      return true;
    }
    if (typeof d === "string") {
      this.liveBytes -= this.index.remove(d);
      return true;
    }
    return false;
  }

  /** Writes and syncs the current group, then settles its promise. */
  private commit(): void {
    const group = this.group;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    if (!group) return;
    this.group = undefined;

    const jsons: string[] = [];
    const lengths: number[] = [];
    const ids: string[] = [];
    const puts: boolean[] = [];
    let total = 0;
    const add = (id: string, json: string | null): void => {
      const body = json ?? JSON.stringify({ d: id });
      // "<crc hex8> " + json + newline
      const n = Buffer.byteLength(body) + 10;
      jsons.push(body);
      lengths.push(n);
      total += n;
      ids.push(id);
      puts.push(json !== null);
    };
    for (const [id, json] of group.ops) {
      if (group.reput.has(id) && this.index.has(id)) add(id, null);
      add(id, json);
    }
    if (jsons.length === 0) {
      group.resolve();
      return;
    }

    const start = this.fileBytes;
    try {
      if (this.truncatePending) {
        fs.ftruncateSync(this.fd, start);
        this.truncatePending = false;
      }
      // Each line is written straight into one buffer: no joined string of the whole group.
      const data = Buffer.allocUnsafe(total);
      let at = 0;
      for (let i = 0; i < jsons.length; i++) {
        const end = at + lengths[i];
        data.write(jsons[i], at + 9, "utf8");
        data.write(hex8(crc32(data.subarray(at + 9, end - 1))), at, "latin1");
        data[at + 8] = 0x20;
        data[end - 1] = NEWLINE;
        at = end;
      }
      let written = 0;
      while (written < data.length) {
        written += fs.writeSync(this.fd, data, written, data.length - written, start + written);
      }
      if (this.sync) fs.fdatasyncSync(this.fd);
      if (this.folderSyncPending) {
        syncFolder(path.dirname(this.file));
        this.folderSyncPending = false;
      }
    } catch (err) {
      // Cut the group off again: left half-written, it would sit in front of the next group.
      try {
        fs.ftruncateSync(this.fd, start);
      } catch {
        this.truncatePending = true;
      }
      const failure = new JournalWriteError(
        `journal ${this.file}: ${jsons.length} change(s) not saved: ${message(err)}`,
        group.ops,
        err,
      );
      this.logger.warn(failure.message);
      group.reject(failure);
      return;
    }

    let offset = start;
    for (let i = 0; i < ids.length; i++) {
      if (puts[i]) this.liveBytes += lengths[i] - this.index.set(ids[i], offset, lengths[i]);
      else this.liveBytes -= this.index.remove(ids[i]);
      offset += lengths[i];
    }
    this.fileBytes = offset;
    group.resolve();
    this.maybeCompact();
  }

  private maybeCompact(): void {
    if (this.closed || this.fileBytes <= this.compactAt || this.liveBytes * 2 > this.fileBytes) return;
    this.compact();
  }

  /** Rewrites the file with the live lines only, in first-put order. */
  private compact(): void {
    const tmp = `${this.file}.tmp`;
    let tfd: number | undefined;
    let size = 0;
    try {
      tfd = fs.openSync(tmp, "w+", 0o600);
      let out = Buffer.allocUnsafe(READ_CHUNK);
      let used = 0;
      const drain = (): void => {
        let written = 0;
        while (written < used) written += fs.writeSync(tfd!, out, written, used - written, size - used + written);
        used = 0;
      };
      for (const slot of this.index.liveSlots()) {
        const o = this.index.offset(slot);
        const len = this.index.length(slot);
        if (len > out.length - used) {
          drain();
          if (len > out.length) out = Buffer.allocUnsafe(len);
        }
        let got = 0;
        while (got < len) {
          const n = fs.readSync(this.fd, out, used + got, len - got, o + got);
          if (n === 0) throw new Error(`the line of ${this.index.idAt(slot)} at byte ${o} is cut short`);
          got += n;
        }
        if (out[used + len - 1] !== NEWLINE)
          throw new Error(`the line of ${this.index.idAt(slot)} at byte ${o} does not end where expected`);
        used += len;
        size += len;
      }
      drain();
      if (this.sync) fs.fsyncSync(tfd);
      fs.renameSync(tmp, this.file);
    } catch (err) {
      if (tfd !== undefined) fs.closeSync(tfd);
      try {
        fs.rmSync(tmp, { force: true });
      } catch {
        // removed at the next open
      }
      this.logger.warn(`journal ${this.file}: compaction failed, the journal goes on uncompacted: ${message(err)}`);
      return;
    }
    // The new file is the journal from here; the old one is already unlinked.
    fs.closeSync(this.fd);
    this.fd = tfd;
    this.truncatePending = false;
    this.index.relocateContiguous();
    this.liveBytes = size;
    this.fileBytes = size;
    if (!this.sync) return;
    try {
      syncFolder(path.dirname(this.file));
    } catch {
      // Until the rename is durable, a power cut could bring back the old file and lose what is
      // appended to the new one: the next group retries and fails if it still cannot.
      this.folderSyncPending = true;
    }
  }
}
