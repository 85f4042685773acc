/**
 * Smart campaigns: list/get, Request Campaign (trigger) and Schedule Campaign.
 * Runs are recorded rather than executed; tests read them from the state snapshot.
 */
import { chicagoDay } from "../lib/marketo/time";
import type { ActivityLog } from "./activities";
import { bodyOf, blank, clone, commaList, isObject, leadDbDate, leadDbPage, param, toId } from "./common";
import type { Campaign } from "./model";
import { ACTIVITY_REQUEST_CAMPAIGN, seedCampaigns } from "./seed";
import { ApiError, type DomainContext, type DomainModule, type RouteDef } from "./types";

export const MAX_TRIGGER_LEADS = 100;
export const MAX_TOKENS = 100;
/** Schedule Campaign may clone to a new program at most this many times a day (1020 after). */
export const MAX_CLONES_PER_DAY = 20;
const FIVE_MINUTES = 5 * 60_000;
const TWO_YEARS = 2 * 365 * 24 * 3_600_000;
const TOKEN_NAME = /^\{\{my\.[^{}]+\}\}$/;

export interface CampaignToken {
  name: string;
  value: string;
}

export interface CampaignRun {
  runId: number;
  type: "trigger" | "schedule";
  campaignId: number;
  /** Leads the run applies to (trigger only; unknown ids are ignored as Marketo does). */
  leadIds: number[];
  ignoredLeadIds: number[];
  tokens: CampaignToken[];
  requestedAt: string;
  runAt?: string;
  cloneToProgramName?: string;
}

function campaignOut(c: Campaign): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    description: c.description,
    type: c.type,
    programName: c.programName,
    programId: c.programId,
    workspaceName: c.workspaceName,
    createdAt: leadDbDate(c.createdAt),
    updatedAt: leadDbDate(c.updatedAt),
    active: c.active,
  };
}

/** `input.tokens`: at most 100 `{name:"{{my.x}}", value}` pairs; anything else → 1003. */
function parseTokens(raw: unknown): CampaignToken[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ApiError("1003", "Invalid value for 'tokens'");
  if (raw.length > MAX_TOKENS) throw new ApiError("1003", `Too many tokens, maximum is ${MAX_TOKENS}`);
  return raw.map((t) => {
    const name = isObject(t) ? t.name : undefined;
    if (typeof name !== "string" || !TOKEN_NAME.test(name)) {
      throw new ApiError("1003", `Invalid token name '${String(name)}', expected '{{my.name}}'`);
    }
    const value = isObject(t) ? t.value : undefined;
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      throw new ApiError("1003", `Invalid value for token '${name}'`);
    }
    return { name, value: String(value) };
  });
}

