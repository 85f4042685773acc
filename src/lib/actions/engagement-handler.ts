/**
 * marketo-custom-activity's handler: one session engagement per record into Marketo, as a custom
 * activity or a custom object record linked to the lead. The target's metadata is described once
 * per client and shared by every record waiting for it. Settings and property readers come in,
 * so it runs without a Node-RED runtime.
 */
import { KeyedBulk, bulkAnswer, overThreshold } from "./bulk-switch";
import { isRecord } from "../node-kit/guards";
import type { MarketoClient } from "../marketo";
import { invalidRecord, type Outcome } from "./action-outcome";
import {
  activityDate,
  buildActivity,
  buildCustomObject,
  engagementDate,
  engagementFields,
  engagementOf,
  settingsProblems,
  DEFAULT_ACTIVITY_TYPE,
  DEFAULT_CUSTOM_OBJECT,
  DEFAULT_LINK_FIELD,
  type Plan,
  type Target,
} from "./engagement";
import type { EngagementField } from "./engagement-fields";
import { EngagementPlans } from "./engagement-plans";
import type { LeadIdCache } from "./lead-ids";
import { duplicatePolicy, forEachLead, resolveLeadId, type DuplicatePolicy } from "./lead-lookup";
import { acceptedAtOf, isReplayed, writeOnceOptions } from "../delivery/delivery-once";

type Msg = { payload?: unknown; marketo?: unknown } & Record<string, unknown>;

/** A property read from one record of a message, or why it could not be. */
export type Read = { ok: true; value: unknown; where: string } | { ok: false; reason: string };
export type EngagementReader = (msg: Msg, record: unknown, index: number) => Promise<Read>;

export interface EngagementReaders {
  engagement: EngagementReader;
  email: EngagementReader;
  /** Absent when the date is the engagement's own, now, or a fixed date. */
  date?: EngagementReader;
}

/** The node's settings as the editor saves them. */
export interface EngagementProps {
  target?: string;
  activityType?: string;
  customObject?: string;
  linkField?: string;
  preset?: string;
  fields?: unknown;
  engagement?: string;
  engagementType?: string;
  email?: string;
  emailType?: string;
  activityDate?: string;
  activityDateType?: string;
  createMissing?: boolean | string;
  /** Several leads with the email: fail, newest, oldest or all. */
  duplicates?: string;
}

export interface EngagementSettings {
  target: Target;
  /** The activity type's or custom object's API name. */
  apiName: string;
  linkField: string;
  createMissing: boolean;
  fields: EngagementField[];
  duplicates: DuplicatePolicy | undefined;
  /** engagement, now, date, or the TypedInput type the date is read with. */
  dateType: string;
  operation: "syncCustomObjects" | "addCustomActivities";
}

function text(v: unknown, fallback: string): string {
  return typeof v === "string" && v.trim() !== "" ? v.trim() : fallback;
}

/** The settings, and every problem with them (each fails every record). */
export function engagementSettings(def: EngagementProps): { settings: EngagementSettings; problems: string[] } {
  const target = text(def.target, "activity") as Target;
  const linkField = text(def.linkField, DEFAULT_LINK_FIELD);
  const problems = settingsProblems({
    target,
    activityType: text(def.activityType, DEFAULT_ACTIVITY_TYPE),
    customObject: text(def.customObject, DEFAULT_CUSTOM_OBJECT),
    linkField,
  });
  const { fields, problems: fieldProblems } = engagementFields(def.preset, def.fields, target);
  problems.push(...fieldProblems);
  const duplicates = duplicatePolicy(def.duplicates);
  if (duplicates === undefined)
    problems.push(`duplicate leads must be fail, newest, oldest or all, not ${JSON.stringify(def.duplicates)}`);
  return {
    settings: {
      target,
      apiName:
        target === "customObject"
          ? text(def.customObject, DEFAULT_CUSTOM_OBJECT)
          : text(def.activityType, DEFAULT_ACTIVITY_TYPE),
      linkField,
      createMissing: def.createMissing === true || def.createMissing === "true",
      fields,
      duplicates,
      dateType: text(def.activityDateType, "engagement"),
      operation: target === "customObject" ? "syncCustomObjects" : "addCustomActivities",
    },
    problems,
  };
}

