/**
 * The Node-RED side every action node shares (marketo-lead, marketo-program-status,
 * marketo-custom-activity): find the marketo-config, register with it, split a message into
 * records, hand each to the node's own `handle`, answer each record on output 1 or 2, keep the
 * canvas status, and on close wait for what is still on its way to Marketo.
 *
 * Types only from node-red: the runtime API comes in as `RED`, so this stays testable.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from "node-red";
import {
  errorInfo,
  invalidRecord,
  recordsOf,
  RecordFailure,
  marketoFor,
  unexpectedFailure,
  type MarketoInfo,
  type Outcome,
} from "../actions/action-outcome";
import { clientClosedError } from "../marketo/errors";
import { CatchGroups } from "./action-catch";
import { throttledStatus, type ThrottledStatus } from "./node-status";
import { errorText } from "./guards";
import { statusFor, type ActionCounts, type StatusLabels } from "./client-status";
import type { MarketoClient, StateEvent } from "../marketo";
import { isMarketoConfig, type ConfigUser, type MarketoConfigNode } from "./marketo-config-api";
import { journalFile } from "../delivery/journal-path";
import { adoptDeadReplicas } from "../delivery/journal-adoption";
import {
  messageOf,
  recordBook,
  replayMessage,
  type BookEntry,
  type BookOwner,
  type RecordBook,
  type StoredAnswer,
} from "../delivery/record-journal";
import { reportRetryOutcome } from "../delivery/retry-registry";
import { markResent, stampAccepted } from "../delivery/delivery-once";
import { metrics } from "../sidebar/metrics";

export interface ActionNodeDef extends NodeDef {
  /** id of the marketo-config node. */
  marketo: string;
  /** Also hand failed records to Catch nodes (done(err)); output 2 gets them either way. */
  raiseErrors?: boolean | string;
}

export type { Outcome };

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
  /** Close began: start what the node holds back (a bulk window), so the wait that follows sees it answered. */
  closing?(): void;
  /** After close has waited for the records on their way: release the node's own timers. */
  close?(): void;
  /** Records live at once (default LIVE_RECORDS): a node that needs more to fill its calls says so. */
  liveRecords?: number;
  /** A message the node answers itself rather than as records (a command): true when it took it. */
  intercept?(msg: NodeMessageInFlow, send: Send, done: Done): boolean;
}

export interface ActionNode {
  readonly config: MarketoConfigNode | null;
  /** Repaint the status soon (a handler's own state changed). */
  refreshStatus(): void;
  /** Records this node has accepted and not answered yet: live, and waiting in its journal. */
  backlog(): number;
}

type ActionMessage = NodeMessageInFlow & { marketo?: MarketoInfo; source?: unknown };
type Send = (msg: Array<NodeMessage | NodeMessage[] | null>) => void;
type Done = (err?: Error) => void;

const NO_SOURCE = { has: false };
/**
 * How many records of one node are live at once (handed to the client, a call chain each); the
 * rest wait in the journal, read back in order as answers make room. Marketo takes 300 records a
 * call and 10 calls at once, so 3,000 records fill every call the limits allow; each answer lets
 * the next record in at once, so the batches refill while the calls are out and every call still
 * leaves full at the window limit (the benchmark's drain shows 299 records a call). A live record
 * costs a few KB (its message, record and call chain): 3,000 are ~10 MB, whatever the backlog.
 */
export const LIVE_RECORDS = 10 * 300;
/** Node-RED gives a close handler 15 s; answer what can be answered well within that. */
const CLOSE_WAIT_MS = 12_000;

function asBool(v: unknown, fallback: boolean): boolean {
  if (v === undefined || v === null || v === "") return fallback;
  return v === true || v === "true";
}

