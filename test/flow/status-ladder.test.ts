/**
 * The status-mapper's pure logic: presets, tolerant matching, table validation, the channel
 * table, reading the status out of odd messages, the backward-move policy and the bounded memory.
 */
import fs from "node:fs";
import path from "node:path";
import should from "should";
import {
  channelTable,
  channelText,
  compileTable,
  matchStatus,
  normaliseStatus,
  presetRows,
  PRESETS,
  MAX_STATUS_LENGTH,
  type StatusRow,
} from "../../src/lib/flow/status-ladder";
import { readPath } from "../../src/lib/flow/paths";
import {
  backwardReason,
  classifyMove,
  decide,
  leadKey,
  memoryKey,
  programKey,
  StatusMemory,
  DEFAULT_MAX_LEADS,
} from "../../src/lib/flow/status-memory";
import { seedChannels } from "../../src/emulator/seed";

const kaltura = compileTable(presetRows("kaltura"));
const certain = compileTable(presetRows("certain"));
const map = (table: typeof kaltura.table, s: unknown) => {
  const r = matchStatus(table, s, "msg.payload.registration.status");
  return r.ok ? r.target.name : r.filtered.rule;
};

describe("status-ladder: presets", () => {
  it("compile without problems", () => {
    kaltura.problems.should.eql([]);
    certain.problems.should.eql([]);
  });

  it("Kaltura: every granular status of the guide lands on the documented rung", () => {
    const expected: Record<string, [string, number, boolean]> = {
      "SSO login": ["Created", 10, false],
      "Invited by team member": ["Invited", 20, false],
      "Invited by team member to register": ["Invited", 20, false],
      Registered: ["Registered", 30, true],
      "Confirmed email": ["Confirmed", 40, true],
      "Registered no confirmation required": ["autoConfirmed", 40, true],
      "Pre-event visit": ["Attended", 50, true],
      "During-event visit": ["Participated", 60, true],
      Blocked: ["Blocked", 70, false],
      "Un-registered": ["Un-registered", 80, false],
    };
    for (const [source, [name, step, success]] of Object.entries(expected)) {
      const r = matchStatus(kaltura.table, source, "s");
      if (!r.ok) throw new Error(`${source} did not map`);
      ({ name: r.target.name, step: r.target.step, success: r.target.success }).should.eql(
        { name, step, success },
        source,
      );
    }
  });

  it("Kaltura and Certain ladders are exactly the emulator's seeded channels", () => {
    const channels = seedChannels();
    const ladder = (name: string) =>
      channels
        .find((c) => c.name === name)!
        .progressionStatuses.map((s) => ({ name: s.name, step: s.step, success: s.success }));
    const ours = (rows: StatusRow[]) =>
      channelTable(rows).statuses.map((s) => ({ name: s.name, step: s.step, success: s.success }));
    const sort = (a: Array<{ name: string; step: number }>) =>
      [...a].sort((x, y) => x.step - y.step || x.name.localeCompare(y.name));
    ours(presetRows("kaltura")).should.eql(sort(ladder("Kaltura Event")));
    ours(presetRows("certain")).should.eql(sort(ladder("Webinar")));
  });

  it("the dialog's default table is the Kaltura preset, row for row", () => {
    const html = fs.readFileSync(path.join(__dirname, "..", "..", "nodes", "status-mapper.html"), "utf8");
    const block = /rules:\s*\{\s*value:\s*(\[[\s\S]*?\])\s*,\s*validate/.exec(html);
    should(block).not.be.null();
    const rows = new Function(`return ${block![1]};`)() as StatusRow[];
    rows.should.eql(presetRows("kaltura"));
  });

  it("presetRows hands out copies", () => {
    const rows = presetRows("kaltura");
    rows[0].name = "changed";
    PRESETS.kaltura[0].name.should.equal("Created");
  });
});

describe("status-ladder: matching", () => {
  it("ignores case, surrounding and inner spaces, hyphens and underscores", () => {
    for (const s of ["Un-registered", "unregistered", "  UN_REGISTERED ", "Un registered", "un - registered"]) {
      map(kaltura.table, s).should.equal("Un-registered", s);
    }
    map(kaltura.table, "confirmed   EMAIL").should.equal("Confirmed");
    map(kaltura.table, "during_event_visit").should.equal("Participated");
    map(kaltura.table, "AUTOCONFIRMED").should.equal("autoConfirmed");
    map(certain.table, "attended on demand").should.equal("Attended On-demand");
    normaliseStatus(" Pre-event\tvisit ").should.equal("preeventvisit");
  });

  it("does not match other letters", () => {
    map(kaltura.table, "Confirmed emails").should.equal("unknown-status");
    map(kaltura.table, "Registerd").should.equal("unknown-status");
  });

  it("reports missing, empty, non-string and huge statuses with a reason", () => {
    map(kaltura.table, undefined).should.equal("no-status");
    map(kaltura.table, null).should.equal("no-status");
    map(kaltura.table, " - ").should.equal("no-status");
    map(kaltura.table, 30).should.equal("invalid-status");
    map(kaltura.table, ["Registered"]).should.equal("invalid-status");
    map(kaltura.table, { status: "Registered" }).should.equal("invalid-status");
    map(kaltura.table, "R".repeat(MAX_STATUS_LENGTH + 1)).should.equal("invalid-status");
    const r = matchStatus(kaltura.table, ["x"], "msg.payload.registration.status");
    r.should.have.property("filtered").eql({
      rule: "invalid-status",
      reason: "the status at msg.payload.registration.status is an array, not a string",
    });
    const u = matchStatus(kaltura.table, " Waitlisted ", "msg.s");
    u.should.have
      .property("filtered")
      .eql({ rule: "unknown-status", reason: 'status "Waitlisted" (msg.s) is not in the status table' });
  });

  it("prototype names are just unknown statuses", () => {
    for (const s of ["__proto__", "constructor", "toString", "hasOwnProperty"])
      map(kaltura.table, s).should.equal("unknown-status", s);
  });
});

describe("status-ladder: table validation", () => {
  const row = (source: string, name: string, step: unknown, success: unknown = false) => ({
    source,
    name,
    step,
    success,
  });

  it("accepts numeric strings and 'true' from an old editor, ignores blank rows", () => {
    const c = compileTable([row("A", "Alpha", "10", "true"), { source: "", name: "", step: "" }]);
    c.problems.should.eql([]);
    c.table.lookup.get("a")!.should.eql({ name: "Alpha", step: 10, success: true });
  });

  it("rejects bad rows, each with a reason", () => {
    const c = compileTable([
      row("", "Alpha", 10),
      row("A", "", 10),
      row("B", "Beta", 0),
      row("C", "Gamma", 1.5),
      row("D", "Not in Program", 5),
      row("E", "Epsilon", 10, "maybe"),
      row("F", "Zeta", 20),
      row("f", "Eta", 30), // same source as F, other target
      row("G", "Zeta", 25), // Zeta given another step
      row("H", "zeta", 20), // differs only in case
      "not a row",
    ]);
    c.problems.length.should.equal(10);
    c.problems.join("\n").should.match(/row 1 has no source status/);
    c.problems.join("\n").should.match(/row 5 \(D\): Marketo cannot set "Not in Program"/);
    c.problems.join("\n").should.match(/row 8: f matches F of an earlier row, which maps to Zeta, not Eta/);
    c.problems.join("\n").should.match(/row 9 \(G\): Zeta is step 25 here but step 20/);
    c.problems.join("\n").should.match(/differ only in case/);
    compileTable("nope").problems.should.eql(["the status table is not a list of rows"]);
  });

  it("allows the same source twice for the same target", () => {
    compileTable([
      row("Registered", "Registered", 30, true),
      row("registered", "Registered", 30, true),
    ]).problems.should.eql([]);
  });
});

describe("status-ladder: channel table", () => {
  it("one line per Marketo status, deduplicated, sorted by step, Not in Program first", () => {
    const { statuses, problems } = channelTable(presetRows("kaltura"));
    problems.should.eql([]);
    statuses
      .map((s) => `${s.name}:${s.step}${s.success ? "*" : ""}`)
      .should.eql([
        "Not in Program:0",
        "Created:10",
        "Invited:20",
        "Registered:30*",
        "autoConfirmed:40*",
        "Confirmed:40*",
        "Attended:50*",
        "Participated:60*",
        "Blocked:70",
        "Un-registered:80",
      ]);
    statuses
      .find((s) => s.name === "Invited")!
      .sources.should.eql(["Invited by team member", "Invited by team member to register", "Invited"]);
  });

  it("copies as a tab-separated table", () => {
    const text = channelText(channelTable(presetRows("certain")).statuses);
    text
      .split("\n")
      .should.eql([
        "Status\tStep\tSuccess",
        "Not in Program\t0\t",
        "Invited\t10\t",
        "Registered\t20\t",
        "No Show\t30\t",
        "Attended\t40\tYes",
        "Attended On-demand\t40\tYes",
      ]);
  });

  it("leaves out bad rows and reports them", () => {
    const { statuses, problems } = channelTable([
      { source: "A", name: "Alpha", step: 10 },
      { source: "B", name: "Beta", step: -1 },
    ]);
    statuses.map((s) => s.name).should.eql(["Not in Program", "Alpha"]);
    problems.length.should.equal(1);
  });
});

describe("status-ladder: reading the status", () => {
  const parts = ["payload", "registration", "status"];
  it("reads own properties and says where a non-object sits on the way", () => {
    readPath({ payload: { registration: { status: "Registered" } } }, parts).should.eql({
      ok: true,
      value: "Registered",
    });
    readPath({ payload: {} }, parts).should.eql({ ok: true, value: undefined });
    readPath({}, parts).should.eql({ ok: true, value: undefined });
    readPath({ payload: "text" }, parts).should.eql({ ok: false, reason: "msg.payload is a string, not an object" });
    readPath({ payload: null }, parts).should.eql({ ok: false, reason: "msg.payload is null, not an object" });
    readPath({ payload: { registration: 7 } }, parts).should.eql({
      ok: false,
      reason: "msg.payload.registration is a number, not an object",
    });
  });

  it("never reads through the prototype", () => {
    readPath({ payload: {} }, ["payload", "__proto__", "constructor"]).should.eql({ ok: true, value: undefined });
    readPath({ payload: {} }, ["payload", "toString"]).should.eql({ ok: true, value: undefined });
    const evil = JSON.parse('{"payload":{"__proto__":{"status":"Registered"}}}');
    readPath(evil, ["payload", "__proto__", "status"]).should.eql({ ok: true, value: "Registered" }); // an own key, parsed from JSON
    readPath(evil, ["payload", "status"]).should.eql({ ok: true, value: undefined });
  });
});

describe("status-memory: backward-move policy", () => {
  const s = (name: string, step: number) => ({ name, step, success: false });

  it("classifies first, forward, unchanged, backward (lower, and same step under another name)", () => {
    classifyMove(undefined, s("Registered", 30)).should.equal("first");
    classifyMove({ name: "Registered", step: 30 }, s("Attended", 50)).should.equal("forward");
    classifyMove({ name: "Attended", step: 50 }, s("Attended", 50)).should.equal("unchanged");
    classifyMove({ name: "Attended", step: 50 }, s("Registered", 30)).should.equal("backward");
    classifyMove({ name: "autoConfirmed", step: 40 }, s("Confirmed", 40)).should.equal("backward");
  });

  it("decides by the policies", () => {
    decide("backward", "skip", "pass").should.equal("skip");
    decide("backward", "pass", "pass").should.equal("send");
    decide("backward", "error", "pass").should.equal("error");
    decide("unchanged", "skip", "pass").should.equal("send");
    decide("unchanged", "skip", "skip").should.equal("skip");
    decide("first", "error", "skip").should.equal("send");
    decide("forward", "error", "skip").should.equal("send");
  });

  it("explains the move", () => {
    backwardReason(s("Registered", 30), { name: "Attended", step: 50 }, "1001").should.equal(
      "Registered (30) is below Attended (50) already sent for this lead in program 1001",
    );
    backwardReason(s("Confirmed", 40), { name: "autoConfirmed", step: 40 }, "").should.equal(
      "Confirmed (40) is at the same step as autoConfirmed (40) already sent for this lead; Marketo would skip it (1037)",
    );
  });

  it("normalises lead and program keys", () => {
    should(leadKey("  ADA.Lovelace@Example.com ")).equal("ada.lovelace@example.com");
    should(leadKey(1234)).equal("1234");
    should(leadKey("")).be.undefined();
    should(leadKey({})).be.undefined();
    should(leadKey(["a@b.c"])).be.undefined();
    should(leadKey(1.5)).be.undefined();
    should(leadKey("x".repeat(400))).be.undefined();
    programKey(1001)!.should.equal("1001");
    programKey(" 1002 ")!.should.equal("1002");
    programKey(undefined)!.should.equal("");
    programKey("")!.should.equal("");
    should(programKey("abc")).be.null();
    should(programKey(-4)).be.null();
    should(programKey(0)).be.null();
    should(programKey({})).be.null();
    memoryKey("a@b.c", "1001").should.not.equal(memoryKey("a@b.c", "1002"));
  });
});

describe("status-memory: bounded memory", () => {
  const st = (name: string, step: number) => ({ name, step, success: false });

  it("forgets the least recently updated entry past the cap", () => {
    const m = new StatusMemory(3);
    m.set("a", st("A", 10));
    m.set("b", st("B", 20));
    m.set("c", st("C", 30));
    m.set("a", st("A2", 40)); // a is now the newest
    m.set("d", st("D", 50)); // b goes
    m.size.should.equal(3);
    should(m.get("b")).be.undefined();
    m.get("a")!.should.eql({ name: "A2", step: 40 });
    m.toJSON()
      .entries.map((e) => e[0])
      .should.eql(["c", "a", "d"]);
  });

  it("stays at the cap under many leads", () => {
    const m = new StatusMemory(1000);
    for (let i = 0; i < 10_000; i++) m.set(`lead${i}`, st("Registered", 30));
    m.size.should.equal(1000);
    should(m.get("lead8999")).be.undefined();
    m.get("lead9999")!.step.should.equal(30);
  });

  it("defaults to 100,000 and rejects nonsense caps", () => {
    new StatusMemory().max.should.equal(DEFAULT_MAX_LEADS);
    DEFAULT_MAX_LEADS.should.equal(100_000);
    new StatusMemory(0).max.should.equal(DEFAULT_MAX_LEADS);
    new StatusMemory(Number.NaN).max.should.equal(DEFAULT_MAX_LEADS);
  });

  it("round-trips through JSON (a file store) and keeps only the newest entries under a smaller cap", () => {
    const m = new StatusMemory(10);
    for (let i = 0; i < 5; i++) m.set(`k${i}`, st(`S${i}`, i * 10 + 10));
    const back = StatusMemory.from(JSON.parse(JSON.stringify(m)), 10);
    back.toJSON().should.eql(m.toJSON());
    const small = StatusMemory.from(JSON.parse(JSON.stringify(m)), 2);
    small
      .toJSON()
      .entries.map((e) => e[0])
      .should.eql(["k3", "k4"]);
    StatusMemory.from(m, 10).toJSON().should.eql(m.toJSON()); // a memory store hands back the instance
  });

  it("ignores garbage from a store", () => {
    StatusMemory.from("junk").size.should.equal(0);
    StatusMemory.from({ v: 1, entries: [["k", "30", "x"], ["ok", 30, "Registered"], null] }).size.should.equal(1);
    StatusMemory.from(undefined).size.should.equal(0);
  });
});