/** The properties read per record: where each is, and with which TypedInput type. */
export function engagementProperties(
  def: EngagementProps,
  dateType: string,
): Array<{ key: keyof EngagementReaders; value: string; type: string }> {
  const out: Array<{ key: keyof EngagementReaders; value: string; type: string }> = [
    { key: "engagement", value: def.engagement ?? "engagement", type: text(def.engagementType, "event") },
    { key: "email", value: def.email ?? "profile.email", type: text(def.emailType, "event") },
  ];
  if (dateType !== "engagement" && dateType !== "now" && dateType !== "date")
    out.push({ key: "date", value: def.activityDate ?? "", type: dateType });
  return out;
}

export interface EngagementContext {
  client: MarketoClient;
  config: { leadIds: LeadIdCache };
  /** Position of the record in an array payload. */
  index: number;
}

export interface EngagementHandlerOptions {
  settings: EngagementSettings;
  readers: EngagementReaders;
  /** Said once per deploy: the fields the target lacks. */
  warn(text: string): void;
  /** A lead was found more than once by email. */
  duplicateLeads(): void;
  /** Custom objects: above the threshold, a record about one lead goes to the bulk import. */
  bulk?: { collector: KeyedBulk; threshold: number; backlog(): number };
}

export interface EngagementHandler {
  handle(record: unknown, msg: Msg, ctx: EngagementContext): Promise<Outcome>;
  /** The target's metadata through this client: described once, shared by every record waiting for it. */
  planFor(client: MarketoClient): Promise<Plan>;
  /** No warning after close. */
  close(): void;
  readonly closed: boolean;
}

export function engagementHandler(o: EngagementHandlerOptions): EngagementHandler {
  const plans = new EngagementPlans(o.settings, (text) => o.warn(text));
  return {
    handle: (record, msg, ctx) => sendEngagement(o, plans, record, msg, ctx),
    planFor: (client) => plans.planFor(client),
    close: () => {
      plans.closed = true;
      o.bulk?.collector.close();
    },
    get closed() {
      return plans.closed;
    },
  };
}

/** What sending one engagement needs once it is read: the node, where it goes, and the lead it names. */
interface EngagementRun {
  o: EngagementHandlerOptions;
  ctx: EngagementContext;
  msg: Msg;
  plan: Plan;
  engagement: Record<string, unknown>;
  leadIdIn: unknown;
  email: unknown;
  /** A replayed message (tag-filter's msg.replay) waits behind live ones for Marketo's capacity. */
  replayed: boolean;
}

type Found = Awaited<ReturnType<typeof resolveLeadId>>;

/** One record: the engagement and its date read, the target's plan, the lead, then the activity or object. */
async function sendEngagement(
  o: EngagementHandlerOptions,
  plans: EngagementPlans,
  record: unknown,
  msg: Msg,
  ctx: EngagementContext,
): Promise<Outcome> {
  const { operation } = o.settings;
  const got = await readEngagement(o, record, msg, ctx.index);
  if (!got.ok) return { result: invalidRecord(got.message, operation) };
  const plan = await plans.planFor(ctx.client);
  const replayed = isReplayed(msg);
  const who = await leadRefOf(o.readers.email, record, msg, ctx.index, got.engagement);
  if (!who.ok) return { result: invalidRecord(who.message, operation) };
  const run: EngagementRun = { o, ctx, msg, plan, engagement: got.engagement, ...who, replayed };
  // Only an activity carries a date.
  return got.when !== undefined ? sendActivity(run, got.when) : sendCustomObject(run);
}

/** The engagement of one record and, for an activity, its date. */
async function readEngagement(
  o: EngagementHandlerOptions,
  record: unknown,
  msg: Msg,
  index: number,
): Promise<{ ok: true; engagement: Record<string, unknown>; when?: string } | { ok: false; message: string }> {
  const { readers } = o;
  const got = await readers.engagement(msg, record, index);
  if (!got.ok) return { ok: false, message: got.reason };
  const eng = engagementOf(got.value, got.where);
  if (!eng.ok) return eng;
  const engagement = eng.record;
  if (o.settings.target !== "activity") return { ok: true, engagement };
  let raw: unknown;
  if (o.settings.dateType === "engagement") raw = engagementDate(engagement);
  else if (readers.date) {
    const d = await readers.date(msg, record, index);
    if (!d.ok) return { ok: false, message: d.reason };
    raw = d.value;
  }
  // Without a date of its own the activity is dated when the flow took the record in, so a
  // second attempt (after a restart, or from a retry-queue) sends the very same activity.
  const date = activityDate(raw, acceptedAtOf(msg) ?? Date.now());
  if (!date.ok) return date;
  return { ok: true, engagement, when: date.value };
}

