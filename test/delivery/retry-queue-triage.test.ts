/** The retry-queue node's pure decisions: what an incoming message is, and what its routes accept. */
import "should";
import { entriesQuery, queueSettings, selection, triage } from "../../src/lib/delivery/retry-queue-triage";

describe("retry-queue triage", () => {
  const none = (): boolean => false;

  it("tells a command, its own outcome, another queue's resubmission and a new failure apart", () => {
    triage({ topic: "stats" }, "q1", none).should.eql({ kind: "command", topic: "stats" });
    const error = { code: "1003", message: "bad", category: "validation", retryable: false, action: "permanent" };
    const own = triage({ marketo: { error, retry: { queue: "q1", id: "e1", attempt: 1, seq: 2 } } }, "q1", none);
    own.kind.should.equal("outcome");
    triage({ marketo: { retry: { queue: "q1", id: "e1", attempt: 1, seq: 2 } } }, "q1", none).kind.should.equal(
      "ownWithoutError",
    );
    triage(
      { marketo: { error, retry: { queue: "q2", id: "e1", attempt: 1, seq: 2 } } },
      "q1",
      (id) => id === "q2",
    ).should.eql({ kind: "foreign", queue: "q2" });
    // A command topic on a failed message is a failure, not a command.
    triage({ topic: "flush", marketo: { error } }, "q1", none).kind.should.equal("failure");
  });

  it("falls back to the default for a bad setting and names it", () => {
    const s = queueSettings({ maxAttempts: "x", backoff: "soon", maxEntries: 5 });
    s.options.should.containEql({ maxAttempts: 3, maxEntries: 5, backoffMs: [30_000, 120_000, 600_000] });
    s.problems.should.have.length(2);
  });

  it("reads route queries and bodies, refusing what it cannot use", () => {
    const q = entriesQuery({ state: "held,abandoned", limit: "10" });
    q.should.eql({ ok: true, filter: { state: ["held", "abandoned"] }, limit: 10, offset: 0 });
    entriesQuery({ limit: "5000" }).ok.should.be.false();
    selection({ ids: ["a", "b"], filter: { ids: ["b", "c"] } }, false).should.eql({ ok: true, filter: { ids: ["b"] } });
    selection({}, true).ok.should.be.false();
    selection({ other: 1 }, false).ok.should.be.false();
  });
});
