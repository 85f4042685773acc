/**
 * The emulator answers as Marketo does, checked against the answers Marketo is documented or
 * recorded to give. Each test names its source: a page of Adobe's Marketo developer
 * documentation (Markdown source in the public repository AdobeDocs/marketo-developer.en,
 * help/rest-api/<page>.md) or a public repository holding recorded Marketo traffic.
 */
import should from "should";
import { startEmulator, type EmulatorHandle } from "../../nodes/emulator";
import { errorOf, harness, type Harness } from "./emulator-domains-fixture";
import { call, token } from "./emulator-http";

function upload(file: string, fields: Record<string, string>): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append("file", new Blob([file], { type: "text/csv" }), "import.csv");
  return form;
}

describe("emulator answers as Marketo's documented and recorded answers", () => {
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });
  afterEach(() => h.reset());

  describe("lead records carry every requested field", () => {
    // Recorded: grouparoo/grouparoo, plugins/@grouparoo/marketo/__tests__/fixtures/integration/
    // export-records.js. Without `fields`:
    //   {id: 7149, firstName: "Brian", lastName: null, email: "brian@bleonard.com",
    //    updatedAt: "2021-11-23T22:57:08Z", createdAt: "2021-11-23T22:57:08Z"}
    // With fields=email,firstName,lastName,id,textarea_field,boolean_field,...:
    //   {id: 7149, email: ..., firstName: "Brian", lastName: null, textarea_field: null,
    //    boolean_field: false, email_field: null, integer_field: null, ...}
    it("answers the default field set in the recorded order, unset fields as null", async () => {
      const id = h.lead("brian@bleonard.com", { firstName: "Brian" });
      const a = await h.call("GET", "/rest/v1/leads.json?filterType=email&filterValues=brian%40bleonard.com");
      a.body.result.should.eql([
        {
          id,
          firstName: "Brian",
          lastName: null,
          email: "brian@bleonard.com",
          updatedAt: "2026-03-02T10:00:00Z",
          createdAt: "2026-03-02T10:00:00Z",
        },
      ]);
      Object.keys(a.body.result[0]).should.eql(["id", "firstName", "lastName", "email", "updatedAt", "createdAt"]);
    });

    it("answers requested fields after id, an unset boolean as false and other unset types as null", async () => {
      const id = h.lead("brian@bleonard.com", { firstName: "Brian" });
      const a = await h.call(
        "GET",
        `/rest/v1/leads.json?filterType=id&filterValues=${id}&fields=email,firstName,lastName,id,address,unsubscribed,leadScore,annualRevenue,dateOfBirth`,
      );
      a.body.result.should.eql([
        {
          id,
          email: "brian@bleonard.com",
          firstName: "Brian",
          lastName: null,
          address: null,
          unsubscribed: false,
          leadScore: null,
          annualRevenue: null,
          dateOfBirth: null,
        },
      ]);
      Object.keys(a.body.result[0]).should.eql([
        "id",
        "email",
        "firstName",
        "lastName",
        "address",
        "unsubscribed",
        "leadScore",
        "annualRevenue",
        "dateOfBirth",
      ]);
      (await h.call("GET", `/rest/v1/lead/${id}.json?fields=lastName`)).body.result.should.eql([
        { id, lastName: null },
      ]);
    });

    // Documented (leads.md): "If a requested field is not returned, its value is implied to be
    // null." The emulator can answer that way too.
    it("leaves unset fields out when configured to answer as the documentation allows", async () => {
      const omit = harness({ answers: { unsetLeadFields: "omit" } });
      const id = omit.lead("brian@bleonard.com", { firstName: "Brian" });
      const a = await omit.call(
        "GET",
        `/rest/v1/leads.json?filterType=id&filterValues=${id}&fields=firstName,lastName,unsubscribed`,
      );
      a.body.result.should.eql([{ id, firstName: "Brian" }]);
      omit.reset();
    });
  });

  // Recorded: grouparoo/grouparoo, plugins/@grouparoo/marketo/__tests__/fixtures/integration/
  // destination-mapping-options.js (the gzip body of GET /rest/v1/leads/describe.json, decoded):
  //   {"id":130,"displayName":"Created At","dataType":"datetime","rest":{"name":"createdAt","readOnly":true}}
  //   {"id":131,"displayName":"Updated At","dataType":"datetime","rest":{"name":"updatedAt","readOnly":true}}
  //   {"id":136,"displayName":"Cookies","dataType":"string","length":255,"rest":{"name":"cookies","readOnly":false}}
  //   {"id":56,"displayName":"Email Address","dataType":"email","length":255,"rest":{"name":"email",...},"soap":{"name":"Email",...}}
  it("describes createdAt, updatedAt and cookies with a rest name only", async () => {
    const fields = (await h.call("GET", "/rest/v1/leads/describe.json")).body.result as Array<
      Record<string, { name: string }>
    >;
    const byName = (n: string) => fields.find((f) => f.rest.name === n)!;
    byName("createdAt").should.containDeep({
      displayName: "Created At",
      dataType: "datetime",
      rest: { name: "createdAt", readOnly: true },
    });
    byName("createdAt").should.not.have.property("soap");
    byName("updatedAt").should.not.have.property("soap");
    byName("cookies").should.not.have.property("soap");
    byName("email").should.containDeep({ soap: { name: "Email", readOnly: false } });
  });

  // Documented (programs.md): Get Program by Id and by Name answer `"tags": [...], "costs": null,
  // "headStart": false`; Browse answers `"headStart": false` without tags or costs ("This
  // endpoint does not return program tags").
  it("answers programs with headStart, and browses them without tags and costs", async () => {
    for (const path of [
      "/rest/asset/v1/program/1001.json",
      "/rest/asset/v1/program/byName.json?name=Kaltura%20Virtual%20Summit",
    ]) {
      (await h.call("GET", path)).body.result[0].should.containDeep({
        id: 1001,
        tags: [],
        costs: null,
        headStart: false,
      });
    }
    const browsed = (await h.call("GET", "/rest/asset/v1/programs.json")).body.result;
    browsed.length.should.equal(2);
    for (const p of browsed) {
      p.headStart.should.be.false();
      p.should.not.have.properties("tags", "costs");
    }
  });

  // Documented (program-members.md, Query): without `fields` "the response returns acquiredBy,
  // leadId, membershipDate, programId, and reachedSuccess", e.g.
  //   {"seq": 0, "leadId": 1789, "reachedSuccess": true, "programId": 1044, "acquiredBy": true,
  //    "membershipDate": "2020-01-08T18:10:26Z"}
  it("answers a member query with the documented default fields only", async () => {
    const ann = h.lead("ann@example.com");
    await h.call("POST", "/rest/v1/programs/1001/members/status.json", {
      body: { statusName: "Registered", input: [{ leadId: ann }] },
    });
    const a = await h.call("GET", `/rest/v1/programs/1001/members.json?filterType=leadId&filterValues=${ann}`);
    a.body.result.should.eql([
      {
        seq: 0,
        leadId: ann,
        reachedSuccess: true,
        programId: 1001,
        acquiredBy: true,
        membershipDate: "2026-03-02T10:00:00Z",
      },
    ]);
    Object.keys(a.body.result[0]).should.eql([
      "seq",
      "leadId",
      "reachedSuccess",
      "programId",
      "acquiredBy",
      "membershipDate",
    ]);
  });

  // Documented (program-members.md, Program Member Data): POST /rest/v1/programs/{programId}/
  // members.json answers
  //   {"seq": 0, "status": "updated", "leadId": 1789}
  //   {"seq": 2, "status": "skipped", "reasons": [{"code": "1013", "message": "Membership not found"}]}
  it("syncs program member data: updated for a member, 1013 Membership not found otherwise", async () => {
    const ann = h.lead("ann@example.com");
    const bob = h.lead("bob@example.com");
    await h.call("POST", "/rest/v1/programs/1001/members/status.json", {
      body: { statusName: "Registered", input: [{ leadId: ann }] },
    });
    const a = await h.call("POST", "/rest/v1/programs/1001/members.json", {
      body: {
        input: [
          { leadId: ann, registrationCode: "dcff5f12-a7c7-11eb-bcbc-0242ac130002" },
          { leadId: bob, registrationCode: "x" },
          { leadId: ann, statusName: "Attended" },
          { leadId: ann, colour: "red" },
        ],
      },
    });
    a.body.should.eql({
      success: true,
      result: [
        { seq: 0, status: "updated", leadId: ann },
        { seq: 1, status: "skipped", reasons: [{ code: "1013", message: "Membership not found" }] },
        { seq: 2, status: "skipped", reasons: [{ code: "1003", message: "Field 'statusName' is not updateable" }] },
        { seq: 3, status: "skipped", reasons: [{ code: "1006", message: "Field 'colour' not found" }] },
      ],
    });
    const q = await h.call(
      "GET",
      `/rest/v1/programs/1001/members.json?filterType=leadId&filterValues=${ann}&fields=registrationCode,webinarUrl`,
    );
    q.body.result.should.eql([
      { seq: 0, leadId: ann, registrationCode: "dcff5f12-a7c7-11eb-bcbc-0242ac130002", webinarUrl: null },
    ]);
    errorOf(
      await h.call("POST", "/rest/v1/programs/999/members.json", { body: { input: [{ leadId: ann }] } }),
    ).code.should.equal("1013");
    const describe = (await h.call("GET", "/rest/v1/programs/members/describe.json")).body.result[0];
    describe.should.containDeep({ name: "API Program Membership", dedupeFields: ["leadId", "programId"] });
    describe.fields.find((f: { name: string }) => f.name === "registrationCode").updateable.should.be.true();
    describe.fields.find((f: { name: string }) => f.name === "statusName").updateable.should.be.false();
  });

  // Documented (bulk-program-member-import.md, Warnings): a file with INVALID_EMAIL imports
  // with "numOfLeadsProcessed":1, "numOfRowsWithWarning":1,
  // "message":"Import succeeded, 1 records imported (1 members), 1 warning." and warnings.json
  //   firstName,lastName,email,title,company,leadScore,Import Warning Reason
  //   Aerys,Targaryen,INVALID_EMAIL,Targaryen,House Targaryen,0,Invalid email address
  it("imports a row with an invalid e-mail address with a warning, as the documented example", async () => {
    const hb = harness({ importDelayMs: 10 });
    const file =
      "firstName,lastName,email,title,company,leadScore\nAerys,Targaryen,INVALID_EMAIL,Targaryen,House Targaryen,0\n";
    const created = await hb.call("POST", "/bulk/v1/program/1001/members/import.json", {
      form: upload(file, { format: "csv", programMemberStatus: "Registered" }),
    });
    const batchId = created.body.result[0].batchId;
    hb.clock.now += 100;
    (await hb.call("GET", `/bulk/v1/program/members/import/${batchId}/status.json`)).body.result[0].should.eql({
      batchId,
      importId: String(batchId),
      status: "Complete",
      numOfLeadsProcessed: 1,
      numOfRowsFailed: 0,
      numOfRowsWithWarning: 1,
      message: "Import succeeded, 1 records imported (1 members), 1 warning.",
    });
    const w = await hb.call("GET", `/bulk/v1/program/members/import/${batchId}/warnings.json`);
    w.status.should.equal(200);
    w.body.should.equal(
      "firstName,lastName,email,title,company,leadScore,Import Warning Reason\nAerys,Targaryen,INVALID_EMAIL,Targaryen,House Targaryen,0,Invalid email address\n",
    );
    (await hb.call("GET", `/bulk/v1/program/members/import/${batchId}/failures.json`)).status.should.equal(404);
    hb.leads.find("email", "INVALID_EMAIL").length.should.equal(1);
    hb.reset();
  });

  // Documented (custom-objects.md, Create and Update): a record whose lead does not exist is
  //   {"seq":2, "status": "skipped", "reasons":[{"code":"1004","message":"Lead not found"}]}
  it("skips a custom object linked to a lead that does not exist with 1004, or 1003 when configured", async () => {
    const input = [{ entry_id: "1_a", personId: 999999 }];
    const a = await h.call("POST", "/rest/v1/customobjects/kalturaUserSessionEngagement.json", { body: { input } });
    a.body.result.should.eql([{ seq: 0, status: "skipped", reasons: [{ code: "1004", message: "Lead not found" }] }]);
    const old = harness({ answers: { missingLinkedLead: "1003" } });
    const b = await old.call("POST", "/rest/v1/customobjects/kalturaUserSessionEngagement.json", { body: { input } });
    b.body.result[0].reasons[0].code.should.equal("1003");
    old.reset();
  });

  describe("static lists and deleting leads", () => {
    // Recorded: grouparoo/grouparoo, plugins/@grouparoo/marketo/__tests__/fixtures/integration/
    // export-records.js:
    //   POST /rest/v1/lists/1159/leads.json {input:[{id:7149},{id:7150}]}
    //     -> {result:[{id:7149,status:"added"},{id:7150,status:"added"}],success:true}
    //   DELETE /rest/v1/lists/1160/leads.json?id=7149&id=7150
    //     -> {result:[{id:7149,status:"removed"},{id:7150,status:"skipped",
    //         reasons:[{code:"1015",message:"Lead not in list"}]}],success:true}
    //   POST /rest/v1/list/1159/leads.json  listId=1159&_method=GET  -> the members, lead records
    it("adds with a JSON body, removes by id parameters, and lists members as recorded", async () => {
      const a = h.lead("brian@bleonard.com", { firstName: "Brian" });
      const b = h.lead("brian2@bleonard.com", { firstName: "Sally" });
      (
        await h.call("POST", "/rest/v1/lists/4001/leads.json", { body: { input: [{ id: a }, { id: b }] } })
      ).body.should.eql({
        success: true,
        result: [
          { id: a, status: "added" },
          { id: b, status: "added" },
        ],
      });
      (await h.call("POST", "/rest/v1/lists/4002/leads.json", { body: { input: [{ id: a }] } })).body.result.should.eql(
        [{ id: a, status: "added" }],
      );
      (await h.call("DELETE", `/rest/v1/lists/4002/leads.json?id=${a}&id=${b}`)).body.result.should.eql([
        { id: a, status: "removed" },
        { id: b, status: "skipped", reasons: [{ code: "1015", message: "Lead not in list" }] },
      ]);
      const members = await h.call("GET", "/rest/v1/list/4001/leads.json");
      members.body.result.should.eql([
        {
          id: a,
          firstName: "Brian",
          lastName: null,
          email: "brian@bleonard.com",
          updatedAt: "2026-03-02T10:00:00Z",
          createdAt: "2026-03-02T10:00:00Z",
        },
        {
          id: b,
          firstName: "Sally",
          lastName: null,
          email: "brian2@bleonard.com",
          updatedAt: "2026-03-02T10:00:00Z",
          createdAt: "2026-03-02T10:00:00Z",
        },
      ]);
      (await h.call("GET", "/rest/v1/lists/4002/leads.json")).body.result.should.eql([]);
    });

    // Documented (list-membership.md): Add to List with ?id=318594&id=318595 answers
    // {"id": 318595, "status": "skipped", "reasons": [{"code": "1004", "message": "Lead not found"}]}
    // for an unknown lead; Member of List answers "memberof" / "notmemberof".
    it("skips unknown leads with 1004 and answers Member of List", async () => {
      const a = h.lead("a@example.com");
      const b = h.lead("b@example.com");
      (await h.call("POST", `/rest/v1/lists/4001/leads.json?id=${a}&id=999999`)).body.result.should.eql([
        { id: a, status: "added" },
        { id: 999999, status: "skipped", reasons: [{ code: "1004", message: "Lead not found" }] },
      ]);
      (await h.call("GET", `/rest/v1/lists/4001/leads/ismember.json?id=${a}&id=${b}&id=999999`)).body.result.should.eql(
        [
          { id: a, status: "memberof" },
          { id: b, status: "notmemberof" },
          { id: 999999, status: "skipped", reasons: [{ code: "1004", message: "Lead not found" }] },
        ],
      );
      (await h.call("GET", "/rest/v1/lists.json?id=4001")).body.result.should.eql([
        {
          id: 4001,
          name: "Summit attendees",
          description: "",
          programName: "Kaltura Virtual Summit",
          workspaceName: "Default",
          createdAt: "2024-02-01T09:30:00Z",
          updatedAt: "2024-02-01T09:30:00Z",
        },
      ]);
      errorOf(await h.call("POST", `/rest/v1/lists/999/leads.json?id=${a}`)).code.should.equal("1013");
      errorOf(await h.call("POST", "/rest/v1/lists/4001/leads.json")).should.eql({
        code: "701",
        message: "id cannot be blank",
      });
      // Adding and removing write the activities Marketo logs (Add to List = 24, Remove from List = 25).
      await h.call("DELETE", `/rest/v1/lists/4001/leads.json?id=${a}`);
      const logged = (
        h.module("activities").snapshot() as {
          activities: Array<{ activityTypeId: number; primaryAttributeValueId: number }>;
        }
      ).activities;
      logged
        .map((x) => [x.activityTypeId, x.primaryAttributeValueId])
        .should.eql([
          [24, 4001],
          [25, 4001],
        ]);
    });

    // Documented (leads.md, Delete): POST /rest/v1/leads/delete.json {"input":[{"id":235},{"id":766}]}
    // -> [{"id":235,"status":"deleted"},{"id":766,"status":"deleted"}].
    // Recorded (grouparoo export-records.js): POST /rest/v1/leads.json?_method=DELETE
    // {input:[{id:7150}]} -> {result:[{id:7150,status:"deleted"}],success:true}
    it("deletes leads through both paths; a deleted lead leaves its lists", async () => {
      const a = h.lead("a@example.com");
      const b = h.lead("b@example.com");
      await h.call("POST", "/rest/v1/lists/4001/leads.json", { body: { input: [{ id: a }, { id: b }] } });
      (
        await h.call("POST", "/rest/v1/leads/delete.json", { body: { input: [{ id: a }, { id: 999999 }] } })
      ).body.result.should.eql([
        { id: a, status: "deleted" },
        { id: 999999, status: "skipped", reasons: [{ code: "1004", message: "Lead not found" }] },
      ]);
      (await h.call("DELETE", "/rest/v1/leads.json", { body: { input: [{ id: b }] } })).body.result.should.eql([
        { id: b, status: "deleted" },
      ]);
      h.leads.all().should.eql([]);
      (await h.call("GET", "/rest/v1/lists/4001/leads.json")).body.result.should.eql([]);
    });
  });

  describe("the sweep of other documented answers", () => {
    // Documented (custom-objects.md, List and Describe): the type carries name, displayName,
    // description, createdAt, updatedAt, idField, dedupeFields, searchableFields and
    // relationships (no pluralName); describe lists marketoGUID, createdAt, updatedAt first.
    it("lists custom object types without pluralName, system fields first in describe", async () => {
      const listed = (await h.call("GET", "/rest/v1/customobjects.json")).body.result[0];
      Object.keys(listed).should.eql([
        "name",
        "displayName",
        "description",
        "createdAt",
        "updatedAt",
        "idField",
        "dedupeFields",
        "searchableFields",
        "relationships",
      ]);
      const described = (await h.call("GET", "/rest/v1/customobjects/kalturaUserSessionEngagement/describe.json")).body
        .result[0];
      described.fields
        .slice(0, 3)
        .map((f: { name: string }) => f.name)
        .should.eql(["marketoGUID", "createdAt", "updatedAt"]);
    });

    // The API reference (swagger-mapi.json, ScheduleCampaignData) names the clone parameter
    // cloneToProgramName; the guide (smart-campaigns.md, Schedule) calls it cloneToProgram.
    it("schedules a batch campaign with either name for the cloned program", async () => {
      await h.call("POST", "/rest/v1/campaigns/2002/schedule.json", { body: { input: { cloneToProgram: "Copy A" } } });
      await h.call("POST", "/rest/v1/campaigns/2002/schedule.json", {
        body: { input: { cloneToProgramName: "Copy B" } },
      });
      const runs = (h.module("campaigns").snapshot() as { campaignRuns: Array<{ cloneToProgramName?: string }> })
        .campaignRuns;
      runs.map((r) => r.cloneToProgramName).should.eql(["Copy A", "Copy B"]);
    });

    // Documented (bulk-lead-import.md): "listId: Selects a static list. Imported leads become
    // members of this list in addition to any records created or updated by the import."
    it("adds the leads of a bulk import to the list named by listId", async () => {
      const hb = harness({ importDelayMs: 10 });
      const created = await hb.call("POST", "/bulk/v1/leads.json", {
        form: upload("email\nann@example.com\nbob@example.com\n", { format: "csv", listId: "4001" }),
      });
      created.body.success.should.be.true();
      hb.clock.now += 100;
      (
        await hb.call("GET", `/bulk/v1/leads/batch/${created.body.result[0].batchId}.json`)
      ).body.result[0].status.should.equal("Complete");
      (await hb.call("GET", "/rest/v1/lists/4001/leads.json?fields=email")).body.result
        .map((l: { email: string }) => l.email)
        .should.eql(["ann@example.com", "bob@example.com"]);
      hb.reset();
    });
  });

  describe("membership reads", () => {
    // Documented (leads.md, Programs): Get Leads by Program Id answers lead records "with a child
    // object called membership", which "always includes progressionStatus, acquiredBy,
    // reachedSuccess, and membershipDate"; Get Programs by Lead Id answers
    // {"id": 1044, "progressionStatus": "Sent", "isExhausted": false, "acquiredBy": false,
    //  "reachedSuccess": false, "membershipDate": ..., "updatedAt": ...}; Get Lists by Lead Id
    // answers {"listId": 3379, "createdAt": ..., "updatedAt": ...}.
    it("answers Get Leads by Program Id, Get Programs by Lead Id and Get Lists by Lead Id", async () => {
      const ann = h.lead("ann@example.com", { firstName: "Ann" });
      await h.call("POST", "/rest/v1/programs/1001/members/status.json", {
        body: { statusName: "Registered", input: [{ leadId: ann }] },
      });
      await h.call("POST", `/rest/v1/lists/4002/leads.json?id=${ann}`);
      const byProgram = (await h.call("GET", "/rest/v1/leads/programs/1001.json")).body.result;
      byProgram.length.should.equal(1);
      byProgram[0].should.containDeep({ id: ann, firstName: "Ann", lastName: null, email: "ann@example.com" });
      byProgram[0].membership.should.containDeep({
        progressionStatus: "Registered",
        acquiredBy: true,
        reachedSuccess: true,
        isExhausted: false,
        membershipDate: "2026-03-02T10:00:00Z",
      });
      (await h.call("GET", "/rest/v1/leads/programs/1001.json?fields=email")).body.result[0].should.eql({
        id: ann,
        email: "ann@example.com",
      });
      (await h.call("GET", `/rest/v1/leads/${ann}/programMembership.json`)).body.result.should.eql([
        {
          id: 1001,
          progressionStatus: "Registered",
          progressionStatusType: "Success",
          isExhausted: false,
          acquiredBy: true,
          reachedSuccess: true,
          membershipDate: "2026-03-02T10:00:00Z",
          updatedAt: "2026-03-02T10:00:00Z",
        },
      ]);
      (
        await h.call("GET", `/rest/v1/leads/${ann}/programMembership.json?filterType=id&filterValues=1002`)
      ).body.result.should.eql([]);
      (await h.call("GET", `/rest/v1/leads/${ann}/listMembership.json`)).body.result.should.eql([
        { listId: 4002, createdAt: "2026-03-02T10:00:00Z", updatedAt: "2026-03-02T10:00:00Z" },
      ]);
    });
  });

  describe("over HTTP", () => {
    let emu: EmulatorHandle;
    let tok: string;
    before(async () => {
      emu = await startEmulator({ port: 0 });
      tok = await token(emu);
    });
    after(() => emu.stop());

    it("routes POST /rest/v1/leads.json?_method=DELETE to Delete Leads, as recorded clients send it", async () => {
      const created = await call(emu, "/rest/v1/leads.json", {
        token: tok,
        json: { input: [{ email: "gone@example.com" }] },
      });
      const id = created.json.result[0].id;
      const a = await call(emu, "/rest/v1/leads.json?_method=DELETE", { token: tok, json: { input: [{ id }] } });
      a.json.result.should.eql([{ id, status: "deleted" }]);
      const b = await call(emu, `/rest/v1/lists/4001/leads.json?id=${id}`, { token: tok, method: "DELETE" });
      b.json.result.should.eql([{ id, status: "skipped", reasons: [{ code: "1004", message: "Lead not found" }] }]);
      should(emu.state().leads).eql([]);
    });
  });
});
