/**
 * The tag-filter's event history on disk: kept across a reopen, a torn last line cut, a damaged
 * line skipped, bounded by the retention and the size cap; and the replay request and matcher.
 */
import should from "should";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EventHistory, historyDir, type HistoryRecord } from "../../src/lib/flow/event-history";
import { parseReplayRequest, replayMatcher, ReplayRequestError, ReplayRun } from "../../src/lib/flow/replay";

const HOUR = 3600_000;
const DAY = 24 * HOUR;

async function all(h: EventHistory, from?: number, to?: number): Promise<HistoryRecord[]> {
  const out: HistoryRecord[] = [];
  for await (const r of h.read(from, to)) out.push(r);
  return out;
}

function reg(
  code: string,
  event: { id?: number; code?: string; test?: boolean } = { id: 7, code: "EV7" },
  test = false,
) {
  return { event, registration: { code, test }, profile: { email: `${code}@example.com` } };
}

describe("event history", () => {
  let dir: string;
  let clock: number;
  const now = () => clock;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "marketo-history-"));
    clock = Date.parse("2026-11-01T10:00:00Z");
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("keeps nothing without a userDir and a folder per node under it", () => {
    should(historyDir({}, "n1")).be.undefined();
    historyDir({ userDir: "/u" }, "a/../b")!.should.equal(path.join("/u", "marketo-history", "tag-filter-a_2f.._2fb"));
  });

  it("keeps every event, passed or held back, with its arrival time, across a reopen", async () => {
    let h = new EventHistory(dir, { now });
    h.append("registration.created", reg("R1"), false);
    clock += 1000;
    h.append("registration.updated", reg("R2"), true);
    h.close();
    h = new EventHistory(dir, { now });
    const got = await all(h);
    got
      .map((r) => [r.t - got[0].t, r.topic, (r.payload as ReturnType<typeof reg>).registration.code, r.heldBack])
      .should.eql([
        [0, "registration.created", "R1", false],
        [1000, "registration.updated", "R2", true],
      ]);
    (await all(h, got[1].t, got[1].t)).should.have.length(1);
    h.close();
  });

  it("cuts a line torn by a crash and skips a damaged one; later appends are read", async () => {
    let h = new EventHistory(dir, { now });
    h.append("registration.created", reg("R1"), false);
    h.append("registration.created", reg("R2"), false);
    h.close();
    const file = path.join(dir, fs.readdirSync(dir)[0]);
    // Damage the first line's json (its CRC no longer matches), then tear a third line.
    const text = fs.readFileSync(file, "utf8").replace('"R1"', '"RX"');
    fs.writeFileSync(file, text + '0badc0de {"t":1,"k":"registration.cr');
    const warnings: string[] = [];
    h = new EventHistory(dir, { now, logger: { warn: (m) => warnings.push(m) } });
    warnings.join().should.match(/torn by a crash/);
    h.append("registration.created", reg("R3"), false);
    h.flush();
    (await all(h)).map((r) => (r.payload as ReturnType<typeof reg>).registration.code).should.eql(["R2", "R3"]);
    h.close();
  });

  it("drops whole segments past the retention, and the oldest while over the size cap", async () => {
    const h = new EventHistory(dir, { now, retentionDays: 1, maxBytes: 64 * 1024 });
    for (let i = 0; i < 30; i++) {
      h.append("registration.created", reg(`R${i}`), false);
      h.flush();
      clock += 2 * HOUR; // a new segment each time
    }
    // Retention one day: the 12 events of the last 24 h stay (and the segment that ends in it).
    h.prune();
    const kept = await all(h);
    kept.length.should.be.within(12, 13);
    kept[kept.length - 1].t.should.equal(clock - 2 * HOUR);
    kept.every((r) => r.t >= clock - DAY - 2 * HOUR).should.be.true();
    // The size cap: 1000 events of ~1 KiB in 64 KiB keep only the newest.
    const big = "x".repeat(1000);
    for (let i = 0; i < 1000; i++) h.append("registration.created", { ...reg(`B${i}`), pad: big }, false);
    h.flush();
    h.bytes.should.be.belowOrEqual(64 * 1024);
    const left = await all(h);
    left.length.should.be.above(10);
    (left[left.length - 1].payload as ReturnType<typeof reg>).registration.code.should.equal("B999");
    h.close();
  });

  it("an event that cannot be written as JSON is skipped and said once", () => {
    const warnings: string[] = [];
    const h = new EventHistory(dir, { now, logger: { warn: (m) => warnings.push(m) } });
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    h.append("registration.created", loop, false);
    h.append("registration.created", loop, false);
    h.skippedCount.should.equal(2);
    warnings.should.have.length(1);
    h.close();
  });
});

