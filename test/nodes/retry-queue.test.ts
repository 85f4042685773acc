/**
 * retry-queue through node-red-node-test-helper against the BUILT node: with marketo-lead and
 * the emulator (a failure retried until delivered, a held failure fixed and resubmitted), the
 * answer timeout, commands, every admin route, the journal across unload/load with a userDir,
 * and the bound.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import should from "should";
import helper = require("node-red-node-test-helper");
import marketoConfig = require("../../nodes/marketo-config");
import marketoLead = require("../../nodes/marketo-lead");
import retryQueue = require("../../nodes/retry-queue");
import type { EmulatorHandle } from "../../src/emulator";
import { reportRetryOutcome } from "../../nodes/lib/delivery/retry-registry";
import { editorDefaults } from "../helpers/editor-defaults";
import { CONFIG_ID, collect, configNode, credentials, emulator, spied, until, unloadAfterEach, type FlowNode, type Msg } from "../helpers/marketo-flow";

helper.init(require.resolve("node-red"));

const S = (key: string): string => `retry-queue.status.${key}`;
const send = (id: string, msg: Msg): void => spied(id).receive(msg);

/**
 * The last status node `id` showed. The helper's spies sit on Node.prototype, shared by every
 * node, so the calls are picked by their `this`.
 */
function lastStatus(id: string): { fill?: string; shape?: string; text?: string } | undefined {
  const node = helper.getNode(id);
  const spy = node.status as unknown as { getCalls(): Array<{ thisValue: unknown; args: Array<{ fill?: string; text?: string }> }> };
  const calls = spy.getCalls().filter((c) => c.thisValue === node);
  return calls[calls.length - 1]?.args[0];
}
/** Warnings node `id` logged with this text. */
const warnings = (id: string, text: string): number => {
  const node = helper.getNode(id);
  const spy = node.warn as unknown as { getCalls(): Array<{ thisValue: unknown; args: unknown[] }> };
  return spy.getCalls().filter((c) => c.thisValue === node && c.args[0] === text).length;
};
const leadsIn = (emu: EmulatorHandle): Array<Record<string, any>> => emu.state().leads as unknown as Array<Record<string, any>>;
const leadByEmail = (emu: EmulatorHandle, email: string): Record<string, any> | undefined => leadsIn(emu).find((l) => l.email === email);

/** A failure as marketo-lead's output 2 carries it, without Marketo. */
function failed(email: string, error: Record<string, unknown> = {}, source = { id: "n-lead", type: "marketo-lead", name: "Leads" }): Msg {
  return {
    payload: { email },
    marketo: { status: "failed", error: { code: "611", message: "System error", category: "marketo", retryable: true, action: "retry", source, ...error } },
  };
}

function queueNode(extra: Record<string, unknown> = {}, wires: string[][] = [["resubmitted"], ["gaveup"], ["answers"]]): FlowNode {
  return { ...editorDefaults("retry-queue"), id: "q", type: "retry-queue", z: "tab", name: "failures", wires, ...extra };
}

/** The queue alone, its outputs on helper nodes, and a Catch for everything. */
function soloFlow(extra: Record<string, unknown> = {}): FlowNode[] {
  return [
    { id: "tab", type: "tab", label: "retry" },
    queueNode(extra),
    { id: "resubmitted", z: "tab", type: "helper" },
    { id: "gaveup", z: "tab", type: "helper" },
    { id: "answers", z: "tab", type: "helper" },
    { id: "c", z: "tab", type: "catch", scope: null, uncaught: false, wires: [["caught"]] },
    { id: "caught", z: "tab", type: "helper" },
  ];
}
const SOLO = ["resubmitted", "gaveup", "answers", "caught"] as const;

async function entries(query = ""): Promise<Record<string, any>> {
  const res = await helper.request().get(`/retry-queue/q/entries${query}`).expect(200);
  return res.body as Record<string, any>;
}

