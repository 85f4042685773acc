/**
 * The bulk switch of marketo-program-status (Import Program Members) and marketo-custom-activity
 * (custom object import), through node-red-node-test-helper against the built nodes and the
 * emulator: below the node's threshold records use the REST call, above it they go to the bulk
 * import of their own target, and each message is answered from its own row of the job's
 * failures/warnings files. Duplicates, forced and "all"-policy records stay on REST.
 */
import should from "should";
import helper = require("node-red-node-test-helper");
import marketoConfig = require("../../nodes/marketo-config");
import programStatus = require("../../nodes/marketo-program-status");
import customActivity = require("../../nodes/marketo-custom-activity");
import marketoLead = require("../../nodes/marketo-lead");
import { metrics } from "../../nodes/lib/sidebar/metrics";
import type { EmulatorHandle } from "../../src/emulator";
import type { MarketoConfigNode } from "../../src/lib/node-kit/marketo-config-api";
import { editorDefaults } from "../helpers/editor-defaults";
import { CONFIG_ID, collect, configNode, credentials, emulator, spied, until, unloadAfterEach, type Msg } from "../helpers/marketo-flow";

helper.init(require.resolve("node-red"));

const PM_IMPORT = "POST /bulk/v1/program/:programId/members/import.json";
const PM_STATUS = "POST /rest/v1/programs/:programId/members/status.json";
const CO_IMPORT = "POST /bulk/v1/customobjects/:apiName/import.json";
const CO_SYNC = "POST /rest/v1/customobjects/:apiName.json";
const OBJECT = "kalturaUserSessionEngagement";

const config = (): MarketoConfigNode => helper.getNode(CONFIG_ID) as unknown as MarketoConfigNode;

