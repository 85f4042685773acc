/**
 * A first run in the editor, in Debian's chromium against a real Node-RED and the emulator:
 *
 * - deploy twice: a flow with all eight node types runs until every node has shown a status,
 *   then one node is moved with the mouse and deployed again. flows.json must change only in
 *   that node's x/y (the editor keeps a node's shown status in `status`: a setting of that name
 *   was saved over), and no node may turn red;
 * - each example imported as a user does (Import ▸ Examples), its comment followed (the
 *   connection's credentials typed into its dialog, or taken from the environment), deployed
 *   with the Deploy button: every node ends green or grey with a count, never `config invalid`,
 *   and no node or status runs into another.
 *
 * Screenshots go to test-artifacts/browser/.
 */
import fs from "node:fs";
import path from "node:path";
import should from "should";
import type { Browser, Page } from "playwright-core";
import { canvasBoxes, layoutProblems } from "./canvas-layout";
import { ARTIFACTS, openEditor, requireChromium } from "./chromium";
import { startEmulator, type EmulatorHandle } from "../../src/emulator";
import { editorDefaults } from "../helpers/editor-defaults";
import { startNodeRed, type FlowJson, type NodeRedProcess } from "../helpers/node-red-process";

const ROOT = path.join(__dirname, "..", "..");
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
const MODULE: string = pkg.name;
const TYPES: string[] = Object.keys(pkg["node-red"].nodes);
const FLOW_TYPES = TYPES.filter((t) => t !== "marketo-config");
const EXAMPLES = fs
  .readdirSync(path.join(ROOT, "examples"))
  .filter((f) => f.endsWith(".json"))
  .map((f) => path.basename(f, ".json"))
  .sort();
const VIEWPORT = { width: 1600, height: 1000 };

type Node = Record<string, any>;
const example = (name: string): Node[] =>
  JSON.parse(fs.readFileSync(path.join(ROOT, "examples", `${name}.json`), "utf8"));

interface Shown {
  id: string;
  type: string;
  fill?: string;
  text: string;
}

/** The status each of the package's nodes shows on the canvas: the editor's record and the label drawn. */
async function shownStatuses(page: Page, types: string[]): Promise<Shown[]> {
  return page.evaluate((ts) => {
    const R = (window as any).RED;
    const out: Array<{ id: string; type: string; fill?: string; text: string; raw?: string }> = [];
    R.nodes.eachNode((n: any) => {
      if (!ts.includes(n.type)) return;
      const label = document.querySelector(`[id="${n.id}"] .red-ui-flow-node-status-label`) as SVGTextElement | null;
      out.push({
        id: n.id,
        type: n.type,
        fill: n.status?.fill,
        text: (label?.textContent ?? "").trim(),
        raw: n.status?.text,
      });
    });
    return out;
  }, types);
}

/** Clicks Deploy and waits for the runtime to have started the deployed flows. */
async function deploy(page: Page, red: NodeRedProcess): Promise<void> {
  const from = red.log().length;
  const posted = page.waitForResponse(
    (r) => r.request().method() === "POST" && /\/flows$/.test(new URL(r.url()).pathname),
    { timeout: 30_000 },
  );
  await page.click("#red-ui-header-button-deploy");
  // Node-RED asks first when some node is not properly configured: a first run must not meet that.
  const confirm = "#red-ui-deploy-dialog-confirm-deploy-deploy";
  const asked = await Promise.race([
    posted.then(() => false),
    page.waitForSelector(confirm, { state: "visible", timeout: 30_000 }).then(() => true),
  ]);
  if (asked) {
    const text = await page.locator(".red-ui-notification", { has: page.locator(confirm) }).innerText();
    throw new Error(`Deploy asked for confirmation: ${text}`);
  }
  const res = await posted;
  res.status().should.equal(200, await res.text());
  await red.waitForLog(/Started flows/, 30_000, from);
}

/** The flow file Node-RED wrote, by node id. */
function flowsOnDisk(red: NodeRedProcess): Map<string, Node> {
  const nodes: Node[] = JSON.parse(fs.readFileSync(path.join(red.userDir, "flows.json"), "utf8"));
  return new Map(nodes.map((n) => [n.id as string, n]));
}

/** Drags a node on the canvas by (dx, dy) with the mouse. */
async function dragNode(page: Page, id: string, dx: number, dy: number): Promise<void> {
  // A deploy's notification sits over the top of the canvas for a few seconds; a press on it
  // would not reach the node, and nothing would be moved.
  await page.waitForSelector(".red-ui-notification", { state: "detached", timeout: 30_000 });
  const box = await page.locator(`[id="${id}"] .red-ui-flow-node`).first().boundingBox();
  if (!box) throw new Error(`node ${id} is not on the canvas`);
  const x = box.x + box.width / 2;
  const y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  for (let i = 1; i <= 5; i++) await page.mouse.move(x + (dx * i) / 5, y + (dy * i) / 5);
  await page.mouse.up();
  // The editor has taken the move: Deploy now has something to send.
  await page.waitForFunction(() => (window as any).RED.nodes.dirty(), undefined, { timeout: 10_000 });
}

