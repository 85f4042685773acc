/**
 * What the field-mapper knows about Marketo lead fields without asking Marketo: a built-in list
 * of common standard lead fields (the dialog's fallback until a marketo-config can run
 * describe), the default mapping rows for the package's event message, and the conversion of
 * Marketo's describe / describe2 answers into the cached `targetFields` list.
 */
import type { MappingRow, TargetField } from "./field-mapping-rows";
import { STANDARD_LEAD_FIELDS } from "../marketo/lead-fields";
import { isRecord } from "../node-kit/guards";

/** The dialog's fallback list: the standard lead fields one would map to (not the cookie). */
export const BUILTIN_TARGET_FIELDS: readonly TargetField[] = STANDARD_LEAD_FIELDS.filter((f) => f.name !== "cookies");

/**
 * The rows a new field-mapper starts with (kept identical to the `rows` default in
 * nodes/field-mapper.html; a test checks it). Certain's rule: First Name, Last Name and Email
 * are required by default.
 */
export const DEFAULT_ROWS: readonly MappingRow[] = Object.freeze(
  [
    {
      target: "email",
      sourceType: "msg",
      source: "payload.profile.email",
      separator: " ",
      trim: true,
      case: "lower",
      required: true,
      default: "",
    },
    {
      target: "firstName",
      sourceType: "msg",
      source: "payload.profile.firstName",
      separator: " ",
      trim: true,
      case: "proper",
      required: true,
      default: "",
    },
    {
      target: "lastName",
      sourceType: "msg",
      source: "payload.profile.lastName",
      separator: " ",
      trim: true,
      case: "proper",
      required: true,
      default: "",
    },
    {
      target: "company",
      sourceType: "msg",
      source: "payload.profile.company",
      separator: " ",
      trim: true,
      case: "none",
      required: false,
      default: "",
    },
    {
      target: "registrationCode",
      sourceType: "msg",
      source: "payload.registration.code",
      separator: " ",
      trim: true,
      case: "none",
      required: false,
      default: "",
    },
  ].map((r) => Object.freeze(r)),
) as readonly MappingRow[];

function obj(v: unknown): Record<string, unknown> | undefined {
  return isRecord(v) ? v : undefined;
}

function fieldFrom(
  name: unknown,
  displayName: unknown,
  dataType: unknown,
  length: unknown,
  readOnly: boolean,
): TargetField | undefined {
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
        if (f)
          push(fieldFrom(f.name, f.displayName, f.dataType, f.length, f.updateable === false || f.readOnly === true));
      }
    } else {
      const rest = obj(o.rest);
      if (rest) push(fieldFrom(rest.name, o.displayName, o.dataType, o.length, rest.readOnly === true));
    }
  }
  return out;
}
