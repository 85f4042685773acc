/**
 * marketo-lead's handler: one record to Marketo as the node's action says: Sync Leads (or a bulk
 * import when the backlog is large) with an optional campaign request after it, a trigger
 * campaign request for a lead found by id or email, or a form fill. The node's settings and
 * readers of its TypedInput properties come in, so it runs without a Node-RED runtime.
 */
import { errorText } from "../node-kit/guards";
import { isDuplicateSkip, syncDuplicates } from "./lead-duplicates";
import { bulkAnswer } from "./bulk-switch";
import type { CampaignToken, MarketoClient } from "../marketo";
import { invalidRecord, type Outcome } from "./action-outcome";
import {
  describeValue,
  formCookie,
  formFields,
  isPlainRecord,
  normaliseTokens,
  pickId,
  suppressedByReplay,
  syncRecordProblem,
  visitorData,
  type LeadSettings,
} from "./lead-action";
import { BulkCollector, overThreshold } from "./lead-bulk";
import type { LeadIdCache } from "./lead-ids";
import { forEachLead, resolveLeadId } from "./lead-lookup";
import { unconfirmedSinceOf, isReplayed } from "../delivery/delivery-once";

type Msg = { payload?: unknown; marketo?: unknown } & Record<string, unknown>;

/** A TypedInput property read from one message; it may reject (a JSONata error, a bad path). */
export type Reader = (msg: Msg) => Promise<unknown>;
export const noReader: Reader = () => Promise.resolve(undefined);

/** What the node reads per message, and how errors name it. */
export interface LeadReaders {
  campaign: Reader;
  tokens: Reader;
  visitor: Reader;
  cookie: Reader;
}
export interface LeadLabels {
  campaign: string;
  tokens: string;
  visitor: string;
  cookie: string;
}

/** Where one record goes: the client, and the lead ids already known for this Marketo instance. */
export interface LeadContext {
  client: MarketoClient;
  config: { leadIds: LeadIdCache };
}

export interface LeadHandlerOptions {
  settings: LeadSettings;
  readers: LeadReaders;
  labels: LeadLabels;
  /** Records the node has accepted and not answered yet: the bulk switch compares it with its threshold. */
  backlog(): number;
  /** A lead was found more than once by email. */
  duplicateLeads(): void;
  /** The node's own state changed (rows waiting for a bulk job). */
  refreshStatus(): void;
}

export interface LeadHandler {
  operation: string;
  /** Set when the bulk switch can take records: they are kept live in larger numbers. */
  bulk: BulkCollector<MarketoClient> | undefined;
  handle(record: unknown, msg: Msg, ctx: LeadContext): Promise<Outcome>;
}

const OPERATIONS = { sync: "syncLeads", trigger: "triggerCampaign", form: "submitForm" } as const;

/** How an error names a TypedInput property: msg.tokens, or the flow property x. */
export function propertyLabel(value: string | undefined, type: string | undefined, fallback: string): string {
  return (type || "msg") === "msg" ? `msg.${value || fallback}` : `the ${type} property ${value ?? ""}`.trim();
}

