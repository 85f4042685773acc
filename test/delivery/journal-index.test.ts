/**
 * The journal's index (src/lib/delivery/journal-index.ts): ids in typed arrays, first-put order kept
 * through removals and squeezes, cursors that follow the slots they point at.
 */
import "should";
import { JournalIndex } from "../../src/lib/delivery/journal-index";

describe("lib/journal-index", () => {
  it("finds numbered and other ids, keeps first-put order, and a re-set id keeps its place", () => {
    const index = new JournalIndex();
    const ids = ["p1.0", "p1.1", "other id", "p2.zz", "p1.01", "p1.a"];
    ids.forEach((id, i) => index.set(id, i * 100, 10 + i).should.equal(0));
    index.size.should.equal(6);
    for (const [i, id] of ids.entries()) {
      const slot = index.find(id);
      slot.should.be.aboveOrEqual(0);
      index.idAt(slot).should.equal(id);
      index.offset(slot).should.equal(i * 100);
    }
    index.find("p1.2").should.equal(-1);
    index.find("p3.0").should.equal(-1);
    index.set("p1.1", 5000, 99).should.equal(11);
    [...index.liveSlots()].map((s) => index.idAt(s)).should.eql(ids);
    index.remove("other id").should.equal(12);
    index.remove("other id").should.equal(0);
    index.has("other id").should.be.false();
    [...index.liveSlots()].map((s) => index.idAt(s)).should.eql(ids.filter((id) => id !== "other id"));
  });

  it("through 200,000 puts and removals, squeezes, keeps order and moves its cursors with the slots", () => {
    const index = new JournalIndex();
    const cursor = index.cursor();
    const alive: string[] = [];
    const seen: string[] = [];
    let offset = 0;
    for (let n = 0; n < 200_000; n++) {
      const id = n % 50 === 0 ? `named-${n}` : `run.${n.toString(36)}`;
      index.set(id, offset, 100);
      offset += 100;
      alive.push(id);
      // Keep one in ten: removals leave dead slots that must be squeezed out.
      if (n % 10 !== 0) {
        index.remove(id).should.equal(100);
        alive.pop();
      }
      // A reader walks behind the writer, as the record book does.
      if (n % 7 === 0) for (let id2 = cursor.next(); id2 !== undefined; id2 = cursor.next()) seen.push(id2);
    }
    for (let id2 = cursor.next(); id2 !== undefined; id2 = cursor.next()) seen.push(id2);
    index.size.should.equal(alive.length);
    [...index.liveSlots()].map((s) => index.idAt(s)).should.eql(alive);
    // Every id the cursor saw was live when it saw it, each once, in order.
    new Set(seen).size.should.equal(seen.length);
    seen.filter((id) => alive.includes(id)).should.eql(alive);
    for (const id of alive) index.idAt(index.find(id)).should.equal(id);
    index.find("run.1").should.equal(-1);
    cursor.rewind();
    cursor.next()!.should.equal(alive[0]);
  });

  it("after compaction the live lines sit back to back in slot order", () => {
    const index = new JournalIndex();
    index.set("a.1", 500, 10);
    index.set("a.2", 900, 20);
    index.set("a.3", 100, 30);
    index.remove("a.2");
    index.relocateContiguous();
    index.offset(index.find("a.1")).should.equal(0);
    index.offset(index.find("a.3")).should.equal(10);
  });
});
