/**
 * The sidebar charts' history: running totals become per-bucket counts, levels are the last
 * sample of a bucket, and nothing older than the span is kept.
 */
import "should";
import { History } from "../../src/lib/sidebar/sidebar-history";

describe("sidebar history (charts)", () => {
  const at = (ms: number): number => Date.UTC(2026, 11, 3, 8, 0, 0) + ms;

  it("turns running totals into counts per bucket and keeps the levels' last value", () => {
    const h = new History(10_000, 60_000);
    h.sample({ records: 100, failed: 2, calls: 10, backlog: 5, retry: 1 }, at(0));
    h.sample({ records: 130, failed: 3, calls: 12, backlog: 9, retry: 1 }, at(4_000));
    h.sample({ records: 150, failed: 3, calls: 13, backlog: 0, retry: 2 }, at(12_000));
    h.view(at(12_000)).points.should.eql([
      // The first sample is the baseline: what happened before it is not counted anywhere.
      { at: new Date(at(0)).toISOString(), records: 30, failed: 1, calls: 2, backlog: 9, retry: 1 },
      { at: new Date(at(10_000)).toISOString(), records: 20, failed: 0, calls: 1, backlog: 0, retry: 2 },
    ]);
  });

  it("counts a total that went down (a node deleted) as nothing, never as negative work", () => {
    const h = new History(10_000, 60_000);
    h.sample({ records: 100, failed: 5, calls: 10, backlog: 0, retry: 0 }, at(0));
    h.sample({ records: 40, failed: 0, calls: 10, backlog: 0, retry: 0 }, at(1_000));
    h.sample({ records: 45, failed: 1, calls: 11, backlog: 0, retry: 0 }, at(2_000));
    h.view(at(2_000)).points.should.containDeep([{ records: 5, failed: 1, calls: 1 }]);
  });

  it("keeps only the span", () => {
    const h = new History(10_000, 60_000);
    for (let t = 0; t <= 120_000; t += 5_000)
      h.sample({ records: t / 1000, failed: 0, calls: 0, backlog: 0, retry: 0 }, at(t));
    const points = h.view(at(120_000)).points;
    points.should.have.length(6);
    points[0].at.should.equal(new Date(at(70_000)).toISOString());
    points.map((p) => p.records).should.eql([10, 10, 10, 10, 10, 5]); // the newest bucket is still filling
  });
});
