/** Usage statistics, shaped from the transport's per-day counts. */
import "should";
import type { UsageDay } from "../../nodes/emulator/types";
import { harness, T0 } from "./emulator-domains-fixture";

describe("emulator domains: usage stats", () => {
  it("reports today's calls per user and errors per code, and the last seven days", async () => {
    // T0 is 10:00 UTC, 04:00 in Chicago: still 2026-03-02 there.
    const days: UsageDay[] = [
      { date: "2026-03-02", calls: { "client-a": 40, "client-b": 2 }, errors: { "606": 3, "1003": 1 } },
      { date: "2026-03-01", calls: { "client-a": 5 }, errors: {} },
    ];
    const h = harness({ usage: () => days });
    (await h.call("GET", "/rest/v1/stats/usage.json")).body.should.eql({
      success: true,
      result: [
        {
          date: "2026-03-02",
          total: 42,
          users: [
            { userId: "client-a", count: 40 },
            { userId: "client-b", count: 2 },
          ],
        },
      ],
    });
    (await h.call("GET", "/rest/v1/stats/errors.json")).body.result.should.eql([
      {
        date: "2026-03-02",
        total: 4,
        errors: [
          { errorCode: "606", count: 3 },
          { errorCode: "1003", count: 1 },
        ],
      },
    ]);
    (await h.call("GET", "/rest/v1/stats/usage/last7days.json")).body.result
      .map((d: { date: string; total: number }) => [d.date, d.total])
      .should.eql([
        ["2026-03-02", 42],
        ["2026-03-01", 5],
      ]);
    (await h.call("GET", "/rest/v1/stats/errors/last7days.json")).body.result.length.should.equal(2);
    h.route("GET", "/rest/v1/stats/usage.json").permissions.should.eql([]);
    h.reset();
  });

  it("answers an empty today in Chicago time when the transport reports nothing", async () => {
    const h = harness();
    h.clock.now = T0 - 5 * 3_600_000; // 05:00 UTC = 23:00 the day before in Chicago
    (await h.call("GET", "/rest/v1/stats/usage.json")).body.result.should.eql([
      { date: "2026-03-01", total: 0, users: [] },
    ]);
    h.reset();
  });
});
