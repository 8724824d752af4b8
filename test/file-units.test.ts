import { expect } from "chai";
import { RecentlyEnded } from "../actors/file/recently-ended.js";
import { endedByNode, endReasons } from "../wire/file.js";

describe("file node building blocks", () => {
  it("remembers streams it ended for keepMs, at most max of them, the oldest going first", () => {
    let now = 0;
    const ended = new RecentlyEnded<string>(1000, 2, () => now);
    ended.add("a", "removed");
    now = 400;
    ended.add("b", "session");
    expect(ended.get("a")).to.equal("removed");
    now = 1000;
    expect(ended.get("a"), "gone keepMs after").to.equal(undefined);
    expect(ended.get("b")).to.equal("session");
    ended.add("c", "error");
    ended.add("d", "node-stopping");
    expect(ended.size).to.equal(2);
    expect(ended.get("b"), "the oldest made room").to.equal(undefined);
    expect([ended.get("c"), ended.get("d")]).to.deep.equal(["error", "node-stopping"]);
  });

  it("tells by a marker every end but the listener's own stop and the end of the song", () => {
    expect(endReasons.filter((r) => !endedByNode(r))).to.deep.equal(["eos", "stopped"]);
  });
});
