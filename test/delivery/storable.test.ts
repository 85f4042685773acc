import "should";
import { jsonSafe, jsonSafeMessage } from "../../src/lib/delivery/storable";

describe("jsonSafe: what the journals keep of a message", () => {
  it("drops a reference back to an ancestor, but copies an object reached twice side by side", () => {
    const shared = { code: "R-1" };
    const msg: Record<string, unknown> = { a: shared, b: shared, list: [shared, shared] };
    msg.self = msg;
    (jsonSafe(msg) as object).should.eql({
      a: { code: "R-1" },
      b: { code: "R-1" },
      list: [{ code: "R-1" }, { code: "R-1" }],
    });
  });

  it("keeps what JSON keeps: Buffer and Date through toJSON, BigInt as a string, no functions, null for NaN", () => {
    (
      jsonSafe({
        buf: Buffer.from("hi"),
        at: new Date("2026-11-23T00:00:00Z"),
        big: 10n,
        fn: () => 1,
        n: NaN,
        arr: [undefined, () => 1],
      }) as object
    ).should.eql({
      buf: { type: "Buffer", data: [104, 105] },
      at: "2026-11-23T00:00:00.000Z",
      big: "10",
      n: null,
      arr: [null, null],
    });
  });

  it("a __proto__ key from JSON.parse stays a key and pollutes nothing", () => {
    const copy = jsonSafe(JSON.parse('{"__proto__": {"polluted": true}, "email": "a@b.c"}')) as Record<string, unknown>;
    Object.keys(copy).should.eql(["__proto__", "email"]);
    Object.getPrototypeOf(copy).should.equal(Object.prototype);
    (({}) as Record<string, unknown>).should.not.have.property("polluted");
  });

  it("jsonSafeMessage leaves out the properties it is told to", () => {
    jsonSafeMessage({ payload: 1, req: { socket: {} }, topic: "t" }, (k) => k === "req").should.eql({
      payload: 1,
      topic: "t",
    });
  });
});
