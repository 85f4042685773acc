/**
 * Crash suite: a real Node-RED 4.1 process (CLI, scratch userDir) delivering
 * registrations through marketo-lead → marketo-program-status → marketo-custom-activity (and a
 * campaign request per registration, a form post for one in 30) is killed with SIGKILL
 * mid-delivery three times and restarted each time. Afterwards every record the flow
 * acknowledged is in Marketo (or listed in the retry queue): 0 lost; and none is there twice:
 * a record that runs again after the restart is asked about before it is sent. Leads and program
 * statuses may be sent again (Marketo deduplicates them); the emulator's record results show
 * that a repeat only ever updated the lead and never set a status a second time.
 *
 * A record counts as acknowledged when the flow's http-in answered 200 for it and the test then
 * let 100 ms pass before the kill — the time a message takes across a wire into the lead node,
 * which journals it. What a crash can take inside Node-RED's own wires is outside any node.
 */
import "should";
import type { EmulatorHandle } from "../../src/emulator";
import { editorDefaults } from "../helpers/editor-defaults";
import type { NodeRedProcess } from "../helpers/node-red-process";
import { configNode, emulatorCredentials, postOk, syncLeadNode, TAB } from "../helpers/process-flow";
import { ProcessRig } from "../helpers/process-rig";
import { sleep } from "../helpers/until";

const BATCH = 100;
/** One registration in this many also posts the form. */
const FORM_EVERY = 30;

function flows(emu: EmulatorHandle): Array<Record<string, unknown>> {
  const z = TAB;
  return [
    { id: z, type: "tab", label: "crash" },
    configNode(emu, { callsPerWindow: 10, concurrency: 2, dailyBudget: 50000, batchWindowMs: 100, windowMs: 2000 }),
    { id: "in", type: "http in", z, url: "/events", method: "post", upload: false, wires: [["ack", "split", "forms"]] },
    {
      id: "forms",
      type: "function",
      z,
      func: `return [msg.payload.payload.filter((p) => Number(p.email.replace(/\\D/g, "")) % ${FORM_EVERY} === 0).map((p) => ({ payload: { email: p.email, firstName: p.firstName } }))];`,
      outputs: 1,
      wires: [["post-form"]],
    },
    // Ids unlike any property value: Node-RED takes a property equal to a node's id for a reference.
    {
      ...editorDefaults("marketo-lead"),
      id: "post-form",
      type: "marketo-lead",
      z,
      marketo: "cfg",
      action: "form",
      formId: "3001",
      raiseErrors: false,
      wires: [[], ["queue"]],
    },
    {
      ...editorDefaults("marketo-lead"),
      id: "request-campaign",
      type: "marketo-lead",
      z,
      marketo: "cfg",
      action: "trigger",
      campaignId: "2001",
      raiseErrors: false,
      wires: [[], ["queue"]],
    },
    { id: "ack", type: "http response", z, statusCode: "200", wires: [] },
    // The body is {payload: [lead records], source: [their events]}.
    {
      id: "split",
      type: "function",
      z,
      func: "msg.source = msg.payload.source;\nmsg.payload = msg.payload.payload;\ndelete msg.req;\ndelete msg.res;\nreturn msg;",
      outputs: 1,
      wires: [["lead"]],
    },
    syncLeadNode("lead", "cfg", [["status"], ["queue"]]),
    {
      id: "status",
      type: "marketo-program-status",
      z,
      marketo: "cfg",
      program: "1001",
      programType: "num",
      status: "Registered",
      statusType: "str",
      raiseErrors: false,
      wires: [["activity", "request-campaign"], ["queue"]],
    },
    { id: "activity", type: "marketo-custom-activity", z, marketo: "cfg", raiseErrors: false, wires: [[], ["queue"]] },
    {
      id: "queue",
      type: "retry-queue",
      z,
      maxAttempts: 3,
      backoff: "1s, 2s, 4s",
      maxEntries: 10000,
      answerTimeout: "1m",
      resubmitThrough: "node",
      wires: [[], [], []],
    },
  ];
}

function batch(k: number): { payload: unknown[]; source: unknown[] } {
  const payload = [];
  const source = [];
  for (let i = k * BATCH; i < (k + 1) * BATCH; i++) {
    payload.push({ email: `crash${i}@example.com`, firstName: `C${i}` });
    source.push({
      registration: { code: `R-${i}` },
      engagement: { entry_id: "1_keynote", entry_name: "Keynote", plays: 1 },
    });
  }
  return { payload, source };
}

interface EmuState {
  leads: Array<{ id: number; email: string }>;
  programs: { programMembers: Array<{ programId: number; leadId: number }> };
  activities: { activities: Array<{ leadId: number; activityTypeId: number; primaryAttributeValueId?: number }> };
}

