/**
 * The events a tag-filter received, kept on disk so that they can be replayed through today's flow.
 *
 * Layout: a folder per node holding segment files named by the arrival time (ms) of their first
 * event, `<15-digit ms>.events`. Each line is `<crc32 hex8> <json>\n`, the json being
 * `{"t":arrivalMs,"k":topic,"p":payload,"h":1?}` (`h` marks an event the filter held back).
 *
 * - Appends of one turn of the event loop go out in one write; a sync follows within a second.
 *   Losing the last second to a power cut is acceptable for history; kill -9 loses nothing written.
 * - At open, a last line without its newline (a write torn by kill -9) is cut off. A line whose CRC
 *   or shape is wrong is skipped when read.
 * - Bounded: a segment ends after an hour or once it holds a tenth of the size cap; whole segments
 *   go once every event in them is older than the retention, and the oldest go while the folder
 *   is over the size cap. Dropping whole segments is the compaction: no live data is ever copied.
 * No Node-RED import.
 */
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { errorText } from "../node-kit/guards";

export interface HistoryOptions {
  /** Days an event is kept. Default 30. */
  retentionDays?: number;
  /** Bytes the folder may hold. Default 512 MiB. */
  maxBytes?: number;
  /** Told about a write that failed, a damaged line, a segment that could not be removed. */
  logger?: { warn(message: string): void };
  /** The clock (tests). */
  now?: () => number;
}

export interface HistoryRecord {
  /** Arrival time, ms since the epoch. */
  t: number;
  topic: unknown;
  payload: unknown;
  /** The filter held it back (output 2) when it arrived. */
  heldBack: boolean;
}

export const DEFAULT_RETENTION_DAYS = 30;
export const DEFAULT_MAX_BYTES = 512 * 1024 * 1024;
const SEGMENT_MS = 60 * 60 * 1000;
const SYNC_EVERY_MS = 1000;
const PRUNE_EVERY_MS = 10 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const SUFFIX = ".events";
const NEWLINE = 0x0a;

