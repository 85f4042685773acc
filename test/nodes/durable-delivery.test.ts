/**
 * Durable batches: records an action node has accepted are journaled under the userDir
 * before they go anywhere, so a redeploy or a process that dies mid-delivery loses none of them.
 * (test/process/crash.test.ts kills a real Node-RED; these run inside the test helper.)
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import "should";
import helper = require("node-red-node-test-helper");
import marketoConfig = require("../../nodes/marketo-config");
import marketoLead = require("../../nodes/marketo-lead");
import marketoProgramStatus = require("../../nodes/marketo-program-status");
import { closeRecordBooks, recordBookFigures } from "../../nodes/lib/delivery/record-journal";
import { LIVE_RECORDS } from "../../nodes/lib/node-kit/action-node";
import type { EmulatorHandle } from "../../src/emulator";
import type { MarketoConfigNode } from "../../src/lib/node-kit/marketo-config-api";
import { editorDefaults } from "../helpers/editor-defaults";
import { CONFIG_ID, collect, configNode, credentials, emulator, sleep, spied, until, type FlowNode, type Msg } from "../helpers/marketo-flow";

helper.init(require.resolve("node-red"));

const NODES = [marketoConfig, marketoLead, marketoProgramStatus];

function node(type: string, id: string, wires: string[][], extra: Record<string, unknown> = {}): FlowNode {
  return { ...editorDefaults(type), id, type, z: "tab", marketo: CONFIG_ID, wires, ...extra };
}

function flow(emu: EmulatorHandle): FlowNode[] {
  return [
    { id: "tab", type: "tab", label: "durable" },
    { ...configNode(emu, { batchWindowMs: 20 }), z: "tab" },
    node("marketo-lead", "n-lead", [["n-status"], ["failed"]]),
    node("marketo-program-status", "n-status", [["done"], ["failed"]], { program: "1001", programType: "num" }),
    { id: "done", z: "tab", type: "helper" },
    { id: "failed", z: "tab", type: "helper" },
  ];
}

/** Registrations in one message: lead records in msg.payload, their events in msg.source. */
function registrations(from: number, n: number): Msg {
  const payload = [];
  const source = [];
  for (let i = from; i < from + n; i++) {
    payload.push({ email: `d${i}@example.com`, firstName: `D${i}` });
    source.push({ registration: { code: `R-${i}` } });
  }
  return { topic: "registrations", payload, source, marketo: { programStatus: { name: "Registered" } } };
}

function journalLines(userDir: string): number {
  const dir = path.join(userDir, "marketo-journal");
  if (!fs.existsSync(dir)) return 0;
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".journal"))
    .reduce((n, f) => n + fs.readFileSync(path.join(dir, f), "utf8").split("\n").filter(Boolean).length, 0);
}

