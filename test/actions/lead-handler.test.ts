/** marketo-lead's handler without a runtime: a fake client records the calls each record makes. */
import should from "should";
import { parseLeadSettings, type LeadNodeProps } from "../../src/lib/actions/lead-action";
import {
  leadHandler,
  leadLabels,
  leadProperties,
  noReader,
  type LeadReaders,
} from "../../src/lib/actions/lead-handler";
import { LeadIdCache } from "../../src/lib/actions/lead-ids";
import { markReplayed } from "../../src/lib/delivery/delivery-once";
import type { CsvRow } from "../../src/lib/marketo/csv";
import type { MarketoClient } from "../../src/lib/marketo";

type Call = [string, ...unknown[]];

/** A client answering every call with success; `existing` is what findLeads returns. */
function fakeClient(calls: Call[], existing: Record<string, unknown> = {}): MarketoClient {
  return {
    syncLead: async (lead: unknown, opts: unknown) => (
      calls.push(["syncLead", lead, opts]),
      { ok: true, status: "updated", id: 7 }
    ),
    findLeads: async (email: string, fields: string[]) => (
      calls.push(["findLeads", email, fields]),
      [{ id: 7, fields: existing }]
    ),
    triggerCampaignFor: async (campaignId: number, leadId: number, tokens: unknown, opts: unknown) => (
      calls.push(["triggerCampaignFor", campaignId, leadId, tokens, opts]),
      { ok: true, status: "requested" }
    ),
    bulkImportLeads: async (rows: CsvRow[]) => (
      calls.push(["bulkImportLeads", rows]),
      { jobs: [], rows: rows.map(() => ({ ok: true, status: "updated", outcome: "imported" as const, batchId: 3 })) }
    ),
  } as unknown as MarketoClient;
}

function handlerFor(props: LeadNodeProps, readers: Partial<LeadReaders> = {}, backlog = 0) {
  const { settings, problems } = parseLeadSettings(props);
  problems.should.eql([]);
  return leadHandler({
    settings,
    readers: { campaign: noReader, tokens: noReader, visitor: noReader, cookie: noReader, ...readers },
    labels: leadLabels({}),
    backlog: () => backlog,
    duplicateLeads: () => undefined,
    refreshStatus: () => undefined,
  });
}

describe("lead handler", () => {
  it("reads only the properties its action uses, and names them as the editor does", () => {
    const sync = parseLeadSettings({ action: "sync" }).settings;
    leadProperties(sync, {}).should.eql([]);
    const trigger = parseLeadSettings({ action: "trigger", campaignId: 5 }).settings;
    leadProperties(trigger, { tokens: "t", tokensType: "flow" })
      .map((p) => [p.key, p.value, p.type])
      .should.eql([
        ["campaign", "campaignId", undefined],
        ["tokens", "t", "flow"],
      ]);
    leadLabels({ campaignFrom: "c", campaignFromType: "event", tokens: "t", tokensType: "flow" }).should.containEql({
      campaign: "event.c",
      tokens: "the flow property t",
      visitor: "msg.visitorData",
    });
  });

  it("leaves out a field Marketo already holds when the flow only fills blanks, and says so", async () => {
    const calls: Call[] = [];
    const h = handlerFor({ action: "sync" });
    const out = await h.handle(
      { email: "a@x.com", firstName: "Ann", city: "Oslo" },
      { payload: {}, marketo: { fieldUpdates: { firstName: "ifBlank", city: "ifBlank" } } },
      { client: fakeClient(calls, { firstName: "Anne", city: "" }), config: { leadIds: new LeadIdCache() } },
    );
    out.result.ok.should.be.true();
    out.marketo!.should.eql({ fieldsKept: ["firstName"] });
    calls[1][0].should.equal("syncLead");
    should(calls[1][1]).eql({ email: "a@x.com", city: "Oslo" });
  });

  it("fails a record whose campaign cannot be read before any call, naming the property", async () => {
    const calls: Call[] = [];
    const h = handlerFor({ action: "trigger" }, { campaign: () => Promise.reject(new Error("boom")) });
    const out = await h.handle(
      { email: "a@x.com" },
      { payload: {} },
      { client: fakeClient(calls), config: { leadIds: new LeadIdCache() } },
    );
    out.result.ok.should.be.false();
    out.result.error!.category.should.equal("validation");
    out.result.error!.message.should.match(/msg\.campaignId could not be read: boom/);
    calls.should.eql([]);
  });

  it("a replayed campaign request (campaigns not suppressed) is asked about first and waits behind live ones", async () => {
    const calls: Call[] = [];
    const h = handlerFor({ action: "trigger", campaignId: 2001 });
    const ctx = { client: fakeClient(calls), config: { leadIds: new LeadIdCache() } };
    const arrived = "2026-11-02T10:00:00.000Z";
    const replayed: { payload: unknown; replay: unknown; marketo?: Record<string, unknown> } = {
      payload: {},
      replay: { id: "r1", requestedAt: arrived, suppressCampaigns: false },
    };
    markReplayed(replayed, Date.parse(arrived));
    (
      await h.handle({ email: "a@x.com" }, { ...replayed, marketo: { ...replayed.marketo, leadId: 7 } }, ctx)
    ).result.ok.should.be.true();
    (await h.handle({ email: "a@x.com" }, { payload: {}, marketo: { leadId: 7 } }, ctx)).result.ok.should.be.true();
    const triggers = calls.filter((c) => c[0] === "triggerCampaignFor");
    triggers.map((c) => c[4]).should.eql([{ unconfirmedSince: arrived, background: true }, {}]);
  });

  it("over the bulk threshold imports through the client the record came with", async () => {
    const calls: Call[] = [];
    const h = handlerFor({ action: "sync", bulkThreshold: 10 }, {}, 11);
    should.exist(h.bulk);
    const sent = h.handle(
      { email: "a@x.com" },
      { payload: {} },
      { client: fakeClient(calls), config: { leadIds: new LeadIdCache() } },
    );
    h.bulk!.close();
    const out = await sent;
    out.result.ok.should.be.true();
    out.marketo!.should.eql({ status: "imported", bulk: { outcome: "imported", batchId: 3 } });
    calls.map((c) => c[0]).should.eql(["bulkImportLeads"]);
  });
});
