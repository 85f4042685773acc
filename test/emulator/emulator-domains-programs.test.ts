/** Programs, channels and program membership, driven through the module routes. */
import should from "should";
import { errorOf, harness, type Harness } from "./emulator-domains-fixture";

describe("emulator domains: programs and channels", () => {
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });
  afterEach(() => h.reset());

  it("answers a program by id in the asset API shape", async () => {
    const a = await h.call("GET", "/rest/asset/v1/program/1001.json");
    a.body.should.eql({
      success: true,
      errors: [],
      warnings: [],
      result: [
        {
          id: 1001,
          name: "Kaltura Virtual Summit",
          description: "",
          type: "Event",
          channel: "Kaltura Event",
          status: "",
          workspace: "Default",
          folder: { type: "Folder", value: 1910, folderName: "Events" },
          tags: [],
          costs: null,
          headStart: false,
          url: "https://app-ab01.marketo.com/#PG1001A1",
          createdAt: "2024-02-01T09:30:00Z+0000",
          updatedAt: "2024-02-01T09:30:00Z+0000",
        },
      ],
    });
  });

  it("answers not-found lookups with the warning string and no result", async () => {
    for (const path of [
      "/rest/asset/v1/program/999.json",
      "/rest/asset/v1/program/byName.json?name=Nope",
      "/rest/asset/v1/channel/byName.json?name=Nope",
    ]) {
      const a = await h.call("GET", path);
      a.body.should.eql({ success: true, errors: [], warnings: ["No assets found for the given search criteria."] });
    }
  });

  it("finds programs and channels by name", async () => {
    const p = await h.call("GET", "/rest/asset/v1/program/byName.json?name=Certain%20Webinar");
    p.body.result.map((x: { id: number }) => x.id).should.eql([1002]);
    p.body.result[0].channel.should.equal("Webinar");
    const c = await h.call("GET", "/rest/asset/v1/channel/byName.json?name=Kaltura%20Event");
    const channel = c.body.result[0];
    channel.applicableProgramType.should.equal("event");
    channel.createdAt.should.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\+0000$/);
    channel.progressionStatuses
      .map((s: { name: string; step: number; success: boolean }) => `${s.name}:${s.step}:${s.success}`)
      .should.eql([
        "Not in Program:0:false",
        "Created:10:false",
        "Invited:20:false",
        "Registered:30:true",
        "Confirmed:40:true",
        "autoConfirmed:40:true",
        "Attended:50:true",
        "Participated:60:true",
        "Blocked:70:false",
        "Un-registered:80:false",
      ]);
    channel.progressionStatuses[0].should.eql({
      name: "Not in Program",
      step: 0,
      description: null,
      hidden: false,
      success: false,
    });
  });

  it("pages programs with maxReturn/offset and rejects maxReturn over 200", async () => {
    (await h.call("GET", "/rest/asset/v1/programs.json")).body.result.length.should.equal(2);
    (await h.call("GET", "/rest/asset/v1/programs.json?maxReturn=1&offset=1")).body.result
      .map((p: { id: number }) => p.id)
      .should.eql([1002]);
    (await h.call("GET", "/rest/asset/v1/programs.json?offset=5")).body.warnings.should.eql([
      "No assets found for the given search criteria.",
    ]);
    errorOf(await h.call("GET", "/rest/asset/v1/programs.json?maxReturn=201")).code.should.equal("1003");
    (await h.call("GET", "/rest/asset/v1/channels.json")).body.result
      .map((c: { name: string }) => c.name)
      .should.eql(["Kaltura Event", "Webinar"]);
  });

  it("requires name on byName lookups (701)", async () => {
    errorOf(await h.call("GET", "/rest/asset/v1/program/byName.json")).should.eql({
      code: "701",
      message: "name cannot be blank",
    });
  });

  it("declares the permissions of every route", () => {
    h.route("GET", "/rest/asset/v1/program/1001.json").permissions.should.eql([
      "Read-Only Assets",
      "Read-Write Assets",
    ]);
    h.route("GET", "/rest/asset/v1/channels.json").permissions.should.eql(["Read-Only Assets", "Read-Write Assets"]);
    h.route("GET", "/rest/asset/v1/program/byName.json").family.should.equal("asset");
    h.route("POST", "/rest/v1/programs/1001/members/status.json").permissions.should.eql(["Read-Write Person"]);
    h.route("POST", "/rest/v1/leads/programs/1001/status.json").permissions.should.eql(["Read-Write Person"]);
    h.route("POST", "/rest/v1/programs/1001/members/delete.json").permissions.should.eql(["Read-Write Person"]);
    h.route("GET", "/rest/v1/programs/1001/members.json").permissions.should.eql([
      "Read-Only Person",
      "Read-Write Person",
    ]);
  });

  it("is empty without seed", async () => {
    const bare = harness({ seed: { enabled: false } });
    (await bare.call("GET", "/rest/asset/v1/programs.json")).body.should.not.have.property("result");
    bare.reset();
  });
});