describe("first run in a real browser (chromium): deploy twice, examples imported as a user does", function () {
  this.timeout(180_000);
  let emu: EmulatorHandle;
  let browser: Browser | undefined;
  let red: NodeRedProcess | undefined;
  let pageErrors: string[] = [];

  before(async function () {
    requireChromium(this);
    emu = await startEmulator({ clientSecret: `first-run-${process.pid}-${Date.now()}` });
  });
  after(async () => {
    await emu?.stop();
  });
  afterEach(async () => {
    await browser?.close();
    browser = undefined;
    await red?.stop();
    red = undefined;
  });

  it("deploy twice: after every node has shown a status, moving one node and deploying changes only its x/y, and no node turns red", async () => {
    // The Kaltura example holds all eight node types; here its connection points at this emulator.
    const KALTURA = "Kaltura-style event sync";
    const nodes = example(KALTURA).map((n) => (n.type === "marketo-config" ? { ...n, endpoint: emu.url } : n));
    const config = nodes.find((n) => n.type === "marketo-config")!;
    new Set(nodes.map((n) => n.type)).should.containDeep(new Set(TYPES));
    red = await startNodeRed({
      flows: nodes as FlowJson,
      credentials: { [config.id]: { clientId: emu.clientId, clientSecret: emu.clientSecret } },
    });
    const opened = await openEditor(red.url, FLOW_TYPES[0], VIEWPORT);
    browser = opened.browser;
    const page = opened.page;
    pageErrors = opened.pageErrors;
    const comment = nodes.find((n) => n.type === "comment")!.id as string;
    await page.waitForFunction((id) => !!(window as any).RED.nodes.node(id), comment);
    await page.waitForSelector(`[id="${comment}"] .red-ui-flow-node`);

    // A first Deploy from the editor, so both files compared are the editor's own writing.
    await dragNode(page, comment, 40, 0);
    await deploy(page, red);
    const first = flowsOnDisk(red);

    // Run until every node of the package has shown a status.
    for (const id of nodes.filter((n) => n.type === "inject").map((n) => n.id as string)) {
      const res = await red.request("POST", `/inject/${id}`);
      res.status.should.equal(200, res.text);
    }
    await page
      .waitForFunction(
        (ts) => {
          const R = (window as any).RED;
          let all = true;
          R.nodes.eachNode((n: any) => {
            if (ts.includes(n.type) && !(n.status && n.status.text)) all = false;
          });
          return all;
        },
        FLOW_TYPES,
        { timeout: 60_000 },
      )
      .catch(async (err) => {
        throw new Error(
          `not every node showed a status: ${JSON.stringify(await shownStatuses(page, FLOW_TYPES))}\n${err}`,
        );
      });
    const running = await shownStatuses(page, FLOW_TYPES);
    await page.screenshot({ path: path.join(ARTIFACTS, "deploy-twice-running.png") });
    running.filter((s) => s.fill === "red").should.eql([], "no node red while running");

    // The ordinary action: move one node, Deploy.
    await dragNode(page, comment, 0, 40);
    await deploy(page, red);
    const second = flowsOnDisk(red);
    [...second.keys()].sort().should.eql([...first.keys()].sort());
    for (const [id, before] of first) {
      const after = second.get(id)!;
      if (id === comment) {
        const { x: x1, y: y1, ...rest1 } = before;
        const { x: x2, y: y2, ...rest2 } = after;
        rest2.should.eql(rest1, `${id}: only x/y may change`);
        [x2, y2].should.not.eql([x1, y1], "the moved node's position is saved");
      } else {
        after.should.eql(before, `${id} (${String(before.type)}) must not change`);
      }
    }
    const program = second.get("kaltura-program")!;
    program.programStatus.should.be.a.String();
    should(program.status).be.undefined();

    // The redeployed nodes paint their status again: none red.
    await page.waitForFunction(
      (ts) => {
        const R = (window as any).RED;
        let all = true;
        R.nodes.eachNode((n: any) => {
          if (ts.includes(n.type) && !(n.status && n.status.text)) all = false;
        });
        return all;
      },
      ["marketo-lead", "marketo-program-status", "marketo-custom-activity", "retry-queue"],
    );
    const after = await shownStatuses(page, FLOW_TYPES);
    await page.screenshot({ path: path.join(ARTIFACTS, "deploy-twice-after.png") });
    after.filter((s) => s.fill === "red").should.eql([], "no node red after the second Deploy");
    after
      .map((s) => s.text)
      .join("\n")
      .should.not.match(/config invalid/);
    pageErrors.should.eql([]);
  });

  it('a flow saved by 0.1.0 (status: "Registered") loads, shows no invalid node, and the next Deploy saves it as programStatus', async () => {
    const tab = "legacy-tab";
    const flows: FlowJson = [
      { id: tab, type: "tab", label: "saved by 0.1.0" },
      {
        ...editorDefaults("marketo-config"),
        id: "legacy-cfg",
        type: "marketo-config",
        name: "emulator",
        endpoint: emu.url,
      },
      { id: "legacy-note", type: "comment", z: tab, name: "0.1.0 flow", x: 160, y: 40, wires: [] },
      // As 0.1.0 saved it: the fixed status under `status`, its type under `statusType`.
      {
        id: "legacy-ps",
        type: "marketo-program-status",
        z: tab,
        name: "",
        marketo: "legacy-cfg",
        program: "1001",
        programType: "num",
        status: "Registered",
        statusType: "str",
        email: "payload.email",
        emailType: "msg",
        createMissing: false,
        raiseErrors: true,
        x: 200,
        y: 120,
        wires: [[], []],
      },
    ];
    red = await startNodeRed({
      flows,
      credentials: { "legacy-cfg": { clientId: emu.clientId, clientSecret: emu.clientSecret } },
    });
    const opened = await openEditor(red.url, FLOW_TYPES[0], VIEWPORT);
    browser = opened.browser;
    const page = opened.page;
    pageErrors = opened.pageErrors;
    // The editor takes the setting over from the deployed flow, and the node is valid.
    await page.waitForFunction(() => {
      const n = (window as any).RED.nodes.node("legacy-ps");
      return !!n && n.programStatus === "Registered" && n.programStatusType === "str" && n.valid === true;
    });
    await page.waitForSelector('[id="legacy-note"] .red-ui-flow-node');
    await dragNode(page, "legacy-note", 40, 0);
    await deploy(page, red);
    const saved = flowsOnDisk(red).get("legacy-ps")!;
    saved.should.containEql({ programStatus: "Registered", programStatusType: "str" });
    should(saved.status).be.undefined();
    // Redeployed, it sets that status.
    await page.waitForFunction(() => !!(window as any).RED.nodes.node("legacy-ps").status?.text);
    const shown = await shownStatuses(page, ["marketo-program-status"]);
    shown[0].fill!.should.not.equal("red", JSON.stringify(shown));
    await page.screenshot({ path: path.join(ARTIFACTS, "legacy-flow-after-deploy.png") });
    pageErrors.should.eql([]);
  });

  for (const name of EXAMPLES) {
    it(`${name}: imported from Import ▸ Examples, set as its comment says and deployed, every node ends green or grey with a count`, async () => {
      const nodes = example(name);
      const tab = nodes.find((n) => n.type === "tab")!;
      const config = nodes.find((n) => n.type === "marketo-config")!;
      const fromEnv = config.credentialSource === "env";
      // The headless example reads its credentials from Node-RED's environment, as its comment says.
      red = await startNodeRed({
        flows: [{ id: "first-run-tab", type: "tab", label: "Flow 1" }],
        ...(fromEnv ? { env: { MARKETO_CLIENT_ID: emu.clientId, MARKETO_CLIENT_SECRET: emu.clientSecret } } : {}),
      });
      const opened = await openEditor(red.url, FLOW_TYPES[0], VIEWPORT);
      browser = opened.browser;
      const page = opened.page;
      pageErrors = opened.pageErrors;

      // Import ▸ Examples ▸ the package ▸ the example, then Import.
      await page.evaluate(() => (window as any).RED.actions.invoke("core:show-examples-import-dialog"));
      const tree = page.locator(".red-ui-clipboard-dialog-tab-library:visible");
      await tree.locator(".red-ui-treeList-label", { hasText: MODULE }).first().click();
      await tree.locator(".red-ui-treeList-label", { hasText: name }).first().click();
      await page.screenshot({ path: path.join(ARTIFACTS, `import-${name}-dialog.png`) });
      await page.click("#red-ui-clipboard-dialog-ok");
      await page.waitForFunction(
        (id) => !!(window as any).RED.nodes.node(id),
        config.id === undefined ? "" : nodes.find((n) => n.type === "comment")!.id,
      );
      // Imported nodes follow the mouse until a click places them.
      await page.mouse.click(800, 500);

      // Its own tab, named after it (not "Flow 2"): open it.
      const tabs = await page.evaluate(() => {
        const out: string[] = [];
        (window as any).RED.nodes.eachWorkspace((w: any) => out.push(w.label));
        return out;
      });
      tabs.should.containEql(tab.label);
      await page.locator("#red-ui-workspace-tabs li", { hasText: tab.label }).first().click();

      // Before the credentials are set, the connection shows as invalid, as core nodes' do.
      const configId = await page.evaluate((n) => {
        let id = "";
        (window as any).RED.nodes.eachConfig((c: any) => {
          if (c.type === "marketo-config" && c.name === n) id = c.id;
        });
        return id;
      }, config.name);
      configId.should.not.equal("", `the connection ${config.name} is imported`);
      if (!fromEnv) {
        await page.waitForFunction((id) => (window as any).RED.nodes.node(id).valid === false, configId);
        await page.screenshot({ path: path.join(ARTIFACTS, `import-${name}-before-credentials.png`) });
      }

      // As the comment says: open the connection, point it at the emulator, enter the id and secret.
      await page.evaluate((id) => (window as any).RED.editor.editConfig("", "marketo-config", id), configId);
      await page.waitForSelector("#node-config-input-endpoint", { state: "visible" });
      await page.fill("#node-config-input-endpoint", emu.url);
      if (!fromEnv) {
        await page.fill("#node-config-input-clientId", emu.clientId);
        await page.fill("#node-config-input-clientSecret", emu.clientSecret);
      }
      await page.screenshot({ path: path.join(ARTIFACTS, `import-${name}-connection.png`) });
      await page.click("#node-config-dialog-ok");
      await page.waitForFunction(() => document.querySelectorAll(".red-ui-tray").length === 0);
      (await page.evaluate((id) => (window as any).RED.nodes.node(id).valid, configId)).should.be.true();

      await deploy(page, red);
      // Node-RED drops the editor's copy of the credentials after a Deploy: the connection stays valid.
      const stillValid = await page.evaluate((id) => {
        const R = (window as any).RED;
        const c = R.nodes.node(id);
        R.editor.validateNode(c);
        return c.valid;
      }, configId);
      stillValid.should.be.true();

      // Events in, as the comment says: the inject nodes, or the webhook for the headless flow.
      const injects = nodes.filter(
        (n) => n.type === "inject" && !n.repeat && !/discard|flush|resubmit/.test(String(n.name)),
      );
      for (const n of injects) {
        const res = await red.request("POST", `/inject/${n.id}`);
        res.status.should.equal(200, res.text);
      }
      if (fromEnv) {
        const res = await fetch(`${red.url}/events`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({
            topic: "registration.created",
            payload: {
              event: { id: 8801, name: "Kaltura Virtual Summit", tags: [], test: false },
              registration: { code: "R-9", status: "Confirmed email", statusTags: ["confirmed"], test: false },
              profile: { email: "first-run@example.com", firstName: "First", lastName: "Run" },
            },
          }),
        });
        res.status.should.equal(200);
      }

      // Every node of the package shows a count, and every action node has sent.
      const types = FLOW_TYPES.filter((t) => nodes.some((n) => n.type === t));
      await page
        .waitForFunction(
          (ts) => {
            const R = (window as any).RED;
            let all = true;
            R.nodes.eachNode((n: any) => {
              if (!ts.includes(n.type)) return;
              const s = n.status || {};
              // An empty retry-queue says "empty": its count is 0.
              if (!s.text || !/\d|^empty$/.test(String(s.text))) all = false;
              if (
                ["marketo-lead", "marketo-program-status", "marketo-custom-activity"].includes(n.type) &&
                !/\bsent [1-9]/.test(String(s.text))
              )
                all = false;
            });
            return all;
          },
          types,
          { timeout: 60_000 },
        )
        .catch(async (err) => {
          throw new Error(`not every node shows a count: ${JSON.stringify(await shownStatuses(page, types))}\n${err}`);
        });
      const shown = await shownStatuses(page, types);
      await page.screenshot({ path: path.join(ARTIFACTS, `import-${name}-deployed.png`) });
      for (const s of shown) {
        ["green", "grey"].includes(s.fill ?? "").should.be.true(`${s.id} (${s.type}) shows "${s.text}" in ${s.fill}`);
        s.text.should.match(/\d|^empty$/, `${s.id} (${s.type}) shows a count`);
        s.text.should.not.match(/config invalid|not set|no Client/);
      }
      // Every node and status readable where the example puts it; zoomed out, the screenshot shows the whole tab.
      await page.evaluate(() => {
        for (let i = 0; i < 4; i++) (window as any).RED.actions.invoke("core:zoom-out");
      });
      await page.screenshot({ path: path.join(ARTIFACTS, `import-${name}-whole-flow.png`) });
      layoutProblems(await canvasBoxes(page)).should.eql([]);
      pageErrors.should.eql([]);
    });
  }
});
