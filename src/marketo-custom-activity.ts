/**
 * marketo-custom-activity: one session engagement per record into Marketo, as a custom activity
 * (Add Custom Activities) or a custom object record (Sync Custom Objects) linked to the lead.
 * Glue only: fields, coercion and records are in lib/engagement*.ts, the Node-RED side every
 * action node shares in lib/action-node.ts.
 */
import { eventRoot } from "./lib/flow/event";
import type { Node, NodeAPI, NodeMessageInFlow } from "node-red";
import { startActionNode, type ActionNodeDef, type HandleContext, type Outcome } from "./lib/node-kit/action-node";
import { invalidRecord } from "./lib/actions/action-outcome";
import {
  activityDate,
  activityShape,
  buildActivity,
  buildCustomObject,
  customObjectShape,
  engagementDate,
  engagementFields,
  engagementOf,
  missingFieldsText,
  planFields,
  settingsProblems,
  DEFAULT_ACTIVITY_TYPE,
  DEFAULT_CUSTOM_OBJECT,
  DEFAULT_LINK_FIELD,
  type Plan,
  type ShapeResult,
  type Target,
} from "./lib/actions/engagement";
import { duplicatePolicy, forEachLead, resolveLeadId } from "./lib/actions/lead-lookup";
import { metrics } from "./lib/sidebar/metrics";
import { acceptedAtOf, unconfirmedSinceOf } from "./lib/delivery/delivery-once";
import { MarketoError, type MarketoClient } from "./lib/marketo";
import { isRecord } from "./lib/flow/paths";
import { readPath } from "./lib/flow/status-ladder";
import { BULK_LIVE_RECORDS, KeyedBulk, bulkAnswer, overThreshold, parseBulkThreshold } from "./lib/actions/bulk-switch";

interface CustomActivityDef extends ActionNodeDef {
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
  /** Custom objects: a backlog above this many records goes to Marketo's bulk import (0 = never). */
  bulkThreshold?: string | number;
}

type Read = { ok: true; value: unknown; where: string } | { ok: false; reason: string };
type Reader = (msg: NodeMessageInFlow, record: unknown, index: number) => Promise<Read>;

const TYPE = "marketo-custom-activity";

function text(v: unknown, fallback: string): string {
  return typeof v === "string" && v.trim() !== "" ? v.trim() : fallback;
}

/** The message a record is read from: for an array payload, msg.payload is that record. */
function viewOf(msg: NodeMessageInFlow, record: unknown): Record<string, unknown> {
  return msg.payload === record ? (msg as unknown as Record<string, unknown>) : { ...msg, payload: record };
}

