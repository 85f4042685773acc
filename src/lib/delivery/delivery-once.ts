/**
 * What a message says about earlier attempts at its Marketo writes, for the writes Marketo does
 * not deduplicate (custom activities, campaign requests, form fills):
 * - `msg.marketo.acceptedAt`: when the flow's first Marketo node took the record in (journaled
 *   with it). An activity without a date of its own is dated by it, so every attempt sends the
 *   same activity and Marketo can be asked whether it arrived.
 * - `msg.marketo.resent`: the record runs again after a restart or redeploy; a call that carried
 *   it may have reached Marketo (from its acceptedAt on).
 * - `msg.marketo.unconfirmedSince`: the last attempt failed without Marketo saying whether the
 *   write arrived (a retry-queue resubmits it with this).
 */
import { isRecord } from "../node-kit/guards";

function marketoOf(msg: unknown): Record<string, unknown> | undefined {
  if (!isRecord(msg)) return undefined;
  const m = msg.marketo;
  return isRecord(m) ? m : undefined;
}

function time(v: unknown): number | undefined {
  const ms = typeof v === "number" ? v : typeof v === "string" ? Date.parse(v) : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

/** Marks a message as taken in now, unless an earlier Marketo node already did. */
export function stampAccepted(msg: Record<string, unknown>, now = Date.now()): void {
  const m = msg.marketo;
  if (m === undefined || m === null) msg.marketo = { acceptedAt: new Date(now).toISOString() };
  else if (isRecord(m) && time(m.acceptedAt) === undefined) m.acceptedAt = new Date(now).toISOString();
}

/** When the flow took the record in, if a Marketo node stamped it. */
export function acceptedAtOf(msg: unknown): number | undefined {
  return time(marketoOf(msg)?.acceptedAt);
}

/** Marks a message whose record runs again: its earlier run may have reached Marketo. */
export function markResent(msg: Record<string, unknown>, now = Date.now()): void {
  const m = marketoOf(msg);
  const since = new Date(acceptedAtOf(msg) ?? now).toISOString();
  if (m) m.resent = since;
  else msg.marketo = { resent: since };
}

/** From when an earlier attempt may have carried this message's write to Marketo, if one may have. */
export function unconfirmedSinceOf(msg: unknown): string | undefined {
  const m = marketoOf(msg);
  if (!m) return undefined;
  const times = [time(m.resent), time(m.unconfirmedSince)].filter((t): t is number => t !== undefined);
  return times.length ? new Date(Math.min(...times)).toISOString() : undefined;
}

/** A message tag-filter emitted again for a replay (it carries `msg.replay`): it waits behind live ones. */
export function isReplayed(msg: unknown): boolean {
  return msg !== null && typeof msg === "object" && Object.prototype.hasOwnProperty.call(msg, "replay");
}

/**
 * How a write Marketo does not deduplicate goes out for this message: asked about first when an
 * earlier attempt may have carried it, and behind live records when it is a replay's.
 */
export function writeOnceOptions(msg: unknown): { unconfirmedSince?: string; background?: boolean } {
  const since = unconfirmedSinceOf(msg);
  return { ...(since ? { unconfirmedSince: since } : {}), ...(isReplayed(msg) ? { background: true } : {}) };
}

/**
 * Marks a replayed event as a second arrival of its first run: taken in when the event first
 * arrived (the tag-filter stamps live events with that time), so an activity without a date of
 * its own gets the very same date, and resent from then on, so Marketo is asked which of its
 * activities, campaign requests and form fills it already holds before anything is sent.
 */
export function markReplayed(msg: Record<string, unknown>, arrivedAt: number): void {
  const at = new Date(arrivedAt).toISOString();
  const m = marketoOf(msg);
  if (m) {
    m.acceptedAt = at;
    m.resent = at;
  } else msg.marketo = { acceptedAt: at, resent: at };
}
