import { EventEmitter } from "node:events";
import type { BatchDispatch } from "./batch-seal";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import axios from "axios";
import { checkAccess, type AccessReport } from "./access";
import {
  activityQuestion,
  ArrivalCounter,
  campaignQuestion,
  deliverOnce,
  sendSealedOnce,
  type ArrivalQuestion,
  type OnceContext,
} from "./arrival-check";
import {
  addCustomActivitiesOp,
  describeCustomActivityType,
  getActivityTypes,
  listCustomActivityTypes,
} from "./activities";
import { Batcher } from "./batcher";
import { bulkImport } from "./bulk";
import { getCampaign, triggerCampaignOp } from "./campaigns";
import type { OpContext } from "./context";
import type { CsvRow } from "./csv";
import {
  customObjectKey,
  describeCustomObject,
  listCustomObjects,
  syncCustomObjectsOp,
  type CustomObjectRecord,
} from "./customObjects";
import { normaliseEndpoint } from "./endpoint";
import { MarketoError, clientClosedError } from "./errors";
import { submitForm } from "./forms";
import { getFormFields, getForms, type FormAsset, type FormFieldAsset } from "./form-assets";
import { describeLeads, findLeadMatches, getLeadsByFilter, leadKey, syncLeadsOp, type LeadMatch } from "./leads";
import { CallLimiter } from "./limiter";
import { getProgramMembers, type ProgramMember } from "./program-members";
import { resolveOptions, type ResolvedOptions } from "./options";
import {
  changeLeadProgramStatusOp,
  getChannelByName,
  getChannels,
  getProgram,
  getProgramByName,
  syncProgramMemberStatusOp,
  deleteProgramMembersOp,
} from "./programs";
import { asError, failAll, sendRecords, sendSealed, type RecordOp } from "./results";
import { Timers } from "./timers";
import { chicagoDay } from "./time";
import { TokenManager } from "./token";
import { Transport, type CallSpec } from "./transport";
import type {
  BulkImportOptions,
  BulkImportResult,
  CampaignToken,
  Channel,
  CustomActivity,
  LeadRecord,
  MarketoClientOptions,
  Program,
  RecordResult,
  StateEvent,
  SubmitFormOptions,
  SyncCustomObjectOptions,
  SyncLeadOptions,
  Usage,
} from "./types";
import { UsageTracker } from "./usage";
import { errorText, isRecord } from "../node-kit/guards";

interface BatcherLike {
  flush(): void;
  readonly heldCount: number;
  readonly idle: boolean;
  failHeld(error: MarketoError): void;
}

export interface MarketoClientEvents {
  state: [StateEvent];
  usage: [Usage];
}

/**
 * One client per Marketo instance, shared by every node that talks to it: one token, one
 * limiter, one set of batches. Emits `state` (StateEvent) and `usage` (Usage); never "error".
 */
export class MarketoClient extends EventEmitter<MarketoClientEvents> {
  readonly origin: string;
  /**
   * The REST host, which names the Marketo subscription: every client with the same one shares
   * its window, slots, pauses and daily count (in this process, or through Redis).
   */
  readonly instance: string;
  readonly pastedSuffix?: "/rest" | "/identity";
  private readonly o: ResolvedOptions;
  private readonly timers = new Timers();
  private readonly agents: { http: http.Agent; https: https.Agent };
  private readonly tokens: TokenManager;
  private readonly limiter: CallLimiter;
  private readonly transport: Transport;
  private readonly usageTracker: UsageTracker;
  private readonly ctx: OpContext;
  /** The context of the writes Marketo does not deduplicate: it counts the questions they ask. */
  private readonly onceCtx: OnceContext;
  private readonly arrivals: ArrivalCounter;
  private readonly batchers = new Map<string, BatcherLike>();
  private readonly dedupeFieldsCache = new Map<string, Promise<string[] | undefined>>();
  private authFailed = false;
  private lastState: StateEvent = { state: "ok" };
  private closed = false;
  private closing?: Promise<void>;

