/**
 * Activities: activity type metadata, Add Custom Activities, and the activity
 * log that other modules write system activities into (status changes, form fills, campaign
 * requests).
 */
import { blank, bodyOf, clone, commaList, inputArray, isObject, leadDbDate, reason, toId } from "./common";
import type { ActivityAttribute, ActivityType } from "./model";
import { decodeActivityToken, encodeActivityToken } from "./pagingToken";
import { seedActivityTypes } from "./seed";
import { ApiError, type DomainContext, type DomainModule, type EmuRequest, type Reason, type RouteDef } from "./types";

/** Get Lead Activities: at most this many activity types, lead ids and records per call. */
export const MAX_ACTIVITY_TYPE_IDS = 10;
export const MAX_ACTIVITY_LEAD_IDS = 30;
const MAX_ACTIVITY_PAGE = 300;
import { coerce, invalidValueMessage } from "./values";

/** Largest serialised `attributes` array Marketo accepts for one custom activity. */
export const MAX_ATTRIBUTE_BYTES = 65_536;

export interface ActivityAttributeValue {
  name: string;
  apiName?: string;
  value: unknown;
}

/** One stored activity, in the shape Marketo's Get Lead Activities returns. */
export interface ActivityRecord {
  id: number;
  marketoGUID: string;
  leadId: number;
  activityDate: string;
  activityTypeId: number;
  primaryAttributeValueId?: number;
  primaryAttributeValue?: string;
  attributes: ActivityAttributeValue[];
}

export interface SystemActivity {
  leadId: number;
  activityTypeId: number;
  primaryAttributeValueId?: number;
  primaryAttributeValue?: string;
  attributes?: Record<string, unknown>;
}

/** What other modules use to write system activities. */
export interface ActivityLog {
  record(activity: SystemActivity): ActivityRecord;
}

export interface ActivitiesModule extends DomainModule {
  log: ActivityLog;
  /** How Get Lead Activities finds a static list's members (`listId`); set once lists exist. */
  useLists(members: (listId: number) => number[] | undefined): void;
}

type CustomType = ActivityType & { apiName: string };

function isCustom(type: ActivityType): type is CustomType {
  return type.apiName !== undefined;
}

function attributeMeta(a: ActivityAttribute): Record<string, unknown> {
  const out: Record<string, unknown> = { name: a.name, dataType: a.dataType };
  if (a.apiName !== undefined) out.apiName = a.apiName;
  return out;
}

function describeAttribute(a: ActivityAttribute): Record<string, unknown> {
  return { apiName: a.apiName, name: a.name, description: a.description ?? "", dataType: a.dataType };
}

function externalTypeSummary(t: CustomType): Record<string, unknown> {
  return {
    id: t.id,
    apiName: t.apiName,
    name: t.name,
    description: t.description,
    triggerName: t.triggerName,
    filterName: t.filterName,
    createdAt: leadDbDate(t.createdAt ?? 0),
    updatedAt: leadDbDate(t.updatedAt ?? 0),
    status: t.status ?? "approved",
  };
}

/**
 * An activity as Get Lead Activities answers it: attributes by display name only, and no
 * primary attribute id where the activity has none (custom activities).
 */
function activityOut(a: ActivityRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: a.id,
    marketoGUID: a.marketoGUID,
    leadId: a.leadId,
    activityDate: a.activityDate,
    activityTypeId: a.activityTypeId,
  };
  if (a.primaryAttributeValueId !== undefined) out.primaryAttributeValueId = a.primaryAttributeValueId;
  if (a.primaryAttributeValue !== undefined) out.primaryAttributeValue = a.primaryAttributeValue;
  out.attributes = a.attributes.map((attr) => ({ name: attr.name, value: attr.value }));
  return out;
}

type Outcome = { ok: true; record: Omit<ActivityRecord, "id" | "marketoGUID"> } | { ok: false; error: Reason };

