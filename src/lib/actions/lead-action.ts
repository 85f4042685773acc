/**
 * The pure side of marketo-lead: its settings, the ids a message may override (campaign,
 * form), My Tokens for Request Campaign, and the records each action sends. No Node-RED and
 * no network here, so all of it is unit-tested on its own.
 */
import { isReplayed } from "../delivery/delivery-once";
import type { CampaignToken, SubmitFormOptions, SyncAction } from "../marketo";
import { isUnsafeKey } from "../marketo/keys";
import { DEFAULT_DUPLICATE_POLICY, DUPLICATE_POLICIES, duplicatePolicy, type DuplicatePolicy } from "./lead-lookup";

export type LeadAction = "sync" | "trigger" | "form";

export const LEAD_ACTIONS: readonly LeadAction[] = ["sync", "trigger", "form"];
export const SYNC_ACTIONS: readonly SyncAction[] = ["createOrUpdate", "createOnly", "updateOnly", "createDuplicate"];

/** Request Campaign takes at most 100 My Tokens a call. */
export const MAX_TOKENS = 100;
/** The bulk switch's default: a backlog of more than this many records goes to bulk import. */
export const DEFAULT_BULK_THRESHOLD = 5000;

/** The node's properties as the editor saves them (strings, mostly). */
export interface LeadNodeProps {
  action?: string;
  syncAction?: string;
  lookupField?: string;
  partition?: string;
  bulkThreshold?: string | number;
  campaignId?: string | number;
  createMissing?: boolean | string;
  formId?: string | number;
  programId?: string | number;
  /** Several leads with the email (trigger): fail, newest, oldest or all. */
  duplicates?: string;
  /** Create/Update lead: request the campaign for the lead once it is synced. */
  campaignAfterSync?: boolean | string;
}

export interface LeadSettings {
  action: LeadAction;
  syncAction: SyncAction;
  lookupField: string;
  partitionName?: string;
  /** 0 = never switch to bulk import. */
  bulkThreshold: number;
  /** The node's campaign; `msg.campaignId` wins over it. */
  campaignId?: number;
  createMissing: boolean;
  /** The node's form; `msg.formId` wins over it. */
  formId?: number;
  programId?: number;
  /** Several leads with the email when a campaign is requested for a lead looked up by email. */
  duplicates: DuplicatePolicy;
  /** Create/Update lead also requests the campaign (the message's, else the node's) for the lead. */
  campaignAfterSync: boolean;
}

/** A Marketo REST field name (what Sync Leads' lookupField takes). */
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function blank(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === "string" && v.trim() === "");
}

/** A positive whole number from a number or a string of digits; undefined otherwise. */
export function positiveId(v: unknown): number | undefined {
  const n = typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  return typeof n === "number" && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** How a value reads in an error message: short, never a whole record. */
export function describeValue(v: unknown): string {
  if (v === undefined) return "undefined";
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (typeof v === "number" || typeof v === "boolean" || v === null) return String(v);
  if (Array.isArray(v)) return "an array";
  if (Buffer.isBuffer(v)) return `a Buffer of ${v.length} bytes`;
  return `a ${typeof v}`;
}

export function isPlainRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date) && !Buffer.isBuffer(v);
}

