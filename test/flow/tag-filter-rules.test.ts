/**
 * tag-filter logic without a runtime: sources, live/test, activate-for (any/all, per object,
 * status-change sources), filter operators, deploy-time compilation errors and bad input.
 * Runs against the built lib (nodes/lib), i.e. what ships.
 */
import should from "should";
import {
  compileTagFilter,
  parseTags,
  hasValue,
  TagFilterConfigError,
  MAX_LIST,
  MAX_TEXT,
  type TagFilterConfig,
  type FilterRuleConfig,
  type Rejection,
} from "../../nodes/lib/flow/tag-filter";
import { parsePath } from "../../nodes/lib/flow/tag-filter-paths";

type Msg = { topic?: unknown; payload?: unknown; [k: string]: unknown };

const certain = require("../fixtures/certain-events.json") as Msg[];

const kaltura = require("../fixtures/kaltura-events.json") as Msg[];

/** A registration.created message with sensible defaults; `over` is merged per object. */
function reg(
  over: { topic?: string; event?: object; registration?: object; profile?: object; session?: object } = {},
): Msg {
  return {
    topic: over.topic ?? "registration.created",
    payload: {
      event: {
        id: 1,
        code: "KVS26",
        name: "Summit",
        tags: ["marketo"],
        test: false,
        startDate: "2026-12-08T15:00:00Z",
        ...over.event,
      },
      registration: {
        code: "R-1",
        status: "Registered",
        statusTags: ["registered"],
        attendeeType: "Attendee",
        attendeeTypeTags: ["external"],
        test: false,
        ...over.registration,
      },
      profile: { email: "ada@example.com", firstName: "Ada", lastName: "Lovelace", country: "GB", ...over.profile },
      ...(over.session ? { session: over.session } : {}),
    },
  };
}

function run(config: TagFilterConfig, msg: unknown): Rejection | null {
  return compileTagFilter(config).evaluate(msg);
}

function rejects(config: TagFilterConfig, msg: unknown, rule: string, reason?: RegExp | string): Rejection {
  const r = run(config, msg);
  should.exist(r, "expected a rejection");
  r!.rule.should.equal(rule);
  if (typeof reason === "string") r!.reason.should.equal(reason);
  else if (reason) r!.reason.should.match(reason);
  return r!;
}

function compileError(config: TagFilterConfig): TagFilterConfigError {
  try {
    compileTagFilter(config);
  } catch (e) {
    should(e).be.instanceOf(TagFilterConfigError);
    return e as TagFilterConfigError;
  }
  throw new Error("expected a TagFilterConfigError");
}

const rule = (r: FilterRuleConfig): TagFilterConfig => ({ rules: [r] });

