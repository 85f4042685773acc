/**
 * tag-filter keeps what it receives under the userDir and replays it through today's rules, by
 * message and by admin route, against the BUILT node.
 */
import should from "should";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import helper from "node-red-node-test-helper";
import type { Node, NodeMessage } from "node-red";
 
import tagFilterNode = require("../../nodes/tag-filter");
import { until as waitUntil } from "../helpers/until";

helper.init(require.resolve("node-red"));

type Msg = NodeMessage & { filtered?: { rule: string; reason: string }; replay?: Record<string, unknown>; payload: Record<string, any> };

function flow(config: Record<string, unknown> = {}) {
  return [
    { id: "tab", type: "tab", label: "t" },
    { id: "tf", type: "tag-filter", z: "tab", name: "filter", mode: "any", ...config, wires: [["pass"], ["reject"]] },
    { id: "pass", type: "helper", z: "tab" },
    { id: "reject", type: "helper", z: "tab" },
    { id: "n-catch", type: "catch", z: "tab", scope: ["tf"], uncaught: false, wires: [["caught"]] },
    { id: "caught", type: "helper", z: "tab" },
  ];
}

function event(code: string, eventId: number, tags: string[]) {
  return { topic: "registration.created", payload: { event: { id: eventId, code: `EV${eventId}`, tags }, registration: { code, test: false }, profile: { email: `${code}@example.com` } } };
}

function outputs() {
  const out = { passed: [] as Msg[], rejected: [] as Msg[], caught: [] as Msg[] };
  helper.getNode("pass").on("input", (m: unknown) => out.passed.push(m as Msg));
  helper.getNode("reject").on("input", (m: unknown) => out.rejected.push(m as Msg));
  helper.getNode("caught").on("input", (m: unknown) => out.caught.push(m as Msg));
  return out;
}

const until = (test: () => boolean, what: string, ms = 10_000): Promise<void> => waitUntil(test, what, ms, 10);