export function startActionNode(RED: NodeAPI, node: Node, def: ActionNodeDef, spec: ActionSpec): ActionNode {
  const found = def.marketo ? RED.nodes.getNode(def.marketo) : null;
  const config = isMarketoConfig(found) ? found : null;
  const bookFile = journalFile(RED.settings as { userDir?: unknown }, spec.type, node.id);
  const bookLogger = { warn: (m: string) => RED.log.warn(`[${spec.type}:${node.id}] ${m}`) };
  const book = recordBook(bookFile, bookLogger);
  // Replicas sharing storage: a dead replica's journal of this node is adopted through Redis.
  adoptDeadReplicas(book, bookFile, config?.redisUrl, bookLogger);

  const run: ActionRun = {
    RED,
    node,
    def,
    spec,
    config,
    raiseErrors: asBool(def.raiseErrors, true),
    t: (key: string): string => RED._(`${spec.type}.status.${key}`),
    source: { id: node.id, type: spec.type, name: def.name || "" },
    counts: { sent: 0, failed: 0, queued: 0 },
    book,
    catches: new CatchGroups(RED, node, spec.type),
    pending: new Set<Promise<void>>(),
    closed: false,
    handingOver: false,
    refreshStatus: () => {
      if (!run.closed) status.refresh();
    },
  };
  const labels = statusLabels(run.t);
  const status = throttledStatus(() => paintStatus(run, labels));

  const user: ConfigUser = { id: node.id, clientChanged: run.refreshStatus };
  config?.register(user);
  if (spec.configProblem) node.error(`${spec.type}: ${spec.configProblem}`);
  status.paintNow();

  const owner = bookOwner(run);
  book.claim(owner, spec.liveRecords ?? LIVE_RECORDS);
  const resume = (): void => book.resume(owner);
  RED.events.once("flows:started", resume);

  node.on("input", (msg: NodeMessageInFlow, send: Send, done: Done) => acceptMessage(run, msg, send, done));
  node.on("close", (removed: boolean, done: () => void) => {
    config?.deregister(user);
    RED.events.removeListener("flows:started", resume);
    closeActionNode(run, owner, status, removed, done);
  });

  return { config, refreshStatus: run.refreshStatus, backlog: () => book.size };
}

/** One action node's running state, shared by its jobs: status, answers, input and close. */
interface ActionRun {
  RED: NodeAPI;
  node: Node;
  def: ActionNodeDef;
  spec: ActionSpec;
  config: MarketoConfigNode | null;
  raiseErrors: boolean;
  /** A status text from the node's catalog (`<type>.status.<key>`). */
  t(key: string): string;
  /** This node as a failure names it, as a Catch node's msg.error.source would. */
  source: { id: string; type: string; name: string };
  counts: ActionCounts;
  book: RecordBook;
  catches: CatchGroups;
  /** Calls running: what close waits for (bounded by the live limit). */
  pending: Set<Promise<void>>;
  /** Close has finished: the status is left alone. */
  closed: boolean;
  /** Closing for a redeploy or restart: what is not answered yet stays in the journal for the next instance. */
  handingOver: boolean;
  /** Repaint the status soon. */
  refreshStatus(): void;
}

function statusLabels(t: (key: string) => string): StatusLabels {
  return {
    sent: t("sent"),
    failed: t("failed"),
    queued: t("queued"),
    rateLimited: t("rateLimited"),
    quota: t("quota"),
    authFailed: t("authFailed"),
    retrying: t("retrying"),
  };
}

/** Why nothing can reach Marketo, if so: shown instead of counts, and every record fails with it. */
function fatalProblem({ config, spec, t }: ActionRun): string | undefined {
  if (!config) return t("noConfig");
  if (config.configError) return config.configStatus ?? t("badConfig");
  if (spec.configProblem) return t("badConfig");
  return undefined;
}

/** The canvas status: the fatal problem, else the client's state with the counts; the backlog to the sidebar. */
function paintStatus(run: ActionRun, labels: StatusLabels): void {
  if (run.closed) return;
  const { node, config, counts } = run;
  const problem = fatalProblem(run);
  if (problem) {
    node.status({ fill: "red", shape: "ring", text: problem });
    return;
  }
  const state: StateEvent = config ? config.clientState() : { state: "ok" };
  counts.queued = run.book.size;
  node.status(statusFor(state, counts, labels));
  metrics.backlog(run.source, run.def.marketo ?? "", counts.queued);
}

/** `msg.marketo` for an outcome; a failure names this node, as a Catch node's msg.error.source would. */
function answerFor(run: ActionRun, prev: unknown, outcome: Outcome): StoredAnswer {
  const marketo = marketoFor(prev, outcome);
  if (marketo.error) marketo.error = { ...marketo.error, source: run.source };
  return { ok: outcome.result.ok, marketo };
}

