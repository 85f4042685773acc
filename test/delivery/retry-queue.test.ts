/**
 * The retry-queue's logic without Node-RED: backoff, the quota wait to Chicago midnight, held and
 * abandoned entries, answer timeouts, duplicate outcomes, filters and counts, the bound, and
 * recovery from what the store kept. The clock is a variable the tests move.
 */
import should from "should";
import {
  MemoryStore,
  RetryQueue,
  TOTALS_ID,
  backoffFor,
  failureOf,
  parseBackoff,
  parseDuration,
  parseFilter,
  storableMessage,
  type Failure,
  type QueueOptions,
} from "../../src/lib/delivery/retry-queue";
import {
  pendingOutcomes,
  registerQueue,
  reportRetryOutcome,
  retryTagOf,
  unregisterQueue,
  type RetryOutcomeSink,
} from "../../src/lib/delivery/retry-registry";

const MIN = 60_000;
const lead = { id: "n-lead", type: "marketo-lead", name: "Leads" };
const status = { id: "n-status", type: "marketo-program-status", name: "" };

function failure(over: Partial<Failure> = {}): Failure {
  return {
    msg: { _msgid: "m1", payload: { email: "ada@example.com" } },
    integration: lead,
    category: "network",
    code: "611",
    message: "System error",
    retryable: true,
    action: "retry",
    ...over,
  };
}

function setup(opts: Partial<QueueOptions> = {}, store = new MemoryStore()) {
  const clock = { now: Date.parse("2026-07-01T12:00:00Z") };
  const queue = new RetryQueue(
    {
      maxAttempts: 3,
      backoffMs: [30_000, 2 * MIN, 10 * MIN],
      maxEntries: 100,
      answerTimeoutMs: 10 * MIN,
      now: () => clock.now,
      random: () => 0,
      quotaJitterMs: 0,
      ...opts,
    },
    store,
    store.recovered(),
  );
  return { clock, queue, store };
}

describe("retry-queue lib: durations and backoff", () => {
  it("reads delays with units and refuses what is not one, naming it", () => {
    parseBackoff("30s, 2m, 10m").should.eql({ ok: true, ms: [30_000, 120_000, 600_000] });
    parseBackoff("250ms;1.5h").should.eql({ ok: true, ms: [250, 5_400_000] });
    parseDuration("10m").should.eql({ ok: true, ms: 600_000 });
    const bad = parseBackoff("30s, soon");
    bad.ok.should.be.false();
    (bad as { reason: string }).reason.should.match(/"soon" is not a duration/);
    parseBackoff("").ok.should.be.false();
    parseBackoff(undefined).ok.should.be.false();
    parseDuration("0s").ok.should.be.false();
    parseDuration("9000h").ok.should.be.false();
  });

  it("attempt n waits entry n-1 and the last entry repeats", () => {
    const list = [30_000, 120_000, 600_000];
    [1, 2, 3, 4, 9].map((n) => backoffFor(list, n)).should.eql([30_000, 120_000, 600_000, 600_000, 600_000]);
  });

  it("a retryable failure waits through the backoff, attempt by attempt, then is abandoned", async () => {
    const { clock, queue } = setup();
    const r = await queue.receive(failure());
    r.kind.should.equal("waiting");
    const e = (r as { entry: { id: string; nextRetryAt?: number; attempts: number } }).entry;
    e.nextRetryAt!.should.equal(clock.now + 30_000);
    (await queue.takeDue(10)).should.have.length(0);

    const waits: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      clock.now = e.nextRetryAt!;
      const due = await queue.takeDue(10);
      due.should.have.length(1);
      due[0].attempts.should.equal(attempt);
      due[0].state.should.equal("retrying");
      const failedAt = clock.now + 1000;
      clock.now = failedAt;
      const o = await queue.outcome({ id: e.id, seq: due[0].seq }, false, {
        code: "604",
        message: "Request timed out",
        category: "marketo",
        retryable: true,
        action: "retry",
      });
      if (attempt < 3) {
        o.kind.should.equal("waiting");
        waits.push(e.nextRetryAt! - failedAt);
      } else {
        o.kind.should.equal("abandoned");
        should(e.nextRetryAt).be.undefined();
      }
    }
    waits.should.eql([120_000, 600_000]);
    const entry = queue.entries.get(e.id)!;
    entry.code.should.equal("604");
    entry.reason!.should.match(/gave up after 3 of 3 attempts/);
    queue.totals.should.containEql({ received: 1, retried: 3, abandoned: 1, delivered: 0 });
  });
});

