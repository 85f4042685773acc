/**
 * field-mapper wiring, through node-red-node-test-helper against the BUILT node: outputs,
 * msg.source, msg.filtered, env and JSONata sources, done/catch, status, and the admin routes
 * (preview, targets) including the describe seam to a marketo-config node.
 */
import fs from "node:fs";
import path from "node:path";
import should from "should";
import helper = require("node-red-node-test-helper");
import fieldMapper = require("../../nodes/field-mapper");
import marketoConfig = require("../../nodes/marketo-config");
import { CONFIG_ID, configNode, credentials, emulator } from "../helpers/marketo-flow";
import { until as waitUntil } from "../helpers/until";
import type { Node } from "node-red";
import { DEFAULT_ROWS, BUILTIN_TARGET_FIELDS } from "../../src/lib/flow/field-targets";
import type { MappingRow } from "../../src/lib/flow/field-mapping-rows";

helper.init(require.resolve("node-red"));

type Msg = Record<string, any>;
const fixture = (name: string): Msg[] => JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", name), "utf8"));
const rows = (): MappingRow[] => DEFAULT_ROWS.map((r) => ({ ...r }));

function flow(cfg: Record<string, unknown> = {}, tabEnv?: unknown[]) {
  return [
    { id: "tab", type: "tab", label: "test", ...(tabEnv ? { env: tabEnv } : {}) },
    { id: "m", z: "tab", type: "field-mapper", name: "", marketo: "", rows: rows(), targetFields: [], ...cfg, wires: [["ok"], ["bad"]] },
    { id: "ok", z: "tab", type: "helper" },
    { id: "bad", z: "tab", type: "helper" },
    { id: "c", z: "tab", type: "catch", scope: null, uncaught: false, wires: [["caught"]] },
    { id: "caught", z: "tab", type: "helper" },
    { id: "d", z: "tab", type: "complete", scope: ["m"], uncaught: false, wires: [["completed"]] },
    { id: "completed", z: "tab", type: "helper" },
  ];
}

interface Got {
  ok: Msg[];
  bad: Msg[];
  caught: Msg[];
  completed: Msg[];
}
function collect(): Got {
  const got: Got = { ok: [], bad: [], caught: [], completed: [] };
  for (const id of ["ok", "bad", "caught", "completed"] as const) helper.getNode(id).on("input", (m: Msg) => got[id].push(m));
  return got;
}
const until = (cond: () => boolean, what: string, ms = 3000): Promise<void> => waitUntil(cond, what, ms);
/** The helper's node with its sinon spies and `call:*` events, which @types/node-red does not describe. */
interface SpiedNode {
  error: { calledWithMatch: (...args: unknown[]) => boolean };
  status: { calledWithMatch: (...args: unknown[]) => boolean };
  on(event: string, cb: (call: { args: Array<{ text?: string }> }) => void): void;
  receive(msg: Msg): void;
}
const spied = (id: string): SpiedNode => helper.getNode(id) as unknown as SpiedNode;
const settle = (ms = 60) => new Promise((r) => setTimeout(r, ms));

