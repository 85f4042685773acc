/**
 * tag-filter: Certain Signal's flow rules (Live/Test, Source, Activate for, Filters) as one node.
 * Glue only: the configuration is compiled once at deploy by lib/tag-filter.ts; per message the
 * compiled filter decides, and this file routes (output 1 passes, output 2 gets `msg.filtered`)
 * and keeps the passed/rejected counts on the status.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from "node-red";
import { countsText } from "./lib/counts";
import { compileTagFilter, TagFilterConfigError, type CompiledTagFilter, type Rejection, type TagFilterConfig } from "./lib/tag-filter";
import { metrics } from "./lib/metrics";

type TagFilterDef = NodeDef & TagFilterConfig;
type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
type Done = (err?: Error) => void;

/** The status is redrawn at most this often under load (the first change shows at once). */
const STATUS_INTERVAL_MS = 250;
const hasOwn = Object.prototype.hasOwnProperty;

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
    let timer: NodeJS.Timeout | undefined;
    let dirty = false;

    const show = () => {
      node.status({ fill: passed > 0 ? "green" : "grey", shape: "dot", text: countsText([[passedLabel, passed], [rejectedLabel, rejected]]) });
    };
    const tick = () => {
      timer = undefined;
      if (!dirty) return;
      dirty = false;
      show();
      timer = setTimeout(tick, STATUS_INTERVAL_MS);
    };
    const counted = () => {
      if (timer) {
        dirty = true;
        return;
      }
      show();
      timer = setTimeout(tick, STATUS_INTERVAL_MS);
    };

    if (configProblem !== undefined) node.status({ fill: "red", shape: "ring", text: "tag-filter.status.invalid" });
    else show();

    node.on("input", (msg: NodeMessageInFlow, send: Send, done: Done) => {
      let verdict: Rejection | null;
      try {
        verdict = filter ? filter.evaluate(msg) : { rule: "config", reason: `the node's configuration is invalid: ${configProblem}` };
      } catch (err) {
        done(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (verdict === null) {
        passed++;
        // msg.filtered says why a message was rejected; one that passes here (say a second filter
        // on the first one's output 2) must not carry an earlier node's rejection on.
        if (hasOwn.call(msg, "filtered")) delete (msg as NodeMessage & { filtered?: Rejection }).filtered;
        send([msg, null]);
      } else {
        rejected++;
        if (configProblem === undefined) metrics.filtered({ id: node.id, type: "tag-filter", name: config.name || "" });
        (msg as NodeMessage & { filtered?: Rejection }).filtered = verdict;
        send([null, msg]);
      }
      if (configProblem === undefined) counted();
      done();
    });

    node.on("close", (removed: boolean, done: () => void) => {
      if (removed) metrics.forget(node.id);
      if (timer) clearTimeout(timer);
      timer = undefined;
      dirty = false;
      done();
    });
  }

  RED.nodes.registerType("tag-filter", TagFilterNode);
};
