/**
 * Secrets in a REAL Node-RED process against the emulator in this process: records
 * that succeed and records that fail (a bad record, a status the program lacks, a wrong secret
 * on a second config), then the client secrets and every access token the emulator issued are
 * looked for in the process log (status texts and Catch errors reach it through debug nodes),
 * every file Node-RED and the package wrote under the userDir, the flow export, and the answers
 * of every admin route of the package. None may hold them. Then, with adminAuth on, every route
 * of the package answers 401 without a token and works with one.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import should from "should";
import type { EmulatorHandle } from "../../src/emulator";
import { editorDefaults } from "../helpers/editor-defaults";
import { configNode } from "../helpers/marketo-flow";
import { decryptCredentials, PACKAGE_ROOT, type HttpAnswer, type NodeRedProcess } from "../helpers/node-red-process";
import { ProcessRig } from "../helpers/process-rig";

const SUMMIT = 1001;
const ADMIN = { username: "admin", password: `pw-${crypto.randomBytes(6).toString("hex")}` };
/** Node types this package registers: their admin routes start with /<type>/. */
// Route prefixes of the package: its node types and its plugins (the Marketo sidebar).
const PACKAGE_JSON = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as {
  "node-red": { nodes: Record<string, string>; plugins?: Record<string, string> };
};
const PACKAGE_TYPES = [
  ...Object.keys(PACKAGE_JSON["node-red"].nodes),
  ...Object.keys(PACKAGE_JSON["node-red"].plugins ?? {}),
];

const secret = (what: string): string => `${what}-${crypto.randomBytes(18).toString("base64url")}`;

type Flow = Array<Record<string, unknown>>;

function debug(id: string): Record<string, unknown> {
  return {
    id,
    type: "debug",
    z: "t",
    active: true,
    tosidebar: false,
    console: true,
    tostatus: false,
    complete: "true",
    targetType: "full",
    wires: [],
  };
}

/** An inject that fires once at start with the given msg properties (JSON values). */
function inject(id: string, props: Record<string, unknown>, to: string, delay = 0.3): Record<string, unknown> {
  return {
    id,
    type: "inject",
    z: "t",
    props: Object.entries(props).map(([p, v]) => ({ p, v: JSON.stringify(v), vt: "json" })),
    repeat: "",
    once: true,
    onceDelay: delay,
    wires: [[to]],
  };
}

function flow(emu: EmulatorHandle): Flow {
  const cfg = (id: string, name: string, extra: Record<string, unknown> = {}) =>
    configNode(emu, { id, name, endpoint: `${emu.url}/rest`, ...extra });
  const action = (id: string, type: string, marketo: string, wires: string[][]) => ({
    ...editorDefaults(type),
    id,
    type,
    z: "t",
    marketo,
    wires,
  });
  return [
    { id: "t", type: "tab", label: "secrets" },
    cfg("cfg", "good"),
    cfg("cfgWrong", "wrong secret"),
    cfg("cfgEnv", "from env", {
      credentialSource: "env",
      clientIdEnv: "MKTO_TEST_ID",
      clientSecretEnv: "MKTO_TEST_SECRET",
    }),
    // Three good leads and one Marketo refuses, then each into its program status.
    inject(
      "inGood",
      {
        payload: [
          { email: "ada@example.com" },
          { email: "grace@example.org" },
          { email: "alan@example.com" },
          { email: "not an address" },
        ],
        programId: SUMMIT,
        marketo: { programStatus: { name: "Registered" } },
      },
      "lead",
    ),
    // A status the program's channel lacks: refused by marketo-program-status.
    inject(
      "inStatus",
      {
        payload: { email: "edsger@example.nl" },
        programId: SUMMIT,
        marketo: { programStatus: { name: "Teleported" } },
      },
      "lead",
      0.4,
    ),
    // The same through the config whose secret Marketo refuses, and through the env config.
    inject("inWrong", { payload: { email: "wrong@example.com" } }, "leadWrong"),
    inject("inEnv", { payload: { email: "env@example.com" } }, "leadEnv"),
    action("lead", "marketo-lead", "cfg", [["ps"], ["failed", "rq"]]),
    action("ps", "marketo-program-status", "cfg", [["delivered"], ["failed", "rq"]]),
    action("leadWrong", "marketo-lead", "cfgWrong", [["delivered"], ["failed", "rq"]]),
    action("leadEnv", "marketo-lead", "cfgEnv", [["delivered"], ["failed", "rq"]]),
    // The failures are held in a retry queue too: its journal and its routes must not hold secrets.
    { ...editorDefaults("retry-queue"), id: "rq", type: "retry-queue", z: "t", wires: [[], [], []] },
    debug("delivered"),
    debug("failed"),
    { id: "catcher", type: "catch", z: "t", scope: null, uncaught: false, wires: [["caught"]] },
    debug("caught"),
    { id: "statuses", type: "status", z: "t", scope: null, wires: [["status"]] },
    debug("status"),
  ];
}