describe("emulator domains: program member status", () => {
  let h: Harness;
  let ann: number;
  let bob: number;
  const setStatus = (statusName: string, leadIds: unknown[], programId = 1001) =>
    h.call("POST", `/rest/v1/programs/${programId}/members/status.json`, {
      body: { statusName, input: leadIds.map((leadId) => ({ leadId })) },
    });

  beforeEach(() => {
    h = harness();
    ann = h.lead("ann@example.com");
    bob = h.lead("bob@example.com");
  });
  afterEach(() => h.reset());

  it("creates membership, then updates it forward, with seq and leadId", async () => {
    (await setStatus("Registered", [ann])).body.should.eql({
      success: true,
      result: [{ seq: 0, status: "created", leadId: ann }],
    });
    (await setStatus("Attended", [ann, bob])).body.should.eql({
      success: true,
      result: [
        { seq: 0, status: "updated", leadId: ann },
        { seq: 1, status: "created", leadId: bob },
      ],
    });
    const members = (h.module("programs").snapshot() as { programMembers: Array<Record<string, unknown>> })
      .programMembers;
    members
      .map(({ leadId, status, step, success, reachedSuccess }) => ({ leadId, status, step, success, reachedSuccess }))
      .should.eql([
        { leadId: ann, status: "Attended", step: 50, success: true, reachedSuccess: true },
        { leadId: bob, status: "Attended", step: 50, success: true, reachedSuccess: true },
      ]);
    members[0].should.have.keys(
      "programId",
      "leadId",
      "status",
      "step",
      "success",
      "reachedSuccess",
      "membershipDate",
      "updatedAt",
    );
  });

  it("skips a lower or equal step with 1037, including a same-step sibling status", async () => {
    await setStatus("Confirmed", [ann]);
    const reason = [{ code: "1037", message: "Lead skipped because it is already in or past this status" }];
    (await setStatus("Registered", [ann])).body.result.should.eql([{ seq: 0, status: "skipped", reasons: reason }]);
    (await setStatus("Confirmed", [ann])).body.result.should.eql([{ seq: 0, status: "skipped", reasons: reason }]);
    (await setStatus("autoConfirmed", [ann])).body.result.should.eql([{ seq: 0, status: "skipped", reasons: reason }]);
    (await setStatus("Un-registered", [ann])).body.result[0].status.should.equal("updated");
  });

  it("skips every record with 1025 naming the status and the channel when the status is not in the channel", async () => {
    const a = await setStatus("Influenced", [ann, bob]);
    a.body.result.should.eql([
      {
        seq: 0,
        status: "skipped",
        reasons: [{ code: "1025", message: "Program status 'Influenced' not found for channel 'Kaltura Event'" }],
      },
      {
        seq: 1,
        status: "skipped",
        reasons: [{ code: "1025", message: "Program status 'Influenced' not found for channel 'Kaltura Event'" }],
      },
    ]);
    // The Webinar channel has no "Confirmed" status.
    (await setStatus("Confirmed", [ann], 1002)).body.result[0].reasons[0].code.should.equal("1025");
  });

  it("refuses 'Not in Program' per record with 1003", async () => {
    const r = (await setStatus("Not in Program", [ann])).body.result[0];
    r.status.should.equal("skipped");
    r.reasons[0].code.should.equal("1003");
  });

  it("answers 1013 for an unknown program and 701 for a blank statusName", async () => {
    errorOf(await setStatus("Registered", [ann], 4242)).code.should.equal("1013");
    errorOf(await setStatus("  ", [ann])).should.eql({ code: "701", message: "statusName cannot be blank" });
    errorOf(
      await h.call("POST", "/rest/v1/programs/1001/members/status.json", { body: { statusName: "Registered" } }),
    ).code.should.equal("701");
  });

  it("skips unknown leads with 1004 and a repeated lead with 1036", async () => {
    const a = await setStatus("Registered", [999999, ann, ann]);
    a.body.result.should.eql([
      { seq: 0, status: "skipped", reasons: [{ code: "1004", message: "Lead not found" }] },
      { seq: 1, status: "created", leadId: ann },
      { seq: 2, status: "skipped", reasons: [{ code: "1036", message: "Duplicate lead in input" }] },
    ]);
  });

  it("records a Change Status in Progression activity per change", async () => {
    await setStatus("Registered", [ann]);
    await setStatus("Attended", [ann]);
    await setStatus("Registered", [ann]); // skipped: no activity
    const acts = (h.module("activities").snapshot() as { activities: Array<Record<string, any>> }).activities.filter(
      (x) => x.activityTypeId === 104,
    );
    acts.length.should.equal(2);
    acts[1].should.containDeep({
      leadId: ann,
      primaryAttributeValueId: 1001,
      primaryAttributeValue: "Kaltura Virtual Summit",
    });
    const attrs = Object.fromEntries(
      acts[1].attributes.map((x: { name: string; value: unknown }) => [x.name, x.value]),
    );
    attrs.should.containDeep({ "New Status": "Attended", "Old Status": "Registered", Success: true });
  });

  describe("legacy Change Lead Program Status", () => {
    const legacy = (status: string | undefined, ids: unknown[], programId = 1001) =>
      h.call("POST", `/rest/v1/leads/programs/${programId}/status.json`, {
        body: { status, input: ids.map((id) => ({ id })) },
      });

    it("changes existing members only: non-member 1013, unknown lead 1004", async () => {
      await setStatus("Registered", [ann]);
      (await legacy("Attended", [ann, bob, 999999])).body.should.eql({
        success: true,
        result: [
          { id: ann, status: "updated" },
          { id: bob, status: "skipped", reasons: [{ code: "1013", message: "Membership not found" }] },
          { id: 999999, status: "skipped", reasons: [{ code: "1004", message: "Lead not found" }] },
        ],
      });
      (await legacy("Registered", [ann])).body.result[0].reasons[0].code.should.equal("1037");
      (await legacy("Nope", [ann])).body.result[0].reasons[0].code.should.equal("1025");
    });

    it("uses `status`, not `statusName` (701 when blank), and 1013 for an unknown program", async () => {
      errorOf(
        await h.call("POST", "/rest/v1/leads/programs/1001/status.json", {
          body: { statusName: "Attended", input: [{ id: ann }] },
        }),
      ).should.eql({
        code: "701",
        message: "status cannot be blank",
      });
      errorOf(await legacy("Attended", [ann], 5)).code.should.equal("1013");
    });
  });

  describe("members query and delete", () => {
    beforeEach(async () => {
      await setStatus("Registered", [ann]);
      await setStatus("Attended", [bob]);
    });

    it("filters by leadId and statusName", async () => {
      const byLead = await h.call(
        "GET",
        `/rest/v1/programs/1001/members.json?filterType=leadId&filterValues=${ann},${bob}`,
      );
      byLead.body.success.should.be.true();
      byLead.body.moreResult.should.be.false();
      byLead.body.result.map((m: { leadId: number }) => m.leadId).should.eql([ann, bob]);
      byLead.body.result[0].should.eql({
        seq: 0,
        leadId: ann,
        reachedSuccess: true,
        programId: 1001,
        acquiredBy: true,
        membershipDate: "2026-03-02T10:00:00Z",
      });
      const named = await h.call(
        "GET",
        `/rest/v1/programs/1001/members.json?filterType=leadId&filterValues=${ann},${bob}&fields=statusName`,
      );
      named.body.result
        .map((m: { leadId: number; statusName: string }) => [m.leadId, m.statusName])
        .should.eql([
          [ann, "Registered"],
          [bob, "Attended"],
        ]);
      const byStatus = await h.call(
        "GET",
        "/rest/v1/programs/1001/members.json?filterType=statusName&filterValues=Attended&fields=statusName",
      );
      byStatus.body.result.should.eql([{ seq: 0, leadId: bob, statusName: "Attended" }]);
    });

    it("pages with batchSize and nextPageToken", async () => {
      const first = await h.call(
        "GET",
        `/rest/v1/programs/1001/members.json?filterType=leadId&filterValues=${ann},${bob}&batchSize=1`,
      );
      first.body.moreResult.should.be.true();
      first.body.result.length.should.equal(1);
      const second = await h.call(
        "GET",
        `/rest/v1/programs/1001/members.json?filterType=leadId&filterValues=${ann},${bob}&batchSize=1&nextPageToken=${encodeURIComponent(first.body.nextPageToken)}`,
      );
      second.body.result[0].leadId.should.equal(bob);
      second.body.moreResult.should.be.false();
      should(second.body.nextPageToken).be.undefined();
    });

    it("validates the query parameters", async () => {
      errorOf(await h.call("GET", "/rest/v1/programs/1001/members.json?filterValues=1")).code.should.equal("701");
      errorOf(await h.call("GET", "/rest/v1/programs/1001/members.json?filterType=leadId")).code.should.equal("701");
      errorOf(
        await h.call("GET", "/rest/v1/programs/1001/members.json?filterType=color&filterValues=1"),
      ).code.should.equal("1003");
      errorOf(
        await h.call("GET", "/rest/v1/programs/77/members.json?filterType=leadId&filterValues=1"),
      ).code.should.equal("1013");
    });

    it("refuses with 1003 a member query that matches more members than Marketo reads at once", async () => {
      h.limits.maxMembersQueried = 1;
      const both = await h.call(
        "GET",
        "/rest/v1/programs/1001/members.json?filterType=statusName&filterValues=Registered,Attended",
      );
      errorOf(both).code.should.equal("1003");
      errorOf(both).message.should.match(/matches 2 program members; at most 1/);
      const one = await h.call(
        "GET",
        "/rest/v1/programs/1001/members.json?filterType=statusName&filterValues=Attended",
      );
      one.body.result.should.have.length(1);
    });

    it("deletes members; a non-member is skipped 1037", async () => {
      const a = await h.call("POST", "/rest/v1/programs/1001/members/delete.json", {
        body: { input: [{ leadId: ann }, { leadId: ann }, { leadId: 999999 }] },
      });
      a.body.result.should.eql([
        { seq: 0, leadId: ann, status: "deleted" },
        { seq: 1, status: "skipped", reasons: [{ code: "1037", message: "Lead not in program" }] },
        { seq: 2, status: "skipped", reasons: [{ code: "1004", message: "Lead not found" }] },
      ]);
      // Deleted members start over: the next status creates membership again.
      (await setStatus("Invited", [ann])).body.result[0].status.should.equal("created");
    });
  });
});
