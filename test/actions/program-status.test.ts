/**
 * marketo-program-status's pure logic: settings, reading the program id and status, the channel
 * cache, the 1025 message, the check report, and the walk back to the status-mappers.
 */
import should from "should";
import {
  checkReport,
  mapperTargets,
  parseSettings,
  programChannelOf,
  programIdFrom,
  readFailureHint,
  readProgramChannel,
  statusesOfMappers,
  statusNameFrom,
  toProgramId,
  unknownStatusMessage,
  upstreamStatusMappers,
  ChannelCache,
  type FlowNode,
  type ProgramChannel,
} from "../../src/lib/actions/program-status";
import { presetRows } from "../../src/lib/flow/status-ladder";
import { seedChannels, seedPrograms } from "../../src/emulator/seed";
import type { Channel, Program } from "../../src/lib/marketo";

const channel = (name: string): Channel => seedChannels().find((c) => c.name === name) as unknown as Channel;
const program = (id: number): Program => seedPrograms().find((p) => p.id === id) as unknown as Program;
const webinar = (): ProgramChannel => programChannelOf(1002, program(1002), channel("Webinar"));
const kaltura = (): ProgramChannel => programChannelOf(1001, program(1001), channel("Kaltura Event"));

describe("program-status: settings", function () {
  it("defaults to msg.programId, msg.marketo.programStatus.name and msg.payload.email", function () {
    const { settings, problems } = parseSettings({});
    problems.should.eql([]);
    settings.should.eql({
      program: { type: "msg", value: "programId" },
      status: { type: "msg", value: "marketo.programStatus.name" },
      email: { type: "msg", value: "payload.email" },
      createMissing: false,
    });
  });

  it("accepts a fixed program id and status, and the createMissing checkbox", function () {
    const { settings, problems } = parseSettings({
      program: " 1001 ",
      programType: "num",
      programStatus: "Attended",
      programStatusType: "str",
      createMissing: true,
    });
    problems.should.eql([]);
    settings.program.should.eql({ type: "num", value: "1001" });
    settings.status.should.eql({ type: "str", value: "Attended" });
    settings.createMissing.should.be.true();
  });

  it("names every bad setting", function () {
    const { problems } = parseSettings({
      program: "abc",
      programType: "num",
      programStatus: "Not in Program",
      programStatusType: "str",
      email: "",
      emailType: "jsonata",
    });
    problems.should.have.length(4);
    problems.join("\n").should.match(/the program id "abc" is not a positive whole number/);
    problems.join("\n").should.match(/cannot set "Not in Program"/);
    problems.join("\n").should.match(/the email cannot come from "jsonata"/);
    problems.join("\n").should.match(/no property is named for the email/);
    parseSettings({ program: "0", programType: "num" }).problems.should.eql([
      'the program id "0" is not a positive whole number',
    ]);
    parseSettings({ program: "", programType: "msg" }).problems.should.eql([
      "no msg property is named for the program id",
    ]);
    parseSettings({ programStatus: "", programStatusType: "str" }).problems.should.eql(["no status name is set"]);
  });

  it("reads the status setting of a flow saved by 0.1.0 (status, statusType) when the new names are absent", function () {
    parseSettings({ status: "Registered", statusType: "str" }).should.eql(
      parseSettings({ programStatus: "Registered", programStatusType: "str" }),
    );
    parseSettings({ status: "x.name", statusType: "msg" }).settings.status.should.eql({ type: "msg", value: "x.name" });
    // The new names win, even over a string under the old one.
    parseSettings({
      programStatus: "Attended",
      programStatusType: "str",
      status: "Registered",
      statusType: "str",
    }).settings.status.should.eql({ type: "str", value: "Attended" });
  });

  it("ignores a shown status an older editor saved over the setting, instead of calling the config invalid", function () {
    const shown = { fill: "green", shape: "dot", text: "marketo-program-status.status.sent" };
    const msgType = parseSettings({ status: shown, statusType: "msg" });
    msgType.problems.should.eql([]);
    msgType.settings.status.should.eql({ type: "msg", value: "marketo.programStatus.name" });
    parseSettings({ status: shown }).problems.should.eql([]);
    // A fixed name written over cannot be guessed: the problem says so and what to do.
    parseSettings({ status: shown, statusType: "str" }).problems.should.eql([
      "the fixed status name was lost (an older editor saved the node's shown status over it): open the node and choose the status again",
    ]);
  });

  it("reads program ids: positive whole numbers or digit strings only", function () {
    should(toProgramId(1001)).equal(1001);
    should(toProgramId(" 1002 ")).equal(1002);
    for (const bad of [0, -1, 1.5, "1.5", "1e3", "", null, undefined, {}, [], NaN, "12abc", 2 ** 60])
      should(toProgramId(bad)).be.undefined();
    programIdFrom("1001", "msg.programId").should.eql({ ok: true, value: 1001 });
    programIdFrom(undefined, "msg.programId").should.eql({ ok: false, message: "no program id at msg.programId" });
    programIdFrom("abc", "msg.programId").should.eql({
      ok: false,
      message: 'the program id at msg.programId ("abc") is not a positive whole number',
    });
    programIdFrom({ id: 1 }, "msg.programId").should.eql({
      ok: false,
      message: "the program id at msg.programId (an object) is not a positive whole number",
    });
  });

  it("reads a status name, or status-mapper's {name} object", function () {
    statusNameFrom(" Attended ", "msg.x").should.eql({ ok: true, value: "Attended" });
    statusNameFrom({ name: "Registered", step: 30, success: true, source: "Registered" }, "msg.x").should.eql({
      ok: true,
      value: "Registered",
    });
    (statusNameFrom(undefined, "msg.marketo.programStatus.name") as { message: string }).message.should.match(
      /^no program status at msg.marketo.programStatus.name/,
    );
    (statusNameFrom(42, "msg.x") as { message: string }).message.should.equal(
      "the program status at msg.x is a number, not a string",
    );
    (statusNameFrom("  ", "msg.x") as { message: string }).message.should.equal("the program status at msg.x is empty");
    (statusNameFrom("not in program", "msg.x") as { message: string }).message.should.match(
      /cannot set "Not in Program"/,
    );
    (statusNameFrom("x".repeat(300), "msg.x") as { message: string }).message.should.match(/at most 255 characters/);
  });
});

