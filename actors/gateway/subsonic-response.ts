/**
 * The `subsonic-response` envelope in JSON (`f=json`) and XML (the default),
 * and the spec's error codes. Handlers return plain objects; this module
 * alone knows how they look on the wire. In XML a scalar field becomes an
 * attribute, an object a child element, an array repeated elements of the
 * field's name (an array of scalars: elements with text).
 */
import { chorusVersion } from "../runtime/version.js";

export const apiVersion = "1.16.1";

/** A response body: what a handler returns. */
export type Value = string | number | boolean | undefined | Body | Value[];
export interface Body {
  [field: string]: Value;
}

/** The spec's error codes (opensubsonic.netlify.app/docs/responses/error/). */
export const ErrorCode = {
  generic: 0,
  missingParameter: 10,
  clientTooOld: 20,
  serverTooOld: 30,
  wrongCredentials: 40,
  tokenNotSupported: 41,
  mechanismNotSupported: 42,
  conflictingMechanisms: 43,
  invalidApiKey: 44,
  notAuthorized: 50,
  notFound: 70,
} as const;

/** An error the client is told with a Subsonic code (HTTP status stays 200, as the spec says). */
export class SubsonicError extends Error {
  override name = "SubsonicError";
  constructor(
    readonly code: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const missing = (param: string): SubsonicError =>
  new SubsonicError(ErrorCode.missingParameter, `Required parameter is missing: ${param}`);
export const notFound = (what: string): SubsonicError =>
  new SubsonicError(ErrorCode.notFound, `${what} not found`);

export type Format = "json" | "xml";

export interface Rendered {
  contentType: string;
  body: string;
}

function envelope(status: "ok" | "failed"): Body {
  return {
    status,
    version: apiVersion,
    type: "chorus",
    serverVersion: chorusVersion,
    openSubsonic: true,
  };
}

export function renderOk(format: Format, body: Body = {}): Rendered {
  return render(format, { ...envelope("ok"), ...body });
}

export function renderError(format: Format, err: SubsonicError): Rendered {
  return render(format, { ...envelope("failed"), error: { code: err.code, message: err.message } });
}

function render(format: Format, body: Body): Rendered {
  if (format === "json") {
    return {
      contentType: "application/json; charset=utf-8",
      body: JSON.stringify({ "subsonic-response": body }),
    };
  }
  const xml = element("subsonic-response", { xmlns: "http://subsonic.org/restapi", ...body });
  return {
    contentType: "text/xml; charset=utf-8",
    body: `<?xml version="1.0" encoding="UTF-8"?>\n${xml}`,
  };
}

function isBody(value: Value): value is Body {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function element(name: string, body: Body): string {
  let attrs = "";
  let children = "";
  for (const [key, value] of Object.entries(body)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      for (const item of value) children += child(key, item);
    } else if (isBody(value)) {
      children += element(key, value);
    } else {
      attrs += ` ${key}="${escapeXml(String(value))}"`;
    }
  }
  return children ? `<${name}${attrs}>${children}</${name}>` : `<${name}${attrs}/>`;
}

function child(name: string, value: Value): string {
  if (value === undefined) return "";
  if (isBody(value)) return element(name, value);
  if (Array.isArray(value)) return value.map((v) => child(name, v)).join("");
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** Also drops characters XML 1.0 cannot hold (tags are names from files). */
export function escapeXml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}
