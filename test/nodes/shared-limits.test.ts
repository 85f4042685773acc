/**
 * One Marketo subscription, one set of limits: config nodes naming the same instance share one
 * window, one set of concurrency slots and one daily count in a Node-RED, and the day's count
 * survives a restart (kept in the userDir, and read back from Marketo's Get Daily Usage).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import should from "should";
import helper = require("node-red-node-test-helper");
import marketoConfig = require("../../nodes/marketo-config");
import marketoLead = require("../../nodes/marketo-lead");
import { MarketoClient } from "../../nodes/lib/marketo";
import { startEmulator, type EmulatorHandle } from "../../src/emulator";
import { editorDefaults } from "../helpers/editor-defaults";
import { collect, spied, until, type FlowNode } from "../helpers/marketo-flow";
import { startNodeRed, type NodeRedProcess } from "../helpers/node-red-process";

helper.init(require.resolve("node-red"));

const USER_B = { clientId: "second-api-user", clientSecret: "second-secret" };

function config(id: string, emu: EmulatorHandle, limits: Record<string, number>): FlowNode {
  return { id, type: "marketo-config", name: `emulator ${id}`, endpoint: emu.url, credentialSource: "credentials", clientIdEnv: "", clientSecretEnv: "", ...limits };
}

/** The day's total as Marketo reports it (every API user). */
async function usageToday(emu: EmulatorHandle): Promise<number> {
  const token = await (await fetch(`${emu.url}/identity/oauth/token?grant_type=client_credentials&client_id=${emu.clientId}&client_secret=${emu.clientSecret}`)).json() as { access_token: string };
  const res = await fetch(`${emu.url}/rest/v1/stats/usage.json`, { headers: { Authorization: `Bearer ${token.access_token}` } });
  const body = (await res.json()) as { result: Array<{ total: number }> };
  return body.result[0].total;
}

