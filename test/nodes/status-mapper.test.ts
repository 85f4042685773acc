/**
 * status-mapper wiring, through node-red-node-test-helper against the BUILT node: outputs,
 * msg.marketo.programStatus, msg.filtered, policies, the memory in context stores (including an
 * asynchronous one across a restart), the canvas status and the editor's admin routes.
 */
import fs from "node:fs";
import path from "node:path";
import should from "should";
import helper = require("node-red-node-test-helper");
import statusMapper = require("../../nodes/status-mapper");
import { presetRows } from "../../src/lib/flow/status-ladder";
import { until as waitUntil } from "../helpers/until";

helper.init(require.resolve("node-red"));

type Msg = Record<string, any>;
const fixture = (name: string): Msg[] => JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", name), "utf8"));

function flow(cfg: Record<string, unknown> = {}) {
  return [
    { id: "tab", type: "tab", label: "test" },
    { id: "m", z: "tab", type: "status-mapper", name: "", ...cfg, wires: [["ok"], ["skip"]] },
    { id: "ok", z: "tab", type: "helper" },
    { id: "skip", z: "tab", type: "helper" },
    { id: "c", z: "tab", type: "catch", scope: null, uncaught: false, wires: [["caught"]] },
    { id: "caught", z: "tab", type: "helper" },
  ];
}

interface Got {
  ok: Msg[];
  skip: Msg[];
  caught: Msg[];
  total: () => number;
}
function collect(): Got {
  const got: Got = { ok: [], skip: [], caught: [], total: () => got.ok.length + got.skip.length + got.caught.length };
  for (const id of ["ok", "skip", "caught"] as const) helper.getNode(id).on("input", (m: Msg) => got[id].push(m));
  return got;
}
const until = (cond: () => boolean, what: string, ms = 3000): Promise<void> => waitUntil(cond, what, ms);
/** Sends the messages one by one, each after the previous one came out somewhere. */
async function run(got: Got, msgs: Msg[]) {
  const n = helper.getNode("m");
  for (const msg of msgs) {
    const before = got.total();
    n.receive(msg);
    await until(() => got.total() > before, `the output for ${JSON.stringify(msg).slice(0, 120)}`);
  }
}
const reg = (status: unknown, email: unknown = "ada@example.com", extra: Msg = {}): Msg => ({
  topic: "registration.status_changed",
  payload: { registration: { status }, profile: { email } },
  ...extra,
});

