/**
 * marketo-lead: creates/updates leads (Sync Leads, or bulk import when the backlog is large),
 * requests a trigger campaign for them, or posts them through a Marketo form. Node-RED glue
 * only: the shared action base answers each record; the logic is src/lib/lead-action.ts and
 * src/lib/lead-bulk.ts.
 */
import type { Node, NodeAPI, NodeMessageInFlow } from "node-red";
import { invalidRecord } from "./lib/action-outcome";
import { startActionNode, type ActionNodeDef, type HandleContext, type Outcome } from "./lib/action-node";
import {
  describeValue,
  formCookie,
  formFields,
  isPlainRecord,
  normaliseTokens,
  parseLeadSettings,
  pickId,
  suppressedByReplay,
  syncRecordProblem,
  visitorData,
  type LeadNodeProps,
} from "./lib/lead-action";
import { BULK_LIVE_RECORDS, BulkCollector, overThreshold } from "./lib/lead-bulk";
import { resolveLeadId } from "./lib/lead-lookup";
import type { BulkRowResult, MarketoClient } from "./lib/marketo";

interface MarketoLeadDef extends ActionNodeDef, LeadNodeProps {
  tokens?: string;
  tokensType?: string;
  visitorData?: string;
  visitorDataType?: string;
  cookie?: string;
  cookieType?: string;
}

type Reader = (msg: NodeMessageInFlow) => Promise<unknown>;

const OPERATIONS = { sync: "syncLeads", trigger: "triggerCampaign", form: "submitForm" } as const;