describe("shared limits: one instance, one set of limits", function () {
  this.timeout(120_000);

  describe("in one Node-RED", () => {
    let emu: EmulatorHandle | undefined;
    afterEach(async () => {
      await helper.unload();
      await emu?.stop();
      emu = undefined;
    });

    it("two config nodes on one instance (two API users) share the window and the slots: 0 × 606/615, never more than the window", async () => {
      // A 1 s window keeps the test short; both configs and the emulator have the same limits.
      const limits = { callsPerWindow: 10, windowMs: 1000, concurrency: 1 };
      emu = await startEmulator({ limits, latencyMs: 40, latencyJitterMs: 40, clients: [USER_B] });
      const node = (id: string, cfg: string): FlowNode => ({ ...editorDefaults("marketo-lead"), id, type: "marketo-lead", z: "tab", marketo: cfg, bulkThreshold: 0, wires: [["done"], ["failed"]] });
      await helper.load(
        [marketoConfig, marketoLead],
        [
          { id: "tab", type: "tab", label: "two configs" },
          config("cfg-a", emu, { ...limits, batchWindowMs: 1, dailyBudget: 50000 }),
          config("cfg-b", emu, { ...limits, batchWindowMs: 1, dailyBudget: 50000 }),
          node("lead-a", "cfg-a"),
          node("lead-b", "cfg-b"),
          { id: "done", z: "tab", type: "helper" },
          { id: "failed", z: "tab", type: "helper" },
        ],
        { "cfg-a": { clientId: emu.clientId, clientSecret: emu.clientSecret }, "cfg-b": USER_B },
      );
      const got = collect(["done", "failed"] as const);
      // One lead per node, again and again: a lead never shares a call with itself, so each
      // message is its own call. 2 × 30 calls, and two calls at once if either config believed
      // the slot and the window were its own.
      for (let i = 0; i < 30; i++) {
        spied("lead-a").receive({ payload: { email: "a@example.com", firstName: `A${i}` } });
        spied("lead-b").receive({ payload: { email: "b@example.com", firstName: `B${i}` } });
      }
      await until(() => got.done.length + got.failed.length === 60, "every message answered", 90_000);
      got.failed.map((m) => m.marketo.error).should.eql([]);
      const stats = emu.stats();
      should(stats.answersByCode["606"] ?? 0).equal(0);
      should(stats.answersByCode["615"] ?? 0).equal(0);
      stats.maxCallsInWindow.should.be.belowOrEqual(10);
      stats.maxInFlight.should.be.belowOrEqual(1);
      stats.callsByRoute["POST /rest/v1/leads.json"].should.equal(60);
      emu.state().leads.should.have.length(2);
      // Both configs say which instance they name (the sidebar shows it once, with both).
      const instanceOf = (id: string) => (helper.getNode(id) as unknown as { instance?: string }).instance;
      should(instanceOf("cfg-a")).equal(new URL(emu.url).host);
      should(instanceOf("cfg-b")).equal(instanceOf("cfg-a"));
      // The day's count is the instance's: both clients report the same figure.
      const usageOf = (id: string) => (helper.getNode(id) as unknown as { client: { usage(): { callsToday: number } } }).client.usage().callsToday;
      usageOf("cfg-a").should.equal(usageOf("cfg-b"));
      usageOf("cfg-a").should.be.aboveOrEqual(60);
    });
  });

  describe("a stalled network", () => {
    let emu: EmulatorHandle | undefined;
    afterEach(async () => {
      await emu?.stop();
      emu = undefined;
    });

    it("calls held longer than the window and released together stay within it: a call counts until its answer, not only when sent", async () => {
      // More slots than calls per window, so only the window can hold calls back.
      const limits = { callsPerWindow: 5, windowMs: 1000, concurrency: 10 };
      emu = await startEmulator({ limits });
      const c = new MarketoClient({ endpoint: emu.url, clientId: emu.clientId, clientSecret: emu.clientSecret, ...limits });
      try {
        await c.getLeadsByFilter("email", ["warm@example.com"]); // the token, before the stall
        await new Promise((r) => setTimeout(r, limits.windowMs + 50));
        emu.resetStats();
        emu.pause(); // the network stalls: Marketo sees none of the calls until it resumes
        const calls = Array.from({ length: 12 }, (_, i) => c.syncLeads([{ email: `stall${i}@example.com` }]));
        await new Promise((r) => setTimeout(r, 2.5 * limits.windowMs));
        // Sent by the window's count at send time alone, eight or more would be on the wire by now.
        emu.resume();
        const results = (await Promise.all(calls)).flat();
        results.every((r) => r.ok).should.be.true();
        const stats = emu.stats();
        should(stats.answersByCode["606"] ?? 0).equal(0);
        stats.maxCallsInWindow.should.be.belowOrEqual(limits.callsPerWindow);
      } finally {
        await c.close();
      }
    });
  });

  describe("across restarts of a real Node-RED", () => {
    let emu: EmulatorHandle | undefined;
    let red: NodeRedProcess | undefined;
    afterEach(async () => {
      await red?.stop();
      red = undefined;
      await emu?.stop();
      emu = undefined;
    });

    const BUDGET = 4;

    function flows(emu: EmulatorHandle): Array<Record<string, unknown>> {
      const z = "tab";
      return [
        { id: z, type: "tab", label: "budget" },
        { ...config("cfg", emu, { callsPerWindow: 100, concurrency: 10, dailyBudget: BUDGET, batchWindowMs: 20 }), z: "" },
        { id: "in", type: "http in", z, url: "/events", method: "post", upload: false, wires: [["ack", "strip"]] },
        { id: "ack", type: "http response", z, statusCode: "200", wires: [] },
        { id: "strip", type: "function", z, func: "delete msg.req;\ndelete msg.res;\nreturn msg;", outputs: 1, wires: [["lead"]] },
        { id: "lead", type: "marketo-lead", z, marketo: "cfg", action: "sync", syncAction: "createOrUpdate", lookupField: "email", raiseErrors: false, bulkThreshold: 0, wires: [[], []] },
      ];
    }

    async function post(red: NodeRedProcess, i: number): Promise<void> {
      const res = await fetch(`${red.url}/events`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ email: `r${i}@example.com` }) });
      await res.text();
      res.status.should.equal(200);
    }

    /** Posts records one call apart until the budget warning shows (from `from` in the log). */
    async function spendBudget(red: NodeRedProcess, first: number, n: number, from: number): Promise<void> {
      for (let i = first; i < first + n; i++) {
        await post(red, i);
        await new Promise((r) => setTimeout(r, 150)); // past the batch window: one call per record
      }
      await red.waitForLog(/daily budget of 4 calls used/, 30_000, from);
    }

    it("kill -9 mid-day with a budget of 4: the day's count comes back from the userDir, the total never exceeds 4", async () => {
      emu = await startEmulator();
      const port = Number(new URL(emu.url).port);
      const creds = { cfg: { clientId: emu.clientId, clientSecret: emu.clientSecret } };
      red = await startNodeRed({ flows: flows(emu), credentials: creds });
      await spendBudget(red, 0, 6, 0);
      const before = emu.stats().countedCalls;
      before.should.equal(BUDGET);
      const saved = JSON.parse(fs.readFileSync(path.join(red.userDir, "marketo-limits", `127.0.0.1_${port}.json`), "utf8"));
      saved.calls.should.equal(BUDGET);

      // Marketo's own figure is not there to help (a new emulator on the same host: it counts
      // from 0): only the count kept in the userDir stops the calls.
      await red.kill("SIGKILL");
      await emu.stop();
      emu = await startEmulator({ port });
      const from = red.log().length;
      await red.restart();
      await post(red, 100);
      await red.waitForLog(/daily budget of 4 calls used/, 30_000, from);
      emu.stats().countedCalls.should.equal(0);
    });

    it("a fresh userDir on a day other API users already used: Get Daily Usage counts them, the total never exceeds the budget", async () => {
      emu = await startEmulator({ clients: [USER_B] });
      // Another tool, another API user: 3 calls of today's quota.
      const other = new MarketoClient({ endpoint: emu.url, ...USER_B });
      for (let i = 0; i < 3; i++) await other.getLeadsByFilter("email", [`x${i}@example.com`]);
      await other.close();
      emu.stats().countedCalls.should.equal(3);
      red = await startNodeRed({ flows: flows(emu), credentials: { cfg: { clientId: emu.clientId, clientSecret: emu.clientSecret } } });
      await spendBudget(red, 0, 4, 0);
      // The usage read is the 4th call; nothing after it.
      emu.stats().countedCalls.should.equal(BUDGET);
      // Marketo's figure (read with a call of its own) agrees.
      (await usageToday(emu)).should.be.belowOrEqual(BUDGET + 1);
    });
  });
});