describe("retry-queue node", function () {
  this.timeout(60_000);
  let emu: EmulatorHandle | undefined;

  unloadAfterEach(() => emu);

  it("the editor's defaults: 3 attempts, 30s/2m/10m, 10,000 entries, 10m answer timeout, resubmit through output 1, no Redis config", () => {
    editorDefaults("retry-queue").should.eql({ name: "", marketo: "", maxAttempts: 3, backoff: "30s, 2m, 10m", maxEntries: 10000, answerTimeout: "10m", resubmitThrough: "output" });
  });

  describe("with marketo-lead and the emulator", () => {
    /** lead → ok / (q and bad); q output 1 back into the lead. */
    function leadFlow(lead: Record<string, unknown>, q: Record<string, unknown>, viaNode = false): FlowNode[] {
      return [
        { id: "tab", type: "tab", label: "retry" },
        { ...configNode(emu!), z: "tab" },
        { ...editorDefaults("marketo-lead"), id: "n-lead", type: "marketo-lead", z: "tab", name: "Leads", marketo: CONFIG_ID, raiseErrors: false, wires: [["ok"], ["q", "bad"]], ...lead },
        { ...editorDefaults("marketo-lead"), id: "n-create", type: "marketo-lead", z: "tab", marketo: CONFIG_ID, raiseErrors: false, wires: [["ok"], []] },
        queueNode(q, [viaNode ? [] : ["n-lead"], ["gaveup"], ["answers"]]),
        { id: "ok", z: "tab", type: "helper" },
        { id: "bad", z: "tab", type: "helper" },
        { id: "gaveup", z: "tab", type: "helper" },
        { id: "answers", z: "tab", type: "helper" },
      ];
    }

    it("a record Marketo refuses with 611 waits, is resubmitted into the lead node, fails once more, then is delivered", async () => {
      emu = await emulator();
      await helper.load([marketoConfig, marketoLead, retryQueue], leadFlow({}, { backoff: "200ms, 2s" }), credentials(emu));
      const got = collect(["ok", "bad", "gaveup", "answers"] as const);
      emu.setFaults({ rate: 1, codes: ["611"] });
      send("n-lead", { payload: { email: "ada@example.com", firstName: "Ada" }, topic: "registration.created" });

      // The first failure and the first resubmission's failure: both reach the queue by wire too.
      await until(() => got.bad.length === 2, "the failure and the failed resubmission", 20_000);
      got.bad[1].marketo.retry.should.containEql({ queue: "q", attempt: 1, seq: 1 });
      const listed = await entries();
      listed.total.should.equal(1);
      listed.entries[0].should.containEql({ state: "waiting", attempts: 1, category: "marketo", code: "611" });
      listed.entries[0].integration.should.eql({ id: "n-lead", type: "marketo-lead", name: "Leads" });
      listed.entries[0].payload.should.eql({ email: "ada@example.com", firstName: "Ada" });
      listed.totals.should.containEql({ received: 1, retried: 1 });

      emu.setFaults({ rate: 0 });
      await until(() => got.ok.length === 1, "the delivered record", 20_000);
      got.ok[0].marketo.status.should.equal("created");
      got.ok[0].marketo.retry.should.containEql({ queue: "q", attempt: 2, seq: 2 });
      got.ok[0].topic.should.equal("registration.created");
      leadByEmail(emu, "ada@example.com")!.firstName.should.equal("Ada");
      await until(() => lastStatus("q")?.text === S("empty"), "the queue empty");
      lastStatus("q")!.fill!.should.equal("grey");

      send("q", { topic: "stats" });
      await until(() => got.answers.length === 1, "stats");
      got.answers[0].payload.totals.should.eql({ received: 1, retried: 2, delivered: 1, abandoned: 0, held: 0, discarded: 0, overflow: 0 });
      got.gaveup.should.have.length(0);
    });

    it("a permanent failure is held and sent on output 2 once; after the cause is fixed, 'resubmit' delivers it", async () => {
      emu = await emulator();
      await helper.load([marketoConfig, marketoLead, retryQueue], leadFlow({ syncAction: "updateOnly" }, {}), credentials(emu));
      const got = collect(["ok", "bad", "gaveup", "answers"] as const);
      send("n-lead", { payload: { email: "grace@example.org", lastName: "Hopper" } });
      await until(() => got.gaveup.length === 1, "the held entry on output 2");
      const held = got.gaveup[0];
      held.marketo.retry.state.should.equal("held");
      held.marketo.retry.reason.should.match(/^validation failure: a person must fix the cause/);
      held.marketo.error.category.should.equal("validation");
      held.payload.should.eql({ email: "grace@example.org", lastName: "Hopper" });
      await until(() => lastStatus("q")?.text === `${S("waiting")} 0 · ${S("held")} 1`, "status held 1");
      lastStatus("q")!.fill!.should.equal("yellow");

      // The fix: the lead now exists. Then a person resubmits what is held.
      send("n-create", { payload: { email: "grace@example.org" } });
      await until(() => leadByEmail(emu!, "grace@example.org") !== undefined, "the lead created");
      send("q", { topic: "resubmit", payload: { state: "held", integration: "Leads" } });
      await until(() => got.answers.length === 1 && got.ok.length === 2, "the resubmission delivered");
      got.answers[0].payload.should.eql({ resubmitted: 1 });
      got.ok.find((m) => m.marketo.retry)!.marketo.status.should.equal("updated");
      leadByEmail(emu, "grace@example.org")!.lastName.should.equal("Hopper");
      await until(() => lastStatus("q")?.text === S("empty"), "the queue empty");
      got.gaveup.should.have.length(1);
    });

    it("'the node that failed': resubmits straight into it; an entry whose node is gone is held saying so", async () => {
      emu = await emulator();
      await helper.load([marketoConfig, marketoLead, retryQueue], leadFlow({}, { backoff: "100ms", resubmitThrough: "node" }, true), credentials(emu));
      const got = collect(["ok", "bad", "gaveup", "answers"] as const);
      emu.setFaults({ rate: 1, codes: ["611"] });
      send("n-lead", { payload: { email: "alan@example.com" } });
      await until(() => got.bad.length === 1, "the failure", 20_000);
      emu.setFaults({ rate: 0 });
      await until(() => got.ok.length === 1, "delivered through the node", 20_000);
      got.ok[0].marketo.retry.should.containEql({ queue: "q", attempt: 1 });
      should(leadByEmail(emu, "alan@example.com")).be.ok();

      send("q", failed("ghost@example.com", {}, { id: "n-ghost", type: "marketo-lead", name: "Old" }));
      await until(() => got.gaveup.length === 1, "the held entry");
      got.gaveup[0].marketo.retry.state.should.equal("held");
      got.gaveup[0].marketo.retry.reason.should.equal("retry-queue.reasons.nodeGone");
      (await entries("?state=held")).entries[0].integration.id.should.equal("n-ghost");
    });
  });

  describe("alone", () => {
    it("a resubmission nobody answers counts as an attempt: after maxAttempts the entry is abandoned and sent on output 2 once", async () => {
      await helper.load(retryQueue, soloFlow({ backoff: "50ms", answerTimeout: "100ms", maxAttempts: 2 }));
      const got = collect(SOLO);
      send("q", failed("ada@example.com"));
      await until(() => got.gaveup.length === 1, "the abandoned entry");
      got.resubmitted.should.have.length(2);
      got.resubmitted.map((m) => m.marketo.retry.attempt).should.eql([1, 2]);
      should(got.resubmitted[0].marketo.error).be.undefined();
      const gave = got.gaveup[0];
      gave.marketo.retry.should.containEql({ state: "abandoned", attempt: 2 });
      gave.marketo.retry.reason.should.match(/no answer within 100ms to resubmission 2 .*gave up after 2 of 2 attempts/);
      await until(() => lastStatus("q")?.text === `${S("waiting")} 0 · ${S("abandoned")} 1`, "status abandoned 1");
      (await entries()).entries[0].state.should.equal("abandoned");
    });

    it("its own resubmission wired back without an error is not taken as delivered (warned once); another's failure is", async () => {
      await helper.load(retryQueue, soloFlow({ backoff: "50ms", answerTimeout: "10m" }));
      const got = collect(SOLO);
      send("q", failed("ada@example.com"));
      await until(() => got.resubmitted.length === 1, "the resubmission");
      const again = got.resubmitted[0];
      send("q", again);
      send("q", again);
      await until(() => warnings("q", "retry-queue.log.ownWithoutError") > 0, "the warning");
      await new Promise((r) => setTimeout(r, 50));
      warnings("q", "retry-queue.log.ownWithoutError").should.equal(1);
      (await entries()).entries[0].state.should.equal("retrying");
      // The outcome by the registry, then the same failure by wire: counted once.
      const tag = again.marketo.retry;
      reportRetryOutcome(tag, false, { code: "604", message: "timed out", category: "marketo", retryable: true, action: "retry" });
      send("q", { ...again, marketo: { ...again.marketo, error: { code: "604", message: "timed out", category: "marketo", retryable: true, action: "retry" } } });
      await until(() => got.resubmitted.length === 2, "the second resubmission");
      got.resubmitted[1].marketo.retry.should.containEql({ attempt: 2, seq: 2 });
      const listed = await entries();
      listed.total.should.equal(1);
      listed.entries[0].code.should.equal("604");
      reportRetryOutcome(got.resubmitted[1].marketo.retry, true);
      await until(() => lastStatus("q")?.text === S("empty"), "delivered");
    });

    it("commands: stats, flush, resubmit with a filter, discard (needs a filter), each answered on output 3", async () => {
      await helper.load(retryQueue, soloFlow({ backoff: "1h" }));
      const got = collect(SOLO);
      send("q", failed("a@example.com"));
      send("q", failed("b@example.com", { code: "606", category: "rate-limit", action: "wait-window" }));
      send("q", failed("c@example.com", { code: "1006", category: "validation", retryable: false, action: "permanent" }));
      send("q", failed("d@example.com", { code: "607", category: "quota", action: "wait-day" }));
      send("q", { payload: { email: "e@example.com" }, error: { message: "MarketoError: marketo-lead: auth: Marketo 603: Access denied", source: { id: "n-lead", type: "marketo-lead", name: "Leads" } } });
      await until(() => got.gaveup.length === 2, "two held");
      await until(() => lastStatus("q")?.text === `${S("waiting")} 3 · ${S("held")} 2`, "status waiting 3 · held 2");

      send("q", { topic: "stats", payload: 1_700_000_000_000 });
      await until(() => got.answers.length === 1, "stats");
      const stats = got.answers[0].payload;
      stats.counts.state.should.eql({ waiting: 3, retrying: 0, held: 2, abandoned: 0 });
      stats.counts.category.should.eql({ marketo: 1, "rate-limit": 1, validation: 1, quota: 1, auth: 1 });
      stats.counts.integration.should.eql({ "n-lead": 5 });
      stats.totals.should.containEql({ received: 5, held: 2 });

      send("q", { topic: "flush" });
      await until(() => got.answers.length === 2, "flush");
      got.answers[1].payload.should.eql({ flushed: 2 });
      await until(() => got.resubmitted.length === 2, "the flushed entries");
      got.resubmitted.map((m) => m.payload.email).sort().should.eql(["a@example.com", "b@example.com"]);

      send("q", { topic: "resubmit", payload: { category: "auth" } });
      await until(() => got.resubmitted.length === 3 && got.answers.length === 3, "resubmitted auth");
      got.answers[2].payload.should.eql({ resubmitted: 1 });
      got.resubmitted[2].payload.email.should.equal("e@example.com");

      send("q", { topic: "discard" });
      await until(() => got.caught.length === 1, "discard without a filter fails");
      got.caught[0].error.message.should.match(/retry-queue.errors.discardFilter$/);
      send("q", { topic: "resubmit", payload: { state: "lost" } });
      await until(() => got.caught.length === 2, "a bad filter fails");
      got.caught[1].error.message.should.match(/retry-queue.errors.filter$/);

      send("q", { topic: "discard", payload: { state: ["waiting", "held"] } });
      await until(() => got.answers.length === 4, "discard");
      got.answers[3].payload.should.eql({ discarded: 2 });
      send("q", { topic: "discard", payload: {} });
      await until(() => got.answers.length === 5, "discard all");
      got.answers[4].payload.should.eql({ discarded: 3 });
      await until(() => lastStatus("q")?.text === S("empty"), "empty");
    });

    it("admin routes: list queues, list entries with filters and paging, resubmit and discard by ids or filter, 404 and 400 in JSON", async () => {
      await helper.load(retryQueue, soloFlow({ backoff: "1h" }));
      const got = collect(SOLO);
      for (const email of ["a@x.com", "b@x.com", "c@x.com"]) send("q", failed(email));
      send("q", failed("d@x.com", { code: "1006", category: "validation", retryable: false, action: "permanent" }, { id: "n-status", type: "marketo-program-status", name: "" }));
      await until(() => got.gaveup.length === 1, "the held one");
      await until(() => lastStatus("q")?.text === `${S("waiting")} 3 · ${S("held")} 1`, "4 entries");

      const queues = (await helper.request().get("/retry-queue").expect(200)).body;
      queues.should.have.length(1);
      queues[0].should.containEql({ id: "q", name: "failures", z: "tab", size: 4, maxEntries: 10000, durable: false });
      queues[0].counts.state.should.eql({ waiting: 3, retrying: 0, held: 1, abandoned: 0 });

      const all = await entries();
      all.total.should.equal(4);
      all.counts.integration.should.eql({ "n-lead": 3, "n-status": 1 });
      all.integrations["n-status"].should.eql({ id: "n-status", type: "marketo-program-status", name: "" });
      all.entries[0].should.have.properties(["id", "integration", "category", "code", "message", "state", "attempts", "firstFailedAt", "lastFailedAt", "nextRetryAt", "payload"]);
      should(all.entries[0].msg).be.undefined();
      (await entries("?state=held")).entries.map((e: any) => e.payload.email).should.eql(["d@x.com"]);
      (await entries("?integration=marketo-lead&limit=2&offset=1")).should.containEql({ total: 3 });
      (await entries("?integration=marketo-lead&limit=2&offset=1")).entries.map((e: any) => e.payload.email).should.eql(["b@x.com", "c@x.com"]);
      (await entries("?state=waiting,held&category=validation")).total.should.equal(1);

      const e404 = await helper.request().get("/retry-queue/nope/entries").expect(404);
      e404.body.error.should.match(/no retry-queue nope is deployed/);
      (await helper.request().get("/retry-queue/q/entries?limit=-1").expect(400)).body.error.should.match(/limit must be/);
      (await helper.request().get("/retry-queue/q/entries?state=lost").expect(400)).body.error.should.match(/unknown state "lost"/);
      (await helper.request().post("/retry-queue/q/discard").send({}).expect(400)).body.error.should.match(/give ids or a filter/);
      (await helper.request().post("/retry-queue/q/discard").send({ ids: "all" }).expect(400)).body.error.should.match(/ids must be an array/);
      (await helper.request().post("/retry-queue/q/resubmit").send({ filter: { colour: 1 } }).expect(400)).body.error.should.match(/unknown filter field/);
      (await helper.request().post("/retry-queue/q/resubmit").set("Content-Type", "application/json").send("{nope").expect(400)).body.error.should.match(/not valid JSON/);
      await helper.request().post("/retry-queue/nope/resubmit").send({}).expect(404);

      const first = all.entries[0].id;
      (await helper.request().post("/retry-queue/q/resubmit").send({ ids: [first, "unknown-id"] }).expect(200)).body.should.eql({ resubmitted: 1 });
      await until(() => got.resubmitted.length === 1, "the resubmission");
      got.resubmitted[0].marketo.retry.id.should.equal(first);
      (await helper.request().post("/retry-queue/q/discard").send({ filter: { state: "held" } }).expect(200)).body.should.eql({ discarded: 1 });
      (await helper.request().post("/retry-queue/q/discard").send({ ids: [first] }).expect(200)).body.should.eql({ discarded: 1 });
      (await helper.request().post("/retry-queue/q/discard").send({ filter: {} }).expect(200)).body.should.eql({ discarded: 2 });
      (await entries()).totals.should.containEql({ received: 4, discarded: 4, retried: 1 });
    });

    it("full: a new failure goes to output 2 as 'overflow', reaches Catch, turns the status red and is logged once", async () => {
      await helper.load(retryQueue, soloFlow({ backoff: "1h", maxEntries: 2 }));
      const got = collect(SOLO);
      send("q", failed("a@x.com"));
      send("q", failed("b@x.com"));
      send("q", failed("c@x.com"));
      send("q", failed("d@x.com"));
      await until(() => got.gaveup.length === 2 && got.caught.length === 2, "two overflows");
      got.gaveup.map((m) => m.payload.email).should.eql(["c@x.com", "d@x.com"]);
      got.gaveup[0].marketo.retry.state.should.equal("overflow");
      got.gaveup[0].marketo.error.category.should.equal("marketo");
      got.caught[0].error.message.should.equal("retry-queue.errors.full");
      got.caught[0].payload.email.should.equal("c@x.com");
      await until(() => lastStatus("q")?.text === `${S("full")} 2`, "status full");
      lastStatus("q")!.fill!.should.equal("red");
      warnings("q", "retry-queue.log.full").should.equal(1);
      (await entries()).totals.overflow.should.equal(2);
    });
  });

  describe("durability (a userDir)", () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "retry-queue-"));
      helper.settings({ userDir: dir } as never);
    });
    afterEach(() => {
      helper.settings({});
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it("entries, their states and the totals come back after unload and load; an outcome sent meanwhile is kept and applied", async () => {
      const flow = soloFlow({ backoff: "50ms", answerTimeout: "10m" });
      await helper.load(retryQueue, flow);
      let got = collect(SOLO);
      send("q", failed("a@x.com"));
      send("q", failed("b@x.com", { code: "1006", category: "validation", retryable: false, action: "permanent" }));
      await until(() => got.resubmitted.length === 1 && got.gaveup.length === 1, "a resubmission and a held entry");
      const tag = got.resubmitted[0].marketo.retry;
      const file = path.join(dir, "marketo-journal", "retry-queue-q.journal");
      fs.existsSync(file).should.be.true();
      (await helper.request().get("/retry-queue").expect(200)).body[0].durable.should.be.true();
      await helper.unload();

      // Delivered while the queue is not deployed (a redeploy in progress).
      reportRetryOutcome(tag, true);

      await helper.load(retryQueue, flow);
      got = collect(SOLO);
      const back = await entries();
      back.total.should.equal(1);
      back.entries[0].should.containEql({ state: "held", code: "1006" });
      back.entries[0].payload.should.eql({ email: "b@x.com" });
      back.totals.should.containEql({ received: 2, retried: 1, delivered: 1, held: 1 });
      await until(() => lastStatus("q")?.text === `${S("waiting")} 0 · ${S("held")} 1`, "status after recovery");
      got.gaveup.should.have.length(0);

      // A resubmission under way survives too: with no answer it is abandoned after the timeout.
      send("q", failed("d@x.com"));
      await until(() => got.resubmitted.length === 1, "the new entry resubmitted");
      await helper.unload();
      await helper.load(retryQueue, soloFlow({ backoff: "1h", answerTimeout: "100ms", maxAttempts: 1 }));
      got = collect(SOLO);
      await until(() => got.gaveup.length === 1, "abandoned after the reload");
      got.gaveup[0].payload.email.should.equal("d@x.com");
      // And a waiting one: it goes out when flushed after the reload.
      send("q", failed("e@x.com"));
      await until(() => lastStatus("q")?.text === `${S("waiting")} 1 · ${S("held")} 1 · ${S("abandoned")} 1`, "one waiting");
      await helper.unload();
      await helper.load(retryQueue, soloFlow({ backoff: "1h" }));
      got = collect(SOLO);
      (await entries()).counts.state.should.eql({ waiting: 1, retrying: 0, held: 1, abandoned: 1 });
      send("q", { topic: "flush" });
      await until(() => got.resubmitted.length === 1, "the recovered waiting entry resubmitted");
      got.resubmitted[0].payload.email.should.equal("e@x.com");
      got.resubmitted[0].marketo.retry.attempt.should.equal(1);
    });
  });
});
