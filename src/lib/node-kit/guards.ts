/**
 * Small checks every layer needs. This file imports nothing, so the Marketo client, the
 * emulator, the flow logic and the nodes can all use it without depending on one another.
 */

/** A plain object: not null, not an array. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Keys that reach an object's prototype when assigned: a record, a field name or a path step
 * with one of these names would change how every object behaves, so they are never written.
 */
export const UNSAFE_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/** True for `__proto__`, `constructor` and `prototype`. */
export function isUnsafeKey(key: string | number): boolean {
  return typeof key === "string" && UNSAFE_KEYS.has(key);
}

/** The text of anything thrown: an Error's message, anything else as a string. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Anything thrown as an Error, for done(err) and node.error: an Error as it is, anything else wrapped. */
export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
