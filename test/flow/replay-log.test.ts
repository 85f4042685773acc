/**
 * The list of a tag-filter's replays on disk: read back after a restart, a damaged file starting
 * an empty list with a warning, a replay that was running at the stop listed as cancelled.
 */
import "should";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ReplayLog } from "../../src/lib/flow/replay";

describe("replay list on disk", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "marketo-replay-log-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const entry = (replayId: string, state: string) => ({
    replayId,
    state,
    requestedAt: "2026-01-01T00:00:00.000Z",
    dryRun: false,
    suppressCampaigns: true,
    events: 10,
    emitted: 4,
  });

  it("reads the list back, newest first, and lists a replay cut short by the stop as cancelled", () => {
    fs.writeFileSync(path.join(dir, "replays.json"), JSON.stringify([entry("a", "done"), entry("b", "running")]));
    const log = new ReplayLog(dir);
    const list = log.list();
    list.map((r) => r.replayId).should.eql(["b", "a"]);
    list[0].should.containEql({ state: "cancelled", emitted: 4, error: "Node-RED stopped before the replay ended" });
    log.get("a")!.state.should.equal("done");
    log.close();
  });

  it("a damaged file starts an empty list and says so", () => {
    fs.writeFileSync(path.join(dir, "replays.json"), '[{"replayId": "a", ');
    const warnings: string[] = [];
    const log = new ReplayLog(dir, (m) => warnings.push(m));
    log.list().should.eql([]);
    warnings.should.have.length(1);
    warnings[0].should.match(/damaged/);
    log.close();
  });
});
