/**
 * How an endpoint is declared: once, with its subject, its request and reply
 * schemas and who may call it. Nodes serve declarations (actors/runtime/
 * endpoint.ts), clients call them, the broker's permissions and the README's
 * subject table are made from them, and $SRV discovery lists them.
 *
 * A subject names its ids in angle brackets: `chorus.auth.<node>.login`.
 */
import type { z } from "zod";
import { subjectId } from "./ids.js";

/**
 * Which broker identity may call: `anyone` (also the public identity a client
 * has before it logs in), a `listener` (a logged-in session's identity), or
 * only `actor`s.
 */
export type Caller = "anyone" | "listener" | "actor";

/** The ids a subject template asks for, as a tuple of strings. */
export type IdsOf<S extends string> = S extends `${string}<${string}>${infer Rest}`
  ? [string, ...IdsOf<Rest>]
  : [];

export interface Endpoint<
  S extends string = string,
  Req extends z.ZodType = z.ZodType,
  Rep extends z.ZodType = z.ZodType,
> {
  /** Short and unique, as $SRV discovery lists it: `auth.login`. */
  name: string;
  subject: S;
  request: Req;
  reply: Rep;
  callers: Caller;
  /** Largest request body accepted (default: defaultMaxBody). */
  maxBody?: number;
  /** For the subject table: who sends it, who answers, what it does. */
  publishers: string;
  listeners: string;
  what: string;
}

/** An endpoint at concrete ids: what a node serves and a client calls. */
export interface Route<Req extends z.ZodType = z.ZodType, Rep extends z.ZodType = z.ZodType> {
  endpoint: Endpoint<string, Req, Rep>;
  subject: string;
}

export type RequestOf<E> = E extends Endpoint<string, infer Req> ? z.input<Req> : never;
export type ReplyOf<E> = E extends Endpoint<string, z.ZodType, infer Rep> ? z.output<Rep> : never;

export function declare<S extends string, Req extends z.ZodType, Rep extends z.ZodType>(
  endpoint: Endpoint<S, Req, Rep>,
): Endpoint<S, Req, Rep> {
  return endpoint;
}

/** The endpoint at these ids; each id is checked before it enters the subject. */
export function at<S extends string, Req extends z.ZodType, Rep extends z.ZodType>(
  endpoint: Endpoint<S, Req, Rep>,
  ...ids: IdsOf<S>
): Route<Req, Rep> {
  let next = 0;
  const subject = endpoint.subject.replace(/<[A-Za-z]+>/g, () => subjectId(ids[next++] ?? ""));
  return { endpoint, subject };
}

/** The subject with `*` for every id: what the broker's permissions name. */
export function wildcard(subject: string): string {
  return subject.replace(/<[A-Za-z]+>/g, "*");
}

/** The version of this contract; a request of another major version is refused. */
export const protocolVersion = 1;
export const protocolHeader = "Chorus-Protocol";
