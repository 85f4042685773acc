/**
 * tag-filter's history in a real Node-RED killed with SIGKILL while events stream in: after the
 * restart every line on disk counts, a torn last line is cut, and new events are kept after it.
 * Also: the replay admin routes need tag-filter.write / .read when adminAuth is on.
 */
import * as fs from "fs";
import * as path from "path";
import "should";
import { startNodeRed, type NodeRedProcess } from "../helpers/node-red-process";
import { postJson } from "../helpers/process-flow";
import { parseHistoryLine } from "../../src/lib/flow/event-history";

const FLOW = [
  { id: "tab", type: "tab", label: "history" },
  { id: "in", type: "http in", z: "tab", url: "/events", method: "post", upload: false, wires: [["ack", "split"]] },
  { id: "ack", type: "http response", z: "tab", statusCode: "200", wires: [] },
  { id: "split", type: "function", z: "tab", func: "return [msg.payload];", outputs: 1, wires: [["tf"]] },
  { id: "tf", type: "tag-filter", z: "tab", name: "entry", mode: "any", srcRegistration: true, wires: [[], []] },
];

function events(from: number, n: number) {
  return Array.from({ length: n }, (_, i) => ({
    topic: "registration.created",
    payload: {
      event: { id: 7 },
      registration: { code: `R-${from + i}`, test: false },
      profile: { email: `r${from + i}@example.com` },
    },
  }));
}

/** Complete lines with a good CRC in the node's history folder. */
function linesOnDisk(userDir: string): number {
  const dir = path.join(userDir, "marketo-history", "tag-filter-tf");
  if (!fs.existsSync(dir)) return 0;
  let n = 0;
  for (const f of fs.readdirSync(dir)) {
    const text = fs.readFileSync(path.join(dir, f), "utf8");
    for (const line of text.split("\n").slice(0, -1)) if (parseHistoryLine(line)) n++;
  }
  return n;
}

describe("tag-filter history across kill -9", function () {
  this.timeout(120_000);
  let red: NodeRedProcess | undefined;
  afterEach(async () => {
    await red?.stop();
    red = undefined;
  });

  it("keeps every event written before a SIGKILL and appends after the restart", async () => {
    red = await startNodeRed({ flows: FLOW });
    const post = (body: unknown) => postJson(red!.url, "/events", body);
    for (let k = 0; k < 10; k++) await post(events(k * 100, 100));
    // Events keep streaming while the process is killed.
    let streaming = true;
    const stream = (async () => {
      for (let k = 10; streaming; k++) await post(events(k * 100, 100)).catch(() => (streaming = false));
    })();
    const deadline = Date.now() + 30_000;
    while (linesOnDisk(red.userDir) < 1500 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await red.kill("SIGKILL");
    streaming = false;
    await stream;
    const kept = linesOnDisk(red.userDir);
    kept.should.be.aboveOrEqual(1000);

    await red.restart();
    const count = await red.request("POST", "/tag-filter/tf/replay", { body: { dryRun: true } });
    count.status.should.equal(200);
    count.body.events.should.equal(kept);
    await post(events(900_000, 5));
    // The answer leaves as the events enter the flow: ask until they are kept.
    let after = 0;
    for (let i = 0; i < 200 && after < 2; i++) {
      after = (
        await red.request("POST", "/tag-filter/tf/replay", {
          body: { dryRun: true, registrations: ["R-900000", "R-900004"] },
        })
      ).body.events;
      if (after < 2) await new Promise((r) => setTimeout(r, 25));
    }
    after.should.equal(2);
  });

  it("the replay routes ask for tag-filter.write and tag-filter.read", async () => {
    red = await startNodeRed({
      flows: FLOW,
      adminAuth: { username: "reader", password: "reader-password", permissions: "read" },
    });
    // A read-only user's token (scope "read"; the helper's adminToken asks for "*").
    const res = await fetch(`${red.url}/auth/token`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({
        client_id: "node-red-admin",
        grant_type: "password",
        scope: "read",
        username: "reader",
        password: "reader-password",
      }),
    });
    const token = ((await res.json()) as { access_token: string }).access_token;
    // Node-RED answers a missing permission with 401, as it does a missing token.
    (await red.request("POST", "/tag-filter/tf/replay", { body: { dryRun: true }, token })).status.should.equal(401);
    (await red.request("POST", "/tag-filter/tf/replay", { body: { dryRun: true } })).status.should.equal(401);
    // Reading is allowed: the replay is unknown, not forbidden.
    (await red.request("GET", "/tag-filter/tf/replay/none", { token })).status.should.equal(404);
  });
});