describe("tag-filter lib", () => {
  describe("parseTags / parsePath / hasValue", () => {
    it("splits comma-separated tags, trims, drops empties and case-insensitive duplicates", () => {
      parseTags(" Registered, attended ,,REGISTERED ", "t").should.eql(["Registered", "attended"]);
      parseTags(["a", " b "], "t").should.eql(["a", "b"]);
      parseTags(undefined, "t").should.eql([]);
      (() => parseTags(["a", 3], "t")).should.throw(/only text/);
      (() => parseTags(42, "t")).should.throw(/comma-separated text or a list/);
    });

    it("parses dotted and bracketed paths and refuses forbidden keys", () => {
      parsePath("payload.event", "p").should.eql(["payload", "event"]);
      parsePath('questions["Campaign Id"]', "p").should.eql(["questions", "Campaign Id"]);
      parsePath("tags[0]", "p").should.eql(["tags", 0]);
      (() => parsePath("payload.__proto__", "p")).should.throw(/forbidden key "__proto__"/);
      (() => parsePath("constructor", "p")).should.throw(/forbidden/);
      (() => parsePath("a..b", "p")).should.throw(/empty part/);
      (() => parsePath("a.", "p")).should.throw(/ends with/);
      (() => parsePath("a[x", "p")).should.throw(/unclosed/);
      (() => parsePath("", "p")).should.throw(/empty/);
    });

    it("counts a property as set unless missing, null, false, blank or empty", () => {
      [undefined, null, false, "", "  ", []].forEach((v) => hasValue(v).should.be.false());
      [true, 0, "x", ["a"], {}].forEach((v) => hasValue(v).should.be.true());
    });
  });

  describe("sources", () => {
    it("by default passes registration.created and registration.updated only", () => {
      should(run({}, reg())).be.null();
      should(run({}, reg({ topic: "registration.updated" }))).be.null();
      for (const t of ["event.created", "event.updated", "session.engagement"]) {
        rejects(
          {},
          reg({ topic: t }),
          "source",
          `source ${t} is not enabled; enabled sources: [registration.created, registration.updated]`,
        );
      }
      compileTagFilter({}).sources.should.eql(["registration.created", "registration.updated"]);
    });

    it("maps each checkbox onto its topics", () => {
      compileTagFilter({ srcRegistration: false, srcEvent: true, srcEngagement: true }).sources.should.eql([
        "event.created",
        "event.updated",
        "session.engagement",
      ]);
      compileTagFilter({ srcRegistration: false, srcRegistrationStatus: true, statusTags: "x" }).sources.should.eql([
        "registration.status_changed",
      ]);
      compileTagFilter({ srcRegistration: false, srcSessionStatus: true, sessionStatusTags: "x" }).sources.should.eql([
        "session_registration.status_changed",
      ]);
      rejects(
        { srcRegistration: false, srcEvent: true },
        reg(),
        "source",
        /source registration.created is not enabled; enabled sources: \[event.created, event.updated\]/,
      );
    });

    it("matches topics ignoring case and surrounding spaces", () => {
      should(run({}, reg({ topic: "  Registration.Created " }))).be.null();
    });

    it("rejects unknown, missing and non-text topics with the path named", () => {
      rejects(
        {},
        reg({ topic: "order.placed" }),
        "source",
        'msg.topic "order.placed" is not a known source; enabled sources: [registration.created, registration.updated]',
      );
      rejects({}, { payload: {} }, "source", /^msg\.topic is missing, not a topic/);
      rejects({}, { topic: ["registration.created"], payload: {} }, "source", /^msg\.topic is a list, not a topic/);
      rejects({}, { topic: "x".repeat(MAX_TEXT + 1), payload: {} }, "source", /characters long/);
    });

    it("reads the topic and the payload from configured paths", () => {
      const msg = { meta: { kind: "registration.created" }, data: { evt: reg().payload as object } };
      should(run({ topicProp: "meta.kind", payloadProp: "data.evt" }, msg)).be.null();
      rejects(
        { topicProp: "meta.kind", payloadProp: "data.evt" },
        { meta: {}, data: {} },
        "source",
        /^msg\.meta\.kind is missing/,
      );
      rejects({ payloadProp: "data.evt" }, reg(), "input", "msg.data.evt is missing, not an object");
    });

    it("warns when no source is enabled", () => {
      compileTagFilter({ srcRegistration: false }).warnings.should.containEql(
        "no source is enabled, so nothing will pass",
      );
      compileTagFilter({}).warnings.should.eql([]);
    });
  });

  describe("live / test", () => {
    const testReg = reg({ registration: { test: true } });
    const testEvent = reg({ event: { test: true } });

    it("live drops test registrations and registrations of test events", () => {
      rejects({}, testReg, "live-test", "a live filter drops test data, and msg.payload.registration.test is true");
      rejects(
        { mode: "live" },
        testEvent,
        "live-test",
        "a live filter drops test data, and msg.payload.event.test is true",
      );
      should(run({ mode: "live" }, reg())).be.null();
    });

    it("test passes only test data, test registrations in live events included", () => {
      should(run({ mode: "test" }, testReg)).be.null();
      should(run({ mode: "test" }, testEvent)).be.null();
      rejects(
        { mode: "test" },
        reg(),
        "live-test",
        "a test filter takes only test data, and neither msg.payload.registration.test nor msg.payload.event.test is true",
      );
    });

    it("any does not look", () => {
      should(run({ mode: "any" }, testReg)).be.null();
      should(run({ mode: "any" }, reg({ registration: { test: "maybe" } }))).be.null();
    });

    it("accepts 1/0 and text flags, rejects anything else with the value named", () => {
      rejects({}, reg({ registration: { test: "TRUE" } }), "live-test");
      rejects({}, reg({ registration: { test: 1 } }), "live-test");
      should(run({}, reg({ registration: { test: "false" } }))).be.null();
      should(run({}, reg({ registration: { test: 0 } }))).be.null();
      rejects(
        {},
        reg({ registration: { test: "maybe" } }),
        "live-test",
        'msg.payload.registration.test is "maybe", not true or false',
      );
      rejects(
        {},
        reg({ event: { test: { yes: 1 } } }),
        "live-test",
        "msg.payload.event.test is an object, not true or false",
      );
    });
  });

  describe("activate for", () => {
    it("registration status: any of, ignoring case and spaces", () => {
      should(run({ statusTags: " REGISTERED , attended" }, reg())).be.null();
      rejects(
        { statusTags: "attended" },
        reg(),
        "activate-for:registration-status",
        "registration status tags [registered] match none of [attended]",
      );
    });

    it("registration status: all of, naming what is lacking", () => {
      const cfg: TagFilterConfig = { statusTags: "registered, vip-status", statusMatch: "all" };
      rejects(
        cfg,
        reg(),
        "activate-for:registration-status",
        "registration status tags [registered] lack [vip-status] (all of [registered, vip-status] required)",
      );
      should(run(cfg, reg({ registration: { statusTags: ["VIP-Status", "Registered "] } }))).be.null();
      // The same matcher is reused across messages: a fresh message must start from nothing.
      rejects(
        cfg,
        reg({ registration: { statusTags: ["vip-status"] } }),
        "activate-for:registration-status",
        /lack \[registered\]/,
      );
      const f = compileTagFilter(cfg);
      should(f.evaluate(reg({ registration: { statusTags: ["registered", "vip-status"] } }))).be.null();
      should(f.evaluate(reg({ registration: { statusTags: ["vip-status"] } }))).not.be.null();
    });

    it("attendee type tags", () => {
      should(run({ attendeeTypeTags: "external" }, reg())).be.null();
      rejects(
        { attendeeTypeTags: "vip" },
        reg(),
        "activate-for:attendee-type",
        "attendee type tags [external] match none of [vip]",
      );
      rejects(
        { attendeeTypeTags: "external, vip", attendeeTypeMatch: "all" },
        reg(),
        "activate-for:attendee-type",
        /lack \[vip\]/,
      );
    });

    it("event tags read the event's own tags only, never its status tags", () => {
      should(run({ eventTags: "marketo" }, reg())).be.null();
      rejects(
        { eventTags: "published" },
        reg({ event: { statusTags: ["Published"] } }),
        "activate-for:event",
        "event tags [marketo] match none of [published]",
      );
      rejects(
        { eventTags: "devcon" },
        reg({ event: { statusTags: ["published"] } }),
        "activate-for:event",
        "event tags [marketo] match none of [devcon]",
      );
    });

    it("event status tags activate event create/update only, apart from the event's tags", () => {
      const cfg: TagFilterConfig = { srcEvent: true, eventStatusTags: "published" };
      const ev = (event: object, topic = "event.updated") => ({
        topic,
        payload: { event: { tags: ["marketo"], ...event } },
      });
      should(run(cfg, ev({ statusTags: ["Published"] }))).be.null();
      should(run(cfg, ev({ statusTags: ["published"] }, "event.created"))).be.null();
      rejects(
        cfg,
        ev({ statusTags: ["draft"] }),
        "activate-for:event-status",
        "event status tags [draft] match none of [published]",
      );
      // the event's own tags are not its statuses
      rejects(
        cfg,
        ev({ tags: ["published"], statusTags: [] }),
        "activate-for:event-status",
        "event status tags [] match none of [published]",
      );
      rejects(
        { ...cfg, eventStatusTags: "published, open", eventStatusMatch: "all" },
        ev({ statusTags: ["published"] }),
        "activate-for:event-status",
        /lack \[open\]/,
      );
      // registrations of a draft event are not constrained by event statuses
      should(run(cfg, reg({ event: { statusTags: ["draft"] } }))).be.null();
      // both objects at once: tags, then statuses
      rejects({ ...cfg, eventTags: "devcon" }, ev({ statusTags: ["published"] }), "activate-for:event");
    });

    it("custom properties: only tags of properties that have a value", () => {
      const withProps = (properties: object, propertyTags: object) =>
        reg({ registration: { properties, propertyTags } });
      const cfg: TagFilterConfig = { propertyTags: "Complete" };
      should(run(cfg, withProps({ Complete: true }, { Complete: ["complete"] }))).be.null();
      rejects(
        cfg,
        withProps({ Complete: false }, { Complete: ["Complete"] }),
        "activate-for:property",
        "tags on properties with a value [] match none of [Complete]",
      );
      rejects(cfg, withProps({ Complete: "  " }, { Complete: ["Complete"] }), "activate-for:property");
      rejects(cfg, withProps({}, { Complete: ["Complete"] }), "activate-for:property");
      should(
        run(
          { propertyTags: "marketo" },
          withProps({ jobRole: "Engineering", Complete: true }, { jobRole: ["marketo"], Complete: ["Complete"] }),
        ),
      ).be.null();
      rejects(
        { propertyTags: "marketo, Complete", propertyMatch: "all" },
        withProps({ jobRole: "Engineering" }, { jobRole: ["marketo"], Complete: ["Complete"] }),
        "activate-for:property",
        "tags on properties with a value [marketo] lack [Complete] (all of [marketo, Complete] required)",
      );
      rejects(cfg, reg(), "activate-for:property", /\[\] match none/);
    });

    it("standard properties are their own tags, derived from the properties, with no propertyTags", () => {
      const withProps = (properties: object, registration: object = {}) =>
        reg({ registration: { properties, ...registration } });
      should(run({ propertyTags: "Badge Printed" }, withProps({ "Badge Printed": true }))).be.null();
      should(run({ propertyTags: "badge printed" }, withProps({ badgePrinted: "2026-12-08" }))).be.null();
      should(run({ propertyTags: "On To Do List" }, withProps({ onToDoList: 1 }))).be.null();
      should(
        run(
          { propertyTags: "Invoice Generated, Complete", propertyMatch: "all" },
          withProps({ "Invoice Generated": true, complete: true }),
        ),
      ).be.null();
      rejects(
        { propertyTags: "Badge Printed" },
        withProps({ "Badge Printed": false, Complete: true }),
        "activate-for:property",
        "tags on properties with a value [] match none of [Badge Printed]",
      );
      rejects(
        { propertyTags: "Invoice Generated, Complete", propertyMatch: "all" },
        withProps({ complete: true }),
        "activate-for:property",
        /\[Complete\] lack \[Invoice Generated\]/,
      );
      // Test: the property, or the registration's own test flag
      should(run({ mode: "any", propertyTags: "Test" }, withProps({}, { test: true }))).be.null();
      should(run({ mode: "any", propertyTags: "Test" }, withProps({ Test: "yes" }))).be.null();
      rejects({ mode: "any", propertyTags: "Test" }, withProps({}, { test: false }), "activate-for:property");
      // a custom property named like no standard one needs its tags, as before
      rejects({ propertyTags: "Complete" }, withProps({ completed: true }), "activate-for:property");
    });

    it("session status for session registration status changes", () => {
      const cfg: TagFilterConfig = { srcSessionStatus: true, sessionStatusTags: "attended" };
      const sess = (statusTags: unknown) =>
        reg({ topic: "session_registration.status_changed", session: { id: "s1", status: "Attended", statusTags } });
      should(run(cfg, sess(["Attended"]))).be.null();
      rejects(
        cfg,
        sess(["registered"]),
        "activate-for:session-status",
        "session status tags [registered] match none of [attended]",
      );
      rejects(
        cfg,
        { topic: "session_registration.status_changed", payload: { registration: {} } },
        "activate-for:session-status",
        /^msg\.payload\.session is missing; session status tags must match any of \[attended\]/,
      );
    });

    it("objects without tags do not constrain, and each object applies only to its topics", () => {
      should(run({ statusTags: "", eventTags: " , " }, reg())).be.null();
      const cfg: TagFilterConfig = {
        srcEngagement: true,
        srcEvent: true,
        statusTags: "attended",
        attendeeTypeTags: "vip",
        sessionStatusTags: "x",
        eventStatusTags: "y",
      };
      const engagement = {
        topic: "session.engagement",
        payload: { event: { tags: ["marketo"] }, session: { id: "s" }, engagement: {} },
      };
      should(run(cfg, engagement)).be.null();
      should(run(cfg, { topic: "event.updated", payload: { event: { tags: [], statusTags: ["y"] } } })).be.null();
      rejects(
        { ...cfg, eventTags: "summit" },
        engagement,
        "activate-for:event",
        /\[marketo\] match none of \[summit\]/,
      );
      rejects(cfg, reg(), "activate-for:registration-status");
    });

    it("checks the objects in order: registration status, property, attendee type, event, event status, session", () => {
      const cfg: TagFilterConfig = { statusTags: "x", propertyTags: "x", attendeeTypeTags: "x", eventTags: "x" };
      rejects(cfg, reg(), "activate-for:registration-status");
      rejects({ ...cfg, statusTags: "registered" }, reg(), "activate-for:property");
      rejects({ ...cfg, statusTags: "registered", propertyTags: "" }, reg(), "activate-for:attendee-type");
      rejects(
        { ...cfg, statusTags: "registered", propertyTags: "", attendeeTypeTags: "" },
        reg(),
        "activate-for:event",
      );
    });
  });

  describe("excluded e-mail domains", () => {
    it("holds back internal users by domain and subdomain, with the reason", () => {
      const cfg: TagFilterConfig = { excludeDomains: "acme.com, @Test.Example.org" };
      rejects(
        cfg,
        reg({ profile: { email: "Joe@ACME.com" } }),
        "excluded-domain",
        'msg.payload.profile.email "Joe@ACME.com" is at acme.com, an excluded e-mail domain',
      );
      rejects(cfg, reg({ profile: { email: "joe@eu.acme.com" } }), "excluded-domain", /is at acme\.com/);
      rejects(cfg, reg({ profile: { email: "qa@test.example.org" } }), "excluded-domain", /is at test\.example\.org/);
      should(run(cfg, reg({ profile: { email: "joe@notacme.com" } }))).be.null();
      should(run(cfg, reg({ profile: { email: "joe@example.org" } }))).be.null();
      should(run(cfg, reg({ profile: { email: "acme.com" } }))).be.null();
      should(run(cfg, reg({ profile: { email: undefined } }))).be.null();
      should(run(cfg, reg())).be.null();
    });

    it("is checked after live/test and before activate for", () => {
      const cfg: TagFilterConfig = { excludeDomains: "example.com", statusTags: "attended" };
      rejects(cfg, reg(), "excluded-domain");
      rejects(cfg, reg({ registration: { test: true } }), "live-test");
    });

    it("a list entry that is not a domain is a deploy-time error", () => {
      compileError({ excludeDomains: "acme.com, joe@acme.com" }).message.should.match(
        /"joe@acme\.com" is not an e-mail domain/,
      );
      compileError({ excludeDomains: "not a domain" }).message.should.match(/not an e-mail domain/);
      compileTagFilter({ excludeDomains: ["acme.com", "b-c.io"] }).warnings.should.eql([]);
    });
  });

  describe("status-change sources need statuses to activate for", () => {
    const changed = reg({
      topic: "registration.status_changed",
      registration: { status: "Attended", statusTags: ["attended"] },
    });

    it("without status tags: a warning, and nothing of that source passes", () => {
      const f = compileTagFilter({ srcRegistrationStatus: true });
      f.warnings.should.have.length(1);
      f.warnings[0].should.match(/registration.status_changed activates only for the registration statuses selected/);
      const r = f.evaluate(changed)!;
      r.rule.should.equal("activate-for:registration-status");
      r.reason.should.equal(
        "source registration.status_changed activates only for the registration statuses selected, and no registration status tags are configured",
      );
      should(f.evaluate(reg())).be.null(); // the other sources are unaffected
    });

    it("without session status tags: the same for session registration status changes", () => {
      const f = compileTagFilter({ srcSessionStatus: true });
      f.warnings[0].should.match(/no session status tags are configured/);
      f.evaluate({
        topic: "session_registration.status_changed",
        payload: { session: { statusTags: ["a"] } },
      })!.rule.should.equal("activate-for:session-status");
    });

    it("without event status tags: a warning, and no event create/update passes", () => {
      const f = compileTagFilter({ srcEvent: true });
      f.warnings.should.have.length(1);
      f.warnings[0].should.match(/event\.created and event\.updated activates only for the event statuses selected/);
      for (const topic of ["event.created", "event.updated"]) {
        const r = f.evaluate({ topic, payload: { event: { statusTags: ["published"] } } })!;
        r.rule.should.equal("activate-for:event-status");
        r.reason.should.equal(
          `source ${topic} activates only for the event statuses selected, and no event status tags are configured`,
        );
      }
      should(f.evaluate(reg())).be.null();
    });

    it("with status tags: activates only for the statuses selected", () => {
      const cfg: TagFilterConfig = { srcRegistrationStatus: true, statusTags: "attended" };
      compileTagFilter(cfg).warnings.should.eql([]);
      should(run(cfg, changed)).be.null();
      rejects(
        cfg,
        reg({ topic: "registration.status_changed", registration: { statusTags: ["no-show"] } }),
        "activate-for:registration-status",
        /\[no-show\] match none of \[attended\]/,
      );
    });
  });

  describe("filters", () => {
    it("equals / not equals, with and without ignore case", () => {
      should(run(rule({ on: "event", field: "code", op: "eq", value: "KVS26" }), reg())).be.null();
      rejects(
        rule({ on: "event", field: "code", op: "eq", value: "kvs26" }),
        reg(),
        "filter:1",
        'msg.payload.event.code is "KVS26", not "kvs26"',
      );
      should(run(rule({ on: "event", field: "code", op: "eq", value: " kvs26 ", ignoreCase: true }), reg())).be.null();
      should(run(rule({ on: "event", field: "id", op: "eq", value: "1.0" }), reg())).be.null();
      should(run(rule({ on: "event", field: "test", op: "eq", value: "false" }), reg())).be.null();
      should(run(rule({ on: "profile", field: "country", op: "neq", value: "US" }), reg())).be.null();
      rejects(
        rule({ on: "profile", field: "country", op: "neq", value: "GB" }),
        reg(),
        "filter:1",
        'msg.payload.profile.country is "GB", which equals "GB"',
      );
    });

    it("does not contain, starts with, ends with, not in list, does not match", () => {
      const email = (op: FilterRuleConfig["op"], value: string, ignoreCase = false) =>
        rule({ on: "profile", field: "email", op, value, ignoreCase });
      should(run(email("ncont", "@acme."), reg())).be.null();
      rejects(
        email("ncont", "@example."),
        reg(),
        "filter:1",
        'msg.payload.profile.email "ada@example.com" contains "@example."',
      );
      should(run(email("starts", "ada@"), reg())).be.null();
      rejects(
        email("starts", "ADA@"),
        reg(),
        "filter:1",
        'msg.payload.profile.email "ada@example.com" does not start with "ADA@"',
      );
      should(run(email("starts", "ADA@", true), reg())).be.null();
      should(run(email("ends", "@example.com"), reg())).be.null();
      rejects(
        email("ends", "@acme.com"),
        reg(),
        "filter:1",
        'msg.payload.profile.email "ada@example.com" does not end with "@acme.com"',
      );
      should(run(rule({ on: "profile", field: "country", op: "nin", value: "US, FR" }), reg())).be.null();
      rejects(
        rule({ on: "profile", field: "country", op: "nin", value: "US, GB" }),
        reg(),
        "filter:1",
        'msg.payload.profile.country "GB" is in [US, GB]',
      );
      should(run(email("nregex", "@acme\\.com$"), reg())).be.null();
      rejects(
        email("nregex", "@EXAMPLE", true),
        reg(),
        "filter:1",
        'msg.payload.profile.email "ada@example.com" matches /@EXAMPLE/i',
      );
      // lists: the negations hold when no entry does
      rejects(
        rule({ on: "event", field: "tags", op: "nin", value: "marketo, x" }),
        reg(),
        "filter:1",
        /\[marketo\] has an entry in \[marketo, x\]/,
      );
      rejects(
        rule({ on: "attendeeTypeTags", op: "ncont", value: "tern" }),
        reg(),
        "filter:1",
        /has an entry containing "tern"/,
      );
      should(run(rule({ on: "event", field: "tags", op: "nregex", value: "^x" }), reg())).be.null();
      // a missing field satisfies no comparison, negated ones included
      rejects(
        rule({ on: "profile", field: "phone", op: "ncont", value: "1" }),
        reg(),
        "filter:1",
        /is missing; does not contain "1" needs a value/,
      );
      for (const op of ["ncont", "starts", "ends", "nin", "nregex"] as const)
        compileError(rule({ on: "profile", field: "email", op, value: "" }));
    });

    it("contains and in list", () => {
      should(run(rule({ on: "profile", field: "email", op: "cont", value: "@example." }), reg())).be.null();
      rejects(
        rule({ on: "profile", field: "email", op: "cont", value: "@acme." }),
        reg(),
        "filter:1",
        'msg.payload.profile.email "ada@example.com" does not contain "@acme."',
      );
      should(run(rule({ on: "profile", field: "country", op: "in", value: "US, GB ,FR" }), reg())).be.null();
      should(
        run(rule({ on: "profile", field: "country", op: "in", value: "us,gb", ignoreCase: true }), reg()),
      ).be.null();
      rejects(
        rule({ on: "profile", field: "country", op: "in", value: "US, FR" }),
        reg(),
        "filter:1",
        'msg.payload.profile.country "GB" is not in [US, FR]',
      );
    });

    it("matches regex, with the case option", () => {
      should(run(rule({ on: "profile", field: "email", op: "regex", value: "@example\\.com$" }), reg())).be.null();
      rejects(
        rule({ on: "profile", field: "email", op: "regex", value: "^ADA@" }),
        reg(),
        "filter:1",
        'msg.payload.profile.email "ada@example.com" does not match /^ADA@/',
      );
      should(
        run(rule({ on: "profile", field: "email", op: "regex", value: "^ADA@", ignoreCase: true }), reg()),
      ).be.null();
    });

    it("exists / not exists: missing, null, blank and empty lists do not exist", () => {
      should(run(rule({ on: "registration", field: "code", op: "exists" }), reg())).be.null();
      rejects(
        rule({ on: "profile", field: "phone", op: "exists" }),
        reg(),
        "filter:1",
        "msg.payload.profile.phone is missing",
      );
      rejects(
        rule({ on: "profile", field: "phone", op: "exists" }),
        reg({ profile: { phone: " " } }),
        "filter:1",
        'msg.payload.profile.phone is empty (" ")',
      );
      rejects(
        rule({ on: "event", field: "tags", op: "exists" }),
        reg({ event: { tags: [] } }),
        "filter:1",
        "msg.payload.event.tags is empty ([])",
      );
      should(run(rule({ on: "profile", field: "phone", op: "nexists" }), reg({ profile: { phone: null } }))).be.null();
      rejects(
        rule({ on: "profile", field: "country", op: "nexists" }),
        reg(),
        "filter:1",
        'msg.payload.profile.country has a value "GB"',
      );
    });

    it("greater / less than: numbers, then ISO dates, then text", () => {
      should(run(rule({ on: "event", field: "id", op: "gt", value: "0.5" }), reg())).be.null();
      should(run(rule({ on: "event", field: "id", op: "lt", value: "10" }), reg({ event: { id: "9" } }))).be.null(); // "9" < "10" as numbers, not as text
      rejects(
        rule({ on: "event", field: "id", op: "gt", value: "1" }),
        reg(),
        "filter:1",
        'msg.payload.event.id 1 is not greater than "1"',
      );
      should(run(rule({ on: "event", field: "startDate", op: "gt", value: "2026-12-01" }), reg())).be.null();
      // the same instant: not less as dates, although "…15:00:00Z" < "…16:00:00+01:00" as text
      rejects(
        rule({ on: "event", field: "startDate", op: "lt", value: "2026-12-08T16:00:00+01:00" }),
        reg(),
        "filter:1",
        /compared|not less than/,
      );
      rejects(
        rule({ on: "event", field: "startDate", op: "lt", value: "2026-12-08T15:00:00Z" }),
        reg(),
        "filter:1",
        /is not less than "2026-12-08T15:00:00Z"/,
      );
      should(run(rule({ on: "profile", field: "lastName", op: "gt", value: "Babbage" }), reg())).be.null();
      should(
        run(rule({ on: "profile", field: "lastName", op: "lt", value: "babbage", ignoreCase: true }), reg()),
      ).not.be.null();
    });

    it("list fields: a rule holds when any entry does; not equals when none does", () => {
      should(
        run(
          rule({ on: "event", field: "tags", op: "eq", value: "marketo" }),
          reg({ event: { tags: ["summit", "marketo"] } }),
        ),
      ).be.null();
      rejects(
        rule({ on: "event", field: "tags", op: "eq", value: "devcon" }),
        reg(),
        "filter:1",
        'msg.payload.event.tags [marketo] has no entry equal to "devcon"',
      );
      rejects(
        rule({ on: "event", field: "tags", op: "neq", value: "marketo" }),
        reg(),
        "filter:1",
        /has an entry equal to "marketo"/,
      );
      should(run(rule({ on: "event", field: "tags", op: "regex", value: "^mark" }), reg())).be.null();
      rejects(
        rule({ on: "event", field: "tags", op: "gt", value: "1" }),
        reg(),
        "filter:1",
        /is a list \[marketo\]; greater than compares one value/,
      );
      rejects(
        rule({ on: "event", field: "tags", op: "eq", value: "x" }),
        reg({ event: { tags: ["x", { a: 1 }] } }),
        "filter:1",
        "msg.payload.event.tags[1] is an object, not a text, number or true/false",
      );
    });

    it("attendee type tags: compared ignoring case and spaces", () => {
      should(run(rule({ on: "attendeeTypeTags", op: "cont", value: " EXTERNAL" }), reg())).be.null();
      should(run(rule({ on: "attendeeTypeTags", op: "in", value: "vip, External" }), reg())).be.null();
      rejects(
        rule({ on: "attendeeTypeTags", op: "eq", value: "vip" }),
        reg(),
        "filter:1",
        'msg.payload.registration.attendeeTypeTags [external] has no entry equal to "vip"',
      );
      rejects(
        rule({ on: "attendeeTypeTags", op: "exists" }),
        reg({ registration: { attendeeTypeTags: [] } }),
        "filter:1",
      );
    });

    it("reads nested paths and names the failing rule by its 1-based number", () => {
      const cfg: TagFilterConfig = {
        rules: [
          { on: "event", field: "code", op: "exists" },
          { on: "event", field: "questions.marketoProgramId", op: "eq", value: "1001" },
        ],
      };
      should(run(cfg, reg({ event: { questions: { marketoProgramId: 1001 } } }))).be.null();
      rejects(
        cfg,
        reg({ event: { questions: { marketoProgramId: 7 } } }),
        "filter:2",
        'msg.payload.event.questions.marketoProgramId is 7, not "1001"',
      );
      rejects(
        cfg,
        reg(),
        "filter:2",
        'msg.payload.event.questions.marketoProgramId is missing; equals "1001" needs a value',
      );
      rejects(
        rule({ on: "event", field: "questions", op: "eq", value: "x" }),
        reg({ event: { questions: { a: 1 } } }),
        "filter:1",
        "msg.payload.event.questions is an object, not a value to compare",
      );
    });
  });

  describe("compilation errors at deploy", () => {
    it("an invalid regex", () => {
      const e = compileError(rule({ on: "profile", field: "email", op: "regex", value: "([a-z" }));
      e.problems.should.have.length(1);
      e.problems[0].should.match(/^filter rule 1: invalid regular expression "\(\[a-z"/);
    });

    it("every problem at once, each named", () => {
      const e = compileError({
        mode: "staging" as never,
        statusMatch: "most" as never,
        srcEvent: "yes" as never,
        topicProp: "__proto__.x",
        statusTags: 5 as never,
        rules: [
          { on: "venue" as never, field: "x", op: "eq", value: "1" },
          { on: "event", field: "x", op: "like" as never, value: "1" },
          { on: "event", field: "", op: "eq", value: "1" },
          { on: "event", field: "a.constructor", op: "eq", value: "1" },
          { on: "event", field: "x", op: "in", value: " , " },
          { on: "event", field: "x", op: "gt", value: "" },
          { on: "event", field: "x", op: "eq" },
          "nope" as never,
        ],
      });
      const all = e.problems.join("\n");
      all.should.match(/topic property "__proto__.x" uses the forbidden key/);
      all.should.match(/mode must be one of live, test, any, not "staging"/);
      all.should.match(/srcEvent must be true or false, not "yes"/);
      all.should.match(/statusMatch must be one of any, all/);
      all.should.match(/statusTags must be comma-separated text or a list/);
      all.should.match(/filter rule 1: unknown object "venue"/);
      all.should.match(/filter rule 2: unknown operator "like"/);
      all.should.match(/filter rule 3: field is empty/);
      all.should.match(/filter rule 4: field "a.constructor" uses the forbidden key/);
      all.should.match(/filter rule 5: in list needs at least one/);
      all.should.match(/filter rule 6: greater than needs a value/);
      all.should.match(/filter rule 7: equals needs a value/);
      all.should.match(/filter rule 8: must be an object/);
      e.problems.should.have.length(13);
      e.message.should.equal(e.problems.join("; "));
    });

    it("rules that are not a list", () => {
      compileError({ rules: {} as never }).problems.should.eql(["rules must be a list, not an object"]);
    });
  });

  describe("bad input never throws", () => {
    it("payload not an object, objects of the wrong type", () => {
      rejects(
        {},
        { topic: "registration.created", payload: "hello" },
        "input",
        "msg.payload is a string, not an object",
      );
      rejects({}, { topic: "registration.created", payload: [1] }, "input", "msg.payload is a list, not an object");
      rejects({}, { topic: "registration.created", payload: null }, "input", "msg.payload is null, not an object");
      rejects({}, { topic: "registration.created" }, "input", "msg.payload is missing, not an object");
      rejects(
        {},
        { topic: "registration.created", payload: { registration: "R-1" } },
        "input",
        "msg.payload.registration is a string, not an object",
      );
      rejects(
        {},
        { topic: "registration.created", payload: { event: [] } },
        "input",
        "msg.payload.event is a list, not an object",
      );
      for (const m of [undefined, null, 42, "x", []]) rejects({}, m, "source", /^msg\.topic is missing/);
    });

    it("missing objects and tag lists", () => {
      rejects(
        { statusTags: "a" },
        { topic: "registration.created", payload: {} },
        "activate-for:registration-status",
        "msg.payload.registration is missing; registration status tags must match any of [a]",
      );
      rejects(
        { statusTags: "a" },
        reg({ registration: { statusTags: undefined } }),
        "activate-for:registration-status",
        "registration status tags [] match none of [a]",
      );
    });

    it("a string where a tag list is expected, non-text tags, huge values", () => {
      rejects(
        { statusTags: "a" },
        reg({ registration: { statusTags: "a" } }),
        "activate-for:registration-status",
        "msg.payload.registration.statusTags is a string, not a list of tags",
      );
      rejects(
        { statusTags: "a" },
        reg({ registration: { statusTags: ["a", 7] } }),
        "activate-for:registration-status",
        "msg.payload.registration.statusTags[1] is a number, not a tag",
      );
      rejects(
        { eventTags: "a" },
        reg({ event: { tags: [["a"]] } }),
        "activate-for:event",
        "msg.payload.event.tags[0] is a list, not a tag",
      );
      rejects(
        { statusTags: "a" },
        reg({ registration: { statusTags: ["x".repeat(MAX_TEXT + 1)] } }),
        "activate-for:registration-status",
        /\[0\] is 10001 characters long/,
      );
      rejects(
        { statusTags: "a" },
        reg({ registration: { statusTags: new Array(MAX_LIST + 1).fill("a") } }),
        "activate-for:registration-status",
        /has 1001 entries/,
      );
      rejects(
        rule({ on: "profile", field: "email", op: "regex", value: "(a+)+$" }),
        reg({ profile: { email: "a".repeat(5_000_000) } }),
        "filter:1",
        /5000000 characters long/,
      );
      rejects(
        { propertyTags: "a" },
        reg({ registration: { properties: "x" } }),
        "activate-for:property",
        "msg.payload.registration.properties is a string, not an object",
      );
      rejects(
        { propertyTags: "a" },
        reg({ registration: { propertyTags: ["a"] } }),
        "activate-for:property",
        "msg.payload.registration.propertyTags is a list, not an object of tag lists",
      );
      rejects(
        { propertyTags: "a" },
        reg({ registration: { properties: { p: 1 }, propertyTags: { p: "a" } } }),
        "activate-for:property",
        'msg.payload.registration.propertyTags["p"] is a string, not a list of tags',
      );
    });

    it("a huge property key is shortened in the reason, not copied whole", () => {
      const key = "k".repeat(100_000);
      const r = rejects(
        { propertyTags: "a" },
        reg({ registration: { properties: { [key]: 1 }, propertyTags: { [key]: "a" } } }),
        "activate-for:property",
        /is a string, not a list of tags$/,
      );
      r.reason.length.should.be.below(300);
    });

    it("__proto__ and constructor keys are refused, never followed", () => {
      const polluted = JSON.parse(
        '{"topic":"registration.created","payload":{"event":{},"registration":{"properties":{"__proto__":"x"},"propertyTags":{"__proto__":["a"]}}}}',
      );
      rejects(
        { propertyTags: "a" },
        polluted,
        "activate-for:property",
        'msg.payload.registration.propertyTags has the forbidden key "__proto__"',
      );
      const ctor = reg({ registration: { properties: { constructor: "x" }, propertyTags: { constructor: ["a"] } } });
      rejects({ propertyTags: "a" }, ctor, "activate-for:property", /forbidden key "constructor"/);
      // Objects are read from own properties only: an inherited registration is not a registration.
      const inherited = {
        topic: "registration.created",
        payload: Object.create({ registration: { test: true, statusTags: ["a"] } }),
      };
      should(run({}, inherited)).be.null();
      rejects({ statusTags: "a" }, inherited, "activate-for:registration-status", /registration is missing/);
      const protoPayload = JSON.parse(
        '{"topic":"registration.created","payload":{"__proto__":{"registration":{"test":true}}}}',
      );
      should(run({}, protoPayload)).be.null();
      (({}) as Record<string, unknown>).should.not.have.property("registration");
    });

    it("does not touch the message", () => {
      const m = reg({ registration: { test: true } });
      const before = JSON.stringify(m);
      run({ statusTags: "x", rules: [{ on: "event", field: "code", op: "eq", value: "y" }] }, m);
      run({ mode: "test", statusTags: "x" }, m);
      JSON.stringify(m).should.equal(before);
    });
  });

  describe("the sample fixtures", () => {
    it("a live filter with defaults passes the non-test registrations and drops the Certain test one", () => {
      const f = compileTagFilter({});
      (certain as Msg[]).map((m) => f.evaluate(m)?.rule ?? "pass").should.eql(["pass", "source", "live-test"]);
      (kaltura as Msg[]).map((m) => f.evaluate(m)?.rule ?? "pass").should.eql(["pass", "source", "source"]);
    });

    it("a status-change flow activated for the attended tags takes exactly the two attendance changes", () => {
      const f = compileTagFilter({
        srcRegistration: false,
        srcRegistrationStatus: true,
        statusTags: "attended, marketo-attended",
      });
      [...(certain as Msg[]), ...(kaltura as Msg[])]
        .map((m) => f.evaluate(m)?.rule ?? "pass")
        .should.eql(["source", "pass", "source", "source", "pass", "source"]);
    });

    it("a test flow takes only the Certain test registration", () => {
      const f = compileTagFilter({ mode: "test", srcEngagement: true });
      [...(certain as Msg[]), ...(kaltura as Msg[])]
        .map((m) => f.evaluate(m)?.rule ?? "pass")
        .should.eql(["live-test", "source", "pass", "live-test", "source", "live-test"]);
    });
  });
});
