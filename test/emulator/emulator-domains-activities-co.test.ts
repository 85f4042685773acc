/** Activities and custom objects, driven through the module routes. */
import should from "should";
import { errorOf, harness, type Harness } from "./emulator-domains-fixture";

type Snapshot = Record<string, any>;

describe("emulator domains: activity types", () => {
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });
  afterEach(() => h.reset());

  it("lists standard and custom types", async () => {
    const a = await h.call("GET", "/rest/v1/activities/types.json");
    const byId = new Map(a.body.result.map((t: { id: number }) => [t.id, t]));
    [1, 2, 24, 47, 104, 100001].forEach((id) => byId.has(id).should.be.true(`type ${id}`));
    byId
      .get(2)!
      .should.containDeep({ name: "Fill Out Form", primaryAttribute: { name: "Webform ID", dataType: "integer" } });
    byId.get(100001)!.should.containDeep({
      apiName: "userSessionEngagement",
      primaryAttribute: { apiName: "entry_id", dataType: "string" },
    });
  });

  it("lists and describes the custom type with Kaltura's attributes in order", async () => {
    (await h.call("GET", "/rest/v1/activities/external/types.json")).body.result.should.eql([
      {
        id: 100001,
        apiName: "userSessionEngagement",
        name: "User Session Engagement",
        description: "Engagement of an attendee with one Kaltura entry",
        triggerName: "Has User Session Engagement",
        filterName: "Had User Session Engagement",
        createdAt: "2024-01-20T08:00:00Z",
        updatedAt: "2024-01-20T08:00:00Z",
        status: "approved",
      },
    ]);
    const d = (await h.call("GET", "/rest/v1/activities/external/type/userSessionEngagement/describe.json")).body
      .result[0];
    d.primaryAttribute.should.eql({ apiName: "entry_id", name: "Entry Id", description: "", dataType: "string" });
    d.attributes
      .map((x: { apiName: string; dataType: string }) => `${x.apiName}:${x.dataType}`)
      .should.eql([
        "entry_name:string",
        "email:string",
        "user:string",
        "channel_id:integer",
        "channel_name:string",
        "plays:integer",
        "vod_minutes_viewed:float",
        "live_minutes_viewed:float",
        "total_vod_completion_rate:float",
        "no_live_engagement_rate:float",
        "low_live_engagement_rate:float",
        "fair_live_engagement_rate:float",
        "good_live_engagement_rate:float",
        "high_live_engagement_rate:float",
        "clap_clicked_count:integer",
        "heart_clicked_count:integer",
        "think_clicked_count:integer",
        "wow_clicked_count:integer",
        "smile_clicked_count:integer",
      ]);
    errorOf(await h.call("GET", "/rest/v1/activities/external/type/nope/describe.json")).code.should.equal("1013");
  });

  it("declares the permissions of every route", () => {
    h.route("GET", "/rest/v1/activities/types.json").permissions.should.eql([
      "Read-Only Activity",
      "Read-Write Activity",
    ]);
    h.route("GET", "/rest/v1/activities/external/types.json").permissions.should.eql([
      "Read-Only Activity Metadata",
      "Read-Write Activity Metadata",
    ]);
    h.route("GET", "/rest/v1/activities/external/type/x/describe.json").permissions.should.eql([
      "Read-Only Activity Metadata",
      "Read-Write Activity Metadata",
    ]);
    h.route("POST", "/rest/v1/activities/external.json").permissions.should.eql(["Read-Write Activity"]);
    h.route("POST", "/rest/v1/activities/external/type.json").permissions.should.eql(["Read-Write Activity Metadata"]);
  });

  it("Create Custom Activity Type refuses an incomplete body (701) and creates no type", async () => {
    const before = (await h.call("GET", "/rest/v1/activities/external/types.json")).body.result.length;
    errorOf(await h.call("POST", "/rest/v1/activities/external/type.json", { body: {} })).should.containDeep({
      code: "701",
      message: "apiName cannot be blank",
    });
    errorOf(
      await h.call("POST", "/rest/v1/activities/external/type.json", {
        body: { apiName: "x", name: "x", triggerName: "x", filterName: "x" },
      }),
    ).should.containDeep({ code: "701", message: "primaryAttribute cannot be blank" });
    (await h.call("GET", "/rest/v1/activities/external/types.json")).body.result.length.should.equal(before);
  });
});

