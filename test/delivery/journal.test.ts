/**
 * The durable journal (src/lib/delivery/journal.ts) that action nodes and the retry queue persist through,
 * and where they keep it (src/lib/delivery/journal-path.ts).
 */
import "should";
import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Journal, type JournalOptions } from "../../src/lib/delivery/journal";
import { journalFile } from "../../src/lib/delivery/journal-path";
import { writerValue, type WriterValue } from "../fixtures/journal-writer";

// The same module object the journal calls into, so a spy sees its real syscalls.
const fsModule: typeof fs = require("fs");

let folder: string;

beforeEach(() => {
  folder = fs.mkdtempSync(path.join(os.tmpdir(), "marketo-journal-test-"));
});

afterEach(() => {
  fs.rmSync(folder, { recursive: true, force: true });
});

function collector(): { warnings: string[]; logger: { warn(message: string): void } } {
  const warnings: string[] = [];
  return { warnings, logger: { warn: (m: string) => warnings.push(m) } };
}

function reopen<V>(
  file: string,
  options: JournalOptions = {},
): { ids: string[]; entries: Array<{ id: string; value: V }>; warnings: string[] } {
  const { warnings, logger } = collector();
  const journal = Journal.open<V>(file, { ...options, logger });
  const entries = journal.recovered();
  void journal.close();
  return { ids: entries.map((e) => e.id), entries, warnings };
}

/** Replaces an fs function for the duration of `run`. */
async function withSpy<K extends "writeSync" | "fdatasyncSync">(
  name: K,
  spy: (real: (typeof fs)[K]) => (typeof fs)[K],
  run: () => Promise<void>,
): Promise<void> {
  const real = fsModule[name];
  (fsModule as unknown as Record<string, unknown>)[name] = spy(real);
  try {
    await run();
  } finally {
    (fsModule as unknown as Record<string, unknown>)[name] = real;
  }
}

describe("lib/journal put, delete and recovery", () => {
  it("recovers the last put per id, minus deleted ids, in first-put order, once", async () => {
    const file = path.join(folder, "j.journal");
    const journal = Journal.open<{ n: number }>(file);
    journal.recovered().should.eql([]);
    await Promise.all([journal.put("a", { n: 1 }), journal.put("b", { n: 2 }), journal.put("c", { n: 3 })]);
    await journal.put("a", { n: 10 });
    await journal.delete("b");
    journal.has("a").should.be.true();
    journal.has("b").should.be.false();
    journal.size.should.equal(2);
    journal.bytes.should.equal(fs.statSync(file).size);
    await journal.close();

    const again = Journal.open<{ n: number }>(file);
    again.recovered().should.eql([
      { id: "a", value: { n: 10 } },
      { id: "c", value: { n: 3 } },
    ]);
    again.recovered().should.eql([]);
    // the index outlives recovered(): has and size still answer
    again.has("a").should.be.true();
    again.has("b").should.be.false();
    again.size.should.equal(2);
    await again.close();
  });

  it("a deleted id put again comes back with its new value, at the end of the order", async () => {
    const file = path.join(folder, "j.journal");
    const journal = Journal.open<string>(file);
    await Promise.all([journal.put("x", "1"), journal.put("y", "1"), journal.put("z", "1")]);
    await journal.delete("x");
    await journal.put("x", "2");
    // deleted and put again within one turn: the same move to the end
    const both = [journal.delete("y"), journal.put("y", "2")];
    journal.has("y").should.be.true();
    await Promise.all(both);
    await journal.close();
    reopen<string>(file).entries.should.eql([
      { id: "z", value: "1" },
      { id: "x", value: "2" },
      { id: "y", value: "2" },
    ]);
  });

  it("within one turn, the last call per id wins and has/size follow the calls at once", async () => {
    const file = path.join(folder, "j.journal");
    const journal = Journal.open<number>(file);
    await journal.put("kept", 0);
    const calls = [
      journal.put("new", 1),
      journal.delete("new"),
      journal.put("twice", 1),
      journal.put("twice", 2),
      journal.delete("kept"),
      journal.delete("never-put"),
    ];
    journal.has("new").should.be.false();
    journal.has("twice").should.be.true();
    journal.has("kept").should.be.false();
    journal.size.should.equal(1);
    await Promise.all(calls);
    journal.size.should.equal(1);
    await journal.close();
    reopen<number>(file).entries.should.eql([{ id: "twice", value: 2 }]);
  });

  it("stores what the value was at put(), not what the caller changes afterwards", async () => {
    const file = path.join(folder, "j.journal");
    const journal = Journal.open<{ state: string }>(file);
    const value = { state: "accepted" };
    const done = journal.put("r", value);
    value.state = "changed after put";
    await done;
    await journal.close();
    reopen<{ state: string }>(file).entries.should.eql([{ id: "r", value: { state: "accepted" } }]);
  });

  it("keeps several journals in one process apart", async () => {
    const one = Journal.open<number>(path.join(folder, "one.journal"));
    const two = Journal.open<number>(path.join(folder, "two.journal"));
    await Promise.all([one.put("a", 1), two.put("b", 2), one.put("c", 3), two.delete("a")]);
    await Promise.all([one.close(), two.close()]);
    reopen<number>(path.join(folder, "one.journal")).ids.should.eql(["a", "c"]);
    reopen<number>(path.join(folder, "two.journal")).ids.should.eql(["b"]);
  });

  it("creates missing folders, and names the file when it cannot open it", () => {
    const deep = path.join(folder, "a", "b", "j.journal");
    const journal = Journal.open(deep);
    void journal.close();
    fs.existsSync(deep).should.be.true();

    const dirInTheWay = path.join(folder, "dir.journal");
    fs.mkdirSync(dirInTheWay);
    assert.throws(
      () => Journal.open(dirInTheWay),
      (err: Error) => err.message.includes(dirInTheWay),
    );

    const fileInTheWay = path.join(folder, "plain-file");
    fs.writeFileSync(fileInTheWay, "x");
    const below = path.join(fileInTheWay, "j.journal");
    assert.throws(
      () => Journal.open(below),
      (err: Error) => err.message.includes(below),
    );
  });
});