export = function (RED: NodeAPI) {
  /** A TypedInput property, read per message. An empty msg/flow/global path reads nothing. */
  function makeReader(node: Node, value: string | undefined, type: string | undefined): Reader {
    const t = type || "msg";
    const v = value ?? "";
    if (v.trim() === "" && t !== "str") return () => Promise.resolve(undefined);
    if (t === "jsonata") {
      const expr = RED.util.prepareJSONataExpression(v, node);
      return (msg) =>
        new Promise((resolve, reject) => RED.util.evaluateJSONataExpression(expr, msg, (err, result) => (err ? reject(err) : resolve(result))));
    }
    if (t === "json") {
      const parsed: unknown = JSON.parse(v);
      return () => Promise.resolve(structuredClone(parsed));
    }
    if (t === "msg") RED.util.normalisePropertyExpression(v); // a bad path is a deploy problem, not a per-record one
    return (msg) =>
      new Promise((resolve, reject) => RED.util.evaluateNodeProperty(v, t, node, msg, (err, result) => (err ? reject(err) : resolve(result))));
  }

  function MarketoLeadNode(this: Node, def: MarketoLeadDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const { settings, problems } = parseLeadSettings(def);
    const label = (value: string | undefined, type: string | undefined, fallback: string): string =>
      (type || "msg") === "msg" ? `msg.${value || fallback}` : `the ${type} property ${value ?? ""}`.trim();

    const noReader: Reader = () => Promise.resolve(undefined);
    let readTokens = noReader;
    let readVisitor = noReader;
    let readCookie = noReader;
    const reader = (what: string, value: string | undefined, type: string | undefined): Reader => {
      try {
        return makeReader(node, value, type);
      } catch (err) {
        problems.push(`${what} ${describeValue(value)} cannot be read: ${err instanceof Error ? err.message : String(err)}`);
        return noReader;
      }
    };
    // A flow written without the editor gets the editor's defaults: msg.tokens, msg.visitorData, msg.cookie.
    const tokensProp = def.tokens ?? "tokens";
    const visitorProp = def.visitorData ?? "visitorData";
    const cookieProp = def.cookie ?? "cookie";
    if (settings.action === "trigger") readTokens = reader("tokens", tokensProp, def.tokensType);
    if (settings.action === "form") {
      readVisitor = reader("visitor data", visitorProp, def.visitorDataType);
      readCookie = reader("cookie", cookieProp, def.cookieType);
    }
    const tokensLabel = label(tokensProp, def.tokensType, "tokens");
    const visitorLabel = label(visitorProp, def.visitorDataType, "visitorData");
    const cookieLabel = label(cookieProp, def.cookieType, "cookie");

    const operation = OPERATIONS[settings.action] ?? "syncLeads";
    const invalid = (message: string): Outcome => ({ result: invalidRecord(`marketo-lead: ${message}`, operation) });
    /** A property that could not be read fails the record with the reader's reason. */
    const read = async (r: Reader, msg: NodeMessageInFlow, what: string): Promise<{ ok: true; value: unknown } | { ok: false; outcome: Outcome }> => {
      try {
        return { ok: true, value: await r(msg) };
      } catch (err) {
        return { ok: false, outcome: invalid(`${what} could not be read: ${err instanceof Error ? err.message : String(err)}`) };
      }
    };

    // Bulk import is Marketo's createOrUpdate; with lookupField id it would be updateOnly.
    const bulkAllowed = settings.action === "sync" && settings.syncAction === "createOrUpdate" && settings.lookupField !== "id" && settings.bulkThreshold > 0;
    let bulkClient: MarketoClient | undefined;
    const bulk = bulkAllowed
      ? new BulkCollector({
          run: (rows) => {
            const client = bulkClient;
            if (!client) return Promise.reject(new Error("no Marketo client for the bulk import"));
            return client.bulkImportLeads(rows, { lookupField: settings.lookupField, ...(settings.partitionName ? { partitionName: settings.partitionName } : {}) });
          },
          onChange: () => action.refreshStatus(),
        })
      : undefined;

    const bulkOutcome = (row: BulkRowResult): Outcome => {
      const { outcome, batchId, ...result } = row;
      return {
        result,
        // Bulk import names no lead id: say how the record went in, so nothing expects one.
        marketo: { ...(row.ok ? { status: "imported" } : {}), bulk: { outcome, ...(batchId !== undefined ? { batchId } : {}) } },
      };
    };

    async function sync(record: unknown, msg: NodeMessageInFlow, { client, config }: HandleContext): Promise<Outcome> {
      const problem = syncRecordProblem(record, settings.lookupField, settings.syncAction);
      if (problem) return invalid(problem);
      const lead = record as Record<string, unknown>;
      if (bulk && overThreshold(settings.bulkThreshold, action.backlog())) {
        bulkClient = client;
        return bulkOutcome(await bulk.submit(lead));
      }
      const r = await client.syncLead(lead, {
        ...(Object.prototype.hasOwnProperty.call(msg, "replay") ? { background: true } : {}),
        action: settings.syncAction,
        lookupField: settings.lookupField,
        ...(settings.partitionName ? { partitionName: settings.partitionName } : {}),
      });
      if (r.ok && r.id !== undefined) config.leadIds.set(settings.lookupField, lead[settings.lookupField], r.id);
      return { result: r };
    }

    async function trigger(record: unknown, msg: NodeMessageInFlow, { client, config }: HandleContext): Promise<Outcome> {
      const m = msg as NodeMessageInFlow & { campaignId?: unknown; marketo?: { leadId?: unknown } };
      const campaign = pickId(m.campaignId, settings.campaignId, "campaign id", "msg.campaignId");
      if (!campaign.ok) return invalid(campaign.message);
      const campaignId = campaign.value;
      const withCampaign = (o: Outcome, leadId?: number): Outcome => ({ ...o, marketo: { ...o.marketo, campaignId, ...(leadId !== undefined ? { leadId } : {}) } });
      // msg.marketo.leadId names the lead of a one-record message; in an array it would name none.
      const givenLeadId = Array.isArray(msg.payload) ? undefined : m.marketo?.leadId;
      if (givenLeadId === undefined && !isPlainRecord(record)) {
        return withCampaign(invalid(`msg.payload must be a lead record with an email (or set msg.marketo.leadId), got ${describeValue(record)}`));
      }
      const raw = await read(readTokens, msg, tokensLabel);
      if (!raw.ok) return withCampaign(raw.outcome);
      const tokens = normaliseTokens(raw.value, tokensLabel);
      if (!tokens.ok) return withCampaign(invalid(tokens.message));
      const lead = await resolveLeadId(client, config.leadIds, {
        leadId: givenLeadId,
        email: isPlainRecord(record) ? record.email : undefined,
        createMissing: settings.createMissing,
        operation,
      });
      if (!lead.ok) return withCampaign({ result: lead.result });
      const r = await client.triggerCampaignFor(campaignId, lead.leadId, tokens.value.length ? tokens.value : undefined);
      return withCampaign({ result: r }, lead.leadId);
    }

    async function form(record: unknown, msg: NodeMessageInFlow, { client, config }: HandleContext): Promise<Outcome> {
      const formId = pickId((msg as { formId?: unknown }).formId, settings.formId, "form id", "msg.formId");
      if (!formId.ok) return invalid(formId.message);
      const withForm = (o: Outcome): Outcome => ({ ...o, marketo: { ...o.marketo, formId: formId.value } });
      const fields = formFields(record);
      if (!fields.ok) return withForm(invalid(fields.message));
      const rawVisitor = await read(readVisitor, msg, visitorLabel);
      if (!rawVisitor.ok) return withForm(rawVisitor.outcome);
      const visitor = visitorData(rawVisitor.value, visitorLabel);
      if (!visitor.ok) return withForm(invalid(visitor.message));
      const rawCookie = await read(readCookie, msg, cookieLabel);
      if (!rawCookie.ok) return withForm(rawCookie.outcome);
      const cookie = formCookie(rawCookie.value, cookieLabel);
      if (!cookie.ok) return withForm(invalid(cookie.message));
      const r = await client.submitForm(formId.value, fields.value, {
        ...(visitor.value ? { visitorData: visitor.value } : {}),
        ...(cookie.value ? { cookie: cookie.value } : {}),
        ...(settings.programId !== undefined ? { programId: settings.programId } : {}),
      });
      if (r.ok && r.id !== undefined) config.leadIds.set("email", fields.value.email, r.id);
      return withForm({ result: r });
    }

    const action = startActionNode(RED, node, def, {
      type: "marketo-lead",
      operation,
      ...(problems.length ? { configProblem: problems.join("; ") } : {}),
      handle: (record, msg, ctx) => {
        if (settings.action !== "sync" && suppressedByReplay(msg)) {
          return Promise.resolve({ result: { ok: true, status: "suppressed" }, marketo: { suppressed: "replay" } });
        }
        if (settings.action === "trigger") return trigger(record, msg, ctx);
        if (settings.action === "form") return form(record, msg, ctx);
        return sync(record, msg, ctx);
      },
      close: () => bulk?.close(),
      ...(bulk ? { liveRecords: BULK_LIVE_RECORDS } : {}),
    });

    if (bulk) {
      // Rows waiting for the bulk window start their job now, so the base's wait on close
      // sees them answered (imported, or failed by the closing client) rather than timing out.
      node.on("close", (_removed: boolean, done: () => void) => {
        bulk.close();
        done();
      });
    }
  }

  RED.nodes.registerType("marketo-lead", MarketoLeadNode);
};
