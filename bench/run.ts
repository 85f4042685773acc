/**
 * `npm run bench`: the package against Marketo's limits and against the naive flow, in one run.
 *
 *   1. efficiency  10,000 registrations (marketo-lead → marketo-program-status) and 10,000
 *                  engagement records (marketo-custom-activity): records per call, calls, 606/615
 *   2. throughput  100,000 lead records on Sync Leads, fed at once, as a fraction of the window
 *                  limit; and 100,000 through the bulk import switch ("bulk")
 *   3. naive       the same records through core http request nodes, one call per record
 *   4. speed       tag-filter → field-mapper → status-mapper vs core switch + change + function
 *   5. memory      peak RSS of the Node-RED process with 100,000 records waiting (emulator
 *                  paused), and after they drained; "backlog": the same with 1,000,000
 *   6. replicas    the throughput run's records split over three Node-RED processes on one
 *                  Redis (bench/replicas.ts): their combined rate, and 0 × 606/615
 *   7. once        custom activities, campaign requests and form fills without faults and with
 *                  10 % applied-then-failed faults (bench/exactly-once.ts): the extra calls
 *                  exactly-once delivery costs, and 0 duplicates
 *
 * Each scenario runs in a fresh Node-RED process (bench/worker.js) with a userDir on disk, so
 * the action nodes' journal is paid for; the emulator runs in its own process. See
 * bench/README.md for the time scale and how its figures map back to real time.
 */
import { execSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { StatsJson } from "../src/emulator";
import type { Usage } from "../src/lib/marketo/types";
import { checkNoIdValues, timeScale, type BenchFlow, type TimeScale } from "./flows/common";
import { CONFIG_ID, efficiencyFlow, leadFlow } from "./flows/marketo";
import { naiveFlow } from "./flows/naive";
import { OUTCOMES, shapingFlow } from "./flows/shaping";
import { EmulatorProcess, procCpuMs, procMemory, stopAll, Worker } from "./processes";
import { REPLICAS, threeReplicas } from "./replicas";
import { exactlyOnce, onceSizes } from "./exactly-once";
import { replayBench } from "./replay";

const ROOT = path.resolve(__dirname, "..");
const RESULTS = path.join(__dirname, "results");

// Marketo's production limits, which the emulator enforces (its window scaled).
const CALLS_PER_WINDOW = 100;
const MAX_BATCH = 300;
/** The emulator's default API user; emulator credentials, passed to workers by environment only. */
const CREDENTIALS = { MARKETO_CLIENT_ID: "emulator-client", MARKETO_CLIENT_SECRET: "emulator-secret" };

const GOALS = {
  recordsPerCall: 291,
  fractionOfLimit: 0.9,
  speedRatio: 1.0,
  rssQueuedBytes: 200 * 1024 * 1024,
  rssBacklogBytes: 220 * 1024 * 1024,
};

const SCENARIOS = [
  "efficiency",
  "naive",
  "throughput",
  "memory",
  "backlog",
  "bulk",
  "speed",
  "replicas",
  "once",
  "replay",
] as const;

/**
 * The "backlog" run drains its 1,000,000 records for this long (real time) after the resume,
 * enough to see the drain's rate, its 606/615 and its memory; draining them all takes ~12 min
 * at the window limit (--full-drain).
 */
const BACKLOG_DRAIN_MS = 90_000;

/**
 * The throughput and bulk runs send 100,000 records for this many attendees (creates, then
 * updates). The emulator finds a lead by scanning every lead it holds (LeadStore.find), about
 * 12 ms of its CPU per 1,000 leads stored per 300-record call: with 100,000 distinct leads the
 * figure would measure that scan, not the package, whose work per record is the same either way.
 * More than 300 apart, so no two records of one call share an email.
 */
const LEAD_CYCLE = 2000;
type Scenario = (typeof SCENARIOS)[number];

interface Options {
  quick: boolean;
  /** Distinct attendees in the throughput and bulk runs instead of LEAD_CYCLE. */
  distinct: boolean;
  scale: number;
  keep: boolean;
  only: Set<Scenario>;
  /** The backlog run answers all its records instead of draining for BACKLOG_DRAIN_MS. */
  fullDrain: boolean;
  sizes: {
    registrations: number;
    engagement: number;
    throughput: number;
    bulk: number;
    backlog: number;
    speedMsgs: number;
    speedRounds: number;
  };
}

const USAGE = `Usage: npm run bench -- [--quick] [--scale N] [--only a,b] [--keep]

  --quick      a smoke run: 1,000 registrations/engagement, 10,000 for throughput, bulk and memory,
               50,000 for backlog
  --scale N    divide Marketo's clock by N (20 s window, 200 ms latency, batch window, bulk
               polling and import steps together); default 1 = real time. CPU time does not
               scale, so a large N makes the throughput figure measure the CPU, not the limiter
               (the table says so when it happens).
  --only list  some of: ${SCENARIOS.join(", ")}
  --keep       keep the Node-RED user directories (flows, journals) under bench/results/
  --full-drain the backlog run waits for every one of its records to be answered (~12 min at
               real time) instead of draining for ${BACKLOG_DRAIN_MS / 1000} s
  --distinct   throughput and bulk runs with a distinct attendee per record, instead of
               ${LEAD_CYCLE.toLocaleString("en-US")} attendees again and again (slow while the emulator scans its leads)
`;

class UsageError extends Error {}

function parseArgs(argv: string[]): Options {
  let quick = false;
  let scale: number | undefined;
  let keep = false;
  let distinct = false;
  let fullDrain = false;
  let only = new Set<Scenario>(SCENARIOS);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick") quick = true;
    else if (a === "--keep") keep = true;
    else if (a === "--distinct") distinct = true;
    else if (a === "--full-drain") fullDrain = true;
    else if (a === "--scale") {
      scale = Number(argv[++i]);
      if (!(scale >= 1 && scale <= 100)) throw new UsageError(`--scale must be a number from 1 to 100, got ${argv[i]}`);
    } else if (a === "--only") {
      const list = (argv[++i] ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      const bad = list.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
      if (bad.length || !list.length)
        throw new UsageError(`--only takes some of ${SCENARIOS.join(", ")}; got ${argv[i]}`);
      only = new Set(list as Scenario[]);
    } else if (a === "--help" || a === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else throw new UsageError(`unknown option ${a}`);
  }
  const sizes = quick
    ? {
        registrations: 1000,
        engagement: 1000,
        throughput: 10_000,
        bulk: 10_000,
        backlog: 50_000,
        speedMsgs: 2000,
        speedRounds: 2,
      }
    : {
        registrations: 10_000,
        engagement: 10_000,
        throughput: 100_000,
        bulk: 100_000,
        backlog: 1_000_000,
        speedMsgs: 20_000,
        speedRounds: 5,
      };
  return { quick, distinct, scale: scale ?? 1, keep, only, fullDrain, sizes };
}

// --- small helpers ---------------------------------------------------------------------------

const fmt = (n: number | undefined, digits = 0): string =>
  n === undefined || Number.isNaN(n)
    ? "—"
    : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const mb = (b: number | undefined): string => (b === undefined ? "—" : `${fmt(b / 1024 / 1024, 1)} MB`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sum = (o: Record<string, number> | undefined): number => Object.values(o ?? {}).reduce((a, b) => a + b, 0);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function diff(a: Record<string, number> = {}, b: Record<string, number> = {}): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = (b[k] ?? 0) - (a[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
}

function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  let commit: string | undefined;
  let dirty: boolean | undefined;
  try {
    commit = execSync("git rev-parse --short HEAD", { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
    dirty =
      execSync("git status --porcelain -- src", { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] })
        .toString()
        .trim() !== "";
  } catch {
    /* not a git checkout */
  }
  const nodeRed = JSON.parse(fs.readFileSync(require.resolve("node-red/package.json"), "utf8")).version as string;
  return {
    cpuModel: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    nodeRed,
    commit,
    srcChangedSinceCommit: dirty,
  };
}

interface Row {
  group: string;
  measurement: string;
  value: string;
  goal: string;
  /** true / false against the goal; undefined when the row has no goal. */
  met?: boolean;
}

// --- scenarios -------------------------------------------------------------------------------

interface Ctx {
  opts: Options;
  scale: TimeScale;
  emu: EmulatorProcess;
  runDir: string;
  rows: Row[];
  results: Record<string, unknown>;
}

/** A fresh Node-RED process with `flow` deployed from a userDir on disk. */
async function runtime(ctx: Ctx, name: string, flow: BenchFlow): Promise<{ w: Worker; userDir: string }> {
  checkNoIdValues(flow.nodes);
  const userDir = path.join(ctx.runDir, `userdir-${name}`);
  const w = await Worker.start(CREDENTIALS, path.join(ctx.runDir, `${name}.log`));
  try {
    await w.cmd("start", { userDir, flows: flow.nodes, sinkOptions: flow.sinks });
  } catch (err) {
    await w.stop();
    throw err;
  }
  return { w, userDir };
}

/** Emulator call counts that matter here, between two snapshots. */
function emulatorDelta(a: StatsJson | undefined, b: StatsJson) {
  const byRoute = diff(a?.callsByRoute, b.callsByRoute);
  const codes = diff(a?.answersByCode, b.answersByCode);
  return {
    requests: b.totalRequests - (a?.totalRequests ?? 0),
    apiCalls: sum(byRoute),
    countedCalls: b.countedCalls - (a?.countedCalls ?? 0),
    identityCalls: b.identityCalls - (a?.identityCalls ?? 0),
    callsByRoute: byRoute,
    answersByCode: codes,
    answers606: codes["606"] ?? 0,
    answers615: codes["615"] ?? 0,
    maxCallsInWindow: b.maxCallsInWindow,
    maxInFlight: b.maxInFlight,
  };
}

interface OpFigures {
  calls: number;
  records: number;
  perCall: number;
}

function perOperation(a: Usage | undefined, b: Usage): Record<string, OpFigures> {
  const calls = diff(a?.callsByOperation, b.callsByOperation);
  const records = diff(a?.recordsByOperation, b.recordsByOperation);
  const out: Record<string, OpFigures> = {};
  for (const op of Object.keys(calls))
    out[op] = { calls: calls[op], records: records[op] ?? 0, perCall: (records[op] ?? 0) / calls[op] };
  return out;
}

/** Operations that carry records in batches of up to 300 (the others read metadata or poll). */
const BATCHED = new Set([
  "syncLeads",
  "syncProgramMemberStatus",
  "changeLeadProgramStatus",
  "addCustomActivities",
  "syncCustomObjects",
  "getLeadsByFilter",
]);

function countState(state: Record<string, any>): { leads: number; members: number; activities: number } {
  return {
    leads: (state.leads as unknown[]).length,
    members: (state.programs.programMembers as Array<{ programId: number }>).filter((m) => m.programId === 1001).length,
    activities: (state.activities.activities as Array<{ activityTypeId: number }>).filter(
      (a) => a.activityTypeId === 100001,
    ).length,
  };
}

async function efficiency(ctx: Ctx): Promise<void> {
  const { registrations: nReg, engagement: nEng } = ctx.opts.sizes;
  await ctx.emu.reset();
  const flow = efficiencyFlow(ctx.emu.url, ctx.scale);
  const { w } = await runtime(ctx, "efficiency", flow);
  try {
    const s0 = await ctx.emu.stats();
    const t0 = await w.cmd<number>("now");
    await w.cmd("feed", { target: "n-lead", kind: "registration", count: nReg });
    const reg = await w.cmd<{ sinks: Record<string, { count: number; codes: Record<string, number> }>; now: number }>(
      "wait",
      { ids: ["reg-ok", "reg-failed"], target: nReg, timeoutMs: 600_000 },
    );
    const s1 = await ctx.emu.stats();
    const u1 = (await w.cmd<Usage>("usage", { config: CONFIG_ID }))!;
    const t1 = await w.cmd<number>("now");
    await w.cmd("feed", { target: "n-activity", kind: "engagement", count: nEng });
    const eng = await w.cmd<typeof reg>("wait", { ids: ["eng-ok", "eng-failed"], target: nEng, timeoutMs: 600_000 });
    const s2 = await ctx.emu.stats();
    const u2 = (await w.cmd<Usage>("usage", { config: CONFIG_ID }))!;
    const stored = countState(await ctx.emu.state());

    const regOps = perOperation(undefined, u1);
    const engOps = perOperation(u1, u2);
    const all = emulatorDelta(undefined, s2);
    // One phase's figures: what its sinks counted and what the emulator saw meanwhile.
    const phase = (
      run: typeof reg,
      sink: "reg" | "eng",
      count: number,
      since: number,
      operations: typeof regOps,
      emulator: ReturnType<typeof emulatorDelta>,
    ) => ({
      count,
      ok: run.sinks[`${sink}-ok`].count,
      failed: run.sinks[`${sink}-failed`].count,
      failures: run.sinks[`${sink}-failed`].codes,
      seconds: (run.now - since) / 1000,
      operations,
      emulator,
    });
    const result = {
      registrations: phase(reg, "reg", nReg, t0, regOps, emulatorDelta(s0, s1)),
      engagement: phase(eng, "eng", nEng, t1, engOps, emulatorDelta(s1, s2)),
      deploy: emulatorDelta(undefined, s0),
      total: all,
      stored,
      clientAnswersByCode: u2.answersByCode,
    };
    ctx.results.efficiency = result;

    const g = "1 efficiency";
    for (const [label, ops] of [
      ["registrations", regOps],
      ["engagement", engOps],
    ] as const) {
      for (const [op, f] of Object.entries(ops)) {
        const batched = BATCHED.has(op);
        // The best any client can do with these records: full calls and one partial one.
        const ideal = f.records / Math.ceil(f.records / MAX_BATCH);
        const goal = Math.min(GOALS.recordsPerCall, ideal);
        ctx.rows.push({
          group: g,
          measurement: batched || f.records ? `${label}: ${op} records/call` : `${label}: ${op} (metadata, polling)`,
          value:
            batched || f.records
              ? `${fmt(f.perCall, 1)} (${fmt(f.records)} in ${fmt(f.calls)} calls)`
              : `${fmt(f.calls)} calls`,
          goal: batched ? `>= ${fmt(goal, 1)} (best ${fmt(ideal, 1)})` : "",
          met: batched ? f.perCall >= goal - 1e-9 : undefined,
        });
      }
    }
    ctx.rows.push({
      group: g,
      measurement: `Marketo calls for ${fmt(nReg)} registrations + ${fmt(nEng)} engagement`,
      value: `${fmt(all.apiCalls)} (${fmt(all.countedCalls)} counted; ${fmt(result.deploy.apiCalls)} at deploy)`,
      goal: `min ${fmt(2 * Math.ceil(nReg / MAX_BATCH) + Math.ceil(nEng / MAX_BATCH))} record calls`,
    });
    ctx.rows.push({
      group: g,
      measurement: "time until every record was answered (real)",
      value: `registrations ${fmt(result.registrations.seconds * ctx.scale.factor, 1)} s, engagement ${fmt(result.engagement.seconds * ctx.scale.factor, 1)} s`,
      goal: "",
    });
    ctx.rows.push({
      group: g,
      measurement: "606 / 615 answers received",
      value: `${all.answers606} / ${all.answers615}`,
      goal: "0 / 0",
      met: all.answers606 + all.answers615 === 0,
    });
    const delivered = result.registrations.ok + result.engagement.ok;
    ctx.rows.push({
      group: g,
      measurement: "records answered ok / stored in Marketo",
      value: `${fmt(delivered)} of ${fmt(nReg + nEng)} / ${fmt(stored.leads)} leads, ${fmt(stored.members)} members, ${fmt(stored.activities)} activities`,
      goal: "all",
      met: delivered === nReg + nEng && stored.leads === nReg && stored.members === nReg && stored.activities === nEng,
    });
  } finally {
    await w.stop();
  }
}

async function naive(ctx: Ctx): Promise<void> {
  const { registrations: nReg, engagement: nEng } = ctx.opts.sizes;
  await ctx.emu.reset();
  const flow = naiveFlow(ctx.emu.url);
  const { w } = await runtime(ctx, "naive", flow);
  try {
    await w.cmd("feed", { target: "token", kind: "empty", count: 1 });
    const token = await w.cmd<{ sinks: Record<string, { count: number; codes: Record<string, number> }> }>("wait", {
      ids: ["token-ok", "token-failed"],
      target: 1,
      timeoutMs: 60_000,
    });
    if (token.sinks["token-ok"].count !== 1)
      throw new Error(`the naive flow got no token: ${JSON.stringify(token.sinks["token-failed"].codes)}`);
    const s0 = await ctx.emu.stats();
    const t0 = await w.cmd<number>("now");
    await w.cmd("feed", { target: "reg", kind: "registration", count: nReg });
    const reg = await w.cmd<{ sinks: Record<string, { count: number; codes: Record<string, number> }>; now: number }>(
      "wait",
      { ids: ["reg-ok", "reg-failed"], target: nReg, timeoutMs: 600_000 },
    );
    const s1 = await ctx.emu.stats();
    const t1 = await w.cmd<number>("now");
    await w.cmd("feed", { target: "eng", kind: "engagement", count: nEng });
    const eng = await w.cmd<typeof reg>("wait", { ids: ["eng-ok", "eng-failed"], target: nEng, timeoutMs: 600_000 });
    const s2 = await ctx.emu.stats();
    const stored = countState(await ctx.emu.state());
    const all = emulatorDelta(undefined, s2);
    const result = {
      registrations: {
        count: nReg,
        ok: reg.sinks["reg-ok"].count,
        failed: reg.sinks["reg-failed"].count,
        failures: reg.sinks["reg-failed"].codes,
        seconds: (reg.now - t0) / 1000,
        emulator: emulatorDelta(s0, s1),
      },
      engagement: {
        count: nEng,
        ok: eng.sinks["eng-ok"].count,
        failed: eng.sinks["eng-failed"].count,
        failures: eng.sinks["eng-failed"].codes,
        seconds: (eng.now - t1) / 1000,
        emulator: emulatorDelta(s1, s2),
      },
      total: all,
      stored,
    };
    ctx.results.naive = result;

    const g = "3 naive flow";
    const ok = result.registrations.ok + result.engagement.ok;
    const lost = nReg + nEng - ok;
    ctx.rows.push({
      group: g,
      measurement: "Marketo calls used (API, counted)",
      value: `${fmt(all.apiCalls)} (${fmt(all.countedCalls)} counted)`,
      goal: "",
    });
    ctx.rows.push({
      group: g,
      measurement: "606 / 615 answers received",
      value: `${fmt(all.answers606)} / ${fmt(all.answers615)}`,
      goal: "",
    });
    ctx.rows.push({
      group: g,
      measurement: "records failed or lost",
      value: `${fmt(lost)} of ${fmt(nReg + nEng)} (${fmt((100 * lost) / (nReg + nEng), 1)} %); stored ${fmt(stored.leads)} leads, ${fmt(stored.members)} members, ${fmt(stored.activities)} activities`,
      goal: "",
    });
    const ours = ctx.results.efficiency as
      { registrations: { ok: number }; engagement: { ok: number }; total: { apiCalls: number } } | undefined;
    if (ours) {
      const oursOk = ours.registrations.ok + ours.engagement.ok;
      const oursPerCall = oursOk / ours.total.apiCalls;
      const naivePerCall = ok / all.apiCalls;
      ctx.rows.push({
        group: g,
        measurement: "records delivered per call: package / naive",
        value: `${fmt(oursPerCall, 1)} / ${fmt(naivePerCall, 3)}${naivePerCall > 0 ? ` = ${fmt(oursPerCall / naivePerCall, 0)}x` : " (the naive flow delivered none)"}`,
        goal: "",
      });
      ctx.rows.push({
        group: g,
        measurement: "calls used: naive / package",
        value: `${fmt(all.apiCalls)} / ${fmt(ours.total.apiCalls)} = ${fmt(all.apiCalls / ours.total.apiCalls, 0)}x`,
        goal: "",
      });
      ctx.rows.push({
        group: g,
        measurement: "records delivered: package / naive",
        value: `${fmt(oursOk)} / ${fmt(ok)}${ok ? ` = ${fmt(oursOk / ok, 1)}x` : ""}`,
        goal: "",
      });
    }
  } finally {
    await w.stop();
  }
}

const attendees = (ctx: Ctx): string => (ctx.opts.distinct ? "" : ` for ${fmt(LEAD_CYCLE)} attendees`);
const cycle = (ctx: Ctx): number | undefined => (ctx.opts.distinct ? undefined : LEAD_CYCLE);
const limitScaled = (ctx: Ctx): number => (MAX_BATCH * CALLS_PER_WINDOW * 1000) / ctx.scale.windowMs;

type Answers = { sinks: Record<string, { count: number; codes: Record<string, number> }>; now: number };

/**
 * Throughput: 100,000 lead records fed as fast as Node-RED takes them, Sync Leads only. The
 * steady figure is the middle 80 % of answers, past the first batch and before the tail.
 */
async function throughput(ctx: Ctx): Promise<void> {
  const n = ctx.opts.sizes.throughput;
  await ctx.emu.reset();
  const flow = leadFlow(ctx.emu.url, ctx.scale, { bulkThreshold: 0 });
  const { w } = await runtime(ctx, "throughput", flow);
  try {
    const m0 = await w.cmd<Record<string, number>>("memory", {});
    const emuCpu0 = procCpuMs(ctx.emu.child.pid!);
    const t0 = await w.cmd<number>("now");
    const fed = await w.cmd<{ ms: number }>("feed", {
      target: "n-lead",
      kind: "lead",
      count: n,
      chunk: 1000,
      cycle: cycle(ctx),
    });
    const done = await w.cmd<Answers>("wait", { ids: ["lead-ok", "lead-failed"], target: n, timeoutMs: 900_000 });
    const [t10, t90, tLast] = await w.cmd<number[]>("quantiles", {
      ids: ["lead-ok", "lead-failed"],
      fractions: [0.1, 0.9, 1],
    });
    const m1 = await w.cmd<Record<string, number>>("memory", {});
    const emuCpu1 = procCpuMs(ctx.emu.child.pid!);
    const stats = await ctx.emu.stats();
    const u = (await w.cmd<Usage>("usage", { config: CONFIG_ID }))!;

    const limit = limitScaled(ctx);
    const overall = (n * 1000) / (tLast - t0);
    const steady = (0.8 * n * 1000) / (t90 - t10);
    const wall = tLast - t0;
    const result = {
      records: n,
      ok: done.sinks["lead-ok"].count,
      failed: done.sinks["lead-failed"].count,
      failures: done.sinks["lead-failed"].codes,
      feedMs: fed.ms,
      seconds: wall / 1000,
      scaledRecordsPerSec: { overall, steady10to90: steady },
      realRecordsPerSec: { overall: overall / ctx.scale.factor, steady10to90: steady / ctx.scale.factor },
      windowLimitRecordsPerSec: { scaled: limit, real: limit / ctx.scale.factor },
      fractionOfLimit: { overall: overall / limit, steady10to90: steady / limit },
      operations: perOperation(undefined, u),
      emulator: emulatorDelta(undefined, stats),
      clientLimiterWaitMs: u.limiterWaitMs,
      // Share of one core each process used: near 1 means CPU, not Marketo's limit, set the pace.
      cpu: {
        nodeRed: (m1.cpuMs - m0.cpuMs) / wall,
        emulator: emuCpu0 !== undefined && emuCpu1 !== undefined ? (emuCpu1 - emuCpu0) / wall : undefined,
        nodeRedMicrosPerRecord: ((m1.cpuMs - m0.cpuMs) * 1000) / n,
      },
    };
    ctx.results.throughput = result;

    const g = "2 throughput";
    ctx.rows.push({
      group: g,
      measurement: `Sync Leads, ${fmt(n)} records${attendees(ctx)} fed at once: steady (10-90 %)`,
      value: `${fmt(steady / ctx.scale.factor)} rec/s real = ${fmt(result.fractionOfLimit.steady10to90, 3)} of ${fmt(limit / ctx.scale.factor)}`,
      goal: `>= ${GOALS.fractionOfLimit}`,
      met: result.fractionOfLimit.steady10to90 >= GOALS.fractionOfLimit,
    });
    ctx.rows.push({
      group: g,
      measurement: "  same, first record in to last answer out",
      value: `${fmt(overall / ctx.scale.factor)} rec/s real = ${fmt(result.fractionOfLimit.overall, 3)}; ${fmt(result.seconds * ctx.scale.factor, 1)} s real`,
      goal: "",
    });
    const cpu = result.cpu;
    const cpuBound = ctx.scale.factor > 1 && (cpu.nodeRed > 0.8 || (cpu.emulator ?? 0) > 0.8);
    ctx.rows.push({
      group: g,
      measurement: "  CPU: Node-RED / emulator (one core = 100 %)",
      value: `${fmt(cpu.nodeRed * 100)} % / ${fmt((cpu.emulator ?? NaN) * 100)} %; Node-RED ${fmt(cpu.nodeRedMicrosPerRecord)} µs per record${cpuBound ? " — CPU-bound at this scale: use a lower --scale" : ""}`,
      goal: "",
    });
    ctx.rows.push({
      group: g,
      measurement: "  calls (records/call), 606 / 615, most calls in a window / in flight",
      value: `${fmt(result.emulator.apiCalls)} (${fmt(result.operations.syncLeads?.perCall, 1)}), ${result.emulator.answers606} / ${result.emulator.answers615}, ${stats.maxCallsInWindow} / ${stats.maxInFlight}`,
      goal: "0 / 0",
      met: result.emulator.answers606 + result.emulator.answers615 === 0 && result.ok === n,
    });
  } finally {
    await w.stop();
  }
}

interface BookFigures {
  file: string;
  size: number;
  live: number;
  peakLive: number;
  journaled: number;
}

/**
 * Memory: 100,000 lead records ("memory"; 1,000,000 for "backlog") waiting while the emulator
 * holds every call, then drained. Peak RSS is the kernel's high-water mark (VmHWM) of the
 * Node-RED process. Only a bounded number of records are live in the node; the rest wait in its
 * journal, so the wait is over once every record is on disk.
 */
async function memory(ctx: Ctx, scenario: "memory" | "backlog" = "memory"): Promise<void> {
  const backlog = scenario === "backlog";
  const n = backlog ? ctx.opts.sizes.backlog : ctx.opts.sizes.throughput;
  const full = n >= (backlog ? 1_000_000 : 100_000);
  const goal = backlog ? GOALS.rssBacklogBytes : GOALS.rssQueuedBytes;
  await ctx.emu.reset();
  const flow = leadFlow(ctx.emu.url, ctx.scale, { bulkThreshold: 0 });
  const { w, userDir } = await runtime(ctx, scenario, flow);
  try {
    const idle = await w.cmd<Record<string, number>>("memory", { gc: true });
    await ctx.emu.pause();
    const tFeed = Date.now();
    const fed = await w.cmd<{ ms: number }>("feed", {
      target: "n-lead",
      kind: "lead",
      count: n,
      chunk: 1000,
      cycle: cycle(ctx),
    });
    // Every record accepted: on disk in the node's journal (the live ones too).
    let books: BookFigures[];
    for (;;) {
      books = await w.cmd<BookFigures[]>("books");
      if (books.reduce((t, b) => t + b.journaled, 0) >= n) break;
      if (Date.now() - tFeed > 600_000)
        throw new Error(`records did not all reach the journal: ${JSON.stringify(books)}`);
      await sleep(200);
    }
    const allInJournalMs = Date.now() - tFeed;
    await sleep(500);
    const queued = await w.cmd<Record<string, number>>("memory", {});
    const journal = await w.cmd<number>("journalBytes", { userDir });
    // Live memory per waiting record, the feed's garbage collected.
    const queuedLive = await w.cmd<Record<string, number>>("memory", { gc: true });
    const held = (await ctx.emu.stats()).held;
    const usage = await w.cmd<Usage | undefined>("usage", { config: CONFIG_ID });
    books = await w.cmd<BookFigures[]>("books");
    const live = books.reduce((t, b) => t + b.live, 0);

    const tResume = await w.cmd<number>("now");
    const before = await ctx.emu.stats();
    await ctx.emu.resume();
    const drainAll = !backlog || ctx.opts.fullDrain;
    let done: Answers;
    if (drainAll) {
      done = await w.cmd<Answers>("wait", {
        ids: ["lead-ok", "lead-failed"],
        target: n,
        timeoutMs: Math.max(900_000, (n / 1000) * 1000 * ctx.scale.factor),
      });
    } else {
      await sleep(BACKLOG_DRAIN_MS / ctx.scale.factor);
      done = await w.cmd<Answers>("sinks", { ids: ["lead-ok", "lead-failed"] });
    }
    const drained = await w.cmd<Record<string, number>>("memory", {});
    if (drainAll) await sleep(ctx.scale.batchWindowMs * 3);
    const afterGc = await w.cmd<Record<string, number>>("memory", { gc: true });
    const outside = procMemory(w.pid);
    const stats = await ctx.emu.stats();
    books = await w.cmd<BookFigures[]>("books");
    const peakLive = Math.max(...books.map((b) => b.peakLive));
    // VmHWM is synced lazily by the kernel: a VmRSS read earlier can be a little above it.
    const peakRss = Math.max(outside.peakRss ?? 0, afterGc.peakRss ?? 0, drained.rss, queued.rss, queued.peakRss ?? 0);
    const answered = done.sinks["lead-ok"].count + done.sinks["lead-failed"].count;
    const drainSeconds = (done.now - tResume) / 1000;
    const result = {
      records: n,
      ok: done.sinks["lead-ok"].count,
      failed: done.sinks["lead-failed"].count,
      failures: done.sinks["lead-failed"].codes,
      answered,
      drainedAll: drainAll,
      feedMs: fed.ms,
      allInJournalMs,
      heldCallsWhilePaused: held,
      recordsInClientWhilePaused: usage?.queuedRecords,
      liveWhilePaused: live,
      peakLive,
      drainSeconds,
      drainRecordsPerSecond: answered / drainSeconds,
      idleAfterStart: idle,
      queued,
      queuedAfterGc: queuedLive,
      liveBytesPerQueuedRecord: (queuedLive.heapUsed - idle.heapUsed) / n,
      journalBytesQueued: journal,
      drained,
      drainedAfterGc: afterGc,
      peakRss,
      // The held calls reach the emulator together at resume, on top of calls the client
      // spaced for the window: see bench/README.md.
      emulator: emulatorDelta(before, stats),
    };
    ctx.results[scenario] = result;

    const m = backlog ? "5 backlog" : "5 memory";
    const goalText = `<= ${goal / 1024 / 1024} MB`;
    ctx.rows.push({
      group: m,
      measurement: "Node-RED RSS idle (flow deployed)",
      value: `${mb(idle.rss)} (heap ${mb(idle.heapUsed)})`,
      goal: "",
    });
    ctx.rows.push({
      group: m,
      measurement: `peak RSS, ${fmt(n)} records waiting (emulator paused)`,
      value: `${mb(queued.peakRss)} (heap ${mb(queued.heapUsed)}; journal ${mb(journal)} on disk)`,
      goal: full ? goalText : `(${backlog ? "1M" : "100k"}: ${goalText})`,
      met: full ? (queued.peakRss ?? queued.rss) <= goal : undefined,
    });
    ctx.rows.push({
      group: m,
      measurement: "  live records / in the client / held calls while paused (most live at once)",
      value: `${fmt(live)} / ${fmt(usage?.queuedRecords)} / ${held} (${fmt(peakLive)})`,
      goal: "",
    });
    ctx.rows.push({
      group: m,
      measurement: "  live heap per waiting record (after a full GC)",
      value: `${fmt(result.liveBytesPerQueuedRecord)} bytes`,
      goal: "",
    });
    ctx.rows.push({
      group: m,
      measurement: drainAll
        ? "RSS after they drained / after a full GC"
        : `RSS after ${BACKLOG_DRAIN_MS / 1000} s of drain / after a full GC`,
      value: `${mb(drained.rss)} / ${mb(afterGc.rss)} (heap ${mb(afterGc.heapUsed)})`,
      goal: "",
    });
    ctx.rows.push({
      group: m,
      measurement: "peak RSS over the whole run (draining included)",
      value: mb(peakRss),
      goal: full ? goalText : "",
      met: full ? peakRss <= goal : undefined,
    });
    // Scaled time runs N times faster: the real rate is the measured one divided by N.
    const realRate = result.drainRecordsPerSecond / ctx.scale.factor;
    const syncCalls = result.emulator.callsByRoute["POST /rest/v1/leads.json"] ?? 0;
    ctx.rows.push({
      group: m,
      measurement: `  drain after the pause: 606 / 615, ${held} held calls released at once`,
      value:
        `${result.emulator.answers606} / ${result.emulator.answers615}; ${fmt(result.ok)} of ${fmt(drainAll ? n : answered)} ok in ${fmt(drainSeconds * ctx.scale.factor, 1)} s real` +
        `${drainAll ? "" : ` (${fmt(n - answered)} still waiting, by design)`}; ${fmt(realRate)} rec/s = ${fmt(realRate / ((CALLS_PER_WINDOW * MAX_BATCH * 1000) / 20_000), 3)} of the limit; ` +
        `${syncCalls ? fmt(answered / syncCalls, 1) : "—"} records/call`,
      goal: "0 / 0",
      met:
        result.emulator.answers606 + result.emulator.answers615 === 0 &&
        result.failed === 0 &&
        (!drainAll || result.ok === n),
    });
  } finally {
    await ctx.emu.resume().catch(() => undefined);
    await w.stop();
  }
}

async function bulk(ctx: Ctx): Promise<void> {
  const n = ctx.opts.sizes.bulk;
  await ctx.emu.reset();
  // The editor's default threshold (5,000 records waiting) decides the switch.
  const flow = leadFlow(ctx.emu.url, ctx.scale, {});
  const { w } = await runtime(ctx, "bulk", flow);
  try {
    const t0 = await w.cmd<number>("now");
    await w.cmd("feed", { target: "n-lead", kind: "lead", count: n, chunk: 1000, cycle: cycle(ctx) });
    const done = await w.cmd<Answers>("wait", { ids: ["lead-ok", "lead-failed"], target: n, timeoutMs: 900_000 });
    const stats = await ctx.emu.stats();
    const u = (await w.cmd<Usage>("usage", { config: CONFIG_ID }))!;
    const stored = countState(await ctx.emu.state());
    const seconds = (done.now - t0) / 1000;
    const ops = perOperation(undefined, u);
    const result = {
      records: n,
      ok: done.sinks["lead-ok"].count,
      failed: done.sinks["lead-failed"].count,
      failures: done.sinks["lead-failed"].codes,
      scaledSeconds: seconds,
      realSeconds: seconds * ctx.scale.factor,
      realRecordsPerSec: n / (seconds * ctx.scale.factor),
      operations: ops,
      emulator: emulatorDelta(undefined, stats),
      storedLeads: stored.leads,
    };
    ctx.results.bulk = result;
    const imported = ops.bulkImportLeads?.records ?? 0;
    ctx.rows.push({
      group: "2 throughput",
      measurement: `bulk switch, ${fmt(n)} records${attendees(ctx)} fed at once (threshold 5,000)`,
      value: `${fmt(result.realRecordsPerSec)} rec/s real; ${fmt(imported)} by bulk import, ${fmt(ops.syncLeads?.records ?? 0)} by Sync Leads; ${fmt(result.emulator.apiCalls)} calls`,
      goal: "",
      met: result.ok === n && stored.leads === Math.min(n, ctx.opts.distinct ? n : LEAD_CYCLE) ? undefined : false,
    });
  } finally {
    await w.stop();
  }
}

async function speed(ctx: Ctx): Promise<void> {
  const { flow, chains } = shapingFlow();
  const { w } = await runtime(ctx, "speed", flow);
  try {
    const { speedMsgs: count, speedRounds: rounds } = ctx.opts.sizes;
    const res = await w.cmd<Record<string, Array<{ ms: number; msgsPerSec: number; outputs: Record<string, number> }>>>(
      "speed",
      { chains, count, rounds },
    );
    const [ours, core] = chains;
    const med = (c: typeof ours) => median(res[c.name].map((r) => r.msgsPerSec));
    const outcome = (c: typeof ours) => OUTCOMES.map((_o, i) => res[c.name][0].outputs[c.sinks[i]]);
    const same = JSON.stringify(outcome(ours)) === JSON.stringify(outcome(core));
    const ratio = med(ours) / med(core);
    ctx.results.speed = {
      messages: count,
      rounds,
      runs: res,
      outcomes: { [ours.name]: outcome(ours), [core.name]: outcome(core), order: OUTCOMES },
      sameOutcomes: same,
      ratio,
    };
    const g = "4 flow-node speed";
    ctx.rows.push({
      group: g,
      measurement: `tag-filter → field-mapper → status-mapper (${fmt(count)} msgs, median of ${rounds})`,
      value: `${fmt(med(ours))} msgs/s`,
      goal: "",
    });
    ctx.rows.push({
      group: g,
      measurement: "core switch ×3 → change → function, same logic",
      value: `${fmt(med(core))} msgs/s`,
      goal: "",
    });
    ctx.rows.push({
      group: g,
      measurement: `ratio package / core (outcomes ${OUTCOMES.join("/")}: ${outcome(ours).join("/")}${same ? ", same" : ` vs ${outcome(core).join("/")}`})`,
      value: `${fmt(ratio, 2)}x`,
      goal: `>= ${GOALS.speedRatio.toFixed(1)}x`,
      met: ratio >= GOALS.speedRatio && same,
    });
  } finally {
    await w.stop();
  }
}

// --- output ----------------------------------------------------------------------------------

function table(rows: Row[]): string {
  const head = ["", "measurement", "value", "goal", ""];
  // Grouped by measurement number; within a group, in the order measured.
  const sorted = rows
    .map((r, i) => [r, i] as const)
    .sort((a, b) => a[0].group.localeCompare(b[0].group) || a[1] - b[1])
    .map(([r]) => r);
  const body = sorted.map((r) => [
    r.group,
    r.measurement,
    r.value,
    r.goal,
    r.met === undefined ? "" : r.met ? "ok" : "BELOW",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join(" | ")
      .trimEnd();
  let lastGroup = "";
  const out = [line(head), widths.map((w) => "-".repeat(w)).join("-+-")];
  for (const b of body) {
    const g = b[0] === lastGroup ? "" : b[0];
    lastGroup = b[0];
    out.push(line([g, ...b.slice(1)]));
  }
  return out.join("\n");
}

/** Three replicas on one Redis together against the one subscription's limit (bench/replicas.ts). */
async function replicas(ctx: Ctx): Promise<void> {
  const r = await threeReplicas({
    emu: ctx.emu,
    scale: ctx.scale,
    runDir: ctx.runDir,
    records: ctx.opts.sizes.throughput,
    env: CREDENTIALS,
    ...(cycle(ctx) ? { cycle: cycle(ctx) } : {}),
  });
  const limit = limitScaled(ctx);
  ctx.results.replicas = {
    ...r,
    fractionOfLimit: {
      overall: r.scaledRecordsPerSec.overall / limit,
      steady10to90: r.scaledRecordsPerSec.steady10to90 / limit,
    },
  };
  const g = "6 replicas";
  const steady = r.scaledRecordsPerSec.steady10to90;
  ctx.rows.push({
    group: g,
    measurement: `${REPLICAS} Node-RED on one Redis, ${fmt(r.records)} records split between them: combined, steady (10-90 %)`,
    value: `${fmt(steady / ctx.scale.factor)} rec/s real = ${fmt(steady / limit, 3)} of ${fmt(limit / ctx.scale.factor)}`,
    goal: `>= ${GOALS.fractionOfLimit}`,
    met: steady / limit >= GOALS.fractionOfLimit,
  });
  ctx.rows.push({
    group: g,
    measurement: "  calls, 606 / 615, most calls in a window / in flight",
    value: `${fmt(r.emulator.apiCalls)}, ${r.emulator.answers606} / ${r.emulator.answers615}, ${r.emulator.maxCallsInWindow} / ${r.emulator.maxInFlight}`,
    goal: "0 / 0",
    met: r.emulator.answers606 + r.emulator.answers615 === 0 && r.ok === r.records,
  });
}

/** What exactly-once delivery costs, without and with applied-then-failed faults (bench/exactly-once.ts). */
async function once(ctx: Ctx): Promise<void> {
  const r = await exactlyOnce(ctx.scale, onceSizes(ctx.opts.quick));
  ctx.results.once = r;
  const g = "7 exactly once";
  const what = `${fmt(r.sizes.engagements)} activities, ${fmt(r.sizes.campaignRequests)} campaign requests, ${fmt(r.sizes.formFills)} form fills`;
  for (const [label, x] of [
    ["no faults", r.calm],
    ["10 % applied-then-failed", r.faults],
  ] as const) {
    const dup = x.duplicates.activities + x.duplicates.campaignRequests + x.duplicates.formFills;
    ctx.rows.push({
      group: g,
      measurement: `${what}, ${label} (${fmt(x.faultsInjected)} faults): writes, extra calls (questions)`,
      value: `${fmt(x.writes)}, ${fmt(x.extraCalls)} (${fmt(x.checks)}; ${fmt(x.found)} found, ${fmt(x.resent)} re-sent)`,
      goal: label === "no faults" ? "0 extra" : "",
      ...(label === "no faults" ? { met: x.extraCalls === 0 } : {}),
    });
    ctx.rows.push({
      group: g,
      measurement: "  stored: activities / campaign requests / form fills; duplicates; failed",
      value: `${fmt(x.stored.activities)} / ${fmt(x.stored.campaignRequests)} / ${fmt(x.stored.formFills)}; ${dup}; ${x.failed}`,
      goal: "0 dup, 0 failed",
      met: dup === 0 && x.failed === 0 && x.stored.activities === r.sizes.engagements,
    });
  }
}

/** Live first during a replay: live latency alone and during a replay, and the replay's rate (bench/replay.ts). */
async function replay(ctx: Ctx): Promise<void> {
  const r = await replayBench(ctx.opts.quick ? 10_000 : 100_000);
  ctx.results.replay = r;
  const g = "8 replay";
  ctx.rows.push({
    group: g,
    measurement: `${fmt(r.live.records)} live records, one every ${r.live.everyMs} ms: p95 (max) alone / during a ${fmt(r.replay.records)}-record replay`,
    value: `${r.alone.p95} (${r.alone.max}) / ${r.during.p95} (${r.during.max}) ms`,
    goal: "during <= 2 × alone",
    met: r.during.p95 <= 2 * r.alone.p95,
  });
  ctx.rows.push({
    group: g,
    measurement: `  the replay: records in seconds, calls, share of the window limit (${r.window.calls} calls / ${r.window.ms} ms)`,
    value: `${fmt(r.replay.records)} in ${fmt(r.replay.seconds, 1)} s, ${fmt(r.replay.calls)} calls, ${fmt(r.replay.fractionOfLimit, 2)}`,
    goal: "",
  });
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const scale = timeScale(opts.scale);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const runDir = path.join(RESULTS, `run-${stamp}`);
  fs.mkdirSync(runDir, { recursive: true });
  cleanUp = () => {
    if (!opts.keep)
      for (const d of fs.readdirSync(runDir))
        if (d.startsWith("userdir-")) fs.rmSync(path.join(runDir, d), { recursive: true, force: true });
  };
  if (!fs.existsSync(path.join(ROOT, "nodes", "emulator", "cli.js")))
    throw new Error("nodes/ is not built: run npm run build first");

  const started = Date.now();
  console.log(
    `Benchmark${opts.quick ? " (--quick)" : ""}: time scale 1/${scale.factor} — Marketo window ${fmt(scale.windowMs)} ms (real 20,000), ` +
      `latency ${scale.latencyMs} ms (real ~200), batch window ${scale.batchWindowMs} ms, bulk polling ${scale.bulkPollIntervalMs} ms, ` +
      `bulk import steps ${scale.importDelayMs} ms.`,
  );
  console.log(
    scale.factor === 1
      ? "Real time: Marketo's production limits, 200 ms latency per call.\n"
      : `Rates below are converted back to real time (scaled rate / ${scale.factor}); fractions of the limit are unchanged by the scale ` +
          "as long as neither process is CPU-bound (the throughput rows show their CPU).\n",
  );
  const emu = await EmulatorProcess.start(
    { latencyMs: scale.latencyMs, windowMs: scale.windowMs, importDelayMs: scale.importDelayMs },
    path.join(runDir, "emulator.log"),
  );
  const limits = await emu.limits();
  const ctx: Ctx = { opts, scale, emu, runDir, rows: [], results: {} };
  const steps: Array<[Scenario, (c: Ctx) => Promise<void>]> = [
    ["efficiency", efficiency],
    ["naive", naive],
    ["throughput", throughput],
    ["memory", (c) => memory(c, "memory")],
    ["backlog", (c) => memory(c, "backlog")],
    ["bulk", bulk],
    ["speed", speed],
    ["replicas", replicas],
    ["once", once],
    ["replay", replay],
  ];
  const timings: Record<string, number> = {};
  const errors: Record<string, string> = {};
  for (const [name, step] of steps) {
    if (!opts.only.has(name)) continue;
    const t = Date.now();
    process.stdout.write(`  ${name} ... `);
    try {
      await step(ctx);
      timings[name] = (Date.now() - t) / 1000;
      console.log(`${fmt(timings[name], 1)} s`);
    } catch (err) {
      timings[name] = (Date.now() - t) / 1000;
      errors[name] = err instanceof Error ? err.message : String(err);
      console.log(`FAILED: ${errors[name]}`);
      ctx.rows.push({
        group: name,
        measurement: "scenario failed",
        value: errors[name].split("\n")[0].slice(0, 120),
        goal: "",
        met: false,
      });
    }
  }
  const emuMemory = procMemory(emu.child.pid!);
  await stopAll();
  const seconds = (Date.now() - started) / 1000;

  const info = machine();
  console.log(`\n${table(ctx.rows)}\n`);
  console.log(
    `Machine: ${info.cpuModel}, ${info.cores} cores, ${mb(info.memoryBytes as number)} RAM; Node ${info.node}, Node-RED ${info.nodeRed}; ` +
      `commit ${info.commit ?? "?"}${info.srcChangedSinceCommit ? " + uncommitted src changes" : ""}. Run took ${fmt(seconds, 0)} s.`,
  );

  const json = {
    startedAt: new Date(started).toISOString(),
    seconds,
    options: {
      quick: opts.quick,
      distinct: opts.distinct,
      leadCycle: opts.distinct ? undefined : LEAD_CYCLE,
      scale: opts.scale,
      only: [...opts.only],
      sizes: opts.sizes,
    },
    timeScale: scale,
    emulator: { limits, latencyMs: scale.latencyMs, peakRss: emuMemory.peakRss },
    machine: info,
    goals: GOALS,
    rows: ctx.rows,
    results: ctx.results,
    scenarioSeconds: timings,
    errors,
  };
  const file = path.join(RESULTS, `${stamp}.json`);
  fs.writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  fs.writeFileSync(path.join(RESULTS, "latest.json"), `${JSON.stringify(json, null, 2)}\n`);
  cleanUp();
  console.log(`Results: ${path.relative(ROOT, file)} (and latest.json); logs in ${path.relative(ROOT, runDir)}/`);
  if (Object.keys(errors).length) process.exitCode = 1;
}

/** Removes the run's Node-RED user directories (journals can be large) unless --keep. */
let cleanUp = (): void => undefined;
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(`\n${signal}: stopping the emulator and Node-RED…`);
    stopAll()
      .then(() => cleanUp())
      .finally(() => process.exit(130));
  });
}

main().catch(async (err: unknown) => {
  if (err instanceof UsageError) {
    console.error(`bench: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  console.error(err instanceof Error ? err.stack : String(err));
  await stopAll();
  try {
    cleanUp();
  } catch {
    /* best effort */
  }
  process.exit(1);
});
