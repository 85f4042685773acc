/**
 * The contract between the emulator's transport (server, limits, auth, faults, inspection)
 * and its domain modules (leads, programs, campaigns, activities, custom objects, forms, bulk).
 * Domain modules export route tables; the server matches a request, applies Marketo's gateway
 * rules (size, auth, limits, permissions, faults) and then calls the handler.
 */

/** Role permissions as Marketo's API role editor names them (Kaltura's guide uses these words). */
export type Permission =
  | "Read-Only Person"
  | "Read-Write Person"
  | "Read-Only Activity"
  | "Read-Write Activity"
  | "Read-Only Activity Metadata"
  | "Read-Write Activity Metadata"
  | "Read-Only Assets"
  | "Read-Write Assets"
  | "Read-Only Campaigns"
  | "Read-Write Campaigns"
  | "Read-Only Custom Objects"
  | "Read-Write Custom Objects";

export const ALL_PERMISSIONS: readonly Permission[] = [
  "Read-Only Person",
  "Read-Write Person",
  "Read-Only Activity",
  "Read-Write Activity",
  "Read-Only Activity Metadata",
  "Read-Write Activity Metadata",
  "Read-Only Assets",
  "Read-Write Assets",
  "Read-Only Campaigns",
  "Read-Write Campaigns",
  "Read-Only Custom Objects",
  "Read-Write Custom Objects",
];

/** A Marketo error code with its message, thrown by handlers to produce a response-level error. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** One record-level reason, as Marketo writes it in `reasons[]` / `errors[]`. */
export interface Reason {
  code: string;
  message: string;
}

/** A request after the server has parsed it; `_method` overrides are already applied. */
export interface EmuRequest {
  /** Effective method (after `_method=GET|DELETE` override). */
  method: "GET" | "POST" | "DELETE";
  /** Path without query string, e.g. `/rest/v1/leads.json`. */
  path: string;
  /** Path parameters from the route pattern (`:programId` → params.programId). */
  params: Record<string, string>;
  /** Query parameters merged with form-body parameters (for `_method` overrides and form posts). */
  query: URLSearchParams;
  /** Parsed JSON body (undefined when none). */
  body: unknown;
  /** Parsed multipart body for bulk endpoints. */
  form?: FormData;
  /** Client id of the API user that owns the token. */
  clientId: string;
}

export interface EmuResponse {
  /** HTTP status, 200 unless stated. */
  status?: number;
  /** JSON-serialisable body, or a string/Buffer for CSV downloads. */
  body: unknown;
  /** Content type for non-JSON bodies (e.g. `text/csv;charset=UTF-8`). */
  contentType?: string;
  /**
   * Whether this answer counts toward the rate window and daily quota. Marketo does not count
   * calls that fail with a response-level error; the server sets this from the envelope when
   * the handler leaves it undefined.
   */
  counted?: boolean;
}

export type Handler = (req: EmuRequest) => EmuResponse | Promise<EmuResponse>;

export interface RouteDef {
  method: "GET" | "POST" | "DELETE";
  /** Pattern with `:name` segments, e.g. `/rest/v1/programs/:programId/members/status.json`. */
  pattern: string;
  /** Any one of these permissions grants access; empty array = no permission needed. */
  permissions: Permission[];
  /** Path family, for body-size limits (bulk allows 10 MB) and envelope style (asset API). */
  family: "rest" | "asset" | "bulk";
  /** Marketo's server-side timeout for this call, in ms (604 after it); default 30 s. */
  timeoutMs?: number;
  /** Whether the call writes (faults with `applyBeforeFailure` run the handler first). */
  writes?: boolean;
  handler: Handler;
}

/** Marketo's field data types (lead fields, activity attributes, custom object fields). */
export type FieldDataType =
  | "string"
  | "text"
  | "email"
  | "phone"
  | "url"
  | "integer"
  | "float"
  | "currency"
  | "boolean"
  | "date"
  | "datetime"
  | "link"
  | "score"
  | "reference";

/** Lead field description used by describe, sync validation and bulk import. */
export interface LeadField {
  name: string;
  displayName: string;
  dataType: FieldDataType;
  length?: number;
  readOnly?: boolean;
  /** Usable as lookupField / filterType. */
  searchable?: boolean;
}

export interface Lead {
  id: number;
  createdAt: string;
  updatedAt: string;
  partition: string;
  [field: string]: unknown;
}

/**
 * What the leads module offers the other domain modules (form submit, bulk import,
 * program members, activities and custom objects need to find or upsert leads).
 */
