/**
 * The Redis store of the shared limits, in one test process: two SharedLimits on one Redis stand
 * for two Node-RED replicas. The multi-process proof is test/process/replicas.test.ts.
 */
import should from "should";
import { RedisStore } from "../../nodes/lib/marketo/shared-limits/redis";
import { SharedLimits, type Grant } from "../../nodes/lib/marketo/shared-limits/shared";
import type { Limits } from "../../nodes/lib/marketo/shared-limits/types";
import { MarketoClient } from "../../nodes/lib/marketo";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { requireRedis, startRedis, type RedisServer } from "../helpers/redis-server";
import { startNodeRed } from "../helpers/node-red-process";
import { startEmulator } from "../../src/emulator";
import helper = require("node-red-node-test-helper");
import marketoConfig = require("../../nodes/marketo-config");
import marketoLead = require("../../nodes/marketo-lead");
import { editorDefaults } from "../helpers/editor-defaults";
import { configNode as helperConfigNode, lastStatus, spied, until, type FlowNode } from "../helpers/marketo-flow";
import { configNode, emulatorCredentials, httpFeed, postJson, syncLeadNode, TAB } from "../helpers/process-flow";
import { freePort } from "../helpers/redis-server";

helper.init(require.resolve("node-red"));

const LIMITS: Limits = {
  callsPerWindow: 20,
  windowMs: 1000,
  concurrency: 3,
  dailyBudget: 50_000,
  quotaProbeIntervalMs: 60_000,
};

/** redis-server arguments: the default user off, `user` with `password` allowed everything. */
function aclUser(user: string, password: string): string[] {
  return ["--user", "default", "off", "--user", user, "on", `>${password}`, "~*", "&*", "+@all"];
}

interface Logged {
  level: string;
  msg: string;
}

function logger(into: Logged[]) {
  return {
    debug: (msg: string) => into.push({ level: "debug", msg }),
    info: (msg: string) => into.push({ level: "info", msg }),
    warn: (msg: string) => into.push({ level: "warn", msg }),
    error: (msg: string) => into.push({ level: "error", msg }),
  };
}

