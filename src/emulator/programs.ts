/**
 * Programs and channels (asset API) and program membership:
 * Sync Program Member Status, the legacy Change Lead Program Status, member queries and
 * member deletion. Status changes follow the channel's steps: a lead only moves forward.
 */
import type { ActivityLog } from "./activities";
import {
  assetDate,
  assetNotFound,
  blank,
  bodyOf,
  commaList,
  inputArray,
  isObject,
  leadDbDate,
  leadDbPage,
  param,
  skipped,
  toId,
} from "./common";
import type { Channel, Program, ProgressionStatus } from "./model";
import { ACTIVITY_CHANGE_STATUS, seedChannels, seedPrograms } from "./seed";
import { leadRecord, requestedLeadFields } from "./leads";
import { coerce } from "./values";
import { ApiError, type DomainContext, type DomainModule, type EmuRequest, type Reason, type RouteDef } from "./types";

const NOT_IN_PROGRAM = "Not in Program";
const ALREADY_PAST = "Lead skipped because it is already in or past this status";

export interface Membership {
  programId: number;
  leadId: number;
  /** Program member id (used in the status-change activity). */
  id: number;
  status: string;
  step: number;
  success: boolean;
  /** Sticky: once a member reached a success status it stays `reachedSuccess`. */
  reachedSuccess: boolean;
  reachedSuccessDate?: number;
  acquiredBy: boolean;
  membershipDate: number;
  updatedAt: number;
  /** Values of the instance's program member custom fields (Sync Program Member Data). */
  custom: Record<string, unknown>;
}

export type MemberChange = { status: "created" | "updated" } | { status: "skipped"; reasons: Reason[] };

export interface ProgramsModule extends DomainModule {
  program(id: number): Program | undefined;
  /**
   * The channel status a program accepts for `statusName`; throws 1013 for an unknown program
   * and 1025 (or 1003 for "Not in Program") for a status the call can never set.
   */
  settableStatus(programId: number, statusName: string): ProgressionStatus;
  /** Upsert one lead's membership the way Sync Program Member Status does. */
  setMemberStatus(programId: number, statusName: string, leadId: number, reason: string): MemberChange;
}

/**
 * What a member query returns without `fields`: "acquiredBy, leadId, membershipDate, programId,
 * and reachedSuccess", in the order the documented answer lists them (after `seq`).
 */
const DEFAULT_MEMBER_FIELDS = ["leadId", "reachedSuccess", "programId", "acquiredBy", "membershipDate"] as const;

/**
 * The instance's program member custom fields, as Describe Program Member lists them (its
 * example instance has these two; Sync Program Member Data may set them).
 */
export const MEMBER_CUSTOM_FIELDS: readonly { name: string; dataType: "string"; length: number }[] = [
  { name: "registrationCode", dataType: "string", length: 255 },
  { name: "webinarUrl", dataType: "string", length: 255 },
];
const CUSTOM_NAMES = new Set(MEMBER_CUSTOM_FIELDS.map((f) => f.name));

/** Standard fields a member query may ask for, in the order Marketo lists them. */
const MEMBER_FIELDS = [
  "leadId",
  "programId",
  "statusName",
  "progressionStatusType",
  "reachedSuccess",
  "reachedSuccessDate",
  "acquiredBy",
  "isExhausted",
  "membershipDate",
  "updatedAt",
  "nurtureCadence",
  "trackName",
] as const;

