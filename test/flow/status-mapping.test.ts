/**
 * What status-mapper decides for one message, without a runtime: the settings' defaults, the
 * checks on the status, msg.marketo and msg.programId, and the move against the memory.
 */
import should from "should";
import { compileTable, type StatusRow } from "../../src/lib/flow/status-ladder";
import { memoryKey, StatusMemory } from "../../src/lib/flow/status-memory";
import { decideMove, matchMessage, statusMapperSettings, type MatchedStatus } from "../../src/lib/flow/status-mapping";

const ROWS: StatusRow[] = [
  { source: "registered", name: "Registered", step: 20, success: false },
  { source: "attended", name: "Attended", step: 40, success: true },
];
const { table } = compileTable(ROWS);
const read = (value: unknown) => ({ ok: true as const, value, where: "event.registration.status" });

function matched(status: string, msg: { marketo?: unknown; programId?: unknown } = {}): MatchedStatus {
  const m = matchMessage(table, read(status), msg, "1001", "skip");
  if (m.kind !== "matched") throw new Error(`expected a match, got ${JSON.stringify(m)}`);
  return m;
}

describe("status-mapping: settings", function () {
  it("fills the defaults and refuses unknown policies", function () {
    should(statusMapperSettings({})).match({ backward: "skip", repeat: "pass", unknown: "skip", store: undefined });
    should(statusMapperSettings({ backward: "force", repeat: "skip", unknown: "error", store: " file " })).match({
      backward: "force",
      repeat: "skip",
      unknown: "error",
      store: "file",
    });
    should(statusMapperSettings({ backward: "sideways" }).backward).equal("skip");
  });
});

describe("status-mapping: the message's status, program and msg.marketo", function () {
  it("refuses an unknown status, a msg.marketo that is not an object and a bad msg.programId under the unknown policy", function () {
    should(matchMessage(table, read("waitlisted"), {}, "1001", "error")).match({
      kind: "refuse",
      filtered: { rule: "unknown-status" },
      policy: "error",
    });
    should(matchMessage(table, read("registered"), { marketo: [] }, "1001", "skip")).match({
      kind: "refuse",
      filtered: { rule: "invalid-input", reason: "msg.marketo is an array, not an object" },
      policy: "skip",
    });
    should(matchMessage(table, read("registered"), { programId: "abc" }, "1001", "skip")).match({
      kind: "refuse",
      filtered: { rule: "invalid-program" },
    });
    should(matchMessage(table, { ok: false, reason: "msg.x cannot be read" }, {}, "1001", "skip")).match({
      kind: "refuse",
      filtered: { rule: "invalid-input", reason: "msg.x cannot be read" },
    });
  });

  it("takes the message's program over the node's", function () {
    should(matched("attended", { programId: 2002 }).program).equal("2002");
    should(matched("attended").program).equal("1001");
  });
});

describe("status-mapping: the move against the memory", function () {
  const lead = read("ann@example.com");

  it("sends a first move and names the key to remember", function () {
    const d = decideMove(matched("registered"), lead, new StatusMemory(), "skip", "pass");
    should(d).match({ kind: "send", status: { name: "Registered", step: 20 }, leadKnown: true });
    should(d.kind === "send" && d.remember).equal(memoryKey("ann@example.com", "1001"));
  });

  it("holds a backward move under skip, sends it unrecorded under pass, forced and recorded under force", function () {
    const memory = new StatusMemory();
    memory.set(memoryKey("ann@example.com", "1001"), { name: "Attended", step: 40, success: true });
    should(decideMove(matched("registered"), lead, memory, "skip", "pass")).match({
      kind: "refuse",
      filtered: { rule: "backward" },
      policy: "skip",
    });
    const passed = decideMove(matched("registered"), lead, memory, "pass", "pass");
    should(passed).match({ kind: "send", remember: undefined });
    should(passed.kind === "send" && passed.status.force).equal(undefined);
    should(decideMove(matched("registered"), lead, memory, "force", "pass")).match({
      kind: "send",
      status: { name: "Registered", force: true },
      remember: memoryKey("ann@example.com", "1001"),
    });
  });

  it("without a lead: sends under pass without remembering, refuses force like skip", function () {
    const none = read("");
    should(decideMove(matched("attended"), none, new StatusMemory(), "pass", "pass")).match({
      kind: "send",
      remember: undefined,
      leadKnown: false,
    });
    should(decideMove(matched("attended"), none, new StatusMemory(), "force", "pass")).match({
      kind: "refuse",
      filtered: { rule: "no-lead" },
      policy: "skip",
    });
  });

  it("holds a repeated status under repeat skip", function () {
    const memory = new StatusMemory();
    memory.set(memoryKey("ann@example.com", "1001"), { name: "Attended", step: 40, success: true });
    should(decideMove(matched("attended"), lead, memory, "skip", "skip")).match({
      kind: "refuse",
      filtered: { rule: "unchanged" },
      policy: "skip",
    });
  });
});
