/** Smart campaigns and Submit Form, driven through the module routes. */
import should from "should";
import { errorOf, harness, type Harness } from "./emulator-domains-fixture";

type Snapshot = Record<string, any>;

describe("emulator domains: campaigns", () => {
  let h: Harness;
  let ann: number;
  const trigger = (id: number, input: unknown) =>
    h.call("POST", `/rest/v1/campaigns/${id}/trigger.json`, { body: { input } });

  beforeEach(() => {
    h = harness();
    ann = h.lead("ann@example.com");
  });
  afterEach(() => h.reset());

  it("lists and gets campaigns in the lead-DB shape", async () => {
    const list = await h.call("GET", "/rest/v1/campaigns.json");
    list.body.success.should.be.true();
    list.body.result
      .map((c: { id: number; type: string; active: boolean }) => [c.id, c.type, c.active])
      .should.eql([
        [2001, "trigger", true],
        [2002, "batch", false],
        [2003, "trigger", false],
      ]);
    (await h.call("GET", "/rest/v1/campaigns.json?name=Monthly%20newsletter")).body.result
      .map((c: { id: number }) => c.id)
      .should.eql([2002]);
    const one = await h.call("GET", "/rest/v1/campaigns/2001.json");
    one.body.result.should.eql([
      {
        id: 2001,
        name: "Registration confirmation",
        description: "",
        type: "trigger",
        programName: "Kaltura Virtual Summit",
        programId: 1001,
        workspaceName: "Default",
        createdAt: "2024-02-01T10:00:00Z",
        updatedAt: "2024-02-01T10:00:00Z",
        active: true,
      },
    ]);
    errorOf(await h.call("GET", "/rest/v1/campaigns/9.json")).code.should.equal("1013");
  });

  it("triggers an active requestable campaign, answers the campaign id and records the run", async () => {
    const a = await trigger(2001, {
      leads: [{ id: ann }, { id: 424242 }],
      tokens: [{ name: "{{my.message}}", value: "Hi" }],
    });
    a.body.should.eql({ success: true, result: [{ id: 2001 }] });
    const runs = (h.module("campaigns").snapshot() as Snapshot).campaignRuns;
    runs.should.eql([
      {
        runId: 1001,
        type: "trigger",
        campaignId: 2001,
        leadIds: [ann],
        ignoredLeadIds: [424242],
        tokens: [{ name: "{{my.message}}", value: "Hi" }],
        requestedAt: "2026-03-02T10:00:00Z",
      },
    ]);
    const acts = (h.module("activities").snapshot() as Snapshot).activities.filter(
      (x: { activityTypeId: number }) => x.activityTypeId === 47,
    );
    acts
      .map((x: { leadId: number; primaryAttributeValueId: number }) => [x.leadId, x.primaryAttributeValueId])
      .should.eql([[ann, 2001]]);
  });

  it("refuses batch (1003 not a trigger campaign), inactive (1003) and unknown (1013) campaigns", async () => {
    errorOf(await trigger(2002, { leads: [{ id: ann }] })).should.eql({
      code: "1003",
      message: "Campaign is not a trigger campaign",
    });
    errorOf(await trigger(2003, { leads: [{ id: ann }] })).should.eql({
      code: "1003",
      message: "Campaign is not active",
    });
    errorOf(await trigger(2999, { leads: [{ id: ann }] })).code.should.equal("1013");
    ((h.module("campaigns").snapshot() as Snapshot).campaignRuns as unknown[]).length.should.equal(0);
  });

  it("allows 100 leads and 100 tokens, refuses 101 of either with 1003", async () => {
    const leads = (n: number) => Array.from({ length: n }, () => ({ id: ann }));
    const tokens = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `{{my.t${i}}}`, value: String(i) }));
    (await trigger(2001, { leads: leads(100), tokens: tokens(100) })).body.success.should.be.true();
    errorOf(await trigger(2001, { leads: leads(101) })).should.eql({
      code: "1003",
      message: "Too many leads, maximum is 100",
    });
    errorOf(await trigger(2001, { leads: leads(1), tokens: tokens(101) })).should.eql({
      code: "1003",
      message: "Too many tokens, maximum is 100",
    });
  });

  it("requires token names shaped {{my.name}} and leads present", async () => {
    errorOf(
      await trigger(2001, { leads: [{ id: ann }], tokens: [{ name: "my.message", value: "x" }] }),
    ).code.should.equal("1003");
    errorOf(
      await trigger(2001, { leads: [{ id: ann }], tokens: [{ name: "{{lead.firstName}}", value: "x" }] }),
    ).code.should.equal("1003");
    errorOf(await trigger(2001, { leads: [] })).should.eql({ code: "701", message: "leads cannot be blank" });
    errorOf(await h.call("POST", "/rest/v1/campaigns/2001/trigger.json", { body: {} })).code.should.equal("701");
  });

  it("schedules batch campaigns only, at least five minutes out, within two years", async () => {
    (await h.call("POST", "/rest/v1/campaigns/2002/schedule.json", { body: {} })).body.should.eql({
      success: true,
      result: [{ id: 2002 }],
    });
    (
      await h.call("POST", "/rest/v1/campaigns/2002/schedule.json", {
        body: { input: { runAt: "2026-04-01T12:00:00+0000", cloneToProgramName: "Copy" } },
      })
    ).body.success.should.be.true();
    const runs = (h.module("campaigns").snapshot() as Snapshot).campaignRuns;
    runs[0].runAt.should.equal("2026-03-02T10:05:00Z");
    runs[1].should.containDeep({
      type: "schedule",
      campaignId: 2002,
      runAt: "2026-04-01T12:00:00Z",
      cloneToProgramName: "Copy",
    });
    errorOf(await h.call("POST", "/rest/v1/campaigns/2001/schedule.json", { body: {} })).code.should.equal("1003");
    errorOf(
      await h.call("POST", "/rest/v1/campaigns/2002/schedule.json", {
        body: { input: { runAt: "2029-01-01T00:00:00Z" } },
      }),
    ).code.should.equal("1042");
    errorOf(
      await h.call("POST", "/rest/v1/campaigns/2002/schedule.json", { body: { input: { runAt: "next tuesday" } } }),
    ).code.should.equal("704");
  });

  it("allows 20 clones to a program a day (1020 after)", async () => {
    const clone = () =>
      h.call("POST", "/rest/v1/campaigns/2002/schedule.json", { body: { input: { cloneToProgramName: "Copy" } } });
    for (let i = 0; i < 20; i++) (await clone()).body.success.should.be.true();
    errorOf(await clone()).code.should.equal("1020");
    h.clock.now += 24 * 3_600_000;
    (await clone()).body.success.should.be.true();
  });

  it("counts clones per Marketo day (America/Chicago), not per UTC date", async () => {
    const clone = () =>
      h.call("POST", "/rest/v1/campaigns/2002/schedule.json", { body: { input: { cloneToProgramName: "Copy" } } });
    h.clock.now = Date.parse("2026-03-02T23:00:00Z"); // 17:00 CST, March 2
    for (let i = 0; i < 20; i++) (await clone()).body.success.should.be.true();
    h.clock.now = Date.parse("2026-03-03T01:00:00Z"); // a new UTC date, still 19:00 CST March 2
    errorOf(await clone()).code.should.equal("1020");
    h.clock.now = Date.parse("2026-03-03T06:00:00Z"); // 00:00 CST, March 3
    (await clone()).body.success.should.be.true();
  });

  it("declares the permissions of every route", () => {
    h.route("GET", "/rest/v1/campaigns.json").permissions.should.eql(["Read-Only Campaigns", "Read-Write Campaigns"]);
    h.route("GET", "/rest/v1/campaigns/1.json").permissions.should.eql(["Read-Only Campaigns", "Read-Write Campaigns"]);
    h.route("POST", "/rest/v1/campaigns/1/trigger.json").permissions.should.eql(["Read-Write Campaigns"]);
    h.route("POST", "/rest/v1/campaigns/1/schedule.json").permissions.should.eql(["Read-Write Campaigns"]);
  });
});

