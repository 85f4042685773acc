/**
 * Get Daily Usage and Last 7 Days Usage count every API user's calls per quota day, as Marketo
 * does ("Usage data includes a total count of API calls and a per-user breakdown", usage.md in
 * AdobeDocs/marketo-developer.en), and start a new day at 00:00 America/Chicago or when the
 * emulator's quota day is rolled over.
 */
import "should";
import { startEmulator, type EmulatorHandle } from "../../nodes/emulator";
import { call, describeCall, token } from "./emulator-http";

// 2026-03-02 23:30 in Chicago (CST, UTC-6): half an hour before the quota day ends.
const LATE = Date.parse("2026-03-03T05:30:00Z");

describe("emulator usage stats: every API user, per quota day", () => {
  let emu: EmulatorHandle;
  const clock = { now: LATE };
  let a: string;
  let b: string;

  before(async () => {
    emu = await startEmulator({ port: 0, now: () => clock.now });
    emu.addClient({ clientId: "other-integration", clientSecret: "other-secret" });
    a = await token(emu);
    b = await token(emu, "other-integration", "other-secret");
  });
  after(() => emu.stop());

  const usage = async (tok: string) => (await call(emu, "/rest/v1/stats/usage.json", { token: tok })).json;

  it("counts each API user's counted calls on today's date, and error answers per code", async () => {
    for (let i = 0; i < 3; i++) await describeCall(emu, a);
    await describeCall(emu, b);
    // A response-level error is not a counted call, but Get Daily Errors lists it.
    (await call(emu, "/rest/v1/nothing.json", { token: b })).json.errors[0].code.should.equal("610");
    const day = await usage(a);
    // The usage call itself is answered before it is counted.
    day.result.should.eql([
      {
        date: "2026-03-02",
        total: 4,
        users: [
          { userId: emu.clientId, count: 3 },
          { userId: "other-integration", count: 1 },
        ],
      },
    ]);
    const errors = (await call(emu, "/rest/v1/stats/errors.json", { token: a })).json;
    errors.result.should.eql([{ date: "2026-03-02", total: 1, errors: [{ errorCode: "610", count: 1 }] }]);
  });

  it("starts a new day at 00:00 in Chicago and keeps the last seven", async () => {
    clock.now = LATE + 31 * 60_000; // 00:01 on 2026-03-03 in Chicago
    await describeCall(emu, b);
    (await usage(b)).result.should.eql([
      { date: "2026-03-03", total: 1, users: [{ userId: "other-integration", count: 1 }] },
    ]);
    const week = (await call(emu, "/rest/v1/stats/usage/last7days.json", { token: a })).json.result;
    week
      .map((d: { date: string; total: number }) => [d.date, d.total])
      .should.eql([
        ["2026-03-03", 2],
        // three describes and one by the other user, the usage read and the errors read
        ["2026-03-02", 6],
      ]);
  });

  it("starts the next day when the emulator's quota day is rolled over", async () => {
    emu.rolloverDay();
    emu.stats().dailyUsed.should.equal(0);
    await describeCall(emu, a);
    (await usage(a)).result.should.eql([{ date: "2026-03-04", total: 1, users: [{ userId: emu.clientId, count: 1 }] }]);
  });
});
