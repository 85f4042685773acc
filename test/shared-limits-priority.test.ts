/**
 * Live calls before replay calls: a replay's (background) waiters take only what live waiters
 * leave, on one SharedLimits in front of the in-process store.
 */
import should from "should";
import { SharedLimits } from "../src/lib/marketo/shared-limits/shared";
import { LocalStore } from "../src/lib/marketo/shared-limits/local";
import type { Grant } from "../src/lib/marketo/shared-limits/shared";

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe("shared limits: live before replay", () => {
  let shared: SharedLimits;
  afterEach(() => shared?.close());

  it("a live call that arrives behind waiting replay calls is granted before them", async () => {
    // One call at a time: the order of grants is the order of the queue.
    shared = new SharedLimits({
      instance: "priority.test",
      store: new LocalStore(),
      limits: { callsPerWindow: 1000, windowMs: 20_000, concurrency: 1, dailyBudget: 50_000, quotaProbeIntervalMs: 60_000 },
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
