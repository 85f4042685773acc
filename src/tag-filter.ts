/**
 * tag-filter: Certain Signal's flow rules (Live/Test, Source, Activate for, Filters) as one node.
 * Glue only: the configuration is compiled once at deploy by lib/flow/tag-filter.ts and per
 * message the compiled filter decides; this file assembles that filter with the node-kit parts:
 * the outputs and status (tag-filter-outputs), the history (tag-filter-history), its replays
 * (tag-filter-replays) and their admin routes (tag-filter-routes).
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from "node-red";
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
import { TagFilterOutputs } from "./lib/node-kit/tag-filter-outputs";
import { registerTagFilterRoutes, type ReplayTarget } from "./lib/node-kit/tag-filter-routes";

type TagFilterDef = NodeDef & TagFilterConfig & HistorySettings;

/** The deployed tag-filters the admin routes reach, by node id. */
const targets = new Map<string, ReplayTarget>();
type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
type Done = (err?: Error) => void;

/** Compiles the node's configuration, warning of its doubtful settings and reporting an invalid one. */
function compileForNode(
  RED: NodeAPI,
  node: Node,
  config: TagFilterDef,
): { filter?: CompiledTagFilter; configProblem?: string } {
  try {
    const filter = compileTagFilter(config);
    for (const w of filter.warnings) node.warn(RED._("tag-filter.warnings.config", { warning: w }));
    return { filter };
  } catch (err) {
    if (!(err instanceof TagFilterConfigError)) throw err;
    node.error(RED._("tag-filter.errors.config", { error: err.message }));
    return { configProblem: err.message };
  }
}

export = function (RED: NodeAPI) {
  function TagFilterNode(this: Node, config: TagFilterDef) {
    RED.nodes.createNode(this, config);
    const node = this;

    const { filter, configProblem } = compileForNode(RED, node, config);
    const outputs = new TagFilterOutputs(node, RED, config.name || "", configProblem === undefined);

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

    const judge = (msg: unknown): Rejection | null =>
      filter
        ? filter.evaluate(msg)
        : { rule: "config", reason: `the node's configuration is invalid: ${configProblem}` };

    /** A kept event, entering again as it first did, marked as a replay (and not kept twice). */
    function replayed(rec: HistoryRecord, mark: ReplayMark): void {
      const msg: NodeMessage = { _msgid: RED.util.generateId() } as NodeMessage;
      try {
        fillReplayed(RED, msg, rec, mark, props);
        outputs.deliver(msg, judge(msg), (m) => node.send(m));
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
      outputs.deliver(msg, verdict, send);
      done();
    });

    node.on("close", (removed: boolean, done: () => void) => {
      if (removed) metrics.forget(node.id);
      replays.close();
      if (targets.get(node.id) === replays) targets.delete(node.id);
      history?.close();
      outputs.close();
      done();
    });
  }

  RED.nodes.registerType("tag-filter", TagFilterNode);

  registerTagFilterRoutes(RED, targets);
};