describe("bulk switch of program status and custom objects", function () {
  let emu: EmulatorHandle;

  beforeEach(async () => {
    // A short emulator import keeps each job Complete by the client's first poll.
    emu = await emulator({ importDelayMs: 50 });
  });
  unloadAfterEach(() => emu);

  async function load(type: string, props: Msg) {
    const flow = [
      { id: "tab", type: "tab", label: "t" },
      { ...configNode(emu, { bulkPollIntervalMs: 200 }) },
      { ...editorDefaults(type), id: "n", z: "tab", type, marketo: CONFIG_ID, ...props, wires: [["ok"], ["bad"]] },
      { id: "ok", z: "tab", type: "helper" },
      { id: "bad", z: "tab", type: "helper" },
    ];
    await helper.load([marketoConfig, programStatus, customActivity], flow as helper.TestFlows, credentials(emu));
    return collect(["ok", "bad"] as const);
  }
  const calls = (route: string): number => emu.stats().callsByRoute[route] ?? 0;
  const members = (programId: number) =>
    (emu.state().programs as { programMembers: Array<{ programId: number; leadId: number; status: string }> }).programMembers.filter(
      (m) => m.programId === programId,
    );

  it("program status: above the threshold, records go to Import Program Members per program and status, each answered from its own row", async function () {
    const got = await load("marketo-program-status", { bulkThreshold: 10, createMissing: true });
    const client = config().getClient();
    const emails = Array.from({ length: 30 }, (_, i) => `p${i}@example.com`);
    const ids = (await client.syncLeads(emails.map((email) => ({ email })))).map((r) => r.id as number);
    // p3 is already past Registered: the import leaves it there and says so in its warnings file.
    (await client.setProgramStatus(1001, "Attended", ids[3])).ok.should.be.true();
    const twins = await client.syncLeads([{ email: "twin@example.com" }, { email: "twin@example.com" }], { action: "createDuplicate" });
    const [twinA, twinB] = twins.map((r) => r.id as number);
    const send = (email: string, status: string, n: number, extra: Msg = {}): void =>
      spied("n").receive({ programId: 1001, marketo: { programStatus: { name: status }, ...extra }, payload: { email }, _n: n });

    // 5 records are not above the threshold: Sync Program Member Status.
    for (let i = 0; i < 5; i++) send(emails[i + 20], "Registered", 100 + i);
    await until(() => got.ok.length === 5, "five REST answers");
    got.ok.forEach((m) => should(m.marketo.bulk).be.undefined());
    calls(PM_IMPORT).should.equal(0);
    const restCalls = calls(PM_STATUS);
    got.ok.length = 0;

    // 26 more at once: the backlog is 26, so they go by bulk, in one job per status.
    for (let i = 0; i < 20; i++) send(emails[i], i < 15 ? "Registered" : "Invited", i);
    send("new@example.com", "Registered", 20); // created first (create missing), then imported
    send("twin@example.com", "Registered", 21); // duplicates: the policy's pick, over REST
    send(emails[25], "Registered", 22, { force: true }); // forced: removed and set again, over REST
    send(emails[26], "Registered", 23, { leadId: ids[26] }); // no email needed: REST
    send(emails[27], "Registered", 24);
    send(emails[28], "Registered", 25);
    await until(() => got.ok.length + got.bad.length === 26, "every message answered", 20_000);
    got.bad.should.have.length(0);
    const byN = new Map(got.ok.map((m) => [m._n as number, m]));
    const viaBulk = got.ok.filter((m) => m.marketo.bulk !== undefined);
    viaBulk.map((m) => m._n).sort((a, b) => a - b).should.eql([...Array(21).keys(), 24, 25]);
    // Registered and Invited are two targets: two jobs.
    calls(PM_IMPORT).should.equal(2);
    new Set(viaBulk.map((m) => m.marketo.bulk.batchId)).size.should.equal(2);
    for (const m of viaBulk) {
      m.marketo.should.containDeep({ programId: 1001 });
      m.marketo.bulk.batchId.should.be.a.Number();
      if (m._n === 3) continue;
      m.marketo.bulk.outcome.should.equal("imported");
      m.marketo.status.should.equal("imported");
    }
    // The warnings file's row answers p3's message, and only it.
    byN.get(3)!.marketo.bulk.outcome.should.equal("warning");
    byN.get(3)!.marketo.reasons[0].message.should.match(/already/i);
    for (const n of [21, 22, 23]) should(byN.get(n)!.marketo.bulk).be.undefined();
    byN.get(21)!.marketo.duplicates.leadIds.should.have.length(2);
    byN.get(22)!.marketo.forced.should.be.true();
    calls(PM_STATUS).should.equal(restCalls + 2); // the twin and p26 share a call; the forced one its own
    // What Marketo holds: every status as sent, p3 untouched at Attended.
    const status = new Map(members(1001).map((m) => [m.leadId, m.status]));
    for (let i = 0; i < 20; i++) status.get(ids[i])!.should.equal(i === 3 ? "Attended" : i < 15 ? "Registered" : "Invited");
    status.get(ids[27])!.should.equal("Registered");
    should(status.get(twinA) ?? status.get(twinB)).equal("Registered");
    const created = byN.get(20)!;
    created.marketo.leadId.should.be.a.Number();
    status.get(created.marketo.leadId)!.should.equal("Registered");
  });

  it("custom objects: above the threshold, records go to the custom object import and a rejected row fails only its own message", async function () {
    const got = await load("marketo-custom-activity", { target: "customObject", bulkThreshold: 5 });
    const client = config().getClient();
    const emails = Array.from({ length: 12 }, (_, i) => `c${i}@example.com`);
    const ids = (await client.syncLeads(emails.map((email) => ({ email })))).map((r) => r.id as number);
    const send = (i: number, leadId: number): void =>
      spied("n").receive({
        topic: "session.engagement",
        payload: { profile: { email: emails[i] }, engagement: { entry_id: "1_keynote", entry_name: "Keynote", plays: i } },
        marketo: { leadId },
        _n: i,
      });
    for (let i = 0; i < 3; i++) send(i, ids[i]);
    await until(() => got.ok.length === 3, "three REST answers");
    got.ok.forEach((m) => should(m.marketo.bulk).be.undefined());
    calls(CO_IMPORT).should.equal(0);
    const restCalls = calls(CO_SYNC);
    got.ok.length = 0;

    // 9 at once, above 5: one import; record 7 names a lead Marketo does not have.
    for (let i = 3; i < 12; i++) send(i, i === 7 ? 987654 : ids[i]);
    await until(() => got.ok.length + got.bad.length === 9, "every message answered", 20_000);
    calls(CO_IMPORT).should.equal(1);
    calls(CO_SYNC).should.equal(restCalls);
    got.ok.should.have.length(8);
    for (const m of got.ok) {
      m.marketo.should.containDeep({ customObject: OBJECT, status: "imported", bulk: { outcome: "imported" } });
      m.marketo.leadId.should.equal(ids[m._n]);
    }
    got.bad.should.have.length(1);
    got.bad[0]._n.should.equal(7);
    got.bad[0].marketo.bulk.outcome.should.equal("failed");
    got.bad[0].marketo.error.should.containDeep({ code: "BULK_ROW_FAILED", category: "validation", retryable: false });
    got.bad[0].marketo.error.message.should.match(/Lead not found/);
    const rows = (emu.state().customObjects as Record<string, Msg[]>)[OBJECT];
    rows.should.have.length(11);
    rows.find((r) => r.personId === ids[11])!.should.containDeep({ entry_id: "1_keynote", plays: 11 });
  });

  it("a bulk threshold that is not a whole number fails every record as a setting problem", async function () {
    const got = await load("marketo-program-status", { bulkThreshold: "many" });
    spied("n").receive({ programId: 1001, marketo: { programStatus: { name: "Registered" } }, payload: { email: "a@example.com" } });
    await until(() => got.bad.length === 1, "the failure");
    got.bad[0].marketo.error.category.should.equal("validation");
    got.bad[0].marketo.error.message.should.match(/bulk threshold "many" is not a whole number/);
  });
});

