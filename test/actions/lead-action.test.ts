/**
 * marketo-lead's pure logic: settings, the campaign/form id a message may override, My Tokens,
 * the record checks of each action.
 */
import should from "should";
import {
  DEFAULT_BULK_THRESHOLD,
  formCookie,
  formFields,
  normaliseTokens,
  parseLeadSettings,
  pickId,
  positiveId,
  syncRecordProblem,
  tokenName,
  visitorData,
} from "../../src/lib/actions/lead-action";

describe("lead-action: settings", () => {
  it("defaults to create-or-update by email with the default bulk threshold", () => {
    const { settings, problems } = parseLeadSettings({});
    problems.should.eql([]);
    settings.should.eql({
      action: "sync",
      syncAction: "createOrUpdate",
      lookupField: "email",
      bulkThreshold: DEFAULT_BULK_THRESHOLD,
      createMissing: false,
      duplicates: "newest",
      campaignAfterSync: false,
    });
  });

  it("reads the editor's strings", () => {
    const { settings, problems } = parseLeadSettings({
      action: "trigger",
      syncAction: "createOnly",
      lookupField: " externalId ",
      partition: "EMEA",
      bulkThreshold: "0",
      campaignId: "2001",
      createMissing: "true",
      formId: 3001,
      programId: " 1001 ",
    });
    problems.should.eql([]);
    settings.should.eql({
      action: "trigger",
      syncAction: "createOnly",
      lookupField: "externalId",
      partitionName: "EMEA",
      bulkThreshold: 0,
      campaignId: 2001,
      createMissing: true,
      formId: 3001,
      programId: 1001,
      duplicates: "newest",
      campaignAfterSync: false,
    });
  });

  it("names every invalid setting", () => {
    const { problems } = parseLeadSettings({
      action: "delete",
      syncAction: "upsert",
      lookupField: "e-mail",
      bulkThreshold: "-3",
      campaignId: "abc",
      formId: "0",
      programId: "1.5",
    });
    problems.should.have.length(7);
    problems
      .join("\n")
      .should.match(/action "delete"/)
      .and.match(/sync action "upsert"/)
      .and.match(/lookup field "e-mail"/);
    problems
      .join("\n")
      .should.match(/bulk threshold "-3"/)
      .and.match(/campaign id "abc"/)
      .and.match(/form id "0"/)
      .and.match(/program id "1.5"/);
  });

  it("positiveId takes whole numbers and digit strings only", () => {
    should(positiveId(7)).equal(7);
    should(positiveId(" 42 ")).equal(42);
    should(positiveId(0)).be.undefined();
    should(positiveId(-1)).be.undefined();
    should(positiveId(1.5)).be.undefined();
    should(positiveId("12a")).be.undefined();
    should(positiveId(null)).be.undefined();
  });
});

describe("lead-action: ids a message overrides", () => {
  it("the message's id wins over the node's", () => {
    pickId("2002", 2001, "campaign id", "msg.campaignId").should.eql({ ok: true, value: 2002 });
    pickId(undefined, 2001, "campaign id", "msg.campaignId").should.eql({ ok: true, value: 2001 });
    pickId("", 2001, "campaign id", "msg.campaignId").should.eql({ ok: true, value: 2001 });
  });

  it("an invalid message id fails, naming the value and where it came from", () => {
    const r = pickId("summit", 2001, "campaign id", "msg.campaignId");
    r.ok.should.be.false();
    if (!r.ok) r.message.should.equal('the campaign id "summit" in msg.campaignId is not a positive whole number');
  });

  it("no id anywhere fails", () => {
    const r = pickId(undefined, undefined, "form id", "msg.formId");
    r.ok.should.be.false();
    if (!r.ok) r.message.should.match(/no form id/);
  });
});

describe("lead-action: sync records", () => {
  it("needs an object with the lookup field", () => {
    should(syncRecordProblem({ email: "a@b.c" }, "email", "createOrUpdate")).be.undefined();
    syncRecordProblem("a@b.c", "email", "createOrUpdate")!.should.match(/must be an object.*"a@b.c"/);
    syncRecordProblem([{ email: "a@b.c" }], "email", "createOrUpdate")!.should.match(/an array/);
    syncRecordProblem({}, "email", "createOrUpdate")!.should.match(/no fields/);
    syncRecordProblem({ firstName: "Ada" }, "email", "updateOnly")!.should.match(/lookup field email/);
    syncRecordProblem({ email: "  " }, "email", "createOnly")!.should.match(/lookup field email/);
  });

  it("createDuplicate needs no lookup value", () => {
    should(syncRecordProblem({ firstName: "Ada" }, "email", "createDuplicate")).be.undefined();
  });
});

