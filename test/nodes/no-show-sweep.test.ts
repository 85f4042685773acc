/**
 * marketo-program-status's no-show sweep through node-red-node-test-helper against the built
 * node and the emulator: a sweep message (dry run, then real, then again), the sweep the events'
 * end date schedules, once per program across a restart (userDir), and a channel without the
 * no-show status failing as validation on output 2 and Catch.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import helper = require("node-red-node-test-helper");
import marketoConfig = require("../../nodes/marketo-config");
import programStatus = require("../../nodes/marketo-program-status");
import type { EmulatorHandle } from "../../src/emulator";
import type { MarketoConfigNode } from "../../src/lib/node-kit/marketo-config-api";
import { editorDefaults } from "../helpers/editor-defaults";
import { CONFIG_ID, collect, configNode, credentials, emulator, spied, until, type Msg } from "../helpers/marketo-flow";

helper.init(require.resolve("node-red"));

const TYPE = "marketo-program-status";
const READ = "GET /rest/v1/programs/:programId/members.json";
const WRITE = "POST /rest/v1/programs/:programId/members/status.json";
const WEBINAR = 1002;

describe("marketo-program-status: no-show sweep", function () {
  let emu: EmulatorHandle;
  let userDir: string;

  beforeEach(async () => {
    emu = await emulator();
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), "marketo-no-show-"));
    helper.settings({ userDir });
  });
  afterEach(async () => {
    await helper.unload();
    helper.settings({});
    await emu.stop();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  function flow(props: Msg = {}): Msg[] {
    return [
      { id: "tab", type: "tab", label: "t" },
      { ...configNode(emu) },
      { ...editorDefaults(TYPE), id: "ps", z: "tab", type: TYPE, marketo: CONFIG_ID, ...props, wires: [["ok"], ["bad"]] },
      { id: "ok", z: "tab", type: "helper" },
      { id: "bad", z: "tab", type: "helper" },
      { id: "c", z: "tab", type: "catch", scope: ["ps"], uncaught: false, wires: [["caught"]] },
      { id: "caught", z: "tab", type: "helper" },
    ];
  }
  async function load(props: Msg = {}) {
    await helper.load([marketoConfig, programStatus], flow(props) as helper.TestFlows, credentials(emu));
    return collect(["ok", "bad", "caught"] as const);
  }
  const client = () => (helper.getNode(CONFIG_ID) as unknown as MarketoConfigNode).getClient();
  async function members(status: string, ...emails: string[]): Promise<number[]> {
    const ids = (await client().syncLeads(emails.map((email) => ({ email })))).map((r) => r.id as number);
    (await client().syncProgramMemberStatus(WEBINAR, status, ids)).every((r) => r.ok).should.be.true();
    return ids;
  }
  const statusOf = (programId: number): Record<number, string> => {
    const out: Record<number, string> = {};
    const all = (emu.state().programs as { programMembers: Array<{ programId: number; leadId: number; status: string }> })
      .programMembers;
    for (const m of all) if (m.programId === programId) out[m.leadId] = m.status;
    return out;
  };
  const calls = (route: string): number => emu.stats().callsByRoute[route] ?? 0;
  const sweep = (payload: Msg) => spied("ps").receive({ topic: "no-show sweep", payload });

  it("only registered members move to No Show; a dry run changes nothing; a second run does nothing", async function () {
    const got = await load();
    const registered = await members("Registered", "r1@example.com", "r2@example.com", "r3@example.com");
    const attended = await members("Attended", "a1@example.com", "a2@example.com");
    const [invited] = await members("Invited", "i1@example.com");
    const writes = calls(WRITE);
    // The node's status texts come from its message catalog (a missing key would show as the key).
    const texts: string[] = [];
    const ps = helper.getNode("ps") as unknown as { status(s: { text?: string }): void };
    const paint = ps.status.bind(ps);
    ps.status = (s) => {
      if (s.text) texts.push(s.text);
      paint(s);
    };

    sweep({ programId: WEBINAR, dryRun: true });
    await until(() => got.ok.length === 1, "the dry-run report");
    // RED._ is the identity in the test helper: the texts are catalog keys, each one in the catalog.
    await until(() => texts.includes(`${TYPE}.status.noShowDryRun`), "the dry-run status");
    texts.should.containEql(`${TYPE}.status.noShowCounting`);
    got.ok[0].topic.should.equal("no-show sweep");
    got.ok[0].payload.should.containDeep({ programId: WEBINAR, dryRun: true, read: 3, planned: 3, set: 0, failed: 0 });
    got.ok[0].marketo.should.containDeep({ programId: WEBINAR, status: "dry-run" });
    calls(WRITE).should.equal(writes);
    Object.values(statusOf(WEBINAR)).filter((s) => s === "No Show").should.have.length(0);

    sweep({ programId: String(WEBINAR) });
    await until(() => got.ok.length === 2, "the sweep report");
    got.ok[1].payload.should.containDeep({ dryRun: false, statusName: "No Show", registered: ["Registered"], read: 3, planned: 3, set: 3, skipped: 0, failed: 0 });
    got.ok[1].marketo.status.should.equal("swept");
    await until(() => texts.includes(`${TYPE}.status.noShowDone`), "the sweep's status");
    const catalog = (require("../../nodes/locales/en-US/marketo-program-status.json") as Record<string, { status: Record<string, string> }>)[TYPE].status;
    for (const key of texts.map((x) => x.split(" ")[0]))
      (typeof catalog[key.replace(`${TYPE}.status.`, "")]).should.equal("string", `${key} is not in the catalog`);
    const after = statusOf(WEBINAR);
    registered.map((id) => after[id]).should.eql(["No Show", "No Show", "No Show"]);
    attended.map((id) => after[id]).should.eql(["Attended", "Attended"]);
    after[invited].should.equal("Invited");
    (calls(WRITE) - writes).should.equal(1);

    const reads = calls(READ);
    const writesBefore = calls(WRITE);
    await members("Registered", "late@example.com");
    sweep({ programId: WEBINAR });
    await until(() => got.ok.length === 3, "the second answer");
    got.ok[2].payload.should.containDeep({ programId: WEBINAR, alreadyDone: true, set: 3 });
    got.ok[2].marketo.status.should.equal("unchanged");
    calls(READ).should.equal(reads);
    (calls(WRITE) - writesBefore).should.equal(1); // the late registration itself, no sweep write
    got.bad.should.have.length(0);
    got.caught.should.have.length(0);
  });

  it("sweeps by itself after the event's end plus the delay, and remembers it across a restart", async function () {
    const props = { program: String(WEBINAR), programType: "num", programStatus: "Attended", programStatusType: "str", noShow: true, noShowDelay: "0" };
    let got = await load(props);
    const registered = await members("Registered", "r1@example.com", "r2@example.com");
    const [attendee] = await members("Registered", "came@example.com");
    // The attendee's record carries the event, which ended an hour ago: the sweep is due now.
    const endDate = new Date(Date.now() - 3_600_000).toISOString();
    spied("ps").receive({ marketo: { leadId: attendee }, payload: { email: "came@example.com", event: { endDate } } });
    await until(() => got.ok.some((m) => m.topic === "no-show sweep"), "the timed sweep's report");
    const report = got.ok.find((m) => m.topic === "no-show sweep")!;
    report.payload.should.containDeep({ programId: WEBINAR, dryRun: false, failed: 0 });
    await until(() => got.ok.length === 2, "the attendee's answer");
    const s = statusOf(WEBINAR);
    registered.map((id) => s[id]).should.eql(["No Show", "No Show"]);
    s[attendee].should.equal("Attended");
    const saved = JSON.parse(fs.readFileSync(path.join(userDir, "marketo-no-show", "ps.json"), "utf8"));
    saved.done.should.have.property(String(WEBINAR));
    saved.due.should.eql({});

    // Restarted: the program stays swept, for the timer and for a message.
    await helper.unload();
    got = await load(props);
    const writes = calls(WRITE);
    spied("ps").receive({ marketo: { leadId: attendee }, payload: { email: "came@example.com", event: { endDate } } });
    sweep({});
    await until(() => got.ok.length === 2, "the record and the sweep answer");
    got.ok.find((m) => m.topic === "no-show sweep")!.payload.should.containDeep({ programId: WEBINAR, alreadyDone: true });
    (calls(WRITE) - writes).should.equal(1); // the record's status only
    got.bad.should.have.length(0);
  });

  it("a channel without the no-show status fails the sweep as validation, on output 2 and to Catch", async function () {
    const got = await load();
    sweep({ programId: 1001, dryRun: true });
    await until(() => got.bad.length === 1 && got.caught.length === 1, "the failure");
    got.bad[0].topic.should.equal("no-show sweep");
    got.bad[0].marketo.error.should.containDeep({ category: "validation", code: "INVALID_INPUT", source: { id: "ps", type: TYPE } });
    got.bad[0].marketo.error.message.should.match(/"No Show" is not in channel "Kaltura Event" of program 1001/);
    got.caught[0].error.message.should.match(/^MarketoError: marketo-program-status: validation: /);
    sweep({});
    await until(() => got.bad.length === 2, "no program");
    got.bad[1].marketo.error.message.should.match(/needs msg.payload.programId/);
    got.ok.should.have.length(0);
    calls(READ).should.equal(0);
  });
});
