/**
 * The retry queue in Redis mode, with two real Node-RED processes running identical flows
 * (MARKETO_REDIS_URL, nothing in the dialog): an entry that failed on replica A is listed and
 * resubmitted from replica B's admin API, and reaches the emulator once.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import should from "should";
import { startEmulator, type EmulatorHandle } from "../../src/emulator";
import { startNodeRed, type NodeRedProcess } from "../helpers/node-red-process";
import { requireRedis, startRedis, type RedisServer } from "../helpers/redis-server";

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function flows(emu: EmulatorHandle, gate = false, redisFromConfig = false): Array<Record<string, unknown>> {
  const z = "tab";
  // A failure as lead1's output 2 gives it: a validation failure waits for a person.
  const fail = [
    "msg.payload = { email: msg.payload.email, firstName: 'Ann' };",
    "msg.marketo = { error: { category: 'validation', code: '1003', message: 'a person must look', retryable: false, action: 'permanent',",
    "  source: { id: 'lead1', type: 'marketo-lead', name: 'Leads' } } };",
    "delete msg.req; delete msg.res;",
    "return msg;",
  ].join("\n");
  return [
    { id: z, type: "tab", label: "replica" },
    {
      id: "cfg",
      type: "marketo-config",
      z: "",
      name: "emulator",
      endpoint: emu.url,
      credentialSource: "credentials",
      batchWindowMs: 20,
    },
    { id: "in", type: "http in", z, url: "/fail", method: "post", upload: false, wires: [["ack", "make-failure"]] },
    { id: "ack", type: "http response", z, statusCode: "200", wires: [] },
    { id: "make-failure", type: "function", z, func: fail, outputs: 1, wires: [["rq"]] },
    {
      id: "rq",
      type: "retry-queue",
      z,
      name: "failures",
      ...(redisFromConfig ? { marketo: "cfg" } : {}),
      maxAttempts: 3,
      backoff: "10m",
      answerTimeout: "5m",
      wires: [[gate ? "gate" : "lead1"], [], []],
    },
    // Replica "a" swallows resubmissions: one is in flight there when it is killed.
    {
      id: "gate",
      type: "function",
      z,
      func: "return env.get('REPLICA') === 'a' ? null : msg;",
      outputs: 1,
      wires: [["lead1"]],
    },
    {
      id: "lead1",
      type: "marketo-lead",
      z,
      name: "Leads",
      marketo: "cfg",
      action: "sync",
      syncAction: "createOrUpdate",
      lookupField: "email",
      raiseErrors: false,
      bulkThreshold: 0,
      wires: [[], ["rq"]],
    },
  ];
}

describe("retry queue shared by two Node-RED replicas through Redis", function () {
  this.timeout(120_000);
  let redis: RedisServer;
  let emu: EmulatorHandle;
  const reds: NodeRedProcess[] = [];

  before(async function () {
    const bin = requireRedis(this);
    redis = await startRedis(bin);
    emu = await startEmulator({});
    const f = flows(emu);
    const creds = { cfg: { clientId: emu.clientId, clientSecret: emu.clientSecret } };
    for (let i = 0; i < 2; i++)
      reds.push(await startNodeRed({ flows: f, credentials: creds, env: { MARKETO_REDIS_URL: redis.url } }));
  });
  after(async () => {
    await Promise.all(reds.map((r) => r.stop()));
    await emu?.stop();
    await redis?.stop();
  });

  it("replica B lists and resubmits an entry that failed on replica A; the lead reaches Marketo once", async () => {
    const [a, b] = reds;
    const res = await fetch(`${a.url}/fail`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: "ann@example.com" }),
    });
    should(res.status).equal(200);
    await res.text();

    const listed = await until(
      "B to list A's entry",
      async () => (await b.request("GET", "/retry-queue/rq/entries")).body,
      (body) => body?.total === 1,
    );
    should(listed.shared).equal(true);
    should(listed.entries[0].state).equal("held");
    should(listed.entries[0].record.email).equal("ann@example.com");
    should(emu.state().leads.length).equal(0);

    const r = await b.request("POST", "/retry-queue/rq/resubmit", { body: { filter: { state: "held" } } });
    should(r.status).equal(200);
    should(r.body).eql({ resubmitted: 1 });

    await until(
      "the entry delivered, seen from A",
      async () => (await a.request("GET", "/retry-queue/rq/entries")).body,
      (body) => body?.total === 0 && body.totals.delivered === 1,
    );
    const leads = emu.state().leads.filter((l) => l.email === "ann@example.com");
    should(leads.length).equal(1);
    const summary = (await b.request("GET", "/retry-queue")).body;
    should(summary[0]).containDeep({ id: "rq", shared: true, size: 0 });
  });
});

describe("retry queue on Redis: a replica killed mid-resubmission", function () {
  this.timeout(180_000);
  let redis: RedisServer;
  let emu: EmulatorHandle;
  const reds: NodeRedProcess[] = [];

  before(async function () {
    const bin = requireRedis(this);
    redis = await startRedis(bin);
    emu = await startEmulator({});
  });
  after(async () => {
    await Promise.all(reds.map((r) => r.stop()));
    await emu?.stop();
    await redis?.stop();
  });

  it("another replica sends the entry once the dead one's lock expires; the lead reaches Marketo once", async () => {
    const f = flows(emu, true);
    const creds = { cfg: { clientId: emu.clientId, clientSecret: emu.clientSecret } };
    const a = await startNodeRed({ flows: f, credentials: creds, env: { MARKETO_REDIS_URL: redis.url, REPLICA: "a" } });
    reds.push(a);
    const res = await fetch(`${a.url}/fail`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: "cy@example.com" }),
    });
    await res.text();
    await until(
      "A to hold the entry",
      async () => (await a.request("GET", "/retry-queue/rq/entries")).body,
      (body) => body?.total === 1 && body.entries[0].state === "held",
    );
    should((await a.request("POST", "/retry-queue/rq/resubmit", { body: {} })).body).eql({ resubmitted: 1 });
    await until(
      "A's resubmission under way",
      async () => (await a.request("GET", "/retry-queue/rq/entries")).body,
      (body) => body?.entries?.[0]?.state === "retrying",
    );
    await a.kill("SIGKILL");
    should(emu.state().leads.length).equal(0);

    const b = await startNodeRed({ flows: f, credentials: creds, env: { MARKETO_REDIS_URL: redis.url, REPLICA: "b" } });
    reds.push(b);
    await until(
      "B to deliver the dead replica's entry",
      async () => (await b.request("GET", "/retry-queue/rq/entries")).body,
      (body) => body?.total === 0 && body.totals.delivered === 1,
      90_000,
    );
    should(emu.state().leads.filter((l) => l.email === "cy@example.com").length).equal(1);
  });
});

describe("retry queue: entries journaled before Redis was set", function () {
  this.timeout(120_000);
  let redis: RedisServer;
  let emu: EmulatorHandle;
  let userDir: string;
  const reds: NodeRedProcess[] = [];

  before(async function () {
    const bin = requireRedis(this);
    redis = await startRedis(bin);
    emu = await startEmulator({});
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), "nr-rq-adopt-"));
  });
  after(async () => {
    await Promise.all(reds.map((r) => r.stop()));
    await emu?.stop();
    await redis?.stop();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it("move into the shared queue at the first start with MARKETO_REDIS_URL, once", async () => {
    const f = flows(emu);
    const creds = { cfg: { clientId: emu.clientId, clientSecret: emu.clientSecret } };
    const alone = await startNodeRed({ flows: f, credentials: creds, userDir });
    reds.push(alone);
    for (const email of ["d1@example.com", "d2@example.com"]) {
      const res = await fetch(`${alone.url}/fail`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email }),
      });
      await res.text();
    }
    await until(
      "two held entries in the journal",
      async () => (await alone.request("GET", "/retry-queue/rq/entries")).body,
      (body) => body?.total === 2,
    );
    await alone.kill("SIGTERM");

    const a = await startNodeRed({ flows: f, credentials: creds, userDir, env: { MARKETO_REDIS_URL: redis.url } });
    reds.push(a);
    const b = await startNodeRed({ flows: f, credentials: creds, env: { MARKETO_REDIS_URL: redis.url } });
    reds.push(b);
    const listed = await until(
      "B to list the moved entries",
      async () => (await b.request("GET", "/retry-queue/rq/entries")).body,
      (body) => body?.total === 2,
    );
    should(listed.entries.map((e: { state: string }) => e.state)).eql(["held", "held"]);
    await a.restart();
    await until(
      "A back",
      async () => (await a.request("GET", "/retry-queue/rq/entries")).body,
      (body) => body?.shared === true,
    );
    should((await b.request("GET", "/retry-queue/rq/entries")).body.total).equal(2, "a restart moves nothing twice");
  });
});

describe("retry queue on Redis chosen in the editor (the Redis URL of a marketo-config it names)", function () {
  this.timeout(120_000);
  let redis: RedisServer;
  let emu: EmulatorHandle;
  const reds: NodeRedProcess[] = [];

  before(async function () {
    const bin = requireRedis(this);
    redis = await startRedis(bin);
    emu = await startEmulator({});
  });
  after(async () => {
    await Promise.all(reds.map((r) => r.stop()));
    await emu?.stop();
    await redis?.stop();
  });

  it("with no MARKETO_REDIS_URL, two replicas share the queue: B lists the entry that failed on A", async () => {
    const f = flows(emu, false, true);
    const creds = { cfg: { clientId: emu.clientId, clientSecret: emu.clientSecret, redisUrl: redis.url } };
    const env = { MARKETO_REDIS_URL: "" };
    for (let i = 0; i < 2; i++) reds.push(await startNodeRed({ flows: f, credentials: creds, env }));
    const [a, b] = reds;
    const res = await fetch(`${a.url}/fail`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: "bea@example.com" }),
    });
    should(res.status).equal(200);
    await res.text();
    const listed = await until(
      "B to list A's entry",
      async () => (await b.request("GET", "/retry-queue/rq/entries")).body,
      (body) => body?.total === 1,
    );
    should(listed.shared).equal(true);
    should(listed.entries[0].record.email).equal("bea@example.com");
  });
});
