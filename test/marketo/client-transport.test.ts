import should from "should";
import { MarketoError, type StateEvent } from "../../nodes/lib/marketo";
import { FakeMarketo, envelope, failure, type FakeRequest } from "../helpers/fake-marketo";
import { useFakeMarketo } from "../helpers/use-fake-marketo";
import { until } from "../helpers/until";

const SECRET = "s3cr3t-client-secret-value";
const LEADS = "/rest/v1/leads.json";

/** Echoes Sync Leads: every input record created, ids from 1. */
function created(req: FakeRequest) {
  const input = (req.json as { input: unknown[] }).input;
  return { json: envelope(input.map((_, i) => ({ id: i + 1, status: "created" }))) };
}

describe("client against a scripted Marketo", function () {
  this.timeout(20_000);
  const { fake, client } = useFakeMarketo({
    endpointPath: "/rest/",
    clientSecret: SECRET,
    batchWindowMs: 10,
    retry: { maxAttempts: 5, baseDelayMs: 5, maxDelayMs: 20 },
    requestTimeoutMs: 2000,
  });

  describe("tokens", () => {
    it("100 concurrent calls share one identity call, and later calls reuse the token", async () => {
      fake().on("GET", "/rest/v1/leads/describe2.json", () => ({ json: envelope([{ name: "API Lead" }]) }));
      const c = client();
      await Promise.all(Array.from({ length: 100 }, () => c.describeLeads()));
      await c.describeLeads();
      fake().identityCalls.should.equal(1);
      fake().api().length.should.equal(101);
      const id = fake().requests.find((r) => r.path === "/identity/oauth/token")!;
      id.method.should.equal("POST");
      id.form!.get("client_secret")!.should.equal(SECRET);
      id.form!.get("grant_type")!.should.equal("client_credentials");
      id.query.toString().should.equal(""); // the secret never travels in a URL
      fake().api()[0].headers.authorization!.should.equal("Bearer tok-1");
    });

    it("expires_in 0: does not cache, waits a second and asks again", async () => {
      let n = 0;
      fake().identity = () => ({ json: { access_token: "tok-1", expires_in: n++ === 0 ? 0 : 3600 } });
      fake().on("POST", LEADS, created);
      const c = client();
      const t0 = Date.now();
      (await c.syncLead({ email: "a@x.com" })).ok.should.be.true();
      fake().identityCalls.should.equal(2);
      (Date.now() - t0).should.be.aboveOrEqual(950);
    });

    for (const code of ["601", "602"]) {
      it(`${code}: fetches a new token (bypassing the cache) and retries the call once`, async () => {
        fake().on("POST", LEADS, created, { json: failure(code, "Access token invalid") });
        const c = client();
        const r = await c.syncLead({ email: "a@x.com" });
        r.ok.should.be.true();
        fake().identityCalls.should.equal(2);
        fake().api(LEADS).length.should.equal(2);
        c.usage().answersByCode[code].should.equal(1);
      });
    }

    it("a second 601/602 is an auth failure (no loop) and the state says auth-failed", async () => {
      fake().on("POST", LEADS, () => ({ json: failure("602", "Access token expired") }));
      const c = client();
      const states: string[] = [];
      c.on("state", (s) => states.push(s.state));
      const r = await c.syncLead({ email: "a@x.com" });
      r.ok.should.be.false();
      r.error!.category.should.equal("auth");
      r.error!.retryable.should.be.false();
      fake().api(LEADS).length.should.equal(2);
      fake().identityCalls.should.equal(2);
      states.should.containEql("auth-failed");
      c.usage().state.should.equal("auth-failed");
    });

    it("identity 401 fails every record with Marketo's reason, category auth", async () => {
      fake().identity = () => ({
        status: 401,
        json: { error: "invalid_client", error_description: "Bad client credentials" },
      });
      const c = client();
      const rs = await Promise.all([c.syncLead({ email: "a@x.com" }), c.syncLead({ email: "b@x.com" })]);
      for (const r of rs) {
        r.ok.should.be.false();
        r.status.should.equal("failed");
        r.error!.should.be.instanceOf(MarketoError);
        r.error!.code.should.equal("401");
        r.error!.category.should.equal("auth");
        r.error!.message.should.equal("Marketo rejected the client credentials: Bad client credentials");
      }
      fake().api().length.should.equal(0);
      fake().identityCalls.should.equal(1);
    });
  });

  describe("retries", () => {
    const transient: Array<[string, Parameters<FakeMarketo["on"]>[3]]> = [
      ["HTTP 500", { status: 500, text: "Internal Server Error" }],
      ["HTTP 502 HTML page", { status: 502, text: "<html><body><h1>502 Bad Gateway</h1></body></html>" }],
      ["envelope 502", { json: failure("502", "Bad gateway") }],
      ["604", { json: failure("604", "Request timed out") }],
      ["608", { json: failure("608", "API temporarily unavailable") }],
      ["611", { json: failure("611", "System error") }],
      ["713", { json: failure("713", "Transient error") }],
      ["614", { json: failure("614", "Invalid subscription") }],
      ["719", { json: failure("719", "Lock wait timeout") }],
      ["connection reset", "reset"],
    ];
    for (const [name, reply] of transient) {
      it(`${name} is retried, then the record lands`, async () => {
        // 611 gets one retry only (two tries in all); the others survive two failures.
        const replies = name === "611" ? [reply!] : [reply!, reply!];
        fake().on("POST", LEADS, created, ...replies);
        const c = client();
        const r = await c.syncLead({ email: "a@x.com" });
        r.should.containEql({ ok: true, status: "created", id: 1 });
        fake()
          .api(LEADS)
          .length.should.equal(replies.length + 1);
      });
    }

    it("611 is tried at most twice", async () => {
      fake().on("POST", LEADS, created, { json: failure("611") }, { json: failure("611") }, { json: failure("611") });
      const c = client();
      const r = await c.syncLead({ email: "a@x.com" });
      r.ok.should.be.false();
      r.error!.code.should.equal("611");
      fake().api(LEADS).length.should.equal(2);
    });

    it("gives up after retry.maxAttempts with the last error", async () => {
      fake().on("POST", LEADS, () => ({ json: failure("604", "Request timed out") }));
      const c = client({ retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 10 } });
      const r = await c.syncLead({ email: "a@x.com" });
      r.should.containEql({ ok: false, status: "failed" });
      r.error!.should.containEql({ code: "604", category: "marketo", retryable: true });
      fake().api(LEADS).length.should.equal(3);
    });

    for (const [code, category] of [
      ["603", "auth"],
      ["609", "validation"],
      ["610", "validation"],
      ["1003", "validation"],
      ["1006", "validation"],
      ["799", "marketo"],
    ] as const) {
      it(`${code} is not retried (category ${category})`, async () => {
        fake().on("POST", LEADS, () => ({ json: failure(code, "nope") }));
        const c = client();
        const r = await c.syncLead({ email: "a@x.com" });
        r.ok.should.be.false();
        r.error!.should.containEql({ code, category, retryable: false, operation: "syncLeads" });
        should(r.error!.requestId).be.a.String();
        fake().api(LEADS).length.should.equal(1);
      });
    }

    it("a call that never answers times out as a network error", async () => {
      fake().on("POST", LEADS, () => "hang");
      const c = client({ requestTimeoutMs: 150, retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 } });
      const r = await c.syncLead({ email: "a@x.com" });
      r.ok.should.be.false();
      r.error!.should.containEql({ code: "ETIMEDOUT", category: "network", action: "retry", retryable: true });
      fake().api(LEADS).length.should.equal(2);
    });

    it("an unreachable host is a network error", async () => {
      const c = client({ endpoint: "http://127.0.0.1:1", retry: { maxAttempts: 1, baseDelayMs: 5, maxDelayMs: 5 } });
      const r = await c.syncLead({ email: "a@x.com" });
      r.error!.should.containEql({ code: "ECONNREFUSED", category: "network" });
    });
  });

  describe("rate limits and quota", () => {
    it("606 pauses the whole client with growing, spaced back-offs (no tight loop)", async () => {
      fake().on(
        "POST",
        LEADS,
        created,
        { json: failure("606", "Max rate limit '100' exceeded with in '20' secs") },
        {
          json: failure("606", "Max rate limit '100' exceeded with in '20' secs"),
        },
      );
      const c = client({ windowMs: 400 });
      const states: StateEvent[] = [];
      c.on("state", (s) => states.push(s));
      const r = await c.syncLead({ email: "a@x.com" });
      r.ok.should.be.true();
      const at = fake()
        .api(LEADS)
        .map((q) => q.at);
      at.length.should.equal(3);
      (at[1] - at[0]).should.be.aboveOrEqual(75); // ≈ window/4 (±20 %)
      (at[2] - at[1]).should.be.aboveOrEqual(150); // doubled
      states.map((s) => s.state).should.containEql("rate-limited");
      should(states.find((s) => s.state === "rate-limited")!.resumesAt).be.a.String();
      c.usage().answersByCode["606"].should.equal(2);
      c.usage().state.should.equal("ok");
    });

    it("other calls wait during a 606 pause instead of hammering", async () => {
      let first = true;
      fake().on("POST", LEADS, (req) => {
        if (first) {
          first = false;
          return { json: failure("606", "Max rate limit") };
        }
        return created(req);
      });
      fake().on("GET", "/rest/v1/leads/describe2.json", () => ({ json: envelope([{}]) }));
      const c = client({ windowMs: 800 });
      const sync = c.syncLead({ email: "a@x.com" });
      await until(() => c.state().state === "rate-limited", "the 606 pause");
      await c.describeLeads();
      // Held behind the pause: it reached Marketo at least 160 ms after the 606.
      const [rejected] = fake().api(LEADS);
      const [described] = fake().api("/rest/v1/leads/describe2.json");
      (described.at - rejected.at).should.be.aboveOrEqual(150);
      (await sync).ok.should.be.true();
    });

    it("606 that never clears fails after maxRateLimitWaitMs with category rate-limit, retryable", async () => {
      fake().on("POST", LEADS, () => ({ json: failure("606", "Max rate limit") }));
      const c = client({ windowMs: 200, maxRateLimitWaitMs: 600 });
      const t = Date.now();
      const r = await c.syncLead({ email: "a@x.com" });
      r.ok.should.be.false();
      r.error!.should.containEql({ code: "606", category: "rate-limit", retryable: true });
      // It waited until the next pause (at most one window) would pass maxRateLimitWaitMs, and gave
      // up then rather than sleep past it (a few calls, not a loop till the timeout).
      (Date.now() - t).should.be.aboveOrEqual(600 - 200);
      r.error!.message.should.match(/gave up after waiting/);
      fake().api(LEADS).length.should.be.within(2, 8);
    });

    it("615 waits 1–3 s and retries", async () => {
      fake().on("POST", LEADS, created, { json: failure("615", "Concurrent access limit '10' reached") });
      const c = client();
      const r = await c.syncLead({ email: "a@x.com" });
      r.ok.should.be.true();
      const at = fake()
        .api(LEADS)
        .map((q) => q.at);
      (at[1] - at[0]).should.be.within(950, 3500);
    });

    it("607 pauses every call until a probe succeeds; state quota with resumesAt = next midnight Chicago", async () => {
      fake().on(
        "POST",
        LEADS,
        created,
        { json: failure("607", "Daily quota reached") },
        { json: failure("607", "Daily quota reached") },
      );
      const c = client({ quotaProbeIntervalMs: 200 });
      const states: StateEvent[] = [];
      c.on("state", (s) => states.push(s));
      const r1 = c.syncLead({ email: "a@x.com" });
      await until(() => c.usage().state === "quota", "the quota state");
      const resumesAt = new Date(c.usage().resumesAt!);
      (resumesAt.getTime() - Date.now()).should.be.within(0, 25 * 3600_000);
      const r2 = c.syncLead({ email: "b@x.com" });
      (await r1).ok.should.be.true();
      (await r2).ok.should.be.true();
      const at = fake()
        .api(LEADS)
        .map((q) => q.at);
      (at[1] - at[0]).should.be.aboveOrEqual(190); // the probe waited for the interval
      (at[2] - at[1]).should.be.aboveOrEqual(190);
      states.map((s) => s.state).should.containEql("quota");
      c.usage().state.should.equal("ok");
    });
  });

  describe("try now during a quota pause", () => {
    it("sends the waiting call as the probe at once, not after the probe interval", async () => {
      fake().on("POST", LEADS, created, { json: failure("607", "Daily quota reached") });
      const c = client({ quotaProbeIntervalMs: 3_600_000 });
      const first = c.syncLead({ email: "a@x.com" });
      await until(() => c.usage().state === "quota", "the quota pause");
      const second = c.syncLead({ email: "b@x.com" });
      c.tryNow().should.be.true();
      // Without tryNow the probe would wait an hour; the mocha timeout is far shorter.
      (await first).ok.should.be.true();
      (await second).ok.should.be.true();
      c.usage().state.should.equal("ok");
      c.tryNow().should.be.false();
    });
  });

  describe("daily budget", () => {
    it("when the budget is used, calls wait (state quota) instead of failing; refused calls do not count", async () => {
      fake().on("GET", "/rest/v1/leads/describe2.json", () => ({ json: envelope([{}]) }), {
        json: failure("1003", "refused"),
      });
      const c = client({ dailyBudget: 2, closeTimeoutMs: 200 });
      await c.describeLeads().then(
        () => {
          throw new Error("should fail");
        },
        (e: MarketoError) => e.code.should.equal("1003"),
      );
      await c.describeLeads(); // the refused call gave its unit back
      await c.describeLeads();
      c.usage().callsToday.should.equal(2);
      let settled = false;
      const third = c.describeLeads().then(
        () => (settled = true),
        (e: MarketoError) => e,
      );
      await new Promise((r) => setTimeout(r, 150));
      settled.should.be.false();
      fake().api().length.should.equal(3);
      c.usage().state.should.equal("quota");
      await c.close();
      const e = (await third) as MarketoError;
      e.should.containEql({ code: "CLIENT_CLOSED", retryable: true });
    });
  });

  describe("request shapes", () => {
    it("HTTP 413 splits the batch in two and results still line up", async () => {
      fake().on("POST", LEADS, (req) => {
        const input = (req.json as { input: Array<{ email: string }> }).input;
        if (input.length > 2) return { status: 413, text: "Request Entity Too Large" };
        return { json: envelope(input.map((l) => ({ id: Number(l.email.slice(1, 2)), status: "updated" }))) };
      });
      const c = client();
      const rs = await c.syncLeads(Array.from({ length: 7 }, (_, i) => ({ email: `u${i}@x.com` })));
      rs.map((r) => r.id).should.eql([0, 1, 2, 3, 4, 5, 6]);
      rs.every((r) => r.ok && r.status === "updated").should.be.true();
    });

    it("HTTP 414 is resent as POST with _method=GET and a form body", async () => {
      fake().on("GET", LEADS, () => ({ json: envelope([{ id: 7, email: "a@x.com" }]) }), {
        status: 414,
        text: "URI Too Long",
      });
      const c = client();
      const leads = await c.getLeadsByFilter("email", ["a@x.com"], ["id", "email"]);
      leads.should.eql([{ id: 7, email: "a@x.com" }]);
      const [first, second] = fake().api(LEADS);
      first.method.should.equal("GET");
      second.method.should.equal("POST");
      second.headers["content-type"]!.should.match(/application\/x-www-form-urlencoded/);
      second.form!.get("_method")!.should.equal("GET");
      second.form!.get("filterValues")!.should.equal("a@x.com");
      second.form!.get("fields")!.should.equal("id,email");
    });

    it("a GET longer than ~7 KB goes straight out as POST _method=GET", async () => {
      fake().on("GET", LEADS, () => ({ json: envelope([]) }));
      const c = client();
      const emails = Array.from({ length: 300 }, (_, i) => `a-rather-long-address-number-${i}@example.com`);
      (await c.getLeadsByFilter("email", emails)).should.eql([]);
      const reqs = fake().api(LEADS);
      reqs.length.should.equal(1);
      reqs[0].method.should.equal("POST");
      reqs[0].form!.get("filterValues")!.split(",").length.should.equal(300);
    });

    it("follows nextPageToken", async () => {
      fake().on("GET", LEADS, () => ({ json: envelope([{ id: 2 }]) }), {
        json: envelope([{ id: 1 }], { moreResult: true, nextPageToken: "PAGE2" }),
      });
      const c = client();
      (await c.getLeadsByFilter("id", [1, 2])).should.eql([{ id: 1 }, { id: 2 }]);
      fake().api(LEADS)[1].query.get("nextPageToken")!.should.equal("PAGE2");
    });

    it("sends JSON with the right headers and the documented bodies", async () => {
      fake().on("POST", "/rest/v1/leads/programs/1001/status.json", (req) => ({
        json: envelope(
          (req.json as { input: Array<{ id: number }> }).input.map((i) => ({ id: i.id, status: "updated" })),
        ),
      }));
      fake().on("POST", "/rest/v1/campaigns/55/trigger.json", () => ({ json: envelope([{ id: 55 }]) }));
      const c = client();
      (await c.changeLeadProgramStatus(1001, "Registered", [5, 6])).map((r) => r.id).should.eql([5, 6]);
      const legacy = fake().api("/rest/v1/leads/programs/1001/status.json")[0];
      legacy.json!.should.eql({ status: "Registered", input: [{ id: 5 }, { id: 6 }] });
      legacy.headers["content-type"]!.should.match(/^application\/json/);
      String(legacy.headers["accept-encoding"]).should.match(/gzip/);
      const tokens = [{ name: "{{my.x}}", value: "1" }];
      const rs = await c.triggerCampaign(55, [5, 6], tokens);
      rs.map((r) => r.status).should.eql(["triggered", "triggered"]);
      fake()
        .api("/rest/v1/campaigns/55/trigger.json")[0]
        .json!.should.eql({ input: { leads: [{ id: 5 }, { id: 6 }], tokens } });
    });

    it("asset not-found (success + warning, no result) is undefined / []", async () => {
      const notFound = {
        json: {
          success: true,
          errors: [],
          warnings: ["No assets found for the given search criteria."],
          requestId: "1#2",
        },
      };
      fake().on("GET", "/rest/asset/v1/program/byName.json", () => notFound);
      fake().on("GET", "/rest/asset/v1/channels.json", () => notFound);
      fake().on("GET", "/rest/asset/v1/program/9.json", () => ({ json: failure("702", "No data found") }));
      const c = client();
      should(await c.getProgramByName("Nope")).be.undefined();
      should(await c.getProgram(9)).be.undefined();
      (await c.getChannels()).should.eql([]);
    });
  });

  describe("record-level results", () => {
    it("1037 → ok unchanged; 1004/1025 → skipped with category; seq honoured", async () => {
      fake().on("POST", "/rest/v1/programs/1001/members/status.json", () => ({
        json: envelope([
          { seq: 2, status: "created", leadId: 3 },
          {
            seq: 0,
            status: "skipped",
            reasons: [{ code: "1037", message: "Lead skipped because it is already in or past this status" }],
          },
          { seq: 1, status: "skipped", reasons: [{ code: "1004", message: "Lead not found" }] },
          { seq: 3, status: "updated", leadId: 4 },
        ]),
      }));
      const c = client();
      const rs = await c.syncProgramMemberStatus(1001, "Registered", [1, 2, 3, 4]);
      rs[0].should.containEql({ ok: true, status: "unchanged", id: 1 });
      rs[1].should.containEql({ ok: false, status: "skipped", id: 2 });
      rs[1].error!.should.containEql({
        code: "1004",
        category: "validation",
        retryable: false,
        operation: "syncProgramMemberStatus",
      });
      rs[2].should.containEql({ ok: true, status: "created", id: 3 });
      rs[3].should.containEql({ ok: true, status: "updated", id: 4 });
      fake()
        .api()[0]
        .json!.should.eql({
          statusName: "Registered",
          input: [{ leadId: 1 }, { leadId: 2 }, { leadId: 3 }, { leadId: 4 }],
        });
      c.usage().outcomes.should.containEql({ unchanged: 1, skipped: 1, created: 1, updated: 1 });
    });

    it("custom activities report failures in `errors`", async () => {
      fake().on("POST", "/rest/v1/activities/external.json", () => ({
        json: envelope([
          { id: 50, marketoGUID: "50", status: "added" },
          { status: "skipped", errors: [{ code: "1004", message: "Lead not found" }] },
        ]),
      }));
      const c = client();
      const base = { activityDate: "2026-01-01T00:00:00Z", activityTypeId: 100001, primaryAttributeValue: "Summit" };
      const [a, b] = await Promise.all([
        c.addCustomActivity({ ...base, leadId: 1 }),
        c.addCustomActivity({ ...base, leadId: 2 }),
      ]);
      a.should.containEql({ ok: true, status: "added", marketoGUID: "50", id: 1 });
      b.should.containEql({ ok: false, status: "skipped", id: 2 });
      b.error!.code.should.equal("1004");
      fake().api().length.should.equal(1);
    });

    it("a request-level failure fails every record of the call", async () => {
      fake().on("POST", LEADS, () => ({ json: failure("1006", "Lookup field 'userId' not found") }));
      const c = client();
      const rs = await Promise.all([1, 2, 3].map((i) => c.syncLead({ userId: i }, { lookupField: "userId" })));
      fake().api(LEADS).length.should.equal(1);
      for (const r of rs) r.should.containEql({ ok: false, status: "failed" });
      rs[0].error!.message.should.match(/Lookup field 'userId' not found/);
    });
  });

  describe("secrets", () => {
    it("no error carries the client secret or the token, in message, JSON or stack", async () => {
      const errors: MarketoError[] = [];
      fake().identity = () => ({
        status: 401,
        json: { error: "invalid_client", error_description: `Bad client credentials ${SECRET}` },
      });
      let c = client();
      errors.push((await c.syncLead({ email: "a@x.com" })).error!);
      await c.close();
      fake().identity = () => ({ json: { access_token: "tok-1", expires_in: 3600 } });
      fake().on("POST", LEADS, () => ({ json: failure("1003", `echo Bearer tok-1 client_secret=${SECRET}`) }));
      c = client();
      errors.push((await c.syncLead({ email: "a@x.com" })).error!);
      c = client({ endpoint: "http://127.0.0.1:1", retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
      errors.push((await c.syncLead({ email: "a@x.com" })).error!);
      for (const e of errors) {
        e.should.be.instanceOf(MarketoError);
        for (const text of [e.message, JSON.stringify(e), String(e.stack), JSON.stringify(Object.entries(e))]) {
          text.should.not.containEql(SECRET);
          text.should.not.containEql("tok-1");
        }
        for (const k of ["config", "request", "response", "cause"]) should(Object.keys(e)).not.containEql(k);
      }
    });
  });
});
