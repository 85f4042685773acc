/** Bulk import: shared queue, state machine, status bodies, failures/warnings files. */
import should from "should";
import { errorOf, harness, type Harness } from "./emulator-domains-fixture";

type Snapshot = Record<string, any>;

function upload(file: string | undefined, fields: Record<string, string> = {}): FormData {
  const form = new FormData();
  if (file !== undefined) form.append("file", new Blob([file], { type: "text/csv" }), "import.csv");
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return form;
}

describe("emulator domains: bulk lead import", () => {
  let h: Harness;
  const importLeads = (file: string | undefined, fields: Record<string, string> = {}, query = "") =>
    h.call("POST", `/bulk/v1/leads.json${query}`, { form: upload(file, fields) });
  const status = async (batchId: number) =>
    (await h.call("GET", `/bulk/v1/leads/batch/${batchId}.json`)).body.result[0];

  beforeEach(() => {
    h = harness({ importDelayMs: 1000 });
  });
  afterEach(() => h.reset());

  it("moves Queued → Importing → Complete on the context clock and imports the rows", async () => {
    const a = await importLeads("email,firstName,leadScore\nann@example.com,Ann,10\nbob@example.com,Bob,20\n", {
      format: "csv",
    });
    a.body.should.eql({ success: true, result: [{ batchId: 1001, importId: "1001", status: "Queued" }] });
    (await status(1001)).should.eql({
      batchId: 1001,
      importId: "1001",
      status: "Queued",
      numOfLeadsProcessed: 0,
      numOfRowsFailed: 0,
      numOfRowsWithWarning: 0,
    });
    h.leads.all().length.should.equal(0);
    h.clock.now += 999;
    (await status(1001)).status.should.equal("Queued");
    h.clock.now += 1;
    (await status(1001)).status.should.equal("Importing");
    h.clock.now += 1000;
    (await status(1001)).should.eql({
      batchId: 1001,
      importId: "1001",
      status: "Complete",
      numOfLeadsProcessed: 2,
      numOfRowsFailed: 0,
      numOfRowsWithWarning: 0,
      message: "Import succeeded, 2 records imported (2 members)",
    });
    h.leads.find("email", "bob@example.com")[0].should.containDeep({ firstName: "Bob", leadScore: 20 });
    (await h.call("GET", "/bulk/v1/leads/batch/1001/failures.json")).status.should.equal(404);
    (await h.call("GET", "/bulk/v1/leads/batch/1001/warnings.json")).status.should.equal(404);
  });

  it("writes failing rows to a failures file with the reason column, in the job's format", async () => {
    const file = "email;firstName;leadScore\nann@example.com;Ann;10\ncat@example.com;Cat;lots\ndan@example.com;Dan;x\n";
    const id = (await importLeads(file, {}, "?format=ssv")).body.result[0].batchId;
    h.clock.now += 2000;
    (await status(id)).should.containDeep({
      status: "Complete",
      numOfLeadsProcessed: 1,
      numOfRowsFailed: 2,
      message: "Import completed with errors, 1 records imported (1 members), 2 failed",
    });
    const f = await h.call("GET", `/bulk/v1/leads/batch/${id}/failures.json`);
    f.status.should.equal(200);
    f.contentType!.should.equal("text/csv;charset=UTF-8");
    f.body.should.equal(
      "email;firstName;leadScore;Import Failure Reason\ncat@example.com;Cat;lots;Invalid data type in field Lead Score\ndan@example.com;Dan;x;Invalid data type in field Lead Score\n",
    );
    h.leads.all().length.should.equal(1);
  });

  it("fails the whole job for a file without a header, an unparseable file, or an empty one", async () => {
    const noHeader = (await importLeads("ann@example.com,Ann\n")).body.result[0].batchId;
    const badQuotes = (await importLeads('email,firstName\n"ann@example.com,Ann\n')).body.result[0].batchId;
    const empty = (await importLeads("")).body.result[0].batchId;
    h.clock.now += 10_000;
    const s1 = await status(noHeader);
    s1.status.should.equal("Failed");
    s1.message.should.containEql("ann@example.com");
    (await status(badQuotes)).status.should.equal("Failed");
    (await status(empty)).should.containDeep({ status: "Failed", message: "Import failed: empty file" });
    (await h.call("GET", `/bulk/v1/leads/batch/${noHeader}/failures.json`)).status.should.equal(404);
    h.leads.all().length.should.equal(0);
  });

  it("runs two jobs at once, FIFO, and refuses an eleventh with 1016", async () => {
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) ids.push((await importLeads(`email\nu${i}@example.com\n`)).body.result[0].batchId);
    errorOf(await importLeads("email\nx@example.com\n")).should.eql({ code: "1016", message: "Too many imports" });
    h.clock.now += 1000;
    const states = async () => Promise.all(ids.map(async (id) => (await status(id)).status));
    (await states()).should.eql(["Importing", "Importing", ...Array(8).fill("Queued")]);
    h.clock.now += 1000;
    (await states()).should.eql(["Complete", "Complete", "Importing", "Importing", ...Array(6).fill("Queued")]);
    // Two finished: the queue has room again.
    (await importLeads("email\nx@example.com\n")).body.success.should.be.true();
    h.clock.now += 10_000;
    (await states()).every((s) => s === "Complete").should.be.true();
  });

  it("follows the live limits object (importsQueued)", async () => {
    h.limits.importsQueued = 1;
    (await importLeads("email\na@example.com\n")).body.success.should.be.true();
    errorOf(await importLeads("email\nb@example.com\n")).code.should.equal("1016");
  });

  it("checks the call: multipart and file (613), format (1003), lookupField (1006), list in progress (1019)", async () => {
    errorOf(await h.call("POST", "/bulk/v1/leads.json", {})).code.should.equal("613");
    errorOf(await importLeads(undefined, { format: "csv" })).code.should.equal("613");
    errorOf(await importLeads("email\n", { format: "xlsx" })).code.should.equal("1003");
    errorOf(await importLeads("email\n", { lookupField: "colour" })).code.should.equal("1006");
    (await importLeads("email\na@example.com\n", { listId: "55" })).body.success.should.be.true();
    errorOf(await importLeads("email\nb@example.com\n", { listId: "55" })).code.should.equal("1019");
  });

  it("imports by id as update-only: unknown ids fail", async () => {
    const ann = h.lead("ann@example.com");
    const id = (await importLeads(`id,firstName\n${ann},Annie\n999999,Ghost\n`, { lookupField: "id" })).body.result[0]
      .batchId;
    h.clock.now += 2000;
    (await status(id)).should.containDeep({ numOfLeadsProcessed: 1, numOfRowsFailed: 1 });
    h.leads.byId(ann)!.firstName!.should.equal("Annie");
    (await h.call("GET", `/bulk/v1/leads/batch/${id}/failures.json`)).body.should.equal(
      "id,firstName,Import Failure Reason\n999999,Ghost,Lead not found\n",
    );
  });

  it("answers 1013 for an unknown batch status and shows jobs in the snapshot", async () => {
    errorOf(await h.call("GET", "/bulk/v1/leads/batch/4242.json")).code.should.equal("1013");
    await importLeads("email\na@example.com\n", { format: "csv" });
    const imports = (h.module("bulk").snapshot() as Snapshot).imports;
    imports.should.eql([
      {
        batchId: 1001,
        kind: "leads",
        format: "csv",
        status: "Queued",
        lookupField: "email",
        numOfRowsProcessed: 0,
        numOfRowsFailed: 0,
        numOfRowsWithWarning: 0,
        queuedAt: "2026-03-02T10:00:00.000Z",
      },
    ]);
  });

  it("leaves no timer behind: reset clears the queue", async () => {
    await importLeads("email\na@example.com\n");
    h.reset();
    ((h.module("bulk").snapshot() as Snapshot).imports as unknown[]).length.should.equal(0);
  });

  it("declares the permissions of every route", () => {
    h.route("POST", "/bulk/v1/leads.json").permissions.should.eql(["Read-Write Person"]);
    h.route("POST", "/bulk/v1/leads.json").family.should.equal("bulk");
    h.route("POST", "/bulk/v1/program/1001/members/import.json").permissions.should.eql(["Read-Write Person"]);
    h.route("POST", "/bulk/v1/customobjects/x/import.json").permissions.should.eql(["Read-Write Custom Objects"]);
    h.route("GET", "/bulk/v1/leads/batch/1.json").permissions.should.eql(["Read-Only Person", "Read-Write Person"]);
    h.route("GET", "/bulk/v1/customobjects/x/import/1/status.json").permissions.should.eql([
      "Read-Only Custom Objects",
      "Read-Write Custom Objects",
    ]);
  });
});