/** The node's settings, and what is wrong with them (each problem fails every record). */
export function parseLeadSettings(p: LeadNodeProps): { settings: LeadSettings; problems: string[] } {
  const problems: string[] = [];
  const action = (blank(p.action) ? "sync" : String(p.action)) as LeadAction;
  if (!LEAD_ACTIONS.includes(action))
    problems.push(`action ${describeValue(p.action)} is not one of ${LEAD_ACTIONS.join(", ")}`);
  const syncAction = (blank(p.syncAction) ? "createOrUpdate" : String(p.syncAction)) as SyncAction;
  if (!SYNC_ACTIONS.includes(syncAction))
    problems.push(`sync action ${describeValue(p.syncAction)} is not one of ${SYNC_ACTIONS.join(", ")}`);
  const lookupField = blank(p.lookupField) ? "email" : String(p.lookupField).trim();
  if (!FIELD_NAME.test(lookupField))
    problems.push(`lookup field ${describeValue(p.lookupField)} is not a Marketo REST field name`);

  let bulkThreshold = DEFAULT_BULK_THRESHOLD;
  if (!blank(p.bulkThreshold)) {
    const n =
      typeof p.bulkThreshold === "number"
        ? p.bulkThreshold
        : /^\s*\d+\s*$/.test(String(p.bulkThreshold))
          ? Number(p.bulkThreshold)
          : NaN;
    if (Number.isSafeInteger(n) && n >= 0) bulkThreshold = n;
    else problems.push(`bulk threshold ${describeValue(p.bulkThreshold)} is not a whole number of records (0 = never)`);
  }

  const id = (what: string, v: unknown): number | undefined => {
    if (blank(v)) return undefined;
    const n = positiveId(v);
    if (n === undefined) problems.push(`${what} ${describeValue(v)} is not a positive whole number`);
    return n;
  };
  const campaignId = id("campaign id", p.campaignId);
  const formId = id("form id", p.formId);
  const programId = id("program id", p.programId);

  const settings: LeadSettings = {
    action,
    syncAction,
    lookupField,
    bulkThreshold,
    createMissing: p.createMissing === true || p.createMissing === "true",
    duplicates: duplicatePolicy(p.duplicates) ?? DEFAULT_DUPLICATE_POLICY,
    campaignAfterSync: action === "sync" && (p.campaignAfterSync === true || p.campaignAfterSync === "true"),
  };
  if (duplicatePolicy(p.duplicates) === undefined)
    problems.push(`duplicate leads ${describeValue(p.duplicates)} is not one of ${DUPLICATE_POLICIES.join(", ")}`);
  if (!blank(p.partition)) settings.partitionName = String(p.partition).trim();
  if (campaignId !== undefined) settings.campaignId = campaignId;
  if (formId !== undefined) settings.formId = formId;
  if (programId !== undefined) settings.programId = programId;
  return { settings, problems };
}

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

/**
 * The id a record uses: the message's (`msg.campaignId`, `msg.formId`) when present, else the
 * node's. A message value that is not a positive whole number fails the record, naming it.
 */
export function pickId(
  fromMsg: unknown,
  fromNode: number | undefined,
  what: string,
  msgProperty: string,
): Checked<number> {
  if (!blank(fromMsg)) {
    const n = positiveId(fromMsg);
    if (n === undefined)
      return {
        ok: false,
        message: `the ${what} ${describeValue(fromMsg)} in ${msgProperty} is not a positive whole number`,
      };
    return { ok: true, value: n };
  }
  if (fromNode === undefined) return { ok: false, message: `no ${what}: set one in the node or in ${msgProperty}` };
  return { ok: true, value: fromNode };
}

/** Why a lead record cannot go to Sync Leads (or bulk import), if so. */
export function syncRecordProblem(record: unknown, lookupField: string, action: SyncAction): string | undefined {
  if (!isPlainRecord(record))
    return `msg.payload must be an object of Marketo lead fields, got ${describeValue(record)}`;
  // __proto__ and the like are never sent (the client leaves them out), so they are no fields.
  if (!Object.keys(record).some((k) => !isUnsafeKey(k))) return "the lead record has no fields";
  // createDuplicate always inserts; every other action finds the lead by the lookup field.
  if (action !== "createDuplicate" && blank(record[lookupField]))
    return `the lead record has no value for the lookup field ${lookupField}`;
  return undefined;
}

/** "{{my.Event Name}}" from "Event Name", "my.Event Name" or "{{my.Event Name}}". */
export function tokenName(raw: unknown): string | undefined {
  if (typeof raw !== "string") return undefined;
  let n = raw.trim();
  const wrapped = /^\{\{\s*(.*?)\s*\}\}$/.exec(n);
  if (wrapped) n = wrapped[1];
  if (/^my\./i.test(n)) n = n.slice(3).trim();
  if (n === "" || /[{}]/.test(n)) return undefined;
  return `{{my.${n}}}`;
}

/** A token value as Marketo takes it: a string. Objects and arrays have no string form Marketo means. */
function tokenValue(v: unknown): string | undefined {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if ((typeof v === "number" && Number.isFinite(v)) || typeof v === "boolean" || typeof v === "bigint")
    return String(v);
  if (v instanceof Date && !Number.isNaN(v.getTime())) return v.toISOString();
  return undefined;
}

/**
 * My Tokens for Request Campaign from `{name: value}` or `[{name, value}]`: names in
 * "{{my.name}}" form, values strings, at most 100, no name twice. Sorted by name, so records
 * with the same tokens share a call whatever order their producer wrote them in.
 */