/** One answer out of the node: the right output, the counters, and the retry-queue told. */
function emit(run: ActionRun, m: ActionMessage, answer: StoredAnswer, send: Send): void {
  m.marketo = answer.marketo;
  if (answer.ok) run.counts.sent++;
  else run.counts.failed++;
  run.refreshStatus();
  reportRetryOutcome(m.marketo.retry, answer.ok, m.marketo.error);
  metrics.record(
    run.source,
    run.def.marketo ?? "",
    m as unknown as Record<string, unknown>,
    answer.ok,
    String(m.marketo.status ?? ""),
    m.marketo.error,
  );
  send(answer.ok ? [m, null] : [null, m]);
}

/** Runs a record and settles it in the book; the book decides who passes the answer on. */
function startRecord(run: ActionRun, entry: BookEntry, msg: NodeMessageInFlow): void {
  const { spec, config, def, book, pending, node } = run;
  const p = outcomeOf(spec, config, def.marketo, entry.stored.payload, msg, entry.stored.index).then((outcome) => {
    // Cut off by the closing client while handing over: the next instance runs it again.
    const cutOff = run.handingOver && outcome.result.error?.code === "CLIENT_CLOSED";
    book.settle(entry, answerFor(run, (msg as ActionMessage).marketo, outcome), cutOff);
  });
  // A send() that throws (a bug downstream) must not leave the record counted as pending forever.
  const tracked = p
    .catch((err: unknown) => node.error(`${spec.type}: ${errorText(err)}`, msg))
    .finally(() => pending.delete(tracked));
  pending.add(tracked);
}

/** What the record book asks of this node: run a record, and pass an answer on. */
function bookOwner(run: ActionRun): BookOwner {
  const { RED, node, book } = run;
  return {
    // A record that went live as it came runs with its own message; one read back from the
    // journal with the message rebuilt from what was stored.
    run(entry) {
      // A record read back from the journal is its own: its message needs no copy of it.
      const msg = (entry.msg ??
        replayMessage(entry.stored, RED.util.generateId(), !entry.readBack)) as NodeMessageInFlow;
      // Run again after a restart or a cut-off call: here and in every node after this one, writes
      // Marketo does not deduplicate ask whether it arrived before sending it.
      if (book.mayHaveBeenSent(entry)) markResent(msg as unknown as Record<string, unknown>);
      startRecord(run, entry, msg);
      run.refreshStatus();
    },
    deliver(entry, answer) {
      const live = entry.msg as NodeMessageInFlow | undefined;
      const m = (
        live
          ? entry.stored.many
            ? answerOfMany(RED, live, entry.stored.index)
            : live
          : messageOf(entry.stored, RED.util.generateId(), !entry.readBack)
      ) as ActionMessage;
      try {
        emit(run, m, answer, (out) => node.send(out));
      } finally {
        book.forget(entry);
      }
      if (run.raiseErrors)
        run.catches.answered(entry.stored.group, m as NodeMessage, answer.ok ? undefined : m.marketo?.error);
    },
  };
}

/** A message in: a command the node answers itself, else each of its records into the journal. */
function acceptMessage(run: ActionRun, msg: NodeMessageInFlow, send: Send, done: Done): void {
  const { spec, raiseErrors, book } = run;
  if (spec.intercept?.(msg, send, done)) return;
  const records = recordsOf(msg.payload);
  if (records.length === 0) {
    const r = invalidRecord(`${spec.type}: msg.payload is an empty array: no record to send`, spec.operation);
    const m = msg as ActionMessage;
    const answer = answerFor(run, m.marketo, { result: r });
    emit(run, m, answer, send);
    done(raiseErrors ? new RecordFailure(spec.type, errorInfo(r.error!)) : undefined);
    return;
  }
  const many = Array.isArray(msg.payload);
  // Before it is journaled: every later attempt, here or after a restart, sends the same write.
  stampAccepted(msg as unknown as Record<string, unknown>);
  const sources = (msg as ActionMessage).source;
  let group: string | undefined;
  if (many && raiseErrors) group = run.catches.open(records.length);
  let left = records.length;
  run.refreshStatus();
  // Node-RED's tracking of the message ends once every record is journaled (done() below):
  // from then on the journal holds them, and a Complete node says "accepted", not "answered".
  // Nothing leaves for Marketo before the record is on disk: what a crash can lose from here
  // on is an answer, never a record.
  records.forEach((record, index) => {
    const source = many && Array.isArray(sources) ? { has: true, value: sources[index] } : NO_SOURCE;
    // Never rejects: a record the journal refuses waits in memory instead.
    void book.accept(msg as unknown as Record<string, unknown>, record, index, many, source, group).then(() => {
      if (--left === 0) done();
    });
  });
}