export function createActivitiesModule(ctx: DomainContext): ActivitiesModule {
  let types: ActivityType[] = [];
  let activities: ActivityRecord[] = [];
  let listMembers: (listId: number) => number[] | undefined = () => undefined;

  function reset(): void {
    types = ctx.seed.enabled ? seedActivityTypes() : [];
    activities = [];
  }
  reset();

  function store(record: Omit<ActivityRecord, "id" | "marketoGUID">): ActivityRecord {
    const id = ctx.nextId("activity");
    // Marketo is moving clients from the numeric id to marketoGUID; it carries the same number.
    const full: ActivityRecord = { id, marketoGUID: String(id), ...record };
    activities.push(full);
    return full;
  }

  const log: ActivityLog = {
    record(activity) {
      const attributes = Object.entries(activity.attributes ?? {})
        .filter(([, value]) => value !== undefined)
        .map(([name, value]) => ({ name, value }));
      return store({
        leadId: activity.leadId,
        activityDate: leadDbDate(ctx.now()),
        activityTypeId: activity.activityTypeId,
        primaryAttributeValueId: activity.primaryAttributeValueId,
        primaryAttributeValue: activity.primaryAttributeValue,
        attributes,
      });
    },
  };

  function fail(code: string, message: string): Outcome {
    return { ok: false, error: reason(code, message) };
  }

  /** Validates one Add Custom Activities record the way Marketo does, first failure wins. */
  function validate(item: unknown): Outcome {
    if (!isObject(item)) return fail("1003", "Invalid activity record");
    for (const required of ["leadId", "activityDate", "activityTypeId", "primaryAttributeValue"]) {
      const v = item[required];
      if (v === undefined || v === null || v === "") {
        return fail("1002", `Missing value for required parameter '${required}'`);
      }
    }
    const leadId = toId(item.leadId);
    if (leadId === undefined) return fail("1003", invalidValueMessage("leadId", item.leadId));
    if (!ctx.leads.byId(leadId)) return fail("1004", "Lead not found");

    const typeId = toId(item.activityTypeId);
    const type = typeId === undefined ? undefined : types.find((t) => t.id === typeId);
    if (!type) return fail("1013", `Activity type '${String(item.activityTypeId)}' not found`);
    if (!isCustom(type)) return fail("1003", `Activity type '${type.id}' is not a custom activity type`);
    if (type.status !== undefined && type.status !== "approved" && type.status !== "approved with draft") {
      return fail("1003", `Activity type '${type.apiName}' is not approved`);
    }

    const dateMs = typeof item.activityDate === "string" ? Date.parse(item.activityDate) : Number.NaN;
    if (Number.isNaN(dateMs)) return fail("1003", invalidValueMessage("activityDate", item.activityDate));

    const primary = type.primaryAttribute;
    const primaryValue = primary
      ? coerce(
          { name: primary.apiName ?? "primaryAttributeValue", dataType: primary.dataType, length: 255 },
          item.primaryAttributeValue,
        )
      : { ok: true as const, value: item.primaryAttributeValue };
    if (!primaryValue.ok) return fail("1003", primaryValue.message);

    const rawAttributes = item.attributes ?? [];
    if (!Array.isArray(rawAttributes)) return fail("1003", "Invalid value for field 'attributes'");
    if (Buffer.byteLength(JSON.stringify(rawAttributes), "utf8") > MAX_ATTRIBUTE_BYTES) {
      return fail("1049", `Failed to create activity: attributes exceed ${MAX_ATTRIBUTE_BYTES} bytes`);
    }
    const attributes: ActivityAttributeValue[] = [];
    for (const raw of rawAttributes) {
      if (!isObject(raw)) return fail("1003", "Invalid attribute");
      const key = typeof raw.apiName === "string" ? raw.apiName : typeof raw.name === "string" ? raw.name : undefined;
      if (key === undefined) return fail("1002", "Missing value for required parameter 'name'");
      // Clients may name an attribute by its API name or its display name.
      const meta = type.attributes.find((a) => a.apiName === key || a.name === key);
      if (!meta) return fail("1006", `Attribute '${key}' not found`);
      const value = coerce({ name: meta.apiName ?? meta.name, dataType: meta.dataType, length: 255 }, raw.value);
      if (!value.ok) return fail("1003", value.message);
      attributes.push({ name: meta.name, apiName: meta.apiName, value: value.value });
    }

    return {
      ok: true,
      record: {
        leadId,
        activityDate: leadDbDate(dateMs),
        activityTypeId: type.id,
        primaryAttributeValue: String(primaryValue.value),
        attributes,
      },
    };
  }

  function customType(apiName: string): CustomType {
    const type = types.find((t): t is CustomType => isCustom(t) && t.apiName === apiName);
    if (!type) throw new ApiError("1013", `Activity type '${apiName}' not found`);
    return type;
  }

  /** Get Paging Token: a date-based token for activities dated at or after `sinceDatetime`. */
  function pagingToken(req: EmuRequest): Record<string, unknown> {
    const raw = req.query.get("sinceDatetime");
    if (!raw) throw blank("sinceDatetime");
    const since = Date.parse(raw);
    if (Number.isNaN(since)) throw new ApiError("704", `Invalid date format '${raw}'`);
    return { success: true, nextPageToken: encodeActivityToken({ since, afterId: 0 }) };
  }

  /** Ids from a parameter given as a comma list, repeated, or both. */
  function idList(req: EmuRequest, name: string): number[] {
    const raw = req.query.getAll(name).flatMap((v) => commaList(v));
    return raw.map((v) => {
      const id = toId(v);
      if (id === undefined) throw new ApiError("1003", `Invalid value for field '${name}' and value '${v}'`);
      return id;
    });
  }

  /**
   * Get Lead Activities: the activities of the given types after the token's position, oldest
   * first, at most 300 (or `batchSize`) a page. The answer always carries a `nextPageToken`;
   * `moreResult` says whether another page is waiting.
   */
  function leadActivities(req: EmuRequest): Record<string, unknown> {
    const token = req.query.get("nextPageToken");
    if (!token) throw blank("nextPageToken");
    const position = decodeActivityToken(token);
    if (!position) throw new ApiError("1003", `Invalid value for field 'nextPageToken' and value '${token}'`);
    const typeIds = idList(req, "activityTypeIds");
    if (typeIds.length === 0) throw blank("activityTypeIds");
    if (typeIds.length > MAX_ACTIVITY_TYPE_IDS) {
      throw new ApiError("1003", `Too many activityTypeIds: ${typeIds.length} (max ${MAX_ACTIVITY_TYPE_IDS})`);
    }
    const leadIds = idList(req, "leadIds");
    if (leadIds.length > MAX_ACTIVITY_LEAD_IDS) {
      throw new ApiError("1003", `Too many leadIds: ${leadIds.length} (max ${MAX_ACTIVITY_LEAD_IDS})`);
    }
    let leads: Set<number> | undefined = leadIds.length > 0 ? new Set(leadIds) : undefined;
    const listRaw = req.query.get("listId");
    if (listRaw !== null && listRaw !== "") {
      const listId = toId(listRaw);
      const members = listId === undefined ? undefined : listMembers(listId);
      if (!members) throw new ApiError("1013", `Static list '${listRaw}' not found`);
      leads = new Set(members.filter((id) => leads === undefined || leads.has(id)));
    }
    const sizeRaw = req.query.get("batchSize");
    const size = sizeRaw === null || sizeRaw === "" ? MAX_ACTIVITY_PAGE : Number(sizeRaw);
    if (!Number.isInteger(size) || size < 1 || size > MAX_ACTIVITY_PAGE) {
      throw new ApiError("1003", `Invalid value for field 'batchSize' and value '${sizeRaw}'`);
    }
    const types = new Set(typeIds);
    const matches = activities.filter(
      (a) =>
        a.id > position.afterId &&
        types.has(a.activityTypeId) &&
        (leads === undefined || leads.has(a.leadId)) &&
        Date.parse(a.activityDate) >= position.since,
    );
    const page = matches.slice(0, size).map(activityOut);
    const afterId = page.length > 0 ? (page[page.length - 1].id as number) : position.afterId;
    return {
      success: true,
      result: page,
      nextPageToken: encodeActivityToken({ since: position.since, afterId }),
      moreResult: matches.length > size,
    };
  }

  const routes: RouteDef[] = [
    {
      method: "GET",
      pattern: "/rest/v1/activities/pagingtoken.json",
      permissions: ["Read-Only Activity", "Read-Write Activity"],
      family: "rest",
      timeoutMs: 300_000,
      handler: (req) => ({ body: pagingToken(req) }),
    },
    {
      method: "GET",
      pattern: "/rest/v1/activities.json",
      permissions: ["Read-Only Activity", "Read-Write Activity"],
      family: "rest",
      handler: (req) => ({ body: leadActivities(req) }),
    },
    {
      method: "GET",
      pattern: "/rest/v1/activities/types.json",
      permissions: ["Read-Only Activity", "Read-Write Activity"],
      family: "rest",
      handler: () => ({
        body: {
          success: true,
          result: types.map((t) => {
            const out: Record<string, unknown> = { id: t.id, name: t.name, description: t.description };
            if (t.apiName !== undefined) out.apiName = t.apiName;
            if (t.primaryAttribute) out.primaryAttribute = attributeMeta(t.primaryAttribute);
            out.attributes = t.attributes.map(attributeMeta);
            return out;
          }),
        },
      }),
    },
    {
      method: "GET",
      pattern: "/rest/v1/activities/external/types.json",
      permissions: ["Read-Only Activity Metadata", "Read-Write Activity Metadata"],
      family: "rest",
      handler: () => ({ body: { success: true, result: types.filter(isCustom).map(externalTypeSummary) } }),
    },
    {
      method: "GET",
      pattern: "/rest/v1/activities/external/type/:apiName/describe.json",
      permissions: ["Read-Only Activity Metadata", "Read-Write Activity Metadata"],
      family: "rest",
      handler: (req) => {
        const type = customType(req.params.apiName);
        return {
          body: {
            success: true,
            result: [
              {
                ...externalTypeSummary(type),
                primaryAttribute: type.primaryAttribute ? describeAttribute(type.primaryAttribute) : undefined,
                attributes: type.attributes.map(describeAttribute),
              },
            ],
          },
        };
      },
    },
    {
      // Create Custom Activity Type: the role is checked first (603), then the body, as Marketo
      // does. Types are not created here: the emulator's types come from its seed.
      method: "POST",
      pattern: "/rest/v1/activities/external/type.json",
      permissions: ["Read-Write Activity Metadata"],
      family: "rest",
      writes: true,
      handler: (req) => {
        const body = bodyOf(req);
        for (const field of ["apiName", "name", "triggerName", "filterName", "primaryAttribute"]) {
          const v = body[field];
          if (v === undefined || v === null || v === "") throw blank(field);
        }
        throw new ApiError("1003", "the emulator does not create activity types: they come from its seed");
      },
    },
    {
      method: "POST",
      pattern: "/rest/v1/activities/external.json",
      permissions: ["Read-Write Activity"],
      family: "rest",
      timeoutMs: 90_000,
      writes: true,
      handler: (req) => {
        const input = inputArray(req);
        const result = input.map((item) => {
          const outcome = validate(item);
          // This endpoint names per-record failures `errors`, not `reasons`.
          if (!outcome.ok) return { status: "skipped", errors: [outcome.error] };
          const stored = store(outcome.record);
          return { id: stored.id, marketoGUID: stored.marketoGUID, status: "added" };
        });
        return { body: { success: true, result } };
      },
    },
  ];

  return {
    name: "activities",
    routes,
    log,
    useLists(members) {
      listMembers = members;
    },
    snapshot: () => ({
      activityTypes: types
        .filter(isCustom)
        .map((t) => ({ id: t.id, apiName: t.apiName, name: t.name, status: t.status })),
      activities: clone(activities),
    }),
    reset,
  };
}
