/**
 * marketo-config through node-red-node-test-helper against the built node and the emulator:
 * the shared client, credentials from the dialog or from environment variables, settings
 * checked at deploy, the Test connection route, and secrets kept out of every answer.
 */
import should from "should";
import helper = require("node-red-node-test-helper");
import marketoConfig = require("../../nodes/marketo-config");
import type { EmulatorHandle } from "../../src/emulator";
import type { MarketoConfigNode } from "../../src/lib/node-kit/marketo-config-api";
import { CONFIG_ID, configNode, credentials, emulator, spied, unloadAfterEach } from "../helpers/marketo-flow";

helper.init(require.resolve("node-red"));

const config = (): MarketoConfigNode => helper.getNode(CONFIG_ID) as unknown as MarketoConfigNode;

/** Everything the node logged, as one string: secrets must never be in it. */
function logged(): string {
  const n = spied(CONFIG_ID);
  return JSON.stringify([n.error.args, n.warn.args]);
}

describe("marketo-config node", () => {
  let emu: EmulatorHandle;
  beforeEach(async () => {
    emu = await emulator();
  });
  unloadAfterEach(() => emu);
  afterEach(() => {
    delete process.env.TEST_MKTO_ID;
    delete process.env.TEST_MKTO_SECRET;
  });

  it("makes one client on first use and shares it", async () => {
    await helper.load(marketoConfig, [configNode(emu)], credentials(emu));
    const cfg = config();
    should(cfg.configError).be.undefined();
    cfg.clientState().should.eql({ state: "ok" });
    const client = cfg.getClient();
    should(cfg.getClient()).equal(client);
    should(cfg.client).equal(client);
    (await client.syncLeads([{ email: "a@example.com" }])).should.containDeep([{ ok: true, status: "created" }]);
    emu.state().leads.should.have.length(1);
  });

  it("passes the dialog's limits to the client and normalises a pasted /rest suffix", async () => {
    await helper.load(marketoConfig, [configNode(emu, { endpoint: `${emu.url}/rest`, callsPerWindow: "50", concurrency: "2", dailyBudget: "3" })], credentials(emu));
    const client = config().getClient();
    client.origin.should.equal(emu.url);
    should(client.pastedSuffix).equal("/rest");
    client.usage().dailyBudget.should.equal(3);
  });

  it("reports unusable settings at deploy, as a validation error naming the field and never the secret", async () => {
    await helper.load(marketoConfig, [configNode(emu, { concurrency: "0" })], credentials(emu, "s3cr3t-value"));
    const cfg = config();
    should(cfg.configError).be.ok();
    cfg.configError!.category.should.equal("validation");
    cfg.configError!.message.should.match(/concurrency/);
    should(cfg.client).be.undefined();
    (() => cfg.getClient()).should.throw(/concurrency/);
    logged().should.match(/concurrency/).and.not.match(/s3cr3t-value/);
  });

  it("a missing secret is a validation error that says where to find it", async () => {
    await helper.load(marketoConfig, [configNode(emu)], { [CONFIG_ID]: { clientId: emu.clientId } });
    config().configError!.message.should.match(/Client Secret is missing.*LaunchPoint/);
    config().configStatus!.should.equal("no Client Secret");
  });

  it("an imported example with no credentials says what is missing, not only that the config is invalid", async () => {
    await helper.load(marketoConfig, [configNode(emu)], {});
    config().configError!.message.should.match(/Client Id is missing/);
    config().configStatus!.should.equal("no Client Id or Secret");
    await helper.unload();
    await helper.load(marketoConfig, [configNode(emu)], { [CONFIG_ID]: { clientSecret: emu.clientSecret } });
    config().configStatus!.should.equal("no Client Id");
    await helper.unload();
    await helper.load(marketoConfig, [configNode(emu, { concurrency: "0" })], credentials(emu));
    config().configStatus!.should.equal("config invalid");
    await helper.unload();
    await helper.load(marketoConfig, [configNode(emu)], credentials(emu));
    should(config().configStatus).be.undefined();
  });

  it("takes the id and secret from the environment variables the dialog names", async () => {
    process.env.TEST_MKTO_ID = emu.clientId;
    process.env.TEST_MKTO_SECRET = emu.clientSecret;
    await helper.load(marketoConfig, [configNode(emu, { credentialSource: "env", clientIdEnv: "TEST_MKTO_ID", clientSecretEnv: "TEST_MKTO_SECRET" })], {});
    (await config().getClient().syncLeads([{ email: "env@example.com" }]))[0].ok.should.be.true();
  });

  it("names the environment variables that are not set", async () => {
    process.env.TEST_MKTO_ID = emu.clientId;
    await helper.load(marketoConfig, [configNode(emu, { credentialSource: "env", clientIdEnv: "TEST_MKTO_ID", clientSecretEnv: "TEST_MKTO_SECRET" })], {});
    config().configError!.message.should.equal("Marketo credentials: environment variable TEST_MKTO_SECRET not set");
    // What the nodes using it show as their status.
    config().configStatus!.should.equal("TEST_MKTO_SECRET not set");
  });

  it("closing sends what the client holds, then refuses new work", async () => {
    await helper.load(marketoConfig, [configNode(emu, { batchWindowMs: 5000 })], credentials(emu));
    const cfg = config();
    const pending = cfg.getClient().syncLead({ email: "held@example.com" });
    await (helper.getNode(CONFIG_ID) as unknown as { close(removed: boolean): Promise<void> }).close(false);
    (await pending).should.containDeep({ ok: true, status: "created" });
    emu.state().leads.should.have.length(1);
    (() => cfg.getClient()).should.throw(/closing/);
  });

  describe("Test connection (POST /marketo-config/test)", () => {
    const SECRET_FREE = (body: unknown, secret: string) => JSON.stringify(body).should.not.containEql(secret);

    it("with the stored secret: a token and every permission", async () => {
      await helper.load(marketoConfig, [configNode(emu)], credentials(emu));
      const res = await helper.request().post("/marketo-config/test").send({ id: CONFIG_ID, endpoint: emu.url, clientId: emu.clientId, clientSecret: "__PWRD__" }).expect(200);
      res.body.ok.should.be.true();
      res.body.token.should.eql({ ok: true });
      res.body.permissions.map((p: { permission: string }) => p.permission).should.eql([
        "Read-Write Person",
        "Read-Write Activity",
        "Read-Write Activity Metadata",
        "Read-Write Assets",
        "Read-Write Campaigns",
        "Read-Write Custom Objects",
      ]);
      res.body.missing.should.eql([]);
      SECRET_FREE(res.body, emu.clientSecret);
      // The probes write nothing.
      emu.state().leads.should.have.length(0);
    });

    it("with the dialog's unsaved values, before any deploy, and a pasted /identity suffix", async () => {
      await helper.load(marketoConfig, [], {});
      const res = await helper.request().post("/marketo-config/test").send({ endpoint: `${emu.url}/identity`, clientId: emu.clientId, clientSecret: emu.clientSecret }).expect(200);
      res.body.ok.should.be.true();
      res.body.pastedSuffix.should.equal("/identity");
      res.body.endpoint.should.equal(emu.url);
    });

    it("a wrong secret: no token, the reason, and no secret in the answer", async () => {
      await helper.load(marketoConfig, [], {});
      const res = await helper.request().post("/marketo-config/test").send({ endpoint: emu.url, clientId: emu.clientId, clientSecret: "wrong-secret-xyz" }).expect(200);
      res.body.ok.should.be.false();
      res.body.token.ok.should.be.false();
      res.body.token.category.should.equal("auth");
      res.body.token.message.should.match(/rejected the client credentials/);
      SECRET_FREE(res.body, "wrong-secret-xyz");
    });

    it("lists the permissions the API user's role lacks", async () => {
      emu.addClient({ clientId: "limited", clientSecret: "limited-secret", permissions: ["Read-Write Person", "Read-Only Assets", "Read-Only Activity Metadata"] });
      await helper.load(marketoConfig, [], {});
      const res = await helper.request().post("/marketo-config/test").send({ endpoint: emu.url, clientId: "limited", clientSecret: "limited-secret" }).expect(200);
      res.body.ok.should.be.false();
      // Read-Only Activity Metadata is not Read-Write: the write probe tells them apart, writing nothing.
      res.body.missing.should.eql(["Read-Write Activity", "Read-Write Activity Metadata", "Read-Write Campaigns", "Read-Write Custom Objects"]);
      const activity = res.body.permissions.find((p: { permission: string }) => p.permission === "Read-Write Activity");
      activity.should.containDeep({ granted: false, probe: "write", message: "Marketo 603: Access denied" });
      // Assets are only read: the answer says that only read access was checked.
      const assets = res.body.permissions.find((p: { permission: string }) => p.permission === "Read-Write Assets");
      assets.should.containDeep({ granted: true, probe: "read", note: "write access not checked: the nodes only read these" });
    });

    it("environment variables: uses them, or names the missing one", async () => {
      await helper.load(marketoConfig, [], {});
      const body = { endpoint: emu.url, credentialSource: "env", clientIdEnv: "TEST_MKTO_ID", clientSecretEnv: "TEST_MKTO_SECRET" };
      const missing = await helper.request().post("/marketo-config/test").send(body).expect(400);
      missing.body.error.should.eql({ category: "validation", message: "Marketo credentials: environment variables TEST_MKTO_ID and TEST_MKTO_SECRET not set" });
      process.env.TEST_MKTO_ID = emu.clientId;
      process.env.TEST_MKTO_SECRET = emu.clientSecret;
      (await helper.request().post("/marketo-config/test").send(body).expect(200)).body.ok.should.be.true();
    });

    it("a bad endpoint or a missing secret is a 400 validation answer", async () => {
      await helper.load(marketoConfig, [], {});
      const bad = await helper.request().post("/marketo-config/test").send({ endpoint: "ftp://x", clientId: "a", clientSecret: "b" }).expect(400);
      bad.body.error.category.should.equal("validation");
      const noSecret = await helper.request().post("/marketo-config/test").send({ endpoint: emu.url, clientId: "a" }).expect(400);
      noSecret.body.error.message.should.match(/Client Secret is missing/);
    });

    it("an unreachable host is reported as a network failure", async () => {
      await helper.load(marketoConfig, [], {});
      const url = emu.url;
      await emu.stop();
      const res = await helper.request().post("/marketo-config/test").send({ endpoint: url, clientId: "a", clientSecret: "b" }).expect(200);
      res.body.token.should.containDeep({ ok: false, category: "network" });
      emu = await emulator();
    });
  });
});
