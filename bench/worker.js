"use strict";
/**
 * One real Node-RED runtime (embedded: RED.init + RED.start, no editor, no HTTP server) driven
 * by bench/run.ts over IPC. The package loads from nodesDir = the package root, as a user's
 * install would. Plain JavaScript on purpose: a TypeScript loader would sit in the RSS we measure.
 *
 * Messages are made here from (kind, index) and handed to a node with node.receive(), as an
 * inject or http-in node would; answers are counted where they land, on disabled debug nodes.
 */
const fs = require("fs");
const path = require("path");
const { performance } = require("perf_hooks");
const { KINDS } = require("./records");

const PACKAGE_ROOT = path.resolve(__dirname, "..");

let RED;
/** Per sink node id: how many arrived, when the first and last did, what failed and why. */
const sinks = new Map();
let waiters = [];

function sinkState(id) {
  let s = sinks.get(id);
  if (!s) {
    s = { count: 0, first: 0, last: 0, times: null, codes: {} };
    sinks.set(id, s);
  }
  return s;
}

/** Why a record failed, in one short key: the Marketo error's category and code, or the naive flow's own note. */
function failureKey(msg) {
  const e = msg && msg.marketo && msg.marketo.error;
  if (e) return `${e.category}:${e.code}`;
  if (msg && msg.failed) return String(msg.failed);
  return "unknown";
}

function attachSink(id, opts) {
  const node = RED.nodes.getNode(id);
  if (!node) throw new Error(`sink ${id} is not deployed`);
  const s = sinkState(id);
  if (opts.times) s.times = [];
  node.on("input", (msg) => {
    const now = performance.now();
    s.count++;
    if (s.count === 1) s.first = now;
    s.last = now;
    if (s.times) s.times.push(now);
    if (opts.failures) {
      const k = failureKey(msg);
      s.codes[k] = (s.codes[k] || 0) + 1;
    }
    if (waiters.length) checkWaiters();
  });
}

function total(ids) {
  let n = 0;
  for (const id of ids) n += sinkState(id).count;
  return n;
}

function checkWaiters() {
  waiters = waiters.filter((w) => {
    if (total(w.ids) < w.target) return true;
    clearTimeout(w.timer);
    w.resolve();
    return false;
  });
}

function waitFor(ids, target, timeoutMs) {
  if (total(ids) >= target) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const w = { ids, target, resolve };
    w.timer = setTimeout(() => {
      waiters = waiters.filter((x) => x !== w);
      reject(new Error(`timed out after ${timeoutMs} ms: ${total(ids)} of ${target} answers at ${ids.join(", ")}`));
    }, timeoutMs);
    waiters.push(w);
  });
}

function procStatus() {
  const out = {};
  try {
    for (const line of fs.readFileSync("/proc/self/status", "utf8").split("\n")) {
      const m = /^(VmRSS|VmHWM):\s+(\d+) kB/.exec(line);
      if (m) out[m[1]] = Number(m[2]) * 1024;
    }
  } catch {
    /* not Linux: process.memoryUsage() still answers */
  }
  return out;
}

function memory() {
  const m = process.memoryUsage();
  const p = procStatus();
  const cpu = process.cpuUsage();
  return {
    rss: p.VmRSS ?? m.rss,
    peakRss: p.VmHWM,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

function dirBytes(dir) {
  let n = 0;
  try {
    for (const f of fs.readdirSync(dir)) n += fs.statSync(path.join(dir, f)).size;
  } catch {
    /* no journal folder (yet) */
  }
  return n;
}

const tick = () => new Promise((r) => setImmediate(r));

/**
 * Hands `count` messages of `kind` to a node, `chunk` per turn of the event loop. With `cycle`,
 * message i is made from index i % cycle: the same attendees again (see bench/README.md).
 */
async function feed({ target, kind, from = 0, count, chunk = 500, run, cycle }) {
  const node = RED.nodes.getNode(target);
  if (!node) throw new Error(`feed target ${target} is not deployed`);
  const make = KINDS[kind];
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    node.receive(make(cycle ? (from + i) % cycle : from + i, run));
    if ((i + 1) % chunk === 0) await tick();
  }
  return { ms: performance.now() - t0 };
}

function sinkSummary(ids) {
  const out = {};
  for (const id of ids || [...sinks.keys()]) {
    const s = sinkState(id);
    out[id] = { count: s.count, first: s.first, last: s.last, codes: { ...s.codes } };
  }
  return out;
}

/** Arrival time (performance.now) of the answer at each fraction, e.g. [0.1, 0.9]: the steady part of a drain. */
function quantileTimes(ids, fractions) {
  const all = [];
  for (const id of ids) {
    const t = sinkState(id).times;
    if (t) for (const x of t) all.push(x);
  }
  all.sort((a, b) => a - b);
  return fractions.map((f) =>
    all.length ? all[Math.min(all.length - 1, Math.max(0, Math.ceil(f * all.length) - 1))] : 0,
  );
}

function resetSinks(ids) {
  for (const id of ids) {
    const s = sinkState(id);
    s.count = 0;
    s.first = 0;
    s.last = 0;
    s.codes = {};
    if (s.times) s.times = [];
  }
}

/**
 * Flow-node speed: rounds of the same messages through each chain in turn (alternating, so
 * neither always runs on a warmer JIT or a fuller heap). Each round makes its messages first,
 * then times from the first receive() to the last answer.
 */
async function speed({ chains, count, rounds, chunk = 200 }) {
  const results = {};
  for (const c of chains) results[c.name] = [];
  const order = [];
  for (let r = 0; r < rounds; r++) for (const c of r % 2 ? [...chains].reverse() : chains) order.push([r, c]);
  // A warm-up round per chain, not counted: the first pass compiles everything.
  const warm = chains.map((c, i) => [-1 - i, c]);
  for (const [round, c] of [...warm, ...order]) {
    const run = round + 1000; // attendees of each round (and chain) are new to the status memory
    const msgs = [];
    const tag = `c${chains.indexOf(c)}n${run}`;
    for (let i = 0; i < count; i++) msgs.push(KINDS.platformEvent(i, tag));
    resetSinks(c.sinks);
    if (global.gc) global.gc();
    await tick();
    const node = RED.nodes.getNode(c.entry);
    const done = waitFor(c.sinks, count, 300_000);
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      node.receive(msgs[i]);
      msgs[i] = undefined;
      if ((i + 1) % chunk === 0) await tick();
    }
    await done;
    const ms = performance.now() - t0;
    if (round >= 0)
      results[c.name].push({
        ms,
        msgsPerSec: (count * 1000) / ms,
        outputs: Object.fromEntries(c.sinks.map((id) => [id, sinkState(id).count])),
      });
  }
  return results;
}

