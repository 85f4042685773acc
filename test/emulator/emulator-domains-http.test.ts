/** The domain modules behind the real transport: envelopes, multipart bulk upload, permissions, state. */
import should from "should";
import { startEmulator, type EmulatorHandle } from "../../nodes/emulator";
import { call, sleep, token } from "./emulator-http";

describe("emulator domains over HTTP", function () {
  this.timeout(20_000);
  let emu: EmulatorHandle;
  let tok: string;

  beforeEach(async () => {
    emu = await startEmulator({
      importDelayMs: 20,
      clients: [{ clientId: "readonly", clientSecret: "s3", permissions: ["Read-Only Assets", "Read-Only Person"] }],
    });
    tok = await token(emu);
  });
  afterEach(async () => {
    await emu.stop();
  });

  it("answers asset lookups in the asset envelope with a requestId", async () => {
    const a = await call(emu, "/rest/asset/v1/program/byName.json?name=Kaltura%20Virtual%20Summit", { token: tok });
    a.status.should.equal(200);
    a.json.success.should.be.true();
    a.json.errors.should.eql([]);
    a.json.warnings.should.eql([]);
    a.json.requestId.should.match(/^[0-9a-f]+#[0-9a-f]+$/);
    a.json.result[0].id.should.equal(1001);
  });

  it("refuses writes with 603 to a role without the permission", async () => {
    const ro = await token(emu, "readonly", "s3");
    (await call(emu, "/rest/asset/v1/channels.json", { token: ro })).json.success.should.be.true();
    const a = await call(emu, "/rest/v1/programs/1001/members/status.json", {
      token: ro,
      json: { statusName: "Registered", input: [{ leadId: 1 }] },
    });
    a.json.errors[0].code.should.equal("603");
  });

  it("takes a multipart bulk upload, completes it and serves the failures CSV", async () => {
    const form = new FormData();
    form.append("format", "csv");
    form.append(
      "file",
      new Blob(["email,leadScore\nann@example.com,1\nbob@example.com,X\n"], { type: "text/csv" }),
      "leads.csv",
    );
    const created = await call(emu, "/bulk/v1/leads.json", { token: tok, body: form });
    created.json.success.should.be.true();
    const batchId = created.json.result[0].batchId;
    created.json.result[0].status.should.equal("Queued");

    let status = "Queued";
    for (let i = 0; i < 100 && status !== "Complete"; i++) {
      await sleep(20);
      status = (await call(emu, `/bulk/v1/leads/batch/${batchId}.json`, { token: tok })).json.result[0].status;
    }
    status.should.equal("Complete");
    const f = await call(emu, `/bulk/v1/leads/batch/${batchId}/failures.json`, { token: tok });
    f.status.should.equal(200);
    should(f.headers.get("content-type")).startWith("text/csv");
    f.text.should.equal(
      "email,leadScore,Import Failure Reason\nbob@example.com,X,Invalid data type in field Lead Score\n",
    );
    (await call(emu, `/bulk/v1/leads/batch/${batchId}/warnings.json`, { token: tok })).status.should.equal(404);

    const state = (await call(emu, "/_emulator/state")).json;
    state.should.have.properties("programs", "campaigns", "activities", "customObjects", "forms", "bulk");
    state.bulk.imports[0].should.containDeep({
      batchId,
      kind: "leads",
      status: "Complete",
      numOfRowsProcessed: 1,
      numOfRowsFailed: 1,
    });
    state.leads.map((l: { email: string }) => l.email).should.eql(["ann@example.com"]);
  });

  async function engagement(): Promise<number> {
    const lead = await call(emu, "/rest/v1/leads.json", {
      token: tok,
      json: { input: [{ email: "ann@example.com" }] },
    });
    const leadId = lead.json.result[0].id;
    const s = await call(emu, "/rest/v1/customobjects/kalturaUserSessionEngagement.json", {
      token: tok,
      json: { input: [{ entry_id: "1_a", personId: leadId, plays: 2 }] },
    });
    s.json.result[0].status.should.equal("created");
    return leadId;
  }

  it("reads custom objects with POST + _method=GET and a form body", async () => {
    const leadId = await engagement();
    const q = await call(emu, "/rest/v1/customobjects/kalturaUserSessionEngagement.json", {
      token: tok,
      body: `_method=GET&filterType=personId&filterValues=${leadId}&fields=plays`,
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    q.json.success.should.be.true();
    q.json.result.map((r: { seq: number; plays: number }) => [r.seq, r.plays]).should.eql([[0, 2]]);
  });

  it("reads custom objects with _method=GET and a JSON body of compound keys", async () => {
    const leadId = await engagement();
    const q = await call(emu, "/rest/v1/customobjects/kalturaUserSessionEngagement.json?_method=GET", {
      token: tok,
      json: { filterType: "dedupeFields", fields: ["plays"], input: [{ entry_id: "1_a", personId: leadId }] },
    });
    q.json.success.should.be.true();
    q.json.result.length.should.equal(1);
    q.json.result[0].plays.should.equal(2);
  });

  it("reports the day's counted calls per API user and its error answers", async () => {
    await call(emu, "/rest/v1/leads/describe.json", { token: tok });
    await call(emu, "/rest/v1/leads/describe.json", { token: tok });
    await call(emu, "/rest/v1/leads/describe.json", { token: "not-a-token" });
    const usage = await call(emu, "/rest/v1/stats/usage.json", { token: tok });
    usage.json.result[0].users.should.eql([{ userId: emu.clientId, count: 2 }]);
    usage.json.result[0].total.should.equal(2);
    const errors = await call(emu, "/rest/v1/stats/errors.json", { token: tok });
    errors.json.result[0].errors.should.eql([{ errorCode: "601", count: 1 }]);
  });
});