describe("status-mapper node", () => {
  afterEach(async () => {
    await helper.unload();
    helper.settings({});
  });

  it("keeps three explicit handler parameters and a (removed, done) close handler", async () => {
    await helper.load(statusMapper, flow());
    // Node-RED keeps these callbacks itself and reads their arity: 3 = calls done, 2 = gets `removed`.
    const n = helper.getNode("m") as unknown as { _inputCallback: (...args: unknown[]) => void; _closeCallbacks: ((...args: unknown[]) => void)[] };
    n._inputCallback.length.should.equal(3);
    n._closeCallbacks.map((f) => f.length).should.eql([2]);
  });

  it("maps the Kaltura sample with the default (Kaltura) table", async () => {
    await helper.load(statusMapper, flow({ programId: "1001" }));
    const got = collect();
    await run(got, fixture("kaltura-events.json"));
    got.ok.map((m) => m.marketo.programStatus).should.eql([
      { name: "autoConfirmed", step: 40, success: true, source: "Registered no confirmation required" },
      { name: "Participated", step: 60, success: true, source: "During-event visit" },
    ]);
    got.ok[0].payload.profile.firstName.should.equal("ada"); // the rest of the message untouched
    got.skip.length.should.equal(1); // the session.engagement event has no registration status
    got.skip[0].topic.should.equal("session.engagement");
    got.skip[0].filtered.should.eql({ rule: "no-status", reason: "no status at msg.payload.registration.status" });
    should(got.skip[0].marketo).be.undefined();
  });

  it("maps the Certain sample with the Certain preset", async () => {
    await helper.load(statusMapper, flow({ preset: "certain", rules: presetRows("certain"), programId: 1002 }));
    const got = collect();
    await run(got, fixture("certain-events.json"));
    got.skip.should.eql([]);
    got.ok.map((m) => [m.payload.profile.email, m.marketo.programStatus.name, m.marketo.programStatus.step, m.marketo.programStatus.success]).should.eql([
      ["grace.hopper@example.org", "Registered", 20, false],
      ["grace.hopper@example.org", "Attended", 40, true],
      ["qa+test@example.org", "Registered", 20, false],
    ]);
  });

  it("adds programStatus to an existing msg.marketo and keeps its other keys", async () => {
    await helper.load(statusMapper, flow());
    const got = collect();
    await run(got, [reg("Registered", "a@x.org", { marketo: { leadId: 7, other: "kept" } })]);
    got.ok[0].marketo.should.eql({ leadId: 7, other: "kept", programStatus: { name: "Registered", step: 30, success: true, source: "Registered" } });
  });

  it("reads the status and lead from other properties, JSONata included", async () => {
    await helper.load(
      statusMapper,
      flow({ statusProperty: "data.state", statusPropertyType: "msg", leadProperty: '$lowercase(data.who) & "!"', leadPropertyType: "jsonata" }),
    );
    const got = collect();
    await run(got, [
      { data: { state: "attended", who: "B@X.ORG" } },
      { data: { state: "registered", who: "b@x.org" } },
    ]);
    got.ok.length.should.equal(1);
    got.ok[0].marketo.programStatus.name.should.equal("Attended");
    got.skip[0].filtered.rule.should.equal("backward");
  });

  it("JSONata readers: messages are handled one at a time in arrival order", async () => {
    // The first status takes longer to evaluate; handled out of order, Attended would go first and
    // the earlier Registered would then be skipped as a backward move.
    await helper.load(
      statusMapper,
      flow({ statusProperty: "$count($map(data.pad, function($t){ $uppercase($t) })) >= 0 ? data.state : ''", statusPropertyType: "jsonata" }),
    );
    const got = collect();
    const n = helper.getNode("m");
    n.receive({ n: 1, data: { state: "Registered", pad: Array.from({ length: 300 }, (_, i) => `t${i}`) }, payload: { profile: { email: "a@x" } } });
    n.receive({ n: 2, data: { state: "Attended", pad: [] }, payload: { profile: { email: "a@x" } } });
    await until(() => got.total() === 2, "both messages");
    got.ok.map((m) => [m.n, m.marketo.programStatus.name]).should.eql([
      [1, "Registered"],
      [2, "Attended"],
    ]);
    got.skip.should.eql([]);
  });

  it("a message that throws while being read ends with an error and does not hold up the next", async () => {
    await helper.load(statusMapper, flow());
    const got = collect();
    const bad = reg("Registered");
    Object.defineProperty(bad, "marketo", { enumerable: false, get: () => { throw new Error("getter boom"); } });
    const n = helper.getNode("m");
    n.receive(bad);
    n.receive(reg("Attended"));
    await until(() => got.ok.length === 1 && got.caught.length === 1, "the error and the next message");
    got.caught[0].error.message.should.match(/getter boom/);
  });

  it("output 1 does not carry a stale msg.filtered from an earlier node", async () => {
    await helper.load(statusMapper, flow());
    const got = collect();
    await run(got, [reg("Registered", "a@x", { filtered: { rule: "validation", reason: "from an earlier field-mapper" } })]);
    should(got.ok[0]).not.have.property("filtered");
  });

  it("a JSONata failure quoting a huge value gives a short reason", async () => {
    await helper.load(statusMapper, flow({ statusProperty: "$number(data.big)", statusPropertyType: "jsonata" }));
    const got = collect();
    await run(got, [{ data: { big: "x".repeat(1_000_000) }, payload: { profile: { email: "a@x" } } }]);
    got.skip[0].filtered.rule.should.equal("invalid-input");
    got.skip[0].filtered.reason.should.startWith("the expression $number(data.big) failed: Unable to cast value to a number");
    got.skip[0].filtered.reason.length.should.be.below(400);
  });

  it("no status update after close from a JSONata message still in flight", async () => {
    await helper.load(statusMapper, flow({ statusProperty: "$count($map(data.pad, function($t){ $uppercase($t) })) >= 0 ? data.state : ''", statusPropertyType: "jsonata" }));
    const got = collect();
    const n = helper.getNode("m") as unknown as NodeJS.EventEmitter & { receive(m: Msg): void; close(removed: boolean): Promise<void> };
    let after = 0;
    let closed = false;
    n.on("call:status", () => closed && after++);
    n.receive({ data: { state: "Registered", pad: Array.from({ length: 100 }, (_, i) => `t${i}`) }, payload: { profile: { email: "a@x" } } });
    const closing = n.close(false);
    closed = true;
    await closing;
    await new Promise((r) => setTimeout(r, 400));
    after.should.equal(0);
    got.total().should.be.belowOrEqual(1);
  });

  describe("backward moves", () => {
    it("skips a lower step to output 2 with the reason (default), per lead and per program", async () => {
      await helper.load(statusMapper, flow({ programId: "1001" }));
      const got = collect();
      await run(got, [
        reg("Attended"),
        reg("Registered"),
        reg("Registered", "grace@example.org"), // another lead
        reg("Registered", "ADA@example.com ", { programId: 1003 }), // another program, from msg.programId
      ]);
      got.skip.length.should.equal(1);
      got.skip[0].filtered.should.eql({
        rule: "backward",
        reason: "Registered (30) is below Attended (50) already sent for this lead in program 1001",
      });
      should(got.skip[0].marketo).be.undefined();
      got.ok.map((m) => m.marketo.programStatus.name).should.eql(["Attended", "Registered", "Registered"]);
    });

    it("treats the same step under another name as backward (Marketo's 1037)", async () => {
      await helper.load(statusMapper, flow());
      const got = collect();
      await run(got, [reg("Registered no confirmation required"), reg("Confirmed email")]);
      got.ok.length.should.equal(1);
      got.skip[0].filtered.should.eql({
        rule: "backward",
        reason: "Confirmed (40) is at the same step as autoConfirmed (40) already sent for this lead; Marketo would skip it (1037)",
      });
    });

    it("sends the same status again by default, skips it with repeat = skip", async () => {
      await helper.load(statusMapper, flow());
      let got = collect();
      await run(got, [reg("Attended"), reg("attended")]);
      got.ok.length.should.equal(2);
      await helper.unload();

      await helper.load(statusMapper, flow({ repeat: "skip", programId: 1001 }));
      got = collect();
      await run(got, [reg("Attended"), reg("Pre-event visit")]);
      got.ok.length.should.equal(1);
      got.skip[0].filtered.should.eql({ rule: "unchanged", reason: "Attended (50) was already sent for this lead in program 1001" });
    });

    it("pass: sends it anyway but keeps remembering the higher step", async () => {
      await helper.load(statusMapper, flow({ backward: "pass", repeat: "skip" }));
      const got = collect();
      await run(got, [reg("Attended"), reg("Registered"), reg("Attended")]);
      got.ok.map((m) => m.marketo.programStatus.name).should.eql(["Attended", "Registered"]);
      got.skip[0].filtered.rule.should.equal("unchanged"); // Attended is still what Marketo has
    });

    it("force: sends it with the force flag and remembers it; never forces without a lead", async () => {
      await helper.load(statusMapper, flow({ backward: "force", repeat: "skip" }));
      const got = collect();
      await run(got, [reg("Attended"), reg("Registered"), reg("Registered"), { payload: { registration: { status: "Invited" } } }]);
      got.ok.map((m) => [m.marketo.programStatus.name, m.marketo.programStatus.force === true]).should.eql([
        ["Attended", false],
        ["Registered", true],
      ]);
      // Registered is now what Marketo has: the same again is unchanged; no lead: not forced blind.
      got.skip.map((m) => m.filtered.rule).should.eql(["unchanged", "no-lead"]);
    });

    it("error: done(err) reaches a Catch node, nothing is sent", async () => {
      await helper.load(statusMapper, flow({ backward: "error", programId: 1001 }));
      const got = collect();
      await run(got, [reg("Participated"), reg("Invited")]);
      got.ok.length.should.equal(1);
      got.skip.should.eql([]);
      got.caught.length.should.equal(1);
      got.caught[0].error.message.should.equal("Error: Invited (20) is below Participated (60) already sent for this lead in program 1001");
      got.caught[0].filtered.rule.should.equal("backward");
    });

    it("without a lead key: skipped (no-lead) under skip, sent under pass", async () => {
      await helper.load(statusMapper, flow());
      let got = collect();
      const noLead = (email: unknown) => ({ payload: { registration: { status: "Registered" }, profile: { email } } });
      await run(got, [noLead(undefined), noLead({ email: "x" }), { payload: { registration: { status: "Registered" } } }]);
      got.ok.should.eql([]);
      got.skip.map((m) => m.filtered.rule).should.eql(["no-lead", "no-lead", "no-lead"]);
      got.skip[0].filtered.reason.should.equal("no usable lead key at msg.payload.profile.email; cannot check for a backward move");
      await helper.unload();

      await helper.load(statusMapper, flow({ backward: "pass" }));
      got = collect();
      await run(got, [noLead(undefined)]);
      got.ok.length.should.equal(1);
    });
  });

  describe("unknown statuses and bad input", () => {
    it("sends an unknown status to output 2 naming it, or raises an error", async () => {
      await helper.load(statusMapper, flow());
      let got = collect();
      await run(got, [reg("Waitlisted")]);
      got.skip[0].filtered.should.eql({
        rule: "unknown-status",
        reason: 'status "Waitlisted" (msg.payload.registration.status) is not in the status table',
      });
      await helper.unload();

      await helper.load(statusMapper, flow({ unknown: "error" }));
      got = collect();
      await run(got, [reg("Waitlisted")]);
      got.caught[0].error.message.should.match(/status "Waitlisted"/);
      got.skip.should.eql([]);
    });

    it("gives every bad input a reason on output 2 and keeps working", async () => {
      await helper.load(statusMapper, flow());
      const got = collect();
      const bad: Array<[Msg, string, RegExp]> = [
        [{ payload: "Registered" }, "invalid-input", /^msg\.payload is a string, not an object$/],
        [{ payload: null }, "invalid-input", /msg\.payload is null/],
        [{ payload: [1, 2] }, "no-status", /no status/],
        [reg(30), "invalid-status", /is a number, not a string/],
        [reg(["Registered"]), "invalid-status", /is an array, not a string/],
        [reg({ name: "Registered" }), "invalid-status", /is an object, not a string/],
        [reg("__proto__"), "unknown-status", /"__proto__"/],
        [reg("x".repeat(1_000_000)), "invalid-status", /1000000 characters long/],
        [JSON.parse('{"payload":{"__proto__":{"status":"Registered"},"registration":{}}}'), "no-status", /no status/],
        [reg("Registered", "a@b.c", { marketo: "nope" }), "invalid-input", /msg\.marketo is a string, not an object/],
        [reg("Registered", "a@b.c", { programId: "abc" }), "invalid-program", /msg\.programId is not a program id/],
      ];
      await run(got, bad.map(([m]) => m));
      got.ok.should.eql([]);
      got.skip.length.should.equal(bad.length);
      got.skip.forEach((m, i) => {
        m.filtered.rule.should.equal(bad[i][1], `message ${i}`);
        m.filtered.reason.should.match(bad[i][2]);
        m.filtered.reason.length.should.be.below(300);
      });
      await run(got, [reg("Registered")]);
      got.ok.length.should.equal(1);
    });

    it("refuses to run with a broken table: error at deploy and for each message", async () => {
      await helper.load(statusMapper, flow({ rules: [{ source: "A", name: "Not in Program", step: 0 }] }));
      const got = collect();
      await run(got, [reg("A")]);
      got.caught[0].error.message.should.match(/status-mapper is not configured correctly: row 1 \(A\): Marketo cannot set "Not in Program"/);
    });
  });

  describe("memory", () => {
    const loadStores = () => (helper as unknown as { _context: { load(): Promise<void> } })._context.load();

    it("is kept in node context and survives a redeploy when a context store is configured", async () => {
      helper.settings({ contextStorage: { default: { module: "memory" } } } as never);
      const f = flow({ programId: 1001 });
      await helper.load(statusMapper, f);
      await loadStores(); // the helper skips the runtime's store loading
      await helper.setFlows(f, "full");
      let got = collect();
      await run(got, [reg("Attended")]);
      const stored = helper.getNode("m").context().get("statusMapperLastStatus") as { toJSON(): { entries: unknown[] } };
      stored.toJSON().entries.should.eql([["1001\u0000ada@example.com", 50, "Attended"]]);

      await helper.setFlows(f, "full"); // the node is recreated, the memory store keeps its context
      got = collect();
      await run(got, [reg("Registered")]);
      got.skip[0].filtered.rule.should.equal("backward");
    });

    it("starts empty after a redeploy when no store is configured (Node-RED wipes node context then)", async () => {
      const f = flow({ programId: 1001 });
      await helper.load(statusMapper, f);
      let got = collect();
      await run(got, [reg("Attended")]);
      await helper.setFlows(f, "full");
      got = collect();
      await run(got, [reg("Registered")]);
      got.ok.length.should.equal(1);
    });

    it("forgets the least recently updated lead past maxLeads", async () => {
      await helper.load(statusMapper, flow({ maxLeads: 2 }));
      const got = collect();
      await run(got, [reg("Attended", "a@x"), reg("Attended", "b@x"), reg("Attended", "c@x"), reg("Registered", "b@x"), reg("Registered", "a@x")]);
      got.skip.map((m) => m.payload.profile.email).should.eql(["b@x"]); // a was forgotten, so its Registered is a first status
      got.ok.length.should.equal(4);
    });

    it("works through an asynchronous persistent store and survives a restart", async () => {
      const disk: Record<string, string> = {};
      let reads = 0;
      const slowStore = () => ({
        open: () => Promise.resolve(),
        close: () => Promise.resolve(),
        get(scope: string, key: string, cb: (err: Error | null, v?: unknown) => void) {
          reads++;
          setTimeout(() => cb(null, disk[scope] ? JSON.parse(disk[scope])[key] : undefined), 20);
        },
        set(scope: string, key: string, value: unknown, cb?: (err?: Error) => void) {
          setImmediate(() => {
            const data = disk[scope] ? JSON.parse(disk[scope]) : {};
            data[key] = JSON.parse(JSON.stringify(value));
            disk[scope] = JSON.stringify(data);
            cb?.();
          });
        },
        keys: (_s: string, cb: (e: null, k: string[]) => void) => cb(null, []),
        delete: () => Promise.resolve(),
        clean: () => Promise.resolve(),
      });
      helper.settings({ contextStorage: { default: { module: "memory" }, slow: { module: slowStore } } } as never);
      const f = flow({ store: "slow", programId: 1001 });

      await helper.load(statusMapper, flow());
      await loadStores();
      await helper.setFlows(f, "full");
      let got = collect();
      await run(got, [reg("Confirmed email"), reg("Attended")]); // the first waits for the slow read
      got.ok.length.should.equal(2);
      await helper.unload(); // close flushes the memory to the store
      await until(() => (disk["m:tab"] ?? "").includes("Attended"), "the flush on close");
      JSON.parse(disk["m:tab"]).statusMapperLastStatus.should.eql({ v: 1, entries: [["1001\u0000ada@example.com", 50, "Attended"]] });

      await helper.load(statusMapper, flow()); // "restart": fresh runtime, same disk
      await loadStores();
      await helper.setFlows(f, "full");
      got = collect();
      await run(got, [reg("Registered")]);
      got.skip[0].filtered.rule.should.equal("backward");
      reads.should.be.aboveOrEqual(2);
    });
  });

  it("shows mapped and skipped counts", async () => {
    await helper.load(statusMapper, flow());
    // The helper emits `call:<method>` for the spied Node methods; the Node typings do not list it.
    const n = helper.getNode("m") as unknown as NodeJS.EventEmitter;
    const texts: Array<{ fill?: string; text?: string }> = [];
    n.on("call:status", (call: { args: Array<{ fill?: string; text?: string }> }) => texts.push(call.args[0]));
    const got = collect();
    await run(got, [reg("Registered"), reg("Attended"), reg("Registered")]);
    // RED._ is the identity in the helper: the labels are the catalog keys.
    await until(
      () => texts.some((s) => s.text === "status-mapper.status.mapped 2 · status-mapper.status.skipped 1"),
      "the status text",
    );
    texts[texts.length - 1].fill!.should.equal("yellow");
    texts[0].text!.should.equal("status-mapper.status.mapped 1");
  });

  describe("admin routes", () => {
    it("serves the presets", async () => {
      await helper.load(statusMapper, flow());
      const res = await helper.request().get("/status-mapper/presets").expect(200);
      res.body.kaltura.should.eql(presetRows("kaltura"));
      res.body.certain.should.eql(presetRows("certain"));
    });

    it("computes the Marketo channel from unsaved rows", async () => {
      await helper.load(statusMapper, flow());
      const rules = [
        { source: "Signed up", name: "Registered", step: 20, success: false },
        { source: "Came", name: "Attended", step: 40, success: true },
        { source: "Showed", name: "Attended", step: 40, success: true },
        { source: "", name: "Broken", step: 5 },
      ];
      const res = await helper.request().post("/status-mapper/channel").send({ rules }).expect(200);
      res.body.statuses.should.eql([
        { name: "Not in Program", step: 0, success: false, sources: [] },
        { name: "Registered", step: 20, success: false, sources: ["Signed up"] },
        { name: "Attended", step: 40, success: true, sources: ["Came", "Showed"] },
      ]);
      res.body.problems.should.eql(["row 4 has no source status"]);
      res.body.text.should.equal("Status\tStep\tSuccess\nNot in Program\t0\t\nRegistered\t20\t\nAttended\t40\tYes");
      const empty = await helper.request().post("/status-mapper/channel").send("junk").expect(200);
      empty.body.problems.should.eql(["the status table is not a list of rows"]);
    });
  });
});
