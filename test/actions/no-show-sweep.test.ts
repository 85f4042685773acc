/**
 * The no-show sweep's pure parts (settings, the ladder, the plan), the run against the emulator
 * (paged member reads, batched writes, dry run), and running once per program across restarts.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import should from "should";
import {
  eventEndOf,
  parseNoShowSettings,
  planSweep,
  runSweep,
  sweepLadder,
  type NoShowSettings,
  type SweepReport,
} from "../../src/lib/actions/no-show-sweep";
import { NoShowSweeper, SweepMemory, sweepMemoryFile, type SweepOutcome } from "../../src/lib/actions/no-show-schedule";
import { programChannelOf, readProgramChannel, type ProgramChannel } from "../../src/lib/actions/program-status";
import { seedChannels, seedPrograms } from "../../src/emulator/seed";
import { startEmulator, type EmulatorHandle } from "../../src/emulator";
import { MarketoClient, MarketoError, type Channel, type Program } from "../../src/lib/marketo";

const channel = (name: string): Channel => seedChannels().find((c) => c.name === name) as unknown as Channel;
const program = (id: number): Program => seedPrograms().find((p) => p.id === id) as unknown as Program;
const webinar = (): ProgramChannel => programChannelOf(1002, program(1002), channel("Webinar"));
const kaltura = (): ProgramChannel => programChannelOf(1001, program(1001), channel("Kaltura Event"));
const settings = (over: Partial<NoShowSettings> = {}): NoShowSettings => ({
  ...parseNoShowSettings({}).settings,
  ...over,
});

describe("no-show sweep: settings and ladder", function () {
  it("defaults: off, 24 hours, No Show, statuses from the channel", function () {
    const { settings: s, problems } = parseNoShowSettings({});
    problems.should.eql([]);
    s.should.eql({ enabled: false, delayHours: 24, statusName: "No Show", registered: [], attended: [] });
    const p = parseNoShowSettings({
      noShow: true,
      noShowDelay: "1.5",
      noShowStatus: " Absent ",
      noShowRegistered: "Registered, Confirmed,,Registered",
      noShowAttended: "Attended",
    });
    p.problems.should.eql([]);
    p.settings.should.eql({
      enabled: true,
      delayHours: 1.5,
      statusName: "Absent",
      registered: ["Registered", "Confirmed"],
      attended: ["Attended"],
    });
  });

  it("names bad settings", function () {
    parseNoShowSettings({ noShowDelay: "-1" }).problems[0].should.match(/delay must be between 0 and/);
    parseNoShowSettings({ noShowDelay: "soon" }).problems[0].should.match(/not "soon"/);
    parseNoShowSettings({ noShowRegistered: "A", noShowAttended: "A" }).problems[0].should.match(
      /both registered and attended: A/,
    );
    parseNoShowSettings({ noShowRegistered: "No Show" }).problems[0].should.match(/cannot also count/);
  });

  it("the Webinar ladder: Registered is swept (not Invited), Attended and Attended On-demand are attended", function () {
    const l = sweepLadder(webinar(), settings());
    l.noShow.should.eql({ name: "No Show", step: 30, success: false });
    l.registered.map((s) => s.name).should.eql(["Registered"]);
    l.attended.map((s) => s.name).should.eql(["Attended", "Attended On-demand"]);
    l.attendedStep.should.equal(40);
  });

  it("a channel without the no-show status, or statuses not below it, fail as validation naming the channel", function () {
    let caught: unknown;
    try {
      sweepLadder(kaltura(), settings());
    } catch (err) {
      caught = err;
    }
    should(caught).be.instanceOf(MarketoError);
    (caught as MarketoError).category.should.equal("validation");
    (caught as MarketoError).message.should.match(
      /no-show status "No Show" is not in channel "Kaltura Event" of program 1001/,
    );
    (() => sweepLadder(webinar(), settings({ statusName: "no show" }))).should.throw(
      /has "No Show": names must match exactly/,
    );
    (() => sweepLadder(webinar(), settings({ registered: ["Attended"] }))).should.throw(
      /not below "No Show" \(30\).*only moves members forward/,
    );
    (() => sweepLadder(webinar(), settings({ registered: ["Waitlisted"] }))).should.throw(
      /registered status "Waitlisted" is not in channel/,
    );
    // Kaltura users who add "No Show" at 45 sweep Registered, Confirmed and autoConfirmed.
    const k = kaltura();
    k.statuses.push({ name: "No Show", step: 45, success: false });
    k.statuses.sort((a, b) => a.step - b.step);
    sweepLadder(k, settings())
      .registered.map((s) => s.name)
      .should.eql(["Registered", "Confirmed", "autoConfirmed"]);
  });

  it("plans: registered members move, others are skipped with a reason, each lead once", function () {
    const l = sweepLadder(webinar(), settings({ registered: ["Invited", "Registered"] }));
    const plan = planSweep(
      [
        { leadId: 1, statusName: "Registered" },
        { leadId: 2, statusName: "Invited" },
        { leadId: 1, statusName: "Registered" },
        { leadId: 3, statusName: "No Show" },
        { leadId: 4, statusName: "Attended" },
      ],
      l,
    );
    plan.toNoShow.should.eql([1, 2]);
    plan.skipped.should.eql([
      { leadId: 3, reason: "already No Show" },
      { leadId: 4, reason: 'at "Attended", not a registered status' },
    ]);
  });

  it("reads the event's end date from the event message", function () {
    should(eventEndOf({ event: { endDate: "2026-12-09T23:00:00Z" } })).equal(Date.parse("2026-12-09T23:00:00Z"));
    should(eventEndOf({ event: { endDate: "not a date" } })).be.undefined();
    should(eventEndOf({ registration: {} })).be.undefined();
  });
});

describe("no-show sweep: against the emulator", function () {
  this.timeout(60_000);
  let emu: EmulatorHandle;
  let c: MarketoClient;

  beforeEach(async () => {
    emu = await startEmulator();
    c = new MarketoClient({
      endpoint: `${emu.url}/identity/`,
      clientId: emu.clientId,
      clientSecret: emu.clientSecret,
      batchWindowMs: 20,
    });
  });
  afterEach(async () => {
    await c.close();
    await emu.stop();
  });

  async function members(n: number, status: string, prefix: string): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i < n; i += 300) {
      const rs = await c.syncLeads(
        Array.from({ length: Math.min(300, n - i) }, (_, j) => ({ email: `${prefix}${i + j}@example.com` })),
      );
      ids.push(...rs.map((r) => r.id!));
    }
    const set = await c.syncProgramMemberStatus(1002, status, ids);
    set.every((r) => r.ok).should.be.true();
    return ids;
  }
  const statuses = () => {
    const out: Record<string, number> = {};
    for (const m of (emu.state().programs as { programMembers: Array<{ programId: number; status: string }> })
      .programMembers)
      if (m.programId === 1002) out[m.status] = (out[m.status] ?? 0) + 1;
    return out;
  };
  const calls = (route: string): number => emu.stats().callsByRoute[route] ?? 0;
  const READ = "GET /rest/v1/programs/:programId/members.json";
  const WRITE = "POST /rest/v1/programs/:programId/members/status.json";

  it("a dry run counts and changes nothing; the sweep pages the reads and batches the writes by 300", async () => {
    await members(650, "Registered", "r");
    await members(3, "Attended", "a");
    await members(2, "Invited", "i");
    const info = await readProgramChannel(c, 1002);
    const writesBefore = calls(WRITE);

    const dry = await runSweep(c, info, settings(), { dryRun: true });
    dry.should.containDeep({
      dryRun: true,
      read: 650,
      planned: 650,
      set: 0,
      skipped: 0,
      failed: 0,
      registered: ["Registered"],
    });
    statuses().should.eql({ Registered: 650, Attended: 3, Invited: 2 });
    calls(WRITE).should.equal(writesBefore);
    calls(READ).should.equal(3); // 300 + 300 + 50

    const real = await runSweep(c, info, settings(), { dryRun: false });
    real.should.containDeep({ dryRun: false, read: 650, planned: 650, set: 650, failed: 0, statusName: "No Show" });
    statuses().should.eql({ "No Show": 650, Attended: 3, Invited: 2 });
    (calls(WRITE) - writesBefore).should.equal(3);

    const again = await runSweep(c, info, settings(), { dryRun: false });
    again.should.containDeep({ read: 0, planned: 0, set: 0 });
  });
});

describe("no-show sweep: once per program, across restarts", function () {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "no-show-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const report = (programId: number, over: Partial<SweepReport> = {}): SweepReport => ({
    programId,
    dryRun: false,
    statusName: "No Show",
    registered: ["Registered"],
    attended: ["Attended"],
    read: 2,
    planned: 2,
    set: 2,
    skipped: 0,
    failed: 0,
    errors: [],
    startedAt: "2026-12-10T00:00:00.000Z",
    finishedAt: "2026-12-10T00:00:01.000Z",
    ...over,
  });

  it("a program swept is remembered in the userDir; a second sweep, even after a restart, does nothing", async function () {
    const file = sweepMemoryFile({ userDir: dir }, "node/1")!;
    file.should.equal(path.join(dir, "marketo-no-show", "node_2f1.json"));
    const runs: Array<[number, boolean]> = [];
    const make = () =>
      new NoShowSweeper({
        memory: new SweepMemory(file),
        enabled: false,
        delayMs: 0,
        execute: async (id, dry) => {
          runs.push([id, dry]);
          return report(id, { dryRun: dry, set: dry ? 0 : 2 });
        },
        onTimedSweep: () => undefined,
      });
    const first = make();
    (await first.sweep(1002, true)).should.containDeep({ ok: true, report: { dryRun: true } });
    (await first.sweep(1002, false)).should.containDeep({ ok: true, report: { set: 2 } });
    (await first.sweep(1002, false)).should.containDeep({ ok: true, alreadyDone: { set: 2 } });
    first.close();
    const restarted = make();
    (await restarted.sweep(1002, false)).should.containDeep({
      ok: true,
      alreadyDone: { set: 2, at: "2026-12-10T00:00:01.000Z" },
    });
    restarted.close();
    runs.should.eql([
      [1002, true],
      [1002, false],
    ]);
  });

  it("a sweep that failed leads, or failed outright, is not done", async function () {
    const memory = new SweepMemory(undefined);
    let fail: "leads" | "read" = "leads";
    const s = new NoShowSweeper({
      memory,
      enabled: false,
      delayMs: 0,
      execute: async (id) => {
        if (fail === "read")
          throw new MarketoError({
            code: "606",
            message: "rate",
            category: "rate-limit",
            action: "wait-window",
            retryable: true,
          });
        return report(id, { set: 1, failed: 1 });
      },
      onTimedSweep: () => undefined,
    });
    (await s.sweep(7, false)).should.containDeep({ ok: true, report: { failed: 1 } });
    should(memory.done(7)).be.undefined();
    fail = "read";
    const out = await s.sweep(7, false);
    out.ok.should.be.false();
    (out as { error: MarketoError }).error.category.should.equal("rate-limit");
    should(memory.done(7)).be.undefined();
  });

  it("an event's end schedules the sweep at end + delay; a sweep due survives a restart", async function () {
    const file = sweepMemoryFile({ userDir: dir }, "n1")!;
    let now = Date.parse("2026-12-10T00:00:00Z");
    const timed: SweepOutcome[] = [];
    let arrived: () => void = () => undefined;
    const make = (enabled: boolean) =>
      new NoShowSweeper({
        memory: new SweepMemory(file),
        enabled,
        delayMs: 3_600_000,
        now: () => now,
        execute: async (id) => report(id),
        onTimedSweep: (o) => {
          timed.push(o);
          arrived();
        },
      });
    const a = make(true);
    // Ends in 10 hours: due in 11; nothing runs now.
    a.saw(1002, now + 10 * 3_600_000);
    a.close();
    JSON.parse(fs.readFileSync(file, "utf8")).due.should.eql({ 1002: now + 11 * 3_600_000 });
    // Restarted after the due time: the sweep runs at once from the file.
    now += 12 * 3_600_000;
    const ran = new Promise<void>((r) => (arrived = r));
    const b = make(true);
    await ran;
    timed.should.have.length(1);
    timed[0].should.containDeep({ ok: true, report: { programId: 1002, set: 2 } });
    JSON.parse(fs.readFileSync(file, "utf8")).should.containDeep({ due: {}, done: { 1002: { set: 2 } } });
    // Seen again after it is done: nothing is scheduled.
    b.saw(1002, now);
    JSON.parse(fs.readFileSync(file, "utf8")).due.should.eql({});
    b.close();
  });
});
