/**
 * Which replays a tag-filter remembers without a replay list on disk: the latest finished ones,
 * and every one still counting or running however many there are.
 */
import "should";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EventHistory } from "../../src/lib/flow/event-history";
import { TagFilterReplays } from "../../src/lib/node-kit/tag-filter-replays";

describe("tag-filter replays remembered", () => {
  let dir: string;
  let history: EventHistory;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "marketo-tf-replays-"));
    history = new EventHistory(dir);
    history.append("registration.created", { registration: { id: "r1" } }, false);
  });
  afterEach(() => {
    history.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("keeps every replay still counting, then only the latest 20 once they have finished", async () => {
    const failed: string[] = [];
    const replays = new TagFilterReplays(
      history,
      undefined,
      () => undefined,
      (p) => failed.push(p.replayId),
    );
    const runs = Array.from({ length: 21 }, () => replays.begin({ dryRun: true }));
    // All 21 were counting when the last one began: none is forgotten.
    replays.list().should.have.length(21);
    await Promise.all(runs.map((r) => r.finished));
    const latest = replays.begin({ dryRun: true });
    await latest.finished;
    const ids = replays.list().map((p) => p.replayId);
    ids.should.have.length(20);
    ids[0].should.equal(latest.id);
    (replays.progress(runs[0].id) === undefined).should.be.true();
    (replays.progress(runs[1].id) === undefined).should.be.true();
    replays.progress(runs[2].id)!.state.should.equal("done");
    failed.should.eql([]);
    replays.close();
  });
});