describe("retry-queue lib: quota and permanent failures", () => {
  it("a quota failure waits for the next 00:00 America/Chicago (CDT and CST) without using an attempt", async () => {
    const { clock, queue } = setup();
    // 12:00 UTC on July 1 is 07:00 CDT: the reset is 00:00 CDT on July 2 = 05:00 UTC.
    const r = (await queue.receive(failure({ category: "quota", code: "607", action: "wait-day" }))) as { entry: any };
    r.entry.nextRetryAt.should.equal(Date.parse("2026-07-02T05:00:00Z"));
    r.entry.quotaWait.should.be.true();
    r.entry.attempts.should.equal(0);

    clock.now = Date.parse("2026-07-02T05:00:00Z");
    const [sent] = await queue.takeDue(10);
    sent.attempts.should.equal(1);
    // Quota again: the attempt it met is given back and the wait is the next midnight.
    await queue.outcome({ id: sent.id, seq: sent.seq }, false, {
      code: "607",
      category: "quota",
      retryable: true,
      action: "wait-day",
      message: "Daily quota reached",
    });
    sent.state.should.equal("waiting");
    sent.attempts.should.equal(0);
    sent.nextRetryAt!.should.equal(Date.parse("2026-07-03T05:00:00Z"));

    // In winter Chicago is UTC-6: 20:00 UTC on Jan 15 → 00:00 CST Jan 16 = 06:00 UTC.
    clock.now = Date.parse("2026-01-15T20:00:00Z");
    const w = (await queue.receive(failure({ category: "quota", code: "607", action: "wait-day" }))) as { entry: any };
    w.entry.nextRetryAt.should.equal(Date.parse("2026-01-16T06:00:00Z"));
  });

  it("quota waits are spread by the jitter, within its bound", async () => {
    const { queue } = setup({ random: () => 0.5, quotaJitterMs: 120_000 });
    const r = (await queue.receive(failure({ category: "quota", code: "607", action: "wait-day" }))) as { entry: any };
    r.entry.nextRetryAt.should.equal(Date.parse("2026-07-02T05:00:00Z") + 60_000);
  });

  it("permanent failures are held and never resubmitted by the queue itself", async () => {
    const { clock, queue } = setup();
    const held = await queue.receive(
      failure({
        category: "validation",
        code: "1025",
        retryable: false,
        action: "permanent",
        message: "status not in channel",
      }),
    );
    held.kind.should.equal("held");
    const auth = await queue.receive(failure({ category: "auth", code: "603", retryable: false, action: "permanent" }));
    auth.kind.should.equal("held");
    // A validation failure is held even if something marked it retryable.
    (await queue.receive(failure({ category: "validation", code: "1006", retryable: true }))).kind.should.equal("held");
    clock.now += 30 * 24 * 60 * MIN;
    (await queue.takeDue(10)).should.have.length(0);
    should(queue.nextWake()).be.undefined();
    queue.totals.held.should.equal(3);
    (queue.entries.get((held as any).entry.id)!.reason as string).should.match(
      /^validation failure: a person must fix the cause/,
    );
  });

  it("a resubmission that fails permanently is held; a person's resubmit sends it again with attempts reset", async () => {
    const { clock, queue } = setup();
    const { entry } = (await queue.receive(failure())) as { entry: any };
    clock.now += 30_000;
    const [sent] = await queue.takeDue(10);
    (
      await queue.outcome({ id: sent.id, seq: sent.seq }, false, {
        code: "1025",
        category: "validation",
        retryable: false,
        action: "permanent",
        message: "no such status",
      })
    ).kind.should.equal("held");
    entry.category.should.equal("validation");
    (await queue.resubmit({ state: ["held"] })).should.equal(1);
    entry.state.should.equal("waiting");
    entry.attempts.should.equal(0);
    entry.nextRetryAt.should.equal(clock.now);
    (await queue.takeDue(10)).should.have.length(1);
  });
});

