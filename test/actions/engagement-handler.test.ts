/** marketo-custom-activity's handler without a runtime: one describe shared by the records waiting for it. */
import { engagementHandler, engagementSettings, type EngagementReader } from "../../src/lib/actions/engagement-handler";
import { LeadIdCache } from "../../src/lib/actions/lead-ids";
import type { MarketoClient } from "../../src/lib/marketo";

const read =
  (value: (record: unknown) => unknown): EngagementReader =>
  async (_msg, record) => ({ ok: true, value: value(record), where: "event.x" });

describe("engagement handler", () => {
  it("describes the activity type once for records that arrive together, warns once, and sends each", async () => {
    let describes = 0;
    const sent: unknown[] = [];
    const client = {
      describeCustomActivityType: async () => {
        describes++;
        await new Promise((r) => setImmediate(r));
        return {
          id: 100001,
          apiName: "engagement_c",
          status: "approved",
          primaryAttribute: { apiName: "sessionId", dataType: "string" },
          attributes: [{ apiName: "sessionName", dataType: "string" }],
        };
      },
      addCustomActivity: async (a: unknown) => (sent.push(a), { ok: true, status: "added" }),
    } as unknown as MarketoClient;
    const { settings, problems } = engagementSettings({ activityType: "engagement_c" });
    problems.should.eql([]);
    const warnings: string[] = [];
    const h = engagementHandler({
      settings,
      readers: { engagement: read((r) => r), email: read(() => "a@x.com") },
      warn: (t) => warnings.push(t),
      duplicateLeads: () => undefined,
    });
    const ctx = { client, config: { leadIds: new LeadIdCache() }, index: 0 };
    const msg = { payload: {}, marketo: { leadId: 42 } };
    const outs = await Promise.all(
      ["s1", "s2"].map((id) =>
        h.handle({ sessionId: id, sessionName: "Keynote", timestamp: "2026-01-01T00:00:00Z" }, msg, ctx),
      ),
    );
    outs.map((o) => o.result.ok).should.eql([true, true]);
    describes.should.equal(1);
    warnings.should.have.length(1);
    sent.should.have.length(2);
    (sent[0] as { leadId: number }).leadId.should.equal(42);
  });
});
