/**
 * marketo-lead's bulk switch: the threshold rule, grouping rows by their columns, and the
 * collector that answers every row from its own job's outcome.
 */
import should from "should";
import { BulkCollector, groupByColumns, overThreshold } from "../../src/lib/actions/lead-bulk";
import type { BulkImportResult, BulkRowResult } from "../../src/lib/marketo";
import type { CsvRow } from "../../src/lib/marketo/csv";

describe("lead-bulk: threshold", () => {
  it("switches only above the threshold, counting both the client's batches and bulk rows", () => {
    overThreshold(50, 50).should.be.false();
    overThreshold(50, 51).should.be.true();
    overThreshold(0, 1_000_000).should.be.false();
  });
});

describe("lead-bulk: columns", () => {
  it("groups rows by their set of fields, in first-seen order", () => {
    const rows: CsvRow[] = [
      { email: "a", firstName: "A" },
      { email: "b" },
      { firstName: "C", email: "c" },
      { email: "d", company: "D" },
      { email: "e" },
    ];
    groupByColumns(rows).should.eql([[0, 2], [1, 4], [3]]);
  });
});

describe("lead-bulk: collector", () => {
  const imported = (rows: CsvRow[], batchId: number): BulkImportResult => ({
    jobs: [{ batchId, status: "Complete", rows: rows.length, numOfRowsFailed: 0, numOfRowsWithWarning: 0 }],
    rows: rows.map((r): BulkRowResult =>
      r.email === "bad"
        ? { ok: false, status: "failed", outcome: "failed", batchId }
        : { ok: true, status: "updated", outcome: "imported", batchId },
    ),
  });

  it("collects for the window, one job per shape, and answers each row with its own result", async () => {
    const calls: CsvRow[][] = [];
    let changes = 0;
    const c = new BulkCollector({
      windowMs: 20,
      run: async (rows) => {
        calls.push(rows);
        return imported(rows, calls.length);
      },
      onChange: () => changes++,
    });
    const answers = Promise.all([
      c.submit({ email: "a", x: undefined }, "client"),
      c.submit({ email: "bad" }, "client"),
      c.submit({ email: "b", firstName: "B" }, "client"),
    ]);
    c.pending.should.equal(3);
    calls.should.have.length(0);
    const [a, bad, b] = await answers;
    calls.should.eql([[{ email: "a" }, { email: "bad" }], [{ email: "b", firstName: "B" }]]);
    a.should.eql({ ok: true, status: "updated", outcome: "imported", batchId: 1 });
    bad.ok.should.be.false();
    b.batchId!.should.equal(2);
    c.pending.should.equal(0);
    changes.should.be.above(3);
  });

  it("rows that came through different clients go in separate jobs, each through its own", async () => {
    const calls: Array<[string, CsvRow[]]> = [];
    const c = new BulkCollector<string>({
      windowMs: 20,
      run: async (rows, via) => (calls.push([via, rows]), imported(rows, calls.length)),
    });
    await Promise.all([
      c.submit({ email: "a" }, "one"),
      c.submit({ email: "b" }, "two"),
      c.submit({ email: "c" }, "one"),
    ]);
    calls.should.eql([
      ["one", [{ email: "a" }, { email: "c" }]],
      ["two", [{ email: "b" }]],
    ]);
  });

  it("a full window starts at once; close starts what waits and later rows do not wait", async () => {
    const calls: number[] = [];
    const c = new BulkCollector({
      windowMs: 60_000,
      maxRows: 2,
      run: async (rows) => (calls.push(rows.length), imported(rows, 1)),
    });
    await Promise.all([c.submit({ email: "a" }, "client"), c.submit({ email: "b" }, "client")]);
    calls.should.eql([2]);
    const waiting = c.submit({ email: "c" }, "client");
    await new Promise((r) => setImmediate(r));
    calls.should.eql([2]);
    c.close();
    (await waiting).ok.should.be.true();
    (await c.submit({ email: "d" }, "client")).ok.should.be.true();
    calls.should.eql([2, 1, 1]);
  });

  it("an import that throws fails its rows instead of leaving them unanswered", async () => {
    const c = new BulkCollector({
      windowMs: 1,
      run: () => Promise.reject(new Error("boom")),
    });
    const r = await c.submit({ email: "a" }, "client");
    r.ok.should.be.false();
    r.outcome.should.equal("failed");
    should(r.error?.message).match(/boom/);
    c.pending.should.equal(0);
  });
});
