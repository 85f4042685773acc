/**
 * The shared own-property path walker and type helpers (src/lib/flow/paths.ts) used by the tag-filter,
 * the status-mapper and the field-mapper.
 */
import "should";
import { newOwnPathWalk, readOwnPath, splitPath, typeName } from "../../src/lib/flow/paths";

describe("lib/paths readOwnPath", () => {
  it("reads a whole path, objects and array elements", () => {
    readOwnPath({ payload: { tags: ["a", "b"] } }, ["payload", "tags", 1]).should.eql({
      value: "b",
      stoppedAt: 3,
      stoppedOn: "b",
    });
    readOwnPath({ a: 1 }, []).should.eql({ value: { a: 1 }, stoppedAt: 0, stoppedOn: { a: 1 } });
  });

  it("a missing final property reads as undefined with the whole path followed", () => {
    readOwnPath({ payload: {} }, ["payload", "status"]).should.eql({
      value: undefined,
      stoppedAt: 2,
      stoppedOn: undefined,
    });
  });

  it("stops on the first value that is not an object, and says where", () => {
    readOwnPath({ payload: "text" }, ["payload", "status"]).should.eql({
      value: undefined,
      stoppedAt: 1,
      stoppedOn: "text",
    });
    readOwnPath({ payload: null }, ["payload", "x", "y"]).should.eql({
      value: undefined,
      stoppedAt: 1,
      stoppedOn: null,
    });
    readOwnPath("msg", ["payload"]).should.eql({ value: undefined, stoppedAt: 0, stoppedOn: "msg" });
    // a missing key before the last: one step further on, on undefined
    readOwnPath({}, ["payload", "status"]).should.eql({ value: undefined, stoppedAt: 1, stoppedOn: undefined });
  });

  it("never reads the prototype chain", () => {
    readOwnPath({ payload: {} }, ["payload", "toString"]).should.eql({
      value: undefined,
      stoppedAt: 2,
      stoppedOn: undefined,
    });
    readOwnPath({ payload: {} }, ["payload", "__proto__", "constructor"]).should.eql({
      value: undefined,
      stoppedAt: 2,
      stoppedOn: undefined,
    });
    readOwnPath({}, ["constructor"]).should.eql({ value: undefined, stoppedAt: 1, stoppedOn: undefined });
    const evil = JSON.parse('{"payload":{"__proto__":{"status":"x"}}}');
    readOwnPath(evil, ["payload", "__proto__", "status"]).value!.should.equal("x"); // an own key, from JSON
  });

  it("fills and returns the holder it is given", () => {
    const into = newOwnPathWalk();
    readOwnPath({ a: { b: 2 } }, ["a", "b"], into).should.equal(into);
    into.should.eql({ value: 2, stoppedAt: 2, stoppedOn: 2 });
    readOwnPath({ a: 5 }, ["a", "b"], into);
    into.should.eql({ value: undefined, stoppedAt: 1, stoppedOn: 5 });
  });
});

describe("lib/paths helpers", () => {
  it("typeName names values for reasons", () => {
    typeName(undefined).should.equal("missing");
    typeName(null).should.equal("null");
    typeName([]).should.equal("an array");
    typeName({}).should.equal("an object");
    typeName("x").should.equal("a string");
    typeName(3).should.equal("a number");
  });
});

describe("lib/paths splitPath: the one reading of a path's text", () => {
  const keys = (text: string, opts = {}) => {
    const r = splitPath(text, opts);
    if (!r.ok) throw new Error(`${text}: ${r.problem.kind}`);
    return r.keys;
  };
  const problem = (text: string, opts = {}) => {
    const r = splitPath(text, opts);
    return r.ok ? "ok" : r.problem.kind;
  };

  it("reads dots, indexes and quoted keys, a quoted key holding . ] , and spaces", () => {
    keys("payload.event").should.eql(["payload", "event"]);
    keys("tags[0].name").should.eql(["tags", 0, "name"]);
    keys(`questions["Campaign Id"]`).should.eql(["questions", "Campaign Id"]);
    keys(`p['a.b]c, d'].x`).should.eql(["p", "a.b]c, d", "x"]);
    keys(`p[ "x" ]`).should.eql(["p", "x"]);
  });

  it("drops a msg. prefix only when asked, and allows spaced names only when asked", () => {
    keys("msg.payload.a", { msgPrefix: true }).should.eql(["payload", "a"]);
    keys("msg.payload.a").should.eql(["msg", "payload", "a"]);
    keys("properties.Badge Printed", { spacedNames: true }).should.eql(["properties", "Badge Printed"]);
    problem("properties.Badge Printed").should.equal("bad-key");
  });

  it("names each problem", () => {
    problem("").should.equal("empty");
    problem("a..b").should.equal("empty-part");
    problem("a.").should.equal("ends-with-dot");
    problem("a[0").should.equal("unclosed");
    problem(`a["x]`).should.equal("unterminated-quote");
    problem("a[x]").should.equal("bad-index");
    problem("a[0]b").should.equal("needs-dot");
    for (const k of ["__proto__", "constructor", "prototype"]) problem(`a.${k}`).should.equal("unsafe-key");
    problem(`a["__proto__"]`).should.equal("unsafe-key");
  });
});