export interface LeadsApi {
  fields(): LeadField[];
  byId(id: number): Lead | undefined;
  /** All leads whose field equals value (email compared case-insensitively). */
  find(field: string, value: unknown): Lead[];
  /**
   * Upsert one record the way Sync Leads does; returns Marketo's per-record result
   * (`{id, status: "created"|"updated"}` or `{status: "skipped", reasons}`).
   */
  sync(
    record: Record<string, unknown>,
    opts: { action?: string; lookupField?: string; partitionName?: string; acceptInvalidEmail?: boolean },
  ): { id?: number; status: string; reasons?: Reason[] };
  /** Removes a lead (Delete Leads); false when there is none with this id. */
  delete(id: number): boolean;
  all(): Lead[];
  clear(): void;
}

/** A domain module: its routes, a snapshot for `/_emulator/state`, and reset. */
export interface DomainModule {
  name: string;
  routes: RouteDef[];
  snapshot(): unknown;
  reset(): void;
}

/** Shared services the server hands to domain modules when it builds them. */
export interface DomainContext {
  leads: LeadsApi;
  /** Current time in ms; the server may scale or shift it. */
  now(): number;
  /** Next Marketo-style id for a table. */
  nextId(table: string): number;
  /** The seed options the emulator was started with. */
  seed: SeedOptions;
  /**
   * The emulator's live limits (the inspection API updates this object in place, so read it
   * when needed rather than copying values at construction). Bulk import uses
   * `importsRunning` / `importsQueued`.
   */
  limits?: Readonly<EmulatorLimits>;
  /** How long a bulk import job takes to move through its states, in ms. */
  importDelayMs?: number;
  /** The instance's Munchkin id, e.g. `123-ABC-456` (for URLs and cookies). */
  munchkinId?: string;
  /** The emulator's log sink (one line per call; never log secrets or tokens). */
  log?: (line: string) => void;
  /**
   * The transport's per-day usage, newest day first, for the stats routes.
   * Without it those routes answer an empty day.
   */
  usage?: () => UsageDay[];
  /** The date usage is counted on now (the quota day, moved on by a forced rollover). */
  usageDate?: () => string;
  /** How the emulator answers where Marketo's documentation and recorded answers disagree. */
  answers?: Readonly<AnswerOptions>;
}

/**
 * Answers Marketo's documentation and recorded traffic disagree on. The defaults follow the
 * recorded traffic where there is some, the documentation otherwise.
 */
export interface AnswerOptions {
  /**
   * Requested lead fields that hold no value: `"null"` answers them as `null` (booleans as
   * `false`), as recorded Get Leads answers show; `"omit"` leaves them out, which the
   * documentation allows ("implied to be null").
   */
  unsetLeadFields: "null" | "omit";
  /**
   * The reason code for a custom object whose lead link names no lead: `"1004"` (Lead not
   * found, as the documentation's example shows) or `"1003"`.
   */
  missingLinkedLead: "1004" | "1003";
}

export const DEFAULT_ANSWERS: Readonly<AnswerOptions> = { unsetLeadFields: "null", missingLinkedLead: "1004" };

/** One day of API usage as the transport counted it. */
export interface UsageDay {
  /** The day in America/Chicago (Marketo's quota day), `YYYY-MM-DD`. */
  date: string;
  /** Counted calls per API user (client id). */
  calls: Record<string, number>;
  /** Response-level error answers per Marketo code, e.g. `{"606": 3}`. */
  errors: Record<string, number>;
}

/** Gateway and queue limits of one emulated Marketo instance. */
export interface EmulatorLimits {
  /** Calls allowed in one rolling window (Marketo: 100). */
  callsPerWindow: number;
  /** Length of the rolling window in ms (Marketo: 20 000). */
  windowMs: number;
  /** Calls allowed in flight at once (Marketo: 10). */
  concurrency: number;
  /** Calls per day, reset at 00:00 America/Chicago (Marketo: 50 000 typical). */
  dailyQuota: number;
  /** Largest REST request body in bytes (1 MB). */
  maxBodyBytes: number;
  /** Largest bulk request body in bytes (10 MB). */
  maxBulkBodyBytes: number;
  /** Longest request URL in bytes (8 KB). */
  maxUrlBytes: number;
  /** Most records in one `input` array (300). */
  maxBatch: number;
  /** Bulk import jobs processing at once (2). */
  importsRunning: number;
  /** Bulk import jobs queued, processing ones included (10). */
  importsQueued: number;
  /** Most program members one Get Program Members query may match before it is refused with 1003 (100 000). */
  maxMembersQueried: number;
}

export interface SeedOptions {
  /** Seed the demo program, channels, campaigns, form, activity and custom object types. */
  enabled: boolean;
  /** Dedupe fields of the seeded `kalturaUserSessionEngagement` custom object. */
  engagementDedupeFields?: string[];
}
