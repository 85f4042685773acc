/**
 * Three real Node-RED processes on one userDir (replicas sharing a storage volume) and one Redis:
 * a replica killed for good with records in flight leaves its journal to the others, which adopt
 * it once its lease expires and finish every record, each answer naming the dead replica.
 */
import should from "should";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { EmulatorHandle } from "../../src/emulator";
import { configNode, emulatorCredentials, postOk, syncLeadNode, TAB } from "../helpers/process-flow";
import { ProcessRig } from "../helpers/process-rig";
import type { RedisServer } from "../helpers/redis-server";
import { sleep, until as untilEvery } from "../helpers/until";

const LIMITS = { callsPerWindow: 100, windowMs: 2000, concurrency: 10 };
const JOURNAL_LEASE_MS = 3000;
const RECORDS = 10_000;
/** The most records one replica has live at once (LIVE_RECORDS in action-node.ts): all it may have sent unanswered. */
const LIVE = 3000;
const LEADS = "POST /rest/v1/leads.json";
/** Registrations sent to the program status node beside the leads: members are not deduplicated by a lead key. */
const MEMBERS = 5000;
const PROGRAM = 1001;
const STATUS = "POST /rest/v1/programs/:programId/members/status.json";

// The emulator runs in this process: polling its state must leave it the CPU.
const until = (cond: () => boolean, what: string, ms: number): Promise<void> => untilEvery(cond, what, ms, 250);

interface Output {
  email: string;
  status: string;
  adoptedFrom: string | null;
}

function outputs(file: string): Output[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return [];
  }
  // A line cut short by kill -9 is no output.
  return text
    .split("\n")
    .filter((l) => l.endsWith("}"))
    .map((l) => JSON.parse(l) as Output);
}

function flows(emu: EmulatorHandle): Array<Record<string, unknown>> {
  const z = TAB;
  return [
    { id: z, type: "tab", label: "replica" },
    configNode(emu, { ...LIMITS, dailyBudget: 50000, batchWindowMs: 100, leaseMs: 3000 }),
    // Acknowledged once journaled: a Complete node on the lead node answers the HTTP request.
    { id: "in", type: "http in", z, url: "/leads", method: "post", upload: false, wires: [["lead"]] },
    { id: "in-members", type: "http in", z, url: "/members", method: "post", upload: false, wires: [["status"]] },
    { id: "accepted", type: "complete", z, scope: ["lead", "status"], uncaught: false, wires: [["ack"]] },
    // Registrations: the lead is created when missing, then its program status set.
    {
      id: "status",
      type: "marketo-program-status",
      z,
      marketo: "cfg",
      program: String(PROGRAM),
      programType: "num",
      status: "Registered",
      statusType: "str",
      createMissing: true,
      raiseErrors: false,
      bulkThreshold: 0,
      wires: [[], []],
    },
    { id: "ack", type: "http response", z, statusCode: "200", wires: [] },
    syncLeadNode("lead", "cfg", [["out"], ["out"]]),
    {
      id: "out",
      type: "function",
      z,
      func: [
        "const m = msg.marketo || {};",
        "msg.payload = JSON.stringify({ email: msg.payload && msg.payload.email, status: m.status, adoptedFrom: m.adoptedFrom || null });",
        "return msg;",
      ].join("\n"),
      outputs: 1,
      wires: [["to-file"]],
    },
    // Each replica writes its answers to its own file, named in its environment.
    {
      id: "to-file",
      type: "file",
      z,
      filename: "OUT_FILE",
      filenameType: "env",
      appendNewline: true,
      createDir: true,
      overwriteFile: "false",
      encoding: "none",
      wires: [[]],
    },
  ];
}

