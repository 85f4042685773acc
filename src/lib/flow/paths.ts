import { UNSAFE_KEYS } from "../node-kit/guards";

/**
 * The one own-property path walker shared by the flow nodes (tag-filter, status-mapper,
 * field-mapper), plus the small type helpers their reasons are built from. No Node-RED import.
 *
 * The walker follows a pre-split path (`["payload", "tags", 0]`) through OWN properties only —
 * never the prototype chain, so `__proto__`, `constructor`, `toString`... read as missing — and
 * never throws. It does not build reasons: it says how far it got and what it found there, and
 * each caller turns that into its own result. It is on the per-message hot path: no allocation
 * per step, and none per call when the caller passes a reusable `into` object.
 */

export type PathKey = string | number;

/** Where a walk ended. */
export interface OwnPathWalk {
  /** The value at the end of the path; undefined when the walk stopped early (or the value is undefined). */
  value: unknown;
  /**
   * How many segments were followed. `segs.length` when the whole path was read; otherwise the
   * index of the segment that could not be followed because `stoppedOn` is not an object.
   * A missing property reads as undefined, so a missing key before the last stops the walk one
   * step further on, with `stoppedOn` undefined.
   */
  stoppedAt: number;
  /** The value reached at `stoppedAt` (the final value when the whole path was read). */
  stoppedOn: unknown;
}

const hasOwn = Object.prototype.hasOwnProperty;

/** A fresh result holder; allocate one at deploy (or per module) and pass it to `readOwnPath`. */
export function newOwnPathWalk(): OwnPathWalk {
  return { value: undefined, stoppedAt: 0, stoppedOn: undefined };
}

/**
 * Follows `segs` from `root` through own properties only. Fills and returns `into` (a fresh
 * object when none is given); read the result before the next walk with the same `into`.
 */
export function readOwnPath(
  root: unknown,
  segs: ReadonlyArray<PathKey>,
  into: OwnPathWalk = newOwnPathWalk(),
): OwnPathWalk {
  const n = segs.length;
  let cur = root;
  let i = 0;
  for (; i < n; i++) {
    if (cur === null || typeof cur !== "object") break;
    const k = segs[i];
    cur = hasOwn.call(cur, k) ? (cur as Record<PathKey, unknown>)[k] : undefined;
  }
  into.value = i === n ? cur : undefined;
  into.stoppedAt = i;
  into.stoppedOn = cur;
  return into;
}

/** "missing", "null", "an array", "an object", "a string", "a number"... for reasons. */
export function typeName(v: unknown): string {
  if (v === undefined) return "missing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  const t = typeof v;
  return t === "object" ? "an object" : `a ${t}`;
}

export type PathRead = { ok: true; value: unknown } | { ok: false; reason: string };

const walk = newOwnPathWalk();

/**
 * A step the walk took that is an object to the walk but holds no fields: a Buffer (a webhook
 * body nobody parsed). Reported as such rather than as a missing field.
 */
function unreadableStep(
  root: unknown,
  parts: ReadonlyArray<string | number>,
  walked: number,
  label: string,
): string | undefined {
  let cur = root;
  let where = label;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (ArrayBuffer.isView(cur)) return `${where} is a Buffer, not an object (parse it first, e.g. with a json node)`;
    if (i >= walked || cur === null || typeof cur !== "object" || !Object.prototype.hasOwnProperty.call(cur, p))
      return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
    where += typeof p === "number" ? `[${p}]` : `.${p}`;
  }
  return undefined;
}

/**
 * Reads a pre-split path (`["payload","registration","status"]`) from an object, own properties
 * only — so `__proto__`, `constructor` and the like never reach the prototype — without throwing.
 * A missing final property reads as `undefined`; a missing or non-object step on the way is a
 * failure naming that step (`msg.payload is a string, not an object`).
 */
