import { ok } from "./envelope";
import { LEAD_FIELDS, SEARCHABLE_FIELDS, leadField } from "./leadFields";
import { LeadStore, SYNC_ACTIONS } from "./leadStore";
import { decodePagingToken, encodePagingToken } from "./pagingToken";
import {
  ApiError,
  type DomainContext,
  type DomainModule,
  type EmuRequest,
  type EmuResponse,
  type Lead,
  type LeadsApi,
  type Permission,
  type RouteDef,
} from "./types";

const READ: Permission[] = ["Read-Only Person", "Read-Write Person"];
const WRITE: Permission[] = ["Read-Write Person"];
/** Get Leads without `fields`, in the order recorded answers list them (after `id`). */
const DEFAULT_FIELDS = ["id", "firstName", "lastName", "email", "updatedAt", "createdAt"];
/**
 * Fields describe names for REST only: a recorded describe answer gives `createdAt`,
 * `updatedAt` and `cookies` a `rest` name and no `soap` one.
 */
const REST_ONLY = new Set(["createdAt", "updatedAt", "cookies"]);
/** Get Leads by Filter refuses filters that match more than this many leads. */
const MAX_FILTER_MATCHES = 1000;
const MAX_PAGE = 300;

/** The leads domain: Sync/Get/Describe/Push routes over a LeadStore. */
export function createLeadsModule(ctx: DomainContext): DomainModule & LeadsApi {
  // No seeded leads: tests and demos count the leads they create, so the table starts empty.
  const store = new LeadStore(ctx);

  const maxBatch = (): number => ctx.limits?.maxBatch ?? 300;
  const unset = (): UnsetFields => ctx.answers?.unsetLeadFields ?? "null";

  const routes: RouteDef[] = [
    {
      method: "POST",
      pattern: "/rest/v1/leads.json",
      permissions: WRITE,
      family: "rest",
      timeoutMs: 90_000,
      writes: true,
      handler: (req) => syncLeads(store, req),
    },
    {
      method: "GET",
      pattern: "/rest/v1/leads.json",
      permissions: READ,
      family: "rest",
      timeoutMs: 60_000,
      handler: (req) => getLeads(store, req, maxBatch(), unset()),
    },
    {
      method: "GET",
      pattern: "/rest/v1/lead/:id.json",
      permissions: READ,
      family: "rest",
      handler: (req) => getLead(store, req, unset()),
    },
    // Delete Leads, and the older `POST /rest/v1/leads.json?_method=DELETE` recorded clients send.
    {
      method: "POST",
      pattern: "/rest/v1/leads/delete.json",
      permissions: WRITE,
      family: "rest",
      writes: true,
      handler: (req) => deleteLeads(store, req, maxBatch()),
    },
    {
      method: "DELETE",
      pattern: "/rest/v1/leads.json",
      permissions: WRITE,
      family: "rest",
      writes: true,
      handler: (req) => deleteLeads(store, req, maxBatch()),
    },
    {
      method: "GET",
      pattern: "/rest/v1/leads/describe.json",
      permissions: READ,
      family: "rest",
      handler: () => describe(),
    },
    {
      method: "GET",
      pattern: "/rest/v1/leads/describe2.json",
      permissions: READ,
      family: "rest",
      handler: () => describe2(),
    },
    {
      method: "POST",
      pattern: "/rest/v1/leads/push.json",
      permissions: WRITE,
      family: "rest",
      timeoutMs: 90_000,
      writes: true,
      handler: (req) => pushLeads(store, req),
    },
  ];

  return {
    name: "leads",
    routes,
    snapshot: () => store.all(),
    reset: () => store.clear(),
    fields: () => store.fields(),
    byId: (id) => store.byId(id),
    find: (field, value) => store.find(field, value),
    sync: (record, opts) => store.sync(record, opts),
    delete: (id) => store.delete(id),
    all: () => store.all(),
    clear: () => store.clear(),
  };
}

function bodyObject(req: EmuRequest): Record<string, unknown> {
  const b = req.body;
  if (b === undefined || b === null) return {};
  if (typeof b !== "object" || Array.isArray(b)) throw new ApiError("1003", "Request body must be a JSON object");
  return b as Record<string, unknown>;
}

