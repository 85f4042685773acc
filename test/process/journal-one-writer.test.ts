/**
 * Two real processes pointed at one journal file (replicas sharing a userDir and the same flows):
 * the second is refused the file with a message naming the holder (host, pid), keeps its records
 * in its own file, and no acknowledged record is lost or brought back.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Journal } from "../../src/lib/delivery/journal";
import type { EmulatorHandle } from "../../src/emulator";
import { configNode, emulatorCredentials, httpFeed, postJson, syncLeadNode, TAB } from "../helpers/process-flow";
import { ProcessRig } from "../helpers/process-rig";
import { until } from "../helpers/until";

const COUNT = 3000;

interface Writer {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  next(): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

function writer(file: string, name: string, count = COUNT): Writer {
  const script = path.join(__dirname, "..", "fixtures", "journal-two-writers.ts");
  const child = spawn(process.execPath, ["-r", require.resolve("tsx/cjs"), script, file, name, String(count)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines: Array<Record<string, unknown>> = [];
  const waiting: Array<(v: Record<string, unknown>) => void> = [];
  let buf = "";
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split("\n");
    buf = parts.pop()!;
    for (const p of parts) {
      const v = JSON.parse(p) as Record<string, unknown>;
      const w = waiting.shift();
      if (w) w(v);
      else lines.push(v);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    next: () =>
      lines.length
        ? Promise.resolve(lines.shift()!)
        : Promise.race([
            new Promise<Record<string, unknown>>((r) => waiting.push(r)),
            exited.then((code) => {
              throw new Error(`writer ${name} exited (${code}): ${err}`);
            }),
          ]),
  };
}

describe("a journal has exactly one writer", function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "journal-one-writer-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("a second process is refused the file, told who holds it, and keeps its records in its own: 0 lost", async () => {
    const file = path.join(dir, "marketo-journal", "marketo-lead-abc.journal");
    const a = writer(file, "a");
    const openedA = await a.next();
    assert.equal(openedA.opened, file);
    assert.deepEqual(openedA.warnings, []);
    const b = writer(file, "b");
    const openedB = await b.next();
    assert.notEqual(openedB.opened, file, "the second process must not write the first one's file");
    const warnings = openedB.warnings as string[];
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], new RegExp(`host ${os.hostname()}, pid ${a.child.pid}`));
    assert.ok(warnings[0].includes(String(openedB.opened)), "the message says where its records go");

    // Both write at once, then close.
    assert.deepEqual(await a.next(), { written: COUNT });
    assert.deepEqual(await b.next(), { written: COUNT });
    a.child.stdin!.write("close\n");
    b.child.stdin!.write("close\n");
    assert.equal(await a.exited, 0);
    assert.equal(await b.exited, 0);

    for (const [name, f] of [
      ["a", file],
      ["b", String(openedB.opened)],
    ] as const) {
      const j = Journal.open<{ n: number; by: string }>(f);
      const ids = new Set(j.recovered().map((r) => r.id));
      await j.close();
      const expected = Array.from({ length: COUNT }, (_, n) => n).filter((n) => n % 10 !== 0);
      assert.equal(ids.size, expected.length, `${name}: live records`);
      for (const n of expected) assert.ok(ids.has(`${name}-${n}`), `${name}-${n} kept`);
    }
    assert.equal(fs.existsSync(`${file}.lock`), false, "the lock goes with its holder");
  });

  it("a process killed while writing its own file: the next process refused the main file finishes its records", async () => {
    const file = path.join(dir, "marketo-journal", "marketo-lead-killed.journal");
    const a = writer(file, "a", 0);
    assert.equal((await a.next()).opened, file);
    const b = writer(file, "b");
    const openedB = await b.next();
    assert.notEqual(openedB.opened, file);
    assert.deepEqual(await b.next(), { written: COUNT });
    b.child.kill("SIGKILL");
    await b.exited;
    const c = writer(file, "c", 0);
    const openedC = await c.next();
    assert.equal(openedC.opened, openedB.opened, "takes up the dead process's file");
    assert.equal(openedC.recovered, COUNT - COUNT / 10, "with every record the dead process acknowledged");
    assert.match((openedC.warnings as string[])[0], /left by a process that no longer runs/);
    for (const w of [a, c]) w.child.kill("SIGTERM");
    await Promise.all([a.exited, c.exited]);
  });

  it("takes over a lock left by a process that no longer runs", async () => {
    const file = path.join(dir, "stale.journal");
    fs.writeFileSync(
      `${file}.lock`,
      JSON.stringify({ host: os.hostname(), pid: 2 ** 22 + 12345, since: "then", token: "old" }),
    );
    const warnings: string[] = [];
    const j = Journal.openOwn<number>(file, { logger: { warn: (m) => warnings.push(m) } });
    assert.equal(j.path, file);
    assert.deepEqual(warnings, []);
    await j.close();
  });
});

describe("two Node-RED processes on one userDir", function () {
  this.timeout(120_000);
  const rig = new ProcessRig();
  let emu: EmulatorHandle;
  let userDir: string;
  before(async () => {
    emu = await rig.emulator({});
    userDir = rig.tempDir("nr-shared-userdir-");
  });
  after(() => rig.stop());

  it("the second refuses the lead node's journal with a message naming the first, and every record reaches Marketo", async () => {
    const flows = [
      { id: TAB, type: "tab", label: "shared" },
      configNode(emu, { batchWindowMs: 20 }),
      ...httpFeed("/leads", "lead"),
      syncLeadNode("lead", "cfg"),
    ];
    const [a, b] = await rig.replicas(2, { flows, credentials: emulatorCredentials(emu), userDir });
    await b.waitForLog(
      new RegExp(`marketo-lead-lead\\.journal is written by another process \\(host ${os.hostname()}, pid ${a.pid},`),
      20_000,
    );
    for (const [red, k] of [
      [a, "a"],
      [b, "b"],
    ] as const) {
      await postJson(
        red.url,
        "/leads",
        Array.from({ length: 300 }, (_, i) => ({ email: `${k}${i}@example.com` })),
      );
    }
    await until(() => emu.state().leads.length >= 600, "600 leads", 60_000, 100).catch(() => undefined);
    assert.equal(emu.state().leads.length, 600);
  });
});
