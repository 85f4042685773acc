/**
 * retry-queue: holds the messages the action nodes could not deliver, resubmits the retryable
 * ones with backoff (the quota ones after Marketo's day turns over), holds the permanent ones
 * for a person, and keeps all of it in a journal under the user directory.
 *
 * Glue only: entries, states and filters are src/lib/delivery/retry-queue.ts; the journal is
 * src/lib/delivery/journal.ts; outcomes of resubmissions arrive through src/lib/delivery/retry-registry.ts.
 */
import fs from "node:fs";
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from "node-red";
import { countsText } from "./lib/node-kit/counts";
import { scrub } from "./lib/marketo/errors";
import { Journal } from "./lib/delivery/journal";
import { journalFile } from "./lib/delivery/journal-path";
import {
  DEFAULTS,
  MemoryStore,
  RetryQueue,
  TOTALS_ID,
  errorFields,
  failureOf,
  parseBackoff,
  parseDuration,
  parseFilter,
  summary,
  type ErrorInfo,
  type Filter,
  type QueueStore,
  type RetryEntry,
} from "./lib/delivery/retry-queue";
import type { RedisRetryQueue } from "./lib/delivery/retry-queue-redis";
import {
  isQueueRegistered,
  registerQueue,
  retryTagOf,
  unregisterQueue,
  type RetryOutcomeSink,
  type RetryTag,
} from "./lib/delivery/retry-registry";

interface RetryQueueDef extends NodeDef {
  /** A marketo-config whose Redis URL (a credential) selects Redis mode from the editor. */
  marketo?: string;
  maxAttempts?: number | string;
  backoff?: string;
  maxEntries?: number | string;
  answerTimeout?: string;
  resubmitThrough?: string;
}

type Msg = Record<string, unknown>;
type Send = (msg: Array<NodeMessage | NodeMessage[] | null>) => void;
type Done = (err?: Error) => void;

/** Resubmissions sent per turn of the event loop: 10,000 due at once must not block it. */
const CHUNK = 500;
const STATUS_INTERVAL_MS = 250;
/** setTimeout's limit; a longer wait is taken in steps. */
const MAX_TIMER_MS = 2_147_483_647;
const COMMANDS = new Set(["resubmit", "flush", "discard", "stats"]);
const LIST_LIMIT = 100;
const LIST_MAX = 1000;
/** Replicas with identical flows name their Redis here; the same setting marketo-config reads. */
const REDIS_URL_ENV = "MARKETO_REDIS_URL";
/** How often a shared queue's status reads the counts again (other replicas change them too). */
const SHARED_STATUS_MS = 5000;

