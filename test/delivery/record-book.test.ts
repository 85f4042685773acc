/**
 * The record book (src/lib/delivery/record-journal.ts) keeps only a bounded number of records live; the
 * rest wait in the journal (or in memory without one) and are read back in order as room frees
 * up. Counted, not measured: the benchmark measures memory.
 */
import "should";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Journal } from "../../src/lib/delivery/journal";
import {
  RecordBook,
  type BookEntry,
  type BookOwner,
  type StoredAnswer,
  type StoredRecord,
} from "../../src/lib/delivery/record-journal";

const quiet = { warn: () => undefined };
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** An owner that runs nothing by itself (Marketo paused): it notes what goes live and what is answered. */
function pausedOwner(book: () => RecordBook, limit: number) {
  const running: BookEntry[] = [];
  const answered: Array<{ entry: BookEntry; answer: StoredAnswer }> = [];
  let mostLive = 0;
  const owner: BookOwner = {
    run(entry) {
      running.push(entry);
      mostLive = Math.max(mostLive, book().liveCount);
      if (book().liveCount > limit) throw new Error(`${book().liveCount} records live, the bound is ${limit}`);
    },
    deliver(entry, answer) {
      answered.push({ entry, answer });
      book().forget(entry);
    },
  };
  return { owner, running, answered, mostLive: () => mostLive };
}

/** Accepts record i of a one-record message. */
function accept(book: RecordBook, i: number, extra: Record<string, unknown> = {}): Promise<void> {
  return book.accept(
    { topic: "t", payload: { email: `u${i}@example.com` }, _msgid: `m${i}`, ...extra },
    { email: `u${i}@example.com` },
    0,
    false,
    { has: false },
    undefined,
  );
}

const ok = (i: number): StoredAnswer => ({ ok: true, marketo: { status: "created", leadId: i } });

/** Answers the running records one by one as they go live, until `n` are answered. */
async function settleAll(book: RecordBook, running: BookEntry[], n: number): Promise<void> {
  let settled = 0;
  let idle = 0;
  while (settled < n) {
    if (settled === running.length) {
      // The next waiting record goes live once the book's pump has run.
      if (++idle > 10) throw new Error(`${settled} of ${n} answered, no record went live since`);
      await turn();
      continue;
    }
    idle = 0;
    book.settle(running[settled++], ok(settled), false);
  }
  await turn();
}

for (const durable of [true, false]) {
  describe(`lib/record-journal: a bounded number of live records (${durable ? "journal" : "no journal"})`, function () {
    this.timeout(60_000);
    let folder: string;
    let journal: Journal<StoredRecord> | undefined;

    beforeEach(() => {
      folder = fs.mkdtempSync(path.join(os.tmpdir(), "marketo-book-test-"));
      journal = durable ? Journal.open<StoredRecord>(path.join(folder, "lead.journal"), { sync: false }) : undefined;
    });
    afterEach(async () => {
      await journal?.close();
      fs.rmSync(folder, { recursive: true, force: true });
    });

    it("20,000 records accepted while nothing answers: at most 500 live, the rest wait and go live in order as room frees up", async () => {
      const LIMIT = 500;
      const N = 20_000;
      const book = new RecordBook(durable ? path.join(folder, "lead.journal") : undefined, journal, quiet);
      const o = pausedOwner(() => book, LIMIT);
      book.claim(o.owner, LIMIT);
      book.resume(o.owner);
      // Fed in turns of 1,000, as a flow would.
      for (let i = 0; i < N; i += 1000) {
        const accepted: Array<Promise<void>> = [];
        for (let k = i; k < i + 1000; k++) accepted.push(accept(book, k));
        await Promise.all(accepted);
        await turn();
      }
      book.size.should.equal(N);
      book.liveCount.should.equal(LIMIT);
      o.running.should.have.length(LIMIT);
      if (durable) journal!.size.should.equal(N);
      if (durable) {
        // Read back from the journal: the message was let go once it was on disk.
        (o.running[0].msg === undefined).should.be.true();
        o.running[0].stored.should.eql({
          msg: { topic: "t" },
          payload: { email: "u0@example.com" },
          many: false,
          index: 0,
        });
      } else {
        // Without a journal the message waits with its record.
        o.running[0].msg!.should.containEql({ _msgid: "m0" });
      }

      // Marketo answers: each answer makes room for the next waiting record, oldest first.
      await settleAll(book, o.running, N);
      o.mostLive().should.equal(LIMIT);
      o.answered.should.have.length(N);
      o.answered
        .map((a) => (a.entry.stored.payload as { email: string }).email)
        .should.eql(Array.from({ length: N }, (_, i) => `u${i}@example.com`));
      book.size.should.equal(0);
      book.liveCount.should.equal(0);
      if (durable) {
        await journal!.flush();
        journal!.size.should.equal(0);
      }
    });

    it("closing for good answers every waiting record at once, none twice", async () => {
      const book = new RecordBook(undefined, journal, quiet);
      const o = pausedOwner(() => book, 10);
      book.claim(o.owner, 10);
      book.resume(o.owner);
      await Promise.all(Array.from({ length: 100 }, (_, i) => accept(book, i)));
      await turn();
      o.running.should.have.length(10);
      book.answerWaiting(o.owner, () => ({ ok: false, marketo: { status: "failed" } }));
      o.answered.should.have.length(90);
      await settleAll(book, o.running, 10);
      o.answered.should.have.length(100);
      new Set(o.answered.map((a) => a.entry.id)).size.should.equal(100);
      book.size.should.equal(0);
    });
  });
}