let crcTable: Uint32Array | undefined;
/** CRC-32 of the text's UTF-8 bytes (zlib's when this Node has it: it arrived in 20.15). */
function crc32Of(text: string): number {
  const z = (zlib as { crc32?: (d: string) => number }).crc32;
  if (z) return z(text) >>> 0;
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const bytes = Buffer.from(text, "utf8");
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Letters, digits and dots stay; anything else becomes `_` and its UTF-8 hex, so ids cannot climb out. */
function safeName(text: string): string {
  let out = "";
  for (const ch of text) out += /^[A-Za-z0-9.]$/.test(ch) ? ch : `_${Buffer.from(ch, "utf8").toString("hex")}`;
  return out;
}

/** `<userDir>/marketo-history/tag-filter-<nodeId>`, or undefined without a userDir (nothing is kept). */
export function historyDir(settings: { userDir?: unknown }, nodeId: string): string | undefined {
  const userDir = settings?.userDir;
  if (typeof userDir !== "string" || userDir === "") return undefined;
  return path.join(userDir, "marketo-history", `tag-filter-${safeName(nodeId)}`);
}

interface Segment {
  start: number;
  file: string;
  bytes: number;
}

function segmentName(start: number): string {
  return `${String(start).padStart(15, "0")}${SUFFIX}`;
}

/** A line's record, or undefined when the line is damaged. */
export function parseHistoryLine(line: string): HistoryRecord | undefined {
  if (line.length < 10 || line[8] !== " ") return undefined;
  const json = line.slice(9);
  if (parseInt(line.slice(0, 8), 16) !== crc32Of(json)) return undefined;
  try {
    const v = JSON.parse(json) as { t?: unknown; k?: unknown; p?: unknown; h?: unknown };
    if (typeof v !== "object" || v === null || typeof v.t !== "number") return undefined;
    return { t: v.t, topic: v.k, payload: v.p, heldBack: v.h === 1 };
  } catch {
    return undefined;
  }
}

export class EventHistory {
  private readonly segments: Segment[] = [];
  private fd: number | undefined;
  private pending: Array<{ t: number; line: string; bytes: number }> = [];
  private pendingBytes = 0;
  private immediate: NodeJS.Immediate | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private readonly pruneTimer: NodeJS.Timeout;
  private dirty = false;
  private closed = false;
  private warned = false;
  private skipped = 0;
  readonly retentionMs: number;
  readonly maxBytes: number;
  private readonly now: () => number;
  private readonly logger: { warn(message: string): void };

  constructor(
    readonly dir: string,
    o: HistoryOptions = {},
  ) {
    const days = o.retentionDays ?? DEFAULT_RETENTION_DAYS;
    if (!(days > 0)) throw new Error(`history retention must be a positive number of days, not ${String(days)}`);
    const max = o.maxBytes ?? DEFAULT_MAX_BYTES;
    if (!(max > 0)) throw new Error(`history size cap must be a positive number of bytes, not ${String(max)}`);
    this.retentionMs = days * DAY_MS;
    this.maxBytes = max;
    this.now = o.now ?? Date.now;
    this.logger = o.logger ?? { warn: () => undefined };
    fs.mkdirSync(dir, { recursive: true });
    for (const name of fs.readdirSync(dir)) {
      if (!name.endsWith(SUFFIX)) continue;
      const start = Number(name.slice(0, -SUFFIX.length));
      if (!Number.isFinite(start)) continue;
      const file = path.join(dir, name);
      this.segments.push({ start, file, bytes: fs.statSync(file).size });
    }
    this.segments.sort((a, b) => a.start - b.start);
    const last = this.segments[this.segments.length - 1];
    if (last) this.cutTornTail(last);
    this.prune();
    this.pruneTimer = setInterval(() => this.prune(), PRUNE_EVERY_MS);
    this.pruneTimer.unref();
  }

  /** Bytes on disk (and waiting to be written). */
  get bytes(): number {
    return this.segments.reduce((n, s) => n + s.bytes, 0) + this.pendingBytes;
  }

  /** Keeps one event and answers its arrival time (undefined when it could not be kept); never throws. */
  append(topic: unknown, payload: unknown, heldBack: boolean): number | undefined {
    if (this.closed) return undefined;
    let json: string;
    const t = this.now();
    try {
      json = JSON.stringify(heldBack ? { t, k: topic, p: payload, h: 1 } : { t, k: topic, p: payload });
    } catch (err) {
      this.skipped++;
      this.warnOnce(`an event could not be kept in the history (${errorText(err)})`);
      return undefined;
    }
    const line = `${crc32Of(json).toString(16).padStart(8, "0")} ${json}\n`;
    const bytes = Buffer.byteLength(line);
    this.pending.push({ t, line, bytes });
    this.pendingBytes += bytes;
    this.immediate ??= setImmediate(() => this.flush());
    return t;
  }

  /** Events that could not be kept (not serialisable) since open. */
  get skippedCount(): number {
    return this.skipped;
  }

  /** Writes what is pending now. */
  flush(): void {
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    if (!this.pending.length || this.closed) return;
    const lines = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    try {
      // One write per segment the lines fill (usually one).
      let i = 0;
      while (i < lines.length) {
        const seg = this.current(lines[i].t, lines[i].bytes);
        let bytes = lines[i].bytes;
        let j = i + 1;
        while (j < lines.length && !this.rotates(seg, lines[j].t, seg.bytes + bytes, lines[j].bytes))
          bytes += lines[j++].bytes;
        fs.writeSync(
          this.fd!,
          lines
            .slice(i, j)
            .map((l) => l.line)
            .join(""),
        );
        seg.bytes += bytes;
        this.dirty = true;
        i = j;
      }
      this.syncTimer ??= setTimeout(() => this.sync(), SYNC_EVERY_MS);
      if (this.bytes > this.maxBytes) this.prune();
    } catch (err) {
      this.warnOnce(`the history could not be written (${errorText(err)}); events are not kept until it can`);
      this.closeFd();
    }
  }

  /** Events that arrived in [from, to], oldest first, segment by segment. */
  async *read(from = 0, to = Number.MAX_SAFE_INTEGER): AsyncGenerator<HistoryRecord> {
    this.flush();
    const segs = this.segments.slice();
    for (let i = 0; i < segs.length; i++) {
      const next = segs[i + 1];
      if (next && next.start < from) continue;
      if (segs[i].start > to) break;
      let text: string;
      try {
        text = await fs.promises.readFile(segs[i].file, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // pruned meanwhile
        throw err;
      }
      let at = 0;
      while (at < text.length) {
        const nl = text.indexOf("\n", at);
        if (nl < 0) break; // a line still being written
        const r = parseHistoryLine(text.slice(at, nl));
        at = nl + 1;
        if (!r) continue;
        if (r.t < from) continue;
        if (r.t > to) return;
        yield r;
      }
    }
  }

  /** Drops segments past the retention and, oldest first, while over the size cap. */
  prune(): void {
    const cutoff = this.now() - this.retentionMs;
    let total = this.bytes;
    while (this.segments.length) {
      const first = this.segments[0];
      const next = this.segments[1];
      // Every event of a segment arrived before the next began, and within SEGMENT_MS of its start.
      const expired = (next ? next.start : first.start + SEGMENT_MS) <= cutoff;
      const tooBig = total > this.maxBytes && this.segments.length > 1;
      if (!expired && !tooBig) break;
      if (!next) this.closeFd();
      try {
        fs.rmSync(first.file, { force: true });
      } catch (err) {
        this.logger.warn(`history segment ${first.file} could not be removed: ${errorText(err)}`);
        break;
      }
      this.segments.shift();
      total -= first.bytes;
    }
  }

  /** Flushes and syncs; nothing is kept afterwards. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.sync();
    this.closed = true;
    clearInterval(this.pruneTimer);
    this.closeFd();
  }

  /** A segment ends an hour after its first event or once it holds a tenth of the size cap. */
  private rotates(seg: Segment | undefined, t: number, used: number, add: number): boolean {
    const limit = Math.max(16 * 1024, Math.floor(this.maxBytes / 10));
    return !seg || t - seg.start >= SEGMENT_MS || (used > 0 && used + add > limit);
  }

  /** The segment an event that arrived at `t` goes to, opening a new one when the current ends. */
  private current(t: number, bytes: number): Segment {
    let seg = this.segments[this.segments.length - 1];
    if (this.rotates(seg, t, seg?.bytes ?? 0, bytes)) {
      this.closeFd();
      // Two segments never share a name, even within one millisecond.
      const start = seg && seg.start >= t ? seg.start + 1 : t;
      seg = { start, file: path.join(this.dir, segmentName(start)), bytes: 0 };
      this.segments.push(seg);
    }
    this.fd ??= fs.openSync(seg!.file, "a");
    return seg!;
  }

  private sync(): void {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    if (!this.dirty || this.fd === undefined) return;
    this.dirty = false;
    try {
      fs.fdatasyncSync(this.fd);
    } catch (err) {
      this.warnOnce(`the history could not be synced (${errorText(err)})`);
    }
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    try {
      if (this.dirty) fs.fdatasyncSync(this.fd);
      fs.closeSync(this.fd);
    } catch {
      // the file is gone or the disk failed: the next append reopens or warns
    }
    this.fd = undefined;
    this.dirty = false;
  }

  /** A last line without its newline is a write torn by kill -9: cut it so appends start clean. */
  private cutTornTail(seg: Segment): void {
    if (seg.bytes === 0) return;
    const fd = fs.openSync(seg.file, "r+");
    try {
      const tail = Buffer.alloc(Math.min(seg.bytes, 1 << 20));
      let end = seg.bytes;
      for (;;) {
        const from = Math.max(0, end - tail.length);
        const n = fs.readSync(fd, tail, 0, end - from, from);
        const i = tail.subarray(0, n).lastIndexOf(NEWLINE);
        if (i >= 0) {
          end = from + i + 1;
          break;
        }
        if (from === 0) {
          end = 0;
          break;
        }
        end = from;
      }
      if (end < seg.bytes) {
        this.logger.warn(`history ${seg.file}: cut ${seg.bytes - end} bytes of a line torn by a crash`);
        fs.ftruncateSync(fd, end);
        seg.bytes = end;
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  private warnOnce(message: string): void {
    if (this.warned) return;
    this.warned = true;
    this.logger.warn(message);
  }
}
