/**
 * The Marketo client's edge cases: calls released together after a pause, close() while calls
 * wait or hang, unlisted 5xx statuses, a 414 on a POST, a token Marketo echoes, records JSON
 * cannot carry, bulk outcomes it cannot read, and many calls meeting a stale token at once.
 */
import "should";
import { CallLimiter } from "../../nodes/lib/marketo/limiter";
import { envelope, failure, type FakeRequest } from "../helpers/fake-marketo";
import { useFakeMarketo } from "../helpers/use-fake-marketo";
import { until } from "../helpers/until";

const LEADS = "/rest/v1/leads.json";
const SILENT = { debug() {}, info() {}, warn() {}, error() {} };

function created(req: FakeRequest) {
  const input = (req.json as { input: unknown[] }).input;
  return { json: envelope(input.map((_, i) => ({ id: i + 1, status: "created" }))) };
}

describe("client: edge cases", function () {
  this.timeout(30_000);
  const { fake, client } = useFakeMarketo({
    clientSecret: "review-secret",
    batchWindowMs: 10,
    retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 10 },
  });

  it("calls released together after a pause stay within callsPerWindow in every sliding window", async () => {
    const limiter = new CallLimiter({
      instance: "review-pause.example",
      callsPerWindow: 5,
      windowMs: 1000,
      concurrency: 10,
      dailyBudget: 1000,
      quotaProbeIntervalMs: 60_000,
      logger: SILENT,
      onChange: () => undefined,
    });
    try {
      limiter.pause(1200, "606"); // ten calls park at the gate meanwhile
      const passes: number[] = [];
      await Promise.all(
        Array.from({ length: 12 }, () =>
          limiter.schedule(async (grant) => {
            grant.sent = grant.answered = true;
            passes.push(Date.now());
          }),
        ),
      );
      const most = Math.max(...passes.map((t) => passes.filter((u) => u >= t && u < t + 1000).length));
      most.should.be.belowOrEqual(5);
    } finally {
      await limiter.close();
    }
  });

  it("close() waits for a direct call sitting out a 606 pause (and pending() counts it)", async () => {
    fake().on("POST", LEADS, created, { json: failure("606", "Max rate limit '100' exceeded with in '20' secs") });
    const c = client({ windowMs: 1000, closeTimeoutMs: 5000 });
    const p = c.syncLeads([{ email: "a@x.com" }]);
    await until(() => c.state().state === "rate-limited", "the 606 pause");
    c.pending().should.equal(1);
    await c.close();
    (await p)[0].should.containEql({ ok: true, status: "created" });
    fake().api(LEADS).length.should.equal(2);
  });

  it("close() returns within closeTimeoutMs although a call hangs on the wire", async () => {
    fake().on("POST", LEADS, () => "hang");
    const c = client({ closeTimeoutMs: 200, requestTimeoutMs: 30_000 });
    const p = c.syncLead({ email: "a@x.com" });
    await until(() => fake().api(LEADS).length === 1, "the call on the wire");
    const t0 = Date.now();
    await c.close();
    // Waiting for the call would take requestTimeoutMs (30 s).
    (Date.now() - t0).should.be.below(10_000);
    (await p).error!.should.containEql({ code: "CLIENT_CLOSED", retryable: true });
  });

  it("an HTTP 5xx outside the listed ones (520) is retried like the others", async () => {
    fake().on("POST", LEADS, created, { status: 520, text: "<html>origin error</html>" });
    const c = client();
    (await c.syncLead({ email: "a@x.com" })).should.containEql({ ok: true, status: "created" });
    fake().api(LEADS).length.should.equal(2);
  });

  it("HTTP 414 on a POST is not re-sent unchanged", async () => {
    fake().on("POST", LEADS, () => ({ status: 414, text: "URI Too Long" }));
    const c = client();
    const r = await c.syncLead({ email: "a@x.com" });
    r.error!.code.should.equal("414");
    fake().api(LEADS).length.should.equal(1);
  });

  it("the access token never appears in an error message, even when Marketo echoes it", async () => {
    fake().on("POST", LEADS, () => ({ json: failure("1006", "Field not found (token tok-1)") }));
    fake().on("GET", "/rest/v1/leads/describe2.json", () => ({
      status: 502,
      text: "upstream saw Authorization tok-1",
    }));
    const c = client({ retry: { maxAttempts: 1 } });
    const r = await c.syncLead({ email: "a@x.com" });
    r.error!.message.should.not.match(/tok-1/);
    const e = await c.describeLeads().then(
      () => undefined,
      (err: Error) => err,
    );
    // HTTP errors without a JSON body use our own words; still nothing of the token.
    String(e?.message).should.not.match(/tok-1/);
  });

  it("a record JSON cannot carry fails alone instead of failing its whole batch", async () => {
    fake().on("POST", LEADS, created);
    const c = client();
    const circular: Record<string, unknown> = { email: "c@x.com" };
    circular.self = circular;
    const rs = await Promise.all([
      c.syncLead({ email: "a@x.com" }),
      c.syncLead({ email: "b@x.com", n: 1n }),
      c.syncLead(circular),
    ]);
    rs[0].should.containEql({ ok: true, status: "created" });
    rs[1].error!.should.containEql({ code: "INVALID_INPUT", category: "validation" });
    rs[2].error!.should.containEql({ code: "INVALID_INPUT", category: "validation" });
    fake().api(LEADS).length.should.equal(1);
  });

  it("a custom object record whose describe is cut short by close() resolves at once", async () => {
    fake().on("GET", "/rest/v1/customobjects/car_c/describe.json", () => ({
      delayMs: 150,
      json: envelope([{ dedupeFields: ["vin"] }]),
    }));
    fake().on("POST", "/rest/v1/customobjects/car_c.json", () => ({ json: envelope([{ seq: 0, status: "created" }]) }));
    const c = client({ batchWindowMs: 60_000 });
    const p = c.syncCustomObject("car_c", { vin: "V1" });
    await until(() => fake().api("/rest/v1/customobjects/car_c/describe.json").length === 1, "the describe call");
    await c.close();
    const t0 = Date.now();
    const r = await p;
    // Left to its batch, the record would wait out batchWindowMs (60 s).
    (Date.now() - t0).should.be.below(10_000);
    r.error!.should.containEql({ code: "CLIENT_CLOSED", retryable: true });
  });

  it("bulk: when the failures file cannot be read, no row of the job is reported imported", async () => {
    fake().on("POST", "/bulk/v1/leads.json", () => ({
      json: envelope([{ batchId: 5, importId: "5", status: "Queued" }]),
    }));
    fake().on("GET", "/bulk/v1/leads/batch/5.json", () => ({
      json: envelope([
        { batchId: 5, status: "Complete", numOfLeadsProcessed: 1, numOfRowsFailed: 1, numOfRowsWithWarning: 0 },
      ]),
    }));
    fake().on("GET", "/bulk/v1/leads/batch/5/failures.json", () => ({ status: 500, text: "Internal Server Error" }));
    const c = client({ bulkPollIntervalMs: 10 });
    const out = await c.bulkImportLeads([{ email: "a@x.com" }, { email: "broken" }]);
    for (const row of out.rows) {
      row.should.containEql({ ok: false, outcome: "failed", batchId: 5 });
      row.error!.should.containEql({ code: "BULK_OUTCOME_UNKNOWN", retryable: true });
    }
    out.jobs[0].should.containEql({ status: "Complete", numOfRowsFailed: 1 });
  });

  it("601 on many calls in flight at once: one identity call, each call retried once", async () => {
    let stale = false;
    fake().acceptToken = () => true;
    fake().on("GET", "/rest/v1/leads/describe2.json", async (req) => {
      const token = String(req.headers.authorization).replace("Bearer ", "");
      // Every call is on the wire before the first answer.
      if (stale) await until(() => fake().api().length >= 11, "the ten calls on the wire");
      if (stale && token === "tok-1") return { json: failure("601", "Access token invalid") };
      return { json: envelope([{ name: "API Lead" }]) };
    });
    const c = client();
    await c.describeLeads();
    stale = true;
    fake().token = "tok-2";
    await Promise.all(Array.from({ length: 10 }, () => c.describeLeads()));
    fake().identityCalls.should.equal(2);
    fake()
      .api()
      .length.should.equal(1 + 10 * 2);
  });
});
