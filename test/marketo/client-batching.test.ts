import "should";
import {
  Batcher,
  MarketoClient,
  MarketoError,
  type MarketoClientOptions,
  type RecordResult,
} from "../../nodes/lib/marketo";
import { Timers } from "../../nodes/lib/marketo/timers";
import { envelope, type FakeRequest } from "../helpers/fake-marketo";
import { useFakeMarketo } from "../helpers/use-fake-marketo";
import { until } from "../helpers/until";

const LEADS = "/rest/v1/leads.json";

function created(req: FakeRequest, delayMs = 0) {
  const input = (req.json as { input: Array<Record<string, unknown>> }).input;
  return { delayMs, json: envelope(input.map((_, i) => ({ id: i + 1, status: "created" }))) };
}

/** A batcher whose "limiter" is a manual gate: calls wait until the test releases them. */
function manualBatcher(opts: { max?: number; windowMs?: number; dedupe?: boolean } = {}) {
  const timers = new Timers();
  const sent: string[][] = [];
  const gates: Array<() => void> = [];
  const b = new Batcher<string>({
    operation: "test",
    maxBatchSize: opts.max ?? 3,
    windowMs: opts.windowMs ?? 20,
    ...(opts.dedupe ? { dedupeKey: (s: string) => s.toLowerCase() } : {}),
    timers,
    onChange: () => undefined,
    dispatch: async (seal) => {
      await new Promise<void>((r) => gates.push(r)); // "waiting in the limiter"
      const items = seal(); // sealed when the call runs
      sent.push(items);
      return { items, results: items.map((): RecordResult => ({ ok: true, status: "created" })) };
    },
  });
  const release = async () => {
    await new Promise((r) => setTimeout(r, 0));
    gates.shift()?.();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { b, sent, gates, release, timers };
}

describe("client: batcher", () => {
  it("arms a call when a full batch is held, without waiting for the window", async () => {
    const { b, sent, gates, release, timers } = manualBatcher({ max: 3, windowMs: 10_000 });
    const ps = ["a", "b", "c"].map((x) => b.submit(x));
    await new Promise((r) => setTimeout(r, 5));
    gates.length.should.equal(1);
    await release();
    await Promise.all(ps);
    sent.should.eql([["a", "b", "c"]]);
    timers.close();
  });

  it("arms a partial batch when its oldest record is batchWindowMs old", async () => {
    const { b, gates, release, timers } = manualBatcher({ max: 3, windowMs: 30 });
    const t0 = Date.now();
    const p = b.submit("a");
    await new Promise((r) => setTimeout(r, 0));
    gates.length.should.equal(0);
    await until(() => gates.length === 1, "the call armed");
    // Timers never fire early, however loaded the machine: the record waited out the window.
    (Date.now() - t0).should.be.aboveOrEqual(29);
    await release();
    (await p).ok.should.be.true();
    timers.close();
  });

  it("seals when the call runs: records arriving while it waits join it (up to the maximum)", async () => {
    const { b, sent, gates, release, timers } = manualBatcher({ max: 3, windowMs: 5 });
    const ps = [b.submit("a")];
    await new Promise((r) => setTimeout(r, 20)); // armed, waiting in the "limiter"
    gates.length.should.equal(1);
    ps.push(b.submit("b"), b.submit("c"), b.submit("d"));
    await new Promise((r) => setTimeout(r, 20));
    await release();
    await release();
    await Promise.all(ps);
    sent.should.eql([["a", "b", "c"], ["d"]]);
    timers.close();
  });

  it("never puts two records with one dedupe key in a call, and holds the later one until the first is answered", async () => {
    const { b, sent, release, timers } = manualBatcher({ max: 10, windowMs: 5, dedupe: true });
    const ps = ["x@a.com", "y@a.com", "X@A.com", "z@a.com", "x@a.COM"].map((s) => b.submit(s));
    await new Promise((r) => setTimeout(r, 20));
    await release();
    await new Promise((r) => setTimeout(r, 20));
    await release();
    await new Promise((r) => setTimeout(r, 20));
    await release();
    await Promise.all(ps);
    sent.should.eql([["x@a.com", "y@a.com", "z@a.com"], ["X@A.com"], ["x@a.COM"]]);
    timers.close();
  });

  it("failHeld resolves (never rejects) what is still held", async () => {
    const { b, timers } = manualBatcher({ max: 10, windowMs: 10_000 });
    const p = b.submit("a");
    const err = new MarketoError({
      code: "CLIENT_CLOSED",
      message: "closed",
      category: "network",
      action: "retry",
      retryable: true,
    });
    b.failHeld(err);
    (await p).should.containEql({ ok: false, status: "failed", error: err });
    timers.close();
  });
});

describe("client: batching through the limiter", function () {
  this.timeout(30_000);
  const { fake, client } = useFakeMarketo({
    clientSecret: "secret-x",
    batchWindowMs: 10,
    retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 10 },
  });

  it("10,000 records pushed at once go out in ≤ 35 calls of ≤ 300, each answered in order", async () => {
    fake().on("POST", LEADS, (req) => {
      const input = (req.json as { input: Array<{ email: string }> }).input;
      return { json: envelope(input.map((l) => ({ id: Number(l.email.split("@")[0].slice(1)), status: "created" }))) };
    });
    const c = client();
    const rs = await Promise.all(Array.from({ length: 10_000 }, (_, i) => c.syncLead({ email: `u${i}@x.com` })));
    rs.every((r, i) => r.ok && r.id === i).should.be.true();
    const calls = fake().api(LEADS);
    calls.length.should.be.belowOrEqual(35);
    calls.every((q) => (q.json as { input: unknown[] }).input.length <= 300).should.be.true();
    const u = c.usage();
    u.callsByOperation.syncLeads.should.equal(calls.length);
    u.recordsByOperation.syncLeads.should.equal(10_000);
    u.outcomes.created.should.equal(10_000);
    u.answersByCode.ok.should.equal(calls.length);
  });

  it("under a slow limiter, records arriving while a call waits join it", async () => {
    fake().on("POST", LEADS, (req) => created(req, 150));
    // 2 calls per second → ≈ 526 ms between calls
    const c = client({ callsPerWindow: 2, windowMs: 1000, concurrency: 1 });
    const first = c.syncLead({ email: "first@x.com" });
    await until(() => fake().api(LEADS).length === 1, "the first call on the wire");
    const more = Array.from({ length: 50 }, (_, i) => c.syncLead({ email: `m${i}@x.com` }));
    await Promise.all([first, ...more]);
    fake()
      .api(LEADS)
      .map((q) => (q.json as { input: unknown[] }).input.length)
      .should.eql([1, 50]);
  });

  it("batches per (action, lookupField, partition): different options never share a call", async () => {
    fake().on("POST", LEADS, (req) => created(req));
    const c = client();
    await Promise.all([
      c.syncLead({ email: "a@x.com" }),
      c.syncLead({ email: "b@x.com" }, { action: "updateOnly" }),
      c.syncLead({ email: "c@x.com" }, { partitionName: "EMEA" }),
      c.syncLead({ email: "d@x.com" }),
    ]);
    const bodies = fake()
      .api(LEADS)
      .map((q) => q.json as Record<string, unknown>);
    bodies.length.should.equal(3);
    bodies.find((b) => b.action === "updateOnly")!.should.containEql({ lookupField: "email" });
    bodies.find((b) => b.partitionName === "EMEA")!.should.containEql({ action: "createOrUpdate" });
  });

  it("the same lead (case-insensitive) twice goes in two calls, in order", async () => {
    fake().on("POST", LEADS, (req) => created(req));
    const c = client();
    const rs = await Promise.all([c.syncLead({ email: "a@x.com", n: 1 }), c.syncLead({ email: "A@X.com ", n: 2 })]);
    rs.every((r) => r.ok).should.be.true();
    fake()
      .api(LEADS)
      .map((q) => (q.json as { input: Array<{ n: number }> }).input.map((l) => l.n))
      .should.eql([[1], [2]]);
  });

  it("program status is batched per (programId, statusName) with one call per lead id", async () => {
    fake().on("POST", /\/rest\/v1\/programs\/\d+\/members\/status\.json/, (req) => ({
      json: envelope(
        (req.json as { input: Array<{ leadId: number }> }).input.map((i, seq) => ({
          seq,
          leadId: i.leadId,
          status: "created",
        })),
      ),
    }));
    const c = client();
    const rs = await Promise.all([
      c.setProgramStatus(1, "Registered", 10),
      c.setProgramStatus(1, "Registered", 11),
      c.setProgramStatus(1, "Attended", 10),
      c.setProgramStatus(2, "Registered", 10),
      c.setProgramStatus(1, "Registered", 10),
    ]);
    rs.map((r) => r.id).should.eql([10, 11, 10, 10, 10]);
    fake().api().length.should.equal(4);
  });

  it("trigger campaign batches at most 100 leads per call", async () => {
    fake().on("POST", "/rest/v1/campaigns/7/trigger.json", () => ({ json: envelope([{ id: 7 }]) }));
    const c = client();
    const rs = await Promise.all(Array.from({ length: 250 }, (_, i) => c.triggerCampaignFor(7, i + 1)));
    rs.every((r) => r.ok && r.status === "triggered").should.be.true();
    fake()
      .api()
      .map((q) => (q.json as { input: { leads: unknown[] } }).input.leads.length)
      .should.eql([100, 100, 50]);
  });

  it("custom objects: dedupe fields learned from describe keep one key per call", async () => {
    fake().on("GET", "/rest/v1/customobjects/car_c/describe.json", () => ({
      json: envelope([{ name: "car_c", dedupeFields: ["vin"] }]),
    }));
    fake().on("POST", "/rest/v1/customobjects/car_c.json", (req) => ({
      json: envelope(
        (req.json as { input: unknown[] }).input.map((_, seq) => ({ seq, status: "created", marketoGUID: `g${seq}` })),
      ),
    }));
    const c = client();
    const rs = await Promise.all([
      c.syncCustomObject("car_c", { vin: "V1", leadId: 5 }),
      c.syncCustomObject("car_c", { vin: "V2", leadId: 6 }),
      c.syncCustomObject("car_c", { vin: "v1", leadId: 7 }),
    ]);
    rs.map((r) => r.marketoGUID).should.eql(["g0", "g1", "g0"]);
    rs.map((r) => r.id).should.eql([5, 6, 7]);
    const syncs = fake().api("/rest/v1/customobjects/car_c.json");
    syncs.length.should.equal(2);
    (syncs[0].json as Record<string, unknown>).should.containEql({
      action: "createOrUpdate",
      dedupeBy: "dedupeFields",
    });
    fake().api("/rest/v1/customobjects/car_c/describe.json").length.should.equal(1);
  });

  it("findLeadId batches lookups, shares duplicates, and picks the most recently updated lead", async () => {
    fake().on("GET", LEADS, () => ({
      json: envelope([
        { id: 1, email: "a@x.com", updatedAt: "2026-01-01T00:00:00Z" },
        { id: 2, email: "A@x.com", updatedAt: "2026-03-01T00:00:00Z" },
        { id: 3, email: "b@x.com", updatedAt: "2026-02-01T00:00:00Z" },
      ]),
    }));
    const c = client();
    const ids = await Promise.all([
      c.findLeadId("a@x.com"),
      c.findLeadId("b@x.com"),
      c.findLeadId("nobody@x.com"),
      c.findLeadId("A@X.COM"),
    ]);
    ids.should.eql([2, 3, undefined, 2]);
    const calls = fake().api(LEADS);
    calls.length.should.equal(1);
    calls[0].query.get("filterType")!.should.equal("email");
    calls[0].query.get("filterValues")!.split(",").sort().should.eql(["a@x.com", "b@x.com", "nobody@x.com"]);
  });

  it("flush() sends at once, pending() counts what is held", async () => {
    fake().on("POST", LEADS, (req) => created(req));
    const c = client({ batchWindowMs: 60_000 });
    const p = c.syncLead({ email: "a@x.com" });
    await new Promise((r) => setTimeout(r, 20));
    c.pending().should.equal(1);
    c.usage().queuedRecords.should.equal(1);
    c.flush();
    (await p).ok.should.be.true();
    c.pending().should.equal(0);
  });

  it("close() sends what is held, then refuses new records; usage events stop", async () => {
    fake().on("POST", LEADS, (req) => created(req, 50));
    const c = client({ batchWindowMs: 60_000 });
    const usages: number[] = [];
    c.on("usage", (u) => usages.push(u.callsTotal));
    const held = c.syncLead({ email: "a@x.com" });
    await c.close();
    (await held).ok.should.be.true();
    fake().api(LEADS).length.should.equal(1);
    const late = await c.syncLead({ email: "b@x.com" });
    late.should.containEql({ ok: false, status: "failed" });
    late.error!.should.containEql({ code: "CLIENT_CLOSED", category: "network", retryable: true });
    const seen = usages.length;
    await new Promise((r) => setTimeout(r, 600));
    usages.length.should.equal(seen);
    await c.getProgram(1).then(
      () => {
        throw new Error("resolved after close");
      },
      (e: MarketoError) => e.code.should.equal("CLIENT_CLOSED"),
    );
  });

  it("close() does not wait for a quota pause: held records fail as retryable CLIENT_CLOSED", async () => {
    fake().on("POST", LEADS, () => ({
      json: { success: false, requestId: "1#1", errors: [{ code: "607", message: "Daily quota reached" }] },
    }));
    const c = client({ quotaProbeIntervalMs: 60_000, closeTimeoutMs: 20_000 });
    const p = c.syncLead({ email: "a@x.com" });
    await until(() => c.usage().state === "quota", "the quota state");
    const t = Date.now();
    await c.close();
    // Waiting for the pause would take the whole closeTimeoutMs (20 s).
    (Date.now() - t).should.be.below(10_000);
    const r = await p;
    r.should.containEql({ ok: false, status: "failed" });
    r.error!.should.containEql({ code: "CLIENT_CLOSED", retryable: true });
  });

  it("invalid options are refused synchronously with a clear validation error", () => {
    const make = (o: Partial<MarketoClientOptions>) => () =>
      new MarketoClient({ endpoint: "https://1-a-2.mktorest.com/rest", clientId: "id", clientSecret: "s", ...o });
    for (const [o, re] of [
      [{ clientId: "" }, /Client Id/],
      [{ clientSecret: undefined as unknown as string }, /Client Secret/],
      [{ windowMs: 0 }, /windowMs/],
      [{ concurrency: -1 }, /concurrency/],
      [{ maxBatchSize: 301 }, /maxBatchSize/],
      [{ endpoint: "https://1-a-2.mktorest.com/rest/v1" }, /Web Services/],
    ] as const) {
      let thrown: unknown;
      try {
        make(o)();
      } catch (e) {
        thrown = e;
      }
      thrown!.should.be.instanceOf(MarketoError);
      (thrown as MarketoError).category.should.equal("validation");
      (thrown as MarketoError).message.should.match(re);
    }
  });
});
