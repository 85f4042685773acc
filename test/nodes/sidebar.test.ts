/**
 * The Marketo sidebar: what the summary makes of the metrics and the configs' clients (unit), and
 * the plugin in a real Node-RED with adminAuth: loaded, its routes behind a token, its figures
 * matching what the emulator holds after a small flow ran, at most one update a second, the
 * charts' history, and a quota pause with a live backlog and Try now.
 */
import "should";
import { createRequire } from "node:module";
import type { EmulatorHandle } from "../../src/emulator";
import type { Usage } from "../../src/lib/marketo";
import { Metrics } from "../../src/lib/sidebar/metrics";
import { buildSummary, operationUsers, type ConfigView, type NodeSettings } from "../../src/lib/sidebar/sidebar-summary";
import { configNode, emulator, sleep, until } from "../helpers/marketo-flow";
import { startNodeRed, type NodeRedProcess } from "../helpers/node-red-process";
import { postJson } from "../helpers/process-flow";

function usage(over: Partial<Usage> = {}): Usage {
  return {
    callsTotal: 7,
    callsToday: 6,
    dailyBudget: 50000,
    callsByOperation: { syncLeads: 3, submitForm: 1, bulkImportLeadsStatus: 1, checkAccess: 1 },
    recordsByOperation: { syncLeads: 40, submitForm: 1 },
    outcomes: {},
    answersByCode: {},
    limiterWaitMs: 0,
    arrivalChecks: { checks: 0, calls: 0, found: 0, resent: 0, unconfirmed: 0 },
    queuedRecords: 2,
    inFlight: 1,
    state: "ok",
    ...over,
  };
}