/** Close: hand what waits over to the next instance (or answer it), wait for the calls, then flush the journal. */
function closeActionNode(
  run: ActionRun,
  owner: BookOwner,
  status: ThrottledStatus,
  removed: boolean,
  done: () => void,
): void {
  const { node, spec, config, book } = run;
  if (removed) metrics.forget(node.id);
  // Answers that come in from now on are kept with their records and passed on by the next
  // instance once its flows have started: sent now, they could reach nodes already stopped.
  // A node that is deleted (or its flow disabled), or one without a journal (no userDir), has
  // no next instance to hand over to, so it answers itself as before.
  run.handingOver = !removed && book.durable;
  if (run.handingOver) book.detach(owner);
  // No next instance: what still waits is answered now, as the closing client answers what it
  // held (output 2, retryable), rather than left unanswered.
  else {
    const closedOutcome: Outcome = {
      result: { ok: false, status: "failed", error: clientClosedError(spec.operation, true) },
    };
    book.answerWaiting(owner, (entry) =>
      answerFor(run, ((entry.msg ?? entry.stored.msg) as ActionMessage).marketo, closedOutcome),
    );
  }
  spec.closing?.();
  waitForCalls(
    run.pending,
    () => config?.client?.flush(),
    () => {
      run.closed = true;
      book.detach(owner);
      status.close();
      book
        .flush()
        .catch(() => undefined)
        .then(() => {
          try {
            spec.close?.();
          } finally {
            done();
          }
        });
    },
  );
}

/**
 * Close waits for the calls still running, at most CLOSE_WAIT_MS, then `finish` runs once.
 * Records held in a batch go now instead of after the batch window; a record never answered is
 * cut off by the client's close and stays in the book for the next instance. The batches are
 * flushed again while waiting: a record still on a lead lookup when close began reaches its
 * batch later, and would otherwise wait out the whole batch window.
 */
function waitForCalls(pending: ReadonlySet<Promise<void>>, flush: () => void, finish: () => void): void {
  let finished = false;
  const once = (): void => {
    if (finished) return;
    finished = true;
    finish();
  };
  if (pending.size === 0) {
    once();
    return;
  }
  const flushAll = (): void => {
    try {
      flush();
    } catch {
      /* an unusable config has no batches */
    }
  };
  flushAll();
  const again = setInterval(flushAll, 50);
  const wait = setTimeout(() => {
    clearInterval(again);
    once();
  }, CLOSE_WAIT_MS);
  Promise.allSettled([...pending]).then(() => {
    clearTimeout(wait);
    clearInterval(again);
    once();
  });
}

/** The result for one record, never rejecting. */
async function outcomeOf(
  spec: ActionSpec,
  config: MarketoConfigNode | null,
  configId: string | undefined,
  record: unknown,
  msg: NodeMessageInFlow,
  index: number,
): Promise<Outcome> {
  if (!config) {
    return {
      result: invalidRecord(
        configId
          ? `${spec.type}: the marketo-config node ${configId} is not deployed`
          : `${spec.type}: no marketo-config chosen`,
        spec.operation,
      ),
    };
  }
  if (spec.configProblem)
    return {
      result: invalidRecord(`${spec.type} is not configured correctly: ${spec.configProblem}`, spec.operation),
    };
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
}

/**
 * The answer to one record of an array payload: the message as it came, with that record as
 * its payload and, when msg.source is the parallel array field-mapper makes, that record's
 * event. Cloned without the arrays: cloning them whole for each of 10,000 records is
 * quadratic.
 */
function answerOfMany(RED: NodeAPI, msg: NodeMessageInFlow, index: number): NodeMessage {
  const { payload, source, ...rest } = msg as ActionMessage;
  const m = RED.util.cloneMessage(rest as NodeMessage) as ActionMessage;
  m.payload = RED.util.cloneMessage({ payload: (payload as unknown[])[index] } as NodeMessage).payload;
  if (source !== undefined) {
    const own = Array.isArray(source) ? source[index] : source;
    m.source = RED.util.cloneMessage({ payload: own } as NodeMessage).payload;
  }
  return m;
}
