/**
 * The Node-RED side every action node shares (marketo-lead, marketo-program-status,
 * marketo-custom-activity): find the marketo-config, register with it, split a message into
 * records, hand each to the node's own `handle`, answer each record on output 1 or 2, keep the
 * canvas status, and on close wait for what is still on its way to Marketo.
 *
 * Types only from node-red: the runtime API comes in as `RED`, so this stays testable.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from "node-red";
import { errorInfo, invalidRecord, leadIdOf, recordsOf, RecordFailure, unexpectedFailure, type RecordErrorInfo } from "./action-outcome";
import { statusFor, type ActionCounts, type StatusLabels } from "./client-status";
import type { MarketoClient, RecordResult, StateEvent } from "./marketo";
import { isMarketoConfig, type ConfigUser, type MarketoConfigNode } from "./marketo-config-api";

export interface ActionNodeDef extends NodeDef {
  /** id of the marketo-config node. */
  marketo: string;
  /** Also hand failed records to Catch nodes (done(err)); output 2 gets them either way. */
  raiseErrors?: boolean | string;
}

/** What a node's handler says about one record. */
export interface Outcome {
  result: RecordResult;
  /** Merged into `msg.marketo` (programId, campaignId, activity...). */
  marketo?: Record<string, unknown>;
}

export interface HandleContext {
  client: MarketoClient;
  config: MarketoConfigNode;
  /** Position of the record in an array payload (0 for a single record). */
  index: number;
}

export interface ActionSpec {
  /** The node type: error texts and i18n keys (`<type>.status.*`) use it. */
  type: string;
  /** Operation named in errors the glue makes up (no config, unexpected failures). */
  operation: string;
  /** A problem with the node's own settings found at deploy: every record fails with it. */
  configProblem?: string;
  /** One record to Marketo. May reject: the record then fails with that error. */
  handle(record: unknown, msg: NodeMessageInFlow, ctx: HandleContext): Promise<Outcome>;
  /** After close has waited for the records on their way: release the node's own timers. */
  close?(): void;
}

export interface ActionNode {
  readonly config: MarketoConfigNode | null;
  /** Repaint the status soon (a handler's own state changed). */
  refreshStatus(): void;
}

type MarketoInfo = Record<string, unknown> & { error?: RecordErrorInfo };
type ActionMessage = NodeMessageInFlow & { marketo?: MarketoInfo };
type Send = (msg: Array<NodeMessage | NodeMessage[] | null>) => void;
type Done = (err?: Error) => void;

const STATUS_INTERVAL_MS = 250;
/** Node-RED gives a close handler 15 s; answer what can be answered well within that. */
const CLOSE_WAIT_MS = 12_000;

function asBool(v: unknown, fallback: boolean): boolean {
  if (v === undefined || v === null || v === "") return fallback;
  return v === true || v === "true";
}

/** `msg.marketo` for one outcome: what earlier nodes put there stays, a stale error goes. */
function marketoFor(prev: unknown, outcome: Outcome): MarketoInfo {
  const base: MarketoInfo = prev !== null && typeof prev === "object" && !Array.isArray(prev) ? { ...(prev as MarketoInfo) } : {};
  delete base.error;
  const r = outcome.result;
  const leadId = leadIdOf(r);
  if (leadId !== undefined) base.leadId = leadId;
  base.status = r.status;
  if (r.requestId) base.requestId = r.requestId;
  else delete base.requestId;
  if (r.marketoGUID) base.marketoGUID = r.marketoGUID;
  if (r.reasons?.length) base.reasons = r.reasons;
  else delete base.reasons;
  Object.assign(base, outcome.marketo);
  if (!r.ok && r.error) base.error = errorInfo(r.error);
  return base;
}