  constructor(options: MarketoClientOptions) {
    super();
    this.o = resolveOptions(options);
    const endpoint = normaliseEndpoint(options.endpoint);
    this.origin = endpoint.origin;
    if (endpoint.pastedSuffix) this.pastedSuffix = endpoint.pastedSuffix;
    const log = this.o.logger;
    this.agents = {
      http: new http.Agent({ keepAlive: true, maxSockets: this.o.concurrency }),
      https: new https.Agent({ keepAlive: true, maxSockets: this.o.concurrency }),
    };
    const httpClient = axios.create({ httpAgent: this.agents.http, httpsAgent: this.agents.https, proxy: false });
    this.usageTracker = new UsageTracker(
      this.o.dailyBudget,
      () => this.liveUsage(),
      (u) => this.emit("usage", u),
      () => this.limiter.callsToday,
    );
    this.tokens = new TokenManager({
      http: httpClient,
      origin: this.origin,
      clientId: this.o.clientId,
      clientSecret: this.o.clientSecret,
      timers: this.timers,
      logger: log,
      onAnswer: (code) => this.usageTracker.answer(code),
    });
    // The REST host names the subscription: every client naming it shares one set of limits.
    const instance = new URL(this.origin).host;
    this.instance = instance;
    this.limiter = new CallLimiter({
      instance,
      callsPerWindow: this.o.callsPerWindow,
      windowMs: this.o.windowMs,
      concurrency: this.o.concurrency,
      dailyBudget: this.o.dailyBudget,
      quotaProbeIntervalMs: this.o.quotaProbeIntervalMs,
      logger: log,
      onChange: () => this.refresh(),
      ...(this.o.stateDir
        ? { dayFile: path.join(this.o.stateDir, `${instance.replace(/[^A-Za-z0-9.-]/g, "_")}.json`) }
        : {}),
      ...(this.o.redisUrl ? { redisUrl: this.o.redisUrl } : {}),
      ...(this.o.leaseMs ? { leaseMs: this.o.leaseMs } : {}),
    });
    this.transport = new Transport({
      http: httpClient,
      origin: this.origin,
      tokens: this.tokens,
      limiter: this.limiter,
      usage: this.usageTracker,
      timers: this.timers,
      logger: log,
      retry: this.o.retry,
      windowMs: this.o.windowMs,
      maxRateLimitWaitMs: this.o.maxRateLimitWaitMs,
      secrets: () => [this.o.clientSecret],
      onAuthState: (failed) => {
        if (this.authFailed !== failed) {
          this.authFailed = failed;
          this.refresh();
        }
      },
      onChange: () => this.refresh(),
    });
    const requestTimeoutMs = this.o.requestTimeoutMs;
    this.ctx = {
      transport: this.transport,
      timeoutMs: (serverSeconds) => requestTimeoutMs ?? (serverSeconds + 5) * 1000,
      maxBatchSize: this.o.maxBatchSize,
      bulkPollIntervalMs: this.o.bulkPollIntervalMs,
      bulkMaxFileBytes: this.o.bulkMaxFileBytes,
      timers: this.timers,
      logger: log,
    };
    this.arrivals = new ArrivalCounter(() => this.usageTracker.changed());
    this.onceCtx = {
      ...this.ctx,
      arrivals: this.arrivals,
      retryAttempts: this.o.retry.maxAttempts,
      retryBaseDelayMs: this.o.retry.baseDelayMs,
      retryMaxDelayMs: this.o.retry.maxDelayMs,
    };
    if (this.o.readDailyUsage) this.limiter.syncDaily(() => this.dailyUsage());
  }

  /**
   * Marketo's count of today's calls by every API user (Get Daily Usage), so calls other tools
   * and earlier runs made count against the daily budget too. undefined when not readable.
   */
  private async dailyUsage(): Promise<number | undefined> {
    const a = await this.transport.call({
      operation: "getDailyUsage",
      method: "GET",
      path: "/rest/v1/stats/usage.json",
      timeoutMs: 10_000,
      first: true,
    });
    const days = Array.isArray(a.envelope.result)
      ? (a.envelope.result as Array<{ date?: unknown; total?: unknown }>)
      : [];
    const today = days.find((d) => d && d.date === chicagoDay()) ?? (days.length === 1 ? days[0] : undefined);
    const total = Number(today?.total);
    return Number.isFinite(total) && total >= 0 ? total : undefined;
  }

  // ---- batched: one record in, one RecordResult out; records travel in shared calls ----