describe("emulator domains: bulk custom object and program member import", () => {
  let h: Harness;
  const CO = "kalturaUserSessionEngagement";

  beforeEach(() => {
    h = harness({ importDelayMs: 0 });
  });
  afterEach(() => h.reset());

  it("imports custom objects, failing rows with missing dedupe fields and bad types", async () => {
    const ann = h.lead("ann@example.com");
    const file = `entry_id,personId,plays\n1_a,${ann},3\n1_b,,1\n1_c,${ann},many\n1_a,${ann},4\n`;
    const a = await h.call("POST", `/bulk/v1/customobjects/${CO}/import.json`, {
      form: upload(file, { format: "csv" }),
    });
    a.body.should.eql({ success: true, result: [{ batchId: 1001, status: "Queued", objectApiName: CO }] });
    const s = (await h.call("GET", `/bulk/v1/customobjects/${CO}/import/1001/status.json`)).body.result[0];
    s.should.eql({
      batchId: 1001,
      operation: "import",
      status: "Complete",
      objectApiName: CO,
      numOfObjectsProcessed: 2,
      numOfRowsFailed: 2,
      numOfRowsWithWarning: 0,
      message: "Import completed with errors, 2 records imported (2 members), 2 failed",
      importTime: "1 second(s)",
    });
    (await h.call("GET", `/bulk/v1/customobjects/${CO}/import/1001/failures.json`)).body.should.equal(
      `entry_id,personId,plays,Import Failure Reason\n1_b,,1,missing.dedupe.fields\n1_c,${ann},many,Invalid data type in field Plays\n`,
    );
    const stored = (h.module("customObjects").snapshot() as Snapshot)[CO];
    stored.length.should.equal(1);
    stored[0].plays.should.equal(4);
    errorOf(
      await h.call("POST", "/bulk/v1/customobjects/nope/import.json", { form: upload("a\n1\n") }),
    ).code.should.equal("1013");
    errorOf(await h.call("GET", "/bulk/v1/customobjects/other/import/1001/status.json")).code.should.equal("1013");
  });

  it("imports program members, creating leads by email; 1037 rows and invalid e-mails become warnings", async () => {
    const ann = h.lead("ann@example.com");
    await h.call("POST", "/rest/v1/programs/1001/members/status.json", {
      body: { statusName: "Attended", input: [{ leadId: ann }] },
    });
    const file = "email,firstName\nann@example.com,Ann\nnew@example.com,New\nbroken,X\n";
    const a = await h.call("POST", "/bulk/v1/program/1001/members/import.json", {
      form: upload(file, { format: "csv", programMemberStatus: "Registered" }),
    });
    a.body.should.eql({ success: true, result: [{ batchId: 1001, importId: "1001", status: "Queued" }] });
    (await h.call("GET", "/bulk/v1/program/members/import/1001/status.json")).body.result[0].should.eql({
      batchId: 1001,
      importId: "1001",
      status: "Complete",
      numOfLeadsProcessed: 3,
      numOfRowsFailed: 0,
      numOfRowsWithWarning: 2,
      message: "Import succeeded, 3 records imported (3 members), 2 warnings.",
    });
    (await h.call("GET", "/bulk/v1/program/members/import/1001/warnings.json")).body.should.equal(
      "email,firstName,Import Warning Reason\nann@example.com,Ann,Lead skipped because it is already in or past this status\nbroken,X,Invalid email address\n",
    );
    (await h.call("GET", "/bulk/v1/program/members/import/1001/failures.json")).status.should.equal(404);
    const newId = h.leads.find("email", "new@example.com")[0].id;
    const brokenId = h.leads.find("email", "broken")[0].id;
    const members = (h.module("programs").snapshot() as Snapshot).programMembers;
    members
      .map((m: { leadId: number; status: string }) => [m.leadId, m.status])
      .should.eql([
        [ann, "Attended"],
        [newId, "Registered"],
        [brokenId, "Registered"],
      ]);
  });

  it("checks program, status and header at the call or the job", async () => {
    const post = (programId: number, fields: Record<string, string>, file = "email\na@example.com\n") =>
      h.call("POST", `/bulk/v1/program/${programId}/members/import.json`, { form: upload(file, fields) });
    errorOf(await post(1001, {})).should.eql({ code: "701", message: "programMemberStatus cannot be blank" });
    errorOf(await post(9, { programMemberStatus: "Registered" })).code.should.equal("1013");
    errorOf(await post(1001, { programMemberStatus: "Influenced" })).code.should.equal("1025");
    const id = (await post(1001, { programMemberStatus: "Registered" }, "firstName\nAnn\n")).body.result[0].batchId;
    (await h.call("GET", `/bulk/v1/program/members/import/${id}/status.json`)).body.result[0].should.containDeep({
      status: "Failed",
    });
    should((await h.call("GET", `/bulk/v1/leads/batch/${id}.json`)).body.success).be.false();
  });
});
