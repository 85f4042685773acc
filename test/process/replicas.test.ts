/**
 * Three real Node-RED processes with identical flows on one Redis (MARKETO_REDIS_URL, nothing
 * in the dialog), against emulators at a 2 s window: together they keep to one set of limits,
 * survive a replica killed with calls in flight and a Redis that goes away, keep one daily
 * budget and send one 607 probe per interval between them.
 */
import should from "should";
import type { EmulatorHandle } from "../../src/emulator";
import type { NodeRedProcess } from "../helpers/node-red-process";
import { configNode, emulatorCredentials, httpFeed, postOk, syncLeadNode, TAB } from "../helpers/process-flow";
import { ProcessRig } from "../helpers/process-rig";
import type { RedisServer } from "../helpers/redis-server";
import { sleep, until as untilEvery } from "../helpers/until";

/** Marketo's limits, the window scaled from 20 s to 2 s. */
const LIMITS = { callsPerWindow: 100, windowMs: 2000, concurrency: 10 };
const LEASE_MS = 3000;
const LATENCY = { latencyMs: 30, latencyJitterMs: 270 };
const LEADS = "POST /rest/v1/leads.json";

const until = (cond: () => boolean, what: string, ms: number): Promise<void> => untilEvery(cond, what, ms, 10);

/** The same flows on every replica: three instances (three emulators), fed over HTTP. */
export function replicaFlows(
  main: EmulatorHandle,
  budget: EmulatorHandle,
  quota: EmulatorHandle,
): Array<Record<string, unknown>> {
  const cfg = (id: string, emu: EmulatorHandle, extra: Record<string, unknown>) =>
    configNode(emu, {
      id,
      name: `emulator ${id}`,
      ...LIMITS,
      dailyBudget: 50000,
      batchWindowMs: 100,
      leaseMs: LEASE_MS,
      ...extra,
    });
  const feed = (path: string, lead: string, config: string) => [
    ...httpFeed(path, lead, lead),
    syncLeadNode(lead, config),
  ];
  return [
    { id: TAB, type: "tab", label: "replica" },
    cfg("cfg-main", main, {}),
    cfg("cfg-budget", budget, { dailyBudget: 150, batchWindowMs: 20 }),
    cfg("cfg-quota", quota, { batchWindowMs: 20, quotaProbeIntervalMs: 2000 }),
    ...feed("/main", "lead-main", "cfg-main"),
    ...feed("/budget", "lead-budget", "cfg-budget"),
    ...feed("/quota", "lead-quota", "cfg-quota"),
  ];
}

const post = (red: NodeRedProcess, path: string, body: unknown): Promise<void> => postOk(red.url, path, body);

function batch(k: number, size = 1000): Array<Record<string, string>> {
  return Array.from({ length: size }, (_, i) => ({ email: `r${k}-${i}@example.com`, firstName: `R${k}` }));
}

function noRateErrors(emu: EmulatorHandle): void {
  const s = emu.stats();
  should(s.answersByCode["606"] ?? 0).equal(0, "606 answers");
  should(s.answersByCode["615"] ?? 0).equal(0, "615 answers");
  s.maxCallsInWindow.should.be.belowOrEqual(LIMITS.callsPerWindow);
  s.maxInFlight.should.be.belowOrEqual(LIMITS.concurrency);
}