  /** Creates/updates one lead; batched per (action, lookupField, partitionName). */
  syncLead(record: LeadRecord, opts: SyncLeadOptions = {}): Promise<RecordResult> {
    const bad = this.rejectInput(
      "syncLeads",
      isRecord(record) ? unserialisable(record, "lead") : "a lead must be an object of REST field names",
    );
    if (bad) return bad;
    const lookupField = opts.lookupField ?? "email";
    const action = opts.action ?? "createOrUpdate";
    // Replayed records batch apart, so a call of them can wait behind every live call.
    const key = `syncLeads|${action}|${lookupField}|${opts.partitionName ?? ""}${opts.background ? "|replay" : ""}`;
    // createDuplicate always inserts: holding back same-key records would not prevent anything.
    const dedupe = action === "createDuplicate" ? undefined : (r: LeadRecord) => leadKey(r, lookupField);
    return this.counted(
      this.recordBatcher(key, syncLeadsOp(this.ctx, opts), dedupe, opts.background === true).submit(record),
    );
  }

  /**
   * Sets a lead's program status (Sync Program Member Status); batched per (programId, statusName).
   * `background` (a replayed record): its calls take only the capacity live records leave.
   */
  setProgramStatus(
    programId: number,
    statusName: string,
    leadId: number,
    opts: { background?: boolean } = {},
  ): Promise<RecordResult> {
    const bad = this.rejectInput(
      "syncProgramMemberStatus",
      !isId(programId)
        ? "programId must be a positive integer"
        : !isId(leadId)
          ? "leadId must be a positive integer"
          : !statusName
            ? "statusName is required"
            : undefined,
    );
    if (bad) return bad;
    const op = syncProgramMemberStatusOp(this.ctx, programId, statusName);
    const bg = opts.background === true;
    return this.counted(
      this.recordBatcher(`pms|${programId}|${statusName}${bg ? "|replay" : ""}`, op, (id) => String(id), bg).submit(
        leadId,
      ),
    );
  }

  /** Takes a lead out of a program (Delete Program Members); batched per program. */
  removeProgramMember(programId: number, leadId: number): Promise<RecordResult> {
    const bad = this.rejectInput(
      "deleteProgramMembers",
      !isId(programId)
        ? "programId must be a positive integer"
        : !isId(leadId)
          ? "leadId must be a positive integer"
          : undefined,
    );
    if (bad) return bad;
    return this.counted(
      this.recordBatcher(`pmd|${programId}`, deleteProgramMembersOp(this.ctx, programId), (id) => String(id)).submit(
        leadId,
      ),
    );
  }

  /**
   * Adds one custom activity, once as Marketo sees it; all activities share one batcher.
   * `unconfirmedSince`: an earlier attempt (before a restart, or one that failed unconfirmed)
   * may have carried it to Marketo from then on: Marketo is asked before it is sent. Send it
   * with the same activityDate as that attempt, or the question cannot find it.
   */
  addCustomActivity(activity: CustomActivity, opts: UnconfirmedOptions = {}): Promise<RecordResult> {
    const bad = this.rejectInput(
      "addCustomActivities",
      !isRecord(activity) || !isId(activity.leadId)
        ? "an activity needs a numeric leadId"
        : (unserialisable(activity, "activity") ?? badSince(opts)),
    );
    if (bad) return bad;
    const op = addCustomActivitiesOp(this.ctx);
    // A replayed activity is its first run's even when its attribute values were mapped
    // differently then: lead, type, primary attribute and date decide.
    const q = activityQuestion<CustomActivity>({ sameRecordBy: opts.background ? "identity" : "values" });
    return this.counted(this.onceBatcher("activities", op, q, undefined, activity, opts));
  }

  /** Upserts one custom object record; batched per (apiName, action, dedupeBy). */
  async syncCustomObject(
    apiName: string,
    record: CustomObjectRecord,
    opts: SyncCustomObjectOptions = {},
  ): Promise<RecordResult> {
    const bad = this.rejectInput(
      "syncCustomObjects",
      !apiName
        ? "apiName is required"
        : !isRecord(record)
          ? "a record must be an object"
          : unserialisable(record, "record"),
    );
    if (bad) return bad;
    const dedupeBy = opts.dedupeBy ?? "dedupeFields";
    const fields = opts.dedupeFields ?? (dedupeBy === "dedupeFields" ? await this.dedupeFieldsOf(apiName) : undefined);
    // close() may have run while describe was awaited: a record handed to a batcher now would
    // only be failed later by a timer that outlives close().
    if (this.closed) return { ok: false, status: "failed", error: clientClosedError("syncCustomObjects", true) };
    // Replayed records batch apart, so a call of them can wait behind every live call.
    const bg = opts.background === true;
    const key = `co|${apiName}|${opts.action ?? "createOrUpdate"}|${dedupeBy}${bg ? "|replay" : ""}`;
    const op = syncCustomObjectsOp(this.ctx, apiName, opts);
    return this.counted(this.recordBatcher(key, op, (r) => customObjectKey(r, fields, dedupeBy), bg).submit(record));
  }

