/**
 * Bad input and bad config, through node-red-node-test-helper against the BUILT nodes
 * and the emulator: every bad message or setting ends as one clear answer naming the problem and
 * its category, on output 2 and in a Catch node; nothing throws out of a node; nothing pollutes
 * Object.prototype; and a good record sent afterwards still goes through.
 */
import should from "should";
import helper = require("node-red-node-test-helper");
import marketoConfig = require("../../nodes/marketo-config");
import marketoLead = require("../../nodes/marketo-lead");
import programStatus = require("../../nodes/marketo-program-status");
import customActivity = require("../../nodes/marketo-custom-activity");
import tagFilter = require("../../nodes/tag-filter");
import fieldMapper = require("../../nodes/field-mapper");
import statusMapper = require("../../nodes/status-mapper");
import type { EmulatorHandle } from "../../src/emulator";
import type { MarketoConfigNode } from "../../src/lib/node-kit/marketo-config-api";
import { columnsOf } from "../../src/lib/marketo/csv";
import { editorDefaults } from "../helpers/editor-defaults";
import { CONFIG_ID, configNode, credentials, emulator, spied, until, type FlowNode, type Msg } from "../helpers/marketo-flow";

helper.init(require.resolve("node-red"));

const NODES = [marketoConfig, marketoLead, programStatus, customActivity, tagFilter, fieldMapper, statusMapper];
const ACTIONS = { lead: "marketo-lead", ps: "marketo-program-status", ca: "marketo-custom-activity" } as const;
const SHAPERS = { tf: "tag-filter", fm: "field-mapper", sm: "status-mapper" } as const;
type ActionId = keyof typeof ACTIONS;
type NodeId = ActionId | keyof typeof SHAPERS;
const IDS = [...Object.keys(ACTIONS), ...Object.keys(SHAPERS)] as NodeId[];
const SUMMIT = 1001;
const SYNC_ROUTE = "POST /rest/v1/leads.json";

/**
 * One tab: the config, the three action nodes and the three flow-shaping nodes from their
 * editor defaults, each wired to its own ok/bad sinks, and one Catch for the whole tab.
 * `second` adds a second config and a marketo-lead on it (a bad config beside a good one).
 */
function flow(emu: EmulatorHandle, cfg: Msg = {}, second?: Msg, leadProps: Msg = {}): FlowNode[] {
  const out: FlowNode[] = [{ id: "tab", type: "tab", label: "robustness" }, { ...configNode(emu, cfg), z: "tab" }];
  const wired = (id: string, type: string, extra: Msg = {}): FlowNode[] => [
    { ...editorDefaults(type), ...extra, id, type, z: "tab", wires: [[`${id}_ok`], [`${id}_bad`]] },
    { id: `${id}_ok`, type: "helper", z: "tab" },
    { id: `${id}_bad`, type: "helper", z: "tab" },
  ];
  for (const [id, type] of Object.entries(ACTIONS)) out.push(...wired(id, type, { marketo: CONFIG_ID, ...(id === "lead" ? leadProps : {}) }));
  for (const [id, type] of Object.entries(SHAPERS)) out.push(...wired(id, type));
  if (second) {
    out.push({ ...configNode(emu, second), id: "cfg2", z: "tab" });
    out.push(...wired("lead2", "marketo-lead", { marketo: "cfg2" }));
  }
  out.push({ id: "catcher", type: "catch", z: "tab", scope: null, uncaught: false, wires: [["caught"]] });
  out.push({ id: "caught", type: "helper", z: "tab" });
  return out;
}

type Status = { fill?: string; shape?: string; text?: string };

interface Sinks {
  ok: Record<string, Msg[]>;
  bad: Record<string, Msg[]>;
  caught: Msg[];
  /** Status texts per node: the helper's spies are shared by every node, so they are kept here. */
  status: Record<string, Status[]>;
}

