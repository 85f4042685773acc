/**
 * marketo-custom-activity through node-red-node-test-helper against the built node and the
 * emulator: activities and custom object records landing with coerced values, the
 * missing-fields warning, validation/auth/unknown-type failures on output 2 and Catch, status
 * text, close during a batch, array payloads, and the calls 600 records cost.
 */
import should from "should";
import helper = require("node-red-node-test-helper");
import marketoConfig = require("../../nodes/marketo-config");
import customActivity = require("../../nodes/marketo-custom-activity");
import type { EmulatorHandle } from "../../src/emulator";
import { ALL_PERMISSIONS } from "../../src/emulator/types";
import type { MarketoConfigNode } from "../../src/lib/node-kit/marketo-config-api";
import { editorDefaults } from "../helpers/editor-defaults";
import { CONFIG_ID, collect, configNode, credentials, emulator, lastStatus, spied, until, unloadAfterEach, type Msg } from "../helpers/marketo-flow";

helper.init(require.resolve("node-red"));

const TYPE = "marketo-custom-activity";
const ADD_ROUTE = "POST /rest/v1/activities/external.json";
const DESCRIBE_ACTIVITY = "GET /rest/v1/activities/external/type/:apiName/describe.json";
const DESCRIBE_OBJECT = "GET /rest/v1/customobjects/:apiName/describe.json";
const SYNC_OBJECT = "POST /rest/v1/customobjects/:apiName.json";
const OBJECT = "kalturaUserSessionEngagement";

const config = (): MarketoConfigNode => helper.getNode(CONFIG_ID) as unknown as MarketoConfigNode;

interface StoredActivity {
  leadId: number;
  activityTypeId: number;
  activityDate: string;
  primaryAttributeValue: string;
  attributes: Array<{ name: string; apiName?: string; value: unknown }>;
}

/** A session.engagement event in the package's event shape (src/lib/flow/event.ts). */
function event(email: string, engagement: Msg): Msg {
  return {
    topic: "session.engagement",
    payload: {
      event: { id: 8801, name: "Kaltura Virtual Summit" },
      profile: { email },
      engagement: { entry_id: "1_keynote", entry_name: "Opening keynote", ...engagement },
    },
  };
}

