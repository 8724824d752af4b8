/**
 * Serving and calling the endpoints declared in wire/: validated JSON bodies
 * and typed error replies.
 *
 * Replies are `{ ok: true, data }` or `{ ok: false, error: { code, message,
 * retryable } }`. Every handler's errors are caught here: an exception thrown
 * inside a NATS subscription callback would stall the whole connection.
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import {
  headers,
  NoRespondersError,
  PermissionViolationError,
  TimeoutError,
} from "@nats-io/transport-node";
import type { z } from "zod";
import { decodeBody, encodeJson } from "../../wire/codec.js";
import { protocolHeader, protocolVersion, type Route } from "../../wire/contract.js";
import { ChorusError, fromWireError, toWireError, type WireError } from "../../wire/errors.js";
import { isReplyInbox } from "../../wire/ids.js";
import type { Logger } from "./log.js";

export type Reply<T> = { ok: true; data: T } | { ok: false; error: WireError };

export interface EndpointOptions {
  queue?: string;
  /** Told of every answered request: how long it took and, if it failed, why. */
  record?: (elapsedNs: number, error?: string) => void;
}

export type Handler<Req extends z.ZodType, Rep extends z.ZodType> = (
  body: z.output<Req>,
  msg: Msg,
) => z.input<Rep> | Promise<z.input<Rep>>;

export function serve<Req extends z.ZodType, Rep extends z.ZodType>(
  nc: NatsConnection,
  route: Route<Req, Rep>,
  handler: Handler<Req, Rep>,
  log: Logger,
  options: EndpointOptions = {},
): Subscription {
  return nc.subscribe(route.subject, {
    queue: options.queue,
    callback: (err, msg) => {
      if (err) {
        log.warn("subscription error", { subject: route.subject, error: err.message });
        return;
      }
      if (msg.reply && !isReplyInbox(msg.reply)) {
        // Our answer would go out with actor rights: never act for a reply-subject trick.
        log.warn("refused a request whose reply subject is not an inbox", {
          subject: msg.subject,
          reply: msg.reply.slice(0, 100),
        });
        options.record?.(0, "FORBIDDEN: reply subject is not an inbox");
        return;
      }
      void answer(msg, route, handler, log, options);
    },
  });
}

async function answer<Req extends z.ZodType, Rep extends z.ZodType>(
  msg: Msg,
  route: Route<Req, Rep>,
  handler: Handler<Req, Rep>,
  log: Logger,
  options: EndpointOptions,
): Promise<void> {
  const started = process.hrtime.bigint();
  let reply: Reply<z.input<Rep>>;
  try {
    checkVersion(msg);
    const body = decodeBody(msg.data, route.endpoint.request, route.endpoint.maxBody);
    reply = { ok: true, data: await handler(body, msg) };
  } catch (err) {
    if (!(err instanceof ChorusError)) {
      log.error("handler failed", { subject: msg.subject, error: String(err) });
    }
    reply = { ok: false, error: toWireError(err) };
  }
  try {
    if (msg.reply) msg.respond(encodeJson(reply));
  } catch (err) {
    log.warn("cannot send reply", { subject: msg.subject, error: String(err) });
  }
  options.record?.(
    Number(process.hrtime.bigint() - started),
    reply.ok ? undefined : `${reply.error.code}: ${reply.error.message}`,
  );
}

/** A request of another protocol version is refused; one without the header (a tool) is taken. */
function checkVersion(msg: Msg): void {
  const version = msg.headers?.get(protocolHeader);
  if (version && version !== String(protocolVersion)) {
    throw new ChorusError(
      "BAD_REQUEST",
      `this node speaks Chorus protocol ${protocolVersion}, not ${version}: update one of them`,
    );
  }
}

/**
 * Call an endpoint and unwrap the reply: returns `data` as the declaration's
 * reply schema reads it, or throws a ChorusError (UNAVAILABLE when nobody
 * listens, TIMEOUT when nobody answers, FORBIDDEN when the broker refuses).
 */
export async function call<Req extends z.ZodType, Rep extends z.ZodType>(
  nc: NatsConnection,
  route: Route<Req, Rep>,
  body: z.input<Req>,
  timeoutMs = 3000,
): Promise<z.output<Rep>> {
  const data = await request(nc, route.subject, body, timeoutMs);
  const parsed = route.endpoint.reply.safeParse(data);
  if (!parsed.success) throw new ChorusError("INTERNAL", `malformed reply on ${route.subject}`);
  return parsed.data;
}

/**
 * Send any body to any subject and unwrap the reply's `data` unchecked: for
 * tools and tests that send what no declaration allows, on purpose.
 */
export async function request(
  nc: NatsConnection,
  subject: string,
  body: unknown,
  timeoutMs = 3000,
): Promise<unknown> {
  const h = headers();
  h.set(protocolHeader, String(protocolVersion));
  let msg: Msg;
  try {
    msg = await nc.request(subject, encodeJson(body), { timeout: timeoutMs, headers: h });
  } catch (err) {
    throw requestFailure(err, subject);
  }
  let reply: Reply<unknown>;
  try {
    reply = msg.json<Reply<unknown>>();
  } catch {
    throw new ChorusError("INTERNAL", `malformed reply on ${subject}`);
  }
  if (reply.ok) return reply.data;
  throw fromWireError(reply.error);
}

function requestFailure(err: unknown, subject: string): ChorusError {
  if (err instanceof ChorusError) return err;
  if (isOrCausedBy(err, NoRespondersError)) {
    return new ChorusError("UNAVAILABLE", `nobody answers on ${subject}`, { cause: err });
  }
  if (isOrCausedBy(err, TimeoutError)) {
    return new ChorusError("TIMEOUT", `no answer on ${subject} in time`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  if (isOrCausedBy(err, PermissionViolationError)) {
    return new ChorusError("FORBIDDEN", `not allowed: ${message}`, { cause: err });
  }
  return new ChorusError("UNAVAILABLE", `request on ${subject} failed: ${message}`, {
    cause: err,
  });
}

function isOrCausedBy(err: unknown, type: new (...args: never[]) => Error): boolean {
  return err instanceof type || (err instanceof Error && err.cause instanceof type);
}
