/**
 * tag-filter node wiring in the test helper, against the BUILT node (nodes/tag-filter.js):
 * both outputs, msg.filtered, status, deploy-time errors, done()/done(err) and the fixtures.
 * RED._ is the identity in the helper, so status and log texts are i18n keys.
 */
import should from "should";
import helper from "node-red-node-test-helper";
import type { Node, NodeMessage } from "node-red";
 
import tagFilterNode = require("../../nodes/tag-filter");

 
const certain = require("../fixtures/certain-events.json") as NodeMessage[];
 
const kaltura = require("../fixtures/kaltura-events.json") as NodeMessage[];

helper.init(require.resolve("node-red"));

type Filtered = NodeMessage & { filtered?: { rule: string; reason: string } };
interface StatusCall {
  args: [{ fill?: string; shape?: string; text?: string }];
}
interface Spy {
  args: unknown[][];
  callCount: number;
}
type SpiedNode = Node & { error: Spy; warn: Spy; status: Spy };

const PASSED = "tag-filter.status.passed";
const REJECTED = "tag-filter.status.rejected";

/** A tab with the filter wired to two helper nodes plus catch and complete nodes scoped to it. */
function flow(config: Record<string, unknown> = {}) {
  return [
    { id: "tab", type: "tab", label: "t" },
    { id: "tf", type: "tag-filter", z: "tab", name: "filter", ...config, wires: [["pass"], ["reject"]] },
    { id: "pass", type: "helper", z: "tab" },
    { id: "reject", type: "helper", z: "tab" },
    { id: "n-catch", type: "catch", z: "tab", scope: ["tf"], uncaught: false, wires: [["caught"]] },
    { id: "caught", type: "helper", z: "tab" },
    { id: "n-complete", type: "complete", z: "tab", scope: ["tf"], wires: [["completed"]] },
    { id: "completed", type: "helper", z: "tab" },
  ];
}

/** Sends messages and collects what arrives on each output until `expected` messages arrived. */
function collect(msgs: unknown[], expected = msgs.length, ms = 2000): Promise<{ passed: Filtered[]; rejected: Filtered[]; caught: NodeMessage[]; completed: number }> {
  const tf = helper.getNode("tf");
  const out = { passed: [] as Filtered[], rejected: [] as Filtered[], caught: [] as NodeMessage[], completed: 0 };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out: ${JSON.stringify({ p: out.passed.length, r: out.rejected.length, c: out.caught.length })}`)), ms);
    const check = () => {
      if (out.passed.length + out.rejected.length + out.caught.length >= expected && out.completed + out.caught.length >= expected) {
        clearTimeout(timer);
        // a short grace period so that a duplicate send or done would be seen too
        setTimeout(() => resolve(out), 50);
      }
    };
    helper.getNode("pass").on("input", (m: Filtered) => (out.passed.push(m), check()));
    helper.getNode("reject").on("input", (m: Filtered) => (out.rejected.push(m), check()));
    helper.getNode("caught").on("input", (m: NodeMessage) => (out.caught.push(m), check()));
    helper.getNode("completed").on("input", () => (out.completed++, check()));
    for (const m of msgs) tf.receive(m as NodeMessage);
  });
}

/** Resolves with the first status call satisfying `pred` (already made or still to come). */
function statusWhere(node: SpiedNode, pred: (s: StatusCall["args"][0]) => boolean, ms = 2000): Promise<StatusCall["args"][0]> {
  const seen = (node.status.args as StatusCall["args"][]).map((a) => a[0]).find(pred);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no such status; calls: ${JSON.stringify(node.status.args)}`)), ms);
    // the helper's spies emit call:<method>; the Node typings do not know that event
    (node as unknown as NodeJS.EventEmitter).on("call:status", (call: StatusCall) => {
      if (pred(call.args[0])) {
        clearTimeout(timer);
        resolve(call.args[0]);
      }
    });
  });
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));

