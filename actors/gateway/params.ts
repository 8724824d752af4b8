/**
 * A request's parameters (query string and POSTed form, as the spec's
 * `formPost` extension allows), and the credentials they carry.
 */
import { ErrorCode, missing, SubsonicError, type Format } from "./subsonic-response.js";
import type { Credentials } from "./users.js";

export class Params {
  constructor(private readonly values: URLSearchParams) {}

  /** A copy with `name` set to `value`. */
  with(name: string, value: string): Params {
    const copy = new URLSearchParams(this.values);
    copy.set(name, value);
    return new Params(copy);
  }

  get(name: string): string | undefined {
    return this.values.get(name) ?? undefined;
  }

  all(name: string): string[] {
    return this.values.getAll(name);
  }

  required(name: string): string {
    const value = this.get(name);
    if (value === undefined || value === "") throw missing(name);
    return value;
  }

  /** A whole number, clamped to [min, max]; `fallback` when absent. */
  int(name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.get(name);
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value)) {
      throw new SubsonicError(ErrorCode.generic, `${name} must be a number`);
    }
    return Math.min(max, Math.max(min, Math.trunc(value)));
  }

  number(name: string): number | undefined {
    const raw = this.get(name);
    if (raw === undefined || raw === "") return undefined;
    const value = Number(raw);
    if (!Number.isFinite(value)) {
      throw new SubsonicError(ErrorCode.generic, `${name} must be a number`);
    }
    return value;
  }

  format(): Format {
    return this.get("f") === "json" ? "json" : "xml";
  }
}

/** `p=enc:<hex>` is the password hex-encoded (legacy clients). */
function decodePassword(p: string): string {
  if (!p.startsWith("enc:")) return p;
  const hex = p.slice(4);
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) {
    throw new SubsonicError(ErrorCode.wrongCredentials, "Wrong username or password");
  }
  return Buffer.from(hex, "hex").toString("utf8");
}

/** Which of the spec's mechanisms the request uses; 43 when it mixes them. */
export function credentialsOf(params: Params): Credentials {
  const apiKey = params.get("apiKey");
  const user = params.get("u");
  const password = params.get("p");
  const token = params.get("t");
  const salt = params.get("s");
  if (apiKey !== undefined) {
    if (user !== undefined || password !== undefined || token !== undefined) {
      throw new SubsonicError(
        ErrorCode.conflictingMechanisms,
        "Multiple conflicting authentication mechanisms provided",
      );
    }
    if (!apiKey) throw new SubsonicError(ErrorCode.invalidApiKey, "Invalid API key");
    return { method: "apiKey", key: apiKey };
  }
  if (!user) throw missing("u");
  if (password !== undefined && token !== undefined) {
    throw new SubsonicError(
      ErrorCode.conflictingMechanisms,
      "Multiple conflicting authentication mechanisms provided",
    );
  }
  if (token !== undefined) {
    if (!salt) throw missing("s");
    return { method: "token", user, token: token.toLowerCase(), salt };
  }
  if (!password) throw missing("p");
  return { method: "password", user, password: decodePassword(password) };
}
