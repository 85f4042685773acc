/** resolveLeadId against the emulator: message id, cache, batched lookup, creation, refusals. */
import should from "should";
import { startEmulator, type EmulatorHandle } from "../../src/emulator";
import { LeadIdCache } from "../../src/lib/actions/lead-ids";
import { resolveLeadId, toLeadId } from "../../src/lib/actions/lead-lookup";
import { MarketoClient } from "../../src/lib/marketo";

describe("resolveLeadId", () => {
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
  const op = { operation: "syncProgramMemberStatus" };
  const calls = (route: string): number => emu.stats().callsByRoute[route] ?? 0;

  it("takes the id on the message without a call, and refuses one that is not an id", async () => {
    (await resolveLeadId(client, new LeadIdCache(), { ...op, leadId: "12" })).should.eql({
      ok: true,
      leadId: 12,
      leadIds: [12],
      source: "message",
    });
    const bad = await resolveLeadId(client, new LeadIdCache(), { ...op, leadId: -3, email: "a@x.com" });
    bad.ok.should.be.false();
    if (!bad.ok) bad.result.error!.category.should.equal("validation");
    Object.keys(emu.stats().callsByRoute).should.have.length(0);
  });

  it("uses the cache, then one batched lookup for many emails, and remembers what it found", async () => {
    const made = await client.syncLeads([{ email: "a@x.com" }, { email: "b@x.com" }]);
    const cache = new LeadIdCache();
    cache.set("email", "a@x.com", made[0].id!);
    const [a, b, none] = await Promise.all(
      ["A@x.com", "b@x.com", "c@x.com"].map((email) => resolveLeadId(client, cache, { ...op, email })),
    );
    a.should.eql({ ok: true, leadId: made[0].id, leadIds: [made[0].id], source: "cache" });
    b.should.eql({ ok: true, leadId: made[1].id, leadIds: [made[1].id], source: "lookup" });
    none.ok.should.be.false();
    if (!none.ok) none.result.error!.message.should.match(/no lead has the email c@x.com/);
    calls("GET /rest/v1/leads.json").should.equal(1);
    should(cache.get("email", "b@x.com")).equal(made[1].id);
  });

  it("duplicates: each policy picks, none is cached, and fail says 1007 naming the leads", async () => {
    const [older] = await client.syncLeads([{ email: "d@x.com" }], { action: "createDuplicate" });
    const [newer] = await client.syncLeads([{ email: "d@x.com" }], { action: "createDuplicate" });
    const cache = new LeadIdCache();
    const all = await resolveLeadId(client, cache, { ...op, email: "d@x.com", duplicates: "all" });
    all.should.containDeep({
      ok: true,
      leadId: newer.id,
      leadIds: [newer.id, older.id],
      duplicates: { policy: "all", leadIds: [newer.id, older.id] },
    });
    (await resolveLeadId(client, cache, { ...op, email: "d@x.com", duplicates: "oldest" })).should.containDeep({
      ok: true,
      leadIds: [older.id],
    });
    (await resolveLeadId(client, cache, { ...op, email: "d@x.com" })).should.containDeep({
      ok: true,
      leadIds: [newer.id],
      duplicates: { policy: "newest" },
    });
    const fail = await resolveLeadId(client, cache, { ...op, email: "D@x.com", duplicates: "fail" });
    fail.ok.should.be.false();
    if (!fail.ok) {
      fail.result.error!.should.containDeep({ code: "1007", category: "validation", retryable: false });
      fail.result.error!.message.should.match(new RegExp(`ids ${newer.id}, ${older.id}`));
    }
    should(cache.get("email", "d@x.com")).be.undefined();
    calls("GET /rest/v1/leads.json").should.equal(4);
  });

  it("creates a missing lead when asked", async () => {
    const r = await resolveLeadId(client, new LeadIdCache(), { ...op, email: "new@x.com", createMissing: true });
    r.should.containDeep({ ok: true, source: "created" });
    emu
      .state()
      .leads.map((l) => l.email)
      .should.eql(["new@x.com"]);
  });

  it("refuses a record without a usable email before calling Marketo", async () => {
    for (const email of [undefined, "", "  ", "not-an-email", 42]) {
      const r = await resolveLeadId(client, new LeadIdCache(), { ...op, email });
      r.ok.should.be.false();
    }
    Object.keys(emu.stats().callsByRoute).should.have.length(0);
  });

  it("toLeadId accepts whole positive numbers and digit strings only", () => {
    should(toLeadId(5)).equal(5);
    should(toLeadId(" 7 ")).equal(7);
    for (const v of [0, -1, 1.5, "1e3", "x", null, undefined, {}]) should(toLeadId(v)).be.undefined();
  });
});
