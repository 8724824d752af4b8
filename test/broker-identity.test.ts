/**
 * Issue 13's attacks on the broker identities: a stranger knows only the
 * public listener identity, a logged-in user has its own session's. Neither
 * may read another session's replies or audio, have a file node deliver into
 * someone else's inbox, or keep the broker after its session ended.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import path from "node:path";
import { call } from "../actors/runtime/endpoint.js";
import { findFileNode, listSongs, play } from "../client/stream.js";
import { copyDemoMusic, pcmOf } from "../harness/fixtures/file.js";
import { TestSystem } from "../harness/system.js";
import { waitFor } from "../harness/wait.js";
import { at } from "../wire/contract.js";
import { ChorusError } from "../wire/errors.js";
import { filePlay } from "../wire/file.js";
import { sessionInboxPrefix } from "../wire/permissions.js";

/** Subscribe and count what arrives, or the broker's refusal. */
function tryToRead(nc: NatsConnection, subject: string): { bytes: number; refused?: Error } {
  const seen: { bytes: number; refused?: Error } = { bytes: 0 };
  nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) seen.refused = err;
      else seen.bytes += msg.data.length;
    },
  });
  return seen;
}

describe("broker identities: per session, no snooping, lost with the session", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  /** Renewed every second beat or so: the tests watch several renewals. */
  const leaseMs = 2000;

  before(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    const config = sys.config("prime", { maxLoad: 4, brokerLeaseMs: leaseMs });
    copyDemoMusic(config.music);
    await sys.startControl("prime", config);
  });
  after(async () => sys.cleanup());

  it("a stranger and another user read none of a playing user's audio, even asking a file node", async () => {
    const victim = await sys.login("Someone");
    const stranger = await sys.connect("listener");
    const other = await sys.login("AnotherUser");
    const reads = [
      tryToRead(stranger, "_INBOX.>"),
      tryToRead(other.nc, "_INBOX.>"),
      tryToRead(other.nc, `${sessionInboxPrefix(victim.clientId)}.>`),
    ];
    const node = await findFileNode(victim.nc);
    // The attacker's own valid session cannot make the node deliver into the victim's inbox.
    const hijack = await call(other.nc, at(filePlay, node.id), {
      session: { authNode: other.authNode, ...other.credentials() },
      song: "chorus-theme.wav",
      deliver: victim.newInbox(),
      claim: node.claim,
    }).catch((e: unknown) => e);
    expect(hijack).to.be.instanceOf(ChorusError).with.property("code", "FORBIDDEN");

    const playback = await play(victim.nc, victim, "chorus-theme.wav", { node: node.id });
    const got: Buffer[] = [];
    for await (const chunk of playback) got.push(Buffer.from(chunk.data));
    const expected = await pcmOf(path.join(sys.config("prime").music, "chorus-theme.wav"));
    expect(Buffer.concat(got).equals(expected), "the victim hears the song bit-exact").to.equal(
      true,
    );
    for (const read of reads) {
      expect(read.refused?.message).to.match(/Permissions Violation for Subscription/);
      expect(read.bytes).to.equal(0);
    }
  });

  it("a live session keeps its connection working across lease renewals", async () => {
    const session = await sys.login("FinalUser");
    const reconnects: number[] = [];
    void (async () => {
      for await (const s of session.nc.status()) if (s.type === "reconnect") reconnects.push(1);
    })();
    const node = await findFileNode(session.nc);
    // Past three leases: the broker disconnects at each JWT's expiry, the client comes back with
    // the newest one (a beat renewed it) and every request is answered (a request in flight at
    // the moment of the reconnect loses its reply, as at any reconnect: it is asked again).
    const until = Date.now() + 3 * leaseMs + 500;
    let answered = 0;
    while (Date.now() < until) {
      await listSongs(session.nc, session, node.id, 1000).catch(() =>
        listSongs(session.nc, session, node.id, 1000),
      );
      answered++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(reconnects.length, "reconnects with a renewed identity").to.be.at.least(1);
    expect(answered).to.be.above(10);
    expect(session.alive).to.equal(true);
  });

  it("a session that logged out loses the broker within its lease", async () => {
    const session = await sys.login("FinalUser");
    const node = await findFileNode(session.nc);
    await session.logout();
    const errors: string[] = [];
    void (async () => {
      for await (const s of session.nc.status()) {
        if (s.type === "error") errors.push(s.error.message);
      }
    })();
    // Its identity (still held by whoever has the seed) expires: the broker drops it and
    // refuses it back; nothing more gets through.
    await waitFor(
      () => errors.some((m) => /authentication expired/i.test(m)),
      "the broker to drop the identity",
      leaseMs + 3000,
    );
    const after = await listSongs(session.nc, session, node.id, 1000).catch((e: unknown) => e);
    expect(after).to.be.instanceOf(Error);
  });
});
