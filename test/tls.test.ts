/**
 * TLS between machines (broker/tls.ts): the CA every machine derives from
 * the actor secret, the certificates in DATA/tls, and three routed brokers
 * on loopback with TLS forced on (`tls: on`), probed as a stranger on the
 * wire would. test/cluster.test.ts checks the same across network
 * namespaces, where the addresses alone turn TLS on.
 */
import { connect } from "@nats-io/transport-node";
import { expect } from "chai";
import { X509Certificate } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { createServer as createTlsServer } from "node:tls";
import path from "node:path";
import { defaultConfig, loadConfig, type ChorusConfig } from "../actors/runtime/config.js";
import { connectBroker } from "../actors/runtime/connect.js";
import { startBroker } from "../broker/server.js";
import { brokerCertificate, brokerNames, caCertificatePem } from "../broker/tls.js";
import { ChorusError } from "../wire/errors.js";
import { pcmOf, writeTone } from "../harness/fixtures/file.js";
import { LoopbackMachines } from "../harness/cluster.js";
import { freePort } from "../harness/ports.js";
import { waitFor } from "../harness/wait.js";
import { plainProbe, tlsProbe } from "../harness/wire-probe.js";

const mode = (file: string): number => statSync(file).mode & 0o777;
const spki = (cert: X509Certificate): Buffer =>
  cert.publicKey.export({ type: "spki", format: "der" });

