/**
 * A replay after a mapping change, against the emulator: one event's 5,000 registrations go
 * through tag-filter → field-mapper → marketo-lead (sync, trigger campaign, form post) and its
 * engagement through marketo-custom-activity; the mapping is fixed and the event replayed.
 * Marketo then holds the corrected fields, the replay requested no campaign and filled no form
 * (activity types 47 and 2), and added no second engagement activity.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { NodeInitializer } from "node-red";
import helper = require("node-red-node-test-helper");
import marketoConfig = require("../../nodes/marketo-config");
import marketoLead = require("../../nodes/marketo-lead");
import tagFilter = require("../../nodes/tag-filter");
import fieldMapper = require("../../nodes/field-mapper");
import customActivity = require("../../nodes/marketo-custom-activity");
 
const switchNode = require("@node-red/nodes/core/function/10-switch.js") as NodeInitializer;
import type { EmulatorHandle } from "../../src/emulator";
import { DEFAULT_ROWS } from "../../src/lib/flow/field-targets";
import { editorDefaults } from "../helpers/editor-defaults";
import { CONFIG_ID, collect, configNode, credentials, emulator, spied, until, type FlowNode, type Msg } from "../helpers/marketo-flow";

helper.init(require.resolve("node-red"));

const NODES = [marketoConfig, marketoLead, tagFilter, fieldMapper, customActivity, switchNode];
const N = 5000;
/** Engagement events of event 7: half carry their own date, half are dated when they arrived. */
const E = 1000;
const ENGAGEMENT = 100001;
const REQUEST_CAMPAIGN = 47;
const FILL_OUT_FORM = 2;

function registration(i: number, eventId: number) {
  return {
    topic: "registration.created",
    payload: {
      event: { id: eventId, code: `EV${eventId}` },
      registration: { code: `R-${eventId}-${i}`, status: "Registered", test: false },
      profile: { email: `a${eventId}-${i}@example.com`, firstName: `First${i}`, lastName: `Last${i}`, company: `Company ${i}`, title: "Engineer" },
    },
  };
}

function engagement(i: number, eventId: number) {
  return {
    topic: "session.engagement",
    payload: {
      event: { id: eventId, code: `EV${eventId}` },
      profile: { email: `a${eventId}-${i}@example.com` },
      engagement: {
        entry_id: `1_session${i % 7}`,
        entry_name: `Session ${i % 7}`,
        plays: 1 + (i % 3),
        ...(i % 2 ? { activityDate: new Date(Date.UTC(2026, 2, 1, 10, 0, i % 60)).toISOString() } : {}),
      },
    },
  };
}

/** The flow; `companyFrom` is the mapping under test, `withForm` adds the form post node. */
function flow(emu: EmulatorHandle, companyFrom: string, withForm: boolean): FlowNode[] {
  const rows = DEFAULT_ROWS.filter((r) => r.target !== "registrationCode").map((r) => (r.target === "company" ? { ...r, source: companyFrom } : { ...r }));
  // The campaign is requested once the lead is synced (its id travels in msg.marketo.leadId).
  const leads = withForm ? ["n-sync", "n-form"] : ["n-sync"];
  const lead = (id: string, extra: Record<string, unknown>): FlowNode => ({
    ...editorDefaults("marketo-lead"),
    id,
    type: "marketo-lead",
    z: "tab",
    marketo: CONFIG_ID,
    bulkThreshold: 0,
    wires: [["done"], ["failed"]],
    ...extra,
  });
  return [
    { id: "tab", type: "tab", label: "replay" },
    { ...configNode(emu, { callsPerWindow: 1000, concurrency: 10, batchWindowMs: 20, dailyBudget: 50000 }), z: "tab" },
    { ...editorDefaults("tag-filter"), id: "tf", type: "tag-filter", z: "tab", mode: "any", srcEngagement: true, wires: [["by-topic"], ["held"]] },
    {
      id: "by-topic",
      type: "switch",
      z: "tab",
      property: "topic",
      propertyType: "msg",
      rules: [{ t: "eq", v: "session.engagement", vt: "str" }, { t: "else" }],
      checkall: "false",
      outputs: 2,
      wires: [["ca"], ["fm"]],
    },
    { ...editorDefaults("marketo-custom-activity"), id: "ca", type: "marketo-custom-activity", z: "tab", marketo: CONFIG_ID, createMissing: true, wires: [["done"], ["failed"]] },
    { ...editorDefaults("field-mapper"), id: "fm", type: "field-mapper", z: "tab", marketo: "", rows, targetFields: [], wires: [leads, ["failed"]] },
    lead("n-sync", { action: "sync", wires: [["n-trigger"], ["failed"]] }),
    lead("n-trigger", { action: "trigger", campaignId: "2001", createMissing: false }),
    ...(withForm ? [lead("n-form", { action: "form", formId: "3001" })] : []),
    { id: "done", z: "tab", type: "helper" },
    { id: "failed", z: "tab", type: "helper" },
    { id: "held", z: "tab", type: "helper" },
  ];
}

