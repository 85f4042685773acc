/** The throttled canvas status in src/lib/node-kit/node-status.ts. */
import "should";
import { STATUS_INTERVAL_MS, throttledStatus } from "../../src/lib/node-kit/node-status";

/** Resolves when `paint` has been called `n` times. */
function counter() {
  let calls = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  return {
    paint: () => {
      calls++;
      for (const w of waiters.filter((x) => calls >= x.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    },
    get calls() {
      return calls;
    },
    reach: (n: number) => new Promise<void>((resolve) => (calls >= n ? resolve() : waiters.push({ n, resolve }))),
  };
}

describe("node-kit throttledStatus", () => {
  it("keeps one interval for every node", () => {
    STATUS_INTERVAL_MS.should.equal(250);
  });

  it("paints the first change at once and folds a burst into one later paint", async () => {
    const c = counter();
    const status = throttledStatus(c.paint, 50);
    status.refresh();
    c.calls.should.equal(1);
    for (let i = 0; i < 1000; i++) status.refresh();
    c.calls.should.equal(1);
    status.pending.should.be.true();
    await c.reach(2);
    c.calls.should.equal(2);
    status.pending.should.be.false();
    status.close();
  });

  it("never paints after close, even with a paint waiting", async () => {
    const c = counter();
    const status = throttledStatus(c.paint, 20);
    status.refresh();
    status.refresh();
    status.pending.should.be.true();
    status.close();
    status.pending.should.be.false();
    status.refresh();
    status.paintNow();
    // A second throttle with the same interval paints after the first would have: by then the
    // closed one has had its chance.
    const other = counter();
    const probe = throttledStatus(other.paint, 20);
    probe.refresh();
    probe.refresh();
    await other.reach(2);
    c.calls.should.equal(1);
    probe.close();
  });

  it("paintNow paints at once and restarts the interval", () => {
    const c = counter();
    const status = throttledStatus(c.paint, 10_000);
    status.paintNow();
    status.refresh();
    c.calls.should.equal(1);
    status.paintNow();
    c.calls.should.equal(2);
    status.pending.should.be.false();
    status.close();
  });
});
