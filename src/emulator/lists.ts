/**
 * Static lists in the lead database: Get Lists, Add to List, Remove from List, Get Leads by
 * List Id and Member of List. Lead ids come as `id` query parameters or as `input: [{id}]`
 * (recorded clients send both); adding and removing write the "Add to List" / "Remove from
 * List" activities Marketo logs.
 */
import type { ActivityLog } from "./activities";
import { clone, commaList, leadDbDate, leadDbPage, param, toId } from "./common";
import { ok } from "./envelope";
import { leadIdsOf, leadRecord, requestedLeadFields } from "./leads";
import { decodePagingToken, encodePagingToken } from "./pagingToken";
import { ACTIVITY_ADD_TO_LIST, ACTIVITY_REMOVE_FROM_LIST, seedLists, type StaticList } from "./seed";
import {
  ApiError,
  type DomainContext,
  type DomainModule,
  type EmuRequest,
  type Permission,
  type RouteDef,
} from "./types";

const READ: Permission[] = ["Read-Only Person", "Read-Write Person"];
const WRITE: Permission[] = ["Read-Write Person"];
const MAX_PAGE = 300;

export interface ListsModule extends DomainModule {
  /** Whether a static list with this id exists. */
  has(listId: number): boolean;
  /** A list's member lead ids, or undefined when there is no such list. */
  members(listId: number): number[] | undefined;
  /** Adds a lead to a list as Add to List does (bulk import's `listId`); false for no such list. */
  add(listId: number, leadId: number): boolean;
}

type Skip = { id?: unknown; status: "skipped"; reasons: { code: string; message: string }[] };

function skip(id: unknown, code: string, message: string): Skip {
  return { ...(id === undefined ? {} : { id }), status: "skipped", reasons: [{ code, message }] };
}