/** The lead: msg.marketo.leadId, else by email (the event's, else the engagement's own). */
async function leadRefOf(
  emailReader: EngagementReader,
  record: unknown,
  msg: Msg,
  index: number,
  engagement: Record<string, unknown>,
): Promise<{ ok: true; leadIdIn: unknown; email: unknown } | { ok: false; message: string }> {
  const marketoIn = (msg as { marketo?: unknown }).marketo;
  const leadIdIn = isRecord(marketoIn) ? marketoIn.leadId : undefined;
  let email: unknown;
  if (leadIdIn === undefined || leadIdIn === null || leadIdIn === "") {
    const e = await emailReader(msg, record, index);
    email = e.ok ? e.value : undefined;
    if (email === undefined || email === null || email === "") email = engagement.email;
    if (!e.ok && (email === undefined || email === null || email === ""))
      return { ok: false, message: `no lead: ${e.reason}` };
  }
  return { ok: true, leadIdIn, email };
}

async function findLead({ o, ctx, leadIdIn, email }: EngagementRun): Promise<Found> {
  const { createMissing, operation, duplicates } = o.settings;
  const found = await resolveLeadId(ctx.client, ctx.config.leadIds, {
    leadId: leadIdIn,
    email,
    createMissing,
    operation,
    ...(duplicates ? { duplicates } : {}),
  });
  if (found.duplicates) o.duplicateLeads();
  return found;
}

/** What msg.marketo says about the lead(s): the id, every id with policy "all", the duplicates met. */
function leadInfo(found: Found): Record<string, unknown> {
  return found.ok
    ? {
        leadId: found.leadId,
        ...(found.leadIds.length > 1 ? { leadIds: found.leadIds } : {}),
        ...(found.duplicates ? { duplicates: found.duplicates } : {}),
      }
    : found.duplicates
      ? { duplicates: found.duplicates }
      : {};
}

async function sendActivity(run: EngagementRun, when: string): Promise<Outcome> {
  const { o, ctx, msg, plan, engagement } = run;
  const { operation, apiName } = o.settings;
  // Built before the lead is looked up or created: a record that cannot be sent costs no call.
  const built = buildActivity(plan, engagement, { leadId: 0, activityDate: when });
  if (!built.ok) return { result: invalidRecord(built.message, operation) };
  const found = await findLead(run);
  if (!found.ok) return { result: found.result, marketo: leadInfo(found) };
  const once = writeOnceOptions(msg);
  const result = await forEachLead(found.leadIds, (leadId) =>
    ctx.client.addCustomActivity({ ...built.record, leadId }, once),
  );
  return {
    result,
    marketo: { ...leadInfo(found), activityTypeId: plan.shape.typeId, activityType: apiName, activityDate: when },
  };
}

async function sendCustomObject(run: EngagementRun): Promise<Outcome> {
  const { o, ctx, plan, engagement, replayed } = run;
  const { operation, apiName, linkField } = o.settings;
  // Built before the lead is looked up or created: a record that cannot be sent costs no call.
  const built = buildCustomObject(plan, engagement, { leadId: 0 });
  if (!built.ok) return { result: invalidRecord(built.message, operation) };
  const found = await findLead(run);
  if (!found.ok) return { result: found.result, marketo: leadInfo(found) };
  // Above the threshold a record about one lead goes to the custom object bulk import; with
  // policy "all" (one record per duplicate) it stays on Sync Custom Objects.
  const bulk = o.bulk;
  if (bulk && found.leadIds.length === 1 && overThreshold(bulk.threshold, bulk.backlog())) {
    const client = ctx.client;
    const row = await bulk.collector.submit(apiName, { ...built.record, [linkField]: found.leadId }, (rows) =>
      client.bulkImportCustomObjects(apiName, rows),
    );
    const answer = bulkAnswer(row);
    return { result: answer.result, marketo: { ...leadInfo(found), customObject: apiName, ...answer.marketo } };
  }
  const result = await forEachLead(found.leadIds, (leadId) =>
    ctx.client.syncCustomObject(
      apiName,
      { ...built.record, [linkField]: leadId },
      {
        action: "createOrUpdate",
        dedupeBy: "dedupeFields",
        dedupeFields: plan.shape.dedupeFields ?? [],
        ...(replayed ? { background: true } : {}),
      },
    ),
  );
  return { result, marketo: { ...leadInfo(found), customObject: apiName } };
}