describe("sidebar summary (unit)", () => {
  const sync = { id: "lead", type: "marketo-lead", name: "sync leads" };
  const trigger = { id: "trig", type: "marketo-lead", name: "" };
  const form = { id: "form", type: "marketo-lead", name: "" };
  const status = { id: "status", type: "marketo-program-status", name: "" };
  const activity = { id: "act", type: "marketo-custom-activity", name: "" };
  const co = { id: "co", type: "marketo-custom-activity", name: "" };
  const filter = { id: "tf", type: "tag-filter", name: "live only" };
  const nodes = new Map<string, NodeSettings>([
    ["lead", { type: "marketo-lead", marketo: "cfg", action: "sync" }],
    ["trig", { type: "marketo-lead", marketo: "cfg", action: "trigger" }],
    ["form", { type: "marketo-lead", marketo: "cfg", action: "form" }],
    ["status", { type: "marketo-program-status", marketo: "cfg" }],
    ["act", { type: "marketo-custom-activity", marketo: "cfg" }],
    ["co", { type: "marketo-custom-activity", marketo: "cfg", target: "customObject" }],
    ["cfg", { type: "marketo-config" }],
    ["cfg2", { type: "marketo-config" }],
  ]);

  function figures(): Metrics {
    const m = new Metrics();
    const rec = (n: typeof sync, ok: boolean, outcome: string, category?: string, config = "cfg"): void =>
      m.record(n, config, { payload: { email: "a@x.com" } }, ok, outcome, category ? { category } : undefined);
    rec(sync, true, "created");
    rec(sync, true, "created");
    rec(sync, true, "updated");
    rec(sync, true, "imported");
    rec(sync, false, "failed", "validation");
    rec(trigger, true, "triggered");
    rec(trigger, false, "failed", "marketo");
    rec(form, true, "created");
    rec(status, true, "updated");
    rec(status, true, "created");
    rec(status, true, "unchanged");
    rec(status, false, "failed", "quota");
    rec(activity, true, "added");
    rec(activity, true, "added");
    rec(co, true, "created");
    rec(co, true, "updated");
    // A node of a config that is not deployed any more: not on any card.
    rec({ id: "old", type: "marketo-lead", name: "" }, true, "created", undefined, "gone");
    m.filtered(filter);
    m.filtered(filter);
    m.filtered({ id: "tf2", type: "tag-filter", name: "" });
    m.duplicateLeads({ id: "ps", type: "marketo-program-status", name: "registered" });
    m.connection("cfg", "rate-limited", "606 Max rate limit");
    m.connection("cfg", "ok");
    return m;
  }

  it("shows what exactly-once delivery cost, its questions under the node type that sends the write", () => {
    const arrivalChecks = { checks: 2, calls: 5, found: 7, resent: 3, unconfirmed: 0 };
    const u = usage({ arrivalChecks, callsByOperation: { addCustomActivities: 4, "addCustomActivities:getLeadActivities": 3, "submitForm:getLeadsByFilter": 2 } });
    const s = buildSummary({ metrics: figures(), configs: [{ id: "cfg", name: "Production", state: { state: "ok" }, usage: u }], nodes });
    const c = s.configs[0];
    c.arrivalChecks.should.eql(arrivalChecks);
    c.calls.byOperation.find((o) => o.operation === "addCustomActivities:getLeadActivities")!.nodeTypes.should.eql(["marketo-custom-activity"]);
    c.calls.byOperation.find((o) => o.operation === "submitForm:getLeadsByFilter")!.nodeTypes.should.eql(["marketo-lead"]);
  });

  it("counts each kind of Marketo work per config, by what each node does", () => {
    const configs: ConfigView[] = [
      { id: "cfg", name: "Production", state: { state: "quota", resumesAt: "2026-11-24T06:00:00.000Z", reason: "1029" }, usage: usage() },
      { id: "cfg2", name: "Sandbox", state: { state: "ok" }, problem: { message: "Marketo credentials: no client secret", category: "validation" } },
    ];
    const s = buildSummary({ metrics: figures(), configs, nodes, now: new Date("2026-11-23T12:00:00Z") });
    s.at.should.equal("2026-11-23T12:00:00.000Z");
    s.configs.map((c) => c.name).should.eql(["Production", "Sandbox"]);
    const c = s.configs[0];
    c.records.should.eql({ processed: 16, delivered: 13, failed: 3 });
    c.leads.should.eql({ created: 2, updated: 1, unchanged: 0, imported: 1 });
    c.campaigns.triggered.should.equal(1);
    c.formPosts.should.equal(1);
    c.programStatuses.should.eql({ set: 2, unchanged: 1 });
    c.activities.added.should.equal(2);
    c.customObjects.should.eql({ created: 1, updated: 1, unchanged: 0 });
    c.failures.should.eql({ validation: 1, marketo: 1, quota: 1 });
    c.state.should.eql({ state: "quota", resumesAt: "2026-11-24T06:00:00.000Z", reason: "1029" });
    c.calls.today.should.equal(6);
    c.calls.dailyBudget.should.equal(50000);
    c.calls.byOperation[0].should.eql({ operation: "syncLeads", calls: 3, records: 40, nodeTypes: ["marketo-lead", "marketo-program-status", "marketo-custom-activity"] });
    c.calls.byOperation.find((o) => o.operation === "bulkImportLeadsStatus")!.nodeTypes.should.eql(["marketo-lead"]);
    // No node of the config sends checkAccess: the possible sender is named.
    c.calls.byOperation.find((o) => o.operation === "checkAccess")!.nodeTypes.should.eql(["marketo-config"]);
    c.queuedRecords.should.equal(2);
    c.inFlight.should.equal(1);
    c.arrivalChecks.should.eql({ checks: 0, calls: 0, found: 0, resent: 0, unconfirmed: 0 });
    c.nodes.map((n) => n.id).should.not.containEql("old");
    c.connections.map((e) => e.state).should.eql(["ok", "rate-limited"]);

    const sandbox = s.configs[1];
    sandbox.problem!.should.eql({ message: "Marketo credentials: no client secret", category: "validation" });
    sandbox.records.processed.should.equal(0);
    sandbox.calls.byOperation.should.eql([]);

    s.filtered.should.eql({ total: 3, nodes: [{ id: "tf", name: "live only", count: 2 }, { id: "tf2", name: "", count: 1 }] });
    s.duplicates.should.eql({ total: 1, nodes: [{ id: "ps", name: "registered", count: 1 }] });
    (s.retry === undefined).should.be.true();
  });

  it("adds the retry queues' totals when they are given", () => {
    const s = buildSummary({
      metrics: new Metrics(),
      configs: [],
      nodes,
      queues: [
        { id: "q1", name: "", size: 3, counts: { state: { waiting: 1, retrying: 0, held: 2, abandoned: 0 }, category: { validation: 2, network: 1 } }, totals: { retried: 5, abandoned: 1 } },
        { id: "q2", name: "", size: 1, counts: { state: { waiting: 0, retrying: 1, held: 0, abandoned: 1 }, category: { quota: 1 } } },
      ],
    });
    s.retry!.totals.should.eql({ retried: 5, abandoned: 2, validation: 2, waiting: 2, held: 2 });
    s.retry!.queues.should.have.length(2);
  });

  it("names the node types behind an operation by its longest known prefix", () => {
    operationUsers("getProgramByName").should.eql(["marketo-program-status"]);
    operationUsers("bulkImportCustomObjectsFiles").should.eql(["marketo-custom-activity"]);
    operationUsers("describeLeads").should.eql(["field-mapper", "marketo-lead"]);
    operationUsers("somethingNew").should.eql([]);
  });
});

