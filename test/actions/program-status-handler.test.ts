/** marketo-program-status's handler without a runtime, against the emulator. */
import should from "should";
import { startEmulator, type EmulatorHandle } from "../../src/emulator";
import { LeadIdCache } from "../../src/lib/actions/lead-ids";
import { KeyedBulk } from "../../src/lib/actions/bulk-switch";
import {
  programStatusHandler,
  type ProgramStatusHandlerOptions,
  type ProgramStatusReader,
} from "../../src/lib/actions/program-status-handler";
import { ChannelCache, parseSettings, readProgramChannel } from "../../src/lib/actions/program-status";
import { readPath } from "../../src/lib/flow/paths";
import { MarketoClient } from "../../src/lib/marketo";

/** A msg path reader, as the node makes for a `msg` TypedInput. */
const msgPath = (path: string): ProgramStatusReader => ({
  label: `msg.${path}`,
  read: async (msg) => {
    const r = readPath(msg, path.split("."));
    return r.ok ? r : { ok: false, message: r.reason };
  },
});

describe("program status handler: against the emulator", function () {
  this.timeout(60_000);
  let emu: EmulatorHandle;
  let client: MarketoClient;
  beforeEach(async () => {
    emu = await startEmulator();
    client = new MarketoClient({
      endpoint: emu.url,
      clientId: emu.clientId,
      clientSecret: emu.clientSecret,
      batchWindowMs: 20,
    });
  });
  afterEach(async () => {
    await client.close();
    await emu.stop();
  });
  const calls = (route: string): number => emu.stats().callsByRoute[route] ?? 0;
  const SET = "POST /rest/v1/programs/:programId/members/status.json";
  const REMOVE = "POST /rest/v1/programs/:programId/members/delete.json";
  const memberStatus = (programId: number, leadId: number): string | undefined =>
    (
      emu.state().programs as { programMembers: Array<{ programId: number; leadId: number; status: string }> }
    ).programMembers.find((m) => m.programId === programId && m.leadId === leadId)?.status;

  function handlerFor(o: Partial<ProgramStatusHandlerOptions> = {}, createMissing = true) {
    const { settings, problems } = parseSettings({ createMissing });
    problems.should.eql([]);
    const seen: number[] = [];
    let duplicates = 0;
    const handler = programStatusHandler({
      settings,
      readers: { program: msgPath("programId"), status: msgPath("status"), email: msgPath("payload.email") },
      duplicates: "newest",
      channels: new ChannelCache((id) => readProgramChannel(client, id)),
      sawProgram: (id) => seen.push(id),
      duplicateLeads: () => duplicates++,
      ...o,
    });
    const ctx = { client, config: { leadIds: new LeadIdCache() } };
    return { handler, ctx, seen, duplicateCount: () => duplicates };
  }

  it("creates the lead by its email and sets its status, saying what it did on msg.marketo", async () => {
    const { handler, ctx, seen } = handlerFor();
    const out = await handler.handle(
      { email: "ann@x.com" },
      { payload: { email: "ann@x.com" }, programId: "1002", status: "Registered" },
      ctx,
    );
    out.result.ok.should.be.true();
    const leadId = out.marketo!.leadId as number;
    leadId.should.be.a.Number();
    out.marketo!.should.containEql({ programId: 1002, programStatus: { name: "Registered" } });
    should(memberStatus(1002, leadId)).equal("Registered");
    seen.should.eql([1002]);
    calls(SET).should.equal(1);
  });

  it("refuses a record without a usable program, status or lead before any call", async () => {
    const { handler, ctx, seen } = handlerFor({}, false);
    const noProgram = await handler.handle({}, { payload: { email: "a@x.com" }, status: "Registered" }, ctx);
    noProgram.result.error!.category.should.equal("validation");
    noProgram.result.error!.message.should.match(/no program id at msg\.programId/);
    const badProgram = await handler.handle({}, { payload: {}, programId: "x1", status: "Registered" }, ctx);
    badProgram.result.error!.message.should.match(/not a positive whole number/);
    const noStatus = await handler.handle({}, { payload: { email: "a@x.com" }, programId: 1002 }, ctx);
    noStatus.result.error!.category.should.equal("validation");
    noStatus.marketo!.should.eql({ programId: 1002 });
    const noLead = await handler.handle({}, { payload: "text", programId: 1002, status: "Registered" }, ctx);
    noLead.result.error!.message.should.match(/no lead: msg\.marketo\.leadId is not set/);
    seen.should.eql([1002, 1002]);
    Object.keys(emu.stats().callsByRoute).should.have.length(0);
  });

  it("a status the channel lacks fails with 1025 naming the channel's statuses", async () => {
    const { handler, ctx } = handlerFor();
    const out = await handler.handle({}, { payload: { email: "b@x.com" }, programId: 1002, status: "Waitlisted" }, ctx);
    out.result.ok.should.be.false();
    out.result.error!.code.should.equal("1025");
    out.result.error!.message.should.match(/Waitlisted/);
    out.result.error!.message.should.match(/No Show/);
  });

  it("reads each record of an array payload as the payload, with its own leadId", async () => {
    const [made] = await client.syncLeads([{ email: "c@x.com" }]);
    const { handler, ctx } = handlerFor();
    const records = [{ leadId: made.id }, { email: "d@x.com" }];
    const msg = { payload: records, programId: 1001, status: "Attended" };
    const outs = await Promise.all(records.map((r) => handler.handle(r, msg, ctx)));
    outs.map((o) => o.result.ok).should.eql([true, true]);
    should(outs[0].marketo!.leadId).equal(made.id);
    should(memberStatus(1001, made.id!)).equal("Attended");
    should(memberStatus(1001, outs[1].marketo!.leadId as number)).equal("Attended");
  });

  it("a forced record takes the member out of the program, then sets the lower status", async () => {
    const { handler, ctx } = handlerFor();
    const first = await handler.handle({}, { payload: { email: "e@x.com" }, programId: 1002, status: "Attended" }, ctx);
    const leadId = first.marketo!.leadId as number;
    const down = await handler.handle(
      {},
      { payload: {}, programId: 1002, status: "Registered", marketo: { leadId, force: true } },
      ctx,
    );
    down.result.ok.should.be.true();
    down.marketo!.forced!.should.be.true();
    calls(REMOVE).should.equal(1);
    should(memberStatus(1002, leadId)).equal("Registered");
  });

  it("above the bulk threshold a record known by its email goes to the program member import", async () => {
    const collector = new KeyedBulk({ operation: "bulkImportProgramMembers", windowMs: 20 });
    try {
      const { handler, ctx } = handlerFor({ bulk: { collector, threshold: 1, backlog: () => 5 } });
      const out = await handler.handle(
        {},
        { payload: { email: "f@x.com" }, programId: 1002, status: "Registered" },
        ctx,
      );
      out.result.ok.should.be.true();
      calls("POST /bulk/v1/program/:programId/members/import.json").should.equal(1);
      out.marketo!.should.containEql({ status: "imported" });
      calls(SET).should.equal(0);
      should(memberStatus(1002, out.marketo!.leadId as number)).equal("Registered");
    } finally {
      collector.close();
    }
  });
});
