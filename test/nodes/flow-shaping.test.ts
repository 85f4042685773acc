/**
 * Flow shaping: tag-filter → field-mapper → status-mapper, each exactly as the editor
 * creates it (its HTML defaults), turns the Kaltura- and Certain-style samples into Marketo
 * records with a program status, and says why it held back the rest.
 */
import fs from "node:fs";
import path from "node:path";
import should from "should";
import helper = require("node-red-node-test-helper");
import tagFilter = require("../../nodes/tag-filter");
import fieldMapper = require("../../nodes/field-mapper");
import statusMapper = require("../../nodes/status-mapper");
import { editorDefaults } from "../helpers/editor-defaults";

helper.init(require.resolve("node-red"));

type Msg = Record<string, any>;
const samples = (name: string): Msg[] =>
  JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", name), "utf8"));

function chain() {
  return [
    { id: "tab", type: "tab", label: "flow-shaping" },
    { ...editorDefaults("tag-filter"), id: "filter", z: "tab", type: "tag-filter", wires: [["mapper"], ["rejected"]] },
    { ...editorDefaults("field-mapper"), id: "mapper", z: "tab", type: "field-mapper", wires: [["status"], ["invalid"]] },
    { ...editorDefaults("status-mapper"), id: "status", z: "tab", type: "status-mapper", wires: [["out"], ["held"]] },
    ...["out", "rejected", "invalid", "held"].map((id) => ({ id, z: "tab", type: "helper" })),
  ];
}

describe("tag-filter → field-mapper → status-mapper from their defaults", function () {
  afterEach(async () => {
    await helper.unload();
  });

  async function run(msgs: Msg[]) {
    await helper.load([tagFilter, fieldMapper, statusMapper], chain());
    const got: Record<string, Msg[]> = { out: [], rejected: [], invalid: [], held: [] };
    for (const id of Object.keys(got)) helper.getNode(id).on("input", (m: Msg) => got[id].push(m));
    for (const m of msgs) helper.getNode("filter").receive(structuredClone(m));
    const until = Date.now() + 3000;
    while (Object.values(got).reduce((n, l) => n + l.length, 0) < msgs.length) {
      if (Date.now() > until) throw new Error(`only ${JSON.stringify(Object.fromEntries(Object.entries(got).map(([k, v]) => [k, v.length])))} answered`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return got;
  }

  it("handles the Kaltura-style samples", async () => {
    const got = await run(samples("kaltura-events.json"));
    got.out.length.should.equal(1);
    const [reg] = got.out;
    reg.payload.should.eql({
      email: "ada.lovelace@example.com",
      firstName: "Ada",
      lastName: "Lovelace",
      company: "analytical engines ltd",
      registrationCode: "R-1001",
    });
    reg.source.registration.code.should.equal("R-1001");
    reg.marketo.programStatus.should.eql({ name: "autoConfirmed", step: 40, success: true, source: "Registered no confirmation required" });
    // By default only "Registration Create Update" flows; status changes and engagement say so.
    got.rejected.map((m) => [m.topic, m.filtered.rule]).should.eql([
      ["registration.status_changed", "source"],
      ["session.engagement", "source"],
    ]);
    got.invalid.length.should.equal(0);
    got.held.length.should.equal(0);
  });

  it("handles the Certain-style samples, dropping the test registration from a live flow", async () => {
    const got = await run(samples("certain-events.json"));
    got.out.map((m) => [m.payload.email, m.payload.firstName, m.payload.lastName, m.marketo.programStatus.name]).should.eql([
      ["grace.hopper@example.org", "Grace", "Hopper", "Registered"],
    ]);
    got.rejected.map((m) => m.filtered.rule).sort().should.eql(["live-test", "source"]);
    should(got.rejected.find((m) => m.filtered.rule === "live-test")!.payload.registration.code).equal("C-55013");
  });

  it("finds the status in the event after field-mapper moved it to msg.source", async () => {
    const got = await run([samples("kaltura-events.json")[0]]);
    got.out[0].should.have.property("source");
    got.out[0].payload.should.not.have.property("registration");
    got.out[0].marketo.programStatus.source.should.equal("Registered no confirmation required");
  });
});