  /** Requests a trigger campaign for one lead; batched per (campaignId, tokens), 100 leads a call. */
  triggerCampaignFor(
    campaignId: number,
    leadId: number,
    tokens?: CampaignToken[],
    opts: UnconfirmedOptions = {},
  ): Promise<RecordResult> {
    const bad = this.rejectInput(
      "triggerCampaign",
      !isId(campaignId)
        ? "campaignId must be a positive integer"
        : !isId(leadId)
          ? "leadId must be a positive integer"
          : badSince(opts),
    );
    if (bad) return bad;
    const op = triggerCampaignOp(this.ctx, campaignId, tokens);
    // Same lead twice in one request would be triggered once by Marketo: keep them apart.
    const key = `trigger|${campaignId}|${JSON.stringify(tokens ?? [])}`;
    return this.counted(this.onceBatcher(key, op, campaignQuestion(campaignId), (id) => String(id), leadId, opts));
  }

  /**
   * The lead id for an email, or undefined when no lead has it. Lookups are batched (300
   * emails a call). With several leads per email the most recently updated wins. Rejects
   * with a MarketoError when the lookup itself fails.
   */
  async findLeadId(email: string): Promise<number | undefined> {
    return (await this.findLeads(email))[0]?.id;
  }

  /**
   * Every lead that has the email, newest updated first; empty when none has it. Lookups are
   * batched the same way (300 emails a call). Rejects with a MarketoError when the lookup fails.
   */
  async findLeads(email: string, fields: readonly string[] = []): Promise<LeadMatch[]> {
    if (this.closed) throw clientClosedError("getLeadsByFilter");
    if (typeof email !== "string" || !email.trim()) return [];
    const r = (await this.lookupBatcher(fields).submit(email)) as RecordResult & { matches?: LeadMatch[] };
    if (!r.ok) throw r.error ?? clientClosedError("getLeadsByFilter");
    return r.matches ?? [];
  }

  /** Sends everything held now instead of waiting for the batch window. */
  flush(): void {
    for (const b of this.batchers.values()) b.flush();
  }

  /** Records held in batches plus calls waiting in the limiter or on the wire. */
  pending(): number {
    let held = 0;
    for (const b of this.batchers.values()) held += b.heldCount;
    // limiter.waiting() includes the calls on the wire; retries sleeping in backoff are outside it.
    return held + this.limiter.waiting() + this.transport.backoffCount;
  }

  // ---- direct: one or a few Marketo calls, awaited by the caller ----

  syncLeads(records: LeadRecord[], opts: SyncLeadOptions = {}): Promise<RecordResult[]> {
    return this.records(syncLeadsOp(this.ctx, opts), records);
  }

  getLeadsByFilter(filterType: string, values: Array<string | number>, fields?: string[]): Promise<LeadRecord[]> {
    return this.read("getLeadsByFilter", () => getLeadsByFilter(this.ctx, filterType, values, fields));
  }

  describeLeads(version: "describe2" | "describe" = "describe2"): Promise<Record<string, unknown>[]> {
    return this.read("describeLeads", () => describeLeads(this.ctx, version));
  }

  syncProgramMemberStatus(programId: number, statusName: string, leadIds: number[]): Promise<RecordResult[]> {
    return this.records(syncProgramMemberStatusOp(this.ctx, programId, statusName), leadIds);
  }

  changeLeadProgramStatus(programId: number, status: string, leadIds: number[]): Promise<RecordResult[]> {
    return this.records(changeLeadProgramStatusOp(this.ctx, programId, status), leadIds);
  }

  /** Query Program Members by statusName or leadId, every page. */
  getProgramMembers(
    programId: number,
    filterType: "statusName" | "leadId",
    values: Array<string | number>,
    fields: readonly string[] = [],
  ): Promise<ProgramMember[]> {
    return this.read("getProgramMembers", () => getProgramMembers(this.ctx, programId, filterType, values, fields));
  }

  getProgram(id: number): Promise<Program | undefined> {
    return this.read("getProgram", () => getProgram(this.ctx, id));
  }

  getProgramByName(name: string): Promise<Program | undefined> {
    return this.read("getProgramByName", () => getProgramByName(this.ctx, name));
  }

  getForms(): Promise<FormAsset[]> {
    return this.read("getForms", () => getForms(this.ctx));
  }

  getFormFields(formId: number): Promise<FormFieldAsset[]> {
    return this.read("getFormFields", () => getFormFields(this.ctx, formId));
  }

