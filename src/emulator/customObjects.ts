/**
 * Custom objects: type list and describe, Sync (createOrUpdate/createOnly/
 * updateOnly by dedupe fields or marketoGUID), query by searchable fields or compound dedupe
 * keys, and delete. Records link to leads through `link` fields checked against the leads store.
 * The same per-record validation serves the bulk custom object import.
 */
import { randomUUID } from "node:crypto";
import { blank, bodyOf, commaList, inputArray, isObject, leadDbDate, leadDbPage, param } from "./common";
import type { CustomObjectField, CustomObjectType } from "./model";
import { seedCustomObjectTypes } from "./seed";
import { ApiError, type DomainContext, type DomainModule, type EmuRequest, type Reason, type RouteDef } from "./types";
import { coerce } from "./values";

export type SyncAction = "createOrUpdate" | "createOnly" | "updateOnly";
export type DedupeBy = "dedupeFields" | "idField";

export interface CustomObjectRecord {
  marketoGUID: string;
  createdAt: number;
  updatedAt: number;
  values: Record<string, unknown>;
}

/** One record's outcome; skipped ones carry the REST reason and the bulk failure text. */
export type SyncOutcome =
  { status: "created" | "updated"; marketoGUID: string } | { status: "skipped"; reason: Reason; bulkReason: string };

export interface CustomObjectsModule extends DomainModule {
  type(apiName: string): CustomObjectType | undefined;
  /**
   * Validates and applies one record. `seen` collects the keys already used in the same call
   * (a repeated key is skipped with 1036); pass a fresh set per call.
   */
  syncOne(
    apiName: string,
    item: unknown,
    opts: { action: SyncAction; dedupeBy: DedupeBy },
    seen: Set<string>,
  ): SyncOutcome;
}

const GUID = "marketoGUID";

/** A type as List Custom Objects answers it (the documented example has no pluralName). */
function summary(t: CustomObjectType): Record<string, unknown> {
  return {
    name: t.name,
    displayName: t.displayName,
    description: t.description,
    createdAt: leadDbDate(t.createdAt),
    updatedAt: leadDbDate(t.updatedAt),
    idField: t.idField,
    dedupeFields: [...t.dedupeFields],
    searchableFields: t.searchableFields.map((g) => [...g]),
    // Marketo's docs show both `relatedTo` and `object`; `relatedTo` is what clients parse first.
    relationships: t.relationships.map((r) => ({ field: r.field, type: r.type, relatedTo: { ...r.relatedTo } })),
  };
}

function describe(t: CustomObjectType): Record<string, unknown> {
  return {
    ...summary(t),
    fields: t.fields.map((f) => {
      const out: Record<string, unknown> = { name: f.name, displayName: f.displayName, dataType: f.dataType };
      if (f.length !== undefined) out.length = f.length;
      out.updateable = f.updateable;
      return out;
    }),
  };
}

function keyOf(values: unknown[]): string {
  return JSON.stringify(values);
}

function skip(code: string, message: string, bulkReason = message): SyncOutcome {
  return { status: "skipped", reason: { code, message }, bulkReason };
}

function missing(value: unknown): boolean {
  return value === undefined || value === null || value === "";
}

