import type { LeadField } from "./types";

/**
 * The lead schema: a realistic slice of Marketo's standard fields plus the custom fields an
 * event integration writes. `searchable` fields are the ones describe2 lists as
 * searchableFields, usable as filterType and lookupField.
 */
export const LEAD_FIELDS: readonly LeadField[] = [
  { name: "id", displayName: "Id", dataType: "integer", readOnly: true, searchable: true },
  { name: "email", displayName: "Email Address", dataType: "email", length: 255, searchable: true },
  { name: "firstName", displayName: "First Name", dataType: "string", length: 255 },
  { name: "lastName", displayName: "Last Name", dataType: "string", length: 255 },
  { name: "company", displayName: "Company Name", dataType: "string", length: 255 },
  { name: "title", displayName: "Job Title", dataType: "string", length: 255 },
  { name: "phone", displayName: "Phone Number", dataType: "phone", length: 255 },
  { name: "address", displayName: "Address", dataType: "text" },
  { name: "city", displayName: "City", dataType: "string", length: 255 },
  { name: "state", displayName: "State", dataType: "string", length: 255 },
  { name: "country", displayName: "Country", dataType: "string", length: 255 },
  { name: "postalCode", displayName: "Postal Code", dataType: "string", length: 255 },
  { name: "website", displayName: "Website", dataType: "url", length: 255 },
  { name: "leadSource", displayName: "Person Source", dataType: "string", length: 255 },
  { name: "leadScore", displayName: "Lead Score", dataType: "integer" },
  { name: "numberOfEmployees", displayName: "Num Employees", dataType: "integer" },
  { name: "annualRevenue", displayName: "Annual Revenue", dataType: "currency" },
  { name: "unsubscribed", displayName: "Unsubscribed", dataType: "boolean" },
  { name: "dateOfBirth", displayName: "Date of Birth", dataType: "date" },
  { name: "createdAt", displayName: "Created At", dataType: "datetime", readOnly: true },
  { name: "updatedAt", displayName: "Updated At", dataType: "datetime", readOnly: true },
  { name: "cookies", displayName: "Cookies", dataType: "string", length: 255, searchable: true },
  { name: "externalId", displayName: "External Id", dataType: "string", length: 255, searchable: true },
  { name: "eventCode", displayName: "Event Code", dataType: "string", length: 255 },
  { name: "registrationCode", displayName: "Registration Code", dataType: "string", length: 255 },
  { name: "attendeeType", displayName: "Attendee Type", dataType: "string", length: 255 },
];

const BY_NAME = new Map(LEAD_FIELDS.map((f) => [f.name, f]));

export function leadField(name: string): LeadField | undefined {
  return BY_NAME.get(name);
}

export type Coerced = { ok: true; value: unknown } | { ok: false; message: string };

const STRING_TYPES = new Set<LeadField["dataType"]>(["string", "text", "phone", "url", "email", "reference"]);
// Marketo requires ASCII email addresses (reference §6.1).
const EMAIL = /^[\x21-\x3f\x41-\x7e]+@[\x21-\x3f\x41-\x7e]+\.[\x21-\x3f\x41-\x7e]+$/;
const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Converts a value sent by a client into the stored form, as Sync Leads validates it. */
export function coerce(field: LeadField, value: unknown): Coerced {
  if (value === null || value === undefined) return { ok: true, value: null };
  const bad: Coerced = { ok: false, message: `Invalid value for field '${field.name}' and value '${show(value)}'` };
  if (typeof value === "object") return bad;
  if (STRING_TYPES.has(field.dataType)) {
    const s = String(value);
    if (field.length !== undefined && s.length > field.length) {
      return { ok: false, message: `Value for field '${field.name}' exceeds max length ${field.length}` };
    }
    if (field.dataType === "email" && s !== "" && !EMAIL.test(s)) return bad;
    return { ok: true, value: s };
  }
  // CSV imports and form posts send empty cells for "no value".
  if (value === "") return { ok: true, value: null };
  switch (field.dataType) {
    case "integer":
    case "score": {
      const n = typeof value === "number" ? value : INTEGER.test(String(value).trim()) ? Number(String(value).trim()) : NaN;
      return Number.isSafeInteger(n) ? { ok: true, value: n } : bad;
    }
    case "float":
    case "currency": {
      const n = typeof value === "number" ? value : DECIMAL.test(String(value).trim()) ? Number(String(value).trim()) : NaN;
      return Number.isFinite(n) ? { ok: true, value: n } : bad;
    }
    case "boolean": {
      const s = String(value).trim().toLowerCase();
      if (["true", "1", "yes"].includes(s)) return { ok: true, value: true };
      if (["false", "0", "no"].includes(s)) return { ok: true, value: false };
      return bad;
    }
    case "date": {
      const s = String(value).trim().slice(0, 10);
      const m = DATE.exec(s);
      if (!m) return bad;
      const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
      return d.toISOString().slice(0, 10) === s ? { ok: true, value: s } : bad;
    }
    case "datetime": {
      if (typeof value !== "string") return bad;
      const t = Date.parse(value);
      return Number.isNaN(t) ? bad : { ok: true, value: isoSeconds(t) };
    }
    default:
      return bad;
  }
}

/** Lead-DB date-times: ISO-8601 in UTC without milliseconds (`2016-05-17T22:11:45Z`). */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function show(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
}
