/**
 * marketo-program-status through node-red-node-test-helper against the built node and the
 * emulator: statuses set (by lead id, by email, creating the lead), 1037 as unchanged, 1025
 * naming the channel, validation and Marketo failures on output 2 and Catch, the deploy check
 * and the Check program route, status text, close during a batch, and batching 600 records.
 */
import should from "should";
import helper = require("node-red-node-test-helper");
import marketoConfig = require("../../nodes/marketo-config");
import programStatus = require("../../nodes/marketo-program-status");
import statusMapper = require("../../nodes/status-mapper");
import type { EmulatorHandle } from "../../src/emulator";
import type { MarketoConfigNode } from "../../src/lib/node-kit/marketo-config-api";
import { presetRows } from "../../src/lib/flow/status-ladder";
import { metrics } from "../../nodes/lib/sidebar/metrics";
import { editorDefaults } from "../helpers/editor-defaults";
import { CONFIG_ID, collect, configNode, credentials, emulator, lastStatus, spied, until, unloadAfterEach, type Msg } from "../helpers/marketo-flow";

helper.init(require.resolve("node-red"));

const TYPE = "marketo-program-status";
const STATUS_ROUTE = "POST /rest/v1/programs/:programId/members/status.json";
const PROGRAM_ROUTE = "GET /rest/asset/v1/program/:id.json";
const CHANNEL_ROUTE = "GET /rest/asset/v1/channel/byName.json";

const config = (): MarketoConfigNode => helper.getNode(CONFIG_ID) as unknown as MarketoConfigNode;