describe("program-status: channel", function () {
  it("keeps the channel's settable statuses by step", function () {
    const info = webinar();
    info.should.containEql({
      programId: 1002,
      programFound: true,
      programName: "Certain Webinar",
      channel: "Webinar",
      channelFound: true,
    });
    info.statuses.map((s) => s.name).should.eql(["Invited", "Registered", "No Show", "Attended", "Attended On-demand"]);
    info.statuses[3].should.eql({ name: "Attended", step: 40, success: true });
    programChannelOf(9, undefined, undefined).should.eql({
      programId: 9,
      programFound: false,
      channelFound: false,
      statuses: [],
    });
  });

  it("reads the program, then its channel: two calls", async function () {
    const calls: string[] = [];
    const client = {
      getProgram: async (id: number) => (calls.push(`program ${id}`), program(id)),
      getChannelByName: async (name: string) => (calls.push(`channel ${name}`), channel(name)),
    };
    (await readProgramChannel(client, 1001)).channel!.should.equal("Kaltura Event");
    calls.should.eql(["program 1001", "channel Kaltura Event"]);
    calls.length = 0;
    (await readProgramChannel(client, 9999)).programFound.should.be.false();
    calls.should.eql(["program 9999"]);
  });

  it("reads each program once; a failed read is retried only after a while", async function () {
    let now = 0;
    let loads = 0;
    let fail = true;
    const cache = new ChannelCache(
      async (id) => {
        loads++;
        if (fail) throw new Error("603");
        return programChannelOf(id, program(id), channel("Webinar"));
      },
      1000,
      () => now,
    );
    await Promise.all([cache.get(1002), cache.get(1002)].map((p) => p.catch(() => "failed"))).should.finally.eql([
      "failed",
      "failed",
    ]);
    loads.should.equal(1);
    await cache.get(1002).should.be.rejectedWith("603");
    loads.should.equal(1);
    now = 1500;
    fail = false;
    (await cache.get(1002)).programFound.should.be.true();
    (await cache.get(1002)).programFound.should.be.true();
    now = 10_000_000;
    await cache.get(1002);
    loads.should.equal(2);
    should(cache.peek(1001)).be.undefined();
  });

  it("1025 names the status, the program, the channel and its statuses", function () {
    unknownStatusMessage("Participated", 1002, webinar()).should.equal(
      'status "Participated" is not in channel "Webinar" of program 1002 (Webinar statuses: Invited, Registered, No Show, Attended, Attended On-demand)',
    );
    unknownStatusMessage("Attended", 1002, webinar()).should.match(
      /^status "Attended" is not in channel "Webinar" of program 1002 any more \(Marketo 1025; when read/,
    );
    unknownStatusMessage("attended", 1002, webinar()).should.match(
      /the channel has "Attended": names must match exactly$/,
    );
    unknownStatusMessage("X", 1002, undefined, "Program status 'X' not found for channel 'Webinar'").should.equal(
      "status \"X\" is not in the channel of program 1002 (Marketo: Program status 'X' not found for channel 'Webinar'; the channel could not be read)",
    );
    unknownStatusMessage("X", 1009, programChannelOf(1009, undefined, undefined)).should.match(
      /program 1009 was not found/,
    );
    unknownStatusMessage("X", 1002, programChannelOf(1002, program(1002), undefined)).should.match(
      /channel "Webinar" of program 1002, and Marketo returned no such channel/,
    );
  });

  it("check report: the missing statuses, a missing program, a missing channel", function () {
    const r = checkReport(kaltura(), ["Registered", "No Show", "Attended", "No Show", "Attended On-demand"]);
    r.ok.should.be.false();
    r.program!.should.eql({ id: 1001, name: "Kaltura Virtual Summit", channel: "Kaltura Event" });
    r.channel!.name.should.equal("Kaltura Event");
    r.statuses.should.eql(["Registered", "No Show", "Attended", "Attended On-demand"]);
    r.missing.should.eql(["No Show", "Attended On-demand"]);
    r.problems.should.have.length(1);
    r.problems[0].should.match(
      /^channel "Kaltura Event" of program 1001 lacks the statuses this flow may send: No Show, Attended On-demand/,
    );

    const fine = checkReport(webinar(), ["Attended"]);
    fine.ok.should.be.true();
    fine.problems.should.eql([]);
    checkReport(webinar(), []).ok.should.be.true();

    const none = checkReport(programChannelOf(1003, undefined, undefined), ["Attended"]);
    none.ok.should.be.false();
    none.problems.should.eql(["program 1003 does not exist in Marketo (or the API user cannot see its workspace)"]);
    should(none.program).be.undefined();

    checkReport(programChannelOf(1002, program(1002), undefined), ["Attended"]).problems[0].should.match(
      /channel "Webinar", which Marketo did not return/,
    );
    readFailureHint("603").should.match(/Read-Only Assets/);
    readFailureHint("606").should.equal("");
  });
});

describe("program-status: status-mappers before the node", function () {
  const mapper = (id: string, wires: string[][], extra: Partial<FlowNode> = {}): FlowNode => ({
    id,
    type: "status-mapper",
    wires,
    rules: presetRows("certain"),
    ...extra,
  });
  const node = (id: string, type: string, wires: string[][] = [], extra: Partial<FlowNode> = {}): FlowNode => ({
    id,
    type,
    wires,
    ...extra,
  });

  it("finds the mappers whose mapped output reaches the node, through other nodes and links", function () {
    const nodes: FlowNode[] = [
      node("inject", "inject", [["sm1", "sm2"]]),
      mapper("sm1", [["fm"], []]),
      node("fm", "field-mapper", [["lead"], []]),
      node("lead", "marketo-lead", [["ps"], []]),
      mapper("sm2", [["lo"], ["ps"]], { rules: undefined, preset: "kaltura" }),
      node("lo", "link out", [], { links: ["li"] }),
      node("li", "link in", [["ps"]]),
      node("ps", "marketo-program-status", [[], []]),
      mapper("elsewhere", [["fm2"], []]),
      node("fm2", "debug"),
    ];
    upstreamStatusMappers(nodes, "ps")
      .map((n) => n.id)
      .sort()
      .should.eql(["sm1", "sm2"]);
  });

  it("goes past a mapper reached by its skipped output, and never through a disabled node", function () {
    const nodes: FlowNode[] = [
      mapper("first", [["second"], []]),
      mapper("second", [[], ["ps"]]),
      mapper("off", [["sw"], []]),
      node("sw", "switch", [["ps"]], { d: true }),
      node("ps", "marketo-program-status"),
    ];
    upstreamStatusMappers(nodes, "ps")
      .map((n) => n.id)
      .should.eql(["first"]);
  });

  it("survives loops and odd flow entries", function () {
    const nodes = [
      node("a", "function", [["b"]]),
      node("b", "function", [["a", "ps"], [42 as unknown as string]]),
      node("ps", "marketo-program-status"),
      { id: 7 } as unknown as FlowNode,
    ];
    upstreamStatusMappers(nodes, "ps").should.eql([]);
  });

  it("the statuses a mapper may write: its table's targets, or the preset when it has none", function () {
    mapperTargets({ rules: presetRows("certain") }).statuses.should.eql([
      "Invited",
      "Registered",
      "No Show",
      "Attended",
      "Attended On-demand",
    ]);
    mapperTargets({ preset: "certain" }).statuses.should.eql([
      "Invited",
      "Registered",
      "No Show",
      "Attended",
      "Attended On-demand",
    ]);
    mapperTargets({}).statuses.should.containEql("Participated");
    statusesOfMappers([
      { rules: [{ source: "a", name: "Registered", step: 1 }] },
      {
        rules: [
          { source: "b", name: "Registered", step: 1 },
          { source: "c", name: "Cancelled", step: 90 },
        ],
      },
    ]).should.eql(["Registered", "Cancelled"]);
  });
});