const count = (text: string, re: RegExp): number => (text.match(new RegExp(re.source, "g")) ?? []).length;

async function untilCount(nr: NodeRedProcess, re: RegExp, n: number, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (count(nr.log(), re) < n) {
    if (Date.now() > end)
      throw new Error(
        `expected ${n} × ${re} in the Node-RED log, saw ${count(nr.log(), re)}:\n${nr.log().slice(-4000)}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every file under `dir`, as text. */
function filesUnder(dir: string): Array<{ file: string; text: string }> {
  const out: Array<{ file: string; text: string }> = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push({ file: path.relative(dir, p), text: fs.readFileSync(p).toString("latin1") });
  }
  return out;
}

describe("secrets stay secret (a real Node-RED process)", function () {
  this.timeout(60_000);
  const SECRET = secret("good");
  const WRONG = secret("wrong");
  const ENV_SECRET = secret("env");
  const CREDENTIAL_KEY = secret("credential-key");
  const rig = new ProcessRig();
  let emu: EmulatorHandle;
  let nr: NodeRedProcess | undefined;
  let token = "";
  /** Every answer of every admin route, by "METHOD path (case)". */
  const answers = new Map<string, HttpAnswer>();
  let routes: Array<{ method: string; path: string }> = [];

  before(async () => {
    emu = await rig.emulator({ clientId: "mkto-client", clientSecret: SECRET });
    emu.addClient({ clientId: "mkto-env-client", clientSecret: ENV_SECRET });
    nr = await rig.nodeRed({
      flows: flow(emu),
      credentials: {
        cfg: { clientId: "mkto-client", clientSecret: SECRET },
        cfgWrong: { clientId: "mkto-client", clientSecret: WRONG },
      },
      credentialSecret: CREDENTIAL_KEY,
      adminAuth: ADMIN,
      env: { MKTO_TEST_ID: "mkto-env-client", MKTO_TEST_SECRET: ENV_SECRET },
      listAdminRoutes: true,
    });
    // 3 leads and 3 program statuses delivered, plus the env config's lead; 3 failures at lead or
    // program status (a bad email, a missing status, a refused secret), each also caught.
    await untilCount(nr, /\[debug:delivered\]/, 4);
    await untilCount(nr, /\[debug:failed\]/, 3);
    await untilCount(nr, /\[debug:caught\]/, 3);
    token = await nr.adminToken();
    routes = ((await nr.request("GET", "/_test/admin-routes")).body as Array<{ method: string; path: string }>).filter(
      (r) => PACKAGE_TYPES.includes(r.path.split("/")[1]),
    );
    for (const route of routes) {
      for (const req of requestsFor(route)) {
        answers.set(
          `${route.method} ${route.path} (${req.label})`,
          await nr.request(route.method, concrete(route.path), { body: req.body, token }),
        );
      }
    }
  });
  after(() => rig.stop());

  /** The requests each known admin route gets; a route not listed here gets one plain request. */
  function requestsFor(route: {
    method: string;
    path: string;
  }): Array<{ label: string; body?: unknown; expect: number }> {
    const key = `${route.method} ${route.path}`;
    const endpoint = emu.url;
    switch (key) {
      case "POST /marketo-config/test":
        return [
          {
            label: "stored secret",
            body: { id: "cfg", endpoint, clientId: "mkto-client", clientSecret: "__PWRD__" },
            expect: 200,
          },
          { label: "typed secret", body: { endpoint, clientId: "mkto-client", clientSecret: SECRET }, expect: 200 },
          { label: "wrong secret", body: { endpoint, clientId: "mkto-client", clientSecret: WRONG }, expect: 200 },
          {
            label: "stored wrong secret",
            body: { id: "cfgWrong", endpoint, clientId: "mkto-client", clientSecret: "__PWRD__" },
            expect: 200,
          },
          {
            label: "env secret",
            body: {
              id: "cfgEnv",
              endpoint,
              credentialSource: "env",
              clientIdEnv: "MKTO_TEST_ID",
              clientSecretEnv: "MKTO_TEST_SECRET",
            },
            expect: 200,
          },
        ];
      case "POST /marketo-program-status/check":
        return [
          {
            label: "good config",
            body: { config: "cfg", programId: SUMMIT, statuses: ["Registered", "Teleported"] },
            expect: 200,
          },
          {
            label: "wrong secret",
            body: { config: "cfgWrong", programId: SUMMIT, statuses: ["Registered"] },
            expect: 200,
          },
        ];
      case "POST /field-mapper/targets":
        return [
          { label: "good config", body: { config: "cfg" }, expect: 200 },
          { label: "wrong secret", body: { config: "cfgWrong" }, expect: 502 },
        ];
      case "POST /field-mapper/preview": {
        const rows = editorDefaults("field-mapper").rows as Array<Record<string, unknown>>;
        const msg = {
          payload: { profile: { email: "ada@example.com", firstName: "ada", lastName: "l", company: "c" } },
        };
        return [
          { label: "the editor's rows", body: { rows, msg }, expect: 200 },
          // A row reading the very variable the env config takes its secret from.
          {
            label: "an env row naming the secret's variable",
            body: {
              rows: [
                ...rows,
                {
                  ...rows[1],
                  target: "title",
                  sourceType: "env",
                  source: "MKTO_TEST_SECRET",
                  case: "none",
                  required: false,
                },
              ],
              msg,
            },
            expect: 400,
          },
        ];
      }
      case "GET /retry-queue/:id/entries":
        return [{ label: "every entry", expect: 200 }];
      case "POST /retry-queue/:id/resubmit":
      case "POST /retry-queue/:id/discard":
        // No entry has this id: the route answers without changing the queue.
        return [{ label: "an unknown id", body: { ids: ["no-such-entry"] }, expect: 200 }];
      case "POST /status-mapper/channel":
        return [{ label: "kaltura rows", body: { rules: editorDefaults("status-mapper").rules }, expect: 200 }];
      default:
        return [{ label: "plain", ...(route.method === "GET" ? {} : { body: {} }), expect: 0 }];
    }
  }

  /** A route path with its parameters filled in: the one node of the route's type in the flow. */
  const concrete = (p: string): string => p.replace(/:[A-Za-z_]+/g, p.startsWith("/retry-queue/") ? "rq" : "cfg");

  it("finds the package's admin routes, and each works with a token", () => {
    routes
      .map((r) => `${r.method} ${r.path}`)
      .should.containDeep([
        "POST /marketo-config/test",
        "POST /marketo-program-status/check",
        "POST /field-mapper/preview",
        "POST /field-mapper/targets",
        "GET /field-mapper/builtin-targets",
        "GET /status-mapper/presets",
        "POST /status-mapper/channel",
        "GET /retry-queue/:id/entries",
      ]);
    for (const route of routes) {
      for (const req of requestsFor(route)) {
        const key = `${route.method} ${route.path} (${req.label})`;
        const res = answers.get(key)!;
        if (req.expect) res.status.should.equal(req.expect, `${key}: ${res.text}`);
        else res.status.should.not.be.oneOf([401, 403]);
      }
    }
    // The probes did reach Marketo: the secrets worked or were refused, as each case says.
    answers.get("POST /marketo-config/test (stored secret)")!.body.ok.should.be.true();
    answers.get("POST /marketo-config/test (typed secret)")!.body.ok.should.be.true();
    answers.get("POST /marketo-config/test (env secret)")!.body.ok.should.be.true();
    answers.get("POST /marketo-config/test (wrong secret)")!.body.token.category.should.equal("auth");
    answers.get("POST /marketo-config/test (stored wrong secret)")!.body.token.category.should.equal("auth");
    // The queue holds the three failures, the refused secret's among them, for the search below.
    const held = answers.get("GET /retry-queue/:id/entries (every entry)")!.body as {
      total: number;
      entries: Array<{ category?: string }>;
    };
    held.total.should.equal(3);
    JSON.stringify(held.entries).should.match(/"auth"/);
  });

  it("no secret and no access token in the log, the files, the flow export or any answer", async () => {
    const tokens = emu.issuedTokens();
    tokens.length.should.be.above(0);
    const needles: Array<[string, string]> = [
      ["the client secret", SECRET],
      ["the wrong secret", WRONG],
      ["the env secret", ENV_SECRET],
      ...tokens.map((t, i): [string, string] => [`access token ${i + 1}`, t]),
    ];
    const flows = await nr!.request("GET", "/flows", { token });
    flows.status.should.equal(200);
    const creds = await nr!.request("GET", "/credentials/marketo-config/cfg", { token });
    creds.status.should.equal(200);
    creds.body.should.containDeep({ clientId: "mkto-client", has_clientSecret: true });
    const haystacks: Array<[string, string]> = [
      ["the Node-RED log", nr!.log()],
      ["GET /flows", flows.text],
      ["GET /credentials/marketo-config/cfg", creds.text],
      ...[...answers].map(([k, a]): [string, string] => [k, a.text]),
      ...filesUnder(nr!.userDir).map((f): [string, string] => [`userDir/${f.file}`, f.text]),
    ];
    for (const [where, text] of haystacks) {
      for (const [what, needle] of needles) should(text.includes(needle)).be.false(`${what} appears in ${where}`);
    }
    // The log does show what happened: statuses and errors reached it, with their categories.
    const log = nr!.log();
    log.should.match(/auth failed/);
    log.should.match(/MarketoError: marketo-lead: auth: Marketo rejected the client credentials/);
    log.should.match(/MarketoError: marketo-program-status: validation: .*Teleported/);
    log.should.match(
      /MarketoError: marketo-lead: 1 of 4 records failed; first: validation: Marketo 1003: Invalid value for field 'email'/,
    );
    // The env row reading the secret's variable was refused, naming it.
    answers
      .get("POST /field-mapper/preview (an env row naming the secret's variable)")!
      .body.error.should.match(/MKTO_TEST_SECRET looks like a secret/);
  });

  it("flows_cred.json is encrypted with the credential secret", () => {
    const stored = JSON.parse(fs.readFileSync(path.join(nr!.userDir, "flows_cred.json"), "utf8")) as { $: string };
    Object.keys(stored).should.eql(["$"]);
    // The search above is meaningful: decrypted, the file does hold the secrets.
    const plain = decryptCredentials(CREDENTIAL_KEY, stored) as Record<string, { clientSecret?: string }>;
    plain.cfg.clientSecret!.should.equal(SECRET);
    plain.cfgWrong.clientSecret!.should.equal(WRONG);
  });

  it("with adminAuth, every admin route of the package answers 401 without a token", async () => {
    routes.length.should.be.above(0);
    for (const route of routes) {
      const res = await nr!.request(route.method, concrete(route.path), route.method === "GET" ? {} : { body: {} });
      res.status.should.equal(401, `${route.method} ${route.path} answered ${res.status} without a token`);
      for (const s of [SECRET, WRONG, ENV_SECRET]) res.text.should.not.containEql(s);
    }
    // A token that is not one Node-RED issued is no better than none.
    (await nr!.request("POST", "/marketo-config/test", { body: {}, token: "not-a-token" })).status.should.equal(401);
  });

  it("killed with SIGKILL, it starts again on the same userDir with its flows and credentials", async () => {
    const before = nr!.pid;
    const exit = await nr!.kill("SIGKILL");
    exit.signal!.should.equal("SIGKILL");
    nr!.running.should.be.false();
    const from = nr!.log().length;
    await nr!.restart();
    nr!.pid.should.not.equal(before);
    nr!
      .log()
      .slice(from)
      .should.match(/Started flows/);
    const fresh = await nr!.adminToken();
    const creds = await nr!.request("GET", "/credentials/marketo-config/cfg", { token: fresh });
    creds.body.should.containDeep({ clientId: "mkto-client", has_clientSecret: true });
    // The restarted flow reaches Marketo with the stored secret: the injects fire again.
    await untilCount(nr!, /\[debug:delivered\]/, 8);
    for (const s of [SECRET, WRONG, ENV_SECRET, ...emu.issuedTokens()]) nr!.log().includes(s).should.be.false();
  });
});