  getChannels(): Promise<Channel[]> {
    return this.read("getChannels", () => getChannels(this.ctx));
  }

  getChannelByName(name: string): Promise<Channel | undefined> {
    return this.read("getChannelByName", () => getChannelByName(this.ctx, name));
  }

  triggerCampaign(campaignId: number, leadIds: number[], tokens?: CampaignToken[]): Promise<RecordResult[]> {
    return this.recordsOnce(triggerCampaignOp(this.ctx, campaignId, tokens), campaignQuestion(campaignId), leadIds);
  }

  getCampaign(id: number): Promise<Record<string, unknown> | undefined> {
    return this.read("getCampaign", () => getCampaign(this.ctx, id));
  }

  /** Submit Form, once as Marketo sees it (see addCustomActivity for `unconfirmedSince`). */
  async submitForm(
    formId: number,
    leadFormFields: LeadRecord,
    opts: SubmitFormOptions & UnconfirmedOptions = {},
  ): Promise<RecordResult> {
    const bad = this.rejectInput("submitForm", badSince(opts));
    if (bad) return bad;
    const { unconfirmedSince, background, ...rest } = opts;
    const since = sinceMs(unconfirmedSince);
    // A replayed form fill (and its "did it arrive?" question) waits behind live calls.
    const ctx = background === true ? this.backgroundOnceCtx() : this.onceCtx;
    return this.counted(
      submitForm(ctx, formId, leadFormFields, {
        ...rest,
        ...(since !== undefined ? { unconfirmedSince: since } : {}),
      }),
    );
  }

  addCustomActivities(activities: CustomActivity[]): Promise<RecordResult[]> {
    return this.recordsOnce(addCustomActivitiesOp(this.ctx), activityQuestion<CustomActivity>(), activities);
  }

  getActivityTypes(): Promise<Record<string, unknown>[]> {
    return this.read("getActivityTypes", () => getActivityTypes(this.ctx));
  }

  listCustomActivityTypes(): Promise<Record<string, unknown>[]> {
    return this.read("listCustomActivityTypes", () => listCustomActivityTypes(this.ctx));
  }

  describeCustomActivityType(apiName: string): Promise<Record<string, unknown> | undefined> {
    return this.read("describeCustomActivityType", () => describeCustomActivityType(this.ctx, apiName));
  }

  syncCustomObjects(
    apiName: string,
    records: CustomObjectRecord[],
    opts: SyncCustomObjectOptions = {},
  ): Promise<RecordResult[]> {
    return this.records(syncCustomObjectsOp(this.ctx, apiName, opts), records);
  }

  describeCustomObject(apiName: string): Promise<Record<string, unknown> | undefined> {
    return this.read("describeCustomObject", () => describeCustomObject(this.ctx, apiName));
  }

  listCustomObjects(names?: string[]): Promise<Record<string, unknown>[]> {
    return this.read("listCustomObjects", () => listCustomObjects(this.ctx, names));
  }

  bulkImportLeads(rows: CsvRow[], opts: BulkImportOptions = {}): Promise<BulkImportResult> {
    return this.bulk("bulkImportLeads", rows, () => bulkImport(this.ctx, { kind: "leads", options: opts }, rows));
  }

  bulkImportCustomObjects(apiName: string, rows: CsvRow[]): Promise<BulkImportResult> {
    return this.bulk("bulkImportCustomObjects", rows, () =>
      bulkImport(this.ctx, { kind: "customObjects", apiName }, rows),
    );
  }

  bulkImportProgramMembers(programId: number, statusName: string, rows: CsvRow[]): Promise<BulkImportResult> {
    return this.bulk("bulkImportProgramMembers", rows, () =>
      bulkImport(this.ctx, { kind: "programMembers", programId, statusName }, rows),
    );
  }

  /**
   * Token plus one cheap probe per API permission the package needs (six calls of the daily
   * quota). For a "Test connection" button; never rejects.
   */
  async checkAccess(): Promise<AccessReport> {
    if (this.closed) {
      const e = clientClosedError("checkAccess");
      return {
        ok: false,
        token: { ok: false, code: e.code, category: e.category, message: e.message },
        permissions: [],
        missing: [],
      };
    }
    return checkAccess(this.ctx, this.tokens);
  }

