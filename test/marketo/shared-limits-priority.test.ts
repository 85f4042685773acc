/**
 * Live calls before replay calls: a replay's (background) waiters take only what live waiters
 * leave, on one SharedLimits in front of the in-process store.
 */
import should from "should";
import { SharedLimits } from "../../src/lib/marketo/shared-limits/shared";
import { LocalStore } from "../../src/lib/marketo/shared-limits/local";
import type { Grant } from "../../src/lib/marketo/shared-limits/shared";
import { MarketoClient } from "../../src/lib/marketo";
import { startEmulator, type EmulatorHandle } from "../../src/emulator";

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe("shared limits: live before replay", () => {
  let shared: SharedLimits;
  afterEach(() => shared?.close());

  it("a live call that arrives behind waiting replay calls is granted before them", async () => {
    // One call at a time: the order of grants is the order of the queue.
    shared = new SharedLimits({
      instance: "priority.test",
      store: new LocalStore(),
      limits: {
        callsPerWindow: 1000,
        windowMs: 20_000,
        concurrency: 1,
        dailyBudget: 50_000,
        quotaProbeIntervalMs: 60_000,
      },
      logger: quiet as never,
    });
    const owner = {};
    shared.attach(owner, () => undefined);
    const order: string[] = [];
    const grants: Array<Promise<void>> = [];
    const take = (name: string, background: boolean) =>
      grants.push(
        shared.acquire(owner, false, background).then((g: Grant) => {
          order.push(name);
          g.answered = true;
          // Hold the slot for a turn so later waiters queue up behind it.
          setImmediate(() => shared.end(g));
        }),
      );
    take("live-0", false);
    for (let i = 0; i < 5; i++) take(`replay-${i}`, true);
    take("live-1", false);
    take("live-2", false);
    await Promise.all(grants);
    order.slice(0, 3).should.eql(["live-0", "live-1", "live-2"]);
    order.slice(3).should.eql(["replay-0", "replay-1", "replay-2", "replay-3", "replay-4"]);
    should(shared.waitingFor(owner)).equal(0);
  });
});

describe("client: replayed lead syncs wait behind live ones", function () {
  this.timeout(60_000);
  let emu: EmulatorHandle | undefined;
  let client: MarketoClient | undefined;
  afterEach(async () => {
    await client?.close();
    await emu?.stop();
  });

  it("a live record submitted behind 3,000 replayed ones is sent after at most the calls already granted", async () => {
    // One call at a time, 50 ms each: ten replay calls queue; the live record must not wait for them all.
    emu = await startEmulator({ limits: { callsPerWindow: 1000, windowMs: 20_000, concurrency: 1 }, latencyMs: 50 });
    client = new MarketoClient({
      endpoint: emu.url,
      clientId: emu.clientId,
      clientSecret: emu.clientSecret,
      callsPerWindow: 1000,
      concurrency: 1,
      batchWindowMs: 1,
      dailyBudget: 50_000,
    });
    let replayed = 0;
    const replay = Array.from({ length: 3000 }, (_, i) =>
      client!.syncLead({ email: `replay${i}@example.com` }, { background: true }).then(() => replayed++),
    );
    while (emu.stats().countedCalls < 2) await new Promise((r) => setTimeout(r, 5)); // the token and the first replay call
    const live = await client.syncLead({ email: "live@example.com" });
    live.ok.should.be.true();
    // At most the call in flight and one granted meanwhile went before it (2 × 300), not all ten.
    replayed.should.be.belowOrEqual(900);
    await Promise.all(replay);
    replayed.should.equal(3000);
  });
});
