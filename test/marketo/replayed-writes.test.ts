/**
 * Replayed writes through the client against the emulator: a replayed custom activity that its
 * event's first run already added is found in Marketo and not added again, even when its
 * attribute values changed since; replayed custom activities and custom object records wait
 * behind live ones for Marketo's capacity.
 */
import "should";
import { MarketoClient } from "../../src/lib/marketo";
import { startEmulator, type EmulatorHandle } from "../../src/emulator";

const ENGAGEMENT = 100001;

interface Stored {
  leadId: number;
  activityTypeId: number;
}

describe("replayed writes", () => {
  let emu: EmulatorHandle | undefined;
  let client: MarketoClient | undefined;
  afterEach(async () => {
    await client?.close();
    await emu?.stop();
    client = undefined;
    emu = undefined;
  });

  const engagements = (): Stored[] =>
    (emu!.state().activities as { activities: Stored[] }).activities.filter((a) => a.activityTypeId === ENGAGEMENT);

  function connect(e: EmulatorHandle, concurrency = 10): MarketoClient {
    return new MarketoClient({
      endpoint: e.url,
      clientId: e.clientId,
      clientSecret: e.clientSecret,
      callsPerWindow: 1000,
      concurrency,
      batchWindowMs: 1,
      dailyBudget: 50_000,
    });
  }

  it("a replayed activity already in Marketo is found there, even with other attribute values, and not added again", async () => {
    emu = await startEmulator({ limits: { callsPerWindow: 1000, windowMs: 20_000, concurrency: 10 } });
    client = connect(emu);
    const lead = await client.syncLead({ email: "ada@example.com" });
    const leadId = lead.id as number;
    const arrivedAt = Date.now();
    const first = {
      leadId,
      activityTypeId: ENGAGEMENT,
      primaryAttributeValue: "1_keynote",
      activityDate: new Date(arrivedAt).toISOString(),
      attributes: [{ apiName: "plays", value: 2 }],
    };
    (await client.addCustomActivity(first)).ok.should.be.true();
    engagements().should.have.length(1);

    // The replay maps plays differently now; it is still the first run's activity.
    const replayed = { ...first, attributes: [{ apiName: "plays", value: 3 }] };
    const r = await client.addCustomActivity(replayed, { unconfirmedSince: arrivedAt, background: true });
    r.should.containDeep({ ok: true, status: "added", arrived: true });
    engagements().should.have.length(1);

    // A retry of a live record matches on values too: a different value is another activity.
    const live = await client.addCustomActivity(replayed, { unconfirmedSince: arrivedAt });
    live.ok.should.be.true();
    (live.arrived === true).should.be.false();
    engagements().should.have.length(2);
  });

  for (const kind of ["custom activities", "custom object records"] as const) {
    it(`a live record submitted behind 3,000 replayed ${kind} is sent after at most the calls already granted`, async () => {
      // One call at a time, 50 ms each: ten replay calls queue; the live record must not wait for them all.
      emu = await startEmulator({ limits: { callsPerWindow: 1000, windowMs: 20_000, concurrency: 1 }, latencyMs: 50 });
      client = connect(emu, 1);
      const leadId = (await client.syncLead({ email: "ada@example.com" })).id as number;
      const c = client;
      const send = (i: number, background: boolean) =>
        kind === "custom activities"
          ? c.addCustomActivity(
              {
                leadId,
                activityTypeId: ENGAGEMENT,
                primaryAttributeValue: `entry${i}`,
                activityDate: new Date().toISOString(),
              },
              background ? { background } : {},
            )
          : c.syncCustomObject(
              "kalturaUserSessionEngagement",
              { entry_id: `entry${i}`, personId: leadId },
              { dedupeFields: ["entry_id", "personId"], ...(background ? { background } : {}) },
            );
      let replayed = 0;
      const before = emu.stats().countedCalls;
      const replay = Array.from({ length: 3000 }, (_, i) => send(i, true).then(() => replayed++));
      while (emu.stats().countedCalls < before + 1) await new Promise((r) => setTimeout(r, 5)); // the first replay call
      const live = await send(99_999, false);
      live.ok.should.be.true();
      // At most the call in flight and one granted meanwhile went before it (2 × 300), not all ten.
      replayed.should.be.belowOrEqual(900);
      await Promise.all(replay);
      replayed.should.equal(3000);
    });
  }

  it("a live campaign request goes ahead of 1,500 replayed ones, and a live form fill ahead of 40 replayed fills", async () => {
    // One call at a time, 50 ms each: the replayed calls queue; the live ones must not wait for them all.
    emu = await startEmulator({ limits: { callsPerWindow: 1000, windowMs: 20_000, concurrency: 1 }, latencyMs: 50 });
    client = connect(emu, 1);
    const c = client;
    const synced = await Promise.all(
      Array.from({ length: 1501 }, (_, i) => c.syncLead({ email: `camp${i}@example.com` })),
    );
    const ids = synced.map((r) => r.id as number);
    const campaign = 2001;

    let requested = 0;
    let before = emu.stats().countedCalls;
    const replay = ids
      .slice(0, 1500)
      .map((id) => c.triggerCampaignFor(campaign, id, undefined, { background: true }).then(() => requested++));
    while (emu.stats().countedCalls < before + 1) await new Promise((r) => setTimeout(r, 5));
    (await c.triggerCampaignFor(campaign, ids[1500])).ok.should.be.true();
    // 100 leads a call: at most the call in flight and one granted meanwhile went first, not fifteen.
    requested.should.be.belowOrEqual(200);
    await Promise.all(replay);
    requested.should.equal(1500);

    let filled = 0;
    before = emu.stats().countedCalls;
    const fills = Array.from({ length: 40 }, (_, i) =>
      c.submitForm(3001, { email: `fill${i}@example.com` }, { background: true }).then(() => filled++),
    );
    while (emu.stats().countedCalls < before + 1) await new Promise((r) => setTimeout(r, 5));
    (await c.submitForm(3001, { email: "live-fill@example.com" })).ok.should.be.true();
    // One fill a call: at most the call in flight and one granted meanwhile.
    filled.should.be.belowOrEqual(2);
    await Promise.all(fills);
    filled.should.equal(40);
  });
});