describe("lib/journal group commit", () => {
  it("writes and syncs 1,000 puts of one turn in a single write and fdatasync", async () => {
    const file = path.join(folder, "j.journal");
    const journal = Journal.open<{ n: number }>(file);
    let writes = 0;
    let syncs = 0;
    await withSpy(
      "writeSync",
      (real) =>
        ((...args: unknown[]) => {
          writes++;
          return (real as (...a: unknown[]) => number)(...args);
        }) as typeof fs.writeSync,
      () =>
        withSpy(
          "fdatasyncSync",
          (real) => (fd: number) => {
            syncs++;
            real(fd);
          },
          async () => {
            const puts: Array<Promise<void>> = [];
            for (let n = 0; n < 1000; n++) puts.push(journal.put(`id${n}`, { n }));
            await Promise.all(puts);
            await journal.close();
          },
        ),
    );
    writes.should.equal(1);
    syncs.should.equal(1);
    const { entries } = reopen<{ n: number }>(file);
    entries.length.should.equal(1000);
    entries[999].should.eql({ id: "id999", value: { n: 999 } });
  });

  it("a failed write rejects its group, leaves the file as it was and the journal usable", async () => {
    const file = path.join(folder, "j.journal");
    const { warnings, logger } = collector();
    const journal = Journal.open<number>(file, { logger });
    await journal.put("before", 1);
    const bytesBefore = journal.bytes;
    let failed: unknown;
    await withSpy(
      "writeSync",
      (real) =>
        ((fd: number, buffer: Buffer, offset: number, length: number, position: number) => {
          // half the group reaches the file, then the disk is full
          real(fd, buffer, offset, Math.floor(length / 2), position);
          throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
        }) as unknown as typeof fs.writeSync,
      async () => {
        const group = [journal.put("lost-1", 2), journal.put("lost-2", 3), journal.delete("before")];
        failed = await Promise.all(group).then(
          () => undefined,
          (err: unknown) => err,
        );
      },
    );
    assert.ok(failed instanceof Error);
    failed.message.should.match(/ENOSPC/);
    failed.message.should.containEql(file);
    warnings.length.should.equal(1);
    journal.bytes.should.equal(bytesBefore);
    fs.statSync(file).size.should.equal(bytesBefore);
    journal.has("lost-1").should.be.false();
    journal.has("before").should.be.true();
    journal.size.should.equal(1);

    await journal.put("after", 4);
    await journal.close();
    const again = reopen<number>(file);
    again.entries.should.eql([
      { id: "before", value: 1 },
      { id: "after", value: 4 },
    ]);
    again.warnings.should.eql([]);
  });

  it("a failed fdatasync rejects its group instead of claiming it is on disk", async () => {
    const file = path.join(folder, "j.journal");
    const { warnings, logger } = collector();
    const journal = Journal.open<number>(file, { logger });
    let failed: unknown;
    await withSpy(
      "fdatasyncSync",
      () => () => {
        throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
      },
      async () => {
        failed = await journal.put("unsure", 1).then(
          () => undefined,
          (err: unknown) => err,
        );
      },
    );
    assert.ok(failed instanceof Error);
    failed.message.should.match(/EIO/);
    warnings.length.should.equal(1);
    journal.has("unsure").should.be.false();
    journal.bytes.should.equal(0);
    await journal.put("sure", 2);
    await journal.close();
    reopen<number>(file).ids.should.eql(["sure"]);
  });

  it("flush() resolves once everything queued is durable", async () => {
    const file = path.join(folder, "j.journal");
    const journal = Journal.open<number>(file);
    await journal.flush();
    void journal.put("a", 1);
    void journal.put("b", 2);
    await journal.flush();
    reopen<number>(file).ids.should.eql(["a", "b"]);
    await journal.close();
  });
});

