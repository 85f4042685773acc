#!/usr/bin/env node
// `npm start`: the emulator on 127.0.0.1 and a stream of sample registrations pushed through the
// Marketo client, with a running tally of what it costs in Marketo calls. Ctrl-C stops both.
const { startEmulator } = require("../nodes/emulator");
const { MarketoClient } = require("../nodes/lib/marketo");

const PROGRAM_ID = 1001; // the seeded Kaltura-style event program
const LADDER = ["Invited", "Registered", "Confirmed", "Attended", "Participated"];
const FIRST = ["Ada", "Grace", "Alan", "Katherine", "Edsger", "Barbara", "Tim", "Radia"];
const LAST = ["Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Liskov", "Berners-Lee", "Perlman"];

async function main() {
  const port = Number(process.env.EMULATOR_PORT || 4010);
  const emu = await startEmulator({ port, latencyMs: 120, latencyJitterMs: 80 }).catch((err) => {
    if (err && err.code === "EADDRINUSE") return startEmulator({ port: 0, latencyMs: 120, latencyJitterMs: 80 });
    throw err;
  });
  console.log(`Marketo emulator  ${emu.url}`);
  console.log(`  client id       ${emu.clientId}`);
  console.log(`  client secret   ${emu.clientSecret}  (emulator only)`);
  console.log(`  inspect         ${emu.url}/_emulator/state  ·  ${emu.url}/_emulator/stats`);
  console.log("Streaming sample registrations through the client; Ctrl-C stops.\n");

  const marketo = new MarketoClient({
    endpoint: `${emu.url}/rest`,
    clientId: emu.clientId,
    clientSecret: emu.clientSecret,
    batchWindowMs: 1000,
  });

  let sent = 0;
  let failed = 0;
  const inFlight = new Set();
  const track = (p) => {
    inFlight.add(p);
    p.then((r) => (r.ok ? sent++ : failed++)).finally(() => inFlight.delete(p));
  };

  // One attendee's journey: become a lead, then climb the program's status ladder.
  async function attendee(n) {
    const lead = {
      email: `attendee${n}@example.com`,
      firstName: FIRST[n % FIRST.length],
      lastName: LAST[(n * 7) % LAST.length],
      company: `Company ${n % 37}`,
    };
    const result = await marketo.syncLead(lead);
    if (!result.ok) return result;
    const steps = 1 + (n % LADDER.length);
    let last = result;
    for (const status of LADDER.slice(0, steps)) last = await marketo.setProgramStatus(PROGRAM_ID, status, result.id);
    return last;
  }

  let n = 0;
  const feeder = setInterval(() => {
    for (let i = 0; i < 10; i++) track(attendee(n++));
  }, 100);

  const report = setInterval(() => {
    const u = marketo.usage();
    const s = emu.stats();
    const perCall = u.callsTotal ? Math.round(
      Object.values(u.recordsByOperation).reduce((a, b) => a + b, 0) / u.callsTotal) : 0;
    console.log(
      `attendees ${n.toLocaleString()} · results ok ${sent.toLocaleString()} failed ${failed} · ` +
        `calls ${u.callsTotal} (${perCall} records/call) · waiting ${u.queuedRecords} · ` +
        `limiter ${u.state} · emulator: max ${s.maxCallsInWindow} calls/window, ${s.maxInFlight} in flight`,
    );
  }, 2000);

  let stopping = false;
  const stop = async () => {
    if (stopping) return process.exit(1);
    stopping = true;
    console.log("\nStopping: finishing the attendees already started, then closing the emulator…");
    clearInterval(feeder);
    clearInterval(report);
    // Let started journeys reach Marketo (they climb the ladder one status at a time).
    const settle = Promise.allSettled([...inFlight]);
    await Promise.race([settle, new Promise((r) => setTimeout(r, 20_000).unref())]);
    await marketo.close();
    await settle;
    await emu.stop();
    console.log(`Done: ${sent.toLocaleString()} results ok, ${failed} failed.`);
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((err) => {
  console.error(err && err.message ? err.message : err);
  process.exit(1);
});