/** The node's TypedInput properties, as the editor saves them. */
export interface LeadPropertyProps {
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

/** A flow written without the editor gets the editor's defaults: msg.campaignId, msg.tokens, msg.visitorData, msg.cookie. */
function withDefaults(p: LeadPropertyProps) {
  return {
    campaign: { value: p.campaignFrom ?? "campaignId", type: p.campaignFromType, fallback: "campaignId" },
    tokens: { value: p.tokens ?? "tokens", type: p.tokensType, fallback: "tokens" },
    visitor: { value: p.visitorData ?? "visitorData", type: p.visitorDataType, fallback: "visitorData" },
    cookie: { value: p.cookie ?? "cookie", type: p.cookieType, fallback: "cookie" },
  };
}

/** The properties a node with these settings reads per message; the others are never read. */
export function leadProperties(
  settings: LeadSettings,
  p: LeadPropertyProps,
): Array<{ key: keyof LeadReaders; what: string; value: string; type: string | undefined }> {
  const d = withDefaults(p);
  const out: Array<{ key: keyof LeadReaders; what: string; value: string; type: string | undefined }> = [];
  if (settings.action === "trigger" || settings.campaignAfterSync) {
    out.push({ key: "campaign", what: "campaign id", ...d.campaign });
    out.push({ key: "tokens", what: "tokens", ...d.tokens });
  }
  if (settings.action === "form") {
    out.push({ key: "visitor", what: "visitor data", ...d.visitor });
    out.push({ key: "cookie", what: "cookie", ...d.cookie });
  }
  return out.map(({ key, what, value, type }) => ({ key, what, value, type }));
}

/** How errors name each property. */
export function leadLabels(p: LeadPropertyProps): LeadLabels {
  const d = withDefaults(p);
  const label = (x: { value: string; type: string | undefined; fallback: string }): string =>
    propertyLabel(x.value, x.type, x.fallback);
  return {
    campaign: (d.campaign.type || "msg") === "event" ? `event.${d.campaign.value}` : label(d.campaign),
    tokens: label(d.tokens),
    visitor: label(d.visitor),
    cookie: label(d.cookie),
  };
}

export function leadHandler(o: LeadHandlerOptions): LeadHandler {
  const { settings, readers, labels } = o;
  const operation = OPERATIONS[settings.action] ?? "syncLeads";
  const invalid = (message: string): Outcome => ({ result: invalidRecord(`marketo-lead: ${message}`, operation) });
  /** A property that could not be read fails the record with the reader's reason. */
  const read = async (
    r: Reader,
    msg: Msg,
    what: string,
  ): Promise<{ ok: true; value: unknown } | { ok: false; outcome: Outcome }> => {
    try {
      return { ok: true, value: await r(msg) };
    } catch (err) {
      return {
        ok: false,
        outcome: invalid(`${what} could not be read: ${errorText(err)}`),
      };
    }
  };

  // Bulk import is Marketo's createOrUpdate; with lookupField id it would be updateOnly.
  const bulkAllowed =
    settings.action === "sync" &&
    settings.syncAction === "createOrUpdate" &&
    settings.lookupField !== "id" &&
    settings.bulkThreshold > 0;
  const bulk = bulkAllowed
    ? new BulkCollector<MarketoClient>({
        run: (rows, client) =>
          client.bulkImportLeads(rows, {
            lookupField: settings.lookupField,
            ...(settings.partitionName ? { partitionName: settings.partitionName } : {}),
          }),
        onChange: () => o.refreshStatus(),
      })
    : undefined;

  /** The campaign and tokens a record asks for: the message's campaign, else the node's. */
  async function campaignOf(
    msg: Msg,
  ): Promise<{ ok: true; campaignId: number; tokens: CampaignToken[] } | { ok: false; outcome: Outcome }> {
    const rawCampaign = await read(readers.campaign, msg, labels.campaign);
    if (!rawCampaign.ok) return rawCampaign;
    const campaign = pickId(rawCampaign.value, settings.campaignId, "campaign id", labels.campaign);
    if (!campaign.ok) return { ok: false, outcome: invalid(campaign.message) };
    const raw = await read(readers.tokens, msg, labels.tokens);
    if (!raw.ok) return { ok: false, outcome: { ...raw.outcome, marketo: { campaignId: campaign.value } } };
    const tokens = normaliseTokens(raw.value, labels.tokens);
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
    msg: Msg,
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
  async function sync(record: unknown, msg: Msg, ctx: LeadContext): Promise<Outcome> {
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
    if (bulk && overThreshold(settings.bulkThreshold, o.backlog())) {
      synced = withKept(bulkAnswer(await bulk.submit(lead, client)));
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
      const background = isReplayed(msg);
      const r = await client.syncLead(lead, {
        ...(background ? { background: true } : {}),
        action: settings.syncAction,
        lookupField: settings.lookupField,
        ...(settings.partitionName ? { partitionName: settings.partitionName } : {}),
      });
      if (r.ok && r.id !== undefined) config.leadIds.set(settings.lookupField, lead[settings.lookupField], r.id);
      if (isDuplicateSkip(r, settings.lookupField, settings.syncAction)) {
        // Several leads have the email: the node's duplicate policy decides, as on the lookup nodes.
        o.duplicateLeads();
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
        result: invalidRecord("Marketo named no lead for the record, so no campaign was requested", "triggerCampaign"),
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

  async function trigger(record: unknown, msg: Msg, { client, config }: LeadContext): Promise<Outcome> {
    const m = msg as Msg & { marketo?: { leadId?: unknown } };
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
    if (lead.duplicates) o.duplicateLeads();
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

  async function form(record: unknown, msg: Msg, { client, config }: LeadContext): Promise<Outcome> {
    const formId = pickId((msg as { formId?: unknown }).formId, settings.formId, "form id", "msg.formId");
    if (!formId.ok) return invalid(formId.message);
    const withForm = (o: Outcome): Outcome => ({ ...o, marketo: { ...o.marketo, formId: formId.value } });
    const fields = formFields(record);
    if (!fields.ok) return withForm(invalid(fields.message));
    const rawVisitor = await read(readers.visitor, msg, labels.visitor);
    if (!rawVisitor.ok) return withForm(rawVisitor.outcome);
    const visitor = visitorData(rawVisitor.value, labels.visitor);
    if (!visitor.ok) return withForm(invalid(visitor.message));
    const rawCookie = await read(readers.cookie, msg, labels.cookie);
    if (!rawCookie.ok) return withForm(rawCookie.outcome);
    const cookie = formCookie(rawCookie.value, labels.cookie);
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

  return {
    operation,
    bulk,
    handle: (record, msg, ctx) => {
      if (settings.action !== "sync" && suppressedByReplay(msg)) {
        return Promise.resolve({ result: { ok: true, status: "suppressed" }, marketo: { suppressed: "replay" } });
      }
      if (settings.action === "trigger") return trigger(record, msg, ctx);
      if (settings.action === "form") return form(record, msg, ctx);
      return sync(record, msg, ctx);
    },
  };
}
