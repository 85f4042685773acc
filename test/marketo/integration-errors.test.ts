/**
 * Every error class the foundation promises to handle, provoked in the shipped emulator and
 * met by the shipped client: what the client does with it, and that no record goes missing.
 */
import should from "should";
import { MarketoClient } from "../../nodes/lib/marketo";
import { startEmulator, type EmulatorHandle, type EmulatorOptions } from "../../nodes/emulator";

const leads = (n: number, prefix = "p") =>
  Array.from({ length: n }, (_, i) => ({ email: `${prefix}${i}@example.com`, lastName: `L${i}` }));

describe("client against the emulator: error classes", function () {
  this.timeout(60_000);
  let emu: EmulatorHandle;
  const clients: MarketoClient[] = [];

  async function start(opts: EmulatorOptions = {}) {
    emu = await startEmulator(opts);
    return emu;
  }
  function client(opts: Partial<ConstructorParameters<typeof MarketoClient>[0]> = {}) {
    const c = new MarketoClient({
      endpoint: emu.url,
      clientId: emu.clientId,
      clientSecret: emu.clientSecret,
      batchWindowMs: 20,
      retry: { maxAttempts: 6, baseDelayMs: 20, maxDelayMs: 200 },
      ...opts,
    });
    clients.push(c);
    return c;
  }

  afterEach(async () => {
    while (clients.length) await clients.pop()!.close();
    if (emu) await emu.stop();
  });

  it("606 storm from a second tenant: backs off, then delivers every record", async () => {
    const limits = { callsPerWindow: 10, windowMs: 1000, concurrency: 10 };
    await start({ limits });
    emu.addClient({ clientId: "other-tool", clientSecret: "other-secret" });

    // The other tool ignores the limits: it fires cheap reads in a loop for 2.5 s.
    const tokenRes = await fetch(
      `${emu.url}/identity/oauth/token?grant_type=client_credentials&client_id=other-tool&client_secret=other-secret`,
    );
    const { access_token } = (await tokenRes.json()) as { access_token: string };
    let burning = true;
    const burner = (async () => {
      while (burning) {
        await fetch(`${emu.url}/rest/v1/leads/describe.json`, {
          headers: { Authorization: `Bearer ${access_token}` },
        }).then((r) => r.arrayBuffer());
      }
    })();
    setTimeout(() => (burning = false), 2500).unref();

    const c = client({ ...limits, maxBatchSize: 10 });
    const started = Date.now();
    const results = await Promise.all(leads(100).map((l) => c.syncLead(l)));
    const elapsedMs = Date.now() - started;
    burning = false;
    await burner;

    results.every((r) => r.ok).should.be.true();
    emu.state().leads.length.should.equal(100);
    const ours606 = c.usage().answersByCode["606"] ?? 0;
    ours606.should.be.above(0); // the storm did reach us
    // Backing off: at most one 606 per quarter window on average, never a tight loop.
    ours606.should.be.belowOrEqual(Math.ceil(elapsedMs / 250) + 2);
  });

  it("615 when other calls hold the instance's slots: waits and delivers", async () => {
    // A generous window so concurrency is the only limit in play: the instance allows 2 calls
    // at once, the client believes it has 6 (as when other tools hold the rest).
    const window = { callsPerWindow: 1000, windowMs: 1000 };
    await start({ limits: { ...window, concurrency: 2 }, latencyMs: 80 });
    const c = client({ ...window, concurrency: 6, maxBatchSize: 10 });
    const results = await Promise.all(leads(60).map((l) => c.syncLead(l)));
    results.every((r) => r.ok).should.be.true();
    (c.usage().answersByCode["615"] ?? 0).should.be.above(0);
    emu.state().leads.length.should.equal(60);
  });

  it("607: pauses with a resume time, then delivers after the emulator's day rolls over", async () => {
    await start({ limits: { dailyQuota: 2 } });
    const c = client({ maxBatchSize: 10, quotaProbeIntervalMs: 150 });
    const states: string[] = [];
    c.on("state", (s: { state: string; resumesAt?: string }) => states.push(s.state));
    const done = Promise.all(leads(40).map((l) => c.syncLead(l)));
    await waitFor(() => c.usage().state === "quota");
    should(c.usage().resumesAt).be.a.String();
    emu.state().leads.length.should.equal(20);
    emu.rolloverDay();
    const results = await done;
    results.every((r) => r.ok).should.be.true();
    emu.state().leads.length.should.equal(40);
    states.should.containEql("quota");
    c.usage().state.should.equal("ok");
  });

  it("601/602: a token expiring mid-run is refreshed once and the call retried", async () => {
    await start();
    const c = client();
    (await c.syncLead({ email: "first@example.com" })).ok.should.be.true();
    emu.expireTokens();
    const r = await c.syncLead({ email: "second@example.com" });
    r.ok.should.be.true();
    (c.usage().answersByCode["602"] ?? 0).should.equal(1);
    emu.stats().identityCalls.should.equal(2);
  });

  it("identity 401: every record fails with category auth and Marketo's reason, no secret", async () => {
    await start();
    const c = client({ clientSecret: "wrong-secret-value" });
    const r = await c.syncLead({ email: "a@example.com" });
    r.ok.should.be.false();
    r.error!.category.should.equal("auth");
    r.error!.message.should.match(/Bad client credentials/);
    JSON.stringify(r.error).should.not.match(/wrong-secret-value/);
    String(r.error!.stack).should.not.match(/wrong-secret-value/);
    emu.state().leads.length.should.equal(0);
  });

  it("5xx, 502 pages and transient codes are retried until every record lands", async () => {
    await start({ faults: { rate: 0.35, codes: ["502", "500", "604", "608", "713"] } });
    const c = client({ maxBatchSize: 5, retry: { maxAttempts: 12, baseDelayMs: 5, maxDelayMs: 50 } });
    const results = await Promise.all(leads(100).map((l) => c.syncLead(l)));
    results
      .filter((r) => !r.ok)
      .map((r) => r.error?.toJSON())
      .should.eql([]);
    emu.state().leads.length.should.equal(100);
    const faults = emu.stats().answersByCode;
    Object.keys(faults)
      .some((k) => ["502", "500", "604", "608", "713"].includes(k))
      .should.be.true();
  });

  it("611 (an exception inside Marketo) is tried once more, then reported as retryable", async () => {
    await start({ faults: { rate: 1, codes: ["611"] } });
    const c = client();
    const r = await c.syncLead({ email: "boom@example.com" });
    r.ok.should.be.false();
    r.status.should.equal("failed");
    r.error!.code.should.equal("611");
    r.error!.category.should.equal("marketo");
    r.error!.retryable.should.be.true();
    emu.stats().answersByCode["611"].should.equal(2);
  });

  it("connection resets and timeouts are network errors: retried, then reported if they persist", async () => {
    await start({ faults: { resetRate: 0.3 } });
    const c = client({ maxBatchSize: 5, retry: { maxAttempts: 12, baseDelayMs: 5, maxDelayMs: 50 } });
    const results = await Promise.all(leads(50).map((l) => c.syncLead(l)));
    results.every((r) => r.ok).should.be.true();
    await c.close();
    await emu.stop();

    await start({ latencyMs: 400 });
    const slow = client({ requestTimeoutMs: 100, retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 } });
    const r = await slow.syncLead({ email: "slow@example.com" });
    r.ok.should.be.false();
    r.error!.category.should.equal("network");
    r.error!.retryable.should.be.true();
  });

  it("record-level skips come back per record with their Marketo code and a category", async () => {
    await start();
    const c = client();
    const [missing, badScore, fine] = await Promise.all([
      c.syncLead({ email: "nobody@example.com" }, { action: "updateOnly" }),
      c.syncLead({ email: "score@example.com", leadScore: "abc" }),
      c.syncLead({ email: "fine@example.com" }),
    ]);
    missing.ok.should.be.false();
    missing.status.should.equal("skipped");
    missing.error!.code.should.equal("1004");
    missing.error!.category.should.equal("validation");
    badScore.ok.should.be.false();
    badScore.error!.code.should.equal("1003");
    fine.ok.should.be.true();
    fine.status.should.equal("created");
    should(fine.requestId).be.a.String();
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