describe("three Node-RED replicas on one Redis", function () {
  this.timeout(180_000);
  const rig = new ProcessRig();
  let redis: RedisServer;
  let main: EmulatorHandle;
  let budget: EmulatorHandle;
  let quota: EmulatorHandle;
  let reds: NodeRedProcess[] = [];
  let delivered = 0;
  let nextBatch = 0;

  before(async function () {
    redis = await rig.redis(this);
    main = await rig.emulator({ limits: LIMITS, ...LATENCY });
    budget = await rig.emulator({ limits: LIMITS, ...LATENCY });
    quota = await rig.emulator({ limits: LIMITS, ...LATENCY });
    reds = await rig.replicas(3, {
      flows: replicaFlows(main, budget, quota),
      credentials: {
        ...emulatorCredentials(main, "cfg-main"),
        ...emulatorCredentials(budget, "cfg-budget"),
        ...emulatorCredentials(quota, "cfg-quota"),
      },
      env: { MARKETO_REDIS_URL: redis.url },
    });
  });
  after(() => rig.stop());

  const leadsIn = (emu: EmulatorHandle): number => emu.state().leads.length;

  /** 30 batches of 1,000 registrations posted at once, each replica taking every third one. */
  async function spreadOverReplicas(): Promise<void> {
    await Promise.all(Array.from({ length: 30 }, (_, k) => post(reds[k % 3], "/main", batch(nextBatch++))));
    delivered += 30_000;
  }

  it("30,000 registrations spread over three replicas: 0 × 606/615, ≤ the window and ≤ 10 in flight as the emulator counts, every record delivered", async () => {
    main.resetStats();
    await spreadOverReplicas();
    await until(() => leadsIn(main) === delivered, "30,000 leads in Marketo", 90_000);
    noRateErrors(main);
    // Calls really came from all three.
    main.stats().callsByRoute[LEADS].should.be.aboveOrEqual(100);
  });

  it("kill -9 of a replica holding every slot: the others' next call comes within one lease + 1 s; nothing lost after its restart", async () => {
    main.resetStats();
    main.setFaults({ latencyMs: 1500, latencyJitterMs: 0 });
    await sleep(LIMITS.windowMs + 100);
    for (let k = 0; k < 10; k++) await post(reds[0], "/main", batch(nextBatch++));
    await until(() => main.stats().inFlight >= LIMITS.concurrency, "replica 0 holding all 10 slots", 30_000);
    await reds[0].kill("SIGKILL");
    const killedAt = Date.now();
    const before = main.stats().callsByRoute[LEADS] ?? 0;
    await post(reds[1], "/main", batch(nextBatch++));
    await post(reds[2], "/main", batch(nextBatch++));
    await until(() => (main.stats().callsByRoute[LEADS] ?? 0) > before, "a call from another replica", 20_000);
    const stall = Date.now() - killedAt;
    stall.should.be.belowOrEqual(LEASE_MS + 1000);
    main.setFaults(LATENCY);
    await reds[0].restart(); // its journal sends what it had accepted
    delivered += 12_000;
    await until(() => leadsIn(main) === delivered, "every lead, the dead replica's too", 90_000);
    noRateErrors(main);
  });

  it("Redis stopped for 10 s mid-run: 0 calls in the gap, calls resume within 2 s of its restart, every record delivered", async () => {
    main.resetStats();
    await spreadOverReplicas();
    await until(() => (main.stats().callsByRoute[LEADS] ?? 0) >= 10, "the run under way", 30_000);
    const logFrom = reds.map((r) => r.log().length);
    await redis.stop();
    let back = 0;
    try {
      // Calls granted before Redis went still go out and are answered; after them, nothing.
      await until(() => main.stats().inFlight === 0, "the calls on the wire when Redis went to be answered", 10_000);
      await sleep(1000);
      const atStop = main.stats().countedCalls;
      (leadsIn(main) < delivered).should.be.true(); // mid-run
      await sleep(10_000);
      main.stats().countedCalls.should.equal(atStop);
      reds.some((r, i) => /Redis: .*calls wait until it answers/.test(r.log().slice(logFrom[i]))).should.be.true();
    } finally {
      // A failure here leaves Redis running for the tests after this one.
      await redis.start();
      back = Date.now();
    }
    const atRestart = main.stats().countedCalls;
    await until(() => main.stats().countedCalls > atRestart, "the first call after Redis is back", 10_000);
    (Date.now() - back).should.be.belowOrEqual(2000);
    await until(() => leadsIn(main) === delivered, "every lead after the outage", 90_000);
    noRateErrors(main);
  });

  it("Redis restarted mid-run (no pause): calls resume within 2 s and the window holds", async () => {
    main.resetStats();
    await spreadOverReplicas();
    await until(() => (main.stats().callsByRoute[LEADS] ?? 0) >= 30, "the run under way", 30_000);
    await redis.stop();
    await redis.start();
    const back = Date.now();
    const atRestart = main.stats().countedCalls;
    await until(() => main.stats().countedCalls > atRestart, "the first call after the restart", 10_000);
    (Date.now() - back).should.be.belowOrEqual(2000);
    await until(() => leadsIn(main) === delivered, "every lead", 90_000);
    noRateErrors(main);
  });

  it("a daily budget of 150 gives exactly 150 calls across the three", async () => {
    // One lead per replica, again and again: each message is its own call (3 × 60 wanted).
    const from = reds.map((r) => r.log().length);
    await Promise.all(
      reds.map(async (r, i) => {
        for (let m = 0; m < 60; m++) await post(r, "/budget", { email: `budget${i}@example.com`, firstName: `B${m}` });
      }),
    );
    await Promise.all(reds.map((r, i) => r.waitForLog(/daily budget of 150 calls used/, 60_000, from[i])));
    await sleep(1000);
    budget.stats().countedCalls.should.equal(150);
    noRateErrors(budget);
  });

  it("a 607: one probe per interval across the three replicas, and everything delivered once the quota is back", async () => {
    quota.setLimits({ dailyQuota: quota.stats().countedCalls + 6 });
    await Promise.all(
      reds.map(async (r, i) => {
        for (let m = 0; m < 20; m++) await post(r, "/quota", { email: `quota${i}@example.com`, firstName: `Q${m}` });
      }),
    );
    const count607 = (): number => quota.stats().answersByCode["607"] ?? 0;
    await until(() => count607() >= 1, "the first 607", 30_000);
    await sleep(1000); // calls already on the wire when the quota ran out answer 607 too
    const a1 = count607();
    await sleep(6000); // three probe intervals of 2 s
    const probes = count607() - a1;
    probes.should.be.aboveOrEqual(1);
    // Each replica probing on its own would send about nine.
    probes.should.be.belowOrEqual(4);
    quota.setLimits({ dailyQuota: 50_000 });
    quota.rolloverDay();
    const answered = (): number => quota.stats().callsByRoute[LEADS] - (quota.stats().answersByCode["607"] ?? 0);
    await until(() => answered() >= 60, "all 60 calls answered after the quota came back", 60_000);
    noRateErrors(quota);
  });
});
