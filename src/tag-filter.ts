/**
 * tag-filter: Certain Signal's flow rules (Live/Test, Source, Activate for, Filters) as one node.
 * Glue only: the configuration is compiled once at deploy by lib/tag-filter.ts; per message the
 * compiled filter decides, and this file routes (output 1 passes, output 2 gets `msg.filtered`)
 * and keeps the passed/rejected counts on the status.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from "node-red";
import { countsText } from "./lib/node-kit/counts";
import { throttledStatus } from "./lib/node-kit/node-status";
import { sendHeld, sendPassed } from "./lib/node-kit/pass-hold";
import {
  compileTagFilter,
  TagFilterConfigError,
  type CompiledTagFilter,
  type Rejection,
  type TagFilterConfig,
} from "./lib/flow/tag-filter";
import { metrics } from "./lib/sidebar/metrics";
import { markReplayed, stampAccepted } from "./lib/delivery/delivery-once";
import {
  DEFAULT_MAX_BYTES,
  DEFAULT_RETENTION_DAYS,
  EventHistory,
  historyDir,
  type HistoryRecord,
} from "./lib/flow/event-history";
import { ReplayLog, type ReplayMark } from "./lib/flow/replay";
import { errorText, toError } from "./lib/node-kit/guards";
import { answerReplayRequest, isReplayRequest, TagFilterReplays } from "./lib/node-kit/tag-filter-replays";
import { registerTagFilterRoutes, type ReplayTarget } from "./lib/node-kit/tag-filter-routes";

type TagFilterDef = NodeDef &
  TagFilterConfig & {
    /** Days the history keeps an event (default 30). */
    historyDays?: number | string;
    /** Megabytes the history may hold on disk (default 512). */
    historyMaxMB?: number | string;
  };

/** The deployed tag-filters the admin routes reach, by node id. */
const targets = new Map<string, ReplayTarget>();
type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
type Done = (err?: Error) => void;

const hasOwn = Object.prototype.hasOwnProperty;

function positive(v: unknown, fallback: number): number {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : typeof v === "number" ? v : NaN;
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

export = function (RED: NodeAPI) {
  function TagFilterNode(this: Node, config: TagFilterDef) {
    RED.nodes.createNode(this, config);
    const node = this;

    let filter: CompiledTagFilter | undefined;
    let configProblem: string | undefined;
    try {
      filter = compileTagFilter(config);
      for (const w of filter.warnings) node.warn(RED._("tag-filter.warnings.config", { warning: w }));
    } catch (err) {
      if (!(err instanceof TagFilterConfigError)) throw err;
      configProblem = err.message;
      node.error(RED._("tag-filter.errors.config", { error: err.message }));
    }

    const passedLabel = RED._("tag-filter.status.passed");
    const rejectedLabel = RED._("tag-filter.status.rejected");
    let passed = 0;
    let rejected = 0;

    const show = () => {
      node.status({
        fill: passed > 0 ? "green" : "grey",
        shape: "dot",
        text: countsText([
          [passedLabel, passed],
          [rejectedLabel, rejected],
        ]),
      });
    };
    const status = throttledStatus(show);

    if (configProblem !== undefined) node.status({ fill: "red", shape: "ring", text: "tag-filter.status.invalid" });
    else status.paintNow();

    const topicProp = config.topicProp || "topic";
    const payloadProp = config.payloadProp || "payload";
    let history: EventHistory | undefined;
    const dir = historyDir(RED.settings as { userDir?: unknown }, node.id);
    if (dir) {
      try {
        history = new EventHistory(dir, {
          retentionDays: positive(config.historyDays, DEFAULT_RETENTION_DAYS),
          maxBytes: Math.round(positive(config.historyMaxMB, DEFAULT_MAX_BYTES / 1048576) * 1048576),
          logger: { warn: (m) => node.warn(m) },
        });
      } catch (err) {
        node.warn(RED._("tag-filter.warnings.history", { error: errorText(err) }));
      }
    }

    // The list of replays lives beside the history, so that it outlives a restart.
    const replayLog = dir && history ? new ReplayLog(dir, (m) => node.warn(m)) : undefined;
    const replays = new TagFilterReplays(history, replayLog, replayed, (p) =>
      node.warn(RED._("tag-filter.warnings.replayFailed", { id: p.replayId, error: p.error ?? "" })),
    );
    targets.set(node.id, replays);

    /** Sends a message on the output its verdict names and counts it. */
    const deliver = (msg: NodeMessageInFlow | NodeMessage, verdict: Rejection | null, send: Send): void => {
      if (verdict === null) {
        passed++;
        sendPassed(msg, send);
      } else {
        rejected++;
        if (configProblem === undefined) metrics.filtered({ id: node.id, type: "tag-filter", name: config.name || "" });
        sendHeld(msg, verdict, send);
      }
      if (configProblem === undefined) status.refresh();
    };
    const judge = (msg: unknown): Rejection | null =>
      filter
        ? filter.evaluate(msg)
        : { rule: "config", reason: `the node's configuration is invalid: ${configProblem}` };

    /** A kept event, entering again as it first did, marked as a replay (and not kept twice). */
    function replayed(rec: HistoryRecord, mark: ReplayMark): void {
      const msg: NodeMessage = { _msgid: RED.util.generateId() } as NodeMessage;
      try {
        RED.util.setMessageProperty(msg, topicProp, rec.topic, true);
        RED.util.setMessageProperty(msg, payloadProp, rec.payload, true);
        (msg as NodeMessage & { replay: ReplayMark }).replay = mark;
        markReplayed(msg as unknown as Record<string, unknown>, rec.t);
        deliver(msg, judge(msg), (m) => node.send(m));
      } catch (err) {
        node.error(toError(err), msg);
      }
    }

    node.on("input", (msg: NodeMessageInFlow, send: Send, done: Done) => {
      if (isReplayRequest(msg)) return answerReplayRequest(replays, msg, send, done);
      let verdict: Rejection | null;
      try {
        verdict = judge(msg);
        // A replayed message coming round again is kept already.
        if (history && !hasOwn.call(msg, "replay")) {
          const at = history.append(
            RED.util.getMessageProperty(msg, topicProp),
            RED.util.getMessageProperty(msg, payloadProp),
            verdict !== null,
          );
          // Taken in when kept: a replay of it later dates its undated activities the same way.
          if (at !== undefined) stampAccepted(msg as unknown as Record<string, unknown>, at);
        }
      } catch (err) {
        done(toError(err));
        return;
      }
      deliver(msg, verdict, send);
      done();
    });

    node.on("close", (removed: boolean, done: () => void) => {
      if (removed) metrics.forget(node.id);
      replays.close();
      if (targets.get(node.id) === replays) targets.delete(node.id);
      history?.close();
      status.close();
      done();
    });
  }

  RED.nodes.registerType("tag-filter", TagFilterNode);

  registerTagFilterRoutes(RED, targets);
};