export function createListsModule(ctx: DomainContext, activities?: ActivityLog): ListsModule {
  let lists: StaticList[] = [];
  /** listId → member lead id → when it was added (epoch ms), in the order they were added. */
  let members = new Map<number, Map<number, number>>();

  function reset(): void {
    lists = ctx.seed.enabled ? seedLists() : [];
    members = new Map(lists.map((l) => [l.id, new Map<number, number>()]));
  }
  reset();

  const maxBatch = (): number => ctx.limits?.maxBatch ?? 300;

  function listOrThrow(raw: string): StaticList {
    const id = toId(raw);
    const list = id === undefined ? undefined : lists.find((l) => l.id === id);
    if (!list) throw new ApiError("1013", `Static list '${raw}' not found`);
    return list;
  }

  function membersOf(list: StaticList): Map<number, number> {
    let set = members.get(list.id);
    if (!set) members.set(list.id, (set = new Map()));
    return set;
  }

  /** Adds a lead to a list (once), writing the Add to List activity. */
  function addMember(list: StaticList, leadId: number): void {
    const set = membersOf(list);
    if (set.has(leadId)) return;
    set.set(leadId, ctx.now());
    record(leadId, list, ACTIVITY_ADD_TO_LIST);
  }

  function listOut(l: StaticList): Record<string, unknown> {
    return {
      id: l.id,
      name: l.name,
      description: l.description,
      programName: l.programName,
      workspaceName: l.workspaceName,
      createdAt: leadDbDate(l.createdAt),
      updatedAt: leadDbDate(l.updatedAt),
    };
  }

  /** Each requested lead id checked: a number, and a lead that exists (1004 otherwise). */
  function eachLead(req: EmuRequest, apply: (leadId: number) => Record<string, unknown>): Record<string, unknown>[] {
    return leadIdsOf(req, maxBatch()).map((raw) => {
      const leadId = toId(raw);
      if (leadId === undefined) return skip(raw, "1003", `Invalid value for field 'id' and value '${String(raw)}'`);
      if (!ctx.leads.byId(leadId)) return skip(leadId, "1004", "Lead not found");
      return apply(leadId);
    });
  }

  function record(leadId: number, list: StaticList, activityTypeId: number): void {
    activities?.record({
      leadId,
      activityTypeId,
      primaryAttributeValueId: list.id,
      primaryAttributeValue: list.name,
      attributes: { Source: "Web Service API" },
    });
  }

  function membersPage(req: EmuRequest): Record<string, unknown> {
    const list = listOrThrow(req.params.listId);
    const fields = requestedLeadFields(req);
    const rawSize = param(req, "batchSize");
    const size = rawSize === undefined || rawSize === "" ? MAX_PAGE : Number(rawSize);
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE) {
      throw new ApiError("1003", `Invalid value for field 'batchSize' and value '${rawSize}'`);
    }
    const token = param(req, "nextPageToken");
    let offset = 0;
    if (token) {
      const decoded = decodePagingToken(token);
      if (decoded === undefined)
        throw new ApiError("1003", `Invalid value for field 'nextPageToken' and value '${token}'`);
      offset = decoded;
    }
    // Deleted leads leave their lists with them.
    const leads = [...membersOf(list).keys()].map((id) => ctx.leads.byId(id)).filter((l) => l !== undefined);
    const unset = ctx.answers?.unsetLeadFields ?? "null";
    const page = leads.slice(offset, offset + size).map((l) => leadRecord(l, fields, unset));
    const more = offset + size < leads.length;
    return ok(page, more ? { moreResult: true, nextPageToken: encodePagingToken(offset + size) } : {});
  }

  const routes: RouteDef[] = [
    {
      method: "GET",
      pattern: "/rest/v1/lists.json",
      permissions: READ,
      family: "rest",
      handler: (req) => {
        const ids = commaList(param(req, "id")).map((v) => toId(v));
        const names = commaList(param(req, "name"));
        const programNames = commaList(param(req, "programName"));
        const workspaces = commaList(param(req, "workspaceName"));
        const matched = lists.filter(
          (l) =>
            (ids.length === 0 || ids.includes(l.id)) &&
            (names.length === 0 || names.includes(l.name)) &&
            (programNames.length === 0 || programNames.includes(l.programName)) &&
            (workspaces.length === 0 || workspaces.includes(l.workspaceName)),
        );
        return { body: ok(matched.map(listOut)) };
      },
    },
    {
      method: "GET",
      pattern: "/rest/v1/lists/:listId.json",
      permissions: READ,
      family: "rest",
      handler: (req) => ({ body: ok([listOut(listOrThrow(req.params.listId))]) }),
    },
    {
      method: "POST",
      pattern: "/rest/v1/lists/:listId/leads.json",
      permissions: WRITE,
      family: "rest",
      writes: true,
      handler: (req) => {
        const list = listOrThrow(req.params.listId);
        const result = eachLead(req, (leadId) => {
          addMember(list, leadId);
          return { id: leadId, status: "added" };
        });
        return { body: ok(result) };
      },
    },
    {
      method: "DELETE",
      pattern: "/rest/v1/lists/:listId/leads.json",
      permissions: WRITE,
      family: "rest",
      writes: true,
      handler: (req) => {
        const list = listOrThrow(req.params.listId);
        const set = membersOf(list);
        const result = eachLead(req, (leadId) => {
          if (!set.delete(leadId)) return skip(leadId, "1015", "Lead not in list");
          record(leadId, list, ACTIVITY_REMOVE_FROM_LIST);
          return { id: leadId, status: "removed" };
        });
        return { body: ok(result) };
      },
    },
    {
      method: "GET",
      pattern: "/rest/v1/lists/:listId/leads.json",
      permissions: READ,
      family: "rest",
      handler: (req) => ({ body: membersPage(req) }),
    },
    // The older singular path, which recorded clients still read members from.
    {
      method: "GET",
      pattern: "/rest/v1/list/:listId/leads.json",
      permissions: READ,
      family: "rest",
      handler: (req) => ({ body: membersPage(req) }),
    },
    {
      // Get Lists by Lead Id: the lists holding the lead, each with when it joined.
      method: "GET",
      pattern: "/rest/v1/leads/:id/listMembership.json",
      permissions: READ,
      family: "rest",
      handler: (req) => {
        const leadId = toId(req.params.id);
        if (leadId === undefined)
          throw new ApiError("1003", `Invalid value for field 'id' and value '${req.params.id}'`);
        const rows = lists.flatMap((l) => {
          const at = membersOf(l).get(leadId);
          return at === undefined ? [] : [{ listId: l.id, createdAt: leadDbDate(at), updatedAt: leadDbDate(at) }];
        });
        return { body: leadDbPage(rows, req) };
      },
    },
    {
      method: "GET",
      pattern: "/rest/v1/lists/:listId/leads/ismember.json",
      permissions: READ,
      family: "rest",
      handler: (req) => {
        const set = membersOf(listOrThrow(req.params.listId));
        const result = eachLead(req, (leadId) => ({
          id: leadId,
          status: set.has(leadId) ? "memberof" : "notmemberof",
        }));
        return { body: ok(result) };
      },
    },
  ];

  return {
    name: "lists",
    routes,
    has: (listId) => lists.some((l) => l.id === listId),
    add: (listId, leadId) => {
      const list = lists.find((l) => l.id === listId);
      if (!list) return false;
      addMember(list, leadId);
      return true;
    },
    members: (listId) => {
      const list = lists.find((l) => l.id === listId);
      return list ? [...membersOf(list).keys()] : undefined;
    },
    snapshot: () => ({
      lists: lists.map((l) => ({ ...listOut(l), members: clone([...membersOf(l).keys()]) })),
    }),
    reset,
  };
}