describe("retry-queue lib: outcomes", () => {
  it("delivered removes the entry; a second report of the same outcome and a stale seq are ignored", async () => {
    const { clock, queue, store } = setup();
    const a = ((await queue.receive(failure())) as any).entry;
    const b = ((await queue.receive(failure({ msg: { payload: { email: "grace@example.org" } } }))) as any).entry;
    clock.now += 30_000;
    const due = await queue.takeDue(10);
    due.should.have.length(2);
    (await queue.outcome({ id: a.id, seq: a.seq }, true)).kind.should.equal("delivered");
    queue.entries.has(a.id).should.be.false();
    store.values.has(a.id).should.be.false();
    (await queue.outcome({ id: a.id, seq: a.seq }, true)).kind.should.equal("stale");

    const fail = { code: "611", category: "marketo", retryable: true, action: "retry", message: "System error" };
    (await queue.outcome({ id: b.id, seq: b.seq }, false, fail)).kind.should.equal("waiting");
    // The same failure by wire after the registry reported it: counted once.
    (await queue.outcome({ id: b.id, seq: b.seq }, false, fail)).kind.should.equal("stale");
    b.attempts.should.equal(1);
    clock.now = b.nextRetryAt;
    const [again] = await queue.takeDue(10);
    again.seq.should.equal(2);
    // An answer to the first resubmission arriving late does not settle the second.
    (await queue.outcome({ id: b.id, seq: 1 }, true)).kind.should.equal("stale");
    queue.entries.has(b.id).should.be.true();
    queue.totals.should.containEql({ delivered: 1, retried: 3 });
  });

  it("a resubmission nobody answers within the timeout counts as an attempt; a miswired flow ends abandoned", async () => {
    const { clock, queue } = setup({ maxAttempts: 2, answerTimeoutMs: 5 * MIN });
    const e = ((await queue.receive(failure())) as any).entry;
    let rounds = 0;
    while (e.state !== "abandoned" && rounds < 10) {
      rounds++;
      clock.now = queue.nextWake()!;
      const due = await queue.takeDue(10);
      if (due.length) {
        due[0].state.should.equal("retrying");
        queue.nextWake()!.should.equal(clock.now + 5 * MIN);
        continue;
      }
      await queue.expire();
    }
    e.state.should.equal("abandoned");
    e.attempts.should.equal(2);
    e.reason.should.match(/no answer within 5m to resubmission 2/);
    rounds.should.equal(4);
    should(queue.nextWake()).be.undefined();
  });

  it("an unanswered resubmission of a quota entry spends its attempt too: no daily loop", async () => {
    const { clock, queue } = setup({ maxAttempts: 1, answerTimeoutMs: MIN });
    const e = ((await queue.receive(failure({ category: "quota", code: "607", action: "wait-day" }))) as any).entry;
    clock.now = e.nextRetryAt;
    await queue.takeDue(10);
    clock.now += MIN;
    (await queue.expire()).should.have.length(1);
    e.state.should.equal("abandoned");
  });

  it("resubmissions taken but not sent go back without spending an attempt", async () => {
    const { clock, queue } = setup();
    const e = ((await queue.receive(failure())) as any).entry;
    clock.now += 30_000;
    const due = await queue.takeDue(10);
    await queue.release(due);
    e.state.should.equal("waiting");
    e.attempts.should.equal(0);
    queue.totals.retried.should.equal(0);
  });

  it("takes due entries in chunks of the limit", async () => {
    const { clock, queue } = setup({ maxEntries: 2000 });
    for (let i = 0; i < 1200; i++) await queue.receive(failure({ msg: { payload: { i } } }));
    clock.now += 30_000;
    (await queue.takeDue(500)).should.have.length(500);
    (await queue.takeDue(500)).should.have.length(500);
    (await queue.takeDue(500)).should.have.length(200);
    (await queue.takeDue(500)).should.have.length(0);
  });
});

