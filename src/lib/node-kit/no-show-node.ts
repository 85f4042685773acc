/**
 * The Node-RED side of marketo-program-status's no-show sweep: the sweep message
 * (`msg.topic = "no-show sweep"`), the events' end dates the node sees, the report on output 1
 * (output 2 and Catch when it failed) and the status. The sweep itself is
 * src/lib/actions/no-show-sweep.ts; when it runs, src/lib/actions/no-show-schedule.ts.
 *
 * Types only from node-red: the runtime API comes in as `RED`.
 */
import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow } from "node-red";
import { errorInfo, RecordFailure } from "../actions/action-outcome";
import { eventRoot } from "../flow/event";
import type { MarketoClient } from "../marketo";
import { toProgramId, type ChannelCache } from "../actions/program-status";
import {
  eventEndOf,
  parseNoShowSettings,
  runSweep,
  sweepError,
  SWEEP_OPERATION,
  SWEEP_TOPIC,
  type NoShowSettingsInput,
  type SweepReport,
} from "../actions/no-show-sweep";
import { NoShowSweeper, SweepMemory, sweepMemoryFile, type SweepOutcome } from "../actions/no-show-schedule";

type Send = (msg: Array<NodeMessage | NodeMessage[] | null>) => void;
type Done = (err?: Error) => void;

export interface NoShowNodeOptions {
  type: string;
  /** The node's client (throws when the config is unusable). */
  client(): MarketoClient;
  channels: ChannelCache;
  /** The node's fixed program, used when a sweep message names none. */
  fixedProgram?: number;
  raiseErrors: boolean;
}

export interface NoShowNode {
  /** A record of `programId` went through: its event's end date (if any) schedules the sweep. */
  saw(programId: number, msg: { payload?: unknown; source?: unknown }): void;
  /** Takes a sweep message (true), or leaves the message to the records (false). */
  intercept(msg: NodeMessageInFlow, send: Send, done: Done): boolean;
  close(): void;
}

/** What answering a sweep needs from its node. */
interface SweepAnswering {
  node: Node;
  opts: NoShowNodeOptions;
  /** A status text from the node's message catalog. */
  t(key: string, vars?: Record<string, string | number>): string;
}

function summaryText(a: SweepAnswering, r: SweepReport): string {
  return r.dryRun
    ? a.t("noShowDryRun", { planned: r.planned, read: r.read })
    : a.t(r.failed ? "noShowDoneFailed" : "noShowDone", { set: r.set, skipped: r.skipped, failed: r.failed });
}

/** The outcome on its message: output 1 with the report, or output 2 (and Catch) with the error. */
function answerSweep(a: SweepAnswering, outcome: SweepOutcome, msg: NodeMessage, send: Send): Error | undefined {
  const { node, opts } = a;
  const m = msg as NodeMessage & { marketo?: Record<string, unknown> };
  const prev = m.marketo && typeof m.marketo === "object" ? { ...m.marketo } : {};
  delete prev.error;
  m.topic = SWEEP_TOPIC;
  const source = { id: node.id, type: opts.type, name: node.name || "" };
  if (!outcome.ok) {
    const error = { ...errorInfo(outcome.error), source };
    m.marketo = { ...prev, programId: outcome.programId, status: "failed", error };
    node.status({ fill: "red", shape: "ring", text: a.t("noShowFailed", { category: outcome.error.category }) });
    send([null, m]);
    return opts.raiseErrors ? new RecordFailure(opts.type, error) : undefined;
  }
  if ("alreadyDone" in outcome) {
    m.payload = { programId: outcome.programId, alreadyDone: true, ...outcome.alreadyDone };
    m.marketo = { ...prev, programId: outcome.programId, status: "unchanged", noShow: m.payload };
    send([m, null]);
    return undefined;
  }
  const r = outcome.report;
  m.payload = r;
  m.marketo = { ...prev, programId: r.programId, status: r.dryRun ? "dry-run" : "swept", noShow: r };
  node.status({ fill: r.failed ? "yellow" : "green", shape: "dot", text: summaryText(a, r) });
  if (!r.failed) {
    send([m, null]);
    return undefined;
  }
  const first = r.errors[0];
  const error = {
    code: first?.code ?? "UNKNOWN",
    message: `${r.failed} of ${r.planned} leads were not set to ${r.statusName}; first: ${first?.message ?? "unknown"}`,
    category: first?.category ?? "marketo",
    retryable: true,
    action: "retry",
    operation: SWEEP_OPERATION,
    source,
  };
  m.marketo.error = error;
  send([null, m]);
  return opts.raiseErrors ? new RecordFailure(opts.type, error) : undefined;
}

