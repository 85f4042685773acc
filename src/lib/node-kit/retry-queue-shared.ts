/**
 * A retry-queue whose entries live in Redis (BullMQ), shared by every replica running this flow.
 * Its entries, states and decisions are src/lib/delivery/retry-queue-redis.ts; this side takes
 * messages in, answers commands and keeps the canvas status.
 */
import fs from "node:fs";
import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow } from "node-red";
import { countsText } from "./counts";
import { STATUS_INTERVAL_MS } from "./node-status";
import { scrub, urlSecrets } from "../marketo/errors";
import { Journal } from "../delivery/journal";
import { journalFile } from "../delivery/journal-path";
import { TOTALS_ID, type Failure } from "../delivery/retry-queue";
import type { RedisRetryQueue } from "../delivery/retry-queue-redis";
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
import type { Done, Send, Translate } from "./retry-queue-local";
import { errorText, toError } from "./guards";

type Msg = Record<string, unknown>;

/** How often a shared queue's status reads the counts again (other replicas change them too). */
const SHARED_STATUS_MS = 5000;

export class SharedRetryQueue {
  readonly deployed: DeployedQueue;
  private readonly shared: RedisRetryQueue;
  private readonly ready: Promise<void>;
  private readonly sink: RetryOutcomeSink;
  private readonly secrets: string[];
  private closed = false;
  private statusTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly warned = new Set<string>();

  constructor(
    private readonly RED: NodeAPI,
    private readonly node: Node,
    name: string,
    z: string | undefined,
    url: string,
    private readonly options: QueueSettings,
    throughNode: boolean,
    private readonly t: Translate,
  ) {
    // The Redis URL may carry a password: no error text shows it.
    this.secrets = urlSecrets(url);
    // Loaded only in Redis mode, so a single-process install never loads the queue engine.
    const { RedisRetryQueue: Shared } =
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require("../delivery/retry-queue-redis") as typeof import("../delivery/retry-queue-redis");
    const generateId = () => RED.util.generateId();
    this.shared = new Shared(
      { ...options, url, name: node.id },
      {
        send(e) {
          if (!throughNode) {
            node.send([resubmissionOf(e, node.id, generateId) as NodeMessage, null, null]);
            return undefined;
          }
          const target = RED.nodes.getNode(e.integration.id);
          if (!target || target.id === node.id)
            return t("reasons.nodeGone", { type: e.integration.type, name: e.integration.name, id: e.integration.id });
          target.receive(resubmissionOf(e, node.id, generateId) as NodeMessageInFlow);
          return undefined;
        },
        givenUp: (e) => {
          if (!this.closed) node.send([null, givenUpOf(e, node.id, generateId) as NodeMessage, null]);
        },
        changed: () => this.refresh(),
        warn: (m) => node.warn(m),
      },
    );
    node.status({ fill: "grey", shape: "ring", text: t("status.connecting") });
    this.ready = this.shared.start().then(
      async (problems) => {
        for (const p of problems) node.warn(t("log.redisPersistence", { problem: p }));
        await this.adoptJournal();
        this.paint();
      },
      (err: unknown) => node.error(this.redisError(err)),
    );
    this.poll();
    const shared = this.shared;
    this.sink = joinQueue(
      node,
      name,
      {
        outcome: (tag, ok, error) => {
          if (!this.closed) shared.outcome(tag, ok, error);
        },
        numbers: () => ({ size: shared.lastSize, counts: shared.lastCounts, totals: shared.lastTotals }),
      },
      (msg, send, done) => this.input(msg, send, done),
    );
    this.deployed = { id: node.id, name, z, shared, file: undefined, kick: () => undefined };
  }

  private redisError(err: unknown): string {
    return this.t("errors.redis", { error: scrub(errorText(err), this.secrets) });
  }

  private paint(): void {
    if (this.closed) return;
    const { node, t } = this;
    const c = this.shared.lastCounts.state;
    const size = this.shared.lastSize;
    if (size >= this.options.maxEntries)
      node.status({ fill: "red", shape: "ring", text: `${t("status.full")} ${size.toLocaleString("en-US")}` });
    else if (size === 0) node.status({ fill: "grey", shape: "ring", text: `${t("status.empty")} (Redis)` });
    else {
      const parts = stateCounts(t, c);
      node.status({
        fill: c.held + c.abandoned > 0 ? "yellow" : "blue",
        shape: "dot",
        text: `${countsText(parts)} (Redis)`,
      });
    }
  }