type SidebarUpdate = {
  summary: { at: string; configs: Array<{ id: string; backlog: number; state: { state: string }; records: { processed: number } }> };
  feed: Array<{ registration?: string }>;
};

describe("sidebar plugin in a real Node-RED", function () {
  this.timeout(120_000);
  const ADMIN = { username: "ops", password: "sidebar-test-pw" };
  const RECORDS = 5;
  let emu: EmulatorHandle | undefined;
  let red: NodeRedProcess | undefined;
  let token = "";

  before(async () => {
    emu = await emulator();
    const z = "tab";
    red = await startNodeRed({
      flows: [
        { id: z, type: "tab", label: "sidebar" },
        { ...configNode(emu), z: "" },
        { id: "in", type: "http in", z, url: "/events", method: "post", upload: false, wires: [["ack", "split"]] },
        { id: "ack", type: "http response", z, statusCode: "200", wires: [] },
        {
          id: "split",
          type: "function",
          z,
          func: "return [msg.payload.map((r) => ({ topic: 'registration.created', payload: r.payload, source: r.source }))];",
          outputs: 1,
          wires: [["lead"]],
        },
        { id: "lead", type: "marketo-lead", z, name: "registrations", marketo: "cfg", action: "sync", syncAction: "createOrUpdate", lookupField: "email", raiseErrors: false, bulkThreshold: 0, wires: [["status"], ["queue"]] },
        { id: "status", type: "marketo-program-status", z, marketo: "cfg", program: "1001", programType: "num", status: "Registered", statusType: "str", raiseErrors: false, wires: [["activity"], ["queue"]] },
        { id: "activity", type: "marketo-custom-activity", z, marketo: "cfg", raiseErrors: false, wires: [[], ["queue"]] },
        { id: "queue", type: "retry-queue", z, maxAttempts: 3, backoff: "1m", maxEntries: 100, answerTimeout: "1m", resubmitThrough: "node", wires: [[], [], []] },
      ],
      credentials: { cfg: { clientId: emu.clientId, clientSecret: emu.clientSecret } },
      adminAuth: ADMIN,
    });
    token = await red.adminToken();
  });
  after(async () => {
    await red?.stop();
    await emu?.stop();
  });

  it("is loaded: the editor is served its sidebar tab", async () => {
    const list = await red!.request("GET", "/plugins", { token });
    list.status.should.equal(200);
    JSON.stringify(list.body).should.containEql("marketo-sidebar");
    const res = await fetch(`${red!.url}/plugins`, { headers: { Accept: "text/html", Authorization: `Bearer ${token}` } });
    res.status.should.equal(200);
    const html = await res.text();
    html.should.containEql('RED.plugins.registerPlugin("marketo-sidebar"');
    html.should.containEql("RED.sidebar.addTab");
  });

  it("answers 401 without a token", async () => {
    (await red!.request("GET", "/marketo-sidebar/summary")).status.should.equal(401);
    (await red!.request("GET", "/marketo-sidebar/feed")).status.should.equal(401);
    (await red!.request("GET", "/marketo-sidebar/summary", { token: "not-a-token" })).status.should.equal(401);
  });

  it("sums up what reached the emulator, names the failure's category, and feeds the latest records", async () => {
    const body = [];
    for (let i = 0; i < RECORDS; i++) body.push({ payload: { email: `side${i}@example.com`, firstName: `S${i}` }, source: { registration: { code: `R-${i}` }, engagement: { entry_id: "1_keynote", entry_name: "Keynote", plays: 1 } } });
    // No email, no lookup: a validation failure, held in the retry queue.
    body.push({ payload: { firstName: "nobody" }, source: { registration: { code: "R-bad" } } });
    const res = await postJson(red!.url, "/events", body);
    res.status.should.equal(200);

    type Card = { id: string; name: string; records: { processed: number; failed: number }; leads: { created: number }; programStatuses: { set: number }; activities: { added: number }; failures: Record<string, number>; calls: { today: number; dailyBudget: number; byOperation: Array<{ operation: string; nodeTypes: string[] }> }; state: { state: string } };
    let card: Card | undefined;
    let text = "";
    const end = Date.now() + 30_000;
    while (Date.now() < end) {
      const s = await red!.request("GET", "/marketo-sidebar/summary", { token });
      s.status.should.equal(200);
      text = s.text;
      card = (s.body.configs as Card[]).find((c) => c.id === "cfg");
      if (card && card.activities.added >= RECORDS) break;
      await sleep(200);
    }
    const state = emu!.state() as unknown as {
      leads: Array<{ id: number; email: string }>;
      programs: { programMembers: Array<{ programId: number; leadId: number }> };
      activities: { activities: Array<{ leadId: number; activityTypeId: number }> };
    };
    const ids = new Set(state.leads.filter((l) => l.email.startsWith("side")).map((l) => l.id));
    card!.name.should.equal("emulator");
    card!.leads.created.should.equal(ids.size);
    ids.size.should.equal(RECORDS);
    card!.programStatuses.set.should.equal(state.programs.programMembers.filter((m) => m.programId === 1001 && ids.has(m.leadId)).length);
    // Custom activity types have ids from 100000 on; the others are Marketo's own (new lead, status change).
    card!.activities.added.should.equal(state.activities.activities.filter((a) => a.activityTypeId >= 100000 && ids.has(a.leadId)).length);
    card!.records.should.containEql({ processed: 3 * RECORDS + 1, failed: 1 });
    card!.failures.should.eql({ validation: 1 });
    card!.state.state.should.equal("ok");
    card!.calls.today.should.be.above(0);
    card!.calls.dailyBudget.should.equal(50000);
    card!.calls.byOperation.find((o) => o.operation === "syncLeads")!.nodeTypes.should.containEql("marketo-lead");
    text.should.not.containEql(emu!.clientSecret);
    text.should.not.match(/access_token|clientSecret/i);

    const feed = await red!.request("GET", "/marketo-sidebar/feed?limit=4", { token });
    feed.status.should.equal(200);
    const items = feed.body.items as Array<{ at: string; registration?: string; event?: string; node: { type: string }; ok: boolean; outcome: string }>;
    items.should.have.length(4);
    // Newest first: the activities were the last records answered.
    items[0].node.type.should.equal("marketo-custom-activity");
    [...items].sort((a, b) => b.at.localeCompare(a.at)).should.eql(items);
    const all = (await red!.request("GET", "/marketo-sidebar/feed", { token })).body.items as typeof items;
    all.should.have.length(3 * RECORDS + 1);
    const bad = all.find((f) => !f.ok)!;
    bad.should.containEql({ registration: "R-bad", event: "registration.created", outcome: "validation" });
    all.filter((f) => f.node.type === "marketo-lead" && f.ok).map((f) => f.registration).sort().should.eql(["R-0", "R-1", "R-2", "R-3", "R-4"]);
    (await red!.request("GET", "/marketo-sidebar/feed?limit=0", { token })).status.should.equal(400);
    (await red!.request("GET", "/marketo-sidebar/feed?limit=abc", { token })).status.should.equal(400);

    // The troubleshooting part reads the retry queue's own route: the failure is there, as validation.
    const q = await red!.request("GET", "/retry-queue/queue/entries?category=validation", { token });
    q.status.should.equal(200);
    q.body.total.should.equal(1);
    // Which record, and why: its identity as a person searches for it, and Marketo's own words.
    q.body.entries[0].record.should.eql({ registration: "R-bad", event: "registration.created" });
    q.body.entries[0].message.should.be.a.String().and.not.be.empty();
    q.body.should.containEql({ offset: 0, maxAttempts: 3 });
    // ...and the summary carries the queue's totals too, read from the queue itself.
    const summary = (await red!.request("GET", "/marketo-sidebar/summary", { token })).body as { retry?: { totals: { validation: number; held: number } } };
    summary.retry!.totals.should.containEql({ validation: 1, held: 1 });
  });
  it("pushes a fresh summary and feed to a subscribed editor over comms as records go through", async () => {
    const sub = await subscribe();
    const updates = sub.updates;
    try {
      const before = ((await red!.request("GET", "/marketo-sidebar/summary", { token })).body.configs as Array<{ id: string; records: { processed: number } }>).find((c) => c.id === "cfg")!.records.processed;
      const body = [{ payload: { email: "live@example.com" }, source: { registration: { code: "R-live" }, engagement: { entry_id: "1_keynote", entry_name: "Keynote", plays: 1 } } }];
      await postJson(red!.url, "/events", body);
      const done = (): boolean => updates.some((u) => u.summary.configs.find((c) => c.id === "cfg")!.records.processed === before + 3);
      const until = Date.now() + 20_000;
      while (!done() && Date.now() < until) await sleep(50);
      done().should.be.true();
      updates[updates.length - 1].feed[0].registration!.should.equal("R-live");
    } finally {
      sub.close();
    }
  });

  /** Node-RED's own ws, as the editor's comms connection uses it, subscribed to the sidebar's updates. */
  async function subscribe(): Promise<{ updates: SidebarUpdate[]; close(): void }> {
    type Ws = { on(ev: string, cb: (d: unknown) => void): void; send(s: string): void; close(): void };
    const WebSocket = createRequire(require.resolve("node-red/package.json"))("ws") as new (url: string) => Ws;
    const ws = new WebSocket(red!.url.replace(/^http/, "ws") + "/comms");
    const updates: SidebarUpdate[] = [];
    let authed = false;
    ws.on("message", (d) => {
      const m = JSON.parse(String(d)) as unknown;
      if (!Array.isArray(m)) {
        if ((m as { auth?: string }).auth === "ok") {
          authed = true;
          ws.send(JSON.stringify({ subscribe: "marketo-sidebar/update" }));
        }
        return;
      }
      for (const x of m as Array<{ topic: string; data: SidebarUpdate }>) if (x.topic === "marketo-sidebar/update") updates.push(x.data);
    });
    await new Promise<void>((resolve, reject) => {
      ws.on("open", () => {
        ws.send(JSON.stringify({ auth: token }));
        resolve();
      });
      ws.on("error", (e) => reject(e as Error));
    });
    await until(() => authed, "the comms connection to accept the token");
    return { updates, close: () => ws.close() };
  }

  const postEvents = async (records: Array<{ email: string; code: string }>): Promise<void> => {
    const body = records.map((r) => ({ payload: { email: r.email }, source: { registration: { code: r.code }, engagement: { entry_id: "1_keynote", entry_name: "Keynote", plays: 1 } } }));
    const res = await postJson(red!.url, "/events", body);
    res.status.should.equal(200);
  };

  it("sends at most one update a second while records stream through", async () => {
    const sub = await subscribe();
    try {
      // Twenty posts over ~3 s, each moving the figures several times.
      for (let i = 0; i < 20; i++) {
        await postEvents([{ email: `burst${i}@example.com`, code: `R-burst-${i}` }]);
        await sleep(150);
      }
      await until(() => sub.updates.some((u) => u.feed.some((f) => f.registration === "R-burst-19")), "the last record's update", 20_000);
      // The summary's time is taken when the update is sent: measured at the source, not on arrival.
      const sent = sub.updates.map((u) => Date.parse(u.summary.at));
      sent.length.should.be.aboveOrEqual(3);
      for (let i = 1; i < sent.length; i++) (sent[i] - sent[i - 1]).should.be.aboveOrEqual(990, `updates ${i - 1} and ${i} were ${sent[i] - sent[i - 1]} ms apart`);
    } finally {
      sub.close();
    }
  });

  it("keeps the last hour's figures for the charts: records and calls per bucket, backlog and retry levels", async () => {
    type View = { bucketMs: number; spanMs: number; points: Array<{ at: string; records: number; failed: number; calls: number; backlog: number; retry: number }> };
    let view: View | undefined;
    // Sampled every 2 s: wait until the records already sent are in.
    const end = Date.now() + 20_000;
    while (Date.now() < end) {
      const h = await red!.request("GET", "/marketo-sidebar/history", { token });
      h.status.should.equal(200);
      view = h.body as View;
      if (view.points.reduce((a, p) => a + p.records, 0) > 0) break;
      await sleep(500);
    }
    view!.bucketMs.should.equal(10_000);
    view!.spanMs.should.equal(3_600_000);
    const total = (k: "records" | "calls" | "failed"): number => view!.points.reduce((a, p) => a + p[k], 0);
    total("records").should.be.above(0);
    total("calls").should.be.above(0);
    const processed = ((await red!.request("GET", "/marketo-sidebar/summary", { token })).body.configs as Array<{ id: string; records: { processed: number } }>).find((c) => c.id === "cfg")!.records.processed;
    // The first sample is the baseline: what was answered before it is not a rate in any bucket.
    total("records").should.be.belowOrEqual(processed);
    view!.points.at(-1)!.retry.should.be.aboveOrEqual(1); // the validation failure held since the first test
    (await red!.request("GET", "/marketo-sidebar/history")).status.should.equal(401);
  });

  it("through a quota pause: the backlog stays live, and Try now sends the waiting call at once", async () => {
    (await red!.request("POST", "/marketo-sidebar/config/cfg/try-now", { token })).should.containDeep({ status: 409, body: { category: "quota" } });
    (await red!.request("POST", "/marketo-sidebar/config/nope/try-now", { token })).status.should.equal(404);
    (await red!.request("POST", "/marketo-sidebar/config/cfg/try-now")).status.should.equal(401);
    const sub = await subscribe();
    try {
      // Earlier tests' records may still be on their way down the flow on a loaded machine. The
      // summary's backlog is each node's last painted count, so a record between two nodes can
      // hide from this wait: the check below asks for this test's 8 at least.
      const drained = async (): Promise<boolean> => {
        const s = await red!.request("GET", "/marketo-sidebar/summary", { token });
        return (s.body.configs as SidebarUpdate["summary"]["configs"]).find((c) => c.id === "cfg")!.backlog === 0;
      };
      const drainEnd = Date.now() + 60_000;
      while (!(await drained())) {
        if (Date.now() > drainEnd) throw new Error("earlier tests' records still in the backlog after 60 s");
        await sleep(200);
      }
      // Marketo's day is used up: every call is refused with 607 until the quota comes back.
      emu!.setLimits({ dailyQuota: 1 });
      await postEvents(Array.from({ length: 8 }, (_, i) => ({ email: `quota${i}@example.com`, code: `R-quota-${i}` })));
      const card = (u: SidebarUpdate) => u.summary.configs.find((c) => c.id === "cfg")!;
      // Nothing is answered in a quota pause; the backlog still reaches the editor.
      const seen = (): string => sub.updates.map((u) => `${card(u).state.state}/${card(u).backlog}`).join(" ");
      await until(() => sub.updates.some((u) => card(u).state.state === "quota" && card(u).backlog >= 8), "an update with the quota state and this test's backlog of 8", 60_000).catch((err: Error) => {
        throw new Error(`${err.message}; updates seen (state/backlog): ${seen()}; 607 answers: ${emu!.stats().answersByCode["607"] ?? 0}`);
      });
      const refusedBefore = emu!.stats().answersByCode["607"] ?? 0;

      // Try now while Marketo still refuses: one call, refused again, and the pause goes on.
      const tried = await red!.request("POST", "/marketo-sidebar/config/cfg/try-now", { token });
      tried.should.containDeep({ status: 200, body: { probing: true } });
      await until(() => (emu!.stats().answersByCode["607"] ?? 0) === refusedBefore + 1, "the probe to be refused");
      await sleep(500);
      (emu!.stats().answersByCode["607"] ?? 0).should.equal(refusedBefore + 1);

      // More quota bought: Try now sends the backlog without waiting for the hourly probe.
      emu!.setLimits({ dailyQuota: 50_000 });
      (await red!.request("POST", "/marketo-sidebar/config/cfg/try-now", { token })).status.should.equal(200);
      await until(() => sub.updates.some((u) => card(u).state.state === "ok" && card(u).backlog === 0 && u.feed.some((f) => f.registration === "R-quota-7")), "the backlog to be delivered", 60_000);
    } finally {
      sub.close();
      emu!.setLimits({ dailyQuota: 50_000 });
    }
  });
});
