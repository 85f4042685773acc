/**
 * The editor in a real browser: Debian's chromium driven by playwright-core against a
 * real Node-RED 4.1 holding the package and a flow with one node of each type, whose connection
 * points at the emulator. What only a browser shows: the palette and its icons, each dialog's
 * own script running without a page error, the help the info sidebar renders, Test connection
 * and the field-mapper preview going through the admin routes from the dialog.
 *
 * Screenshots of each dialog, its help and the two results go to test-artifacts/browser/.
 */
import fs from "node:fs";
import path from "node:path";
import should from "should";
import type { Browser, Page } from "playwright-core";
import { ARTIFACTS, openEditor, requireChromium } from "./chromium";
import { startEmulator, type EmulatorHandle } from "../../src/emulator";
import { editorDefaults } from "../helpers/editor-defaults";
import { startNodeRed, type FlowJson, type NodeRedProcess } from "../helpers/node-red-process";

const ROOT = path.join(__dirname, "..", "..");
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
const MODULE: string = pkg.name;
const TYPES: string[] = Object.keys(pkg["node-red"].nodes);
const CONFIG_TYPE = "marketo-config";
const FLOW_TYPES = TYPES.filter((t) => t !== CONFIG_TYPE);
const TAB = "b0000000000000a1";
const CONFIG_ID = "b0000000000000c1";
const nodeId = (type: string): string => `b00000000000${String(FLOW_TYPES.indexOf(type) + 1).padStart(4, "0")}`;

/** The icon file each palette node names in its HTML definition. */
function iconOf(type: string): string {
  const html = fs.readFileSync(path.join(ROOT, "nodes", `${type}.html`), "utf8");
  const m = /\bicon:\s*["']([^"']+\.svg)["']/.exec(html);
  if (!m) throw new Error(`${type}.html names no .svg icon`);
  return m[1];
}

/** The <h3> headings of a node's help text as written in its HTML. */
function helpHeadings(type: string): string[] {
  const html = fs.readFileSync(path.join(ROOT, "nodes", `${type}.html`), "utf8");
  const help = new RegExp(`<script[^>]*data-help-name=["']${type}["'][^>]*>([\\s\\S]*?)</script>`).exec(html);
  if (!help) throw new Error(`${type}.html has no help`);
  return [...help[1].matchAll(/<h3>([^<]+)<\/h3>/g)].map((m) => m[1].trim());
}

/** The first sentence of a node's help, as text. */
function firstSentence(type: string): string {
  const html = fs.readFileSync(path.join(ROOT, "nodes", `${type}.html`), "utf8");
  const help = new RegExp(`<script[^>]*data-help-name=["']${type}["'][^>]*>([\\s\\S]*?)</script>`).exec(html)![1];
  const text = /<p>([\s\S]*?)<\/p>/
    .exec(help)![1]
    .replace(/<[^>]+>/g, "")
    .replace(/\s+/g, " ")
    .trim();
  // Up to the first entity, which the browser shows decoded.
  return text.split(/(?<=[.:])\s/)[0].split("&")[0];
}

