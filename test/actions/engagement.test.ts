/**
 * marketo-custom-activity's pure logic: the Kaltura preset, custom field lists, coercion, what
 * describe answers mean, the missing-fields report, and the records built from an engagement.
 */
import fs from "node:fs";
import path from "node:path";
import should from "should";
import {
  activityDate,
  activityShape,
  buildActivity,
  buildCustomObject,
  coerceValue,
  customObjectShape,
  engagementDate,
  engagementFields,
  engagementOf,
  missingFieldsText,
  planFields,
  settingsProblems,
  KALTURA_ENGAGEMENT_FIELDS,
  type Plan,
  type TargetShape,
} from "../../src/lib/actions/engagement";
import { seedActivityTypes, seedCustomObjectTypes, ENGAGEMENT_ACTIVITY_TYPE_ID } from "../../src/emulator/seed";

/** What the emulator's describe answers for the seeded types (the same shape Marketo sends). */
function describedActivity(): Record<string, unknown> {
  const t = seedActivityTypes().find((x) => x.id === ENGAGEMENT_ACTIVITY_TYPE_ID)!;
  return {
    id: t.id,
    apiName: t.apiName,
    name: t.name,
    status: t.status,
    primaryAttribute: t.primaryAttribute,
    attributes: t.attributes,
  };
}
function describedObject(): Record<string, unknown> {
  const t = seedCustomObjectTypes({ enabled: true })[0];
  return { name: t.name, dedupeFields: t.dedupeFields, fields: t.fields };
}
function activityPlan(): Plan {
  const s = activityShape(describedActivity(), "userSessionEngagement");
  if (!s.ok) throw new Error(s.message);
  return planFields(KALTURA_ENGAGEMENT_FIELDS, s.shape);
}
function objectPlan(): Plan {
  const s = customObjectShape(describedObject(), "kalturaUserSessionEngagement", "personId");
  if (!s.ok) throw new Error(s.message);
  return planFields(KALTURA_ENGAGEMENT_FIELDS, s.shape);
}