describe("TLS between machines", function () {
  this.timeout(120_000);

  describe("the deployment's CA and this machine's certificate (no broker)", () => {
    let root: string;
    const machine = (name: string, secret?: string): ChorusConfig => ({
      ...defaultConfig,
      data: path.join(root, name),
      music: path.join(root, name, "music"),
      hostId: name,
      ...(secret ? { actorPassword: secret } : {}),
    });

    beforeEach(() => {
      root = mkdtempSync(path.join(tmpdir(), "chorus-tls-"));
    });
    afterEach(() => rmSync(root, { recursive: true, force: true }));

    it("derives the same CA key and name from the same actor secret on every machine, another from another secret", () => {
      const [a, b, other] = [machine("a", "one"), machine("b", "one"), machine("c", "two")];
      const [caA, caB, caOther] = [a, b, other].map(
        (m) => new X509Certificate(caCertificatePem(m)),
      );
      // Each machine made its own certificate (its own serial)...
      expect(caA!.serialNumber).not.to.equal(caB!.serialNumber);
      // ...with the same name and key: either verifies the other machine's broker certificate.
      expect(caA!.subject).to.equal(caB!.subject);
      expect(spki(caA!).equals(spki(caB!))).to.equal(true);
      const leafA = new X509Certificate(
        readFileSync(brokerCertificate(a, brokerNames(["127.0.0.1"])).cert),
      );
      expect(leafA.checkIssued(caB!), "issued by B's CA certificate").to.equal(true);
      expect(leafA.verify(caB!.publicKey), "signed by B's CA key").to.equal(true);
      // Another secret, another deployment: another name and key.
      expect(caOther!.subject).not.to.equal(caA!.subject);
      expect(spki(caOther!).equals(spki(caA!))).to.equal(false);
      expect(leafA.verify(caOther!.publicKey)).to.equal(false);
    });

    it("keeps its files private, and makes the broker certificate again only when the addresses or the secret change", () => {
      const a = machine("a", "one");
      const here = brokerNames(["127.0.0.1"]);
      const files = brokerCertificate(a, here);
      const folder = path.dirname(files.cert);
      expect(mode(a.data), "the data folder").to.equal(0o700);
      expect(mode(folder), "DATA/tls").to.equal(0o700);
      expect(readdirSync(folder).sort()).to.deep.equal(["broker-key.pem", "broker.pem", "ca.pem"]);
      for (const file of readdirSync(folder))
        expect(mode(path.join(folder, file)), file).to.equal(0o600);
      const first = readFileSync(files.cert, "utf8");
      expect(new X509Certificate(first).checkIP("127.0.0.1")).to.equal("127.0.0.1");
      expect(new X509Certificate(first).checkHost("localhost")).to.equal("localhost");

      // The same addresses: kept as it is, and so is the CA certificate.
      const ca = readFileSync(files.ca, "utf8");
      brokerCertificate(a, here);
      expect(readFileSync(files.cert, "utf8")).to.equal(first);
      expect(readFileSync(files.ca, "utf8")).to.equal(ca);

      // A new address: a new certificate, for it, from the same CA.
      brokerCertificate(a, brokerNames(["10.9.8.7"]));
      const moved = new X509Certificate(readFileSync(files.cert, "utf8"));
      expect(moved.checkIP("10.9.8.7")).to.equal("10.9.8.7");
      expect(readFileSync(files.ca, "utf8")).to.equal(ca);

      // A new secret: a new CA, and a certificate it signed.
      brokerCertificate({ ...a, actorPassword: "two" }, brokerNames(["10.9.8.7"]));
      const newCa = new X509Certificate(readFileSync(files.ca, "utf8"));
      expect(newCa.subject).not.to.equal(new X509Certificate(ca).subject);
      expect(
        new X509Certificate(readFileSync(files.cert, "utf8")).verify(newCa.publicKey),
      ).to.equal(true);
      // openssl's scratch folders are gone.
      expect(readdirSync(folder).sort()).to.deep.equal(["broker-key.pem", "broker.pem", "ca.pem"]);
    });

    it("names every interface's address for a wildcard listen address", () => {
      const names = brokerNames(["0.0.0.0"]);
      expect(names).to.include.members(["IP:127.0.0.1", "IP:::1", "DNS:localhost"]);
      const v4 = Object.values(networkInterfaces())
        .flat()
        .filter((a) => a?.family === "IPv4")
        .map((a) => `IP:${a?.address}`);
      expect(names).to.include.members(v4);
    });

    it("gives a player's machine the CA certificate from --ca, and says what to do without one", () => {
      const player = machine("player");
      let refused: unknown;
      try {
        caCertificatePem(player);
      } catch (err) {
        refused = err;
      }
      expect(refused).to.be.instanceOf(ChorusError);
      expect((refused as ChorusError).message)
        .to.include("--ca")
        .and.include("DATA/tls/ca.pem");
      expect(existsSync(path.join(player.data, "actor.secret")), "no secret made up").to.equal(
        false,
      );

      const copy = path.join(root, "ca-copy.pem");
      copyFileSync(brokerCertificate(machine("a", "one"), brokerNames([])).ca, copy);
      expect(caCertificatePem({ ...player, caFile: copy })).to.equal(readFileSync(copy, "utf8"));
      writeFileSync(path.join(root, "not-a-cert.pem"), "hello\n");
      expect(() => caCertificatePem({ ...player, caFile: path.join(root, "not-a-cert.pem") }))
        .to.throw(ChorusError)
        .with.property("message")
        .that.includes("cannot read the CA certificate");
    });

    it("reads --ca and --tls as settings, and refuses a TLS mode it does not know", () => {
      const config = loadConfig({ ca: "ca.pem", tls: "on" }, {});
      expect(config.caFile).to.equal(path.resolve("ca.pem"));
      expect(config.tls).to.equal("on");
      expect(loadConfig({}, { CHORUS_CA: "/x/ca.pem" }).caFile).to.equal("/x/ca.pem");
      expect(() => loadConfig({ tls: "off" }, {}))
        .to.throw(ChorusError)
        .with.property("message")
        .that.includes("tls");
    });
  });

  describe("three routed brokers on loopback with TLS on", () => {
    let m: LoopbackMachines;
    let monitor: string;
    const song = "across.wav";
    const secret = (): string => m.config("a").actorPassword as string;
    const fileOf = (machine: "a" | "b" | "c", name: string): string =>
      path.join(m.config(machine).data, "tls", name);
    /** A broker certificate from another deployment's CA (another secret). */
    const foreign = (): { ca: string; cert: string; key: string } => {
      const other = { ...m.config("a"), data: path.join(m.sys.root, "other"), actorPassword: "x" };
      const files = brokerCertificate(other, brokerNames(["127.0.0.1"]));
      const read = (file: string): string => readFileSync(file, "utf8");
      return { ca: read(files.ca), cert: read(files.cert), key: read(files.key) };
    };

    before(async () => {
      m = await LoopbackMachines.create({ tls: "on" });
      writeTone(path.join(m.config("b").music, song), 3, { rate: 22050, channels: 2, bits: 16 });
      const monitorPort = await freePort();
      monitor = `http://127.0.0.1:${monitorPort}`;
      // The prime's machine runs only the auth node: the file node is the plane's, on B.
      await m.start({ prime: { maxLoad: 1, monitorPort }, plane: { maxLoad: 4 } });
    });
    after(async function () {
      if (this.currentTest?.state === "failed") console.log(m.sys.outputs());
      await m?.destroy();
    });
    afterEach(function () {
      if (this.currentTest?.state === "failed") console.log(m.sys.outputs());
    });

    it("routes the brokers over TLS only, each verifying the other against the deployment's CA", async () => {
      const varz = (await (await fetch(`${monitor}/varz`)).json()) as {
        cluster: { tls_required?: boolean; tls_verify?: boolean };
      };
      expect(varz.cluster).to.include({ tls_required: true, tls_verify: true });
      await waitFor(
        async () =>
          ((await (await fetch(`${monitor}/routez`)).json()) as { num_routes: number })
            .num_routes === 2,
        "A's routes to B and C",
      );
      const port = m.portsOf("a").cluster;
      // In clear, even with the right route credentials: not a byte back (no INFO), closed.
      const plain = await plainProbe("route", "127.0.0.1", port, { user: "route", pass: secret() });
      expect(plain).to.deep.equal({ reply: "", closed: true });
      const ca = readFileSync(fileOf("a", "ca.pem"), "utf8");
      // Without a certificate, or with another deployment's: refused in the handshake.
      const bare = await tlsProbe("route", "127.0.0.1", port, { ca });
      expect(bare.handshake).to.match(/ALERT_BAD_CERTIFICATE|ALERT_CERTIFICATE_REQUIRED/);
      const { cert, key } = foreign();
      const stranger = await tlsProbe("route", "127.0.0.1", port, { ca, cert, key });
      expect(stranger.handshake).to.match(/ALERT_BAD_CERTIFICATE|ALERT_UNKNOWN_CA/);
      // B's own certificate (made on B from the same secret) is taken.
      const b = {
        cert: readFileSync(fileOf("b", "broker.pem"), "utf8"),
        key: readFileSync(fileOf("b", "broker-key.pem"), "utf8"),
      };
      expect((await tlsProbe("route", "127.0.0.1", port, { ca, ...b })).handshake).to.equal("ok");
    });

    it("does not route to a peer whose certificate another deployment's CA signed", async () => {
      // A stranger listens where a broker expects a peer, with another CA's certificate.
      const { cert, key } = foreign();
      let refusal: string | undefined;
      const stranger = createTlsServer({ cert, key }, (socket) => socket.destroy());
      stranger.on("tlsClientError", (err: NodeJS.ErrnoException) => (refusal ??= err.code));
      await new Promise<void>((resolve) => stranger.listen(0, "127.0.0.1", resolve));
      const strangerPort = (stranger.address() as { port: number }).port;
      const broker = await startBroker({
        config: {
          ...m.config("a"),
          data: path.join(m.sys.root, "lonely"),
          hostId: "lonely",
          nats: `nats://127.0.0.1:${await freePort()}`,
          clusterListen: `127.0.0.1:${await freePort()}`,
          peers: [`127.0.0.1:${strangerPort}`],
        },
        monitorPort: 0,
      });
      try {
        const code = await waitFor(
          () => refusal,
          "the broker to refuse the stranger's certificate",
        );
        expect(code).to.match(/ALERT_BAD_CERTIFICATE|ALERT_UNKNOWN_CA/);
      } finally {
        await broker.stop();
        stranger.close();
      }
    });

    it("takes clients over TLS only, and a client that does not trust the deployment's CA does not connect", async () => {
      const port = m.portsOf("a").client;
      const plain = await plainProbe("client", "127.0.0.1", port, {
        user: "actor",
        pass: secret(),
      });
      expect(plain.info).to.include({ tls_required: true, auth_required: true });
      expect(plain.closed, "a CONNECT in clear ends the connection").to.equal(true);
      expect(plain.reply).not.to.match(/PONG|\+OK/);

      // nats.js with Node's public roots, and a client of another deployment: refused.
      const url = `nats://127.0.0.1:${port}`;
      const publicRoots = await connect({ servers: url, reconnect: false, timeout: 3000 }).then(
        (nc) => nc.close().then(() => "connected"),
        (err: NodeJS.ErrnoException) => err.code,
      );
      expect(publicRoots).to.equal("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
      const other = {
        ...m.config("a"),
        data: path.join(m.sys.root, "other-client"),
        actorPassword: "another deployment",
      };
      const refused = await connectBroker(other, "actor", "stranger", undefined, {
        reconnect: false,
      }).catch((err: unknown) => err);
      expect(refused).to.be.instanceOf(ChorusError);
      expect((refused as ChorusError).message).to.include("not one of this deployment's");

      // A loopback client that does not ask for TLS (tls: auto) is upgraded, with the CA.
      const auto = await connectBroker({ ...m.config("a"), tls: "auto" }, "listener", "auto");
      await auto.flush();
      // Every client connection on A (the prime's, this one) is TLS.
      const connz = (await (await fetch(`${monitor}/connz`)).json()) as {
        connections: Array<{ name?: string; tls_version?: string }>;
      };
      expect(connz.connections.map((c) => c.name)).to.include("auto");
      for (const c of connz.connections) expect(c.tls_version, c.name).to.match(/^1\.[23]$/);
      await auto.close();
    });

    it("logs in and plays a song bit-exact over TLS on a player's machine that holds only the CA certificate", async () => {
      const caFile = path.join(m.sys.root, "copied-ca.pem");
      copyFileSync(fileOf("c", "ca.pem"), caFile);
      // The public listener token, copied from a broker machine like the CA certificate.
      const listenerToken = readFileSync(path.join(m.config("c").data, "listener.jwt"), "utf8");
      const player = {
        data: path.join(m.sys.root, "player"),
        actorPassword: undefined,
        listenerToken,
      };
      const out = path.join(m.sys.root, "played.wav");
      const args = ["play", song, "--out", out, "--user", "Someone"];
      const env = { CHORUS_PASSWORD: "password123" };
      // Without the CA certificate it cannot verify the broker, and says what it needs.
      const blind = m.on("c", args, player, env);
      expect(await blind.exited).not.to.equal(0);
      expect(blind.output()).to.include("--ca");

      const proc = m.on("c", args, { ...player, caFile }, env);
      expect(await proc.exited, proc.output()).to.equal(0);
      const want = await pcmOf(path.join(m.config("b").music, song));
      expect((await pcmOf(out)).equals(want), "the song, bit-exact").to.equal(true);
      expect(
        existsSync(path.join(player.data, "actor.secret")),
        "no secret on the player",
      ).to.equal(false);
    });
  });
});