describe("replicas sharing storage: a dead replica's journal is adopted", function () {
  this.timeout(240_000);
  const rig = new ProcessRig();
  let redis: RedisServer;
  let emu: EmulatorHandle;
  let userDir: string;
  let outDir: string;

  before(async function () {
    redis = await rig.redis(this);
    emu = await rig.emulator({ limits: LIMITS, latencyMs: 30, latencyJitterMs: 70 });
    userDir = rig.tempDir("nr-adoption-");
    outDir = rig.tempDir("nr-adoption-out-");
  });
  after(() => rig.stop());

  it(`kill -9 of a replica with ${RECORDS.toLocaleString("en")} records in flight: every record in Marketo within 60 s, each lead created once and each member's status set once, answers name the dead replica`, async () => {
    const [a, b, c] = await rig.replicas(
      3,
      {
        flows: flows(emu),
        credentials: emulatorCredentials(emu),
        userDir,
        env: { MARKETO_REDIS_URL: redis.url, MARKETO_JOURNAL_LEASE_MS: String(JOURNAL_LEASE_MS) },
      },
      (i) => ({ OUT_FILE: path.join(outDir, `replica-${i}.jsonl`) }),
    );
    // b and c share the folder but never a file with a.
    for (const r of [b, c]) await r.waitForLog(/marketo-lead-lead\.journal is written by another process/, 20_000);

    // Slow answers, so that a's records are still waiting and on the wire when it dies.
    emu.setFaults({ latencyMs: 1500, latencyJitterMs: 0 });
    const emails = Array.from({ length: RECORDS }, (_, i) => `adopt${i}@example.com`);
    const registrants = Array.from({ length: MEMBERS }, (_, i) => `member${i}@example.com`);
    for (let k = 0; k < MEMBERS; k += 1000)
      await postOk(
        a.url,
        "/members",
        registrants.slice(k, k + 1000).map((email) => ({ email })),
      );
    for (let k = 0; k < RECORDS; k += 1000)
      await postOk(
        a.url,
        "/leads",
        emails.slice(k, k + 1000).map((email) => ({ email, firstName: "Adopted" })),
      );
    // Lead writes and status writes both on the wire.
    await until(
      () => emu.stats().inFlight >= 5 && (emu.stats().callsByRoute[STATUS] ?? 0) >= 1,
      "a's calls on the wire",
      30_000,
    );
    await a.kill("SIGKILL");
    const killedAt = Date.now();
    emu.setFaults({ latencyMs: 30, latencyJitterMs: 70 });
    const leadsAtKill = emu.state().leads.length;
    (leadsAtKill < RECORDS + MEMBERS).should.be.true();

    const inMarketo = (): Set<string> => new Set(emu.state().leads.map((l) => String(l.email)));
    // Cheap to poll: the count first, the emails once it is reached.
    const countReached = (): boolean =>
      emu.state().leads.filter((l) => String(l.email).startsWith("adopt")).length >= RECORDS;
    try {
      await until(countReached, "every record in Marketo", 60_000);
    } catch (err) {
      const sums = await Promise.all(
        [b, c].map((r) => r.request("GET", "/marketo-sidebar/summary").then((x) => x.text)),
      );
      const files = [
        sums,
        fs.readdirSync(path.join(userDir, "marketo-journal"), { recursive: true }),
        fs.readdirSync(outDir).map((f) => [f, outputs(path.join(outDir, f)).length]),
      ];
      const missing = emails.filter((e) => !inMarketo().has(e));
      throw new Error(
        `${(err as Error).message}: ${inMarketo().size} leads, missing ${missing.length} from ${missing[0]} to ${missing[missing.length - 1]}; ${JSON.stringify(emu.stats())}; journals ${JSON.stringify(files)}\nb: ${b.log().slice(-3000)}\nc: ${c.log().slice(-3000)}`,
      );
    }
    // Every registration a member of the program, each member's status set once: a record sent
    // again is answered skipped (1037), never a second member or status change.
    type State = {
      leads: Array<{ id: number; email: string }>;
      programs: { programMembers: Array<{ programId: number; leadId: number }> };
    };
    const memberCount = (): number => {
      const st = emu.state() as unknown as State;
      const ids = new Set(st.leads.filter((l) => String(l.email).startsWith("member")).map((l) => l.id));
      return st.programs.programMembers.filter((m) => m.programId === PROGRAM && ids.has(m.leadId)).length;
    };
    await until(() => memberCount() >= MEMBERS, "every registration a member of the program", 60_000);
    memberCount().should.equal(MEMBERS);
    (emu.state() as unknown as State).leads
      .filter((l) => String(l.email).startsWith("member"))
      .should.have.length(MEMBERS);
    const statusResults = emu.stats().resultsByRoute[STATUS] ?? {};
    statusResults.should.containEql({ created: MEMBERS });
    Object.keys(statusResults)
      .filter((k) => k !== "created" && k !== "skipped")
      .should.eql([]);
    const took = Date.now() - killedAt;
    const present = inMarketo();
    emails.filter((e) => !present.has(e)).should.deepEqual([]);

    // Exactly one lead per email: none created twice.
    const leads = emu.state().leads.filter((l) => String(l.email).startsWith("adopt"));
    leads.length.should.equal(RECORDS);

    // The answers: every record answered, by a before it died or by b or c as adopted.
    const deadId = `${os.hostname()}-${a.pid}`;
    const outFile = (i: number): string => path.join(outDir, `replica-${i}.jsonl`);
    const answeredBy = (): Output[][] => [0, 1, 2].map((i) => outputs(outFile(i)));
    const answeredAll = (): boolean => {
      const got = new Set(answeredBy().flatMap((o) => o.map((x) => x.email)));
      return emails.every((e) => got.has(e));
    };
    // A record a answered whose answer was still on its way to the file when it died is not in
    // a's file: that is a message on a wire inside Node-RED, which no node covers.
    const answeredCount = (): number => new Set(answeredBy().flatMap((o) => o.map((x) => x.email))).size;
    await until(answeredAll, "every answer written", 30_000).catch(() => undefined);
    // Not all: wait until no more come (answers of a lost at its death never will).
    for (let last = -1, now = answeredCount(); now !== last; last = now, now = answeredCount()) await sleep(2000);
    const [byA, byB, byC] = answeredBy();
    const adopted = [...byB, ...byC];
    adopted.length.should.be.above(0);
    for (const o of adopted) should(o.adoptedFrom).equal(deadId, "an adopted answer names the dead replica");
    byA.every((o) => o.adoptedFrom === null).should.be.true();
    // At least once, never more than once per replica: what a had not answered is adopted once.
    new Set(adopted.map((o) => o.email)).size.should.equal(adopted.length);
    adopted.length.should.be.belowOrEqual(RECORDS - byA.length + 1000);
    const got = new Set([...byA, ...adopted].map((o) => o.email));
    (RECORDS - got.size).should.be.belowOrEqual(LIVE, `answers lost on a's wires at its death (${got.size} answered)`);
    // Created vs updated: a lead is created once; only records a may have sent unanswered (its
    // live records at most) come back as updates.
    const created = [...byA, ...adopted].filter((o) => o.status === "created");
    new Set(created.map((o) => o.email)).size.should.equal(created.length);
    const updated = adopted.filter((o) => o.status === "updated").length;
    updated.should.be.belowOrEqual(LIVE);
    // Calls: each record in at most two calls (a's and the adopter's), full batches of up to 300.
    const calls = emu.stats().callsByRoute[LEADS] ?? 0;
    calls.should.be.belowOrEqual(Math.ceil(RECORDS / 300) + Math.ceil(LIVE / 300) + 20);

    for (const r of [b, c]) {
      const logged = /stopped renewing its lease: this replica adopted its journal/.test(r.log());
      if (logged) r.log().should.match(new RegExp(`replica ${deadId} stopped renewing its lease`));
    }
    [b, c].some((r) => /adopted its journal/.test(r.log())).should.be.true();
    // The dead replica's journal is gone from the shared folder once adopted.
    fs.existsSync(path.join(userDir, "marketo-journal", "marketo-lead-lead.journal")).should.be.false();
    console.log(
      `      ${RECORDS} records: a answered ${byA.length} before its death, ${adopted.length} adopted (${updated} as updates), ${calls} lead calls, all in Marketo ${took} ms after the kill; ${MEMBERS} members, status results ${JSON.stringify(statusResults)}`,
    );
  });
});
