/** Which entries a command, a route or a person means: {ids?, integration?, state?, category?}. */
import { isObject, STATES, type Filter, type RetryEntry } from "./retry-entry";

function stringList(v: unknown, what: string): { ok: true; list?: string[] } | { ok: false; reason: string } {
  if (v === undefined || v === null) return { ok: true };
  if (typeof v === "string") return { ok: true, list: [v] };
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return { ok: true, list: v as string[] };
  return { ok: false, reason: `${what} must be a string or an array of strings` };
}

/** A filter from a command or a route body: {ids?, integration?, state?, category?}. */
export function parseFilter(v: unknown): { ok: true; filter: Filter } | { ok: false; reason: string } {
  if (v === undefined || v === null) return { ok: true, filter: {} };
  if (!isObject(v)) return { ok: false, reason: 'the filter must be an object like {"state": "held"}' };
  const filter: Filter = {};
  for (const key of Object.keys(v)) {
    if (!["ids", "integration", "state", "category"].includes(key))
      return { ok: false, reason: `unknown filter field "${key}" (use ids, integration, state, category)` };
  }
  for (const key of ["ids", "integration", "state", "category"] as const) {
    const r = stringList(v[key], key);
    if (!r.ok) return r;
    if (r.list) (filter as Record<string, string[]>)[key] = r.list;
  }
  const badState = filter.state?.find((s) => !STATES.includes(s));
  if (badState !== undefined) return { ok: false, reason: `unknown state "${badState}" (use ${STATES.join(", ")})` };
  return { ok: true, filter };
}

export function matches(entry: RetryEntry, f: Filter): boolean {
  if (f.ids && !f.ids.includes(entry.id)) return false;
  if (f.state && !f.state.includes(entry.state)) return false;
  if (f.category && !f.category.includes(entry.category)) return false;
  if (f.integration) {
    const i = entry.integration;
    if (!f.integration.some((x) => x === i.id || (i.name !== "" && x === i.name) || x === i.type)) return false;
  }
  return true;
}