describe("editor in a real browser (chromium)", function () {
  this.timeout(60_000);
  let emu: EmulatorHandle;
  let red: NodeRedProcess;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[] = [];

  before(async function () {
    requireChromium(this);
    emu = await startEmulator({ clientSecret: `browser-${process.pid}-${Date.now()}` });
    const flows: FlowJson = [
      { id: TAB, type: "tab", label: "browser test" },
      { id: CONFIG_ID, type: CONFIG_TYPE, ...editorDefaults(CONFIG_TYPE), name: "emulator", endpoint: emu.url },
      ...FLOW_TYPES.map((type, i) => {
        const defaults = editorDefaults(type);
        return {
          id: nodeId(type),
          type,
          z: TAB,
          x: 200,
          y: 60 + i * 60,
          wires: [],
          ...defaults,
          ...("marketo" in defaults ? { marketo: CONFIG_ID } : {}),
        };
      }),
    ];
    red = await startNodeRed({
      flows,
      credentials: { [CONFIG_ID]: { clientId: emu.clientId, clientSecret: emu.clientSecret } },
    });
    ({ browser, page, pageErrors } = await openEditor(red.url, FLOW_TYPES[0], { width: 1600, height: 1000 }));
    // The flow is on the canvas once the workspace holds our nodes.
    await page.waitForFunction((id) => !!(window as any).RED.nodes.node(id), nodeId(FLOW_TYPES[0]));
  });

  after(async () => {
    await browser?.close();
    await red?.stop();
    await emu?.stop();
  });

  afterEach(async function () {
    // A dialog a failed test left open would hide the next one's.
    if (page && this.currentTest?.state === "failed") {
      await page
        .screenshot({
          path: path.join(ARTIFACTS, `failed-${this.currentTest.title.replace(/\W+/g, "-").slice(0, 60)}.png`),
        })
        .catch(() => undefined);
      await page.evaluate(() => (window as any).RED.tray.close()).catch(() => undefined);
    }
  });

  const RED = <T>(fn: (arg: any) => T, arg?: unknown): Promise<T> => page.evaluate(fn as any, arg) as Promise<T>;

  async function closeTrays(): Promise<void> {
    await RED(() => {
      const R = (window as any).RED;
      while (R.tray.close && document.querySelector(".red-ui-tray")) {
        const before = document.querySelectorAll(".red-ui-tray").length;
        R.tray.close();
        if (document.querySelectorAll(".red-ui-tray").length === before) break;
      }
    });
    await page.waitForFunction(() => document.querySelectorAll(".red-ui-tray").length === 0);
  }

  it("the palette shows the seven flow nodes of the package, each with its own icon, and knows the config node", async () => {
    for (const type of FLOW_TYPES) {
      const entry = page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`);
      (await entry.count()).should.equal(1, `${type} in the palette`);
      const bg = await entry.locator(".red-ui-palette-icon").evaluate((el) => getComputedStyle(el).backgroundImage);
      const url = /url\("?([^")]+)"?\)/.exec(bg)?.[1];
      should.exist(url, `${type}: palette icon ${bg}`);
      url!.should.endWith(`icons/${MODULE}/${iconOf(type)}`);
      const res = await fetch(new URL(url!, red.url + "/"));
      res.status.should.equal(200, `${type}: ${url}`);
      (res.headers.get("content-type") ?? "").should.match(/svg/);
      (await res.text()).should.match(/<svg[\s>]/);
    }
    // A config node has no palette entry, only its definition.
    const config = await RED((t) => {
      const def = (window as any).RED.nodes.getType(t);
      return def ? { category: def.category, hasCredentials: !!def.credentials } : null;
    }, CONFIG_TYPE);
    should(config).eql({ category: "config", hasCredentials: true });
    (await page.locator(`.red-ui-palette-node[data-palette-type="${CONFIG_TYPE}"]`).count()).should.equal(0);
    pageErrors.should.eql([]);
  });

  /** A field per dialog whose default TypedInput type is the shared "event." type. */
  const EVENT_FIELDS: Record<string, string> = {
    "status-mapper": "statusProperty",
    "marketo-custom-activity": "email",
  };

  for (const type of TYPES) {
    it(`${type}: the dialog opens without a page error and the help renders in the info sidebar`, async () => {
      const errorsBefore = pageErrors.length;
      const prefix = type === CONFIG_TYPE ? "node-config-input" : "node-input";
      if (type === CONFIG_TYPE) {
        await RED((id) => (window as any).RED.editor.editConfig("", "marketo-config", id), CONFIG_ID);
      } else {
        await RED((id) => (window as any).RED.editor.edit((window as any).RED.nodes.node(id)), nodeId(type));
      }
      await page.waitForSelector(`#${prefix}-name`, { state: "visible" });
      // Let the dialog's deferred work (typedInputs, admin-route fetches) run before the picture.
      await page.waitForTimeout(300);
      const eventField = EVENT_FIELDS[type];
      if (eventField) {
        // The "event." type comes from the package's one shared editor script (resources/).
        const shown = await RED((sel) => {
          const $ = (window as any).$;
          return { type: $(sel).typedInput("type") };
        }, `#node-input-${eventField}`);
        shown.type.should.equal("event", `${type}: ${eventField} is an event. TypedInput`);
      }
      await page.screenshot({ path: path.join(ARTIFACTS, `${type}.png`) });
      // The dialog alone, small enough for the README (docs/ keeps a copy of one).
      await page
        .locator(".red-ui-tray")
        .last()
        .screenshot({ path: path.join(ARTIFACTS, `${type}-dialog.png`) });
      await closeTrays();
      pageErrors.slice(errorsBefore).should.eql([], `page errors in the ${type} dialog`);

      await RED((t) => (window as any).RED.sidebar.help.show(t), type);
      // The help tab: a title, then the node's help text under it.
      const help = await page.waitForFunction(() => {
        const title = Array.from(document.querySelectorAll<HTMLElement>("h1.red-ui-help-title")).find(
          (h) => h.offsetParent !== null,
        );
        const body = title?.nextElementSibling as HTMLElement | null;
        if (!title || !body || !body.classList.contains("red-ui-help") || body.innerText.trim() === "") return null;
        return {
          title: title.innerText.trim(),
          text: body.innerText.trim(),
          headings: Array.from(body.querySelectorAll("h3")).map((h) => (h as HTMLElement).innerText.trim()),
        };
      });
      const shown = (await help.jsonValue())!;
      await help.dispose();
      shown.text.length.should.be.above(200, `${type}: help text`);
      // The node's own help, not Node-RED's "no help" placeholder: its first sentence is there.
      shown.text.should.containEql(firstSentence(type));
      for (const h of helpHeadings(type).filter((x) => x === "Inputs" || x === "Details")) {
        shown.headings.should.containEql(h);
      }
      await page.screenshot({ path: path.join(ARTIFACTS, `${type}-help.png`) });
      pageErrors.slice(errorsBefore).should.eql([]);
    });
  }

  async function testConnection(secret?: string): Promise<{ ok: string[]; fail: string[] }> {
    await RED((id) => (window as any).RED.editor.editConfig("", "marketo-config", id), CONFIG_ID);
    await page.waitForSelector("#node-config-input-endpoint", { state: "visible" });
    if (secret !== undefined) await page.fill("#node-config-input-clientSecret", secret);
    await page.click("#marketo-config-test");
    await page.waitForFunction(() => {
      const r = document.querySelector("#marketo-config-test-result");
      return (
        !!r &&
        r.querySelector(".marketo-config-ok, .marketo-config-fail") !== null &&
        !(document.querySelector("#marketo-config-test") as HTMLButtonElement).disabled
      );
    });
    const result = {
      ok: await page.locator("#marketo-config-test-result .marketo-config-ok").allInnerTexts(),
      fail: await page.locator("#marketo-config-test-result .marketo-config-fail").allInnerTexts(),
    };
    await page.screenshot({
      path: path.join(ARTIFACTS, `marketo-config-test-${secret === undefined ? "ok" : "wrong-secret"}.png`),
    });
    // Cancel, so the wrong secret typed in is not kept.
    await closeTrays();
    return result;
  }

  it("marketo-config: Test connection reports the token and every permission granted against the emulator", async () => {
    const errorsBefore = pageErrors.length;
    const { ok, fail } = await testConnection();
    fail.should.eql([]);
    ok[0].should.match(/Access token obtained/);
    ok.length.should.be.above(1, "a line per permission");
    ok.join("\n").should.match(/Read-Write Person/);
    // Assets are only read: never "Read-Write Assets ✓" for a probe that cannot tell.
    ok.join("\n")
      .should.match(/Assets, read access/)
      .and.not.match(/Read-Write Assets/);
    pageErrors.slice(errorsBefore).should.eql([]);
  });

  it("marketo-config: the Test connection result goes when a value it was run with changes", async () => {
    await RED((id) => (window as any).RED.editor.editConfig("", "marketo-config", id), CONFIG_ID);
    await page.waitForSelector("#node-config-input-endpoint", { state: "visible" });
    await page.click("#marketo-config-test");
    await page.waitForSelector("#marketo-config-test-result .marketo-config-ok");
    await page.type("#node-config-input-clientId", "x");
    (await page.locator("#marketo-config-test-result > div").count()).should.equal(0);
    await closeTrays();
  });

  it("marketo-config: Test connection with a wrong secret reports no token, as an auth failure, without echoing the secret", async () => {
    const wrong = `wrong-${Date.now()}`;
    const { ok, fail } = await testConnection(wrong);
    ok.should.eql([]);
    fail.length.should.equal(1);
    fail[0].should.match(/No access token/);
    fail[0].should.match(/auth/i);
    fail[0].should.not.containEql(wrong);
    fail[0].should.not.containEql(emu.clientSecret);
  });

  it("field-mapper: Preview in the dialog maps the sample registration into a Marketo record", async () => {
    const errorsBefore = pageErrors.length;
    await RED((id) => (window as any).RED.editor.edit((window as any).RED.nodes.node(id)), nodeId("field-mapper"));
    await page.waitForSelector("#field-mapper-preview", { state: "visible" });
    await page.selectOption("#field-mapper-sample-pick", "kaltura");
    await page.click("#field-mapper-preview");
    const pre = page.locator("#field-mapper-preview-result pre");
    await pre.waitFor({ state: "visible" });
    const heading = await page.locator("#field-mapper-preview-result > div").first().innerText();
    const record = JSON.parse(await pre.innerText());
    await page.locator("#field-mapper-preview-result").scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, "field-mapper-preview.png") });
    await closeTrays();
    heading.should.match(/output 1/);
    // The sample's profile is "  ADA.Lovelace@Example.com ", "ada", "LOVELACE": trimmed and cased by the default rows.
    record.should.have.property("email", "ada.lovelace@example.com");
    record.should.containEql({ firstName: "Ada", lastName: "Lovelace", registrationCode: "R-1001" });
    pageErrors.slice(errorsBefore).should.eql([]);
  });

  it("marketo-lead: the form picker lists the connection's forms by name and shows the chosen form's fields", async () => {
    const errorsBefore = pageErrors.length;
    await RED((id) => (window as any).RED.editor.edit((window as any).RED.nodes.node(id)), nodeId("marketo-lead"));
    await page.waitForSelector("#node-input-action", { state: "visible" });
    await page.selectOption("#node-input-action", "form");
    await page.click("#marketo-lead-pick-form");
    await page.waitForSelector("#marketo-lead-forms", { state: "visible" });
    const names = await page.locator("#marketo-lead-forms option").allInnerTexts();
    names.some((n) => /^Event registration form \(\d+, approved\)$/.test(n)).should.be.true();
    const value = await page.locator("#marketo-lead-forms option").nth(1).getAttribute("value");
    await page.selectOption("#marketo-lead-forms", value!);
    const tip = page.locator("#marketo-lead-form-fields");
    await tip.filter({ hasText: "email*" }).waitFor({ state: "visible" });
    (await page.inputValue("#node-input-formId")).should.equal(value);
    (await tip.innerText()).should.match(/email\*, firstName, lastName, company/);
    await page.screenshot({ path: path.join(ARTIFACTS, "marketo-lead-form-picker.png") });
    await closeTrays();
    pageErrors.slice(errorsBefore).should.eql([]);
  });

  it("field-mapper offers the fields of the form picked in a marketo-lead wired after it as targets", async () => {
    const errorsBefore = pageErrors.length;
    await RED((id) => (window as any).RED.editor.edit((window as any).RED.nodes.node(id)), nodeId("marketo-lead"));
    await page.waitForSelector("#node-input-action", { state: "visible" });
    await page.selectOption("#node-input-action", "form");
    await page.click("#marketo-lead-pick-form");
    await page.waitForSelector("#marketo-lead-forms", { state: "visible" });
    const value = await page.locator("#marketo-lead-forms option").nth(1).getAttribute("value");
    await page.selectOption("#marketo-lead-forms", value!);
    await page.locator("#marketo-lead-form-fields").filter({ hasText: "email*" }).waitFor({ state: "visible" });
    await page.click("#node-dialog-ok");
    await page.waitForFunction(() => document.querySelectorAll(".red-ui-tray").length === 0);
    const kept = await RED((id) => (window as any).RED.nodes.node(id).formFields, nodeId("marketo-lead"));
    (kept as Array<{ name: string }>).map((f) => f.name).should.containEql("firstName");
    // Not wired yet: the mapper offers no form field; wired before the lead node, it does.
    const formOptions = async (): Promise<string[]> => {
      await RED((id) => (window as any).RED.editor.edit((window as any).RED.nodes.node(id)), nodeId("field-mapper"));
      await page.waitForSelector("#field-mapper-preview", { state: "visible" });
      const texts = await page
        .locator("#node-input-field-mapper-targets option")
        .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value + " " + o.textContent));
      await closeTrays();
      return texts.filter((t) => t.includes("form field"));
    };
    (await formOptions()).should.eql([]);
    await RED(
      (ids: string[]) => {
        const R = (window as any).RED;
        R.nodes.addLink({ source: R.nodes.node(ids[0]), sourcePort: 0, target: R.nodes.node(ids[1]) });
      },
      [nodeId("field-mapper"), nodeId("marketo-lead")],
    );
    const offered = (await formOptions()).map((t) => t.split(" ")[0]).sort();
    offered.should.eql((kept as Array<{ name: string }>).map((f) => f.name).sort());
    pageErrors.slice(errorsBefore).should.eql([]);
  });
});
