import { STANDARD_LEAD_FIELDS } from "../lib/marketo/lead-fields";
import type { LeadField } from "./types";

/**
 * The emulated instance's lead schema: the standard fields the package knows, plus which of
 * them describe2 lists as searchableFields (usable as filterType and lookupField).
 */
export const SEARCHABLE_FIELDS: readonly string[] = ["id", "email", "cookies", "externalId"];
const SEARCHABLE = new Set(SEARCHABLE_FIELDS);

export const LEAD_FIELDS: readonly LeadField[] = STANDARD_LEAD_FIELDS.map((f) =>
  SEARCHABLE.has(f.name) ? { ...f, searchable: true } : { ...f },
);

const BY_NAME = new Map(LEAD_FIELDS.map((f) => [f.name, f]));

export function leadField(name: string): LeadField | undefined {
  return BY_NAME.get(name);
}
