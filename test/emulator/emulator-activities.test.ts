/**
 * Lead activities as Marketo answers them, so a client can ask "did this arrive?": Get Activity
 * Types with Marketo's ids, Get Paging Token, Get Lead Activities, and the activities the
 * emulator records for custom activities, campaign requests and form fills, also when a fault
 * hides the answer from the client. Sources: Adobe's documentation (AdobeDocs/marketo-developer.en,
 * help/rest-api/activities.md and paging-tokens.md) and, for the ids the documentation does not
 * list, the ids a public client hard-codes (ypiel-talend/components,
 * components/components-marketo/components-marketo-runtime/src/main/java/org/talend/components/
 * marketo/runtime/client/MarketoLeadClient.java, getLocalActivityTypes).
 */
import "should";
import { startEmulator, type EmulatorHandle } from "../../nodes/emulator";
import { errorOf, harness, T0, type Harness } from "./emulator-domains-fixture";
import { call, token } from "./emulator-http";

const ENGAGEMENT = 100001;

function base32Text(token: string): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of token.replace(/=+$/, "")) bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  const bytes: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes).toString("utf8");
}

describe("emulator activities: types, paging token, Get Lead Activities", () => {
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });
  afterEach(() => h.reset());

  // Documented (activities.md, Describe): {"id": 2, "name": "Fill Out Form", "description": "User
  // fills out and submits form on web page", "primaryAttribute": {"name": "Webform ID",
  // "dataType": "integer"}, "attributes": [Client IP Address string, Form Fields text, Query
  // Parameters string, Referrer URL string, User Agent string, Webpage ID integer]}.
  // Hard-coded ids (MarketoLeadClient.java): put(24, "Add to List"), put(25, "Remove from List"),
  // put(47, "Request Campaign"), put(104, "Change Status in Progression").
  it("lists the built-in types with Marketo's ids", async () => {
    const types = (await h.call("GET", "/rest/v1/activities/types.json")).body.result as Array<{
      id: number;
      name: string;
    }>;
    types
      .find((t) => t.id === 2)!
      .should.eql({
        id: 2,
        name: "Fill Out Form",
        description: "User fills out and submits form on web page",
        primaryAttribute: { name: "Webform ID", dataType: "integer" },
        attributes: [
          { name: "Client IP Address", dataType: "string" },
          { name: "Form Fields", dataType: "text" },
          { name: "Query Parameters", dataType: "string" },
          { name: "Referrer URL", dataType: "string" },
          { name: "User Agent", dataType: "string" },
          { name: "Webpage ID", dataType: "integer" },
        ],
      });
    const byId = new Map(types.map((t) => [t.id, t.name]));
    byId.get(24)!.should.equal("Add to List");
    byId.get(25)!.should.equal("Remove from List");
    byId.get(47)!.should.equal("Request Campaign");
    byId.get(104)!.should.equal("Change Status in Progression");
  });

  // Documented (paging-tokens.md): the example token GIYDAOBNGEYS2MBWKQYDAORQGA5DAMBOGAYDAKZQGAYDALBQ
  // is base32 of "2008-11-06T00:00:00.000+0000,0"; the one after a page ending at activity 1078
  // (activities.md) is "GIYDAOBNGEYS2MBWKQYDAORQGA5DAMBOGAYDAKZQGAYDALBRGA3TQ===".
  it("answers Get Paging Token in Marketo's date-based token format", async () => {
    (await h.call("GET", "/rest/v1/activities/pagingtoken.json?sinceDatetime=2008-11-06T00:00:00Z")).body.should.eql({
      success: true,
      nextPageToken: "GIYDAOBNGEYS2MBWKQYDAORQGA5DAMBOGAYDAKZQGAYDALBQ",
    });
    const offset = await h.call(
      "GET",
      `/rest/v1/activities/pagingtoken.json?sinceDatetime=${encodeURIComponent("2014-10-06T13:22:17-08:00")}`,
    );
    base32Text(offset.body.nextPageToken).should.equal("2014-10-06T21:22:17.000+0000,0");
    errorOf(await h.call("GET", "/rest/v1/activities/pagingtoken.json")).should.eql({
      code: "701",
      message: "sinceDatetime cannot be blank",
    });
    errorOf(await h.call("GET", "/rest/v1/activities/pagingtoken.json?sinceDatetime=yesterday")).code.should.equal(
      "704",
    );
  });

  describe("Get Lead Activities", () => {
    let ann: number;
    let bob: number;
    let since: string;
    beforeEach(async () => {
      ann = h.lead("ann@example.com");
      bob = h.lead("bob@example.com");
      since = (
        await h.call(
          "GET",
          `/rest/v1/activities/pagingtoken.json?sinceDatetime=${encodeURIComponent(new Date(T0 - 3_600_000).toISOString())}`,
        )
      ).body.nextPageToken;
      const added = await h.call("POST", "/rest/v1/activities/external.json", {
        body: {
          input: [
            {
              leadId: ann,
              activityDate: new Date(T0 - 60_000).toISOString(),
              activityTypeId: ENGAGEMENT,
              primaryAttributeValue: "1_abc",
              attributes: [{ apiName: "plays", value: 3 }],
            },
            // Dated before the token's time: a date-based token does not reach it.
            {
              leadId: ann,
              activityDate: "2020-01-01T00:00:00Z",
              activityTypeId: ENGAGEMENT,
              primaryAttributeValue: "1_old",
            },
          ],
        },
      });
      added.body.result.map((r: { status: string }) => r.status).should.eql(["added", "added"]);
      await h.call("POST", "/rest/v1/campaigns/2001/trigger.json", { body: { input: { leads: [{ id: bob }] } } });
      await h.call("POST", "/rest/v1/leads/submitForm.json", {
        body: {
          formId: 3001,
          input: [
            {
              leadFormFields: { email: "ann@example.com", firstName: "Ann" },
              visitorData: { pageURL: "https://example.com/lp" },
            },
          ],
        },
      });
    });

    const activities = (query: string) => h.call("GET", `/rest/v1/activities.json?${query}`);

    // Documented (activities.md, Query): result items carry id, marketoGUID, leadId,
    // activityDate, activityTypeId, primaryAttributeValueId, primaryAttributeValue and
    // attributes [{name, value}]; the answer carries nextPageToken and moreResult.
    it("answers custom activities, campaign requests and form fills in Marketo's shape", async () => {
      const a = await activities(`nextPageToken=${since}&activityTypeIds=${ENGAGEMENT},47,2`);
      a.body.success.should.be.true();
      a.body.moreResult.should.be.false();
      a.body.nextPageToken.should.match(/^[A-Z2-7]+=*$/);
      const [custom, request, form] = a.body.result;
      custom.should.eql({
        id: custom.id,
        marketoGUID: String(custom.id),
        leadId: ann,
        activityDate: "2026-03-02T09:59:00Z",
        activityTypeId: ENGAGEMENT,
        primaryAttributeValue: "1_abc",
        attributes: [{ name: "Plays", value: 3 }],
      });
      request.should.containDeep({
        leadId: bob,
        activityTypeId: 47,
        primaryAttributeValueId: 2001,
        primaryAttributeValue: "Registration confirmation",
      });
      form.should.containDeep({
        leadId: ann,
        activityTypeId: 2,
        primaryAttributeValueId: 3001,
        primaryAttributeValue: "Event registration form",
      });
      form.attributes.should.containDeep([{ name: "Referrer URL", value: "https://example.com/lp" }]);
      a.body.result.length.should.equal(3);
    });

    it("filters by activity type and lead ids, and pages with moreResult and nextPageToken", async () => {
      (await activities(`nextPageToken=${since}&activityTypeIds=47`)).body.result
        .map((r: { leadId: number }) => r.leadId)
        .should.eql([bob]);
      (
        await activities(`nextPageToken=${since}&activityTypeIds=${ENGAGEMENT}&activityTypeIds=47&leadIds=${bob}`)
      ).body.result.length.should.equal(1);
      const first = await activities(`nextPageToken=${since}&activityTypeIds=${ENGAGEMENT},47,2&batchSize=2`);
      first.body.result.length.should.equal(2);
      first.body.moreResult.should.be.true();
      base32Text(first.body.nextPageToken).should.equal(`2026-03-02T09:00:00.000+0000,${first.body.result[1].id}`);
      const second = await activities(
        `nextPageToken=${encodeURIComponent(first.body.nextPageToken)}&activityTypeIds=${ENGAGEMENT},47,2&batchSize=2`,
      );
      second.body.result.map((r: { activityTypeId: number }) => r.activityTypeId).should.eql([2]);
      second.body.moreResult.should.be.false();
      // The last token waits for what arrives next.
      await h.call("POST", "/rest/v1/campaigns/2001/trigger.json", { body: { input: { leads: [{ id: ann }] } } });
      const third = await activities(
        `nextPageToken=${encodeURIComponent(second.body.nextPageToken)}&activityTypeIds=47`,
      );
      third.body.result.map((r: { leadId: number }) => r.leadId).should.eql([ann]);
    });

    it("limits a static list's members, and refuses bad parameters", async () => {
      await h.call("POST", `/rest/v1/lists/4001/leads.json?id=${bob}`);
      (await activities(`nextPageToken=${since}&activityTypeIds=47,2&listId=4001`)).body.result
        .map((r: { activityTypeId: number }) => r.activityTypeId)
        .should.eql([47]);
      errorOf(await activities(`nextPageToken=${since}&activityTypeIds=2&listId=999`)).code.should.equal("1013");
      errorOf(await activities("activityTypeIds=2")).should.eql({
        code: "701",
        message: "nextPageToken cannot be blank",
      });
      errorOf(await activities(`nextPageToken=${since}`)).should.eql({
        code: "701",
        message: "activityTypeIds cannot be blank",
      });
      errorOf(await activities(`nextPageToken=${since}&activityTypeIds=1,2,3,4,5,6,7,8,9,10,11`)).code.should.equal(
        "1003",
      );
      const ids = Array.from({ length: 31 }, (_, i) => i + 1).join(",");
      errorOf(await activities(`nextPageToken=${since}&activityTypeIds=2&leadIds=${ids}`)).code.should.equal("1003");
      errorOf(await activities("nextPageToken=NOTATOKEN&activityTypeIds=2")).code.should.equal("1003");
    });
  });
});