function sinks(ids: readonly string[]): Sinks {
  const s: Sinks = { ok: {}, bad: {}, caught: [], status: {} };
  for (const id of ids) {
    s.ok[id] = [];
    s.bad[id] = [];
    s.status[id] = [];
    helper.getNode(`${id}_ok`).on("input", (m: Msg) => s.ok[id].push(m));
    helper.getNode(`${id}_bad`).on("input", (m: Msg) => s.bad[id].push(m));
    spied(id).on("call:status", (call: { args: Status[] }) => s.status[id].push(call.args[0]));
  }
  helper.getNode("caught").on("input", (m: Msg) => s.caught.push(m));
  return s;
}

const lastStatus = (s: Sinks, id: string): Status | undefined => s.status[id].at(-1);

/** What node `id` itself logged with error() or warn() (the spies are shared by all nodes). */
function logged(id: string, method: "error" | "warn"): string[] {
  type Call = { thisValue?: { id?: string }; args: unknown[] };
  const calls = (spied(id)[method] as unknown as { getCalls(): Call[] }).getCalls();
  return calls.filter((c) => c.thisValue?.id === id).map((c) => c.args.map((a) => (a instanceof Error ? a.message : String(a))).join(" "));
}

const config = (id = CONFIG_ID): MarketoConfigNode => helper.getNode(id) as unknown as MarketoConfigNode;
const answered = (s: Sinks, id: string): number => s.ok[id].length + s.bad[id].length;
const caughtFrom = (s: Sinks, id: string): Msg[] => s.caught.filter((m) => m.error?.source?.id === id);

/** Sends one message and waits until `records` more answers came out of the node. */
async function answer(s: Sinks, id: string, msg: Msg, records = 1, ms = 10_000): Promise<{ ok: Msg[]; bad: Msg[] }> {
  const ok0 = s.ok[id].length;
  const bad0 = s.bad[id].length;
  spied(id).receive(msg);
  await until(() => answered(s, id) >= ok0 + bad0 + records, `${records} answer(s) from ${id}`, ms);
  return { ok: s.ok[id].slice(ok0), bad: s.bad[id].slice(bad0) };
}

/**
 * One bad record into an action node: it leaves on output 2 only, with msg.marketo.error naming
 * the problem and the category, and a Catch node gets an error saying the same.
 */
async function refused(s: Sinks, id: ActionId, msg: Msg, problem: RegExp, category = "validation"): Promise<Msg> {
  const caught0 = caughtFrom(s, id).length;
  const got = await answer(s, id, msg);
  got.ok.should.have.length(0);
  got.bad.should.have.length(1);
  const err = got.bad[0].marketo.error;
  err.category.should.equal(category);
  err.message.should.match(problem);
  await until(() => caughtFrom(s, id).length > caught0, `Catch for ${id}`);
  const caught = caughtFrom(s, id)[caught0];
  caught.error.message.should.startWith(`MarketoError: ${ACTIONS[id]}: ${category}: `);
  caught.error.message.should.match(problem);
  return got.bad[0];
}

/** Good records for each action node go through (Node-RED, the config and its client still work). */
async function stillWorks(s: Sinks, emu: EmulatorHandle, tag: string): Promise<void> {
  const email = `after-${tag}@example.com`;
  const lead = await answer(s, "lead", { payload: { email, firstName: "After" } });
  lead.ok.should.have.length(1);
  const leadId = lead.ok[0].marketo.leadId as number;
  const ps = await answer(s, "ps", { programId: SUMMIT, payload: { email }, marketo: { leadId, programStatus: { name: "Registered" } } });
  ps.ok.should.have.length(1);
  const ca = await answer(s, "ca", { topic: "session.engagement", payload: { profile: { email }, engagement: { entry_id: `1_${tag}`, plays: 2 } } });
  ca.ok.should.have.length(1);
  should(emu.state().leads.find((l) => (l as Msg).email === email)).be.ok();
}

