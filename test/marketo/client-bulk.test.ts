import should from "should";
import Papa from "papaparse";
import { FakeMarketo, envelope, failure } from "../helpers/fake-marketo";
import { useFakeMarketo } from "../helpers/use-fake-marketo";

interface Job {
  rows: Array<Record<string, string>>;
  columns: string[];
  polls: number;
}

/**
 * A bulk importer with opinions: rows whose email lacks "@" fail, rows whose score is not a
 * number get a warning. Outcome files list rows in reverse order (nothing promises order).
 */
function bulkServer(
  fake: FakeMarketo,
  base: string,
  statusPath: (id: string) => string,
  filePath: (id: string, w: string) => string,
) {
  const jobs = new Map<string, Job>();
  let next = 100;
  fake.on("POST", base, (req) => {
    const parsed = Papa.parse<Record<string, string>>(req.parts!.file, { header: true, skipEmptyLines: true });
    const id = String(next++);
    jobs.set(id, { rows: parsed.data, columns: parsed.meta.fields!, polls: 0 });
    return { json: envelope([{ batchId: Number(id), importId: id, status: "Queued" }]) };
  });
  const bad = (r: Record<string, string>) => !r.email.includes("@");
  const warn = (r: Record<string, string>) =>
    !bad(r) && r.score !== undefined && r.score !== "" && Number.isNaN(Number(r.score));
  fake.on("GET", new RegExp(`^${statusPath("(\\d+)").replace(/\//g, "\\/").replace(".json", "\\.json")}$`), (req) => {
    const id = /(\d+)/.exec(req.path.replace(/^.*?(\d+)[^\d]*$/, "$1"))![1];
    const job = jobs.get(id)!;
    job.polls++;
    if (job.polls < 2) return { json: envelope([{ batchId: Number(id), status: "Importing" }]) };
    return {
      json: envelope([
        {
          batchId: Number(id),
          status: "Complete",
          numOfLeadsProcessed: job.rows.filter((r) => !bad(r)).length,
          numOfRowsFailed: job.rows.filter(bad).length,
          numOfRowsWithWarning: job.rows.filter(warn).length,
          message: "Import completed with errors",
        },
      ]),
    };
  });
  fake.on(
    "GET",
    new RegExp(filePath("(\\d+)", "(failures|warnings)").replace(/\//g, "\\/").replace(".json", "\\.json")),
    (req) => {
      const m = /\/(\d+)\/(failures|warnings)\.json$/.exec(req.path)!;
      const job = jobs.get(m[1])!;
      const which = m[2];
      const rows = job.rows.filter(which === "failures" ? bad : warn).reverse();
      if (!rows.length) return { status: 404, json: failure("1013", "not found") };
      const reasonCol = which === "failures" ? "Import Failure Reason" : "Import Warning Reason";
      const csv = Papa.unparse({
        fields: [...job.columns, reasonCol],
        data: rows.map((r) => [
          ...job.columns.map((c) => r[c]),
          which === "failures" ? "Invalid email address" : "Invalid data type in field score",
        ]),
      });
      return { text: csv, headers: { "Content-Type": "text/csv;charset=UTF-8" } };
    },
  );
  return jobs;
}

describe("client: bulk import", function () {
  this.timeout(20_000);
  const { fake, client } = useFakeMarketo({
    endpointPath: "/identity",
    clientSecret: "bulk-secret",
    bulkPollIntervalMs: 10,
    retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 10 },
  });

  it("leads: uploads CSV multipart, polls, and maps failures and warnings back to their rows by content", async () => {
    const jobs = bulkServer(
      fake(),
      "/bulk/v1/leads.json",
      (id) => `/bulk/v1/leads/batch/${id}.json`,
      (id, w) => `/bulk/v1/leads/batch/${id}/${w}.json`,
    );
    // Queue full once: the client waits and resubmits.
    fake().on("POST", "/bulk/v1/leads.json", undefined, { json: failure("1016", "Too many imports") });
    const c = client();
    const rows = [
      { email: "a@x.com", firstName: "Ann", score: 1 },
      { email: "broken", firstName: 'Bob, "B"', score: 2 },
      { email: "c@x.com", firstName: "Cy", score: "high" },
      { email: "d@x.com", firstName: "Di\nna" },
      { email: "broken", firstName: 'Bob, "B"', score: 2 },
    ];
    const out = await c.bulkImportLeads(rows, { lookupField: "email", listId: 42 });
    out.rows.map((r) => r.outcome).should.eql(["imported", "failed", "warning", "imported", "failed"]);
    out.rows[1].should.containEql({ ok: false, status: "failed" });
    out.rows[1].error!.should.containEql({ category: "validation", code: "BULK_ROW_FAILED" });
    out.rows[1].error!.message.should.match(/Invalid email address/);
    out.rows[2].should.containEql({ ok: true });
    out.rows[2].reasons![0].message.should.equal("Invalid data type in field score");
    out.jobs.length.should.equal(1);
    out.jobs[0].should.containEql({ status: "Complete", numOfRowsFailed: 2, numOfRowsWithWarning: 1, rows: 5 });
    const uploads = fake().api("/bulk/v1/leads.json");
    uploads.length.should.equal(2);
    uploads[1].parts!.should.containEql({ format: "csv", lookupField: "email", listId: "42" });
    uploads[1].headers["content-type"]!.should.match(/^multipart\/form-data; boundary=/);
    uploads[1].headers.authorization!.should.equal("Bearer tok-1");
    [...jobs.values()][0].rows.length.should.equal(5);
    c.usage().outcomes.should.containEql({ updated: 3, failed: 2 });
  });

  it("keeps each file under the size limit by splitting into several jobs", async () => {
    bulkServer(
      fake(),
      "/bulk/v1/leads.json",
      (id) => `/bulk/v1/leads/batch/${id}.json`,
      (id, w) => `/bulk/v1/leads/batch/${id}/${w}.json`,
    );
    const c = client({ bulkMaxFileBytes: 2000 });
    const rows = Array.from({ length: 200 }, (_, i) => ({
      email: i % 50 === 7 ? `bad${i}` : `user${i}@example.com`,
      n: i,
    }));
    const out = await c.bulkImportLeads(rows);
    out.jobs.length.should.be.above(2);
    fake()
      .api("/bulk/v1/leads.json")
      .every((q) => Buffer.byteLength(q.parts!.file) <= 2000)
      .should.be.true();
    out.rows.length.should.equal(200);
    out.rows.forEach((r, i) => r.outcome.should.equal(i % 50 === 7 ? "failed" : "imported"));
  });

  it("custom objects and program members use their own paths and form fields", async () => {
    bulkServer(
      fake(),
      "/bulk/v1/customobjects/car_c/import.json",
      (id) => `/bulk/v1/customobjects/car_c/import/${id}/status.json`,
      (id, w) => `/bulk/v1/customobjects/car_c/import/${id}/${w}.json`,
    );
    bulkServer(
      fake(),
      "/bulk/v1/program/1001/members/import.json",
      (id) => `/bulk/v1/program/members/import/${id}/status.json`,
      (id, w) => `/bulk/v1/program/members/import/${id}/${w}.json`,
    );
    const c = client();
    const co = await c.bulkImportCustomObjects("car_c", [{ email: "a@x.com", vin: "V1" }]);
    co.rows[0].outcome.should.equal("imported");
    const pm = await c.bulkImportProgramMembers(1001, "Registered", [{ email: "a@x.com" }, { email: "nope" }]);
    pm.rows.map((r) => r.outcome).should.eql(["imported", "failed"]);
    fake().api("/bulk/v1/program/1001/members/import.json")[0].parts!.programMemberStatus!.should.equal("Registered");
  });

  it("a job Marketo fails fails every row of it", async () => {
    fake().on("POST", "/bulk/v1/leads.json", () => ({ json: envelope([{ batchId: 5, status: "Queued" }]) }));
    fake().on("GET", "/bulk/v1/leads/batch/5.json", () => ({
      json: envelope([{ batchId: 5, status: "Failed", message: "Bad header" }]),
    }));
    const c = client();
    const out = await c.bulkImportLeads([{ email: "a@x.com" }, { email: "b@x.com" }]);
    out.rows.every((r) => !r.ok && r.outcome === "failed").should.be.true();
    should(out.rows[0].error!.message).match(/Bad header/);
  });
});
