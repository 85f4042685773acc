/**
 * The tag-filter's admin routes: start a replay of a deployed tag-filter's history, list its
 * replays, read one's progress and cancel it. Starting and cancelling need write permission,
 * reading needs read; every answer is JSON.
 */
import type { NodeAPI } from "node-red";
import { ReplayRequestError, type ReplayProgress } from "../flow/replay";
import { errorText } from "./guards";

/** What the admin routes reach of a deployed tag-filter. */
export interface ReplayTarget {
  start(body: unknown): Promise<{ replayId: string; events: number }>;
  progress(replayId: string): ReplayProgress | undefined;
  /** The remembered replays, newest first. */
  list(): ReplayProgress[];
  cancel(replayId: string): ReplayProgress | undefined;
}

type Res = { status(n: number): { json(b: unknown): void } };

/** A bad replay request is the caller's to fix (400); anything else is ours (500). */
function answerError(res: Res, err: unknown): void {
  const validation = err instanceof ReplayRequestError;
  res.status(validation ? 400 : 500).json({
    error: errorText(err),
    category: validation ? "validation" : "internal",
  });
}

/** Registers the replay routes over the deployed tag-filters, keyed by node id. */
export function registerTagFilterRoutes(RED: NodeAPI, targets: ReadonlyMap<string, ReplayTarget>): void {
  RED.httpAdmin.post("/tag-filter/:id/replay", RED.auth.needsPermission("tag-filter.write"), (req, res) => {
    const t = targets.get(String(req.params.id));
    if (!t)
      return void res.status(404).json({ error: `no deployed tag-filter ${req.params.id}`, category: "validation" });
    t.start(req.body).then(
      (r) => res.json(r),
      (err: unknown) => answerError(res, err),
    );
  });
  RED.httpAdmin.get("/tag-filter/:id/replays", RED.auth.needsPermission("tag-filter.read"), (req, res) => {
    const t = targets.get(String(req.params.id));
    if (!t)
      return void res.status(404).json({ error: `no deployed tag-filter ${req.params.id}`, category: "validation" });
    res.json({ replays: t.list() });
  });
  RED.httpAdmin.get("/tag-filter/:id/replay/:replayId", RED.auth.needsPermission("tag-filter.read"), (req, res) => {
    const p = targets.get(String(req.params.id))?.progress(String(req.params.replayId));
    if (!p)
      return void res
        .status(404)
        .json({ error: `no replay ${req.params.replayId} on tag-filter ${req.params.id}`, category: "validation" });
    res.json(p);
  });
  RED.httpAdmin.post(
    "/tag-filter/:id/replay/:replayId/cancel",
    RED.auth.needsPermission("tag-filter.write"),
    (req, res) => {
      const p = targets.get(String(req.params.id))?.cancel(String(req.params.replayId));
      if (!p)
        return void res
          .status(404)
          .json({ error: `no replay ${req.params.replayId} on tag-filter ${req.params.id}`, category: "validation" });
      res.json(p);
    },
  );
}
