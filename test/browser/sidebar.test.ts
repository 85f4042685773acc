/**
 * Issue 6, the Marketo sidebar in a real browser: after a small run against the emulator its tab
 * shows the counts the emulator holds, and a record held in the retry queue (Marketo refused it:
 * the API user lacked a permission) is delivered once a person resubmits it from the tab.
 * A screenshot of the tab goes to test-artifacts/browser/marketo-sidebar.png.
 */
import path from "node:path";
import "should";
import type { Browser, Page } from "playwright-core";
import { ARTIFACTS, openEditor, requireChromium } from "./chromium";
import { startEmulator, type EmulatorHandle } from "../../src/emulator";
import { configNode } from "../helpers/marketo-flow";
import { startNodeRed, type NodeRedProcess } from "../helpers/node-red-process";

const RECORDS = 4;

describe("Marketo sidebar in a real browser (chromium)", function () {
  this.timeout(60_000);
  let emu: EmulatorHandle;
  let red: NodeRedProcess;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[] = [];

  before(async function () {
    requireChromium(this);
    emu = await startEmulator({ clientSecret: `sidebar-${process.pid}-${Date.now()}` });
    const z = "tab";
    red = await startNodeRed({
      flows: [
        { id: z, type: "tab", label: "sidebar" },
        { ...configNode(emu) },
        { id: "in", type: "http in", z, url: "/events", method: "post", upload: false, wires: [["ack", "split"]] },
        { id: "ack", type: "http response", z, statusCode: "200", wires: [] },
        {
          id: "split",
          type: "function",
          z,
          func: "return [msg.payload.map((r) => ({ topic: 'registration.created', payload: r.payload, source: r.source }))];",
          outputs: 1,
          wires: [["lead"]],
        },
        { id: "lead", type: "marketo-lead", z, name: "registrations", marketo: "cfg", action: "sync", syncAction: "createOrUpdate", lookupField: "email", raiseErrors: false, bulkThreshold: 0, wires: [[], ["queue"]] },
        { id: "queue", type: "retry-queue", z, name: "failures", maxAttempts: 3, backoff: "1m", maxEntries: 100, answerTimeout: "1m", resubmitThrough: "node", wires: [[], [], []] },
      ],
      credentials: { cfg: { clientId: emu.clientId, clientSecret: emu.clientSecret } },
    });
    ({ browser, page, pageErrors } = await openEditor(red.url, "marketo-lead"));
  });

  after(async () => {
    await browser?.close();
    await red?.stop();
    await emu?.stop();
  });

  async function post(records: Array<{ email: string; code: string }>): Promise<void> {
    const body = records.map((r) => ({ payload: { email: r.email, firstName: "Side" }, source: { registration: { code: r.code } } }));
    const res = await fetch(`${red.url}/events`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    res.status.should.equal(200);
    await res.text();
  }

  /** The row of the config's summary card whose label starts with `label`. */
  async function summaryRow(label: string): Promise<string> {
    return page.locator(`.marketo-sb-card[data-config="cfg"] tr`, { hasText: label }).first().locator("td").nth(1).innerText();
  }

  const leadsInEmulator = (prefix: string): string[] =>
    (emu.state() as unknown as { leads: Array<{ email: string }> }).leads.map((l) => l.email).filter((e) => e.startsWith(prefix)).sort();

  it("shows counts that match what the emulator holds after a small run", async () => {
    await page.evaluate(() => (window as any).RED.sidebar.show("marketo-sidebar"));
    await page.waitForSelector(".marketo-sidebar", { state: "visible" });
    await post(Array.from({ length: RECORDS }, (_, i) => ({ email: `side${i}@example.com`, code: `R-${i}` })));
    // The tab updates itself over comms: no reload, no refresh click.
    await page.waitForFunction(
      (n) => {
        const rows = Array.from(document.querySelectorAll<HTMLElement>('.marketo-sb-card[data-config="cfg"] tr'));
        const created = rows.find((r) => r.innerText.startsWith("Leads created"));
        return !!created && created.innerText.includes(`${n} / 0`);
      },
      RECORDS,
      { timeout: 20_000 },
    );
    const emails = leadsInEmulator("side");
    emails.should.have.length(RECORDS);
    (await summaryRow("Leads created")).should.equal(`${emails.length} / 0`);
    (await summaryRow("Records processed")).should.equal(String(RECORDS));
    (await summaryRow("Failed")).should.equal("0");
    // Every call the client counted reached the emulator and was counted there too.
    const calls = await page.locator('.marketo-sb-card[data-config="cfg"] [data-calls-today]').getAttribute("data-calls-today");
    Number(calls).should.equal(emu.stats().countedCalls);
    const feed = await page.locator(".marketo-sb-feed").innerText();
    for (let i = 0; i < RECORDS; i++) feed.should.containEql(`R-${i}`);
    await page.screenshot({ path: path.join(ARTIFACTS, "marketo-sidebar.png") });
    pageErrors.should.eql([]);
  });

  it("resubmitting a held retry-queue entry from the tab delivers it to Marketo", async () => {
    // Marketo refuses the next calls as if the API user lacked a permission (603: auth, permanent): held for a person.
    emu.setFaults({ rate: 1, codes: ["603"] });
    await post([{ email: "held@example.com", code: "R-held" }]);
    await page.evaluate(() => (window as any).RED.sidebar.show("marketo-sidebar"));
    await page.waitForFunction(() => /held 1\b/.test((document.querySelector(".marketo-sb-totals") as HTMLElement | null)?.innerText ?? ""), undefined, { timeout: 20_000 });
    const entry = page.locator(".marketo-sb-entries tr", { hasText: "held" });
    (await entry.count()).should.equal(1);
    (await entry.innerText()).should.match(/auth/);
    leadsInEmulator("held").should.eql([]);

    // The admin granted the permission: the same record goes through now.
    emu.setFaults({ rate: 0 });
    await entry.locator("input.marketo-sb-pick").check();
    await page.click(".marketo-sb-resubmit");
    await page.waitForFunction(() => /Resubmitted 1\b/.test((document.querySelector(".marketo-sb-message") as HTMLElement | null)?.innerText ?? ""));
    const end = Date.now() + 20_000;
    while (leadsInEmulator("held").length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    leadsInEmulator("held").should.eql(["held@example.com"]);
    // Answered, the entry leaves the queue, and the tab says so.
    await page.waitForFunction(
      () => {
        const queue = (document.querySelector(".marketo-sb-queue option:checked") as HTMLElement | null)?.innerText ?? "";
        return /\(0\)$/.test(queue) && /No entries match/.test((document.querySelector(".marketo-sb-entries") as HTMLElement | null)?.innerText ?? "");
      },
      undefined,
      { timeout: 20_000 },
    );
    await page.screenshot({ path: path.join(ARTIFACTS, "marketo-sidebar-resubmitted.png") });
    pageErrors.should.eql([]);
  });
});