describe("emulator activities: a write hidden by a fault still arrives (--apply-before-failure)", () => {
  let emu: EmulatorHandle;
  let tok: string;
  afterEach(() => emu.stop());

  async function writeEach(): Promise<string[]> {
    const lead = (
      await call(emu, "/rest/v1/leads.json", { token: tok, json: { input: [{ email: "ann@example.com" }] } })
    ).json.result[0].id;
    emu.setFaults({ rate: 1, codes: ["604"] });
    const answers = [
      await call(emu, "/rest/v1/activities/external.json", {
        token: tok,
        json: {
          input: [
            {
              leadId: lead,
              activityDate: "2026-03-02T09:59:00Z",
              activityTypeId: ENGAGEMENT,
              primaryAttributeValue: "1_abc",
            },
          ],
        },
      }),
      await call(emu, "/rest/v1/campaigns/2001/trigger.json", {
        token: tok,
        json: { input: { leads: [{ id: lead }] } },
      }),
      await call(emu, "/rest/v1/leads/submitForm.json", {
        token: tok,
        json: { formId: 3001, input: [{ leadFormFields: { email: "ann@example.com" } }] },
      }),
    ];
    emu.setFaults({ rate: 0 });
    return answers.map((a) => a.json.errors[0].code as string);
  }

  async function arrived(): Promise<number[]> {
    const since = (
      await call(emu, "/rest/v1/activities/pagingtoken.json?sinceDatetime=2026-03-02T00:00:00Z", { token: tok })
    ).json.nextPageToken;
    const a = await call(
      emu,
      `/rest/v1/activities.json?nextPageToken=${encodeURIComponent(since)}&activityTypeIds=${ENGAGEMENT},47,2`,
      { token: tok },
    );
    return a.json.result.map((r: { activityTypeId: number }) => r.activityTypeId);
  }

  it("records the custom activity, the campaign request and the form fill although each call answered 604", async () => {
    emu = await startEmulator({ port: 0, now: () => T0, faults: { applyBeforeFailure: true } });
    tok = await token(emu);
    (await writeEach()).should.eql(["604", "604", "604"]);
    (await arrived()).should.eql([ENGAGEMENT, 47, 2]);
  });

  it("records none of them when the fault comes before the write", async () => {
    emu = await startEmulator({ port: 0, now: () => T0 });
    tok = await token(emu);
    (await writeEach()).should.eql(["604", "604", "604"]);
    (await arrived()).should.eql([]);
  });
});