export function normaliseTokens(raw: unknown, source = "the tokens"): Checked<CampaignToken[]> {
  if (raw === undefined || raw === null) return { ok: true, value: [] };
  let pairs: Array<[unknown, unknown]>;
  if (Array.isArray(raw)) {
    pairs = [];
    for (let i = 0; i < raw.length; i++) {
      const t = raw[i];
      if (!isPlainRecord(t) || !("name" in t))
        return { ok: false, message: `${source}: item ${i} is not a {name, value} object` };
      pairs.push([t.name, t.value]);
    }
  } else if (isPlainRecord(raw)) {
    pairs = Object.entries(raw);
  } else {
    return {
      ok: false,
      message: `${source} must be an object {name: value} or an array of {name, value}, got ${describeValue(raw)}`,
    };
  }
  if (pairs.length > MAX_TOKENS)
    return { ok: false, message: `${source}: ${pairs.length} tokens, Marketo takes at most ${MAX_TOKENS} a call` };
  const seen = new Set<string>();
  const tokens: CampaignToken[] = [];
  for (const [rawName, rawValue] of pairs) {
    const name = tokenName(rawName);
    if (name === undefined)
      return {
        ok: false,
        message: `${source}: ${describeValue(rawName)} is not a My Token name (e.g. "{{my.Event Name}}")`,
      };
    if (seen.has(name)) return { ok: false, message: `${source}: ${name} is given twice` };
    seen.add(name);
    const value = tokenValue(rawValue);
    if (value === undefined)
      return {
        ok: false,
        message: `${source}: the value of ${name} is ${describeValue(rawValue)}, not text, a number or a boolean`,
      };
    tokens.push({ name, value });
  }
  tokens.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { ok: true, value: tokens };
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** The lead's fields as Submit Form's leadFormFields: an object with an email address. */
export function formFields(record: unknown): Checked<Record<string, unknown>> {
  if (!isPlainRecord(record))
    return { ok: false, message: `msg.payload must be an object of form fields, got ${describeValue(record)}` };
  const email = record.email;
  if (blank(email)) return { ok: false, message: "a form post needs the lead's email in msg.payload.email" };
  if (typeof email !== "string" || !EMAIL.test(email.trim()))
    return { ok: false, message: `the email ${describeValue(email)} is not an email address` };
  const fields: Record<string, unknown> = {};
  // Assigning a "__proto__" key would set the object's prototype instead of a field.
  for (const [k, v] of Object.entries(record)) if (v !== undefined && !isUnsafeKey(k)) fields[k] = v;
  fields.email = email.trim();
  return { ok: true, value: fields };
}

type VisitorData = NonNullable<SubmitFormOptions["visitorData"]>;
const VISITOR_KEYS: ReadonlyArray<keyof VisitorData> = [
  "pageURL",
  "queryString",
  "leadClientIpAddress",
  "userAgentString",
];

/** Submit Form's visitorData: the four keys Marketo knows (any case), values as text. */
export function visitorData(raw: unknown, source = "the visitor data"): Checked<VisitorData | undefined> {
  if (raw === undefined || raw === null || raw === "") return { ok: true, value: undefined };
  if (!isPlainRecord(raw))
    return {
      ok: false,
      message: `${source} must be an object {pageURL, queryString, leadClientIpAddress, userAgentString}, got ${describeValue(raw)}`,
    };
  const out: VisitorData = {};
  for (const [k, v] of Object.entries(raw)) {
    const key = VISITOR_KEYS.find((known) => known.toLowerCase() === k.toLowerCase());
    if (!key) return { ok: false, message: `${source}: ${describeValue(k)} is not one of ${VISITOR_KEYS.join(", ")}` };
    if (v === undefined || v === null || v === "") continue;
    if (typeof v !== "string" && typeof v !== "number")
      return { ok: false, message: `${source}: ${key} is ${describeValue(v)}, not text` };
    out[key] = String(v);
  }
  return { ok: true, value: Object.keys(out).length ? out : undefined };
}

/** Submit Form's cookie: the Munchkin cookie (_mkto_trk) as text. */
export function formCookie(raw: unknown, source = "the cookie"): Checked<string | undefined> {
  if (raw === undefined || raw === null || raw === "") return { ok: true, value: undefined };
  if (typeof raw !== "string")
    return { ok: false, message: `${source} must be text (the _mkto_trk cookie), got ${describeValue(raw)}` };
  return { ok: true, value: raw.trim() || undefined };
}

/**
 * A replayed message (msg.replay, set by tag-filter) that asks for campaign triggers to be
 * suppressed: a campaign request or form post for it would send the confirmation e-mails again.
 * A replay suppresses unless it says `suppressCampaigns: false`.
 */
export function suppressedByReplay(msg: unknown): boolean {
  if (!isReplayed(msg)) return false;
  const replay = (msg as { replay?: unknown }).replay;
  if (replay === null || typeof replay !== "object") return false;
  return (replay as { suppressCampaigns?: unknown }).suppressCampaigns !== false;
}