describe("replay requests", () => {
  it("checks every field and defaults to suppressing campaigns", () => {
    const r = parseReplayRequest({ from: "2026-11-01T00:00:00Z", event: 7, registrations: "R1, R2" }, 5e12);
    r.should.eql({
      from: Date.parse("2026-11-01T00:00:00Z"),
      to: 5e12,
      event: "7",
      registrations: ["R1", "R2"],
      mode: "any",
      suppressCampaigns: true,
      dryRun: false,
    });
    (() => parseReplayRequest({ from: "yesterday" })).should.throw(ReplayRequestError, {
      message: /from must be a date/,
    });
    (() => parseReplayRequest({ form: 1 })).should.throw(/unknown field "form"/);
    (() => parseReplayRequest({ mode: "prod" })).should.throw(/mode must be/);
    (() => parseReplayRequest({ from: 2, to: 1 })).should.throw(/is after to/);
    (() => parseReplayRequest({ dryRun: "yes" })).should.throw(/dryRun must be true or false/);
  });

  it("picks by event id or code, registration codes, topic and live/test", () => {
    const rec = (topic: string, p: unknown): HistoryRecord => ({ t: 1, topic, payload: p, heldBack: false });
    const a = rec("registration.created", reg("R1"));
    const b = rec("registration.updated", reg("R2", { id: 8, code: "EV8" }, true));
    const pick = (body: Record<string, unknown>) => [a, b].filter(replayMatcher(parseReplayRequest(body))).length;
    pick({}).should.equal(2);
    pick({ event: "EV7" }).should.equal(1);
    pick({ event: 8 }).should.equal(1);
    pick({ registrations: ["R2", "R9"] }).should.equal(1);
    pick({ topics: ["Registration.Updated"] }).should.equal(1);
    pick({ mode: "live" }).should.equal(1);
    pick({ mode: "test", event: "EV7" }).should.equal(0);
  });

  it("a run counts, then hands over each picked event marked as a replay; a dry run hands none", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "marketo-history-"));
    try {
      const h = new EventHistory(dir);
      for (let i = 0; i < 250; i++) h.append("registration.created", reg(`R${i}`, { id: i % 2 ? 1 : 2 }), false);
      const got: string[] = [];
      const dry = new ReplayRun(h, parseReplayRequest({ event: 1, dryRun: true }), () => got.push("x"));
      (await dry.counted).should.equal(125);
      (await dry.finished).state.should.equal("done");
      got.should.have.length(0);
      let mark: unknown;
      const run = new ReplayRun(h, parseReplayRequest({ event: 1, suppressCampaigns: false }), (r, m) => {
        got.push((r.payload as ReturnType<typeof reg>).registration.code);
        mark = m;
      });
      const p = await run.finished;
      p.should.containEql({ state: "done", events: 125, emitted: 125 });
      got[0].should.equal("R1");
      mark!.should.eql({ id: run.id, requestedAt: run.requestedAt.toISOString(), suppressCampaigns: false });
      // Cancel stops it between chunks.
      const stopped = new ReplayRun(h, parseReplayRequest({}), () => undefined);
      await stopped.counted;
      stopped.cancel().should.be.true();
      const sp = await stopped.finished;
      sp.state.should.equal("cancelled");
      sp.emitted.should.be.below(250);
      h.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