function activities(emu: EmulatorHandle, type: number): number {
  const a = (emu.state().activities as { activities: Array<{ activityTypeId: number }> }).activities;
  return a.filter((x) => x.activityTypeId === type).length;
}

describe("replay after a mapping change", function () {
  this.timeout(300_000);
  let emu: EmulatorHandle | undefined;
  let userDir: string;
  beforeEach(() => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), "marketo-replay-flow-"));
    helper.settings({ userDir });
  });
  afterEach(async () => {
    await helper.unload();
    helper.settings({});
    await emu?.stop();
    emu = undefined;
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it("replays one event's 5,000 registrations and engagement: corrected fields in Marketo, no duplicate activity, no campaign requested and no form filled", async () => {
    emu = await emulator({ limits: { callsPerWindow: 1000, windowMs: 20_000, concurrency: 10 } });
    // Live: a wrong mapping (company from the title) for 5,000 registrations of event 7 and 50 of event 8.
    await helper.load(NODES, flow(emu, "payload.profile.title", false), credentials(emu));
    let got = collect(["done", "failed"] as const);
    for (let i = 0; i < N; i++) spied("tf").receive(registration(i, 7));
    for (let i = 0; i < 50; i++) spied("tf").receive(registration(i, 8));
    await until(() => got.done.length + got.failed.length === N + 50, "the live answers", 240_000);
    for (let i = 0; i < E; i++) spied("tf").receive(engagement(i, 7));
    await until(() => got.done.length + got.failed.length === N + 50 + E, "the live engagement", 60_000);
    got.failed.map((m: Msg) => m.marketo?.error?.message ?? m.error).slice(0, 3).should.eql([]);
    const byEmail = (email: string) => emu!.state().leads.find((l) => (l as Record<string, unknown>).email === email) as Record<string, unknown>;
    byEmail("a7-42@example.com").company!.should.equal("Engineer");
    const campaigns = activities(emu, REQUEST_CAMPAIGN);
    campaigns.should.be.aboveOrEqual(N);
    const forms = activities(emu, FILL_OUT_FORM);
    activities(emu, ENGAGEMENT).should.equal(E);

    // Node-RED restarts with the mapping fixed and a form post node added; event 7 is replayed
    // (campaigns suppressed by default) from the history kept on disk.
    await helper.unload();
    await helper.load(NODES, flow(emu, "payload.profile.company", true), credentials(emu));
    got = collect(["done", "failed"] as const);
    spied("tf").receive({ topic: "replay", payload: { event: "EV7" } });
    await until(() => got.done.length + got.failed.length === 2 * N + E, "the replay answered", 240_000);
    got.failed.map((m: Msg) => m.marketo?.error?.message ?? m.error).slice(0, 3).should.eql([]);
    const statuses = new Map<string, number>();
    for (const m of got.done) statuses.set(String(m.marketo.status), (statuses.get(String(m.marketo.status)) ?? 0) + 1);
    statuses.get("suppressed")!.should.equal(2 * N);
    got.done.every((m: Msg) => m.replay && m.replay.suppressCampaigns === true).should.be.true();

    byEmail("a7-42@example.com").company!.should.equal("Company 42");
    byEmail("a7-4999@example.com").company!.should.equal("Company 4999");
    byEmail("a8-1@example.com").company!.should.equal("Engineer"); // not replayed
    activities(emu, REQUEST_CAMPAIGN).should.equal(campaigns);
    activities(emu, FILL_OUT_FORM).should.equal(forms);
    // Every engagement activity was found in Marketo, none sent twice.
    activities(emu, ENGAGEMENT).should.equal(E);
    got.done.filter((m: Msg) => m.topic === "session.engagement" && m.marketo.arrived === true).should.have.length(E);
  });
});