describe("retry-queue lib: commands, filters and counts", () => {
  async function filled() {
    const s = setup();
    await s.queue.receive(failure());
    await s.queue.receive(failure({ integration: status, category: "rate-limit", code: "606" }));
    await s.queue.receive(
      failure({ integration: status, category: "validation", code: "1025", retryable: false, action: "permanent" }),
    );
    await s.queue.receive(failure({ category: "quota", code: "607", action: "wait-day" }));
    return s;
  }

  it("counts by state, category and integration, and filters on each (names and types too)", async () => {
    const { queue } = await filled();
    queue.counts().should.eql({
      state: { waiting: 3, retrying: 0, held: 1, abandoned: 0 },
      category: { network: 1, "rate-limit": 1, validation: 1, quota: 1 },
      integration: { "n-lead": 2, "n-status": 2 },
    });
    queue.select({ integration: ["Leads"] }).should.have.length(2);
    queue.select({ integration: ["marketo-program-status"] }).should.have.length(2);
    queue
      .select({ integration: ["n-status"], state: ["held"] })
      .map((e) => e.code)
      .should.eql(["1025"]);
    queue.select({ category: ["quota", "network"] }).should.have.length(2);
    const page = queue.list({}, 2, 1);
    page.total.should.equal(4);
    page.entries.map((e) => e.code).should.eql(["606", "1025"]);
    should(page.entries[0].payload).eql({ email: "ada@example.com" });
    page.entries[0].firstFailedAt.should.equal("2026-07-01T12:00:00.000Z");
  });

  it("parses filters and names what is wrong", () => {
    parseFilter({ state: "held", integration: ["a", "b"] }).should.eql({
      ok: true,
      filter: { state: ["held"], integration: ["a", "b"] },
    });
    parseFilter(undefined).should.eql({ ok: true, filter: {} });
    (parseFilter({ state: "gone" }) as { reason: string }).reason.should.match(/unknown state "gone"/);
    (parseFilter({ colour: "red" }) as { reason: string }).reason.should.match(/unknown filter field "colour"/);
    (parseFilter({ ids: [1] }) as { reason: string }).reason.should.match(/ids must be/);
    parseFilter("all").ok.should.be.false();
  });

  it("flush makes waiting entries due now except quota waits; discard removes and counts", async () => {
    const { queue } = await filled();
    (await queue.flush()).should.equal(2);
    (await queue.takeDue(10))
      .map((e) => e.code)
      .sort()
      .should.eql(["606", "611"]);
    (await queue.discard({ state: ["held"] })).should.equal(1);
    (await queue.discard({})).should.equal(3);
    queue.size.should.equal(0);
    queue.totals.discarded.should.equal(4);
  });
});

describe("retry-queue lib: bound and recovery", () => {
  it("at maxEntries a new failure overflows and nothing is stored for it", async () => {
    const { queue, store } = setup({ maxEntries: 2 });
    await queue.receive(failure());
    await queue.receive(failure());
    queue.full.should.be.true();
    (await queue.receive(failure())).kind.should.equal("overflow");
    queue.size.should.equal(2);
    queue.totals.overflow.should.equal(1);
    [...store.values.keys()].filter((k) => k !== TOTALS_ID).should.have.length(2);
  });

  it("a new queue on the same store finds every entry in its state, the totals, and skips damaged values", async () => {
    const { clock, queue, store } = setup();
    const w = ((await queue.receive(failure())) as any).entry;
    const h = (
      (await queue.receive(
        failure({ category: "validation", code: "1006", retryable: false, action: "permanent" }),
      )) as any
    ).entry;
    const r = ((await queue.receive(failure({ code: "608" }))) as any).entry;
    clock.now += 30_000;
    await queue.takeDue(10);
    await queue.outcome({ id: w.id, seq: w.seq }, false, {
      code: "611",
      category: "marketo",
      retryable: true,
      action: "retry",
      message: "x",
    });
    store.values.set("broken", { id: "broken", state: "lost" });

    const again = setup({}, store);
    again.queue.damaged.should.eql(["broken"]);
    again.queue.size.should.equal(3);
    again.queue.entries.get(w.id)!.should.containEql({ state: "waiting", attempts: 1, seq: 1 });
    again.queue.entries.get(h.id)!.state.should.equal("held");
    const rr = again.queue.entries.get(r.id)!;
    rr.state.should.equal("retrying");
    // The answer to the resubmission under way can still arrive after the restart.
    (await again.queue.outcome({ id: r.id, seq: rr.seq }, true)).kind.should.equal("delivered");
    again.queue.totals.should.containEql({ received: 3, retried: 2, held: 1, delivered: 1 });
  });
});

