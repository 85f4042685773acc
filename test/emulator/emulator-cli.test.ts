/** The `marketo-emulator` bin as shipped: starts, answers, stops on SIGINT; bad flags exit 2. */
import "should";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import path from "node:path";

const CLI = path.join(__dirname, "..", "..", "nodes", "emulator", "cli.js");

function run(args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [CLI, ...args], { stdio: "pipe" });
}

function exited(
  child: ChildProcessWithoutNullStreams,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

function printedUrl(child: ChildProcessWithoutNullStreams): Promise<{ url: string; output: () => string }> {
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed; output so far:\n${out}`)), 10_000);
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], output: () => out });
      }
    });
    child.once("exit", () => reject(new Error(`exited before printing a URL:\n${out}`)));
  });
}

describe("emulator CLI", function () {
  this.timeout(20_000);
  let child: ChildProcessWithoutNullStreams | undefined;
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    child = undefined;
  });

  it("prints its URL and credentials, serves the API, stops on SIGINT with code 0", async () => {
    child = run(["--port", "0", "--quiet", "--client-id", "cli-id", "--client-secret", "cli-secret"]);
    const { url, output } = await printedUrl(child);
    url.should.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    const q = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: "cli-id",
      client_secret: "cli-secret",
    });
    const tok = (await (await fetch(`${url}/identity/oauth/token?${q}`)).json()) as { access_token: string };
    const res = await fetch(`${url}/rest/v1/leads/describe.json`, {
      headers: { Authorization: `Bearer ${tok.access_token}` },
    });
    ((await res.json()) as { success: boolean }).success.should.be.true();
    output().should.containEql("cli-id");
    output().should.containEql(`${url}/_emulator/`);
    // --quiet: no request lines, so the token cannot leak into the output either.
    output().should.not.containEql(tok.access_token);
    output().should.not.match(/GET \/rest/);
    const done = exited(child);
    child.kill("SIGINT");
    (await done).should.eql({ code: 0, signal: null });
  });

  it("logs one line per request without secrets unless --quiet", async () => {
    child = run(["--port", "0", "--fault-rate", "0"]);
    const { url, output } = await printedUrl(child);
    const q = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: "emulator-client",
      client_secret: "emulator-secret",
    });
    const tok = (await (await fetch(`${url}/identity/oauth/token?${q}`)).json()) as { access_token: string };
    await (await fetch(`${url}/rest/v1/leads/describe.json?access_token=${tok.access_token}`)).text();
    await new Promise((r) => setTimeout(r, 100));
    const logged = output()
      .split("\n")
      .filter((l) => l.includes(" -> "));
    logged.length.should.equal(2);
    logged.join("\n").should.not.containEql(tok.access_token);
    logged.join("\n").should.not.containEql("emulator-secret");
    const done = exited(child);
    child.kill("SIGTERM");
    (await done).code!.should.equal(0);
  });

  it("takes a flag for every limit", async () => {
    child = run([
      "--port",
      "0",
      "--quiet",
      "--calls-per-window",
      "7",
      "--window-ms",
      "1500",
      "--concurrency",
      "3",
      "--daily-quota",
      "99",
      "--max-body-bytes",
      "2000",
      "--max-bulk-body-bytes",
      "3000",
      "--max-url-bytes",
      "1000",
      "--max-batch",
      "50",
      "--imports-running",
      "1",
      "--imports-queued",
      "4",
      "--max-members-queried",
      "500",
    ]);
    const { url } = await printedUrl(child);
    const limits = (await (await fetch(`${url}/_emulator/limits`)).json()) as Record<string, number>;
    limits.should.eql({
      callsPerWindow: 7,
      windowMs: 1500,
      concurrency: 3,
      dailyQuota: 99,
      maxBodyBytes: 2000,
      maxBulkBodyBytes: 3000,
      maxUrlBytes: 1000,
      maxBatch: 50,
      importsRunning: 1,
      importsQueued: 4,
      maxMembersQueried: 500,
    });
    const done = exited(child);
    child.kill("SIGINT");
    (await done).code!.should.equal(0);
  });

  it("answers as the documentation allows with --omit-unset-fields and --missing-linked-lead-code 1003", async () => {
    child = run(["--port", "0", "--quiet", "--omit-unset-fields", "--missing-linked-lead-code", "1003"]);
    const { url } = await printedUrl(child);
    const identity = await fetch(
      `${url}/identity/oauth/token?grant_type=client_credentials&client_id=emulator-client&client_secret=emulator-secret`,
    );
    const headers = {
      Authorization: `Bearer ${((await identity.json()) as { access_token: string }).access_token}`,
      "Content-Type": "application/json",
    };
    const post = async (p: string, body: unknown) =>
      (await (await fetch(`${url}${p}`, { method: "POST", headers, body: JSON.stringify(body) })).json()) as {
        result: Array<Record<string, unknown>>;
      };
    const id = (await post("/rest/v1/leads.json", { input: [{ email: "cli@example.com" }] })).result[0].id;
    const got = (await (await fetch(`${url}/rest/v1/lead/${id}.json`, { headers })).json()) as {
      result: Array<Record<string, unknown>>;
    };
    got.result[0].should.not.have.properties("firstName", "lastName");
    const co = await post("/rest/v1/customobjects/kalturaUserSessionEngagement.json", {
      input: [{ entry_id: "1_a", personId: 999999 }],
    });
    (co.result[0].reasons as Array<{ code: string }>)[0].code.should.equal("1003");
    const done = exited(child);
    child.kill("SIGINT");
    (await done).code!.should.equal(0);
  });

  it("exits with code 2 and a clear message on a bad flag value", async () => {
    for (const args of [
      ["--port", "abc"],
      ["--fault-rate", "2"],
      ["--fault-codes", "x"],
      ["--bogus"],
      ["--missing-linked-lead-code", "1005"],
    ]) {
      child = run(args);
      let err = "";
      child.stderr.on("data", (c: Buffer) => (err += c.toString("utf8")));
      const { code } = await exited(child);
      code!.should.equal(2);
      err.should.match(/^marketo-emulator: /);
    }
  });
});