describe("marketo-lead Create/Update lead: the duplicate policy settles Sync Leads' 1007", function () {
  let emu: EmulatorHandle;
  beforeEach(async () => {
    metrics.reset();
    emu = await emulator();
  });
  unloadAfterEach(() => emu);
  afterEach(() => metrics.reset());

  async function load(props: Msg) {
    const flow = [
      { id: "tab", type: "tab", label: "t" },
      { ...configNode(emu) },
      { ...editorDefaults("marketo-lead"), id: "n", z: "tab", type: "marketo-lead", marketo: CONFIG_ID, ...props, wires: [["ok"], ["bad"]] },
      { id: "ok", z: "tab", type: "helper" },
      { id: "bad", z: "tab", type: "helper" },
    ];
    await helper.load([marketoConfig, marketoLead], flow as helper.TestFlows, credentials(emu));
    return collect(["ok", "bad"] as const);
  }
  const leadById = (id: number): Msg => (emu.state().leads as unknown as Msg[]).find((l) => l.id === id)!;
  async function twins(): Promise<[number, number]> {
    const client = config().getClient();
    const [a] = await client.syncLeads([{ email: "twin@example.com", firstName: "A" }], { action: "createDuplicate" });
    const [b] = await client.syncLeads([{ email: "twin@example.com", firstName: "B" }], { action: "createDuplicate" });
    return [a.id as number, b.id as number];
  }
  const counted = (): number => metrics.duplicateFigures().find((f) => f.id === "n")?.count ?? 0;

  for (const [policy, pickOldest] of [["oldest", true], ["newest", false]] as const) {
    it(`"${policy}": the ${policy} lead is updated by id, msg.marketo names the matches, the sidebar counts it`, async () => {
      const got = await load({ duplicates: policy });
      const [a, b] = await twins();
      spied("n").receive({ payload: { email: "twin@example.com", lastName: "Updated" } });
      await until(() => got.ok.length + got.bad.length === 1, "the answer");
      got.bad.should.have.length(0);
      const picked = pickOldest ? a : b;
      const other = pickOldest ? b : a;
      got.ok[0].marketo.should.containDeep({ leadId: picked, status: "updated", duplicates: { policy, leadIds: [b, a] } });
      leadById(picked).lastName.should.equal("Updated");
      should(leadById(other).lastName).not.equal("Updated");
      counted().should.equal(1);
    });
  }

  it('"all": every lead with the email is updated; "fail": Marketo\'s 1007 stands and nothing is updated', async () => {
    let got = await load({ duplicates: "all" });
    const [a, b] = await twins();
    spied("n").receive({ payload: { email: "twin@example.com", lastName: "All" } });
    await until(() => got.ok.length === 1, "the answer");
    got.ok[0].marketo.leadIds.should.eql([b, a]);
    leadById(a).lastName.should.equal("All");
    leadById(b).lastName.should.equal("All");
    await helper.unload();

    got = await load({ duplicates: "fail" });
    spied("n").receive({ payload: { email: "twin@example.com", lastName: "Failed" } });
    await until(() => got.bad.length === 1, "the failure");
    got.bad[0].marketo.error.code.should.equal("1007");
    got.bad[0].marketo.duplicates.should.eql({ policy: "fail" });
    leadById(a).lastName.should.equal("All");
    counted().should.equal(2); // once with "all", once with "fail"
  });
});