describe("lead-action: My Tokens", () => {
  it("normalises names to {{my.name}}", () => {
    should(tokenName("Event Name")).equal("{{my.Event Name}}");
    should(tokenName("my.Event Name")).equal("{{my.Event Name}}");
    should(tokenName("{{my.Event Name}}")).equal("{{my.Event Name}}");
    should(tokenName(" {{ my.city }} ")).equal("{{my.city}}");
    should(tokenName("")).be.undefined();
    should(tokenName("{{my.}}")).be.undefined();
    should(tokenName("a}b")).be.undefined();
    should(tokenName(5)).be.undefined();
  });

  it("takes an object {name: value}, values as text, sorted by name", () => {
    const r = normaliseTokens({
      "Event Name": "Summit",
      seats: 40,
      vip: true,
      day: new Date("2026-12-08T15:00:00Z"),
      note: null,
    });
    r.should.eql({
      ok: true,
      value: [
        { name: "{{my.Event Name}}", value: "Summit" },
        { name: "{{my.day}}", value: "2026-12-08T15:00:00.000Z" },
        { name: "{{my.note}}", value: "" },
        { name: "{{my.seats}}", value: "40" },
        { name: "{{my.vip}}", value: "true" },
      ],
    });
  });

  it("takes an array of {name, value}", () => {
    normaliseTokens([
      { name: "{{my.city}}", value: "Oslo" },
      { name: "country", value: "NO" },
    ]).should.eql({
      ok: true,
      value: [
        { name: "{{my.city}}", value: "Oslo" },
        { name: "{{my.country}}", value: "NO" },
      ],
    });
  });

  it("no tokens is an empty list", () => {
    normaliseTokens(undefined).should.eql({ ok: true, value: [] });
    normaliseTokens(null).should.eql({ ok: true, value: [] });
    normaliseTokens({}).should.eql({ ok: true, value: [] });
  });

  it("refuses what Marketo would refuse, saying why", () => {
    const bad = (raw: unknown): string => {
      const r = normaliseTokens(raw, "msg.tokens");
      r.ok.should.be.false();
      return r.ok ? "" : r.message;
    };
    bad("city=Oslo").should.match(/^msg.tokens must be an object/);
    bad([{ value: "x" }]).should.match(/item 0 is not a \{name, value\}/);
    bad([{ name: "", value: "x" }]).should.match(/"" is not a My Token name/);
    bad({ city: { name: "Oslo" } }).should.match(/value of \{\{my.city\}\} is a object/);
    bad({ city: [1] }).should.match(/value of \{\{my.city\}\} is an array/);
    bad([
      { name: "city", value: "a" },
      { name: "{{my.city}}", value: "b" },
    ]).should.match(/\{\{my.city\}\} is given twice/);
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`t${i}`, String(i)]));
    bad(many).should.match(/101 tokens, Marketo takes at most 100/);
    const hundred = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`t${i}`, String(i)]));
    normaliseTokens(hundred).ok.should.be.true();
  });
});

describe("lead-action: form post", () => {
  it("needs an object with an email address; trims it and drops undefined fields", () => {
    formFields({ email: " ada@example.com ", firstName: "Ada", title: undefined }).should.eql({
      ok: true,
      value: { email: "ada@example.com", firstName: "Ada" },
    });
    const noEmail = formFields({ firstName: "Ada" });
    noEmail.ok.should.be.false();
    if (!noEmail.ok) noEmail.message.should.match(/needs the lead's email in msg.payload.email/);
    const badEmail = formFields({ email: "ada" });
    if (!badEmail.ok) badEmail.message.should.match(/"ada" is not an email address/);
    else throw new Error("accepted a bad email");
    formFields("ada@example.com").ok.should.be.false();
  });

  it("visitor data keeps the four keys Marketo knows, whatever their case", () => {
    visitorData({
      pageUrl: "https://x.test/reg",
      queryString: "a=1",
      leadClientIpAddress: "10.0.0.1",
      userAgentString: "UA",
    }).should.eql({
      ok: true,
      value: {
        pageURL: "https://x.test/reg",
        queryString: "a=1",
        leadClientIpAddress: "10.0.0.1",
        userAgentString: "UA",
      },
    });
    visitorData(undefined).should.eql({ ok: true, value: undefined });
    visitorData({ pageURL: "" }).should.eql({ ok: true, value: undefined });
    const unknown = visitorData({ referrer: "x" }, "msg.visitorData");
    if (unknown.ok) throw new Error("accepted an unknown key");
    unknown.message.should.match(/msg.visitorData: "referrer" is not one of pageURL/);
    visitorData("https://x.test").ok.should.be.false();
    visitorData({ pageURL: { href: "x" } }).ok.should.be.false();
  });

  it("the cookie is text", () => {
    formCookie("id:123-ABC-456&token:_mch-x").should.eql({ ok: true, value: "id:123-ABC-456&token:_mch-x" });
    formCookie(undefined).should.eql({ ok: true, value: undefined });
    formCookie(42).ok.should.be.false();
  });
});
