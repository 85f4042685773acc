/** The layer-neutral checks in src/lib/node-kit/guards.ts. */
import "should";
import { errorText, isRecord, isUnsafeKey, UNSAFE_KEYS } from "../../src/lib/node-kit/guards";

describe("node-kit guards", () => {
  it("isRecord is true only for plain non-array objects", () => {
    isRecord({}).should.be.true();
    isRecord({ a: 1 }).should.be.true();
    isRecord([]).should.be.false();
    isRecord(null).should.be.false();
    isRecord(undefined).should.be.false();
    isRecord("x").should.be.false();
    isRecord(3).should.be.false();
  });

  it("names exactly the keys that reach a prototype", () => {
    [...UNSAFE_KEYS].sort().should.eql(["__proto__", "constructor", "prototype"]);
    isUnsafeKey("__proto__").should.be.true();
    isUnsafeKey("constructor").should.be.true();
    isUnsafeKey("prototype").should.be.true();
    isUnsafeKey("toString").should.be.false();
    isUnsafeKey(0).should.be.false();
  });

  it("errorText gives an Error's message and anything else as text", () => {
    errorText(new Error("boom")).should.equal("boom");
    errorText(new TypeError("bad type")).should.equal("bad type");
    errorText("plain").should.equal("plain");
    errorText(42).should.equal("42");
    errorText(undefined).should.equal("undefined");
  });
});