describe("lib/record-journal: waiting records after a restart", function () {
  it("are read back from the journal in the order they came, a bounded number at a time", async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "marketo-book-test-"));
    const file = path.join(folder, "lead.journal");
    try {
      const first = Journal.open<StoredRecord>(file, { sync: false });
      const book1 = new RecordBook(file, first, quiet);
      await Promise.all(Array.from({ length: 1000 }, (_, i) => accept(book1, i)));
      await first.close();

      const journal = Journal.open<StoredRecord>(file, { sync: false });
      const book = new RecordBook(file, journal, quiet);
      book.size.should.equal(1000);
      const o = pausedOwner(() => book, 64);
      book.claim(o.owner, 64);
      book.liveCount.should.equal(0);
      book.resume(o.owner);
      o.running.should.have.length(64);
      await settleAll(book, o.running, 1000);
      o.answered
        .map((a) => (a.entry.stored.payload as { email: string }).email)
        .should.eql(Array.from({ length: 1000 }, (_, i) => `u${i}@example.com`));
      o.mostLive().should.equal(64);
      await journal.close();
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe("lib/record-journal: what a journaled record keeps", function () {
  it("keeps a message JSON cannot hold (http-in's res) for a record that goes live at once; others are read back", async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "marketo-book-test-"));
    const file = path.join(folder, "lead.journal");
    const journal = Journal.open<StoredRecord>(file, { sync: false });
    try {
      const book = new RecordBook(file, journal, quiet);
      const o = pausedOwner(() => book, 10);
      book.claim(o.owner, 10);
      book.resume(o.owner);
      const res = { send: () => undefined };
      await accept(book, 0, { res });
      await accept(book, 1, { big: 10n });
      await turn();
      o.running.should.have.length(2);
      o.running[0].msg!.should.have.property("res", res);
      (o.running[1].msg === undefined).should.be.true();
      // What the journal holds: no payload twice, no res, a BigInt as text.
      o.running[1].stored.msg.should.eql({ topic: "t", big: "10" });
      journal.get(o.running[0].id)!.msg.should.eql({ topic: "t" });
    } finally {
      await journal.close();
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });

  it("a message with a cycle is journaled without it", async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "marketo-book-test-"));
    const file = path.join(folder, "lead.journal");
    const journal = Journal.open<StoredRecord>(file, { sync: false });
    try {
      const book = new RecordBook(file, journal, quiet);
      const loop: Record<string, unknown> = { name: "loop" };
      loop.self = loop;
      await accept(book, 0, { loop });
      journal.size.should.equal(1);
      const [{ value }] = journal.recovered();
      value.msg.should.eql({ topic: "t", loop: { name: "loop" } });
    } finally {
      await journal.close();
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});