  private refresh(): void {
    if (this.statusTimer || this.closed) return;
    this.statusTimer = setTimeout(() => {
      this.shared.refresh().then(
        () => {
          this.statusTimer = undefined;
          this.paint();
        },
        () => {
          this.statusTimer = undefined;
          if (!this.closed) this.node.status({ fill: "red", shape: "ring", text: this.t("status.redisDown") });
        },
      );
    }, STATUS_INTERVAL_MS);
  }

  private poll(): void {
    this.pollTimer = setTimeout(() => {
      this.refresh();
      if (!this.closed) this.poll();
    }, SHARED_STATUS_MS);
  }

  /** Entries journaled before Redis was set move into the shared queue, then leave the journal. */
  private async adoptJournal(): Promise<void> {
    const { node } = this;
    const file = journalFile(this.RED.settings as { userDir?: unknown }, "retry-queue", node.id);
    if (!file || !fs.existsSync(file)) return;
    const journal = Journal.openOwn<unknown>(file, { logger: { warn: (m: string) => node.warn(m) } });
    try {
      const values = journal.recovered().filter((v) => v.id !== TOTALS_ID);
      if (!values.length) return;
      const added = await this.shared.adopt(values);
      await Promise.all(values.map((v) => journal.delete(v.id)));
      node.log(this.t("log.adopted", { count: added, file }));
    } finally {
      await journal.close();
    }
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.node.warn(message);
  }

  private async command(topic: string, msg: Msg, send: Send): Promise<void> {
    const { shared, t } = this;
    const answer = (payload: unknown): void => {
      send([null, null, { topic, payload, _msgid: msg._msgid } as NodeMessage]);
    };
    if (topic === "stats") {
      const r = await shared.refresh();
      answer({ size: r.size, maxEntries: this.options.maxEntries, counts: r.counts, totals: r.totals, shared: true });
      return;
    }
    if (topic === "flush") {
      answer({ flushed: await shared.flush() });
      return;
    }
    const f = commandFilter(topic, msg.payload);
    if (!f.ok)
      throw new Error(
        f.reason === "filter" ? t("errors.filter", { reason: f.detail ?? "" }) : t("errors.discardFilter"),
      );
    if (topic === "discard") answer({ discarded: await shared.discard(f.filter) });
    else answer({ resubmitted: await shared.resubmit(f.filter) });
  }

  private input(msg: Msg, send: Send, done: Done): void {
    const { node, t } = this;
    const arrival = triage(msg, node.id, isQueueRegistered);
    const fail = (err: unknown): void => done(toError(err));
    switch (arrival.kind) {
      case "command":
        this.ready.then(() => this.command(arrival.topic, msg, send)).then(() => done(), fail);
        return;
      case "outcome":
        this.shared.outcome(arrival.tag, false, arrival.error);
        done();
        return;
      case "ownWithoutError":
        this.warnOnce("noError", t("log.ownWithoutError"));
        done();
        return;
      case "foreign":
        this.warnOnce(`foreign:${arrival.queue}`, t("log.foreign", { queue: arrival.queue }));
        done();
        return;
      case "failure":
        this.receive(arrival.failure, msg, send, done);
    }
  }

  private receive(failure: Failure, msg: Msg, send: Send, done: Done): void {
    const { node, t } = this;
    const max = this.options.maxEntries;
    this.ready
      .then(() => this.shared.receive(failure))
      .then((r) => {
        if (r.kind === "overflow") {
          const m = overflowOf(failure, msg._msgid, node.id, t("reasons.full", { max }));
          send([null, m as NodeMessage, null]);
          this.warnOnce("full", t("log.full", { max }));
          if (!cameFromQueue(msg, node.id)) node.error(t("errors.full", { max, category: failure.category }), m);
        } else if (r.kind === "held" || r.kind === "abandoned")
          send([null, givenUpOf(r.entry, node.id, () => this.RED.util.generateId()) as NodeMessage, null]);
        done();
      })
      .catch((err: unknown) => done(new Error(this.redisError(err))));
  }

  /** The entries stay in Redis even when the node is removed: the other replicas still hold them. */
  close(done: () => void): void {
    this.closed = true;
    unregisterQueue(this.node.id, this.sink);
    if (this.statusTimer) clearTimeout(this.statusTimer);
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.shared
      .close()
      .catch((err: unknown) => this.node.error(this.redisError(err)))
      .finally(() => done());
  }
}
