/**
 * The Marketo sidebar in a real browser: after a small run against the emulator its tab shows the
 * counts the emulator holds; troubleshooting names each held record and its error, pages through
 * a long queue, and a record Marketo refused is delivered once a person resubmits it. Then the demo
 * (`node scripts/demo.js`) at 1600×1000: its flow fits with no node touching another and every
 * status readable, the View menu opens the sidebar, the charts fill, and the feed pauses and
 * filters. Screenshots go to test-artifacts/browser/ (marketo-sidebar-*.png, demo-flow-*.png).
 */
import path from "node:path";
import "should";
import type { Browser, Page } from "playwright-core";
import { canvasBoxes, layoutProblems } from "./canvas-layout";
import { ARTIFACTS, openEditor, requireChromium } from "./chromium";
import { startEmulator, type EmulatorHandle } from "../../src/emulator";
import { configNode } from "../helpers/marketo-flow";
import { startNodeRed, type NodeRedProcess } from "../helpers/node-red-process";
import { freePort, killDemo, startDemo, type Demo } from "../helpers/demo-process";
import { until } from "../helpers/marketo-flow";

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
        {
          id: "lead",
          type: "marketo-lead",
          z,
          name: "registrations",
          marketo: "cfg",
          action: "sync",
          syncAction: "createOrUpdate",
          lookupField: "email",
          raiseErrors: false,
          bulkThreshold: 0,
          wires: [[], ["queue"]],
        },
        {
          id: "queue",
          type: "retry-queue",
          z,
          name: "failures",
          maxAttempts: 3,
          backoff: "1m",
          maxEntries: 500,
          answerTimeout: "1m",
          resubmitThrough: "node",
          wires: [[], [], []],
        },
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
    const body = records.map((r) => ({
      payload: { email: r.email, firstName: "Side" },
      source: { registration: { code: r.code } },
    }));
    const res = await fetch(`${red.url}/events`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    res.status.should.equal(200);
    await res.text();
  }

  /** The row of the config's summary card whose label starts with `label`. */
  async function summaryRow(label: string): Promise<string> {
    return page
      .locator(`.marketo-sb-card[data-config="cfg"] tr`, { hasText: label })
      .first()
      .locator("td")
      .nth(1)
      .innerText();
  }

  const leadsInEmulator = (prefix: string): string[] =>
    (emu.state() as unknown as { leads: Array<{ email: string }> }).leads
      .map((l) => l.email)
      .filter((e) => e.startsWith(prefix))
      .sort();

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
    const calls = await page
      .locator('.marketo-sb-card[data-config="cfg"] [data-calls-today]')
      .getAttribute("data-calls-today");
    Number(calls).should.equal(emu.stats().countedCalls);
    // The instance is named once, above the connections that use it.
    const instance = page.locator(".marketo-sb-instance");
    (await instance.count()).should.equal(1);
    (await instance.innerText()).should.startWith(`Instance ${new URL(emu.url).host} · used by `);
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
    await page.waitForFunction(
      () => /held 1\b/.test((document.querySelector(".marketo-sb-totals") as HTMLElement | null)?.innerText ?? ""),
      undefined,
      { timeout: 20_000 },
    );
    const entry = page.locator('.marketo-sb-entry[data-state="held"]');
    (await entry.count()).should.equal(1);
    // Why, and which record: who it is, Marketo's own message with its category and code, when.
    const text = await entry.innerText();
    text.should.match(/held@example\.com · R-held · registration\.created/);
    text.should.match(/auth: Marketo 603: Access denied/);
    text.should.match(/registrations \(marketo-lead\)/);
    text.should.match(/failed \d/);
    // The queue has not resubmitted it: no count of tries next to the node's own retries.
    text.should.not.match(/Tries|resubmitted 0/);
    // Which queue, on which flow tab.
    (await page.locator(".marketo-sb-queue option:checked").innerText()).should.match(/^failures \(1\) · sidebar$/);
    leadsInEmulator("held").should.eql([]);

    // The admin granted the permission: the same record goes through now.
    emu.setFaults({ rate: 0 });
    await entry.locator("input.marketo-sb-pick").check();
    await page.click(".marketo-sb-resubmit");
    await page.waitForFunction(() =>
      /Resubmitted 1\b/.test((document.querySelector(".marketo-sb-message") as HTMLElement | null)?.innerText ?? ""),
    );
    const end = Date.now() + 20_000;
    while (leadsInEmulator("held").length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    leadsInEmulator("held").should.eql(["held@example.com"]);
    // Answered, the entry leaves the queue, and the tab says so.
    await page.waitForFunction(
      () => {
        const queue =
          (document.querySelector(".marketo-sb-queue option:checked") as HTMLElement | null)?.innerText ?? "";
        return (
          /\(0\)/.test(queue) &&
          /No entries match/.test(
            (document.querySelector(".marketo-sb-entries") as HTMLElement | null)?.innerText ?? "",
          )
        );
      },
      undefined,
      { timeout: 20_000 },
    );
    await page.screenshot({ path: path.join(ARTIFACTS, "marketo-sidebar-resubmitted.png") });
    pageErrors.should.eql([]);
  });

  it("pages through a long queue: showing 100 of 130, then the rest", async () => {
    emu.setFaults({ rate: 1, codes: ["603"] });
    await post(Array.from({ length: 130 }, (_, i) => ({ email: `page${i}@example.com`, code: `R-page-${i}` })));
    await page
      .waitForFunction(
        () => /held 130\b/.test((document.querySelector(".marketo-sb-totals") as HTMLElement | null)?.innerText ?? ""),
        undefined,
        { timeout: 30_000 },
      )
      .catch(async (err: Error) => {
        throw new Error(`${err.message}; the tab says: ${await page.locator(".marketo-sb-totals").innerText()}`);
      });
    await page.waitForFunction(() =>
      /Showing 1–100 of 130/.test((document.querySelector(".marketo-sb-pager") as HTMLElement | null)?.innerText ?? ""),
    );
    (await page.locator(".marketo-sb-entry").count()).should.equal(100);
    await page.locator(".marketo-sb-troubleshooting").scrollIntoViewIfNeeded();
    await page
      .locator("#red-ui-sidebar")
      .screenshot({ path: path.join(ARTIFACTS, "marketo-sidebar-troubleshooting.png") });
    await page.click(".marketo-sb-next");
    await page.waitForFunction(() =>
      /Showing 101–130 of 130/.test(
        (document.querySelector(".marketo-sb-pager") as HTMLElement | null)?.innerText ?? "",
      ),
    );
    (await page.locator(".marketo-sb-entry").count()).should.equal(30);
    emu.setFaults({ rate: 0 });
    pageErrors.should.eql([]);
  });
});

