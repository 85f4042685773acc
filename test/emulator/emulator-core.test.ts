/**
 * The emulator's gateway: identity, auth codes, routing codes, size limits, the three call
 * limits, permissions, fault injection, pause/resume, stats and the inspection API.
 */
import should from "should";
import { startEmulator, type EmulatorHandle, type EmulatorOptions } from "../../nodes/emulator";
import net from "node:net";
import { call, describeCall, identity, sleep, token } from "./emulator-http";

/** Sends raw bytes (fetch refuses malformed request targets) and reads until the server closes. */
function rawHttp(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(request));
    let out = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (out += d));
    socket.on("end", () => resolve(out));
    socket.on("error", reject);
  });
}

describe("emulator core", function () {
  this.timeout(20_000);
  let emu: EmulatorHandle;
  const start = async (opts: EmulatorOptions = {}): Promise<EmulatorHandle> => {
    emu = await startEmulator(opts);
    return emu;
  };
  afterEach(async () => {
    if (emu) await emu.stop();
  });

  describe("identity", () => {
    it("hands back the same token with a decreasing expires_in, OAuth headers, uncounted", async () => {
      await start({ tokenTtlSeconds: 3 });
      const first = await identity(emu);
      first.status.should.equal(200);
      first.headers.get("cache-control")!.should.equal("no-store");
      first.headers.get("pragma")!.should.equal("no-cache");
      first.headers.get("content-type")!.should.equal("application/json;charset=UTF-8");
      first.json.token_type.should.equal("bearer");
      first.json.access_token.should.match(/^[0-9a-f-]{36}:ab$/);
      first.json.expires_in.should.equal(2);
      await sleep(1100);
      const second = await identity(emu);
      second.json.access_token.should.equal(first.json.access_token);
      second.json.expires_in.should.be.below(first.json.expires_in);
      const s = emu.stats();
      s.identityCalls.should.equal(2);
      s.countedCalls.should.equal(0);
      s.dailyUsed.should.equal(0);
    });

    it("accepts POST with a form body", async () => {
      await start();
      const body = new URLSearchParams({
        grant_type: "client_credentials",
        client_id: emu.clientId,
        client_secret: emu.clientSecret,
      });
      const a = await call(emu, "/identity/oauth/token", {
        body: body.toString(),
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      });
      a.status.should.equal(200);
      a.json.expires_in.should.equal(3599);
    });

    it("answers 401 with OAuth-style bodies for bad credentials", async () => {
      await start();
      const wrong = await identity(emu, emu.clientId, "nope");
      wrong.status.should.equal(401);
      wrong.json.should.eql({ error: "invalid_client", error_description: "Bad client credentials" });
      const unknown = await identity(emu, "nobody", "x");
      unknown.status.should.equal(401);
      unknown.json.should.eql({ error: "unauthorized", error_description: "No client with requested id: nobody" });
      const noGrant = await call(
        emu,
        `/identity/oauth/token?client_id=${emu.clientId}&client_secret=${emu.clientSecret}`,
      );
      noGrant.status.should.equal(400);
      noGrant.json.error.should.be.a.String();
      noGrant.json.should.not.have.property("access_token");
    });

    it("answers a wrong or missing grant_type from a good client with OAuth's 400, not 401", async () => {
      await start();
      const creds = `client_id=${emu.clientId}&client_secret=${emu.clientSecret}`;
      const missing = await call(emu, `/identity/oauth/token?${creds}`);
      missing.status.should.equal(400);
      missing.json.should.eql({ error: "invalid_request", error_description: "Missing grant type" });
      const wrong = await call(emu, `/identity/oauth/token?grant_type=password&${creds}`);
      wrong.status.should.equal(400);
      wrong.json.should.eql({ error: "unsupported_grant_type", error_description: "Unsupported grant type: password" });
      // Client authentication still comes first: bad credentials are 401 whatever the grant.
      (
        await call(emu, `/identity/oauth/token?grant_type=password&client_id=${emu.clientId}&client_secret=no`)
      ).status.should.equal(401);
    });

    it("counts expires_in down on the emulator's clock and answers 602 at expiry", async () => {
      const clock = { now: Date.parse("2026-06-15T12:00:00Z") };
      await start({ now: () => clock.now });
      const first = await identity(emu);
      first.json.expires_in.should.equal(3599);
      clock.now += 3599_000 - 1;
      (await identity(emu)).json.expires_in.should.equal(1);
      clock.now += 1; // the token's last second
      const late = await identity(emu);
      late.json.access_token.should.equal(first.json.access_token);
      late.json.expires_in.should.equal(0);
      clock.now += 999;
      (await describeCall(emu, late.json.access_token)).json.success.should.be.true();
      clock.now += 1;
      (await describeCall(emu, first.json.access_token)).json.errors[0].code.should.equal("602");
      (await identity(emu)).json.access_token.should.not.equal(first.json.access_token);
    });

    it("an expired token answers 602, then identity mints a new one", async () => {
      await start({ tokenTtlSeconds: 1 });
      const old = await token(emu);
      (await describeCall(emu, old)).json.success.should.be.true();
      await sleep(1050);
      const expired = await describeCall(emu, old);
      expired.json.errors.should.eql([{ code: "602", message: "Access token expired" }]);
      const fresh = await token(emu);
      fresh.should.not.equal(old);
      (await describeCall(emu, fresh)).json.success.should.be.true();
    });

    it("expireTokens() makes the live token answer 602", async () => {
      await start();
      const old = await token(emu);
      emu.expireTokens().should.eql({ expired: 1 });
      (await describeCall(emu, old)).json.errors[0].code.should.equal("602");
      (await token(emu)).should.not.equal(old);
    });

    it("keeps tokens per client id", async () => {
      await start();
      emu.addClient({ clientId: "second", clientSecret: "s2" });
      const a = await token(emu);
      const b = await token(emu, "second", "s2");
      a.should.not.equal(b);
    });
  });

  describe("gateway codes", () => {
    it("600 without a token, 601 for an unknown one, none counted", async () => {
      await start();
      const none = await call(emu, "/rest/v1/leads/describe.json");
      none.status.should.equal(200);
      none.json.success.should.be.false();
      none.json.errors[0].code.should.equal("600");
      const bad = await describeCall(emu, "garbage:ab");
      bad.json.errors.should.eql([{ code: "601", message: "Access token invalid" }]);
      emu.stats().countedCalls.should.equal(0);
    });

    it("accepts the legacy access_token parameter only when allowed", async () => {
      const lines: string[] = [];
      await start({ log: (l) => lines.push(l) });
      const tok = await token(emu);
      const a = await call(emu, `/rest/v1/leads/describe.json?access_token=${encodeURIComponent(tok)}`);
      a.json.success.should.be.true();
      lines.filter((l) => l.includes("warning")).length.should.equal(1);
      lines.join("\n").should.not.containEql(tok);
      await emu.stop();

      await start({ allowQueryToken: false });
      const tok2 = await token(emu);
      const b = await call(emu, `/rest/v1/leads/describe.json?access_token=${encodeURIComponent(tok2)}`);
      b.json.errors[0].code.should.equal("600");
    });

    it("610 unknown path, 605 wrong verb, 612 wrong content type, 609 bad JSON", async () => {
      await start();
      const tok = await token(emu);
      const unknown = await call(emu, "/rest/v1/nothing.json", { token: tok });
      unknown.json.errors.should.eql([{ code: "610", message: "Requested resource not found" }]);
      const verb = await call(emu, "/rest/v1/leads/describe.json", { token: tok, method: "DELETE" });
      verb.json.errors[0].code.should.equal("605");
      const type = await call(emu, "/rest/v1/leads.json", {
        token: tok,
        body: JSON.stringify({ input: [{ email: "a@example.com" }] }),
        headers: { "Content-Type": "text/plain" },
      });
      type.json.errors[0].code.should.equal("612");
      const badJson = await call(emu, "/rest/v1/leads.json", {
        token: tok,
        body: "{not json",
        headers: { "Content-Type": "application/json" },
      });
      badJson.json.errors[0].code.should.equal("609");
      emu.state().leads.length.should.equal(0);
      const s = emu.stats();
      s.countedCalls.should.equal(0);
      s.answersByCode.should.eql({ "605": 1, "609": 1, "610": 1, "612": 1 });
    });

    it("routes POST + _method=GET with a form body to the GET handler", async () => {
      await start();
      const tok = await token(emu);
      await call(emu, "/rest/v1/leads.json", { token: tok, json: { input: [{ email: "ann@example.com" }] } });
      const form = new URLSearchParams({
        _method: "GET",
        filterType: "email",
        filterValues: "ann@example.com",
        fields: "email",
      });
      const a = await call(emu, "/rest/v1/leads.json", {
        token: tok,
        body: form.toString(),
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      });
      a.json.success.should.be.true();
      a.json.result.length.should.equal(1);
      a.json.result[0].email.should.equal("ann@example.com");
      emu.stats().callsByRoute.should.have.property("GET /rest/v1/leads.json", 1);
    });

    it("413 for a body over the limit and 414 for a long URL, as HTML, uncounted", async () => {
      await start({ limits: { maxBodyBytes: 10_000 } });
      const tok = await token(emu);
      const big = await call(emu, "/rest/v1/leads.json", {
        token: tok,
        json: { input: [{ email: "a@example.com", address: "x".repeat(20_000) }] },
      });
      big.status.should.equal(413);
      big.headers.get("content-type")!.should.startWith("text/html");
      big.text.should.containEql("413");
      const long = await call(emu, `/rest/v1/leads.json?filterType=email&filterValues=${"a".repeat(9000)}`, {
        token: tok,
      });
      long.status.should.equal(414);
      long.text.should.containEql("414");
      const s = emu.stats();
      s.countedCalls.should.equal(0);
      s.answersByStatus.should.have.property("413", 1);
      s.answersByStatus.should.have.property("414", 1);
      emu.state().leads.length.should.equal(0);
    });

    it("1003 at response level for 301 records, before the handler", async () => {
      await start();
      const tok = await token(emu);
      const input = Array.from({ length: 301 }, (_, i) => ({ email: `p${i}@example.com` }));
      const a = await call(emu, "/rest/v1/leads.json", { token: tok, json: { input } });
      a.json.success.should.be.false();
      a.json.errors[0].code.should.equal("1003");
      a.json.should.not.have.property("result");
      emu.state().leads.length.should.equal(0);
      const ok = await call(emu, "/rest/v1/leads.json", { token: tok, json: { input: input.slice(0, 300) } });
      ok.json.result.length.should.equal(300);
    });

    it("asset-family envelopes always carry errors and warnings arrays", async () => {
      await start();
      const tok = await token(emu);
      const a = await call(emu, "/rest/asset/v1/nothing/at/all.json", { token: tok });
      a.json.should.containDeep({ success: false, errors: [{ code: "610" }], warnings: [] });
    });

    it("multipart bodies are refused with 612 outside the bulk API", async () => {
      await start();
      const tok = await token(emu);
      const form = new FormData();
      form.append("file", new Blob(["email\na@example.com\n"], { type: "text/csv" }), "leads.csv");
      const a = await call(emu, "/rest/v1/leads.json", { token: tok, body: form });
      a.json.errors[0].code.should.equal("612");
    });

    it("answers a request target the URL parser refuses with a recorded 610, not a bare 500", async () => {
      await start();
      const answer = await rawHttp(emu.port, "GET //[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      answer.should.startWith("HTTP/1.1 200");
      const body = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4));
      body.should.containDeep({ success: false, errors: [{ code: "610", message: "Requested resource not found" }] });
      body.requestId.should.match(/^[0-9a-f]+#[0-9a-f]+$/);
      const s = emu.stats();
      s.totalRequests.should.equal(1);
      s.answersByCode.should.eql({ "610": 1 });
    });

    it("every envelope has a requestId of <hex counter>#<hex epoch ms> and the JSON content type", async () => {
      await start();
      const tok = await token(emu);
      const a = await describeCall(emu, tok);
      const b = await call(emu, "/rest/v1/nothing.json", { token: tok });
      for (const x of [a, b]) {
        x.headers.get("content-type")!.should.equal("application/json;charset=UTF-8");
        const [counter, time] = String(x.json.requestId).split("#");
        counter.should.match(/^[0-9a-f]+$/);
        Math.abs(parseInt(time, 16) - Date.now()).should.be.below(5000);
      }
      a.json.requestId.should.not.equal(b.json.requestId);
      a.json.should.not.have.property("errors");
    });
  });

  describe("call limits", () => {
    it("606 at the window limit; the rejected call is not counted; the window rolls", async () => {
      await start({ limits: { callsPerWindow: 5, windowMs: 1000 } });
      const tok = await token(emu);
      for (let i = 0; i < 5; i++) (await describeCall(emu, tok)).json.success.should.be.true();
      const over = await describeCall(emu, tok);
      over.json.errors.should.eql([{ code: "606", message: "Max rate limit '5' exceeded with in '1' secs" }]);
      const s = emu.stats();
      s.countedCalls.should.equal(5);
      s.dailyUsed.should.equal(5);
      s.maxCallsInWindow.should.equal(5);
      await sleep(1050);
      (await describeCall(emu, tok)).json.success.should.be.true();
    });

    it("calls failing with a response-level error do not use the window", async () => {
      await start({ limits: { callsPerWindow: 3, windowMs: 5000 } });
      const tok = await token(emu);
      for (let i = 0; i < 5; i++) {
        const bad = await call(emu, "/rest/v1/leads.json?filterType=email&filterValues=a@b.co&fields=nope", {
          token: tok,
        });
        bad.json.errors[0].code.should.equal("1006");
      }
      for (let i = 0; i < 3; i++) (await describeCall(emu, tok)).json.success.should.be.true();
      (await describeCall(emu, tok)).json.errors[0].code.should.equal("606");
      emu.stats().countedCalls.should.equal(3);
    });

    it("judges a parallel burst at admission: exactly the limit gets through", async () => {
      await start({ limits: { callsPerWindow: 4, windowMs: 5000, concurrency: 50 }, latencyMs: 100 });
      const tok = await token(emu);
      const answers = await Promise.all(Array.from({ length: 10 }, () => describeCall(emu, tok)));
      answers.filter((a) => a.json.success).length.should.equal(4);
      answers.filter((a) => a.json.errors?.[0].code === "606").length.should.equal(6);
      emu.stats().maxCallsInWindow.should.equal(4);
    });

    it("615 when more calls are in flight than the concurrency limit", async () => {
      await start({ limits: { concurrency: 2 }, latencyMs: 200 });
      const tok = await token(emu);
      const answers = await Promise.all(Array.from({ length: 5 }, () => describeCall(emu, tok)));
      answers.filter((a) => a.json.success).length.should.equal(2);
      const rejected = answers.filter((a) => !a.json.success);
      rejected.length.should.equal(3);
      rejected[0].json.errors.should.eql([{ code: "615", message: "Concurrent access limit '2' reached" }]);
      const s = emu.stats();
      s.maxInFlight.should.equal(2);
      s.inFlight.should.equal(0);
      s.countedCalls.should.equal(2);
      s.answersByCode.should.have.property("615", 3);
    });

    it("607 once the daily quota is used, until the day rolls over", async () => {
      await start({ limits: { dailyQuota: 3 } });
      const tok = await token(emu);
      for (let i = 0; i < 3; i++) (await describeCall(emu, tok)).json.success.should.be.true();
      (await describeCall(emu, tok)).json.errors.should.eql([{ code: "607", message: "Daily quota reached" }]);
      const s = emu.stats();
      s.dailyUsed.should.equal(3);
      s.dailyQuota.should.equal(3);
      Date.parse(s.quotaResetsAt).should.be.above(Date.now());
      emu.rolloverDay().dailyUsed.should.equal(0);
      (await describeCall(emu, tok)).json.success.should.be.true();
    });

    it("resets the daily quota at 00:00 America/Chicago on the emulator's clock", async () => {
      // 2026-06-15 23:59 CDT = 2026-06-16T04:59Z; midnight CDT = 05:00Z.
      const clock = { now: Date.parse("2026-06-16T04:59:00Z") };
      await start({ limits: { dailyQuota: 2 }, now: () => clock.now });
      const tok = await token(emu);
      for (let i = 0; i < 2; i++) (await describeCall(emu, tok)).json.success.should.be.true();
      (await describeCall(emu, tok)).json.errors[0].code.should.equal("607");
      emu.stats().quotaResetsAt.should.equal("2026-06-16T05:00:00.000Z");
      clock.now = Date.parse("2026-06-16T04:59:59.999Z");
      (await describeCall(emu, tok)).json.errors[0].code.should.equal("607");
      clock.now = Date.parse("2026-06-16T05:00:00Z");
      (await describeCall(emu, tok)).json.success.should.be.true();
      const s = emu.stats();
      s.dailyUsed.should.equal(1);
      s.quotaResetsAt.should.equal("2026-06-17T05:00:00.000Z");
    });

    it("identity calls are never limited", async () => {
      await start({ limits: { callsPerWindow: 1, windowMs: 5000 } });
      for (let i = 0; i < 5; i++) (await identity(emu)).status.should.equal(200);
    });
  });

  describe("permissions", () => {
    it("603 when the API user's role lacks the route's permission", async () => {
      await start({ clients: [{ clientId: "reader", clientSecret: "r", permissions: ["Read-Only Person"] }] });
      emu.addClient({ clientId: "assets-only", clientSecret: "a", permissions: ["Read-Only Assets"] });
      const reader = await token(emu, "reader", "r");
      (await describeCall(emu, reader)).json.success.should.be.true();
      const write = await call(emu, "/rest/v1/leads.json", {
        token: reader,
        json: { input: [{ email: "a@example.com" }] },
      });
      write.json.errors.should.eql([{ code: "603", message: "Access denied" }]);
      const other = await token(emu, "assets-only", "a");
      (await describeCall(emu, other)).json.errors[0].code.should.equal("603");
      emu.state().leads.length.should.equal(0);
      emu.stats().countedCalls.should.equal(1);
    });
  });

  describe("fault injection", () => {
    it("envelope faults carry Marketo's code and are not counted", async () => {
      await start({ faults: { rate: 1, codes: ["608"] } });
      const tok = await token(emu);
      const a = await describeCall(emu, tok);
      a.status.should.equal(200);
      a.json.errors.should.eql([{ code: "608", message: "API Temporarily Unavailable" }]);
      emu.stats().countedCalls.should.equal(0);
      emu.stats().faultsInjected.should.equal(1);
    });

    it("502 is an HTML page and 500 plain text", async () => {
      await start({ faults: { rate: 1, codes: ["502"] } });
      const tok = await token(emu);
      const gw = await describeCall(emu, tok);
      gw.status.should.equal(502);
      gw.headers.get("content-type")!.should.startWith("text/html");
      gw.text.should.containEql("502 Bad Gateway");
      emu.setFaults({ codes: ["500"] }).codes.should.eql(["500"]);
      const ise = await describeCall(emu, tok);
      ise.status.should.equal(500);
      ise.headers.get("content-type")!.should.startWith("text/plain");
      should(ise.json).be.undefined();
      emu.stats().answersByCode.should.eql({ "500": 1, "502": 1 });
    });

    it("resets the connection without an answer", async () => {
      await start({ faults: { resetRate: 1 } });
      const tok = await token(emu);
      await describeCall(emu, tok).should.be.rejected();
      emu.stats().connectionResets.should.equal(1);
      emu.stats().inFlight.should.equal(0);
    });

    it("applyBeforeFailure: the write lands although the client sees 604", async () => {
      await start({ faults: { rate: 1, codes: ["604"], applyBeforeFailure: true } });
      const tok = await token(emu);
      const a = await call(emu, "/rest/v1/leads.json", { token: tok, json: { input: [{ email: "a@example.com" }] } });
      a.json.errors[0].code.should.equal("604");
      emu.state().leads.length.should.equal(1);
      emu.setFaults({ applyBeforeFailure: false });
      const b = await call(emu, "/rest/v1/leads.json", { token: tok, json: { input: [{ email: "b@example.com" }] } });
      b.json.errors[0].code.should.equal("604");
      emu.state().leads.length.should.equal(1);
    });

    it("rejects invalid fault settings without changing the current ones", async () => {
      await start();
      (() => emu.setFaults({ latencyMs: -1 })).should.throw(/latencyMs/);
      (() => emu.setFaults({ codes: ["oops"] })).should.throw(/codes/);
      (() => emu.setFaults({ rate: 0.2, resetRate: 7 })).should.throw(/resetRate/);
      emu.faults().rate.should.equal(0);
    });
  });

  describe("pause and resume", () => {
    it("holds API calls while identity and inspection still answer", async () => {
      await start();
      const tok = await token(emu);
      emu.pause().paused.should.be.true();
      let settled = false;
      const pending = describeCall(emu, tok).then((a) => {
        settled = true;
        return a;
      });
      await sleep(150);
      settled.should.be.false();
      (await identity(emu)).status.should.equal(200);
      const stats = await call(emu, "/_emulator/stats");
      stats.json.paused.should.be.true();
      stats.json.held.should.equal(1);
      emu.resume().released.should.equal(1);
      (await pending).json.success.should.be.true();
    });
  });

  describe("stop", () => {
    it("closes held and keep-alive connections and frees the port", async () => {
      await start();
      const tok = await token(emu);
      await describeCall(emu, tok); // leaves a keep-alive socket open
      emu.pause();
      const held = describeCall(emu, tok);
      await sleep(50);
      await emu.stop();
      await held.should.be.rejected();
      await fetch(`${emu.url}/_emulator/stats`).should.be.rejected();
    });

    it("lets calls caught mid-latency or held leave the limiter, without running their handlers", async () => {
      await start({ latencyMs: 5000 });
      const tok = await token(emu);
      const sleeping = call(emu, "/rest/v1/leads.json", {
        token: tok,
        json: { input: [{ email: "late@example.com" }] },
      });
      for (let i = 0; i < 50 && emu.stats().inFlight === 0; i++) await sleep(10);
      emu.stats().inFlight.should.equal(1);
      emu.pause();
      const held = describeCall(emu, tok);
      for (let i = 0; i < 50 && emu.stats().held === 0; i++) await sleep(10);
      emu.stats().held.should.equal(1);
      await emu.stop();
      (await Promise.allSettled([sleeping, held])).map((r) => r.status).should.eql(["rejected", "rejected"]);
      await sleep(20);
      const s = emu.stats();
      s.inFlight.should.equal(0);
      s.held.should.equal(0);
      s.dailyUsed.should.equal(0);
      emu.state().leads.length.should.equal(0);
    });
  });

  describe("stats and the inspection API", () => {
    it("counts the record results of applied writes per route, so a record sent twice shows", async () => {
      await start({ faults: { rate: 1, codes: ["604"], applyBeforeFailure: true } });
      const tok = await token(emu);
      const sync = (email: string) => call(emu, "/rest/v1/leads.json", { token: tok, json: { input: [{ email }] } });
      // The write applies, the client sees 604: the result still counts, as Marketo stored it.
      (await sync("ann@example.com")).json.errors[0].code.should.equal("604");
      emu.setFaults({ rate: 0 });
      await sync("ann@example.com");
      await sync("bob@example.com");
      await call(emu, "/rest/v1/leads.json?filterType=email&filterValues=ann@example.com", { token: tok });
      emu.stats().resultsByRoute.should.eql({ "POST /rest/v1/leads.json": { created: 2, updated: 1 } });
    });

    it("reports counts per route, code and status, and high-water marks", async () => {
      await start({ latencyMs: 100 });
      const tok = await token(emu);
      await Promise.all([describeCall(emu, tok), describeCall(emu, tok), describeCall(emu, tok)]);
      await call(emu, "/rest/v1/nothing.json", { token: tok });
      const s = emu.stats();
      s.totalRequests.should.equal(5);
      s.identityCalls.should.equal(1);
      s.countedCalls.should.equal(3);
      s.callsByRoute.should.eql({ "GET /rest/v1/leads/describe.json": 3 });
      s.answersByCode.should.eql({ "610": 1 });
      s.answersByStatus.should.eql({ "200": 5 });
      s.resultsByRoute.should.eql({});
      s.maxInFlight.should.equal(3);
      s.maxCallsInWindow.should.equal(3);
      s.callsInWindow.should.equal(3);
      const over = await call(emu, "/_emulator/stats");
      over.json.should.eql({ ...emu.stats() });
      const reset = await call(emu, "/_emulator/stats/reset", { method: "POST" });
      reset.json.totalRequests.should.equal(0);
      reset.json.dailyUsed.should.equal(3);
    });

    it("reads and merges faults and limits, rejecting bad values with 400", async () => {
      await start();
      const f = await call(emu, "/_emulator/faults", { method: "PUT", json: { rate: 0.5 } });
      f.status.should.equal(200);
      f.json.rate.should.equal(0.5);
      f.json.codes.should.eql(["502", "604", "608", "611", "713", "500"]);
      const badF = await call(emu, "/_emulator/faults", { method: "PUT", json: { rate: 2 } });
      badF.status.should.equal(400);
      const l = await call(emu, "/_emulator/limits", { method: "PUT", json: { callsPerWindow: 7 } });
      l.json.callsPerWindow.should.equal(7);
      l.json.windowMs.should.equal(20000);
      (await call(emu, "/_emulator/limits")).json.should.eql(emu.limits());
      (await call(emu, "/_emulator/limits", { method: "PUT", json: { nope: 1 } })).status.should.equal(400);
      (await call(emu, "/_emulator/unknown")).status.should.equal(404);
    });

    it("adds clients, expires tokens, rolls the day and resets everything over HTTP", async () => {
      await start();
      const added = await call(emu, "/_emulator/clients", {
        method: "POST",
        json: { clientId: "ro", clientSecret: "x", permissions: ["Read-Only Person"] },
      });
      added.json.should.eql({ clientId: "ro", permissions: ["Read-Only Person"] });
      (
        await call(emu, "/_emulator/clients", {
          method: "POST",
          json: { clientId: "bad", clientSecret: "x", permissions: ["Root"] },
        })
      ).status.should.equal(400);
      const tok = await token(emu, "ro", "x");
      await call(emu, "/rest/v1/leads.json", {
        token: await token(emu),
        json: { input: [{ email: "a@example.com" }] },
      });
      (await call(emu, "/_emulator/state")).json.leads.length.should.equal(1);
      (await call(emu, "/_emulator/tokens/expire", { method: "POST" })).json.expired.should.equal(2);
      (await describeCall(emu, tok)).json.errors[0].code.should.equal("602");
      const day = await call(emu, "/_emulator/day/rollover", { method: "POST" });
      day.json.dailyUsed.should.equal(0);
      (await call(emu, "/_emulator/reset", { method: "POST" })).json.should.eql({ reset: true });
      emu.state().leads.length.should.equal(0);
      emu.stats().totalRequests.should.equal(0);
      (await describeCall(emu, tok)).json.errors[0].code.should.equal("601");
    });

    it("never counts or limits inspection calls", async () => {
      await start({ limits: { callsPerWindow: 1, windowMs: 5000, dailyQuota: 1 } });
      for (let i = 0; i < 5; i++) (await call(emu, "/_emulator/stats")).status.should.equal(200);
      emu.stats().totalRequests.should.equal(0);
    });
  });
});
