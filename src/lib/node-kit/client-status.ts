/**
 * What an action node shows on the canvas: the shared client's state when it is not "ok"
 * (every node of one marketo-config shows the same pause), else the node's own counts.
 */
import { countsText } from "./counts";
import type { StateEvent } from "../marketo";

export interface NodeStatus {
  fill: "red" | "green" | "yellow" | "blue" | "grey";
  shape: "ring" | "dot";
  text: string;
}

export interface ActionCounts {
  sent: number;
  failed: number;
  /** Records this node handed to the client that are not answered yet. */
  queued: number;
}

/** Labels in the user's language (RED._ results), keyed as in every action node's catalog. */
export interface StatusLabels {
  sent: string;
  failed: string;
  queued: string;
  rateLimited: string;
  /** Contains "__time__" where the resume time goes. */
  quota: string;
  authFailed: string;
  retrying: string;
}

/** "00:00 CT": Marketo's day, and so its quota, turns over at midnight America/Chicago. */
export function chicagoClock(iso: string | undefined): string {
  const d = iso ? new Date(iso) : undefined;
  if (!d || Number.isNaN(d.getTime())) return "?";
  const t = new Intl.DateTimeFormat("en-US", {
    timeZone: "America/Chicago",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(d);
  return `${t} CT`;
}

export function statusFor(state: StateEvent, counts: ActionCounts, labels: StatusLabels): NodeStatus {
  const countText = countsText([
    [labels.sent, counts.sent],
    [labels.queued, counts.queued],
    [labels.failed, counts.failed],
  ]);
  switch (state.state) {
    case "auth-failed":
      return { fill: "red", shape: "ring", text: labels.authFailed };
    case "quota": {
      // The backlog stays in sight while Marketo refuses calls: it is what a person weighs
      // before pressing "Try now" or buying more quota.
      const quota = labels.quota.replace("__time__", chicagoClock(state.resumesAt));
      return {
        fill: "red",
        shape: "ring",
        text: counts.queued > 0 ? `${quota} · ${countsText([[labels.queued, counts.queued]])}` : quota,
      };
    }
    case "rate-limited":
      return { fill: "yellow", shape: "ring", text: `${labels.rateLimited} · ${countText}` };
    case "backoff":
      return { fill: "yellow", shape: "ring", text: `${labels.retrying} · ${countText}` };
    case "waiting":
      // The shared limits cannot be read (Redis unreachable): calls wait, none goes unlimited.
      return { fill: "yellow", shape: "ring", text: `${state.reason ?? "waiting"} · ${countText}` };
    default:
      return { fill: counts.failed > 0 ? "yellow" : "green", shape: "dot", text: countText };
  }
}