  /**
   * "Try now" during Marketo's daily-quota pause: the call waiting at the gate (a 607 is always
   * retried, so one waits) goes out as the probe now instead of at the next probe time. Its
   * answer ends the pause or restarts the probe interval. False when no such pause is in force.
   */
  tryNow(): boolean {
    return !this.closed && this.limiter.probeNow();
  }

  // ---- figures, state, shutdown ----

  usage(): Usage {
    return this.usageTracker.snapshot();
  }

  state(): StateEvent {
    return { ...this.lastState };
  }

  /**
   * Sends what is held, waits (up to closeTimeoutMs) for calls in flight, then stops the
   * limiter and every timer. Records that could not be sent resolve as failed (CLIENT_CLOSED,
   * retryable). Safe to call more than once.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.flush();
    const deadline = Date.now() + this.o.closeTimeoutMs;
    while (Date.now() < deadline && !this.drained()) {
      // Nothing moves before midnight, or before Redis answers again: what is held stays journaled.
      const kind = this.limiter.state().kind;
      if (kind === "quota" || kind === "waiting") break;
      await new Promise<void>((r) => setTimeout(r, 20));
      this.flush();
    }
    // The limiter's stop() waits for executing jobs, so calls still on the wire must be cut
    // first: awaiting it before destroying the sockets held close() for up to a request
    // timeout (95 s for Sync Leads) past closeTimeoutMs.
    const stopped = this.limiter.close();
    this.timers.close();
    this.agents.http.destroy();
    this.agents.https.destroy();
    await stopped;
    for (const [name, b] of this.batchers) b.failHeld(clientClosedError(name.split("|")[0], true));
    // Let rejected waits settle into their records.
    await new Promise<void>((r) => setImmediate(r));
    this.usageTracker.close();
  }

  private drained(): boolean {
    for (const b of this.batchers.values()) if (!b.idle) return false;
    return this.limiter.waiting() === 0 && this.transport.backoffCount === 0;
  }

  private liveUsage(): Pick<Usage, "queuedRecords" | "inFlight" | "state" | "resumesAt" | "arrivalChecks"> {
    let held = 0;
    for (const b of this.batchers.values()) held += b.heldCount;
    const s = this.lastState;
    return {
      queuedRecords: held,
      inFlight: this.transport.inFlight,
      state: s.state,
      ...(s.resumesAt ? { resumesAt: s.resumesAt } : {}),
      // Read before the constructor has made it: usage can be asked for while the limiter starts.
      arrivalChecks: this.arrivals?.snapshot() ?? { checks: 0, calls: 0, found: 0, resent: 0, unconfirmed: 0 },
    };
  }

  private computeState(): StateEvent {
    if (this.authFailed) return { state: "auth-failed", reason: "Marketo rejected the credentials or token" };
    const l = this.limiter.state();
    if (l.kind === "waiting") return { state: "waiting", reason: l.reason };
    if (l.kind === "quota") return { state: "quota", resumesAt: l.resumesAt.toISOString(), reason: l.reason };
    if (l.kind === "rate-limited")
      return { state: "rate-limited", resumesAt: l.resumesAt.toISOString(), reason: l.reason };
    if (this.transport.backoffCount > 0)
      return { state: "backoff", reason: "retrying after a transient Marketo error" };
    return { state: "ok" };
  }

  private refresh(): void {
    if (!this.transport) return; // limiter callbacks can fire while the constructor runs
    const next = this.computeState();
    const prev = this.lastState;
    if (next.state !== prev.state || next.resumesAt !== prev.resumesAt) {
      this.lastState = next;
      if (!this.closed) this.emit("state", { ...next });
    }
    this.usageTracker.changed();
  }

  private recordBatcher<T>(
    key: string,
    op: RecordOp<T>,
    dedupeKey?: (item: T) => string | undefined,
    background = false,
  ): Batcher<T> {
    let b = this.batchers.get(key) as Batcher<T> | undefined;
    if (!b) {
      this.sweepIdleBatchers();
      b = new Batcher<T>({
        operation: op.operation,
        maxBatchSize: op.maxBatchSize,
        windowMs: this.o.batchWindowMs,
        ...(dedupeKey ? { dedupeKey } : {}),
        dispatch: (seal) => sendSealed(this.transport, op, seal, background),
        timers: this.timers,
        onChange: () => this.usageTracker.changed(),
      });
      this.batchers.set(key, b);
    }
    return b;
  }

  /**
   * A batcher for a write Marketo does not deduplicate. Records that may already be in Marketo
   * travel in their own batcher, asked about once per batch before they are sent.
   */
  private onceBatcher<T>(
    key: string,
    op: RecordOp<T>,
    q: ArrivalQuestion<T>,
    dedupeKey: ((item: T) => string | undefined) | undefined,
    item: T,
    opts: UnconfirmedOptions,
  ): Promise<RecordResult> {
    const since = sinceMs(opts.unconfirmedSince);
    const bg = opts.background === true;
    // Replayed records batch apart and every call of theirs (the questions too) waits behind live ones.
    const ctx = bg ? this.backgroundOnceCtx() : this.onceCtx;
    const batchKey = bg ? `${key}|replay` : key;
    if (since === undefined) {
      return this.batcherFor(batchKey, op, (seal) => sendSealedOnce(ctx, op, q, seal), dedupeKey).submit(item);
    }
    type Unsure = { item: T; since: number };
    const unsure: RecordOp<Unsure> = {
      operation: op.operation,
      maxBatchSize: op.maxBatchSize,
      spec: (items) => op.spec(items.map((u) => u.item)),
      map: (items, answer) =>
        op.map(
          items.map((u) => u.item),
          answer,
        ),
    };
    const uq: ArrivalQuestion<Unsure> = {
      leadIds: (items, ctx) =>
        q.leadIds(
          items.map((u) => u.item),
          ctx,
        ),
      typeIds: (items) => q.typeIds(items.map((u) => u.item)),
      from: (items, s) =>
        q.from(
          items.map((u) => u.item),
          s,
        ),
      matches: (u, leadId, a) => q.matches(u.item, leadId, a),
      found: (u, leadId) => q.found(u.item, leadId),
    };
    const earliest = (items: Unsure[]): number => Math.min(...items.map((u) => u.since));
    return this.batcherFor(
      `${batchKey}|unconfirmed`,
      unsure,
      (seal) => sendSealedOnce(ctx, unsure, uq, seal, earliest),
      dedupeKey ? (u) => dedupeKey(u.item) : undefined,
    ).submit({ item, since });
  }