export function createCampaignsModule(ctx: DomainContext, activities?: ActivityLog): DomainModule {
  let campaigns: Campaign[] = [];
  let runs: CampaignRun[] = [];
  /** Marketo day (America/Chicago, like the API quota) → clones scheduled that day. */
  let clonesByDay = new Map<string, number>();

  function reset(): void {
    campaigns = ctx.seed.enabled ? seedCampaigns() : [];
    runs = [];
    clonesByDay = new Map();
  }
  reset();

  function campaignOrThrow(raw: string): Campaign {
    const id = toId(raw);
    const campaign = id === undefined ? undefined : campaigns.find((c) => c.id === id);
    if (!campaign) throw new ApiError("1013", `Campaign '${raw}' not found`);
    return campaign;
  }

  const read = ["Read-Only Campaigns", "Read-Write Campaigns"] as const;

  const routes: RouteDef[] = [
    {
      method: "GET",
      pattern: "/rest/v1/campaigns.json",
      permissions: [...read],
      family: "rest",
      handler: (req) => {
        const ids = commaList(param(req, "id")).map((v) => toId(v));
        const names = commaList(param(req, "name"));
        const programNames = commaList(param(req, "programName"));
        const workspaces = commaList(param(req, "workspaceName"));
        const matched = campaigns.filter(
          (c) =>
            (ids.length === 0 || ids.includes(c.id)) &&
            (names.length === 0 || names.includes(c.name)) &&
            (programNames.length === 0 || programNames.includes(c.programName)) &&
            (workspaces.length === 0 || workspaces.includes(c.workspaceName)),
        );
        return { body: leadDbPage(matched.map(campaignOut), req) };
      },
    },
    {
      method: "GET",
      pattern: "/rest/v1/campaigns/:id.json",
      permissions: [...read],
      family: "rest",
      handler: (req) => ({ body: { success: true, result: [campaignOut(campaignOrThrow(req.params.id))] } }),
    },
    {
      method: "POST",
      pattern: "/rest/v1/campaigns/:id/trigger.json",
      permissions: ["Read-Write Campaigns"],
      family: "rest",
      writes: true,
      handler: (req) => {
        const campaign = campaignOrThrow(req.params.id);
        if (campaign.type !== "trigger") throw new ApiError("1003", "Campaign is not a trigger campaign");
        if (!campaign.active) throw new ApiError("1003", "Campaign is not active");
        if (!campaign.requestable) {
          throw new ApiError("1003", "Campaign does not have a 'Campaign is Requested' (Web Service API) trigger");
        }
        const input = bodyOf(req).input;
        if (!isObject(input)) throw blank("input");
        const leads = input.leads;
        if (!Array.isArray(leads) || leads.length === 0) throw blank("leads");
        if (leads.length > MAX_TRIGGER_LEADS) {
          throw new ApiError("1003", `Too many leads, maximum is ${MAX_TRIGGER_LEADS}`);
        }
        const ids = leads.map((l) => {
          const id = toId(isObject(l) ? l.id : undefined);
          if (id === undefined) throw new ApiError("1003", `Invalid lead id '${JSON.stringify(l)}'`);
          return id;
        });
        const tokens = parseTokens(input.tokens);
        const known = ids.filter((id) => ctx.leads.byId(id) !== undefined);
        runs.push({
          runId: ctx.nextId("campaignRun"),
          type: "trigger",
          campaignId: campaign.id,
          leadIds: known,
          ignoredLeadIds: ids.filter((id) => !known.includes(id)),
          tokens,
          requestedAt: leadDbDate(ctx.now()),
        });
        for (const leadId of known) {
          activities?.record({
            leadId,
            activityTypeId: ACTIVITY_REQUEST_CAMPAIGN,
            primaryAttributeValueId: campaign.id,
            primaryAttributeValue: campaign.name,
            attributes: { Source: "Web Service API" },
          });
        }
        return { body: { success: true, result: [{ id: campaign.id }] } };
      },
    },
    {
      method: "POST",
      pattern: "/rest/v1/campaigns/:id/schedule.json",
      permissions: ["Read-Write Campaigns"],
      family: "rest",
      writes: true,
      handler: (req) => {
        const campaign = campaignOrThrow(req.params.id);
        if (campaign.type !== "batch") throw new ApiError("1003", "Campaign is not a batch campaign");
        const rawInput = bodyOf(req).input;
        const input = isObject(rawInput) ? rawInput : {};
        const now = ctx.now();
        let runAt = now + FIVE_MINUTES;
        if (input.runAt !== undefined && input.runAt !== null && input.runAt !== "") {
          const ms = typeof input.runAt === "string" ? Date.parse(input.runAt) : Number.NaN;
          if (Number.isNaN(ms)) throw new ApiError("704", `Invalid date format '${String(input.runAt)}'`);
          if (ms > now + TWO_YEARS) throw new ApiError("1042", "Invalid runAt date, must be within 2 years");
          // Marketo runs a scheduled campaign no sooner than five minutes after the call.
          runAt = Math.max(ms, now + FIVE_MINUTES);
        }
        const tokens = parseTokens(input.tokens);
        let cloneToProgramName: string | undefined;
        // The API reference names it cloneToProgramName, the guide's prose cloneToProgram: both work.
        const cloneName = input.cloneToProgramName ?? input.cloneToProgram;
        if (typeof cloneName === "string" && cloneName !== "") {
          // The instance's day, as for the daily API quota; a UTC date would start the next
          // day's 20 clones at 18:00/19:00 Central.
          const day = chicagoDay(now);
          const used = clonesByDay.get(day) ?? 0;
          if (used >= MAX_CLONES_PER_DAY) throw new ApiError("1020", "Too many clones to program today");
          clonesByDay.set(day, used + 1);
          cloneToProgramName = cloneName;
        }
        runs.push({
          runId: ctx.nextId("campaignRun"),
          type: "schedule",
          campaignId: campaign.id,
          leadIds: [],
          ignoredLeadIds: [],
          tokens,
          requestedAt: leadDbDate(now),
          runAt: leadDbDate(runAt),
          ...(cloneToProgramName === undefined ? {} : { cloneToProgramName }),
        });
        return { body: { success: true, result: [{ id: campaign.id }] } };
      },
    },
  ];

  return {
    name: "campaigns",
    routes,
    snapshot: () => ({
      campaigns: campaigns.map((c) => ({ ...campaignOut(c), requestable: c.requestable })),
      campaignRuns: clone(runs),
    }),
    reset,
  };
}