describe("emulator domains: submit form", () => {
  let h: Harness;
  const submit = (body: unknown) => h.call("POST", "/rest/v1/leads/submitForm.json", { body });
  const fill = {
    leadFormFields: { email: "marge@example.com", firstName: "Marge", company: "Springfield" },
    visitorData: {
      pageURL: "https://example.com/lp",
      queryString: "a=1",
      leadClientIpAddress: "192.0.2.5",
      userAgentString: "Mozilla/5.0",
    },
    cookie: "id:123-ABC-456&token:_mch-example.com-1594662481190-60776",
  };

  beforeEach(() => {
    h = harness();
  });
  afterEach(() => h.reset());

  it("creates the lead, then updates it, and records the fill with its visitor data", async () => {
    const first = await submit({ formId: 3001, input: [fill] });
    first.body.success.should.be.true();
    first.body.result[0].status.should.equal("created");
    const id = first.body.result[0].id;
    h.leads.byId(id)!.should.containDeep({ email: "marge@example.com", firstName: "Marge", company: "Springfield" });
    (
      await submit({
        formId: 3001,
        programId: 1001,
        input: [{ leadFormFields: { email: "marge@example.com", title: "Chief" } }],
      })
    ).body.result.should.eql([{ id, status: "updated" }]);
    const subs = (h.module("forms").snapshot() as Snapshot).formSubmissions;
    subs.length.should.equal(2);
    subs[0].should.containDeep({
      formId: 3001,
      leadId: id,
      status: "created",
      visitorData: fill.visitorData,
      cookie: fill.cookie,
    });
    subs[1].programId.should.equal(1001);
    const acts = (h.module("activities").snapshot() as Snapshot).activities.filter(
      (x: { activityTypeId: number }) => x.activityTypeId === 2,
    );
    acts.length.should.equal(2);
    acts[0].should.containDeep({
      leadId: id,
      primaryAttributeValueId: 3001,
      primaryAttributeValue: "Event registration form",
    });
    acts[0].attributes.should.containDeep([
      { name: "Client IP Address", value: "192.0.2.5" },
      { name: "Referrer URL", value: "https://example.com/lp" },
    ]);
  });

  it("skips a fill without email (1002) or with a field not on the form (1006)", async () => {
    (await submit({ formId: 3001, input: [{ leadFormFields: { firstName: "X" } }] })).body.result.should.eql([
      { status: "skipped", reasons: [{ code: "1002", message: "Missing value for required parameter 'email'" }] },
    ]);
    (
      await submit({ formId: 3001, input: [{ leadFormFields: { email: "x@example.com", leadScore: 5 } }] })
    ).body.result.should.eql([
      { status: "skipped", reasons: [{ code: "1006", message: "Field 'leadScore' not found" }] },
    ]);
    h.leads.all().length.should.equal(0);
  });

  it("takes exactly one input (1003), a known form (1013) and a formId (701)", async () => {
    errorOf(await submit({ formId: 3001, input: [fill, fill] })).code.should.equal("1003");
    errorOf(await submit({ formId: 3002, input: [fill] })).code.should.equal("1013");
    errorOf(await submit({ formId: 3001, programId: 9, input: [fill] })).code.should.equal("1013");
    errorOf(await submit({ input: [fill] })).should.eql({ code: "701", message: "formId cannot be blank" });
    should(h.leads.all().length).equal(0);
  });

  it("needs Read-Write Person", () => {
    h.route("POST", "/rest/v1/leads/submitForm.json").permissions.should.eql(["Read-Write Person"]);
  });
});