interface Deployed {
  node: Node;
  name: string;
  z: string | undefined;
  /** The in-process queue, or undefined when the entries live in Redis (`shared`). */
  queue?: RetryQueue;
  shared?: RedisRetryQueue;
  file: string | undefined;
  /** Resubmit now what a route just made due. */
  kick(): void;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const text = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function wholeNumber(v: unknown, fallback: number, min: number): { value: number; problem?: string } {
  if (v === undefined || v === null || v === "") return { value: fallback };
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    return { value: fallback, problem: `${JSON.stringify(v)} is not a whole number of at least ${min}` };
  return { value: n };
}

export = function (RED: NodeAPI) {
  const deployed = new Map<string, Deployed>();

  function RetryQueueNode(this: Node, def: RetryQueueDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const t = (key: string, sub?: Record<string, string | number>): string => RED._(`retry-queue.${key}`, sub);

    // --- settings: a bad one falls back to its default, said once; messages are held anyway ---
    const problems: string[] = [];
    const maxAttempts = wholeNumber(def.maxAttempts, DEFAULTS.maxAttempts, 0);
    if (maxAttempts.problem) problems.push(`max attempts: ${maxAttempts.problem}`);
    const maxEntries = wholeNumber(def.maxEntries, DEFAULTS.maxEntries, 1);
    if (maxEntries.problem) problems.push(`max entries: ${maxEntries.problem}`);
    let backoff = parseBackoff(def.backoff ?? DEFAULTS.backoff);
    if (!backoff.ok) {
      problems.push(backoff.reason);
      backoff = parseBackoff(DEFAULTS.backoff);
    }
    let timeout = parseDuration(def.answerTimeout || DEFAULTS.answerTimeout);
    if (!timeout.ok) {
      problems.push(`answer timeout: ${timeout.reason}`);
      timeout = parseDuration(DEFAULTS.answerTimeout);
    }
    const throughNode = def.resubmitThrough === "node";
    for (const p of problems) node.error(t("errors.setting", { problem: p }));

    // --- messages out -------------------------------------------------------------------------
    const resubmission = (e: RetryEntry): Msg => {
      const m = structuredClone(e.msg);
      const tag: RetryTag = { queue: node.id, id: e.id, attempt: e.attempts, seq: e.seq };
      m.marketo = { ...(isObject(m.marketo) ? m.marketo : {}), retry: tag };
      if (typeof m._msgid !== "string") m._msgid = RED.util.generateId();
      return m;
    };
    /** Output 2: an entry the queue gave up on by itself (it stays listed), or one it cannot hold. */
    const givenUp = (e: RetryEntry): Msg => {
      const m = structuredClone(e.msg);
      m.marketo = {
        ...(isObject(m.marketo) ? m.marketo : {}),
        error: {
          code: e.code,
          message: e.message,
          category: e.category,
          retryable: e.retryable,
          action: e.action,
          source: { ...e.integration },
        },
        retry: {
          queue: node.id,
          id: e.id,
          attempt: e.attempts,
          seq: e.seq,
          state: e.state,
          reason: e.reason,
          ...summaryTimes(e),
        },
      };
      if (typeof m._msgid !== "string") m._msgid = RED.util.generateId();
      return m;
    };
    const summaryTimes = (e: RetryEntry): Record<string, string> => {
      const s = summary(e);
      return { firstFailedAt: s.firstFailedAt, lastFailedAt: s.lastFailedAt };
    };
    // --- Redis: the entries live in a queue every replica shares ------------------------------
    const envRedis = RED.util.getSetting(node, REDIS_URL_ENV);
    const configRedis = (
      def.marketo ? (RED.nodes.getNode(def.marketo) as { credentials?: { redisUrl?: unknown } } | null) : null
    )?.credentials?.redisUrl;
    const redisUrl =
      typeof configRedis === "string" && configRedis.trim()
        ? configRedis.trim()
        : typeof envRedis === "string" && envRedis.trim()
          ? envRedis.trim()
          : undefined;
    if (redisUrl) {
      runShared(
        node,
        def,
        redisUrl,
        {
          maxAttempts: maxAttempts.value,
          maxEntries: maxEntries.value,
          backoffMs: backoff.ok ? backoff.ms : [30_000],
          answerTimeoutMs: timeout.ok ? timeout.ms : 600_000,
        },
        throughNode,
        { resubmission, givenUp },
        t,
      );
      return;
    }

    // --- the journal --------------------------------------------------------------------------
    const file = journalFile(RED.settings as { userDir?: unknown }, "retry-queue", node.id);
    let journal: Journal<unknown> | undefined;
    let store: QueueStore;
    let recovered: Array<{ id: string; value: unknown }> = [];
    if (file) {
      try {
        journal = Journal.openOwn<unknown>(file, { logger: { warn: (m: string) => node.warn(m) } });
        recovered = journal.recovered();
        store = journal;
      } catch (err) {
        node.error(t("errors.journal", { error: text(err) }));
        store = new MemoryStore();
      }
    } else {
      node.log(t("log.memoryOnly"));
      store = new MemoryStore();
    }

    const queue = new RetryQueue(
      {
        maxAttempts: maxAttempts.value,
        maxEntries: maxEntries.value,
        backoffMs: backoff.ok ? backoff.ms : [30_000],
        answerTimeoutMs: timeout.ok ? timeout.ms : 600_000,
      },
      store,
      recovered,
    );
    if (queue.damaged.length) node.warn(t("log.damaged", { count: queue.damaged.length, file: file ?? "" }));
    if (queue.size) node.log(t("log.recovered", { count: queue.size, file: file ?? "" }));

    let closed = false;
    /** Work under way (input, outcome, drain): close waits for it before closing the journal. */
    const pending = new Set<Promise<unknown>>();
    const track = <T>(p: Promise<T>): Promise<T> => {
      const tracked = p.finally(() => pending.delete(tracked));
      pending.add(tracked);
      return p;
    };

    // --- status -------------------------------------------------------------------------------
    let statusTimer: NodeJS.Timeout | undefined;
    let lastPaint = 0;
    const paint = (): void => {
      statusTimer = undefined;
      if (closed) return;
      lastPaint = Date.now();
      const c = queue.counts().state;
      if (queue.full) {
        node.status({ fill: "red", shape: "ring", text: `${t("status.full")} ${queue.size.toLocaleString("en-US")}` });
      } else if (queue.size === 0) {
        node.status({ fill: "grey", shape: "ring", text: t("status.empty") });
      } else {
        const parts: Array<[string, number]> = [
          [t("status.waiting"), c.waiting],
          [t("status.retrying"), c.retrying],
          [t("status.held"), c.held],
          [t("status.abandoned"), c.abandoned],
        ];
        node.status({ fill: c.held + c.abandoned > 0 ? "yellow" : "blue", shape: "dot", text: countsText(parts) });
      }
    };
    const refresh = (): void => {
      if (statusTimer || closed) return;
      const wait = STATUS_INTERVAL_MS - (Date.now() - lastPaint);
      if (wait <= 0) paint();
      else statusTimer = setTimeout(paint, wait);
    };

    // --- warnings said once per episode -------------------------------------------------------
    let fullEpisode = false;
    const warned = new Set<string>();
    const warnOnce = (key: string, message: string): void => {
      if (warned.has(key)) return;
      warned.add(key);
      node.warn(message);
    };

    const sendGivenUp = (entries: RetryEntry[], send: Send = (out) => node.send(out)): void => {
      if (entries.length && !closed) send([null, entries.map(givenUp), null]);
    };

    // --- the wake timer: due resubmissions and unanswered ones ---------------------------------
    let wakeTimer: NodeJS.Timeout | undefined;
    let wakeTime = Infinity;
    const wakeBy = (at: number | undefined): void => {
      if (at === undefined || closed) return;
      if (wakeTimer && wakeTime <= at) return;
      if (wakeTimer) clearTimeout(wakeTimer);
      wakeTime = at;
      wakeTimer = setTimeout(wake, Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now())));
    };
    const wake = (): void => {
      wakeTimer = undefined;
      wakeTime = Infinity;
      if (closed) return;
      track(
        queue
          .expire()
          .then((late) => {
            sendGivenUp(late.filter((e) => e.state === "abandoned" || e.state === "held"));
            refresh();
            return drain();
          })
          .catch((err: unknown) => node.error(t("errors.store", { error: text(err) }))),
      ).finally(() => wakeBy(queue.nextWake()));
    };

