import "should";
import { describeEvent, Metrics } from "../../src/lib/sidebar/metrics";

const lead = { id: "n1", type: "marketo-lead", name: "" };

describe("metrics: what the sidebar shows", () => {
  it("counts outcomes per node and failures per category, and feeds the latest records newest first", () => {
    const m = new Metrics();
    m.record(
      lead,
      "cfg",
      { topic: "registration.created", payload: { email: "a@x.com" }, source: { registration: { code: "R-1" } } },
      true,
      "created",
    );
    m.record(lead, "cfg", { payload: { email: "b@x.com" } }, true, "updated");
    m.record(lead, "cfg", { payload: { email: "c@x.com" } }, false, "failed", { category: "validation", code: "1003" });
    m.nodeFigures().should.eql([
      {
        ...lead,
        config: "cfg",
        outcomes: { created: 1, updated: 1, failed: 1 },
        failures: { validation: 1 },
        backlog: 0,
      },
    ]);
    const feed = m.feed();
    feed.map((f) => f.email).should.eql(["c@x.com", "b@x.com", "a@x.com"]);
    feed[0].should.containEql({ ok: false, outcome: "validation", code: "1003" });
    feed[2].should.containEql({ registration: "R-1", event: "registration.created", outcome: "created" });
  });

  it("keeps the feed bounded", () => {
    const m = new Metrics();
    for (let i = 0; i < 1000; i++) m.record(lead, "cfg", { payload: { email: `${i}@x.com` } }, true, "created");
    m.feed().should.have.length(200);
    m.feed()[0].email!.should.equal("999@x.com");
    m.feed(5)
      .map((f) => f.email)
      .should.eql(["999@x.com", "998@x.com", "997@x.com", "996@x.com", "995@x.com"]);
  });

  it("records connection changes once each, newest first, and forgets a removed node", () => {
    const m = new Metrics();
    m.connection("cfg", "ok");
    m.connection("cfg", "rate-limited", "606");
    m.connection("cfg", "rate-limited", "606");
    m.connection("cfg", "ok");
    m.connectionEvents("cfg")
      .map((e) => e.state)
      .should.eql(["ok", "rate-limited", "ok"]);
    m.filtered({ id: "f1", type: "tag-filter", name: "live only" });
    m.filteredFigures().should.eql([{ id: "f1", type: "tag-filter", name: "live only", count: 1 }]);
    m.forget("f1");
    m.filteredFigures().should.eql([]);
  });

  it("finds the registration code and email where field-mapper and the platforms put them", () => {
    describeEvent({
      payload: { email: "x@y.z" },
      source: { registrationCode: "ABC", type: "status.changed" },
    }).should.eql({ registration: "ABC", event: "status.changed", email: "x@y.z" });
    describeEvent({ payload: { profile: { email: "p@q.r" }, registration: { code: 7 } } }).should.eql({
      registration: "7",
      event: undefined,
      email: "p@q.r",
    });
  });
});
