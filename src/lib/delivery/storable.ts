/**
 * Messages kept on disk (the action nodes' journals, the retry queue) must be JSON: a Node-RED
 * message may hold http-in's req/res, sockets, functions, BigInts and cycles.
 */

/**
 * A JSON-safe deep copy: functions and symbols dropped, BigInts as strings, non-finite numbers
 * as null, `toJSON` honoured (Buffer, Date). Only a reference back to an ancestor (a cycle) is
 * dropped; the same object reached twice side by side is copied twice, as JSON would.
 */
export function jsonSafe(value: unknown, ancestors: Set<object> = new Set()): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : null;
    case "bigint":
      return value.toString();
    case "function":
    case "symbol":
    case "undefined":
      return undefined;
  }
  if (value === null) return null;
  const obj = value as object;
  if (ancestors.has(obj)) return undefined;
  const toJSON = (obj as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") return jsonSafe(toJSON.call(obj), ancestors);
  ancestors.add(obj);
  try {
    if (Array.isArray(obj)) {
      return obj.map((v) => {
        const c = jsonSafe(v, ancestors);
        return c === undefined ? null : c;
      });
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      const c = jsonSafe(v, ancestors);
      // defineProperty: a "__proto__" key from JSON.parse stays a key, not a prototype.
      if (c !== undefined)
        Object.defineProperty(out, k, { value: c, enumerable: true, writable: true, configurable: true });
    }
    return out;
  } finally {
    ancestors.delete(obj);
  }
}

/** A JSON-safe copy of a message without the named properties. */
export function jsonSafeMessage(
  msg: Record<string, unknown>,
  omit: (key: string, value: unknown) => boolean,
): Record<string, unknown> {
  const shell: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(msg)) {
    if (!omit(k, v)) shell[k] = v;
  }
  return jsonSafe(shell) as Record<string, unknown>;
}
