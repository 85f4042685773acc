/**
 * Debian's chromium for the browser suites, driven by playwright-core (which never downloads a
 * browser of its own). Without /usr/bin/chromium a suite skips itself on a developer machine;
 * under CI=true it fails, since .ci/run installs chromium first.
 */
import fs from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const ARTIFACTS = path.join(__dirname, "..", "..", "test-artifacts", "browser");

const LAUNCH_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  // Without these chromium keeps calling Google's hosts, refused on a closed network.
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Skips the suite (`ctx` is mocha's `this` in before) when chromium is missing, except under CI. */
export function requireChromium(ctx: Mocha.Context): void {
  if (fs.existsSync(CHROMIUM)) return;
  if (process.env.CI === "true")
    throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium before the tests`);
  console.log(
    `      (skipped: ${CHROMIUM} is missing; install it with: apt-get install -y --no-install-recommends chromium)`,
  );
  ctx.skip();
}

export interface EditorPage {
  browser: Browser;
  page: Page;
  /** Uncaught errors of the page, in order. */
  pageErrors: string[];
}

/** Opens the Node-RED editor at `url` and waits until the palette shows `paletteType`. */
export async function openEditor(
  url: string,
  paletteType: string,
  viewport = { width: 1400, height: 900 },
): Promise<EditorPage> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
  const page = await browser.newPage({ viewport });
  const pageErrors: string[] = [];
  page.on("pageerror", (err) => pageErrors.push(String(err && err.stack ? err.stack : err)));
  await page.goto(url);
  await page.waitForSelector(`.red-ui-palette-node[data-palette-type="${paletteType}"]`, { timeout: 30_000 });
  return { browser, page, pageErrors };
}
