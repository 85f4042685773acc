/**
 * Session engagement fields for marketo-custom-activity: the Kaltura preset (the custom object
 * and custom activity tables of Kaltura's Marketo guide), the custom field list a user edits,
 * and the coercion of one value to the type Marketo declares for it. No Node-RED import.
 */
import { isRecord, UNSAFE_KEYS } from "../node-kit/guards";

/** Marketo's field data types, as describe names them (lower-cased). */
export const ENGAGEMENT_TYPES = [
  "string",
  "text",
  "integer",
  "float",
  "boolean",
  "date",
  "datetime",
  "email",
  "link",
  "url",
  "phone",
  "currency",
  "score",
  "reference",
] as const;
export type EngagementType = (typeof ENGAGEMENT_TYPES)[number];

export interface EngagementField {
  /** The engagement property and the Marketo attribute/field API name (the same by design). */
  name: string;
  type: EngagementType;
}

export const PRESET_NAMES = ["kaltura", "custom"] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

const f = (name: string, type: EngagementType): EngagementField => ({ name, type });

/**
 * The Kaltura guide's engagement fields with its typos read as meant: "floor" and "itoat" are
 * float, the duplicated "high live engagement rate" row is one field, and the name the custom
 * object table wraps over two lines ("combined_live_engaged_" / "users_play_time_ratio") is
 * one field. `personId` (the custom object's link to the lead) is not an engagement field: the
 * node fills it from the lead.
 */
export const KALTURA_ENGAGEMENT_FIELDS: readonly EngagementField[] = Object.freeze([
  f("entry_id", "string"),
  f("entry_name", "string"),
  f("email", "string"),
  f("user", "string"),
  f("channel_id", "integer"),
  f("channel_name", "string"),
  f("plays", "integer"),
  f("vod_minutes_viewed", "float"),
  f("live_minutes_viewed", "float"),
  f("total_vod_completion_rate", "float"),
  f("no_live_engagement_rate", "float"),
  f("low_live_engagement_rate", "float"),
  f("fair_live_engagement_rate", "float"),
  f("good_live_engagement_rate", "float"),
  f("high_live_engagement_rate", "float"),
  f("clap_clicked_count", "integer"),
  f("heart_clicked_count", "integer"),
  f("think_clicked_count", "integer"),
  f("wow_clicked_count", "integer"),
  f("smile_clicked_count", "integer"),
  f("answered_polls", "integer"),
  f("messages_sent_group", "integer"),
  f("qna_threads", "integer"),
  f("combined_live_engaged_users_play_time_ratio", "float"),
  f("download_attachment", "integer"),
  f("add_to_calendar", "integer"),
  f("mic_on", "float"),
  f("cam_on", "float"),
  f("total_reactions_activity", "integer"),
  f("raise_hand", "integer"),
]);

/**
 * The guide's custom activity table is shorter than its custom object table: the activity has
 * entry_id (its primary attribute) and the first nineteen fields, up to the reaction counts. The
 * other ten go to the custom object only, so an activity type set up by the guide lacks them by
 * design, not by mistake, and nothing needs saying about them.
 */
export const KALTURA_ACTIVITY_FIELD_COUNT = 20;

/** A Marketo API name: letters, digits and underscores, not starting with a digit. */
export const API_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isApiName(v: unknown): v is string {
  return typeof v === "string" && API_NAME.test(v) && !UNSAFE_KEYS.has(v);
}

export function toEngagementType(v: unknown): EngagementType | undefined {
  const s = typeof v === "string" ? v.trim().toLowerCase() : "";
  return (ENGAGEMENT_TYPES as readonly string[]).includes(s) ? (s as EngagementType) : undefined;
}

/**
 * The fields a node sends: the preset's for its target (custom activity or custom object), or the
 * custom rows checked (problems say what is wrong).
 */
export function engagementFields(
  preset: unknown,
  rows: unknown,
  target: "activity" | "customObject" = "customObject",
): { fields: EngagementField[]; problems: string[] } {
  if (preset === undefined || preset === null || preset === "" || preset === "kaltura") {
    const list =
      target === "activity"
        ? KALTURA_ENGAGEMENT_FIELDS.slice(0, KALTURA_ACTIVITY_FIELD_COUNT)
        : KALTURA_ENGAGEMENT_FIELDS;
    return { fields: list.map((x) => ({ ...x })), problems: [] };
  }
  if (preset !== "custom")
    return { fields: [], problems: [`unknown preset ${JSON.stringify(preset)} (kaltura or custom)`] };
  const problems: string[] = [];
  const fields: EngagementField[] = [];
  if (!Array.isArray(rows) || rows.length === 0) return { fields, problems: ["the custom preset has no fields"] };
  const seen = new Set<string>();
  rows.forEach((row, i) => {
    const name = isRecord(row) && typeof row.name === "string" ? row.name.trim() : "";
    const type = isRecord(row) ? toEngagementType(row.type) : undefined;
    if (!isApiName(name)) {
      problems.push(`field ${i + 1}: ${JSON.stringify(name)} is not a Marketo API name`);
      return;
    }
    if (!type) {
      problems.push(`field ${name}: unknown type ${JSON.stringify(isRecord(row) ? row.type : undefined)}`);
      return;
    }
    if (seen.has(name)) {
      problems.push(`field ${name} is listed twice`);
      return;
    }
    seen.add(name);
    fields.push({ name, type });
  });
  return { fields, problems };
}

export type Coerced = { ok: true; value: unknown } | { ok: false; message: string };