describe("the demo in a real browser at 1600×1000 (chromium)", function () {
  this.timeout(180_000);
  let demo: Demo | undefined;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[] = [];
  let editorUrl = "";

  before(async function () {
    requireChromium(this);
    demo = startDemo(process.execPath, ["scripts/demo.js"], {
      PORT: String(await freePort()),
      EMULATOR_PORT: String(await freePort()),
    });
    await until(
      () => /events posted [1-9]/.test(demo!.out()),
      `the demo to post events (output so far:\n${demo!.out()})`,
      90_000,
    );
    editorUrl = /Node-RED editor\s+(\S+)/.exec(demo.out())![1];
    ({ browser, page, pageErrors } = await openEditor(editorUrl, "marketo-lead", { width: 1600, height: 1000 }));
  });

  after(async () => {
    await browser?.close();
    if (demo) {
      demo.child.kill("SIGTERM");
      await Promise.race([demo.exited, new Promise((r) => setTimeout(r, 20_000))]);
      killDemo(demo);
    }
  });

  it("lays the flow out inside the window, no node touching another, every status readable", async () => {
    // The four Marketo action nodes have sent records, and say so.
    await page.waitForFunction(
      () => {
        const labels = Array.from(document.querySelectorAll<SVGTextElement>(".red-ui-flow-node-status-label"));
        return labels.filter((l) => /^sent [1-9]/.test(l.textContent ?? "")).length >= 4;
      },
      undefined,
      { timeout: 60_000 },
    );
    const boxes = await canvasBoxes(page);
    const chart = await page.evaluate(() => {
      const c = document.getElementById("red-ui-workspace-chart")!;
      const r = c.getBoundingClientRect();
      // The visible part: without the scrollbars.
      return { x: r.left, y: r.top, w: c.clientWidth, h: c.clientHeight };
    });
    await page.screenshot({ path: path.join(ARTIFACTS, "demo-flow-1600x1000.png") });

    boxes.length.should.be.aboveOrEqual(19);
    const inside = (b: { x: number; y: number; w: number; h: number }) =>
      b.x >= chart.x && b.y >= chart.y && b.x + b.w <= chart.x + chart.w && b.y + b.h <= chart.y + chart.h;
    const problems: string[] = [];
    for (const b of boxes) {
      if (!inside(b.node)) problems.push(`${b.id} is outside the window`);
      if (b.status && !inside(b.status)) problems.push(`${b.id}'s status "${b.status.text}" is outside the window`);
      if (b.status && /config invalid/.test(b.status.text)) problems.push(`${b.id} says ${b.status.text}`);
    }
    problems.push(...layoutProblems(boxes));
    problems.should.eql([]);
    pageErrors.should.eql([]);
  });

  it("opens the Marketo sidebar from the View menu; its charts fill as the demo runs", async () => {
    // Found without knowing the tab's place: View ▸ Marketo sidebar.
    await page.click("#red-ui-header-button-sidemenu");
    await page.hover("#menu-item-view-menu");
    await page.click("#menu-item-marketo-sidebar");
    await page.waitForSelector(".marketo-sidebar", { state: "visible" });
    // ...and by the shortcut, from another tab.
    await page.evaluate(() => (window as any).RED.sidebar.show("info"));
    await page.waitForSelector(".marketo-sidebar", { state: "hidden" });
    await page.click("#red-ui-workspace-chart", { position: { x: 1050, y: 820 } }); // empty canvas: keys go to the editor
    await page.keyboard.press("Control+g");
    await page.keyboard.press("m");
    await page.waitForSelector(".marketo-sidebar", { state: "visible" });
    // Three buckets of ten seconds: lines, not dots.
    await page.waitForFunction(
      () => {
        const d = document.querySelector('svg[data-chart="records"] path[fill="none"]')?.getAttribute("d") ?? "";
        return (d.match(/L/g) ?? []).length >= 2;
      },
      undefined,
      { timeout: 60_000 },
    );
    const heads = await page.locator(".marketo-sb-chart-head").allInnerTexts();
    heads.length.should.equal(4);
    heads[0].should.match(/^Records \/ min/);
    heads[1].should.match(/^API calls \/ min/);
    (await page.locator(".marketo-sb-budget svg").count()).should.equal(1);
    await page
      .locator("#red-ui-sidebar")
      .screenshot({ path: path.join(ARTIFACTS, "marketo-sidebar-summary-charts.png") });
    await page.locator(".marketo-sb-charts").scrollIntoViewIfNeeded();
    await page.locator("#red-ui-sidebar").screenshot({ path: path.join(ARTIFACTS, "marketo-sidebar-charts.png") });
    pageErrors.should.eql([]);
  });

  it("the activity feed pauses and filters", async () => {
    await page.locator(".marketo-sb-feed").scrollIntoViewIfNeeded();
    const firstRow = () => page.locator(".marketo-sb-feed-item").first().innerText();
    await page.waitForFunction(() => document.querySelectorAll(".marketo-sb-feed-item").length > 5);
    await page.click(".marketo-sb-pause");
    const frozen = await firstRow();
    await page.waitForFunction(
      () =>
        /Paused · [1-9]/.test(
          (document.querySelector(".marketo-sb-feed-state") as HTMLElement | null)?.innerText ?? "",
        ),
      undefined,
      { timeout: 20_000 },
    );
    (await firstRow()).should.equal(frozen);
    // Filter what is shown: program-status records only, by the node's name.
    (await page.locator(".marketo-sb-feed-item").allInnerTexts())
      .some((r) => !r.includes("program 1001"))
      .should.be.true();
    await page.fill(".marketo-sb-feed-filter", "program 1001");
    const rows = await page.locator(".marketo-sb-feed-item").allInnerTexts();
    rows.length.should.be.above(0);
    for (const r of rows) r.should.containEql("program 1001");
    await page.locator(".marketo-sb-feed-filter").scrollIntoViewIfNeeded();
    await page.locator("#red-ui-sidebar").screenshot({ path: path.join(ARTIFACTS, "marketo-sidebar-feed.png") });
    await page.fill(".marketo-sb-feed-filter", "");
    await page.click(".marketo-sb-pause");
    await page.waitForFunction(
      (old) => (document.querySelector(".marketo-sb-feed-item") as HTMLElement | null)?.innerText !== old,
      frozen,
      { timeout: 20_000 },
    );
    pageErrors.should.eql([]);
  });
});