/** The program a sweep message names (else the node's own), or why it names none. */
function sweepProgram(
  payload: unknown,
  fixedProgram: number | undefined,
): { programId: number } | { error: ReturnType<typeof sweepError> } {
  const p = payload !== null && typeof payload === "object" ? (payload as Record<string, unknown>) : {};
  const given = p.programId;
  const blank = given === undefined || given === null || given === "";
  const programId = blank ? fixedProgram : toProgramId(given);
  if (programId !== undefined) return { programId };
  return {
    error: sweepError(
      blank
        ? "a no-show sweep needs msg.payload.programId (the node has no fixed program)"
        : `the program id ${JSON.stringify(given)} is not a positive whole number`,
    ),
  };
}

export function startNoShowSweep(
  RED: NodeAPI,
  node: Node,
  def: NoShowSettingsInput,
  opts: NoShowNodeOptions,
): NoShowNode {
  const a: SweepAnswering = { node, opts, t: (key, vars) => RED._(`${opts.type}.status.${key}`, vars) };
  const { settings, problems } = parseNoShowSettings(def);
  if (problems.length && settings.enabled) node.warn(`${opts.type}: no-show sweep: ${problems.join("; ")}`);
  const memory = new SweepMemory(sweepMemoryFile(RED.settings as { userDir?: unknown }, node.id), (m) =>
    RED.log.warn(`[${opts.type}:${node.id}] ${m}`),
  );

  const execute = async (programId: number, dryRun: boolean) => {
    if (problems.length) throw sweepError(`the no-show sweep settings: ${problems.join("; ")}`);
    const info = await opts.channels.get(programId);
    return runSweep(opts.client(), info, settings, { dryRun });
  };

  const sweeper = new NoShowSweeper({
    memory,
    enabled: settings.enabled,
    delayMs: settings.delayHours * 3_600_000,
    execute,
    onTimedSweep: (outcome) => {
      const msg: NodeMessage = { _msgid: RED.util.generateId(), payload: {} };
      const err = answerSweep(a, outcome, msg, (out) => node.send(out));
      if (err) node.error(err, msg);
    },
  });

  return {
    saw(programId, msg) {
      if (settings.enabled) sweeper.saw(programId, eventEndOf(eventRoot(msg).root));
    },
    intercept(msg, send, done) {
      if (msg.topic !== SWEEP_TOPIC) return false;
      const asked = sweepProgram(msg.payload, opts.fixedProgram);
      if ("error" in asked) {
        done(answerSweep(a, { ok: false, programId: 0, error: asked.error }, msg as NodeMessage, send));
        return true;
      }
      const p = msg.payload as { dryRun?: unknown } | null;
      const dryRun = p?.dryRun === true || p?.dryRun === "true";
      node.status({ fill: "blue", shape: "dot", text: a.t(dryRun ? "noShowCounting" : "noShowSweeping") });
      void sweeper
        .sweep(asked.programId, dryRun)
        .then((outcome) => done(answerSweep(a, outcome, msg as NodeMessage, send)));
      return true;
    },
    close() {
      sweeper.close();
    },
  };
}