describe("marketo-program-status node", function () {
  let emu: EmulatorHandle;

  beforeEach(async () => {
    emu = await emulator();
  });
  unloadAfterEach(() => emu);

  /** The node as the editor makes it, with `props` over it, wired to ok/bad, plus a Catch. */
  function flow(props: Msg = {}, extra: Msg[] = [], cfg: Msg = {}): Msg[] {
    return [
      { id: "tab", type: "tab", label: "t" },
      { ...configNode(emu, cfg) },
      { ...editorDefaults(TYPE), id: "ps", z: "tab", type: TYPE, marketo: CONFIG_ID, ...props, wires: [["ok"], ["bad"]] },
      { id: "ok", z: "tab", type: "helper" },
      { id: "bad", z: "tab", type: "helper" },
      { id: "c", z: "tab", type: "catch", scope: ["ps"], uncaught: false, wires: [["caught"]] },
      { id: "caught", z: "tab", type: "helper" },
      ...extra,
    ];
  }
  async function load(props: Msg = {}, extra: Msg[] = [], creds = credentials(emu), cfg: Msg = {}) {
    await helper.load([marketoConfig, programStatus, statusMapper], flow(props, extra, cfg) as helper.TestFlows, creds);
    return collect(["ok", "bad", "caught"] as const);
  }
  async function leads(...emails: string[]): Promise<number[]> {
    const rs = await config().getClient().syncLeads(emails.map((email) => ({ email })));
    return rs.map((r) => r.id as number);
  }
  const members = (programId: number) =>
    (emu.state().programs as { programMembers: Array<{ programId: number; leadId: number; status: string }> }).programMembers.filter((m) => m.programId === programId);
  const stats = () => emu.stats().callsByRoute;
  /** What node `id` warned (the helper's spy sits on Node.prototype, shared by every node). */
  const warnings = (id = "ps"): string[] => {
    const n = helper.getNode(id) as unknown as { warn: { getCalls(): Array<{ thisValue: unknown; args: unknown[] }> } };
    return n.warn.getCalls().filter((c) => c.thisValue === n).map((c) => String(c.args[0]));
  };
  const mapped = (name: string, leadId?: number): Msg => ({ programStatus: { name, step: 1, success: false, source: name }, ...(leadId ? { leadId } : {}) });

  it("sets the status of leads given by id, answering each with programId, programStatus and status", async function () {
    const got = await load();
    const [a, b] = await leads("a@example.com", "b@example.com");
    spied("ps").receive({ programId: 1001, marketo: mapped("Registered", a), payload: { email: "a@example.com" } });
    spied("ps").receive({ programId: "1001", marketo: mapped("Registered", b), payload: { email: "b@example.com" } });
    await until(() => got.ok.length === 2, "two answers");
    got.bad.should.have.length(0);
    got.ok[0].marketo.should.containDeep({ leadId: a, programId: 1001, status: "created", programStatus: { name: "Registered", source: "Registered" } });
    should(got.ok[0].marketo.requestId).be.a.String();
    got.ok[1].marketo.programId.should.equal(1001);
    members(1001).map((m) => [m.leadId, m.status]).sort().should.eql([[a, "Registered"], [b, "Registered"]].sort());
    stats()[STATUS_ROUTE].should.equal(1); // one batch for (1001, Registered)
    await until(() => lastStatus("ps")?.text === `${TYPE}.status.sent 2`, "status text");
    lastStatus("ps")!.should.containEql({ fill: "green", shape: "dot" });
    // msg.programId comes from the message: no program read at deploy.
    should(stats()[PROGRAM_ROUTE]).be.undefined();
  });

  it("finds the lead by email, and creates it only when set to", async function () {
    const got = await load({ program: "1002", programType: "num", programStatus: "Registered", programStatusType: "str" }, [
      { ...editorDefaults(TYPE), id: "ps2", z: "tab", type: TYPE, marketo: CONFIG_ID, program: "1002", programType: "num", programStatus: "Registered", programStatusType: "str", createMissing: true, wires: [["ok"], ["bad"]] },
    ]);
    const [known] = await leads("known@example.com");
    spied("ps").receive({ payload: { email: "KNOWN@example.com" } });
    spied("ps").receive({ payload: { email: "nobody@example.com" } });
    await until(() => got.ok.length + got.bad.length === 2, "two answers");
    got.ok[0].marketo.should.containDeep({ leadId: known, status: "created", programStatus: { name: "Registered" } });
    got.bad[0].marketo.error.should.containDeep({ code: "INVALID_INPUT", category: "validation" });
    got.bad[0].marketo.error.message.should.match(/no lead has the email nobody@example.com.*create missing leads/);
    spied("ps2").receive({ payload: { email: "nobody@example.com" } });
    await until(() => got.ok.length === 2, "the created lead's answer");
    const created = emu.state().leads.find((l: Msg) => l.email === "nobody@example.com") as Msg;
    should(created).be.ok();
    got.ok[1].marketo.leadId.should.equal(created.id);
    members(1002).map((m) => m.status).should.eql(["Registered", "Registered"]);
  });

  it("a status at or below the member's current one is unchanged on output 1 (1037)", async function () {
    const got = await load({ program: "1001", programType: "num" });
    const [id] = await leads("up@example.com");
    spied("ps").receive({ marketo: mapped("Attended", id), payload: {} });
    await until(() => got.ok.length === 1, "Attended");
    spied("ps").receive({ marketo: mapped("Registered", id), payload: {} });
    await until(() => got.ok.length === 2, "Registered");
    got.bad.should.have.length(0);
    got.ok.map((m) => m.marketo.status).should.eql(["created", "unchanged"]);
    got.ok[1].marketo.should.containDeep({ leadId: id, programId: 1001, programStatus: { name: "Registered" } });
    members(1001).map((m) => m.status).should.eql(["Attended"]);
    got.caught.should.have.length(0);
  });

  it("the force flag moves a status back: the member is removed, then set again", async function () {
    const got = await load({ program: "1001", programType: "num" });
    const [id, other] = await leads("back@example.com", "other@example.com");
    spied("ps").receive({ marketo: mapped("Attended", id), payload: {} });
    spied("ps").receive({ marketo: mapped("Attended", other), payload: {} });
    await until(() => got.ok.length === 2, "Attended");
    spied("ps").receive({ marketo: { ...mapped("Registered", id), programStatus: { name: "Registered", step: 30, success: false, source: "Registered", force: true } }, payload: {} });
    await until(() => got.ok.length === 3, "forced");
    got.ok[2].marketo.should.containDeep({ leadId: id, forced: true, status: "created", programStatus: { name: "Registered" } });
    // Without the flag Marketo keeps the higher status.
    spied("ps").receive({ marketo: mapped("Registered", other), payload: {} });
    await until(() => got.ok.length === 4, "not forced");
    got.ok[3].marketo.status.should.equal("unchanged");
    should(got.ok[3].marketo.forced).be.undefined();
    const byLead = Object.fromEntries(members(1001).map((m) => [m.leadId, m.status]));
    byLead.should.eql({ [id]: "Registered", [other]: "Attended" });
    stats()["POST /rest/v1/programs/:programId/members/delete.json"].should.equal(1);
  });

  it("1025 names the status, the program, its channel and the channel's statuses, reading them once", async function () {
    const got = await load({ program: "1002", programType: "num" });
    const [a, b] = await leads("x@example.com", "y@example.com");
    await until(() => stats()[CHANNEL_ROUTE] === 1, "the deploy check");
    spied("ps").receive({ marketo: mapped("Participated", a), payload: {} });
    await until(() => got.bad.length === 1, "the first 1025");
    spied("ps").receive({ marketo: mapped("Participated", b), payload: {} });
    await until(() => got.bad.length === 2 && got.caught.length === 2, "the second 1025 and both catches");
    for (const m of got.bad) {
      m.marketo.error.should.containDeep({ code: "1025", category: "validation", retryable: false });
      m.marketo.error.message.should.equal(
        'status "Participated" is not in channel "Webinar" of program 1002 (Webinar statuses: Invited, Registered, No Show, Attended, Attended On-demand)',
      );
      m.marketo.should.containDeep({ programId: 1002 });
    }
    got.caught[0].error.message.should.match(/marketo-program-status: validation: status "Participated" is not in channel "Webinar"/);
    // The deploy check's reads serve the 1025 messages: one program read, one channel read.
    stats()[PROGRAM_ROUTE].should.equal(1);
    stats()[CHANNEL_ROUTE].should.equal(1);
    warnings().should.eql([]); // the node's own status (msg) is not known at deploy, and no mapper is wired
  });

  it("a bad program id, a missing status and a missing lead fail on output 2 and reach Catch, without a call", async function () {
    const got = await load();
    emu.resetStats();
    spied("ps").receive({ programId: "abc", marketo: mapped("Registered", 5), payload: {} });
    spied("ps").receive({ programId: 1001, marketo: { leadId: 5 }, payload: {} });
    spied("ps").receive({ programId: 1001, marketo: mapped("Registered"), payload: { firstName: "no email" } });
    spied("ps").receive({ programId: 1001, marketo: mapped("Registered"), payload: "not a record" });
    await until(() => got.bad.length === 4 && got.caught.length === 4, "four failures");
    got.ok.should.have.length(0);
    for (const m of got.bad) m.marketo.error.should.containDeep({ code: "INVALID_INPUT", category: "validation", retryable: false, action: "permanent" });
    const byMessage = got.bad.map((m) => m.marketo.error.message);
    byMessage.should.containEql('the program id at msg.programId ("abc") is not a positive whole number');
    byMessage.some((t) => /^no program status at msg.marketo.programStatus.name/.test(t)).should.be.true();
    byMessage.some((t) => /^no lead: msg.marketo.leadId is not set and the record has no email/.test(t)).should.be.true();
    got.caught.map((m) => m.error.message).join("\n").should.match(/validation: the program id at msg.programId/);
    byMessage.should.containEql("no lead: msg.marketo.leadId is not set and the email cannot be read: msg.payload is a string, not an object");
    should(stats()[STATUS_ROUTE]).be.undefined();
  });

  it("Marketo's failures reach output 2 with their category: unknown program, unknown lead, bad secret", async function () {
    const got = await load();
    spied("ps").receive({ programId: 4242, marketo: mapped("Registered", 1), payload: {} });
    spied("ps").receive({ programId: 1001, marketo: mapped("Registered", 999999), payload: {} });
    await until(() => got.bad.length === 2, "two failures");
    const byCode = Object.fromEntries(got.bad.map((m) => [m.marketo.error.code, m.marketo.error]));
    byCode["1013"].category.should.equal("validation");
    byCode["1004"].category.should.equal("validation");
    await helper.unload();
    const got2 = await load({}, [], credentials(emu, "wrong-secret"));
    spied("ps").receive({ programId: 1001, marketo: mapped("Registered", 1), payload: {} });
    await until(() => got2.bad.length === 1, "auth failure");
    got2.bad[0].marketo.error.category.should.equal("auth");
    got2.caught.should.have.length(1);
    await until(() => lastStatus("ps")?.text === `${TYPE}.status.authFailed`, "auth failed status");
  });

  it("shows a setting that cannot work at deploy, and fails every record with it", async function () {
    const got = await load({ program: "12x", programType: "num" });
    lastStatus("ps")!.should.eql({ fill: "red", shape: "ring", text: `${TYPE}.status.badConfig` });
    spied("ps").error.calledWithMatch(/the program id "12x" is not a positive whole number/).should.be.true();
    spied("ps").receive({ marketo: mapped("Registered", 1), payload: {} });
    await until(() => got.bad.length === 1, "the failure");
    got.bad[0].marketo.error.message.should.match(/not configured correctly: the program id "12x"/);
    should(stats()[PROGRAM_ROUTE]).be.undefined();
  });

  describe("a flow saved by 0.1.0", function () {
    it("with status: \"Registered\" (the old name of the setting) still sets that status", async function () {
      const got = await load({ programStatus: undefined, programStatusType: undefined, program: "1001", programType: "num", status: "Registered", statusType: "str" });
      lastStatus("ps")?.fill?.should.not.equal("red");
      spied("ps").receive({ payload: { email: "old@example.com" }, marketo: { leadId: (await leads("old@example.com"))[0] } });
      await until(() => got.ok.length === 1, "the status set");
      got.ok[0].marketo.should.containDeep({ programId: 1001, programStatus: { name: "Registered" } });
      members(1001).map((m) => m.status).should.eql(["Registered"]);
    });

    it("with the shown status an older editor wrote over the setting, reads the status from the message, not 'config invalid'", async function () {
      const shown = { fill: "green", shape: "dot", text: "marketo-program-status.status.sent" };
      const got = await load({ programStatus: undefined, programStatusType: undefined, status: shown, statusType: "msg" });
      spied("ps").receive({ programId: 1001, marketo: mapped("Attended", (await leads("shown@example.com"))[0]), payload: {} });
      await until(() => got.ok.length + got.bad.length === 1, "the answer");
      got.bad.should.have.length(0);
      got.ok[0].marketo.should.containDeep({ programId: 1001, programStatus: { name: "Attended" } });
      (lastStatus("ps")?.text ?? "").should.not.equal(`${TYPE}.status.badConfig`);
    });
  });

  describe("deploy check", function () {
    it("warns once about a fixed status the channel lacks, with 2 calls", async function () {
      await load({ program: "1001", programType: "num", programStatus: "No Show", programStatusType: "str" });
      await until(() => warnings().length === 1, "the warning");
      warnings()[0].should.match(/channel "Kaltura Event" of program 1001 lacks the status this flow may send: No Show/);
      stats()[PROGRAM_ROUTE].should.equal(1);
      stats()[CHANNEL_ROUTE].should.equal(1);
    });

    it("checks the statuses of the status-mapper wired before it (Certain preset against the Kaltura channel)", async function () {
      await load({ program: "1001", programType: "num" }, [
        { id: "sm", z: "tab", type: "status-mapper", preset: "certain", rules: presetRows("certain"), wires: [["fn"], []] },
        { id: "fn", z: "tab", type: "helper", wires: [["ps"]] },
        { id: "sm-custom", z: "tab", type: "status-mapper", preset: "custom", rules: [{ source: "x", name: "Cancelled", step: 90, success: false }], wires: [[], ["ps"]] },
      ]);
      await until(() => warnings().length === 1, "the warning");
      warnings()[0].should.match(/lacks the statuses this flow may send: No Show, Attended On-demand \(/);
      warnings()[0].should.not.match(/Cancelled/); // that mapper's skipped output carries no status
    });

    it("warns about custom rules too, and about a program that does not exist", async function () {
      await load({ program: "1002", programType: "num" }, [
        { id: "sm", z: "tab", type: "status-mapper", preset: "custom", rules: [{ source: "gone", name: "Cancelled", step: 90, success: false }, { source: "came", name: "Attended", step: 40, success: true }], wires: [["ps"], []] },
        { ...editorDefaults(TYPE), id: "ps-none", z: "tab", type: TYPE, marketo: CONFIG_ID, program: "4242", programType: "num", programStatus: "Registered", programStatusType: "str", wires: [[], []] },
      ]);
      await until(() => warnings().length === 1 && warnings("ps-none").length === 1, "both warnings");
      warnings()[0].should.match(/channel "Webinar" of program 1002 lacks the status this flow may send: Cancelled \(/);
      warnings("ps-none")[0].should.match(/program 4242 does not exist in Marketo/);
    });

    it("without the Assets permission: warns that it could not check, and still sets statuses", async function () {
      emu.addClient({ clientId: "no-assets", clientSecret: "s3", permissions: ["Read-Write Person", "Read-Write Activity"] });
      const got = await load({ program: "1002", programType: "num", programStatus: "Attended", programStatusType: "str" }, [], credentials(emu, "s3", "no-assets"));
      await until(() => warnings().length === 1, "the warning");
      warnings()[0].should.match(/could not check program 1002: auth: .*Read-Only Assets/);
      const [id] = await leads("p@example.com");
      spied("ps").receive({ marketo: { leadId: id }, payload: {} });
      await until(() => got.ok.length === 1, "delivery");
      members(1002).map((m) => m.status).should.eql(["Attended"]);
      const res = await helper.request().post(`/${TYPE}/check`).send({ config: CONFIG_ID, programId: 1002, statuses: ["Attended"] }).expect(200);
      res.body.ok.should.be.false();
      res.body.error.should.containDeep({ code: "603", category: "auth" });
      res.body.problems[0].should.match(/could not read program 1002: .*Read-Only Assets/);
    });
  });

  describe("Check program route", function () {
    it("answers the program, its channel, its statuses and the missing ones", async function () {
      await load();
      const res = await helper
        .request()
        .post(`/${TYPE}/check`)
        .send({ config: CONFIG_ID, programId: "1002", statuses: ["Attended", "Participated"], mappers: [{ rules: presetRows("kaltura") }] })
        .expect(200);
      res.body.program.should.eql({ id: 1002, name: "Certain Webinar", channel: "Webinar" });
      res.body.channel.statuses.map((s: Msg) => s.name).should.eql(["Invited", "Registered", "No Show", "Attended", "Attended On-demand"]);
      res.body.missing.should.eql(["Participated", "Created", "Confirmed", "autoConfirmed", "Blocked", "Un-registered"]);
      res.body.ok.should.be.false();
      const fine = await helper.request().post(`/${TYPE}/check`).send({ config: CONFIG_ID, programId: 1001, mappers: [{ preset: "kaltura", rules: presetRows("kaltura") }] }).expect(200);
      fine.body.ok.should.be.true();
      fine.body.missing.should.eql([]);
      const none = await helper.request().post(`/${TYPE}/check`).send({ config: CONFIG_ID, programId: 77 }).expect(200);
      none.body.problems.should.eql(["program 77 does not exist in Marketo (or the API user cannot see its workspace)"]);
    });

    it("refuses a bad program id or a config that is not deployed", async function () {
      await load();
      (await helper.request().post(`/${TYPE}/check`).send({ config: CONFIG_ID, programId: "1.5" }).expect(400)).body.error.message.should.match(/not a positive whole number/);
      (await helper.request().post(`/${TYPE}/check`).send({ config: "nope", programId: 1001 }).expect(400)).body.error.message.should.match(/not deployed/);
      (await helper.request().post(`/${TYPE}/check`).send({ programId: 1001 }).expect(400)).body.error.message.should.match(/choose a marketo-config/);
    });
  });

  it("close during a batch answers every message", async function () {
    // A long batch window: the records wait in the client's batch until close sends them.
    const got = await load({ program: "1001", programType: "num", programStatus: "Invited", programStatusType: "str" }, [], credentials(emu), { batchWindowMs: 30_000 });
    const ids = await leads("c1@example.com", "c2@example.com", "c3@example.com", "c4@example.com", "c5@example.com");
    await until(() => stats()[CHANNEL_ROUTE] === 1, "the deploy check");
    let arrived = 0;
    spied("ps").on("input", () => arrived++);
    emu.pause();
    for (const id of ids) spied("ps").receive({ marketo: { leadId: id }, payload: {} });
    await until(() => arrived === 5, "the messages to reach the node");
    const closing = spied("ps").close!(false);
    setTimeout(() => emu.resume(), 200);
    await closing;
    // Answers leave before close completes; Node-RED delivers them on the next turn.
    await until(() => got.ok.length + got.bad.length === 5, "every answer", 1000);
    got.ok.should.have.length(5);
    members(1001).should.have.length(5);
  });

  it("600 records in one message go in 2 program-status calls, each answered on its own", async function () {
    const got = await load({ program: "1001", programType: "num" });
    const emails = Array.from({ length: 600 }, (_, i) => `bulk${i}@example.com`);
    const ids = await leads(...emails);
    spied("ps").receive({ marketo: mapped("Confirmed"), payload: ids.map((leadId, i) => ({ leadId, email: emails[i] })) });
    await until(() => got.ok.length === 600, "600 answers", 20_000);
    got.bad.should.have.length(0);
    stats()[STATUS_ROUTE].should.equal(2);
    got.ok.map((m) => m.marketo.leadId).sort((x, y) => x - y).should.eql([...ids].sort((x, y) => x - y));
    got.ok[599].payload.should.have.property("email");
    members(1001).filter((m) => m.status === "Confirmed").should.have.length(600);
  });

  describe("duplicate leads", function () {
    // The emulator's clock moves by hand, so each duplicate has its own created/updated time.
    let clock = Date.parse("2026-12-01T10:00:00Z");
    beforeEach(async () => {
      await emu.stop();
      emu = await emulator({ now: () => clock });
    });
    /** Two leads with one email: the first created a minute before the second. */
    async function twins(email: string): Promise<{ older: number; newer: number }> {
      const client = config().getClient();
      const [a] = await client.syncLeads([{ email }], { action: "createDuplicate" });
      clock += 60_000;
      const [b] = await client.syncLeads([{ email }], { action: "createDuplicate" });
      clock += 60_000;
      return { older: a.id as number, newer: b.id as number };
    }
    // Node ids differ from the policy names: Node-RED takes a property equal to a node id for a config reference.
    const node = (id: string, duplicates?: string): Msg => ({
      ...editorDefaults(TYPE), id, z: "tab", type: TYPE, marketo: CONFIG_ID, program: "1001", programType: "num", programStatus: "Registered", programStatusType: "str",
      ...(duplicates ? { duplicates } : {}), wires: [["ok"], ["bad"]],
    });

    it("fail, newest updated, oldest created or all: the policy decides, and msg.marketo says which", async function () {
      metrics.reset();
      const got = await load({ program: "1001", programType: "num", programStatus: "Registered", programStatusType: "str", duplicates: "fail" }, [
        node("n-newest", "newest"),
        node("n-oldest", "oldest"),
        node("n-all", "all"),
        node("n-default"),
      ]);
      const fail = await twins("fail@example.com");
      spied("ps").receive({ payload: { email: "fail@example.com" } });
      await until(() => got.bad.length === 1, "the failed record");
      got.bad[0].marketo.error.should.containDeep({ code: "1007", category: "validation" });
      got.bad[0].marketo.error.message.should.match(/2 leads have the email fail@example.com/);
      got.bad[0].marketo.duplicates.should.eql({ policy: "fail", leadIds: [fail.newer, fail.older] });
      members(1001).should.have.length(0);

      const newest = await twins("newest@example.com");
      spied("n-newest").receive({ payload: { email: "newest@example.com" } });
      await until(() => got.ok.length === 1, "newest");
      got.ok[0].marketo.should.containDeep({ leadId: newest.newer, duplicates: { policy: "newest", leadIds: [newest.newer, newest.older] } });

      const oldest = await twins("oldest@example.com");
      spied("n-oldest").receive({ payload: { email: "oldest@example.com" } });
      await until(() => got.ok.length === 2, "oldest");
      got.ok[1].marketo.should.containDeep({ leadId: oldest.older, duplicates: { policy: "oldest" } });

      const all = await twins("all@example.com");
      spied("n-all").receive({ payload: { email: "all@example.com" } });
      await until(() => got.ok.length === 3, "all");
      got.ok[2].marketo.leadIds.should.eql([all.newer, all.older]);

      const dflt = await twins("default@example.com");
      spied("n-default").receive({ payload: { email: "default@example.com" } });
      await until(() => got.ok.length === 4, "default");
      got.ok[3].marketo.should.containDeep({ leadId: dflt.newer, duplicates: { policy: "newest" } });

      members(1001)
        .map((m) => m.leadId)
        .sort((x, y) => x - y)
        .should.eql([newest.newer, oldest.older, all.newer, all.older, dflt.newer].sort((x, y) => x - y));
      // A single lead is not a duplicate: nothing said, nothing counted.
      const [single] = await leads("single@example.com");
      spied("n-newest").receive({ payload: { email: "single@example.com" } });
      await until(() => got.ok.length === 5, "single");
      got.ok[4].marketo.leadId.should.equal(single);
      should(got.ok[4].marketo.duplicates).be.undefined();
      const counts = Object.fromEntries(metrics.duplicateFigures().map((f) => [f.id, f.count]));
      counts.should.eql({ ps: 1, "n-newest": 1, "n-oldest": 1, "n-all": 1, "n-default": 1 });
    });

    it("an unknown policy is a configuration problem", async function () {
      const got = await load({ program: "1001", programType: "num", programStatus: "Registered", programStatusType: "str", duplicates: "first" });
      spied("ps").receive({ payload: { email: "x@example.com" } });
      await until(() => got.bad.length === 1, "the failed record");
      got.bad[0].marketo.error.message.should.match(/duplicate leads must be fail, newest, oldest or all, not "first"/);
    });
  });
});