describe("tag-filter node", () => {
  afterEach(async () => {
    await helper.unload();
  });

  it("registers with its defaults and shows passed 0 on a grey dot", async () => {
    await helper.load(tagFilterNode, flow());
    const tf = helper.getNode("tf") as SpiedNode;
    should.exist(tf);
    const s = await statusWhere(tf, () => true);
    s.should.eql({ fill: "grey", shape: "dot", text: `${PASSED} 0` });
    tf.error.callCount.should.equal(0);
    tf.warn.callCount.should.equal(0);
  });

  it("the sample fixtures: a live filter with defaults passes the non-test registrations, drops the Certain test one", async () => {
    await helper.load(tagFilterNode, flow({ mode: "live" }));
    const msgs = [...clone(certain), ...clone(kaltura)];
    const out = await collect(msgs);
    out.caught.should.have.length(0);
    out.completed.should.equal(6);
    out.passed.map((m) => (m.payload as { registration: { code: string } }).registration.code).should.eql(["C-55012", "R-1001"]);
    out.passed.forEach((m) => m.should.not.have.property("filtered"));
    out.rejected.map((m) => [m.topic, m.filtered!.rule]).should.eql([
      ["registration.status_changed", "source"],
      ["registration.created", "live-test"],
      ["registration.status_changed", "source"],
      ["session.engagement", "source"],
    ]);
    out.rejected[1].filtered!.reason.should.equal("a live filter drops test data, and msg.payload.registration.test is true");
    (out.rejected[1].payload as { registration: { code: string } }).registration.code.should.equal("C-55013");
  });

  it("passes the message unchanged on output 1 and adds only msg.filtered on output 2", async () => {
    await helper.load(tagFilterNode, flow({ eventTags: "marketo" }));
    const good = clone(kaltura[0]) as Filtered;
    const bad = { ...clone(certain[0]), extra: 1 } as Filtered;
    const out = await collect([good, bad]);
    out.passed.should.have.length(1);
    JSON.stringify(out.passed[0]).should.equal(JSON.stringify({ ...clone(kaltura[0]), _msgid: out.passed[0]._msgid }));
    out.rejected.should.have.length(1);
    const { filtered, ...rest } = out.rejected[0];
    filtered!.should.eql({ rule: "activate-for:event", reason: "event tags [marketo-sync] match none of [marketo]" });
    JSON.stringify(rest).should.equal(JSON.stringify({ ...clone(certain[0]), extra: 1, _msgid: rest._msgid }));
  });

  it("holds back internal e-mail domains on output 2, saying so", async () => {
    await helper.load(tagFilterNode, flow({ excludeDomains: "example.org", mode: "any" }));
    const internal = clone(certain[0]) as Filtered;
    (internal.payload as { profile: { email: string } }).profile.email = "qa@eu.example.org";
    const outside = clone(kaltura[0]);
    const out = await collect([internal, outside]);
    out.passed.should.have.length(1);
    out.rejected.should.have.length(1);
    out.rejected[0].filtered!.should.eql({ rule: "excluded-domain", reason: 'msg.payload.profile.email "qa@eu.example.org" is at example.org, an excluded e-mail domain' });
  });

  it("output 1 does not carry a stale msg.filtered left by an earlier rejection", async () => {
    // e.g. a second filter on the first one's output 2: the message passed this one.
    await helper.load(tagFilterNode, flow());
    const out = await collect([{ ...clone(kaltura[0]), filtered: { rule: "source", reason: "an earlier tag-filter" } }]);
    out.passed.should.have.length(1);
    out.passed[0].should.not.have.property("filtered");
  });

  it("keeps the counts on the status: green once something passed", async () => {
    await helper.load(tagFilterNode, flow());
    const tf = helper.getNode("tf") as SpiedNode;
    await collect([clone(kaltura[0]), clone(kaltura[1]), clone(certain[0]), clone(certain[2])]);
    const s = await statusWhere(tf, (x) => x.text === `${PASSED} 2 · ${REJECTED} 2`);
    s.fill!.should.equal("green");
    s.shape!.should.equal("dot");
  });

  it("shows rejections only on a grey dot while nothing passed", async () => {
    await helper.load(tagFilterNode, flow({ mode: "test" }));
    const tf = helper.getNode("tf") as SpiedNode;
    await collect([clone(kaltura[0])]);
    const s = await statusWhere(tf, (x) => x.text === `${PASSED} 0 · ${REJECTED} 1`);
    s.fill!.should.equal("grey");
  });

  it("an invalid regex: error and red status at deploy, every message to output 2 with rule config", async () => {
    await helper.load(
      tagFilterNode,
      flow({ rules: [{ on: "profile", field: "email", op: "regex", value: "([a-z", ignoreCase: false }] }),
    );
    const tf = helper.getNode("tf") as SpiedNode;
    tf.error.callCount.should.equal(1);
    String(tf.error.args[0][0]).should.equal("tag-filter.errors.config");
    (await statusWhere(tf, () => true)).should.eql({ fill: "red", shape: "ring", text: "tag-filter.status.invalid" });
    const out = await collect([clone(kaltura[0])]);
    out.passed.should.have.length(0);
    out.caught.should.have.length(0);
    out.rejected[0].filtered!.rule.should.equal("config");
    out.rejected[0].filtered!.reason.should.match(/^the node's configuration is invalid: filter rule 1: invalid regular expression "\(\[a-z"/);
    tf.status.callCount.should.equal(1); // stays red
  });

  it("a status-change source without status tags: warning at deploy, that source never passes", async () => {
    await helper.load(tagFilterNode, flow({ srcRegistrationStatus: true }));
    const tf = helper.getNode("tf") as SpiedNode;
    tf.warn.callCount.should.equal(1);
    String(tf.warn.args[0][0]).should.equal("tag-filter.warnings.config");
    const out = await collect([clone(certain[1]), clone(certain[0])]);
    out.passed.should.have.length(1);
    out.rejected[0].filtered!.rule.should.equal("activate-for:registration-status");
    out.rejected[0].filtered!.reason.should.match(/no registration status tags are configured/);
  });

  it("with status tags, a status-change source passes only the statuses selected", async () => {
    await helper.load(tagFilterNode, flow({ srcRegistration: false, srcRegistrationStatus: true, statusTags: "Attended, marketo-attended" }));
    const out = await collect([...clone(certain), ...clone(kaltura)]);
    out.passed.map((m) => m.topic).should.eql(["registration.status_changed", "registration.status_changed"]);
    out.rejected.should.have.length(4);
  });

  it("filter rules from the dialog: the failing rule is named with its number", async () => {
    await helper.load(
      tagFilterNode,
      flow({
        rules: [
          { on: "event", field: "code", op: "in", value: "KVS26, DEVCON26", ignoreCase: false },
          { on: "profile", field: "country", op: "eq", value: "gb", ignoreCase: true },
        ],
      }),
    );
    const out = await collect([clone(kaltura[0]), clone(certain[0])]);
    out.passed.should.have.length(1);
    out.rejected[0].filtered!.should.eql({ rule: "filter:2", reason: 'msg.payload.profile.country is missing; equals "gb" needs a value' });
  });

  it("bad input goes to output 2 with a reason and done(), never an error", async () => {
    await helper.load(tagFilterNode, flow({ statusTags: "registered" }));
    const tf = helper.getNode("tf") as SpiedNode;
    const polluted = JSON.parse('{"topic":"registration.created","payload":{"__proto__":{"x":1},"registration":{"statusTags":["registered"],"__proto__":{"test":true}}}}');
    const msgs = [
      { topic: "registration.created", payload: "not an object" },
      { topic: 42, payload: {} },
      { topic: "registration.created", payload: { registration: { statusTags: "registered" } } },
      { topic: "registration.created", payload: { registration: { statusTags: [{ a: 1 }] } } },
      { topic: "registration.created", payload: { registration: { statusTags: ["x".repeat(100_000)] } } },
      polluted,
    ];
    const out = await collect(msgs);
    out.caught.should.have.length(0);
    out.completed.should.equal(6);
    tf.error.callCount.should.equal(0);
    out.rejected.map((m) => m.filtered!.rule).should.eql(["input", "source", "activate-for:registration-status", "activate-for:registration-status", "activate-for:registration-status"]);
    out.rejected.map((m) => m.filtered!.reason).should.eql([
      "msg.payload is a string, not an object",
      "msg.topic is a number, not a topic; enabled sources: [registration.created, registration.updated]",
      "msg.payload.registration.statusTags is a string, not a list of tags",
      "msg.payload.registration.statusTags[0] is an object, not a tag",
      "msg.payload.registration.statusTags[0] is 100000 characters long (at most 10000 are read)",
    ]);
    out.passed.should.have.length(1); // own properties only: the inherited test flag is ignored
  });

  it("a truly unexpected error goes to done(err): Catch gets it, nothing is sent", async () => {
    await helper.load(tagFilterNode, flow());
    // A getter that fails once (the filter's read); Catch's clone of the message then succeeds.
    const payload = {};
    let reads = 0;
    Object.defineProperty(payload, "event", {
      enumerable: true,
      get() {
        if (reads++ === 0) throw new Error("boom");
        return undefined;
      },
    });
    const out = await collect([{ topic: "registration.created", payload }], 1);
    out.passed.should.have.length(0);
    out.rejected.should.have.length(0);
    out.caught.should.have.length(1);
    (out.caught[0] as NodeMessage & { error: { message: string } }).error.message.should.match(/boom/);
  });

  it("close clears the status timer", async () => {
    const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    await helper.load(tagFilterNode, flow());
    const before = timeouts();
    await collect([clone(kaltura[0]), clone(kaltura[0]), clone(kaltura[0])]);
    // the throttled status keeps one timer armed while messages arrive
    helper.getNode("tf").receive(clone(kaltura[0]));
    timeouts().should.be.above(before);
    await helper.unload();
    timeouts().should.be.belowOrEqual(before);
  });
});