describe("emulator domains: add custom activities", () => {
  let h: Harness;
  let ann: number;
  const add = (input: unknown[]) => h.call("POST", "/rest/v1/activities/external.json", { body: { input } });
  const activity = (over: Record<string, unknown> = {}) => ({
    leadId: ann,
    activityDate: "2026-03-01T09:00:00+01:00",
    activityTypeId: 100001,
    primaryAttributeValue: "1_abc123",
    attributes: [
      { apiName: "entry_name", value: "Keynote" },
      { name: "plays", value: "3" },
      { apiName: "vod_minutes_viewed", value: 12.5 },
    ],
    ...over,
  });

  beforeEach(() => {
    h = harness();
    ann = h.lead("ann@example.com");
  });
  afterEach(() => h.reset());

  it("adds activities with id, marketoGUID and status added, and stores them typed", async () => {
    const a = await add([activity(), activity()]);
    a.body.should.eql({
      success: true,
      result: [
        { id: 1001, marketoGUID: "1001", status: "added" },
        { id: 1002, marketoGUID: "1002", status: "added" },
      ],
    });
    const stored = (h.module("activities").snapshot() as Snapshot).activities;
    // Write-once: the same activity twice is two activities.
    stored.length.should.equal(2);
    stored[0].should.eql({
      id: 1001,
      marketoGUID: "1001",
      leadId: ann,
      activityDate: "2026-03-01T08:00:00Z",
      activityTypeId: 100001,
      primaryAttributeValue: "1_abc123",
      attributes: [
        { name: "Entry Name", apiName: "entry_name", value: "Keynote" },
        { name: "Plays", apiName: "plays", value: 3 },
        { name: "Vod Minutes Viewed", apiName: "vod_minutes_viewed", value: 12.5 },
      ],
    });
  });

  it("skips bad records with `errors` (not `reasons`) and keeps the good ones", async () => {
    const a = await add([
      activity({ leadId: 999999 }),
      activity({ activityTypeId: 424242 }),
      activity({ activityTypeId: 2 }),
      activity({ primaryAttributeValue: undefined }),
      activity({ attributes: [{ apiName: "colour", value: "red" }] }),
      activity({ attributes: [{ apiName: "plays", value: "many" }] }),
      activity({ activityDate: "yesterday" }),
      activity(),
    ]);
    const r = a.body.result;
    r.slice(0, 7).forEach((x: Record<string, unknown>) => {
      x.status!.should.equal("skipped");
      x.should.not.have.property("reasons");
      x.should.not.have.property("id");
    });
    r[0].errors.should.eql([{ code: "1004", message: "Lead not found" }]);
    r[1].errors[0].code.should.equal("1013");
    r[2].errors[0].code.should.equal("1003");
    r[3].errors.should.eql([{ code: "1002", message: "Missing value for required parameter 'primaryAttributeValue'" }]);
    r[4].errors.should.eql([{ code: "1006", message: "Attribute 'colour' not found" }]);
    r[5].errors.should.eql([{ code: "1003", message: "Invalid value for field 'plays' and value 'many'" }]);
    r[6].errors[0].code.should.equal("1003");
    r[7].status.should.equal("added");
    ((h.module("activities").snapshot() as Snapshot).activities as unknown[]).length.should.equal(1);
  });

  it("refuses an attributes payload over 65,536 bytes with 1049", async () => {
    const big = "x".repeat(250);
    const attributes = Array.from({ length: 300 }, () => ({ apiName: "entry_name", value: big }));
    const r = (await add([activity({ attributes })])).body.result[0];
    r.status.should.equal("skipped");
    r.errors[0].code.should.equal("1049");
  });

  it("answers 701 without input", async () => {
    errorOf(await h.call("POST", "/rest/v1/activities/external.json", { body: {} })).code.should.equal("701");
  });
});