describe("tag-filter history and replay", function () {
  this.timeout(30_000);
  let userDir: string;
  beforeEach(() => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), "marketo-replay-"));
    helper.settings({ userDir });
  });
  afterEach(async () => {
    await helper.unload();
    helper.settings({});
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it("keeps every event it receives and replays them through today's rules, marked, not kept twice", async () => {
    await helper.load(tagFilterNode, flow({ eventTags: "vip" }));
    let out = outputs();
    const tf = helper.getNode("tf") as Node;
    for (let i = 0; i < 10; i++) tf.receive(event(`R${i}`, i < 6 ? 1 : 2, i % 2 ? ["vip"] : ["general"]) as NodeMessage);
    await until(() => out.passed.length + out.rejected.length === 10, "10 events");
    out.passed.should.have.length(5);

    // Today's rule: every tag passes. A redeploy (and so a restart of the node) keeps the history.
    await helper.setFlows(flow({ eventTags: "" }), "full");
    out = outputs();
    const tf2 = helper.getNode("tf") as Node;
    tf2.receive({ topic: "replay", payload: { event: "EV1", suppressCampaigns: false } } as unknown as NodeMessage);
    await until(() => out.passed.length === 6, "6 replayed");
    await until(() => out.rejected.length === 1, "the request answered");
    const answer = out.rejected[0];
    answer.filtered!.rule.should.equal("replay");
    answer.replay!.should.containEql({ events: 6, dryRun: false, suppressCampaigns: false });
    out.passed.map((m) => m.payload.registration.code).should.eql(["R0", "R1", "R2", "R3", "R4", "R5"]);
    out.passed.forEach((m) => m.replay!.should.eql({ id: answer.replay!.replayId, requestedAt: answer.replay!.requestedAt, suppressCampaigns: false }));

    // Replayed messages are not kept again: a dry run over everything still counts 10.
    tf2.receive({ topic: "replay", payload: { dryRun: true } } as unknown as NodeMessage);
    await until(() => out.rejected.length === 2, "the dry run answered");
    out.rejected[1].replay!.should.containEql({ events: 10, dryRun: true });
    out.passed.should.have.length(6);
  });

  it("a bad replay request goes to a Catch node as a validation error", async () => {
    await helper.load(tagFilterNode, flow());
    const out = outputs();
    (helper.getNode("tf") as Node).receive({ topic: "replay", payload: { mode: "prod" } } as unknown as NodeMessage);
    await until(() => out.caught.length === 1, "the error caught");
    String((out.caught[0] as unknown as { error: { message: string } }).error.message).should.match(/validation: replay: mode must be/);
  });

  it("admin routes start a replay, answer its progress and cancel", async () => {
    await helper.load(tagFilterNode, flow());
    const out = outputs();
    const tf = helper.getNode("tf") as Node;
    for (let i = 0; i < 3000; i++) tf.receive(event(`R${i}`, 1, []) as NodeMessage);
    await until(() => out.passed.length === 3000, "3000 events");
    out.passed.length = 0;

    const bad = await helper.request().post("/tag-filter/tf/replay").send({ topics: 5 }).expect(400);
    bad.body.category.should.equal("validation");
    await helper.request().post("/tag-filter/nope/replay").send({}).expect(404);

    const started = await helper.request().post("/tag-filter/tf/replay").send({ registrations: ["R1", "R2"] }).expect(200);
    started.body.events.should.equal(2);
    await until(() => out.passed.length === 2, "2 replayed");
    const p = await helper.request().get(`/tag-filter/tf/replay/${started.body.replayId}`).expect(200);
    p.body.should.containEql({ replayId: started.body.replayId, state: "done", events: 2, emitted: 2 });

    const all = await helper.request().post("/tag-filter/tf/replay").send({}).expect(200);
    all.body.events.should.equal(3000);
    // The run may finish before the cancel arrives (the unit test cancels one mid-way): either way
    // the answer is its progress, and it ends cancelled or done, never running on.
    const cancelled = await helper.request().post(`/tag-filter/tf/replay/${all.body.replayId}/cancel`).expect(200);
    cancelled.body.replayId.should.equal(all.body.replayId);
    let final: { state: string; emitted: number } = cancelled.body;
    for (let i = 0; i < 500 && (final.state === "running" || final.state === "counting"); i++) {
      await new Promise((r) => setTimeout(r, 10));
      final = (await helper.request().get(`/tag-filter/tf/replay/${all.body.replayId}`).expect(200)).body;
    }
    ["cancelled", "done"].should.containEql(final.state);
    out.passed.length.should.equal(2 + final.emitted);
    await helper.request().get("/tag-filter/tf/replay/unknown").expect(404);
  });

  it("a replayed event carries its first arrival: taken in then, and resent from then on", async () => {
    await helper.load(tagFilterNode, flow());
    const out = outputs();
    const tf = helper.getNode("tf") as Node;
    tf.receive(event("R1", 1, []) as NodeMessage);
    await until(() => out.passed.length === 1, "the live event");
    const live = out.passed[0] as Msg & { marketo?: { acceptedAt?: string } };
    const arrived = live.marketo!.acceptedAt!;
    Date.parse(arrived).should.be.a.Number().and.not.be.NaN();
    tf.receive({ topic: "replay", payload: {} } as unknown as NodeMessage);
    await until(() => out.passed.length === 2, "the replayed event");
    (out.passed[1] as Msg & { marketo?: unknown }).marketo!.should.eql({ acceptedAt: arrived, resent: arrived });
  });

  it("the list of replays outlives a restart, bounded; one running at the stop is listed as cancelled", async () => {
    await helper.load(tagFilterNode, flow());
    let out = outputs();
    const tf = helper.getNode("tf") as Node;
    for (let i = 0; i < 3000; i++) tf.receive(event(`R${i}`, 1, []) as NodeMessage);
    await until(() => out.passed.length === 3000, "3000 events");
    const first = await helper.request().post("/tag-filter/tf/replay").send({ registrations: ["R1"] }).expect(200);
    await until(() => out.passed.length === 3001, "1 replayed");
    for (let i = 0; i < 22; i++) await helper.request().post("/tag-filter/tf/replay").send({ dryRun: true }).expect(200);
    const last = await helper.request().post("/tag-filter/tf/replay").send({ registrations: ["R2"] }).expect(200);
    await until(() => out.passed.length === 3002, "1 more replayed");
    // Stopped while replaying all 3,000 (a cancel at close, as at a restart).
    const running = await helper.request().post("/tag-filter/tf/replay").send({}).expect(200);
    await helper.unload();

    await helper.load(tagFilterNode, flow());
    out = outputs();
    const list = (await helper.request().get("/tag-filter/tf/replays").expect(200)).body.replays as Array<{ replayId: string; state: string; error?: string }>;
    list.should.have.length(20);
    list[0].replayId.should.equal(running.body.replayId);
    ["cancelled", "done"].should.containEql(list[0].state);
    list[1].should.containEql({ replayId: last.body.replayId, state: "done", events: 1, emitted: 1 });
    list.map((r) => r.replayId).should.not.containEql(first.body.replayId); // the oldest went
    const p = await helper.request().get(`/tag-filter/tf/replay/${last.body.replayId}`).expect(200);
    p.body.should.containEql({ state: "done", emitted: 1 });
    out.passed.should.have.length(0); // nothing replays again by itself
    await helper.request().get("/tag-filter/nope/replays").expect(404);
  });

  it("keeps nothing without a userDir, and says so to a replay", async () => {
    helper.settings({});
    await helper.load(tagFilterNode, flow());
    const out = outputs();
    (helper.getNode("tf") as Node).receive(event("R1", 1, []) as NodeMessage);
    (helper.getNode("tf") as Node).receive({ topic: "replay", payload: {} } as unknown as NodeMessage);
    await until(() => out.caught.length === 1, "the error caught");
    String((out.caught[0] as unknown as { error: { message: string } }).error.message).should.match(/keeps no history/);
    should(fs.existsSync(path.join(userDir, "marketo-history"))).be.false();
  });
});