    let draining: Promise<void> | undefined;
    const drain = (): Promise<void> => {
      draining ??= track(
        (async () => {
          while (!closed) {
            const due = await queue.takeDue(CHUNK);
            if (due.length === 0) break;
            if (closed) {
              await queue.release(due);
              break;
            }
            const out: Msg[] = [];
            const gone: RetryEntry[] = [];
            for (const e of due) {
              if (!throughNode) {
                out.push(resubmission(e));
                continue;
              }
              const target = RED.nodes.getNode(e.integration.id);
              if (!target || target.id === node.id) {
                await queue.hold(
                  e,
                  t("reasons.nodeGone", { type: e.integration.type, name: e.integration.name, id: e.integration.id }),
                );
                gone.push(e);
                continue;
              }
              target.receive(resubmission(e) as NodeMessageInFlow);
            }
            if (out.length) node.send([out as NodeMessage[], null, null]);
            sendGivenUp(gone);
            refresh();
            if (due.length < CHUNK) break;
            await new Promise((r) => setImmediate(r));
          }
        })().finally(() => {
          draining = undefined;
        }),
      );
      return draining;
    };
    const kick = (): void => {
      track(drain().catch((err: unknown) => node.error(t("errors.store", { error: text(err) })))).finally(() =>
        wakeBy(queue.nextWake()),
      );
    };