describe("lib/journal damage and torn writes", () => {
  async function threeEntries(file: string): Promise<void> {
    const journal = Journal.open<string>(file);
    await journal.put("one", "first");
    await journal.put("two", "second");
    await journal.put("three", "third");
    await journal.close();
  }

  it("cuts off a torn last line at open, keeps the rest, logs once", async () => {
    const file = path.join(folder, "j.journal");
    await threeEntries(file);
    const whole = fs.statSync(file).size;
    fs.appendFileSync(file, '4be1f00d {"p":"four","v":"fou');

    const { warnings, logger } = collector();
    const journal = Journal.open<string>(file, { logger });
    journal
      .recovered()
      .map((e) => e.id)
      .should.eql(["one", "two", "three"]);
    warnings.length.should.equal(1);
    warnings[0].should.match(/unfinished last line/);
    warnings[0].should.containEql(file);
    fs.statSync(file).size.should.equal(whole);
    journal.bytes.should.equal(whole);
    await journal.put("four", "fourth");
    await journal.close();

    const again = reopen<string>(file);
    again.ids.should.eql(["one", "two", "three", "four"]);
    again.warnings.should.eql([]);
  });

  it("skips a line whose CRC does not match, logs it and keeps the lines after it", async () => {
    const file = path.join(folder, "j.journal");
    await threeEntries(file);
    const text = fs.readFileSync(file, "utf8");
    // same length, one letter changed: only the CRC can tell
    fs.writeFileSync(file, text.replace('"second"', '"sekond"'));
    fs.appendFileSync(file, "not a journal line\n");

    const { ids, entries, warnings } = reopen<string>(file);
    ids.should.eql(["one", "three"]);
    entries[1].value.should.equal("third");
    warnings.length.should.equal(1);
    warnings[0].should.match(/skipped 2 damaged line/);
  });

  it("a damaged delete line does not hide the put before it, and a damaged put is not resurrected", async () => {
    const file = path.join(folder, "j.journal");
    const journal = Journal.open<string>(file);
    await journal.put("a", "v");
    await journal.delete("a");
    await journal.close();
    const lines = fs.readFileSync(file, "utf8").split("\n");
    lines[0].should.match(/^[0-9a-f]{8} \{"p":"a","v":"v"\}$/);
    lines[1].should.match(/^[0-9a-f]{8} \{"d":"a"\}$/);
    // damage the put: the delete still applies and nothing comes back
    fs.writeFileSync(file, `${lines[0].replace('"v"}', '"w"}')}\n${lines[1]}\n`);
    reopen<string>(file).ids.should.eql([]);
  });
});