describe("emulator domains: custom objects", () => {
  let h: Harness;
  let ann: number;
  let bob: number;
  const CO = "kalturaUserSessionEngagement";
  const sync = (body: Record<string, unknown>) => h.call("POST", `/rest/v1/customobjects/${CO}.json`, { body });
  const records = () => (h.module("customObjects").snapshot() as Snapshot)[CO] as Array<Record<string, unknown>>;

  beforeEach(() => {
    h = harness();
    ann = h.lead("ann@example.com");
    bob = h.lead("bob@example.com");
  });
  afterEach(() => h.reset());

  it("lists and describes the engagement object with its link relationship", async () => {
    const list = await h.call("GET", "/rest/v1/customobjects.json");
    list.body.result.map((t: { name: string }) => t.name).should.eql([CO]);
    list.body.result[0].should.not.have.property("fields");
    (await h.call("GET", "/rest/v1/customobjects.json?names=other")).body.result.should.eql([]);
    const d = (await h.call("GET", `/rest/v1/customobjects/${CO}/describe.json`)).body.result[0];
    d.should.containDeep({
      name: CO,
      displayName: "Kaltura User Session Engagement",
      idField: "marketoGUID",
      dedupeFields: ["entry_id", "personId"],
      searchableFields: [["entry_id", "personId"], ["marketoGUID"], ["personId"]],
      relationships: [{ field: "personId", type: "parent", relatedTo: { name: "Lead", field: "id" } }],
    });
    const types = Object.fromEntries(d.fields.map((f: { name: string; dataType: string }) => [f.name, f.dataType]));
    types.should.containDeep({
      entry_id: "string",
      personId: "link",
      channel_id: "integer",
      combined_live_engaged_users_play_time_ratio: "float",
      raise_hand: "integer",
      mic_on: "float",
    });
    d.fields.length.should.be.belowOrEqual(50);
    d.fields[0].should.eql({
      name: "marketoGUID",
      displayName: "Marketo GUID",
      dataType: "string",
      length: 36,
      updateable: false,
    });
    errorOf(await h.call("GET", "/rest/v1/customobjects/nope/describe.json")).code.should.equal("1013");
  });

  it("honours seed.engagementDedupeFields", async () => {
    const single = harness({ seed: { engagementDedupeFields: ["entry_id"] } });
    const d = (await single.call("GET", `/rest/v1/customobjects/${CO}/describe.json`)).body.result[0];
    d.dedupeFields.should.eql(["entry_id"]);
    d.searchableFields.should.eql([["entry_id"], ["marketoGUID"], ["personId"]]);
    single.reset();
  });

  it("creates, then updates by the dedupe key; one record per lead per entry", async () => {
    const a = await sync({
      input: [
        { entry_id: "1_a", personId: ann, plays: 1 },
        { entry_id: "1_a", personId: bob, plays: 2 },
      ],
    });
    a.body.success.should.be.true();
    a.body.result
      .map((x: { seq: number; status: string }) => [x.seq, x.status])
      .should.eql([
        [0, "created"],
        [1, "created"],
      ]);
    a.body.result[0].marketoGUID.should.match(/^[0-9a-f-]{36}$/);
    const b = await sync({
      input: [{ entry_id: "1_a", personId: String(ann), plays: "5", live_minutes_viewed: "2.5" }],
    });
    b.body.result.should.eql([{ seq: 0, status: "updated", marketoGUID: a.body.result[0].marketoGUID }]);
    const stored = records();
    stored.length.should.equal(2);
    stored[0].should.containDeep({ entry_id: "1_a", personId: ann, plays: 5, live_minutes_viewed: 2.5 });
  });

  it("skips per record: missing dedupe field, marketoGUID with dedupeFields, bad link, bad type, unknown field, repeated key", async () => {
    const a = await sync({
      input: [
        { entry_id: "1_a" },
        { entry_id: "1_a", personId: ann, marketoGUID: "x" },
        { entry_id: "1_a", personId: 999999 },
        { entry_id: "1_a", personId: ann, plays: "lots" },
        { entry_id: "1_a", personId: ann, colour: "red" },
        { entry_id: "1_b", personId: ann },
        { entry_id: "1_b", personId: ann, plays: 2 },
      ],
    });
    const r = a.body.result;
    r[0].should.eql({
      seq: 0,
      status: "skipped",
      reasons: [{ code: "1002", message: "Missing value for required dedupe field(s) 'personId'" }],
    });
    r[1].reasons[0].should.eql({
      code: "1003",
      message: "Field 'marketoGUID' not allowed when dedupeBy is 'dedupeFields'",
    });
    r[2].reasons[0].should.eql({ code: "1004", message: "Lead not found" });
    r[3].reasons[0].should.eql({ code: "1003", message: "Invalid value for field 'plays' and value 'lots'" });
    r[4].reasons[0].should.eql({ code: "1006", message: "Field 'colour' not found" });
    r[5].status.should.equal("created");
    r[6].should.eql({
      seq: 6,
      status: "skipped",
      reasons: [{ code: "1036", message: "Duplicate object found in input" }],
    });
    records().length.should.equal(1);
  });

  it("supports createOnly, updateOnly and updateOnly by idField", async () => {
    const guid = (await sync({ input: [{ entry_id: "1_a", personId: ann }] })).body.result[0].marketoGUID;
    (
      await sync({ action: "createOnly", input: [{ entry_id: "1_a", personId: ann }] })
    ).body.result[0].reasons[0].code.should.equal("1017");
    (
      await sync({ action: "updateOnly", input: [{ entry_id: "1_z", personId: ann }] })
    ).body.result[0].reasons[0].code.should.equal("1013");
    (
      await sync({ action: "updateOnly", dedupeBy: "idField", input: [{ marketoGUID: guid, plays: 7 }] })
    ).body.result.should.eql([{ seq: 0, status: "updated", marketoGUID: guid }]);
    records()[0].plays!.should.equal(7);
    errorOf(await sync({ dedupeBy: "idField", input: [{ marketoGUID: guid }] })).code.should.equal("1003");
    errorOf(await sync({ action: "upsert", input: [{ entry_id: "1_a", personId: ann }] })).code.should.equal("1003");
    errorOf(await h.call("POST", "/rest/v1/customobjects/nope.json", { body: { input: [{}] } })).code.should.equal(
      "1013",
    );
  });

  it("queries by searchable field, by compound dedupe key, and deletes", async () => {
    const created = (
      await sync({
        input: [
          { entry_id: "1_a", personId: ann, plays: 1 },
          { entry_id: "1_b", personId: ann },
          { entry_id: "1_a", personId: bob },
        ],
      })
    ).body.result;
    const byLead = await h.call(
      "GET",
      `/rest/v1/customobjects/${CO}.json?filterType=personId&filterValues=${ann}&fields=entry_id,plays`,
    );
    byLead.body.success.should.be.true();
    byLead.body.result.should.eql([
      { seq: 0, marketoGUID: created[0].marketoGUID, entry_id: "1_a", plays: 1 },
      { seq: 0, marketoGUID: created[1].marketoGUID, entry_id: "1_b" },
    ]);
    const byKey = await h.call("GET", `/rest/v1/customobjects/${CO}.json`, {
      body: {
        filterType: "dedupeFields",
        fields: ["personId"],
        input: [
          { entry_id: "1_a", personId: bob },
          { entry_id: "1_c", personId: bob },
        ],
      },
    });
    byKey.body.result.should.eql([{ seq: 0, marketoGUID: created[2].marketoGUID, personId: bob }]);
    errorOf(
      await h.call("GET", `/rest/v1/customobjects/${CO}.json?filterType=entry_id&filterValues=1_a`),
    ).code.should.equal("1003");
    errorOf(await h.call("GET", `/rest/v1/customobjects/${CO}.json?filterValues=1_a`)).code.should.equal("701");

    const del = await h.call("POST", `/rest/v1/customobjects/${CO}/delete.json`, {
      body: {
        input: [
          { entry_id: "1_a", personId: ann },
          { entry_id: "1_a", personId: ann },
        ],
      },
    });
    del.body.result.should.eql([
      { seq: 0, marketoGUID: created[0].marketoGUID, status: "deleted" },
      { seq: 1, status: "skipped", reasons: [{ code: "1013", message: "Object not found" }] },
    ]);
    (
      await h.call("POST", `/rest/v1/customobjects/${CO}/delete.json`, {
        body: { deleteBy: "idField", input: [{ marketoGUID: created[1].marketoGUID }] },
      })
    ).body.result[0].status.should.equal("deleted");
    records()
      .map((r) => r.marketoGUID)
      .should.eql([created[2].marketoGUID]);
  });

  it("declares the permissions of every route", () => {
    const ro = ["Read-Only Custom Objects", "Read-Write Custom Objects"];
    h.route("GET", "/rest/v1/customobjects.json").permissions.should.eql(ro);
    h.route("GET", `/rest/v1/customobjects/${CO}/describe.json`).permissions.should.eql(ro);
    h.route("GET", `/rest/v1/customobjects/${CO}.json`).permissions.should.eql(ro);
    h.route("POST", `/rest/v1/customobjects/${CO}.json`).permissions.should.eql(["Read-Write Custom Objects"]);
    h.route("POST", `/rest/v1/customobjects/${CO}/delete.json`).permissions.should.eql(["Read-Write Custom Objects"]);
    should(h.route("POST", `/rest/v1/customobjects/${CO}.json`).timeoutMs).equal(120_000);
  });
});
