/**
 * The journal's index: for each live id, where its line sits in the file, in first-put order.
 *
 * Kept in typed arrays rather than a Map of objects, so that a million records waiting cost
 * about 20 bytes each here instead of ~110: a slot per id (offset, length, and the id itself as
 * a prefix number and a sequence number), and an open-addressing table from id to slot. Ids of
 * the form `<prefix>.<base-36 number>` (what the action nodes make) are held as numbers; any
 * other id is kept as a string in a small Map beside them.
 */
const EMPTY = 0;
const TOMBSTONE = -1;
const NAMED = 0xffff;
const MAX_SEQ = 0xffffffff;

export class JournalIndex {
  private offsets = new Float64Array(1024);
  private lengths = new Uint32Array(1024);
  private prefixOf = new Uint16Array(1024);
  private seqOf = new Uint32Array(1024);
  /** slot + 1, 0 empty, -1 a removed slot's mark. */
  private table = new Int32Array(2048);
  private tableUsed = 0;
  private readonly prefixes: string[] = [];
  private readonly prefixIds = new Map<string, number>();
  /** Ids not of the numbered form: id → slot, and slot → id. */
  private named = new Map<string, number>();
  private namedSlot = new Map<number, string>();
  /** Slots in use (live or dead); slots are never reused until squeeze(). */
  private slots = 0;
  private live = 0;
  private cursors = new Set<IndexCursor>();

  get size(): number {
    return this.live;
  }

  /** The live slot of an id, or -1. */
  find(id: string): number {
    const key = this.parse(id);
    if (key === undefined) return this.named.get(id) ?? -1;
    const [p, s] = key;
    const mask = this.table.length - 1;
    for (let i = hash(p, s) & mask; ; i = (i + 1) & mask) {
      const t = this.table[i];
      if (t === EMPTY) return -1;
      if (t > 0 && this.prefixOf[t - 1] === p && this.seqOf[t - 1] === s) return t - 1;
    }
  }

  has(id: string): boolean {
    return this.find(id) >= 0;
  }

  offset(slot: number): number {
    return this.offsets[slot];
  }

  length(slot: number): number {
    return this.lengths[slot];
  }

  /** Places an id's line: its slot stays if it has one, else it gets a new one at the end. Returns the length it replaced (0 if new). */
  set(id: string, offset: number, length: number): number {
    const slot = this.find(id);
    if (slot >= 0) {
      const old = this.lengths[slot];
      this.offsets[slot] = offset;
      this.lengths[slot] = length;
      return old;
    }
    this.append(id, offset, length);
    return 0;
  }

  /** Removes an id; returns the length of its line (0 if it had none). */
  remove(id: string): number {
    const slot = this.find(id);
    if (slot < 0) return 0;
    const old = this.lengths[slot];
    this.lengths[slot] = 0;
    this.live--;
    if (this.prefixOf[slot] === NAMED) {
      this.named.delete(id);
      this.namedSlot.delete(slot);
    } else {
      const mask = this.table.length - 1;
      for (let i = hash(this.prefixOf[slot], this.seqOf[slot]) & mask; ; i = (i + 1) & mask) {
        if (this.table[i] === slot + 1) {
          this.table[i] = TOMBSTONE;
          break;
        }
      }
    }
    // Dead slots are squeezed out once they outnumber the live ones.
    if (this.slots > 4096 && this.slots > 2 * this.live) this.squeeze();
    return old;
  }

  /** The id held in a slot. */
  idAt(slot: number): string {
    const p = this.prefixOf[slot];
    return p === NAMED ? this.namedSlot.get(slot)! : `${this.prefixes[p]}.${this.seqOf[slot].toString(36)}`;
  }

  /** Live slots in first-put order. */
  *liveSlots(): Generator<number> {
    for (let slot = 0; slot < this.slots; slot++) if (this.lengths[slot] > 0) yield slot;
  }

  /** A position in first-put order that stays right when slots are squeezed. */
  cursor(): IndexCursor {
    const c = new IndexCursor(this);
    this.cursors.add(c);
    return c;
  }

  /** @internal the next live slot at or after `from`, or -1. */
  nextLive(from: number): number {
    for (let slot = from; slot < this.slots; slot++) if (this.lengths[slot] > 0) return slot;
    return -1;
  }

  /** @internal */
  dropCursor(c: IndexCursor): void {
    this.cursors.delete(c);
  }

  /** After compaction: the live lines sit back to back from byte 0, in slot order. */
  relocateContiguous(): void {
    let offset = 0;
    for (let slot = 0; slot < this.slots; slot++) {
      if (this.lengths[slot] === 0) continue;
      this.offsets[slot] = offset;
      offset += this.lengths[slot];
    }
  }

