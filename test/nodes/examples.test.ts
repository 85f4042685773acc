/**
 * The examples under Import ▸ Examples: each is a well-formed flow that starts with a
 * comment and carries no secret, all of them together use every node of the package and only
 * core nodes besides, and each one deploys into a real Node-RED 4.1 (as the editor deploys an
 * imported example once its connection is filled in) without an error. The Kaltura-style one,
 * and the other two briefly, then run against the emulator.
 */
import fs from "node:fs";
import path from "node:path";
import should from "should";
import { startEmulator, type EmulatorHandle } from "../../src/emulator";
import { sleep } from "../helpers/marketo-flow";
import { startNodeRed, type FlowJson, type NodeRedProcess } from "../helpers/node-red-process";

const ROOT = path.join(__dirname, "..", "..");
const EXAMPLES_DIR = path.join(ROOT, "examples");
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
const PACKAGE_TYPES = Object.keys(pkg["node-red"].nodes);
const EMULATOR_PORT_URL = "http://127.0.0.1:4010";

type Node = Record<string, any>;
const files = fs.readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith(".json")).sort();
const example = (name: string): Node[] => JSON.parse(fs.readFileSync(path.join(EXAMPLES_DIR, `${name}.json`), "utf8"));
const KALTURA = "Kaltura-style event sync";
const CERTAIN = "Certain-style event sync";
const HEADLESS = "Headless production";

interface EmuState {
  leads: Array<{ id: number; email: string; [k: string]: unknown }>;
  programs: { programMembers: Array<{ programId: number; leadId: number; status: string }> };
  activities: { activities: Array<{ leadId: number; activityTypeId: number; primaryAttributeValue: string }> };
  customObjects: Record<string, Array<{ personId: number; entry_id: string }>>;
}