    // --- outcomes of resubmissions --------------------------------------------------------------
    const onOutcome = async (
      tag: { id: string; seq: number },
      ok: boolean,
      error: ErrorInfo | undefined,
    ): Promise<void> => {
      const r = await queue.outcome(tag, ok, error);
      if (r.kind === "stale") return;
      refresh();
      if (r.kind === "held" || r.kind === "abandoned") sendGivenUp([r.entry]);
      else if (r.kind === "waiting") wakeBy(queue.wakeAt(r.entry));
    };
    const sink: RetryOutcomeSink = {
      outcome(tag, ok, error) {
        if (closed) return;
        track(onOutcome(tag, ok, error)).catch((err: unknown) => node.error(t("errors.store", { error: text(err) })));
      },
      figures: () => {
        const counts = queue.counts();
        return {
          id: node.id,
          name: def.name ?? "",
          size: queue.size,
          counts: { state: { ...counts.state }, category: { ...counts.category } },
          totals: { ...queue.totals },
        };
      },
    };
    registerQueue(node.id, sink);

    // --- commands -------------------------------------------------------------------------------
    const command = async (msg: Msg, send: Send): Promise<void> => {
      const topic = msg.topic as string;
      const answer = (payload: unknown): void => {
        send([null, null, { topic, payload, _msgid: msg._msgid } as NodeMessage]);
      };
      if (topic === "stats") {
        answer(queue.stats());
        return;
      }
      if (topic === "flush") {
        const n = await queue.flush();
        kick();
        answer({ flushed: n });
        return;
      }
      // An inject node's timestamp is no filter: resubmit takes it as "all".
      const given = isObject(msg.payload) ? msg.payload : undefined;
      if (topic === "discard" && !given) throw new Error(t("errors.discardFilter"));
      const f = parseFilter(given);
      if (!f.ok) throw new Error(t("errors.filter", { reason: f.reason }));
      if (topic === "discard") {
        const n = await queue.discard(f.filter);
        refresh();
        answer({ discarded: n });
        return;
      }
      const n = await queue.resubmit(f.filter);
      refresh();
      kick();
      answer({ resubmitted: n });
    };

    // --- input ----------------------------------------------------------------------------------
    node.on("input", (msgIn: NodeMessageInFlow, send: Send, done: Done) => {
      const msg = msgIn as unknown as Msg;
      const marketo = isObject(msg.marketo) ? msg.marketo : undefined;
      const hasError = isObject(marketo?.error) || isObject(msg.error);
      const tag = retryTagOf(marketo?.retry);

      if (!hasError && !tag && typeof msg.topic === "string" && COMMANDS.has(msg.topic)) {
        track(command(msg, send)).then(
          () => done(),
          (err: unknown) => done(err instanceof Error ? err : new Error(text(err))),
        );
        return;
      }

      if (tag && tag.queue === node.id) {
        if (!hasError) {
          // Output 1 wired back to this queue, or an answer from output 1 of the node: the
          // registry tells the outcome; the answer timeout ends a loop.
          warnOnce("noError", t("log.ownWithoutError"));
          done();
          return;
        }
        const error: ErrorInfo | undefined = isObject(marketo?.error)
          ? (marketo!.error as ErrorInfo)
          : errorFields(failureOf(msg) as ErrorInfo);
        track(onOutcome(tag, false, error)).then(
          () => done(),
          (err: unknown) => done(new Error(t("errors.store", { error: text(err) }))),
        );
        return;
      }
      if (tag && isQueueRegistered(tag.queue)) {
        // Another queue resubmitted it and hears its outcome: holding it here too would double it.
        warnOnce(`foreign:${tag.queue}`, t("log.foreign", { queue: tag.queue }));
        done();
        return;
      }

      const failure = failureOf(msg);
      track(queue.receive(failure)).then(
        (r) => {
          refresh();
          if (r.kind === "overflow") {
            const m = { ...failure.msg, _msgid: msg._msgid } as Msg;
            m.marketo = {
              ...(isObject(m.marketo) ? m.marketo : {}),
              error: {
                code: failure.code,
                message: failure.message,
                category: failure.category,
                retryable: failure.retryable,
                action: failure.action,
                source: failure.integration,
              },
              retry: {
                queue: node.id,
                state: "overflow",
                reason: t("reasons.full", { max: queue.options.maxEntries }),
              },
            };
            send([null, m as NodeMessage, null]);
            if (!fullEpisode) {
              fullEpisode = true;
              node.warn(t("log.full", { max: queue.options.maxEntries }));
            }
            // Catch nodes hear of it, unless this queue's own overflow came back through one.
            const fromSelf = isObject(msg.error) && isObject(msg.error.source) && msg.error.source.id === node.id;
            if (!fromSelf)
              node.error(t("errors.full", { max: queue.options.maxEntries, category: failure.category }), m);
            done();
            return;
          }
          if (fullEpisode && !queue.full) fullEpisode = false;
          if (r.kind === "held" || r.kind === "abandoned") sendGivenUp([r.entry], send);
          else wakeBy(queue.wakeAt(r.entry));
          done();
        },
        (err: unknown) => {
          refresh();
          done(new Error(t("errors.store", { error: text(err) })));
        },
      );
    });