describe("lib/engagement", () => {
  describe("presets", () => {
    it("holds the Kaltura guide's fields with their types, typos read as float, no personId", () => {
      const byName = Object.fromEntries(KALTURA_ENGAGEMENT_FIELDS.map((f) => [f.name, f.type]));
      byName.should.have.size(30);
      byName.plays.should.equal("integer");
      byName.high_live_engagement_rate.should.equal("float");
      byName.combined_live_engaged_users_play_time_ratio.should.equal("float");
      byName.mic_on.should.equal("float");
      byName.raise_hand.should.equal("integer");
      byName.channel_id.should.equal("integer");
      should(byName.personId).be.undefined();
      for (const n of ["no", "low", "fair", "good", "high"])
        byName.should.have.property(`${n}_live_engagement_rate`, "float");
      for (const n of ["clap", "heart", "think", "wow", "smile"])
        byName.should.have.property(`${n}_clicked_count`, "integer");
    });

    it("the editor's copy of the Kaltura list is the same list", () => {
      const html = fs.readFileSync(path.join(__dirname, "..", "..", "nodes", "marketo-custom-activity.html"), "utf8");
      const block = /var KALTURA_FIELDS = \[([\s\S]*?)\];/.exec(html)![1];
      const inHtml = [...block.matchAll(/name: "([^"]+)", type: "([^"]+)"/g)].map((m) => ({ name: m[1], type: m[2] }));
      inHtml.should.eql(KALTURA_ENGAGEMENT_FIELDS.map((f) => ({ ...f })));
    });

    it("checks custom lists: names, types, duplicates, emptiness; unknown presets", () => {
      engagementFields("kaltura", undefined).fields.should.have.length(30);
      // The guide's custom activity table: entry_id and the fields up to the reaction counts.
      const activity = engagementFields("kaltura", undefined, "activity").fields.map((f) => f.name);
      activity.should.have.length(20);
      activity
        .slice(-6)
        .should.eql([
          "high_live_engagement_rate",
          "clap_clicked_count",
          "heart_clicked_count",
          "think_clicked_count",
          "wow_clicked_count",
          "smile_clicked_count",
        ]);
      engagementFields(undefined, undefined).problems.should.be.empty();
      const ok = engagementFields("custom", [
        { name: "plays", type: "Integer" },
        { name: "note", type: "text" },
      ]);
      ok.problems.should.be.empty();
      ok.fields.should.eql([
        { name: "plays", type: "integer" },
        { name: "note", type: "text" },
      ]);
      engagementFields("custom", []).problems.should.eql(["the custom preset has no fields"]);
      const bad = engagementFields("custom", [
        { name: "1x", type: "string" },
        { name: "a", type: "itoat" },
        { name: "b", type: "float" },
        { name: "b", type: "float" },
        { name: "__proto__", type: "string" },
      ]);
      bad.problems.should.have.length(4);
      bad.problems
        .join("|")
        .should.match(
          /field 1: "1x" is not a Marketo API name\|field a: unknown type "itoat"\|field b is listed twice\|field 5/,
        );
      engagementFields("certain", undefined).problems[0].should.match(/unknown preset/);
    });
  });

  describe("coerceValue", () => {
    it("converts to the declared type", () => {
      coerceValue("plays", "integer", "3").should.eql({ ok: true, value: 3 });
      coerceValue("plays", "integer", 4).should.eql({ ok: true, value: 4 });
      coerceValue("plays", "integer", "5.0").should.eql({ ok: true, value: 5 });
      coerceValue("mic_on", "float", "2.5").should.eql({ ok: true, value: 2.5 });
      coerceValue("mic_on", "float", 1e3).should.eql({ ok: true, value: 1000 });
      coerceValue("user", "string", 42).should.eql({ ok: true, value: "42" });
      coerceValue("user", "string", "").should.eql({ ok: true, value: "" });
      coerceValue("flag", "boolean", "yes").should.eql({ ok: true, value: true });
      coerceValue("flag", "boolean", 0).should.eql({ ok: true, value: false });
      coerceValue("day", "date", "2026-03-01").should.eql({ ok: true, value: "2026-03-01" });
      coerceValue("day", "date", "2026-03-01T22:00:00Z").should.eql({ ok: true, value: "2026-03-01" });
      coerceValue("at", "datetime", 1_700_000_000).should.eql({ ok: true, value: "2023-11-14T22:13:20.000Z" });
      coerceValue("mail", "email", " a@b.co ").should.eql({ ok: true, value: "a@b.co" });
      coerceValue("x", "somethingNew", "kept").should.eql({ ok: true, value: "kept" });
    });

    it("leaves absent values out", () => {
      for (const type of ["integer", "float", "boolean", "date", "datetime", "email"]) {
        coerceValue("f", type, "").should.eql({ ok: true, value: undefined });
        coerceValue("f", type, null).should.eql({ ok: true, value: undefined });
      }
      coerceValue("f", "string", undefined).should.eql({ ok: true, value: undefined });
    });

    it("fails values that do not fit, naming the field and the value", () => {
      coerceValue("plays", "integer", "abc").should.eql({ ok: false, message: 'plays: "abc" is not a whole number' });
      coerceValue("plays", "integer", 2.5).should.eql({ ok: false, message: "plays: 2.5 is not a whole number" });
      coerceValue("plays", "integer", true).should.eql({ ok: false, message: "plays: true is not a whole number" });
      coerceValue("mic_on", "float", "1,5").should.eql({ ok: false, message: 'mic_on: "1,5" is not a number' });
      coerceValue("mic_on", "float", Number.NaN).should.have.property("ok", false);
      coerceValue("user", "string", { a: 1 }).should.eql({ ok: false, message: 'user: {"a":1} is not text' });
      coerceValue("user", "string", "x".repeat(256)).should.eql({
        ok: false,
        message: "user: 256 characters, at most 255",
      });
      coerceValue("flag", "boolean", "maybe").should.have.property("ok", false);
      coerceValue("day", "date", "2026-02-30").should.have.property("ok", false);
      coerceValue("mail", "email", "nope").should.have.property("ok", false);
      const long = coerceValue("plays", "integer", "y".repeat(500));
      long.should.have.property("ok", false);
      (long as { message: string }).message.length.should.be.below(70);
    });
  });

  describe("activity dates", () => {
    it("uses the engagement's activityDate, else timestamp, else now; fails a non-date", () => {
      should(engagementDate({ activityDate: "2026-01-02T03:04:05Z", timestamp: 1 })).equal("2026-01-02T03:04:05Z");
      should(engagementDate({ activityDate: "", timestamp: 1_700_000_000 })).equal(1_700_000_000);
      should(engagementDate({})).be.undefined();
      activityDate(undefined, Date.UTC(2026, 0, 1)).should.eql({ ok: true, value: "2026-01-01T00:00:00.000Z" });
      activityDate(1_700_000_000_000, 0).should.eql({ ok: true, value: "2023-11-14T22:13:20.000Z" });
      activityDate("1700000000", 0).should.eql({ ok: true, value: "2023-11-14T22:13:20.000Z" });
      activityDate("yesterday-ish", 0).should.eql({
        ok: false,
        message: 'activity date: "yesterday-ish" is not a date',
      });
    });
  });

  describe("describe answers", () => {
    it("reads the activity type's id, primary attribute and attributes", () => {
      const s = activityShape(describedActivity(), "userSessionEngagement");
      s.ok.should.be.true();
      const shape = (s as { shape: TargetShape }).shape;
      shape.typeId!.should.equal(100001);
      shape.primary!.name.should.equal("entry_id");
      shape.fields
        .map((f) => f.name)
        .should.containEql("plays")
        .and.not.containEql("entry_id");
    });

    it("refuses an unknown, id-less or unapproved activity type", () => {
      activityShape(undefined, "nope").should.eql({ ok: false, message: "Marketo has no custom activity type nope" });
      activityShape({ apiName: "x" }, "x").should.have.property("ok", false);
      const draft = activityShape({ ...describedActivity(), status: "draft" }, "userSessionEngagement");
      draft.should.have.property("ok", false);
      (draft as { message: string }).message.should.match(/is draft, not approved/);
      activityShape(
        { ...describedActivity(), status: "approved with draft" },
        "userSessionEngagement",
      ).ok.should.be.true();
    });

    it("reads the custom object's updateable fields, dedupe fields and link field", () => {
      const s = customObjectShape(describedObject(), "kalturaUserSessionEngagement", "personId");
      s.ok.should.be.true();
      const shape = (s as { shape: TargetShape }).shape;
      shape.dedupeFields!.should.eql(["entry_id", "personId"]);
      const names = shape.fields.map((f) => f.name);
      names.should
        .containEql("plays")
        .and.not.containEql("marketoGUID")
        .and.not.containEql("personId")
        .and.not.containEql("createdAt");
      customObjectShape(describedObject(), "kalturaUserSessionEngagement", "leadId").should.eql({
        ok: false,
        message: "the custom object kalturaUserSessionEngagement has no field leadId to link it to the lead",
      });
    });
  });

  describe("planFields and the missing-fields report", () => {
    it("sends what the activity type defines and names the rest once", () => {
      const plan = activityPlan();
      plan.defined.should.equal(20);
      plan.missing.should.eql([
        "answered_polls",
        "messages_sent_group",
        "qna_threads",
        "combined_live_engaged_users_play_time_ratio",
        "download_attachment",
        "add_to_calendar",
        "mic_on",
        "cam_on",
        "total_reactions_activity",
        "raise_hand",
      ]);
      missingFieldsText(plan)!.should.equal(
        `sent only the 20 fields that userSessionEngagement defines; missing: ${plan.missing.join(", ")}`,
      );
    });

    it("takes Marketo's type over the preset's, matches display names, and says nothing when all are there", () => {
      const shape: TargetShape = {
        target: "activity",
        apiName: "t",
        typeId: 7,
        primary: { name: "entry_id", dataType: "string" },
        fields: [
          { name: "plays", dataType: "string" },
          { name: "score_x", alias: "Mic On", dataType: "" },
        ],
      };
      const plan = planFields(
        [
          { name: "entry_id", type: "string" },
          { name: "plays", type: "integer" },
          { name: "Mic On", type: "float" },
        ],
        shape,
      );
      plan.fields.should.eql([
        { source: "plays", name: "plays", dataType: "string" },
        { source: "Mic On", name: "score_x", dataType: "float" },
      ]);
      should(missingFieldsText(plan)).be.undefined();
    });

    it("custom objects: the link field is not missing, dedupe fields are always read", () => {
      const plan = objectPlan();
      plan.missing.should.eql([]);
      plan.defined.should.equal(30);
      should(missingFieldsText(plan)).be.undefined();
      const s = customObjectShape(describedObject(), "kalturaUserSessionEngagement", "personId");
      const few = planFields([{ name: "plays", type: "integer" }], (s as { shape: TargetShape }).shape);
      few.fields.map((f) => f.name).should.eql(["plays", "entry_id"]);
    });
  });

  describe("records", () => {
    it("builds an activity with coerced attributes by API name and the primary attribute", () => {
      const r = buildActivity(
        activityPlan(),
        { entry_id: "1_abc", plays: "2", live_minutes_viewed: "41.5", user: 7, mic_on: 3, unknown: 1, email: null },
        { leadId: 5, activityDate: "2026-01-01T00:00:00.000Z" },
      );
      r.should.eql({
        ok: true,
        record: {
          leadId: 5,
          activityDate: "2026-01-01T00:00:00.000Z",
          activityTypeId: 100001,
          primaryAttributeValue: "1_abc",
          attributes: [
            { apiName: "user", value: "7" },
            { apiName: "plays", value: 2 },
            { apiName: "live_minutes_viewed", value: 41.5 },
          ],
        },
      });
    });

    it("fails an activity without its primary attribute or with values that do not fit", () => {
      buildActivity(activityPlan(), { plays: 1 }, { leadId: 5, activityDate: "x" }).should.eql({
        ok: false,
        message: "the engagement has no entry_id (the primary attribute of userSessionEngagement)",
      });
      buildActivity(
        activityPlan(),
        { entry_id: "e", plays: "abc", channel_id: "c", clap_clicked_count: "x", wow_clicked_count: "y" },
        { leadId: 5, activityDate: "x" },
      ).should.eql({
        ok: false,
        message:
          'channel_id: "c" is not a whole number; plays: "abc" is not a whole number; clap_clicked_count: "x" is not a whole number (and 1 more)',
      });
    });

    it("builds a custom object record linked to the lead, and needs its dedupe fields", () => {
      buildCustomObject(objectPlan(), { entry_id: "1_abc", plays: "2", raise_hand: 1 }, { leadId: 9 }).should.eql({
        ok: true,
        record: { entry_id: "1_abc", plays: 2, raise_hand: 1, personId: 9 },
      });
      buildCustomObject(objectPlan(), { plays: 2 }, { leadId: 9 }).should.eql({
        ok: false,
        message: "the engagement has no entry_id (dedupe field of kalturaUserSessionEngagement)",
      });
    });

    it("says where an engagement was expected when it is not an object", () => {
      engagementOf(undefined, "msg.payload.engagement").should.eql({
        ok: false,
        message: "no engagement at msg.payload.engagement",
      });
      engagementOf([1], "msg.x").should.eql({ ok: false, message: "the engagement at msg.x is not an object but [1]" });
    });
  });

  it("checks the node's settings", () => {
    settingsProblems({
      target: "activity",
      activityType: "userSessionEngagement",
      customObject: "",
      linkField: "",
    }).should.be.empty();
    settingsProblems({
      target: "customObject",
      activityType: "",
      customObject: "kalturaUserSessionEngagement",
      linkField: "personId",
    }).should.be.empty();
    settingsProblems({ target: "other", activityType: "", customObject: "", linkField: "" })[0].should.match(
      /unknown target/,
    );
    settingsProblems({ target: "activity", activityType: "bad name", customObject: "", linkField: "" })[0].should.match(
      /not an API name/,
    );
    settingsProblems({ target: "customObject", activityType: "", customObject: "co", linkField: "" })[0].should.match(
      /link field/,
    );
  });
});
