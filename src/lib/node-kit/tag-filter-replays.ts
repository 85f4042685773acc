/**
 * A deployed tag-filter's replays: each starts from the node's history, asked for by an admin
 * route or by a `replay` message, and is remembered (the latest ones, and every running one) so
 * its progress can be read and it can be cancelled.
 */
import type { NodeMessage, NodeMessageInFlow } from "node-red";
import type { EventHistory, HistoryRecord } from "../flow/event-history";
import type { Rejection } from "../flow/tag-filter";
import {
  parseReplayRequest,
  ReplayRequestError,
  ReplayRun,
  type ReplayLog,
  type ReplayMark,
  type ReplayProgress,
} from "../flow/replay";
import { errorText } from "./guards";
import type { ReplayTarget } from "./tag-filter-routes";

/** Finished replays a node still answers progress for. */
const KEEP_FINISHED = 20;
type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
type Done = (err?: Error) => void;
const hasOwn = Object.prototype.hasOwnProperty;

export class TagFilterReplays implements ReplayTarget {
  private readonly runs = new Map<string, ReplayRun>();

  /**
   * `log` keeps the list beside the history so that it outlives a restart; `emit` sends one kept
   * event again and must not throw; `onFailed` hears of a replay that could not finish.
   */
  constructor(
    private readonly history: EventHistory | undefined,
    private readonly log: ReplayLog | undefined,
    private readonly emit: (rec: HistoryRecord, mark: ReplayMark) => void,
    private readonly onFailed: (progress: ReplayProgress) => void,
  ) {}

  /** Starts a replay; throws ReplayRequestError for a bad request or when the node keeps no history. */
  begin(body: unknown): ReplayRun {
    if (!this.history)
      throw new ReplayRequestError("replay: this tag-filter keeps no history (Node-RED has no userDir)");
    const request = parseReplayRequest(body);
    const run = new ReplayRun(this.history, request, this.emit);
    this.runs.set(run.id, run);
    this.log?.track(run);
    // Only the latest replays are remembered; a running one is never forgotten.
    for (const [id, r] of this.runs) {
      if (this.runs.size <= KEEP_FINISHED) break;
      const st = r.progress.state;
      if (st !== "counting" && st !== "running") this.runs.delete(id);
    }
    void run.finished.then((p) => {
      if (p.state === "failed") this.onFailed(p);
    });
    return run;
  }

  async start(body: unknown): Promise<{ replayId: string; events: number }> {
    const run = this.begin(body);
    return { replayId: run.id, events: await run.counted };
  }

  progress(replayId: string): ReplayProgress | undefined {
    return this.runs.get(replayId)?.progress ?? this.log?.get(replayId);
  }

  list(): ReplayProgress[] {
    return this.log?.list() ?? [...this.runs.values()].reverse().map((r) => r.progress);
  }

  cancel(replayId: string): ReplayProgress | undefined {
    const run = this.runs.get(replayId);
    if (!run) return undefined;
    run.cancel();
    return run.progress;
  }

  /** Stops every replay and closes the list: the node is closing. */
  close(): void {
    for (const run of this.runs.values()) run.cancel();
    this.log?.close();
  }
}

/** A message asking for a replay; a replayed event carries its own `msg.replay` and is no request. */
export function isReplayRequest(msg: NodeMessageInFlow): boolean {
  return msg.topic === "replay" && !hasOwn.call(msg, "replay");
}

/**
 * Answers a replay request: `{cancel: id}` stops that replay, anything else starts one. The
 * request itself is no event: it leaves on output 2, saying what it stopped or, once counted,
 * what it started.
 */
export function answerReplayRequest(replays: TagFilterReplays, msg: NodeMessageInFlow, send: Send, done: Done): void {
  const p = (msg.payload ?? {}) as Record<string, unknown>;
  if (p !== null && typeof p === "object" && typeof p.cancel === "string") {
    const stopped = replays.cancel(p.cancel);
    if (!stopped) return done(new Error(`tag-filter: validation: no replay ${p.cancel} to cancel`));
    (msg as NodeMessage & { replay: ReplayProgress }).replay = stopped;
    send([null, msg]);
    return done();
  }
  let run: ReplayRun;
  try {
    run = replays.begin(msg.payload);
  } catch (err) {
    return done(new Error(`tag-filter: validation: ${errorText(err)}`));
  }
  run.counted.then(
    (events) => {
      const m = msg as NodeMessage & { replay: ReplayProgress; filtered: Rejection };
      m.replay = { ...run.progress, events };
      m.filtered = {
        rule: "replay",
        reason: `${run.request.dryRun ? "a dry run counted" : "replay started for"} ${events} kept events`,
      };
      send([null, m]);
      done();
    },
    (err: unknown) => done(new Error(`tag-filter: replay could not read the history: ${errorText(err)}`)),
  );
}