export function createCustomObjectsModule(ctx: DomainContext): CustomObjectsModule {
  let types: CustomObjectType[] = [];
  /** apiName → records in creation order. */
  let records = new Map<string, CustomObjectRecord[]>();

  function reset(): void {
    types = ctx.seed.enabled ? seedCustomObjectTypes(ctx.seed) : [];
    records = new Map(types.map((t) => [t.name, []]));
  }
  reset();

  function typeOrThrow(apiName: string): CustomObjectType {
    const type = types.find((t) => t.name === apiName);
    if (!type) throw new ApiError("1013", `Custom object type '${apiName}' not found`);
    return type;
  }

  function recordsOf(type: CustomObjectType): CustomObjectRecord[] {
    let list = records.get(type.name);
    if (!list) {
      list = [];
      records.set(type.name, list);
    }
    return list;
  }

  function fieldOf(type: CustomObjectType, name: string): CustomObjectField | undefined {
    return type.fields.find((f) => f.name === name);
  }

  function dedupeKey(type: CustomObjectType, values: Record<string, unknown>): string {
    return keyOf(type.dedupeFields.map((f) => values[f]));
  }

  function syncOne(
    apiName: string,
    item: unknown,
    opts: { action: SyncAction; dedupeBy: DedupeBy },
    seen: Set<string>,
  ): SyncOutcome {
    const type = typeOrThrow(apiName);
    if (!isObject(item)) return skip("1003", "Invalid record");
    const values: Record<string, unknown> = {};
    for (const [name, raw] of Object.entries(item)) {
      if (name === GUID) continue;
      const field = fieldOf(type, name);
      if (!field) return skip("1006", `Field '${name}' not found`);
      if (!field.updateable) return skip("1003", `Field '${name}' is not updateable`);
      const coerced = coerce(field, raw === "" ? null : raw);
      if (!coerced.ok) return skip("1003", coerced.message, `Invalid data type in field ${field.displayName}`);
      values[name] = coerced.value;
    }

    const list = recordsOf(type);
    let existing: CustomObjectRecord | undefined;
    if (opts.dedupeBy === "dedupeFields") {
      // Marketo rejects marketoGUID in a dedupeFields upsert rather than ignoring it.
      if (GUID in item) return skip("1003", `Field '${GUID}' not allowed when dedupeBy is 'dedupeFields'`);
      const absent = type.dedupeFields.filter((f) => missing(values[f]));
      if (absent.length > 0) {
        return skip(
          "1002",
          `Missing value for required dedupe field(s) '${absent.join("', '")}'`,
          "missing.dedupe.fields",
        );
      }
      const key = dedupeKey(type, values);
      if (seen.has(key)) return skip("1036", "Duplicate object found in input");
      seen.add(key);
      existing = list.find((r) => dedupeKey(type, r.values) === key);
    } else {
      const guid = item[GUID];
      if (missing(guid) || typeof guid !== "string") {
        return skip("1002", `Missing value for required parameter '${GUID}'`, "missing.dedupe.fields");
      }
      if (seen.has(guid)) return skip("1036", "Duplicate object found in input");
      seen.add(guid);
      existing = list.find((r) => r.marketoGUID === guid);
      if (existing) {
        for (const f of type.dedupeFields) {
          if (f in values && keyOf([values[f]]) !== keyOf([existing.values[f]])) {
            return skip("1003", `Dedupe field '${f}' cannot be updated`);
          }
        }
      }
    }

    for (const field of type.fields) {
      if (field.dataType !== "link" || values[field.name] === undefined || values[field.name] === null) continue;
      const leadId = values[field.name];
      if (typeof leadId !== "number" || !ctx.leads.byId(leadId)) {
        // Marketo's documented answer is 1004 "Lead not found"; 1003 stays selectable.
        return (ctx.answers?.missingLinkedLead ?? "1004") === "1004"
          ? skip("1004", "Lead not found")
          : skip("1003", `Invalid value for link field '${field.name}': lead '${String(leadId)}' not found`);
      }
    }

    if (existing && opts.action === "createOnly") return skip("1017", "Object already exists");
    if (!existing && opts.action === "updateOnly") return skip("1013", "Object not found");

    const now = ctx.now();
    if (existing) {
      Object.assign(existing.values, values);
      existing.updatedAt = now;
      return { status: "updated", marketoGUID: existing.marketoGUID };
    }
    const created: CustomObjectRecord = { marketoGUID: randomUUID(), createdAt: now, updatedAt: now, values };
    list.push(created);
    return { status: "created", marketoGUID: created.marketoGUID };
  }

  function recordOut(r: CustomObjectRecord, seq: number, fields: string[]): Record<string, unknown> {
    const out: Record<string, unknown> = { seq };
    for (const f of fields) {
      let value: unknown;
      if (f === GUID) value = r.marketoGUID;
      else if (f === "createdAt") value = leadDbDate(r.createdAt);
      else if (f === "updatedAt") value = leadDbDate(r.updatedAt);
      else value = r.values[f];
      // Marketo leaves null fields out of records.
      if (value !== undefined && value !== null) out[f] = value;
    }
    return out;
  }

  function requestedFields(req: EmuRequest, type: CustomObjectType): string[] {
    const raw = bodyOf(req).fields;
    const list = Array.isArray(raw)
      ? raw.filter((f): f is string => typeof f === "string")
      : commaList(param(req, "fields"));
    for (const f of list) if (!fieldOf(type, f)) throw new ApiError("1006", `Field '${f}' not found`);
    const fields = list.length > 0 ? list : [...type.dedupeFields, "createdAt", "updatedAt"];
    return [GUID, ...fields.filter((f) => f !== GUID)];
  }

  /** The filter key (one value per input position), matched against records' typed values. */
  function query(req: EmuRequest, type: CustomObjectType): Record<string, unknown>[] {
    const filterType = param(req, "filterType");
    if (!filterType) throw blank("filterType");
    const list = recordsOf(type);
    const fields = requestedFields(req, type);
    const out: Record<string, unknown>[] = [];

    if (filterType === "dedupeFields" && Array.isArray(bodyOf(req).input)) {
      const input = bodyOf(req).input as unknown[];
      if (input.length === 0) throw blank("input");
      input.forEach((item, seq) => {
        if (!isObject(item)) return;
        const wanted = type.dedupeFields.map((f) => {
          const field = fieldOf(type, f);
          const c = field ? coerce(field, item[f]) : undefined;
          return c?.ok ? c.value : item[f];
        });
        const key = keyOf(wanted);
        for (const r of list) if (dedupeKey(type, r.values) === key) out.push(recordOut(r, seq, fields));
      });
      return out;
    }

    // A single-field filter: idField, a searchable single field, or a one-field dedupe key.
    let field: string;
    if (filterType === "idField" || filterType === GUID) field = GUID;
    else if (filterType === "dedupeFields" && type.dedupeFields.length === 1) field = type.dedupeFields[0];
    else if (type.searchableFields.some((g) => g.length === 1 && g[0] === filterType)) field = filterType;
    else if (filterType === "dedupeFields") throw blank("input");
    else throw new ApiError("1003", `Invalid filterType '${filterType}'`);

    const values = commaList(param(req, "filterValues"));
    if (values.length === 0) throw blank("filterValues");
    if (values.length > 300) throw new ApiError("1003", "Too many filterValues, maximum is 300");
    values.forEach((v, seq) => {
      for (const r of list) {
        const actual = field === GUID ? r.marketoGUID : r.values[field];
        if (actual !== undefined && actual !== null && String(actual) === v) out.push(recordOut(r, seq, fields));
      }
    });
    return out;
  }

  const read = ["Read-Only Custom Objects", "Read-Write Custom Objects"] as const;

  const routes: RouteDef[] = [
    {
      method: "GET",
      pattern: "/rest/v1/customobjects.json",
      permissions: [...read],
      family: "rest",
      handler: (req) => {
        const names = commaList(param(req, "names"));
        const listed = names.length > 0 ? types.filter((t) => names.includes(t.name)) : types;
        return { body: { success: true, result: listed.map(summary) } };
      },
    },
    {
      method: "GET",
      pattern: "/rest/v1/customobjects/:apiName/describe.json",
      permissions: [...read],
      family: "rest",
      handler: (req) => ({ body: { success: true, result: [describe(typeOrThrow(req.params.apiName))] } }),
    },
    {
      method: "GET",
      pattern: "/rest/v1/customobjects/:apiName.json",
      permissions: [...read],
      family: "rest",
      handler: (req) => {
        const type = typeOrThrow(req.params.apiName);
        return { body: leadDbPage(query(req, type), req) };
      },
    },
    {
      method: "POST",
      pattern: "/rest/v1/customobjects/:apiName.json",
      permissions: ["Read-Write Custom Objects"],
      family: "rest",
      timeoutMs: 120_000,
      writes: true,
      handler: (req) => {
        const type = typeOrThrow(req.params.apiName);
        const body = bodyOf(req);
        const action = body.action ?? "createOrUpdate";
        if (action !== "createOrUpdate" && action !== "createOnly" && action !== "updateOnly") {
          throw new ApiError("1003", `Invalid action '${String(action)}'`);
        }
        const dedupeBy = body.dedupeBy ?? "dedupeFields";
        if (dedupeBy !== "dedupeFields" && dedupeBy !== "idField") {
          throw new ApiError("1003", `Invalid dedupeBy '${String(dedupeBy)}'`);
        }
        if (dedupeBy === "idField" && action !== "updateOnly") {
          throw new ApiError("1003", "dedupeBy 'idField' is only allowed with action 'updateOnly'");
        }
        const input = inputArray(req);
        const seen = new Set<string>();
        const result = input.map((item, seq) => {
          const outcome = syncOne(type.name, item, { action, dedupeBy }, seen);
          return outcome.status === "skipped"
            ? { seq, status: "skipped", reasons: [outcome.reason] }
            : { seq, status: outcome.status, marketoGUID: outcome.marketoGUID };
        });
        return { body: { success: true, result } };
      },
    },
    {
      method: "POST",
      pattern: "/rest/v1/customobjects/:apiName/delete.json",
      permissions: ["Read-Write Custom Objects"],
      family: "rest",
      timeoutMs: 60_000,
      writes: true,
      handler: (req) => {
        const type = typeOrThrow(req.params.apiName);
        const deleteBy = bodyOf(req).deleteBy ?? "dedupeFields";
        if (deleteBy !== "dedupeFields" && deleteBy !== "idField") {
          throw new ApiError("1003", `Invalid deleteBy '${String(deleteBy)}'`);
        }
        const input = inputArray(req);
        const list = recordsOf(type);
        const result = input.map((item, seq) => {
          const obj = isObject(item) ? item : {};
          let index: number;
          if (deleteBy === "idField") {
            if (missing(obj[GUID]))
              return {
                seq,
                status: "skipped",
                reasons: [{ code: "1002", message: `Missing value for required parameter '${GUID}'` }],
              };
            index = list.findIndex((r) => r.marketoGUID === obj[GUID]);
          } else {
            const wanted: unknown[] = [];
            for (const f of type.dedupeFields) {
              const field = fieldOf(type, f);
              const c = field && !missing(obj[f]) ? coerce(field, obj[f]) : undefined;
              if (!c?.ok)
                return {
                  seq,
                  status: "skipped",
                  reasons: [{ code: "1002", message: `Missing value for required dedupe field '${f}'` }],
                };
              wanted.push(c.value);
            }
            index = list.findIndex((r) => dedupeKey(type, r.values) === keyOf(wanted));
          }
          if (index < 0) return { seq, status: "skipped", reasons: [{ code: "1013", message: "Object not found" }] };
          const [removed] = list.splice(index, 1);
          return { seq, marketoGUID: removed.marketoGUID, status: "deleted" };
        });
        return { body: { success: true, result } };
      },
    },
  ];

  return {
    name: "customObjects",
    routes,
    type: (apiName) => types.find((t) => t.name === apiName),
    syncOne,
    snapshot: () =>
      Object.fromEntries(
        types.map((t) => [
          t.name,
          recordsOf(t).map((r) => ({
            marketoGUID: r.marketoGUID,
            ...structuredClone(r.values),
            createdAt: leadDbDate(r.createdAt),
            updatedAt: leadDbDate(r.updatedAt),
          })),
        ]),
      ),
    reset,
  };
}
