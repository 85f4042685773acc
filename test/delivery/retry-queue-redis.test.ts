/**
 * The retry queue shared through Redis (BullMQ), against a real redis-server on a free port:
 * two queues with one name stand for two replicas running the same flow.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  RedisRetryQueue,
  persistenceProblems,
  type RedisQueueHandlers,
} from "../../src/lib/delivery/retry-queue-redis";
import type { Failure, RetryEntry } from "../../src/lib/delivery/retry-queue";
import { requireRedis, startRedis, type RedisServer } from "../helpers/redis-server";
import { untilValue } from "../helpers/until";

const failure = (category: string, email: string, retryable = true): Failure => ({
  msg: { payload: { email }, topic: "registration" },
  integration: { id: "lead1", type: "marketo-lead", name: "Leads" },
  category,
  code: category === "validation" ? "1003" : "ECONNRESET",
  message: `${category} failure`,
  retryable,
  action: retryable ? "retry" : "permanent",
});

const until = <T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> =>
  untilValue(what, read, ok, ms, 50);

interface Replica {
  queue: RedisRetryQueue;
  sent: RetryEntry[];
  /** Answer each resubmission with this (undefined: never answer). */
  answer?: boolean;
}

function replica(url: string, name: string, opts: { lockMs?: number } = {}): Replica {
  const r: Replica = { sent: [] } as unknown as Replica;
  const handlers: RedisQueueHandlers = {
    send(e) {
      r.sent.push(structuredClone(e));
      if (r.answer !== undefined)
        setImmediate(() =>
          r.queue.outcome(
            { id: e.id, seq: e.seq },
            r.answer!,
            r.answer ? undefined : { category: "network", code: "ECONNRESET", message: "again", retryable: true },
          ),
        );
      return undefined;
    },
    givenUp: () => undefined,
    changed: () => undefined,
    warn: () => undefined,
  };
  r.queue = new RedisRetryQueue(
    {
      url,
      name,
      maxAttempts: 3,
      backoffMs: [600_000],
      maxEntries: 10_000,
      answerTimeoutMs: 60_000,
      lockMs: opts.lockMs ?? 2000,
    },
    handlers,
  );
  return r;
}

