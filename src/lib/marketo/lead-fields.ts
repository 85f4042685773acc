/**
 * Marketo lead fields this package knows without asking Marketo: the common standard fields,
 * with their REST names and types as describe reports them for a standard instance, and the
 * custom fields an event integration writes (eventCode, registrationCode, attendeeType,
 * externalId). The field-mapper offers them until a describe has been read, and
 * the emulator describes them, so both speak of the same fields.
 */
export interface StandardLeadField {
  name: string;
  displayName: string;
  dataType:
    "string" | "text" | "email" | "phone" | "url" | "integer" | "float" | "currency" | "boolean" | "date" | "datetime";
  length?: number;
  readOnly?: boolean;
}

export const STANDARD_LEAD_FIELDS: readonly StandardLeadField[] = Object.freeze(
  (
    [
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
      { name: "cookies", displayName: "Cookies", dataType: "string", length: 255 },
    ] satisfies StandardLeadField[]
  ).map((f) => Object.freeze(f)),
);
