/**
 * Every client operation against the emulator: the two were written from the same reference,
 * and this is where they must agree — paths, bodies, per-record shapes and Marketo's codes.
 */
import should from "should";
import { MarketoClient } from "../../nodes/lib/marketo";
import { startEmulator, type EmulatorHandle } from "../../nodes/emulator";

const PROGRAM = 1001; // seeded "Kaltura Virtual Summit", channel "Kaltura Event"
const TRIGGER_CAMPAIGN = 2001;
const BATCH_CAMPAIGN = 2002;
const FORM = 3001;

interface Snapshot {
  programs: { programMembers: Array<{ programId: number; leadId: number; status: string }> };
  activities: { activities: Array<{ leadId: number; activityTypeId: number; primaryAttributeValue: string }> };
  customObjects: Record<string, Array<Record<string, unknown>>>;
  campaigns: { campaignRuns: Array<{ campaignId: number; leadIds: number[]; tokens: unknown[] }> };
  forms: { formSubmissions: Array<{ formId: number; leadId?: number }> };
}

describe("client against the emulator: every operation", function () {
  this.timeout(60_000);
  let emu: EmulatorHandle;
  let c: MarketoClient;
  const snap = () => emu.state() as unknown as Snapshot;

  beforeEach(async () => {
    emu = await startEmulator({ importDelayMs: 20 });
    c = new MarketoClient({
      endpoint: `${emu.url}/identity/`,
      clientId: emu.clientId,
      clientSecret: emu.clientSecret,
      batchWindowMs: 20,
      bulkPollIntervalMs: 25,
    });
  });
  afterEach(async () => {
    await c.close();
    await emu.stop();
  });

  async function lead(email: string): Promise<number> {
    const r = await c.syncLead({ email, firstName: "Test" });
    r.ok.should.be.true();
    return r.id!;
  }

  it("syncs leads with each action and finds them by filter, also through _method=GET", async () => {
    const created = await c.syncLeads([{ email: "a@example.com" }, { email: "b@example.com" }]);
    created.map((r) => r.status).should.eql(["created", "created"]);
    const again = await c.syncLeads([{ email: "a@example.com" }, { email: "c@example.com" }], { action: "createOnly" });
    again
      .map((r) => [r.status, r.error?.code])
      .should.eql([
        ["skipped", "1005"],
        ["created", undefined],
      ]);
    const upd = await c.syncLeads([{ email: "b@example.com", lastName: "B" }], { action: "updateOnly" });
    upd[0].status.should.equal("updated");
    const dup = await c.syncLeads([{ email: "a@example.com" }], { action: "createDuplicate" });
    dup[0].status.should.equal("created");

    const found = await c.getLeadsByFilter("email", ["b@example.com", "c@example.com"], ["email", "lastName"]);
    found
      .map((l) => l.email)
      .sort()
      .should.eql(["b@example.com", "c@example.com"]);
    // 300 long addresses make a URL over 8 KB: the client must switch to POST + _method=GET.
    const many = Array.from({ length: 300 }, (_, i) => `someone-with-a-long-address-${i}@example.com`);
    (await c.getLeadsByFilter("email", [...many.slice(1), "b@example.com"])).length.should.equal(1);
    should(emu.stats().answersByStatus["414"]).be.undefined();
    // Two leads share a@example.com now; the lookup takes the most recently updated one.
    (await c.findLeadId("a@example.com"))!.should.equal(dup[0].id);
    should(await c.findLeadId("nobody@example.com")).be.undefined();
  });

  it("describes leads with both describe endpoints", async () => {
    const d2 = await c.describeLeads();
    (d2[0].fields as Array<{ name: string }>).map((f) => f.name).should.containEql("email");
    const d1 = await c.describeLeads("describe");
    d1.some((f) => (f.rest as { name: string } | undefined)?.name === "email").should.be.true();
  });

  it("reads the program and its channel, and sets member status with Marketo's step rules", async () => {
    const program = (await c.getProgram(PROGRAM))!;
    program.channel!.should.equal("Kaltura Event");
    (await c.getProgramByName("Kaltura Virtual Summit"))!.id.should.equal(PROGRAM);
    should(await c.getProgram(999_999)).be.undefined();
    const channel = (await c.getChannelByName(program.channel!))!;
    channel.progressionStatuses.map((s) => s.name).should.containEql("autoConfirmed");
    (await c.getChannels()).length.should.be.above(1);

    const id = await lead("member@example.com");
    (await c.setProgramStatus(PROGRAM, "Registered", id)).status.should.equal("created");
    (await c.setProgramStatus(PROGRAM, "Attended", id)).status.should.equal("updated");
    const back = await c.setProgramStatus(PROGRAM, "Registered", id);
    back.ok.should.be.true();
    back.status.should.equal("unchanged"); // 1037: already in or past this status
    const unknown = await c.setProgramStatus(PROGRAM, "Keynote Speaker", id);
    unknown.ok.should.be.false();
    unknown.error!.code.should.equal("1025");
    unknown.error!.category.should.equal("validation");
    const legacy = await c.changeLeadProgramStatus(PROGRAM, "Participated", [id]);
    legacy[0].ok.should.be.true();
    snap()
      .programs.programMembers.filter((m) => m.leadId === id)
      .map((m) => m.status)
      .should.eql(["Participated"]);
  });

  it("triggers a campaign with My Tokens, at most 100 leads a call, and refuses a batch campaign", async () => {
    const ids = await Promise.all(Array.from({ length: 150 }, (_, i) => lead(`t${i}@example.com`)));
    const tokens = [{ name: "{{my.session}}", value: "Keynote" }];
    const results = await Promise.all(ids.map((id) => c.triggerCampaignFor(TRIGGER_CAMPAIGN, id, tokens)));
    results.every((r) => r.ok && r.status === "triggered").should.be.true();
    const runs = snap().campaigns.campaignRuns.filter((r) => r.campaignId === TRIGGER_CAMPAIGN);
    runs
      .map((r) => r.leadIds.length)
      .sort((a, b) => b - a)
      .should.eql([100, 50]);
    runs[0].tokens.should.eql(tokens);

    const batch = await c.triggerCampaignFor(BATCH_CAMPAIGN, ids[0]);
    batch.ok.should.be.false();
    batch.error!.code.should.equal("1003");
    (await c.getCampaign(TRIGGER_CAMPAIGN))!.id!.should.equal(TRIGGER_CAMPAIGN);
  });

  it("posts a form with visitor data", async () => {
    const r = await c.submitForm(
      FORM,
      { email: "form@example.com", firstName: "Fay" },
      {
        visitorData: { pageURL: "https://events.example.com/register", userAgentString: "test" },
      },
    );
    r.ok.should.be.true();
    r.status.should.equal("created");
    snap()
      .forms.formSubmissions.map((s) => s.formId)
      .should.eql([FORM]);
    const bad = await c.submitForm(FORM, { email: "form@example.com", shoeSize: "42" });
    bad.ok.should.be.false();
    bad.error!.code.should.equal("1006");
  });

  it("adds custom activities after resolving the type, and reports a missing lead per record", async () => {
    const types = await c.listCustomActivityTypes();
    const type = types.find((t) => t.apiName === "userSessionEngagement")!;
    const described = (await c.describeCustomActivityType("userSessionEngagement"))!;
    (described.primaryAttribute as { apiName: string }).apiName.should.equal("entry_id");
    (await c.getActivityTypes()).length.should.be.above(types.length);

    const id = await lead("watcher@example.com");
    const activity = {
      activityTypeId: Number(type.id),
      activityDate: "2026-11-23T10:00:00Z",
      primaryAttributeValue: "1_abc",
      attributes: [
        { apiName: "plays", value: 3 },
        { apiName: "vod_minutes_viewed", value: 12.5 },
      ],
    };
    const [ok, missing] = await Promise.all([
      c.addCustomActivity({ ...activity, leadId: id }),
      c.addCustomActivity({ ...activity, leadId: 987_654 }),
    ]);
    ok.status.should.equal("added");
    should(ok.marketoGUID).be.a.String();
    missing.ok.should.be.false();
    missing.error!.code.should.equal("1004");
    snap()
      .activities.activities.filter((a) => a.primaryAttributeValue === "1_abc")
      .length.should.equal(1);
  });

  it("upserts custom objects by their dedupe fields, linked to the lead", async () => {
    const id = await lead("co@example.com");
    (await c.listCustomObjects()).map((o) => o.name).should.containEql("kalturaUserSessionEngagement");
    const first = await c.syncCustomObject("kalturaUserSessionEngagement", { entry_id: "1_x", personId: id, plays: 1 });
    first.status.should.equal("created");
    const second = await c.syncCustomObject("kalturaUserSessionEngagement", {
      entry_id: "1_x",
      personId: id,
      plays: 2,
    });
    second.status.should.equal("updated");
    const orphan = await c.syncCustomObject("kalturaUserSessionEngagement", {
      entry_id: "1_x",
      personId: 424_242,
      plays: 2,
    });
    orphan.ok.should.be.false();
    const stored = snap().customObjects.kalturaUserSessionEngagement;
    stored.length.should.equal(1);
    should(stored[0].plays).equal(2);
  });

  it("bulk-imports leads and maps the failures and warnings files back to their rows", async () => {
    const rows: Array<Record<string, string>> = Array.from({ length: 500 }, (_, i) => ({
      email: `bulk${i}@example.com`,
      firstName: `B${i}`,
    }));
    rows[7] = { email: "bulk7@example.com", firstName: "Bad", leadScore: "lots" };
    rows[321] = { email: "bulk321@example.com", firstName: "Worse", leadScore: "many" };
    // Marketo imports an invalid e-mail address and lists the row in the warnings file.
    rows[400] = { email: "not-an-email", firstName: "Odd" };
    const res = await c.bulkImportLeads(rows);
    res.rows.length.should.equal(500);
    res.rows.flatMap((r, i) => (r.outcome === "failed" ? [i] : [])).should.eql([7, 321]);
    res.rows[7].error!.category.should.equal("validation");
    res.rows.flatMap((r, i) => (r.outcome === "warning" ? [i] : [])).should.eql([400]);
    res.rows[0].outcome.should.equal("imported");
    emu.state().leads.length.should.equal(498);
  });

  it("bulk-imports program members and custom objects", async () => {
    const pm = await c.bulkImportProgramMembers(PROGRAM, "Registered", [
      { email: "pm1@example.com", firstName: "P" },
      { email: "pm2@example.com", firstName: "Q" },
    ]);
    pm.rows.every((r) => r.outcome === "imported").should.be.true();
    snap()
      .programs.programMembers.filter((m) => m.status === "Registered")
      .length.should.equal(2);

    const id = await lead("cobulk@example.com");
    const co = await c.bulkImportCustomObjects("kalturaUserSessionEngagement", [
      { entry_id: "1_bulk", personId: id, plays: 4 },
      { entry_id: "", personId: id, plays: 1 },
    ]);
    co.rows.map((r) => r.outcome).should.eql(["imported", "failed"]);
    snap().customObjects.kalturaUserSessionEngagement.length.should.equal(1);
  });
});
