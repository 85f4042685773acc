/**
 * Exactly once as Marketo sees it: custom activities, campaign requests and form fills through a
 * client while half of the calls fail after Marketo applied them (604 with --apply-before-failure).
 * Each record is stored once, and a run without faults costs no extra call.
 */
import "should";
import { MarketoClient, type RecordResult, type Usage } from "../../nodes/lib/marketo";
import { startEmulator, type EmulatorHandle } from "../../src/emulator";
import { acceptedAtOf, markResent, stampAccepted, unconfirmedSinceOf } from "../../src/lib/delivery/delivery-once";

const ENGAGEMENT = 100001;
const CAMPAIGN = 2001;
const FORM = 3001;

interface EmuState {
  leads: Array<{ id: number; email: string }>;
  activities: {
    activities: Array<{
      leadId: number;
      activityTypeId: number;
      primaryAttributeValueId?: number;
      primaryAttributeValue?: string;
    }>;
  };
}

function client(emu: EmulatorHandle, extra: { maxBatchSize?: number } = {}): MarketoClient {
  return new MarketoClient({
    ...extra,
    endpoint: emu.url,
    // A scaled window: the test is about duplicates, not Marketo's pace.
    callsPerWindow: 1000,
    windowMs: 2000,
    clientId: emu.clientId,
    clientSecret: emu.clientSecret,
    batchWindowMs: 20,
    // Half of all calls fail: enough attempts that a record fails for good once in thousands.
    retry: { maxAttempts: 12, baseDelayMs: 5, maxDelayMs: 40 },
  });
}

async function leads(c: MarketoClient, n: number, prefix: string): Promise<number[]> {
  const r = await c.syncLeads(Array.from({ length: n }, (_, i) => ({ email: `${prefix}${i}@example.com` })));
  r.every((x) => x.ok).should.be.true();
  return r.map((x) => x.id!);
}

/** Calls asked on behalf of a write: named `<write>:<question>` in usage. */
const extra = (u: Usage): number =>
  Object.entries(u.callsByOperation)
    .filter(([op]) => op.includes(":"))
    .reduce((a, [, k]) => a + k, 0);