describe("retry queue shared through Redis", function () {
  this.timeout(90_000);
  let bin: string;
  let redis: RedisServer;
  let dir: string;
  const open: Replica[] = [];
  let n = 0;

  before(async function () {
    bin = requireRedis(this);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "retry-redis-"));
    redis = await startRedis(bin, ["--appendonly", "yes", "--appendfsync", "everysec", "--dir", dir]);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.queue.close().catch(() => undefined)));
  });
  after(async () => {
    await redis?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const start = async (name: string, opts?: { lockMs?: number }): Promise<Replica> => {
    const r = replica(redis.url, name, opts);
    open.push(r);
    await r.queue.start();
    return r;
  };

  it("replica B lists and resubmits an entry that failed on replica A; it is delivered once", async () => {
    const name = `q${n++}`;
    const a = await start(name);
    const b = await start(name);
    a.answer = true;
    b.answer = true;
    const r = await a.queue.receive(failure("validation", "ann@example.com", false));
    assert.equal(r.kind, "held");
    const listed = await until(
      "B to see the held entry",
      () => b.queue.list({}, 10, 0),
      (l) => l.total === 1 && l.entries[0].state === "held",
    );
    assert.equal(listed.entries[0].record.email, "ann@example.com");
    assert.equal(a.sent.length + b.sent.length, 0, "a held entry is not resubmitted by itself");

    assert.equal(await b.queue.resubmit({ state: ["held"] }), 1);
    await until(
      "the entry to be delivered",
      () => a.queue.list({}, 10, 0),
      (l) => l.total === 0,
    );
    assert.equal(a.sent.length + b.sent.length, 1, "resubmitted exactly once across the replicas");
    const totals = await b.queue.totals();
    assert.equal(totals.received, 1);
    assert.equal(totals.delivered, 1);
  });

  it("a held entry lists as held while a worker parks it, and a resubmit at once finds it", async () => {
    const name = `q${n++}`;
    const a = await start(name);
    const b = await start(name);
    a.answer = true;
    b.answer = true;
    const states = new Set<string>();
    for (let i = 0; i < 20; i++) {
      await a.queue.receive(failure("validation", `held${i}@example.com`, false));
      // Read as fast as Redis answers while the workers take the new job up and park it.
      for (let k = 0; k < 30; k++) for (const e of (await b.queue.list({}, 100, 0)).entries) states.add(e.state);
    }
    assert.deepEqual([...states], ["held"]);
    await a.queue.receive(failure("validation", "at-once@example.com", false));
    assert.equal(await b.queue.resubmit({ state: ["held"] }), 21);
    await until(
      "the entries to be delivered",
      () => a.queue.list({}, 100, 0),
      (l) => l.total === 0,
    );
    assert.equal(a.sent.length + b.sent.length, 21);
  });

  it("a replica that dies mid-resubmission: another takes the entry after its lock expires", async () => {
    const name = `q${n++}`;
    const a = await start(name, { lockMs: 1000 });
    // A sends and never answers, then stops without giving the job back (as a kill -9 would).
    await a.queue.receive(failure("network", "bob@example.com"));
    assert.equal(await a.queue.resubmit({}), 1);
    await until(
      "A to send it",
      async () => a.sent.length,
      (x) => x === 1,
    );
    (a.queue as unknown as { worker: { close(force: boolean): Promise<void> } }).worker
      .close(true)
      .catch(() => undefined);
    const b = await start(name, { lockMs: 1000 });
    b.answer = true;
    await until(
      "B to deliver it",
      () => b.queue.list({}, 10, 0),
      (l) => l.total === 0 && b.sent.length === 1,
    );
    assert.equal(b.sent[0].id, a.sent[0].id);
    assert.equal(b.sent[0].attempts, 2, "the dead replica's try counts");
  });

  it("a Redis restart while the queue holds 1,000 entries loses none (appendonly yes)", async () => {
    const name = `q${n++}`;
    const a = await start(name);
    assert.deepEqual(await persistenceProblems((a.queue as unknown as { client: import("ioredis").Redis }).client), []);
    for (let i = 0; i < 1000; i++) {
      await a.queue.receive(
        i % 2 ? failure("validation", `held${i}@example.com`, false) : failure("network", `wait${i}@example.com`),
      );
    }
    await until(
      "500 held, 500 waiting",
      () => a.queue.refresh(),
      (s) => s.counts.state.held === 500 && s.counts.state.waiting === 500,
    );
    await redis.stop();
    await redis.start();
    const after = await until(
      "the entries back after the restart",
      () => a.queue.refresh().catch(() => undefined),
      (s) => !!s && s.size > 0,
    );
    assert.equal(after!.size, 1000);
    assert.equal(after!.counts.state.held, 500);
    assert.equal(after!.counts.state.waiting, 500);
    assert.equal(after!.totals.received, 1000);
    // Still a working queue: a person resubmits one, it goes out.
    a.answer = true;
    assert.equal(
      await a.queue.resubmit({ state: ["held"], ids: [(await a.queue.list({ state: ["held"] }, 1, 0)).entries[0].id] }),
      1,
    );
    await until(
      "the resubmitted one delivered",
      () => a.queue.refresh(),
      (s) => s.size === 999,
    );
  });

  it("names the Redis settings that would lose entries", async () => {
    const plain = await startRedis(bin);
    try {
      const IORedis = (await import("ioredis")).default;
      const c = new IORedis(plain.url);
      const problems = await persistenceProblems(c);
      c.disconnect();
      assert.equal(problems.length, 1);
      assert.match(problems[0], /appendonly is not yes/);
    } finally {
      await plain.stop();
    }
  });
});
