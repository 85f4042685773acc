/**
 * marketo-lead: creates/updates leads (Sync Leads, or bulk import when the backlog is large),
 * requests a trigger campaign for them, or posts them through a Marketo form. Node-RED glue
 * only: the shared action base answers each record; the logic is src/lib/actions/lead-action.ts and
 * src/lib/actions/lead-bulk.ts.
 */
import type { Node, NodeAPI, NodeMessageInFlow } from "node-red";
import type { CampaignToken } from "./lib/marketo";
import { eventRoot } from "./lib/flow/event";
import { invalidRecord } from "./lib/actions/action-outcome";
import { startActionNode, type ActionNodeDef, type HandleContext, type Outcome } from "./lib/node-kit/action-node";
import {
  describeValue,
  formCookie,
  formFields,
  isPlainRecord,
  normaliseTokens,
  parseLeadSettings,
  pickId,
  positiveId,
  suppressedByReplay,
  syncRecordProblem,
  visitorData,
  type LeadNodeProps,
} from "./lib/actions/lead-action";
import { BULK_LIVE_RECORDS, BulkCollector, overThreshold } from "./lib/actions/lead-bulk";
import { forEachLead, resolveLeadId } from "./lib/actions/lead-lookup";
import { isDuplicateSkip, syncDuplicates } from "./lib/actions/lead-duplicates";
import { metrics } from "./lib/sidebar/metrics";
import { isMarketoConfig } from "./lib/node-kit/marketo-config-api";
import { MarketoError } from "./lib/marketo";
import { unconfirmedSinceOf } from "./lib/delivery/delivery-once";
import type { BulkRowResult, MarketoClient } from "./lib/marketo";

