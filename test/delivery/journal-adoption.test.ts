/**
 * Journal adoption in one process against a real redis-server: the journal another replica keeps
 * for the same node (in its instance folder beside this one's) is adopted once its writer has no
 * lease for a whole lease, and only then; a writer alive on this host keeps its journal even with
 * its lease lapsed (a stalled event loop on a loaded machine).
 */
import should from "should";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { adoptDeadReplicas, stopJournalLeases } from "../../src/lib/delivery/journal-adoption";
import { closeRecordBooks, recordBook } from "../../src/lib/delivery/record-journal";
import { requireRedis, startRedis, type RedisServer } from "../helpers/redis-server";
import { sleep, until } from "../helpers/until";

const LEASE_MS = 600;

/**
 * A replica that writes `n` records into `file` and stays alive without ever holding a lease:
 * it prints "ready" once the records are on disk.
 */
function silentWriter(file: string, n: number): Promise<ChildProcess> {
  const journal = require.resolve("../../src/lib/delivery/journal");
  const script = `
    const { Journal } = require(${JSON.stringify(journal)});
    const j = Journal.open(${JSON.stringify(file)}, {});
    const puts = [];
    for (let i = 0; i < ${n}; i++)
      puts.push(j.put("r" + i, { msg: { topic: "t" }, payload: { email: "lead" + i + "@example.com" }, many: false, index: 0 }));
    Promise.all(puts).then(() => j.flush()).then(() => { console.log("ready"); setInterval(() => {}, 1000); });
  `;
  const child = spawn(process.execPath, ["-r", "tsx/cjs", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      if (String(d).includes("ready")) resolve(child);
    });
    child.on("exit", (code) => reject(new Error(`the writer exited with ${code}`)));
  });
}

describe("journal adoption (one process, a real Redis)", function () {
  this.timeout(60_000);
  let redis: RedisServer | undefined;
  let dir: string;
  let child: ChildProcess | undefined;
  const warnings: string[] = [];
  const before = process.env.MARKETO_JOURNAL_LEASE_MS;

  beforeEach(async function () {
    const bin = requireRedis(this);
    redis = await startRedis(bin);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "adoption-unit-"));
    process.env.MARKETO_JOURNAL_LEASE_MS = String(LEASE_MS);
  });
  afterEach(async () => {
    child?.kill("SIGKILL");
    await stopJournalLeases();
    await closeRecordBooks();
    await redis?.stop();
    if (before === undefined) delete process.env.MARKETO_JOURNAL_LEASE_MS;
    else process.env.MARKETO_JOURNAL_LEASE_MS = before;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("leaves a live writer's journal alone however long its lease is missing, and adopts it once the writer is dead", async () => {
    const mine = path.join(dir, "marketo-lead-n1.journal");
    const theirs = path.join(dir, "replica-b", "marketo-lead-n1.journal");
    child = await silentWriter(theirs, 25);
    const book = recordBook(mine, { warn: (m) => warnings.push(m) });
    adoptDeadReplicas(book, mine, redis!.url, { warn: (m) => warnings.push(m) });

    // Ten leases without a lease from the writer: alive on this host, so nothing is adopted.
    await sleep(10 * LEASE_MS);
    book.size.should.equal(0);
    fs.existsSync(theirs).should.be.true();

    const exited = new Promise((r) => child!.once("exit", r));
    child.kill("SIGKILL");
    await exited;
    await until(() => book.size === 25, "the dead writer's 25 records in this replica's book", 20_000);
    await until(() => !fs.existsSync(theirs), "the adopted journal removed");
    warnings.filter((w) => /adopted its journal/.test(w)).should.have.length(1);
    should(warnings.find((w) => /finishes its 25 records/.test(w))).be.a.String();
  });
});
