#!/usr/bin/env node
// `npm start`: the Marketo emulator on 127.0.0.1, a headless Node-RED 4.1 in the scratch userDir
// .demo/ running the Kaltura-style example against it, and a stream of sample events posted to
// the example's webhook, so the nodes' status counters move as soon as the editor opens.
// Ctrl-C, or SIGTERM to this process or to the `npm start` above it, stops all three.
// EMULATOR_PORT (default 4010) and PORT (default 1880) pick the ports; a port in use is replaced
// by a free one, and the printout says so.
"use strict";
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const path = require("node:path");
const { startEmulator } = require("../nodes/emulator");

const ROOT = path.resolve(__dirname, "..");
const USER_DIR = path.join(ROOT, ".demo");
const EXAMPLE = path.join(ROOT, "examples", "Kaltura-style event sync.json");
const RED_JS = require.resolve("node-red/red.js");
const TAB = "demo-tab";
const WEBHOOK = "/kaltura/events";

const FIRST = ["Ada", "Grace", "Alan", "Katherine", "Edsger", "Barbara", "Tim", "Radia", "Margaret", "Donald"];
const LAST = [
  "Lovelace",
  "Hopper",
  "Turing",
  "Johnson",
  "Dijkstra",
  "Liskov",
  "Berners-Lee",
  "Perlman",
  "Hamilton",
  "Knuth",
];
const EVENT = { id: 8801, code: "KVS26", name: "Kaltura Virtual Summit", tags: ["marketo", "summit"], test: false };
// Kaltura's statuses in the order an attendee meets them, with the tags the example's filter lets through.
const JOURNEY = [
  ["Registered no confirmation required", "registered"],
  ["Pre-event visit", "attended"],
  ["During-event visit", "attended"],
];
const ENTRIES = [
  ["1_keynote", "Opening keynote"],
  ["1_roadmap", "Product roadmap"],
  ["1_panel", "Customer panel"],
];

/** The preferred port when it is free, else one the system picks; `busy` says it was replaced. */
function freePort(preferred) {
  const tryPort = (port) =>
    new Promise((resolve, reject) => {
      const srv = net.createServer();
      srv.once("error", reject);
      srv.listen(port, "127.0.0.1", () => {
        const got = srv.address().port;
        srv.close(() => resolve(got));
      });
    });
  return tryPort(preferred).then(
    (port) => ({ port, busy: false }),
    () => tryPort(0).then((port) => ({ port, busy: preferred !== 0 })),
  );
}

function settingsSource(port) {
  const settings = {
    uiHost: "127.0.0.1",
    uiPort: port,
    flowFile: "flows.json",
    // The only credentials are the emulator's, written in plain text so the demo needs no key.
    credentialSecret: false,
    nodesDir: [ROOT],
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: false, ui: false },
    editorTheme: { tours: false, projects: { enabled: false } },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    logging: { console: { level: "info", metrics: false, audit: false } },
  };
  return [
    "// Written by scripts/demo.js at every `npm start`; edit that script, not this file.",
    `module.exports = ${JSON.stringify(settings, null, 2)};`,
    // Node-RED leaves with the demo even when the demo is killed without a chance to stop it.
    `const parent = ${process.pid};`,
    "setInterval(() => { if (process.ppid !== parent) process.exit(1); }, 500).unref();",
    "",
  ].join("\n");
}

/** The example as a user deploys it: on its own tab, pointed at the emulator, with its credentials. */
function writeUserDir(emu, port) {
  // A fresh userDir each run: journals and context left by an earlier run belong to an earlier emulator.
  fs.rmSync(USER_DIR, { recursive: true, force: true });
  fs.mkdirSync(USER_DIR, { recursive: true });
  const nodes = JSON.parse(fs.readFileSync(EXAMPLE, "utf8"));
  const tab = nodes.find((n) => n.z).z;
  const config = nodes.find((n) => n.type === "marketo-config");
  config.endpoint = emu.url;
  const flows = [{ id: tab || TAB, type: "tab", label: "Kaltura-style demo", disabled: false, info: "" }, ...nodes];
  fs.writeFileSync(path.join(USER_DIR, "settings.js"), settingsSource(port));
  fs.writeFileSync(path.join(USER_DIR, "flows.json"), JSON.stringify(flows, null, 2));
  fs.writeFileSync(
    path.join(USER_DIR, "flows_cred.json"),
    JSON.stringify({ [config.id]: { clientId: emu.clientId, clientSecret: emu.clientSecret } }, null, 2),
  );
}

/** The n-th sample event: mostly new registrations, then their attendees moving on and watching sessions. */
function sampleEvent(n) {
  const k = Math.floor(n / 3);
  const who = (i) => ({
    email: `${FIRST[i % FIRST.length].toLowerCase()}.${LAST[(i * 7) % LAST.length].toLowerCase()}${i}@example.com`,
    firstName: FIRST[i % FIRST.length],
    lastName: LAST[(i * 7) % LAST.length],
    company: `Company ${i % 37}`,
  });
  const registration = (i, step) => ({
    code: `R-${10000 + i}`,
    status: JOURNEY[step][0],
    statusTags: [JOURNEY[step][1]],
    attendeeType: "Attendee",
    test: false,
  });
  switch (n % 3) {
    case 0:
      return {
        topic: "registration.created",
        payload: { event: EVENT, registration: registration(k, 0), profile: who(k) },
      };
    case 1: {
      // An attendee registered a little earlier moves one step up their journey.
      const i = Math.max(0, k - 5);
      const step = 1 + (Math.floor(k / 5) % 2);
      return {
        topic: "registration.status_changed",
        payload: {
          event: EVENT,
          registration: { ...registration(i, step), previousStatus: JOURNEY[step - 1][0] },
          profile: who(i),
        },
      };
    }
    default: {
      const i = Math.max(0, k - 3);
      const [entryId, entryName] = ENTRIES[k % ENTRIES.length];
      return {
        topic: "session.engagement",
        payload: {
          event: EVENT,
          profile: who(i),
          session: { id: `s-${k % ENTRIES.length}`, name: entryName },
          engagement: {
            entry_id: entryId,
            entry_name: entryName,
            plays: 1 + (k % 4),
            live_minutes_viewed: 5 + (k % 40),
            clap_clicked_count: k % 3,
          },
        },
      };
    }
  }
}

