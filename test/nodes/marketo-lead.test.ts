/**
 * marketo-lead through node-red-node-test-helper against the BUILT node and the emulator:
 * Create/Update lead, Trigger campaign and Form post reach Marketo (checked in the emulator's
 * state), every failure reaches output 2 and Catch with its category, status, close during a
 * batch, and the bulk switch.
 */
import should from "should";
import helper = require("node-red-node-test-helper");
import marketoConfig = require("../../nodes/marketo-config");
import marketoLead = require("../../nodes/marketo-lead");
import type { EmulatorHandle } from "../../src/emulator";
import type { MarketoConfigNode } from "../../src/lib/node-kit/marketo-config-api";
import { editorDefaults } from "../helpers/editor-defaults";
import { CONFIG_ID, configNode, credentials, emulator, lastStatus, spied, until, unloadAfterEach, type Msg } from "../helpers/marketo-flow";

helper.init(require.resolve("node-red"));

const SINKS = ["ok", "bad", "caught", "completed"] as const;
type Got = Record<(typeof SINKS)[number], Msg[]>;

/** One tab: the config, marketo-lead nodes (wired to ok/bad), Catch and Complete for all. */
type FlowNode = { id: string; type: string; [key: string]: unknown };

function flow(emu: EmulatorHandle, leads: Array<Record<string, unknown>>, cfg: Record<string, unknown> = {}): FlowNode[] {
  return [
    { id: "tab", type: "tab", label: "test" },
    { ...configNode(emu, cfg), id: CONFIG_ID, type: "marketo-config", z: "tab" },
    ...leads.map((l, i) => ({ z: "tab", name: "", marketo: CONFIG_ID, wires: [["ok"], ["bad"]], ...l, id: `lead${i === 0 ? "" : i + 1}`, type: "marketo-lead" })),
    { id: "ok", z: "tab", type: "helper" },
    { id: "bad", z: "tab", type: "helper" },
    { id: "c", z: "tab", type: "catch", scope: null, uncaught: false, wires: [["caught"]] },
    { id: "caught", z: "tab", type: "helper" },
    { id: "d", z: "tab", type: "complete", scope: leads.map((_, i) => `lead${i === 0 ? "" : i + 1}`), uncaught: false, wires: [["completed"]] },
    { id: "completed", z: "tab", type: "helper" },
  ];
}

function collect(): Got {
  const got = { ok: [], bad: [], caught: [], completed: [] } as Got;
  for (const id of SINKS) helper.getNode(id).on("input", (m: Msg) => got[id].push(m));
  return got;
}

const config = (): MarketoConfigNode => helper.getNode(CONFIG_ID) as unknown as MarketoConfigNode;
const leadsIn = (emu: EmulatorHandle): Array<Record<string, any>> => emu.state().leads as unknown as Array<Record<string, any>>;
const leadByEmail = (emu: EmulatorHandle, email: string): Record<string, any> | undefined => leadsIn(emu).find((l) => l.email === email);
const send = (id: string, msg: Msg): void => spied(id).receive(msg);

