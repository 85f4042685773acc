/**
 * The Marketo nodes together, built from their editor defaults, on one marketo-config against
 * the emulator: they share one limiter, and the flow (lead → program status → custom
 * activity) moves 5,000 registrations in few calls with every message answered.
 */
import should from "should";
import helper = require("node-red-node-test-helper");
import marketoConfig = require("../../nodes/marketo-config");
import marketoLead = require("../../nodes/marketo-lead");
import marketoProgramStatus = require("../../nodes/marketo-program-status");
import marketoCustomActivity = require("../../nodes/marketo-custom-activity");
import type { EmulatorHandle } from "../../src/emulator";
import { editorDefaults } from "../helpers/editor-defaults";
import { CONFIG_ID, collect, configNode, credentials, emulator, spied, until, unloadAfterEach, type FlowNode, type Msg } from "../helpers/marketo-flow";

helper.init(require.resolve("node-red"));

const NODES = [marketoConfig, marketoLead, marketoProgramStatus, marketoCustomActivity];

/** A registration as it leaves field-mapper and status-mapper: lead record, event kept in msg.source. */
function registration(i: number): Msg {
  const email = `attendee${i}@example.com`;
  return {
    topic: "registration.created",
    payload: { email, firstName: `First${i}`, lastName: `Last${i}`, company: "Example Ltd" },
    source: {
      profile: { email },
      registration: { code: `R-${i}`, status: "Registered" },
      engagement: { entry_id: "1_keynote", entry_name: "Opening keynote", plays: i % 5, live_minutes_viewed: (i % 60) + 0.5 },
    },
    marketo: { programStatus: { name: "Registered", step: 30, success: true, source: "Registered" } },
  };
}

function node(type: string, id: string, wires: string[][], extra: Record<string, unknown> = {}): FlowNode {
  return { ...editorDefaults(type), id, type, z: "tab", marketo: CONFIG_ID, wires, ...extra };
}

describe("Marketo nodes in one flow", function () {
  this.timeout(120_000);
  let emu: EmulatorHandle | undefined;
  unloadAfterEach(() => emu);

  it("two action nodes on one config share one limiter: the emulator never sees more than its window allows", async () => {
    // A 1 s window (hidden config setting) so the test shows many windows quickly; the emulator
    // enforces the same limits and answers 606/615 to anything beyond them.
    emu = await emulator({ limits: { callsPerWindow: 2, windowMs: 1000, concurrency: 2 }, latencyMs: 30 });
    await helper.load(
      NODES,
      [
        { id: "tab", type: "tab", label: "shared" },
        { ...configNode(emu, { callsPerWindow: 2, windowMs: 1000, concurrency: 2, batchWindowMs: 1, dailyBudget: 50000 }), z: "tab" },
        node("marketo-lead", "n-lead", [["done"], ["failed"]], { bulkThreshold: 0 }),
        node("marketo-program-status", "n-status", [["done"], ["failed"]], { program: "1001", programType: "num", programStatus: "Registered", programStatusType: "str", createMissing: true }),
        { id: "done", z: "tab", type: "helper" },
        { id: "failed", z: "tab", type: "helper" },
      ],
      credentials(emu),
    );
    const got = collect(["done", "failed"] as const);
    // One record per message, sent a few ms apart: each becomes its own call on both nodes.
    for (let i = 0; i < 20; i++) {
      spied("n-lead").receive({ payload: { email: `a${i}@example.com` } });
      spied("n-status").receive({ payload: { email: `b${i}@example.com` } });
      await new Promise((r) => setTimeout(r, 20));
    }
    await until(() => got.done.length + got.failed.length === 40, "every message answered", 60_000);
    got.failed.map((m) => m.marketo.error).should.eql([]);
    const stats = emu.stats();
    // Enough calls to need several windows (lookups, creates, syncs, status sets)...
    Object.values(stats.callsByRoute).reduce((a, b) => a + b, 0).should.be.aboveOrEqual(5);
    // ...and yet never more than one window's worth in any window.
    stats.maxCallsInWindow.should.be.belowOrEqual(2);
    stats.maxInFlight.should.be.belowOrEqual(2);
    should(stats.answersByCode["606"]).be.undefined();
    should(stats.answersByCode["615"]).be.undefined();
    emu.state().leads.should.have.length(40);
  });

  it("inject → marketo-lead → marketo-program-status → marketo-custom-activity: 5,000 registrations in ≤ 60 calls, no 606/615, every message answered", async () => {
    // Production limits (100 calls / 20 s, 10 at once, 50,000 a day): this proves the batching;
    // its calls stay below one window, so the window is proved by the test above, scaled down.
    emu = await emulator();
    await helper.load(
      NODES,
      [
        { id: "tab", type: "tab", label: "kaltura" },
        { ...configNode(emu, { batchWindowMs: 1000 }), z: "tab" },
        // Ids that no property value equals: Node-RED takes such a value for a config node reference.
        node("marketo-lead", "n-lead", [["n-status"], ["failed"]]),
        node("marketo-program-status", "n-status", [["n-activity"], ["failed"]], { program: "1001", programType: "num" }),
        node("marketo-custom-activity", "n-activity", [["done"], ["failed"]]),
        { id: "done", z: "tab", type: "helper" },
        { id: "failed", z: "tab", type: "helper" },
      ],
      credentials(emu),
    );
    const got = collect(["done", "failed"] as const);
    const N = 5000;
    for (let i = 0; i < N; i++) spied("n-lead").receive(registration(i));
    await until(() => got.done.length + got.failed.length === N, "5,000 answers", 100_000);

    got.failed.map((m) => m.marketo.error).should.eql([]);
    got.done.should.have.length(N);
    const sample = got.done[0].marketo;
    sample.should.containDeep({ programId: 1001, programStatus: { name: "Registered" }, status: "added", activityTypeId: 100001 });
    sample.leadId.should.be.a.Number();

    const stats = emu.stats();
    const calls = Object.values(stats.callsByRoute).reduce((a, b) => a + b, 0);
    calls.should.be.belowOrEqual(60);
    stats.callsByRoute["POST /rest/v1/leads.json"].should.equal(17);
    stats.callsByRoute["POST /rest/v1/programs/:programId/members/status.json"].should.equal(17);
    stats.callsByRoute["POST /rest/v1/activities/external.json"].should.equal(17);
    should(stats.answersByCode["606"]).be.undefined();
    should(stats.answersByCode["615"]).be.undefined();

    const state = emu.state() as unknown as {
      leads: unknown[];
      programs: { programMembers: Array<{ programId: number }> };
      activities: { activities: Array<{ activityTypeId: number }> };
    };
    state.leads.should.have.length(N);
    state.programs.programMembers.filter((m) => m.programId === 1001).should.have.length(N);
    state.activities.activities.filter((a) => a.activityTypeId === 100001).should.have.length(N);
  });
});