  /** The once-context whose calls are a replay's: they take only the capacity live calls leave. */
  private backgroundOnceCtx(): OnceContext {
    const t = this.transport;
    const transport = {
      call: (spec: CallSpec) => t.call(spec, true),
      callPrepared: (prepare: () => CallSpec | undefined) => t.callPrepared(prepare, true),
    } as unknown as Transport;
    return { ...this.onceCtx, transport };
  }

  private batcherFor<T>(
    key: string,
    op: RecordOp<T>,
    dispatch: BatchDispatch<T>,
    dedupeKey?: (item: T) => string | undefined,
  ): Batcher<T> {
    let b = this.batchers.get(key) as Batcher<T> | undefined;
    if (!b) {
      this.sweepIdleBatchers();
      b = new Batcher<T>({
        operation: op.operation,
        maxBatchSize: op.maxBatchSize,
        windowMs: this.o.batchWindowMs,
        ...(dedupeKey ? { dedupeKey } : {}),
        dispatch,
        timers: this.timers,
        onChange: () => this.usageTracker.changed(),
      });
      this.batchers.set(key, b);
    }
    return b;
  }

  /** Keys like (campaignId, tokens) are open-ended: drop batchers with nothing in them. */
  private sweepIdleBatchers(): void {
    if (this.batchers.size < 64) return;
    for (const [key, b] of this.batchers) if (b.idle) this.batchers.delete(key);
  }

  /** One batcher per set of extra fields: lookups asking for the same fields share calls. */
  private lookupBatcher(fields: readonly string[] = []): Batcher<string> {
    const extra = [...new Set(fields)].sort();
    const key = extra.length ? `getLeadsByFilter|email|${extra.join(",")}` : "getLeadsByFilter|email";
    if (extra.length) this.sweepIdleBatchers();
    let b = this.batchers.get(key) as Batcher<string> | undefined;
    if (!b) {
      b = new Batcher<string>({
        operation: "getLeadsByFilter",
        maxBatchSize: this.o.maxBatchSize,
        windowMs: this.o.batchWindowMs,
        dispatch: async (seal) => {
          const r = await findLeadMatches(this.ctx, seal, extra);
          if ("error" in r)
            return { items: r.items, results: failAll(r.items.length, asError(r.error, "getLeadsByFilter")) };
          return {
            items: r.items,
            results: r.results.map((matches): RecordResult => {
              // The matches ride along on the lookup's result: findLeads reads them back.
              const found: RecordResult & { matches: LeadMatch[] } = {
                ok: true,
                status: "unchanged",
                ...(matches.length ? { id: matches[0].id } : {}),
                matches,
              };
              return found;
            }),
          };
        },
        timers: this.timers,
        onChange: () => this.usageTracker.changed(),
      });
      this.batchers.set(key, b);
    }
    return b;
  }