describe("shared limits in Redis (one process, two replicas' worth)", function () {
  this.timeout(60_000);
  let bin: string;
  let redis: RedisServer | undefined;
  const open: Array<{ shared: SharedLimits; store: RedisStore }> = [];
  let instanceSeq = 0;

  before(function () {
    bin = requireRedis(this);
  });
  afterEach(async () => {
    for (const o of open.splice(0)) {
      o.shared.close();
      await o.store.close();
    }
    await redis?.stop();
    redis = undefined;
  });

  function replica(
    url: string,
    limits: Limits = LIMITS,
    log: Logged[] = [],
    instance = `instance-${instanceSeq}.example`,
  ) {
    const store = new RedisStore({ url, instance, leaseMs: 1000, logger: logger(log) });
    const shared = new SharedLimits({
      instance,
      store,
      limits,
      logger: logger(log),
      storeName: "Redis",
      renewEveryMs: 300,
    });
    open.push({ shared, store });
    return shared;
  }

  it("two replicas never run more calls at once than the slots, nor more in a window than allowed", async () => {
    redis = await startRedis(bin);
    instanceSeq++;
    const a = replica(redis.url);
    const b = replica(redis.url);
    let running = 0;
    let most = 0;
    const starts: number[] = [];
    const call = async (s: SharedLimits, owner: object): Promise<void> => {
      const g: Grant = await s.acquire(owner);
      running++;
      most = Math.max(most, running);
      starts.push(Date.now());
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 60));
      running--;
      g.sent = g.answered = true;
      s.end(g);
    };
    const oa = {};
    const ob = {};
    a.attach(oa, () => undefined);
    b.attach(ob, () => undefined);
    await Promise.all(Array.from({ length: 40 }, (_, i) => call(i % 2 ? a : b, i % 2 ? oa : ob)));
    most.should.be.belowOrEqual(3);
    const inAnyWindow = Math.max(...starts.map((t) => starts.filter((u) => u >= t && u < t + 1000).length));
    inAnyWindow.should.be.belowOrEqual(20);
  });

  it("a 606 pause set by one replica holds the other; the daily count is one", async () => {
    redis = await startRedis(bin);
    instanceSeq++;
    const a = replica(redis.url);
    const b = replica(redis.url);
    const o = {};
    a.attach(o, () => undefined);
    b.attach(o, () => undefined);
    const g = await a.acquire(o);
    g.sent = g.answered = true;
    a.end(g);
    a.pause(600, "Marketo 606: Max rate limit");
    await new Promise((r) => setTimeout(r, 50));
    const asked = Date.now();
    const g2 = await b.acquire(o);
    (Date.now() - asked).should.be.aboveOrEqual(450);
    b.state().kind.should.be.oneOf("rate-limited", "ok");
    g2.sent = g2.answered = true;
    b.end(g2);
    b.callsToday.should.equal(2);
  });

  it("Redis unreachable: calls wait (state 'waiting for Redis'), none is granted, and they resume by themselves", async () => {
    redis = await startRedis(bin);
    instanceSeq++;
    const a = replica(redis.url);
    const o = {};
    const states: string[] = [];
    a.attach(o, () =>
      states.push(a.state().kind === "waiting" ? (a.state() as { reason: string }).reason : a.state().kind),
    );
    const first = await a.acquire(o);
    first.sent = first.answered = true;
    a.end(first);
    await redis.stop();
    let granted = false;
    const p = a.acquire(o).then((g) => {
      granted = true;
      return g;
    });
    await new Promise((r) => setTimeout(r, 1500));
    granted.should.be.false();
    states.should.containEql("waiting for Redis");
    const back = Date.now();
    await redis.start();
    const g = await p;
    (Date.now() - back).should.be.below(3000);
    g.sent = g.answered = true;
    a.end(g);
    a.state().kind.should.equal("ok");
  });

  it("Redis restarted empty: the day count put back is every call made, including those made on a lower figure first", async () => {
    redis = await startRedis(bin);
    instanceSeq++;
    const rs = [replica(redis.url), replica(redis.url), replica(redis.url)];
    const o = {};
    for (const r of rs) r.attach(o, () => undefined);
    const call = async (r: SharedLimits): Promise<void> => {
      const g = await r.acquire(o);
      g.sent = g.answered = true;
      r.end(g);
    };
    // One after another, so the three last saw the day at 1, 2 and 3 calls.
    for (const r of rs) await call(r);
    await redis.stop();
    await redis.start();
    // The one that knows least puts its figure back first and calls on it; the others follow.
    for (const r of rs) await call(r);
    rs[2].callsToday.should.equal(6);
  });

  it("replicas configured with different limits: the first set wins, the other warns", async () => {
    redis = await startRedis(bin);
    instanceSeq++;
    const logA: Logged[] = [];
    const logB: Logged[] = [];
    const a = replica(redis.url, LIMITS, logA);
    const o = {};
    a.attach(o, () => undefined);
    const ga = await a.acquire(o);
    a.end(ga);
    const b = replica(redis.url, { ...LIMITS, concurrency: 7, callsPerWindow: 50 }, logB);
    b.attach(o, () => undefined);
    const gb = await b.acquire(o);
    b.end(gb);
    b.limits.concurrency.should.equal(3);
    b.limits.callsPerWindow.should.equal(20);
    logB.filter((l) => l.level === "warn" && /set the limits first/.test(l.msg)).should.have.length(1);
    logA.filter((l) => l.level === "warn").should.have.length(0);
    a.limits.concurrency.should.equal(3);
  });

  it("an ACL user and password: works, and the password appears in no log, state or error", async () => {
    const password = "s3cret-redis-Pass";
    redis = await startRedis(bin, aclUser("marketo", password));
    instanceSeq++;
    const log: Logged[] = [];
    const good = replica(`redis://marketo:${password}@127.0.0.1:${redis.port}`, LIMITS, log);
    const o = {};
    good.attach(o, () => undefined);
    const g = await good.acquire(o);
    g.sent = g.answered = true;
    good.end(g);
    // A wrong password: calls wait, and what is logged names the problem but not the secret.
    const wrong = "wr0ng-Pass-123";
    const bad = replica(
      `redis://marketo:${wrong}@127.0.0.1:${redis.port}`,
      LIMITS,
      log,
      `other-${instanceSeq}.example`,
    );
    bad.attach(o, () => undefined);
    let granted = false;
    void bad.acquire(o).then(
      () => (granted = true),
      () => undefined,
    );
    await new Promise((r) => setTimeout(r, 1200));
    granted.should.be.false();
    bad.state().kind.should.equal("waiting");
    const text = JSON.stringify(log) + JSON.stringify(bad.state());
    text.should.not.containEql(password);
    text.should.not.containEql(wrong);
    log.some((l) => /WRONGPASS|NOAUTH|invalid/i.test(l.msg)).should.be.true();
  });

  it("a client with a Redis URL: a bad URL is a validation error that does not repeat the password", () => {
    const secret = "pa55word-in-url";
    try {
      new MarketoClient({
        endpoint: "https://123-abc-456.mktorest.com",
        clientId: "id",
        clientSecret: "s",
        redisUrl: `http://user:${secret}@host:6379`,
      });
      should.fail(false, true, "a client was made");
    } catch (err) {
      const e = err as { category?: string; message: string };
      should(e.category).equal("validation");
      e.message.should.not.containEql(secret);
      e.message.should.match(/redis:\/\/ or rediss:\/\//);
    }
  });

  it("ioredis is loaded only when a Redis URL is set", () => {
    const lib = path.resolve(__dirname, "..", "..", "nodes", "lib", "marketo");
    const probe = (redisUrl: string): boolean => {
      const code = `
        const { MarketoClient } = require(${JSON.stringify(lib)});
        const c = new MarketoClient({ endpoint: "http://127.0.0.1:9", clientId: "id", clientSecret: "s"${redisUrl ? `, redisUrl: ${JSON.stringify(redisUrl)}` : ""} });
        const loaded = Object.keys(require.cache).some((k) => k.includes("/node_modules/ioredis/"));
        c.close().then(() => { process.stdout.write(String(loaded)); process.exit(0); });`;
      return execFileSync(process.execPath, ["-e", code], { encoding: "utf8" }) === "true";
    };
    probe("").should.be.false();
    probe("redis://127.0.0.1:9").should.be.true();
  });

  it("a real Node-RED with the Redis URL as a credential (ACL user): the password is in no log, flow export or credentials answer", async () => {
    const password = "n0de-red-Redis-pw";
    redis = await startRedis(bin, aclUser("marketo", password));
    const emu = await startEmulator();
    const red = await startNodeRed({
      flows: [
        { id: TAB, type: "tab", label: "redis credential" },
        configNode(emu, { callsPerWindow: 100, concurrency: 10, dailyBudget: 50000, batchWindowMs: 20 }),
        ...httpFeed("/events", "lead"),
        syncLeadNode("lead", "cfg"),
      ],
      credentials: emulatorCredentials(emu, "cfg", {
        redisUrl: `redis://marketo:${password}@127.0.0.1:${redis.port}`,
      }),
    });
    try {
      const res = await postJson(red.url, "/events", { email: "ada@example.com" });
      res.status.should.equal(200);
      await until(() => emu.state().leads.length >= 1, "the lead in Marketo", 20_000, 50).catch(() => undefined);
      emu.state().leads.should.have.length(1);
      // Redis goes away: the log says so, without the password.
      await redis.stop();
      await red.waitForLog(/Redis: .*calls wait until it answers/, 20_000);
      const flows = await red.request("GET", "/flows");
      const creds = await red.request("GET", "/credentials/marketo-config/cfg");
      creds.body.should.containEql({ has_redisUrl: true });
      for (const text of [red.log(), flows.text, creds.text]) text.should.not.containEql(password);
    } finally {
      await red.stop();
      await emu.stop();
    }
  });

  it("Redis unreachable from the start: the action node shows 'waiting for Redis' and Marketo gets no call", async () => {
    const emu = await startEmulator();
    const nowhere = `redis://127.0.0.1:${await freePort()}`;
    try {
      await helper.load(
        [marketoConfig, marketoLead],
        [
          { id: "tab", type: "tab", label: "no redis" },
          helperConfigNode(emu, { z: "tab", batchWindowMs: 20 }),
          {
            ...editorDefaults("marketo-lead"),
            id: "lead",
            type: "marketo-lead",
            z: "tab",
            marketo: "cfg",
            bulkThreshold: 0,
            wires: [[], []],
          },
        ] as FlowNode[] as unknown as Parameters<typeof helper.load>[1],
        { cfg: { clientId: emu.clientId, clientSecret: emu.clientSecret, redisUrl: nowhere } },
      );
      spied("lead").receive({ payload: { email: "ada@example.com" } });
      await until(
        () => /waiting for Redis/.test(lastStatus("lead")?.text ?? ""),
        "the status 'waiting for Redis'",
        10_000,
      );
      should(emu.stats().callsByRoute["POST /rest/v1/leads.json"] ?? 0).equal(0);
    } finally {
      await helper.unload();
      await emu.stop();
    }
  });
});
