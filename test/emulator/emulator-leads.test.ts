/** The leads domain: Sync Leads outcomes, Get Leads by Filter paging, Get Lead, Describe, Push. */
import should from "should";
import { startEmulator, type EmulatorHandle } from "../../nodes/emulator";
import { call, token, type Answer } from "./emulator-http";

describe("emulator leads", function () {
  this.timeout(20_000);
  let emu: EmulatorHandle;
  let tok: string;

  beforeEach(async () => {
    emu = await startEmulator();
    tok = await token(emu);
  });
  afterEach(async () => {
    await emu.stop();
  });

  const sync = (body: Record<string, unknown>): Promise<Answer> =>
    call(emu, "/rest/v1/leads.json", { token: tok, json: body });
  const get = (query: string): Promise<Answer> => call(emu, `/rest/v1/leads.json?${query}`, { token: tok });
  /** The one reason of a skipped single-record sync. */
  const reasonOf = async (body: Record<string, unknown>): Promise<{ code: string; message: string }> => {
    const a = await sync(body);
    a.json.success.should.be.true();
    a.json.result[0].status.should.equal("skipped");
    a.json.result[0].should.not.have.property("id");
    return a.json.result[0].reasons[0];
  };

  describe("Sync Leads", () => {
    it("finds a lead by its new email after an update changed it, and no longer by the old one", async () => {
      await sync({ input: [{ email: "old@example.com", firstName: "Ann" }] });
      (await get("filterType=email&filterValues=old@example.com")).json.result.should.have.length(1);
      const id = emu.state().leads.find((l) => l.email === "old@example.com")!.id;
      (
        await sync({ action: "updateOnly", lookupField: "id", input: [{ id, email: "new@example.com" }] })
      ).json.result[0].status.should.equal("updated");
      (await get("filterType=email&filterValues=old@example.com")).json.result.should.have.length(0);
      (await get("filterType=email&filterValues=NEW@example.com")).json.result.should.containDeep([
        { id, email: "new@example.com" },
      ]);
    });

    it("creates, then updates by email case-insensitively; success has no errors key", async () => {
      const created = await sync({
        input: [{ email: "Ann@Example.com", firstName: "Ann", leadScore: "12", unsubscribed: "true" }],
      });
      created.json.should.not.have.property("errors");
      created.json.result.should.eql([{ id: 1001, status: "created" }]);
      const updated = await sync({ action: "createOrUpdate", input: [{ email: "ann@example.com", lastName: "Lee" }] });
      updated.json.result.should.eql([{ id: 1001, status: "updated" }]);
      const [lead] = emu.state().leads;
      lead.should.containDeep({
        id: 1001,
        email: "ann@example.com",
        firstName: "Ann",
        lastName: "Lee",
        leadScore: 12,
        unsubscribed: true,
        partition: "Default",
      });
      lead.createdAt.should.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    });

    it("keeps result order and mixes outcomes per record", async () => {
      await sync({ input: [{ email: "dup@example.com" }] });
      await sync({ action: "createDuplicate", input: [{ email: "dup@example.com" }] });
      const a = await sync({
        input: [
          { email: "new@example.com" },
          { email: "dup@example.com" },
          { email: "b@example.com", leadScore: "abc" },
        ],
      });
      // 1007's message as Marketo's error code table (error-codes.md in AdobeDocs/marketo-developer.en) words it.
      a.json.result.should.eql([
        { id: 1003, status: "created" },
        { status: "skipped", reasons: [{ code: "1007", message: "Multiple leads match the lookup criteria" }] },
        {
          status: "skipped",
          reasons: [{ code: "1003", message: "Invalid value for field 'leadScore' and value 'abc'" }],
        },
      ]);
    });

    it("createOnly on an existing key → 1005; updateOnly on a missing one → 1004", async () => {
      await sync({ input: [{ email: "a@example.com" }] });
      (await reasonOf({ action: "createOnly", input: [{ email: "A@example.com" }] })).code.should.equal("1005");
      (await reasonOf({ action: "updateOnly", input: [{ email: "none@example.com" }] })).should.eql({
        code: "1004",
        message: "Lead not found",
      });
    });

    it("createDuplicate always inserts", async () => {
      await sync({ input: [{ email: "a@example.com" }] });
      const a = await sync({ action: "createDuplicate", input: [{ email: "a@example.com" }] });
      a.json.result[0].should.eql({ id: 1002, status: "created" });
      emu.state().leads.length.should.equal(2);
    });

    it("1002 for a missing lookup value, 1006 for an unknown field, 1003 for bad values and read-only fields", async () => {
      (await reasonOf({ input: [{ firstName: "No Email" }] })).code.should.equal("1002");
      (await reasonOf({ input: [{ email: "a@example.com", favouriteColour: "blue" }] })).should.eql({
        code: "1006",
        message: "Field 'favouriteColour' not found",
      });
      (await reasonOf({ input: [{ email: "not-an-email" }] })).code.should.equal("1003");
      (await reasonOf({ input: [{ email: "ü@example.com" }] })).code.should.equal("1003");
      (await reasonOf({ input: [{ email: "a@example.com", dateOfBirth: "1990-02-30" }] })).code.should.equal("1003");
      (await reasonOf({ input: [{ email: "a@example.com", annualRevenue: "lots" }] })).code.should.equal("1003");
      (await reasonOf({ input: [{ email: "a@example.com", createdAt: "2020-01-01T00:00:00Z" }] })).code.should.equal(
        "1003",
      );
      (await reasonOf({ input: [{ email: "a@example.com", firstName: "x".repeat(256) }] })).code.should.equal("1003");
      emu.state().leads.length.should.equal(0);
    });

    it("lookupField id only with updateOnly; custom dedupe field externalId works", async () => {
      await sync({ input: [{ email: "a@example.com", externalId: "ext-1" }] });
      const byId = await sync({ action: "updateOnly", lookupField: "id", input: [{ id: 1001, city: "Chicago" }] });
      byId.json.result.should.eql([{ id: 1001, status: "updated" }]);
      (await reasonOf({ action: "createOnly", lookupField: "id", input: [{ id: 5 }] })).code.should.equal("1003");
      (await reasonOf({ input: [{ id: 1001, email: "a@example.com" }] })).code.should.equal("1003");
      const byExt = await sync({ lookupField: "externalId", input: [{ externalId: "EXT-1", title: "CTO" }] });
      byExt.json.result.should.eql([{ id: 1001, status: "updated" }]);
      emu.state().leads[0].should.containDeep({ city: "Chicago", title: "CTO" });
    });

    it("response-level 1006 for an unknown lookupField, 1011 for a non-dedupe one, 701 without input", async () => {
      const unknown = await sync({ lookupField: "userId", input: [{ email: "a@example.com" }] });
      unknown.json.errors.should.eql([{ code: "1006", message: "Lookup field 'userId' not found" }]);
      (await sync({ lookupField: "firstName", input: [{ firstName: "A" }] })).json.errors[0].code.should.equal("1011");
      (await sync({})).json.errors.should.eql([{ code: "701", message: "input cannot be blank" }]);
      (await sync({ input: [] })).json.errors[0].code.should.equal("701");
      (await sync({ action: "upsert", input: [{ email: "a@example.com" }] })).json.errors[0].code.should.equal("1003");
      emu.stats().countedCalls.should.equal(0);
    });

    it("partitions: unknown → 1008, updating a lead of another partition → 1010", async () => {
      (await reasonOf({ partitionName: "Nowhere", input: [{ email: "a@example.com" }] })).code.should.equal("1008");
      await sync({ partitionName: "Events", input: [{ email: "e@example.com" }] });
      emu.state().leads[0].partition.should.equal("Events");
      (await reasonOf({ partitionName: "Default", input: [{ email: "e@example.com" }] })).code.should.equal("1010");
      // Without a partitionName the update is allowed.
      (await sync({ input: [{ email: "e@example.com", city: "Paris" }] })).json.result[0].status.should.equal(
        "updated",
      );
    });

    it("null clears a field", async () => {
      await sync({ input: [{ email: "a@example.com", city: "Rome" }] });
      await sync({ input: [{ email: "a@example.com", city: null }] });
      emu.state().leads[0].should.not.have.property("city");
    });
  });

  describe("Get Leads by Filter Type", () => {
    it("pages with batchSize and nextPageToken; unset fields answer null", async () => {
      const input = Array.from({ length: 5 }, (_, i) => ({
        email: `p${i}@example.com`,
        externalId: "team",
        firstName: i % 2 ? `F${i}` : null,
      }));
      await sync({ input });
      const ids: number[] = [];
      let q = "filterType=externalId&filterValues=team&batchSize=2&fields=email,firstName";
      let pages = 0;
      for (;;) {
        const a = await get(q);
        a.json.success.should.be.true();
        pages += 1;
        for (const r of a.json.result) {
          ids.push(r.id);
          Object.keys(r).should.not.containEql("externalId");
          if (r.id % 2 === 1) should(r.firstName).be.null();
        }
        if (!a.json.nextPageToken) {
          a.json.should.not.have.property("moreResult");
          break;
        }
        a.json.moreResult.should.be.true();
        a.json.nextPageToken.should.match(/^[A-Z2-7]+=*$/);
        q = `filterType=externalId&filterValues=team&batchSize=2&fields=email,firstName&nextPageToken=${encodeURIComponent(a.json.nextPageToken)}`;
      }
      pages.should.equal(3);
      ids.should.eql([1001, 1002, 1003, 1004, 1005]);
    });

    it("default fields, several values, empty success on no match", async () => {
      await sync({
        input: [{ email: "a@example.com", firstName: "A", lastName: "Z", city: "X" }, { email: "b@example.com" }],
      });
      const a = await get("filterType=email&filterValues=a@example.com,B@example.com");
      a.json.result.length.should.equal(2);
      Object.keys(a.json.result[0])
        .sort()
        .should.eql(["createdAt", "email", "firstName", "id", "lastName", "updatedAt"]);
      const none = await get("filterType=email&filterValues=nobody@example.com");
      none.json.should.containDeep({ success: true, result: [] });
      none.json.should.not.have.property("errors");
    });

    it("rejects bad filters at response level", async () => {
      (await get("filterValues=x")).json.errors[0].code.should.equal("701");
      (await get("filterType=email")).json.errors[0].code.should.equal("701");
      (await get("filterType=firstName&filterValues=x")).json.errors[0].code.should.equal("1011");
      (await get("filterType=shoeSize&filterValues=x")).json.errors[0].code.should.equal("1006");
      (await get("filterType=email&filterValues=x&fields=shoeSize")).json.errors[0].code.should.equal("1006");
      (await get("filterType=email&filterValues=x&batchSize=301")).json.errors[0].code.should.equal("1003");
      (await get("filterType=email&filterValues=x&nextPageToken=junk")).json.errors[0].code.should.equal("1003");
      const many = Array.from({ length: 301 }, (_, i) => `p${i}@example.com`).join(",");
      const tooMany = await call(emu, "/rest/v1/leads.json", {
        token: tok,
        body: new URLSearchParams({ _method: "GET", filterType: "email", filterValues: many }).toString(),
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      });
      tooMany.json.errors[0].code.should.equal("1003");
    });

    it("1003 Too many results match the filter above 1000 matches", async () => {
      for (let i = 0; i < 4; i++) {
        const input = Array.from({ length: i < 3 ? 300 : 101 }, () => ({ externalId: "crowd" }));
        (await sync({ action: "createDuplicate", input })).json.result.length.should.equal(input.length);
      }
      const a = await get("filterType=externalId&filterValues=crowd");
      a.json.errors.should.eql([{ code: "1003", message: "Too many results match the filter" }]);
      await sync({ action: "updateOnly", lookupField: "id", input: [{ id: 1001, externalId: "solo" }] });
      (await get("filterType=externalId&filterValues=crowd&batchSize=1")).json.success.should.be.true();
    });
  });

  describe("Get Lead by Id, Describe, Push", () => {
    it("gets one lead by id, or an empty result", async () => {
      await sync({ input: [{ email: "a@example.com", company: "Acme" }] });
      const a = await call(emu, "/rest/v1/lead/1001.json?fields=email,company", { token: tok });
      a.json.result.should.eql([{ id: 1001, email: "a@example.com", company: "Acme" }]);
      (await call(emu, "/rest/v1/lead/999.json", { token: tok })).json.result.should.eql([]);
    });

    it("describe lists fields with rest/soap names", async () => {
      const a = await call(emu, "/rest/v1/leads/describe.json", { token: tok });
      const email = a.json.result.find((f: { rest: { name: string } }) => f.rest.name === "email");
      email.should.containDeep({
        displayName: "Email Address",
        dataType: "email",
        length: 255,
        rest: { readOnly: false },
        soap: { name: "Email" },
      });
      const created = a.json.result.find((f: { rest: { name: string } }) => f.rest.name === "createdAt");
      created.rest.readOnly.should.be.true();
      created.should.not.have.property("length");
      for (const name of ["eventCode", "registrationCode", "attendeeType", "externalId", "leadScore"]) {
        should(a.json.result.find((f: { rest: { name: string } }) => f.rest.name === name)).be.ok();
      }
    });

    it("describe2 lists searchable fields and updateable flags", async () => {
      const a = await call(emu, "/rest/v1/leads/describe2.json", { token: tok });
      a.json.result.length.should.equal(1);
      const lead = a.json.result[0];
      lead.name.should.equal("API Lead");
      lead.searchableFields.should.eql([["id"], ["email"], ["cookies"], ["externalId"]]);
      lead.fields.find((f: { name: string }) => f.name === "id").updateable.should.be.false();
      lead.fields
        .find((f: { name: string }) => f.name === "email")
        .should.eql({
          name: "email",
          displayName: "Email Address",
          dataType: "email",
          length: 255,
          updateable: true,
          crmManaged: false,
        });
    });

    it("push upserts and needs a programName", async () => {
      const missing = await call(emu, "/rest/v1/leads/push.json", {
        token: tok,
        json: { input: [{ email: "a@example.com" }] },
      });
      missing.json.errors[0].code.should.equal("701");
      const a = await call(emu, "/rest/v1/leads/push.json", {
        token: tok,
        json: { programName: "Webinar", input: [{ email: "a@example.com" }] },
      });
      a.json.should.containDeep({ success: true, warnings: [], result: [{ id: 1001, status: "created" }] });
    });
  });
});
