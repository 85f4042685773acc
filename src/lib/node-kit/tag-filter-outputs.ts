/**
 * A tag-filter's two outputs and its status: a passing message leaves on output 1, a rejected
 * one on output 2 with `msg.filtered`, and the passed/rejected counts show on the status.
 */
import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow } from "node-red";
import type { Rejection } from "../flow/tag-filter";
import { metrics } from "../sidebar/metrics";
import { countsText } from "./counts";
import { throttledStatus, type ThrottledStatus } from "./node-status";
import { sendHeld, sendPassed } from "./pass-hold";

type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;

export class TagFilterOutputs {
  private passed = 0;
  private rejected = 0;
  private readonly status: ThrottledStatus;

  /**
   * `valid` false: the configuration is invalid, so the status keeps saying so and the
   * rejections (every message) stay out of the sidebar's counts.
   */
  constructor(
    private readonly node: Node,
    RED: NodeAPI,
    private readonly name: string,
    private readonly valid: boolean,
  ) {
    const passedLabel = RED._("tag-filter.status.passed");
    const rejectedLabel = RED._("tag-filter.status.rejected");
    this.status = throttledStatus(() => {
      node.status({
        fill: this.passed > 0 ? "green" : "grey",
        shape: "dot",
        text: countsText([
          [passedLabel, this.passed],
          [rejectedLabel, this.rejected],
        ]),
      });
    });
    if (!valid) node.status({ fill: "red", shape: "ring", text: "tag-filter.status.invalid" });
    else this.status.paintNow();
  }

  /** Sends a message on the output its verdict names and counts it. */
  deliver(msg: NodeMessageInFlow | NodeMessage, verdict: Rejection | null, send: Send): void {
    if (verdict === null) {
      this.passed++;
      sendPassed(msg, send);
    } else {
      this.rejected++;
      if (this.valid) metrics.filtered({ id: this.node.id, type: "tag-filter", name: this.name });
      sendHeld(msg, verdict, send);
    }
    if (this.valid) this.status.refresh();
  }

  /** Stops painting: the node is closing. */
  close(): void {
    this.status.close();
  }
}