async function until<T>(what: string, get: () => T | Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v).slice(0, 2000)}`);
    await sleep(100);
  }
}

describe("examples", function () {
  this.timeout(60_000);
  let emu: EmulatorHandle;
  let red: NodeRedProcess;

  before(async () => {
    // A secret of this run's own, so that finding it anywhere means it leaked (the examples' comments name the emulator's default one).
    emu = await startEmulator({ clientSecret: `examples-${process.pid}-${Date.now()}` });
    // The headless example reads its credentials from these, as a service's environment would hold them.
    red = await startNodeRed({ flows: [], env: { MARKETO_CLIENT_ID: emu.clientId, MARKETO_CLIENT_SECRET: emu.clientSecret } });
  });
  after(async () => {
    await red?.stop();
    await emu?.stop();
  });

  /**
   * Deploys an example as a user does after importing it: on a tab of its own, the connection
   * pointed at this emulator and (unless it reads the environment) given the emulator's
   * credentials in the dialog. Answers the log written by the deploy and its first second.
   */
  async function deploy(name: string): Promise<string> {
    const nodes = example(name);
    const flows: FlowJson = [
      ...nodes.map((n) => {
        if (n.type !== "marketo-config") return n;
        const creds = n.credentialSource === "env" ? {} : { credentials: { clientId: emu.clientId, clientSecret: emu.clientSecret } };
        return { ...n, endpoint: emu.url, ...creds };
      }),
    ];
    const from = red.log().length;
    const res = await red.request("POST", "/flows", { body: flows });
    res.status.should.equal(204, res.text); // API v1: deployed, nothing to answer
    await red.waitForLog(/Started flows/, 20_000, from);
    // Deploy-time reads (program channel, activity type, custom object) answer within it.
    await sleep(1000);
    return red.log().slice(from);
  }

  const state = (): EmuState => emu.state() as unknown as EmuState;
  const post = async (route: string, body: unknown): Promise<void> => {
    const res = await fetch(red.url + route, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    await res.text();
    res.status.should.equal(200, `POST ${route}`);
  };
  const inject = async (id: string): Promise<void> => {
    const res = await red.request("POST", `/inject/${id}`);
    res.status.should.equal(200, `inject ${id}: ${res.text}`);
  };

  it("are the three flows the issue asks for, each a JSON array", () => {
    files.should.eql([`${CERTAIN}.json`, `${HEADLESS}.json`, `${KALTURA}.json`]);
    for (const f of files) {
      const nodes = example(path.basename(f, ".json"));
      nodes.should.be.an.Array();
      new Set(nodes.map((n) => n.id)).size.should.equal(nodes.length, `${f}: duplicate ids`);
    }
  });

  it("each start with a comment saying what it shows and what to set", () => {
    for (const f of files) {
      const [first] = example(path.basename(f, ".json"));
      first.type.should.equal("comment", f);
      first.name.should.not.be.empty();
      first.info.should.match(/\*\*Set:\*\*/, f);
    }
  });

  it("carry no secret: the connection points at the emulator's default port with no credentials", () => {
    for (const f of files) {
      const text = fs.readFileSync(path.join(EXAMPLES_DIR, f), "utf8");
      const nodes: Node[] = JSON.parse(text);
      for (const n of nodes) should(n.credentials).be.undefined();
      const configs = nodes.filter((n) => n.type === "marketo-config");
      configs.should.have.length(1, f);
      configs[0].endpoint.should.equal(EMULATOR_PORT_URL);
      text.should.not.match(/emulator-secret"|clientSecret"\s*:/);
      // One flow: every flow node on the example's own tab, named after it (not "Flow 1").
      const tabs = nodes.filter((n) => n.type === "tab");
      tabs.should.have.length(1, f);
      tabs[0].label.should.equal(path.basename(f, ".json"));
      new Set(nodes.filter((n) => n.type !== "marketo-config" && n.type !== "tab").map((n) => n.z)).should.eql(new Set([tabs[0].id]), f);
    }
    // Imported side by side, the connections tell which example they belong to.
    const names = files.map((f) => example(path.basename(f, ".json")).find((n) => n.type === "marketo-config")!.name as string);
    new Set(names).size.should.equal(files.length, names.join(", "));
    example(HEADLESS).find((n) => n.type === "marketo-config")!.credentialSource.should.equal("env");
  });

  it("use only core nodes and the package's, and every one of its eight nodes", async () => {
    const res = await red.request("GET", "/nodes");
    const sets = res.body as Array<{ module: string; types: string[] }>;
    const core = new Set(sets.filter((s) => s.module === "node-red").flatMap((s) => s.types));
    core.has("inject").should.be.true();
    const used = new Set(files.flatMap((f) => example(path.basename(f, ".json")).map((n) => n.type as string)));
    [...used].filter((t) => t !== "tab" && !core.has(t) && !PACKAGE_TYPES.includes(t)).should.eql([]);
    PACKAGE_TYPES.filter((t) => !used.has(t)).should.eql([]);
    PACKAGE_TYPES.should.have.length(8);
  });

  it("are listed under Import ▸ Examples", async () => {
    const res = await red.request("GET", `/library/examples/flows/${pkg.name}/`);
    res.status.should.equal(200, res.text);
    (res.body as Array<{ fn: string }>).map((e) => e.fn).sort().should.eql(files.map((f) => path.basename(f, ".json")).sort());
  });

  for (const name of [KALTURA, CERTAIN, HEADLESS]) {
    it(`${name}: deploys into a real Node-RED 4.1 without an error`, async () => {
      const log = await deploy(name);
      log.should.not.match(/Error|\[error\]/);
      const res = await red.request("GET", "/flows");
      const deployed = new Map((res.body as Node[]).map((n) => [n.id, n]));
      for (const n of example(name)) deployed.has(n.id).should.be.true(`${n.id} deployed`);
      res.text.should.not.containEql(emu.clientSecret);
    });
  }

  it(`${KALTURA}: runs against the emulator: leads, program statuses, activities and custom object records`, async () => {
    const log = await deploy(KALTURA);
    const leadsBefore = state().leads.length;
    // The sample events of the comment's "click the inject nodes", in order, each landed first.
    await inject("kaltura-reg");
    await until("Ada's lead", state, (s) => s.leads.some((l) => l.email === "ada.lovelace@example.com"));
    await inject("kaltura-status");
    await inject("kaltura-engagement");
    // And a batch of attendees through the webhook.
    const N = 20;
    for (let i = 0; i < N; i++) {
      const profile = { email: `attendee${i}@example.com`, firstName: `first${i}`, lastName: `last${i}`, company: `Company ${i}` };
      const event = { id: 8801, code: "KVS26", name: "Kaltura Virtual Summit", tags: ["marketo"], test: false };
      await post("/kaltura/events", {
        topic: "registration.created",
        payload: { event, profile, registration: { code: `R-${i}`, status: "Registered", statusTags: ["registered"], test: false } },
      });
      await post("/kaltura/events", {
        topic: "session.engagement",
        payload: { event, profile, session: { id: "s-42", name: "Keynote" }, engagement: { entry_id: "1_keynote", entry_name: "Keynote", plays: i + 1 } },
      });
    }
    const done = await until(
      "every record in Marketo",
      state,
      (s) =>
        s.leads.length - leadsBefore >= N + 1 &&
        s.programs.programMembers.filter((m) => m.programId === 1001).length >= N + 1 &&
        s.programs.programMembers.some((m) => m.status === "Participated") &&
        s.activities.activities.filter((a) => a.activityTypeId === 100001).length >= N + 1 &&
        (s.customObjects.kalturaUserSessionEngagement ?? []).length >= N + 1,
    );
    const ada = done.leads.find((l) => l.email === "ada.lovelace@example.com")!;
    should(ada).match({ firstName: "Ada", lastName: "Lovelace", country: "GB", registrationCode: "R-1001" });
    done.programs.programMembers.find((m) => m.leadId === ada.id)!.status.should.equal("Participated");
    const attendee = done.leads.find((l) => l.email === "attendee7@example.com")!;
    attendee.firstName!.should.equal("First7");
    done.programs.programMembers.find((m) => m.leadId === attendee.id && m.programId === 1001)!.status.should.equal("Registered");
    done.activities.activities.filter((a) => a.activityTypeId === 100001 && a.leadId === attendee.id).map((a) => a.primaryAttributeValue).should.eql(["1_keynote"]);
    done.customObjects.kalturaUserSessionEngagement.filter((r) => r.personId === attendee.id).should.have.length(1);
    const queue = await red.request("GET", "/retry-queue/kaltura-queue/entries");
    queue.status.should.equal(200, queue.text);
    queue.body.entries.should.eql([]);
    (log + red.log()).should.not.match(/TypeError|ReferenceError|Unhandled/);
  });

  it(`${CERTAIN}: runs: the campaign the event question names, the form post, the test registration held back`, async () => {
    await deploy(CERTAIN);
    const from = red.log().length;
    for (const id of ["certain-reg", "certain-attended", "certain-test", "certain-form-fill"]) await inject(id);
    const s = await until(
      "Grace's lead, the form fill-out's lead",
      state,
      (st) => st.leads.some((l) => l.email === "grace.hopper@example.org") && st.leads.some((l) => l.email === "linus.t@example.org"),
    );
    const grace = s.leads.find((l) => l.email === "grace.hopper@example.org")!;
    grace.title!.should.equal("Rear Admiral");
    await until("Grace in the Webinar program", state, (st) => st.programs.programMembers.some((m) => m.programId === 1002 && m.leadId === grace.id));
    s.leads.some((l) => l.email === "qa+test@example.org").should.be.false();
    await until("Grace's attendance", state, (st) => st.programs.programMembers.some((m) => m.leadId === grace.id && m.status === "Attended"));
    // The node names no campaign: only the event question can have asked for 2001, and only for the registration.
    const runs = (emu.state() as unknown as { campaigns: { campaignRuns: Array<{ campaignId: number; leadIds: number[]; tokens: unknown }> } }).campaigns.campaignRuns;
    runs.map((r) => [r.campaignId, r.leadIds]).should.eql([[2001, [grace.id]]]);
    JSON.stringify(runs[0].tokens).should.containEql("DevCon 2026");
    type Submission = { formId: number; leadId?: number; fields: Record<string, unknown>; visitorData?: Record<string, unknown> };
    const { formSubmissions } = (emu.state() as unknown as { forms: { formSubmissions: Submission[] } }).forms;
    const linus = s.leads.find((l) => l.email === "linus.t@example.org")!;
    formSubmissions.map((f) => [f.formId, f.leadId, f.fields.email, f.visitorData?.pageURL]).should.eql([
      [3001, linus.id, "linus.t@example.org", "https://events.example.org/devcon26/register"],
    ]);
    red.log().slice(from).should.not.match(/Error|TypeError/);
  });

  it(`${HEADLESS}: runs on credentials from the environment, and the queue answers a stats message`, async () => {
    await deploy(HEADLESS);
    const from = red.log().length;
    await post("/events", {
      topic: "registration.created",
      payload: {
        event: { id: 8801, name: "Kaltura Virtual Summit", tags: [], test: false },
        registration: { code: "R-9", status: "Confirmed email", statusTags: ["confirmed"], test: false },
        profile: { email: "headless@example.com", firstName: "Head", lastName: "Less" },
      },
    });
    const s = await until("the headless lead's program status", state, (st) => {
      const lead = st.leads.find((l) => l.email === "headless@example.com");
      return !!lead && st.programs.programMembers.some((m) => m.leadId === lead.id && m.status === "Confirmed");
    });
    s.leads.find((l) => l.email === "headless@example.com")!.registrationCode!.should.equal("R-9");
    await inject("headless-stats");
    // The debug node logs the queue's answer to the console, where a service's log collects it.
    await red.waitForLog(/\[debug:log\][\s\S]*stats/, 10_000, from);
    red.log().slice(from).should.not.match(/Error|TypeError/);
  });
});
