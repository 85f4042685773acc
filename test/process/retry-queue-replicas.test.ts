/**
 * The retry queue in Redis mode, with two real Node-RED processes running identical flows
 * (MARKETO_REDIS_URL, nothing in the dialog): an entry that failed on replica A is listed and
 * resubmitted from replica B's admin API, and reaches the emulator once.
 */
import should from "should";
import type { EmulatorHandle } from "../../src/emulator";
import type { NodeRedProcess } from "../helpers/node-red-process";
import { configNode, emulatorCredentials, postJson, syncLeadNode, TAB } from "../helpers/process-flow";
import { ProcessRig } from "../helpers/process-rig";
import type { RedisServer } from "../helpers/redis-server";
import { untilValue as until } from "../helpers/until";

/** The retry queue's entries as replica `red`'s admin API lists them. */
const entries = async (red: NodeRedProcess) => (await red.request("GET", "/retry-queue/rq/entries")).body;

function flows(emu: EmulatorHandle, gate = false, redisFromConfig = false): Array<Record<string, unknown>> {
  const z = TAB;
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
    configNode(emu, { batchWindowMs: 20 }),
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
    syncLeadNode("lead1", "cfg", [[], ["rq"]], { name: "Leads" }),
  ];
}

/** A rig with one redis-server and one emulator, started before the suite and stopped after it. */
function redisAndEmulator(): { rig: ProcessRig; redis: () => RedisServer; emu: () => EmulatorHandle } {
  const rig = new ProcessRig();
  let redis: RedisServer;
  let emu: EmulatorHandle;
  before(async function () {
    redis = await rig.redis(this);
    emu = await rig.emulator({});
  });
  after(() => rig.stop());
  return { rig, redis: () => redis, emu: () => emu };
}

describe("retry queue shared by two Node-RED replicas through Redis", function () {
  this.timeout(120_000);
  const { rig, redis, emu } = redisAndEmulator();
  before(async () => {
    await rig.replicas(2, {
      flows: flows(emu()),
      credentials: emulatorCredentials(emu()),
      env: { MARKETO_REDIS_URL: redis().url },
    });
  });

  it("replica B lists and resubmits an entry that failed on replica A; the lead reaches Marketo once", async () => {
    const [a, b] = rig.reds;
    const res = await postJson(a.url, "/fail", { email: "ann@example.com" });
    should(res.status).equal(200);

    const listed = await until(
      "B to list A's entry",
      () => entries(b),
      (body) => body?.total === 1,
    );
    should(listed.shared).equal(true);
    should(listed.entries[0].state).equal("held");
    should(listed.entries[0].record.email).equal("ann@example.com");
    should(emu().state().leads.length).equal(0);

    const r = await b.request("POST", "/retry-queue/rq/resubmit", { body: { filter: { state: "held" } } });
    should(r.status).equal(200);
    should(r.body).eql({ resubmitted: 1 });

    await until(
      "the entry delivered, seen from A",
      () => entries(a),
      (body) => body?.total === 0 && body.totals.delivered === 1,
    );
    const leads = emu()
      .state()
      .leads.filter((l) => l.email === "ann@example.com");
    should(leads.length).equal(1);
    const summary = (await b.request("GET", "/retry-queue")).body;
    should(summary[0]).containDeep({ id: "rq", shared: true, size: 0 });
  });
});

describe("retry queue on Redis: a replica killed mid-resubmission", function () {
  this.timeout(180_000);
  const { rig, redis, emu } = redisAndEmulator();

  it("another replica sends the entry once the dead one's lock expires; the lead reaches Marketo once", async () => {
    const f = flows(emu(), true);
    const creds = emulatorCredentials(emu());
    const a = await rig.nodeRed({
      flows: f,
      credentials: creds,
      env: { MARKETO_REDIS_URL: redis().url, REPLICA: "a" },
    });
    await postJson(a.url, "/fail", { email: "cy@example.com" });
    await until(
      "A to hold the entry",
      () => entries(a),
      (body) => body?.total === 1 && body.entries[0].state === "held",
    );
    should((await a.request("POST", "/retry-queue/rq/resubmit", { body: {} })).body).eql({ resubmitted: 1 });
    await until(
      "A's resubmission under way",
      () => entries(a),
      (body) => body?.entries?.[0]?.state === "retrying",
    );
    await a.kill("SIGKILL");
    should(emu().state().leads.length).equal(0);

    const b = await rig.nodeRed({
      flows: f,
      credentials: creds,
      env: { MARKETO_REDIS_URL: redis().url, REPLICA: "b" },
    });
    await until(
      "B to deliver the dead replica's entry",
      () => entries(b),
      (body) => body?.total === 0 && body.totals.delivered === 1,
      90_000,
    );
    should(
      emu()
        .state()
        .leads.filter((l) => l.email === "cy@example.com").length,
    ).equal(1);
  });
});

describe("retry queue: entries journaled before Redis was set", function () {
  this.timeout(120_000);
  const { rig, redis, emu } = redisAndEmulator();

  it("move into the shared queue at the first start with MARKETO_REDIS_URL, once", async () => {
    const userDir = rig.tempDir("nr-rq-adopt-");
    const f = flows(emu());
    const creds = emulatorCredentials(emu());
    const alone = await rig.nodeRed({ flows: f, credentials: creds, userDir });
    for (const email of ["d1@example.com", "d2@example.com"]) await postJson(alone.url, "/fail", { email });
    await until(
      "two held entries in the journal",
      () => entries(alone),
      (body) => body?.total === 2,
    );
    await alone.kill("SIGTERM");

    const env = { MARKETO_REDIS_URL: redis().url };
    const a = await rig.nodeRed({ flows: f, credentials: creds, userDir, env });
    const b = await rig.nodeRed({ flows: f, credentials: creds, env });
    const listed = await until(
      "B to list the moved entries",
      () => entries(b),
      (body) => body?.total === 2,
    );
    should(listed.entries.map((e: { state: string }) => e.state)).eql(["held", "held"]);
    await a.restart();
    await until(
      "A back",
      () => entries(a),
      (body) => body?.shared === true,
    );
    should((await entries(b)).total).equal(2, "a restart moves nothing twice");
  });
});

describe("retry queue on Redis chosen in the editor (the Redis URL of a marketo-config it names)", function () {
  this.timeout(120_000);
  const { rig, redis, emu } = redisAndEmulator();

  it("with no MARKETO_REDIS_URL, two replicas share the queue: B lists the entry that failed on A", async () => {
    const [a, b] = await rig.replicas(2, {
      flows: flows(emu(), false, true),
      credentials: emulatorCredentials(emu(), "cfg", { redisUrl: redis().url }),
      env: { MARKETO_REDIS_URL: "" },
    });
    const res = await postJson(a.url, "/fail", { email: "bea@example.com" });
    should(res.status).equal(200);
    const listed = await until(
      "B to list A's entry",
      () => entries(b),
      (body) => body?.total === 1,
    );
    should(listed.shared).equal(true);
    should(listed.entries[0].record.email).equal("bea@example.com");
  });
});