describe("crash: a real Node-RED killed with SIGKILL mid-delivery three times", function () {
  this.timeout(240_000);
  const rig = new ProcessRig();
  after(() => rig.stop());

  it("loses no acknowledged record: every one is in Marketo or in the retry queue", async () => {
    // Slow calls and a small window keep records in the nodes' journals when the kill comes.
    const emu = await rig.emulator({ limits: { callsPerWindow: 10, windowMs: 2000, concurrency: 2 }, latencyMs: 300 });
    const red: NodeRedProcess = await rig.nodeRed({ flows: flows(emu), credentials: emulatorCredentials(emu) });

    const post = (k: number): Promise<void> => postOk(red.url, "/events", batch(k));
    const state = (): EmuState => emu.state() as unknown as EmuState;
    const activityCount = (): number => state().activities.activities.filter((a) => a.activityTypeId === 100001).length;

    let next = 0;
    const kills: string[] = [];
    for (let round = 0; round < 3; round++) {
      // Ten batches, then wait until Marketo has some of them but not all: mid-delivery.
      const upto = next + 10;
      for (; next < upto; next++) await post(next);
      const target = (next - 10) * BATCH + 300;
      const end = Date.now() + 30_000;
      while (activityCount() < target && Date.now() < end) await sleep(50);
      await sleep(100);
      const before = { leads: state().leads.length, activities: activityCount() };
      await red.kill("SIGKILL");
      kills.push(
        `kill ${round + 1} after ${next * BATCH} records acknowledged: ${before.leads} leads, ${before.activities} activities in Marketo`,
      );
      (before.activities < next * BATCH).should.be.true(); // the kill came mid-delivery
      await red.restart();
    }

    // Drain: every acknowledged record is in Marketo or listed in the queue.
    const total = next * BATCH;
    const queued = async (): Promise<Set<string>> => {
      const out = new Set<string>();
      for (let offset = 0; ; offset += 1000) {
        const res = await red.request("GET", `/retry-queue/queue/entries?limit=1000&offset=${offset}`);
        const entries = (res.body?.entries ?? []) as Array<{ payload?: { email?: string } }>;
        for (const e of entries) out.add(e.payload?.email ?? "");
        if (entries.length < 1000) return out;
      }
    };
    const deadline = Date.now() + 150_000;
    let missing: string[] = [];
    const emails = [...Array(total).keys()].map((i) => `crash${i}@example.com`);
    const formEmails = emails.filter((_, i) => i % FORM_EVERY === 0);
    const holders = (type: number, id?: number): Set<string | undefined> => {
      const s = state();
      const ids = new Map(s.leads.map((l) => [l.id, l.email]));
      return new Set(
        s.activities.activities
          .filter((a) => a.activityTypeId === type && (id === undefined || a.primaryAttributeValueId === id))
          .map((a) => ids.get(a.leadId)),
      );
    };
    for (;;) {
      const inQueue = await queued();
      const withActivity = holders(100001);
      const withRequest = holders(47, 2001);
      const withFill = holders(2, 3001);
      missing = [
        ...emails.filter((e) => !withActivity.has(e) && !inQueue.has(e)).map((e) => `activity ${e}`),
        ...emails.filter((e) => !withRequest.has(e) && !inQueue.has(e)).map((e) => `campaign request ${e}`),
        ...formEmails.filter((e) => !withFill.has(e) && !inQueue.has(e)).map((e) => `form fill ${e}`),
      ];
      if (missing.length === 0 || Date.now() > deadline) break;
      await sleep(500);
    }
    missing.should.eql([]);

    const s = state();
    const crashLeads = s.leads.filter((l) => l.email.startsWith("crash"));
    crashLeads.should.have.length(total);
    const ids = new Set(crashLeads.map((l) => l.id));
    s.programs.programMembers.filter((m) => m.programId === 1001 && ids.has(m.leadId)).should.have.length(total);
    // Each lead created once (by its sync or its form post, whichever came first), a repeat only
    // updating it; each member's status set once, a repeat answered `1037` (skipped). Only the
    // crash leads' calls write leads and this program's statuses.
    const results = emu.stats().resultsByRoute;
    const leadResults = results["POST /rest/v1/leads.json"] ?? {};
    const formResults = results["POST /rest/v1/leads/submitForm.json"] ?? {};
    const statusResults = results["POST /rest/v1/programs/:programId/members/status.json"] ?? {};
    ((leadResults.created ?? 0) + (formResults.created ?? 0)).should.equal(total);
    Object.keys(leadResults)
      .filter((k) => k !== "created" && k !== "updated")
      .should.eql([]);
    statusResults.should.containEql({ created: total });
    Object.keys(statusResults)
      .filter((k) => k !== "created" && k !== "skipped")
      .should.eql([]);
    const count = (type: number, id?: number) => {
      const of = s.activities.activities.filter(
        (a) => a.activityTypeId === type && ids.has(a.leadId) && (id === undefined || a.primaryAttributeValueId === id),
      );
      return { n: of.length, leads: new Set(of.map((a) => a.leadId)).size };
    };
    const activities = count(100001);
    const requests = count(47, 2001);
    const fills = count(2, 3001);
    console.log(
      `      ${kills.join("\n      ")}\n      after restarts: ${total} leads (${leadResults.updated ?? 0} sent again), ${total} members (${statusResults.skipped ?? 0} sent again), ${activities.n} activities (${activities.n - activities.leads} duplicates), ` +
        `${requests.n} campaign requests (${requests.n - requests.leads} duplicates), ${fills.n} form fills for ${formEmails.length} posts (${fills.n - fills.leads} duplicates)`,
    );
    // Exactly once: records run again after a restart were asked about before they were sent.
    (activities.n - activities.leads).should.equal(0);
    (requests.n - requests.leads).should.equal(0);
    (fills.n - fills.leads).should.equal(0);
    // No record went through Node-RED's error path by surprise.
    red.log().should.not.match(/TypeError|ReferenceError|Unhandled/);
  });
});
