/**
 * The field-mapper's msg paths: parsing a path or a comma-separated list of them, and reading
 * one from a message through own properties, with a value that is not there saying why.
 */
import { newOwnPathWalk, readOwnPath, splitPath, typeName } from "./paths";

// ---------------------------------------------------------------------------------------------
// msg paths

/**
 * Splits a msg path ("payload.profile.email", "msg.payload['first name']", "payload.tags[0]")
 * into keys. Throws with a readable message on syntax Node-RED would refuse or on keys that
 * reach a prototype.
 */
export function parsePath(path: string): Array<string | number> {
  const split = splitPath(path, { msgPrefix: true });
  if (split.ok) return split.keys;
  const p = split.problem;
  switch (p.kind) {
    case "empty":
      throw new Error("empty msg path");
    case "unclosed":
    case "bad-index":
      throw new Error(`"${path}": only numbers or quoted keys may go inside [ ]`);
    case "unterminated-quote":
      throw new Error(`unterminated quoted key in "${path}"`);
    case "empty-part":
      throw new Error(`"${path}" has an empty key`);
    case "needs-dot":
      throw new Error(`"${path}": expected "." or "[" at position ${p.position}`);
    case "bad-key":
      throw new Error(`"${path}": "${p.key}" is not a valid key (use ["..."] for keys with spaces or quotes)`);
    case "ends-with-dot":
      throw new Error(`"${path}" ends with "."`);
    case "unsafe-key":
      throw new Error(`"${path}" uses the key "${p.key}", which is not allowed`);
  }
}

/** Splits a concat source on commas that are not inside [ ] or quotes. */
export function splitPaths(source: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = "";
  let start = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "[") depth++;
    else if (c === "]") depth--;
    else if (c === "," && depth === 0) {
      out.push(source.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(source.slice(start).trim());
  return out.filter((s) => s !== "");
}

export function showPath(keys: ReadonlyArray<string | number>, upto: number): string {
  let s = "msg";
  for (let i = 0; i < upto; i++) {
    const k = keys[i];
    s += typeof k === "number" ? `[${k}]` : /^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`;
  }
  return s;
}

/** A value that is not there; says why only when asked (most missing optional fields never are). */
export class Missing {
  constructor(
    private readonly keys: ReadonlyArray<string | number>,
    private readonly depth: number,
    private readonly found: unknown,
  ) {}
  why(): string {
    if (this.depth === 0) return "msg is not an object";
    const at = showPath(this.keys, this.depth);
    if (this.found === undefined) return `${at} is missing`;
    return `${at} is ${typeName(this.found)}, not an object`;
  }
}

export class Absent {
  constructor(private readonly reason: string) {}
  why(): string {
    return this.reason;
  }
}

/** What a source reads: a value, or a Missing / Absent / ShapeError saying why there is none. */
export type Raw = unknown;

/**
 * Precompiled own-property walker (the shared `readOwnPath`): never reads inherited properties
 * (no prototype access). Built once per path at deploy, with its own reusable result holder.
 */
export function walker(keys: ReadonlyArray<string | number>): (msg: unknown) => Raw {
  const n = keys.length;
  const walk = newOwnPathWalk();
  return (msg) => {
    readOwnPath(msg, keys, walk);
    return walk.stoppedAt < n || walk.value === undefined
      ? new Missing(keys, walk.stoppedAt, walk.stoppedOn)
      : walk.value;
  };
}

/** A source value of a shape that cannot go into a field (an object where text is joined). */
export class ShapeError {
  constructor(readonly problem: string) {}
}
