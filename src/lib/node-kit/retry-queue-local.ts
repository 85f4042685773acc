/**
 * A retry-queue whose entries live in this process, kept in a journal under the user directory:
 * it takes failures in, resubmits what is due in chunks, hears outcomes, answers commands, and
 * keeps the canvas status. Its decisions are src/lib/delivery/retry-queue.ts and -triage.ts.
 */
import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow } from "node-red";
import { countsText } from "./counts";
import { errorText, toError } from "./guards";
import { throttledStatus, type ThrottledStatus } from "./node-status";
import { Journal } from "../delivery/journal";
import { journalFile } from "../delivery/journal-path";
import { MemoryStore, RetryQueue, type ErrorInfo, type QueueStore, type RetryEntry } from "../delivery/retry-queue";
import {
  cameFromQueue,
  commandFilter,
  givenUpOf,
  overflowOf,
  resubmissionOf,
  triage,
  type QueueSettings,
} from "../delivery/retry-queue-triage";
import { isQueueRegistered, unregisterQueue, type RetryOutcomeSink } from "../delivery/retry-registry";
import type { DeployedQueue } from "./retry-queue-routes";
import { joinQueue, stateCounts } from "./retry-queue-join";

type Msg = Record<string, unknown>;
export type Send = (msg: Array<NodeMessage | NodeMessage[] | null>) => void;
export type Done = (err?: Error) => void;
export type Translate = (key: string, sub?: Record<string, string | number>) => string;

/** Resubmissions sent per turn of the event loop: 10,000 due at once must not block it. */
const CHUNK = 500;
/** setTimeout's limit; a longer wait is taken in steps. */
const MAX_TIMER_MS = 2_147_483_647;

/** The journal, or memory when there is no user directory or the journal cannot open. */
function openStore(
  RED: NodeAPI,
  node: Node,
  t: Translate,
): {
  file: string | undefined;
  journal?: Journal<unknown>;
  store: QueueStore;
  recovered: Array<{ id: string; value: unknown }>;
} {
  const file = journalFile(RED.settings as { userDir?: unknown }, "retry-queue", node.id);
  if (!file) {
    node.log(t("log.memoryOnly"));
    return { file, store: new MemoryStore(), recovered: [] };
  }
  try {
    const journal = Journal.openOwn<unknown>(file, { logger: { warn: (m: string) => node.warn(m) } });
    return { file, journal, store: journal, recovered: journal.recovered() };
  } catch (err) {
    node.error(t("errors.journal", { error: errorText(err) }));
    return { file, store: new MemoryStore(), recovered: [] };
  }
}

export class LocalRetryQueue {
  readonly queue: RetryQueue;
  readonly deployed: DeployedQueue;
  private readonly journal: Journal<unknown> | undefined;
  private closed = false;
  /** Work under way (input, outcome, drain): close waits for it before closing the journal. */
  private readonly pending = new Set<Promise<unknown>>();
  private readonly status: ThrottledStatus = throttledStatus(() => this.paint());
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeTime = Infinity;
  private draining: Promise<void> | undefined;
  /** The full warning is said once per episode of a full queue. */
  private fullEpisode = false;
  private readonly warned = new Set<string>();
  private readonly sink: RetryOutcomeSink;

  constructor(
    private readonly RED: NodeAPI,
    private readonly node: Node,
    name: string,
    z: string | undefined,
    options: QueueSettings,
    private readonly throughNode: boolean,
    private readonly t: Translate,
  ) {
    const { file, journal, store, recovered } = openStore(RED, node, t);
    this.journal = journal;
    this.queue = new RetryQueue(options, store, recovered);
    if (this.queue.damaged.length) node.warn(t("log.damaged", { count: this.queue.damaged.length, file: file ?? "" }));
    if (this.queue.size) node.log(t("log.recovered", { count: this.queue.size, file: file ?? "" }));
    this.sink = joinQueue(
      node,
      name,
      {
        outcome: (tag, ok, error) => {
          if (this.closed) return;
          this.track(this.onOutcome(tag, ok, error)).catch((err: unknown) => this.storeError(err));
        },
        numbers: () => ({ size: this.queue.size, counts: this.queue.counts(), totals: this.queue.totals }),
      },
      (msg, send, done) => this.input(msg, send, done),
    );
    this.deployed = { id: node.id, name, z, queue: this.queue, file, kick: () => this.kick() };
    this.status.paintNow();
    // Recovered entries: due ones go once flows have started, so they reach running nodes.
    if (this.queue.size) {
      const start = (): void => {
        if (!this.closed) this.wakeBy(this.queue.nextWake());
      };
      RED.events.once("flows:started", start);
      node.on("close", () => RED.events.removeListener("flows:started", start));
    }
  }

