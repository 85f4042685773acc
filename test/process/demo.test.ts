/**
 * `npm start` (scripts/demo.js): it stops everything it started when it is told to stop, whether
 * the signal reaches the demo itself or only the `npm start` process above it (what a process
 * manager or an IDE sends), it says when a busy port was replaced, and the flow it runs delivers
 * the posted events into the emulator. Each demo runs on free ports, so it never meets a
 * developer's own Node-RED on 1880.
 */
import "should";
import {
  alive,
  busyPort,
  commandOf,
  descendants,
  freePort,
  killDemo,
  refused,
  startDemo,
  type Demo,
} from "../helpers/demo-process";
import { until } from "../helpers/marketo-flow";

describe("npm start (the demo)", function () {
  this.timeout(120_000);
  const started: Demo[] = [];
  afterEach(() => {
    // A failed test must not leave a demo running: end what this suite started, by pid.
    for (const d of started.splice(0)) killDemo(d);
  });

  async function runningDemo(
    command: string,
    args: string[],
  ): Promise<{ demo: Demo; editor: number; emulator: number; red: number; below: number[] }> {
    const editor = await freePort();
    const emulator = await freePort();
    const demo = startDemo(command, args, { PORT: String(editor), EMULATOR_PORT: String(emulator) });
    started.push(demo);
    await until(
      () => /events posted [1-9]/.test(demo.out()),
      `the demo to post events (output so far:\n${demo.out()})`,
      90_000,
    );
    const below = descendants(demo.child.pid!);
    for (const p of below) demo.seen.add(p);
    // Node-RED renames its process (process.title): "node-red", not the red.js command line.
    const red = below.find((p) => /^node-red\b|node-red\/red\.js/.test(commandOf(p)))!;
    [demo.child.pid!, ...below].some((p) => /^\S*node scripts\/demo\.js/.test(commandOf(p))).should.be.true();
    (red > 0).should.be.true();
    return { demo, editor, emulator, red, below };
  }

  /** A demo started with `env`, once it has printed where its editor is. */
  async function printedDemo(env: Record<string, string>): Promise<Demo> {
    const demo = startDemo(process.execPath, ["scripts/demo.js"], env);
    started.push(demo);
    await until(() => /Node-RED editor/.test(demo.out()), "the demo's printout", 90_000);
    return demo;
  }

  /** The port the demo says it took instead of the busy one for `what` ("Node-RED", "the emulator"). */
  function replacedPort(demo: Demo, busy: number, what: string): number {
    const m = new RegExp(`Port ${busy} is in use: ${what} listens on (\\d+) instead`).exec(demo.out());
    (m !== null).should.be.true(`no "port in use" line in:\n${demo.out()}`);
    const port = Number(m![1]);
    port.should.not.equal(busy);
    return port;
  }

  it("SIGTERM to the demo stops Node-RED, the poster and the emulator", async () => {
    const { demo, editor, emulator, red, below } = await runningDemo(process.execPath, ["scripts/demo.js"]);
    (await refused(editor)).should.be.false();
    demo.child.kill("SIGTERM");
    (await demo.exited)!.should.equal(0);
    alive(red).should.be.false();
    below.filter(alive).map(commandOf).should.eql([]);
    (await refused(editor)).should.be.true();
    (await refused(emulator)).should.be.true();
    demo.out().should.match(/SIGTERM: stopping Node-RED/);
    demo.out().should.match(/Stopped\./);
  });

  it("SIGTERM to `npm start` stops the demo and Node-RED too, leaving no orphan", async () => {
    // --ignore-scripts skips prestart's build: the suite has built already.
    const { demo, editor, emulator, red, below } = await runningDemo("npm", ["start", "--ignore-scripts"]);
    // npm's shell and the demo below it, and Node-RED below that.
    below.length.should.be.aboveOrEqual(3);
    demo.child.kill("SIGTERM");
    await demo.exited;
    await until(
      () => !below.some(alive),
      `every process below npm to stop (left: ${below.filter(alive).map(commandOf).join("; ")})`,
      30_000,
    );
    alive(red).should.be.false();
    (await refused(editor)).should.be.true();
    (await refused(emulator)).should.be.true();
  });

  it("says when a busy port was replaced, and serves the editor on the new one", async () => {
    const blocker = await busyPort();
    const busy = blocker.port;
    try {
      const demo = await printedDemo({ PORT: String(busy), EMULATOR_PORT: String(await freePort()) });
      const port = replacedPort(demo, busy, "Node-RED");
      demo.out().should.containEql(`Node-RED editor   http://127.0.0.1:${port}/`);
      (await fetch(`http://127.0.0.1:${port}/`)).status.should.equal(200);
      demo.child.kill("SIGTERM");
      await demo.exited;
    } finally {
      blocker.close();
    }
  });
  it("replaces a busy emulator port, says so, and the flow delivers the posted events into that emulator", async () => {
    const blocker = await busyPort();
    const busy = blocker.port;
    try {
      const demo = await printedDemo({ PORT: String(await freePort()), EMULATOR_PORT: String(busy) });
      const port = replacedPort(demo, busy, "the emulator");
      demo.out().should.containEql(`Marketo emulator  http://127.0.0.1:${port} `);
      // Marketo's side of the delivery, as the emulator counts the records it applied: leads
      // synced, program statuses set and engagement activities added, from the posted events.
      type Results = Record<string, Record<string, number>>;
      let results: Results = {};
      const applied = (route: string): number =>
        Object.values(results[route] ?? {}).reduce((a, b) => a + b, 0) - (results[route]?.skipped ?? 0);
      const end = Date.now() + 90_000;
      for (;;) {
        const res = await fetch(`http://127.0.0.1:${port}/_emulator/stats`);
        results = ((await res.json()) as { resultsByRoute: Results }).resultsByRoute;
        if (
          applied("POST /rest/v1/leads.json") >= 5 &&
          applied("POST /rest/v1/programs/:programId/members/status.json") >= 5 &&
          applied("POST /rest/v1/activities/external.json") >= 5
        )
          break;
        if (Date.now() > end)
          throw new Error(`the demo delivered too little: ${JSON.stringify(results)}\n${demo.out()}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      // And the demo's own tally says so.
      await until(() => /in Marketo: [1-9]\d* leads/.test(demo.out()), "a tally with leads in Marketo", 30_000);
      demo.child.kill("SIGTERM");
      await demo.exited;
    } finally {
      blocker.close();
    }
  });
});
