/**
 * What the field-mapper knows about Marketo lead fields without asking Marketo: a built-in list
 * of common standard lead fields (the dialog's fallback until a marketo-config can run
 * describe), the default mapping rows for the package's event message, and the conversion of
 * Marketo's describe / describe2 answers into the cached `targetFields` list.
 */
import type { MappingRow, TargetField } from "./field-mapping";

/**
 * Common Marketo lead fields (REST names and types as Marketo's describe reports them for a
 * standard instance; reference §6.3). Custom fields (eventCode, registrationCode, attendeeType)
 * are the ones this package's emulator describes for an event integration.
 */
export const BUILTIN_TARGET_FIELDS: readonly TargetField[] = Object.freeze([
  { name: "email", displayName: "Email Address", dataType: "email", length: 255 },
  { name: "firstName", displayName: "First Name", dataType: "string", length: 255 },
  { name: "lastName", displayName: "Last Name", dataType: "string", length: 255 },
  { name: "company", displayName: "Company Name", dataType: "string", length: 255 },
  { name: "title", displayName: "Job Title", dataType: "string", length: 255 },
  { name: "phone", displayName: "Phone Number", dataType: "phone", length: 255 },
  { name: "mobilePhone", displayName: "Mobile Phone Number", dataType: "phone", length: 255 },
  { name: "address", displayName: "Address", dataType: "text" },
  { name: "city", displayName: "City", dataType: "string", length: 255 },
  { name: "state", displayName: "State", dataType: "string", length: 255 },
  { name: "country", displayName: "Country", dataType: "string", length: 255 },
  { name: "postalCode", displayName: "Postal Code", dataType: "string", length: 255 },
  { name: "website", displayName: "Website", dataType: "url", length: 255 },
  { name: "industry", displayName: "Industry", dataType: "string", length: 255 },
  { name: "leadSource", displayName: "Person Source", dataType: "string", length: 255 },
  { name: "leadStatus", displayName: "Lead Status", dataType: "string", length: 255 },
  { name: "leadScore", displayName: "Lead Score", dataType: "integer" },
  { name: "numberOfEmployees", displayName: "Num Employees", dataType: "integer" },
  { name: "annualRevenue", displayName: "Annual Revenue", dataType: "currency" },
  { name: "unsubscribed", displayName: "Unsubscribed", dataType: "boolean" },
  { name: "dateOfBirth", displayName: "Date of Birth", dataType: "date" },
  { name: "externalId", displayName: "External Id", dataType: "string", length: 255 },
  { name: "eventCode", displayName: "Event Code", dataType: "string", length: 255 },
  { name: "registrationCode", displayName: "Registration Code", dataType: "string", length: 255 },
  { name: "attendeeType", displayName: "Attendee Type", dataType: "string", length: 255 },
  { name: "id", displayName: "Id", dataType: "integer", readOnly: true },
  { name: "createdAt", displayName: "Created At", dataType: "datetime", readOnly: true },
  { name: "updatedAt", displayName: "Updated At", dataType: "datetime", readOnly: true },
].map((f) => Object.freeze(f)));

/**
 * The rows a new field-mapper starts with (kept identical to the `rows` default in
 * nodes/field-mapper.html; a test checks it). Certain's rule: First Name, Last Name and Email
 * are required by default.
 */
export const DEFAULT_ROWS: readonly MappingRow[] = Object.freeze([
  { target: "email", sourceType: "msg", source: "payload.profile.email", separator: " ", trim: true, case: "lower", required: true, default: "" },
  { target: "firstName", sourceType: "msg", source: "payload.profile.firstName", separator: " ", trim: true, case: "proper", required: true, default: "" },
  { target: "lastName", sourceType: "msg", source: "payload.profile.lastName", separator: " ", trim: true, case: "proper", required: true, default: "" },
  { target: "company", sourceType: "msg", source: "payload.profile.company", separator: " ", trim: true, case: "none", required: false, default: "" },
  { target: "registrationCode", sourceType: "msg", source: "payload.registration.code", separator: " ", trim: true, case: "none", required: false, default: "" },
].map((r) => Object.freeze(r))) as readonly MappingRow[];

function obj(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function fieldFrom(name: unknown, displayName: unknown, dataType: unknown, length: unknown, readOnly: boolean): TargetField | undefined {
  if (typeof name !== "string" || name === "" || typeof dataType !== "string") return undefined;
  const f: TargetField = { name, displayName: typeof displayName === "string" ? displayName : name, dataType };
  if (typeof length === "number" && Number.isFinite(length) && length > 0) f.length = length;
  if (readOnly) f.readOnly = true;
  return f;
}

/**
 * Turns Marketo's describe2 answer (`[{name, fields:[{name, dataType, length, updateable}]}]`)
 * or the legacy describe answer (`[{displayName, dataType, length, rest:{name, readOnly}}]`) into
 * the `targetFields` the node caches. Fields without a REST name are not usable and are dropped.
 */
export function targetFieldsFromDescribe(result: unknown): TargetField[] {
  if (!Array.isArray(result)) return [];
  const out: TargetField[] = [];
  const seen = new Set<string>();
  const push = (f: TargetField | undefined): void => {
    if (f && !seen.has(f.name)) {
      seen.add(f.name);
      out.push(f);
    }
  };
  for (const item of result) {
    const o = obj(item);
    if (!o) continue;
    if (Array.isArray(o.fields)) {
      for (const raw of o.fields) {
        const f = obj(raw);
        if (f) push(fieldFrom(f.name, f.displayName, f.dataType, f.length, f.updateable === false || f.readOnly === true));
      }
    } else {
      const rest = obj(o.rest);
      if (rest) push(fieldFrom(rest.name, o.displayName, o.dataType, o.length, rest.readOnly === true));
    }
  }
  return out;
}
