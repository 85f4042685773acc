/**
 * What the two retry-queue kinds (entries in this process, entries in Redis) do alike when a
 * node deploys: join the registry that routes resubmission outcomes and feeds the sidebar, take
 * the node's input, and word their counts for the canvas status.
 */
import type { Node, NodeMessageInFlow } from "node-red";
import type { Totals } from "../delivery/retry-entry";
import { registerQueue, type RetryOutcomeSink } from "../delivery/retry-registry";
import type { Done, Send, Translate } from "./retry-queue-local";

type Msg = Record<string, unknown>;

/** What a queue holds and has done, as it stands. */
export interface QueueNumbers {
  size: number;
  counts: { state: Record<string, number>; category: Record<string, number> };
  totals: Totals;
}

/**
 * Registers the queue under its node's id, so outcomes of its resubmissions and the sidebar's
 * questions reach it, and hands the node's input to `input`. Returns the sink to deregister on close.
 */
export function joinQueue(
  node: Node,
  name: string,
  queue: { outcome: RetryOutcomeSink["outcome"]; numbers(): QueueNumbers },
  input: (msg: Msg, send: Send, done: Done) => void,
): RetryOutcomeSink {
  const sink: RetryOutcomeSink = {
    outcome: queue.outcome,
    figures: () => {
      const { size, counts, totals } = queue.numbers();
      return {
        id: node.id,
        name,
        size,
        counts: { state: { ...counts.state }, category: { ...counts.category } },
        totals: { ...totals },
      };
    },
  };
  registerQueue(node.id, sink);
  node.on("input", (msg: NodeMessageInFlow, send: Send, done: Done) => input(msg as unknown as Msg, send, done));
  return sink;
}

/** The entry states the canvas counts, in the order the status shows them. */
export function stateCounts(
  t: Translate,
  c: { waiting: number; retrying: number; held: number; abandoned: number },
): Array<[string, number]> {
  return [
    [t("status.waiting"), c.waiting],
    [t("status.retrying"), c.retrying],
    [t("status.held"), c.held],
    [t("status.abandoned"), c.abandoned],
  ];
}