/** A message that is a Kaltura registration in the package's event shape. */
function registration(email: string, status = "Registered", extra: Msg = {}): Msg {
  return {
    topic: "registration.created",
    payload: {
      event: { id: 8801, name: "Kaltura Virtual Summit", tags: [], test: false },
      registration: { code: "r1", status, statusTags: [], test: false },
      profile: { email, firstName: "ada", lastName: "lovelace", company: "Analytical", ...extra },
    },
  };
}

describe("bad input and bad config", function () {
  this.timeout(60_000);
  let emu: EmulatorHandle | undefined;
  const escaped: unknown[] = [];
  const onEscape = (err: unknown): void => {
    escaped.push(err);
  };

  before(() => {
    process.on("uncaughtException", onEscape);
    process.on("unhandledRejection", onEscape);
  });
  after(() => {
    process.removeListener("uncaughtException", onEscape);
    process.removeListener("unhandledRejection", onEscape);
  });
  afterEach(async () => {
    await helper.unload();
    await emu?.stop();
    emu = undefined;
    // Nothing a node did may throw past Node-RED, and nothing may have polluted Object.prototype.
    escaped.splice(0).should.eql([]);
    should(({} as Msg).polluted).be.undefined();
    should(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted")).be.false();
  });

  /** `second`/`creds2`: a second config with a marketo-lead "lead2" on it; `leadProps`: marketo-lead's own. */
  async function load(cfg: Msg = {}, creds = credentials(emu!), second?: Msg, creds2?: Record<string, string>, leadProps: Msg = {}): Promise<Sinks> {
    await helper.load(NODES, flow(emu!, cfg, second, leadProps) as Parameters<typeof helper.load>[1], { ...creds, ...(creds2 ? { cfg2: creds2 } : {}) });
    return sinks(second ? [...IDS, "lead2"] : IDS);
  }

  describe("payloads that are not records", () => {
    const notRecords: Array<[string, unknown, RegExp]> = [
      ["a string", "ada@example.com", /got "ada@example\.com"/],
      ["a number", 42, /got 42/],
      ["null", null, /got null/],
      ["true", true, /got true/],
      ["a Buffer", Buffer.from("ada@example.com"), /got a Buffer/],
      ["a nested array", [["ada@example.com"]], /got an array/],
    ];

    it("marketo-lead: each is refused as validation, naming what it got", async () => {
      emu = await emulator();
      const s = await load();
      for (const [, payload, problem] of notRecords) await refused(s, "lead", { payload }, problem);
      await refused(s, "lead", { payload: {} }, /no fields/);
      await refused(s, "lead", { payload: { firstName: "Ada" } }, /no value for the lookup field email/);
      await refused(s, "lead", { payload: [] }, /empty array/);
      // Refused before Marketo: not one Sync Leads call.
      should(emu.stats().callsByRoute[SYNC_ROUTE]).be.undefined();
      await stillWorks(s, emu, "lead");
    });

    it("marketo-program-status: each is refused as validation, naming the missing email", async () => {
      emu = await emulator();
      const s = await load();
      for (const [what, payload] of notRecords) {
        // An array inside the array is record 0, which has no email field.
        const problem = what === "a nested array" ? /the record has no email to look the lead up by/ : /the email cannot be read: msg\.payload is (a string|a number|null|a boolean|a Buffer), not an object/;
        await refused(s, "ps", { payload, programId: SUMMIT, marketo: { programStatus: { name: "Registered" } } }, problem);
      }
      await refused(s, "ps", { payload: {}, programId: SUMMIT, marketo: { programStatus: { name: "Registered" } } }, /the record has no email to look the lead up by/);
      await stillWorks(s, emu, "ps");
    });

    it("marketo-custom-activity: each is refused as validation, naming what is missing", async () => {
      emu = await emulator();
      const s = await load();
      for (const [what, payload] of notRecords) {
        // An array inside the array is record 0, read for a field it cannot have.
        const problem = what === "a nested array" ? /no engagement at msg\.payload\[0\]\.engagement/ : /msg\.payload is (a string|a number|null|a boolean|a Buffer), not an object/;
        await refused(s, "ca", { topic: "session.engagement", payload }, problem);
      }
      await refused(s, "ca", { topic: "session.engagement", payload: { engagement: { entry_id: "1_x" } } }, /the record has no email to look the lead up by/);
      await refused(s, "ca", { topic: "session.engagement", payload: { profile: { email: "ada@example.com" } } }, /no engagement at msg\.payload\.engagement/);
      await stillWorks(s, emu, "ca");
    });

    it("the flow-shaping nodes hold each back on output 2 with a reason, and keep working", async () => {
      emu = await emulator();
      const s = await load();
      for (const [, payload] of notRecords) {
        for (const id of Object.keys(SHAPERS)) {
          const got = await answer(s, id, { topic: "registration.created", payload });
          got.ok.should.have.length(0);
          got.bad.should.have.length(1);
          got.bad[0].filtered.reason.should.be.a.String().and.not.be.empty();
        }
      }
      // Each still passes a good registration.
      (await answer(s, "tf", registration("ada@example.com"))).ok.should.have.length(1);
      const mapped = await answer(s, "fm", registration("Ada@Example.com"));
      mapped.ok.should.have.length(1);
      mapped.ok[0].payload.email.should.equal("ada@example.com");
      (await answer(s, "sm", registration("ada@example.com"))).ok[0].marketo.programStatus.name.should.equal("Registered");
    });
  });

  describe("values of the wrong type", () => {
    it("marketo-lead: an email that is a number or not an address is refused, naming the field", async () => {
      emu = await emulator();
      const s = await load();
      // Marketo judges the values (one call for all three); its 1003 names the field and the value.
      const number = await refused(s, "lead", { payload: { email: 42 } }, /Invalid value for field 'email' and value '42'/);
      number.marketo.error.code.should.equal("1003");
      await refused(s, "lead", { payload: { email: "not an address" } }, /Invalid value for field 'email'/);
      await refused(s, "lead", { payload: { email: { address: "ada@example.com" } } }, /Invalid value for field 'email'/);
      await stillWorks(s, emu, "lead-types");
    });

    it("marketo-program-status: a program id that is not a number and a status that is not text", async () => {
      emu = await emulator();
      const s = await load();
      const lead = (await config().getClient().syncLeads([{ email: "ada@example.com" }]))[0].id;
      const base = { payload: { email: "ada@example.com" }, marketo: { leadId: lead, programStatus: { name: "Registered" } } };
      await refused(s, "ps", { ...base, programId: "abc" }, /program id at msg\.programId \("abc"\) is not a positive whole number/);
      await refused(s, "ps", { ...base, programId: -3 }, /\(-3\) is not a positive whole number/);
      await refused(s, "ps", { ...base, programId: SUMMIT, marketo: { leadId: lead, programStatus: { name: 42 } } }, /program status.*not a string/);
      await refused(s, "ps", { ...base, programId: SUMMIT, marketo: { leadId: lead, programStatus: { name: "Teleported" } } }, /status "Teleported" is not in channel "Kaltura Event" of program 1001/);
      await stillWorks(s, emu, "ps-types");
    });

    it("marketo-custom-activity: a date that is not a date and a number that is not a number, naming the field", async () => {
      emu = await emulator();
      const s = await load();
      await config().getClient().syncLeads([{ email: "ada@example.com" }]);
      const ev = (engagement: Msg): Msg => ({ topic: "session.engagement", payload: { profile: { email: "ada@example.com" }, engagement: { entry_id: "1_keynote", ...engagement } } });
      await refused(s, "ca", ev({ activityDate: "next tuesday-ish" }), /activity date: "next tuesday-ish" is not a date/);
      await refused(s, "ca", ev({ activityDate: { when: "now" } }), /activity date: \{"when":"now"\} is not a date/);
      await refused(s, "ca", ev({ plays: "many" }), /plays: "many" is not a whole number/);
      await stillWorks(s, emu, "ca-types");
    });
  });

  describe("a 1 MB string in one field", () => {
    it("marketo-lead: that record fails as validation, the others in its batch go through", async () => {
      emu = await emulator();
      const s = await load();
      const huge = "x".repeat(1024 * 1024);
      const records = Array.from({ length: 20 }, (_, i) => ({ email: `big${i}@example.com`, firstName: i === 7 ? huge : `N${i}` }));
      const got = await answer(s, "lead", { payload: records }, records.length);
      got.bad.should.have.length(1);
      got.bad[0].payload.email.should.equal("big7@example.com");
      const err = got.bad[0].marketo.error;
      err.category.should.equal("validation");
      err.retryable.should.be.false();
      err.message.should.match(/1 MB.*this record alone is over the limit/);
      got.ok.should.have.length(19);
      emu.state().leads.should.have.length(19);
      await until(() => caughtFrom(s, "lead").length === 1, "Catch for the big record");
      caughtFrom(s, "lead")[0].error.message.should.match(/^MarketoError: marketo-lead: 1 of 20 records failed; first: validation: .*alone is over the limit/);
      await stillWorks(s, emu, "big");
    });

    it("marketo-custom-activity: an attribute of 1 MB fails that record only", async () => {
      emu = await emulator();
      const s = await load();
      const ids = (await config().getClient().syncLeads(Array.from({ length: 5 }, (_, i) => ({ email: `big${i}@example.com` })))).map((r) => r.id);
      ids.should.have.length(5);
      const huge = "y".repeat(1024 * 1024);
      for (let i = 0; i < 5; i++) {
        spied("ca").receive({ topic: "session.engagement", payload: { profile: { email: `big${i}@example.com` }, engagement: { entry_id: `1_e${i}`, entry_name: i === 2 ? huge : `Entry ${i}` } } });
      }
      await until(() => answered(s, "ca") === 5, "5 answers");
      s.bad.ca.should.have.length(1);
      s.bad.ca[0].payload.profile.email.should.equal("big2@example.com");
      s.bad.ca[0].marketo.error.category.should.equal("validation");
      // Checked against the attribute's declared length before any call.
      s.bad.ca[0].marketo.error.message.should.equal("entry_name: 1048576 characters, at most 255");
      s.ok.ca.should.have.length(4);
      await until(() => caughtFrom(s, "ca").length === 1, "Catch for the big record");
    });
  });

  describe("__proto__, constructor and prototype keys from JSON.parse", () => {
    const hostile = (email: string): Msg =>
      JSON.parse(`{"email":"${email}","firstName":"Eve","__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"polluted":"yes"}}`);

    it("marketo-lead: the record goes in without those keys and Object.prototype stays clean", async () => {
      emu = await emulator();
      const s = await load();
      Object.prototype.hasOwnProperty.call(hostile("x@example.com"), "__proto__").should.be.true();
      const got = await answer(s, "lead", { payload: [hostile("eve@example.com"), { email: "adam@example.com" }] }, 2);
      // The emulator, like Marketo, skips a record naming an unknown field (1006): accepted means
      // none of the three keys was sent.
      got.bad.should.eql([]);
      got.ok.should.have.length(2);
      const eve = emu.state().leads.find((l) => (l as Msg).email === "eve@example.com") as Msg;
      eve.firstName.should.equal("Eve");
      for (const key of ["__proto__", "constructor", "prototype", "polluted"]) should(Object.prototype.hasOwnProperty.call(eve, key)).be.false(key);
      await stillWorks(s, emu, "proto");
    });

    it("bulk import files leave them out of their columns too", () => {
      columnsOf([hostile("eve@example.com"), { email: "adam@example.com", company: "Acme" }]).should.eql(["email", "firstName", "company"]);
    });

    it("the other nodes: the keys in the event and in msg.marketo pollute nothing", async () => {
      emu = await emulator();
      const s = await load();
      const ev = registration("eve@example.com");
      const poisoned = JSON.parse(
        JSON.stringify(ev).replace(`"profile":{`, `"profile":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},`),
      );
      Object.prototype.hasOwnProperty.call(poisoned.payload.profile, "__proto__").should.be.true();
      (await answer(s, "tf", poisoned)).ok.should.have.length(1);
      const mapped = await answer(s, "fm", JSON.parse(JSON.stringify(poisoned)));
      mapped.ok.should.have.length(1);
      should(Object.prototype.hasOwnProperty.call(mapped.ok[0].payload, "__proto__")).be.false();
      (await answer(s, "sm", JSON.parse(`{"payload":{"profile":{"email":"__proto__"},"registration":{"status":"Registered"}}}`))).ok.should.have.length(1);
      (await answer(s, "sm", JSON.parse(`{"payload":{"profile":{"email":"constructor"},"registration":{"status":"Registered"}}}`))).ok.should.have.length(1);
      const lead = (await config().getClient().syncLeads([{ email: "eve@example.com" }]))[0].id;
      const ps = await answer(s, "ps", JSON.parse(`{"programId":${SUMMIT},"payload":{"email":"eve@example.com","__proto__":{"polluted":"yes"}},"marketo":{"leadId":${lead},"__proto__":{"polluted":"yes"},"programStatus":{"name":"Registered","__proto__":{"polluted":"yes"}}}}`));
      ps.ok.should.have.length(1);
      const ca = await answer(s, "ca", JSON.parse(`{"topic":"session.engagement","payload":{"profile":{"email":"eve@example.com"},"engagement":{"entry_id":"1_p","__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}}}`));
      ca.ok.should.have.length(1);
      await stillWorks(s, emu, "proto-others");
    });
  });

  describe("a 10,000-record array", () => {
    const tenThousand = (): Msg[] => Array.from({ length: 10_000 }, (_, i) => ({ email: `r${i}@example.com`, firstName: `R${i}` }));

    async function everyRecordAnswered(s: Sinks, records: Msg[]): Promise<Msg[]> {
      const got = await answer(s, "lead", { payload: records }, records.length, 60_000);
      got.bad.should.eql([]);
      got.ok.should.have.length(records.length);
      // Each answer carries its own record, not the whole array, and no record is answered twice.
      got.ok.every((m) => !Array.isArray(m.payload)).should.be.true();
      new Set(got.ok.map((m) => m.payload.email)).size.should.equal(records.length);
      emu!.state().leads.should.have.length(records.length);
      return got.ok;
    }

    it("bulk import off: every record answered, in 34 full Sync Leads calls", async function () {
      this.timeout(120_000);
      emu = await emulator();
      const s = await load({}, credentials(emu), undefined, undefined, { bulkThreshold: 0 });
      const ok = await everyRecordAnswered(s, tenThousand());
      ok.every((m) => m.marketo.status === "created").should.be.true();
      // 10,000 / 300 = 33.3: every call but the last carries 300 records.
      emu.stats().callsByRoute[SYNC_ROUTE]!.should.equal(34);
      await stillWorks(s, emu, "10k");
    });

    it("the editor's defaults: the backlog past 5,000 goes by bulk import, every record still answered", async function () {
      this.timeout(120_000);
      emu = await emulator();
      const s = await load();
      const ok = await everyRecordAnswered(s, tenThousand());
      const imported = ok.filter((m) => m.marketo.status === "imported").length;
      (imported + ok.filter((m) => m.marketo.status === "created").length).should.equal(10_000);
      imported.should.be.above(0);
      const stats = emu.stats().callsByRoute;
      const calls = Object.entries(stats).filter(([route]) => / \/(rest\/v1\/leads|bulk\/v1\/leads)/.test(route)).reduce((n, [, c]) => n + c, 0);
      calls.should.be.belowOrEqual(34);
      await stillWorks(s, emu, "10k-bulk");
    });
  });

  describe("config problems", () => {
    it("an endpoint pasted with its /rest suffix (or /rest/) works", async () => {
      emu = await emulator();
      const s = await load({ endpoint: `${emu.url}/rest/` });
      should(config().configError).be.undefined();
      config().getClient().origin.should.equal(emu.url);
      await stillWorks(s, emu, "rest");
    });

    it("an endpoint with an API path (/rest/v1) is a clear validation error naming the path", async () => {
      emu = await emulator();
      const s = await load({ endpoint: `${emu.url}/rest/v1` }, credentials(emu), {});
      config().configError!.category.should.equal("validation");
      config().configError!.message.should.match(/unexpected path "\/rest\/v1"/);
      await refused(s, "lead", { payload: { email: "ada@example.com" } }, /Invalid Marketo endpoint: unexpected path "\/rest\/v1"/);
    });

    for (const [what, endpoint, problem, shown] of [
      ["not a URL", "mktorest dot com", /"mktorest dot com" is not a URL/, "bad endpoint"],
      ["empty", "", /it is empty/, "no endpoint"],
      ["not http", "ftp://123-ABC-456.mktorest.com", /"ftp:" is not http\(s\)/, "bad endpoint"],
    ] as const) {
      it(`an endpoint that is ${what}: every record fails with it, the status says so, a good config beside it still works`, async () => {
        emu = await emulator();
        const s = await load({ endpoint }, credentials(emu), {}, credentials(emu)[CONFIG_ID]);
        config().configError!.message.should.match(problem);
        logged(CONFIG_ID, "error").some((m) => problem.test(m)).should.be.true();
        for (const id of ["lead", "ps", "ca"] as const) {
          const msg = id === "ca" ? { topic: "session.engagement", payload: { profile: { email: "a@example.com" }, engagement: { entry_id: "1_x" } } } : { payload: { email: "a@example.com" }, programId: SUMMIT, marketo: { programStatus: { name: "Registered" } } };
          await refused(s, id, msg, problem);
          lastStatus(s, id)!.should.containDeep({ fill: "red", text: shown });
        }
        (await answer(s, "lead2", { payload: { email: "fine@example.com" } })).ok.should.have.length(1);
      });
    }

    it("an empty secret: a validation error that says where to find it", async () => {
      emu = await emulator();
      const s = await load({}, credentials(emu, ""), {}, credentials(emu)[CONFIG_ID]);
      config().configError!.category.should.equal("validation");
      await refused(s, "lead", { payload: { email: "a@example.com" } }, /Client Secret is missing/);
      lastStatus(s, "lead")!.text!.should.equal("no Client Secret");
      (await answer(s, "lead2", { payload: { email: "fine@example.com" } })).ok.should.have.length(1);
    });

    it("a wrong secret: category auth on output 2 and in Catch, status auth failed, no secret anywhere", async () => {
      emu = await emulator();
      const wrong = "wrong-secret-5f0c2a";
      const s = await load({}, credentials(emu, wrong), {}, credentials(emu)[CONFIG_ID]);
      should(config().configError).be.undefined();
      const bad = await refused(s, "lead", { payload: { email: "a@example.com" } }, /Marketo rejected the client credentials/, "auth");
      bad.marketo.error.retryable.should.be.false();
      await refused(s, "ps", { payload: { email: "a@example.com" }, programId: SUMMIT, marketo: { programStatus: { name: "Registered" } } }, /Marketo rejected the client credentials/, "auth");
      await until(() => lastStatus(s, "lead")?.text === "marketo-lead.status.authFailed", "status auth failed");
      lastStatus(s, "lead")!.fill!.should.equal("red");
      JSON.stringify([s.bad, s.caught, logged(CONFIG_ID, "warn"), logged(CONFIG_ID, "error"), logged("lead", "error"), s.status]).should.not.containEql(wrong);
      (await answer(s, "lead2", { payload: { email: "fine@example.com" } })).ok.should.have.length(1);
    });
  });
});