  /** The dedupe fields of a custom object, from describe (once per apiName). */
  private dedupeFieldsOf(apiName: string): Promise<string[] | undefined> {
    let p = this.dedupeFieldsCache.get(apiName);
    if (!p) {
      p = describeCustomObject(this.ctx, apiName).then(
        (d) => (Array.isArray(d?.dedupeFields) ? d.dedupeFields.map(String) : undefined),
        (err: unknown) => {
          this.o.logger.warn(
            `marketo: could not describe custom object ${apiName}: ${asError(err, "describeCustomObject").message}`,
          );
          this.dedupeFieldsCache.delete(apiName);
          return undefined;
        },
      );
      this.dedupeFieldsCache.set(apiName, p);
    }
    return p;
  }

  private rejectInput(operation: string, problem: string | undefined): Promise<RecordResult> | undefined {
    if (this.closed) return Promise.resolve({ ok: false, status: "failed", error: clientClosedError(operation) });
    if (!problem) return undefined;
    const error = new MarketoError({
      code: "INVALID_INPUT",
      message: problem,
      category: "validation",
      action: "permanent",
      retryable: false,
      operation,
    });
    return Promise.resolve({ ok: false, status: "failed", error });
  }

  private async counted(p: Promise<RecordResult>): Promise<RecordResult> {
    const r = await p;
    this.usageTracker.results([r]);
    return r;
  }

  private async records<T>(op: RecordOp<T>, items: T[]): Promise<RecordResult[]> {
    if (this.closed) return failAll(items.length, clientClosedError(op.operation));
    const results = await sendRecords(this.transport, op, items);
    this.usageTracker.results(results);
    return results;
  }

  private async recordsOnce<T>(op: RecordOp<T>, q: ArrivalQuestion<T>, items: T[]): Promise<RecordResult[]> {
    if (this.closed) return failAll(items.length, clientClosedError(op.operation));
    const chunks: T[][] = [];
    for (let i = 0; i < items.length; i += op.maxBatchSize) chunks.push(items.slice(i, i + op.maxBatchSize));
    const results = (await Promise.all(chunks.map((c) => deliverOnce(this.onceCtx, op, q, c)))).flat();
    this.usageTracker.results(results);
    return results;
  }

  private async read<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw clientClosedError(operation);
    try {
      return await fn();
    } catch (err) {
      throw asError(err, operation);
    }
  }

  private async bulk(
    operation: string,
    rows: CsvRow[],
    fn: () => Promise<BulkImportResult>,
  ): Promise<BulkImportResult> {
    if (this.closed) {
      const error = clientClosedError(operation);
      return { jobs: [], rows: rows.map(() => ({ ok: false, status: "failed", outcome: "failed", error })) };
    }
    const r = await fn();
    this.usageTracker.results(r.rows);
    return r;
  }
}

/**
 * A record JSON.stringify throws on (BigInt, circular reference) must fail alone: inside a
 * batch it made the whole call throw while building the body, reported as a network error,
 * retried, and failed every other record of the call with it.
 */
function unserialisable(v: unknown, what: string): string | undefined {
  try {
    JSON.stringify(v);
    return undefined;
  } catch (err) {
    return `the ${what} cannot be sent as JSON: ${errorText(err)}`;
  }
}

/** Options of a write Marketo does not deduplicate. */
export interface UnconfirmedOptions {
  /** An earlier attempt may have carried the record to Marketo from this time on (ISO or epoch ms). */
  unconfirmedSince?: string | number;
  /**
   * A replayed record: its calls take only the capacity live records leave, and an activity
   * counts as arrived when one of the same lead, type, primary attribute and date is in Marketo.
   */
  background?: boolean;
}

/** `unconfirmedSince` as ms since the epoch (it is either ISO text or that number already). */
function sinceMs(s: string | number | undefined): number | undefined {
  if (s === undefined) return undefined;
  return typeof s === "number" ? s : Date.parse(s);
}

function badSince(opts: UnconfirmedOptions): string | undefined {
  const s = opts?.unconfirmedSince;
  if (s === undefined) return undefined;
  return Number.isFinite(typeof s === "number" ? s : Date.parse(s)) ? undefined : "unconfirmedSince must be a date";
}

function isId(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v > 0;
}