describe("marketo-lead node", function () {
  this.timeout(30_000);
  let emu: EmulatorHandle | undefined;

  unloadAfterEach(() => emu);

  describe("Create/Update lead", () => {
    it("creates leads in shared calls, answers each message, caches the ids and counts them in the status", async () => {
      emu = await emulator();
      await helper.load([marketoConfig, marketoLead], flow(emu, [{}]), credentials(emu));
      const got = collect();
      send("lead", { payload: { email: "ada@example.com", firstName: "Ada" } });
      send("lead", { payload: { email: "grace@example.org", firstName: "Grace" }, marketo: { programStatus: { name: "Registered" } } });
      send("lead", { payload: [{ email: "alan@example.com" }, { email: "edsger@example.nl" }] });
      await until(() => got.ok.length === 4, "4 accepted records");
      got.bad.should.have.length(0);
      got.ok.map((m) => m.payload.email).sort().should.eql(["ada@example.com", "alan@example.com", "edsger@example.nl", "grace@example.org"]);
      for (const m of got.ok) {
        m.marketo.status.should.equal("created");
        m.marketo.leadId.should.equal(leadByEmail(emu, m.payload.email)!.id);
        m.marketo.requestId.should.be.a.String();
        should(config().leadIds.get("email", m.payload.email)).equal(m.marketo.leadId);
      }
      // What an earlier node put in msg.marketo stays.
      got.ok.find((m) => m.payload.email === "grace@example.org")!.marketo.programStatus.should.eql({ name: "Registered" });
      leadByEmail(emu, "ada@example.com")!.firstName.should.equal("Ada");
      // Four records, one Sync Leads call: the batch window put them together.
      emu.stats().callsByRoute["POST /rest/v1/leads.json"].should.equal(1);
      await until(() => got.completed.length === 3, "done() for the 3 messages");
      await until(() => lastStatus("lead")?.text === "marketo-lead.status.sent 4", "status sent 4");
      lastStatus("lead")!.fill!.should.equal("green");

      send("lead", { payload: { email: "ada@example.com", lastName: "Lovelace" } });
      await until(() => got.ok.length === 5, "the update");
      got.ok[4].marketo.status.should.equal("updated");
      leadByEmail(emu, "ada@example.com")!.lastName.should.equal("Lovelace");
    });

    it("a node with the editor's defaults creates or updates by email", async () => {
      emu = await emulator();
      const defaults = editorDefaults("marketo-lead");
      defaults.should.containDeep({ action: "sync", syncAction: "createOrUpdate", lookupField: "email", bulkThreshold: 5000, tokens: "tokens", tokensType: "msg", raiseErrors: true });
      await helper.load([marketoConfig, marketoLead], flow(emu, [{ ...defaults, marketo: CONFIG_ID }]), credentials(emu));
      const got = collect();
      send("lead", { payload: { email: "ada@example.com" } });
      await until(() => got.ok.length === 1, "the lead");
      got.ok[0].marketo.status.should.equal("created");
      await until(() => lastStatus("lead")?.text === "marketo-lead.status.sent 1", "status sent 1");
    });

    it("createOnly on an existing lead leaves on output 2 with code 1005 and reaches Catch", async () => {
      emu = await emulator();
      await helper.load([marketoConfig, marketoLead], flow(emu, [{}, { syncAction: "createOnly", wires: [["ok"], ["bad"]] }]), credentials(emu));
      const got = collect();
      send("lead", { payload: { email: "ada@example.com" } });
      await until(() => got.ok.length === 1, "the lead");
      send("lead2", { payload: { email: "ada@example.com", firstName: "Twice" } });
      await until(() => got.bad.length === 1 && got.caught.length === 1, "the refused record");
      const err = got.bad[0].marketo.error;
      err.code.should.equal("1005");
      err.category.should.equal("validation");
      err.retryable.should.be.false();
      got.bad[0].marketo.status.should.equal("skipped");
      got.caught[0].error.message.should.startWith("MarketoError: marketo-lead: validation:");
      should(leadByEmail(emu, "ada@example.com")!.firstName).not.equal("Twice");
      await until(() => /failed 1/.test(lastStatus("lead2")?.text ?? ""), "status with the failure");
      lastStatus("lead2")!.fill!.should.equal("yellow");
    });
  });

  describe("field ownership (msg.marketo.fieldUpdates)", () => {
    it("keeps what Marketo has for 'never' and for non-blank 'ifBlank' fields, with one lookup per batch", async () => {
      emu = await emulator();
      await helper.load([marketoConfig, marketoLead], flow(emu, [{}]), credentials(emu));
      const got = collect();
      await config().getClient().syncLeads([{ email: "owned@example.com", company: "Acme", title: "CTO", leadSource: "" }]);
      const fieldUpdates = { company: "ifBlank", leadSource: "ifBlank", title: "never", firstName: "overwrite" };
      send("lead", {
        payload: [
          { email: "owned@example.com", company: "New Co", leadSource: "Event", title: "Dev", firstName: "Ada" },
          { email: "fresh@example.com", company: "Fresh Co", leadSource: "Event", title: "Dev" },
        ],
        marketo: { fieldUpdates },
      });
      await until(() => got.ok.length === 2, "both records");
      got.bad.should.have.length(0);
      const owned = leadByEmail(emu, "owned@example.com")!;
      [owned.company, owned.title, owned.leadSource, owned.firstName].should.eql(["Acme", "CTO", "Event", "Ada"]);
      const fresh = leadByEmail(emu, "fresh@example.com")!;
      [fresh.company, fresh.title, fresh.leadSource].should.eql(["Fresh Co", "Dev", "Event"]);
      const byEmail = Object.fromEntries(got.ok.map((m) => [m.payload.email, m.marketo]));
      byEmail["owned@example.com"].fieldsKept.should.eql(["company", "title"]);
      should(byEmail["fresh@example.com"].fieldsKept).be.undefined();
      // The record in msg.payload is what the flow sent, not what Marketo kept.
      got.ok.find((m) => m.payload.email === "owned@example.com")!.payload.company.should.equal("New Co");
      emu.stats().callsByRoute["GET /rest/v1/leads.json"].should.equal(1);
      // A record without such rows costs no lookup.
      send("lead", { payload: { email: "plain@example.com", company: "Plain" } });
      await until(() => got.ok.length === 3, "plain");
      emu.stats().callsByRoute["GET /rest/v1/leads.json"].should.equal(1);
    });

    it("refuses a bad policy, and a lookup field other than email", async () => {
      emu = await emulator();
      await helper.load([marketoConfig, marketoLead], flow(emu, [{}, { lookupField: "externalId", wires: [["ok"], ["bad"]] }]), credentials(emu));
      const got = collect();
      send("lead", { payload: { email: "a@example.com", company: "A" }, marketo: { fieldUpdates: { company: "sometimes" } } });
      send("lead2", { payload: { email: "b@example.com", externalId: "x-1", company: "B" }, marketo: { fieldUpdates: { company: "never" } } });
      await until(() => got.bad.length === 2, "two refusals");
      const messages = got.bad.map((m) => m.marketo.error.message).sort();
      messages[0].should.match(/need the lookup field email, not externalId/);
      messages[1].should.match(/fieldUpdates.company must be "overwrite", "ifBlank" or "never"/);
      leadsIn(emu).should.have.length(0);
    });
  });

  describe("Trigger campaign", () => {
    it("requests the node's campaign with My Tokens; msg.campaignId wins over the node's", async () => {
      emu = await emulator();
      const trigger = { action: "trigger", campaignId: "2001", tokens: "tokens", tokensType: "msg", wires: [["ok"], ["bad"]] };
      await helper.load([marketoConfig, marketoLead], flow(emu, [{}, trigger, { ...trigger, campaignId: "2003" }]), credentials(emu));
      const got = collect();
      send("lead", { payload: [{ email: "ada@example.com" }, { email: "grace@example.org" }] });
      await until(() => got.ok.length === 2, "two leads");
      const ada = leadByEmail(emu, "ada@example.com")!.id;
      const grace = leadByEmail(emu, "grace@example.org")!.id;
      // The ids come from the cache marketo-lead filled: no lookup call is made.
      send("lead2", { payload: { email: "ada@example.com" }, tokens: { "Event Name": "Summit", seats: 40 } });
      send("lead2", { payload: { email: "grace@example.org" }, tokens: [{ name: "{{my.Event Name}}", value: "Summit" }, { name: "my.seats", value: "40" }] });
      // Node 3 defaults to the inactive 2003; the message names the active 2001.
      send("lead3", { payload: { email: "ada@example.com" }, campaignId: "2001" });
      await until(() => got.ok.length === 5, "three triggered");
      got.bad.should.have.length(0);
      const triggered = got.ok.slice(2);
      for (const m of triggered) {
        m.marketo.status.should.equal("triggered");
        m.marketo.campaignId.should.equal(2001);
      }
      triggered.map((m) => m.marketo.leadId).sort().should.eql([ada, grace, ada].sort());
      const runs = (emu.state() as any).campaigns.campaignRuns as Array<{ campaignId: number; leadIds: number[]; tokens: unknown[] }>;
      const withTokens = runs.filter((r) => r.tokens.length > 0);
      // Same tokens written two ways: one call for both leads.
      withTokens.should.have.length(1);
      withTokens[0].campaignId.should.equal(2001);
      withTokens[0].leadIds.slice().sort().should.eql([ada, grace].sort());
      withTokens[0].tokens.should.eql([
        { name: "{{my.Event Name}}", value: "Summit" },
        { name: "{{my.seats}}", value: "40" },
      ]);
      runs.filter((r) => r.tokens.length === 0).map((r) => r.leadIds).should.eql([[ada]]);
      should(emu.stats().callsByRoute["GET /rest/v1/leads.json"]).be.undefined();
    });

    it("duplicate leads: oldest created gets the campaign, and msg.marketo names the matches", async () => {
      emu = await emulator();
      await helper.load([marketoConfig, marketoLead], flow(emu, [{ action: "trigger", campaignId: "2001", duplicates: "oldest" }]), credentials(emu));
      const got = collect();
      const client = config().getClient();
      const [a] = await client.syncLeads([{ email: "twin@example.com" }], { action: "createDuplicate" });
      const [b] = await client.syncLeads([{ email: "twin@example.com" }], { action: "createDuplicate" });
      send("lead", { payload: { email: "twin@example.com" } });
      await until(() => got.ok.length === 1, "triggered");
      got.ok[0].marketo.should.containDeep({ leadId: a.id, duplicates: { policy: "oldest", leadIds: [b.id, a.id] } });
      const runs = (emu.state() as any).campaigns.campaignRuns as Array<{ leadIds: number[] }>;
      runs.map((r) => r.leadIds).should.eql([[a.id]]);
    });

    it("the campaign from an event question (Campaign from: event.), else the node's", async () => {
      emu = await emulator();
      const trigger = { action: "trigger", campaignId: "2003", campaignFrom: "event.questions.marketoCampaignId", campaignFromType: "event", wires: [["ok"], ["bad"]] };
      await helper.load([marketoConfig, marketoLead], flow(emu, [{}, trigger]), credentials(emu));
      const got = collect();
      send("lead", { payload: { email: "ada@example.com" } });
      await until(() => got.ok.length === 1, "the lead");
      // field-mapper put the event in msg.source: the question names the active 2001.
      send("lead2", { payload: { email: "ada@example.com" }, source: { event: { questions: { marketoCampaignId: "2001" } } } });
      await until(() => got.ok.length === 2, "triggered from the question");
      got.ok[1].marketo.should.containDeep({ status: "triggered", campaignId: 2001 });
      // No question: the node's (inactive) 2003, which Marketo refuses.
      send("lead2", { payload: { email: "ada@example.com" }, source: { event: {} } });
      await until(() => got.bad.length === 1, "the node's campaign");
      got.bad[0].marketo.campaignId.should.equal(2003);
      send("lead2", { payload: { email: "ada@example.com" }, source: { event: { questions: { marketoCampaignId: "x1" } } } });
      await until(() => got.bad.length === 2, "a bad question");
      got.bad[1].marketo.error.message.should.match(/the campaign id "x1" in event\.event\.questions\.marketoCampaignId is not a positive whole number/);
    });

    it("Create/Update lead then requests the campaign for the synced lead, checking the campaign first", async () => {
      emu = await emulator();
      const both = { action: "sync", campaignAfterSync: true, campaignId: "2001", wires: [["ok"], ["bad"]] };
      await helper.load([marketoConfig, marketoLead], flow(emu, [both, { ...both, campaignId: "" }]), credentials(emu));
      const got = collect();
      send("lead", { payload: { email: "new@example.com", firstName: "New" } });
      await until(() => got.ok.length === 1, "synced and requested");
      const id = leadByEmail(emu, "new@example.com")!.id;
      got.ok[0].marketo.should.containDeep({ status: "created", leadId: id, campaignId: 2001, campaign: { status: "triggered" } });
      const runs = () => (emu!.state() as any).campaigns.campaignRuns as Array<{ campaignId: number; leadIds: number[] }>;
      runs().should.containDeep([{ campaignId: 2001, leadIds: [id] }]);
      should(emu.stats().callsByRoute["GET /rest/v1/leads.json"]).be.undefined();
      // No campaign anywhere: nothing is sent.
      send("lead2", { payload: { email: "none@example.com" } });
      await until(() => got.bad.length === 1, "no campaign");
      got.bad[0].marketo.error.should.containDeep({ category: "validation" });
      got.bad[0].marketo.error.message.should.match(/no campaign id/);
      should(leadByEmail(emu, "none@example.com")).be.undefined();
      // The message's campaign wins; an inactive one fails the record after the sync.
      send("lead", { payload: { email: "late@example.com" }, campaignId: 2003 });
      await until(() => got.bad.length === 2, "inactive campaign");
      should(leadByEmail(emu, "late@example.com")).be.ok();
      got.bad[1].marketo.should.containDeep({ campaignId: 2003, campaign: { status: "failed" } });
    });

    it("a replayed message is synced but requests no campaign after Create/Update lead", async () => {
      emu = await emulator();
      const both = { action: "sync", campaignAfterSync: true, campaignId: "2001", wires: [["ok"], ["bad"]] };
      await helper.load([marketoConfig, marketoLead], flow(emu, [both]), credentials(emu));
      const got = collect();
      const replay = { id: "r1", requestedAt: new Date().toISOString(), suppressCampaigns: true };
      send("lead", { payload: { email: "replayed@example.com", firstName: "Fixed" }, replay });
      await until(() => got.ok.length === 1, "synced");
      const id = leadByEmail(emu, "replayed@example.com")!.id;
      got.ok[0].marketo.should.containDeep({ status: "created", leadId: id });
      should(got.ok[0].marketo.campaign).be.undefined();
      const runs = (emu.state() as any).campaigns.campaignRuns as Array<{ campaignId: number; leadIds: number[] }>;
      runs.some((r) => r.leadIds.includes(id)).should.be.false();
      // A replay that asks for its campaigns gets them.
      send("lead", { payload: { email: "replayed@example.com" }, replay: { ...replay, suppressCampaigns: false } });
      await until(() => got.ok.length === 2, "synced and requested");
      got.ok[1].marketo.should.containDeep({ campaign: { status: "triggered" } });
    });

    it("a batch or inactive campaign fails on output 2 with category validation", async () => {
      emu = await emulator();
      await helper.load([marketoConfig, marketoLead], flow(emu, [{ action: "trigger", campaignId: "2003", createMissing: true }]), credentials(emu));
      const got = collect();
      send("lead", { payload: { email: "ada@example.com" }, campaignId: 2002 });
      send("lead", { payload: { email: "grace@example.org" } });
      await until(() => got.bad.length === 2 && got.caught.length === 2, "two failures");
      const byCampaign = Object.fromEntries(got.bad.map((m) => [m.marketo.campaignId, m.marketo.error]));
      byCampaign[2002].code.should.equal("1003");
      byCampaign[2002].category.should.equal("validation");
      byCampaign[2002].message.should.match(/not a trigger campaign/);
      byCampaign[2003].code.should.equal("1003");
      byCampaign[2003].message.should.match(/not active/);
      // "Create missing leads" made the leads before the campaign was refused.
      should(leadByEmail(emu, "ada@example.com")).be.ok();
      got.bad.forEach((m) => m.marketo.leadId.should.equal(leadByEmail(emu!, m.payload.email)!.id));
      got.caught.forEach((m) => m.error.message.should.startWith("MarketoError: marketo-lead: validation:"));
    });

    it("refuses a bad campaign id, bad tokens and an unknown lead as validation failures", async () => {
      emu = await emulator();
      await helper.load([marketoConfig, marketoLead], flow(emu, [{ action: "trigger", campaignId: "2001", tokens: "tokens", tokensType: "msg" }]), credentials(emu));
      const got = collect();
      send("lead", { payload: { email: "ada@example.com" }, campaignId: "summit", _n: 1 });
      send("lead", { payload: { email: "ada@example.com" }, tokens: "Event Name=Summit", _n: 2 });
      send("lead", { payload: { email: "ada@example.com" }, tokens: { a: { nested: true } }, _n: 3 });
      send("lead", { payload: { email: "nobody@example.com" }, _n: 4 });
      send("lead", { payload: "ada@example.com", _n: 5 });
      await until(() => got.bad.length === 5 && got.caught.length === 5, "five refusals");
      const byN: Record<number, Msg> = Object.fromEntries(got.bad.map((m) => [m._n, m.marketo.error]));
      for (const e of Object.values(byN)) {
        e.category.should.equal("validation");
        e.code.should.equal("INVALID_INPUT");
      }
      byN[1].message.should.match(/the campaign id "summit" in msg.campaignId is not a positive whole number/);
      byN[2].message.should.match(/msg.tokens must be an object/);
      byN[3].message.should.match(/msg.tokens: the value of \{\{my.a\}\}/);
      byN[4].message.should.match(/no lead has the email nobody@example.com/);
      byN[5].message.should.match(/msg.payload must be a lead record/);
      got.ok.should.have.length(0);
      ((emu.state() as any).campaigns.campaignRuns as unknown[]).should.have.length(0);
    });
  });

  describe("Form post", () => {
    it("posts form 3001 with visitor data and cookie, creating the lead and caching its id", async () => {
      emu = await emulator();
      await helper.load(
        [marketoConfig, marketoLead],
        flow(emu, [{ action: "form", formId: "3001", visitorData: "visit", visitorDataType: "msg", cookie: "cookie", cookieType: "msg" }]),
        credentials(emu),
      );
      const got = collect();
      send("lead", {
        payload: { email: "ada@example.com", firstName: "Ada", lastName: "Lovelace" },
        visit: { pageURL: "https://events.example.com/summit", leadClientIpAddress: "10.1.2.3" },
        cookie: "id:123-ABC-456&token:_mch-example.com-1",
      });
      await until(() => got.ok.length === 1, "the form post");
      const m = got.ok[0];
      m.marketo.formId.should.equal(3001);
      ["created", "updated"].should.containEql(m.marketo.status);
      const lead = leadByEmail(emu, "ada@example.com")!;
      m.marketo.leadId.should.equal(lead.id);
      should(config().leadIds.get("email", "ADA@example.com")).equal(lead.id);
      const sub = ((emu.state() as any).forms.formSubmissions as Array<Record<string, any>>)[0];
      sub.formId.should.equal(3001);
      sub.visitorData.should.eql({ pageURL: "https://events.example.com/summit", leadClientIpAddress: "10.1.2.3" });
      sub.cookie.should.equal("id:123-ABC-456&token:_mch-example.com-1");
    });

    it("a record without email, or a bad form id, fails on output 2 and Catch", async () => {
      emu = await emulator();
      await helper.load([marketoConfig, marketoLead], flow(emu, [{ action: "form", formId: "3001" }]), credentials(emu));
      const got = collect();
      send("lead", { payload: { firstName: "Ada" }, _n: 1 });
      send("lead", { payload: { email: "ada@example.com" }, formId: "x", _n: 2 });
      send("lead", { payload: { email: "ada@example.com" }, visitorData: "https://x.test", _n: 3 });
      await until(() => got.bad.length === 3 && got.caught.length === 3, "three refusals");
      const byN: Record<number, Msg> = Object.fromEntries(got.bad.map((m) => [m._n, m.marketo.error]));
      byN[1].message.should.match(/needs the lead's email in msg.payload.email/);
      byN[2].message.should.match(/the form id "x" in msg.formId/);
      byN[3].message.should.match(/msg.visitorData must be an object/);
      Object.values(byN).forEach((e) => e.category.should.equal("validation"));
      ((emu.state() as any).forms.formSubmissions as unknown[]).should.have.length(0);
    });
  });

  describe("forms by name (dialog routes)", () => {
    it("lists the forms of the chosen connection and a form's fields; refuses what it cannot answer", async () => {
      emu = await emulator();
      await helper.load([marketoConfig, marketoLead], flow(emu, [{ action: "form" }]), credentials(emu));
      const forms = await helper.request().get("/marketo-lead/forms").query({ config: CONFIG_ID }).expect(200);
      forms.body.ok.should.be.true();
      forms.body.forms.should.containDeep([{ name: "Event registration form", status: "approved" }]);
      const id = forms.body.forms[0].id as number;
      const fields = await helper.request().get(`/marketo-lead/forms/${id}/fields`).query({ config: CONFIG_ID }).expect(200);
      fields.body.fields.map((f: { id: string }) => f.id).should.eql(["email", "firstName", "lastName", "company", "title", "phone", "country"]);
      fields.body.fields[0].should.containDeep({ id: "email", required: true });
      // An unknown form has no fields (Marketo's 702 "no assets"); a bad id or no connection: validation.
      (await helper.request().get("/marketo-lead/forms/999/fields").query({ config: CONFIG_ID }).expect(200)).body.fields.should.eql([]);
      (await helper.request().get("/marketo-lead/forms/x/fields").query({ config: CONFIG_ID }).expect(400)).body.error.category.should.equal("validation");
      (await helper.request().get("/marketo-lead/forms").query({ config: "nope" }).expect(400)).body.error.message.should.match(/not deployed yet/);
      emu.stats().callsByRoute["GET /rest/asset/v1/forms.json"].should.equal(1);
    });
  });

  describe("errors", () => {
    it("a payload that is not a record, and an invalid node setting, are validation failures", async () => {
      emu = await emulator();
      await helper.load([marketoConfig, marketoLead], flow(emu, [{}, { action: "trigger", campaignId: "abc", wires: [["ok"], ["bad"]] }]), credentials(emu));
      const got = collect();
      send("lead", { payload: "ada@example.com" });
      send("lead", { payload: { firstName: "no email" } });
      send("lead2", { payload: { email: "ada@example.com" } });
      await until(() => got.bad.length === 3 && got.caught.length === 3, "three failures");
      const messages = got.bad.map((m) => m.marketo.error.message).join("\n");
      messages.should.match(/msg.payload must be an object of Marketo lead fields, got "ada@example.com"/);
      messages.should.match(/no value for the lookup field email/);
      messages.should.match(/not configured correctly: campaign id "abc" is not a positive whole number/);
      got.bad.forEach((m) => m.marketo.error.category.should.equal("validation"));
      lastStatus("lead2")!.should.eql({ fill: "red", shape: "ring", text: "marketo-lead.status.badConfig" });
      spied("lead2").error.calledWithMatch(/campaign id "abc"/).should.be.true();
      leadsIn(emu).should.have.length(0);
    });

    it("a wrong secret fails every record with category auth and shows auth failed", async () => {
      emu = await emulator();
      await helper.load([marketoConfig, marketoLead], flow(emu, [{}]), credentials(emu, "not-the-secret"));
      const got = collect();
      send("lead", { payload: [{ email: "ada@example.com" }, { email: "grace@example.org" }] });
      await until(() => got.bad.length === 2 && got.caught.length === 1, "two failures, one Catch for the message");
      got.bad.forEach((m) => m.marketo.error.category.should.equal("auth"));
      got.caught[0].error.message.should.match(/^MarketoError: marketo-lead: 2 of 2 records failed; first: auth:/);
      got.caught[0].error.message.should.not.match(/not-the-secret/);
      await until(() => lastStatus("lead")?.text === "marketo-lead.status.authFailed", "auth failed status");
      lastStatus("lead")!.fill!.should.equal("red");
      leadsIn(emu).should.have.length(0);
    });

    it("raiseErrors off: failures go to output 2 only", async () => {
      emu = await emulator();
      await helper.load([marketoConfig, marketoLead], flow(emu, [{ raiseErrors: false }]), credentials(emu));
      const got = collect();
      send("lead", { payload: 42 });
      await until(() => got.bad.length === 1 && got.completed.length === 1, "the failure, completed");
      got.caught.should.have.length(0);
    });
  });

  it("close during a batch: every message is answered and its lead reaches Marketo", async () => {
    emu = await emulator();
    // A long batch window: the records are still held in the client when the flow stops.
    await helper.load([marketoConfig, marketoLead], flow(emu, [{}], { batchWindowMs: 60_000 }), credentials(emu));
    const answered: Msg[] = [];
    spied("lead").on("call:send", (call: { args: unknown[] }) => {
      for (const out of call.args[0] as Array<Msg | null>) if (out) answered.push(out);
    });
    for (let i = 0; i < 7; i++) send("lead", { payload: { email: `u${i}@example.com` } });
    await until(() => (config().client?.usage().queuedRecords ?? 0) === 7, "7 held records");
    leadsIn(emu).should.have.length(0);
    await helper.unload();
    answered.should.have.length(7);
    answered.forEach((m) => m.marketo.status.should.equal("created"));
    leadsIn(emu).should.have.length(7);
  });

  it("close with records waiting for the bulk window: every message is still answered", async () => {
    emu = await emulator({ importDelayMs: 50 });
    await helper.load([marketoConfig, marketoLead], flow(emu, [{ bulkThreshold: 5 }], { batchWindowMs: 60_000, bulkPollIntervalMs: 200 }), credentials(emu));
    const answered: Msg[] = [];
    spied("lead").on("call:send", (call: { args: unknown[] }) => {
      for (const out of call.args[0] as Array<Msg | null>) if (out) answered.push(out);
    });
    // The node's backlog decides: 5 records are not above the threshold of 5, 12 are.
    for (let i = 0; i < 5; i++) send("lead", { payload: { email: `u${i}@example.com` }, _n: i });
    await until(() => (config().client?.usage().queuedRecords ?? 0) === 5, "5 held records");
    for (let i = 5; i < 12; i++) send("lead", { payload: { email: `u${i}@example.com` }, _n: i });
    // They reach the bulk collector within this turn (no timer on their way), and wait there.
    await new Promise((r) => setImmediate(r));
    (config().client?.usage().queuedRecords ?? 0).should.equal(5);
    await helper.unload();
    answered.map((m) => m._n).sort((a, b) => a - b).should.eql([...Array(12).keys()]);
    // The held records were sent on close; the bulk rows were imported or failed as retryable.
    answered.filter((m) => m.marketo.bulk === undefined).forEach((m) => m.marketo.status.should.equal("created"));
    const bulkRows = answered.filter((m) => m.marketo.bulk !== undefined);
    bulkRows.should.have.length(7);
    bulkRows.forEach((m) => (m.marketo.status === "imported" || m.marketo.error.retryable === true).should.be.true());
  });

  it("bulk switch: above the threshold, records go to bulk import and each is answered from its own row", async () => {
    // The client polls a bulk job every 5 s (not settable through marketo-config); a short
    // emulator import keeps the job Complete by the first poll.
    emu = await emulator({ importDelayMs: 50 });
    await helper.load([marketoConfig, marketoLead], flow(emu, [{ bulkThreshold: 50 }], { batchWindowMs: 1500, bulkPollIntervalMs: 200 }), credentials(emu));
    const got = collect();
    const N = 80;
    const lead = (i: number): void => {
      const payload: Msg = { email: `u${i}@example.com` };
      // Marketo imports an invalid e-mail address with a warning, and fails an over-long one.
      if (i === 70) payload.email = "not-an-email";
      if (i === 72) payload.email = `${"x".repeat(250)}@example.com`;
      if (i === 75) payload.firstName = "Other Shape";
      send("lead", { payload, _n: i });
    };
    // 50 records are the node's backlog: not above 50, so Sync Leads holds them.
    for (let i = 0; i < 50; i++) lead(i);
    await until(() => (config().client?.usage().queuedRecords ?? 0) === 50, "50 held records");
    // With 30 more the backlog is 80: the new ones go to bulk import.
    for (let i = 50; i < N; i++) lead(i);
    await until(() => got.ok.length + got.bad.length === N, "every message answered", 20_000);
    const viaSync = got.ok.filter((m) => m.marketo.bulk === undefined);
    const viaBulk = got.ok.filter((m) => m.marketo.bulk !== undefined);
    viaSync.should.have.length(50);
    viaSync.forEach((m) => {
      m.marketo.status.should.equal("created");
      m.marketo.leadId.should.equal(leadByEmail(emu!, m.payload.email)!.id);
    });
    viaBulk.should.have.length(N - 50 - 1);
    viaBulk.find((m) => m._n === 70)!.marketo.bulk.outcome.should.equal("warning");
    viaBulk.filter((m) => m._n !== 70).forEach((m) => {
      m.marketo.status.should.equal("imported");
      m.marketo.bulk.outcome.should.equal("imported");
      m.marketo.bulk.batchId.should.be.a.Number();
      should(m.marketo.leadId).be.undefined();
      should(config().leadIds.get("email", m.payload.email)).be.undefined();
    });
    // Two shapes, two jobs.
    new Set(viaBulk.map((m) => m.marketo.bulk.batchId)).size.should.equal(2);
    viaBulk.find((m) => m._n === 75)!.payload.firstName.should.equal("Other Shape");
    leadByEmail(emu, "u75@example.com")!.firstName.should.equal("Other Shape");
    got.bad.should.have.length(1);
    got.bad[0]._n.should.equal(72);
    got.bad[0].marketo.bulk.outcome.should.equal("failed");
    got.bad[0].marketo.error.code.should.equal("BULK_ROW_FAILED");
    got.bad[0].marketo.error.category.should.equal("validation");
    got.bad[0].marketo.error.message.should.match(/exceeds max length 255/);
    for (let i = 0; i < N; i++) if (i !== 70 && i !== 72) should(leadByEmail(emu, `u${i}@example.com`)).be.ok();
    should(leadByEmail(emu, "not-an-email")).be.ok();
    leadsIn(emu).should.have.length(N - 1);
  });
});