function inputOf(body: Record<string, unknown>): unknown[] {
  const input = body.input;
  if (input === undefined || input === null || (Array.isArray(input) && input.length === 0)) {
    throw new ApiError("701", "input cannot be blank");
  }
  if (!Array.isArray(input)) throw new ApiError("1003", "Invalid value for field 'input': expected an array");
  return input;
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new ApiError("1003", `Invalid value for field '${key}'`);
  return v;
}

/** Response-level lookupField checks (the per-record ones live in LeadStore.sync). */
function checkLookupField(lookupField: string): void {
  const def = leadField(lookupField);
  if (!def) throw new ApiError("1006", `Lookup field '${lookupField}' not found`);
  if (!def.searchable) throw new ApiError("1011", `Field '${lookupField}' not supported`);
}

function syncLeads(store: LeadStore, req: EmuRequest): EmuResponse {
  const body = bodyObject(req);
  const input = inputOf(body);
  const action = optionalString(body, "action") ?? "createOrUpdate";
  if (!(SYNC_ACTIONS as readonly string[]).includes(action)) {
    throw new ApiError("1003", `Invalid action '${action}'`);
  }
  const lookupField = optionalString(body, "lookupField") ?? "email";
  checkLookupField(lookupField);
  const partitionName = optionalString(body, "partitionName");
  const result = input.map((record) =>
    store.sync(record as Record<string, unknown>, { action, lookupField, partitionName }),
  );
  return { body: ok(result) };
}

function pushLeads(store: LeadStore, req: EmuRequest): EmuResponse {
  const body = bodyObject(req);
  const programName = optionalString(body, "programName");
  if (!programName) throw new ApiError("701", "programName cannot be blank");
  const input = inputOf(body);
  const lookupField = optionalString(body, "lookupField") ?? "email";
  checkLookupField(lookupField);
  const partitionName = optionalString(body, "partitionName");
  const result = input.map((record) =>
    store.sync(record as Record<string, unknown>, { action: "createOrUpdate", lookupField, partitionName }),
  );
  return { body: ok(result, { warnings: [] }) };
}

export type UnsetFields = "null" | "omit";

/** The `fields` parameter of a lead read, checked against the schema; the default set without one. */
export function requestedLeadFields(req: EmuRequest): string[] {
  const raw = req.query.get("fields");
  if (!raw) return DEFAULT_FIELDS;
  const fields = raw
    .split(",")
    .map((f) => f.trim())
    .filter((f) => f !== "");
  for (const f of fields) {
    if (!leadField(f)) throw new ApiError("1006", `Field '${f}' not found`);
  }
  return fields.length > 0 ? fields : DEFAULT_FIELDS;
}

/**
 * A lead as Marketo returns it: `id` first, then each requested field in the order asked.
 * Recorded answers carry every requested field, `null` when unset and `false` for an unset
 * boolean; `unset: "omit"` leaves such fields out instead.
 */
export function leadRecord(lead: Lead, fields: readonly string[], unset: UnsetFields): Record<string, unknown> {
  const out: Record<string, unknown> = { id: lead.id };
  for (const f of fields) {
    if (f === "id") continue;
    const v = lead[f];
    if (v !== null && v !== undefined) out[f] = v;
    else if (unset === "null") out[f] = leadField(f)?.dataType === "boolean" ? false : null;
  }
  return out;
}

function positiveInt(raw: string | null, name: string, max: number): number | undefined {
  if (raw === null || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new ApiError("1003", `Invalid value for field '${name}' and value '${raw}'`);
  }
  return n;
}

