/**
 * The HTTP side: /rest/<method> and /rest/<method>.view, GET or POSTed
 * form, answered in the format asked for. Every error becomes a Subsonic
 * error body (HTTP 200, as clients expect); nothing thrown escapes a request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ChorusError } from "../../wire/errors.js";
import type { Logger } from "../runtime/log.js";
import type { SubsonicApi } from "./api.js";
import { Params } from "./params.js";
import { serveWebFile } from "./web-files.js";
import {
  ErrorCode,
  renderError,
  renderOk,
  SubsonicError,
  type Format,
} from "./subsonic-response.js";

/** Largest POSTed form accepted (ids and credentials only). */
const maxFormBytes = 64 * 1024;

/** `HOST:PORT` (an IPv6 host in brackets) into its parts; port 0 lets the system pick. */
export function parseListen(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(address.trim());
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    throw new ChorusError("BAD_REQUEST", `--http must be HOST:PORT or off, got "${address}"`);
  }
  return { host: match[1] ?? (match[2] || "127.0.0.1"), port };
}

function readForm(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const parts: Buffer[] = [];
    req.on("data", (data: Buffer) => {
      size += data.length;
      if (size > maxFormBytes) {
        reject(new SubsonicError(ErrorCode.generic, "form too large"));
        req.destroy();
        return;
      }
      parts.push(data);
    });
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });
}

function toSubsonicError(err: unknown): SubsonicError {
  if (err instanceof SubsonicError) return err;
  if (err instanceof ChorusError) {
    if (err.code === "NOT_FOUND") return new SubsonicError(ErrorCode.notFound, err.message);
    if (err.code === "UNAUTHORIZED" || err.code === "FORBIDDEN") {
      return new SubsonicError(ErrorCode.notAuthorized, err.message);
    }
    return new SubsonicError(ErrorCode.generic, err.message);
  }
  return new SubsonicError(ErrorCode.generic, "internal error");
}

export class GatewayHttp {
  private server?: Server;
  /** Requests being answered now: the gateway's load. */
  active = 0;

  constructor(
    private readonly api: SubsonicApi,
    private readonly log: Logger,
  ) {}

  async listen(address: string): Promise<AddressInfo> {
    const { host, port } = parseListen(address);
    const server = createServer((req, res) => void this.handle(req, res));
    // Streams last as long as songs do; only idle keep-alive sockets time out.
    server.requestTimeout = 60_000;
    server.keepAliveTimeout = 5000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.active++;
    let format: Format = "xml";
    // Browser-based Subsonic clients call from their own origin; credentials travel
    // as parameters, never cookies, so any origin may ask.
    res.setHeader("Access-Control-Allow-Origin", "*");
    res.setHeader(
      "Access-Control-Expose-Headers",
      "Content-Range, Content-Length, Accept-Ranges, Content-Disposition",
    );
    try {
      if (req.method === "OPTIONS") {
        res
          .writeHead(204, {
            "Access-Control-Allow-Methods": "GET, HEAD, POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type, Range",
            "Access-Control-Max-Age": "86400",
          })
          .end();
        return;
      }
      const url = new URL(req.url ?? "/", "http://gateway");
      const query = url.searchParams;
      if (req.method === "POST") {
        const type = req.headers["content-type"] ?? "";
        if (type.startsWith("application/x-www-form-urlencoded")) {
          for (const [k, v] of new URLSearchParams(await readForm(req))) query.append(k, v);
        }
      } else if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { Allow: "GET, HEAD, POST, OPTIONS" }).end();
        return;
      }
      if (req.method !== "POST" && (await serveWebFile(url.pathname, req.method === "HEAD", res))) {
        return;
      }
      const params = new Params(query);
      format = params.format();
      const match = /^\/rest\/([A-Za-z0-9]+?)(?:\.view)?$/.exec(url.pathname);
      if (!match) {
        res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
        return;
      }
      const method = match[1] as string;
      const outcome = await this.api.call(method, { params, req, res });
      if (outcome === "sent") return;
      this.send(res, renderOk(format, outcome));
    } catch (err) {
      const error = toSubsonicError(err);
      if (error.code === ErrorCode.generic && !(err instanceof SubsonicError)) {
        this.log.warn("request failed", { url: req.url?.split("?")[0], error: String(err) });
      }
      if (res.headersSent) {
        // Mid-body (a stream whose node failed): all we can do is cut it short.
        res.destroy();
        return;
      }
      this.send(res, renderError(format, error));
    } finally {
      this.active--;
    }
  }

  private send(res: ServerResponse, rendered: { contentType: string; body: string }): void {
    if (res.destroyed) return;
    res.writeHead(200, {
      "Content-Type": rendered.contentType,
      "Content-Length": Buffer.byteLength(rendered.body),
    });
    res.end(rendered.body);
  }
}