async function start({ userDir, flows, sinkOptions, logLevel }) {
  fs.mkdirSync(userDir, { recursive: true });
  fs.writeFileSync(path.join(userDir, "flows.json"), JSON.stringify(flows, null, 1));
  RED = require("node-red");
  const settings = {
    userDir,
    flowFile: "flows.json",
    nodesDir: [PACKAGE_ROOT],
    credentialSecret: false,
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    SKIP_BUILD_CHECK: true,
    logging: { console: { level: logLevel || "warn", metrics: false, audit: false } },
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: false, ui: false },
    contextStorage: { default: { module: "memory" } },
    externalModules: { autoInstall: false, palette: { allowInstall: false }, modules: { allowInstall: false } },
    functionExternalModules: false,
    editorTheme: { projects: { enabled: false }, tours: false },
  };
  const started = new Promise((resolve) => RED.events.once("flows:started", resolve));
  RED.init(settings);
  await RED.start();
  await started;
  for (const [id, opts] of Object.entries(sinkOptions || {})) attachSink(id, opts);
  const types = [...new Set(flows.map((n) => n.type))].filter((t) => t !== "tab");
  const missing = types.filter((t) => !RED.nodes.getType(t));
  if (missing.length) throw new Error(`node types not loaded: ${missing.join(", ")}`);
  return { memory: memory(), pid: process.pid };
}

const commands = {
  start,
  feed,
  wait: async ({ ids, target, timeoutMs }) => {
    await waitFor(ids, target, timeoutMs);
    return { sinks: sinkSummary(ids), now: performance.now() };
  },
  sinks: ({ ids }) => ({ sinks: sinkSummary(ids), now: performance.now() }),
  quantiles: ({ ids, fractions }) => quantileTimes(ids, fractions),
  /** Every answer's arrival time (performance.now), to merge the answers of several replicas. */
  times: ({ ids }) => ids.flatMap((id) => sinkState(id).times || []),
  now: () => performance.now(),
  usage: ({ config }) => {
    const cfg = RED.nodes.getNode(config);
    const client = cfg && cfg.client;
    return client ? client.usage() : undefined;
  },
  memory: ({ gc }) => {
    if (gc && global.gc) {
      global.gc();
      global.gc();
    }
    return memory();
  },
  journalBytes: ({ userDir }) => dirBytes(path.join(userDir, "marketo-journal")),
  /** Each action node's record book: accepted and unanswered, live now, most live at once, on disk. */
  books: () => require(path.join(PACKAGE_ROOT, "nodes", "lib", "record-journal.js")).recordBookFigures(),
  /** For looking into memory by hand (bench/README.md): a V8 heap snapshot after a full GC. */
  heapSnapshot: ({ file }) => {
    if (global.gc) global.gc();
    return require("v8").writeHeapSnapshot(file);
  },
  speed,
  stop: async () => {
    if (RED) await RED.stop();
    return {};
  },
};

process.on("message", (m) => {
  const cmd = commands[m.cmd];
  Promise.resolve()
    .then(() => {
      if (!cmd) throw new Error(`unknown command ${m.cmd}`);
      return cmd(m.args || {});
    })
    .then(
      (result) => process.send({ id: m.id, ok: true, result }),
      (err) => process.send({ id: m.id, ok: false, error: err && err.stack ? err.stack : String(err) }),
    );
});

// The parent going away (Ctrl-C, a crash) must not leave a runtime behind.
process.on("disconnect", () => process.exit(0));
process.send({ ready: true });