describe("lib/journal compaction", () => {
  it("keeps the file small over 50,000 put/delete pairs and the live set right", async () => {
    const file = path.join(folder, "j.journal");
    const compactAtBytes = 64 * 1024;
    const journal = Journal.open<{ n: number; text: string }>(file, { compactAtBytes, sync: false });
    const live = new Map<string, { n: number; text: string }>();
    let largest = 0;
    let n = 0;
    const churnId = (k: number): string => `churn-${k}`;
    // 200 ids stay live throughout, some rewritten as the churn goes by
    const keep: Array<Promise<void>> = [];
    for (let k = 0; k < 200; k++) {
      const value = { n: k, text: `kept ${k}` };
      live.set(`keep-${k}`, value);
      keep.push(journal.put(`keep-${k}`, value));
    }
    await Promise.all(keep);
    let previous: string[] = [];
    while (n < 50_000) {
      const size = 1 + (n % 250);
      const calls: Array<Promise<void>> = [];
      for (const id of previous) calls.push(journal.delete(id));
      const current: string[] = [];
      for (let i = 0; i < size && n < 50_000; i++, n++) {
        current.push(churnId(n));
        calls.push(journal.put(churnId(n), { n, text: "x".repeat(n % 64) }));
      }
      if (n % 7 === 0) {
        const k = n % 200;
        const value = { n, text: `rewritten at ${n}` };
        live.set(`keep-${k}`, value);
        calls.push(journal.put(`keep-${k}`, value));
      }
      await Promise.all(calls);
      largest = Math.max(largest, journal.bytes);
      previous = current;
    }
    await Promise.all(previous.map((id) => journal.delete(id)));
    journal.size.should.equal(200);
    // 50,000 put lines alone are well over 2 MB: the file never outgrew twice the threshold plus
    // one group only because compaction kept cutting it back
    largest.should.be.below(2 * compactAtBytes + 40 * 1024);
    journal.bytes.should.be.belowOrEqual(compactAtBytes);
    journal.bytes.should.equal(fs.statSync(file).size);
    fs.existsSync(`${file}.tmp`).should.be.false();
    await journal.close();

    const again = reopen<{ n: number; text: string }>(file, { compactAtBytes });
    again.warnings.should.eql([]);
    new Map(again.entries.map((e) => [e.id, e.value])).should.eql(live);
    // first-put order survives compaction: the kept ids were put first, in order
    again.ids.should.eql([...live.keys()]);
  });

  it("removes a .tmp left by a compaction that crashed, keeping the journal", async () => {
    const file = path.join(folder, "j.journal");
    const journal = Journal.open<number>(file);
    await journal.put("a", 1);
    await journal.close();
    fs.writeFileSync(`${file}.tmp`, "half a compaction");
    reopen<number>(file).entries.should.eql([{ id: "a", value: 1 }]);
    fs.existsSync(`${file}.tmp`).should.be.false();
  });

  it("compacts at open a file that is mostly history", async () => {
    const file = path.join(folder, "j.journal");
    const journal = Journal.open<string>(file, { compactAtBytes: 1 << 30 });
    for (let round = 0; round < 50; round++) await journal.put("only", `value ${round}`);
    await journal.close();
    const before = fs.statSync(file).size;
    const small = Journal.open<string>(file, { compactAtBytes: 1024 });
    small.recovered().should.eql([{ id: "only", value: "value 49" }]);
    small.bytes.should.be.below(before / 10);
    fs.statSync(file).size.should.equal(small.bytes);
    await small.close();
  });
});