async function main() {
  const emulatorOptions = { latencyMs: 60, latencyJitterMs: 40 };
  const wantEmulator = Number(process.env.EMULATOR_PORT || 4010);
  const emuPort = await freePort(wantEmulator);
  const emu = await startEmulator({ ...emulatorOptions, port: emuPort.port });
  const wantEditor = Number(process.env.PORT || 1880);
  const editorPort = await freePort(wantEditor);
  const port = editorPort.port;
  writeUserDir(emu, port);

  const red = spawn(
    process.execPath,
    [RED_JS, "--userDir", USER_DIR, "--settings", path.join(USER_DIR, "settings.js")],
    {
      cwd: USER_DIR,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const redExited = new Promise((resolve) => red.once("exit", (code, signal) => resolve({ code, signal })));
  let started;
  const startedFlows = new Promise((resolve) => (started = resolve));
  for (const stream of [red.stdout, red.stderr]) {
    let pending = "";
    stream.on("data", (chunk) => {
      pending += chunk.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines) {
        if (line.trim()) console.log(`  node-red │ ${line}`);
        if (/Started flows/.test(line)) started();
      }
    });
  }

  let feeder;
  let report;
  let stopping = false;
  const stop = async (why) => {
    if (stopping) {
      // A second Ctrl-C: do not wait for Node-RED to finish delivering.
      red.kill("SIGKILL");
      process.exit(1);
    }
    stopping = true;
    console.log(`\n${why}: stopping Node-RED (it sends what it holds first), then the emulator…`);
    clearInterval(feeder);
    clearInterval(report);
    if (red.exitCode === null && red.signalCode === null) red.kill("SIGTERM");
    const force = setTimeout(() => red.kill("SIGKILL"), 15_000);
    await redExited;
    clearTimeout(force);
    await emu.stop();
    console.log("Stopped.");
    process.exit(0);
  };
  process.on("SIGINT", () => stop("Ctrl-C"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGHUP", () => stop("SIGHUP"));
  // Under `npm start`, a SIGTERM to npm (what a process manager or an IDE sends) ends npm and its
  // shell without passing the signal on: the demo sees its parent go and stops the same way.
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    stop("npm start ended");
  }, 250);
  watch.unref();
  redExited.then(({ code, signal }) => {
    if (!stopping) {
      console.error(`Node-RED exited (${signal || `code ${code}`}); see its log above.`);
      clearInterval(feeder);
      clearInterval(report);
      emu.stop().finally(() => process.exit(1));
    }
  });

  const startTimeout = setTimeout(() => stop("Node-RED did not start flows within 60 s"), 60_000);
  await startedFlows;
  clearTimeout(startTimeout);

  const editor = `http://127.0.0.1:${port}/`;
  console.log("");
  if (editorPort.busy)
    console.log(`Port ${wantEditor} is in use: Node-RED listens on ${port} instead (PORT picks another).`);
  if (emuPort.busy)
    console.log(
      `Port ${wantEmulator} is in use: the emulator listens on ${emuPort.port} instead (EMULATOR_PORT picks another).`,
    );
  console.log(`Node-RED editor   ${editor}   (flow "Kaltura-style demo"; Import ▸ Examples has the others)`);
  console.log(`Marketo sidebar   the chart icon among the sidebar's tabs on the right (in its ▾ menu when narrow),`);
  console.log(`                  or View ▸ Marketo sidebar, or ctrl-g m: counts, charts, troubleshooting, feed`);
  console.log(`Marketo emulator  ${emu.url}   client id ${emu.clientId}, secret ${emu.clientSecret} (emulator only)`);
  console.log(`  what it holds   ${emu.url}/_emulator/state  ·  ${emu.url}/_emulator/stats`);
  console.log(`Posting sample events to ${editor.slice(0, -1)}${WEBHOOK}; Ctrl-C stops everything.\n`);

  let posted = 0;
  let failedPosts = 0;
  let n = 0;
  const post = (event) =>
    fetch(`http://127.0.0.1:${port}${WEBHOOK}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(event),
    })
      .then((res) => {
        res.body?.cancel();
        if (res.ok) posted++;
        else failedPosts++;
      })
      .catch(() => failedPosts++);
  // Ten events a second: enough to watch the counters climb, well inside Marketo's limits.
  feeder = setInterval(() => {
    if (!stopping) for (let i = 0; i < 2; i++) post(sampleEvent(n++));
  }, 200);

  report = setInterval(() => {
    const s = emu.state();
    const members = s.programs.programMembers.length;
    const activities = s.activities.activities.filter((a) => a.activityTypeId >= 100000).length;
    const records = Object.values(s.customObjects).reduce(
      (sum, list) => sum + (Array.isArray(list) ? list.length : 0),
      0,
    );
    const stats = emu.stats();
    console.log(
      `events posted ${posted}${failedPosts ? ` (${failedPosts} refused)` : ""} · in Marketo: ${s.leads.length} leads, ` +
        `${members} program members, ${activities} engagement activities, ${records} custom object records · ` +
        `${stats.countedCalls} Marketo API calls`,
    );
  }, 5000);
}

main().catch((err) => {
  console.error(err && err.message ? err.message : err);
  process.exit(1);
});