describe("durable delivery in the action nodes", function () {
  this.timeout(60_000);
  let emu: EmulatorHandle | undefined;
  let userDir: string;

  beforeEach(() => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), "marketo-durable-"));
    helper.settings({ userDir });
  });
  afterEach(async () => {
    await helper.unload();
    await closeRecordBooks();
    helper.settings({});
    await emu?.stop();
    emu = undefined;
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it("journals each record before it is sent; each answer carries its own record and event", async () => {
    emu = await emulator();
    await helper.load(NODES, flow(emu), credentials(emu));
    const got = collect(["done", "failed"] as const);
    emu.pause();
    spied("n-lead").receive(registrations(0, 50));
    // Marketo holds the call: the 50 records wait in the lead node's journal.
    await until(() => journalLines(userDir) >= 50, "50 records journaled");
    emu.resume();
    await until(() => got.done.length === 50, "50 answers");
    got.failed.should.have.length(0);
    // Each answer carries its own record and event, and what the message carried.
    const m = got.done.find((x) => x.payload.email === "d7@example.com")!;
    m.source.should.eql({ registration: { code: "R-7" } });
    m.topic.should.equal("registrations");
    m.marketo.should.containEql({ programId: 1001, programStatus: { name: "Registered" } });
  });

  it("a full redeploy while Marketo holds the calls: every record answered once, by the new instance, without a second call", async () => {
    emu = await emulator({ latencyMs: 20 });
    const flows = flow(emu);
    await helper.load(NODES, flows, credentials(emu));
    const old = collect(["done", "failed"] as const);
    emu.pause();
    for (let k = 0; k < 3; k++) spied("n-lead").receive(registrations(k * 200, 200));
    await until(() => journalLines(userDir) >= 600, "600 records journaled");
    await until(() => emu!.stats().held > 0, "calls held by Marketo");
    // Redeploy everything while the calls hang; Marketo answers once the new flow runs.
    const redeploy = helper.setFlows(flows, "full", credentials(emu));
    await sleep(300);
    emu.resume();
    await redeploy;
    const got = collect(["done", "failed"] as const);
    await until(() => got.done.length + got.failed.length >= 600, "600 answers from the new instance", 30_000);
    // Every record has left the journal: its one answer has gone out, and nothing runs any more.
    await until(() => recordBookFigures().every((b) => b.journaled === 0), "the journals emptied");
    got.failed.map((m) => m.marketo.error).should.eql([]);
    old.done.length.should.equal(0);
    old.failed.length.should.equal(0);
    got.done.should.have.length(600);
    new Set(got.done.map((m) => m.payload.email)).size.should.equal(600);
    // Marketo saw each record once: a lead sent again would answer `updated`, a program status
    // set again `skipped` (1037); the stored data alone would look the same either way.
    const results = emu.stats().resultsByRoute;
    results["POST /rest/v1/leads.json"].should.eql({ created: 600 });
    results["POST /rest/v1/programs/:programId/members/status.json"].should.eql({ created: 600 });
  });

  it("records journaled when the process 'dies' are read back and delivered by the next start, message fields and all", async () => {
    emu = await emulator();
    const flows = flow(emu);
    await helper.load(NODES, flows, credentials(emu));
    emu.pause();
    spied("n-lead").receive(registrations(0, 300));
    await until(() => journalLines(userDir) >= 300, "300 records journaled");
    // Close the journals first, as a dying process would leave them: no answer gets written.
    await closeRecordBooks();
    emu.resume();
    await helper.unload();

    await helper.load(NODES, flows, credentials(emu));
    const got = collect(["done", "failed"] as const);
    await until(() => got.done.length + got.failed.length >= 300, "300 answers after the restart", 30_000);
    got.failed.map((m) => m.marketo.error).should.eql([]);
    new Set(got.done.map((m) => m.payload.email)).size.should.equal(300);
    const m = got.done.find((x) => x.payload.email === "d42@example.com")!;
    m.source.should.eql({ registration: { code: "R-42" } });
    m.marketo.should.containEql({ programId: 1001, programStatus: { name: "Registered" } });
    // Lead upserts and program status are idempotent: sent again, still one of each.
    const state = emu.state() as unknown as { leads: unknown[]; programs: { programMembers: Array<{ programId: number }> } };
    state.leads.should.have.length(300);
    state.programs.programMembers.filter((p) => p.programId === 1001).should.have.length(300);
  });

  it("a backlog far above the live bound: at most LIVE_RECORDS live, the rest wait in the journal; done() once journaled; every record answered once", async () => {
    emu = await emulator({ latencyMs: 5 });
    const N = LIVE_RECORDS + 2000;
    const flows: FlowNode[] = [
      { id: "tab", type: "tab", label: "backlog" },
      { ...configNode(emu, { batchWindowMs: 20 }), z: "tab" },
      node("marketo-lead", "n-lead", [["done"], ["failed"]], { bulkThreshold: 0 }),
      { id: "c-lead", z: "tab", type: "complete", scope: ["n-lead"], uncaught: false, wires: [["completed"]] },
      { id: "completed", z: "tab", type: "helper" },
      { id: "done", z: "tab", type: "helper" },
      { id: "failed", z: "tab", type: "helper" },
    ];
    await helper.load(NODES, flows, credentials(emu));
    const got = collect(["done", "failed", "completed"] as const);
    const lead = (): ReturnType<typeof recordBookFigures>[number] => recordBookFigures().find((b) => path.basename(b.file).startsWith("marketo-lead-"))!;
    emu.pause();
    for (let i = 0; i < N; i++) {
      spied("n-lead").receive({ payload: { email: `b${i}@example.com` }, _n: i });
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
    await until(() => lead().journaled >= N, `${N} records journaled`, 30_000);
    // Node-RED's tracking of each message ended once its record was on disk, with no answer yet.
    await until(() => got.completed.length === N, "done() for every message", 30_000);
    got.done.length.should.equal(0);
    lead().size.should.equal(N);
    lead().live.should.equal(LIVE_RECORDS);
    lead().peakLive.should.equal(LIVE_RECORDS);
    ((helper.getNode(CONFIG_ID) as unknown as MarketoConfigNode).client!.usage().queuedRecords <= LIVE_RECORDS).should.be.true();
    emu.resume();
    await until(() => got.done.length + got.failed.length >= N, `${N} answers`, 60_000);
    got.failed.map((m) => m.marketo.error).should.eql([]);
    new Set(got.done.map((m) => m._n)).size.should.equal(N);
    lead().peakLive.should.equal(LIVE_RECORDS);
    await until(() => lead().journaled === 0, "the journal emptied");
  });
});