describe("lib/journal crash safety (SIGKILL)", () => {
  interface Printed {
    puts: Map<string, WriterValue>;
    deleting: Set<string>;
    deleted: Set<string>;
    unexpected: string[];
    compactions: number;
  }

  function runWriter(
    file: string,
    round: number,
    printed: Printed,
  ): Promise<{ killedAfterMs: number; recoveredAtStart: number }> {
    const writer = path.join(__dirname, "..", "fixtures", "journal-writer.ts");
    const child = spawn(
      process.execPath,
      ["-r", require.resolve("tsx/cjs"), writer, file, String(round), String(16 * 1024)],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let pending = "";
    let stderr = "";
    let recoveredAtStart = -1;
    let killedAfterMs = 0;
    let timer: NodeJS.Timeout | undefined;
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      // an unfinished line was not printed completely: it does not count
      pending = lines.pop()!;
      for (const text of lines) {
        const [kind, id] = [text[0], text.slice(2)];
        if (kind === "S") recoveredAtStart = Number(id);
        else if (kind === "P") {
          const n = Number(id.split(".")[1]);
          printed.puts.set(id, writerValue(id, n));
          // the clock starts once writing is under way, however slow the disk
          if (!timer) {
            killedAfterMs = Math.floor(Math.random() * 400);
            timer = setTimeout(() => child.kill("SIGKILL"), killedAfterMs);
          }
        } else if (kind === "C") printed.compactions++;
        else if (kind === "d") printed.deleting.add(id);
        else if (kind === "D") printed.deleted.add(id);
        else printed.unexpected.push(text);
      }
    });
    return new Promise((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (code, signal) => {
        if (timer) clearTimeout(timer);
        if (signal !== "SIGKILL") reject(new Error(`writer ended by itself (code ${code}): ${stderr}`));
        else resolve({ killedAfterMs, recoveredAtStart });
      });
    });
  }

  it("loses no resolved put and brings back no resolved delete over 5 kills at random moments", async function () {
    this.timeout(120_000);
    const file = path.join(folder, "crash.journal");
    const printed: Printed = {
      puts: new Map(),
      deleting: new Set(),
      deleted: new Set(),
      unexpected: [],
      compactions: 0,
    };
    for (let round = 1; round <= 5; round++) {
      const { killedAfterMs, recoveredAtStart } = await runWriter(file, round, printed);
      const { warnings, logger } = collector();
      const journal = Journal.open<WriterValue>(file, { logger });
      const found = new Map(journal.recovered().map((e) => [e.id, e.value]));
      await journal.close();
      const where = `round ${round}, killed after ${killedAfterMs} ms`;
      assert.ok(recoveredAtStart >= 0, `${where}: the writer never opened the journal`);
      assert.deepStrictEqual(printed.unexpected, [], `${where}: the writer said something unexpected`);
      for (const [id, value] of printed.puts) {
        if (printed.deleting.has(id)) continue;
        assert.deepStrictEqual(found.get(id), value, `${where}: resolved put ${id} is missing or wrong`);
      }
      for (const id of printed.deleted) assert.ok(!found.has(id), `${where}: resolved delete ${id} came back`);
      for (const id of found.keys()) assert.ok(/^r[1-5]\.\d+$/.test(id), `${where}: unknown id ${id}`);
      for (const message of warnings) assert.ok(/unfinished last line/.test(message), `${where}: ${message}`);
    }
    // The writers compacted (threshold 16 KiB) while they ran, so a kill could land in one.
    assert.ok(printed.compactions > 0, "the writers never compacted");
  });
});