describe("retry-queue lib: what a failed message says", () => {
  it("reads msg.marketo.error from an action node's output 2, keeping a clean copy to resubmit", () => {
    const res = { socket: "not json" };
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const f = failureOf({
      _msgid: "x1",
      topic: "registration.created",
      payload: { email: "ada@example.com" },
      res,
      req: {},
      fn: () => 1,
      cyclic,
      marketo: {
        leadId: 7,
        retry: { queue: "q", id: "e", seq: 1 },
        error: {
          code: "606",
          message: "Max rate limit",
          category: "rate-limit",
          retryable: true,
          action: "wait-window",
          source: lead,
        },
      },
    });
    f.should.containEql({ category: "rate-limit", code: "606", retryable: true, action: "wait-window" });
    f.integration.should.eql(lead);
    f.msg.should.eql({
      _msgid: "x1",
      topic: "registration.created",
      payload: { email: "ada@example.com" },
      cyclic: { a: 1 },
      marketo: { leadId: 7 },
    });
  });

  it("reads a Catch node's msg.error: category from the message, the node from its source", () => {
    const f = failureOf({
      payload: { email: "a@b.c" },
      error: {
        message: "MarketoError: marketo-lead: quota: Marketo 607: Daily quota reached",
        source: { id: "n-lead", type: "marketo-lead", name: "Leads", count: 1 },
      },
    });
    f.should.containEql({
      category: "quota",
      code: "607",
      retryable: true,
      action: "wait-day",
      message: "Marketo 607: Daily quota reached",
    });
    f.integration.should.eql(lead);
    should(f.msg.error).be.undefined();
    const many = failureOf({
      error: {
        message: "MarketoError: marketo-lead: 2 of 3 records failed; first: validation: bad email",
        source: lead,
      },
    });
    many.should.containEql({ category: "validation", retryable: false });
  });

  it("a message with no Marketo error is held as unknown, saying so", () => {
    const f = failureOf({ payload: 1, filtered: { reason: "email is missing" } });
    f.should.containEql({ category: "unknown", retryable: false });
    f.message.should.match(/no msg.marketo.error and no msg.error: email is missing/);
    f.integration.id.should.equal("unknown");
    failureOf({ error: { message: "TypeError: boom", source: { id: "fn1", type: "function" } } }).should.containEql({
      category: "unknown",
      retryable: false,
    });
  });

  it("storableMessage drops req/res/error and the retry tag", () => {
    storableMessage({ payload: 1, req: 1, res: 2, error: 3, marketo: { error: 1, retry: 2, programId: 5 } }).should.eql(
      { payload: 1, marketo: { programId: 5 } },
    );
  });
});

describe("retry-registry", () => {
  it("hands outcomes to the registered queue, keeps them while it is away and drains them on register", () => {
    const got: unknown[] = [];
    const sink: RetryOutcomeSink = { outcome: (tag, ok, error) => got.push([tag.id, tag.seq, ok, error?.code]) };
    reportRetryOutcome(undefined, true);
    reportRetryOutcome({ queue: "q-reg", id: "e1" }, true); // no seq: not a tag
    should(retryTagOf({ queue: "q", id: "e", seq: 1.5 })).be.undefined();
    reportRetryOutcome({ queue: "q-reg", id: "e1", attempt: 1, seq: 1 }, false, { code: "611" });
    pendingOutcomes("q-reg").should.equal(1);
    registerQueue("q-reg", sink);
    pendingOutcomes("q-reg").should.equal(0);
    reportRetryOutcome({ queue: "q-reg", id: "e2", attempt: 1, seq: 3 }, true);
    got.should.eql([
      ["e1", 1, false, "611"],
      ["e2", 3, true, undefined],
    ]);
    // A newer instance's registration survives the old one's unregister.
    const newer: RetryOutcomeSink = { outcome: () => got.push("newer") };
    registerQueue("q-reg", newer);
    unregisterQueue("q-reg", sink);
    reportRetryOutcome({ queue: "q-reg", id: "e3", attempt: 1, seq: 1 }, true);
    should(got[got.length - 1]).equal("newer");
    unregisterQueue("q-reg", newer);
  });

  it("a throwing queue never reaches the action node, and what is kept for absent queues is bounded", () => {
    const throwing: RetryOutcomeSink = {
      outcome: () => {
        throw new Error("bug");
      },
    };
    registerQueue("q-throw", throwing);
    (() => reportRetryOutcome({ queue: "q-throw", id: "e", attempt: 1, seq: 1 }, true)).should.not.throw();
    for (let i = 0; i < 10_050; i++) reportRetryOutcome({ queue: "q-absent", id: `e${i}`, attempt: 1, seq: 1 }, true);
    pendingOutcomes().should.be.belowOrEqual(10_000);
    let first: string | undefined;
    const absent: RetryOutcomeSink = { outcome: (tag) => (first ??= tag.id) };
    registerQueue("q-absent", absent);
    // The oldest went first.
    first!.should.equal("e50");
    unregisterQueue("q-throw", throwing);
    unregisterQueue("q-absent", absent);
  });
});
