/**
 * marketo-lead's handler: one record to Marketo as the node's action says: Sync Leads (or a bulk
 * import when the backlog is large) with an optional campaign request after it, a trigger
 * campaign request for a lead found by id or email, or a form fill. The node's settings and
 * readers of its TypedInput properties come in, so it runs without a Node-RED runtime.
 */
import type { MarketoClient } from "../marketo";
import type { Outcome } from "./action-outcome";
import { suppressedByReplay, type LeadSettings } from "./lead-action";
import type { BulkCollector } from "./lead-bulk";
import type { LeadIdCache } from "./lead-ids";
import type { LeadMode, Msg } from "./lead-mode";
import { bulkCollectorFor, syncLeadRecord } from "./lead-sync";
import { triggerCampaign } from "./lead-trigger";
import { submitFormRecord } from "./lead-form";

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
  const bulk = bulkCollectorFor(o);
  const mode: LeadMode = { settings, readers, labels, operation, bulk, node: o };
  return {
    operation,
    bulk,
    handle: (record, msg, ctx) => {
      if (settings.action !== "sync" && suppressedByReplay(msg)) {
        return Promise.resolve({ result: { ok: true, status: "suppressed" }, marketo: { suppressed: "replay" } });
      }
      if (settings.action === "trigger") return triggerCampaign(mode, record, msg, ctx);
      if (settings.action === "form") return submitFormRecord(mode, record, msg, ctx);
      return syncLeadRecord(mode, record, msg, ctx);
    },
  };
}
