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