/** Marketo's longest `string` value; `text` has no such limit here. */
export const MAX_STRING_LENGTH = 255;
const INTEGER = /^[+-]?\d+(\.0*)?$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const NOT_SENT: Coerced = { ok: true, value: undefined };

/** A value as it goes into a short message: quoted, at most 40 characters. */
export function shown(v: unknown): string {
  let s: string;
  try {
    s =
      typeof v === "string"
        ? JSON.stringify(v)
        : v instanceof Date
          ? v.toISOString()
          : (JSON.stringify(v) ?? String(v));
  } catch {
    s = Object.prototype.toString.call(v);
  }
  return s.length > 40 ? `${s.slice(0, 39)}…` : s;
}

/** A date from an ISO text, a Date, or epoch time (numbers below 10^11 are seconds). */
export function toTime(v: unknown): number | undefined {
  let ms: number;
  if (v instanceof Date) ms = v.getTime();
  else if (typeof v === "number") ms = Math.abs(v) < 1e11 ? v * 1000 : v;
  else if (typeof v === "string" && v.trim() !== "") {
    const t = v.trim();
    ms = /^\d+$/.test(t) ? (toTime(Number(t)) ?? NaN) : Date.parse(t);
  } else return undefined;
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? ms : undefined;
}

/**
 * One value for a field of `type`. Absent values (undefined, null, and "" for non-text types)
 * come back as `value: undefined`: the field is not sent. A value that does not fit fails with
 * a short message naming the field and the value.
 */
export function coerceValue(name: string, type: string, value: unknown, length?: number): Coerced {
  if (value === undefined || value === null) return NOT_SENT;
  const bad = (what: string): Coerced => ({ ok: false, message: `${name}: ${shown(value)} is not ${what}` });
  const scalar = typeof value === "string" || typeof value === "number" || typeof value === "boolean";
  switch (type) {
    case "string":
    case "text":
    case "url":
    case "phone":
    case "reference": {
      if (!scalar) return bad("text");
      if (typeof value === "number" && !Number.isFinite(value)) return bad("text");
      const text = String(value);
      const max = type === "text" ? length : (length ?? MAX_STRING_LENGTH);
      if (max !== undefined && text.length > max)
        return { ok: false, message: `${name}: ${text.length} characters, at most ${max}` };
      return { ok: true, value: text };
    }
    case "email": {
      if (value === "") return NOT_SENT;
      const text = typeof value === "string" ? value.trim() : "";
      return EMAIL.test(text) && text.length <= MAX_STRING_LENGTH ? { ok: true, value: text } : bad("an email address");
    }
    case "integer":
    case "score":
    case "link": {
      if (value === "") return NOT_SENT;
      const n =
        typeof value === "number"
          ? value
          : typeof value === "string" && INTEGER.test(value.trim())
            ? Number(value.trim())
            : NaN;
      return Number.isSafeInteger(n) ? { ok: true, value: n } : bad("a whole number");
    }
    case "float":
    case "currency": {
      if (value === "") return NOT_SENT;
      const n =
        typeof value === "number"
          ? value
          : typeof value === "string" && NUMBER.test(value.trim())
            ? Number(value.trim())
            : NaN;
      return Number.isFinite(n) ? { ok: true, value: n } : bad("a number");
    }
    case "boolean": {
      if (value === "") return NOT_SENT;
      if (typeof value === "boolean") return { ok: true, value };
      const s = String(value).trim().toLowerCase();
      if (s === "true" || s === "1" || s === "yes") return { ok: true, value: true };
      if (s === "false" || s === "0" || s === "no") return { ok: true, value: false };
      return bad("true or false");
    }
    case "date": {
      if (value === "") return NOT_SENT;
      if (typeof value === "string" && DAY.test(value.trim())) {
        const t = value.trim();
        const d = new Date(`${t}T00:00:00Z`);
        return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === t
          ? { ok: true, value: t }
          : bad("a date");
      }
      const ms = toTime(value);
      return ms === undefined ? bad("a date") : { ok: true, value: new Date(ms).toISOString().slice(0, 10) };
    }
    case "datetime": {
      if (value === "") return NOT_SENT;
      const ms = toTime(value);
      return ms === undefined ? bad("a date-time") : { ok: true, value: new Date(ms).toISOString() };
    }
    default:
      // A type this node does not know: Marketo judges the value.
      return scalar ? { ok: true, value } : bad(`a ${type} value`);
  }
}

/** Where the activity date is looked for in the engagement, in this order. */
export const ENGAGEMENT_DATE_KEYS = ["activityDate", "timestamp"] as const;

/** The engagement's own date, if it has one. */
export function engagementDate(engagement: Record<string, unknown>): unknown {
  for (const k of ENGAGEMENT_DATE_KEYS) {
    if (Object.prototype.hasOwnProperty.call(engagement, k)) {
      const v = engagement[k];
      if (v !== undefined && v !== null && v !== "") return v;
    }
  }
  return undefined;
}

/**
 * The activity date Marketo gets (ISO 8601): the value when one is given, now when it is
 * absent; a value given that is no date fails.
 */
export function activityDate(
  value: unknown,
  now: number,
): { ok: true; value: string } | { ok: false; message: string } {
  if (value === undefined || value === null || value === "") return { ok: true, value: new Date(now).toISOString() };
  const ms = toTime(value);
  return ms === undefined
    ? { ok: false, message: `activity date: ${shown(value)} is not a date` }
    : { ok: true, value: new Date(ms).toISOString() };
}