export function startActionNode(RED: NodeAPI, node: Node, def: ActionNodeDef, spec: ActionSpec): ActionNode {
  const raiseErrors = asBool(def.raiseErrors, true);
  const found = def.marketo ? RED.nodes.getNode(def.marketo) : null;
  const config = isMarketoConfig(found) ? found : null;
  const t = (key: string): string => RED._(`${spec.type}.status.${key}`);
  const labels: StatusLabels = {
    sent: t("sent"),
    failed: t("failed"),
    queued: t("queued"),
    rateLimited: t("rateLimited"),
    quota: t("quota"),
    authFailed: t("authFailed"),
    retrying: t("retrying"),
  };

  const counts: ActionCounts = { sent: 0, failed: 0, queued: 0 };
  const pending = new Set<Promise<void>>();
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let lastPaint = 0;

  /** Why nothing can reach Marketo, if so: shown instead of counts, and every record fails with it. */
  const fatal = (): string | undefined => {
    if (!config) return t("noConfig");
    if (spec.configProblem || config.configError) return t("badConfig");
    return undefined;
  };

  const paint = (): void => {
    timer = undefined;
    if (closed) return;
    lastPaint = Date.now();
    const problem = fatal();
    if (problem) {
      node.status({ fill: "red", shape: "ring", text: problem });
      return;
    }
    const state: StateEvent = config ? config.clientState() : { state: "ok" };
    node.status(statusFor(state, counts, labels));
  };
  const refreshStatus = (): void => {
    if (timer || closed) return;
    const wait = STATUS_INTERVAL_MS - (Date.now() - lastPaint);
    if (wait <= 0) paint();
    else timer = setTimeout(paint, wait);
  };

  const user: ConfigUser = { id: node.id, clientChanged: refreshStatus };
  config?.register(user);
  if (spec.configProblem) node.error(`${spec.type}: ${spec.configProblem}`);
  paint();

  /** The result for one record, never rejecting. */
  const run = async (record: unknown, msg: NodeMessageInFlow, index: number): Promise<Outcome> => {
    if (!config) {
      return { result: invalidRecord(def.marketo ? `${spec.type}: the marketo-config node ${def.marketo} is not deployed` : `${spec.type}: no marketo-config chosen`, spec.operation) };
    }
    if (spec.configProblem) return { result: invalidRecord(`${spec.type} is not configured correctly: ${spec.configProblem}`, spec.operation) };
    let client: MarketoClient;
    try {
      client = config.getClient();
    } catch (err) {
      return { result: unexpectedFailure(err, spec.operation) };
    }
    try {
      return await spec.handle(record, msg, { client, config, index });
    } catch (err) {
      return { result: unexpectedFailure(err, spec.operation) };
    }
  };

  node.on("input", (msg: NodeMessageInFlow, send: Send, done: Done) => {
    const records = recordsOf(msg.payload);
    if (records.length === 0) {
      const r = invalidRecord(`${spec.type}: msg.payload is an empty array: no record to send`, spec.operation);
      const m = msg as ActionMessage;
      m.marketo = marketoFor(m.marketo, { result: r });
      counts.failed++;
      refreshStatus();
      send([null, m]);
      done(raiseErrors ? new RecordFailure(spec.type, errorInfo(r.error!)) : undefined);
      return;
    }
    const many = Array.isArray(msg.payload);
    let left = records.length;
    let failed = 0;
    let firstError: RecordErrorInfo | undefined;
    counts.queued += records.length;
    refreshStatus();
    records.forEach((record, index) => {
      const p = run(record, msg, index).then((outcome) => {
        counts.queued--;
        const m = (many ? RED.util.cloneMessage(msg) : msg) as ActionMessage;
        if (many) m.payload = record;
        m.marketo = marketoFor(m.marketo, outcome);
        if (outcome.result.ok) {
          counts.sent++;
          send([m, null]);
        } else {
          counts.failed++;
          failed++;
          firstError ??= m.marketo.error;
          send([null, m]);
        }
        refreshStatus();
        if (--left === 0) {
          done(raiseErrors && firstError ? new RecordFailure(spec.type, firstError, failed, records.length) : undefined);
        }
      });
      // A send() that throws (a bug downstream) must not leave the record counted as pending forever.
      const tracked = p.catch((err: unknown) => node.error(`${spec.type}: ${err instanceof Error ? err.message : String(err)}`, msg)).finally(() => pending.delete(tracked));
      pending.add(tracked);
    });
  });

  node.on("close", (_removed: boolean, done: () => void) => {
    config?.deregister(user);
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      try {
        spec.close?.();
      } finally {
        done();
      }
    };
    if (pending.size === 0) {
      finish();
      return;
    }
    // Records held in a batch go now instead of after the batch window, and their answers
    // still leave on the outputs; a record never answered is failed by the client's close.
    // Flushed again while waiting: a record still on a lead lookup when close began reaches
    // its batch later, and would otherwise wait out the whole batch window.
    const flushAll = (): void => {
      try {
        config?.client?.flush();
      } catch {
        /* an unusable config has no batches */
      }
    };
    flushAll();
    const again = setInterval(flushAll, 50);
    const wait = setTimeout(() => {
      clearInterval(again);
      finish();
    }, CLOSE_WAIT_MS);
    Promise.allSettled([...pending]).then(() => {
      clearTimeout(wait);
      clearInterval(again);
      finish();
    });
  });

  return { config, refreshStatus };
}