function getLeads(store: LeadStore, req: EmuRequest, maxValues: number, unset: UnsetFields): EmuResponse {
  const filterType = req.query.get("filterType");
  if (!filterType) throw new ApiError("701", "filterType cannot be blank");
  const def = leadField(filterType);
  if (!def) throw new ApiError("1006", `Field '${filterType}' not found`);
  if (!def.searchable) throw new ApiError("1011", `Field '${filterType}' not supported`);
  const rawValues = req.query.get("filterValues");
  if (!rawValues) throw new ApiError("701", "filterValues cannot be blank");
  const values = rawValues
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v !== "");
  if (values.length === 0) throw new ApiError("701", "filterValues cannot be blank");
  if (values.length > maxValues) {
    throw new ApiError("1003", `Too many filterValues: ${values.length} (max ${maxValues})`);
  }
  const fields = requestedLeadFields(req);
  const batchSize = positiveInt(req.query.get("batchSize"), "batchSize", MAX_PAGE) ?? MAX_PAGE;
  const token = req.query.get("nextPageToken");
  let offset = 0;
  if (token) {
    const decoded = decodePagingToken(token);
    if (decoded === undefined)
      throw new ApiError("1003", `Invalid value for field 'nextPageToken' and value '${token}'`);
    offset = decoded;
  }

  const byId = new Map<number, Lead>();
  for (const v of values) for (const lead of store.find(filterType, v)) byId.set(lead.id, lead);
  if (byId.size > MAX_FILTER_MATCHES) throw new ApiError("1003", "Too many results match the filter");
  const matches = [...byId.values()].sort((a, b) => a.id - b.id);
  const page = matches.slice(offset, offset + batchSize).map((l) => leadRecord(l, fields, unset));
  const next = offset + batchSize;
  const more = next < matches.length;
  return { body: ok(page, more ? { moreResult: true, nextPageToken: encodePagingToken(next) } : {}) };
}

function getLead(store: LeadStore, req: EmuRequest, unset: UnsetFields): EmuResponse {
  const raw = req.params.id;
  if (!/^\d+$/.test(raw)) throw new ApiError("1003", `Invalid value for field 'id' and value '${raw}'`);
  const fields = requestedLeadFields(req);
  const lead = store.byId(Number(raw));
  return { body: ok(lead ? [leadRecord(lead, fields, unset)] : []) };
}

/**
 * Lead ids from `input: [{id}]`, or from `id` query parameters (repeated or comma-separated)
 * when the body has none, as Delete Leads and the static list calls accept both.
 */
export function leadIdsOf(req: EmuRequest, max: number): unknown[] {
  const body = req.body;
  const input =
    typeof body === "object" && body !== null && !Array.isArray(body) ? (body as { input?: unknown }).input : undefined;
  let ids: unknown[];
  if (Array.isArray(input) && input.length > 0) {
    ids = input.map((item) => (typeof item === "object" && item !== null ? (item as { id?: unknown }).id : undefined));
  } else {
    ids = req.query
      .getAll("id")
      .flatMap((v) => v.split(","))
      .map((v) => v.trim())
      .filter((v) => v !== "");
  }
  if (ids.length === 0) throw new ApiError("701", "id cannot be blank");
  if (ids.length > max) throw new ApiError("1003", `Too many ids: ${ids.length} (max ${max})`);
  return ids;
}

function deleteLeads(store: LeadStore, req: EmuRequest, max: number): EmuResponse {
  const result = leadIdsOf(req, max).map((raw) => {
    const id = typeof raw === "number" ? raw : typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : undefined;
    if (id === undefined)
      return {
        status: "skipped",
        reasons: [{ code: "1003", message: `Invalid value for field 'id' and value '${String(raw)}'` }],
      };
    return store.delete(id)
      ? { id, status: "deleted" }
      : { id, status: "skipped", reasons: [{ code: "1004", message: "Lead not found" }] };
  });
  return { body: ok(result) };
}

function soapName(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function describe(): EmuResponse {
  const result = LEAD_FIELDS.map((f, i) => ({
    id: i + 1,
    displayName: f.displayName,
    dataType: f.dataType,
    ...(f.length !== undefined ? { length: f.length } : {}),
    rest: { name: f.name, readOnly: f.readOnly === true },
    ...(REST_ONLY.has(f.name) ? {} : { soap: { name: soapName(f.name), readOnly: f.readOnly === true } }),
  }));
  return { body: ok(result) };
}

function describe2(): EmuResponse {
  const result = [
    {
      name: "API Lead",
      searchableFields: SEARCHABLE_FIELDS.map((name) => [name]),
      fields: LEAD_FIELDS.map((f) => ({
        name: f.name,
        displayName: f.displayName,
        dataType: f.dataType,
        ...(f.length !== undefined ? { length: f.length } : {}),
        updateable: f.readOnly !== true,
        crmManaged: false,
      })),
    },
  ];
  return { body: ok(result) };
}