describe("marketo-custom-activity node", function () {
  let emu: EmulatorHandle;

  beforeEach(async () => {
    emu = await emulator();
  });
  unloadAfterEach(() => emu);

  function flow(props: Msg, cfg: Msg): Msg[] {
    return [
      { id: "tab", type: "tab", label: "t" },
      { ...configNode(emu, cfg) },
      { ...editorDefaults(TYPE), id: "ca", z: "tab", type: TYPE, marketo: CONFIG_ID, ...props, wires: [["ok"], ["bad"]] },
      { id: "ok", z: "tab", type: "helper" },
      { id: "bad", z: "tab", type: "helper" },
      { id: "c", z: "tab", type: "catch", scope: ["ca"], uncaught: false, wires: [["caught"]] },
      { id: "caught", z: "tab", type: "helper" },
    ];
  }
  async function load(props: Msg = {}, creds = credentials(emu), cfg: Msg = {}) {
    await helper.load([marketoConfig, customActivity], flow(props, cfg) as Parameters<typeof helper.load>[1], creds);
    return collect(["ok", "bad", "caught"] as const);
  }
  async function leads(...emails: string[]): Promise<number[]> {
    const rs = await config().getClient().syncLeads(emails.map((email) => ({ email })));
    return rs.map((r) => r.id as number);
  }
  const activities = (): StoredActivity[] => (emu.state().activities as { activities: StoredActivity[] }).activities.filter((a) => a.activityTypeId === 100001);
  const objects = (): Msg[] => (emu.state().customObjects as Record<string, Msg[]>)[OBJECT];
  const calls = (route: string): number => emu.stats().callsByRoute[route] ?? 0;
  const attrs = (a: StoredActivity): Record<string, unknown> => Object.fromEntries(a.attributes.map((x) => [x.apiName ?? x.name, x.value]));
  /** What node `id` warned (the helper's spy sits on Node.prototype, shared by every node). */
  const warnings = (id = "ca"): string[] => {
    const n = helper.getNode(id) as unknown as { warn: { getCalls(): Array<{ thisValue: unknown; args: unknown[] }> } };
    return n.warn.getCalls().filter((c) => c.thisValue === n).map((c) => String(c.args[0]));
  };

  it("adds custom activities with coerced values, the type's id and primary attribute, and warns nothing for a type set up by Kaltura's guide", async function () {
    const got = await load({ createMissing: true });
    const [known] = await leads("ada@example.com");
    spied("ca").receive(event("ada@example.com", { plays: "2", live_minutes_viewed: "41.5", channel_id: 7, user: 42, mic_on: 3, activityDate: "2026-03-01T10:00:00Z" }));
    spied("ca").receive(event("grace@example.com", { entry_id: "1_panel", clap_clicked_count: 3 }));
    await until(() => got.ok.length + got.bad.length === 2, "two answers");
    got.bad.should.have.length(0);

    const ada = got.ok.find((m) => m.payload.profile.email === "ada@example.com")!;
    ada.marketo.should.containDeep({ leadId: known, status: "added", activityTypeId: 100001, activityType: "userSessionEngagement" });
    should(ada.marketo.marketoGUID).be.a.String().and.not.be.empty();
    const stored = activities();
    stored.should.have.length(2);
    const a = stored.find((x) => x.leadId === known)!;
    a.primaryAttributeValue.should.equal("1_keynote");
    Date.parse(a.activityDate).should.equal(Date.parse("2026-03-01T10:00:00Z"));
    attrs(a).should.eql({ entry_name: "Opening keynote", user: "42", channel_id: 7, plays: 2, live_minutes_viewed: 41.5 });
    String(ada.marketo.marketoGUID).should.equal(String((emu.state().activities as { activities: Array<{ marketoGUID: string; leadId: number }> }).activities.find((x) => x.leadId === known && x.marketoGUID)!.marketoGUID));
    const grace = stored.find((x) => x.leadId !== known)!;
    grace.primaryAttributeValue.should.equal("1_panel");
    attrs(grace).clap_clicked_count!.should.equal(3);
    Math.abs(Date.parse(grace.activityDate) - Date.now()).should.be.below(60_000); // no date: now

    // One describe at deploy, no matter how many records. The guide's activity table has no
    // mic_on (only its custom object has): sent to neither, and no warning at every start.
    spied("ca").receive(event("ada@example.com", { plays: 1 }));
    await until(() => got.ok.length === 3, "a third answer");
    calls(DESCRIBE_ACTIVITY).should.equal(1);
    warnings().filter((w) => w.includes("missing:")).should.eql([]);
    await until(() => /^marketo-custom-activity\.status\.sent 3$/.test(lastStatus("ca")?.text ?? ""), "the status to show 3 sent");
    lastStatus("ca")!.should.containDeep({ fill: "green" });
  });

  it("duplicate leads: 'all' adds the activity for each lead with the email, 'fail' sends nothing", async function () {
    let got = await load({ duplicates: "all" });
    const client = config().getClient();
    const [a] = await client.syncLeads([{ email: "twin@example.com" }], { action: "createDuplicate" });
    const [b] = await client.syncLeads([{ email: "twin@example.com" }], { action: "createDuplicate" });
    spied("ca").receive(event("twin@example.com", { plays: 1 }));
    await until(() => got.ok.length === 1, "the answer");
    got.ok[0].marketo.should.containDeep({ leadIds: [b.id, a.id], duplicates: { policy: "all", leadIds: [b.id, a.id] } });
    activities().map((x) => x.leadId).sort().should.eql([a.id, b.id].sort());
    await helper.unload();
    got = await load({ duplicates: "fail" });
    await config().getClient().syncLeads([{ email: "twin2@example.com" }, { email: "twin2@example.com" }], { action: "createDuplicate" });
    spied("ca").receive(event("twin2@example.com", { plays: 1 }));
    await until(() => got.bad.length === 1, "the failure");
    got.bad[0].marketo.error.code.should.equal("1007");
    got.bad[0].marketo.duplicates.policy.should.equal("fail");
    activities().should.have.length(2);
  });

  it("warns once when the activity type lacks a field the node's list sends", async function () {
    const fields = [{ name: "entry_name", type: "string" }, { name: "plays", type: "integer" }, { name: "mic_on", type: "float" }];
    const got = await load({ preset: "custom", fields, createMissing: true });
    await leads("ada@example.com");
    spied("ca").receive(event("ada@example.com", { plays: 2, mic_on: 1 }));
    spied("ca").receive(event("ada@example.com", { plays: 3, mic_on: 1 }));
    await until(() => got.ok.length + got.bad.length === 2, "two answers");
    warnings()
      .filter((w) => w.includes("missing:"))
      .should.eql([`${TYPE}: sent only the 2 fields that userSessionEngagement defines; missing: mic_on`]);
  });

  it("upserts custom object records by entry_id and personId, linked to the lead", async function () {
    const got = await load({ target: "customObject" });
    const [lead] = await leads("ada@example.com");
    spied("ca").receive({ ...event("ada@example.com", { plays: "1", mic_on: "2.5" }), marketo: { leadId: lead } });
    await until(() => got.ok.length + got.bad.length === 1, "the first answer");
    spied("ca").receive({ ...event("ada@example.com", { plays: 4, raise_hand: "2" }), marketo: { leadId: lead } });
    await until(() => got.ok.length + got.bad.length === 2, "the second answer");
    got.bad.should.have.length(0);
    got.ok.map((m) => m.marketo.status).should.eql(["created", "updated"]);
    got.ok[0].marketo.should.containDeep({ leadId: lead, customObject: OBJECT });
    got.ok[1].marketo.marketoGUID.should.equal(got.ok[0].marketo.marketoGUID);
    const rows = objects();
    rows.should.have.length(1);
    rows[0].should.containDeep({ entry_id: "1_keynote", personId: lead, plays: 4, mic_on: 2.5, raise_hand: 2, entry_name: "Opening keynote" });
    calls(DESCRIBE_OBJECT).should.equal(1); // ours; the client learned the dedupe fields from it
    calls(SYNC_OBJECT).should.equal(2);
    // The emulator's object has every Kaltura field: nothing to report.
    warnings().filter((w) => w.includes("missing:")).should.eql([]);
  });

  it("a value that cannot be coerced, no engagement, a bad date and no lead fail as validation on output 2 and Catch", async function () {
    const got = await load();
    const [lead] = await leads("ada@example.com");
    spied("ca").receive({ ...event("ada@example.com", { plays: "abc" }), marketo: { leadId: lead } });
    spied("ca").receive({ topic: "x", payload: { profile: { email: "ada@example.com" } } });
    spied("ca").receive(event("ada@example.com", { activityDate: "soon" }));
    spied("ca").receive({ topic: "x", payload: { engagement: { entry_id: "e1", plays: 1 } } });
    spied("ca").receive(event("nobody@example.com", { plays: 1 }));
    await until(() => got.bad.length === 5 && got.caught.length === 5, "five failures");
    got.ok.should.have.length(0);
    for (const m of got.bad) m.marketo.error.should.containDeep({ category: "validation", retryable: false });
    const messages = got.bad.map((m) => m.marketo.error.message);
    messages.should.containEql('plays: "abc" is not a whole number');
    messages.should.containEql("no engagement at msg.payload.engagement");
    messages.should.containEql('activity date: "soon" is not a date');
    messages.find((t: string) => t.startsWith("no lead: msg.marketo.leadId is not set"))!.should.be.ok();
    messages.find((t: string) => t.includes("no lead has the email nobody@example.com"))!.should.be.ok();
    got.caught.map((m) => m.error.message).should.containEql(`MarketoError: ${TYPE}: validation: plays: "abc" is not a whole number`);
    activities().should.have.length(0);
    calls(ADD_ROUTE).should.equal(0);
  });

  it("an activity type Marketo does not have fails every record as validation, asking again for the next one", async function () {
    const got = await load({ activityType: "noSuchActivity" });
    const [lead] = await leads("ada@example.com");
    await until(() => warnings().length === 1, "the deploy warning");
    warnings()[0].should.match(/cannot read the custom activity type noSuchActivity from Marketo: .*noSuchActivity' not found/);
    spied("ca").receive({ ...event("ada@example.com", {}), marketo: { leadId: lead } });
    await until(() => got.bad.length === 1, "the failure");
    got.bad[0].marketo.error.should.containDeep({ code: "1013", category: "validation", retryable: false });
    got.bad[0].marketo.error.message.should.match(/^cannot read the custom activity type noSuchActivity from Marketo/);
    got.caught.should.have.length(1);
    calls(DESCRIBE_ACTIVITY).should.equal(2); // deploy + this record
    calls(ADD_ROUTE).should.equal(0);
  });

  it("without the Activity permission the records fail as auth", async function () {
    const permissions = ALL_PERMISSIONS.filter((p) => p !== "Read-Write Activity" && p !== "Read-Only Activity");
    emu.addClient({ clientId: "no-activity", clientSecret: "no-activity-secret", permissions });
    const got = await load({}, credentials(emu, "no-activity-secret", "no-activity"));
    const [lead] = await leads("ada@example.com");
    spied("ca").receive({ ...event("ada@example.com", { plays: 1 }), marketo: { leadId: lead } });
    await until(() => got.bad.length === 1 && got.caught.length === 1, "the failure");
    got.bad[0].marketo.error.should.containDeep({ code: "603", category: "auth" });
    got.caught[0].error.message.should.match(/^MarketoError: marketo-custom-activity: auth: /);
  });

  it("a describe that fails (no Activity Metadata permission) fails the waiting records as auth, and the next record describes again", async function () {
    const permissions = ALL_PERMISSIONS.filter((p) => !p.includes("Activity Metadata"));
    emu.addClient({ clientId: "no-meta", clientSecret: "no-meta-secret", permissions });
    const got = await load({}, credentials(emu, "no-meta-secret", "no-meta"));
    const [lead] = await leads("ada@example.com");
    await until(() => calls(DESCRIBE_ACTIVITY) === 1, "the deploy describe");
    for (let i = 1; i <= 2; i++) {
      spied("ca").receive({ ...event("ada@example.com", { plays: i }), marketo: { leadId: lead } });
      await until(() => got.bad.length === i, `failure ${i}`);
    }
    got.bad[0].marketo.error.should.containDeep({ code: "603", category: "auth", retryable: false });
    calls(DESCRIBE_ACTIVITY).should.equal(3);
    calls(ADD_ROUTE).should.equal(0);
  });

  it("answers each element of an array payload, reading the event of each", async function () {
    const got = await load({ createMissing: true });
    spied("ca").receive({ payload: [event("a1@example.com", { plays: 1 }).payload, event("a2@example.com", { plays: "x" }).payload, event("a3@example.com", { plays: 3 }).payload] });
    await until(() => got.ok.length + got.bad.length === 3, "three answers");
    got.ok.map((m) => m.payload.profile.email).sort().should.eql(["a1@example.com", "a3@example.com"]);
    got.bad.should.have.length(1);
    got.bad[0].payload.profile.email.should.equal("a2@example.com");
    got.caught.should.have.length(1);
    got.caught[0].error.message.should.match(/1 of 3 records failed; first: validation: plays: "x"/);
    activities().should.have.length(2);
  });

  it("close during a batch answers every message", async function () {
    const got = await load({}, credentials(emu), { batchWindowMs: 30_000 });
    const [lead] = await leads("ada@example.com");
    await until(() => calls(DESCRIBE_ACTIVITY) === 1, "the deploy describe");
    let arrived = 0;
    spied("ca").on("input", () => arrived++);
    for (let i = 0; i < 5; i++) spied("ca").receive({ ...event("ada@example.com", { plays: i }), marketo: { leadId: lead } });
    await until(() => arrived === 5, "the messages to reach the node");
    await new Promise((r) => setTimeout(r, 50));
    calls(ADD_ROUTE).should.equal(0); // held in the batch
    await spied("ca").close!(false);
    // Sent before close finished; Node-RED delivers sent messages asynchronously.
    await until(() => got.ok.length + got.bad.length === 5, "every message answered", 1000);
    got.ok.should.have.length(5);
    activities().should.have.length(5);
    calls(ADD_ROUTE).should.equal(1);
  });

  it("600 engagement records take 2 add-activity calls plus one describe", async function () {
    const got = await load({}, credentials(emu), { batchWindowMs: 200 });
    const [lead] = await leads("ada@example.com");
    for (let i = 0; i < 600; i++) spied("ca").receive({ ...event("ada@example.com", { entry_id: `1_e${i}`, plays: i }), marketo: { leadId: lead } });
    await until(() => got.ok.length + got.bad.length === 600, "600 answers", 15_000);
    got.bad.should.have.length(0);
    activities().should.have.length(600);
    calls(ADD_ROUTE).should.equal(2);
    calls(DESCRIBE_ACTIVITY).should.equal(1);
    calls("GET /rest/v1/activities/external/types.json").should.equal(0);
  });

  it("a setting that is not valid fails every record as a config problem", async function () {
    const got = await load({ preset: "custom", fields: [{ name: "plays", type: "itoat" }] });
    spied("ca").receive(event("ada@example.com", { plays: 1 }));
    await until(() => got.bad.length === 1, "the failure");
    got.bad[0].marketo.error.message.should.match(/not configured correctly: field plays: unknown type "itoat"/);
    lastStatus("ca")!.text!.should.equal(`${TYPE}.status.badConfig`);
    calls(DESCRIBE_ACTIVITY).should.equal(0);
  });
  it("sends an activity a retried message may already have delivered only once: dated by msg.marketo.acceptedAt, asked about first", async function () {
    const got = await load();
    const [ada, bob] = await leads("ada@example.com", "bob@example.com");
    const acceptedAt = new Date(Date.now() - 5000).toISOString();
    const retried = (leadId: number, email: string): Msg => {
      const m = event(email, { plays: 2 });
      m.marketo = { leadId, acceptedAt, unconfirmedSince: acceptedAt };
      return m;
    };
    // Ada's first attempt reached Marketo (its answer was lost); Bob's did not.
    spied("ca").receive({ ...event("ada@example.com", { plays: 2 }), marketo: { leadId: ada, acceptedAt } });
    await until(() => got.ok.length === 1, "the first attempt");
    activities().should.have.length(1);
    // Marketo keeps the date to the second.
    Date.parse(activities()[0].activityDate).should.equal(Math.floor(Date.parse(acceptedAt) / 1000) * 1000);
    spied("ca").receive(retried(ada, "ada@example.com"));
    spied("ca").receive(retried(bob, "bob@example.com"));
    await until(() => got.ok.length === 3, "both retries answered");
    got.bad.should.have.length(0);
    const byLead = (id: number) => got.ok.slice(1).find((m) => m.marketo.leadId === id)!;
    byLead(ada).marketo.should.containDeep({ status: "added", arrived: true });
    (byLead(bob).marketo.arrived === undefined).should.be.true();
    (byLead(ada).marketo.unconfirmedSince === undefined).should.be.true();
    activities().map((a) => a.leadId).sort().should.eql([ada, bob].sort());
    config().getClient().usage().arrivalChecks.checks.should.be.above(0);
  });
});