describe("lib/journal CRC without zlib.crc32 (Node 20 before 20.15)", () => {
  it("the table CRC reads and writes the same lines as zlib.crc32", async () => {
    const zlib: { crc32?: unknown } = require("zlib");
    const real = zlib.crc32;
    const modulePath = require.resolve("../../src/lib/delivery/journal");
    const file = path.join(folder, "j.journal");
    const journal = Journal.open<unknown>(file);
    await journal.put("é✓", { text: "ünïcode 🎉", list: [1, 2] });
    await journal.close();
    let Fallback: typeof Journal;
    delete require.cache[modulePath];
    zlib.crc32 = undefined;
    try {
      Fallback = (require(modulePath) as { Journal: typeof Journal }).Journal;
    } finally {
      zlib.crc32 = real;
      delete require.cache[modulePath];
    }
    assert.notStrictEqual(Fallback, Journal);
    const { warnings, logger } = collector();
    const old = Fallback.open<unknown>(file, { logger });
    old.recovered().should.eql([{ id: "é✓", value: { text: "ünïcode 🎉", list: [1, 2] } }]);
    await old.put("written by the table", 1);
    await old.close();
    warnings.should.eql([]);
    const again = reopen<unknown>(file);
    again.ids.should.eql(["é✓", "written by the table"]);
    again.warnings.should.eql([]);
  });
});

describe("lib/journal refusals", () => {
  it("rejects put and delete after close(), with an Error saying so", async () => {
    const file = path.join(folder, "j.journal");
    const journal = Journal.open<number>(file);
    const last = journal.put("a", 1);
    await journal.close();
    await last;
    await assert.rejects(journal.put("b", 2), /journal .* is closed/);
    await assert.rejects(journal.delete("a"), /journal .* is closed/);
    await journal.close();
    reopen<number>(file).ids.should.eql(["a"]);
  });

  it("rejects at once with a TypeError a value JSON cannot hold, and stays usable", async () => {
    const file = path.join(folder, "j.journal");
    const journal = Journal.open<unknown>(file);
    const circular: Record<string, unknown> = { name: "loop" };
    circular.self = circular;
    const bytes = journal.bytes;
    await assert.rejects(journal.put("circular", circular), TypeError);
    await assert.rejects(journal.put("bigint", { amount: 10n }), TypeError);
    await assert.rejects(
      journal.put("function", () => 1),
      TypeError,
    );
    journal.has("circular").should.be.false();
    journal.size.should.equal(0);
    await journal.put("fine", { amount: "10" });
    await journal.close();
    bytes.should.equal(0);
    reopen<unknown>(file).entries.should.eql([{ id: "fine", value: { amount: "10" } }]);
  });

  it("never writes values into its warnings", async () => {
    const file = path.join(folder, "j.journal");
    const journal = Journal.open<string>(file);
    await journal.put("a", "secret-looking-value");
    await journal.close();
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("secret-looking-value", "secret-looking-valuE"));
    fs.appendFileSync(file, '00000000 {"p":"b","v":"another-value');
    const { warnings } = reopen<string>(file);
    warnings.length.should.equal(2);
    for (const message of warnings) message.should.not.match(/value/);
  });
});

describe("lib/journal-path journalFile", () => {
  it("places the journal under <userDir>/marketo-journal/<kind>-<nodeId>.journal", () => {
    journalFile({ userDir: "/data" }, "marketo-lead", "a1b2c3d4e5f60718")!.should.equal(
      path.join("/data", "marketo-journal", "marketo-lead-a1b2c3d4e5f60718.journal"),
    );
  });

  it("answers undefined without a userDir (the test helper)", () => {
    (journalFile({}, "marketo-lead", "n1") === undefined).should.be.true();
    (journalFile({ userDir: "" }, "marketo-lead", "n1") === undefined).should.be.true();
    (journalFile({ userDir: 42 }, "marketo-lead", "n1") === undefined).should.be.true();
  });

  it("makes any node id a safe file name, different ids different files", () => {
    const ids = ["../../etc/passwd", "a/b", "a_2fb", "a-b", "a_b", "a:b", "ä", "", "..", "A.B"];
    const files = ids.map((id) => journalFile({ userDir: "/data" }, "retry-queue", id)!);
    for (const file of files) {
      path.dirname(file).should.equal(path.join("/data", "marketo-journal"));
      path.basename(file).should.match(/^retry-queue-[A-Za-z0-9._]*\.journal$/);
    }
    new Set(files).size.should.equal(ids.length);
    // the kind's own dash is kept and cannot be confused with an id's
    journalFile({ userDir: "/d" }, "a-b", "c")!.should.not.equal(journalFile({ userDir: "/d" }, "a", "b-c"));
  });
});