describe("exactly once: activities, campaign requests and form fills under applied-then-failed faults", function () {
  this.timeout(120_000);
  let emu: EmulatorHandle | undefined;
  let c: MarketoClient | undefined;
  afterEach(async () => {
    await c?.close();
    await emu?.stop();
    c = undefined;
    emu = undefined;
  });

  const of = (type: number, ids: Set<number>) =>
    (emu!.state() as unknown as EmuState).activities.activities.filter(
      (a) => a.activityTypeId === type && ids.has(a.leadId),
    );

  it("100 custom activities with 50 % applied-then-failed 604: exactly 100 stored", async () => {
    emu = await startEmulator({
      faults: { applyBeforeFailure: true },
      limits: { callsPerWindow: 1000, windowMs: 2000 },
    });
    // Ten calls of ten: some fail, some do not.
    c = client(emu, { maxBatchSize: 10 });
    const ids = await leads(c, 100, "act");
    emu.setFaults({ rate: 0.5, codes: ["604"] });
    const base = new Date(Date.now() - 60_000).getTime();
    const results = await Promise.all(
      ids.map((leadId, i) =>
        c!.addCustomActivity({
          leadId,
          activityTypeId: ENGAGEMENT,
          activityDate: new Date(base + i * 1000).toISOString(),
          primaryAttributeValue: `1_e${i % 3}`,
          attributes: [{ apiName: "plays", value: i % 5 }],
        }),
      ),
    );
    emu.setFaults({ rate: 0 });
    results
      .filter((r) => !r.ok)
      .map((r) => r.error?.message)
      .should.eql([]);
    const stored = of(ENGAGEMENT, new Set(ids));
    new Set(stored.map((a) => a.leadId)).size.should.equal(100);
    stored.length.should.equal(100);
    (emu.stats().answersByCode["604"] ?? 0).should.be.above(0);
    const u = c.usage();
    u.arrivalChecks.checks.should.be.above(0);
    u.arrivalChecks.found.should.be.above(0);
    console.log(
      `      activities: ${stored.length} stored for 100; ${JSON.stringify(u.arrivalChecks)}; 604×${emu.stats().answersByCode["604"]}`,
    );
  });

  it("100 campaign requests with 50 % applied-then-failed 604: each lead's campaign requested once", async () => {
    emu = await startEmulator({
      faults: { applyBeforeFailure: true },
      limits: { callsPerWindow: 1000, windowMs: 2000 },
    });
    c = client(emu, { maxBatchSize: 10 });
    const ids = await leads(c, 100, "cmp");
    emu.setFaults({ rate: 0.5, codes: ["604"] });
    const results: RecordResult[] = await Promise.all(ids.map((id) => c!.triggerCampaignFor(CAMPAIGN, id)));
    emu.setFaults({ rate: 0 });
    results
      .filter((r) => !r.ok)
      .map((r) => r.error?.message)
      .should.eql([]);
    const stored = of(47, new Set(ids)).filter((a) => a.primaryAttributeValueId === CAMPAIGN);
    stored.length.should.equal(100);
    new Set(stored.map((a) => a.leadId)).size.should.equal(100);
    c.usage().arrivalChecks.found.should.be.above(0);
    console.log(`      campaign requests: ${stored.length} for 100; ${JSON.stringify(c.usage().arrivalChecks)}`);
  });

  it("100 form fills with 50 % applied-then-failed 604: each fill recorded once", async () => {
    emu = await startEmulator({
      faults: { applyBeforeFailure: true },
      limits: { callsPerWindow: 1000, windowMs: 2000 },
    });
    c = client(emu);
    // Half the leads exist before, half are made by their fill.
    const existing = await leads(c, 50, "form");
    emu.setFaults({ rate: 0.5, codes: ["604"] });
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => c!.submitForm(FORM, { email: `form${i}@example.com`, firstName: `F${i}` })),
    );
    emu.setFaults({ rate: 0 });
    results
      .filter((r) => !r.ok)
      .map((r) => r.error?.message)
      .should.eql([]);
    const all = new Set(
      (emu.state() as unknown as EmuState).leads.filter((l) => /^form\d+@/.test(l.email)).map((l) => l.id),
    );
    all.size.should.equal(100);
    existing.every((id) => all.has(id)).should.be.true();
    const stored = of(2, all).filter((a) => a.primaryAttributeValueId === FORM);
    stored.length.should.equal(100);
    new Set(stored.map((a) => a.leadId)).size.should.equal(100);
    c.usage().arrivalChecks.found.should.be.above(0);
    console.log(`      form fills: ${stored.length} for 100; ${JSON.stringify(c.usage().arrivalChecks)}`);
  });

  it("20,000 engagement records with 10 % applied-then-failed faults: exactly 20,000 activities", async () => {
    emu = await startEmulator({
      faults: { applyBeforeFailure: true },
      limits: { callsPerWindow: 1000, windowMs: 2000 },
    });
    c = client(emu);
    const ids = await leads(c, 5000, "eng");
    emu.setFaults({ rate: 0.1, codes: ["604", "502", "608", "611", "713"] });
    const t0 = Date.now() - 3_600_000;
    // Several engagements per lead, some identical but for their time: the date tells them apart.
    const results = await Promise.all(
      Array.from({ length: 20_000 }, (_, i) =>
        c!.addCustomActivity({
          leadId: ids[i % ids.length],
          activityTypeId: ENGAGEMENT,
          activityDate: new Date(t0 + i * 1000).toISOString(),
          primaryAttributeValue: `1_s${i % 7}`,
          attributes: [{ apiName: "plays", value: i % 4 }],
        }),
      ),
    );
    emu.setFaults({ rate: 0 });
    results
      .filter((r) => !r.ok)
      .map((r) => r.error?.message)
      .should.eql([]);
    of(ENGAGEMENT, new Set(ids)).length.should.equal(20_000);
    const u = c.usage();
    const faults = ["604", "502", "608", "611", "713"].reduce((a, k) => a + (emu!.stats().answersByCode[k] ?? 0), 0);
    faults.should.be.above(0);
    console.log(
      `      20,000 engagements: ${of(ENGAGEMENT, new Set(ids)).length} activities; ${faults} faults; ${u.callsByOperation.addCustomActivities} writes; ${extra(u)} extra calls ${JSON.stringify(u.arrivalChecks)}`,
    );
  });

  it("costs no extra call without faults", async () => {
    emu = await startEmulator({ limits: { callsPerWindow: 1000, windowMs: 2000 } });
    c = client(emu);
    const ids = await leads(c, 50, "calm");
    await Promise.all(
      ids.map((leadId, i) =>
        c!.addCustomActivity({
          leadId,
          activityTypeId: ENGAGEMENT,
          activityDate: new Date().toISOString(),
          primaryAttributeValue: `1_c${i}`,
        }),
      ),
    );
    await Promise.all(ids.map((id) => c!.triggerCampaignFor(CAMPAIGN, id)));
    await Promise.all(ids.slice(0, 10).map((_, i) => c!.submitForm(FORM, { email: `calm${i}@example.com` })));
    await c.addCustomActivities([
      {
        leadId: ids[0],
        activityTypeId: ENGAGEMENT,
        activityDate: new Date().toISOString(),
        primaryAttributeValue: "direct",
      },
    ]);
    const u = c.usage();
    u.arrivalChecks.should.eql({ checks: 0, calls: 0, found: 0, resent: 0, unconfirmed: 0 });
    extra(u).should.equal(0);
    of(ENGAGEMENT, new Set(ids)).length.should.equal(51);
  });

  it("asks before sending a record an earlier attempt may have carried, and sends only what is absent", async () => {
    emu = await startEmulator({ limits: { callsPerWindow: 1000, windowMs: 2000 } });
    c = client(emu);
    const ids = await leads(c, 4, "unsure");
    const since = new Date(Date.now() - 1000).toISOString();
    const date = (i: number) => new Date(Date.parse(since) - (i + 1) * 1000).toISOString();
    // Two of four arrived before a "crash"; all four come back unconfirmed.
    await c.addCustomActivities(
      [0, 1].map((i) => ({
        leadId: ids[i],
        activityTypeId: ENGAGEMENT,
        activityDate: date(i),
        primaryAttributeValue: "1_x",
        attributes: [{ apiName: "plays", value: 2 }],
      })),
    );
    const again = await Promise.all(
      ids.map((leadId, i) =>
        c!.addCustomActivity(
          {
            leadId,
            activityTypeId: ENGAGEMENT,
            activityDate: date(i),
            primaryAttributeValue: "1_x",
            attributes: [{ apiName: "plays", value: 2 }],
          },
          { unconfirmedSince: since },
        ),
      ),
    );
    again
      .map((r) => [r.ok, r.arrived ?? false])
      .should.eql([
        [true, true],
        [true, true],
        [true, false],
        [true, false],
      ]);
    of(ENGAGEMENT, new Set(ids)).length.should.equal(4);
    // A different attribute value is a different activity: not taken for one that arrived.
    const other = await c.addCustomActivity(
      {
        leadId: ids[0],
        activityTypeId: ENGAGEMENT,
        activityDate: date(0),
        primaryAttributeValue: "1_x",
        attributes: [{ apiName: "plays", value: 3 }],
      },
      { unconfirmedSince: since },
    );
    other.should.containDeep({ ok: true, status: "added" });
    (other.arrived === undefined).should.be.true();
    of(ENGAGEMENT, new Set(ids)).length.should.equal(5);
    const t = await c.triggerCampaignFor(CAMPAIGN, ids[0], undefined, { unconfirmedSince: since });
    t.should.containDeep({ ok: true });
    (t.arrived === undefined).should.be.true();
    (await c.triggerCampaignFor(CAMPAIGN, ids[0], undefined, { unconfirmedSince: since })).arrived!.should.be.true();
    of(47, new Set(ids)).length.should.equal(1);
    (await c.submitForm(FORM, { email: "nobody@example.com" }, { unconfirmedSince: since })).ok.should.be.true();
    (await c.submitForm(FORM, { email: "nobody@example.com" }, { unconfirmedSince: since })).arrived!.should.be.true();
    const u = c.usage();
    u.arrivalChecks.checks.should.be.above(4);
    extra(u).should.equal(u.arrivalChecks.calls);
    u.callsByOperation["addCustomActivities:getLeadActivities"]!.should.be.above(0);
    u.callsByOperation["submitForm:getLeadsByFilter"]!.should.be.above(0);
  });
});

describe("exactly once: what a message says about earlier attempts", () => {
  it("stamps acceptedAt once, marks a resent record from that time, and asks from the earliest hint", () => {
    const msg: Record<string, any> = { payload: {} };
    stampAccepted(msg, Date.parse("2026-12-01T10:00:00Z"));
    stampAccepted(msg, Date.parse("2026-12-01T11:00:00Z")); // a later node keeps the first node's time
    msg.marketo.acceptedAt.should.equal("2026-12-01T10:00:00.000Z");
    (unconfirmedSinceOf(msg) === undefined).should.be.true();
    markResent(msg);
    unconfirmedSinceOf(msg)!.should.equal("2026-12-01T10:00:00.000Z");
    msg.marketo.unconfirmedSince = "2026-12-01T09:00:00Z";
    unconfirmedSinceOf(msg)!.should.equal("2026-12-01T09:00:00.000Z");
    (acceptedAtOf({ marketo: "not an object" }) === undefined).should.be.true();
    const bare: Record<string, any> = { payload: 1, marketo: "text" };
    stampAccepted(bare);
    bare.marketo.should.equal("text"); // not a Marketo node's to replace
  });
});
