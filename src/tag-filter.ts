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
import type { HistoryRecord } from "./lib/flow/event-history";
import type { ReplayMark } from "./lib/flow/replay";
import { errorText, toError } from "./lib/node-kit/guards";
import { answerReplayRequest, isReplayRequest, TagFilterReplays } from "./lib/node-kit/tag-filter-replays";
import {
  fillReplayed,
  keepArrival,
  openTagFilterHistory,
  type EventProps,
  type HistorySettings,
} from "./lib/node-kit/tag-filter-history";
import { registerTagFilterRoutes, type ReplayTarget } from "./lib/node-kit/tag-filter-routes";

type TagFilterDef = NodeDef & TagFilterConfig & HistorySettings;

/** The deployed tag-filters the admin routes reach, by node id. */
const targets = new Map<string, ReplayTarget>();
type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
type Done = (err?: Error) => void;

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

    const props: EventProps = { topicProp: config.topicProp || "topic", payloadProp: config.payloadProp || "payload" };
    const { history, replayLog } = openTagFilterHistory(
      RED,
      node.id,
      config,
      (m) => node.warn(m),
      (err) => node.warn(RED._("tag-filter.warnings.history", { error: errorText(err) })),
    );
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
        fillReplayed(RED, msg, rec, mark, props);
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
        keepArrival(RED, history, msg, props, verdict !== null);
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
