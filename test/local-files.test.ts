/**
 * Local secrets (issue 13): on a shared machine no other local user may read
 * the actor secret, the broker's run configuration or the users' password
 * hashes. Real files, real SQLite.
 */
import { expect } from "chai";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { openUsers, usersFile } from "../actors/auth/users.js";
import { defaultConfig, type ChorusConfig } from "../actors/runtime/config.js";
import { actorPasswordOf, hostIdOf } from "../actors/runtime/identity.js";
import { writeRunConf } from "../broker/server.js";

const modeOf = (file: string): string => (statSync(file).mode & 0o777).toString(8);

describe("local secrets: the data folder is 700, its secrets 600", () => {
  let root: string;
  let config: ChorusConfig;

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), "chorus-local-"));
    config = { ...defaultConfig, data: path.join(root, "data"), music: path.join(root, "music") };
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("a fresh data folder: folder 700, actor secret, run configuration and users file 600", async () => {
    actorPasswordOf(config);
    hostIdOf(config);
    const conf = await writeRunConf(config);
    const store = await openUsers(config);
    try {
      expect(modeOf(config.data), "data folder").to.equal("700");
      expect(modeOf(path.dirname(usersFile(config))), "auth folder").to.equal("700");
      expect(modeOf(path.join(config.data, "actor.secret")), "actor.secret").to.equal("600");
      expect(modeOf(conf), "nats-run.conf").to.equal("600");
      expect(modeOf(usersFile(config)), "users.sqlite").to.equal("600");
      expect(modeOf(`${usersFile(config)}-wal`), "users.sqlite-wal").to.equal("600");
    } finally {
      await store.close();
    }
  });

  it("an older, open data folder (755, users.sqlite 644) is closed when a node opens it", async () => {
    const auth = path.dirname(usersFile(config));
    mkdirSync(auth, { recursive: true, mode: 0o755 });
    chmodSync(config.data, 0o755);
    chmodSync(auth, 0o755);
    const first = await openUsers(config);
    await first.close();
    chmodSync(usersFile(config), 0o644);
    const store = await openUsers(config);
    try {
      expect(modeOf(config.data)).to.equal("700");
      expect(modeOf(auth)).to.equal("700");
      expect(modeOf(usersFile(config))).to.equal("600");
    } finally {
      await store.close();
    }
  });
});
