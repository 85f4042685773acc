/**
 * Quota suite: Marketo's daily quota runs out mid-delivery. The nodes pause and say when
 * they resume (00:00 America/Chicago); nothing fails and nothing is lost; when the emulator's day
 * rolls over, delivery resumes by itself and every record arrives.
 */
import "should";
import helper = require("node-red-node-test-helper");
import marketoConfig = require("../../nodes/marketo-config");
import marketoLead = require("../../nodes/marketo-lead");
import marketoProgramStatus = require("../../nodes/marketo-program-status");
import type { EmulatorHandle } from "../../src/emulator";
import { editorDefaults } from "../helpers/editor-defaults";
import { CONFIG_ID, collect, configNode, credentials, emulator, sleep, spied, until, unloadAfterEach, type FlowNode } from "../helpers/marketo-flow";

helper.init(require.resolve("node-red"));

function node(type: string, id: string, wires: string[][], extra: Record<string, unknown> = {}): FlowNode {
  return { ...editorDefaults(type), id, type, z: "tab", marketo: CONFIG_ID, wires, ...extra };
}

/** The statuses one node showed (the helper's status spy sees every node's calls). */
function statusesOf(id: string): Array<{ fill?: string; text?: string }> {
  const type = id === "n-lead" ? "marketo-lead" : "marketo-program-status";
  return spied(id)
    .status.args.map((a) => a[0])
    .filter((s) => (s.text ?? "").startsWith(`${type}.`));
}

describe("daily quota: pause, say when, resume after the day rolls over", function () {
  this.timeout(60_000);
  let emu: EmulatorHandle | undefined;
  unloadAfterEach(() => emu);

  it("2,000 registrations with a quota of 6 calls: paused with 'quota: resumes 00:00 CT', then all delivered after the rollover", async () => {
    // 6 calls a day: the token is free, so lookups/creates for the first batches go through and
    // the rest of the day's work meets 607.
    emu = await emulator({ limits: { dailyQuota: 6 } });
    await helper.load(
      [marketoConfig, marketoLead, marketoProgramStatus],
      [
        { id: "tab", type: "tab", label: "quota" },
        // A probe every 300 ms instead of every hour, so the test sees the rollover quickly.
        { ...configNode(emu, { batchWindowMs: 20, quotaProbeIntervalMs: 300 }), z: "tab" },
        node("marketo-lead", "n-lead", [["n-status"], ["failed"]]),
        node("marketo-program-status", "n-status", [["done"], ["failed"]], { program: "1001", programType: "num", programStatus: "Registered", programStatusType: "str" }),
        { id: "done", z: "tab", type: "helper" },
        { id: "failed", z: "tab", type: "helper" },
      ],
      credentials(emu),
    );
    const got = collect(["done", "failed"] as const);
    const N = 2000;
    // Seven messages of ~300 records, one at a time: each lead batch is its own call.
    for (let start = 0; start < N; start += 300) {
      const records = [];
      for (let i = start; i < Math.min(N, start + 300); i++) records.push({ email: `q${i}@example.com`, firstName: `Q${i}` });
      spied("n-lead").receive({ payload: records });
      await sleep(30);
    }

    await until(() => (emu!.stats().answersByCode["607"] ?? 0) > 0, "the emulator to answer 607");
    // The helper's RED._ returns keys: "marketo-lead.status.quota" is "quota: resumes __time__",
    // filled with 00:00 CT (test/actions/outcomes-and-status.test.ts checks the wording). The backlog stays in sight.
    const waiting = /^marketo-lead\.status\.quota · marketo-lead\.status\.queued [1-9][\d,]*$/;
    await until(() => statusesOf("n-lead").some((s) => waiting.test(s.text ?? "") && s.fill === "red"), "the lead node to say it waits for the quota, with its queued count");
    await until(() => statusesOf("n-status").some((s) => (s.text ?? "").startsWith("marketo-program-status.status.quota")), "program status to say it waits for the quota");
    // Paused, not failing: a while later nothing has gone to the failure output.
    await sleep(1000);
    got.failed.should.have.length(0);
    const deliveredBefore = got.done.length;
    deliveredBefore.should.be.below(N);

    emu.rolloverDay();
    emu.setLimits({ dailyQuota: 50_000 });
    await until(() => got.done.length + got.failed.length === N, "every record answered after the rollover", 30_000);
    got.failed.map((m) => m.marketo.error).should.eql([]);
    const state = emu.state() as unknown as { leads: Array<{ email: string }>; programs: { programMembers: Array<{ programId: number; status: string }> } };
    new Set(state.leads.map((l) => l.email)).size.should.equal(N);
    state.leads.should.have.length(N);
    state.programs.programMembers.filter((m) => m.programId === 1001 && m.status === "Registered").should.have.length(N);
    await until(() => /sent 2,000/.test(statusesOf("n-lead").at(-1)?.text ?? ""), "the lead node's status to show the records sent");
    statusesOf("n-lead").at(-1)!.should.containEql({ fill: "green" });
  });
});