export = function (RED: NodeAPI) {
  /**
   * A TypedInput property, prepared once at deploy. "event" is the platform event wherever it
   * is now (as status-mapper reads it): msg.source when field-mapper has moved it there (the
   * same element of an msg.source array), else the record (msg.payload or its array element).
   */
  function makeReader(node: Node, value: string, type: string): Reader {
    if (type === "jsonata") {
      const expr = RED.util.prepareJSONataExpression(value, node);
      return (msg, record) =>
        new Promise((resolve) =>
          RED.util.evaluateJSONataExpression(expr, viewOf(msg, record), (err, result) =>
            resolve(
              err
                ? { ok: false, reason: `the expression ${value} failed: ${err.message.slice(0, 200)}` }
                : { ok: true, value: result, where: `the expression ${value}` },
            ),
          ),
        );
    }
    const parts = value === "" ? [] : RED.util.normalisePropertyExpression(value);
    if (type === "event") {
      return async (msg, record, index) => {
        const { root, label } = eventRoot(msg as { payload?: unknown; source?: unknown }, record, index);
        const where = value ? `${label}.${value}` : label;
        const r = readPath(root, parts, label);
        return r.ok ? { ok: true, value: r.value, where } : { ok: false, reason: r.reason };
      };
    }
    return async (msg, record) => {
      const r = readPath(viewOf(msg, record), parts, "msg");
      return r.ok ? { ok: true, value: r.value, where: `msg.${value}` } : { ok: false, reason: r.reason };
    };
  }

  function MarketoCustomActivityNode(this: Node, def: CustomActivityDef) {
    RED.nodes.createNode(this, def);
    const node = this;

    const target = text(def.target, "activity") as Target;
    const apiName =
      target === "customObject"
        ? text(def.customObject, DEFAULT_CUSTOM_OBJECT)
        : text(def.activityType, DEFAULT_ACTIVITY_TYPE);
    const linkField = text(def.linkField, DEFAULT_LINK_FIELD);
    const createMissing = def.createMissing === true || def.createMissing === "true";
    const operation = target === "customObject" ? "syncCustomObjects" : "addCustomActivities";

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

    // Marketo has bulk import for custom objects, not for custom activities.
    const bulkThreshold = parseBulkThreshold(def.bulkThreshold);
    if (target === "customObject" && bulkThreshold.problem) problems.push(bulkThreshold.problem);
    const bulk =
      target === "customObject" && bulkThreshold.value > 0
        ? new KeyedBulk({ operation: "bulkImportCustomObjects", onChange: () => action.refreshStatus() })
        : undefined;

    let readEngagement: Reader | undefined;
    let readEmail: Reader | undefined;
    let readDate: Reader | undefined;
    const dateType = text(def.activityDateType, "engagement");
    try {
      readEngagement = makeReader(node, def.engagement ?? "engagement", text(def.engagementType, "event"));
      readEmail = makeReader(node, def.email ?? "profile.email", text(def.emailType, "event"));
      if (dateType !== "engagement" && dateType !== "now" && dateType !== "date")
        readDate = makeReader(node, def.activityDate ?? "", dateType);
    } catch (err) {
      problems.push(`a property cannot be read: ${err instanceof Error ? err.message : String(err)}`);
    }

    // ---- metadata: one describe per deploy (per client), shared by every record waiting for it ----
    let closed = false;
    let warned = false;
    let meta: { client: MarketoClient; plan: Promise<Plan> } | undefined;

    const describeTarget = async (client: MarketoClient): Promise<ShapeResult> => {
      if (target === "customObject")
        return customObjectShape(await client.describeCustomObject(apiName), apiName, linkField);
      const described = await client.describeCustomActivityType(apiName);
      if (isRecord(described) && described.id === undefined) {
        // Describe answered without the id: the type list has it (one more call, once).
        const listed = (await client.listCustomActivityTypes()).find((t) => t.apiName === apiName);
        return activityShape(listed ? { ...described, id: listed.id } : described, apiName);
      }
      return activityShape(described, apiName);
    };

    const what = target === "customObject" ? `the custom object ${apiName}` : `the custom activity type ${apiName}`;
    const metadataError = (err: unknown): MarketoError => {
      const e =
        err instanceof MarketoError
          ? err
          : new MarketoError({
              code: "INTERNAL",
              message: err instanceof Error ? err.message : String(err),
              category: "marketo",
              action: "permanent",
              retryable: false,
            });
      return new MarketoError({ ...e.toJSON(), message: `cannot read ${what} from Marketo: ${e.message}`, operation });
    };

    const planFor = (client: MarketoClient): Promise<Plan> => {
      if (meta && meta.client === client) return meta.plan;
      const plan: Promise<Plan> = describeTarget(client).then(
        (shape) => {
          if (!shape.ok)
            throw new MarketoError({
              code: "INVALID_INPUT",
              message: shape.message,
              category: "validation",
              action: "permanent",
              retryable: false,
              operation,
            });
          const p = planFields(fields, shape.shape);
          const missing = missingFieldsText(p);
          if (missing && !warned && !closed) {
            warned = true;
            node.warn(`${TYPE}: ${missing}`);
          }
          return p;
        },
        (err: unknown) => {
          throw metadataError(err);
        },
      );
      const entry = { client, plan };
      meta = entry;
      // A failed describe is not kept: the next record asks again.
      plan.catch(() => {
        if (meta === entry) meta = undefined;
      });
      return plan;
    };

    const handle = async (record: unknown, msg: NodeMessageInFlow, ctx: HandleContext): Promise<Outcome> => {
      const got = await readEngagement!(msg, record, ctx.index);
      if (!got.ok) return { result: invalidRecord(got.reason, operation) };
      const eng = engagementOf(got.value, got.where);
      if (!eng.ok) return { result: invalidRecord(eng.message, operation) };
      const engagement = eng.record;

      let when: string | undefined;
      if (target === "activity") {
        let raw: unknown;
        if (dateType === "engagement") raw = engagementDate(engagement);
        else if (readDate) {
          const d = await readDate(msg, record, ctx.index);
          if (!d.ok) return { result: invalidRecord(d.reason, operation) };
          raw = d.value;
        }
        // Without a date of its own the activity is dated when the flow took the record in, so a
        // second attempt (after a restart, or from a retry-queue) sends the very same activity.
        const date = activityDate(raw, acceptedAtOf(msg) ?? Date.now());
        if (!date.ok) return { result: invalidRecord(date.message, operation) };
        when = date.value;
      }

      const plan = await planFor(ctx.client);

      // The lead: msg.marketo.leadId, else by email (the event's, else the engagement's own).
      const marketoIn = (msg as { marketo?: unknown }).marketo;
      const leadIdIn = isRecord(marketoIn) ? marketoIn.leadId : undefined;
      let email: unknown;
      if (leadIdIn === undefined || leadIdIn === null || leadIdIn === "") {
        const e = await readEmail!(msg, record, ctx.index);
        email = e.ok ? e.value : undefined;
        if (email === undefined || email === null || email === "") email = engagement.email;
        if (!e.ok && (email === undefined || email === null || email === ""))
          return { result: invalidRecord(`no lead: ${e.reason}`, operation) };
      }

      const lead = async (): ReturnType<typeof resolveLeadId> => {
        const found = await resolveLeadId(ctx.client, ctx.config.leadIds, {
          leadId: leadIdIn,
          email,
          createMissing,
          operation,
          ...(duplicates ? { duplicates } : {}),
        });
        if (found.duplicates) metrics.duplicateLeads({ id: node.id, type: TYPE, name: def.name || "" });
        return found;
      };
      /** What msg.marketo says about the lead(s): the id, every id with policy "all", the duplicates met. */
      const leadInfo = (found: Awaited<ReturnType<typeof resolveLeadId>>): Record<string, unknown> =>
        found.ok
          ? {
              leadId: found.leadId,
              ...(found.leadIds.length > 1 ? { leadIds: found.leadIds } : {}),
              ...(found.duplicates ? { duplicates: found.duplicates } : {}),
            }
          : found.duplicates
            ? { duplicates: found.duplicates }
            : {};

      // Built before the lead is looked up or created: a record that cannot be sent costs no call.
      if (target === "activity") {
        const built = buildActivity(plan, engagement, { leadId: 0, activityDate: when! });
        if (!built.ok) return { result: invalidRecord(built.message, operation) };
        const found = await lead();
        if (!found.ok) return { result: found.result, marketo: leadInfo(found) };
        const since = unconfirmedSinceOf(msg);
        const result = await forEachLead(found.leadIds, (leadId) =>
          ctx.client.addCustomActivity({ ...built.record, leadId }, since ? { unconfirmedSince: since } : {}),
        );
        return {
          result,
          marketo: { ...leadInfo(found), activityTypeId: plan.shape.typeId, activityType: apiName, activityDate: when },
        };
      }
      const built = buildCustomObject(plan, engagement, { leadId: 0 });
      if (!built.ok) return { result: invalidRecord(built.message, operation) };
      const found = await lead();
      if (!found.ok) return { result: found.result, marketo: leadInfo(found) };
      // Above the threshold a record about one lead goes to the custom object bulk import; with
      // policy "all" (one record per duplicate) it stays on Sync Custom Objects.
      if (bulk && found.leadIds.length === 1 && overThreshold(bulkThreshold.value, action.backlog())) {
        const client = ctx.client;
        const row = await bulk.submit(apiName, { ...built.record, [linkField]: found.leadId }, (rows) =>
          client.bulkImportCustomObjects(apiName, rows),
        );
        const answer = bulkAnswer(row);
        return { result: answer.result, marketo: { ...leadInfo(found), customObject: apiName, ...answer.marketo } };
      }
      const result = await forEachLead(found.leadIds, (leadId) =>
        ctx.client.syncCustomObject(
          apiName,
          { ...built.record, [linkField]: leadId },
          { action: "createOrUpdate", dedupeBy: "dedupeFields", dedupeFields: plan.shape.dedupeFields ?? [] },
        ),
      );
      return { result, marketo: { ...leadInfo(found), customObject: apiName } };
    };

    const action = startActionNode(RED, node, def, {
      type: TYPE,
      operation,
      ...(problems.length ? { configProblem: problems.join("; ") } : {}),
      handle,
      close: () => {
        closed = true;
        bulk?.close();
      },
      ...(bulk ? { liveRecords: BULK_LIVE_RECORDS } : {}),
    });
    if (bulk) {
      // Rows waiting for the bulk window start their job now, so the base's wait on close sees
      // them answered rather than timing out.
      node.on("close", (_removed: boolean, done: () => void) => {
        bulk.close();
        done();
      });
    }

    // Read the metadata at deploy, so the missing-fields warning comes now rather than with the
    // first record; records arriving meanwhile wait for this same call.
    if (problems.length === 0 && action.config && !action.config.configError) {
      try {
        planFor(action.config.getClient()).catch((err: unknown) => {
          if (!closed) node.warn(`${TYPE}: ${err instanceof Error ? err.message : String(err)}`);
        });
      } catch {
        /* the records report an unusable config */
      }
    }
  }

  RED.nodes.registerType(TYPE, MarketoCustomActivityNode);
};