  private track<T>(p: Promise<T>): Promise<T> {
    const tracked = p.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
    return p;
  }

  private storeError(err: unknown): void {
    this.node.error(this.t("errors.store", { error: errorText(err) }));
  }

  // --- status -------------------------------------------------------------------------------
  private paint(): void {
    if (this.closed) return;
    const { queue, node, t } = this;
    const c = queue.counts().state;
    if (queue.full) {
      node.status({ fill: "red", shape: "ring", text: `${t("status.full")} ${queue.size.toLocaleString("en-US")}` });
    } else if (queue.size === 0) {
      node.status({ fill: "grey", shape: "ring", text: t("status.empty") });
    } else {
      const parts = stateCounts(t, c);
      node.status({ fill: c.held + c.abandoned > 0 ? "yellow" : "blue", shape: "dot", text: countsText(parts) });
    }
  }

  private refresh(): void {
    if (!this.closed) this.status.refresh();
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.node.warn(message);
  }

  private sendGivenUp(entries: RetryEntry[], send: Send = (out) => this.node.send(out)): void {
    const generateId = () => this.RED.util.generateId();
    if (entries.length && !this.closed)
      send([null, entries.map((e) => givenUpOf(e, this.node.id, generateId) as NodeMessage), null]);
  }

  // --- the wake timer: due resubmissions and unanswered ones ---------------------------------
  private wakeBy(at: number | undefined): void {
    if (at === undefined || this.closed) return;
    if (this.wakeTimer && this.wakeTime <= at) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTime = at;
    this.wakeTimer = setTimeout(() => this.wake(), Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now())));
  }

  private wake(): void {
    this.wakeTimer = undefined;
    this.wakeTime = Infinity;
    if (this.closed) return;
    this.track(
      this.queue
        .expire()
        .then((late) => {
          this.sendGivenUp(late.filter((e) => e.state === "abandoned" || e.state === "held"));
          this.refresh();
          return this.drain();
        })
        .catch((err: unknown) => this.storeError(err)),
    ).finally(() => this.wakeBy(this.queue.nextWake()));
  }

  private drain(): Promise<void> {
    this.draining ??= this.track(
      this.drainChunks().finally(() => {
        this.draining = undefined;
      }),
    );
    return this.draining;
  }

  private async drainChunks(): Promise<void> {
    const { queue, node, RED, t } = this;
    while (!this.closed) {
      const due = await queue.takeDue(CHUNK);
      if (due.length === 0) break;
      if (this.closed) {
        await queue.release(due);
        break;
      }
      const generateId = () => RED.util.generateId();
      const out: Msg[] = [];
      const gone: RetryEntry[] = [];
      for (const e of due) {
        if (!this.throughNode) {
          out.push(resubmissionOf(e, node.id, generateId));
          continue;
        }
        const target = RED.nodes.getNode(e.integration.id);
        if (!target || target.id === node.id) {
          const i = e.integration;
          await queue.hold(e, t("reasons.nodeGone", { type: i.type, name: i.name, id: i.id }));
          gone.push(e);
          continue;
        }
        target.receive(resubmissionOf(e, node.id, generateId) as NodeMessageInFlow);
      }
      if (out.length) node.send([out as NodeMessage[], null, null]);
      this.sendGivenUp(gone);
      this.refresh();
      if (due.length < CHUNK) break;
      await new Promise((r) => setImmediate(r));
    }
  }

  private kick(): void {
    this.track(this.drain().catch((err: unknown) => this.storeError(err))).finally(() =>
      this.wakeBy(this.queue.nextWake()),
    );
  }

  // --- outcomes, commands, failures ---------------------------------------------------------
  private async onOutcome(tag: { id: string; seq: number }, ok: boolean, error: ErrorInfo | undefined): Promise<void> {
    const r = await this.queue.outcome(tag, ok, error);
    if (r.kind === "stale") return;
    this.refresh();
    if (r.kind === "held" || r.kind === "abandoned") this.sendGivenUp([r.entry]);
    else if (r.kind === "waiting") this.wakeBy(this.queue.wakeAt(r.entry));
  }

  private async command(topic: string, msg: Msg, send: Send): Promise<void> {
    const { queue, t } = this;
    const answer = (payload: unknown): void => {
      send([null, null, { topic, payload, _msgid: msg._msgid } as NodeMessage]);
    };
    if (topic === "stats") {
      answer(queue.stats());
      return;
    }
    if (topic === "flush") {
      const n = await queue.flush();
      this.kick();
      answer({ flushed: n });
      return;
    }
    const f = commandFilter(topic, msg.payload);
    if (!f.ok)
      throw new Error(
        f.reason === "filter" ? t("errors.filter", { reason: f.detail ?? "" }) : t("errors.discardFilter"),
      );
    if (topic === "discard") {
      const n = await queue.discard(f.filter);
      this.refresh();
      answer({ discarded: n });
      return;
    }
    const n = await queue.resubmit(f.filter);
    this.refresh();
    this.kick();
    answer({ resubmitted: n });
  }

  private input(msg: Msg, send: Send, done: Done): void {
    const { node, t } = this;
    const arrival = triage(msg, node.id, isQueueRegistered);
    switch (arrival.kind) {
      case "command":
        this.track(this.command(arrival.topic, msg, send)).then(
          () => done(),
          (err: unknown) => done(toError(err)),
        );
        return;
      case "ownWithoutError":
        // Output 1 wired back to this queue, or an answer from output 1 of the node: the
        // registry tells the outcome; the answer timeout ends a loop.
        this.warnOnce("noError", t("log.ownWithoutError"));
        done();
        return;
      case "outcome":
        this.track(this.onOutcome(arrival.tag, false, arrival.error)).then(
          () => done(),
          (err: unknown) => done(new Error(t("errors.store", { error: errorText(err) }))),
        );
        return;
      case "foreign":
        this.warnOnce(`foreign:${arrival.queue}`, t("log.foreign", { queue: arrival.queue }));
        done();
        return;
      case "failure":
        this.receive(arrival.failure, msg, send, done);
    }
  }

  private receive(failure: Parameters<RetryQueue["receive"]>[0], msg: Msg, send: Send, done: Done): void {
    const { queue, node, t } = this;
    this.track(queue.receive(failure)).then(
      (r) => {
        this.refresh();
        if (r.kind === "overflow") {
          const max = queue.options.maxEntries;
          const m = overflowOf(failure, msg._msgid, node.id, t("reasons.full", { max }));
          send([null, m as NodeMessage, null]);
          if (!this.fullEpisode) {
            this.fullEpisode = true;
            node.warn(t("log.full", { max }));
          }
          if (!cameFromQueue(msg, node.id)) node.error(t("errors.full", { max, category: failure.category }), m);
          done();
          return;
        }
        if (this.fullEpisode && !queue.full) this.fullEpisode = false;
        if (r.kind === "held" || r.kind === "abandoned") this.sendGivenUp([r.entry], send);
        else this.wakeBy(queue.wakeAt(r.entry));
        done();
      },
      (err: unknown) => {
        this.refresh();
        done(new Error(t("errors.store", { error: errorText(err) })));
      },
    );
  }

  /** The journal stays even when the node is removed: a disabled flow comes back with it. */
  close(done: () => void): void {
    this.closed = true;
    unregisterQueue(this.node.id, this.sink);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.status.close();
    this.wakeTimer = undefined;
    Promise.allSettled([...this.pending])
      .then(() => this.journal?.flush())
      .then(() => this.journal?.close())
      .catch((err: unknown) => this.node.error(this.t("errors.journal", { error: errorText(err) })))
      .finally(() => done());
  }
}