    const self: Deployed = { node, name: def.name ?? "", z: (def as { z?: string }).z, queue, file, kick };
    deployed.set(node.id, self);

    node.on("close", (_removed: boolean, done: () => void) => {
      // The journal stays even when the node is removed: a disabled flow comes back with it.
      closed = true;
      unregisterQueue(node.id, sink);
      if (deployed.get(node.id) === self) deployed.delete(node.id);
      if (wakeTimer) clearTimeout(wakeTimer);
      if (statusTimer) clearTimeout(statusTimer);
      wakeTimer = statusTimer = undefined;
      Promise.allSettled([...pending])
        .then(() => journal?.flush())
        .then(() => journal?.close())
        .catch((err: unknown) => node.error(t("errors.journal", { error: text(err) })))
        .finally(() => done());
    });

    paint();
    // Recovered entries: due ones go once flows have started, so they reach running nodes.
    if (queue.size) {
      const start = (): void => {
        if (!closed) wakeBy(queue.nextWake());
      };
      RED.events.once("flows:started", start);
      node.on("close", () => RED.events.removeListener("flows:started", start));
    }
  }

  /**
   * A retry-queue whose entries live in Redis (BullMQ), shared by every replica running this
   * flow. Its entries, states and decisions are src/lib/delivery/retry-queue-redis.ts.
   */
  function runShared(
    node: Node,
    def: RetryQueueDef,
    url: string,
    options: { maxAttempts: number; maxEntries: number; backoffMs: number[]; answerTimeoutMs: number },
    throughNode: boolean,
    out: { resubmission(e: RetryEntry): Msg; givenUp(e: RetryEntry): Msg },
    t: (key: string, sub?: Record<string, string | number>) => string,
  ): void {
    // The Redis URL may carry a password: no error text shows it.
    const secrets = [url, ...(/\/\/(?:([^:@/]*):)?([^@/]*)@/.exec(url)?.slice(1) ?? [])];
    const redisError = (err: unknown): string => t("errors.redis", { error: scrub(text(err), secrets) });
    // Loaded only in Redis mode, so a single-process install never loads the queue engine.
    const { RedisRetryQueue: Shared } =
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require("./lib/delivery/retry-queue-redis") as typeof import("./lib/delivery/retry-queue-redis");
    let closed = false;
    let statusTimer: NodeJS.Timeout | undefined;
    let pollTimer: NodeJS.Timeout | undefined;
    const paint = (): void => {
      if (closed) return;
      const c = shared.lastCounts.state;
      const size = shared.lastSize;
      if (size >= options.maxEntries)
        node.status({ fill: "red", shape: "ring", text: `${t("status.full")} ${size.toLocaleString("en-US")}` });
      else if (size === 0) node.status({ fill: "grey", shape: "ring", text: `${t("status.empty")} (Redis)` });
      else {
        const parts: Array<[string, number]> = [
          [t("status.waiting"), c.waiting],
          [t("status.retrying"), c.retrying],
          [t("status.held"), c.held],
          [t("status.abandoned"), c.abandoned],
        ];
        node.status({
          fill: c.held + c.abandoned > 0 ? "yellow" : "blue",
          shape: "dot",
          text: `${countsText(parts)} (Redis)`,
        });
      }
    };
    const refresh = (): void => {
      if (statusTimer || closed) return;
      statusTimer = setTimeout(() => {
        shared.refresh().then(
          () => {
            statusTimer = undefined;
            paint();
          },
          () => {
            statusTimer = undefined;
            if (!closed) node.status({ fill: "red", shape: "ring", text: t("status.redisDown") });
          },
        );
      }, STATUS_INTERVAL_MS);
    };
    const shared: RedisRetryQueue = new Shared(
      { ...options, url, name: node.id },
      {
        send(e) {
          if (!throughNode) {
            node.send([out.resubmission(e) as NodeMessage, null, null]);
            return undefined;
          }
          const target = RED.nodes.getNode(e.integration.id);
          if (!target || target.id === node.id)
            return t("reasons.nodeGone", { type: e.integration.type, name: e.integration.name, id: e.integration.id });
          target.receive(out.resubmission(e) as NodeMessageInFlow);
          return undefined;
        },
        givenUp(e) {
          if (!closed) node.send([null, out.givenUp(e) as NodeMessage, null]);
        },
        changed: refresh,
        warn: (m) => node.warn(m),
      },
    );
    /** Entries journaled before Redis was set move into the shared queue, then leave the journal. */
    const adoptJournal = async (): Promise<void> => {
      const file = journalFile(RED.settings as { userDir?: unknown }, "retry-queue", node.id);
      if (!file || !fs.existsSync(file)) return;
      const journal = Journal.openOwn<unknown>(file, { logger: { warn: (m: string) => node.warn(m) } });
      try {
        const values = journal.recovered().filter((v) => v.id !== TOTALS_ID);
        if (!values.length) return;
        const added = await shared.adopt(values);
        await Promise.all(values.map((v) => journal.delete(v.id)));
        node.log(t("log.adopted", { count: added, file }));
      } finally {
        await journal.close();
      }
    };
    node.status({ fill: "grey", shape: "ring", text: t("status.connecting") });
    const ready = shared.start().then(
      async (problems) => {
        for (const p of problems) node.warn(t("log.redisPersistence", { problem: p }));
        await adoptJournal();
        paint();
      },
      (err: unknown) => node.error(redisError(err)),
    );
    const poll = (): void => {
      pollTimer = setTimeout(() => {
        refresh();
        if (!closed) poll();
      }, SHARED_STATUS_MS);
    };
    poll();

    const sink: RetryOutcomeSink = {
      outcome(tag, ok, error) {
        if (!closed) shared.outcome(tag, ok, error);
      },
      figures: () => ({
        id: node.id,
        name: def.name ?? "",
        size: shared.lastSize,
        counts: { state: { ...shared.lastCounts.state }, category: { ...shared.lastCounts.category } },
        totals: { ...shared.lastTotals },
      }),
    };
    registerQueue(node.id, sink);

    const warned = new Set<string>();
    const warnOnce = (key: string, message: string): void => {
      if (warned.has(key)) return;
      warned.add(key);
      node.warn(message);
    };

    const command = async (msg: Msg, send: Send): Promise<void> => {
      const topic = msg.topic as string;
      const answer = (payload: unknown): void => {
        send([null, null, { topic, payload, _msgid: msg._msgid } as NodeMessage]);
      };
      if (topic === "stats") {
        const r = await shared.refresh();
        answer({ size: r.size, maxEntries: options.maxEntries, counts: r.counts, totals: r.totals, shared: true });
        return;
      }
      if (topic === "flush") {
        answer({ flushed: await shared.flush() });
        return;
      }
      const given = isObject(msg.payload) ? msg.payload : undefined;
      if (topic === "discard" && !given) throw new Error(t("errors.discardFilter"));
      const f = parseFilter(given);
      if (!f.ok) throw new Error(t("errors.filter", { reason: f.reason }));
      if (topic === "discard") answer({ discarded: await shared.discard(f.filter) });
      else answer({ resubmitted: await shared.resubmit(f.filter) });
    };

    node.on("input", (msgIn: NodeMessageInFlow, send: Send, done: Done) => {
      const msg = msgIn as unknown as Msg;
      const marketo = isObject(msg.marketo) ? msg.marketo : undefined;
      const hasError = isObject(marketo?.error) || isObject(msg.error);
      const tag = retryTagOf(marketo?.retry);
      const fail = (err: unknown): void => done(err instanceof Error ? err : new Error(text(err)));
      if (!hasError && !tag && typeof msg.topic === "string" && COMMANDS.has(msg.topic)) {
        ready.then(() => command(msg, send)).then(() => done(), fail);
        return;
      }
      if (tag && tag.queue === node.id) {
        if (hasError) {
          const error: ErrorInfo | undefined = isObject(marketo?.error)
            ? (marketo!.error as ErrorInfo)
            : errorFields(failureOf(msg) as ErrorInfo);
          shared.outcome(tag, false, error);
        } else warnOnce("noError", t("log.ownWithoutError"));
        done();
        return;
      }
      if (tag && isQueueRegistered(tag.queue)) {
        warnOnce(`foreign:${tag.queue}`, t("log.foreign", { queue: tag.queue }));
        done();
        return;
      }
      const failure = failureOf(msg);
      ready
        .then(() => shared.receive(failure))
        .then((r) => {
          if (r.kind === "overflow") {
            const m = { ...failure.msg, _msgid: msg._msgid } as Msg;
            m.marketo = {
              ...(isObject(m.marketo) ? m.marketo : {}),
              error: {
                code: failure.code,
                message: failure.message,
                category: failure.category,
                retryable: failure.retryable,
                action: failure.action,
                source: failure.integration,
              },
              retry: { queue: node.id, state: "overflow", reason: t("reasons.full", { max: options.maxEntries }) },
            };
            send([null, m as NodeMessage, null]);
            warnOnce("full", t("log.full", { max: options.maxEntries }));
            const fromSelf = isObject(msg.error) && isObject(msg.error.source) && msg.error.source.id === node.id;
            if (!fromSelf) node.error(t("errors.full", { max: options.maxEntries, category: failure.category }), m);
          } else if (r.kind === "held" || r.kind === "abandoned")
            send([null, out.givenUp(r.entry) as NodeMessage, null]);
          done();
        })
        .catch((err: unknown) => done(new Error(redisError(err))));
    });

    const self: Deployed = {
      node,
      name: def.name ?? "",
      z: (def as { z?: string }).z,
      shared,
      file: undefined,
      kick: () => undefined,
    };
    deployed.set(node.id, self);
    node.on("close", (_removed: boolean, done: () => void) => {
      // The entries stay in Redis even when the node is removed: the other replicas still hold them.
      closed = true;
      unregisterQueue(node.id, sink);
      if (deployed.get(node.id) === self) deployed.delete(node.id);
      if (statusTimer) clearTimeout(statusTimer);
      if (pollTimer) clearTimeout(pollTimer);
      shared
        .close()
        .catch((err: unknown) => node.error(redisError(err)))
        .finally(() => done());
    });
  }

  RED.nodes.registerType("retry-queue", RetryQueueNode);

  // --- admin routes (the sidebar of a later issue; tests use them now) -------------------------
  const read = RED.auth.needsPermission("retry-queue.read");
  const write = RED.auth.needsPermission("retry-queue.write");
  type Res = { status(n: number): Res; json(body: unknown): void; headersSent?: boolean };

  const bad = (res: Res, status: number, message: string): void => {
    res.status(status).json({ error: message, category: "validation" });
  };
  const find = (id: unknown, res: Res): Deployed | undefined => {
    const q = typeof id === "string" ? deployed.get(id) : undefined;
    if (!q) bad(res, 404, `no retry-queue ${String(id)} is deployed`);
    return q;
  };
  /** Query strings take comma-separated lists: ?state=held,abandoned */
  const listOf = (v: unknown): string[] | undefined => {
    if (v === undefined || v === "") return undefined;
    const all = (Array.isArray(v) ? v : [v]).flatMap((x) => String(x).split(","));
    const list = all.map((s) => s.trim()).filter(Boolean);
    return list.length ? list : undefined;
  };
  const count = (v: unknown, fallback: number, max: number, what: string): number | string => {
    if (v === undefined || v === "") return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > max) return `${what} must be a whole number from 0 to ${max}`;
    return n;
  };
  /** `{ids?, filter?}` of a POST body as one filter. */
  const selection = (
    body: unknown,
    required: boolean,
  ): { ok: true; filter: Filter } | { ok: false; reason: string } => {
    if (body !== undefined && body !== null && !isObject(body))
      return { ok: false, reason: "the body must be a JSON object {ids?: [...], filter?: {...}}" };
    const b = (body ?? {}) as Record<string, unknown>;
    for (const key of Object.keys(b))
      if (key !== "ids" && key !== "filter")
        return { ok: false, reason: `unknown field "${key}" (use ids and filter)` };
    if (b.ids !== undefined && !(Array.isArray(b.ids) && b.ids.every((x) => typeof x === "string")))
      return { ok: false, reason: "ids must be an array of entry ids (strings)" };
    if (required && b.ids === undefined && b.filter === undefined)
      return { ok: false, reason: "give ids or a filter ({} for every entry)" };
    const f = parseFilter(b.filter);
    if (!f.ok) return f;
    const filter = { ...f.filter };
    if (b.ids !== undefined)
      filter.ids = filter.ids ? filter.ids.filter((id) => (b.ids as string[]).includes(id)) : (b.ids as string[]);
    return { ok: true, filter };
  };

  const fail500 = (res: Res) => (err: unknown) => res.status(500).json({ error: text(err) });

  RED.httpAdmin.get("/retry-queue", read, (_req, res) => {
    Promise.all(
      [...deployed.values()].map(async (q) => {
        const shared = q.shared
          ? await q.shared.refresh().catch(() => ({ size: q.shared!.lastSize, counts: q.shared!.lastCounts }))
          : undefined;
        return {
          id: q.node.id,
          name: q.name,
          z: q.z,
          size: shared ? shared.size : q.queue!.size,
          maxEntries: (q.shared ?? q.queue!).options.maxEntries,
          durable: q.file !== undefined || q.shared !== undefined,
          shared: q.shared !== undefined,
          counts: shared ? shared.counts : q.queue!.counts(),
        };
      }),
    ).then((list) => res.json(list), fail500(res as unknown as Res));
  });

  RED.httpAdmin.get("/retry-queue/:id/entries", read, (req, res) => {
    const q = find(req.params.id, res as unknown as Res);
    if (!q) return;
    const query = req.query as Record<string, unknown>;
    const f = parseFilter({
      integration: listOf(query.integration),
      state: listOf(query.state),
      category: listOf(query.category),
    });
    if (!f.ok) return bad(res as unknown as Res, 400, f.reason);
    const limit = count(query.limit, LIST_LIMIT, LIST_MAX, "limit");
    if (typeof limit === "string") return bad(res as unknown as Res, 400, limit);
    const offset = count(query.offset, 0, Number.MAX_SAFE_INTEGER, "offset");
    if (typeof offset === "string") return bad(res as unknown as Res, 400, offset);
    if (q.shared) {
      const shared = q.shared;
      Promise.all([shared.list(f.filter, limit, offset), shared.refresh()]).then(
        ([list, all]) => {
          res.json({
            total: list.total,
            offset,
            maxAttempts: shared.options.maxAttempts,
            counts: all.counts,
            totals: all.totals,
            integrations: all.integrations,
            shared: true,
            entries: list.entries,
          });
        },
        fail500(res as unknown as Res),
      );
      return;
    }
    const queue = q.queue!;
    const list = queue.list(f.filter, limit, offset);
    res.json({
      total: list.total,
      offset,
      maxAttempts: queue.options.maxAttempts,
      counts: queue.counts(),
      totals: { ...queue.totals },
      integrations: queue.integrations(),
      entries: list.entries,
    });
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

  // Malformed bodies fail in the admin app's body parser before a route runs: answer in JSON.
  RED.httpAdmin.use("/retry-queue", (err: unknown, _req: unknown, res: Res, next: (e?: unknown) => void) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const e = err as { status?: number; statusCode?: number; type?: string; message?: string };
    const status = e.status ?? e.statusCode ?? 500;
    const message =
      e.type === "entity.parse.failed" ? `the body is not valid JSON: ${e.message}` : (e.message ?? "bad request");
    res.status(status >= 400 && status < 600 ? status : 500).json({ error: message, category: "validation" });
  });
};
