/** The Limiter without HTTP, on a fake clock, and the Chicago quota-day boundary. */
import "should";
import { DEFAULT_LIMITS, Limiter, type EmulatorLimits } from "../../nodes/emulator";

function setup(overrides: Partial<EmulatorLimits>, startMs = Date.parse("2026-06-15T12:00:00Z")) {
  const clock = { now: startMs };
  const limits: EmulatorLimits = { ...DEFAULT_LIMITS, ...overrides };
  const limiter = new Limiter(limits, () => clock.now);
  return { clock, limits, limiter };
}

describe("emulator limiter", () => {
  it("rejects with 606 at the window limit and frees slots as calls age out", () => {
    const { clock, limiter } = setup({ callsPerWindow: 3, windowMs: 1000 });
    for (let i = 0; i < 3; i++) {
      const a = limiter.admit();
      if (!a.ok) throw new Error("expected admission");
      limiter.finish(a.ticket, true);
      clock.now += 100;
    }
    const over = limiter.admit();
    over.should.eql({ ok: false, code: "606", message: "Max rate limit '3' exceeded with in '1' secs" });
    clock.now += 1000 - 300 + 1; // the first call (t=0) leaves the window
    limiter.admit().ok.should.be.true();
    limiter.snapshot().maxCallsInWindow.should.equal(3);
  });

  it("refunds window and quota for calls that end uncounted", () => {
    const { limiter } = setup({ callsPerWindow: 2, windowMs: 1000, dailyQuota: 2 });
    for (let i = 0; i < 5; i++) {
      const a = limiter.admit();
      if (!a.ok) throw new Error("expected admission");
      limiter.finish(a.ticket, false);
    }
    const s = limiter.snapshot();
    s.callsInWindow.should.equal(0);
    s.dailyUsed.should.equal(0);
  });

  it("rejects with 615 while the concurrency limit is in flight", () => {
    const { limiter } = setup({ concurrency: 2 });
    const a = limiter.admit();
    const b = limiter.admit();
    limiter.admit().should.eql({ ok: false, code: "615", message: "Concurrent access limit '2' reached" });
    if (!a.ok || !b.ok) throw new Error("expected admissions");
    limiter.finish(a.ticket, true);
    limiter.finish(a.ticket, true); // finishing twice must not free a second slot
    limiter.snapshot().inFlight.should.equal(1);
    limiter.admit().ok.should.be.true();
    limiter.snapshot().maxInFlight.should.equal(2);
  });

  it("rejects with 607 at the daily quota and resets at 00:00 America/Chicago", () => {
    // 2026-06-15 22:00 CDT = 2026-06-16T03:00Z; midnight CDT = 05:00Z.
    const { clock, limiter } = setup({ dailyQuota: 1 }, Date.parse("2026-06-16T03:00:00Z"));
    const a = limiter.admit();
    if (!a.ok) throw new Error("expected admission");
    limiter.finish(a.ticket, true);
    limiter.admit().should.eql({ ok: false, code: "607", message: "Daily quota reached" });
    limiter.snapshot().quotaResetsAt.should.equal("2026-06-16T05:00:00.000Z");
    clock.now = Date.parse("2026-06-16T04:59:59Z");
    limiter.admit().ok.should.be.false();
    clock.now = Date.parse("2026-06-16T05:00:00Z");
    limiter.admit().ok.should.be.true();
    limiter.snapshot().quotaResetsAt.should.equal("2026-06-17T05:00:00.000Z");
  });

  it("does not refund a call admitted before midnight from the new day", () => {
    const { clock, limiter } = setup({ dailyQuota: 10 }, Date.parse("2026-06-16T04:59:00Z"));
    const a = limiter.admit();
    if (!a.ok) throw new Error("expected admission");
    clock.now = Date.parse("2026-06-16T05:00:30Z");
    const b = limiter.admit();
    if (!b.ok) throw new Error("expected admission");
    limiter.finish(a.ticket, false);
    limiter.snapshot().dailyUsed.should.equal(1);
  });

  it("rolloverDay() starts a new quota day at once", () => {
    const { limiter } = setup({ dailyQuota: 1 });
    const a = limiter.admit();
    if (!a.ok) throw new Error("expected admission");
    limiter.finish(a.ticket, true);
    limiter.admit().ok.should.be.false();
    limiter.rolloverDay();
    limiter.admit().ok.should.be.true();
  });

  it("does not refund a call admitted before rolloverDay() or reset() from the new day", () => {
    // rolloverDay()/reset() start a new day ending at the same midnight as the old one.
    for (const restart of ["rolloverDay", "reset"] as const) {
      const { limiter } = setup({ dailyQuota: 10 });
      const old = limiter.admit();
      if (!old.ok) throw new Error("expected admission");
      limiter[restart]();
      const fresh = limiter.admit();
      if (!fresh.ok) throw new Error("expected admission");
      limiter.finish(fresh.ticket, true);
      limiter.finish(old.ticket, false); // the old day's call fails: nothing to refund today
      limiter.snapshot().dailyUsed.should.equal(1, restart);
    }
  });

  it("lets a client send exactly N calls spaced windowMs/N apart, window after window", () => {
    const { clock, limiter } = setup({ callsPerWindow: 4, windowMs: 1000 });
    for (let i = 0; i < 20; i++) {
      const a = limiter.admit();
      if (!a.ok) throw new Error(`call ${i} at +${i * 250} ms answered ${a.code}`);
      limiter.finish(a.ticket, true);
      clock.now += 250;
    }
    limiter.snapshot().maxCallsInWindow.should.equal(4);
  });

  it("follows the limits object as it changes", () => {
    const { limits, limiter } = setup({ concurrency: 1 });
    limiter.admit().ok.should.be.true();
    limiter.admit().ok.should.be.false();
    limits.concurrency = 2;
    limiter.admit().ok.should.be.true();
  });
});