describe("field-mapper node", () => {
  afterEach(async () => {
    await helper.unload();
  });

  it("deploys with the defaults, with an empty or unknown marketo-config pointer", async () => {
    await helper.load(fieldMapper, flow());
    should(helper.getNode("m")).be.ok();
    await helper.unload();
    await helper.load(fieldMapper, flow({ marketo: "no-such-config" }));
    const got = collect();
    helper.getNode("m").receive(fixture("kaltura-events.json")[0]);
    await until(() => got.ok.length === 1, "output 1");
  });

  it("rows that do not overwrite travel in msg.marketo.fieldUpdates, beside what msg.marketo held", async () => {
    const owned = rows().map((r) => (r.target === "company" ? { ...r, update: "ifBlank" as const } : r.target === "registrationCode" ? { ...r, update: "never" as const } : r));
    await helper.load(fieldMapper, flow({ rows: owned }));
    const got = collect();
    helper.getNode("m").receive({ ...fixture("kaltura-events.json")[0], marketo: { programStatus: { name: "Registered" } } });
    await until(() => got.ok.length === 1, "output 1");
    should(got.ok[0].marketo).eql({ programStatus: { name: "Registered" }, fieldUpdates: { company: "ifBlank", registrationCode: "never" } });
    await helper.unload();
    await helper.load(fieldMapper, flow());
    const plain = collect();
    helper.getNode("m").receive(fixture("kaltura-events.json")[0]);
    await until(() => plain.ok.length === 1, "output 1");
    should(plain.ok[0].marketo).be.undefined();
  });

  it("maps the Kaltura and Certain samples to clean records on output 1, keeping the original in msg.source", async () => {
    await helper.load(fieldMapper, flow({ targetFields: BUILTIN_TARGET_FIELDS }));
    const got = collect();
    const k = fixture("kaltura-events.json")[0];
    const c = fixture("certain-events.json")[0];
    const n = helper.getNode("m");
    n.receive(JSON.parse(JSON.stringify(k)));
    n.receive(JSON.parse(JSON.stringify(c)));
    await until(() => got.ok.length === 2, "two records");
    should(got.ok[0].payload).eql({ email: "ada.lovelace@example.com", firstName: "Ada", lastName: "Lovelace", company: "analytical engines ltd", registrationCode: "R-1001" });
    should(got.ok[0].source).eql(k.payload);
    should(got.ok[0].topic).equal("registration.created");
    should(got.ok[1].payload).eql({ email: "grace.hopper@example.org", firstName: "Grace", lastName: "Hopper", company: "US Navy", registrationCode: "C-55012" });
    should(got.ok[1].source).eql(c.payload);
    await settle();
    should(got.bad).have.length(0);
    should(got.completed).have.length(2);
  });

  it("sends invalid records to output 2 only, with every problem in msg.filtered", async () => {
    await helper.load(fieldMapper, flow());
    const got = collect();
    const payload = { profile: { email: "not an email", firstName: ["Ada"], lastName: "" } };
    helper.getNode("m").receive({ topic: "registration.created", payload });
    await until(() => got.bad.length === 1, "output 2");
    const m = got.bad[0];
    should(m.payload).eql(payload);
    should(m.source).be.undefined();
    should(m.filtered.rule).equal("validation");
    should(m.filtered.problems.map((p: Msg) => [p.field, p.code])).eql([
      ["email", "email"],
      ["firstName", "shape"],
      ["lastName", "required"],
    ]);
    should(m.filtered.reason).startWith("3 problems: email: not a valid email address");
    await settle();
    should(got.ok).have.length(0);
    should(got.caught).have.length(0);
    should(got.completed).have.length(1);
  });

  it("bad inputs go to output 2 with a reason, never a crash", async () => {
    await helper.load(fieldMapper, flow());
    const got = collect();
    const n = helper.getNode("m");
    const inputs: Msg[] = [
      { payload: "just text" },
      { payload: 42 },
      { payload: null },
      { payload: [1, 2] },
      { payload: { profile: { email: "a".repeat(1024 * 1024), firstName: "a", lastName: "b" } } },
      { payload: JSON.parse('{"profile": {"__proto__": {"email": "x@y.com"}, "firstName": "a", "lastName": "b"}}') },
      { payload: { profile: { email: 12345, firstName: 1, lastName: true } } },
    ];
    for (const i of inputs) n.receive(i);
    await until(() => got.bad.length === inputs.length, "all on output 2");
    should(got.bad[0].filtered.problems[0].problem).equal("required but empty: msg.payload is a string, not an object");
    should(got.bad[2].filtered.problems[0].problem).equal("required but empty: msg.payload is null, not an object");
    should(got.bad[4].filtered.problems[0]).containDeep({ field: "email", code: "length" });
    should(got.bad[5].filtered.problems.map((p: Msg) => p.field)).eql(["email"]);
    // an email must be text; without cached metadata other scalars pass as given
    should(got.bad[6].filtered.problems).eql([{ field: "email", code: "email", problem: "not a valid email address: expected text, got a number", value: 12345 }]);
    should(got.bad[6].filtered.record).eql({ firstName: 1, lastName: true });
    should(got.ok).have.length(0);
    should(got.caught).have.length(0);
  });

  it("env sources resolve as the node's flow does; JSONata sources are evaluated per message", async () => {
    const extra: MappingRow[] = [
      { target: "leadSource", sourceType: "env", source: "LEAD_SOURCE", required: true },
      { target: "title", sourceType: "jsonata", source: '$uppercase(payload.profile.title) & " @ " & $env("LEAD_SOURCE")', trim: true },
      { target: "eventCode", sourceType: "jsonata", source: "payload.event.code", case: "lower" },
    ];
    await helper.load(fieldMapper, flow({ rows: [...rows(), ...extra] }, [{ name: "LEAD_SOURCE", value: "Certain", type: "str" }]));
    const got = collect();
    helper.getNode("m").receive(fixture("certain-events.json")[0]);
    await until(() => got.ok.length === 1, "output 1");
    should(got.ok[0].payload).containEql({ leadSource: "Certain", title: "REAR ADMIRAL @ Certain", eventCode: "devcon26" });
  });

  it("an env var that is not set makes a required row fail with its name", async () => {
    const extra: MappingRow[] = [{ target: "leadSource", sourceType: "env", source: "FIELD_MAPPER_UNSET_VAR", required: true }];
    await helper.load(fieldMapper, flow({ rows: [...rows(), ...extra] }));
    const got = collect();
    helper.getNode("m").receive(fixture("certain-events.json")[0]);
    await until(() => got.bad.length === 1, "output 2");
    should(got.bad[0].filtered.problems).eql([{ field: "leadSource", code: "required", problem: "required but empty: environment variable FIELD_MAPPER_UNSET_VAR is not set" }]);
  });

  it("coerces to the cached field types", async () => {
    const extra: MappingRow[] = [
      { target: "leadScore", sourceType: "str", source: "42" },
      { target: "unsubscribed", sourceType: "str", source: "false" },
      { target: "dateOfBirth", sourceType: "msg", source: "payload.event.startDate" },
    ];
    await helper.load(fieldMapper, flow({ rows: [...rows(), ...extra], targetFields: BUILTIN_TARGET_FIELDS }));
    const got = collect();
    helper.getNode("m").receive(fixture("kaltura-events.json")[0]);
    await until(() => got.ok.length === 1, "output 1");
    should(got.ok[0].payload).containEql({ leadScore: 42, unsubscribed: false, dateOfBirth: "2026-12-08" });
  });

  it("shows mapped / invalid counts in the status", async () => {
    await helper.load(fieldMapper, flow());
    const got = collect();
    const n = spied("m");
    const texts: string[] = [];
    n.on("call:status", (call) => texts.push(String(call.args[0].text)));
    n.receive(fixture("kaltura-events.json")[0]);
    n.receive(fixture("certain-events.json")[0]);
    n.receive({ payload: {} });
    await until(() => got.ok.length === 2 && got.bad.length === 1, "three outputs");
    await until(() => texts.includes("field-mapper.status.mapped 2 · field-mapper.status.invalid 1"), "the final status", 2000);
  });

  it("refuses a __proto__ target at deploy: error logged, messages end with done(err)", async () => {
    const bad = [...rows(), { target: "__proto__", sourceType: "str", source: "x" }];
    await helper.load(fieldMapper, flow({ rows: bad }));
    const got = collect();
    const n = spied("m");
    should(n.error.calledWithMatch(/not allowed as a field name/)).be.true();
    should(n.status.calledWithMatch({ fill: "red" })).be.true();
    n.receive(fixture("kaltura-events.json")[0]);
    await until(() => got.caught.length === 1, "the catch node");
    should(got.caught[0].error.message).match(/__proto__/);
    should(got.ok.length + got.bad.length).equal(0);
  });

  it("JSONata rows: messages leave in arrival order, however long each evaluation takes", async () => {
    // A slower evaluation for the first message must not let the second overtake it: two updates
    // of one lead reordered would let the older one win in Marketo.
    const extra: MappingRow[] = [{ target: "title", sourceType: "jsonata", source: "$join($map(payload.tags, function($t){ $uppercase($t) }), ',')" }];
    await helper.load(fieldMapper, flow({ rows: [...rows(), ...extra] }));
    const got = collect();
    const base = fixture("kaltura-events.json")[0];
    const n = helper.getNode("m");
    n.receive({ ...base, n: 1, payload: { ...base.payload, tags: Array.from({ length: 300 }, (_, i) => `t${i}`) } });
    n.receive({ ...base, n: 2, payload: { ...base.payload, tags: ["a"] } });
    n.receive({ ...base, n: 3, payload: { ...base.payload, tags: Array.from({ length: 50 }, (_, i) => `t${i}`) } });
    await until(() => got.ok.length === 3, "three outputs");
    got.ok.map((m) => m.n).should.eql([1, 2, 3]);
    got.completed.length.should.equal(3);
  });

  it("output 1 does not carry a stale msg.filtered from an earlier node", async () => {
    await helper.load(fieldMapper, flow());
    const got = collect();
    helper.getNode("m").receive({ ...fixture("kaltura-events.json")[0], filtered: { rule: "source", reason: "from an earlier tag-filter" } });
    await until(() => got.ok.length === 1, "output 1");
    should(got.ok[0]).not.have.property("filtered");
  });

  it("no status update after close from a JSONata message still in flight", async () => {
    const extra: MappingRow[] = [{ target: "title", sourceType: "jsonata", source: "$join($map(payload.tags, function($t){ $uppercase($t) }), ',')" }];
    await helper.load(fieldMapper, flow({ rows: [...rows(), ...extra] }));
    const got = collect();
    const n = helper.getNode("m") as unknown as Node & NodeJS.EventEmitter & { close(removed: boolean): Promise<void> };
    let after = 0;
    let closed = false;
    n.on("call:status", () => closed && after++);
    const base = fixture("kaltura-events.json")[0];
    n.receive({ ...base, payload: { ...base.payload, tags: Array.from({ length: 100 }, (_, i) => `t${i}`) } } as never);
    const closing = n.close(false); // runs the close handler now, while the evaluation is pending
    closed = true;
    await closing;
    await until(() => got.ok.length + got.bad.length === 1, "the in-flight message");
    await settle(400);
    after.should.equal(0);
  });

  describe("admin routes", () => {
    const sample = fixture("kaltura-events.json")[0];

    it("POST /field-mapper/preview maps with the runtime code", async () => {
      await helper.load(fieldMapper, flow());
      const res = await helper.request().post("/field-mapper/preview").send({ rows: rows(), targetFields: [], msg: sample }).expect(200);
      should(res.body).containDeep({ output: 1, problems: [], record: { email: "ada.lovelace@example.com", firstName: "Ada", lastName: "Lovelace" } });

      const invalid = await helper.request().post("/field-mapper/preview").send({ rows: rows(), msg: JSON.stringify({ payload: { profile: { email: "x" } } }) }).expect(200);
      should(invalid.body.output).equal(2);
      should(invalid.body.problems.map((p: Msg) => p.field)).eql(["email", "firstName", "lastName"]);
    });

    it("preview evaluates env and JSONata as at runtime (the deployed node's flow env when its id is given)", async () => {
      await helper.load(fieldMapper, flow({}, [{ name: "LEAD_SOURCE", value: "Kaltura", type: "str" }]));
      const extra = [
        { target: "leadSource", sourceType: "env", source: "LEAD_SOURCE" },
        { target: "title", sourceType: "jsonata", source: "$string(payload.event.id)" },
      ];
      const res = await helper.request().post("/field-mapper/preview").send({ id: "m", rows: [...rows(), ...extra], msg: sample }).expect(200);
      should(res.body.record).containEql({ leadSource: "Kaltura", title: "8801" });
    });

    it("preview answers 400 with a message for bad bodies", async () => {
      await helper.load(fieldMapper, flow());
      const badJson = await helper.request().post("/field-mapper/preview").set("Content-Type", "application/json").send("{not json").expect(400);
      should(badJson.body.error).match(/not valid JSON/);
      const notObject = await helper.request().post("/field-mapper/preview").set("Content-Type", "application/json").send("[1,2]").expect(400);
      should(notObject.body.error).match(/JSON object/);
      const badSample = await helper.request().post("/field-mapper/preview").send({ rows: rows(), msg: "{oops" }).expect(400);
      should(badSample.body.error).match(/sample message is not valid JSON/);
      const badRows = await helper.request().post("/field-mapper/preview").send({ rows: [{ target: "constructor", sourceType: "msg", source: "payload.x" }], msg: {} }).expect(400);
      should(badRows.body.errors[0]).match(/not allowed as a field name/);
      const noRows = await helper.request().post("/field-mapper/preview").send({ msg: {} }).expect(400);
      should(noRows.body.error).equal("rows must be an array of mapping rows");
    });

    it("POST /field-mapper/targets answers 404 with the built-in list when no marketo-config is found", async () => {
      await helper.load(fieldMapper, flow());
      const res = await helper.request().post("/field-mapper/targets").send({ config: "nope" }).expect(404);
      should(res.body.code).equal("no_config");
      should(res.body.error).match(/marketo-config node nope not found/);
      should(res.body.builtin.map((f: Msg) => f.name)).containEql("email").and.containEql("leadScore");
      const none = await helper.request().post("/field-mapper/targets").send({}).expect(404);
      should(none.body.error).equal("no marketo-config node chosen");
      const builtin = await helper.request().get("/field-mapper/builtin-targets").expect(200);
      should(builtin.body.fields).eql(BUILTIN_TARGET_FIELDS);
    });

    it("POST /field-mapper/targets reads describe through the marketo-config node's shared client", async () => {
      const emu = await emulator();
      try {
        const nodes = [
          ...flow({ marketo: CONFIG_ID }),
          { ...configNode(emu), z: "tab" },
          { ...configNode(emu), id: "cfg2", z: "tab", endpoint: "" },
        ];
        await helper.load([fieldMapper, marketoConfig], nodes, credentials(emu));
        const ok = await helper.request().post("/field-mapper/targets").send({ config: CONFIG_ID }).expect(200);
        should(ok.body.source).equal("marketo");
        const email = ok.body.fields.find((f: Msg) => f.name === "email");
        should(email).containDeep({ name: "email", dataType: "email" });
        should(ok.body.fields.find((f: Msg) => f.name === "id")).containDeep({ readOnly: true });
        emu.stats().callsByRoute.should.have.property("GET /rest/v1/leads/describe2.json", 1);
        // An unusable config says why; a failing describe says Marketo's error.
        const unusable = await helper.request().post("/field-mapper/targets").send({ config: "cfg2" }).expect(501);
        should(unusable.body.error).match(/not usable: .*endpoint/i);
        emu.setFaults({ rate: 1, codes: ["603"] });
        const failed = await helper.request().post("/field-mapper/targets").send({ config: CONFIG_ID }).expect(502);
        should(failed.body.error).match(/^Marketo describe failed: Marketo 603/);
      } finally {
        await helper.unload();
        await emu.stop();
      }
    });
  });
});
