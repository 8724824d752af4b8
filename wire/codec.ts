/** JSON bodies of requests and replies: encoded once, decoded and checked once. */
import type { z } from "zod";
import { ChorusError } from "./errors.js";

/** Default request body limit; the broker's own max_payload is larger. */
export const defaultMaxBody = 64 * 1024;

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** JSON of a message, or undefined when it is none (presence and other topics). */
export function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}

/** Decode and validate a JSON body; throws a ChorusError with a precise message. */
export function decodeBody<S extends z.ZodType>(
  data: Uint8Array,
  schema: S,
  maxBody = defaultMaxBody,
): z.output<S> {
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
