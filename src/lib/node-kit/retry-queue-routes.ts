/**
 * The retry-queue's admin routes: the list of deployed queues, their entries, and resubmit or
 * discard by ids or filter. Read and write need their own permissions; every answer is JSON.
 */
import type { NodeAPI } from "node-red";
import type { RetryQueue } from "../delivery/retry-queue";
import type { Filter } from "../delivery/retry-entry";
import type { RedisRetryQueue } from "../delivery/retry-queue-redis";
import { entriesQuery, selection } from "../delivery/retry-queue-triage";
import { answerErrorsInJson } from "./admin-routes";
import { errorText } from "./guards";

/** A deployed retry-queue as the routes see it. */
export interface DeployedQueue {
  id: string;
  name: string;
  z: string | undefined;
  /** The in-process queue, or undefined when the entries live in Redis (`shared`). */
  queue?: RetryQueue;
  shared?: RedisRetryQueue;
  file: string | undefined;
  /** Resubmit now what a route just made due. */
  kick(): void;
}

type Res = { status(n: number): Res; json(body: unknown): void };

/** One queue's line in the list of deployed queues. */
async function queueSummary(q: DeployedQueue): Promise<Record<string, unknown>> {
  const shared = q.shared
    ? await q.shared.refresh().catch(() => ({ size: q.shared!.lastSize, counts: q.shared!.lastCounts }))
    : undefined;
  return {
    id: q.id,
    name: q.name,
    z: q.z,
    size: shared ? shared.size : q.queue!.size,
    maxEntries: (q.shared ?? q.queue!).options.maxEntries,
    durable: q.file !== undefined || q.shared !== undefined,
    shared: q.shared !== undefined,
    counts: shared ? shared.counts : q.queue!.counts(),
  };
}

/** A page of a queue's entries with its counts and totals, from Redis or from this process. */
async function entriesAnswer(
  q: DeployedQueue,
  filter: Filter,
  limit: number,
  offset: number,
): Promise<Record<string, unknown>> {
  if (q.shared) {
    const shared = q.shared;
    const [list, all] = await Promise.all([shared.list(filter, limit, offset), shared.refresh()]);
    return {
      total: list.total,
      offset,
      maxAttempts: shared.options.maxAttempts,
      counts: all.counts,
      totals: all.totals,
      integrations: all.integrations,
      shared: true,
      entries: list.entries,
    };
  }
  const queue = q.queue!;
  const list = queue.list(filter, limit, offset);
  return {
    total: list.total,
    offset,
    maxAttempts: queue.options.maxAttempts,
    counts: queue.counts(),
    totals: { ...queue.totals },
    integrations: queue.integrations(),
    entries: list.entries,
  };
}

export function registerRetryQueueRoutes(RED: NodeAPI, deployed: Map<string, DeployedQueue>): void {
  const read = RED.auth.needsPermission("retry-queue.read");
  const write = RED.auth.needsPermission("retry-queue.write");

  const bad = (res: Res, status: number, message: string): void => {
    res.status(status).json({ error: message, category: "validation" });
  };
  const find = (id: unknown, res: Res): DeployedQueue | undefined => {
    const q = typeof id === "string" ? deployed.get(id) : undefined;
    if (!q) bad(res, 404, `no retry-queue ${String(id)} is deployed`);
    return q;
  };
  const fail500 = (res: Res) => (err: unknown) => res.status(500).json({ error: errorText(err) });

  RED.httpAdmin.get("/retry-queue", read, (_req, res) => {
    Promise.all([...deployed.values()].map(queueSummary)).then(
      (list) => res.json(list),
      fail500(res as unknown as Res),
    );
  });

  RED.httpAdmin.get("/retry-queue/:id/entries", read, (req, res) => {
    const q = find(req.params.id, res as unknown as Res);
    if (!q) return;
    const query = entriesQuery(req.query as Record<string, unknown>);
    if (!query.ok) return bad(res as unknown as Res, 400, query.reason);
    entriesAnswer(q, query.filter, query.limit, query.offset).then(
      (body) => res.json(body),
      fail500(res as unknown as Res),
    );
  });

  RED.httpAdmin.post("/retry-queue/:id/resubmit", write, (req, res) => {
    const q = find(req.params.id, res as unknown as Res);
    if (!q) return;
    const s = selection(req.body, false);
    if (!s.ok) return bad(res as unknown as Res, 400, s.reason);
    (q.shared ?? q.queue!).resubmit(s.filter).then(
      (n) => {
        q.kick();
        res.json({ resubmitted: n });
      },
      fail500(res as unknown as Res),
    );
  });

  RED.httpAdmin.post("/retry-queue/:id/discard", write, (req, res) => {
    const q = find(req.params.id, res as unknown as Res);
    if (!q) return;
    const s = selection(req.body, true);
    if (!s.ok) return bad(res as unknown as Res, 400, s.reason);
    (q.shared ?? q.queue!).discard(s.filter).then((n) => res.json({ discarded: n }), fail500(res as unknown as Res));
  });

  answerErrorsInJson(RED, "retry-queue");
}
