/**
 * The sidebar's replay panel in a real browser: three events reach a tag-filter of a real
 * Node-RED; the panel picks the node, counts one event's registrations (a dry run), confirms, and
 * shows the replay's progress until it is done; the flow saw the replayed messages marked.
 * Screenshot in test-artifacts/browser/marketo-sidebar-replay.png.
 */
import path from "node:path";
import "should";
import type { Browser, Page } from "playwright-core";
import { ARTIFACTS, openEditor, requireChromium } from "./chromium";
import { startNodeRed, type NodeRedProcess } from "../helpers/node-red-process";

describe("Marketo sidebar: replay panel (chromium)", function () {
  this.timeout(60_000);
  let red: NodeRedProcess;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[] = [];

  before(async function () {
    requireChromium(this);
    const z = "tab";
    red = await startNodeRed({
      flows: [
        { id: z, type: "tab", label: "replay" },
        { id: "in", type: "http in", z, url: "/events", method: "post", upload: false, wires: [["ack", "split"]] },
        { id: "ack", type: "http response", z, statusCode: "200", wires: [] },
        { id: "split", type: "function", z, func: "return [msg.payload];", outputs: 1, wires: [["tf"]] },
        { id: "tf", type: "tag-filter", z, name: "entry", mode: "any", srcRegistration: true, wires: [["count"], []] },
        // Counts what passed, and how much of it was replayed, for GET /seen.
        {
          id: "count",
          type: "function",
          z,
          func: "const s = global.get('seen') || { all: 0, replayed: 0 }; s.all++; if (msg.replay && msg.replay.suppressCampaigns) s.replayed++; global.set('seen', s); return null;",
          outputs: 1,
          wires: [[]],
        },
        { id: "seen-in", type: "http in", z, url: "/seen", method: "get", upload: false, wires: [["seen"]] },
        {
          id: "seen",
          type: "function",
          z,
          func: "msg.payload = global.get('seen') || { all: 0, replayed: 0 }; return msg;",
          outputs: 1,
          wires: [["seen-out"]],
        },
        { id: "seen-out", type: "http response", z, statusCode: "200", wires: [] },
      ],
    });
    ({ browser, page, pageErrors } = await openEditor(red.url, "tag-filter"));
  });

  after(async () => {
    await browser?.close();
    await red?.stop();
  });

  it("counts, confirms, replays and shows the progress", async () => {
    const events = ["R-1", "R-2", "R-3"].map((code, i) => ({
      topic: "registration.created",
      payload: {
        event: { id: i < 2 ? 7 : 8, code: i < 2 ? "EV7" : "EV8" },
        registration: { code, test: false },
        profile: { email: `${code}@example.com` },
      },
    }));
    const res = await fetch(`${red.url}/events`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(events),
    });
    res.status.should.equal(200);
    await res.text();
    const seen = async (): Promise<{ all: number; replayed: number }> =>
      (await (await fetch(`${red.url}/seen`)).json()) as { all: number; replayed: number };
    for (let i = 0; i < 100 && (await seen()).all < 3; i++) await new Promise((r) => setTimeout(r, 50));

    await page.evaluate(() => (window as any).RED.sidebar.show("marketo-sidebar"));
    const panel = page.locator(".marketo-sb-replay");
    await panel.scrollIntoViewIfNeeded();
    await panel.locator(".marketo-sb-replay-node").focus();
    (await panel.locator(".marketo-sb-replay-node option").allInnerTexts()).should.eql(["entry (replay)"]);
    await panel.locator(".marketo-sb-replay-event").fill("EV7");
    (await panel.locator(".marketo-sb-replay-start").isDisabled()).should.be.true();
    await panel.locator(".marketo-sb-replay-count").click();
    await page.waitForFunction(() =>
      /2 kept events match/.test((document.querySelector(".marketo-sb-replay-state") as HTMLElement).innerText),
    );
    // The dry run sent nothing.
    (await seen()).all.should.equal(3);

    let asked = "";
    page.once("dialog", (d) => {
      asked = d.message();
      void d.accept();
    });
    await panel.locator(".marketo-sb-replay-start").click();
    await page.waitForFunction(
      () =>
        /^done: 2 of 2 events sent again, campaigns suppressed/.test(
          (document.querySelector(".marketo-sb-replay-state") as HTMLElement).innerText,
        ),
      undefined,
      { timeout: 20_000 },
    );
    asked.should.match(/Send 2 events again .*suppressed/);
    (await seen()).should.eql({ all: 5, replayed: 2 });
    (await panel.locator(".marketo-sb-replay-cancel").isDisabled()).should.be.true();
    // The finished replay heads the node's list of latest replays (read from the node, kept across restarts).
    await page.waitForFunction(
      () =>
        /done: 2 of 2 events sent again, campaigns suppressed/.test(
          (document.querySelector(".marketo-sb-replay-past li") as HTMLElement | null)?.innerText ?? "",
        ),
      undefined,
      { timeout: 20_000 },
    );
    (await panel.locator(".marketo-sb-replay-past li").allInnerTexts())[1].should.match(/count: 2 events matched$/);
    await panel.screenshot({ path: path.join(ARTIFACTS, "marketo-sidebar-replay.png") });
    pageErrors.should.eql([]);
  });
});
