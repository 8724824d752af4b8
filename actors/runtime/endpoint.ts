/**
 * Request-reply endpoints with validated JSON bodies and typed error replies.
 *
 * Replies are `{ ok: true, data }` or `{ ok: false, error: { code, message,
 * retryable } }`. Every handler's errors are caught here: an exception thrown
 * inside a NATS subscription callback would stall the whole connection.
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { NoRespondersError, TimeoutError } from "@nats-io/transport-node";
import type { z } from "zod";
import { ChorusError, fromWireError, toWireError, type WireError } from "../../wire/errors.js";
import type { Logger } from "./log.js";

export type Reply<T> = { ok: true; data: T } | { ok: false; error: WireError };

/** Default request body limit; the broker's own max_payload is larger. */
export const defaultMaxBody = 64 * 1024;

export interface EndpointOptions {
  queue?: string;
  maxBody?: number;
}

export type Handler<Req, Res> = (body: Req, msg: Msg) => Res | Promise<Res>;

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Decode and validate a JSON body; throws a ChorusError with a precise message. */
export function decodeBody<S extends z.ZodType>(
  data: Uint8Array,
  schema: S,
  maxBody = defaultMaxBody,
): z.infer<S> {
  if (data.length > maxBody) {
    throw new ChorusError("TOO_LARGE", `request body of ${data.length} bytes exceeds ${maxBody}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(data.length ? strictDecoder.decode(data) : "{}");
  } catch {
    throw new ChorusError("BAD_JSON", "request body is not valid UTF-8 JSON");
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join(".") + ": " : "";
    throw new ChorusError("BAD_REQUEST", `${where}${issue?.message ?? "invalid request"}`);
  }
  return parsed.data;
}

export function serve<S extends z.ZodType, Res>(
  nc: NatsConnection,
  subject: string,
  schema: S,
  handler: Handler<z.infer<S>, Res>,
  log: Logger,
  options: EndpointOptions = {},
): Subscription {
  return nc.subscribe(subject, {
    queue: options.queue,
    callback: (err, msg) => {
      if (err) {
        log.warn("subscription error", { subject, error: err.message });
        return;
      }
      void answer(msg, schema, handler, log, options.maxBody);
    },
  });
}

async function answer<S extends z.ZodType, Res>(
  msg: Msg,
  schema: S,
  handler: Handler<z.infer<S>, Res>,
  log: Logger,
  maxBody?: number,
): Promise<void> {
  let reply: Reply<Res>;
  try {
    const body = decodeBody(msg.data, schema, maxBody);
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
}

/**
 * Make a request and unwrap the reply: returns `data` or throws a
 * ChorusError (UNAVAILABLE when nobody listens, TIMEOUT when nobody answers).
 */
export async function call<T>(
  nc: NatsConnection,
  subject: string,
  body: unknown,
  timeoutMs = 3000,
): Promise<T> {
  let msg: Msg;
  try {
    msg = await nc.request(subject, encodeJson(body), { timeout: timeoutMs });
  } catch (err) {
    throw requestFailure(err, subject);
  }
  let reply: Reply<T>;
  try {
    reply = msg.json<Reply<T>>();
  } catch {
    throw new ChorusError("INTERNAL", `malformed reply on ${subject}`);
  }
  if (reply.ok) return reply.data;
  throw fromWireError(reply.error);
}

function requestFailure(err: unknown, subject: string): ChorusError {
  if (err instanceof ChorusError) return err;
  if (err instanceof NoRespondersError || hasCause(err, NoRespondersError)) {
    return new ChorusError("UNAVAILABLE", `nobody answers on ${subject}`, { cause: err });
  }
  if (err instanceof TimeoutError || hasCause(err, TimeoutError)) {
    return new ChorusError("TIMEOUT", `no answer on ${subject} in time`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  if (/permission/i.test(message)) {
    return new ChorusError("FORBIDDEN", `not allowed: ${message}`, { cause: err });
  }
  return new ChorusError("UNAVAILABLE", `request on ${subject} failed: ${message}`, {
    cause: err,
  });
}

function hasCause(err: unknown, type: new (...args: never[]) => Error): boolean {
  return err instanceof Error && err.cause instanceof type;
}
