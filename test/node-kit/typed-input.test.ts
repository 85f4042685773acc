/** The one TypedInput reader in src/lib/node-kit/typed-input.ts, against Node-RED's own util. */
import "should";
import type { Node, NodeAPI } from "node-red";
import { typedInputReader, type TypedInputRead } from "../../src/lib/node-kit/typed-input";

const { util } = require("@node-red/util") as { util: NodeAPI["util"] };

const flowStore: Record<string, unknown> = { campaign: 1234 };
const node = {
  id: "n1",
  context: () => ({
    flow: {
      get: (key: string, _store: unknown, cb: (e: Error | null, v: unknown) => void) => cb(null, flowStore[key]),
    },
    global: { get: (_key: string, _store: unknown, cb: (e: Error | null, v: unknown) => void) => cb(null, undefined) },
  }),
  _flow: { getSetting: (name: string) => (name === "KIT_PROGRAM" ? "1001" : undefined) },
} as unknown as Node;
const RED = { util } as unknown as NodeAPI;
const reader = (value: string, type: string) => typedInputReader(RED, node, value, type);

describe("node-kit typedInputReader", () => {
  it("reads msg paths through own properties only", async () => {
    (await reader("payload.email", "msg").readAsync({ payload: { email: "a@b.c" } })).should.eql({
      ok: true,
      value: "a@b.c",
      where: "msg.payload.email",
    });
    (await reader("payload.toString", "msg").readAsync({ payload: {} })).should.eql({
      ok: true,
      value: undefined,
      where: "msg.payload.toString",
    });
    const r = await reader("payload.email", "msg").readAsync({ payload: "text" });
    r.should.eql({ ok: false, reason: "msg.payload is a string, not an object" });
  });

  it("calls back at once for msg and event paths (no turn of the event loop)", () => {
    let got: TypedInputRead | undefined;
    reader("payload.a", "msg").read({ payload: { a: 1 } }, (r) => (got = r));
    (got as TypedInputRead).should.eql({ ok: true, value: 1, where: "msg.payload.a" });
  });

  it("reads event paths from msg.source once field-mapper has moved the event there", async () => {
    const ev = reader("profile.email", "event");
    ev.label.should.equal("event.profile.email");
    (await ev.readAsync({ payload: { profile: { email: "p@x.y" } } })).should.eql({
      ok: true,
      value: "p@x.y",
      where: "msg.payload.profile.email",
    });
    (await ev.readAsync({ payload: { Email: "m" }, source: { profile: { email: "s@x.y" } } })).should.eql({
      ok: true,
      value: "s@x.y",
      where: "msg.source.profile.email",
    });
  });

  it("reads one record of an array payload as msg.payload", async () => {
    const msg = { payload: [{ id: 1 }, { id: 2 }] };
    (await reader("payload.id", "msg").readAsync(msg, msg.payload[1], 1)).should.eql({
      ok: true,
      value: 2,
      where: "msg.payload.id",
    });
    (await reader("id", "event").readAsync(msg, msg.payload[1], 1)).should.eql({
      ok: true,
      value: 2,
      where: "msg.payload[1].id",
    });
  });

  it("evaluates jsonata prepared once, and names a failing expression", async () => {
    (await reader("payload.a + 1", "jsonata").readAsync({ payload: { a: 1 } })).should.eql({
      ok: true,
      value: 2,
      where: "the expression payload.a + 1",
    });
    const bad = await reader("$error('no')", "jsonata").readAsync({ payload: {} });
    bad.ok.should.be.false();
    (bad as { reason: string }).reason.should.startWith("the expression $error('no') failed: ");
  });

  it("str, num, json and env are constants known at deploy; json gives each read its own copy", async () => {
    reader("x", "str").constant!.should.eql({ value: "x" });
    reader("42", "num").constant!.should.eql({ value: 42 });
    reader("1001", "env").label.should.equal("env 1001");
    const json = reader('{"a":[1]}', "json");
    const first = await json.readAsync({});
    (first as { value: { a: number[] } }).value.a.push(2);
    (await json.readAsync({})).should.eql({ ok: true, value: { a: [1] }, where: "the node's setting" });
  });

  it("reads flow context per message", async () => {
    (await reader("campaign", "flow").readAsync({})).should.eql({ ok: true, value: 1234, where: "flow.campaign" });
  });

  it("a bad setting fails at deploy", () => {
    (() => reader("payload..x", "msg")).should.throw();
    (() => reader("{", "json")).should.throw();
    (() => reader("payload[", "jsonata")).should.throw();
  });
});
