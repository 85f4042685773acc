/**
 * The Node-RED side of a tag-filter's history: where it lives (under userDir, none without one),
 * keeping each arriving event, and turning a kept event back into a message for a replay.
 */
import type { NodeAPI, NodeMessage, NodeMessageInFlow } from "node-red";
import { markReplayed, stampAccepted } from "../delivery/delivery-once";
import {
  DEFAULT_MAX_BYTES,
  DEFAULT_RETENTION_DAYS,
  EventHistory,
  historyDir,
  type HistoryRecord,
} from "../flow/event-history";
import { ReplayLog, type ReplayMark } from "../flow/replay";

/** The history settings of the node's dialog. */
export interface HistorySettings {
  /** Days the history keeps an event (default 30). */
  historyDays?: number | string;
  /** Megabytes the history may hold on disk (default 512). */
  historyMaxMB?: number | string;
}

/** Where the message carries its topic and its event payload. */
export interface EventProps {
  topicProp: string;
  payloadProp: string;
}

const hasOwn = Object.prototype.hasOwnProperty;

function positive(v: unknown, fallback: number): number {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : typeof v === "number" ? v : NaN;
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

/**
 * Opens the node's history and the list of its replays. Neither exists without a userDir; a
 * history that cannot open is reported through `cannotOpen` and the node filters without one.
 */
export function openTagFilterHistory(
  RED: NodeAPI,
  nodeId: string,
  settings: HistorySettings,
  warn: (message: string) => void,
  cannotOpen: (err: unknown) => void,
): { history?: EventHistory; replayLog?: ReplayLog } {
  const dir = historyDir(RED.settings as { userDir?: unknown }, nodeId);
  if (!dir) return {};
  let history: EventHistory;
  try {
    history = new EventHistory(dir, {
      retentionDays: positive(settings.historyDays, DEFAULT_RETENTION_DAYS),
      maxBytes: Math.round(positive(settings.historyMaxMB, DEFAULT_MAX_BYTES / 1048576) * 1048576),
      logger: { warn },
    });
  } catch (err) {
    cannotOpen(err);
    return {};
  }
  // The list of replays lives beside the history, so that it outlives a restart.
  return { history, replayLog: new ReplayLog(dir, warn) };
}

/** Keeps an arriving event, passed or rejected, unless it is a replay coming round again (kept already). */
export function keepArrival(
  RED: NodeAPI,
  history: EventHistory | undefined,
  msg: NodeMessageInFlow,
  props: EventProps,
  rejected: boolean,
): void {
  if (!history || hasOwn.call(msg, "replay")) return;
  const at = history.append(
    RED.util.getMessageProperty(msg, props.topicProp),
    RED.util.getMessageProperty(msg, props.payloadProp),
    rejected,
  );
  // Taken in when kept: a replay of it later dates its undated activities the same way.
  if (at !== undefined) stampAccepted(msg as unknown as Record<string, unknown>, at);
}

/** Fills `msg` with a kept event as it first entered, marked as a replay (and so not kept twice). */
export function fillReplayed(RED: NodeAPI, msg: NodeMessage, rec: HistoryRecord, mark: ReplayMark, props: EventProps) {
  RED.util.setMessageProperty(msg, props.topicProp, rec.topic, true);
  RED.util.setMessageProperty(msg, props.payloadProp, rec.payload, true);
  (msg as NodeMessage & { replay: ReplayMark }).replay = mark;
  markReplayed(msg as unknown as Record<string, unknown>, rec.t);
}
