/** The pass/hold outputs of the flow nodes in src/lib/node-kit/pass-hold.ts. */
import "should";
import { sendHeld, sendPassed } from "../../src/lib/node-kit/pass-hold";

describe("node-kit pass/hold", () => {
  it("a passed message goes to output 1 without an earlier msg.filtered", () => {
    const sent: Array<Array<object | null>> = [];
    const msg: Record<string, unknown> = { payload: 1, filtered: { rule: "x", reason: "earlier" } };
    sendPassed(msg, (out) => sent.push(out));
    sent.should.eql([[{ payload: 1 }, null]]);
    Object.prototype.hasOwnProperty.call(msg, "filtered").should.be.false();
  });

  it("a held message goes to output 2 with msg.filtered saying why", () => {
    const sent: Array<Array<object | null>> = [];
    const msg: Record<string, unknown> = { payload: 1 };
    sendHeld(msg, { rule: "tag", reason: "no tag" }, (out) => sent.push(out));
    sent.should.eql([[null, { payload: 1, filtered: { rule: "tag", reason: "no tag" } }]]);
  });
});