interface MarketoLeadDef extends ActionNodeDef, LeadNodeProps {
  /** Where a message names its campaign (default msg.campaignId); blank there: the node's campaign. */
  campaignFrom?: string;
  campaignFromType?: string;
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
        new Promise((resolve, reject) =>
          RED.util.evaluateJSONataExpression(expr, msg, (err, result) => (err ? reject(err) : resolve(result))),
        );
    }
    if (t === "json") {
      const parsed: unknown = JSON.parse(v);
      return () => Promise.resolve(structuredClone(parsed));
    }
    if (t === "event") {
      // The platform event wherever it is now: msg.source once field-mapper has run, else msg.payload.
      // A missing step reads as missing (the node's value then applies), never as an error.
      const parts = RED.util.normalisePropertyExpression(v);
      return (msg) => {
        let cur: unknown = eventRoot(msg as { payload?: unknown; source?: unknown }).root;
        for (const p of parts) {
          if (cur === null || typeof cur !== "object" || !Object.prototype.hasOwnProperty.call(cur, p))
            return Promise.resolve(undefined);
          cur = (cur as Record<string | number, unknown>)[p];
        }
        return Promise.resolve(cur);
      };
    }
    if (t === "msg") RED.util.normalisePropertyExpression(v); // a bad path is a deploy problem, not a per-record one
    return (msg) =>
      new Promise((resolve, reject) =>
        RED.util.evaluateNodeProperty(v, t, node, msg, (err, result) => (err ? reject(err) : resolve(result))),
      );
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
        problems.push(
          `${what} ${describeValue(value)} cannot be read: ${err instanceof Error ? err.message : String(err)}`,
        );
        return noReader;
      }
    };
    // A flow written without the editor gets the editor's defaults: msg.tokens, msg.visitorData, msg.cookie.
    const tokensProp = def.tokens ?? "tokens";
    const visitorProp = def.visitorData ?? "visitorData";
    const cookieProp = def.cookie ?? "cookie";
    const campaignProp = def.campaignFrom ?? "campaignId";
    const campaignLabel =
      (def.campaignFromType || "msg") === "event"
        ? `event.${campaignProp}`
        : label(campaignProp, def.campaignFromType, "campaignId");
    let readCampaign = noReader;
    if (settings.action === "trigger" || settings.campaignAfterSync)
      readCampaign = reader("campaign id", campaignProp, def.campaignFromType);
    if (settings.action === "trigger" || settings.campaignAfterSync)
      readTokens = reader("tokens", tokensProp, def.tokensType);
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
    const read = async (
      r: Reader,
      msg: NodeMessageInFlow,
      what: string,
    ): Promise<{ ok: true; value: unknown } | { ok: false; outcome: Outcome }> => {
      try {
        return { ok: true, value: await r(msg) };
      } catch (err) {
        return {
          ok: false,
          outcome: invalid(`${what} could not be read: ${err instanceof Error ? err.message : String(err)}`),
        };
      }
    };

    // Bulk import is Marketo's createOrUpdate; with lookupField id it would be updateOnly.
    const bulkAllowed =
      settings.action === "sync" &&
      settings.syncAction === "createOrUpdate" &&
      settings.lookupField !== "id" &&
      settings.bulkThreshold > 0;
    let bulkClient: MarketoClient | undefined;
    const bulk = bulkAllowed
      ? new BulkCollector({
          run: (rows) => {
            const client = bulkClient;
            if (!client) return Promise.reject(new Error("no Marketo client for the bulk import"));
            return client.bulkImportLeads(rows, {
              lookupField: settings.lookupField,
              ...(settings.partitionName ? { partitionName: settings.partitionName } : {}),
            });
          },
          onChange: () => action.refreshStatus(),
        })
      : undefined;

    const bulkOutcome = (row: BulkRowResult): Outcome => {
      const { outcome, batchId, ...result } = row;
      return {
        result,
        // Bulk import names no lead id: say how the record went in, so nothing expects one.
        marketo: {
          ...(row.ok ? { status: "imported" } : {}),
          bulk: { outcome, ...(batchId !== undefined ? { batchId } : {}) },
        },
      };
    };

    /** The campaign and tokens a record asks for: the message's campaign, else the node's. */
    async function campaignOf(
      msg: NodeMessageInFlow,
    ): Promise<{ ok: true; campaignId: number; tokens: CampaignToken[] } | { ok: false; outcome: Outcome }> {
      const rawCampaign = await read(readCampaign, msg, campaignLabel);
      if (!rawCampaign.ok) return rawCampaign;
      const campaign = pickId(rawCampaign.value, settings.campaignId, "campaign id", campaignLabel);
      if (!campaign.ok) return { ok: false, outcome: invalid(campaign.message) };
      const raw = await read(readTokens, msg, tokensLabel);
      if (!raw.ok) return { ok: false, outcome: { ...raw.outcome, marketo: { campaignId: campaign.value } } };
      const tokens = normaliseTokens(raw.value, tokensLabel);
      if (!tokens.ok)
        return { ok: false, outcome: { ...invalid(tokens.message), marketo: { campaignId: campaign.value } } };
      return { ok: true, campaignId: campaign.value, tokens: tokens.value };
    }

    /**
     * The fields whose owner is not this flow (field-mapper's "only if blank" / "never overwrite"
     * rows, in msg.marketo.fieldUpdates): Marketo's values for them are read in the lookup batch
     * (300 emails a call, only for records that carry such rows) and the fields the policy keeps
     * are left out of the record. A lead that does not exist yet gets every field.
     */
    async function ownFields(
      lead: Record<string, unknown>,
      msg: NodeMessageInFlow,
      client: MarketoClient,
    ): Promise<{ ok: true; lead: Record<string, unknown>; kept: string[] } | { ok: false; outcome: Outcome }> {
      const mk = (msg as { marketo?: unknown }).marketo;
      const updates = isPlainRecord(mk) ? mk.fieldUpdates : undefined;
      if (updates === undefined || updates === null) return { ok: true, lead, kept: [] };
      if (!isPlainRecord(updates))
        return {
          ok: false,
          outcome: invalid(
            `msg.marketo.fieldUpdates must be an object of field: "ifBlank" | "never", not ${describeValue(updates)}`,
          ),
        };
      const fields: string[] = [];
      for (const [f, p] of Object.entries(updates)) {
        if (p !== "ifBlank" && p !== "never" && p !== "overwrite")
          return {
            ok: false,
            outcome: invalid(
              `msg.marketo.fieldUpdates.${f} must be "overwrite", "ifBlank" or "never", not ${describeValue(p)}`,
            ),
          };
        if (p !== "overwrite" && Object.prototype.hasOwnProperty.call(lead, f)) fields.push(f);
      }
      // Nothing to keep, or no existing lead is ever written: no lookup.
      if (fields.length === 0 || settings.syncAction === "createOnly" || settings.syncAction === "createDuplicate")
        return { ok: true, lead, kept: [] };
      if (settings.lookupField !== "email")
        return {
          ok: false,
          outcome: invalid(
            `fields that are not overwritten (${fields.join(", ")}) need the lookup field email, not ${settings.lookupField}`,
          ),
        };
      const matches = await client.findLeads(String(lead.email), fields);
      if (matches.length === 0) return { ok: true, lead, kept: [] };
      const existing = matches[0].fields ?? {};
      const kept = fields.filter(
        (f) =>
          updates[f] === "never" ||
          !(
            existing[f] === undefined ||
            existing[f] === null ||
            (typeof existing[f] === "string" && (existing[f] as string).trim() === "")
          ),
      );
      if (kept.length === 0) return { ok: true, lead, kept };
      const out = { ...lead };
      for (const f of kept) delete out[f];
      return { ok: true, lead: out, kept };
    }

    /**
     * Create/Update lead, then the campaign request for that lead: the record is done when both
     * are. The campaign is checked before anything is sent, so a record with none sends nothing.
     */
    async function sync(record: unknown, msg: NodeMessageInFlow, ctx: HandleContext): Promise<Outcome> {
      const { client, config } = ctx;
      const problem = syncRecordProblem(record, settings.lookupField, settings.syncAction);
      if (problem) return invalid(problem);
      // A replay updates the lead but requests no campaign, as Trigger campaign mode does.
      const campaign = settings.campaignAfterSync && !suppressedByReplay(msg) ? await campaignOf(msg) : undefined;
      if (campaign && !campaign.ok) return campaign.outcome;
      const owned = await ownFields(record as Record<string, unknown>, msg, client);
      if (!owned.ok) return owned.outcome;
      const lead = owned.lead;
      const keptInfo = owned.kept.length ? { fieldsKept: owned.kept } : {};
      const withKept = (o: Outcome): Outcome =>
        owned.kept.length ? { ...o, marketo: { ...o.marketo, ...keptInfo } } : o;
      let synced: Outcome;
      let leadId: number | undefined;
      if (bulk && overThreshold(settings.bulkThreshold, action.backlog())) {
        bulkClient = client;
        synced = withKept(bulkOutcome(await bulk.submit(lead)));
        if (campaign && synced.result.ok) {
          // Bulk import names no lead id: the campaign's lead is looked up by email, as a trigger's is.
          const found = await resolveLeadId(client, config.leadIds, {
            email: lead.email,
            operation: "triggerCampaign",
            duplicates: settings.duplicates,
          });
          if (!found.ok)
            return {
              result: found.result,
              marketo: {
                ...synced.marketo,
                campaignId: campaign.campaignId,
                ...(found.duplicates ? { duplicates: found.duplicates } : {}),
              },
            };
          leadId = found.leadId;
        }
      } else {
        // A replayed message (tag-filter's msg.replay) waits behind live ones for Marketo's capacity.
        const background = Object.prototype.hasOwnProperty.call(msg, "replay");
        const r = await client.syncLead(lead, {
          ...(background ? { background: true } : {}),
          action: settings.syncAction,
          lookupField: settings.lookupField,
          ...(settings.partitionName ? { partitionName: settings.partitionName } : {}),
        });
        if (r.ok && r.id !== undefined) config.leadIds.set(settings.lookupField, lead[settings.lookupField], r.id);
        if (isDuplicateSkip(r, settings.lookupField, settings.syncAction)) {
          // Several leads have the email: the node's duplicate policy decides, as on the lookup nodes.
          metrics.duplicateLeads({ id: node.id, type: "marketo-lead", name: def.name || "" });
          const d = await syncDuplicates(client, config.leadIds, lead, r, { policy: settings.duplicates, background });
          synced = withKept({ result: d.result, marketo: d.marketo });
          leadId = d.result.ok ? (d.marketo.leadId as number | undefined) : undefined;
        } else {
          synced = withKept({ result: r });
          leadId = r.id;
        }
      }
      if (!campaign || !synced.result.ok) return synced;
      if (leadId === undefined)
        return {
          result: invalidRecord(
            "Marketo named no lead for the record, so no campaign was requested",
            "triggerCampaign",
          ),
          marketo: { ...synced.marketo, campaignId: campaign.campaignId },
        };
      const since = unconfirmedSinceOf(msg);
      const t = await client.triggerCampaignFor(
        campaign.campaignId,
        leadId,
        campaign.tokens.length ? campaign.tokens : undefined,
        since ? { unconfirmedSince: since } : {},
      );
      const marketo = {
        ...synced.marketo,
        leadId,
        campaignId: campaign.campaignId,
        campaign: { status: t.ok ? t.status : "failed", ...(t.requestId ? { requestId: t.requestId } : {}) },
      };
      // The sync's status (created/updated) says what happened to the lead; a failed request fails the record.
      return t.ok ? { result: synced.result, marketo } : { result: t, marketo };
    }

    async function trigger(
      record: unknown,
      msg: NodeMessageInFlow,
      { client, config }: HandleContext,
    ): Promise<Outcome> {
      const m = msg as NodeMessageInFlow & { marketo?: { leadId?: unknown } };
      const campaign = await campaignOf(msg);
      if (!campaign.ok) return campaign.outcome;
      const campaignId = campaign.campaignId;
      const withCampaign = (o: Outcome, leadId?: number): Outcome => ({
        ...o,
        marketo: { ...o.marketo, campaignId, ...(leadId !== undefined ? { leadId } : {}) },
      });
      // msg.marketo.leadId names the lead of a one-record message; in an array it would name none.
      const givenLeadId = Array.isArray(msg.payload) ? undefined : m.marketo?.leadId;
      if (givenLeadId === undefined && !isPlainRecord(record)) {
        return withCampaign(
          invalid(
            `msg.payload must be a lead record with an email (or set msg.marketo.leadId), got ${describeValue(record)}`,
          ),
        );
      }
      const tokens = { value: campaign.tokens };
      const lead = await resolveLeadId(client, config.leadIds, {
        leadId: givenLeadId,
        email: isPlainRecord(record) ? record.email : undefined,
        createMissing: settings.createMissing,
        operation,
        duplicates: settings.duplicates,
      });
      const dup = lead.duplicates ? { marketo: { duplicates: lead.duplicates } } : {};
      if (lead.duplicates) metrics.duplicateLeads({ id: node.id, type: "marketo-lead", name: def.name || "" });
      if (!lead.ok) return withCampaign({ result: lead.result, ...dup });
      const since = unconfirmedSinceOf(msg);
      const r = await forEachLead(lead.leadIds, (leadId) =>
        client.triggerCampaignFor(
          campaignId,
          leadId,
          tokens.value.length ? tokens.value : undefined,
          since ? { unconfirmedSince: since } : {},
        ),
      );
      return withCampaign(
        { result: r, marketo: { ...dup.marketo, ...(lead.leadIds.length > 1 ? { leadIds: lead.leadIds } : {}) } },
        lead.leadId,
      );
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
        ...(unconfirmedSinceOf(msg) ? { unconfirmedSince: unconfirmedSinceOf(msg) } : {}),
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

  /**
   * The dialog's form picker: Get Forms, and Get Form Fields of the chosen one, through a
   * deployed marketo-config (its shared limits and day count apply). Errors name their category.
   */
  const formsClient = (configId: unknown): { ok: true; client: MarketoClient } | { ok: false; message: string } => {
    const config = typeof configId === "string" && configId ? RED.nodes.getNode(configId) : undefined;
    if (!configId) return { ok: false, message: "choose a marketo-config first" };
    if (!isMarketoConfig(config))
      return { ok: false, message: "the chosen marketo-config is not deployed yet: deploy it, then pick again" };
    if (config.configError) return { ok: false, message: config.configError.message };
    try {
      return { ok: true, client: config.getClient() };
    } catch (err) {
      return { ok: false, message: err instanceof Error ? err.message : String(err) };
    }
  };
  const failed = (res: { status(n: number): { json(b: unknown): void } }, err: unknown): void => {
    const e =
      err instanceof MarketoError
        ? { category: err.category, code: err.code, message: err.message }
        : { category: "network", message: err instanceof Error ? err.message : String(err) };
    res.status(200).json({ ok: false, error: e });
  };
  RED.httpAdmin.get("/marketo-lead/forms", RED.auth.needsPermission("marketo-lead.read"), (req, res) => {
    const c = formsClient(req.query.config);
    if (!c.ok) return void res.status(400).json({ ok: false, error: { category: "validation", message: c.message } });
    c.client
      .getForms()
      .then((forms) =>
        res.json({
          ok: true,
          forms: forms.map((f) => ({ id: f.id, name: f.name, ...(f.status ? { status: f.status } : {}) })),
        }),
      )
      .catch((err: unknown) => failed(res, err));
  });
  RED.httpAdmin.get("/marketo-lead/forms/:id/fields", RED.auth.needsPermission("marketo-lead.read"), (req, res) => {
    const c = formsClient(req.query.config);
    if (!c.ok) return void res.status(400).json({ ok: false, error: { category: "validation", message: c.message } });
    const id = positiveId(req.params.id);
    if (id === undefined)
      return void res.status(400).json({
        ok: false,
        error: {
          category: "validation",
          message: `the form id ${JSON.stringify(req.params.id)} is not a positive whole number`,
        },
      });
    c.client
      .getFormFields(id)
      .then((fields) =>
        res.json({
          ok: true,
          formId: id,
          fields: fields.map((f) => ({
            id: f.id,
            ...(f.label ? { label: f.label } : {}),
            ...(f.dataType ? { dataType: f.dataType } : {}),
            required: f.required === true,
          })),
        }),
      )
      .catch((err: unknown) => failed(res, err));
  });
};
