/**
 * The pure pieces under the action nodes: the lead-id cache, what the canvas status says for
 * each client state, and how a result becomes msg.marketo / a Catch-able error.
 */
import should from "should";
import {
  errorInfo,
  invalidRecord,
  leadIdOf,
  recordsOf,
  RecordFailure,
  unexpectedFailure,
} from "../../src/lib/actions/action-outcome";
import { chicagoClock, statusFor, type StatusLabels } from "../../src/lib/node-kit/client-status";
import { LeadIdCache } from "../../src/lib/actions/lead-ids";
import { MarketoError } from "../../src/lib/marketo";

const labels: StatusLabels = {
  sent: "sent",
  failed: "failed",
  queued: "queued",
  rateLimited: "rate limited",
  quota: "quota: resumes __time__",
  authFailed: "auth failed",
  retrying: "retrying",
};

describe("LeadIdCache", () => {
  it("matches emails case- and space-insensitively, other lookup fields exactly", () => {
    const c = new LeadIdCache();
    c.set("email", " Ada@Example.com ", 7);
    should(c.get("email", "ada@example.com")).equal(7);
    c.set("externalId", "AbC", 8);
    should(c.get("externalId", "abc")).be.undefined();
    should(c.get("externalId", "AbC")).equal(8);
    c.set("externalId", 42, 9);
    should(c.get("externalId", "42")).equal(9);
  });

  it("ignores values it cannot key and ids that are not lead ids", () => {
    const c = new LeadIdCache();
    c.set("email", "", 1);
    c.set("email", { a: 1 }, 1);
    c.set("email", "x@y.z", 0);
    c.set("email", "x@y.z", 1.5);
    c.size.should.equal(0);
  });

  it("is bounded, dropping the least recently learned", () => {
    const c = new LeadIdCache(2);
    c.set("email", "a@x.com", 1);
    c.set("email", "b@x.com", 2);
    c.set("email", "a@x.com", 1); // learned again: now the newest
    c.set("email", "c@x.com", 3);
    should(c.get("email", "b@x.com")).be.undefined();
    should(c.get("email", "a@x.com")).equal(1);
    c.forget("email", "A@x.com");
    should(c.get("email", "a@x.com")).be.undefined();
  });
});

describe("canvas status of an action node", () => {
  const counts = { sent: 1204, failed: 0, queued: 37 };

  it("shows counts on a green dot, yellow once something failed", () => {
    statusFor({ state: "ok" }, counts, labels).should.eql({
      fill: "green",
      shape: "dot",
      text: "sent 1,204 · queued 37",
    });
    statusFor({ state: "ok" }, { sent: 0, failed: 2, queued: 0 }, labels).should.eql({
      fill: "yellow",
      shape: "dot",
      text: "sent 0 · failed 2",
    });
  });

  it("shows the shared client's pauses and auth failure on a ring", () => {
    statusFor({ state: "rate-limited", resumesAt: new Date().toISOString() }, counts, labels).should.containDeep({
      fill: "yellow",
      shape: "ring",
      text: "rate limited · sent 1,204 · queued 37",
    });
    statusFor({ state: "auth-failed" }, counts, labels).should.eql({ fill: "red", shape: "ring", text: "auth failed" });
    statusFor({ state: "backoff" }, counts, labels).text.should.startWith("retrying");
  });

  it("says when a used-up quota resumes, in Marketo's time zone", () => {
    // 2026-11-24 06:00 UTC is midnight in Chicago (CST, UTC-6).
    statusFor({ state: "quota", resumesAt: "2026-11-24T06:00:00.000Z" }, { ...counts, queued: 0 }, labels).should.eql({
      fill: "red",
      shape: "ring",
      text: "quota: resumes 00:00 CT",
    });
    statusFor(
      { state: "quota", resumesAt: "2026-11-24T06:00:00.000Z" },
      { sent: 12, failed: 0, queued: 4187 },
      labels,
    ).text.should.equal("quota: resumes 00:00 CT · queued 4,187");
    chicagoClock("2026-07-01T05:00:00.000Z").should.equal("00:00 CT"); // CDT, UTC-5
    chicagoClock(undefined).should.equal("?");
    chicagoClock("not a date").should.equal("?");
  });
});

describe("record outcomes", () => {
  const e = new MarketoError({
    code: "606",
    message: "Marketo 606: Max rate limit exceeded",
    category: "rate-limit",
    action: "wait-window",
    retryable: true,
    operation: "syncLeads",
    requestId: "r1",
  });

  it("msg.marketo.error carries what a person or the retry queue needs, nothing more", () => {
    errorInfo(e).should.eql({
      code: "606",
      message: "Marketo 606: Max rate limit exceeded",
      category: "rate-limit",
      retryable: true,
      action: "wait-window",
      operation: "syncLeads",
      requestId: "r1",
    });
  });

  it("the error a Catch node gets names the category first and counts an array's failures", () => {
    const one = new RecordFailure("marketo-lead", errorInfo(e));
    one.message.should.equal("marketo-lead: rate-limit: Marketo 606: Max rate limit exceeded");
    one.category.should.equal("rate-limit");
    one.retryable.should.be.true();
    new RecordFailure("marketo-lead", errorInfo(e), 2, 5).message.should.equal(
      "marketo-lead: 2 of 5 records failed; first: rate-limit: Marketo 606: Max rate limit exceeded",
    );
  });

  it("refused and unexpected records fail alone with a category", () => {
    invalidRecord("no email", "syncLeads").error!.should.containDeep({
      code: "INVALID_INPUT",
      category: "validation",
      retryable: false,
      operation: "syncLeads",
    });
    unexpectedFailure(new TypeError("boom"), "addCustomActivities").error!.should.containDeep({
      code: "INTERNAL",
      category: "marketo",
      message: "Unexpected failure in addCustomActivities: boom",
    });
    unexpectedFailure(e, "x").error!.should.equal(e);
  });

  it("an array payload is many records, anything else one", () => {
    recordsOf([1, 2]).should.eql([1, 2]);
    recordsOf({ a: 1 }).should.eql([{ a: 1 }]);
    recordsOf(undefined).should.eql([undefined]);
  });

  it("a lead id is a positive whole number", () => {
    should(leadIdOf({ ok: true, status: "created", id: 5 })).equal(5);
    should(leadIdOf({ ok: true, status: "created", id: 0 })).be.undefined();
    should(leadIdOf({ ok: true, status: "created" })).be.undefined();
  });
});
