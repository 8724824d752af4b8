/**
 * What a stranger on the network sees of a broker port: the INFO line
 * nats-server 2.9 sends in clear on a client port (a route port with TLS
 * speaks TLS from the first byte), whether it takes a CONNECT in clear, and
 * whether it completes a TLS handshake with a given certificate. Tests use
 * it directly; inside a network namespace it runs as a script and prints
 * one JSON line (`client` or `route` says which kind of port):
 *   node wire-probe.js plain client|route HOST PORT
 *   node wire-probe.js tls client|route HOST PORT CA_FILE [CERT_FILE KEY_FILE]
 */
import { readFileSync } from "node:fs";
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { pathToFileURL } from "node:url";

/** Resolve with the socket once nats-server's INFO line has arrived (it comes before any TLS). */
function readInfo(
  host: string,
  port: number,
  timeoutMs: number,
): Promise<{ socket: Socket; info: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, host);
    let text = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no INFO from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      text += chunk.toString("latin1");
      const end = text.indexOf("\r\n");
      if (end < 0) return;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.pause();
      const line = text.slice(0, end);
      if (!line.startsWith("INFO ")) {
        socket.destroy();
        reject(new Error(`expected INFO, got ${JSON.stringify(line.slice(0, 80))}`));
        return;
      }
      resolve({ socket, info: JSON.parse(line.slice(5)) as Record<string, unknown> });
    };
    socket.on("data", onData);
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export type PortKind = "client" | "route";

/** Connect; on a client port, wait for the INFO line first. */
async function open(
  kind: PortKind,
  host: string,
  port: number,
  timeoutMs: number,
): Promise<{ socket: Socket; info?: Record<string, unknown> }> {
  if (kind === "client") return readInfo(host, port, timeoutMs);
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, host, () => {
      socket.off("error", reject);
      resolve({ socket });
    });
    socket.once("error", reject);
  });
}

export interface PlainProbe {
  /** The INFO line of a client port. */
  info?: Record<string, unknown>;
  /** What the server answered to a CONNECT and a PING sent in clear. */
  reply: string;
  /** The server closed the connection (within the deadline). */
  closed: boolean;
}

/** Send a CONNECT (with `credentials`) and a PING in clear; see what comes back until the server closes. */
export async function plainProbe(
  kind: PortKind,
  host: string,
  port: number,
  credentials: { user: string; pass: string } = { user: "nobody", pass: "nothing" },
  timeoutMs = 5000,
): Promise<PlainProbe> {
  const { socket, info } = await open(kind, host, port, timeoutMs);
  return new Promise((resolve) => {
    let reply = "";
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...(info ? { info } : {}), reply, closed });
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString("latin1");
      if (reply.includes("PONG")) done(false);
    });
    socket.once("close", () => done(true));
    socket.on("error", () => undefined);
    socket.resume();
    socket.write(`CONNECT ${JSON.stringify({ verbose: false, ...credentials })}\r\nPING\r\n`);
  });
}

export interface TlsProbe {
  info?: Record<string, unknown>;
  /** "ok", or the error (code) that ended the handshake. */
  handshake: string;
  protocol?: string;
}

/**
 * A TLS handshake after the INFO line, trusting only `ca`, presenting
 * `cert` and `key` if given. TLS 1.2 so that a server that refuses the
 * client certificate says so inside the handshake (in TLS 1.3 the client
 * finishes first and hears the refusal only later).
 */
export async function tlsProbe(
  kind: PortKind,
  host: string,
  port: number,
  options: { ca: string; cert?: string; key?: string },
  timeoutMs = 5000,
): Promise<TlsProbe> {
  const { socket, info } = await open(kind, host, port, timeoutMs);
  return new Promise((resolve) => {
    const tls = tlsConnect({
      socket,
      ...options,
      maxVersion: "TLSv1.2",
      // Only the chain matters here (see broker/tls.ts clientTls).
      checkServerIdentity: () => undefined,
    });
    let finished = false;
    const done = (handshake: string, protocol?: string): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      resolve({ ...(info ? { info } : {}), handshake, ...(protocol ? { protocol } : {}) });
      setImmediate(() => tls.destroy());
    };
    const timer = setTimeout(() => done("timeout"), timeoutMs);
    tls.once("secureConnect", () => done("ok", tls.getProtocol() ?? undefined));
    tls.on("error", (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    tls.once("close", () => done("closed"));
  });
}

const isMain = process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const [mode, kindText, host = "", portText = "", ca, cert, key] = process.argv.slice(2);
  const kind: PortKind = kindText === "route" ? "route" : "client";
  const port = Number(portText);
  const read = (file?: string): string | undefined =>
    file ? readFileSync(file, "utf8") : undefined;
  const probe =
    mode === "plain"
      ? plainProbe(kind, host, port)
      : tlsProbe(kind, host, port, {
          ca: read(ca) ?? "",
          ...(cert && key ? { cert: read(cert), key: read(key) } : {}),
        });
  probe.then(
    (result) => process.stdout.write(JSON.stringify(result) + "\n"),
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