  private append(id: string, offset: number, length: number): void {
    if (this.slots === this.offsets.length) {
      if (this.live * 2 < this.slots) this.squeeze();
      else this.grow();
    }
    const slot = this.slots++;
    this.offsets[slot] = offset;
    this.lengths[slot] = length;
    this.live++;
    const key = this.parse(id, true);
    if (key === undefined) {
      this.prefixOf[slot] = NAMED;
      this.seqOf[slot] = 0;
      this.named.set(id, slot);
      this.namedSlot.set(slot, id);
      return;
    }
    this.prefixOf[slot] = key[0];
    this.seqOf[slot] = key[1];
    this.insert(slot);
  }

  private insert(slot: number): void {
    if ((this.tableUsed + 1) * 4 > this.table.length * 3) this.rehash();
    const mask = this.table.length - 1;
    let i = hash(this.prefixOf[slot], this.seqOf[slot]) & mask;
    while (this.table[i] > 0) i = (i + 1) & mask;
    if (this.table[i] === EMPTY) this.tableUsed++;
    this.table[i] = slot + 1;
  }

  /** A new table at most half full (linear probing stays short below three quarters). */
  private rehash(): void {
    let n = 2048;
    while (n < (this.live + 1) * 2) n *= 2;
    this.table = new Int32Array(n);
    this.tableUsed = 0;
    for (let slot = 0; slot < this.slots; slot++)
      if (this.lengths[slot] > 0 && this.prefixOf[slot] !== NAMED) this.insert(slot);
  }

  private grow(): void {
    // 1.5x: a million records need ~1.5 million slots at most, not two.
    const n = Math.ceil(this.offsets.length * 1.5);
    const offsets = new Float64Array(n);
    offsets.set(this.offsets);
    const lengths = new Uint32Array(n);
    lengths.set(this.lengths);
    const prefixOf = new Uint16Array(n);
    prefixOf.set(this.prefixOf);
    const seqOf = new Uint32Array(n);
    seqOf.set(this.seqOf);
    this.offsets = offsets;
    this.lengths = lengths;
    this.prefixOf = prefixOf;
    this.seqOf = seqOf;
  }

  /** Moves the live slots down over the dead ones, keeping their order; cursors follow. */
  private squeeze(): void {
    const moved = new Int32Array(this.slots + 1);
    let to = 0;
    const namedSlot = new Map<number, string>();
    for (let slot = 0; slot < this.slots; slot++) {
      moved[slot] = to;
      if (this.lengths[slot] === 0) continue;
      this.offsets[to] = this.offsets[slot];
      this.lengths[to] = this.lengths[slot];
      this.prefixOf[to] = this.prefixOf[slot];
      this.seqOf[to] = this.seqOf[slot];
      if (this.prefixOf[slot] === NAMED) {
        const id = this.namedSlot.get(slot)!;
        namedSlot.set(to, id);
        this.named.set(id, to);
      }
      to++;
    }
    moved[this.slots] = to;
    for (const c of this.cursors) c.position = moved[Math.min(c.position, this.slots)];
    this.lengths.fill(0, to, this.slots);
    this.slots = to;
    this.namedSlot = namedSlot;
    this.rehash();
  }

  private parse(id: string, add = false): [number, number] | undefined {
    const dot = id.lastIndexOf(".");
    if (dot <= 0 || dot === id.length - 1 || id.length - dot > 8) return undefined;
    const tail = id.slice(dot + 1);
    if (!/^[0-9a-z]+$/.test(tail)) return undefined;
    const seq = parseInt(tail, 36);
    if (seq > MAX_SEQ || seq.toString(36) !== tail) return undefined;
    const prefix = id.slice(0, dot);
    let p = this.prefixIds.get(prefix);
    if (p === undefined) {
      if (!add || this.prefixes.length >= NAMED) return undefined;
      p = this.prefixes.length;
      this.prefixes.push(prefix);
      this.prefixIds.set(prefix, p);
    }
    return [p, seq];
  }
}

/** Walks the live ids in first-put order, seeing ids added after it was made. */
export class IndexCursor {
  /** @internal the next slot to look at. */
  position = 0;

  constructor(private readonly index: JournalIndex) {}

  /** The next live id, or undefined when none is left for now (later puts show up later). */
  next(): string | undefined {
    const slot = this.index.nextLive(this.position);
    if (slot < 0) {
      return undefined;
    }
    this.position = slot + 1;
    return this.index.idAt(slot);
  }

  /** Back to the first id. */
  rewind(): void {
    this.position = 0;
  }

  close(): void {
    this.index.dropCursor(this);
  }
}

function hash(p: number, s: number): number {
  let h = Math.imul(s ^ (p << 16), 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
}