export function readPath(root: unknown, parts: ReadonlyArray<string | number>, label = "msg"): PathRead {
  const { stoppedAt, stoppedOn } = readOwnPath(root, parts, walk);
  const unreadable = unreadableStep(root, parts, stoppedAt, label);
  if (unreadable) return { ok: false, reason: unreadable };
  if (stoppedAt === parts.length) return { ok: true, value: stoppedOn };
  if (stoppedAt > 0 && stoppedOn === undefined) return { ok: true, value: undefined };
  let where = label;
  for (let i = 0; i < stoppedAt; i++) {
    const p = parts[i];
    where = typeof p === "number" ? `${where}[${p}]` : `${where}.${p}`;
  }
  return { ok: false, reason: `${where} is ${typeName(stoppedOn)}, not an object` };
}

/** Why a path's text is not a path; each caller words it for its own setting. */
export type PathProblem =
  | { kind: "empty" }
  | { kind: "empty-part" }
  | { kind: "ends-with-dot" }
  | { kind: "unclosed" }
  | { kind: "unterminated-quote" }
  | { kind: "bad-index"; inner: string }
  | { kind: "needs-dot"; rest: string; position: number }
  | { kind: "bad-key"; key: string }
  | { kind: "unsafe-key"; key: string };

export interface SplitPathOptions {
  /** A leading `msg.` (or `msg[`) names the message itself and is dropped (field-mapper). */
  msgPrefix?: boolean;
  /**
   * A bare name may hold spaces (and quotes), trimmed at its ends (tag-filter:
   * `properties.Badge Printed`); otherwise spaces and quotes need `["..."]`.
   */
  spacedNames?: boolean;
}

/**
 * The one reading of a property path's text: `payload.event`, `questions["Campaign Id"]`,
 * `tags[0]`, `payload['a.b'].c` → keys. A quoted key may hold `.`, `]` and `,`; a key that
 * reaches a prototype (`__proto__`, `constructor`, `prototype`) is refused.
 */
export function splitPath(
  text: string,
  opts: SplitPathOptions = {},
): { ok: true; keys: PathKey[] } | { ok: false; problem: PathProblem } {
  let p = text.trim();
  if (opts.msgPrefix) {
    if (p.startsWith("msg.")) p = p.slice(4);
    else if (p.startsWith("msg[")) p = p.slice(3);
  }
  const fail = (problem: PathProblem) => ({ ok: false as const, problem });
  if (p === "") return fail({ kind: "empty" });
  const keys: PathKey[] = [];
  let i = 0;
  let expectKey = true;
  while (i < p.length) {
    const c = p[i];
    if (c === "[") {
      let open = i + 1;
      while (p[open] === " ") open++;
      const q = p[open];
      if (q === '"' || q === "'") {
        const end = p.indexOf(q, open + 1);
        if (end < 0 || p.slice(end + 1).trimStart()[0] !== "]")
          return fail(p.indexOf("]", i) < 0 ? { kind: "unclosed" } : { kind: "unterminated-quote" });
        keys.push(p.slice(open + 1, end));
        i = p.indexOf("]", end) + 1;
      } else {
        const end = p.indexOf("]", i + 1);
        if (end < 0) return fail({ kind: "unclosed" });
        const inner = p.slice(i + 1, end).trim();
        if (!/^\d+$/.test(inner)) return fail({ kind: "bad-index", inner });
        keys.push(Number(inner));
        i = end + 1;
      }
      expectKey = false;
    } else if (c === ".") {
      if (expectKey) return fail({ kind: "empty-part" });
      expectKey = true;
      i++;
    } else {
      if (!expectKey) return fail({ kind: "needs-dot", rest: p.slice(i), position: i + 1 });
      let j = i;
      while (j < p.length && p[j] !== "." && p[j] !== "[") j++;
      const raw = p.slice(i, j);
      const key = opts.spacedNames ? raw.trim() : raw;
      if (key === "") return fail({ kind: "empty-part" });
      if (!opts.spacedNames && /[\s\]"']/.test(key)) return fail({ kind: "bad-key", key });
      keys.push(key);
      i = j;
      expectKey = false;
    }
  }
  if (expectKey) return fail({ kind: "ends-with-dot" });
  for (const k of keys) if (typeof k === "string" && UNSAFE_KEYS.has(k)) return fail({ kind: "unsafe-key", key: k });
  return { ok: true, keys };
}