export function createProgramsModule(ctx: DomainContext, activities?: ActivityLog): ProgramsModule {
  let channels: Channel[] = [];
  let programs: Program[] = [];
  /** programId → leadId → membership. */
  let members = new Map<number, Map<number, Membership>>();

  function reset(): void {
    channels = ctx.seed.enabled ? seedChannels() : [];
    programs = ctx.seed.enabled ? seedPrograms() : [];
    members = new Map();
  }
  reset();

  /**
   * A program as the asset API answers it. Get Program by Id and by Name carry `tags` and
   * `costs`; browsing leaves both out ("This endpoint does not return program tags"). All
   * three carry `headStart`.
   */
  function programOut(p: Program, detail: boolean): Record<string, unknown> {
    return {
      id: p.id,
      name: p.name,
      description: p.description,
      createdAt: assetDate(p.createdAt),
      updatedAt: assetDate(p.updatedAt),
      url: `https://app-ab01.marketo.com/#PG${p.id}A1`,
      type: p.type,
      channel: p.channel,
      folder: { ...p.folder },
      status: p.status,
      workspace: p.workspace,
      ...(detail ? { tags: [], costs: null } : {}),
      headStart: false,
    };
  }

  function channelOut(c: Channel): Record<string, unknown> {
    return {
      id: c.id,
      name: c.name,
      applicableProgramType: c.applicableProgramType,
      progressionStatuses: c.progressionStatuses.map((s) => ({ ...s })),
      createdAt: assetDate(c.createdAt),
      updatedAt: assetDate(c.updatedAt),
    };
  }

  function assetResult(items: Record<string, unknown>[]): { body: Record<string, unknown> } {
    return { body: items.length === 0 ? assetNotFound() : { success: true, errors: [], warnings: [], result: items } };
  }

  /** The asset API's `maxReturn` (default 20, at most 200) and `offset` window. */
  function assetWindow<T>(items: T[], req: EmuRequest): T[] {
    const maxRaw = req.query.get("maxReturn");
    const offRaw = req.query.get("offset");
    const max = maxRaw === null || maxRaw === "" ? 20 : Number(maxRaw);
    const offset = offRaw === null || offRaw === "" ? 0 : Number(offRaw);
    if (!Number.isInteger(max) || max < 1 || max > 200) {
      throw new ApiError("1003", `Invalid maxReturn '${maxRaw}', must be between 1 and 200`);
    }
    if (!Number.isInteger(offset) || offset < 0) throw new ApiError("1003", `Invalid offset '${offRaw}'`);
    return items.slice(offset, offset + max);
  }

  function programOrThrow(programId: string | number): Program {
    const id = toId(programId);
    const program = id === undefined ? undefined : programs.find((p) => p.id === id);
    if (!program) throw new ApiError("1013", `Program '${programId}' not found`);
    return program;
  }

  function channelOf(program: Program): Channel | undefined {
    return channels.find((c) => c.name === program.channel);
  }

  function lookupStatus(program: Program, statusName: string): ProgressionStatus | Reason {
    const channel = channelOf(program);
    const status = channel?.progressionStatuses.find((s) => s.name === statusName);
    if (!status) {
      return { code: "1025", message: `Program status '${statusName}' not found for channel '${program.channel}'` };
    }
    if (status.name === NOT_IN_PROGRAM) {
      // Marketo removes members with Delete Program Members; no status call can set step 0.
      return { code: "1003", message: `Status '${NOT_IN_PROGRAM}' cannot be set; use members/delete.json` };
    }
    return status;
  }

  function isReason(value: ProgressionStatus | Reason): value is Reason {
    return "code" in value;
  }

  function membersOf(programId: number): Map<number, Membership> {
    let table = members.get(programId);
    if (!table) {
      table = new Map();
      members.set(programId, table);
    }
    return table;
  }

  /** Applies a status to one lead: forward moves only; records the activity Marketo writes. */
  function apply(program: Program, status: ProgressionStatus, leadId: number, reason: string): MemberChange {
    const table = membersOf(program.id);
    const current = table.get(leadId);
    if (current && status.step <= current.step) return skipped("1037", ALREADY_PAST);
    const now = ctx.now();
    const oldStatus = current?.status ?? NOT_IN_PROGRAM;
    const member: Membership = current ?? {
      programId: program.id,
      leadId,
      id: ctx.nextId("programMember"),
      status: status.name,
      step: status.step,
      success: status.success,
      reachedSuccess: false,
      // Membership created through the API counts as acquired by this program.
      acquiredBy: true,
      membershipDate: now,
      updatedAt: now,
      custom: {},
    };
    member.status = status.name;
    member.step = status.step;
    member.success = status.success;
    member.updatedAt = now;
    if (status.success && !member.reachedSuccess) {
      member.reachedSuccess = true;
      member.reachedSuccessDate = now;
    }
    table.set(leadId, member);
    activities?.record({
      leadId,
      activityTypeId: ACTIVITY_CHANGE_STATUS,
      primaryAttributeValueId: program.id,
      primaryAttributeValue: program.name,
      attributes: {
        "New Status": status.name,
        "Old Status": oldStatus,
        Success: status.success,
        "Acquired By": member.acquiredBy,
        "Program Member ID": member.id,
        Reason: reason,
      },
    });
    return { status: current ? "updated" : "created" };
  }

  function settableStatus(programId: number, statusName: string): ProgressionStatus {
    const program = programOrThrow(programId);
    const status = lookupStatus(program, statusName);
    if (isReason(status)) throw new ApiError(status.code, status.message);
    return status;
  }

  function setMemberStatus(programId: number, statusName: string, leadId: number, reason: string): MemberChange {
    const program = programOrThrow(programId);
    const status = lookupStatus(program, statusName);
    if (isReason(status)) return { status: "skipped", reasons: [status] };
    if (!ctx.leads.byId(leadId)) return skipped("1004", "Lead not found");
    return apply(program, status, leadId, reason);
  }

  function memberOut(m: Membership, seq: number, fields: readonly string[]): Record<string, unknown> {
    const all: Record<string, unknown> = {
      leadId: m.leadId,
      programId: m.programId,
      statusName: m.status,
      progressionStatusType: m.success ? "Success" : "Normal",
      reachedSuccess: m.reachedSuccess,
      reachedSuccessDate: m.reachedSuccessDate === undefined ? null : leadDbDate(m.reachedSuccessDate),
      acquiredBy: m.acquiredBy,
      isExhausted: false,
      membershipDate: leadDbDate(m.membershipDate),
      updatedAt: leadDbDate(m.updatedAt),
      nurtureCadence: null,
      trackName: null,
    };
    const out: Record<string, unknown> = { seq };
    for (const f of fields) out[f] = CUSTOM_NAMES.has(f) ? (m.custom[f] ?? null) : all[f];
    return out;
  }

  /** Sync Program Member Data for one input record: custom field values of an existing member. */
  function syncMemberData(program: Program, item: unknown, seq: number): Record<string, unknown> {
    const raw = isObject(item) ? item.leadId : undefined;
    if (raw === undefined || raw === null || raw === "") {
      return { seq, ...skipped("1002", "Missing value for required parameter 'leadId'") };
    }
    const leadId = toId(raw);
    if (leadId === undefined)
      return { seq, ...skipped("1003", `Invalid value for field 'leadId' and value '${String(raw)}'`) };
    const member = membersOf(program.id).get(leadId);
    if (!member) return { seq, ...skipped("1013", "Membership not found") };
    const values: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(item as Record<string, unknown>)) {
      if (name === "leadId") continue;
      const custom = MEMBER_CUSTOM_FIELDS.find((f) => f.name === name);
      if (!custom) {
        if ((MEMBER_FIELDS as readonly string[]).includes(name)) {
          return { seq, ...skipped("1003", `Field '${name}' is not updateable`) };
        }
        return { seq, ...skipped("1006", `Field '${name}' not found`) };
      }
      const c = coerce(custom, value);
      if (!c.ok) return { seq, ...skipped("1003", c.message) };
      values[name] = c.value;
    }
    Object.assign(member.custom, values);
    member.updatedAt = ctx.now();
    return { seq, status: "updated", leadId };
  }

  /** A lead's place in a program, as Get Leads by Program Id and Get Programs by Lead Id show it. */
  function membershipOut(m: Membership): Record<string, unknown> {
    return {
      progressionStatus: m.status,
      progressionStatusType: m.success ? "Success" : "Normal",
      isExhausted: false,
      acquiredBy: m.acquiredBy,
      reachedSuccess: m.reachedSuccess,
      membershipDate: leadDbDate(m.membershipDate),
      updatedAt: leadDbDate(m.updatedAt),
    };
  }

  /** Get Leads by Program Id: the members as lead records, each with its `membership`. */
  function leadsOfProgram(req: EmuRequest): Record<string, unknown> {
    const program = programOrThrow(req.params.programId);
    // `membership` is not a lead field: it is asked for (or left out) beside them.
    const requested = commaList(req.query.get("fields") ?? undefined);
    const withMembership = requested.length === 0 || requested.includes("membership");
    const query = new URLSearchParams(req.query);
    query.delete("fields");
    const leadFields = requested.filter((f) => f !== "membership");
    if (leadFields.length > 0) query.set("fields", leadFields.join(","));
    const fields = requestedLeadFields({ ...req, query });
    const unset = ctx.answers?.unsetLeadFields ?? "null";
    const rows: Record<string, unknown>[] = [];
    for (const m of membersOf(program.id).values()) {
      const lead = ctx.leads.byId(m.leadId);
      if (!lead) continue;
      const row = leadRecord(lead, fields, unset);
      if (withMembership) row.membership = { id: m.id, ...membershipOut(m) };
      rows.push(row);
    }
    return leadDbPage(rows, req);
  }

  /** Get Programs by Lead Id: every program the lead is a member of (filterType=id narrows). */
  function programsOfLead(req: EmuRequest): Record<string, unknown> {
    const leadId = toId(req.params.id);
    if (leadId === undefined) throw new ApiError("1003", `Invalid value for field 'id' and value '${req.params.id}'`);
    const filterType = param(req, "filterType");
    const wanted = filterType === "id" ? new Set(commaList(param(req, "filterValues")).map((v) => toId(v))) : undefined;
    const rows: Record<string, unknown>[] = [];
    for (const [programId, table] of members) {
      const m = table.get(leadId);
      if (m && (wanted === undefined || wanted.has(programId))) rows.push({ id: programId, ...membershipOut(m) });
    }
    return leadDbPage(rows, req);
  }

  /** Describe Program Member: the standard fields (none updateable) and the custom ones. */
  function describeMembers(): Record<string, unknown> {
    const types: Record<string, string> = {
      leadId: "integer",
      programId: "integer",
      statusName: "string",
      progressionStatusType: "string",
      reachedSuccess: "boolean",
      reachedSuccessDate: "datetime",
      acquiredBy: "boolean",
      isExhausted: "boolean",
      membershipDate: "datetime",
      updatedAt: "datetime",
      nurtureCadence: "string",
      trackName: "string",
    };
    const at = leadDbDate(Date.parse("2024-01-15T11:40:57Z"));
    return {
      name: "API Program Membership",
      description: "Map for API program membership fields",
      createdAt: at,
      updatedAt: at,
      dedupeFields: ["leadId", "programId"],
      searchableFields: [["leadId"], ["statusName"]],
      fields: [
        ...MEMBER_FIELDS.map((name) => ({
          name,
          displayName: name,
          dataType: types[name],
          updateable: false,
          crmManaged: false,
        })),
        ...MEMBER_CUSTOM_FIELDS.map((f) => ({
          name: f.name,
          displayName: f.name,
          dataType: f.dataType,
          length: f.length,
          updateable: true,
          crmManaged: false,
        })),
      ],
    };
  }

  const assetRead = ["Read-Only Assets", "Read-Write Assets"] as const;
  const personRead = ["Read-Only Person", "Read-Write Person"] as const;

  const routes: RouteDef[] = [
    {
      method: "GET",
      pattern: "/rest/asset/v1/program/byName.json",
      permissions: [...assetRead],
      family: "asset",
      handler: (req) => {
        const name = req.query.get("name");
        if (!name) throw blank("name");
        return assetResult(programs.filter((p) => p.name === name).map((p) => programOut(p, true)));
      },
    },
    {
      method: "GET",
      pattern: "/rest/asset/v1/program/:id.json",
      permissions: [...assetRead],
      family: "asset",
      handler: (req) => {
        const id = toId(req.params.id);
        return assetResult(programs.filter((p) => p.id === id).map((p) => programOut(p, true)));
      },
    },
    {
      method: "GET",
      pattern: "/rest/asset/v1/programs.json",
      permissions: [...assetRead],
      family: "asset",
      handler: (req) => assetResult(assetWindow(programs, req).map((p) => programOut(p, false))),
    },
    {
      method: "GET",
      pattern: "/rest/asset/v1/channels.json",
      permissions: [...assetRead],
      family: "asset",
      handler: (req) => assetResult(assetWindow(channels, req).map(channelOut)),
    },
    {
      method: "GET",
      pattern: "/rest/asset/v1/channel/byName.json",
      permissions: [...assetRead],
      family: "asset",
      handler: (req) => {
        const name = req.query.get("name");
        if (!name) throw blank("name");
        return assetResult(channels.filter((c) => c.name === name).map(channelOut));
      },
    },
    {
      method: "POST",
      pattern: "/rest/v1/programs/:programId/members/status.json",
      permissions: ["Read-Write Person"],
      family: "rest",
      writes: true,
      handler: (req) => {
        const body = bodyOf(req);
        const statusName = typeof body.statusName === "string" ? body.statusName.trim() : "";
        if (!statusName) throw blank("statusName");
        const input = inputArray(req);
        const program = programOrThrow(req.params.programId);
        const status = lookupStatus(program, statusName);
        const seen = new Set<number>();
        const result = input.map((item, seq) => {
          if (isReason(status)) return { seq, status: "skipped", reasons: [status] };
          const raw = isObject(item) ? item.leadId : undefined;
          if (raw === undefined || raw === null || raw === "") {
            return { seq, ...skipped("1002", "Missing value for required parameter 'leadId'") };
          }
          const leadId = toId(raw);
          if (leadId === undefined)
            return { seq, ...skipped("1003", `Invalid value for field 'leadId' and value '${String(raw)}'`) };
          // A second change for the same lead in one call would race the first; Marketo
          // flags repeated keys in one input with 1036.
          if (seen.has(leadId)) return { seq, ...skipped("1036", "Duplicate lead in input") };
          seen.add(leadId);
          if (!ctx.leads.byId(leadId)) return { seq, ...skipped("1004", "Lead not found") };
          const change = apply(program, status, leadId, "Changed by Web Service API");
          return change.status === "skipped" ? { seq, ...change } : { seq, status: change.status, leadId };
        });
        return { body: { success: true, result } };
      },
    },
    {
      method: "POST",
      pattern: "/rest/v1/leads/programs/:programId/status.json",
      permissions: ["Read-Write Person"],
      family: "rest",
      writes: true,
      handler: (req) => {
        const body = bodyOf(req);
        const statusName = typeof body.status === "string" ? body.status.trim() : "";
        if (!statusName) throw blank("status");
        const input = inputArray(req);
        const program = programOrThrow(req.params.programId);
        const status = lookupStatus(program, statusName);
        const table = membersOf(program.id);
        const result = input.map((item) => {
          const raw = isObject(item) ? item.id : undefined;
          const leadId = toId(raw);
          const idPart = leadId === undefined ? {} : { id: leadId };
          if (raw === undefined || raw === null || raw === "") {
            return skipped("1002", "Missing value for required parameter 'id'");
          }
          if (leadId === undefined) return skipped("1003", `Invalid value for field 'id' and value '${String(raw)}'`);
          if (isReason(status)) return { ...idPart, status: "skipped", reasons: [status] };
          if (!ctx.leads.byId(leadId)) return { ...idPart, ...skipped("1004", "Lead not found") };
          // The legacy call changes existing members only (it never creates membership).
          if (!table.has(leadId)) return { ...idPart, ...skipped("1013", "Membership not found") };
          const change = apply(program, status, leadId, "Changed by Web Service API");
          return { ...idPart, ...change };
        });
        return { body: { success: true, result } };
      },
    },
    {
      method: "GET",
      pattern: "/rest/v1/programs/:programId/members.json",
      permissions: [...personRead],
      family: "rest",
      handler: (req) => {
        const filterType = param(req, "filterType");
        if (!filterType) throw blank("filterType");
        const values = commaList(param(req, "filterValues"));
        if (values.length === 0) throw blank("filterValues");
        if (values.length > 300) throw new ApiError("1003", "Too many filterValues, maximum is 300");
        const program = programOrThrow(req.params.programId);
        const requested = commaList(param(req, "fields"));
        for (const f of requested) {
          if (!(MEMBER_FIELDS as readonly string[]).includes(f) && !CUSTOM_NAMES.has(f)) {
            throw new ApiError("1006", `Field '${f}' not found`);
          }
        }
        const fields =
          requested.length > 0 ? ["leadId", ...requested.filter((f) => f !== "leadId")] : DEFAULT_MEMBER_FIELDS;
        const all = [...membersOf(program.id).values()];
        let matched: Membership[];
        if (filterType === "leadId") {
          const ids = new Set(values.map((v) => toId(v)));
          matched = all.filter((m) => ids.has(m.leadId));
        } else if (filterType === "statusName") {
          const names = new Set(values);
          matched = all.filter((m) => names.has(m.status));
        } else {
          throw new ApiError("1003", `Invalid filterType '${filterType}'`);
        }
        // Marketo refuses a member query that matches more than it reads at once (100,000 members).
        const most = ctx.limits?.maxMembersQueried ?? 100_000;
        if (matched.length > most)
          throw new ApiError("1003", `Query matches ${matched.length} program members; at most ${most} can be read`);
        return {
          body: leadDbPage(
            matched.map((m, seq) => memberOut(m, seq, fields)),
            req,
          ),
        };
      },
    },
    {
      method: "POST",
      pattern: "/rest/v1/programs/:programId/members.json",
      permissions: ["Read-Write Person"],
      family: "rest",
      writes: true,
      handler: (req) => {
        const input = inputArray(req);
        const program = programOrThrow(req.params.programId);
        return { body: { success: true, result: input.map((item, seq) => syncMemberData(program, item, seq)) } };
      },
    },
    {
      method: "GET",
      pattern: "/rest/v1/leads/programs/:programId.json",
      permissions: [...personRead],
      family: "rest",
      handler: (req) => ({ body: leadsOfProgram(req) }),
    },
    {
      method: "GET",
      pattern: "/rest/v1/leads/:id/programMembership.json",
      permissions: [...personRead],
      family: "rest",
      handler: (req) => ({ body: programsOfLead(req) }),
    },
    {
      method: "GET",
      pattern: "/rest/v1/programs/members/describe.json",
      permissions: [...personRead],
      family: "rest",
      handler: () => ({ body: { success: true, result: [describeMembers()] } }),
    },
    {
      method: "POST",
      pattern: "/rest/v1/programs/:programId/members/delete.json",
      permissions: ["Read-Write Person"],
      family: "rest",
      writes: true,
      handler: (req) => {
        const input = inputArray(req);
        const program = programOrThrow(req.params.programId);
        const table = membersOf(program.id);
        const result = input.map((item, seq) => {
          const leadId = toId(isObject(item) ? item.leadId : undefined);
          if (leadId === undefined) return { seq, ...skipped("1002", "Missing value for required parameter 'leadId'") };
          if (!ctx.leads.byId(leadId)) return { seq, ...skipped("1004", "Lead not found") };
          if (!table.delete(leadId)) return { seq, ...skipped("1037", "Lead not in program") };
          return { seq, leadId, status: "deleted" };
        });
        return { body: { success: true, result } };
      },
    },
  ];

  return {
    name: "programs",
    routes,
    program: (id) => programs.find((p) => p.id === id),
    settableStatus,
    setMemberStatus,
    snapshot: () => ({
      channels: channels.map(channelOut),
      programs: programs.map((p) => programOut(p, true)),
      programMembers: [...members.values()].flatMap((table) =>
        [...table.values()].map((m) => ({
          programId: m.programId,
          leadId: m.leadId,
          status: m.status,
          step: m.step,
          success: m.success,
          reachedSuccess: m.reachedSuccess,
          membershipDate: leadDbDate(m.membershipDate),
          updatedAt: leadDbDate(m.updatedAt),
          ...structuredClone(m.custom),
        })),
      ),
    }),
    reset,
  };
}
